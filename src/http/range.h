/*
 * range.h — the one Range parser for every download path (RFC 9110 §14).
 *
 *   Range: bytes=0-499, 1000-, -500
 *          unit "=" range *( OWS "," OWS range )
 *          range = first "-" [ last ] / "-" suffix
 *
 * range_parse() turns a Range header and a representation length into a
 * sorted-as-requested list of satisfiable, clamped [first, last] ranges.
 * Overlapping or adjacent ranges (gap < 80 bytes, a part header's cost) are
 * coalesced; more than RANGE_MAX ranges in the header is answered with the
 * whole representation (RANGE_IGNORE) rather than a DoS-able multipart.
 * Numbers of any length are parsed without overflow: past 2^64 − 1 they
 * saturate, so a huge first-pos is unsatisfiable (416) and a huge last-pos
 * or suffix-length means "to the end" (R13), as RFC 9110 reads them.
 * On a zero-length representation only a non-zero suffix is satisfiable;
 * it yields RANGE_IGNORE (an empty 200), any other valid set 416.
 * Pure functions, no allocation, thread-safe.
 */
#ifndef PT_RANGE_H
#define PT_RANGE_H

#include <stddef.h>
#include <stdint.h>

#define RANGE_MAX 16

struct range {
	uint64_t first, last; /* inclusive, last < length */
};

struct range_set {
	size_t n;
	struct range r[RANGE_MAX];
};

enum range_result {
	RANGE_IGNORE = 0,   /* no/invalid/unknown-unit/too-many: send 200 */
	RANGE_OK,           /* out->n >= 1 satisfiable ranges: send 206 */
	RANGE_UNSATISFIABLE /* valid but none satisfiable: send 416 */
};

/* hdr may be NULL (no header).  length is the representation's size. */
enum range_result range_parse(const char *hdr, uint64_t length,
			      struct range_set *out);

#endif
