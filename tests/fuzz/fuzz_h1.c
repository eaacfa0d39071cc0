/*
 * fuzz_h1.c — libFuzzer target for the HTTP/1.1 parser (http/h1.c).  The
 * first byte picks max_head (64 bytes to 16 KiB), the second max_headers
 * (1 to 32), the rest is what a client sent.  The head is parsed in one
 * buffer, byte by byte, and split in two at a point taken from the input:
 * the three must give the same verdict, status, reason and fields.  A
 * parsed head is checked against an independent reading of h1.h (spans
 * inside the head, tokens, no CR/LF/NUL/outer OWS in values, one CRLF per
 * line, limits kept) and written again in canonical form, which must
 * parse to the same request.  The chunked decoder then runs over what
 * follows the head (or the whole input when there is no head) in one
 * buffer and byte by byte: same verdict, same data, same end, same
 * trailers; a decoded body encoded again with other chunk sizes decodes
 * to the same data and trailers.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http/h1.h"
#include "util/pt.h"
#include "util/banned.h"

#define MAXH 32

struct head {
	enum h1_result rc;
	struct h1_request r;
	struct h1_header h[MAXH];
};

static void head_fed(const char *s, size_t n, size_t first, size_t step,
		     size_t max_head, size_t max_headers, struct head *o)
{
	size_t len = first < n ? first : n;

	memset(o, 0, sizeof(*o));
	h1_request_init(&o->r, o->h, max_headers, max_head);
	for (;;) {
		o->rc = h1_request_parse(&o->r, s, len);
		if (o->rc != H1_AGAIN || len == n)
			return;
		len = len + step < n ? len + step : n;
	}
}

static bool span_eq(struct h1_span a, struct h1_span b)
{
	return a.off == b.off && a.len == b.len;
}

static void head_same(const struct head *a, const struct head *b)
{
	PT_ASSERT(a->rc == b->rc);
	if (a->rc == H1_ERROR) {
		PT_ASSERT(a->r.status == b->r.status);
		PT_ASSERT(strcmp(a->r.reason, b->r.reason) == 0);
	}
	if (a->rc != H1_DONE)
		return;
	PT_ASSERT(span_eq(a->r.method, b->r.method));
	PT_ASSERT(span_eq(a->r.target, b->r.target));
	PT_ASSERT(span_eq(a->r.path, b->r.path));
	PT_ASSERT(span_eq(a->r.query, b->r.query));
	PT_ASSERT(span_eq(a->r.host, b->r.host));
	PT_ASSERT(a->r.version == b->r.version);
	PT_ASSERT(a->r.nheaders == b->r.nheaders);
	PT_ASSERT(a->r.head_len == b->r.head_len);
	PT_ASSERT(a->r.body == b->r.body);
	PT_ASSERT(a->r.content_length == b->r.content_length);
	PT_ASSERT(a->r.keep_alive == b->r.keep_alive);
	PT_ASSERT(a->r.expect_continue == b->r.expect_continue);
	PT_ASSERT(a->r.has_query == b->r.has_query);
	PT_ASSERT(a->r.has_host == b->r.has_host);
	PT_ASSERT(a->r.absolute_form == b->r.absolute_form);
	PT_ASSERT(a->r.asterisk_form == b->r.asterisk_form);
	PT_ASSERT(memcmp(a->h, b->h, a->r.nheaders * sizeof(a->h[0])) == 0);
}

static bool tchar(unsigned char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
	       (c >= 'A' && c <= 'Z') || (c && strchr("!#$%&'*+-.^_`|~", c));
}

static void check_span(struct h1_span s, size_t end)
{
	PT_ASSERT((size_t)s.off + s.len <= end);
}

static void check_field(const char *b, const struct h1_header *h, size_t end)
{
	check_span(h->name, end);
	check_span(h->value, end);
	PT_ASSERT(h->name.len > 0);
	for (size_t i = 0; i < h->name.len; i++)
		PT_ASSERT(tchar((unsigned char)b[h->name.off + i]));
	PT_ASSERT(b[h->name.off + h->name.len] == ':');
	for (size_t i = 0; i < h->value.len; i++) {
		unsigned char c = (unsigned char)b[h->value.off + i];
		PT_ASSERT(c == '\t' || (c >= 0x20 && c != 0x7f));
	}
	if (h->value.len) {
		char f = b[h->value.off],
		     l = b[h->value.off + h->value.len - 1];
		PT_ASSERT(f != ' ' && f != '\t' && l != ' ' && l != '\t');
	}
}

static void check_head(const char *b, size_t n, const struct head *o,
		       size_t max_head, size_t max_headers)
{
	const struct h1_request *r = &o->r;
	size_t crlf = 0, lead = 0;

	if (o->rc == H1_AGAIN) {
		PT_ASSERT(n <= max_head);
		return;
	}
	if (o->rc == H1_ERROR) {
		PT_ASSERT(r->status == 400 || r->status == 414 ||
			  r->status == 431 || r->status == 501 ||
			  r->status == 505);
		PT_ASSERT(r->reason && r->reason[0]);
		return;
	}
	PT_ASSERT(r->head_len <= n && r->head_len <= max_head);
	PT_ASSERT(r->nheaders <= max_headers);
	PT_ASSERT(r->head_len >= 4 &&
		  memcmp(b + r->head_len - 4, "\r\n\r\n", 4) == 0);
	/* every LF in the head ends a CRLF; one per line */
	for (size_t i = 0; i < r->head_len; i++) {
		PT_ASSERT(b[i] != '\0');
		if (b[i] == '\n') {
			PT_ASSERT(i > 0 && b[i - 1] == '\r');
			crlf++;
		} else if (b[i] == '\r') {
			PT_ASSERT(i + 1 < r->head_len && b[i + 1] == '\n');
		}
	}
	while (lead + 2 <= r->head_len && b[lead] == '\r')
		lead += 2;
	PT_ASSERT(crlf == lead / 2 + 1 + r->nheaders + 1);
	PT_ASSERT(r->method.off == lead && r->method.len > 0);
	for (size_t i = 0; i < r->method.len; i++)
		PT_ASSERT(tchar((unsigned char)b[r->method.off + i]));
	check_span(r->target, r->head_len);
	check_span(r->path, r->head_len);
	check_span(r->query, r->head_len);
	check_span(r->host, r->head_len);
	PT_ASSERT(r->target.off == r->method.off + r->method.len + 1);
	PT_ASSERT(r->path.off >= r->target.off &&
		  r->path.off + r->path.len <= r->target.off + r->target.len);
	PT_ASSERT(r->version == 10 || r->version == 11);
	if (r->version == 11)
		PT_ASSERT(r->has_host);
	if (r->path.len)
		PT_ASSERT(b[r->path.off] == '/' || r->asterisk_form);
	else
		PT_ASSERT(r->absolute_form);
	if (r->asterisk_form)
		PT_ASSERT(r->method.len == 7 &&
			  memcmp(b + r->method.off, "OPTIONS", 7) == 0);
	PT_ASSERT(!r->expect_continue || r->version == 11);
	if (r->body == H1_BODY_FIXED)
		PT_ASSERT(r->content_length <= INT64_MAX);
	if (r->body == H1_BODY_CHUNKED)
		PT_ASSERT(r->version == 11 &&
			  !h1_header_find(o->h, r->nheaders, b,
					  "content-length"));
	for (size_t i = 0; i < r->nheaders; i++)
		check_field(b, &o->h[i], r->head_len);
	const struct h1_header *host = h1_header_find(o->h, r->nheaders, b,
						      "host");
	PT_ASSERT(r->has_host == (host || r->absolute_form));
	if (host && !r->absolute_form)
		PT_ASSERT(span_eq(r->host, host->value));
}

