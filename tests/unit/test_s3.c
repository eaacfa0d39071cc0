/*
 * test_s3.c — the s3 blob backend against a real S3 store: the local
 * Swift of scripts/start-s3.sh, named by env PARTAGE_TEST_S3 (its
 * endpoint, e.g. http://127.0.0.1:28080; keys PARTAGE_TEST_S3_KEY and
 * PARTAGE_TEST_S3_SECRET, default Swift's test:tester / testing).  Skipped
 * with one line when unset.  The tests use a bucket of their own
 * (partage-unit) because the cleanup test sweeps every upload in it.
 *
 * blob_s3_int.h is included so the tests can lower the backend's part
 * and segment sizes and copy limit (5 MiB, Swift's minimum) and reach
 * the ends of every path — single PUT, parallel multipart, UploadPartCopy
 * — with megabytes rather than gigabytes.  Also covered here: the small
 * parsers of s3_xml.c, s3_uri_encode and the presigned URLs of s3_sign.c.
 */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <curl/curl.h>
#include <openssl/evp.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/blob_s3_int.h"
#include "util/buf.h"
#include "util/pt.h"
#include "util/banned.h"

#define MiB (1u << 20)
#define BUCKET "partage-unit"

static struct s3_conf conf;

static void sha_hex(const void *p, size_t n, char hex[BLOB_HEX_LEN + 1])
{
	unsigned char md[32];
	unsigned int mdlen;
	EVP_Digest(p, n, md, &mdlen, EVP_sha256(), NULL);
	for (int i = 0; i < 32; i++)
		snprintf(hex + 2 * i, 3, "%02x", md[i]);
}

static char *rand_buf(size_t n, unsigned seed)
{
	char *p = malloc(n);
	uint64_t x = seed * 0x9e3779b97f4a7c15ull + 1;
	for (size_t i = 0; i < n; i++) {
		x ^= x << 13, x ^= x >> 7, x ^= x << 17;
		p[i] = (char)(x >> 24);
	}
	return p;
}

static struct blob_store *store_open(void)
{
	struct blob_store *s = NULL;
	assert_int_equal(blob_s3_open(conf.endpoint, BUCKET, "us-east-1",
				      conf.access_key, conf.secret_key, NULL,
				      &s), 0);
	struct s3_store *st = s->impl;
	st->part_size = 5 * MiB;
	st->seg_size = 5 * MiB;
	return s;
}

static void check_reads(struct blob_store *s, const char *hex, const char *p,
			size_t n);

/* Write in uneven pieces: hashing and part cutting must not care. */
static int put(struct blob_store *s, const char *p, size_t n,
	       char hex[BLOB_HEX_LEN + 1], bool *existed)
{
	struct blob_writer *w;
	size_t step = 1, off = 0;
	int err = blob_writer_open(s, &w);
	if (err)
		return err;
	while (off < n) {
		size_t k = n - off < step ? n - off : step;
		if ((err = blob_writer_write(w, p + off, k))) {
			blob_writer_abort(w);
			return err;
		}
		off += k;
		step = step * 7 + 3;
		if (step > 3 * MiB)
			step = 12345;
	}
	err = blob_writer_commit(w, hex, existed);
	blob_writer_abort(w); /* after a commit: releases the source */
	return err;
}

/* Commit, lose the blob to a racing gc, ensure: it is back (blob.h's gc
 * protocol), from whichever source the writer kept. */
static void put_remove_ensure(struct blob_store *s, const char *p, size_t n,
			      bool expect_existed)
{
	struct blob_writer *w;
	char hex[BLOB_HEX_LEN + 1];
	bool existed;
	uint64_t size;

	assert_int_equal(blob_writer_open(s, &w), 0);
	assert_int_equal(blob_writer_write(w, p, n), 0);
	assert_int_equal(blob_writer_commit(w, hex, &existed), 0);
	assert_true(existed == expect_existed);
	assert_int_equal(blob_remove(s, hex), 0);
	assert_int_equal(blob_stat(s, hex, &size), -ENOENT);
	assert_int_equal(blob_writer_ensure(w), 0);
	assert_int_equal(blob_writer_ensure(w), 0);
	blob_writer_abort(w);
	assert_int_equal(blob_stat(s, hex, &size), 0);
	assert_true(size == n);
	check_reads(s, hex, p, n);
}

