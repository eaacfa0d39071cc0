/*
 * test_s3_wire.c — the bytes the s3 blob backend sends, seen by a small
 * S3 look-alike on 127.0.0.1 that records every request (no store
 * needed): multipart parts are all one size but the last, the size chosen
 * from blob_writer_expect's bound (Cloudflare R2 refuses anything else),
 * and every body carries a Content-MD5 that matches it (buckets with
 * Object Lock refuse a PUT without a checksum).
 *
 * Addressing: path style (Host 127.0.0.1:PORT, /bkt/KEY) and virtual-
 * hosted style (Host bkt.localhost:PORT, /KEY; libcurl resolves
 * *.localhost to loopback itself), every request's Authorization checked
 * by a SigV4 verifier of the test's own (sigv4_check, itself checked
 * against AWS's published example), and the presigned URL of AWS's
 * published example built whole by s3_presign_url.
 */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>

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
#include "store/s3_int.h"
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
	char head[4096];   /* the request line and headers, as sent */
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
		snprintf(s.head, sizeof(s.head), "%.4095s", head);
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
		/* virtual-hosted: the bucket is "/" (with a query or not) */
		if (strcasestr(head, "\r\nHost: bkt.localhost"))
			bucket = s.target[1] == '\0' || s.target[1] == '?';
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

/* ---- addressing and signatures ----
 *
 * sigv4_check verifies a request's Authorization header as a store
 * would, from the bytes received (AWS "Signature Version 4", header
 * form): the canonical request from the request line and the headers
 * that SignedHeaders names, the string to sign, the key chain.  NULL
 * when the signature holds, else why not.
 */
static bool header_val(const char *head, const char *name, char *out,
		       size_t cap)
{
	size_t ln = strlen(name);
	for (const char *l = strstr(head, "\r\n"); l && l[2];
	     l = strstr(l + 2, "\r\n")) {
		const char *h = l + 2;
		if (strncasecmp(h, name, ln) || h[ln] != ':')
			continue;
		h += ln + 1;
		while (*h == ' ')
			h++;
		size_t n = strcspn(h, "\r");
		while (n && h[n - 1] == ' ')
			n--;
		if (n >= cap)
			return false;
		memcpy(out, h, n);
		out[n] = '\0';
		return true;
	}
	return false;
}

static void hmac256(const void *k, size_t kn, const char *m,
		    unsigned char out[32])
{
	unsigned int n = 32;
	assert_non_null(HMAC(EVP_sha256(), k, (int)kn,
			     (const unsigned char *)m, strlen(m), out, &n));
}

static void hex32(const unsigned char *p, char out[65])
{
	for (int i = 0; i < 32; i++)
		snprintf(out + 2 * i, 3, "%02x", p[i]);
}