struct body {
	enum h1_result rc;
	struct h1_chunked c;
	struct h1_header t[4];
	char *data;
	size_t ndata, end, base;
};

static void body_fed(const char *s, size_t n, size_t first, size_t step,
		     struct body *o)
{
	size_t pos = 0, fed = first < n ? first : n;

	o->ndata = o->end = o->base = 0;
	h1_chunked_init(&o->c, o->t, 4, 512, 64);
	for (;;) {
		size_t used;
		struct h1_span d;
		o->rc = h1_chunked_next(&o->c, s + pos, fed - pos, &used, &d);
		PT_ASSERT(used <= fed - pos);
		if (o->rc == H1_DATA) {
			PT_ASSERT(d.len > 0 && d.off + d.len == used);
			memcpy(o->data + o->ndata, s + pos + d.off, d.len);
			o->ndata += d.len;
			pos += used;
			continue;
		}
		if (o->rc == H1_DONE) {
			o->base = pos;
			o->end = pos + used;
			return;
		}
		if (o->rc == H1_ERROR) {
			PT_ASSERT(o->c.status == 400 || o->c.status == 431);
			return;
		}
		pos += used;
		if (fed == n)
			return;
		fed = fed + step < n ? fed + step : n;
	}
}

static void body_same(const char *s, const struct body *a, const struct body *b)
{
	PT_ASSERT(a->rc == b->rc);
	PT_ASSERT(a->ndata == b->ndata);
	PT_ASSERT(memcmp(a->data, b->data, a->ndata) == 0);
	PT_ASSERT(a->c.total == a->ndata);
	if (a->rc == H1_ERROR) {
		PT_ASSERT(a->c.status == b->c.status);
		PT_ASSERT(strcmp(a->c.reason, b->c.reason) == 0);
	}
	if (a->rc != H1_DONE)
		return;
	PT_ASSERT(a->end == b->end);
	PT_ASSERT(a->c.ntrailers == b->c.ntrailers);
	for (size_t i = 0; i < a->c.ntrailers; i++) {
		PT_ASSERT(a->base + a->t[i].name.off ==
			  b->base + b->t[i].name.off);
		PT_ASSERT(a->base + a->t[i].value.off ==
			  b->base + b->t[i].value.off);
		PT_ASSERT(a->t[i].value.len == b->t[i].value.len);
		check_field(s + a->base, &a->t[i], a->end - a->base);
	}
}

