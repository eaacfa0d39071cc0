/*
 * test_buf.c — unit tests for src/util/buf.c: growable buffers and their
 * ceiling.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "util/buf.h"
#include "util/pt.h"

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

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_buf),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