static int str_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static const char *sigv4_check(const char *head, const char *secret)
{
	static char why[256];
	char method[16], target[2048], auth[1024], amz[32], payload[128];
	char cred[256], signed_h[512], sig[80];

	if (sscanf(head, "%15s %2047s", method, target) != 2)
		return "no request line";
	if (!header_val(head, "Authorization", auth, sizeof(auth)))
		return "no Authorization";
	if (!header_val(head, "x-amz-date", amz, sizeof(amz)) ||
	    !header_val(head, "x-amz-content-sha256", payload,
			sizeof(payload)))
		return "no x-amz-date or x-amz-content-sha256";
	const char *c = strstr(auth, "Credential="),
		   *sh = strstr(auth, "SignedHeaders="),
		   *sg = strstr(auth, "Signature=");
	if (strncmp(auth, "AWS4-HMAC-SHA256 ", 17) || !c || !sh || !sg)
		return "not a SigV4 Authorization";
	snprintf(cred, sizeof(cred), "%.*s", (int)strcspn(c + 11, ", "),
		 c + 11);
	snprintf(signed_h, sizeof(signed_h), "%.*s",
		 (int)strcspn(sh + 14, ", "), sh + 14);
	snprintf(sig, sizeof(sig), "%.*s", (int)strcspn(sg + 10, ", "),
		 sg + 10);
	/* AK/DAY/REGION/s3/aws4_request: the scope is the last four */
	const char *scope = cred + strlen(cred);
	for (int slashes = 0; scope > cred; scope--)
		if (scope[-1] == '/' && ++slashes == 4)
			break;
	char day[16], region[64];
	if (sscanf(scope, "%15[^/]/%63[^/]/s3/aws4_request", day, region) !=
	    2)
		return "bad Credential scope";

	/* the canonical query: every parameter with its '=', sorted */
	char *path = strdup(target), *q = strchr(path, '?');
	char *parts[64] = { NULL };
	size_t np = 0;
	struct pt_buf creq;
	pt_buf_init(&creq, 1 << 16);
	if (q)
		*q++ = '\0';
	for (char *save = NULL, *t = q ? strtok_r(q, "&", &save) : NULL;
	     t && np < 64; t = strtok_r(NULL, "&", &save))
		parts[np++] = strchr(t, '=') ? strdup(t) : xasprintf("%s=", t);
	qsort(parts, np, sizeof(parts[0]), str_cmp);
	pt_buf_addf(&creq, "%s\n%s\n", method, path);
	for (size_t i = 0; i < np; i++) {
		pt_buf_addf(&creq, "%s%s", i ? "&" : "", parts[i]);
		free(parts[i]);
	}
	pt_buf_addf(&creq, "\n");
	/* the signed headers, in SignedHeaders' order (sorted by name) */
	char names[512];
	snprintf(names, sizeof(names), "%s", signed_h);
	for (char *save = NULL, *n = strtok_r(names, ";", &save); n;
	     n = strtok_r(NULL, ";", &save)) {
		char v[1024];
		if (!header_val(head, n, v, sizeof(v))) {
			snprintf(why, sizeof(why), "signed header %s not sent",
				 n);
			free(path);
			pt_buf_release(&creq);
			return why;
		}
		pt_buf_addf(&creq, "%s:%s\n", n, v);
	}
	pt_buf_addf(&creq, "\n%s\n%s", signed_h, payload);
	free(path);

	unsigned char md[32], k[32];
	char hash[65], want[65];
	SHA256((const unsigned char *)creq.p, creq.n, md);
	hex32(md, hash);
	pt_buf_release(&creq);
	char *sts = xasprintf("AWS4-HMAC-SHA256\n%s\n%s/%s/s3/aws4_request\n%s",
			      amz, day, region, hash);
	char *key = xasprintf("AWS4%s", secret);
	hmac256(key, strlen(key), day, k);
	hmac256(k, 32, region, k);
	hmac256(k, 32, "s3", k);
	hmac256(k, 32, "aws4_request", k);
	hmac256(k, 32, sts, md);
	hex32(md, want);
	free(sts);
	free(key);
	if (strcmp(want, sig)) {
		snprintf(why, sizeof(why), "signature %s, the store computes %s",
			 sig, want);
		return why;
	}
	return NULL;
}

#define AWS_GET_OBJECT_EXAMPLE \
		"GET /test.txt HTTP/1.1\r\n" \
		"Host: examplebucket.s3.amazonaws.com\r\n" \
		"Range: bytes=0-%d\r\n" \
		"x-amz-content-sha256: e3b0c44298fc1c149afbf4c8996fb92427ae41e" \
		"4649b934ca495991b7852b855\r\n" \
		"x-amz-date: 20130524T000000Z\r\n" \
		"Authorization: AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMP" \
		"LE/20130524/us-east-1/s3/aws4_request,SignedHeaders=host;range;" \
		"x-amz-content-sha256;x-amz-date,Signature=f0e8bdb87c964420e857" \
		"bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41\r\n\r\n"

/* The verifier itself, on AWS's published example ("Signature
 * Calculations for the Authorization Header", GET Object): the signature
 * AWS gives holds, one changed byte of a signed header does not. */
static void test_sigv4_verifier_vector(void **state)
{
	const char *secret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
	char head[1024];
	snprintf(head, sizeof(head), AWS_GET_OBJECT_EXAMPLE, 9);
	assert_null(sigv4_check(head, secret));
	snprintf(head, sizeof(head), AWS_GET_OBJECT_EXAMPLE, 8);
	assert_non_null(sigv4_check(head, secret));
}

/* AWS's published presigned URL ("Authenticating Requests: Using Query
 * Parameters"), built whole by s3_presign_url from a virtual-hosted
 * client on the global endpoint; path style on the same settings puts
 * the bucket in the path and signs another Host; the public endpoint
 * gets the bucket in front of its host name too. */
