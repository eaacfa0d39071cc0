/*
 * h1.c — the strict HTTP/1.1 request-head parser and chunked-body decoder
 * (the contract is in h1.h).  The head is read line by line: memchr finds
 * each LF, the line is checked once with a 256-entry class table, and the
 * state between calls is only "where the current line starts" and "how far
 * we searched", so a split anywhere gives the same verdict as one buffer.
 * The chunked decoder is a byte state machine for the framing and hands
 * out data as slices of the caller's buffer.
 */
#include <string.h>

#include "h1.h"
#include "../util/banned.h"

/* character classes (table below) */
#define C_TOKEN 1  /* tchar, RFC 9110 §5.6.2 */
#define C_VALUE 2  /* field-vchar / SP / HTAB: VCHAR, obs-text, SP, HTAB */
#define C_TARGET 4 /* request-target byte: VCHAR but '#', or obs-text */
#define C_HOST 8   /* reg-name: unreserved, sub-delims, '%' (RFC 3986) */
#define C_HEX 16   /* HEXDIG */

/* clang-format off */
static const unsigned char cls[256] = {
	/* generated: see the C_* definitions above */
	 0,  0,  0,  0,  0,  0,  0,  0,  0,  2,  0,  0,  0,  0,  0,  0,
	 0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,
	 2, 15,  6,  3, 15, 15, 15, 15, 14, 14, 15, 15, 14, 15, 15,  6,
	31, 31, 31, 31, 31, 31, 31, 31, 31, 31,  6, 14,  6, 14,  6,  6,
	 6, 31, 31, 31, 31, 31, 31, 15, 15, 15, 15, 15, 15, 15, 15, 15,
	15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15,  6,  6,  6,  7, 15,
	 7, 31, 31, 31, 31, 31, 31, 15, 15, 15, 15, 15, 15, 15, 15, 15,
	15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15,  6,  7,  6, 15,  0,
	 6,  6,  6,  6,  6,  6,  6,  6,  6,  6,  6,  6,  6,  6,  6,  6,
	 6,  6,  6,  6,  6,  6,  6,  6,  6,  6,  6,  6,  6,  6,  6,  6,
	 6,  6,  6,  6,  6,  6,  6,  6,  6,  6,  6,  6,  6,  6,  6,  6,
	 6,  6,  6,  6,  6,  6,  6,  6,  6,  6,  6,  6,  6,  6,  6,  6,
	 6,  6,  6,  6,  6,  6,  6,  6,  6,  6,  6,  6,  6,  6,  6,  6,
	 6,  6,  6,  6,  6,  6,  6,  6,  6,  6,  6,  6,  6,  6,  6,  6,
	 6,  6,  6,  6,  6,  6,  6,  6,  6,  6,  6,  6,  6,  6,  6,  6,
	 6,  6,  6,  6,  6,  6,  6,  6,  6,  6,  6,  6,  6,  6,  6,  6,
};
/* clang-format on */

#define IS(c, k) (cls[(unsigned char)(c)] & (k))
#define OWS(c) ((c) == ' ' || (c) == '\t')

/* the largest Content-Length or chunk size: what fits an off_t */
#define H1_MAX_LENGTH UINT64_C(0x7fffffffffffffff)

enum { RS_LINE0, RS_FIELDS, RS_DONE, RS_ERROR };

/* flags of the fields seen */
#define F_HOST 1u
#define F_CL 2u
#define F_TE 4u
#define F_CLOSE 8u
#define F_KEEPALIVE 16u
#define F_EXPECT 32u

static struct h1_span span(size_t off, size_t len)
{
	return (struct h1_span){ (uint32_t)off, (uint32_t)len };
}

static int lower(int c)
{
	return c >= 'A' && c <= 'Z' ? c + ('a' - 'A') : c;
}

/* p[0 .. n) equals the lowercase literal lit, ASCII case-insensitively */
static bool ieq(const char *p, size_t n, const char *lit)
{
	size_t i;
	for (i = 0; i < n; i++)
		if (lit[i] == '\0' || lower((unsigned char)p[i]) != lit[i])
			return false;
	return lit[i] == '\0';
}

bool h1_span_eq(const char *buf, struct h1_span s, const char *lit)
{
	size_t n = strlen(lit);
	return s.len == n && memcmp(buf + s.off, lit, n) == 0;
}

