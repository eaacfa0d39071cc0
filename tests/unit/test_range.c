/*
 * test_range.c — the Range parser against a table of edge cases: the
 * grammar of RFC 9110 §14.1.1, clamping and satisfiability (R12–R14, R20),
 * unknown units and garbage (R11, R21), coalescing and the RANGE_MAX cap
 * (R19), and numbers at the edge of 64 bits.  Each row is its own cmocka
 * test so a failure names the case.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "http/range.h"
#include "util/banned.h"

#define IGN RANGE_IGNORE
#define OK RANGE_OK
#define UNSAT RANGE_UNSATISFIABLE

#define R16 "bytes=0-0,200-200,400-400,600-600,800-800,1000-1000," \
	    "1200-1200,1400-1400,1600-1600,1800-1800,2000-2000,"    \
	    "2200-2200,2400-2400,2600-2600,2800-2800,3000-3000"
#define R16_OUT "0-0 200-200 400-400 600-600 800-800 1000-1000 "     \
		"1200-1200 1400-1400 1600-1600 1800-1800 2000-2000 " \
		"2200-2200 2400-2400 2600-2600 2800-2800 3000-3000"

struct row {
	const char *name;
	const char *hdr;
	uint64_t length;
	enum range_result want;
	const char *ranges; /* "first-last first-last", in order */
};

