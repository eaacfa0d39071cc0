/*
 * test_reply.c — unit tests for src/http/reply.c: the response API
 * (bodies in memory, from a file, pulled from a callback; headers in
 * order and their size on the wire; resp_free releasing each kind of
 * body) and reply_queue's rules (the common headers, Retry-After on a
 * 503, Allow on a 405), with errors in the three formats picked by
 * Accept.
 *
 * A request reaches the engine only through r->ops (server.h): a fake
 * engine here hands reply.c a request of the test's own making and keeps
 * what it queues, as tests/unit/test_handler.c does for whole handlers.
 */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "http/reply.h"
#include "http/server.h"
#include "util/pool.h"
#include "util/pt.h"

struct fake {
	struct pt_req r;
	const char *accept; /* the Accept header; NULL: none */
	int status;
	struct resp *resp;
	unsigned queued;
};

static const char *fake_value(struct pt_req *r, enum req_kind kind,
			      const char *name)
{
	struct fake *f = r->conn;
	if (kind == REQ_HEADER && strcasecmp(name, "Accept") == 0)
		return f->accept;
	return NULL;
}

static req_res fake_queue(struct pt_req *r, int status, struct resp *resp)
{
	struct fake *f = r->conn;
	f->queued++;
	f->status = status;
	f->resp = resp;
	return REQ_OK;
}

static const struct req_ops fake_ops = {
	.value = fake_value,
	.queue = fake_queue,
};

static void fake_start(struct fake *f, const char *accept)
{
	memset(f, 0, sizeof(*f));
	f->r.ops = &fake_ops;
	f->r.conn = f;
	f->r.pool = pt_pool_new();
	f->r.method_name = "GET";
	f->r.raw_path = "/x";
	f->accept = accept;
}

static void fake_end(struct fake *f)
{
	resp_free(f->resp);
	pt_pool_free(f->r.pool);
}

/* The n-th header called name (0: the first), or NULL. */
static const char *hdr_nth(const struct resp *resp, const char *name, int n)
{
	for (const struct resp_hdr *h = resp->headers; h; h = h->next)
		if (strcasecmp(h->name, name) == 0 && n-- == 0)
			return h->value;
	return NULL;
}

static const char *hdr(const struct resp *resp, const char *name)
{
	return hdr_nth(resp, name, 0);
}

/* The header is there with this value (a macro: failures name the line). */
#define assert_header_nth(resp, name, n, want)           \
	do {                                             \
		const char *v_ = hdr_nth(resp, name, n); \
		assert_non_null(v_);                     \
		assert_string_equal(v_, want);           \
	} while (0)
#define assert_header(resp, name, want) assert_header_nth(resp, name, 0, want)

/* The memory body as a NUL-terminated string (tests' bodies are text). */
static const char *body(const struct resp *resp, char *buf, size_t max)
{
	assert_int_equal(resp->kind, RESP_MEM);
	assert_true(resp->n < max);
	memcpy(buf, resp->data ? resp->data : "", resp->n);
	buf[resp->n] = '\0';
	return buf;
}

static void test_resp_memory(void **state)
{
	static const char constant[] = "a constant";
	char local[] = "on the stack";

	/* static: the very bytes, not owned */
	struct resp *resp = resp_new(constant, 10, RESP_STATIC);
	assert_int_equal(resp->kind, RESP_MEM);
	assert_ptr_equal(resp->data, constant);
	assert_int_equal(resp->n, 10);
	assert_false(resp->owned);
	assert_null(resp->headers);
	assert_int_equal(resp_header_bytes(resp), 0);
	resp_free(resp);
	/* copied now: the caller's buffer may change or go */
	resp = resp_new(local, strlen(local), RESP_COPY);
	assert_ptr_not_equal(resp->data, local);
	assert_true(resp->owned);
	memset(local, 'x', strlen(local));
	assert_memory_equal(resp->data, "on the stack", 12);
	resp_free(resp);
	/* malloc'd: taken as is, freed with the response (ASan: no leak) */
	char *heap = strdup("from the heap");
	resp = resp_new(heap, strlen(heap), RESP_FREE);
	assert_ptr_equal(resp->data, heap);
	assert_true(resp->owned);
	resp_free(resp);
	/* empty bodies */
	resp = resp_new(NULL, 0, RESP_COPY);
	assert_int_equal(resp->n, 0);
	resp_free(resp);
	resp = resp_new(NULL, 0, RESP_STATIC);
	assert_null(resp->data);
	resp_free(resp);
	resp_free(NULL);
}

