/*
 * test_h1.c — the strict HTTP/1.1 parser (http/h1.c).  A table of heads,
 * one cmocka test per row named after the case: every strict-framing case
 * of issue 13 with its status, and the accepted forms.  Each row is parsed
 * in one buffer, byte by byte, and split in two at every offset; all must
 * give the same verdict and the same fields.  Then the acceptance cases
 * (pipelining, long legal heads, absolute-form, fields and flags) and the
 * chunked decoder, also fed at every split.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "http/h1.h"
#include "util/banned.h"

#define MAXH 32
#define MAXHEAD 8192

#define HOST "Host: h\r\n"
#define GET11 "GET / HTTP/1.1\r\n"
#define POST11 "POST /u HTTP/1.1\r\n" HOST

struct row {
	const char *name;
	const char *req;    /* a NUL inside: use len */
	size_t len;	    /* 0: strlen(req) */
	int status;	    /* 0: H1_DONE */
	const char *reason; /* substring of the reason, or NULL */
};

#define L(s) s, sizeof(s) - 1

static const struct row rows[] = {
	/* the cases of issue 13 ("Strict framing") */
	{ "space before colon", POST11 "Content-Length : 35\r\n\r\n", 0, 400,
	  "whitespace before ':'" },
	{ "tab before colon", POST11 "Transfer-Encoding\t: chunked\r\n\r\n", 0,
	  400, "whitespace before ':'" },
	{ "obs-fold content-length", POST11 "Content-Length: 3\r\n 5\r\n\r\n",
	  0, 400, "obs-fold" },
	{ "obs-fold tab", GET11 HOST "X-A: b\r\n\tc\r\n\r\n", 0, 400,
	  "obs-fold" },
	{ "whitespace line after request line", GET11 " Host: h\r\n\r\n", 0,
	  400, "obs-fold" },
	{ "nul in content-length",
	  L(POST11 "Content-Length: 0\0"
		   "35\r\n\r\n"),
	  400, "invalid character in a header value" },
	{ "nul in value", L(GET11 HOST "X-A: a\0b\r\n\r\n"), 400,
	  "invalid character in a header value" },
	{ "bare cr in value", GET11 HOST "X-A: a\rb\r\n\r\n", 0, 400,
	  "invalid character in a header value" },
	{ "ctl in value",
	  GET11 HOST "X-A: a\x01"
		     "b\r\n\r\n",
	  0, 400, "invalid character in a header value" },
	{ "del in value", GET11 HOST "X-A: a\x7f\r\n\r\n", 0, 400,
	  "invalid character in a header value" },
	{ "nul in name", L(GET11 HOST "X-\0A: b\r\n\r\n"), 400,
	  "invalid character in a header name" },
	{ "bare cr in name", GET11 HOST "X\rA: b\r\n\r\n", 0, 400,
	  "invalid character in a header name" },
	{ "htab in value is allowed", GET11 HOST "X-A: a\tb\r\n\r\n", 0, 0,
	  NULL },
	{ "obs-text in value is allowed", GET11 HOST "X-A: caf\xc3\xa9\r\n\r\n",
	  0, 0, NULL },
	{ "empty header name", GET11 HOST ": x\r\nX-B: y\r\n\r\n", 0, 400,
	  "empty header name" },
	{ "invalid token in name", GET11 HOST "X@A: b\r\n\r\n", 0, 400,
	  "invalid character in a header name" },
	{ "quote in name", GET11 HOST "X\"A: b\r\n\r\n", 0, 400,
	  "invalid character in a header name" },
	{ "header line without colon", GET11 HOST "XA\r\n\r\n", 0, 400,
	  "without ':'" },
	{ "invalid token in method", "G(ET / HTTP/1.1\r\n" HOST "\r\n", 0, 400,
	  "method" },
	{ "nul in method", L("G\0T / HTTP/1.1\r\n" HOST "\r\n"), 400,
	  "method" },
	{ "content-length not digits", POST11 "Content-Length: 12a\r\n\r\n", 0,
	  400, "Content-Length is not a number" },
	{ "content-length empty", POST11 "Content-Length:\r\n\r\n", 0, 400,
	  "Content-Length is not a number" },
	{ "content-length hex", POST11 "Content-Length: 0x10\r\n\r\n", 0, 400,
	  "Content-Length is not a number" },
	{ "content-length inner space", POST11 "Content-Length: 1 2\r\n\r\n", 0,
	  400, "Content-Length is not a number" },
	{ "content-length plus sign", POST11 "Content-Length: +5\r\n\r\n", 0,
	  400, "Content-Length is not a number" },
	{ "content-length minus sign", POST11 "Content-Length: -5\r\n\r\n", 0,
	  400, "Content-Length is not a number" },
	{ "content-length 2^64-1",
	  POST11 "Content-Length: 18446744073709551615\r\n\r\n", 0, 400,
	  "too large" },
	{ "content-length 2^63",
	  POST11 "Content-Length: 9223372036854775808\r\n\r\n", 0, 400,
	  "too large" },
	{ "content-length 2^63-1",
	  POST11 "Content-Length: 9223372036854775807\r\n\r\n", 0, 0, NULL },
	{ "content-length many digits",
	  POST11 "Content-Length: "
		 "99999999999999999999999999999999999\r\n\r\n",
	  0, 400, "too large" },
	{ "content-length twice different",
	  POST11 "Content-Length: 5\r\n"
		 "Content-Length: 6\r\n\r\n",
	  0, 400, "conflicting" },
	{ "content-length list different",
	  POST11 "Content-Length: 5, 6\r\n\r\n", 0, 400, "conflicting" },
	{ "content-length twice same is merged",
	  POST11 "Content-Length: 5\r\n"
		 "content-length: 005\r\n\r\n",
	  0, 0, NULL },
	{ "content-length list same is merged",
	  POST11 "Content-Length: 5 , 5\r\n\r\n", 0, 0, NULL },
	{ "content-length empty list element",
	  POST11 "Content-Length: 5,,5\r\n\r\n", 0, 400, "not a number" },
	{ "transfer-encoding and content-length",
	  POST11 "Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n", 0,
	  400, "both Content-Length and Transfer-Encoding" },
	{ "transfer-encoding identity",
	  POST11 "Transfer-Encoding: identity\r\n\r\n", 0, 400, "final" },
	{ "transfer-encoding chunked, identity",
	  POST11 "Transfer-Encoding: chunked, identity\r\n\r\n", 0, 400,
	  "final" },
	{ "transfer-encoding gzip alone",
	  POST11 "Transfer-Encoding: gzip\r\n\r\n", 0, 400, "final" },
	{ "transfer-encoding gzip, chunked",
	  POST11 "Transfer-Encoding: gzip, chunked\r\n\r\n", 0, 501,
	  "unsupported transfer coding" },
	{ "transfer-encoding two lines gzip then chunked",
	  POST11
	  "Transfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n\r\n",
	  0, 501, "unsupported" },
	{ "transfer-encoding two lines chunked then identity",
	  POST11
	  "Transfer-Encoding: chunked\r\nTransfer-Encoding: identity\r\n\r\n",
	  0, 400, "final" },
	{ "transfer-encoding chunked twice",
	  POST11 "Transfer-Encoding: chunked, chunked\r\n\r\n", 0, 400,
	  "twice" },
	{ "transfer-encoding chunked on two lines",
	  POST11
	  "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n",
	  0, 400, "twice" },
	{ "transfer-encoding empty", POST11 "Transfer-Encoding:\r\n\r\n", 0,
	  400, "empty Transfer-Encoding" },
	{ "transfer-encoding garbage",
	  POST11 "Transfer-Encoding: chunked x\r\n\r\n", 0, 400,
	  "bad Transfer-Encoding" },
	{ "transfer-encoding chunked with parameter",
	  POST11 "Transfer-Encoding: chunked;a=b\r\n\r\n", 0, 400,
	  "parameters" },
	{ "transfer-encoding chunked any case",
	  POST11 "transfer-encoding: ChUnKeD\r\n\r\n", 0, 0, NULL },
	{ "transfer-encoding in http/1.0",
	  "POST /u HTTP/1.0\r\n"
	  "Transfer-Encoding: chunked\r\n\r\n",
	  0, 400, "HTTP/1.0" },
	{ "missing host in http/1.1", GET11 "X-A: b\r\n\r\n", 0, 400,
	  "missing Host" },
	{ "no host in http/1.0 is fine", "GET / HTTP/1.0\r\n\r\n", 0, 0, NULL },
	{ "two hosts", GET11 HOST HOST "\r\n", 0, 400, "more than one Host" },
	{ "two hosts in http/1.0", "GET / HTTP/1.0\r\n" HOST HOST "\r\n", 0,
	  400, "more than one Host" },
	{ "host with space", GET11 "Host: a b\r\n\r\n", 0, 400,
	  "invalid Host" },
	{ "host with slash", GET11 "Host: a/b\r\n\r\n", 0, 400,
	  "invalid Host" },
	{ "host with userinfo", GET11 "Host: u@h\r\n\r\n", 0, 400,
	  "invalid Host" },
	{ "host with bad port", GET11 "Host: h:8o\r\n\r\n", 0, 400,
	  "invalid Host" },
	{ "host unclosed ipv6", GET11 "Host: [::1\r\n\r\n", 0, 400,
	  "invalid Host" },
	{ "host only a port", GET11 "Host: :80\r\n\r\n", 0, 400,
	  "invalid Host" },
	{ "host ipv6 and port", GET11 "Host: [::1]:8080\r\n\r\n", 0, 0, NULL },
	{ "host ipv4 and port", GET11 "Host: 10.0.0.1:80\r\n\r\n", 0, 0, NULL },
	{ "host empty is allowed", GET11 "Host:\r\n\r\n", 0, 0, NULL },
	{ "origin-form for delete", "DELETE /x HTTP/1.1\r\n" HOST "\r\n", 0, 0,
	  NULL },
	{ "origin-form for options", "OPTIONS /x HTTP/1.1\r\n" HOST "\r\n", 0,
	  0, NULL },
	{ "origin-form for an extension method",
	  "PROPFIND /x HTTP/1.1\r\n" HOST "\r\n", 0, 0, NULL },
	{ "origin-form for connect", "CONNECT /x HTTP/1.1\r\n" HOST "\r\n", 0,
	  0, NULL },
	{ "origin-form with query", "GET /a/b?c=d&e HTTP/1.1\r\n" HOST "\r\n",
	  0, 0, NULL },
	{ "absolute-form",
	  "GET http://example.com:8080/a?b HTTP/1.1\r\n" HOST "\r\n", 0, 0,
	  NULL },
	{ "absolute-form https any case",
	  "GET HTTPS://example.com/ HTTP/1.1\r\n" HOST "\r\n", 0, 0, NULL },
	{ "absolute-form without path",
	  "OPTIONS http://example.com HTTP/1.1\r\n" HOST "\r\n", 0, 0, NULL },
	{ "absolute-form still needs host",
	  "GET http://example.com/ HTTP/1.1\r\n"
	  "\r\n",
	  0, 400, "missing Host" },
	{ "absolute-form other scheme",
	  "GET ftp://example.com/ HTTP/1.1\r\n" HOST "\r\n", 0, 400,
	  "request-target" },
	{ "absolute-form empty authority",
	  "GET http:///a HTTP/1.1\r\n" HOST "\r\n", 0, 400, "authority" },
	{ "absolute-form userinfo",
	  "GET http://u:p@h/a HTTP/1.1\r\n" HOST "\r\n", 0, 400, "authority" },
	{ "asterisk-form for options", "OPTIONS * HTTP/1.1\r\n" HOST "\r\n", 0,
	  0, NULL },
	{ "asterisk-form for get", "GET * HTTP/1.1\r\n" HOST "\r\n", 0, 400,
	  "'*'" },
	{ "authority-form connect", "CONNECT h:443 HTTP/1.1\r\n" HOST "\r\n", 0,
	  400, "authority-form" },
	{ "relative target", "GET a/b HTTP/1.1\r\n" HOST "\r\n", 0, 400,
	  "authority-form" },
	{ "fragment in target", "GET /a#b HTTP/1.1\r\n" HOST "\r\n", 0, 400,
	  "fragment" },
	{ "ctl in target", "GET /a\x01 HTTP/1.1\r\n" HOST "\r\n", 0, 400,
	  "request-target" },
	{ "obs-text in target is allowed",
	  "GET /caf\xc3\xa9 HTTP/1.1\r\n" HOST "\r\n", 0, 0, NULL },
	{ "request line two spaces after method",
	  "GET  / HTTP/1.1\r\n" HOST "\r\n", 0, 400, "extra spaces" },
	{ "request line two spaces before version",
	  "GET /  HTTP/1.1\r\n" HOST "\r\n", 0, 400, "extra spaces" },
	{ "request line trailing space", "GET / HTTP/1.1 \r\n" HOST "\r\n", 0,
	  400, "extra spaces" },
	{ "request line leading space", " GET / HTTP/1.1\r\n" HOST "\r\n", 0,
	  400, "extra spaces" },
	{ "request line space in target", "GET /a b HTTP/1.1\r\n" HOST "\r\n",
	  0, 400, "extra spaces" },
	{ "request line tab separator", "GET\t/ HTTP/1.1\r\n" HOST "\r\n", 0,
	  400, "method" },
	{ "request line without version", "GET /\r\n\r\n", 0, 400,
	  "incomplete" },
	{ "request line method only", "GET\r\n\r\n", 0, 400, "incomplete" },
	{ "request line bare lf", "GET / HTTP/1.1\n" HOST "\r\n", 0, 400,
	  "bare LF" },
	{ "header bare lf", GET11 "Host: h\n\r\n", 0, 400, "bare LF" },
	{ "final bare lf", GET11 HOST "\n", 0, 400, "bare LF" },
	{ "request line bare cr", "GET / HTTP/1.1\r" HOST "\r\n", 0, 400,
	  NULL },
	{ "leading empty lines are skipped", "\r\n\r\n" GET11 HOST "\r\n", 0, 0,
	  NULL },
	{ "leading bare lf", "\n" GET11 HOST "\r\n", 0, 400, "bare LF" },
	{ "version 2.0", "GET / HTTP/2.0\r\n" HOST "\r\n", 0, 505, NULL },
	{ "version 0.9", "GET / HTTP/0.9\r\n" HOST "\r\n", 0, 505, NULL },
	{ "version 1.10", "GET / HTTP/1.10\r\n" HOST "\r\n", 0, 400,
	  "version" },
	{ "version lowercase", "GET / http/1.1\r\n" HOST "\r\n", 0, 400,
	  "version" },
	{ "version without minor", "GET / HTTP/1\r\n" HOST "\r\n", 0, 400,
	  "version" },
	{ "version 1.2 read as 1.1", "GET / HTTP/1.2\r\n" HOST "\r\n", 0, 0,
	  NULL },
	{ "ows trimmed both sides", GET11 HOST "X-A: \t b c \t \r\n\r\n", 0, 0,
	  NULL },
	{ "empty value", GET11 HOST "X-A:\r\n\r\n", 0, 0, NULL },
};