static void test_presign_addressing(void **state)
{
	struct s3_conf c = { "https://s3.amazonaws.com", "examplebucket",
			     "us-east-1", "AKIAIOSFODNN7EXAMPLE",
			     "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", NULL,
			     true };
	struct s3 *s3;
	const char *q_aws =
		"X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIAIOSFODNN"
		"7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date="
		"20130524T000000Z&X-Amz-Expires=86400&X-Amz-SignedHeaders=host"
		"&X-Amz-Signature=aeeed9bbccd4d02ee5c0109b86d86835f995330da4c26"
		"5957d157751f604d404";
	assert_int_equal(s3_new(&c, &s3), 0);
	char *url = s3_presign_url(s3, "test.txt", NULL, 1369353600, 86400);
	char *want = xasprintf("https://examplebucket.s3.amazonaws.com/"
			       "test.txt?%s", q_aws);
	assert_string_equal(url, want);
	free(want);
	free(url);
	s3_free(s3);

	/* path style: /examplebucket/test.txt on s3.amazonaws.com */
	c.virtual_host = false;
	assert_int_equal(s3_new(&c, &s3), 0);
	url = s3_presign_url(s3, "test.txt", NULL, 1369353600, 86400);
	struct s3_presign p = {
		.method = "GET", .host = "s3.amazonaws.com",
		.path = "/examplebucket/test.txt",
		.access_key = c.access_key, .secret_key = c.secret_key,
		.region = "us-east-1", .now = 1369353600, .expires = 86400,
	};
	char *q = s3_presign_query(&p);
	want = xasprintf("https://s3.amazonaws.com/examplebucket/test.txt?%s",
			 q);
	assert_string_equal(url, want);
	assert_null(strstr(url, "aeeed9bbccd4d02ee5c0109b86d86835"));
	free(q);
	free(want);
	free(url);
	s3_free(s3);

	/* virtual, on a public endpoint with a port and a path prefix */
	c.virtual_host = true;
	c.public_endpoint = "http://cdn.example.com:8080/s3/";
	assert_int_equal(s3_new(&c, &s3), 0);
	url = s3_presign_url(s3, "a b/c", "response-content-type=text%2Fplain",
			     1369353600, 300);
	p.host = "examplebucket.cdn.example.com:8080";
	p.path = "/s3/a%20b/c";
	p.query = "response-content-type=text%2Fplain";
	p.expires = 300;
	q = s3_presign_query(&p);
	want = xasprintf("http://examplebucket.cdn.example.com:8080/s3/a%%20b/c"
			 "?%s", q);
	assert_string_equal(url, want);
	free(q);
	free(want);
	free(url);
	s3_free(s3);
}

/* What virtual-hosted style cannot address: refused with a reason,
 * before any request; path style takes the same settings. */
static void test_addressing_conf(void **state)
{
	struct s3_conf c = { "http://localhost:9000", "bkt", "us-east-1", "ak",
			     "sk", NULL, true };
	struct s3 *s3;
	struct blob_store *bs;
	assert_null(s3_conf_problem(&c));
	const char *bad_buckets[] = { "Bkt", "b_k", "ab", "-bkt", "bkt.",
				      "a..b", "a.-b", "192.168.1.1" };
	for (size_t i = 0; i < PT_ARRAY_LEN(bad_buckets); i++) {
		c.bucket = bad_buckets[i];
		assert_non_null(s3_conf_problem(&c));
		assert_int_equal(s3_new(&c, &s3), PT_EBADREQ);
		c.virtual_host = false;
		assert_null(s3_conf_problem(&c));
		c.virtual_host = true;
	}
	c.bucket = "my.bucket-2";
	assert_null(s3_conf_problem(&c));
	const char *ip_eps[] = { "http://127.0.0.1:9000", "https://[::1]/",
				 "http://10.1.2.3" };
	for (size_t i = 0; i < PT_ARRAY_LEN(ip_eps); i++) {
		c.endpoint = ip_eps[i];
		assert_non_null(strstr(s3_conf_problem(&c), "localhost"));
		c.endpoint = "http://localhost:9000";
		c.public_endpoint = ip_eps[i];
		assert_non_null(s3_conf_problem(&c));
		c.public_endpoint = NULL;
	}
	c.endpoint = "http://127.0.0.1:1";
	c.bucket = "bkt/prefix";
	assert_int_equal(blob_s3_open_conf(&c, &bs), PT_EBADREQ);
	c.virtual_host = false;
	assert_null(s3_conf_problem(&c));
}

/* Every request the store sees since reset(): its Host is host, its
 * target is under `under` ("/bkt" path style, "/" virtual), never under
 * "/bkt" when virtual, and its signature holds.  How many. */
