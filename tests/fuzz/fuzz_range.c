/*
 * fuzz_range.c — libFuzzer target for range_parse.  The first 8 bytes
 * (little-endian, fewer if the input is short) give the representation
 * length, the rest is the header.  Checks the invariants every download
 * path relies on: ranges clamped inside the representation, at most
 * RANGE_MAX of them, none overlapping or closer than the coalescing gap,
 * nothing left in the set unless RANGE_OK, and that printing the set back
 * as a header and parsing it again gives the same set.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http/range.h"
#include "util/pt.h"
#include "util/banned.h"

/* must match RANGE_GAP in range.c: closer ranges are merged */
#define GAP 80

static void check_set(const struct range_set *s, uint64_t length)
{
	PT_ASSERT(s->n >= 1 && s->n <= RANGE_MAX);
	for (size_t i = 0; i < s->n; i++) {
		PT_ASSERT(s->r[i].first <= s->r[i].last);
		PT_ASSERT(s->r[i].last < length);
		for (size_t j = i + 1; j < s->n; j++) {
			const struct range *a = &s->r[i], *b = &s->r[j];
			if (a->first > b->first) {
				const struct range *t = a;
				a = b;
				b = t;
			}
			/* disjoint, and a gap of at least GAP bytes */
			PT_ASSERT(a->last < b->first);
			PT_ASSERT(b->first - a->last > GAP);
		}
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint64_t length = 0;
	size_t k = size < 8 ? size : 8;
	struct range_set set, again;
	char *hdr, back[RANGE_MAX * 48 + 8];
	size_t n;

	for (size_t i = 0; i < k; i++)
		length |= (uint64_t)data[i] << (8 * i);
	/* small lengths are where the interesting clamping happens */
	if (k == 8 && (data[7] & 0x80) == 0)
		length &= 0xffff;
	hdr = malloc(size - k + 1);
	memcpy(hdr, data + k, size - k);
	hdr[size - k] = '\0';

	enum range_result res = range_parse(hdr, length, &set);
	PT_ASSERT(res == RANGE_IGNORE || res == RANGE_OK ||
		  res == RANGE_UNSATISFIABLE);
	if (res != RANGE_OK) {
		PT_ASSERT(set.n == 0);
		free(hdr);
		return 0;
	}
	check_set(&set, length);

	/* the set, written as a header, parses to itself (unless it needs
	 * 20-digit numbers, which the parser refuses by design) */
	bool big = false;
	n = (size_t)snprintf(back, sizeof(back), "bytes=");
	for (size_t i = 0; i < set.n; i++) {
		big |= set.r[i].last >= UINT64_C(10000000000000000000);
		n += (size_t)snprintf(back + n, sizeof(back) - n, "%s%llu-%llu",
				      i ? "," : "",
				      (unsigned long long)set.r[i].first,
				      (unsigned long long)set.r[i].last);
	}
	if (!big) {
		PT_ASSERT(range_parse(back, length, &again) == RANGE_OK);
		PT_ASSERT(again.n == set.n);
		PT_ASSERT(memcmp(again.r, set.r, set.n * sizeof(set.r[0])) ==
			  0);
	}
	free(hdr);
	return 0;
}
