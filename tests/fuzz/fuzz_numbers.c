/*
 * fuzz_numbers.c — libFuzzer target for the numbers partage reads from
 * headers: pt_parse_u64 (Content-Length, Upload-Length, Upload-Offset,
 * Upload-Defer-Length, ticket fields, ranges, ?page=) and api_count_parse
 * (Max-Days, Max-Downloads and the form's fields).  The input is the
 * header value (cut at a NUL).  Checks against an independent reading of
 * the rules in their headers:
 *   pt_parse_u64: 1..19 ASCII digits and nothing else, value exact (no
 *     overflow: 19 digits fit), *out untouched on refusal;
 *   api_count_parse: the same after trimming spaces and tabs, value
 *     1..10^9;
 *   and every accepted value printed back (with leading zeros, padding)
 *   parses to itself.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "util/pt.h"
#include "util/banned.h"

static bool ref_u64(const char *s, size_t n, uint64_t *out)
{
	unsigned __int128 v = 0;
	if (n == 0 || n > 19)
		return false;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		v = v * 10 + (unsigned)(s[i] - '0');
	}
	PT_ASSERT(v <= UINT64_MAX);
	*out = (uint64_t)v;
	return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1);
	memcpy(s, data, size);
	s[size] = '\0';
	size_t n = strlen(s);
	uint64_t got = 12345, want = 0;
	char back[64];

	/* pt_parse_u64 */
	int rc = pt_parse_u64(s, n, &got);
	bool ok = ref_u64(s, n, &want);
	PT_ASSERT(rc == 0 || rc == PT_EBADREQ);
	PT_ASSERT((rc == 0) == ok);
	if (ok) {
		uint64_t again = 0;
		PT_ASSERT(got == want);
		snprintf(back, sizeof(back), "%llu", (unsigned long long)got);
		PT_ASSERT(pt_parse_u64(back, strlen(back), &again) == 0 &&
			  again == got);
	} else {
		PT_ASSERT(got == 12345);
	}

	/* api_count_parse: trim, then the same, then 1..10^9 */
	int64_t c = -3;
	const char *a = s, *b = s + n;
	while (a < b && (*a == ' ' || *a == '\t'))
		a++;
	while (b > a && (b[-1] == ' ' || b[-1] == '\t'))
		b--;
	ok = ref_u64(a, (size_t)(b - a), &want) && want >= 1 &&
	     want <= 1000000000;
	rc = api_count_parse(s, n, &c);
	PT_ASSERT(rc == 0 || rc == PT_EBADREQ);
	PT_ASSERT((rc == 0) == ok);
	if (ok) {
		int64_t again = -1;
		PT_ASSERT(c == (int64_t)want);
		snprintf(back, sizeof(back), " \t%010lld\t ", (long long)c);
		PT_ASSERT(api_count_parse(back, strlen(back), &again) == 0 &&
			  again == c);
	} else {
		PT_ASSERT(c == -3);
	}
	free(s);
	return 0;
}
