/*
 * test_auth.c — the request-free parts of the auth phase (http/auth.c):
 * which credential wins, CSRF token comparison, the same-origin test.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "http/auth.h"
#include "util/pt.h"
#include "util/banned.h"

static void test_credential(void **state)
{
	static const struct {
		const char *auth, *cookie;
		enum auth_kind kind;
		const char *token;
	} t[] = {
		{ "Bearer abc", NULL, AUTH_BEARER, "abc" },
		{ "bearer   abc def", "c", AUTH_BEARER, "abc def" },
		{ "BEARER x", NULL, AUTH_BEARER, "x" },
		{ "Bearer ", "c", AUTH_NONE, NULL },     /* header wins, empty */
		{ "Bearer    ", NULL, AUTH_NONE, NULL },
		{ "Bearer", "c", AUTH_BAD_SCHEME, NULL }, /* no space */
		{ "Bearer\tabc", NULL, AUTH_BAD_SCHEME, NULL },
		{ "Basic dXNlcjpw", "c", AUTH_BAD_SCHEME, NULL },
		{ "", "c", AUTH_BAD_SCHEME, NULL },
		{ NULL, "sess", AUTH_COOKIE, "sess" },
		{ NULL, "", AUTH_NONE, NULL },
		{ NULL, NULL, AUTH_NONE, NULL },
	};
	for (size_t i = 0; i < PT_ARRAY_LEN(t); i++) {
		const char *tok = "junk";
		assert_int_equal(auth_credential(t[i].auth, t[i].cookie, &tok),
				 t[i].kind);
		if (t[i].token)
			assert_string_equal(tok, t[i].token);
		else
			assert_null(tok);
	}
}

static void test_csrf(void **state)
{
	assert_true(auth_csrf_ok("abc", "abc"));
	assert_false(auth_csrf_ok(NULL, "abc"));
	assert_false(auth_csrf_ok("ab", "abc"));
	assert_false(auth_csrf_ok("abcd", "abc"));
	assert_false(auth_csrf_ok("abd", "abc"));
	assert_false(auth_csrf_ok("ABC", "abc"));
}

static void test_same_origin(void **state)
{
	const char *u = "https://files.example/base";
	assert_true(auth_same_origin(u, NULL, "same-origin"));
	assert_true(auth_same_origin(u, "null", "same-origin"));
	assert_true(auth_same_origin(u, "https://files.example", NULL));
	assert_true(auth_same_origin(u, "HTTPS://Files.Example", "cross-site"));
	assert_false(auth_same_origin(u, "https://evil.example", "same-origin"));
	assert_false(auth_same_origin(u, "https://files.example.evil", NULL));
	assert_false(auth_same_origin(u, "https://files.exampl", NULL));
	assert_false(auth_same_origin(u, "http://files.example", NULL));
	assert_false(auth_same_origin(u, NULL, "same-site"));
	assert_false(auth_same_origin(u, "null", "cross-site"));
	assert_false(auth_same_origin(u, NULL, NULL));
	assert_true(auth_same_origin("http://127.0.0.1:8080",
				     "http://127.0.0.1:8080", NULL));
	assert_false(auth_same_origin("http://127.0.0.1:8080",
				      "http://127.0.0.1:8081", NULL));
	assert_false(auth_same_origin("files.example", "files.example", NULL));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_credential),
		cmocka_unit_test(test_csrf),
		cmocka_unit_test(test_same_origin),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