const struct h1_header *h1_header_find(const struct h1_header *headers,
				       size_t n, const char *buf,
				       const char *name)
{
	size_t k = strlen(name);
	for (size_t i = 0; i < n; i++) {
		const char *p = buf + headers[i].name.off;
		size_t j;
		if (headers[i].name.len != k)
			continue;
		for (j = 0; j < k; j++)
			if (lower((unsigned char)p[j]) !=
			    lower((unsigned char)name[j]))
				break;
		if (j == k)
			return &headers[i];
	}
	return NULL;
}

/*
 * uri-host [ ":" port ] (RFC 9112 §3.2, RFC 3986 §3.2.2): an IP-literal in
 * brackets, or a reg-name (which covers IPv4) of unreserved, sub-delims
 * and percent signs; the port is digits.  Empty is valid (an empty Host).
 */
static bool host_valid(const char *p, size_t n)
{
	size_t i = 0;

	if (n == 0)
		return true;
	if (p[0] == '[') {
		for (i = 1; i < n && p[i] != ']'; i++)
			if (!IS(p[i], C_HOST) && p[i] != ':')
				return false;
		if (i == n || i == 1)
			return false;
		i++;
	} else {
		while (i < n && IS(p[i], C_HOST))
			i++;
		if (i == 0)
			return false;
	}
	if (i == n)
		return true;
	if (p[i] != ':')
		return false;
	for (i++; i < n; i++)
		if (p[i] < '0' || p[i] > '9')
			return false;
	return true;
}

/*
 * The length of the longest prefix of p[0 .. n) made of field-value bytes.
 * Eight bytes at a time while none is below 0x20 or DEL (the common case:
 * "has a byte less than" and "has a zero byte" tricks, exact as a yes/no
 * answer), then one by one from the first word that has one (HTAB is
 * allowed, so a word with a tab is finished by the table).
 */
static size_t value_span(const char *p, size_t n)
{
	const uint64_t ones = UINT64_C(0x0101010101010101);
	const uint64_t highs = UINT64_C(0x8080808080808080);
	size_t i = 0;

	for (; i + 8 <= n; i += 8) {
		uint64_t x, y;
		memcpy(&x, p + i, 8);
		y = x ^ (ones * 0x7f);
		if (((x - ones * 0x20) & ~x & highs) |
		    ((y - ones) & ~y & highs))
			break;
	}
	while (i < n && IS(p[i], C_VALUE))
		i++;
	return i;
}

/*
 * One field line, b[s .. end) without its CRLF, into *h.  Returns NULL or
 * the reason for a 400.
 */
static const char *field_parse(const char *b, size_t s, size_t end,
			       struct h1_header *h)
{
	size_t i = s, v, ve;

	if (OWS(b[s]))
		return "obs-fold or whitespace at the start of a header line";
	while (i < end && IS(b[i], C_TOKEN))
		i++;
	if (i == end)
		return "header line without ':'";
	if (b[i] != ':') {
		if (OWS(b[i]))
			return "whitespace before ':' in a header name";
		return "invalid character in a header name";
	}
	if (i == s)
		return "empty header name";
	h->name = span(s, i - s);
	for (v = i + 1; v < end && OWS(b[v]); v++)
		;
	ve = v + value_span(b + v, end - v);
	if (ve != end)
		return "invalid character in a header value";
	while (ve > v && OWS(b[ve - 1]))
		ve--;
	h->value = span(v, ve - v);
	return NULL;
}

static enum h1_result fail(struct h1_request *r, int status, const char *reason)
{
	r->state = RS_ERROR;
	r->status = status;
	r->reason = reason;
	return H1_ERROR;
}

/*
 * A list of 1*DIGIT separated by commas and OWS, all the same number
 * (RFC 9110 §8.6).  Returns NULL and *out, or the reason for a 400.
 */
