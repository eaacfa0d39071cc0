/*
 * qr.h — QR codes as SVG (libqrencode).
 *
 * qr_svg draws text as a QR code: byte mode, error correction level M
 * (15 % of the code may be lost: a phone reads it off a scratched screen),
 * the smallest version that holds it (1..40), and a quiet zone of
 * QR_MARGIN modules.  The SVG is one unit per module (viewBox of
 * (size + 2 * QR_MARGIN) units square; width and height QR_PX pixels a
 * module, which a page's <img> overrides), a white background and one black path with a run per horizontal
 * stretch of dark modules ("M x,y h n v 1 h -n z"), so a test can read the
 * module matrix back from it.  Dark on white in both themes: readers want
 * that contrast.
 */
#ifndef PT_QR_H
#define PT_QR_H

#include <stddef.h>

#include "../util/buf.h"

#define QR_MARGIN 4
#define QR_PX 4
/* The most bytes a code of level M holds (version 40). */
#define QR_MAX_BYTES 2331

/* Appends the SVG of text[0..len) to out.  Returns 0; PT_EBADREQ when
 * text is empty or longer than a QR code of level M holds; PT_ETOOBIG
 * when out's ceiling is reached (out may then hold part of the SVG).
 * Does not block; thread-safe (libqrencode built with pthreads, as
 * Debian's is). */
int qr_svg(struct pt_buf *out, const char *text, size_t len);

#endif
