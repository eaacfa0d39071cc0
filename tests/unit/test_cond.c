/*
 * test_cond.c — conditional requests against tables of edge cases:
 * entity-tag comparison (R2), each precondition alone (R3–R6, R22), the
 * evaluation order of RFC 9110 §13.2.2 (R7) and the precedence of 304/412
 * over If-Range (R23).  Each row is its own cmocka test.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

#include "http/cond.h"
#include "util/banned.h"

#define ETAG "\"abc\""
/* Last-Modified of every representation below */
#define LM_T INT64_C(784111777)
#define LM "Sun, 06 Nov 1994 08:49:37 GMT"
#define LM_850 "Sunday, 06-Nov-94 08:49:37 GMT"
#define LM_ASC "Sun Nov  6 08:49:37 1994"
#define BEFORE "Sun, 06 Nov 1994 08:49:36 GMT"
#define AFTER "Sun, 06 Nov 1994 08:49:38 GMT"

#define PROCEED COND_PROCEED
#define NORANGE COND_IGNORE_RANGE
#define N304 COND_NOT_MODIFIED
#define N412 COND_PRECONDITION

struct eval_row {
	const char *name;
	struct cond_request req; /* method, im, inm, ims, ius, if-range */
	bool has_range;
	enum cond_result want;
};