static int count_uploads(struct blob_store *s)
{
	struct s3_store *st = s->impl;
	struct pt_buf out;
	int n = 0;
	pt_buf_init(&out, 1 << 22);
	struct s3_req r = { .method = "GET", .query = "uploads=", .out = &out };
	assert_int_equal(s3_request(st->s3, &r), 0);
	for (const char *p = out.p; (p = strstr(p, "<Upload>")); p++)
		n++;
	pt_buf_release(&out);
	return n;
}

static int count_key_cb(const char *key, uint64_t size, int64_t mtime, void *arg)
{
	(*(int *)arg)++;
	return 0;
}

static int count_prefix(struct blob_store *s, const char *prefix)
{
	int n = 0;
	assert_int_equal(blob_s3_list_prefix(s->impl, prefix, count_key_cb,
					     &n), 0);
	return n;
}

/* blob_s3_list_prefix: delete what is listed (arg: the store) */
static int remove_cb(const char *key, uint64_t size, int64_t mtime, void *arg)
{
	return blob_s3_obj_delete(arg, key) < 0 ? -EIO : 0;
}

static void check_reads(struct blob_store *s, const char *hex, const char *p,
			size_t n)
{
	struct blob_reader *r;
	char *buf = malloc(256 * 1024);
	uint64_t x = 12345;

	assert_int_equal(blob_reader_open(s, hex, &r), 0);
	assert_true(blob_reader_size(r) == n);
	assert_int_equal(blob_reader_fd(r), -1);
	/* random offsets and lengths */
	for (int i = 0; i < 20; i++) {
		x = x * 6364136223846793005ull + 1442695040888963407ull;
		uint64_t off = (x >> 20) % n;
		size_t len = (size_t)((x >> 8) % (256 * 1024)) + 1;
		size_t want = off + len > n ? n - off : len;
		ssize_t k = blob_reader_pread(r, buf, len, off);
		assert_true(k > 0 && (size_t)k <= want);
		assert_memory_equal(buf, p + off, (size_t)k);
	}
	/* the whole object, sequentially, as the download path reads it */
	for (uint64_t off = 0; off < n;) {
		ssize_t k = blob_reader_pread(r, buf, 256 * 1024, off);
		assert_true(k > 0);
		assert_memory_equal(buf, p + off, (size_t)k);
		off += (uint64_t)k;
	}
	assert_int_equal(blob_reader_pread(r, buf, 10, n), 0);
	blob_reader_close(r);
	free(buf);
}

static void test_parsers(void **state)
{
	const char *xml = "<a><Key>x&amp;y&lt;</Key><Key>two</Key></a>";
	const char *pos = NULL;
	char *v = s3_xml_next(xml, NULL, "Key", &pos);
	assert_string_equal(v, "x&y<");
	free(v);
	v = s3_xml_next(xml, NULL, "Key", &pos);
	assert_string_equal(v, "two");
	free(v);
	assert_null(s3_xml_next(xml, NULL, "Key", &pos));
	assert_true(s3_time_parse("1970-01-01T00:00:00.000Z") == 0);
	assert_true(s3_time_parse("2024-02-29T12:00:01Z") == 1709208001);
	assert_true(s3_time_parse("junk") == -1);
	/* found by fuzz_s3xml: sscanf's %u took signs, spaces and hour 99 */
	assert_true(s3_time_parse("2024-02-29T99:00:01Z") == -1);
	assert_true(s3_time_parse("2024-02-29T12:60:01Z") == -1);
	assert_true(s3_time_parse("+202-02-29T12:00:01Z") == -1);
	assert_true(s3_time_parse("2024- 2-29T12:00:01Z") == -1);
	assert_true(s3_time_parse("2024-02-29T12:00:0") == -1);
	assert_true(s3_time_parse("1969-12-31T23:59:58Z") == -2);
	char *e = s3_uri_encode("a+b/c=d~", false);
	assert_string_equal(e, "a%2Bb%2Fc%3Dd~");
	free(e);
	e = s3_uri_encode("tmp/ab", true);
	assert_string_equal(e, "tmp/ab");
	free(e);
}