/* span a of buffer p equals span b of buffer q, as bytes */
static bool text_eq(const char *p, struct h1_span a, const char *q,
		    struct h1_span b)
{
	return a.len == b.len && memcmp(p + a.off, q + b.off, a.len) == 0;
}

/*
 * A parsed head written again in canonical form ("name: value", no
 * leading empty lines, HTTP/1.0 or 1.1) parses to the same request.
 */
static void head_again(const char *s, const struct head *a)
{
	static struct head c;
	const struct h1_request *r = &a->r;
	size_t cap = 2 * r->head_len + 64, n = 0;
	char *t = malloc(cap);

#define PUT(p, len)                        \
	do {                               \
		memcpy(t + n, (p), (len)); \
		n += (len);                \
	} while (0)
	PUT(s + r->method.off, r->method.len);
	PUT(" ", 1);
	PUT(s + r->target.off, r->target.len);
	PUT(r->version == 11 ? " HTTP/1.1\r\n" : " HTTP/1.0\r\n", 11);
	for (size_t i = 0; i < r->nheaders; i++) {
		PUT(s + a->h[i].name.off, a->h[i].name.len);
		PUT(": ", 2);
		PUT(s + a->h[i].value.off, a->h[i].value.len);
		PUT("\r\n", 2);
	}
	PUT("\r\n", 2);
#undef PUT
	PT_ASSERT(n <= cap);
	head_fed(t, n, n, n, H1_MAX_HEAD_LIMIT, r->max_headers, &c);
	PT_ASSERT(c.rc == H1_DONE && c.r.head_len == n);
	PT_ASSERT(text_eq(s, r->method, t, c.r.method));
	PT_ASSERT(text_eq(s, r->target, t, c.r.target));
	PT_ASSERT(text_eq(s, r->path, t, c.r.path));
	PT_ASSERT(text_eq(s, r->query, t, c.r.query));
	PT_ASSERT(text_eq(s, r->host, t, c.r.host));
	PT_ASSERT(c.r.nheaders == r->nheaders);
	for (size_t i = 0; i < r->nheaders; i++) {
		PT_ASSERT(text_eq(s, a->h[i].name, t, c.h[i].name));
		PT_ASSERT(text_eq(s, a->h[i].value, t, c.h[i].value));
	}
	PT_ASSERT(c.r.version == r->version && c.r.body == r->body &&
		  c.r.content_length == r->content_length &&
		  c.r.keep_alive == r->keep_alive &&
		  c.r.expect_continue == r->expect_continue &&
		  c.r.has_host == r->has_host &&
		  c.r.has_query == r->has_query &&
		  c.r.absolute_form == r->absolute_form &&
		  c.r.asterisk_form == r->asterisk_form);
	free(t);
}

