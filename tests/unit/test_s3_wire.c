/*
 * test_s3_wire.c — the bytes the s3 blob backend sends, seen by a small
 * S3 look-alike on 127.0.0.1 that records every request (no store
 * needed): multipart parts are all one size but the last, the size chosen
 * from blob_writer_expect's bound (Cloudflare R2 refuses anything else),
 * and every body carries a Content-MD5 that matches it (buckets with
 * Object Lock refuse a PUT without a checksum).
 */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "store/blob.h"
#include "store/blob_s3_int.h"
#include "store/s3.h"
#include "util/pt.h"

#define MiB (1u << 20)
#define MAX_REQS 256

struct seen {
	char method[8];
	char target[512];
	size_t len;	   /* Content-Length */
	char md5[64];	   /* the Content-MD5 header's value, "" if none */
	char md5_body[64]; /* what the body's MD5 is */
	bool copy;	   /* x-amz-copy-source */
};

static struct {
	pthread_mutex_t mu;
	struct seen r[MAX_REQS];
	int n;
	int lfd;
	unsigned port;
} S = { .mu = PTHREAD_MUTEX_INITIALIZER };

static bool read_n(int fd, char *p, size_t n)
{
	while (n) {
		ssize_t k = read(fd, p, n);
		if (k <= 0)
			return false;
		p += k;
		n -= (size_t)k;
	}
	return true;
}

static void reply(int fd, const char *status, const char *extra,
		  const char *body)
{
	char head[512];
	int n = snprintf(head, sizeof(head),
			 "HTTP/1.1 %s\r\n%sContent-Length: %zu\r\n\r\n", status,
			 extra, strlen(body));
	if (write(fd, head, (size_t)n) != n)
		return;
	if (*body && write(fd, body, strlen(body)) < 0)
		return;
}

/* One connection: requests until the client closes it. */
static void *conn(void *arg)
{
	int fd = (int)(intptr_t)arg;
	char head[8192];

	for (;;) {
		size_t n = 0;
		while (n < sizeof(head) - 1) {
			if (!read_n(fd, head + n, 1))
				goto done;
			n++;
			if (n >= 4 && !memcmp(head + n - 4, "\r\n\r\n", 4))
				break;
		}
		head[n] = '\0';
		struct seen s = { 0 };
		sscanf(head, "%7s %511s", s.method, s.target);
		for (char *l = strstr(head, "\r\n"); l && l[2];
		     l = strstr(l + 2, "\r\n")) {
			char *h = l + 2;
			if (!strncasecmp(h, "Content-Length:", 15))
				s.len = strtoull(h + 15, NULL, 10);
			else if (!strncasecmp(h, "Content-MD5:", 12))
				sscanf(h + 12, " %63s", s.md5);
			else if (!strncasecmp(h, "x-amz-copy-source:", 18))
				s.copy = true;
		}
		if (strcasestr(head, "\r\nExpect: 100-continue"))
			reply(fd, "100 Continue", "", "");
		char *body = malloc(s.len + 1);
		if (!read_n(fd, body, s.len)) {
			free(body);
			goto done;
		}
		char *m = s3_content_md5(body, s.len);
		snprintf(s.md5_body, sizeof(s.md5_body), "%s",
			 m + strlen("Content-MD5: "));
		free(m);
		free(body);
		pthread_mutex_lock(&S.mu);
		if (S.n < MAX_REQS)
			S.r[S.n++] = s;
		pthread_mutex_unlock(&S.mu);

		bool bucket = strchr(s.target + 1, '/') == NULL ||
			      s.target[strcspn(s.target + 1, "/?") + 1] == '?';
		if (!strcmp(s.method, "HEAD"))
			reply(fd, bucket ? "200 OK" : "404 Not Found", "", "");
		else if (!strcmp(s.method, "POST") &&
			 strstr(s.target, "?uploads"))
			reply(fd, "200 OK", "",
			      "<InitiateMultipartUploadResult><UploadId>U1"
			      "</UploadId></InitiateMultipartUploadResult>");
		else if (!strcmp(s.method, "POST"))
			reply(fd, "200 OK", "",
			      "<CompleteMultipartUploadResult><ETag>\"c\"</ETag>"
			      "</CompleteMultipartUploadResult>");
		else if (!strcmp(s.method, "PUT") && s.copy)
			reply(fd, "200 OK", "",
			      "<CopyObjectResult><ETag>\"c\"</ETag>"
			      "</CopyObjectResult>");
		else if (!strcmp(s.method, "PUT"))
			reply(fd, "200 OK", "ETag: \"e\"\r\n", "");
		else if (!strcmp(s.method, "DELETE"))
			reply(fd, "204 No Content", "", "");
		else if (!strcmp(s.method, "GET") &&
			 strstr(s.target, "list-type=2"))
			/* a partial just created: its empty first segment */
			reply(fd, "200 OK", "",
			      "<ListBucketResult><IsTruncated>false"
			      "</IsTruncated><Contents><Key>uploads/"
			      "uidsegmentsmd5/00000000</Key><Size>0</Size>"
			      "</Contents></ListBucketResult>");
		else
			reply(fd, "200 OK", "", "");
	}
done:
	close(fd);
	return NULL;
}

