/*
 * text.c — escaping any bytes into one line of valid UTF-8 (see text.h).
 * A unit is one well-formed sequence, or one byte that is not part of
 * one; each unit becomes itself or its escape, so a cut between units
 * never splits either.
 */
#include "text.h"

#include <stdint.h>
#include <string.h>

#include "buf.h"
#include "utf8.h"
#include "banned.h"

/* Code points shown as \uXXXX: invisible, or able to reorder or break
 * what a reader sees (the set disp_sanitize_name drops from names). */
static bool cp_escaped(uint32_t c)
{
	return (c >= 0x80 && c <= 0x9f) || c == 0x200e || c == 0x200f ||
	       c == 0x2028 || c == 0x2029 || (c >= 0x202a && c <= 0x202e) ||
	       (c >= 0x2066 && c <= 0x2069);
}

/* The next unit of s[0..n), n > 0: its output in tok (at most 12 bytes,
 * not NUL-terminated), its output length in *tn; returns the input bytes
 * it takes. */
static size_t unit(const unsigned char *s, size_t n, unsigned flags,
		   char tok[12], size_t *tn)
{
	static const char hex[] = "0123456789abcdef";
	uint32_t c;
	size_t l = utf8_decode(s, n, &c);

	if (l == 0 || c < 0x20 || c == 0x7f) {
		tok[0] = '\\';
		tok[1] = 'x';
		tok[2] = hex[s[0] >> 4];
		tok[3] = hex[s[0] & 15];
		*tn = 4;
		return 1;
	}
	if (cp_escaped(c)) {
		tok[0] = '\\';
		tok[1] = 'u';
		for (int i = 0; i < 4; i++)
			tok[2 + i] = hex[(c >> (12 - 4 * i)) & 15];
		*tn = 6;
		return l;
	}
	if ((c == '\\' && (flags & TEXT_ESC_BACKSLASH)) ||
	    (c == '"' && (flags & TEXT_ESC_QUOTE))) {
		tok[0] = '\\';
		tok[1] = (char)c;
		*tn = 2;
		return 1;
	}
	memcpy(tok, s, l);
	*tn = l;
	return l;
}

size_t text_escape(char *out, size_t cap, const char *s, size_t n,
		   unsigned flags)
{
	const unsigned char *p = (const unsigned char *)s;
	const size_t mark = sizeof(TEXT_CUT_MARK) - 1;
	size_t len = 0, i = 0, keep = 0;
	bool cut = false;
	char tok[12];

	if (cap == 0)
		return 0;
	if (!s)
		n = 0;
	/* keep: the length at the last unit boundary that still leaves
	 * room for the mark, where a cut goes */
	while (i < n) {
		size_t tn, l = unit(p + i, n - i, flags, tok, &tn);
		if (len + tn > cap - 1) {
			cut = true;
			break;
		}
		memcpy(out + len, tok, tn);
		len += tn;
		i += l;
		if (len + mark <= cap - 1)
			keep = len;
	}
	if (cut) {
		if (keep + mark <= cap - 1) {
			memcpy(out + keep, TEXT_CUT_MARK, mark);
			len = keep + mark;
		} else {
			len = keep;
		}
	}
	out[len] = '\0';
	return len;
}

int text_escape_buf(struct pt_buf *b, const char *s, size_t n,
		    unsigned flags)
{
	const unsigned char *p = (const unsigned char *)s;
	char tok[12];
	int err = 0;

	for (size_t i = 0; s && i < n && !err;) {
		size_t tn, l = unit(p + i, n - i, flags, tok, &tn);
		err = pt_buf_add(b, tok, tn);
		i += l;
	}
	return err;
}

bool text_is_clean(const char *s, size_t n, unsigned flags)
{
	const unsigned char *p = (const unsigned char *)s;
	char tok[12];

	for (size_t i = 0; s && i < n;) {
		size_t tn, l = unit(p + i, n - i, flags, tok, &tn);
		if (tn != l || memcmp(tok, p + i, l) != 0)
			return false;
		i += l;
	}
	return true;
}
