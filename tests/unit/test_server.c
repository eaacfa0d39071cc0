/*
 * test_server.c — unit tests for src/http/server.c through its public
 * API: a real server on 127.0.0.1 (port 0: the kernel's choice) with a
 * route table of the test's own, and requests on a plain socket.  The
 * routing phase: literal segments, "{id}" captures only valid link ids,
 * "{*}" any one segment, a trailing slash is no segment; GET implies
 * HEAD; a path that matches with another method is a 405 with Allow,
 * except through a catch-all; no match is a 404; X-HTTP-Method-Override
 * wins; query arguments are decoded; headers added with req_reply_header
 * go out with any reply.
 */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "http/reply.h"
#include "http/server.h"
#include "util/pt.h"

static req_res h_hello(struct pt_req *r)
{
	return reply_text(r, 200, "hello\n");
}

static req_res h_item(struct pt_req *r)
{
	char buf[128];
	snprintf(buf, sizeof(buf), "%s %.*s\n", r->method_name,
		 (int)r->arg[0].n, r->arg[0].p);
	return reply_text(r, 200, buf);
}

static req_res h_query(struct pt_req *r)
{
	const char *x = req_query(r, "x");
	char buf[128];
	snprintf(buf, sizeof(buf), "[%s]\n", x ? x : "(none)");
	return reply_text(r, 200, buf);
}

static req_res h_files(struct pt_req *r)
{
	char buf[128];
	snprintf(buf, sizeof(buf), "file %.*s\n", (int)r->arg[0].n,
		 r->arg[0].p);
	return reply_text(r, 201, buf);
}

static req_res h_busy(struct pt_req *r)
{
	req_reply_header(r, "X-Test", "kept");
	return reply_error(r, PT_EUNAVAIL, NULL, "service unavailable: test");
}

static const struct route routes[] = {
	{ HTTP_GET, "/hello", h_hello, "hello", 0 },
	{ HTTP_GET | HTTP_POST | HTTP_DELETE, "/items/{id}", h_item, "item",
	  0 },
	{ HTTP_GET, "/q", h_query, "q", 0 },
	{ HTTP_PUT, "/files/{*}", h_files, "files", 0 },
	{ HTTP_GET, "/busy", h_busy, "busy", 0 },
	{ 0, NULL, NULL, NULL, 0 },
};

static struct server *srv;
static unsigned port;

struct answer {
	int status;
	char head[4096];
	char body[4096];
};

/* One request (Connection: close) and its whole answer. */
static void http(const char *method, const char *target, const char *extra,
		 struct answer *a)
{
	struct sockaddr_in sa = { .sin_family = AF_INET,
				  .sin_port = htons((uint16_t)port) };
	struct timeval tv = { 5, 0 };
	char req[1024], raw[8192];
	size_t n = 0;
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	assert_true(fd >= 0);
	inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	int len = snprintf(req, sizeof(req),
			   "%s %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
			   "%s\r\n",
			   method, target, extra ? extra : "");
	assert_int_equal(write(fd, req, (size_t)len), len);
	for (;;) {
		ssize_t k = read(fd, raw + n, sizeof(raw) - 1 - n);
		if (k <= 0)
			break;
		n += (size_t)k;
	}
	close(fd);
	raw[n] = '\0';
	memset(a, 0, sizeof(*a));
	assert_int_equal(sscanf(raw, "HTTP/1.1 %d", &a->status), 1);
	char *end = strstr(raw, "\r\n\r\n");
	assert_non_null(end);
	memcpy(a->head, raw, (size_t)(end - raw) + 2);
	snprintf(a->body, sizeof(a->body), "%s", end + 4);
}

/* A header's value in the answer ("" when absent). */
static const char *header(const struct answer *a, const char *name)
{
	static char v[512];
	char key[128];
	snprintf(key, sizeof(key), "\r\n%s: ", name);
	const char *p = strcasestr(a->head, key);
	v[0] = '\0';
	if (p) {
		p += strlen(key);
		size_t l = strcspn(p, "\r");
		snprintf(v, sizeof(v), "%.*s", (int)l, p);
	}
	return v;
}

static int start(void **state)
{
	struct server_config cfg = {
		.listen = "127.0.0.1:0",
		.threads = 2,
		.timeout_seconds = 5,
		.routes = routes,
	};
	if (server_start(&cfg, &srv))
		return -1;
	port = server_port(srv);
	return port ? 0 : -1;
}

static int stop(void **state)
{
	server_stop(srv);
	return 0;
}