static void *acceptor(void *arg)
{
	for (;;) {
		int fd = accept(S.lfd, NULL, NULL);
		if (fd < 0)
			return NULL;
		pthread_t t;
		pthread_create(&t, NULL, conn, (void *)(intptr_t)fd);
		pthread_detach(t);
	}
}

static int setup(void **state)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	socklen_t al = sizeof(a);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	S.lfd = socket(AF_INET, SOCK_STREAM, 0);
	assert_true(S.lfd >= 0);
	assert_int_equal(bind(S.lfd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(listen(S.lfd, 64), 0);
	getsockname(S.lfd, (struct sockaddr *)&a, &al);
	S.port = ntohs(a.sin_port);
	pthread_t t;
	pthread_create(&t, NULL, acceptor, NULL);
	pthread_detach(t);
	return 0;
}

static struct blob_store *open_store(void)
{
	char ep[64];
	struct blob_store *s;
	snprintf(ep, sizeof(ep), "http://127.0.0.1:%u", S.port);
	assert_int_equal(blob_s3_open(ep, "bkt", "us-east-1", "ak", "sk", NULL,
				      &s),
			 0);
	return s;
}

/* Write size bytes with `expect` as the bound (0: none); commit. */
static void put_blob(struct blob_store *s, uint64_t expect, size_t size)
{
	struct blob_writer *w;
	char hex[BLOB_HEX_LEN + 1];
	bool existed;
	char *buf = malloc(size);
	for (size_t i = 0; i < size; i++)
		buf[i] = (char)(i * 7 + i / 4096);
	assert_int_equal(blob_writer_open(s, &w), 0);
	if (expect)
		blob_writer_expect(w, expect);
	/* in odd-sized pieces, as a request body arrives */
	for (size_t off = 0; off < size;) {
		size_t k = size - off < 300001 ? size - off : 300001;
		assert_int_equal(blob_writer_write(w, buf + off, k), 0);
		off += k;
	}
	assert_int_equal(blob_writer_commit(w, hex, &existed), 0);
	blob_writer_abort(w);
	free(buf);
}

static void reset(void)
{
	pthread_mutex_lock(&S.mu);
	S.n = 0;
	pthread_mutex_unlock(&S.mu);
}

static void test_part_size(void **state)
{
	assert_int_equal(blob_s3_part_size(8 * MiB, 0), 8 * MiB);
	assert_int_equal(blob_s3_part_size(8 * MiB, 10ull << 30), 8 * MiB);
	/* 1 TiB in 10 000 parts: 104.9 MiB, rounded up to 105 MiB */
	assert_int_equal(blob_s3_part_size(8 * MiB, 1ull << 40), 105 * MiB);
	assert_true((uint64_t)blob_s3_part_size(8 * MiB, 1ull << 40) *
			    MAX_PARTS >=
		    1ull << 40);
	/* S3's largest part is the ceiling */
	assert_int_equal(blob_s3_part_size(8 * MiB, 100ull << 40),
			 (size_t)5 << 30);
}

/* Parts, from the bound: all one size but the last, each with its MD5. */
static void test_equal_parts(void **state)
{
	struct blob_store *s = open_store();
	/* a bound of 200 GiB: 21 MiB parts (20.48 rounded up) */
	const size_t part = blob_s3_part_size(PART_SIZE, 200ull << 30);
	assert_int_equal(part, 21 * MiB);
	const size_t size = 2 * part + 3 * MiB + 5;
	reset();
	put_blob(s, 200ull << 30, size);
	pthread_mutex_lock(&S.mu);
	size_t parts[8] = { 0 }, np = 0, total = 0;
	int md5s = 0;
	for (int i = 0; i < S.n; i++) {
		struct seen *r = &S.r[i];
		if (!strcmp(r->method, "PUT") &&
		    strstr(r->target, "partNumber=")) {
			unsigned no = (unsigned)atoi(
				strstr(r->target, "partNumber=") + 11);
			assert_true(no >= 1 && no <= 8);
			parts[no - 1] = r->len;
			np = no > np ? no : np;
			total += r->len;
		}
		if ((!strcmp(r->method, "PUT") && !r->copy) ||
		    (!strcmp(r->method, "POST") && r->len)) {
			/* every body: a Content-MD5, and the right one */
			assert_string_not_equal(r->md5, "");
			assert_string_equal(r->md5, r->md5_body);
			md5s++;
		}
		if (r->copy)
			assert_string_equal(r->md5, "");
	}
	pthread_mutex_unlock(&S.mu);
	assert_int_equal(np, 3);
	assert_int_equal(parts[0], part);
	assert_int_equal(parts[1], part);
	assert_int_equal(parts[2], 3 * MiB + 5);
	assert_int_equal(total, size);
	assert_true(md5s >= 4); /* 3 parts and the completion */
	blob_store_close(s);
}

/* No bound: PART_SIZE parts, all equal but the last (no doubling). */
static void test_parts_without_bound(void **state)
{
	struct blob_store *s = open_store();
	const size_t size = 3 * PART_SIZE + 1234;
	reset();
	put_blob(s, 0, size);
	pthread_mutex_lock(&S.mu);
	size_t n = 0;
	for (int i = 0; i < S.n; i++) {
		struct seen *r = &S.r[i];
		if (strcmp(r->method, "PUT") ||
		    !strstr(r->target, "partNumber="))
			continue;
		unsigned no = (unsigned)atoi(strstr(r->target, "partNumber=") +
					     11);
		assert_int_equal(r->len, no == 4 ? 1234 : PART_SIZE);
		assert_string_equal(r->md5, r->md5_body);
		n++;
	}
	pthread_mutex_unlock(&S.mu);
	assert_int_equal(n, 4);
	blob_store_close(s);
}

/* A small blob: one PUT, with its MD5. */
static void test_single_put_md5(void **state)
{
	struct blob_store *s = open_store();
	reset();
	put_blob(s, 1000, 1000);
	pthread_mutex_lock(&S.mu);
	int puts = 0;
	for (int i = 0; i < S.n; i++) {
		struct seen *r = &S.r[i];
		if (strcmp(r->method, "PUT"))
			continue;
		assert_false(r->copy);
		assert_int_equal(r->len, 1000);
		assert_string_equal(r->md5, r->md5_body);
		puts++;
	}
	pthread_mutex_unlock(&S.mu);
	assert_int_equal(puts, 1);
	blob_store_close(s);
}

/* A tus upload's segments (uploads/<uid>/<n>): PutObject too, each with
 * its MD5, the full one and the tail a sync rewrites. */
static void test_partial_segments_md5(void **state)
{
	struct blob_store *s = open_store();
	struct blob_partial *p;
	size_t size = 8 * MiB + 100;
	char *buf = malloc(size);
	for (size_t i = 0; i < size; i++)
		buf[i] = (char)(i * 13 + i / 977);
	reset();
	assert_int_equal(blob_partial_create(s, "uidsegmentsmd5"), 0);
	assert_int_equal(blob_partial_open(s, "uidsegmentsmd5", 0, &p), 0);
	for (size_t off = 0; off < size;) {
		size_t k = size - off < 1000003 ? size - off : 1000003;
		assert_int_equal(blob_partial_write(p, buf + off, k), 0);
		off += k;
	}
	assert_int_equal(blob_partial_sync(p), 0);
	blob_partial_close(p);
	pthread_mutex_lock(&S.mu);
	int puts = 0;
	size_t bytes = 0;
	for (int i = 0; i < S.n; i++) {
		struct seen *r = &S.r[i];
		if (strcmp(r->method, "PUT"))
			continue;
		assert_non_null(strstr(r->target, "uploads/uidsegmentsmd5/"));
		assert_string_not_equal(r->md5, "");
		assert_string_equal(r->md5, r->md5_body);
		bytes += r->len;
		puts++;
	}
	pthread_mutex_unlock(&S.mu);
	/* the creation's empty segment, the full one, the tail */
	assert_int_equal(puts, 3);
	assert_int_equal(bytes, size);
	free(buf);
	blob_store_close(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_part_size),
		cmocka_unit_test(test_equal_parts),
		cmocka_unit_test(test_parts_without_bound),
		cmocka_unit_test(test_single_put_md5),
		cmocka_unit_test(test_partial_segments_md5),
	};
	return cmocka_run_group_tests(tests, setup, NULL);
}
