/*
 * test_coverage.c — unit tests for src/core/coverage.c: a download counts
 * once, when every byte of the file went out to one client.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdbool.h>
#include <stdio.h>

#include "core/coverage.h"

static void test_coverage(void **state)
{
	struct coverage *c = coverage_new(100);
	int64_t day = 20000 * 86400LL;
	/* eight overlapping connections (aria2c -x8): one download */
	int counted = 0;
	for (uint64_t i = 0; i < 8; i++)
		counted += coverage_add(c, "AAAAAAAAAAAA", "1.1.1.1", 8000,
					i * 1000, i * 1000 + 1099 > 7999 ? 7999 : i * 1000 + 1099, day);
	assert_int_equal(counted, 1);
	/* once a day: the same client again counts nothing */
	assert_false(coverage_add(c, "AAAAAAAAAAAA", "1.1.1.1", 8000, 0, 7999, day + 10));
	/* the next day it does */
	assert_true(coverage_add(c, "AAAAAAAAAAAA", "1.1.1.1", 8000, 0, 7999, day + 86400));
	/* first byte a thousand times: never */
	for (int i = 0; i < 1000; i++)
		assert_false(coverage_add(c, "BBBBBBBBBBBB", "2.2.2.2", 8000, 0, 0, day));
	/* a resume: two halves out of order, with a gap closed last */
	assert_false(coverage_add(c, "CCCCCCCCCCCC", "3.3.3.3", 100, 60, 99, day));
	assert_false(coverage_add(c, "CCCCCCCCCCCC", "3.3.3.3", 100, 0, 40, day));
	assert_true(coverage_add(c, "CCCCCCCCCCCC", "3.3.3.3", 100, 41, 59, day));
	/* another client is another download */
	assert_true(coverage_add(c, "CCCCCCCCCCCC", "4.4.4.4", 100, 0, 99, day));
	/* nonsense ranges are ignored */
	assert_false(coverage_add(c, "DDDDDDDDDDDD", "5.5.5.5", 100, 50, 10, day));
	assert_false(coverage_add(c, "DDDDDDDDDDDD", "5.5.5.5", 100, 0, 100, day));
	assert_false(coverage_add(c, "DDDDDDDDDDDD", "5.5.5.5", 0, 0, 0, day));
	coverage_free(c);
	/* a full table evicts instead of growing */
	c = coverage_new(4);
	for (int i = 0; i < 100; i++) {
		char id[16];
		snprintf(id, sizeof(id), "%012d", i);
		coverage_add(c, id, "9.9.9.9", 10, 0, 4, day);
	}
	assert_true(coverage_add(c, "000000000099", "9.9.9.9", 10, 5, 9, day));
	coverage_free(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_coverage),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
