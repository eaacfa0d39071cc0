/*
 * preview.h — the text preview of a file page (issue 16): the first
 * PREVIEW_BYTES of a text file, as HTML text that no browser can take for
 * markup.
 *
 * Only text is shown: the bytes must be valid UTF-8 (a sequence cut by
 * the end of the sample is dropped, not counted against it).  Every
 * character that means something in HTML (& < > " ') is escaped;
 * control characters other than tab and line feed are shown as their
 * Unicode control pictures (U+2400 + c, ␡ for DEL; a CR before LF is
 * dropped), C1 controls and the invisible bidirectional and line
 * controls as U+FFFD, so a preview can neither run a script nor
 * reorder or hide its text.  Pure, thread-safe.
 */
#ifndef PT_PREVIEW_H
#define PT_PREVIEW_H

#include <stdbool.h>
#include <stddef.h>

struct pt_buf;

#define PREVIEW_BYTES 4096

/* Is a stored MIME type previewed as text (text/ *, and the common
 * source and data types: JSON, XML, JavaScript, shell, SQL, YAML …)? */
bool preview_mime_text(const char *mime);

/* Append the escaped text of p[0..n) to out (for a <pre>): 0, or
 * PT_EUNSUPPORTED (nothing appended) when it is not valid UTF-8,
 * PT_ETOOBIG when out is full. */
int preview_html(const char *p, size_t n, struct pt_buf *out);

#endif