static int check_requests(const char *host, bool virtual_host)
{
	int n;
	pthread_mutex_lock(&S.mu);
	n = S.n;
	for (int i = 0; i < S.n; i++) {
		struct seen *r = &S.r[i];
		char h[256];
		assert_true(header_val(r->head, "Host", h, sizeof(h)));
		assert_string_equal(h, host);
		if (virtual_host)
			assert_false(!strncmp(r->target, "/bkt", 4));
		else
			assert_true(!strncmp(r->target, "/bkt", 4) &&
				    strchr("/?", r->target[4]));
		const char *why = sigv4_check(r->head, "sk");
		if (why)
			fail_msg("%s %s: %s", r->method, r->target, why);
	}
	pthread_mutex_unlock(&S.mu);
	return n;
}

static bool seen(const char *method, const char *target_prefix)
{
	bool found = false;
	pthread_mutex_lock(&S.mu);
	for (int i = 0; i < S.n; i++)
		if (!strcmp(S.r[i].method, method) &&
		    !strncmp(S.r[i].target, target_prefix,
			     strlen(target_prefix)))
			found = true;
	pthread_mutex_unlock(&S.mu);
	return found;
}

/* The same traffic both ways: the bucket check, a single PUT, a
 * multipart upload, a listing and the one request s3_sign_v4 signs
 * itself (UploadPartCopy with a range). */
static void traffic(struct blob_store *bs)
{
	struct s3_store *st = bs->impl;
	put_blob(bs, 1000, 1000);
	put_blob(bs, 0, 2 * PART_SIZE + 5);
	struct pt_buf out;
	pt_buf_init(&out, 1 << 16);
	struct s3_req l = { .method = "GET", .query = "list-type=2&prefix=x",
			    .out = &out };
	assert_int_equal(s3_request(st->s3, &l), 0);
	struct s3_req cp = {
		.method = "PUT", .key = "dst",
		.query = "partNumber=1&uploadId=U1",
		.headers = { "x-amz-copy-source: /bkt/src",
			     "x-amz-copy-source-range: bytes=0-9" },
		.out = &out,
	};
	assert_true(s3_curl_sorts_wrong(&cp));
	assert_int_equal(s3_request(st->s3, &cp), 0);
	pt_buf_release(&out);
}

static void test_path_style_wire(void **state)
{
	char ep[64], host[64];
	struct blob_store *bs;
	snprintf(ep, sizeof(ep), "http://127.0.0.1:%u", S.port);
	snprintf(host, sizeof(host), "127.0.0.1:%u", S.port);
	struct s3_conf c = { ep, "bkt", "us-east-1", "ak", "sk", NULL, false };
	reset();
	assert_int_equal(blob_s3_open_conf(&c, &bs), 0);
	traffic(bs);
	assert_true(check_requests(host, false) >= 8);
	assert_true(seen("HEAD", "/bkt"));
	assert_true(seen("GET", "/bkt?list-type=2&prefix=x"));
	assert_true(seen("PUT", "/bkt/dst?partNumber=1&uploadId=U1"));
	assert_true(seen("POST", "/bkt/"));
	blob_store_close(bs);
}

/* Virtual-hosted style on the wire: Host bkt.localhost:PORT, targets
 * without the bucket ("/" for the bucket itself), signatures that hold
 * (libcurl's and s3_sign_v4's). */
static void test_virtual_wire(void **state)
{
	char ep[64], host[64];
	struct blob_store *bs;
	snprintf(ep, sizeof(ep), "http://localhost:%u/", S.port);
	snprintf(host, sizeof(host), "bkt.localhost:%u", S.port);
	struct s3_conf c = { ep, "bkt", "us-east-1", "ak", "sk", NULL, true };
	reset();
	assert_int_equal(blob_s3_open_conf(&c, &bs), 0);
	traffic(bs);
	assert_true(check_requests(host, true) >= 8);
	pthread_mutex_lock(&S.mu);
	assert_string_equal(S.r[0].method, "HEAD");
	assert_string_equal(S.r[0].target, "/");
	pthread_mutex_unlock(&S.mu);
	assert_true(seen("GET", "/?list-type=2&prefix=x"));
	assert_true(seen("PUT", "/dst?partNumber=1&uploadId=U1"));
	assert_true(seen("POST", "/"));
	assert_true(seen("PUT", "/"));
	blob_store_close(bs);
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
		cmocka_unit_test(test_sigv4_verifier_vector),
		cmocka_unit_test(test_presign_addressing),
		cmocka_unit_test(test_addressing_conf),
		cmocka_unit_test(test_path_style_wire),
		cmocka_unit_test(test_virtual_wire),
		cmocka_unit_test(test_partial_segments_md5),
	};
	return cmocka_run_group_tests(tests, setup, NULL);
}
