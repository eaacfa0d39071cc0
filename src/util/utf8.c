/*
 * utf8.c — the strict UTF-8 decoder and the check for client text (see
 * utf8.h).  The decoder follows RFC 3629's table of well-formed byte
 * sequences, so overlongs and surrogates fail on their first bytes.
 */
#include "utf8.h"

#include "banned.h"

size_t utf8_decode(const unsigned char *s, size_t n, uint32_t *cp)
{
	uint32_t c = s[0], min;
	size_t len;

	if (c < 0x80) {
		*cp = c;
		return 1;
	} else if (c >= 0xc2 && c <= 0xdf) {
		len = 2, c &= 0x1f, min = 0x80;
	} else if (c >= 0xe0 && c <= 0xef) {
		len = 3, c &= 0x0f, min = 0x800;
	} else if (c >= 0xf0 && c <= 0xf4) {
		len = 4, c &= 0x07, min = 0x10000;
	} else {
		return 0;
	}
	if (n < len)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		c = (c << 6) | (s[i] & 0x3f);
	}
	if (c < min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
		return 0;
	*cp = c;
	return len;
}

const char *utf8_check(const char *s, size_t n, unsigned flags, size_t *at)
{
	const unsigned char *p = (const unsigned char *)s;
	const char *why = NULL;
	size_t i = 0;

	while (i < n) {
		uint32_t c;
		size_t l = utf8_decode(p + i, n - i, &c);

		if (l == 0) {
			why = "is not valid UTF-8";
			break;
		}
		if (c == 0 && (flags & UTF8_NO_NUL)) {
			why = "contains a NUL byte";
			break;
		}
		if ((flags & UTF8_NO_CONTROLS) &&
		    (c < 0x20 || (c >= 0x7f && c <= 0x9f))) {
			why = "contains a control character";
			break;
		}
		i += l;
	}
	if (why && at)
		*at = i;
	return why;
}
