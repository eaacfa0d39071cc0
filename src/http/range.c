/*
 * range.c — parses the Range header once for every download path and
 * reduces it to a short, clamped, non-overlapping list of byte ranges.  The
 * whole header is checked before anything is answered, so a syntax error in
 * the last element still means "ignore the header" (200), never a partial
 * guess; only a header that is valid but asks for nothing that exists gives
 * 416.  Overlapping and nearly adjacent ranges are merged because every part
 * of a multipart/byteranges body costs a header of about 80 bytes, and
 * because "bytes=0-,0-,0-,..." must not multiply the bytes we send.
 */
#include "range.h"

#include <stdbool.h>
#include <string.h>

#include "../util/pt.h"
#include "../util/banned.h"

/*
 * RFC 9110 §14.1.1 and §14.2, with the list rule of §5.6.1:
 *
 *   Range          = ranges-specifier
 *   ranges-specifier = range-unit "=" range-set
 *   range-unit     = token                      ; case-insensitive
 *   range-set      = 1#range-spec               ; empty elements allowed
 *   range-spec     = int-range / suffix-range / other-range
 *   int-range      = first-pos "-" [ last-pos ] ; last < first: invalid
 *   suffix-range   = "-" suffix-length
 *   first-pos, last-pos, suffix-length = 1*DIGIT
 *
 *   bytes= 0-999 ,, 4500-5499, -1000
 *   ^unit ^OWS   ^empty element    ^suffix: the last 1000 bytes
 *
 * OWS is accepted after "=" and around commas (the checklist's example
 * "bytes= 0-999, 4500-5499, -1000"), never inside a range-spec.
 */

/* Ranges closer than this are served as one part: a part header costs
 * about as much as the gap it would skip. */
#define RANGE_GAP 80

static bool is_ows(char c)
{
	return c == ' ' || c == '\t';
}

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/* A number as written: its significant digits, and its value saturated
 * at UINT64_MAX. */
struct num {
	const char *d; /* first significant digit */
	size_t n;      /* significant digits (0 for zero) */
	uint64_t v;
};

/*
 * Read 1*DIGIT at *p, any length: the grammar has no bound, and a number
 * past 2^64 − 1 is still a number (RFC 9110 §14.1.1: a first-pos beyond
 * the length is unsatisfiable, 416; a last-pos or suffix beyond it is
 * clamped).  The value saturates at UINT64_MAX, which compares like the
 * true value against any length (< 2^64); the digits are kept for the one
 * comparison between two saturated numbers (last < first).  Leading zeros
 * are not significant: "000…01" is 1.  Nothing can overflow.
 */
static int parse_num(const char **p, struct num *out)
{
	const char *s = *p;
	uint64_t v = 0;

	if (!is_digit(*s))
		return PT_EBADREQ;
	while (*s == '0')
		s++;
	out->d = s;
	for (; is_digit(*s); s++) {
		unsigned dg = (unsigned)(*s - '0');
		v = v > (UINT64_MAX - dg) / 10 ? UINT64_MAX : v * 10 + dg;
	}
	out->n = (size_t)(s - out->d);
	out->v = v;
	*p = s;
	return 0;
}

/* a < b, exactly, whatever their size */
static bool num_less(const struct num *a, const struct num *b)
{
	if (a->n != b->n)
		return a->n < b->n;
	return memcmp(a->d, b->d, a->n) < 0;
}

/* Do a and b overlap or leave a gap of fewer than RANGE_GAP bytes? */
static bool ranges_near(struct range a, struct range b)
{
	if (a.first > b.first) {
		struct range t = a;
		a = b;
		b = t;
	}
	/* a starts first; written so that nothing can wrap around */
	return b.first <= a.last || b.first - a.last <= RANGE_GAP;
}

/*
 * Append r, then merge until no two ranges are near each other.  A merged
 * range takes the place of the earlier of the two, so parts still come in
 * request order minus the coalesced ones (R17).  At most RANGE_MAX
 * entries, so the quadratic loop is cheap.
 */