static const struct eval_row eval_rows[] = {
	{ "no conditionals", { "GET", 0, 0, 0, 0, 0 }, false, PROCEED },
	{ "no conditionals, range", { "GET", 0, 0, 0, 0, 0 }, true, PROCEED },

	/* If-None-Match: weak comparison, 304 or 412 (R3) */
	{ "inm match GET", { "GET", 0, ETAG, 0, 0, 0 }, false, N304 },
	{ "inm match HEAD", { "HEAD", 0, ETAG, 0, 0, 0 }, false, N304 },
	{ "inm match POST", { "POST", 0, ETAG, 0, 0, 0 }, false, N412 },
	{ "inm match PUT", { "PUT", 0, ETAG, 0, 0, 0 }, false, N412 },
	{ "inm match DELETE", { "DELETE", 0, ETAG, 0, 0, 0 }, false, N412 },
	{ "inm weak tag matches weakly", { "GET", 0, "W/" ETAG, 0, 0, 0 },
	  false, N304 },
	{ "inm other tag", { "GET", 0, "\"xyz\"", 0, 0, 0 }, false, PROCEED },
	{ "inm star GET", { "GET", 0, "*", 0, 0, 0 }, false, N304 },
	{ "inm star PUT", { "PUT", 0, "*", 0, 0, 0 }, false, N412 },
	{ "inm list", { "GET", 0, "\"x\", W/\"y\" ," ETAG, 0, 0, 0 }, false,
	  N304 },
	{ "inm unquoted garbage", { "GET", 0, "abc", 0, 0, 0 }, false,
	  PROCEED },
	{ "inm lowercase w/", { "GET", 0, "w/" ETAG, 0, 0, 0 }, false,
	  PROCEED },
	{ "inm is case-sensitive", { "GET", 0, "\"ABC\"", 0, 0, 0 }, false,
	  PROCEED },
	{ "inm empty value", { "GET", 0, "", 0, 0, 0 }, false, PROCEED },
	{ "lowercase method is not GET", { "get", 0, ETAG, 0, 0, 0 }, false,
	  N412 },
	{ "missing method is GET", { NULL, 0, ETAG, 0, 0, 0 }, false, N304 },

	/* If-Modified-Since (R4) */
	{ "ims equal", { "GET", 0, 0, LM, 0, 0 }, false, N304 },
	{ "ims later", { "GET", 0, 0, AFTER, 0, 0 }, false, N304 },
	{ "ims earlier", { "GET", 0, 0, BEFORE, 0, 0 }, false, PROCEED },
	{ "ims rfc 850 form", { "GET", 0, 0, LM_850, 0, 0 }, false, N304 },
	{ "ims asctime form", { "GET", 0, 0, LM_ASC, 0, 0 }, false, N304 },
	{ "ims with OWS", { "GET", 0, 0, "  " LM " ", 0, 0 }, false, N304 },
	{ "ims HEAD", { "HEAD", 0, 0, LM, 0, 0 }, false, N304 },
	{ "ims ignored on POST", { "POST", 0, 0, LM, 0, 0 }, false, PROCEED },
	{ "ims ignored on PUT", { "PUT", 0, 0, AFTER, 0, 0 }, false,
	  PROCEED },
	{ "ims invalid date", { "GET", 0, 0, "yesterday", 0, 0 }, false,
	  PROCEED },
	{ "ims two members", { "GET", 0, 0, LM ", " LM, 0, 0 }, false,
	  PROCEED },
	{ "ims empty", { "GET", 0, 0, "", 0, 0 }, false, PROCEED },
	{ "ims ignored with inm", { "GET", 0, "\"xyz\"", LM, 0, 0 }, false,
	  PROCEED },

	/* If-Match: strong comparison (R5) */
	{ "im match", { "GET", ETAG, 0, 0, 0, 0 }, false, PROCEED },
	{ "im match PUT", { "PUT", ETAG, 0, 0, 0, 0 }, false, PROCEED },
	{ "im weak tag never matches", { "PUT", "W/" ETAG, 0, 0, 0, 0 },
	  false, N412 },
	{ "im other tag", { "DELETE", "\"xyz\"", 0, 0, 0, 0 }, false, N412 },
	{ "im star", { "PUT", "*", 0, 0, 0, 0 }, false, PROCEED },
	{ "im list", { "PUT", "\"x\", " ETAG, 0, 0, 0, 0 }, false, PROCEED },
	{ "im garbage fails safe", { "PUT", "abc", 0, 0, 0, 0 }, false, N412 },
	{ "im star in a list", { "PUT", "*, " ETAG, 0, 0, 0, 0 }, false,
	  N412 },
	{ "im GET with range", { "GET", "\"xyz\"", 0, 0, 0, 0 }, true, N412 },

	/* If-Unmodified-Since (R6) */
	{ "ius earlier", { "PUT", 0, 0, 0, BEFORE, 0 }, false, N412 },
	{ "ius equal", { "PUT", 0, 0, 0, LM, 0 }, false, PROCEED },
	{ "ius later", { "PUT", 0, 0, 0, AFTER, 0 }, false, PROCEED },
	{ "ius on GET", { "GET", 0, 0, 0, BEFORE, 0 }, false, N412 },
	{ "ius invalid ignored", { "PUT", 0, 0, 0, "never", 0 }, false,
	  PROCEED },
	{ "ius ignored with im", { "PUT", ETAG, 0, 0, BEFORE, 0 }, false,
	  PROCEED },

	/* order of §13.2.2 (R7) */
	{ "im fails before inm", { "GET", "\"xyz\"", ETAG, 0, 0, 0 }, false,
	  N412 },
	{ "ius fails before inm", { "GET", 0, ETAG, 0, BEFORE, 0 }, false,
	  N412 },
	{ "im passes, inm matches", { "GET", ETAG, ETAG, 0, 0, 0 }, false,
	  N304 },
	{ "im passes, ims not modified", { "GET", ETAG, 0, LM, 0, 0 }, false,
	  N304 },
	{ "ius passes, ims not modified", { "GET", 0, 0, LM, AFTER, 0 },
	  false, N304 },
	{ "im fails before ims", { "GET", "\"xyz\"", 0, LM, 0, 0 }, false,
	  N412 },

	/* If-Range (R22, R25) */
	{ "ir strong match", { "GET", 0, 0, 0, 0, ETAG }, true, PROCEED },
	{ "ir other tag", { "GET", 0, 0, 0, 0, "\"xyz\"" }, true, NORANGE },
	{ "ir weak tag is false", { "GET", 0, 0, 0, 0, "W/" ETAG }, true,
	  NORANGE },
	{ "ir date equal", { "GET", 0, 0, 0, 0, LM }, true, PROCEED },
	{ "ir date rfc 850 equal", { "GET", 0, 0, 0, 0, LM_850 }, true,
	  PROCEED },
	{ "ir date later is false", { "GET", 0, 0, 0, 0, AFTER }, true,
	  NORANGE },
	{ "ir date earlier is false", { "GET", 0, 0, 0, 0, BEFORE }, true,
	  NORANGE },
	{ "ir garbage is false", { "GET", 0, 0, 0, 0, "abc" }, true,
	  NORANGE },
	{ "ir empty is false", { "GET", 0, 0, 0, 0, "" }, true, NORANGE },
	{ "ir list is false", { "GET", 0, 0, 0, 0, ETAG ", \"x\"" }, true,
	  NORANGE },
	{ "ir with OWS", { "GET", 0, 0, 0, 0, " " ETAG " " }, true, PROCEED },
	{ "ir unterminated tag", { "GET", 0, 0, 0, 0, "\"abc" }, true,
	  NORANGE },
	{ "ir without range ignored", { "GET", 0, 0, 0, 0, "\"xyz\"" }, false,
	  PROCEED },
	{ "ir on HEAD ignored", { "HEAD", 0, 0, 0, 0, "\"xyz\"" }, true,
	  PROCEED },

	/* 304 and 412 take precedence over If-Range (R23) */
	{ "304 before ir", { "GET", 0, ETAG, 0, 0, "\"xyz\"" }, true, N304 },
	{ "ims 304 before ir", { "GET", 0, 0, LM, 0, "\"xyz\"" }, true,
	  N304 },
	{ "412 before ir", { "GET", "\"xyz\"", 0, 0, 0, ETAG }, true, N412 },
	{ "all pass with range", { "GET", ETAG, "\"xyz\"", BEFORE, AFTER,
	  ETAG }, true, PROCEED },
};

