/*
 * disposition.h — Content-Disposition values (RFC 6266, RFC 8187) and the
 * sanitising of user-supplied file names.
 *
 *   attachment; filename="resume EUR.pdf"; filename*=UTF-8''r%C3%A9sum%C3%A9%20%E2%82%AC.pdf
 *
 * filename is an ASCII fallback (non-ASCII → '_', no controls, no '"' or
 * '\\' or '/', no "%XX"), always quoted; filename* is added, after it, only
 * when the fallback differs from the real name.  Pure, thread-safe.
 */
#ifndef PT_DISPOSITION_H
#define PT_DISPOSITION_H

#include <stdbool.h>
#include <stddef.h>

#include "../util/buf.h"

/* Append the header value for `name` to out.  Returns 0 or PT_ETOOBIG. */
int disp_build(struct pt_buf *out, const char *name, bool attachment);

/*
 * Clean a file name given by a client (URL path segment, multipart
 * filename, tus metadata) into out (NUL-terminated, at most outsz-1 bytes):
 * keep the last path component (after '/' or '\\'), drop control bytes
 * (< 0x20, 0x7f) and invalid UTF-8 sequences, trim spaces and dots at the
 * ends, cut at a UTF-8 boundary to at most 255 bytes, and use "file" when
 * nothing is left (or the result is "." or "..").  Returns the length.
 */
size_t disp_sanitize_name(const char *name, size_t n, char *out,
			  size_t outsz);

/* True when a MIME type must be served as an attachment (script-capable
 * in a browser: HTML, XHTML, SVG, XML, JavaScript, ...). */
bool disp_type_is_active(const char *mime);

#endif
