/*
 * test_bucket.c — unit tests for src/core/bucket.c: the token bucket's
 * rate, its burst, slow and huge rates.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include "core/bucket.h"

#define SEC 1000000000ull

static void test_bucket_rate(void **state)
{
	struct bucket b;
	uint64_t t = 5 * SEC, sent = 0;
	bucket_init(&b, 100000, 50000, t);
	/* starts empty: nothing now, and a wait that matches the rate */
	assert_int_equal(bucket_take(&b, 1000, t), 0);
	uint64_t w = bucket_wait_ns(&b, 50000, t);
	assert_true(w >= SEC / 2 - 1000 && w <= SEC / 2 + 1000);
	/* ten simulated seconds of greedy sending: 1 MB, within 1 % */
	for (int i = 1; i <= 1000; i++)
		sent += bucket_take(&b, 1 << 20, t + (uint64_t)i * SEC / 100);
	assert_true(sent >= 990000 && sent <= 1010000);
	/* idle time refills to the burst, not beyond */
	assert_int_equal(bucket_take(&b, 1 << 20, t + 100 * SEC), 50000);
	/* unlimited */
	bucket_init(&b, 0, 0, t);
	assert_int_equal(bucket_take(&b, 12345, t), 12345);
	assert_int_equal(bucket_wait_ns(&b, 999, t), 0);
}

static void test_bucket_slow(void **state)
{
	struct bucket b;
	uint64_t t = 0;
	/* 1 byte per second: a byte every second, no rounding to zero */
	bucket_init(&b, 1, 16, t);
	assert_int_equal(bucket_take(&b, 10, t + SEC / 2), 0);
	assert_int_equal(bucket_take(&b, 10, t + SEC), 1);
	uint64_t w = bucket_wait_ns(&b, 1, t + SEC);
	assert_true(w > 0 && w <= SEC + 1000);
	/* huge rates do not overflow */
	bucket_init(&b, 1ull << 40, 1ull << 40, t);
	assert_true(bucket_take(&b, 1ull << 50, t + 3600 * SEC) == 1ull << 40);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bucket_rate),
		cmocka_unit_test(test_bucket_slow),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