/* ---- helpers ---- */

struct res {
	enum h1_result rc;
	struct h1_request r;
	struct h1_header h[MAXH];
};

/* one buffer */
static void parse_once(const char *s, size_t n, size_t maxhead, struct res *out)
{
	memset(out, 0, sizeof(*out));
	h1_request_init(&out->r, out->h, MAXH, maxhead);
	out->rc = h1_request_parse(&out->r, s, n);
}

/* fed as it arrives: first k bytes, then step by step */
static void parse_fed(const char *s, size_t n, size_t k, size_t step,
		      size_t maxhead, struct res *out)
{
	size_t len = k < n ? k : n;

	memset(out, 0, sizeof(*out));
	h1_request_init(&out->r, out->h, MAXH, maxhead);
	for (;;) {
		out->rc = h1_request_parse(&out->r, s, len);
		if (out->rc != H1_AGAIN || len == n)
			return;
		len = len + step < n ? len + step : n;
	}
}

static void assert_same(const struct res *a, const struct res *b)
{
	assert_int_equal(a->rc, b->rc);
	if (a->rc == H1_ERROR) {
		assert_int_equal(a->r.status, b->r.status);
		assert_string_equal(a->r.reason, b->r.reason);
		return;
	}
	if (a->rc != H1_DONE)
		return;
#define SAME(f) assert_int_equal(a->r.f, b->r.f)
#define SAME_SPAN(f)                                      \
	do {                                              \
		assert_int_equal(a->r.f.off, b->r.f.off); \
		assert_int_equal(a->r.f.len, b->r.f.len); \
	} while (0)
	SAME_SPAN(method);
	SAME_SPAN(target);
	SAME_SPAN(path);
	SAME_SPAN(query);
	SAME_SPAN(host);
	SAME(version);
	SAME(nheaders);
	SAME(head_len);
	SAME(body);
	SAME(content_length);
	SAME(keep_alive);
	SAME(expect_continue);
	SAME(has_query);
	SAME(has_host);
	SAME(absolute_form);
	SAME(asterisk_form);
	assert_memory_equal(a->h, b->h, a->r.nheaders * sizeof(a->h[0]));
}