static void set_add(struct range_set *set, struct range r)
{
	bool merged;

	set->r[set->n++] = r;
	do {
		merged = false;
		for (size_t i = 0; i < set->n && !merged; i++) {
			for (size_t j = i + 1; j < set->n; j++) {
				struct range *a = &set->r[i], *b = &set->r[j];
				if (!ranges_near(*a, *b))
					continue;
				if (b->first < a->first)
					a->first = b->first;
				if (b->last > a->last)
					a->last = b->last;
				for (size_t k = j + 1; k < set->n; k++)
					set->r[k - 1] = set->r[k];
				set->n--;
				merged = true;
				break;
			}
		}
	} while (merged);
}

/* Case-insensitive match of the unit "bytes" followed by '='. */
static bool unit_is_bytes(const char **p)
{
	static const char unit[] = "bytes";
	const char *s = *p;

	for (size_t i = 0; i < sizeof(unit) - 1; i++, s++)
		if ((*s | 0x20) != unit[i])
			return false;
	if (*s != '=')
		return false;
	*p = s + 1;
	return true;
}

static enum range_result parse_set(const char *hdr, uint64_t length,
				   struct range_set *out)
{
	const char *p = hdr;
	size_t specs = 0;
	bool satisfiable_suffix = false;

	out->n = 0;
	if (!hdr)
		return RANGE_IGNORE;
	while (is_ows(*p))
		p++;
	if (!unit_is_bytes(&p))
		return RANGE_IGNORE; /* unknown unit or no "=": R11, R21 */

	for (;;) {
		uint64_t first, last;
		struct num nf, nl;
		bool suffix;

		/* OWS and empty list elements before the next range-spec */
		while (is_ows(*p) || *p == ',')
			p++;
		if (*p == '\0')
			break;

		if (++specs > RANGE_MAX)
			return RANGE_IGNORE; /* too many to be honest: R19 */
		suffix = *p == '-';
		if (suffix) {
			p++;
			if (parse_num(&p, &nl))
				return RANGE_IGNORE;
			first = 0;
			last = nl.v;
		} else {
			if (parse_num(&p, &nf) || *p++ != '-')
				return RANGE_IGNORE;
			first = nf.v;
			if (is_digit(*p)) {
				if (parse_num(&p, &nl))
					return RANGE_IGNORE;
				if (num_less(&nl, &nf))
					return RANGE_IGNORE; /* R12 */
				last = nl.v;
			} else {
				last = UINT64_MAX;
			}
		}
		/* the range-spec must end here: OWS, a comma or the end */
		if (*p != '\0' && *p != ',' && !is_ows(*p))
			return RANGE_IGNORE;
		while (is_ows(*p))
			p++;
		if (*p != '\0' && *p != ',')
			return RANGE_IGNORE;

		/*
		 * Satisfiability (R13, R14).  An int-range needs
		 * first < length; last is clamped.  A suffix needs a
		 * non-zero length; longer than the file means all of it.
		 */
		if (suffix) {
			if (last == 0)
				continue;
			if (length == 0) {
				/* satisfiable, but empty: no 206 can say it */
				satisfiable_suffix = true;
				continue;
			}
			first = last >= length ? 0 : length - last;
			last = length - 1;
		} else {
			if (first >= length)
				continue;
			if (last >= length)
				last = length - 1;
		}
		set_add(out, (struct range){ first, last });
	}

	if (specs == 0)
		return RANGE_IGNORE; /* "bytes=" or "bytes=,": 1#range-spec */
	/*
	 * A zero-length representation can only satisfy a non-zero suffix,
	 * and then the answer is the whole (empty) representation: a 200
	 * with no body, since "Content-Range: bytes 0--1/0" does not exist.
	 */
	if (satisfiable_suffix)
		return RANGE_IGNORE;
	return out->n ? RANGE_OK : RANGE_UNSATISFIABLE;
}

enum range_result range_parse(const char *hdr, uint64_t length,
			      struct range_set *out)
{
	enum range_result res = parse_set(hdr, length, out);

	/* a header found invalid late must not leave earlier ranges behind */
	if (res != RANGE_OK)
		out->n = 0;
	return res;
}
