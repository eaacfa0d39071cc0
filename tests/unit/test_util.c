/*
 * test_util.c — unit tests for src/util (status map, numbers, dates,
 * buffers, pools, UTF-8) and src/core/ids.c.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <sodium.h>
#include <string.h>

#include "core/ids.h"
#include "util/buf.h"
#include "util/pool.h"
#include "util/pt.h"
#include "util/utf8.h"

static void test_status_map(void **state)
{
	static const struct { int err, http; } cases[] = {
		{ 0, 200 },           { PT_EBADREQ, 400 },  { PT_ENOTFOUND, 404 },
		{ PT_EGONE, 410 },    { PT_ETOOBIG, 413 },  { PT_ERANGE, 416 },
		{ PT_ELIMIT, 429 },   { PT_ELEGAL, 451 },   { PT_EUNAVAIL, 503 },
		{ PT_ENOSPACE, 507 }, { -ENOSPC, 507 },     { -EDQUOT, 507 },
		{ -ENOENT, 404 },     { -EACCES, 403 },     { -EIO, 500 },
		{ 12345, 500 },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		assert_int_equal(pt_http_status(cases[i].err), cases[i].http);
	assert_string_equal(pt_strerror(PT_ENOTFOUND), "not found");
	assert_string_equal(pt_strerror(-ENOSPC), strerror(ENOSPC));
}

static void test_parse_u64(void **state)
{
	static const struct { const char *s; int ok; uint64_t v; } cases[] = {
		{ "0", 1, 0 },
		{ "42", 1, 42 },
		{ "9999999999999999999", 1, 9999999999999999999ull },
		{ "18446744073709551615", 0, 0 }, /* 20 digits: refused */
		{ "", 0, 0 },
		{ "-1", 0, 0 },
		{ "+1", 0, 0 },
		{ "1 ", 0, 0 },
		{ " 1", 0, 0 },
		{ "0x10", 0, 0 },
		{ "12a", 0, 0 },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		uint64_t v = 7;
		int err = pt_parse_u64(cases[i].s, strlen(cases[i].s), &v);
		if (cases[i].ok) {
			assert_int_equal(err, 0);
			assert_true(v == cases[i].v);
		} else {
			assert_int_equal(err, PT_EBADREQ);
		}
	}
}

static void test_http_date(void **state)
{
	char buf[32];
	int64_t t;
	pt_http_date(784111777, buf);
	assert_string_equal(buf, "Sun, 06 Nov 1994 08:49:37 GMT");
	/* the three forms of RFC 9110 §5.6.7 */
	assert_int_equal(pt_http_date_parse("Sun, 06 Nov 1994 08:49:37 GMT", &t), 0);
	assert_true(t == 784111777);
	assert_int_equal(pt_http_date_parse("Sunday, 06-Nov-94 08:49:37 GMT", &t), 0);
	assert_true(t == 784111777);
	assert_int_equal(pt_http_date_parse("Sun Nov  6 08:49:37 1994", &t), 0);
	assert_true(t == 784111777);
	assert_int_equal(pt_http_date_parse("yesterday", &t), PT_EBADREQ);
	assert_int_equal(pt_http_date_parse("Sun, 06 Nov 1994 08:49:37 GMT x", &t),
			 PT_EBADREQ);
	assert_int_equal(pt_http_date_parse("", &t), PT_EBADREQ);
}

static void test_buf(void **state)
{
	struct pt_buf b;
	pt_buf_init(&b, 10);
	assert_int_equal(pt_buf_adds(&b, "hello"), 0);
	assert_int_equal(pt_buf_addf(&b, "%d", 1234), 0);
	assert_string_equal(b.p, "hello1234");
	/* past the ceiling: refused, contents unchanged */
	assert_int_equal(pt_buf_adds(&b, "xy"), PT_ETOOBIG);
	assert_string_equal(b.p, "hello1234");
	assert_int_equal(pt_buf_addf(&b, "%s", "xy"), PT_ETOOBIG);
	assert_int_equal(b.n, 9);
	assert_int_equal(pt_buf_adds(&b, "z"), 0);
	size_t n;
	char *p = pt_buf_detach(&b, &n);
	assert_int_equal(n, 10);
	assert_string_equal(p, "hello1234z");
	assert_int_equal(b.n, 0);
	free(p);
	pt_buf_release(&b);
}

static int cleanups[4], order;
static void mark(void *arg)
{
	cleanups[(intptr_t)arg] = ++order;
}

static void test_pool(void **state)
{
	struct pt_pool *p = pt_pool_new();
	char *s = pt_pstrdup(p, "abc");
	assert_string_equal(s, "abc");
	char *big = pt_palloc(p, 100000); /* larger than a block */
	memset(big, 1, 100000);
	for (int i = 0; i < 1000; i++)
		assert_non_null(pt_palloc(p, 24));
	assert_string_equal(pt_psprintf(p, "%s-%d", s, 5), "abc-5");
	assert_true(((uintptr_t)pt_palloc(p, 3) & 15) == 0);
	order = 0;
	memset(cleanups, 0, sizeof(cleanups));
	pt_pool_cleanup_add(p, mark, (void *)0);
	void *h = pt_pool_cleanup_add(p, mark, (void *)1);
	pt_pool_cleanup_add(p, mark, (void *)2);
	pt_pool_cleanup_disarm(h);
	pt_pool_free(p);
	/* last registered runs first; disarmed never */
	assert_int_equal(cleanups[2], 1);
	assert_int_equal(cleanups[0], 2);
	assert_int_equal(cleanups[1], 0);
}

static void test_ids(void **state)
{
	char a[ID_LEN + 1], b[ID_LEN + 1];
	id_new(a);
	id_new(b);
	assert_int_equal(strlen(a), ID_LEN);
	assert_true(id_valid(a, strlen(a)));
	assert_string_not_equal(a, b);
	assert_false(id_valid("abc", 3));
	assert_false(id_valid("abcdefghijk-", 12));
	assert_false(id_valid("abcdefghijkl1", 13));
	assert_true(id_valid("0aZ9bY8cX7dW", 12));

	char t[TOKEN_LEN + 1], h[TOKEN_HASH_LEN + 1];
	token_new(t);
	assert_int_equal(strlen(t), TOKEN_LEN);
	for (size_t i = 0; i < TOKEN_LEN; i++)
		assert_non_null(strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_", t[i]));
	token_hash(t, strlen(t), h);
	assert_int_equal(strlen(h), 64);
	assert_true(token_check(t, strlen(t), h));
	t[0] = t[0] == 'A' ? 'B' : 'A';
	assert_false(token_check(t, strlen(t), h));
	assert_false(token_check(t, strlen(t), "short"));
	assert_false(token_check(t, strlen(t), NULL));
	/* known vector: SHA-256 of "abc" */
	token_hash("abc", 3, h);
	assert_string_equal(h, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

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
		cmocka_unit_test(test_status_map), cmocka_unit_test(test_parse_u64),
		cmocka_unit_test(test_http_date),  cmocka_unit_test(test_buf),
		cmocka_unit_test(test_pool),       cmocka_unit_test(test_ids),
		cmocka_unit_test(test_utf8),
	};
	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