static int each_cb(char **v, void *arg)
{
	char *out = arg;
	size_t n = strlen(out);
	snprintf(out + n, 256 - n, "[%s|%s|%s]", v[0] ? v[0] : "-",
		 v[1] ? v[1] : "-", v[2] ? v[2] : "-");
	return strcmp(v[0] ? v[0] : "", "stop") == 0 ? 7 : 0;
}

/* found by fuzz_s3xml: a listing's elements were decoded whole before
 * their children were read, so a key "k</Key>x" (sent as
 * "k&lt;/Key&gt;x") came back as "k", and "&amp;lt;" as "<".  Each text
 * is decoded once now. */
static void test_xml_each(void **state)
{
	static const char *const f[] = { "Key", "Size", "LastModified" };
	const char *xml =
		"<L><Contents><Key>k&lt;/Key&gt;x</Key><Size>1</Size>"
		"</Contents><Contents><Key>&amp;lt;</Key><LastModified>t"
		"</LastModified></Contents><Contents><Size>3</Size></Contents>"
		"<Contents><Key>stop</Key></Contents><Contents><Key>after"
		"</Key></Contents></L>";
	char out[256] = "";
	assert_int_equal(s3_xml_each(xml, "Contents", f, 3, each_cb, out), 7);
	assert_string_equal(out, "[k</Key>x|1|-][&lt;|-|t][-|3|-][stop|-|-]");
	/* a child is looked for inside its own element only */
	out[0] = '\0';
	assert_int_equal(s3_xml_each("<Contents><Size>1</Size></Contents>"
				     "<Key>outside</Key>",
				     "Contents", f, 3, each_cb, out), 0);
	assert_string_equal(out, "[-|1|-]");
	assert_int_equal(s3_xml_each(NULL, "Contents", f, 3, each_cb, out), 0);
}

/* AWS's worked example of a presigned GET ("Authenticating Requests:
 * Using Query Parameters (AWS Signature Version 4)"): their keys, bucket
 * examplebucket (virtual-hosted, so the path is just the key), 24 hours
 * from 2013-05-24T00:00:00Z.  The signature is the one AWS publishes. */
static void test_presign_vector(void **state)
{
	struct s3_presign p = {
		.method = "GET",
		.host = "examplebucket.s3.amazonaws.com",
		.path = "/test.txt",
		.access_key = "AKIAIOSFODNN7EXAMPLE",
		.secret_key = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
		.region = "us-east-1",
		.now = 1369353600, /* 20130524T000000Z */
		.expires = 86400,
	};
	char *q = s3_presign_query(&p);
	assert_string_equal(
		q, "X-Amz-Algorithm=AWS4-HMAC-SHA256"
		   "&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2F"
		   "us-east-1%2Fs3%2Faws4_request"
		   "&X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400"
		   "&X-Amz-SignedHeaders=host"
		   "&X-Amz-Signature=aeeed9bbccd4d02ee5c0109b86d86835f9953"
		   "30da4c265957d157751f604d404");
	free(q);

	/* extra parameters are sorted in (after the X-Amz- ones: 'X' <
	 * 'r') and signed: another value, another signature */
	p.query = "response-content-type=text%2Fplain";
	q = s3_presign_query(&p);
	assert_non_null(strstr(q, "&X-Amz-SignedHeaders=host&response-"
				  "content-type=text%2Fplain&X-Amz-Signature="));
	assert_null(strstr(q, "aeeed9bbccd4d02ee5c0109b86d86835"));
	char *q2;
	p.query = "response-content-type=text%2Fhtml";
	q2 = s3_presign_query(&p);
	assert_string_not_equal(strstr(q, "Signature="),
				strstr(q2, "Signature="));
	free(q);
	free(q2);

	/* the client's URL: path style on the public endpoint, whose host
	 * (and path prefix) is what gets signed, not the node's endpoint */
	struct s3_conf c = { "http://10.0.0.5:8080", "bkt", "us-east-1",
			     "AKIAIOSFODNN7EXAMPLE",
			     "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
			     "https://cdn.example.com/s3/", false };
	struct s3 *s3;
	assert_int_equal(s3_new(&c, &s3), 0);
	char *url = s3_presign_url(s3, "pfx/blobs/ab/cd/a b", NULL, 1369353600,
				   300);
	p.host = "cdn.example.com";
	p.path = "/s3/bkt/pfx/blobs/ab/cd/a%20b";
	p.query = NULL;
	p.expires = 300;
	q = s3_presign_query(&p);
	char *want = xasprintf("https://cdn.example.com/s3/bkt/pfx/blobs/ab/"
			       "cd/a%%20b?%s", q);
	assert_string_equal(url, want);
	free(want);
	free(q);
	free(url);
	s3_free(s3);
	/* without a public endpoint: the node's */
	c.public_endpoint = NULL;
	assert_int_equal(s3_new(&c, &s3), 0);
	url = s3_presign_url(s3, "k", NULL, 1369353600, 300);
	assert_true(!strncmp(url, "http://10.0.0.5:8080/bkt/k?X-Amz-", 33));
	free(url);
	s3_free(s3);
}

