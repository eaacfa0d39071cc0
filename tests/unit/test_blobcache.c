/*
 * test_blobcache.c — unit tests for src/store/blobcache.c and the cached
 * reader of blob.c: bytes come back whole, the budget holds with the least
 * recently used entry evicted first, an evicted entry a reader holds keeps
 * its bytes, entries over max_entry are refused, and a reader opened
 * through the cache on an fs store reads the blob's bytes (with no fd) the
 * second time, without the file.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "store/blob.h"
#include "store/blobcache.h"

/* a valid-looking hash whose first digits are n (chains collide when
 * the slot bits match) */
static void hex_of(unsigned n, char out[BLOB_HEX_LEN + 1])
{
	snprintf(out, BLOB_HEX_LEN + 1, "%08x%056x", n, 0);
}

static void test_put_get(void **state)
{
	struct blob_cache *c = blob_cache_new(1 << 20, 1024);
	char h[BLOB_HEX_LEN + 1];
	unsigned char b[100];

	assert_non_null(c);
	for (int i = 0; i < 100; i++)
		b[i] = (unsigned char)i;
	hex_of(1, h);
	assert_null(blob_cache_get(c, h));
	struct blob_cached *e = blob_cache_put(c, h, b, sizeof(b));
	assert_non_null(e);
	assert_int_equal(blob_cached_size(e), 100);
	assert_memory_equal(blob_cached_bytes(e), b, 100);
	blob_cache_unref(e);
	e = blob_cache_get(c, h);
	assert_non_null(e);
	assert_memory_equal(blob_cached_bytes(e), b, 100);
	/* a second put of the same hash gives the entry already there */
	struct blob_cached *e2 = blob_cache_put(c, h, "x", 1);
	assert_ptr_equal(e, e2);
	assert_int_equal(blob_cached_size(e2), 100);
	blob_cache_unref(e2);
	blob_cache_unref(e);
	/* over max_entry: refused */
	char big[2000] = { 0 };
	hex_of(2, h);
	assert_null(blob_cache_put(c, h, big, sizeof(big)));
	assert_null(blob_cache_get(c, h));
	blob_cache_free(c);
	assert_null(blob_cache_new(0, 1024));
}

static void test_budget_lru(void **state)
{
	/* room for about 4 entries of 1000 bytes with their bookkeeping */
	struct blob_cache *c = blob_cache_new(4 * 1200, 1000);
	char h[BLOB_HEX_LEN + 1];
	unsigned char b[1000];
	size_t n;
	uint64_t used;

	for (unsigned i = 0; i < 4; i++) {
		memset(b, (int)i, sizeof(b));
		hex_of(i, h);
		blob_cache_unref(blob_cache_put(c, h, b, sizeof(b)));
	}
	blob_cache_usage(c, &n, &used);
	assert_int_equal(n, 4);
	assert_true(used <= 4 * 1200);
	/* use 0: 1 is now the least recently used */
	hex_of(0, h);
	struct blob_cached *held0 = blob_cache_get(c, h);
	assert_non_null(held0);
	/* hold 1 as a reader would, then push it out */
	hex_of(1, h);
	struct blob_cached *held1 = blob_cache_get(c, h);
	hex_of(0, h);
	blob_cache_unref(blob_cache_get(c, h)); /* 0 newest again */
	memset(b, 9, sizeof(b));
	hex_of(9, h);
	blob_cache_unref(blob_cache_put(c, h, b, sizeof(b)));
	blob_cache_usage(c, &n, &used);
	assert_true(used <= 4 * 1200);
	/* 2 was the oldest not used since: gone; 0 and 9 are there */
	hex_of(2, h);
	assert_null(blob_cache_get(c, h));
	hex_of(0, h);
	struct blob_cached *e = blob_cache_get(c, h);
	assert_non_null(e);
	blob_cache_unref(e);
	/* many more: the budget holds, and the held entries keep their
	 * bytes although evicted */
	for (unsigned i = 100; i < 200; i++) {
		memset(b, (int)i, sizeof(b));
		hex_of(i, h);
		blob_cache_unref(blob_cache_put(c, h, b, sizeof(b)));
	}
	blob_cache_usage(c, &n, &used);
	assert_true(n <= 4);
	assert_true(used <= 4 * 1200);
	hex_of(1, h);
	assert_null(blob_cache_get(c, h));
	unsigned char want[1000];
	memset(want, 1, sizeof(want));
	assert_memory_equal(blob_cached_bytes(held1), want, 1000);
	memset(want, 0, sizeof(want));
	assert_memory_equal(blob_cached_bytes(held0), want, 1000);
	blob_cache_unref(held1);
	blob_cache_unref(held0);
	blob_cache_free(c);
}

