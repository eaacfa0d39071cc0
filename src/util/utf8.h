/*
 * utf8.h — strict UTF-8 (RFC 3629) for text that enters from clients.
 *
 * Every piece of text partage stores must be well-formed UTF-8:
 * PostgreSQL refuses anything else (SQLite would store it, so the two
 * backends would disagree), and names end up in headers and pages.  Text
 * is checked where it enters (file names of a PUT, a multipart part, tus
 * metadata, JSON bodies) and refused with 400, not repaired in silence.
 * Pure functions, thread-safe, never allocate.
 */
#ifndef PT_UTF8_H
#define PT_UTF8_H

#include <stddef.h>
#include <stdint.h>

/*
 * Decode one sequence of s[0..n), n > 0.  Returns its length (1..4) and
 * the code point in *cp, or 0 for anything not well-formed: a stray
 * continuation byte, an overlong form, a surrogate (U+D800..U+DFFF),
 * beyond U+10FFFF, 0xF5..0xFF, or a sequence cut short.
 */
size_t utf8_decode(const unsigned char *s, size_t n, uint32_t *cp);

/* utf8_check flags */
enum {
	UTF8_NO_NUL = 1,      /* refuse U+0000 */
	UTF8_NO_CONTROLS = 2, /* refuse C0, DEL and C1 (U+0000..U+001F,
			       * U+007F..U+009F) */
	UTF8_NAME = UTF8_NO_NUL | UTF8_NO_CONTROLS, /* a name */
};

/*
 * Check s[0..n).  Returns NULL when it is acceptable, else what is wrong
 * ("is not valid UTF-8", "contains a control character", "contains a NUL
 * byte"), fit to follow the subject in a message, with the byte offset of
 * the fault in *at (when at is not NULL).
 */
const char *utf8_check(const char *s, size_t n, unsigned flags, size_t *at);

#endif