static size_t hdr_keep(char *p, size_t size, size_t nmemb, void *arg)
{
	pt_buf_add(arg, p, size * nmemb);
	return size * nmemb;
}

/* GET url with libcurl: status, body and headers into the buffers. */
static long fetch(const char *url, const char *range, struct pt_buf *body,
		  struct pt_buf *hdrs)
{
	CURL *c = curl_easy_init();
	long status = 0;
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, hdr_keep);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, body);
	curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, hdr_keep);
	curl_easy_setopt(c, CURLOPT_HEADERDATA, hdrs);
	if (range)
		curl_easy_setopt(c, CURLOPT_RANGE, range);
	assert_int_equal(curl_easy_perform(c), CURLE_OK);
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
	curl_easy_cleanup(c);
	return status;
}

/* The real store accepts what we sign: bytes, ranges, the name and type
 * we ask for; it refuses an expired URL and a tampered one. */
static void test_presign_live(void **state)
{
	struct blob_store *s = store_open();
	char hex[BLOB_HEX_LEN + 1], *url = NULL;
	bool existed;
	struct pt_buf body, hdrs;
	const char *text = "presigned bytes, straight from the store\n";

	pt_buf_init(&body, 1 << 20);
	pt_buf_init(&hdrs, 1 << 16);
	assert_int_equal(put(s, text, strlen(text), hex, &existed), 0);
	struct blob_presign ps = {
		.content_type = "text/plain; charset=utf-8",
		.content_disposition = "attachment; filename=\"resume 1.txt\"; "
				       "filename*=UTF-8''r%C3%A9sum%C3%A9%201.txt",
		.seconds = 60,
		.now = (int64_t)time(NULL),
	};
	assert_int_equal(blob_presign(s, hex, &ps, &url), 0);
	assert_int_equal(fetch(url, NULL, &body, &hdrs), 200);
	assert_int_equal(body.n, strlen(text));
	assert_memory_equal(body.p, text, body.n);
	assert_non_null(strcasestr(hdrs.p, "Content-Type: text/plain; "
					   "charset=utf-8\r\n"));
	assert_non_null(strcasestr(hdrs.p, "filename*=UTF-8''r%C3%A9sum%C3%A9"
					   "%201.txt"));
	pt_buf_reset(&body);
	pt_buf_reset(&hdrs);
	assert_int_equal(fetch(url, "10-18", &body, &hdrs), 206);
	assert_int_equal(body.n, 9);
	assert_memory_equal(body.p, text + 10, 9);
	/* one changed byte of the signed query: refused */
	char *bad = xstrdup(url);
	char *t = strstr(bad, "charset");
	t[0] = 'C';
	pt_buf_reset(&body);
	assert_int_equal(fetch(bad, NULL, &body, &hdrs), 403);
	free(bad);
	free(url);
	/* signed two minutes ago for one second: expired */
	ps.seconds = 1;
	ps.now = (int64_t)time(NULL) - 120;
	assert_int_equal(blob_presign(s, hex, &ps, &url), 0);
	pt_buf_reset(&body);
	assert_int_equal(fetch(url, NULL, &body, &hdrs), 403);
	free(url);
	assert_int_equal(blob_presign(s, "zz", &ps, &url), -ENOENT);
	assert_int_equal(blob_remove(s, hex), 0);
	pt_buf_release(&body);
	pt_buf_release(&hdrs);
	blob_store_close(s);
}