static void test_cached_reader(void **state)
{
	char dir[] = "/tmp/pt-blobcache-XXXXXX";
	assert_non_null(mkdtemp(dir));
	struct blob_store *s;
	assert_int_equal(blob_fs_open(dir, &s), 0);
	struct blob_cache *c = blob_cache_new(1 << 20, BLOB_CACHE_MAX_ENTRY);

	/* a small blob and one over the entry size */
	static unsigned char small[5000], large[BLOB_CACHE_MAX_ENTRY + 1];
	for (size_t i = 0; i < sizeof(small); i++)
		small[i] = (unsigned char)(i * 7);
	memset(large, 'L', sizeof(large));
	char hs[BLOB_HEX_LEN + 1], hl[BLOB_HEX_LEN + 1];
	const struct {
		unsigned char *p;
		size_t n;
		char *hex;
	} blobs[] = { { small, sizeof(small), hs }, { large, sizeof(large), hl } };
	for (int i = 0; i < 2; i++) {
		struct blob_writer *w;
		bool existed;
		assert_int_equal(blob_writer_open(s, &w), 0);
		assert_int_equal(blob_writer_write(w, blobs[i].p, blobs[i].n), 0);
		assert_int_equal(blob_writer_commit(w, blobs[i].hex, &existed), 0);
		blob_writer_abort(w);
	}

	/* first open: from the file, and into the cache */
	struct blob_reader *r;
	unsigned char got[5000];
	assert_int_equal(blob_reader_open_cached(s, c, hs, &r), 0);
	assert_int_equal(blob_reader_size(r), sizeof(small));
	assert_int_equal(blob_reader_pread(r, got, sizeof(got), 0), 5000);
	assert_memory_equal(got, small, 5000);
	blob_reader_close(r);
	size_t n;
	uint64_t used;
	blob_cache_usage(c, &n, &used);
	assert_int_equal(n, 1);

	/* the file gone (as only a test can do to a live blob): the bytes
	 * still come, from memory, with no fd, ranges and past-the-end
	 * right */
	char path[512];
	snprintf(path, sizeof(path), "rm -f %s/blobs/%.2s/%.2s/%s", dir, hs,
		 hs + 2, hs);
	assert_int_equal(system(path), 0);
	assert_int_not_equal(blob_reader_open(s, hs, &r), 0);
	assert_int_equal(blob_reader_open_cached(s, c, hs, &r), 0);
	assert_int_equal(blob_reader_fd(r), -1);
	assert_int_equal(blob_reader_take_fd(r), -1);
	assert_int_equal(blob_reader_pread(r, got, 100, 4950), 50);
	assert_memory_equal(got, small + 4950, 50);
	assert_int_equal(blob_reader_pread(r, got, 10, 5000), 0);
	blob_reader_close(r);

	/* over the entry size: a plain reader with its fd, not cached */
	assert_int_equal(blob_reader_open_cached(s, c, hl, &r), 0);
	assert_true(blob_reader_fd(r) >= 0);
	blob_reader_close(r);
	blob_cache_usage(c, &n, &used);
	assert_int_equal(n, 1);
	/* no cache: the plain reader */
	assert_int_equal(blob_reader_open_cached(s, NULL, hl, &r), 0);
	assert_true(blob_reader_fd(r) >= 0);
	blob_reader_close(r);

	blob_cache_free(c);
	blob_store_close(s);
	snprintf(path, sizeof(path), "rm -rf '%s'", dir);
	assert_int_equal(system(path), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_put_get),
		cmocka_unit_test(test_budget_lru),
		cmocka_unit_test(test_cached_reader),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