/* the same verdict and fields in one buffer, byte by byte, every split */
static void parse_all_ways(const char *s, size_t n, size_t maxhead,
			   struct res *out)
{
	struct res *b = malloc(sizeof(*b));

	parse_once(s, n, maxhead, out);
	parse_fed(s, n, 1, 1, maxhead, b);
	assert_same(out, b);
	for (size_t k = 0; k <= n; k++) {
		parse_fed(s, n, k, n, maxhead, b);
		assert_same(out, b);
	}
	free(b);
}

static char *str(const char *buf, struct h1_span s)
{
	static char tmp[4][256];
	static int k;
	char *t = tmp[k++ % 4];
	snprintf(t, sizeof(tmp[0]), "%.*s", (int)s.len, buf + s.off);
	return t;
}

static void run_row(void **state)
{
	const struct row *w = *state;
	size_t n = w->len ? w->len : strlen(w->req);
	struct res *out = malloc(sizeof(*out));

	parse_all_ways(w->req, n, MAXHEAD, out);
	if (w->status == 0) {
		if (out->rc != H1_DONE)
			fail_msg("want H1_DONE, got %d: %d %s", out->rc,
				 out->r.status,
				 out->r.reason ? out->r.reason : "");
		assert_int_equal(out->r.head_len, n);
	} else {
		assert_int_equal(out->rc, H1_ERROR);
		assert_int_equal(out->r.status, w->status);
		assert_non_null(out->r.reason);
		if (w->reason && !strstr(out->r.reason, w->reason))
			fail_msg("reason '%s', want '%s'", out->r.reason,
				 w->reason);
	}
	free(out);
}