static void test_resp_file(void **state)
{
	char path[] = "/tmp/partage-reply-XXXXXX";
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	unlink(path);
	assert_int_equal(write(fd, "0123456789abcdef", 16), 16);
	struct resp *resp = resp_file(fd, 3, 10);
	assert_int_equal(resp->kind, RESP_FILE);
	assert_int_equal(resp->fd, fd);
	assert_int_equal(resp->off, 3);
	assert_int_equal(resp->len, 10);
	resp_header(resp, "Content-Type", "application/octet-stream");
	assert_true(fcntl(fd, F_GETFD) >= 0);
	/* the response owns the descriptor: freeing it closes it */
	resp_free(resp);
	errno = 0;
	assert_int_equal(fcntl(fd, F_GETFD), -1);
	assert_int_equal(errno, EBADF);
}

static int pulls, dones;
static void *done_cls;

static ssize_t pull(void *cls, uint64_t pos, char *buf, size_t max)
{
	pulls++;
	return RESP_PULL_END;
}

static void done(void *cls)
{
	dones++;
	done_cls = cls;
}

static void test_resp_stream(void **state)
{
	int token;
	struct resp *resp = resp_stream(12345, 4096, pull, &token, done);
	assert_int_equal(resp->kind, RESP_PULL);
	assert_true(resp->size == 12345);
	assert_int_equal(resp->block, 4096);
	assert_ptr_equal(resp->pull, pull);
	assert_ptr_equal(resp->cls, &token);
	resp_header(resp, "X-One", "1");
	/* freed unsent: done runs once with its cls; nothing is pulled */
	pulls = dones = 0;
	resp_free(resp);
	assert_int_equal(dones, 1);
	assert_ptr_equal(done_cls, &token);
	assert_int_equal(pulls, 0);
	/* unknown size, no done */
	resp = resp_stream(RESP_SIZE_UNKNOWN, 1, pull, NULL, NULL);
	assert_true(resp->size == RESP_SIZE_UNKNOWN);
	resp_free(resp);
	assert_int_equal(dones, 1);
}

static void test_resp_headers(void **state)
{
	struct resp *resp = resp_new("x", 1, RESP_STATIC);
	char name[16] = "X-Name", value[16] = "value";
	static const char *const want[][2] = {
		{ "Content-Type", "text/plain" },
		{ "X-Name", "value" },
		{ "Set-Cookie", "a=1" },
		{ "Set-Cookie", "b=2" },
		{ "X-Empty", "" },
	};
	uint64_t bytes = 0;

	resp_header(resp, want[0][0], want[0][1]);
	resp_header(resp, name, value);
	/* both strings are copied */
	memset(name, 'z', sizeof(name) - 1);
	memset(value, 'z', sizeof(value) - 1);
	for (size_t i = 2; i < PT_ARRAY_LEN(want); i++)
		resp_header(resp, want[i][0], want[i][1]);
	/* in the order added, duplicates kept */
	size_t i = 0;
	for (const struct resp_hdr *h = resp->headers; h; h = h->next, i++) {
		assert_true(i < PT_ARRAY_LEN(want));
		assert_string_equal(h->name, want[i][0]);
		assert_string_equal(h->value, want[i][1]);
		/* "Name: value" CRLF */
		bytes += strlen(want[i][0]) + 2 + strlen(want[i][1]) + 2;
	}
	assert_int_equal(i, PT_ARRAY_LEN(want));
	assert_int_equal(resp_header_bytes(resp), bytes);
	assert_int_equal(resp_header_bytes(resp), 26 + 15 + 17 + 17 + 11);
	assert_header_nth(resp, "set-cookie", 1, "b=2");
	resp_free(resp);
}