static const char *length_parse(const char *p, size_t n, uint64_t *out)
{
	size_t i = 0;
	bool any = false;
	uint64_t first = 0;

	for (;;) {
		uint64_t x = 0;
		size_t d = i;
		while (i < n && p[i] >= '0' && p[i] <= '9') {
			unsigned k = (unsigned)(p[i] - '0');
			if (x > (H1_MAX_LENGTH - k) / 10)
				return "Content-Length too large";
			x = x * 10 + k;
			i++;
		}
		if (i == d)
			return "Content-Length is not a number";
		if (any && x != first)
			return "conflicting Content-Length values";
		first = x;
		any = true;
		while (i < n && OWS(p[i]))
			i++;
		if (i == n)
			break;
		if (p[i] != ',')
			return "Content-Length is not a number";
		i++;
		while (i < n && OWS(p[i]))
			i++;
	}
	*out = first;
	return NULL;
}

/*
 * Transfer-Encoding: #( token *( OWS ";" OWS parameter ) ).  Counts the
 * codings into r; the verdict waits for the end of the head, since the
 * list may go on in another line.  Returns NULL or the reason for a 400.
 */
static const char *te_parse(struct h1_request *r, const char *p, size_t n)
{
	size_t i = 0;

	while (i < n) {
		size_t t = i;
		bool params = false;
		while (i < n && IS(p[i], C_TOKEN))
			i++;
		size_t tl = i - t;
		while (i < n && p[i] != ',') {
			if (p[i] == ';')
				params = true;
			else if (!params && !OWS(p[i]))
				return "bad Transfer-Encoding";
			i++;
		}
		if (tl == 0 && params)
			return "bad Transfer-Encoding";
		if (tl > 0) {
			r->te_codings++;
			if (ieq(p + t, tl, "chunked")) {
				if (params)
					return "chunked takes no parameters";
				r->te_chunked++;
				r->te_last_chunked = true;
			} else {
				r->te_unknown = true;
				r->te_last_chunked = false;
			}
		}
		if (i < n)
			i++; /* ',' */
		while (i < n && OWS(p[i]))
			i++;
	}
	return NULL;
}

/* Connection: a list of tokens; only close and keep-alive matter. */
static void connection_parse(struct h1_request *r, const char *p, size_t n)
{
	size_t i = 0;

	while (i < n) {
		size_t t = i;
		while (i < n && p[i] != ',' && !OWS(p[i]))
			i++;
		if (ieq(p + t, i - t, "close"))
			r->flags |= F_CLOSE;
		else if (ieq(p + t, i - t, "keep-alive"))
			r->flags |= F_KEEPALIVE;
		while (i < n && (p[i] == ',' || OWS(p[i])))
			i++;
	}
}

/* The fields whose meaning is framing; the others are the caller's. */
static enum h1_result field_meaning(struct h1_request *r, const char *b,
				    const struct h1_header *h)
{
	const char *n = b + h->name.off, *v = b + h->value.off;
	size_t vl = h->value.len;
	const char *why;

	switch (h->name.len) {
	case 4:
		if (!ieq(n, 4, "host"))
			break;
		if (r->flags & F_HOST)
			return fail(r, 400, "more than one Host header");
		if (!host_valid(v, vl))
			return fail(r, 400, "invalid Host header");
		r->flags |= F_HOST;
		r->has_host = true;
		if (!r->absolute_form)
			r->host = h->value;
		break;
	case 6:
		if (ieq(n, 6, "expect") && ieq(v, vl, "100-continue"))
			r->flags |= F_EXPECT;
		break;
	case 10:
		if (ieq(n, 10, "connection"))
			connection_parse(r, v, vl);
		break;
	case 14: {
		uint64_t x;
		if (!ieq(n, 14, "content-length"))
			break;
		why = length_parse(v, vl, &x);
		if (!why && (r->flags & F_CL) && x != r->content_length)
			why = "conflicting Content-Length values";
		if (why)
			return fail(r, 400, why);
		r->flags |= F_CL;
		r->content_length = x;
		break;
	}
	case 17:
		if (!ieq(n, 17, "transfer-encoding"))
			break;
		r->flags |= F_TE;
		why = te_parse(r, v, vl);
		if (why)
			return fail(r, 400, why);
		break;
	}
	return H1_AGAIN;
}