/* ---- acceptance cases ---- */

static void test_curl_get_fields(void **state)
{
	const char *s = "GET /f/abc?dl=1 HTTP/1.1\r\nHost: localhost:8080\r\n"
			"User-Agent: curl/7.88.1\r\nAccept: */*\r\n\r\n";
	struct res *o = malloc(sizeof(*o));

	parse_all_ways(s, strlen(s), MAXHEAD, o);
	assert_int_equal(o->rc, H1_DONE);
	assert_string_equal(str(s, o->r.method), "GET");
	assert_string_equal(str(s, o->r.target), "/f/abc?dl=1");
	assert_string_equal(str(s, o->r.path), "/f/abc");
	assert_string_equal(str(s, o->r.query), "dl=1");
	assert_true(o->r.has_query);
	assert_string_equal(str(s, o->r.host), "localhost:8080");
	assert_int_equal(o->r.version, 11);
	assert_int_equal(o->r.nheaders, 3);
	assert_string_equal(str(s, o->h[1].name), "User-Agent");
	assert_string_equal(str(s, o->h[1].value), "curl/7.88.1");
	assert_int_equal(o->r.body, H1_BODY_NONE);
	assert_true(o->r.keep_alive);
	assert_false(o->r.expect_continue);
	assert_false(o->r.absolute_form);
	free(o);
}

static void test_ows_trimmed(void **state)
{
	const char *s = GET11 HOST "X-A: \t b c \t \r\nX-E:\r\n\r\n";
	struct res *o = malloc(sizeof(*o));

	parse_once(s, strlen(s), MAXHEAD, o);
	assert_int_equal(o->rc, H1_DONE);
	assert_string_equal(str(s, o->h[1].value), "b c");
	assert_int_equal(o->h[2].value.len, 0);
	free(o);
}

static void test_header_find(void **state)
{
	const char *s = GET11 HOST "x-checksum: a\r\nX-CHECKSUM: b\r\n\r\n";
	struct res *o = malloc(sizeof(*o));

	parse_once(s, strlen(s), MAXHEAD, o);
	assert_int_equal(o->rc, H1_DONE);
	const struct h1_header *h = h1_header_find(o->h, o->r.nheaders, s,
						   "X-Checksum");
	assert_non_null(h);
	assert_string_equal(str(s, h->value), "a");
	assert_null(h1_header_find(o->h, o->r.nheaders, s, "X-Check"));
	assert_null(h1_header_find(o->h, o->r.nheaders, s, "X-Checksums"));
	assert_non_null(h1_header_find(o->h, o->r.nheaders, s, "host"));
	free(o);
}