/*
 * A decoded body encoded again with other chunk sizes (1 to 256 bytes,
 * from seed) and its trailers decodes to the same data and trailers.
 */
static void body_again(const char *s, const struct body *x, unsigned seed)
{
	static struct body z;
	size_t cap = x->ndata * 8 + 64 + (x->end - x->base) * 2, n = 0;
	char *t = malloc(cap);
	size_t k = 0, step = 1 + seed % 256;

	while (k < x->ndata) {
		size_t m = x->ndata - k < step ? x->ndata - k : step;
		n += (size_t)snprintf(t + n, cap - n, "%zX\r\n", m);
		memcpy(t + n, x->data + k, m);
		n += m;
		memcpy(t + n, "\r\n", 2);
		n += 2;
		k += m;
		step = step % 256 + 1;
	}
	memcpy(t + n, "0\r\n", 3);
	n += 3;
	for (size_t i = 0; i < x->c.ntrailers; i++) {
		const struct h1_header *h = &x->t[i];
		memcpy(t + n, s + x->base + h->name.off, h->name.len);
		n += h->name.len;
		t[n++] = ':';
		memcpy(t + n, s + x->base + h->value.off, h->value.len);
		n += h->value.len;
		memcpy(t + n, "\r\n", 2);
		n += 2;
	}
	memcpy(t + n, "\r\n", 2);
	n += 2;
	PT_ASSERT(n <= cap);
	z.data = malloc(x->ndata + 1);
	body_fed(t, n, n, n, &z);
	/* the trailer lines only lost their OWS: still within max_trailer */
	PT_ASSERT(z.rc == H1_DONE && z.end == n);
	PT_ASSERT(z.ndata == x->ndata &&
		  memcmp(z.data, x->data, x->ndata) == 0);
	PT_ASSERT(z.c.ntrailers == x->c.ntrailers);
	for (size_t i = 0; i < x->c.ntrailers; i++) {
		struct h1_span xn = x->t[i].name, xv = x->t[i].value;
		xn.off += (uint32_t)x->base;
		xv.off += (uint32_t)x->base;
		PT_ASSERT(text_eq(s, xn, t + z.base, z.t[i].name));
		PT_ASSERT(text_eq(s, xv, t + z.base, z.t[i].value));
	}
	free(z.data);
	free(t);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct head a, b;
	static struct body x, y;
	size_t max_head, max_headers, n, off;
	const char *s;

	if (size < 2)
		return 0;
	max_head = 64 + (size_t)data[0] * 64;
	max_headers = 1 + data[1] % MAXH;
	s = (const char *)data + 2;
	n = size - 2;

	head_fed(s, n, n, n, max_head, max_headers, &a);
	check_head(s, n, &a, max_head, max_headers);
	head_fed(s, n, 1, 1, max_head, max_headers, &b);
	head_same(&a, &b);
	head_fed(s, n, n ? data[0] % n : 0, n, max_head, max_headers, &b);
	head_same(&a, &b);
	if (a.rc == H1_DONE)
		head_again(s, &a);

	off = a.rc == H1_DONE ? a.r.head_len : 0;
	x.data = malloc(n - off + 1);
	y.data = malloc(n - off + 1);
	body_fed(s + off, n - off, n - off, n - off, &x);
	body_fed(s + off, n - off, 1, 1, &y);
	body_same(s + off, &x, &y);
	PT_ASSERT(x.rc != H1_DONE || x.end <= n - off);
	if (x.rc == H1_DONE)
		body_again(s + off, &x, data[1]);
	free(x.data);
	free(y.data);
	return 0;
}