#define SHA_TAG \
	"\"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855\""

struct match_row {
	const char *name;
	const char *list;
	const char *etag;
	bool weak;
	bool want;
};

static const struct match_row match_rows[] = {
	/* the table of RFC 9110 §8.8.3.2 (R2) */
	{ "W/1 W/1 strong", "W/\"1\"", "W/\"1\"", false, false },
	{ "W/1 W/1 weak", "W/\"1\"", "W/\"1\"", true, true },
	{ "W/1 W/2 strong", "W/\"1\"", "W/\"2\"", false, false },
	{ "W/1 W/2 weak", "W/\"1\"", "W/\"2\"", true, false },
	{ "W/1 1 strong", "W/\"1\"", "\"1\"", false, false },
	{ "W/1 1 weak", "W/\"1\"", "\"1\"", true, true },
	{ "1 1 strong", "\"1\"", "\"1\"", false, true },
	{ "1 1 weak", "\"1\"", "\"1\"", true, true },
	{ "1 W/1 weak", "\"1\"", "W/\"1\"", true, true },

	{ "empty opaque tags", "\"\"", "\"\"", false, true },
	{ "empty vs non-empty", "\"\"", "\"1\"", true, false },
	{ "list with empty elements", " , ,\"0\",,  \"1\" ,", "\"1\"", false,
	  true },
	{ "star", "*", "\"1\"", false, true },
	{ "star with OWS", "  *\t", "\"1\"", false, true },
	{ "star in list", "*, \"1\"", "\"1\"", false, false },
	{ "unterminated", "\"1", "\"1\"", true, false },
	{ "junk after tag", "\"1\"x", "\"1\"", true, false },
	{ "no comma", "\"1\" \"2\"", "\"1\"", true, false },
	{ "space inside", "\"a b\"", "\"a b\"", true, false },
	{ "DEL inside", "\"a\x7f\"", "\"a\x7f\"", true, false },
	{ "obs-text", "\"\xc3\xa9\"", "\"\xc3\xa9\"", false, true },
	{ "backslash is etagc", "\"a\\\"", "\"a\\\"", false, true },
	{ "match then garbage", "\"1\", bad", "\"1\"", true, false },
	{ "lowercase w", "w/\"1\"", "\"1\"", true, false },
	{ "prefix is no match", "\"12\"", "\"1\"", true, false },
	{ "NULL list", NULL, "\"1\"", true, false },
	{ "empty list", "", "\"1\"", true, false },
	{ "NULL etag", "\"1\"", NULL, true, false },
	{ "NULL etag, star", "*", NULL, true, true },
	{ "invalid own etag", "\"1\"", "1", true, false },
	{ "sha256 tag", SHA_TAG, SHA_TAG, false, true },
};

static void run_eval(void **state)
{
	const struct eval_row *r = *state;
	enum cond_result got = cond_evaluate(&r->req, ETAG, LM_T, r->has_range);

	assert_int_equal(got, r->want);
}

static void run_match(void **state)
{
	const struct match_row *r = *state;

	assert_int_equal(cond_etag_list_match(r->list, r->etag, r->weak),
			 r->want);
}

int main(void)
{
	size_t ne = sizeof(eval_rows) / sizeof(eval_rows[0]);
	size_t nm = sizeof(match_rows) / sizeof(match_rows[0]);
	struct CMUnitTest *t = calloc(ne + nm, sizeof(*t));
	int rc;

	for (size_t i = 0; i < ne; i++) {
		t[i].name = eval_rows[i].name;
		t[i].test_func = run_eval;
		t[i].initial_state = (void *)&eval_rows[i];
	}
	for (size_t i = 0; i < nm; i++) {
		t[ne + i].name = match_rows[i].name;
		t[ne + i].test_func = run_match;
		t[ne + i].initial_state = (void *)&match_rows[i];
	}
	rc = _cmocka_run_group_tests("cond", t, ne + nm, NULL, NULL);
	free(t);
	return rc;
}