static void test_pipelined(void **state)
{
	const char
		*s = "GET /a HTTP/1.1\r\nHost: h\r\n\r\n"
		     "PUT /b HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\n"
		     "xyz"
		     "GET /c HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n";
	size_t n = strlen(s), off = 0;
	struct res *o = malloc(sizeof(*o));

	parse_all_ways(s, n, MAXHEAD, o);
	assert_int_equal(o->rc, H1_DONE);
	assert_int_equal(o->r.head_len, 28);
	assert_string_equal(str(s, o->r.path), "/a");
	off = o->r.head_len;
	parse_all_ways(s + off, n - off, MAXHEAD, o);
	assert_int_equal(o->rc, H1_DONE);
	assert_string_equal(str(s + off, o->r.method), "PUT");
	assert_int_equal(o->r.body, H1_BODY_FIXED);
	assert_int_equal(o->r.content_length, 3);
	off += o->r.head_len;
	assert_memory_equal(s + off, "xyz", 3);
	off += 3;
	parse_all_ways(s + off, n - off, MAXHEAD, o);
	assert_int_equal(o->rc, H1_DONE);
	assert_string_equal(str(s + off, o->r.path), "/c");
	assert_false(o->r.keep_alive);
	assert_int_equal(off + o->r.head_len, n);
	free(o);
}

static void test_every_split_browser(void **state)
{
	const char
		*s = "GET /f/Zx81kQ2?x=1 HTTP/1.1\r\n"
		     "Host: files.example.org\r\n"
		     "User-Agent: Mozilla/5.0 (X11; Linux x86_64; rv:120.0) "
		     "Gecko/20100101 Firefox/120.0\r\n"
		     "Accept: text/html,application/xhtml+xml,application/xml;"
		     "q=0.9,image/avif,image/webp,*/*;q=0.8\r\n"
		     "Accept-Language: fr,fr-FR;q=0.8,en-US;q=0.5,en;q=0.3\r\n"
		     "Accept-Encoding: gzip, deflate, br\r\n"
		     "Connection: keep-alive\r\n"
		     "Cookie: partage_session=abcdefabcdefabcdefabcdef\r\n"
		     "Upgrade-Insecure-Requests: 1\r\n"
		     "Sec-Fetch-Dest: document\r\n"
		     "Sec-Fetch-Mode: navigate\r\n"
		     "Sec-Fetch-Site: none\r\n"
		     "Sec-Fetch-User: ?1\r\n\r\n";
	struct res *o = malloc(sizeof(*o));

	parse_all_ways(s, strlen(s), MAXHEAD, o);
	assert_int_equal(o->rc, H1_DONE);
	assert_int_equal(o->r.nheaders, 12);
	assert_string_equal(str(s, o->h[11].name), "Sec-Fetch-User");
	assert_string_equal(str(s, o->h[11].value), "?1");
	free(o);
}

static void test_long_legal_headers(void **state)
{
	/* a 6000-byte cookie and 31 more fields fit 8 KiB and 32 fields */
	char *s = malloc(MAXHEAD + 1);
	size_t n = 0;
	struct res *o = malloc(sizeof(*o));

	n += (size_t)snprintf(s + n, MAXHEAD - n, GET11 HOST "Cookie: ");
	memset(s + n, 'c', 6000);
	n += 6000;
	n += (size_t)snprintf(s + n, MAXHEAD - n, "\r\n");
	for (int i = 0; i < MAXH - 2; i++)
		n += (size_t)snprintf(s + n, MAXHEAD - n, "X-%d: v\r\n", i);
	n += (size_t)snprintf(s + n, MAXHEAD - n, "\r\n");
	parse_all_ways(s, n, MAXHEAD, o);
	assert_int_equal(o->rc, H1_DONE);
	assert_int_equal(o->r.nheaders, MAXH);
	assert_int_equal(o->h[1].value.len, 6000);
	/* exactly max_head bytes is legal, one less is not */
	parse_once(s, n, n, o);
	assert_int_equal(o->rc, H1_DONE);
	parse_once(s, n, n - 1, o);
	assert_int_equal(o->rc, H1_ERROR);
	assert_int_equal(o->r.status, 431);
	free(o);
	free(s);
}

static void test_too_many_headers_431(void **state)
{
	char s[2048];
	size_t n = (size_t)snprintf(s, sizeof(s), GET11 HOST);
	struct res *o = malloc(sizeof(*o));

	for (int i = 0; i < MAXH; i++)
		n += (size_t)snprintf(s + n, sizeof(s) - n, "X-%d: v\r\n", i);
	n += (size_t)snprintf(s + n, sizeof(s) - n, "\r\n");
	parse_all_ways(s, n, MAXHEAD, o);
	assert_int_equal(o->rc, H1_ERROR);
	assert_int_equal(o->r.status, 431);
	assert_non_null(strstr(o->r.reason, "too many"));
	free(o);
}

static void test_large_head_431(void **state)
{
	char *s = malloc(MAXHEAD * 2);
	size_t n = (size_t)snprintf(s, MAXHEAD, GET11 HOST "X-A: ");
	struct res *o = malloc(sizeof(*o));

	memset(s + n, 'a', MAXHEAD);
	n += MAXHEAD;
	memcpy(s + n, "\r\n\r\n", 4);
	n += 4;
	parse_all_ways(s, n, MAXHEAD, o);
	assert_int_equal(o->rc, H1_ERROR);
	assert_int_equal(o->r.status, 431);
	/* and without the end: decided as soon as max_head is passed */
	parse_fed(s, MAXHEAD + 1, 1, 1, MAXHEAD, o);
	assert_int_equal(o->rc, H1_ERROR);
	assert_int_equal(o->r.status, 431);
	parse_fed(s, MAXHEAD, 1, 1, MAXHEAD, o);
	assert_int_equal(o->rc, H1_AGAIN);
	free(o);
	free(s);
}

