/*
 * test_path.c — request-path splitting, percent-decoding and escaping
 * against tables of edge cases: empty and trailing segments, bad escapes,
 * decoded NUL, "%2F" staying inside its segment, the segment and length
 * limits, and escape/unescape round trips.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "http/path.h"
#include "util/buf.h"
#include "util/banned.h"

#define BAD PT_EBADREQ

struct split_row {
	const char *name;
	const char *raw;
	int want_rc;
	const char *segs; /* decoded segments joined by '|' */
	bool trailing;
};

static const struct split_row split_rows[] = {
	{ "root", "/", 0, "", false },
	{ "one segment", "/abc", 0, "abc", false },
	{ "header example", "/abcDEF123456/r%C3%A9sum%C3%A9.pdf", 0,
	  "abcDEF123456|r\xc3\xa9sum\xc3\xa9.pdf", false },
	{ "trailing slash", "/x/", 0, "x", true },
	{ "two and trailing", "/x/y/", 0, "x|y", true },
	{ "empty string", "", BAD, "", false },
	{ "relative", "abc", BAD, "", false },
	{ "NULL", NULL, BAD, "", false },
	{ "asterisk-form", "*", BAD, "", false },
	{ "absolute-form", "http://h/x", BAD, "", false },
	{ "empty middle segment", "/a//b", BAD, "", false },
	{ "double slash", "//", BAD, "", false },
	{ "leading double slash", "//a", BAD, "", false },
	{ "double trailing slash", "/x//", BAD, "", false },
	{ "encoded slash stays", "/a%2Fb", 0, "a/b", false },
	{ "encoded slash alone", "/%2F", 0, "/", false },
	{ "lone percent", "/%", BAD, "", false },
	{ "short escape", "/%4", BAD, "", false },
	{ "short escape before slash", "/%4/a", BAD, "", false },
	{ "non-hex escape", "/%zz", BAD, "", false },
	{ "half-hex escape", "/%4g", BAD, "", false },
	{ "decoded NUL", "/%00", BAD, "", false },
	{ "decoded NUL inside", "/a%00b", BAD, "", false },
	{ "decoded LF is data", "/a%0Ab", 0, "a\nb", false },
	{ "plus stays plus", "/a+b", 0, "a+b", false },
	{ "encoded plus", "/%2B", 0, "+", false },
	{ "lowercase hex", "/%e2%82%ac", 0, "\xe2\x82\xac", false },
	{ "dot kept as data", "/.", 0, ".", false },
	{ "dot-dot kept as data", "/a/..", 0, "a|..", false },
	{ "encoded dot-dot", "/%2e%2e", 0, "..", false },
	{ "query cut off", "/a?x=1", 0, "a", false },
	{ "query on root", "/?q", 0, "", false },
	{ "query after trailing slash", "/a/?q", 0, "a", true },
	{ "slash in query", "/a?b/c//d", 0, "a", false },
	{ "raw space", "/a b", BAD, "", false },
	{ "raw tab", "/a\tb", BAD, "", false },
	{ "raw CR LF", "/a\r\nb", BAD, "", false },
	{ "raw DEL", "/a\x7f", BAD, "", false },
	{ "raw UTF-8 allowed", "/\xc3\xa9", 0, "\xc3\xa9", false },
	{ "8 segments", "/1/2/3/4/5/6/7/8", 0, "1|2|3|4|5|6|7|8", false },
	{ "8 segments, trailing", "/1/2/3/4/5/6/7/8/", 0, "1|2|3|4|5|6|7|8",
	  true },
	{ "9 segments", "/1/2/3/4/5/6/7/8/9", BAD, "", false },
};

static void run_split(void **state)
{
	const struct split_row *r = *state;
	struct pt_pool *pool = pt_pool_new();
	struct path p;
	char got[256];
	size_t n = 0;

	memset(&p, 0xa5, sizeof(p));
	int rc = path_split(pool, r->raw, &p);
	assert_int_equal(rc, r->want_rc);
	if (rc != 0) {
		assert_int_equal(p.n, 0);
		pt_pool_free(pool);
		return;
	}
	got[0] = '\0';
	for (size_t i = 0; i < p.n; i++) {
		assert_true(n + p.seg[i].n + 2 < sizeof(got));
		assert_int_equal(p.seg[i].p[p.seg[i].n], '\0');
		if (i)
			got[n++] = '|';
		memcpy(got + n, p.seg[i].p, p.seg[i].n);
		n += p.seg[i].n;
		got[n] = '\0';
	}
	assert_string_equal(got, r->segs);
	assert_int_equal(p.trailing_slash, r->trailing);
	pt_pool_free(pool);
}

struct unescape_row {
	const char *name;
	const char *in;
	size_t n; /* SIZE_MAX: strlen(in) */
	long want_len;
	const char *want;
};

#define ALL SIZE_MAX

static const struct unescape_row unescape_rows[] = {
	{ "plain", "abc", ALL, 3, "abc" },
	{ "empty", "", ALL, 0, "" },
	{ "one escape", "%41", ALL, 1, "A" },
	{ "lowercase hex", "%4a%4A", ALL, 2, "JJ" },
	{ "high byte", "%FF", ALL, 1, "\xff" },
	{ "NUL decodes", "a%00b", ALL, 3, "a" },
	{ "plus stays", "a+b", ALL, 3, "a+b" },
	{ "encoded plus", "%2b", ALL, 1, "+" },
	{ "lone percent", "%", ALL, -1, NULL },
	{ "trailing percent", "a%", ALL, -1, NULL },
	{ "one hex digit", "%4", ALL, -1, NULL },
	{ "percent percent", "%%41", ALL, -1, NULL },
	{ "non-hex", "%G1", ALL, -1, NULL },
	{ "escape cut by n", "%41", 2, -1, NULL },
	{ "n bounds input", "abc%zz", 3, 3, "abc" },
};