/* request-target (RFC 9112 §3.2), b[s .. e) */
static enum h1_result target_parse(struct h1_request *r, const char *b,
				   size_t s, size_t e)
{
	size_t p, q;

	r->target = span(s, e - s);
	if (b[s] == '/') {
		p = s;
	} else if (e - s == 1 && b[s] == '*') {
		if (!h1_span_eq(b, r->method, "OPTIONS"))
			return fail(r, 400, "'*' target outside OPTIONS");
		r->asterisk_form = true;
		r->path = r->target;
		return H1_AGAIN;
	} else {
		size_t a;
		if (e - s > 7 && ieq(b + s, 7, "http://"))
			a = s + 7;
		else if (e - s > 8 && ieq(b + s, 8, "https://"))
			a = s + 8;
		else
			return fail(r, 400,
				    "authority-form or unknown "
				    "request-target");
		for (p = a; p < e && b[p] != '/' && b[p] != '?'; p++)
			;
		if (p == a || !host_valid(b + a, p - a))
			return fail(r, 400, "invalid authority in the target");
		r->absolute_form = true;
		r->has_host = true;
		r->host = span(a, p - a);
	}
	for (q = p; q < e && b[q] != '?'; q++)
		;
	r->path = span(p, q - p);
	if (q < e) {
		r->has_query = true;
		r->query = span(q + 1, e - q - 1);
	}
	return H1_AGAIN;
}

/* method SP request-target SP HTTP-version, b[s .. end) */
static enum h1_result request_line(struct h1_request *r, const char *b,
				   size_t s, size_t end)
{
	size_t i = s, t;

	while (i < end && IS(b[i], C_TOKEN))
		i++;
	if (i == end)
		return fail(r, 400, "incomplete request line");
	if (b[i] != ' ')
		return fail(r, 400, "invalid character in the method");
	if (i == s)
		return fail(r, 400, "extra spaces in the request line");
	r->method = span(s, i - s);
	t = ++i;
	while (i < end && IS(b[i], C_TARGET))
		i++;
	if (i < end && b[i] != ' ')
		return fail(r, 400,
			    b[i] == '#' ? "fragment in the request-target"
					: "invalid character in the "
					  "request-target");
	if (i == t)
		return fail(r, 400,
			    i < end ? "extra spaces in the request line"
				    : "incomplete request line");
	if (i == end)
		return fail(r, 400, "incomplete request line");
	/* the version: exactly the 8 bytes to the end of the line */
	const char *v = b + i + 1;
	if (end - (i + 1) != 8 || memcmp(v, "HTTP/", 5) != 0 || v[6] != '.' ||
	    v[5] < '0' || v[5] > '9' || v[7] < '0' || v[7] > '9')
		return fail(r, 400,
			    memchr(v, ' ', end - (i + 1))
				    ? "extra spaces in the request line"
				    : "bad HTTP version");
	if (v[5] != '1')
		return fail(r, 505, "HTTP version not supported");
	r->version = v[7] == '0' ? 10 : 11;
	return target_parse(r, b, t, i);
}

/* the empty line: the checks that need every field */
static enum h1_result head_end(struct h1_request *r, size_t head_len)
{
	r->head_len = head_len;
	if (r->version == 11 && !(r->flags & F_HOST))
		return fail(r, 400, "missing Host header");
	if (r->flags & F_TE) {
		if (r->version == 10)
			return fail(r, 400, "Transfer-Encoding in HTTP/1.0");
		if (r->flags & F_CL)
			return fail(r, 400,
				    "both Content-Length and "
				    "Transfer-Encoding");
		if (r->te_codings == 0)
			return fail(r, 400, "empty Transfer-Encoding");
		if (r->te_chunked > 1)
			return fail(r, 400, "chunked listed twice");
		if (!r->te_last_chunked)
			return fail(r, 400,
				    "chunked is not the final "
				    "transfer coding");
		if (r->te_unknown)
			return fail(r, 501, "unsupported transfer coding");
		r->body = H1_BODY_CHUNKED;
	} else if (r->flags & F_CL) {
		r->body = H1_BODY_FIXED;
	}
	if (r->version == 11)
		r->keep_alive = !(r->flags & F_CLOSE);
	else
		r->keep_alive = (r->flags & (F_CLOSE | F_KEEPALIVE)) ==
				F_KEEPALIVE;
	r->expect_continue = r->version == 11 && (r->flags & F_EXPECT);
	r->state = RS_DONE;
	return H1_DONE;
}