static const struct row rows[] = {
	/* basic forms (R12, R15) */
	{ "no header", NULL, 100, IGN, "" },
	{ "empty header", "", 100, IGN, "" },
	{ "first 500", "bytes=0-499", 10000, OK, "0-499" },
	{ "second 500", "bytes=500-999", 10000, OK, "500-999" },
	{ "suffix", "bytes=-500", 10000, OK, "9500-9999" },
	{ "open-ended", "bytes=9500-", 10000, OK, "9500-9999" },
	{ "first and last byte", "bytes=0-0,-1", 10000, OK, "0-0 9999-9999" },
	{ "rfc 9110 example", "bytes=21010-", 47022, OK, "21010-47021" },
	{ "checklist example with OWS", "bytes= 0-999, 4500-5499, -1000",
	  10000, OK, "0-999 4500-5499 9000-9999" },
	{ "tabs as OWS", "bytes=\t0-1\t,\t500-\t", 1000, OK, "0-1 500-999" },
	{ "OWS around the value", "  bytes=0-1  ", 100, OK, "0-1" },
	{ "empty list elements", "bytes=,0-1,,200-300,", 1000, OK,
	  "0-1 200-300" },
	{ "OWS-only elements", "bytes= , 0-1 ,", 100, OK, "0-1" },
	{ "unit is case-insensitive", "BYTES=0-1", 100, OK, "0-1" },
	{ "unit mixed case", "Bytes=0-1", 100, OK, "0-1" },
	{ "one-byte file", "bytes=0-0", 1, OK, "0-0" },

	/* unknown unit and garbage: ignore, never 416 (R11, R21) */
	{ "unknown unit", "items=0-5", 100, IGN, "" },
	{ "unit prefix only", "byte=0-5", 100, IGN, "" },
	{ "longer unit", "bytesx=0-5", 100, IGN, "" },
	{ "no equals sign", "bytes 0-5", 100, IGN, "" },
	{ "OWS before equals", "bytes =0-5", 100, IGN, "" },
	{ "double equals", "bytes==0-5", 100, IGN, "" },
	{ "no ranges", "bytes=", 100, IGN, "" },
	{ "only commas", "bytes=,,", 100, IGN, "" },
	{ "last before first (R12)", "bytes=5-3", 100, IGN, "" },
	{ "invalid anywhere invalidates", "bytes=0-1,5-3", 100, IGN, "" },
	{ "invalid after unsatisfiable", "bytes=500-600,x", 100, IGN, "" },
	{ "dash only", "bytes=-", 100, IGN, "" },
	{ "double dash", "bytes=--5", 100, IGN, "" },
	{ "plus sign", "bytes=+1-2", 100, IGN, "" },
	{ "negative last", "bytes=1--2", 100, IGN, "" },
	{ "three numbers", "bytes=1-2-3", 100, IGN, "" },
	{ "no dash", "bytes=5", 100, IGN, "" },
	{ "space inside spec", "bytes=0 -1", 100, IGN, "" },
	{ "space after dash", "bytes=0- 1", 100, IGN, "" },
	{ "two specs without comma", "bytes=0-1 2-3", 100, IGN, "" },
	{ "parameter", "bytes=0-1;q=1", 100, IGN, "" },
	{ "hex number", "bytes=0x10-20", 100, IGN, "" },
	{ "decimal point", "bytes=1.5-2", 100, IGN, "" },
	{ "control byte", "bytes=0-1,\x01", 100, IGN, "" },
	{ "semicolon separator", "bytes=0-1;2-3", 100, IGN, "" },

	/* numbers and overflow (R12) */
	{ "19 digits first", "bytes=9999999999999999999-", 100, UNSAT, "" },
	/* a number past 2^64 - 1 is still a number (issue 12, 10a) */
	{ "2^64-1 first", "bytes=18446744073709551615-", 100, UNSAT, "" },
	{ "2^64-1 first, closed", "bytes=18446744073709551615-"
	  "18446744073709551615", 100, UNSAT, "" },
	{ "2^64 first", "bytes=18446744073709551616-", 100, UNSAT, "" },
	{ "huge first", "bytes=99999999999999999999999-", 100, UNSAT, "" },
	{ "huge first, max length", "bytes=99999999999999999999999-",
	  UINT64_MAX, UNSAT, "" },
	{ "2^64-1 first, max length", "bytes=18446744073709551615-",
	  UINT64_MAX, UNSAT, "" },
	{ "huge first among good", "bytes=99999999999999999999-,0-1", 100,
	  OK, "0-1" },
	{ "2^64 last clamps", "bytes=0-18446744073709551616", 100, OK,
	  "0-99" },
	{ "2^64-1 last clamps", "bytes=5-18446744073709551615", 100, OK,
	  "5-99" },
	{ "huge last clamps", "bytes=5-999999999999999999999999999999", 100,
	  OK, "5-99" },
	{ "huge last, max length", "bytes=1-99999999999999999999999",
	  UINT64_MAX, OK, "1-18446744073709551614" },
	{ "2^64 suffix is whole file", "bytes=-18446744073709551616", 100,
	  OK, "0-99" },
	{ "2^64-1 suffix is whole file", "bytes=-18446744073709551615", 100,
	  OK, "0-99" },
	{ "huge suffix is whole file", "bytes=-9999999999999999999999999999",
	  100, OK, "0-99" },
	{ "huge suffix, empty file", "bytes=-99999999999999999999999", 0,
	  IGN, "" },
	{ "huge first, empty file", "bytes=99999999999999999999999-", 0,
	  UNSAT, "" },
	{ "both huge, last < first", "bytes=99999999999999999999999-"
	  "99999999999999999999998", 100, IGN, "" },
	{ "both huge, last = first", "bytes=99999999999999999999999-"
	  "99999999999999999999999", 100, UNSAT, "" },
	{ "both huge, last > first", "bytes=99999999999999999999998-"
	  "99999999999999999999999", 100, UNSAT, "" },
	{ "huge with leading zeros, last < first",
	  "bytes=0099999999999999999999999-99999999999999999999998", 100, IGN,
	  "" },
	{ "saturated last < huge first", "bytes=99999999999999999999999-"
	  "18446744073709551615", 100, IGN, "" },
	{ "2^64-1 last, 2^64 first", "bytes=18446744073709551616-"
	  "18446744073709551615", 100, IGN, "" },
	{ "leading zeros, last < first", "bytes=010-9", 100, IGN, "" },
	{ "leading zeros, 2^64-1", "bytes=00000018446744073709551615-", 100,
	  UNSAT, "" },
	{ "leading zeros", "bytes=0000000000000000000000001-02", 10, OK,
	  "1-2" },
	{ "many zeros", "bytes=0000000000000000000000000000-0", 10, OK,
	  "0-0" },
	{ "19-digit last clamps", "bytes=0-9999999999999999999", 10, OK,
	  "0-9" },
	{ "19-digit suffix is whole file", "bytes=-9999999999999999999", 10,
	  OK, "0-9" },
	{ "max length suffix", "bytes=-1", UINT64_MAX, OK,
	  "18446744073709551614-18446744073709551614" },
	{ "max length open-ended", "bytes=9999999999999999999-", UINT64_MAX,
	  OK, "9999999999999999999-18446744073709551614" },
	{ "max length and far gap", "bytes=0-0,-1", UINT64_MAX, OK,
	  "0-0 18446744073709551614-18446744073709551614" },

	/* clamping and satisfiability (R13, R14, R20) */
	{ "last past the end clamps", "bytes=0-1000", 100, OK, "0-99" },
	{ "suffix longer than file", "bytes=-20", 10, OK, "0-9" },
	{ "suffix equal to file", "bytes=-10", 10, OK, "0-9" },
	{ "zero suffix", "bytes=-0", 10, UNSAT, "" },
	{ "zero suffix, zeros", "bytes=-000", 10, UNSAT, "" },
	{ "beyond the end (R20)", "bytes=1000-1999", 800, UNSAT, "" },
	{ "first == length", "bytes=800-", 800, UNSAT, "" },
	{ "last byte", "bytes=799-", 800, OK, "799-799" },
	{ "unsatisfiable dropped", "bytes=1000-2000,0-9", 800, OK, "0-9" },
	{ "one-byte file, first 1", "bytes=1-1", 1, UNSAT, "" },

	/* empty representation (R14) */
	{ "empty: int-range", "bytes=0-", 0, UNSAT, "" },
	{ "empty: closed int-range", "bytes=0-0", 0, UNSAT, "" },
	{ "empty: non-zero suffix", "bytes=-1", 0, IGN, "" },
	{ "empty: zero suffix", "bytes=-0", 0, UNSAT, "" },
	{ "empty: mixed", "bytes=0-5,-5", 0, IGN, "" },
	{ "empty: unknown unit", "items=0-", 0, IGN, "" },
	{ "empty: invalid", "bytes=5-1", 0, IGN, "" },

	/* coalescing (R17, R19) */
	{ "overlap", "bytes=0-499,400-999", 10000, OK, "0-999" },
	{ "contained", "bytes=0-999,100-199", 10000, OK, "0-999" },
	{ "adjacent", "bytes=0-99,100-199", 10000, OK, "0-199" },
	{ "gap of 79", "bytes=0-99,179-199", 10000, OK, "0-199" },
	{ "gap of 80", "bytes=0-99,180-199", 10000, OK, "0-99 180-199" },
	{ "later range first", "bytes=100-199,0-99", 10000, OK, "0-199" },
	{ "bridge merges three", "bytes=500-599,0-99,100-499", 10000, OK,
	  "0-599" },
	{ "request order kept", "bytes=5000-5999,0-99", 10000, OK,
	  "5000-5999 0-99" },
	{ "merge keeps earlier slot", "bytes=5000-5999,0-99,6000-6099",
	  10000, OK, "5000-6099 0-99" },
	{ "repeated whole file", "bytes=0-,0-,0-,0-", 1000, OK, "0-999" },
	{ "suffix and open-ended", "bytes=-500,9000-", 10000, OK,
	  "9000-9999" },
	{ "clamped ranges merge", "bytes=90-200,95-300", 100, OK, "90-99" },

	/* the cap (R19) */
	{ "16 ranges", R16, 10000, OK, R16_OUT },
	{ "17 ranges", R16 ",3200-3200", 10000, IGN, "" },
	{ "17 overlapping ranges",
	  "bytes=0-,0-,0-,0-,0-,0-,0-,0-,0-,0-,0-,0-,0-,0-,0-,0-,0-", 10, IGN,
	  "" },
	{ "16 ranges and empty elements", R16 ",,, ,", 10000, OK, R16_OUT },
	{ "17 unsatisfiable ranges",
	  "bytes=50-,50-,50-,50-,50-,50-,50-,50-,50-,50-,50-,50-,50-,50-,"
	  "50-,50-,50-",
	  10, IGN, "" },
};

