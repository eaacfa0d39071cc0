/*
 * text.h — any bytes made fit to show: one line of valid UTF-8.
 *
 * Client bytes (paths, names, ids, headers, report text) reach error
 * replies, the access log, the server log and the admin's terminal.  None
 * of those may receive invalid UTF-8 (jansson refuses it, browsers and
 * terminals guess), a line break (a forged log line), or an escape
 * sequence (a terminal that obeys it).  text_escape is the one function
 * that makes them safe, everywhere:
 *
 *   - a byte that is not part of a well-formed sequence   \xNN
 *   - C0 controls, DEL (NUL, TAB, LF, ESC ...)            \xNN
 *   - C1 controls (U+0080..U+009F), the line and
 *     paragraph separators and the bidirectional
 *     controls (U+200E/F, U+202A..E, U+2066..9)           \uXXXX
 *   - with TEXT_ESC_BACKSLASH, '\' itself                 \\
 *   - with TEXT_ESC_QUOTE, '"'                            \"
 *
 * Everything else passes unchanged.  A result cut to fit is cut between
 * two units (never inside a UTF-8 sequence or an escape) and ends with
 * "…".  Pure, thread-safe.
 */
#ifndef PT_TEXT_H
#define PT_TEXT_H

#include <stdbool.h>
#include <stddef.h>

struct pt_buf;

enum {
	/* unambiguous output: a literal "\x1b" typed by a client reads
	 * "\\x1b" (terminals, logs) */
	TEXT_ESC_BACKSLASH = 1,
	/* '"' too, for a field quoted in a log line */
	TEXT_ESC_QUOTE = 2,
};

/* The truncation mark, in bytes. */
#define TEXT_CUT_MARK "\xe2\x80\xa6" /* … */

/*
 * Escape s[0..n) into out, which has room for cap bytes (cap >= 1):
 * always NUL-terminated, at most cap - 1 bytes, valid UTF-8 with no
 * control character.  When everything does not fit, as many whole units
 * as fit with the mark after them (cap >= 4 for the mark to fit).
 * Returns the length written.
 */
size_t text_escape(char *out, size_t cap, const char *s, size_t n,
		   unsigned flags);

/* The same, appended to b (its own ceiling applies: a unit that would
 * pass it is not written).  Returns 0 or PT_ETOOBIG. */
int text_escape_buf(struct pt_buf *b, const char *s, size_t n,
		    unsigned flags);

/* Whether s[0..n) would come out of text_escape(…, flags) unchanged. */
bool text_is_clean(const char *s, size_t n, unsigned flags);

#endif