static void run_unescape(void **state)
{
	const struct unescape_row *r = *state;
	size_t n = r->n == ALL ? strlen(r->in) : r->n;
	char out[64];
	long got = path_unescape(r->in, n, out);

	assert_int_equal(got, r->want_len);
	if (got >= 0) {
		assert_int_equal(out[got], '\0');
		assert_memory_equal(out, r->want, strlen(r->want));
	}
}

struct escape_row {
	const char *name;
	const char *in;
	const char *want;
};

static const struct escape_row escape_rows[] = {
	{ "plain", "abc", "abc" },
	{ "empty", "", "" },
	{ "unreserved kept", "AZaz09-._~", "AZaz09-._~" },
	{ "space", "a b", "a%20b" },
	{ "UTF-8", "r\xc3\xa9sum\xc3\xa9.pdf", "r%C3%A9sum%C3%A9.pdf" },
	{ "delimiters", "a/b?c#d%e", "a%2Fb%3Fc%23d%25e" },
	{ "sub-delims and colon",
	  "!$&'()*+,;=:@", "%21%24%26%27%28%29%2A%2B%2C%3B%3D%3A%40" },
	{ "controls", "\r\n\x7f", "%0D%0A%7F" },
};

static void run_escape(void **state)
{
	const struct escape_row *r = *state;
	struct pt_buf b;

	pt_buf_init(&b, 4096);
	assert_int_equal(path_escape(&b, r->in), 0);
	assert_string_equal(b.p ? b.p : "", r->want);
	pt_buf_release(&b);
}

static void test_split_max_len(void **state)
{
	char *raw = malloc(PATH_MAX_LEN + 2);
	struct pt_pool *pool = pt_pool_new();
	struct path p;

	(void)state;
	/* "/aaaa…" of exactly PATH_MAX_LEN bytes, then one more */
	raw[0] = '/';
	memset(raw + 1, 'a', PATH_MAX_LEN);
	raw[PATH_MAX_LEN] = '\0';
	assert_int_equal(path_split(pool, raw, &p), 0);
	assert_int_equal(p.n, 1);
	assert_int_equal(p.seg[0].n, PATH_MAX_LEN - 1);
	raw[PATH_MAX_LEN] = 'a';
	raw[PATH_MAX_LEN + 1] = '\0';
	assert_int_equal(path_split(pool, raw, &p), PT_EBADREQ);
	/* the query does not count towards the limit */
	raw[PATH_MAX_LEN] = '?';
	assert_int_equal(path_split(pool, raw, &p), 0);
	pt_pool_free(pool);
	free(raw);
}

/* every byte value survives escape → unescape; longer than one chunk */
static void test_escape_round_trip(void **state)
{
	char in[256], out[256 * 3 + 1];
	struct pt_buf b;

	(void)state;
	for (int i = 1; i < 256; i++)
		in[i - 1] = (char)i;
	in[255] = '\0';
	pt_buf_init(&b, 4096);
	assert_int_equal(path_escape(&b, in), 0);
	assert_int_equal(path_unescape(b.p, b.n, out), 255);
	assert_memory_equal(out, in, 256);
	pt_buf_release(&b);
}

static void test_escape_too_big(void **state)
{
	char in[200];
	struct pt_buf b;

	(void)state;
	memset(in, ' ', sizeof(in) - 1);
	in[sizeof(in) - 1] = '\0';
	pt_buf_init(&b, 100);
	assert_int_equal(pt_buf_adds(&b, "/d/"), 0);
	/* fails after the first chunk was appended: all rolled back */
	assert_int_equal(path_escape(&b, in), PT_ETOOBIG);
	assert_int_equal(b.n, 3);
	assert_string_equal(b.p, "/d/");
	assert_int_equal(path_escape(&b, "ok"), 0);
	assert_string_equal(b.p, "/d/ok");
	pt_buf_release(&b);
}

int main(void)
{
	static const struct CMUnitTest fixed[] = {
		cmocka_unit_test(test_split_max_len),
		cmocka_unit_test(test_escape_round_trip),
		cmocka_unit_test(test_escape_too_big),
	};
	size_t nf = sizeof(fixed) / sizeof(fixed[0]);
	size_t ns = sizeof(split_rows) / sizeof(split_rows[0]);
	size_t nu = sizeof(unescape_rows) / sizeof(unescape_rows[0]);
	size_t ne = sizeof(escape_rows) / sizeof(escape_rows[0]);
	struct CMUnitTest *t = calloc(nf + ns + nu + ne, sizeof(*t));
	size_t k = 0;
	int rc;

	for (size_t i = 0; i < nf; i++)
		t[k++] = fixed[i];
	for (size_t i = 0; i < ns; i++)
		t[k++] = (struct CMUnitTest){
			.name = split_rows[i].name,
			.test_func = run_split,
			.initial_state = (void *)&split_rows[i],
		};
	for (size_t i = 0; i < nu; i++)
		t[k++] = (struct CMUnitTest){
			.name = unescape_rows[i].name,
			.test_func = run_unescape,
			.initial_state = (void *)&unescape_rows[i],
		};
	for (size_t i = 0; i < ne; i++)
		t[k++] = (struct CMUnitTest){
			.name = escape_rows[i].name,
			.test_func = run_escape,
			.initial_state = (void *)&escape_rows[i],
		};
	rc = _cmocka_run_group_tests("path", t, k, NULL, NULL);
	free(t);
	return rc;
}
