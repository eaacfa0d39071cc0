/*
 * test_ids.c — unit tests for src/core/ids.c: link ids and tokens.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <sodium.h>
#include <string.h>

#include "core/ids.h"
#include "util/pt.h"

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

	/* upload ids: 24 of the same alphabet, NUL-terminated */
	char u[25], v[25];
	memset(u, '#', sizeof(u));
	id_fill(u, 24);
	id_fill(v, 24);
	assert_int_equal(strlen(u), 24);
	assert_true(id_valid(u, ID_LEN) && id_valid(u + ID_LEN, ID_LEN));
	assert_string_not_equal(u, v);

	char t[TOKEN_LEN + 1], h[TOKEN_HASH_LEN + 1];
	token_new(t);
	assert_int_equal(strlen(t), TOKEN_LEN);
	for (size_t i = 0; i < TOKEN_LEN; i++)
		assert_non_null(strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_", t[i]));
	/* never a leading '-' (read as an option after a command); one in
	 * 64 would have one without the rule: 4000 make it all but sure */
	for (int i = 0; i < 4000; i++) {
		char x[TOKEN_LEN + 1];
		token_new(x);
		assert_int_not_equal(x[0], '-');
	}
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

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ids),
	};
	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
