/*
 * test_utf8.c — unit tests for src/util/utf8.c: validation and decoding.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "util/pt.h"
#include "util/utf8.h"

static void test_utf8(void **state)
{
	/* n < 0: strlen; why: NULL (accepted) or the start of the reason */
	static const struct {
		const char *s;
		int n;
		unsigned flags;
		const char *why;
		size_t at;
	} cases[] = {
		{ "", -1, UTF8_NAME, NULL, 0 },
		{ "plain.txt", -1, UTF8_NAME, NULL, 0 },
		{ "r\xc3\xa9sum\xc3\xa9 \xe6\x97\xa5\xe6\x9c\xac.txt", -1, UTF8_NAME,
		  NULL, 0 },                                  /* résumé 日本 */
		{ "\xf0\x9f\x98\x80", -1, UTF8_NAME, NULL, 0 }, /* U+1F600 */
		{ "\xf4\x8f\xbf\xbf", -1, UTF8_NAME, NULL, 0 }, /* U+10FFFF */
		{ "\xef\xbf\xbf", -1, UTF8_NAME, NULL, 0 },     /* U+FFFF */
		{ "\xed\x9f\xbf", -1, UTF8_NAME, NULL, 0 },     /* U+D7FF */
		{ "\xc2\xa0", -1, UTF8_NAME, NULL, 0 },         /* U+00A0 */
		{ "r\xe9sum\xe9", -1, UTF8_NAME, "is not valid", 1 }, /* Latin-1 */
		{ "ab\x80", -1, 0, "is not valid", 2 },       /* stray continuation */
		{ "\xbf", -1, 0, "is not valid", 0 },
		{ "\xc0\xaf", -1, 0, "is not valid", 0 },     /* overlong '/' */
		{ "\xc1\xbf", -1, 0, "is not valid", 0 },     /* overlong */
		{ "\xe0\x80\xaf", -1, 0, "is not valid", 0 }, /* overlong, 3 */
		{ "\xe0\x9f\xbf", -1, 0, "is not valid", 0 }, /* overlong U+07FF */
		{ "\xf0\x80\x80\xaf", -1, 0, "is not valid", 0 }, /* overlong, 4 */
		{ "\xf0\x8f\xbf\xbf", -1, 0, "is not valid", 0 }, /* overlong U+FFFF */
		{ "\xed\xa0\x80", -1, 0, "is not valid", 0 }, /* U+D800 */
		{ "\xed\xbf\xbf", -1, 0, "is not valid", 0 }, /* U+DFFF */
		{ "\xed\xa0\xbd\xed\xb8\x80", -1, 0, "is not valid", 0 }, /* CESU-8 */
		{ "\xf4\x90\x80\x80", -1, 0, "is not valid", 0 }, /* U+110000 */
		{ "\xf5\x80\x80\x80", -1, 0, "is not valid", 0 },
		{ "\xfe", -1, 0, "is not valid", 0 },
		{ "\xff", -1, 0, "is not valid", 0 },
		{ "x\xe6\x97", -1, 0, "is not valid", 1 },    /* cut short */
		{ "x\xc3", -1, 0, "is not valid", 1 },
		{ "\xe6\x97x", -1, 0, "is not valid", 0 },    /* bad continuation */
		{ "a\tb", -1, UTF8_NAME, "contains a control", 1 },
		{ "a\r\nb", -1, UTF8_NAME, "contains a control", 1 },
		{ "a\x7f", -1, UTF8_NAME, "contains a control", 1 },
		{ "a\xc2\x85", -1, UTF8_NAME, "contains a control", 1 }, /* U+0085 */
		{ "a\xc2\x9f", -1, UTF8_NAME, "contains a control", 1 },
		{ "a\tb\r\n", -1, 0, NULL, 0 },               /* text: fine */
		{ "a\0b", 3, UTF8_NO_NUL, "contains a NUL", 1 },
		{ "a\0b", 3, 0, NULL, 0 },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		size_t n = cases[i].n < 0 ? strlen(cases[i].s)
					  : (size_t)cases[i].n, at = 999;
		const char *why = utf8_check(cases[i].s, n, cases[i].flags,
					     &at);
		if (!cases[i].why) {
			if (why)
				fail_msg("case %zu: refused: %s", i, why);
			continue;
		}
		if (!why || strncmp(why, cases[i].why, strlen(cases[i].why)))
			fail_msg("case %zu: got %s, want %s", i,
				 why ? why : "(accepted)", cases[i].why);
		assert_int_equal(at, cases[i].at);
	}
	/* every 2-byte lead with every continuation: the decoder's ranges */
	for (unsigned a = 0x80; a < 0x100; a++) {
		unsigned char b[2] = { (unsigned char)a, 0x80 };
		uint32_t cp;
		size_t l = utf8_decode(b, 2, &cp);
		assert_int_equal(l, a >= 0xc2 && a <= 0xdf ? 2 : 0);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_utf8),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