static void test_small(void **state)
{
	struct blob_store *s = store_open();
	char hex[BLOB_HEX_LEN + 1], hex2[BLOB_HEX_LEN + 1], want[BLOB_HEX_LEN + 1];
	char *p = rand_buf(100000, 1);
	bool existed = true;
	uint64_t size = 0;

	sha_hex(p, 100000, want);
	blob_remove(s, want); /* from an earlier run */
	assert_int_equal(put(s, p, 100000, hex, &existed), 0);
	assert_string_equal(hex, want);
	assert_false(existed);
	assert_int_equal(put(s, p, 100000, hex2, &existed), 0);
	assert_true(existed);
	assert_int_equal(blob_stat(s, hex, &size), 0);
	assert_true(size == 100000);
	check_reads(s, hex, p, 100000);
	/* empty blob */
	assert_int_equal(put(s, "", 0, hex2, &existed), 0);
	assert_string_equal(hex2, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
	assert_int_equal(blob_stat(s, hex2, &size), 0);
	assert_true(size == 0);
	/* ensure from the buffered single part: fresh and deduplicated */
	assert_int_equal(blob_remove(s, hex), 0);
	put_remove_ensure(s, p, 100000, false);
	put_remove_ensure(s, p, 100000, true);
	assert_int_equal(blob_remove(s, hex), 0);
	assert_int_equal(blob_remove(s, hex2), 0);
	assert_int_equal(blob_stat(s, hex, &size), -ENOENT);
	struct blob_reader *r;
	assert_int_equal(blob_reader_open(s, hex, &r), -ENOENT);
	assert_int_equal(count_prefix(s, "tmp/"), 0);
	free(p);
	blob_store_close(s);
}

struct find {
	const char *hex;
	uint64_t size;
	bool found;
};

/* the listing gives the size of the content, also for objects a multipart
 * upload assembled (on Swift: SLO manifests) */
static int find_cb(const char *hex, uint64_t size, int64_t mtime, void *arg)
{
	struct find *f = arg;
	if (strcmp(hex, f->hex) == 0 && size == f->size && mtime > 0)
		f->found = true;
	return 0;
}

static void test_large(void **state)
{
	struct blob_store *s = store_open();
	struct s3_store *st = s->impl;
	size_t n = 17 * MiB + 3; /* four parts, the last short */
	char *p = rand_buf(n, 2);
	char hex[BLOB_HEX_LEN + 1], want[BLOB_HEX_LEN + 1];
	bool existed = true;

	sha_hex(p, n, want);
	blob_remove(s, want);
	assert_int_equal(put(s, p, n, hex, &existed), 0);
	assert_string_equal(hex, want);
	assert_false(existed);
	check_reads(s, hex, p, n);
	/* again: deduplicated, and the second upload is gone */
	assert_int_equal(put(s, p, n, hex, &existed), 0);
	assert_true(existed);
	assert_int_equal(count_prefix(s, "tmp/"), 0);
	assert_int_equal(count_uploads(s), 0);
	/* listing for fsck */
	struct find f = { hex, n, false };
	assert_int_equal(blob_list(s, find_cb, &f), 0);
	assert_true(f.found);
	/* ensure from the uncompleted upload (dedup) and from tmp/ (copy) */
	put_remove_ensure(s, p, n, true);
	assert_int_equal(blob_remove(s, hex), 0);
	put_remove_ensure(s, p, n, false);
	assert_int_equal(count_prefix(s, "tmp/"), 0);
	assert_int_equal(count_uploads(s), 0);
	assert_int_equal(blob_remove(s, hex), 0);

	/* above the copy limit: commit assembles with UploadPartCopy */
	st->copy_max = 5 * MiB;
	st->copy_part = 6 * MiB;
	p[0] ^= 1;
	sha_hex(p, n, want);
	blob_remove(s, want);
	assert_int_equal(put(s, p, n, hex, &existed), 0);
	assert_string_equal(hex, want);
	check_reads(s, hex, p, n);
	assert_int_equal(blob_remove(s, hex), 0);
	assert_int_equal(count_prefix(s, "tmp/"), 0);
	assert_int_equal(count_uploads(s), 0);
	free(p);
	blob_store_close(s);
}

static void test_abort_cleanup(void **state)
{
	struct blob_store *s = store_open();
	struct s3_store *st = s->impl;
	struct blob_writer *w;
	char *p = rand_buf(12 * MiB, 3);
	char *id = NULL;

	/* two parts out, a third buffered: abort leaves nothing */
	assert_int_equal(blob_writer_open(s, &w), 0);
	assert_int_equal(blob_writer_write(w, p, 12 * MiB), 0);
	assert_int_equal(count_uploads(s), 1);
	blob_writer_abort(w);
	assert_int_equal(count_uploads(s), 0);
	assert_int_equal(count_prefix(s, "tmp/"), 0);

	/* a crashed writer's leftovers: cleanup takes them once old enough */
	assert_int_equal(blob_s3_mpu_initiate(st, "tmp/crashed", &id), 0);
	assert_int_equal(blob_s3_obj_put(st, "tmp/crashed2", "x", 1), 0);
	assert_int_equal(blob_store_cleanup(s), 0); /* younger than a day */
	assert_int_equal(count_uploads(s), 1);
	st->grace = -5; /* everything is old now */
	assert_true(blob_store_cleanup(s) >= 2);
	assert_int_equal(count_uploads(s), 0);
	assert_int_equal(count_prefix(s, "tmp/"), 0);
	free(id);
	free(p);
	blob_store_close(s);
}

static void test_partial(void **state)
{
	struct blob_store *s = store_open(), *s2;
	struct blob_partial *bp;
	size_t n = 13 * MiB + 777;
	char *p = rand_buf(n, 4);
	char hex[BLOB_HEX_LEN + 1], want[BLOB_HEX_LEN + 1];
	bool existed = true;
	size_t chunks[] = { 100, 3000, 6 * MiB, 1, 1 * MiB };
	size_t off = 0;

	blob_partial_remove(s, "unitA");
	sha_hex(p, n, want);
	blob_remove(s, want);
	assert_int_equal(blob_partial_create(s, "unitA"), 0);
	assert_int_equal(blob_partial_create(s, "unitA"), -EEXIST);
	assert_int_equal(blob_partial_open(s, "unitA", 0, &bp), 0);
	for (size_t i = 0; i < PT_ARRAY_LEN(chunks); i++) {
		assert_int_equal(blob_partial_write(bp, p + off, chunks[i]), 0);
		off += chunks[i];
		assert_int_equal(blob_partial_sync(bp), 0);
	}
	/* a chunk that fails its checksum is cut back off */
	assert_int_equal(blob_partial_write(bp, "garbage", 7), 0);
	assert_int_equal(blob_partial_truncate(bp, off), 0);
	assert_int_equal(blob_partial_sync(bp), 0);
	/* bytes written but never synced (the node died) */
	assert_int_equal(blob_partial_write(bp, "lost", 4), 0);
	blob_partial_close(bp);

	/* another node, another store handle, resumes at the durable offset */
	s2 = store_open();
	assert_int_equal(blob_partial_open(s2, "unitA", off + 1000, &bp),
			 PT_ECORRUPT);
	assert_int_equal(blob_partial_open(s2, "unitA", off, &bp), 0);
	assert_int_equal(blob_partial_write(bp, p + off, 2 * MiB), 0);
	/* a failed chunk reaching back into an earlier, flushed segment */
	assert_int_equal(blob_partial_truncate(bp, 4 * MiB), 0);
	off = 4 * MiB;
	assert_int_equal(blob_partial_write(bp, p + off, n - off), 0);
	assert_int_equal(blob_partial_sync(bp), 0);
	blob_partial_close(bp);
	/* and a third reopen at a segment boundary with a stale tail */
	assert_int_equal(blob_partial_open(s, "unitA", 10 * MiB, &bp), 0);
	assert_int_equal(blob_partial_write(bp, p + 10 * MiB, n - 10 * MiB), 0);
	assert_int_equal(blob_partial_sync(bp), 0);
	blob_partial_close(bp);

	assert_int_equal(blob_partial_commit(s, "unitA", n, NULL, hex, &existed, NULL), 0);
	assert_string_equal(hex, want);
	assert_false(existed);
	check_reads(s2, hex, p, n);
	struct find f = { hex, n, false };
	assert_int_equal(blob_list(s, find_cb, &f), 0);
	assert_true(f.found);
	assert_int_equal(blob_partial_commit(s, "unitA", n, NULL, hex, &existed, NULL), 0);
	assert_true(existed);

	/* concatenation of two partials (tus concatenation) */
	blob_partial_remove(s, "unitB");
	blob_partial_remove(s, "unitC");
	assert_int_equal(blob_partial_create(s, "unitB"), 0);
	assert_int_equal(blob_partial_create(s, "unitC"), 0);
	assert_int_equal(blob_partial_concat(s, "unitC",
					     (const char *const[]){ "unitA", "unitA" }, 2), 0);
	char *pp = malloc(2 * n);
	memcpy(pp, p, n);
	memcpy(pp + n, p, n);
	sha_hex(pp, 2 * n, want);
	blob_remove(s, want);
	assert_int_equal(blob_partial_commit(s, "unitC", 2 * n, NULL, hex, &existed, NULL), 0);
	assert_string_equal(hex, want);

	/* small partial: a single segment, committed by CopyObject */
	assert_int_equal(blob_partial_open(s, "unitB", 0, &bp), 0);
	assert_int_equal(blob_partial_write(bp, "hello", 5), 0);
	assert_int_equal(blob_partial_sync(bp), 0);
	blob_partial_close(bp);
	assert_int_equal(blob_partial_commit(s, "unitB", 5, NULL, hex, &existed, NULL), 0);
	assert_string_equal(hex, "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824");

	assert_int_equal(blob_partial_remove(s, "unitA"), 0);
	assert_int_equal(blob_partial_remove(s, "unitB"), 0);
	assert_int_equal(blob_partial_remove(s, "unitC"), 0);
	assert_int_equal(count_prefix(s, "uploads/"), 0);
	assert_int_equal(count_uploads(s), 0);
	blob_remove(s, want);
	free(pp);
	free(p);
	blob_store_close(s2);
	blob_store_close(s);
}

/* "bucket/prefix": two stores in one bucket do not see each other */
static void test_prefix(void **state)
{
	struct blob_store *a = store_open(), *b;
	char hex[BLOB_HEX_LEN + 1];
	bool existed;
	uint64_t size;
	int n = 0;

	assert_int_equal(blob_s3_open(conf.endpoint, BUCKET "/unit-pfx",
				      "us-east-1", conf.access_key,
				      conf.secret_key, NULL, &b), 0);
	assert_int_equal(put(b, "prefixed", 8, hex, &existed), 0);
	assert_int_equal(blob_stat(b, hex, &size), 0);
	assert_int_equal(blob_stat(a, hex, &size), -ENOENT);
	assert_int_equal(count_prefix(a, "unit-pfx/blobs/"), 1);
	assert_int_equal(blob_list(b, count_key_cb, &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(blob_remove(b, hex), 0);
	assert_int_equal(count_prefix(a, "unit-pfx/"), 0);
	blob_store_close(b);
	blob_store_close(a);
}

/* Virtual-hosted style against the real store (the bucket in the host
 * name: start-s3.sh's Swift has s3api's storage_domain = localhost,
 * start-ceph.sh's RGW rgw_dns_name = localhost): the endpoint named
 * localhost rather than 127.0.0.1, libcurl resolving partage-unit.
 * localhost itself.  Single PUT, multipart, listing, ranged reads, a
 * presigned GET on the bucket's host name, removal. */
static void test_virtual_host(void **state)
{
	struct s3_conf c = conf;
	const char *ip = strstr(conf.endpoint, "://127.0.0.1");
	char *ep = ip ? xasprintf("%.*s://localhost%s",
				  (int)(ip - conf.endpoint), conf.endpoint,
				  ip + strlen("://127.0.0.1"))
		      : xstrdup(conf.endpoint);
	struct blob_store *s;
	char hex[BLOB_HEX_LEN + 1], want[BLOB_HEX_LEN + 1], *url = NULL;
	bool existed;
	size_t n = 11 * MiB + 7; /* three parts */
	char *p = rand_buf(n, 9);
	struct pt_buf body, hdrs;

	c.endpoint = ep;
	c.bucket = BUCKET "/vhost";
	c.virtual_host = true;
	assert_int_equal(blob_s3_open_conf(&c, &s), 0);
	((struct s3_store *)s->impl)->part_size = 5 * MiB;
	sha_hex(p, n, want);
	assert_int_equal(put(s, p, n, hex, &existed), 0);
	assert_string_equal(hex, want);
	check_reads(s, hex, p, n);
	assert_int_equal(put(s, "virtual", 7, want, &existed), 0);
	struct find f = { hex, n, false };
	assert_int_equal(blob_list(s, find_cb, &f), 0);
	assert_true(f.found);
	/* the listing is the bucket's, seen path style too */
	struct blob_store *path = store_open();
	assert_int_equal(count_prefix(path, "vhost/blobs/"), 2);

	pt_buf_init(&body, 1 << 20);
	pt_buf_init(&hdrs, 1 << 16);
	struct blob_presign ps = { .content_type = "text/plain", .seconds = 60,
				   .now = (int64_t)time(NULL) };
	assert_int_equal(blob_presign(s, want, &ps, &url), 0);
	assert_non_null(strstr(url, "://" BUCKET ".localhost"));
	assert_int_equal(fetch(url, NULL, &body, &hdrs), 200);
	assert_int_equal(body.n, 7);
	assert_memory_equal(body.p, "virtual", 7);
	free(url);
	assert_int_equal(blob_remove(s, hex), 0);
	assert_int_equal(blob_remove(s, want), 0);
	assert_int_equal(count_prefix(path, "vhost/"), 0);
	blob_store_close(path);
	pt_buf_release(&body);
	pt_buf_release(&hdrs);
	blob_store_close(s);
	free(p);
	free(ep);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parsers),
		cmocka_unit_test(test_xml_each),
		cmocka_unit_test(test_presign_vector),
		cmocka_unit_test(test_presign_live),
		cmocka_unit_test(test_small),
		cmocka_unit_test(test_large),
		cmocka_unit_test(test_abort_cleanup),
		cmocka_unit_test(test_partial),
		cmocka_unit_test(test_prefix),
		cmocka_unit_test(test_virtual_host),
	};
	const char *ep = getenv("PARTAGE_TEST_S3");
	struct s3 *s3;

	if (!ep || !*ep) {
		printf("test_s3: skipped (set PARTAGE_TEST_S3 to the endpoint "
		       "of scripts/start-s3.sh)\n");
		/* the parsers need no server */
		const struct CMUnitTest offline[] = {
			cmocka_unit_test(test_parsers),
		cmocka_unit_test(test_xml_each),
			cmocka_unit_test(test_presign_vector),
		};
		return cmocka_run_group_tests(offline, NULL, NULL);
	}
	conf.endpoint = ep;
	conf.bucket = BUCKET;
	conf.region = "us-east-1";
	conf.access_key = getenv("PARTAGE_TEST_S3_KEY") ? getenv("PARTAGE_TEST_S3_KEY")
							: "test:tester";
	conf.secret_key = getenv("PARTAGE_TEST_S3_SECRET")
				  ? getenv("PARTAGE_TEST_S3_SECRET")
				  : "testing";
	/* the bucket of these tests (409: there already) */
	assert_int_equal(s3_new(&conf, &s3), 0);
	struct s3_req r = { .method = "PUT" };
	int err = s3_request(s3, &r);
	s3_free(s3);
	if (err && err != PT_ECONFLICT) {
		fprintf(stderr, "test_s3: cannot create bucket '%s': %s\n",
			BUCKET, pt_strerror(err));
		return 1;
	}
	/* what an earlier, failed run left behind must not count */
	struct blob_store *bs = store_open();
	((struct s3_store *)bs->impl)->grace = -5;
	blob_store_cleanup(bs);
	blob_s3_list_prefix(bs->impl, "uploads/", remove_cb, bs->impl);
	blob_store_close(bs);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