static void test_long_target_414(void **state)
{
	char *s = malloc(MAXHEAD * 2);
	size_t n = (size_t)snprintf(s, MAXHEAD, "GET /");
	struct res *o = malloc(sizeof(*o));

	memset(s + n, 'a', MAXHEAD);
	n += MAXHEAD;
	n += (size_t)snprintf(s + n, MAXHEAD, " HTTP/1.1\r\n" HOST "\r\n");
	parse_all_ways(s, n, MAXHEAD, o);
	assert_int_equal(o->rc, H1_ERROR);
	assert_int_equal(o->r.status, 414);
	free(o);
	free(s);
}

static void test_absolute_form_host(void **state)
{
	const char *s = "GET http://Example.COM:8080?q HTTP/1.1\r\n"
			"Host: other\r\n\r\n";
	struct res *o = malloc(sizeof(*o));

	parse_all_ways(s, strlen(s), MAXHEAD, o);
	assert_int_equal(o->rc, H1_DONE);
	assert_true(o->r.absolute_form);
	assert_string_equal(str(s, o->r.host), "Example.COM:8080");
	assert_int_equal(o->r.path.len, 0); /* means "/" */
	assert_string_equal(str(s, o->r.query), "q");
	free(o);
}

static void test_asterisk_form(void **state)
{
	const char *s = "OPTIONS * HTTP/1.1\r\nHost: h\r\n\r\n";
	struct res *o = malloc(sizeof(*o));

	parse_once(s, strlen(s), MAXHEAD, o);
	assert_int_equal(o->rc, H1_DONE);
	assert_true(o->r.asterisk_form);
	assert_string_equal(str(s, o->r.path), "*");
	free(o);
}

static void test_keep_alive(void **state)
{
	static const struct {
		const char *req;
		int ka;
	} t[] = {
		{ "GET / HTTP/1.1\r\nHost: h\r\n\r\n", 1 },
		{ "GET / HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n", 0 },
		{ "GET / HTTP/1.1\r\nHost: h\r\nConnection: Upgrade, CLOSE\r\n\r\n",
		  0 },
		{ "GET / HTTP/1.0\r\n\r\n", 0 },
		{ "GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n", 1 },
		{ "GET / HTTP/1.0\r\nConnection: keep-alive, close\r\n\r\n",
		  0 },
	};
	struct res *o = malloc(sizeof(*o));

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		parse_once(t[i].req, strlen(t[i].req), MAXHEAD, o);
		assert_int_equal(o->rc, H1_DONE);
		if (o->r.keep_alive != (t[i].ka != 0))
			fail_msg("keep-alive of %s", t[i].req);
	}
	free(o);
}

static void test_expect_and_body(void **state)
{
	const char *a = "PUT /u HTTP/1.1\r\nHost: h\r\nExpect: 100-Continue\r\n"
			"Content-Length: 0\r\n\r\n";
	const char *b = "PUT /u HTTP/1.0\r\nExpect: 100-continue\r\n"
			"Content-Length: 10\r\n\r\n";
	const char *c = "PUT /u HTTP/1.1\r\nHost: h\r\n"
			"Transfer-Encoding: chunked\r\n\r\n";
	struct res *o = malloc(sizeof(*o));

	parse_once(a, strlen(a), MAXHEAD, o);
	assert_int_equal(o->rc, H1_DONE);
	assert_true(o->r.expect_continue);
	assert_int_equal(o->r.body, H1_BODY_FIXED);
	assert_int_equal(o->r.content_length, 0);
	parse_once(b, strlen(b), MAXHEAD, o);
	assert_int_equal(o->rc, H1_DONE);
	assert_false(o->r.expect_continue); /* ignored in HTTP/1.0 */
	assert_int_equal(o->r.content_length, 10);
	parse_once(c, strlen(c), MAXHEAD, o);
	assert_int_equal(o->rc, H1_DONE);
	assert_int_equal(o->r.body, H1_BODY_CHUNKED);
	free(o);
}

static void test_result_is_sticky(void **state)
{
	const char *s = "GET / HTTP/1.1\r\nHost: h\r\n\r\nGET /x";
	struct res *o = malloc(sizeof(*o));

	parse_once(s, strlen(s), MAXHEAD, o);
	assert_int_equal(o->rc, H1_DONE);
	assert_int_equal(h1_request_parse(&o->r, s, strlen(s)), H1_DONE);
	assert_int_equal(o->r.head_len, 27);
	free(o);
}

/* ---- chunked ---- */

struct cres {
	enum h1_result rc;
	struct h1_chunked c;
	struct h1_header t[8];
	char data[4096];
	size_t ndata;
	size_t end;  /* offset of the end of the body in the input */
	size_t base; /* trailer spans are relative to input + base */
};