static void format_set(const struct range_set *s, char *buf, size_t sz)
{
	size_t n = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < s->n && n < sz; i++)
		n += (size_t)snprintf(buf + n, sz - n, "%s%llu-%llu",
				      i ? " " : "",
				      (unsigned long long)s->r[i].first,
				      (unsigned long long)s->r[i].last);
}

static void run_row(void **state)
{
	const struct row *r = *state;
	struct range_set set;
	char got[1024];

	memset(&set, 0xa5, sizeof(set));
	enum range_result res = range_parse(r->hdr, r->length, &set);
	format_set(&set, got, sizeof(got));
	if (res != r->want)
		fail_msg("'%s': result %d, want %d (ranges '%s')",
			 r->hdr ? r->hdr : "(null)", res, r->want, got);
	assert_string_equal(got, r->ranges);
	if (res == RANGE_OK)
		assert_true(set.n >= 1);
	else
		assert_int_equal(set.n, 0);
	assert_true(set.n <= RANGE_MAX);
	for (size_t i = 0; i < set.n; i++) {
		assert_true(set.r[i].first <= set.r[i].last);
		assert_true(set.r[i].last < r->length);
	}
}

int main(void)
{
	size_t n = sizeof(rows) / sizeof(rows[0]);
	struct CMUnitTest *t = calloc(n, sizeof(*t));
	int rc;

	for (size_t i = 0; i < n; i++) {
		t[i].name = rows[i].name;
		t[i].test_func = run_row;
		t[i].initial_state = (void *)&rows[i];
	}
	rc = _cmocka_run_group_tests("range", t, n, NULL, NULL);
	free(t);
	return rc;
}