void h1_request_init(struct h1_request *r, struct h1_header *headers,
		     size_t max_headers, size_t max_head)
{
	memset(r, 0, sizeof(*r));
	r->headers = headers;
	r->max_headers = max_headers;
	r->max_head = max_head < H1_MAX_HEAD_LIMIT ? max_head
						   : H1_MAX_HEAD_LIMIT;
}

enum h1_result h1_request_parse(struct h1_request *r, const char *buf,
				size_t len)
{
	size_t lim = len < r->max_head ? len : r->max_head;
	enum h1_result rc;

	if (r->state == RS_DONE)
		return H1_DONE;
	if (r->state == RS_ERROR)
		return H1_ERROR;
	for (;;) {
		const char *lf = NULL;
		size_t s = r->line, e, end;

		if (r->scan < lim)
			lf = memchr(buf + r->scan, '\n', lim - r->scan);
		if (!lf) {
			r->scan = lim;
			if (len <= r->max_head)
				return H1_AGAIN;
			if (r->state == RS_LINE0)
				return fail(r, 414, "request line too long");
			return fail(r, 431, "request header too large");
		}
		e = (size_t)(lf - buf);
		r->line = r->scan = e + 1;
		if (e == s || buf[e - 1] != '\r')
			return fail(r, 400, "bare LF (lines end in CRLF)");
		end = e - 1;
		if (r->state == RS_LINE0) {
			if (end == s)
				continue; /* empty lines before the request */
			rc = request_line(r, buf, s, end);
			if (rc != H1_AGAIN)
				return rc;
			r->state = RS_FIELDS;
			continue;
		}
		if (end == s)
			return head_end(r, e + 1);
		if (r->nheaders == r->max_headers)
			return fail(r, 431, "too many header fields");
		struct h1_header *h = &r->headers[r->nheaders];
		const char *why = field_parse(buf, s, end, h);
		if (why)
			return fail(r, 400, why);
		r->nheaders++;
		rc = field_meaning(r, buf, h);
		if (rc != H1_AGAIN)
			return rc;
	}
}

/* ---- chunked bodies ---- */

enum {
	CS_SIZE0,   /* the first hex digit */
	CS_SIZE,    /* more digits, BWS, ';' or CR */
	CS_BWS,	    /* after the digits: more BWS or ';' */
	CS_EXT,	    /* inside chunk-ext, up to CR */
	CS_SIZE_LF, /* the LF of the size line */
	CS_DATA,
	CS_DATA_CR,
	CS_DATA_LF,
	CS_TRAILER,
	CS_DONE,
	CS_ERROR
};

void h1_chunked_init(struct h1_chunked *c, struct h1_header *trailers,
		     size_t max_trailers, size_t max_trailer, size_t max_line)
{
	memset(c, 0, sizeof(*c));
	c->trailers = trailers;
	c->max_trailers = trailers ? max_trailers : 0;
	c->max_trailer = max_trailer < H1_MAX_HEAD_LIMIT ? max_trailer
							 : H1_MAX_HEAD_LIMIT;
	c->max_line = max_line;
}

static enum h1_result cfail(struct h1_chunked *c, int status,
			    const char *reason)
{
	c->state = CS_ERROR;
	c->status = status;
	c->reason = reason;
	return H1_ERROR;
}

/*
 * The trailer section, from b[0]: whole lines only, so the fields can be
 * spans.  c->line and c->scan are offsets from b, which is the same byte
 * on every call (the caller passes the unconsumed bytes again).
 */
static enum h1_result trailer(struct h1_chunked *c, const char *b, size_t len,
			      size_t *used)
{
	size_t lim = len < c->max_trailer ? len : c->max_trailer;

	for (;;) {
		const char *lf = NULL;
		size_t s = c->line, e, end;

		if (c->scan < lim)
			lf = memchr(b + c->scan, '\n', lim - c->scan);
		if (!lf) {
			c->scan = lim;
			if (len > c->max_trailer)
				return cfail(c, 431,
					     "trailer section too "
					     "large");
			*used = 0;
			return H1_AGAIN;
		}
		e = (size_t)(lf - b);
		c->line = c->scan = e + 1;
		if (e == s || b[e - 1] != '\r')
			return cfail(c, 400, "bare LF (lines end in CRLF)");
		end = e - 1;
		if (end == s) {
			*used = e + 1;
			c->state = CS_DONE;
			return H1_DONE;
		}
		if (c->ntrailers == c->max_trailers)
			return cfail(c, 431, "too many trailer fields");
		struct h1_header *h = &c->trailers[c->ntrailers];
		const char *why = field_parse(b, s, end, h);
		if (why)
			return cfail(c, 400, why);
		const char *n = b + h->name.off;
		if ((h->name.len == 4 && ieq(n, 4, "host")) ||
		    (h->name.len == 14 && ieq(n, 14, "content-length")) ||
		    (h->name.len == 17 && ieq(n, 17, "transfer-encoding")))
			return cfail(c, 400, "framing field in a trailer");
		c->ntrailers++;
	}
}

