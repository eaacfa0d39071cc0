/*
 * cond.c — decides, before any byte of a download is sent, whether the
 * client's conditional headers turn the answer into 304, 412 or a full 200
 * instead of a 206.  It follows the fixed order of RFC 9110 §13.2.2 so that
 * a request carrying several conditions gets the same answer as from any
 * other conforming server.  Entity-tags are parsed strictly; a list that
 * does not parse matches nothing (If-Match then fails safe with 412,
 * If-None-Match lets the 200 through).  Dates that do not parse make their
 * header be ignored, as §13.1.3 and §13.1.4 require.
 */
#include "cond.h"

#include <string.h>

#include "../util/pt.h"
#include "../util/banned.h"

/*
 * RFC 9110 §8.8.3 and §13.1.1, §13.1.2:
 *
 *   If-Match      = "*" / #entity-tag
 *   If-None-Match = "*" / #entity-tag
 *   entity-tag    = [ weak ] opaque-tag
 *   weak          = %s"W/"                     ; case-sensitive
 *   opaque-tag    = DQUOTE *etagc DQUOTE
 *   etagc         = %x21 / %x23-7E / obs-text  ; no SP, no '"'
 *
 *   If-None-Match: W/"xyzzy", "r2d2xxxx" ,, "c3piozzzz"
 *                  ^weak      ^strong    ^empty elements are allowed
 */

struct etag {
	bool weak;
	const char *opaque; /* between the quotes */
	size_t n;
};

static bool is_ows(char c)
{
	return c == ' ' || c == '\t';
}

static bool is_etagc(unsigned char c)
{
	return c == 0x21 || (c >= 0x23 && c != 0x7f);
}

/* Parse one entity-tag at *p; on success *p is just after it. */
static bool etag_parse(const char **p, struct etag *t)
{
	const char *s = *p;

	t->weak = false;
	if (s[0] == 'W' && s[1] == '/') {
		t->weak = true;
		s += 2;
	}
	if (*s++ != '"')
		return false;
	t->opaque = s;
	while (is_etagc((unsigned char)*s))
		s++;
	if (*s != '"')
		return false;
	t->n = (size_t)(s - t->opaque);
	*p = s + 1;
	return true;
}

static bool etag_eq(const struct etag *a, const struct etag *b, bool weak)
{
	if (!weak && (a->weak || b->weak))
		return false;
	return a->n == b->n && memcmp(a->opaque, b->opaque, a->n) == 0;
}

static const char *skip_ows(const char *s)
{
	while (is_ows(*s))
		s++;
	return s;
}

bool cond_etag_list_match(const char *list, const char *etag, bool weak)
{
	struct etag mine, t;
	const char *p;
	bool have_mine, match = false;

	if (!list)
		return false;
	p = skip_ows(list);
	if (*p == '*') {
		/* "*" alone: any current representation, and we have one */
		return *skip_ows(p + 1) == '\0';
	}
	p = etag;
	have_mine = etag && etag_parse(&p, &mine) && *p == '\0';

	/* Walk the whole list even after a match: a list that does not
	 * parse to the end matches nothing. */
	p = list;
	for (;;) {
		while (is_ows(*p) || *p == ',')
			p++;
		if (*p == '\0')
			break;
		if (!etag_parse(&p, &t))
			return false;
		p = skip_ows(p);
		if (*p != '\0' && *p != ',')
			return false;
		if (have_mine && etag_eq(&mine, &t, weak))
			match = true;
	}
	return match;
}

/*
 * Parse an HTTP-date header value, tolerating OWS around it.  A value
 * with more than one member ("date1, date2") is simply not a date, so it
 * fails here and the caller ignores the header (§13.1.3).
 */
static bool date_parse(const char *v, int64_t *out)
{
	char tmp[64];
	const char *s = skip_ows(v), *e = s + strlen(s);

	while (e > s && is_ows(e[-1]))
		e--;
	if ((size_t)(e - s) >= sizeof(tmp))
		return false; /* the longest HTTP-date is 33 bytes */
	memcpy(tmp, s, (size_t)(e - s));
	tmp[e - s] = '\0';
	return pt_http_date_parse(tmp, out) == 0;
}

/*
 * If-Range (§13.1.5): true only for a strong match with our entity-tag,
 * or a date exactly equal to Last-Modified.  A weak tag, garbage, or a
 * list is false.  Our Last-Modified counts as a strong validator: a
 * stored file never changes after it is written, so it cannot have
 * changed twice within the second that the date names (§8.8.2.2).
 */
static bool if_range_true(const char *v, const char *etag,
			  int64_t last_modified)
{
	const char *p = skip_ows(v);
	struct etag theirs, mine;
	int64_t t;

	if (*p == '"' || (p[0] == 'W' && p[1] == '/')) {
		if (!etag_parse(&p, &theirs) || *skip_ows(p) != '\0')
			return false;
		p = etag;
		if (!etag || !etag_parse(&p, &mine) || *p != '\0')
			return false;
		return etag_eq(&theirs, &mine, false);
	}
	return date_parse(v, &t) && t == last_modified;
}

static bool method_is(const char *method, const char *name)
{
	return method && strcmp(method, name) == 0;
}

enum cond_result cond_evaluate(const struct cond_request *req,
			       const char *etag, int64_t last_modified,
			       bool has_range)
{
	/* methods are case-sensitive (§9.1); a missing one is a GET */
	const char *m = req->method ? req->method : "GET";
	bool get = method_is(m, "GET");
	bool get_head = get || method_is(m, "HEAD");
	int64_t t;

	/* 1. If-Match, strong comparison (§13.1.1) */
	if (req->if_match) {
		if (!cond_etag_list_match(req->if_match, etag, false))
			return COND_PRECONDITION;
	} else if (req->if_unmodified_since &&
		   date_parse(req->if_unmodified_since, &t)) {
		/* 2. If-Unmodified-Since, only without If-Match (§13.1.4) */
		if (last_modified > t)
			return COND_PRECONDITION;
	}

	/* 3. If-None-Match, weak comparison (§13.1.2) */
	if (req->if_none_match) {
		if (cond_etag_list_match(req->if_none_match, etag, true))
			return get_head ? COND_NOT_MODIFIED : COND_PRECONDITION;
	} else if (get_head && req->if_modified_since &&
		   date_parse(req->if_modified_since, &t)) {
		/* 4. If-Modified-Since, only without If-None-Match and only
		 * for GET/HEAD (§13.1.3) */
		if (last_modified <= t)
			return COND_NOT_MODIFIED;
	}

	/* 5. If-Range, only with a Range, which only GET has (§13.1.5,
	 * §14.2); a 304 or 412 above already took precedence (R23). */
	if (get && has_range && req->if_range &&
	    !if_range_true(req->if_range, etag, last_modified))
		return COND_IGNORE_RANGE;

	return COND_PROCEED;
}