static void test_reply_queue(void **state)
{
	struct fake f;
	char buf[256];

	fake_start(&f, NULL);
	req_reply_header(&f.r, "Cache-Control", "no-store");
	assert_true(req_res_ok(reply_text(&f.r, 200, "hello\n")));
	assert_int_equal(f.queued, 1);
	assert_int_equal(f.status, 200);
	assert_int_equal(f.r.status, 200);
	assert_true(f.r.responded);
	assert_string_equal(body(f.resp, buf, sizeof(buf)), "hello\n");
	/* the body's headers, then the common ones, then the request's */
	assert_string_equal(f.resp->headers->name, "Content-Type");
	assert_header(f.resp, "Content-Type", "text/plain; charset=utf-8");
	assert_header(f.resp, "X-Content-Type-Options", "nosniff");
	assert_header(f.resp, "Server", "partage");
	assert_header(f.resp, "Cache-Control", "no-store");
	assert_null(hdr(f.resp, "Retry-After"));
	assert_null(hdr(f.resp, "Allow"));
	fake_end(&f);

	/* an empty reply; HTML with the page's headers */
	fake_start(&f, NULL);
	assert_true(req_res_ok(reply_empty(&f.r, 204)));
	assert_int_equal(f.status, 204);
	assert_int_equal(f.resp->n, 0);
	fake_end(&f);
	fake_start(&f, NULL);
	reply_html(&f.r, 200, "<p>x</p>", 8);
	assert_header(f.resp, "Content-Type", "text/html; charset=utf-8");
	assert_header(f.resp, "X-Frame-Options", "DENY");
	assert_non_null(hdr(f.resp, "Content-Security-Policy"));
	assert_string_equal(body(f.resp, buf, sizeof(buf)), "<p>x</p>");
	fake_end(&f);

	/* JSON, one line; a NULL object is a 500 with a fixed body */
	fake_start(&f, NULL);
	reply_json(&f.r, 201, json_pack("{s:i}", "a", 1));
	assert_int_equal(f.status, 201);
	assert_header(f.resp, "Content-Type", "application/json");
	assert_string_equal(body(f.resp, buf, sizeof(buf)), "{\"a\":1}\n");
	fake_end(&f);
	fake_start(&f, NULL);
	reply_json(&f.r, 200, NULL);
	assert_int_equal(f.status, 500);
	assert_int_equal(f.r.status, 500);
	assert_non_null(
		strstr(body(f.resp, buf, sizeof(buf)), "\"status\":500"));
	fake_end(&f);
}

static void test_reply_503_retry_after(void **state)
{
	struct fake f;

	/* a 503 says when to come back */
	fake_start(&f, NULL);
	reply_error(&f.r, PT_EUNAVAIL, NULL, "database unavailable");
	assert_int_equal(f.status, 503);
	assert_header(f.resp, "Retry-After", "5");
	assert_null(hdr_nth(f.resp, "Retry-After", 1));
	fake_end(&f);
	/* -EAGAIN maps to 503 too */
	fake_start(&f, NULL);
	reply_error(&f.r, -EAGAIN, NULL, "busy");
	assert_int_equal(f.status, 503);
	assert_header(f.resp, "Retry-After", "5");
	fake_end(&f);
	/* unless the handler said it (any case): then only its own */
	fake_start(&f, NULL);
	req_reply_header(&f.r, "retry-after", "30");
	reply_empty(&f.r, 503);
	assert_header(f.resp, "Retry-After", "30");
	assert_null(hdr_nth(f.resp, "Retry-After", 1));
	fake_end(&f);
	/* other statuses get none */
	static const int others[] = { 200, 429, 500, 502, 504, 507 };
	for (size_t i = 0; i < PT_ARRAY_LEN(others); i++) {
		fake_start(&f, NULL);
		reply_empty(&f.r, others[i]);
		assert_null(hdr(f.resp, "Retry-After"));
		fake_end(&f);
	}
}

static void test_reply_405_allow(void **state)
{
	static const struct {
		unsigned allow;
		const char *want;
	} cases[] = {
		{ HTTP_GET | HTTP_HEAD, "GET, HEAD" },
		{ HTTP_POST, "POST" },
		{ HTTP_PATCH | HTTP_HEAD | HTTP_DELETE | HTTP_OPTIONS,
		  "HEAD, DELETE, PATCH, OPTIONS" },
		{ HTTP_GET | HTTP_HEAD | HTTP_POST | HTTP_PUT | HTTP_DELETE |
			  HTTP_PATCH | HTTP_OPTIONS,
		  "GET, HEAD, POST, PUT, DELETE, PATCH, OPTIONS" },
	};
	struct fake f;

	for (size_t i = 0; i < PT_ARRAY_LEN(cases); i++) {
		fake_start(&f, NULL);
		f.r.allow = cases[i].allow;
		reply_error(&f.r, PT_EMETHOD, NULL, "method not allowed");
		assert_int_equal(f.status, 405);
		assert_header(f.resp, "Allow", cases[i].want);
		fake_end(&f);
	}
	/* no methods known: no Allow; Allow only on a 405 */
	fake_start(&f, NULL);
	reply_empty(&f.r, 405);
	assert_null(hdr(f.resp, "Allow"));
	fake_end(&f);
	fake_start(&f, NULL);
	f.r.allow = HTTP_GET;
	reply_empty(&f.r, 404);
	assert_null(hdr(f.resp, "Allow"));
	fake_end(&f);
}

