/*
 * test_ratelimit.c — unit tests for src/core/ratelimit.c: fixed windows,
 * the capped evicting table, address keys (IPv6 by its /64).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "core/ratelimit.h"

static void test_ratelimit(void **state)
{
	struct ratelimit *rl = ratelimit_new(3, 60);
	int64_t retry = 0;
	for (int i = 0; i < 3; i++)
		assert_true(ratelimit_hit(rl, "k", 100, NULL));
	assert_false(ratelimit_hit(rl, "k", 110, &retry));
	assert_int_equal(retry, 50);
	assert_false(ratelimit_check(rl, "k", 120, NULL));
	assert_true(ratelimit_check(rl, "other", 120, NULL));
	/* a new window */
	assert_true(ratelimit_hit(rl, "k", 160, NULL));
	ratelimit_reset(rl, "k");
	for (int i = 0; i < 3; i++)
		assert_true(ratelimit_hit(rl, "k", 161, NULL));
	ratelimit_free(rl);
}

static void test_ratelimit_cap(void **state)
{
	struct ratelimit *rl = ratelimit_new(2, 60);
	char key[32];
	ratelimit_cap(rl, 4);
	assert_true(ratelimit_hit(rl, "old", 100, NULL));
	assert_true(ratelimit_hit(rl, "old", 100, NULL));
	assert_false(ratelimit_hit(rl, "old", 100, NULL));
	/* a full table of live windows evicts: new keys are never refused */
	for (int i = 0; i < 20; i++) {
		snprintf(key, sizeof(key), "k%d", i);
		assert_true(ratelimit_hit(rl, key, 101 + i, NULL));
	}
	/* the oldest window went first */
	assert_int_equal(ratelimit_count(rl, "old", 121), 0);
	assert_int_equal(ratelimit_count(rl, "k19", 121), 1);
	assert_int_equal(ratelimit_count(rl, "k19", 120 + 60), 0);
	/* expired windows are swept before anything live is evicted */
	assert_true(ratelimit_hit(rl, "late", 500, NULL));
	assert_int_equal(ratelimit_count(rl, "late", 500), 1);
	ratelimit_free(rl);
	/* addresses: IPv6 by its /64 */
	char k[RATELIMIT_ADDR_MAX];
	ratelimit_addr_key("192.0.2.7", k);
	assert_string_equal(k, "192.0.2.7");
	ratelimit_addr_key("2001:db8:1:2:aaaa:bbbb:cccc:dddd", k);
	assert_string_equal(k, "2001:db8:1:2::/64");
	ratelimit_addr_key("2001:db8:1:2::1", k);
	assert_string_equal(k, "2001:db8:1:2::/64");
	ratelimit_addr_key("::1", k);
	assert_string_equal(k, "::/64");
	ratelimit_addr_key("::ffff:192.0.2.7", k);
	assert_string_equal(k, "::ffff:192.0.2.7");
	ratelimit_addr_key("", k);
	assert_string_equal(k, "");
	/* NULL: no limit */
	assert_true(ratelimit_hit(NULL, "x", 1, NULL));
	assert_true(ratelimit_check(NULL, "x", 1, NULL));
	assert_int_equal(ratelimit_count(NULL, "x", 1), 0);
	ratelimit_refund(NULL, "x");
	ratelimit_reset(NULL, "x");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ratelimit),
		cmocka_unit_test(test_ratelimit_cap),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
