/*
 * fuzz_utf8.c — libFuzzer target for the text that comes from clients:
 * utf8_decode and utf8_check (util/utf8.c), text_escape (util/text.c)
 * and the name sanitiser disp_sanitize_name (http/disposition.c).  The
 * first byte picks an output size and escape flags, the rest is any
 * bytes.  Checks the decoder against a reference written from RFC 3629's
 * table; that an escape is clean (valid UTF-8, no control, separator or
 * bidi control), bounded, a prefix of the whole escape cut between two
 * units, and the identity exactly on clean text; and that a sanitised
 * name is clean and needs no escape.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http/disposition.h"
#include "util/buf.h"
#include "util/pt.h"
#include "util/text.h"
#include "util/utf8.h"
#include "util/banned.h"

/* RFC 3629 §4, the well-formed byte sequences, one row each. */
static size_t ref_decode(const unsigned char *s, size_t n, uint32_t *cp)
{
	static const struct {
		unsigned char lo[4], hi[4];
		size_t len;
	} rows[] = {
		{ { 0x00 }, { 0x7f }, 1 },
		{ { 0xc2, 0x80 }, { 0xdf, 0xbf }, 2 },
		{ { 0xe0, 0xa0, 0x80 }, { 0xe0, 0xbf, 0xbf }, 3 },
		{ { 0xe1, 0x80, 0x80 }, { 0xec, 0xbf, 0xbf }, 3 },
		{ { 0xed, 0x80, 0x80 }, { 0xed, 0x9f, 0xbf }, 3 },
		{ { 0xee, 0x80, 0x80 }, { 0xef, 0xbf, 0xbf }, 3 },
		{ { 0xf0, 0x90, 0x80, 0x80 }, { 0xf0, 0xbf, 0xbf, 0xbf }, 4 },
		{ { 0xf1, 0x80, 0x80, 0x80 }, { 0xf3, 0xbf, 0xbf, 0xbf }, 4 },
		{ { 0xf4, 0x80, 0x80, 0x80 }, { 0xf4, 0x8f, 0xbf, 0xbf }, 4 },
	};
	for (size_t r = 0; r < sizeof(rows) / sizeof(rows[0]); r++) {
		size_t k, len = rows[r].len;
		if (n < len)
			continue;
		for (k = 0; k < len; k++)
			if (s[k] < rows[r].lo[k] || s[k] > rows[r].hi[k])
				break;
		if (k < len)
			continue;
		static const unsigned char mask[] = { 0, 0x7f, 0x1f, 0x0f,
						      0x07 };
		uint32_t c = s[0] & mask[len];
		for (k = 1; k < len; k++)
			c = c << 6 | (s[k] & 0x3f);
		*cp = c;
		return len;
	}
	return 0;
}

static bool shown_escaped(uint32_t c)
{
	return c < 0x20 || (c >= 0x7f && c <= 0x9f) || c == 0x200e ||
	       c == 0x200f || c == 0x2028 || c == 0x2029 ||
	       (c >= 0x202a && c <= 0x202e) || (c >= 0x2066 && c <= 0x2069);
}

/* valid UTF-8, nothing text_escape would escape */
static void assert_clean(const char *s, size_t n)
{
	PT_ASSERT(utf8_check(s, n, 0, NULL) == NULL);
	for (size_t i = 0; i < n;) {
		uint32_t c;
		size_t l = ref_decode((const unsigned char *)s + i, n - i, &c);
		PT_ASSERT(l > 0 && !shown_escaped(c));
		i += l;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size == 0)
		return 0;
	size_t cap = (size_t)(data[0] >> 2) * 4 + 1; /* 1..253 */
	unsigned flags = data[0] & 3;
	const unsigned char *s = data + 1;
	size_t n = size - 1;

	/* the decoder agrees with the table, and the check with both */
	const char *why = NULL;
	size_t bad = n, i;
	for (i = 0; i < n;) {
		uint32_t a = 0, b = 0;
		size_t la = utf8_decode(s + i, n - i, &a);
		size_t lb = ref_decode(s + i, n - i, &b);
		PT_ASSERT(la == lb && (la == 0 || a == b));
		if (la == 0) {
			bad = i;
			break;
		}
		i += la;
	}
	size_t at = (size_t)-1;
	why = utf8_check((const char *)s, n, 0, &at);
	PT_ASSERT((why != NULL) == (bad < n));
	if (why)
		PT_ASSERT(at == bad);
	why = utf8_check((const char *)s, n, UTF8_NAME, &at);
	if (!why)
		PT_ASSERT(bad == n);

	/* the whole escape, then every cut of it */
	struct pt_buf whole;
	pt_buf_init(&whole, 16 * n + 16);
	PT_ASSERT(text_escape_buf(&whole, (const char *)s, n, flags) == 0);
	const char *w = whole.p ? whole.p : "";
	assert_clean(w, whole.n);
	PT_ASSERT(whole.n >= n);
	PT_ASSERT(text_is_clean((const char *)s, n, flags) ==
		  (whole.n == n && memcmp(w, s, n) == 0));

	char *out = malloc(cap); /* exactly cap: ASan sees any overrun */
	size_t on = text_escape(out, cap, (const char *)s, n, flags);
	PT_ASSERT(on <= cap - 1 && out[on] == '\0');
	assert_clean(out, on);
	if (whole.n <= cap - 1) {
		PT_ASSERT(on == whole.n && memcmp(out, w, on) == 0);
	} else {
		const size_t mark = sizeof(TEXT_CUT_MARK) - 1;
		size_t keep = on;
		if (cap - 1 >= mark) {
			PT_ASSERT(on >= mark && memcmp(out + on - mark,
						       TEXT_CUT_MARK,
						       mark) == 0);
			keep -= mark;
		}
		PT_ASSERT(memcmp(out, w, keep) == 0);
		/* cut between units: escaping the same input's prefix
		 * gives exactly these bytes */
		struct pt_buf pre;
		pt_buf_init(&pre, 16 * n + 16);
		size_t j = 0;
		while (pre.n < keep && j < n) {
			uint32_t c;
			size_t l = utf8_decode(s + j, n - j, &c);
			l = l ? l : 1;
			text_escape_buf(&pre, (const char *)s + j, l, flags);
			j += l;
		}
		PT_ASSERT(pre.n == keep);
		pt_buf_release(&pre);
	}
	free(out);
	pt_buf_release(&whole);

	/* a sanitised name is clean: it never needs an escape */
	char clean[256];
	size_t cn = disp_sanitize_name((const char *)s, n, clean,
				       sizeof(clean));
	PT_ASSERT(cn <= 255 && strlen(clean) == cn);
	PT_ASSERT(utf8_check(clean, cn, UTF8_NAME, NULL) == NULL);
	PT_ASSERT(text_is_clean(clean, cn, 0));
	return 0;
}