/* feed s: k bytes first, then step at a time; unconsumed bytes again */
static void chunked_fed(const char *s, size_t n, size_t k, size_t step,
			size_t max_line, struct cres *o)
{
	size_t pos = 0, fed = k < n ? k : n;

	memset(o, 0, sizeof(*o));
	h1_chunked_init(&o->c, o->t, 8, 256, max_line);
	for (;;) {
		size_t used;
		struct h1_span d;
		o->rc = h1_chunked_next(&o->c, s + pos, fed - pos, &used, &d);
		if (o->rc == H1_DATA) {
			assert_true(o->ndata + d.len <= sizeof(o->data));
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
		if (o->rc == H1_ERROR)
			return;
		pos += used;
		if (fed == n)
			return;
		fed = fed + step < n ? fed + step : n;
	}
}

static void chunked_all_ways(const char *s, size_t n, size_t max_line,
			     struct cres *o)
{
	struct cres *b = malloc(sizeof(*b));

	chunked_fed(s, n, n, n, max_line, o);
	for (size_t k = 0; k <= n + 1; k++) {
		if (k == n + 1)
			chunked_fed(s, n, 1, 1, max_line, b);
		else
			chunked_fed(s, n, k, n, max_line, b);
		assert_int_equal(o->rc, b->rc);
		assert_int_equal(o->ndata, b->ndata);
		assert_memory_equal(o->data, b->data, o->ndata);
		if (o->rc == H1_ERROR) {
			assert_int_equal(o->c.status, b->c.status);
			assert_string_equal(o->c.reason, b->c.reason);
		}
		if (o->rc == H1_DONE) {
			assert_int_equal(o->end, b->end);
			assert_int_equal(o->c.ntrailers, b->c.ntrailers);
			for (size_t i = 0; i < o->c.ntrailers; i++) {
				assert_int_equal(o->base + o->t[i].value.off,
						 b->base + b->t[i].value.off);
				assert_int_equal(o->t[i].value.len,
						 b->t[i].value.len);
			}
		}
	}
	free(b);
}

static void test_chunked_basic(void **state)
{
	const char *s = "5\r\nhello\r\n1;a=b;c=\"d e\"\r\n \r\n"
			"00A\r\n0123456789\r\n0\r\n\r\nGET /next";
	struct cres *o = malloc(sizeof(*o));

	chunked_all_ways(s, strlen(s), 64, o);
	assert_int_equal(o->rc, H1_DONE);
	assert_int_equal(o->ndata, 16);
	assert_memory_equal(o->data, "hello 0123456789", 16);
	assert_int_equal(o->c.total, 16);
	assert_string_equal(s + o->end, "GET /next");
	assert_int_equal(o->c.ntrailers, 0);
	free(o);
}

static void test_chunked_trailers(void **state)
{
	const char *s = "3\r\nabc\r\n0\r\nUpload-Checksum: sha1 "
			"qUqP5cyxm6YcTAhz05Hph5gvu9M=\r\nX-B:\t y \r\n\r\nNEXT";
	struct cres *o = malloc(sizeof(*o));

	chunked_all_ways(s, strlen(s), 64, o);
	assert_int_equal(o->rc, H1_DONE);
	assert_int_equal(o->c.ntrailers, 2);
	const struct h1_header *h = h1_header_find(o->t, o->c.ntrailers,
						   s + o->base,
						   "upload-checksum");
	assert_non_null(h);
	assert_string_equal(str(s + o->base, h->value),
			    "sha1 qUqP5cyxm6YcTAhz05Hph5gvu9M=");
	assert_string_equal(str(s + o->base, o->t[1].value), "y");
	assert_string_equal(s + o->end, "NEXT");
	free(o);
}

struct crow {
	const char *name, *body;
	int status;
	const char *reason;
};

static const struct crow crows[] = {
	{ "chunked bad size", "g\r\n", 400, "bad chunk size" },
	{ "chunked empty size", "\r\n", 400, "bad chunk size" },
	{ "chunked negative size", "-1\r\n", 400, "bad chunk size" },
	{ "chunked size then space", "5 \r\nhello\r\n0\r\n\r\n", 400,
	  "extension" },
	{ "chunked size then junk", "5x\r\nhello\r\n0\r\n\r\n", 400,
	  "bad chunk size" },
	{ "chunked size overflow", "8000000000000000\r\n", 400, "too large" },
	{ "chunked size 2^64 overflow", "10000000000000000\r\n", 400,
	  "too large" },
	{ "chunked bare lf after size", "5\nhello\r\n", 400, "bare" },
	{ "chunked bare cr after size", "5\rhello\r\n", 400, "bare CR" },
	{ "chunked no crlf after data", "5\r\nhelloX\r\n", 400, "no CRLF" },
	{ "chunked lf only after data", "5\r\nhello\n0\r\n\r\n", 400,
	  "no CRLF" },
	{ "chunked data longer than size", "3\r\nhello\r\n0\r\n\r\n", 400,
	  "no CRLF" },
	{ "chunked ctl in extension", "5;a\x01\r\nhello\r\n", 400,
	  "extension" },
	{ "chunked nul in extension", "5;a\0b\r\n", 400, "extension" },
	{ "chunked size line too long",
	  "5;aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	  "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\nhello\r\n",
	  400, "too long" },
	{ "chunked zeros fill the line",
	  "000000000000000000000000000000000000"
	  "000000000000000000000000000000000000\r\n",
	  400, "too long" },
	{ "chunked trailer content-length", "0\r\nContent-Length: 5\r\n\r\n",
	  400, "framing field" },
	{ "chunked trailer transfer-encoding",
	  "0\r\nTransfer-Encoding: chunked\r\n\r\n", 400, "framing field" },
	{ "chunked trailer host", "0\r\nhost: x\r\n\r\n", 400, "framing" },
	{ "chunked trailer obs-fold", "0\r\nX-A: b\r\n c\r\n\r\n", 400,
	  "obs-fold" },
	{ "chunked trailer space before colon", "0\r\nX-A : b\r\n\r\n", 400,
	  "whitespace before ':'" },
	{ "chunked trailer bare lf", "0\r\nX-A: b\n\r\n", 400, "bare LF" },
	{ "chunked final bare lf", "0\r\n\n", 400, "bare LF" },
	{ "chunked trailer too large",
	  "0\r\nX-A: "
	  "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
	  "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
	  "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
	  "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
	  "\r\n\r\n",
	  431, "too large" },
	{ "chunked too many trailers",
	  "0\r\nA: 1\r\nB: 2\r\nC: 3\r\nD: 4\r\n"
	  "E: 5\r\nF: 6\r\nG: 7\r\nH: 8\r\nI: 9\r\n\r\n",
	  431, "too many" },
	{ "chunked size with bws and extension", "5 ;x\r\nhello\r\n0\r\n\r\n",
	  0, NULL },
	{ "chunked uppercase hex", "A\r\n0123456789\r\n0\r\n\r\n", 0, NULL },
	{ "chunked last chunk with extension", "0;end\r\n\r\n", 0, NULL },
};

static void run_crow(void **state)
{
	const struct crow *w = *state;
	size_t n = strlen(w->body);
	struct cres *o = malloc(sizeof(*o));

	if (strcmp(w->name, "chunked nul in extension") == 0)
		n = 7;
	chunked_all_ways(w->body, n, 64, o);
	if (w->status == 0) {
		if (o->rc != H1_DONE)
			fail_msg("want H1_DONE, got %d: %s", o->rc,
				 o->c.reason ? o->c.reason : "");
		assert_int_equal(o->end, n);
	} else {
		assert_int_equal(o->rc, H1_ERROR);
		assert_int_equal(o->c.status, w->status);
		if (!strstr(o->c.reason, w->reason))
			fail_msg("reason '%s', want '%s'", o->c.reason,
				 w->reason);
	}
	free(o);
}

static void test_chunked_no_trailer_array(void **state)
{
	struct h1_chunked c;
	size_t used;
	struct h1_span d;
	const char *s = "0\r\nX: y\r\n\r\n";

	h1_chunked_init(&c, NULL, 8, 256, 64);
	assert_int_equal(h1_chunked_next(&c, s, strlen(s), &used, &d),
			 H1_ERROR);
	assert_int_equal(c.status, 431);
	h1_chunked_init(&c, NULL, 0, 256, 64);
	assert_int_equal(h1_chunked_next(&c, "0\r\n\r\n", 5, &used, &d),
			 H1_DONE);
	assert_int_equal(used, 5);
}

static void test_chunked_big_chunk_slices(void **state)
{
	/* a chunk larger than what is buffered comes out in slices */
	struct h1_chunked c;
	size_t used;
	struct h1_span d;

	h1_chunked_init(&c, NULL, 0, 256, 64);
	assert_int_equal(h1_chunked_next(&c, "7fffffffffffffff\r\nab", 20,
					 &used, &d),
			 H1_DATA);
	assert_int_equal(d.off, 18);
	assert_int_equal(d.len, 2);
	assert_int_equal(used, 20);
	assert_int_equal(h1_chunked_next(&c, "cd", 2, &used, &d), H1_DATA);
	assert_int_equal(c.total, 4);
	assert_int_equal(c.left, INT64_MAX - 4);
}

int main(void)
{
	static const struct CMUnitTest fixed[] = {
		cmocka_unit_test(test_curl_get_fields),
		cmocka_unit_test(test_ows_trimmed),
		cmocka_unit_test(test_header_find),
		cmocka_unit_test(test_pipelined),
		cmocka_unit_test(test_every_split_browser),
		cmocka_unit_test(test_long_legal_headers),
		cmocka_unit_test(test_too_many_headers_431),
		cmocka_unit_test(test_large_head_431),
		cmocka_unit_test(test_long_target_414),
		cmocka_unit_test(test_absolute_form_host),
		cmocka_unit_test(test_asterisk_form),
		cmocka_unit_test(test_keep_alive),
		cmocka_unit_test(test_expect_and_body),
		cmocka_unit_test(test_result_is_sticky),
		cmocka_unit_test(test_chunked_basic),
		cmocka_unit_test(test_chunked_trailers),
		cmocka_unit_test(test_chunked_no_trailer_array),
		cmocka_unit_test(test_chunked_big_chunk_slices),
	};
	size_t nr = sizeof(rows) / sizeof(rows[0]);
	size_t nc = sizeof(crows) / sizeof(crows[0]);
	size_t nf = sizeof(fixed) / sizeof(fixed[0]);
	size_t n = nr + nc + nf, k = 0;
	struct CMUnitTest *t = calloc(n, sizeof(*t));
	int rc;

	for (size_t i = 0; i < nr; i++, k++) {
		t[k].name = rows[i].name;
		t[k].test_func = run_row;
		t[k].initial_state = (void *)&rows[i];
	}
	for (size_t i = 0; i < nc; i++, k++) {
		t[k].name = crows[i].name;
		t[k].test_func = run_crow;
		t[k].initial_state = (void *)&crows[i];
	}
	for (size_t i = 0; i < nf; i++, k++)
		t[k] = fixed[i];
	rc = _cmocka_run_group_tests("h1", t, n, NULL, NULL);
	free(t);
	return rc;
}
