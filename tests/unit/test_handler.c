/*
 * test_handler.c — handlers run with a request of the test's own making.
 *
 * A handler sees the engine only through r->ops (server.h) and answers
 * with a struct resp (reply.h), so a fake engine here records what a
 * handler queues and reads its body (memory, file or pulled stream): an
 * upload by PUT and its download, ranges, conditional requests and errors
 * run through the real handlers, stores and policies, with no socket.
 */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <cmocka.h>

#include "api/api.h"
#include "conf.h"
#include "fixture_repo.h"
#include "http/reply.h"
#include "util/buf.h"
#include "util/pool.h"
#include "util/pt.h"
#include "util/banned.h"

struct fake {
	struct pt_req r;
	const char *hdr[8][2];
	size_t nhdr;
	int status;
	struct resp *resp;
	unsigned queued, pauses;
};

static const char *fake_value(struct pt_req *r, enum req_kind kind,
			      const char *name)
{
	struct fake *f = r->conn;
	if (kind != REQ_HEADER)
		return NULL;
	for (size_t i = 0; i < f->nhdr; i++)
		if (strcasecmp(f->hdr[i][0], name) == 0)
			return f->hdr[i][1];
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

static void fake_pause(struct pt_req *r)
{
	struct fake *f = r->conn;
	f->pauses++;
}

static void fake_wake(struct pt_req *r)
{
}

static int fake_socket(struct pt_req *r)
{
	return -1;
}

static const struct req_ops fake_ops = {
	.value = fake_value,
	.queue = fake_queue,
	.pause = fake_pause,
	.wake = fake_wake,
	.socket = fake_socket,
};

static struct app app;

static void fake_start(struct fake *f, unsigned method, const char *name,
		       const char *path)
{
	memset(f, 0, sizeof(*f));
	f->r.ctx = &app;
	f->r.ops = &fake_ops;
	f->r.conn = f;
	f->r.pool = pt_pool_new();
	f->r.method = method;
	f->r.method_name = name;
	f->r.raw_path = path;
	f->r.route_index = -1;
	snprintf(f->r.client_ip, sizeof(f->r.client_ip), "192.0.2.7");
	assert_int_equal(path_split(f->r.pool, path, &f->r.path), 0);
	for (size_t i = 0; i < f->r.path.n && i < PATH_MAX_SEGS; i++)
		f->r.arg[i] = f->r.path.seg[i];
}

static void fake_header(struct fake *f, const char *name, const char *value)
{
	assert_true(f->nhdr < PT_ARRAY_LEN(f->hdr));
	f->hdr[f->nhdr][0] = name;
	f->hdr[f->nhdr][1] = value;
	f->nhdr++;
}

static const char *resp_get(const struct resp *resp, const char *name)
{
	for (const struct resp_hdr *h = resp->headers; h; h = h->next)
		if (strcasecmp(h->name, name) == 0)
			return h->value;
	return NULL;
}

/* The body as the engine would send it. */
static void body_of(struct resp *resp, struct pt_buf *out)
{
	char buf[65536];
	switch (resp->kind) {
	case RESP_MEM:
		assert_int_equal(pt_buf_add(out, resp->data, resp->n), 0);
		return;
	case RESP_FILE:
		for (uint64_t done = 0; done < resp->len;) {
			size_t want = resp->len - done < sizeof(buf)
					      ? (size_t)(resp->len - done)
					      : sizeof(buf);
			ssize_t k = pread(resp->fd, buf, want,
					  (off_t)(resp->off + done));
			assert_true(k > 0);
			assert_int_equal(pt_buf_add(out, buf, (size_t)k), 0);
			done += (uint64_t)k;
		}
		return;
	case RESP_PULL:
		for (uint64_t pos = 0;;) {
			if (resp->size != RESP_SIZE_UNKNOWN && pos == resp->size)
				return;
			size_t max = resp->block < sizeof(buf) ? resp->block
							       : sizeof(buf);
			ssize_t k = resp->pull(resp->cls, pos, buf, max);
			if (k == RESP_PULL_END)
				return;
			assert_true(k > 0); /* no pause, no error here */
			assert_int_equal(pt_buf_add(out, buf, (size_t)k), 0);
			pos += (uint64_t)k;
		}
	}
}

/* The response is over: what the engine does after the last byte. */
static void fake_end(struct fake *f)
{
	if (f->r.on_complete)
		f->r.on_complete(&f->r, true);
	resp_free(f->resp);
	pt_pool_free(f->r.pool);
}

static int setup(void **state)
{
	struct pt_conf c;
	struct pt_buf err;
	char ini[512];

	fixture_setup(state);
	snprintf(ini, sizeof(ini),
		 "[storage]\ndata = %s\n"
		 "[tier.anonymous]\nwait_seconds = 0\n"
		 "speed_bytes_per_second = 0\nparallel_downloads = 0\n"
		 "connections_per_download = 0\ncooldown_seconds = 0\n",
		 fixture_dir);
	pt_buf_init(&err, 4096);
	conf_init(&c);
	if (conf_load_string(&c, ini, &err))
		fail_msg("%.*s", (int)err.n, err.p);
	static struct pt_conf kept;
	kept = c;
	assert_int_equal(app_open(&app, &kept), 0);
	pt_buf_release(&err);
	return 0;
}

static int teardown(void **state)
{
	app_close(&app);
	return fixture_teardown(state);
}

/* 300 bytes: far enough apart, two ranges stay two (range.c's gap) */
static char content[301];
static char id[ID_LEN + 1];

/* PUT /hello.txt: the body in two pieces, as the engine hands them */
static void test_put_then_get(void **state)
{
	struct fake f;
	struct pt_buf b;
	size_t n = sizeof(content) - 1;
	char cl[16];

	memset(content, '.', n);
	memcpy(content, "hello, handler world\n", 21);
	memcpy(content + n - 8, "THE END\n", 8);
	fake_start(&f, HTTP_PUT, "PUT", "/hello.txt");
	snprintf(cl, sizeof(cl), "%zu", n);
	fake_header(&f, "Content-Length", cl);
	assert_true(req_res_ok(api_upload_put(&f.r)));
	assert_int_equal(f.queued, 0); /* nothing said before the body */
	assert_non_null(f.r.on_body);
	assert_int_equal(f.r.on_body(&f.r, content, 5), 0);
	assert_int_equal(f.r.on_body(&f.r, content + 5, n - 5), 0);
	assert_true(req_res_ok(f.r.on_end(&f.r)));
	assert_int_equal(f.queued, 1);
	assert_int_equal(f.status, 201);
	const char *pid = resp_get(f.resp, "X-Partage-Id");
	assert_non_null(pid);
	assert_int_equal(strlen(pid), ID_LEN);
	memcpy(id, pid, ID_LEN + 1);
	assert_non_null(resp_get(f.resp, "X-Delete-Token"));
	assert_string_equal(resp_get(f.resp, "Server"), "partage");
	fake_end(&f);

	char path[64];
	snprintf(path, sizeof(path), "/%s/hello.txt", id);
	fake_start(&f, HTTP_GET, "GET", path);
	assert_true(req_res_ok(api_download(&f.r)));
	assert_int_equal(f.status, 200);
	assert_string_equal(resp_get(f.resp, "Accept-Ranges"), "bytes");
	assert_non_null(strstr(resp_get(f.resp, "Content-Disposition"),
			       "hello.txt"));
	pt_buf_init(&b, 1 << 20);
	body_of(f.resp, &b);
	assert_int_equal(b.n, n);
	assert_memory_equal(b.p, content, n);
	pt_buf_release(&b);
	fake_end(&f);
}

static void test_range_and_conditions(void **state)
{
	struct fake f;
	struct pt_buf b;
	char path[64], etag[128];

	snprintf(path, sizeof(path), "/%s/hello.txt", id);
	fake_start(&f, HTTP_GET, "GET", path);
	fake_header(&f, "Range", "bytes=7-13");
	assert_true(req_res_ok(api_download(&f.r)));
	assert_int_equal(f.status, 206);
	assert_string_equal(resp_get(f.resp, "Content-Range"),
			    "bytes 7-13/300");
	snprintf(etag, sizeof(etag), "%s", resp_get(f.resp, "ETag"));
	pt_buf_init(&b, 1 << 20);
	body_of(f.resp, &b);
	assert_int_equal(b.n, 7);
	assert_memory_equal(b.p, "handler", 7);
	pt_buf_release(&b);
	fake_end(&f);

	/* the ETag it gave: 304 with the validators and no body */
	fake_start(&f, HTTP_GET, "GET", path);
	fake_header(&f, "If-None-Match", etag);
	assert_true(req_res_ok(api_download(&f.r)));
	assert_int_equal(f.status, 304);
	assert_string_equal(resp_get(f.resp, "ETag"), etag);
	assert_int_equal(f.resp->kind, RESP_MEM);
	assert_int_equal(f.resp->n, 0);
	fake_end(&f);

	/* past the end: 416 saying the length */
	fake_start(&f, HTTP_GET, "GET", path);
	fake_header(&f, "Range", "bytes=300-");
	assert_true(req_res_ok(api_download(&f.r)));
	assert_int_equal(f.status, 416);
	assert_string_equal(resp_get(f.resp, "Content-Range"), "bytes */300");
	fake_end(&f);

	/* two ranges: multipart/byteranges, pulled */
	fake_start(&f, HTTP_GET, "GET", path);
	fake_header(&f, "Range", "bytes=0-4,292-");
	assert_true(req_res_ok(api_download(&f.r)));
	assert_int_equal(f.status, 206);
	assert_int_equal(f.resp->kind, RESP_PULL);
	assert_non_null(strstr(resp_get(f.resp, "Content-Type"),
			       "multipart/byteranges; boundary="));
	pt_buf_init(&b, 1 << 20);
	body_of(f.resp, &b);
	assert_int_equal(f.resp->size, b.n);
	assert_non_null(memmem(b.p, b.n, "hello", 5));
	assert_non_null(memmem(b.p, b.n, "Content-Range: bytes 292-299/300",
			       32));
	assert_non_null(memmem(b.p, b.n, "\r\n\r\nTHE END\n\r\n--", 16));
	pt_buf_release(&b);
	fake_end(&f);
}

/* errors answer in the format the Accept header asks for */
static void test_unknown_id_json_error(void **state)
{
	struct fake f;
	struct pt_buf b;

	fake_start(&f, HTTP_GET, "GET", "/AAAAAAAAAA/x");
	fake_header(&f, "Accept", "application/json");
	assert_true(req_res_ok(api_download(&f.r)));
	assert_int_equal(f.status, 404);
	assert_string_equal(resp_get(f.resp, "Content-Type"),
			    "application/json");
	pt_buf_init(&b, 1 << 16);
	body_of(f.resp, &b);
	assert_non_null(memmem(b.p, b.n, "\"status\":404", 12));
	pt_buf_release(&b);
	fake_end(&f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_put_then_get),
		cmocka_unit_test(test_range_and_conditions),
		cmocka_unit_test(test_unknown_id_json_error),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
