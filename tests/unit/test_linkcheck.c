/*
 * test_linkcheck.c — unit tests for src/core/linkcheck.c, the link
 * checker's input: one item per non-blank line or array element, in
 * order, whatever the bytes.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "core/linkcheck.h"
#include "util/pt.h"
#include "util/utf8.h"

#define ID "Ab3dEf6hIj9L"

struct want {
	const char *id;
	bool valid;
};

static void check(const char *body, size_t n, int err, const struct want *w,
		  size_t nw)
{
	struct pt_pool *pool = pt_pool_new();
	struct linkcheck_item *it;
	size_t k;
	assert_int_equal(linkcheck_parse(pool, body, n, 5, &it, &k), err);
	if (!err) {
		assert_int_equal(k, nw);
		for (size_t i = 0; i < k; i++) {
			assert_string_equal(it[i].id, w[i].id);
			assert_int_equal(it[i].valid, w[i].valid);
			assert_null(utf8_check(it[i].id, strlen(it[i].id),
					       UTF8_NAME, NULL));
			assert_true(strlen(it[i].id) < LINKCHECK_ECHO_MAX);
		}
	}
	pt_pool_free(pool);
}

#define CHECK(lit, err, ...)                                                \
	do {                                                                \
		static const struct want w_[] = { __VA_ARGS__ };            \
		check(lit, sizeof(lit) - 1, err, w_,                        \
		      sizeof(w_) / sizeof(w_[0]));                          \
	} while (0)

static void test_text_lines(void **state)
{
	CHECK(ID, 0, { ID, true });
	CHECK(" " ID " \r\n\n\r\n  \t\nhttps://h.example/" ID "/a%20b.txt\n"
	      "http://h/" ID "?x=1\n/" ID "/n\n",
	      0, { ID, true }, { ID, true }, { ID, true }, { ID, true });
	/* every other line is an item, echoed as one clean line */
	CHECK("\xff\xfe\nabc\0def\n\x1b[31m\n%ff\n\xf0\x9f\x98", 0,
	      { "\\xff\\xfe", false }, { "abc\\x00def", false },
	      { "\\x1b[31m", false }, { "%ff", false },
	      { "\\xf0\\x9f\\x98", false });
	/* not ids: too short, too long, a second segment, a bad char */
	CHECK("Ab3dEf6hIj9\nAb3dEf6hIj9LM\nhttp://h/x/" ID "\nhttp://h/" ID
	      "x\n",
	      0, { "Ab3dEf6hIj9", false }, { "Ab3dEf6hIj9LM", false },
	      { "http://h/x/" ID, false }, { "http://h/" ID "x", false });
	/* blank input: no items */
	check("", 0, 0, NULL, 0);
	check(" \r\n\t\n", 5, 0, NULL, 0);
	check(NULL, 7, 0, NULL, 0);
	/* more than max (5) items */
	CHECK("a\nb\nc\nd\ne\nf", PT_ETOOBIG, { "", false });
	CHECK("a\nb\nc\nd\ne\n\n\n", 0, { "a", false }, { "b", false },
	      { "c", false }, { "d", false }, { "e", false });
}

static void test_json(void **state)
{
	CHECK("[\"" ID "\", \"\", \" \", \"\\u001b\\u2028x\", "
	      "\"https://h/" ID "\"]",
	      0, { ID, true }, { "", false }, { "", false },
	      { "\\x1b\\u2028x", false }, { ID, true });
	check("  \n[]", 5, 0, NULL, 0);
	CHECK("[\"a\", 5]", PT_EBADREQ, { "", false });
	CHECK("[\"a\", null]", PT_EBADREQ, { "", false });
	CHECK("[\"\xff\"]", PT_EBADREQ, { "", false });
	CHECK("[\"a\\u0000b\"]", PT_EBADREQ, { "", false });
	CHECK("[\"a\"] x", PT_EBADREQ, { "", false });
	CHECK("[", PT_EBADREQ, { "", false });
	CHECK("[\"a\",\"b\",\"c\",\"d\",\"e\",\"f\"]", PT_ETOOBIG,
	      { "", false });
}

static void test_long_echo(void **state)
{
	char body[4000];
	memset(body, 'x', sizeof(body));
	body[100] = '\xff';
	struct pt_pool *pool = pt_pool_new();
	struct linkcheck_item *it;
	size_t k;
	assert_int_equal(linkcheck_parse(pool, body, sizeof(body), 5, &it, &k),
			 0);
	assert_int_equal(k, 1);
	assert_false(it[0].valid);
	assert_true(strlen(it[0].id) == LINKCHECK_ECHO_MAX - 1 ||
		    strlen(it[0].id) == LINKCHECK_ECHO_MAX - 2 ||
		    strlen(it[0].id) == LINKCHECK_ECHO_MAX - 3);
	assert_null(utf8_check(it[0].id, strlen(it[0].id), UTF8_NAME, NULL));
	pt_pool_free(pool);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_text_lines),
		cmocka_unit_test(test_json),
		cmocka_unit_test(test_long_echo),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
