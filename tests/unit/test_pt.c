/*
 * test_pt.c — unit tests for src/util/pt.c: the status map (pt status
 * and errno to HTTP, messages), number parsing, HTTP dates.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <string.h>

#include "util/pt.h"

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

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_status_map),
		cmocka_unit_test(test_parse_u64),
		cmocka_unit_test(test_http_date),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