enum h1_result h1_chunked_next(struct h1_chunked *c, const char *buf,
			       size_t len, size_t *used, struct h1_span *data)
{
	size_t i = 0;

	*used = 0;
	if (len > UINT32_MAX) /* spans are 32-bit; the rest comes next call */
		len = UINT32_MAX;
	if (c->state == CS_DONE)
		return H1_DONE;
	if (c->state == CS_ERROR)
		return H1_ERROR;
	while (i < len) {
		unsigned char ch = (unsigned char)buf[i];

		if (c->state == CS_DATA) {
			size_t n = len - i;
			if (n > c->left)
				n = (size_t)c->left;
			if (n > UINT32_MAX)
				n = UINT32_MAX;
			*data = span(i, n);
			c->left -= n;
			c->total += n;
			if (c->left == 0)
				c->state = CS_DATA_CR;
			*used = i + n;
			return H1_DATA;
		}
		if (c->state == CS_TRAILER) {
			enum h1_result rc = trailer(c, buf + i, len - i, used);
			*used += i;
			/* spans were relative to the trailer's start */
			for (size_t k = 0; rc == H1_DONE && k < c->ntrailers;
			     k++) {
				c->trailers[k].name.off += (uint32_t)i;
				c->trailers[k].value.off += (uint32_t)i;
			}
			return rc;
		}
		if (c->state <= CS_SIZE_LF && ++c->line > c->max_line)
			return cfail(c, 400, "chunk-size line too long");
		switch (c->state) {
		case CS_SIZE0:
		case CS_SIZE:
			if (IS(ch, C_HEX)) {
				unsigned d = ch <= '9' ? ch - '0'
						       : (ch | 0x20) - 'a' + 10;
				if (c->left > (H1_MAX_LENGTH - d) / 16)
					return cfail(c, 400,
						     "chunk size too large");
				c->left = c->left * 16 + d;
				c->state = CS_SIZE;
				break;
			}
			if (ch == '\n')
				return cfail(c, 400,
					     "bare LF in a chunk-size "
					     "line");
			if (c->state == CS_SIZE0)
				return cfail(c, 400, "bad chunk size");
			if (ch == '\r')
				c->state = CS_SIZE_LF;
			else if (ch == ';')
				c->state = CS_EXT;
			else if (OWS(ch))
				c->state = CS_BWS;
			else
				return cfail(c, 400, "bad chunk size");
			break;
		case CS_BWS:
			if (ch == ';')
				c->state = CS_EXT;
			else if (!OWS(ch))
				return cfail(c, 400, "bad chunk extension");
			break;
		case CS_EXT:
			if (ch == '\r')
				c->state = CS_SIZE_LF;
			else if (!IS(ch, C_VALUE))
				return cfail(c, 400, "bad chunk extension");
			break;
		case CS_SIZE_LF:
			if (ch != '\n')
				return cfail(c, 400,
					     "bare CR in a chunk-size "
					     "line");
			c->line = 0;
			c->state = c->left ? CS_DATA : CS_TRAILER;
			break;
		case CS_DATA_CR:
			if (ch != '\r')
				return cfail(c, 400,
					     "no CRLF after chunk "
					     "data");
			c->state = CS_DATA_LF;
			break;
		case CS_DATA_LF:
			if (ch != '\n')
				return cfail(c, 400,
					     "no CRLF after chunk "
					     "data");
			c->state = CS_SIZE0;
			break;
		}
		i++;
	}
	*used = len;
	return H1_AGAIN;
}