static void test_reply_error_formats(void **state)
{
	struct fake f;
	char buf[2048];

	/* text by default, and for anything it does not know */
	static const char *const texts[] = { NULL, "*/*", "text/plain",
					     "image/png" };
	for (size_t i = 0; i < PT_ARRAY_LEN(texts); i++) {
		fake_start(&f, texts[i]);
		assert_true(req_res_ok(
			reply_error(&f.r, PT_ENOTFOUND, "no_file",
				    "not found: no file '%s'", "a b")));
		assert_int_equal(f.status, 404);
		assert_header(f.resp, "Content-Type",
			      "text/plain; charset=utf-8");
		assert_string_equal(body(f.resp, buf, sizeof(buf)),
				    "not found: no file 'a b'\n");
		fake_end(&f);
	}

	/* JSON when asked for, with the reason */
	fake_start(&f, "text/html, application/json;q=0.9");
	reply_error(&f.r, PT_ECONFLICT, "offset", "conflict: offset is %d", 7);
	assert_int_equal(f.status, 409);
	assert_header(f.resp, "Content-Type", "application/json");
	json_t *j = json_loads(body(f.resp, buf, sizeof(buf)), 0, NULL);
	assert_non_null(j);
	assert_string_equal(json_string_value(json_object_get(j, "error")),
			    "conflict: offset is 7");
	assert_int_equal(json_integer_value(json_object_get(j, "status")), 409);
	assert_string_equal(json_string_value(json_object_get(j, "reason")),
			    "offset");
	json_decref(j);
	assert_int_equal(buf[strlen(buf) - 1], '\n');
	fake_end(&f);
	/* no reason: no "reason" */
	fake_start(&f, "application/json");
	reply_error(&f.r, -ENOSPC, NULL, "disk full");
	assert_int_equal(f.status, 507);
	j = json_loads(body(f.resp, buf, sizeof(buf)), 0, NULL);
	assert_non_null(j);
	assert_null(json_object_get(j, "reason"));
	json_decref(j);
	fake_end(&f);

	/* HTML for a browser, the message escaped */
	fake_start(&f, "text/html,application/xhtml+xml,*/*;q=0.8");
	reply_error(&f.r, PT_EFORBIDDEN, NULL, "forbidden: '%s'", "<b>&");
	assert_int_equal(f.status, 403);
	assert_header(f.resp, "Content-Type", "text/html; charset=utf-8");
	assert_header(f.resp, "X-Frame-Options", "DENY");
	body(f.resp, buf, sizeof(buf));
	assert_non_null(strstr(buf, "<h1>403</h1>"));
	assert_non_null(strstr(buf, "forbidden: &#39;&lt;b&gt;&amp;&#39;"));
	assert_null(strstr(buf, "<b>"));
	fake_end(&f);

	/* a message of any bytes stays one line of valid text */
	fake_start(&f, NULL);
	reply_error(&f.r, PT_EBADREQ, NULL, "bad name '%s'", "a\r\nX: 1\xff");
	assert_int_equal(f.status, 400);
	body(f.resp, buf, sizeof(buf));
	assert_null(strchr(buf, '\r'));
	assert_ptr_equal(strchr(buf, '\n'), buf + strlen(buf) - 1);
	assert_null(strchr(buf, 0xff));
	fake_end(&f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_resp_memory),
		cmocka_unit_test(test_resp_file),
		cmocka_unit_test(test_resp_stream),
		cmocka_unit_test(test_resp_headers),
		cmocka_unit_test(test_reply_queue),
		cmocka_unit_test(test_reply_503_retry_after),
		cmocka_unit_test(test_reply_405_allow),
		cmocka_unit_test(test_reply_error_formats),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
