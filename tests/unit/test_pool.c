/*
 * test_pool.c — unit tests for src/util/pool.c: request pools and their
 * cleanups.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "util/pool.h"
#include "util/pt.h"

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

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pool),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