static void test_routes(void **state)
{
	struct answer a;

	assert_int_equal(server_route_count(srv), 5);
	http("GET", "/hello", NULL, &a);
	assert_int_equal(a.status, 200);
	assert_string_equal(a.body, "hello\n");
	assert_string_equal(header(&a, "Server"), "partage");
	/* GET implies HEAD: the same headers, no body */
	http("HEAD", "/hello", NULL, &a);
	assert_int_equal(a.status, 200);
	assert_string_equal(a.body, "");
	/* {id}: a valid link id is captured, anything else is no match */
	http("GET", "/items/AbCdEf012345", NULL, &a);
	assert_int_equal(a.status, 200);
	assert_string_equal(a.body, "GET AbCdEf012345\n");
	http("DELETE", "/items/AbCdEf012345", NULL, &a);
	assert_string_equal(a.body, "DELETE AbCdEf012345\n");
	static const char *const bad_ids[] = {
		"/items/short", "/items/AbCdEf0123456", "/items/AbCdEf01234!",
		"/items/AbCdEf012345/x", "/items"
	};
	for (size_t i = 0; i < PT_ARRAY_LEN(bad_ids); i++) {
		http("GET", bad_ids[i], NULL, &a);
		assert_int_equal(a.status, 404);
		assert_string_equal(header(&a, "Allow"), "");
	}
	/* {*}: any one segment, decoded */
	http("PUT", "/files/a%20b.txt", "Content-Length: 0\r\n", &a);
	assert_int_equal(a.status, 201);
	assert_string_equal(a.body, "file a b.txt\n");
	/* literals are exact */
	http("GET", "/Hello", NULL, &a);
	assert_int_equal(a.status, 404);
	/* a trailing slash makes no segment (path.h) */
	http("GET", "/hello/", NULL, &a);
	assert_int_equal(a.status, 200);
	http("GET", "/nowhere", "Accept: application/json\r\n", &a);
	assert_int_equal(a.status, 404);
	assert_string_equal(header(&a, "Content-Type"), "application/json");
	assert_non_null(strstr(a.body, "\"status\":404"));
}

static void test_methods(void **state)
{
	struct answer a;

	/* the path is known with other methods: 405 and what they are */
	http("PATCH", "/items/AbCdEf012345", "Content-Length: 0\r\n", &a);
	assert_int_equal(a.status, 405);
	assert_string_equal(header(&a, "Allow"), "GET, HEAD, POST, DELETE");
	http("POST", "/hello", "Content-Length: 0\r\n", &a);
	assert_int_equal(a.status, 405);
	assert_string_equal(header(&a, "Allow"), "GET, HEAD");
	/* a catch-all says nothing about the path: 404, not 405 */
	http("GET", "/files/x", NULL, &a);
	assert_int_equal(a.status, 404);
	assert_string_equal(header(&a, "Allow"), "");
	/* an unknown method */
	http("BREW", "/hello", NULL, &a);
	assert_int_equal(a.status, 405);
	/* X-HTTP-Method-Override wins over the request line */
	http("POST", "/items/AbCdEf012345",
	     "X-HTTP-Method-Override: DELETE\r\nContent-Length: 0\r\n", &a);
	assert_int_equal(a.status, 200);
	assert_string_equal(a.body, "DELETE AbCdEf012345\n");
	http("POST", "/hello",
	     "X-HTTP-Method-Override: GET\r\nContent-Length: 0\r\n", &a);
	assert_int_equal(a.status, 200);
	assert_string_equal(a.body, "hello\n");
}

static void test_query_and_headers(void **state)
{
	struct answer a;

	/* query arguments percent-decoded, '+' is a space; the path is
	 * routed without its query */
	http("GET", "/q?x=a+b%20c%2Fd&y=1", NULL, &a);
	assert_int_equal(a.status, 200);
	assert_string_equal(a.body, "[a b c/d]\n");
	http("GET", "/q?y=1", NULL, &a);
	assert_string_equal(a.body, "[(none)]\n");
	http("GET", "/q?x=%zz", NULL, &a);
	assert_string_equal(a.body, "[(none)]\n");
	/* a header added by the handler goes out with its error reply, and a
	 * 503 says when to come back */
	http("GET", "/busy", NULL, &a);
	assert_int_equal(a.status, 503);
	assert_string_equal(header(&a, "X-Test"), "kept");
	assert_string_equal(header(&a, "Retry-After"), "5");
	assert_string_equal(a.body, "service unavailable: test\n");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_routes),
		cmocka_unit_test(test_methods),
		cmocka_unit_test(test_query_and_headers),
	};
	return cmocka_run_group_tests(tests, start, stop);
}
