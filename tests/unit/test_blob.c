/*
 * test_blob.c — unit tests for src/store/blob.c and blob_fs.c on a real
 * temp directory: blob commit, dedup, abort, readers, listing, cleanup,
 * the CRC-32 and the hashing thread.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "fixture_repo.h"
#include "store/blob.h"
#include "store/runhash.h"
#include "util/pt.h"

static int count_files(const char *path)
{
	DIR *d = opendir(path);
	struct dirent *e;
	int n = 0;
	if (!d)
		return -1;
	while ((e = readdir(d)))
		if (e->d_name[0] != '.')
			n++;
	closedir(d);
	return n;
}

static int put(struct blob_store *s, const char *data, size_t n, char *hex,
	       bool *existed)
{
	struct blob_writer *w;
	int err = blob_writer_open(s, &w);
	if (err)
		return err;
	/* in two pieces: hashing must be streaming */
	if ((err = blob_writer_write(w, data, n / 2)) ||
	    (err = blob_writer_write(w, data + n / 2, n - n / 2))) {
		blob_writer_abort(w);
		return err;
	}
	err = blob_writer_commit(w, hex, existed);
	blob_writer_abort(w); /* after a commit: only closes the source */
	return err;
}

static int count_cb(const char *hex, uint64_t size, int64_t mtime, void *arg)
{
	(*(int *)arg)++;
	return 0;
}

static void test_blob_fs(void **state)
{
	struct blob_store *s;
	char hex[BLOB_HEX_LEN + 1], hex2[BLOB_HEX_LEN + 1], path[512];
	bool existed = true;
	struct blob_reader *r;
	char buf[16];

	assert_int_equal(blob_fs_open(fixture_dir, &s), 0);
	assert_int_equal(put(s, "abc", 3, hex, &existed), 0);
	assert_string_equal(hex, FIXTURE_HEX);
	assert_false(existed);
	snprintf(path, sizeof(path), "%s/blobs/ba/78/%s", fixture_dir, hex);
	assert_int_equal(access(path, R_OK), 0);
	/* same bytes again: deduplicated, still one file */
	assert_int_equal(put(s, "abc", 3, hex2, &existed), 0);
	assert_true(existed);
	assert_string_equal(hex, hex2);
	snprintf(path, sizeof(path), "%s/blobs/ba/78", fixture_dir);
	assert_int_equal(count_files(path), 1);
	/* nothing left in tmp */
	snprintf(path, sizeof(path), "%s/tmp", fixture_dir);
	assert_int_equal(count_files(path), 0);

	/* readers */
	assert_int_equal(blob_reader_open(s, hex, &r), 0);
	assert_true(blob_reader_size(r) == 3);
	assert_true(blob_reader_fd(r) >= 0);
	assert_int_equal(blob_reader_pread(r, buf, sizeof(buf), 1), 2);
	assert_memory_equal(buf, "bc", 2);
	assert_int_equal(blob_reader_pread(r, buf, sizeof(buf), 3), 0);
	/* readers of one blob share one descriptor, closed with the last;
	 * the caller's own copy for sendfile outlives them */
	struct blob_reader *r2;
	assert_int_equal(blob_reader_open(s, hex, &r2), 0);
	int shared = blob_reader_fd(r);
	assert_int_equal(blob_reader_fd(r2), shared);
	int own = blob_reader_take_fd(r2);
	assert_true(own >= 0 && own != shared);
	blob_reader_close(r);
	assert_int_equal(blob_reader_pread(r2, buf, 3, 0), 3);
	assert_memory_equal(buf, "abc", 3);
	blob_reader_close(r2);
	assert_int_equal(fcntl(shared, F_GETFD), -1);
	assert_int_equal(pread(own, buf, 3, 0), 3);
	close(own);
	assert_int_equal(blob_reader_open(s, "00", &r), -ENOENT);
	assert_int_equal(blob_reader_open(s, "../../../etc/passwd", &r), -ENOENT);

	/* an aborted writer leaves nothing */
	struct blob_writer *w;
	assert_int_equal(blob_writer_open(s, &w), 0);
	assert_int_equal(blob_writer_write(w, "zzz", 3), 0);
	blob_writer_abort(w);
	assert_int_equal(count_files(path), 0);

	/* empty blob */
	assert_int_equal(put(s, "", 0, hex2, &existed), 0);
	assert_string_equal(hex2, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
	int n = 0;
	assert_int_equal(blob_list(s, count_cb, &n), 0);
	assert_int_equal(n, 2);
	uint64_t size = 9;
	assert_int_equal(blob_stat(s, hex2, &size), 0);
	assert_true(size == 0);
	assert_int_equal(blob_remove(s, hex2), 0);
	assert_int_equal(blob_stat(s, hex2, &size), -ENOENT);

	/* cleanup removes files left in tmp by a dead process */
	snprintf(path, sizeof(path), "%s/tmp/upload-leftover", fixture_dir);
	int fd = open(path, O_CREAT | O_WRONLY, 0644);
	assert_true(fd >= 0);
	close(fd);
	assert_int_equal(blob_store_cleanup(s), 1);
	assert_int_equal(access(path, F_OK), -1);
	blob_store_close(s);
}

/* The CRC-32 that zips need, three ways (while writing, from a stored
 * blob, at a resumable upload's commit), against zlib's as the reference,
 * over pieces of awkward sizes (the fast path works on 16-byte blocks). */
static void test_blob_crc32(void **state)
{
	static const size_t piece[] = { 0, 1, 3, 15, 16, 17, 4097, 65536,
					(1 << 20) + 13, 5 };
	struct blob_store *s;
	struct blob_writer *w;
	struct blob_partial *p;
	char hex[BLOB_HEX_LEN + 1], hex2[BLOB_HEX_LEN + 1];
	bool existed;
	size_t total = 0, off = 0;
	uint32_t crc = 0;
	struct runhash rh;

	for (size_t i = 0; i < PT_ARRAY_LEN(piece); i++)
		total += piece[i];
	unsigned char *data = xmalloc(total);
	randombytes_buf(data, total);
	uint32_t want = (uint32_t)crc32(crc32(0, Z_NULL, 0), data, (uInt)total);

	assert_int_equal(blob_fs_open(fixture_dir, &s), 0);
	assert_int_equal(blob_writer_open(s, &w), 0);
	assert_int_equal(blob_partial_create(s, "crcupload1"), 0);
	assert_int_equal(blob_partial_open(s, "crcupload1", 0, &p), 0);
	runhash_init(&rh);
	for (size_t i = 0; i < PT_ARRAY_LEN(piece); i++) {
		assert_int_equal(blob_writer_write(w, data + off, piece[i]), 0);
		assert_int_equal(blob_partial_write(p, data + off, piece[i]),
				 0);
		runhash_update(&rh, data + off, piece[i]);
		off += piece[i];
	}
	assert_int_equal(blob_writer_commit(w, hex, &existed), 0);
	assert_int_equal(blob_writer_crc32(w), want);
	blob_writer_abort(w);
	assert_int_equal(blob_crc32(s, hex, &crc), 0);
	assert_int_equal(crc, want);
	blob_partial_close(p);
	crc = 0;
	assert_int_equal(blob_partial_commit(s, "crcupload1", total, NULL,
					     hex2, &existed, &crc),
			 0);
	assert_string_equal(hex2, hex);
	assert_true(existed);
	assert_int_equal(crc, want);
	/* the running hash of the same bytes names it without a read */
	crc = 0;
	memset(hex2, 0, sizeof(hex2));
	assert_int_equal(blob_partial_commit(s, "crcupload1", total, &rh,
					     hex2, &existed, &crc),
			 0);
	assert_string_equal(hex2, hex);
	assert_int_equal(crc, want);
	/* one that covers other bytes than `size` is not used: read back */
	struct runhash other;
	runhash_init(&other);
	runhash_update(&other, "x", 1);
	crc = 0;
	assert_int_equal(blob_partial_commit(s, "crcupload1", total, &other,
					     hex2, &existed, &crc),
			 0);
	assert_string_equal(hex2, hex);
	assert_int_equal(crc, want);
	/* the empty blob's CRC is 0, as zlib's */
	assert_int_equal(blob_writer_open(s, &w), 0);
	assert_int_equal(blob_writer_commit(w, hex, &existed), 0);
	assert_int_equal(blob_writer_crc32(w), 0);
	blob_writer_abort(w);
	assert_int_equal(blob_partial_remove(s, "crcupload1"), 0);
	blob_store_close(s);
	free(data);
}

/* Past its first 4 MiB a writer hashes on a thread of its own: the name
 * and CRC are still those of every byte in order, over pieces of every
 * size (smaller and larger than the ring's slots), with several writers
 * at once (more than may have hashers: some hash in line), and a writer
 * aborted while its hasher runs leaves nothing (ASan sees the thread's
 * memory). */
#define BIG_WRITERS 5
static void test_blob_hash_thread(void **state)
{
	const size_t total = (13u << 20) + 4321;
	unsigned char *data = xmalloc(total);
	struct blob_store *s;
	struct blob_writer *w[BIG_WRITERS];
	unsigned char md[32];
	char want[BLOB_HEX_LEN + 1], hex[BLOB_HEX_LEN + 1], path[512];
	size_t off[BIG_WRITERS] = { 0 };
	bool existed;
	uint32_t seed = 7;

	randombytes_buf(data, total);
	crypto_hash_sha256(md, data, total);
	for (int i = 0; i < 32; i++)
		snprintf(want + 2 * i, 3, "%02x", md[i]);
	uint32_t crc = (uint32_t)crc32(crc32(0, Z_NULL, 0), data, (uInt)total);

	unsigned long started = blob_hash_threads_started();
	assert_int_equal(blob_fs_open(fixture_dir, &s), 0);
	for (int i = 0; i < BIG_WRITERS; i++)
		assert_int_equal(blob_writer_open(s, &w[i]), 0);
	/* interleaved, in pieces of 1 byte to 600 KiB */
	for (bool more = true; more;) {
		more = false;
		for (int i = 0; i < BIG_WRITERS; i++) {
			seed = seed * 1103515245u + 12345u;
			size_t k = (seed >> 8) % (600u << 10) + 1;
			if (off[i] + k > total)
				k = total - off[i];
			if (i == BIG_WRITERS - 1 && off[i] >= (9u << 20))
				k = 0; /* the last one is aborted there */
			if (k == 0)
				continue;
			assert_int_equal(blob_writer_write(w[i], data + off[i], k),
					 0);
			off[i] += k;
			more = true;
		}
	}
	blob_writer_abort(w[BIG_WRITERS - 1]);
	for (int i = 0; i < BIG_WRITERS - 1; i++) {
		assert_true(blob_writer_size(w[i]) == total);
		assert_int_equal(blob_writer_commit(w[i], hex, &existed), 0);
		assert_string_equal(hex, want);
		assert_int_equal(blob_writer_crc32(w[i]), crc);
		blob_writer_abort(w[i]);
	}
	/* at least the two a 1-CPU machine allows hashed on threads */
	assert_true(blob_hash_threads_started() - started >= 2);
	snprintf(path, sizeof(path), "%s/tmp", fixture_dir);
	assert_int_equal(count_files(path), 0);
	uint64_t size = 0;
	assert_int_equal(blob_stat(s, want, &size), 0);
	assert_true(size == total);
	blob_store_close(s);
	free(data);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		FIXTURE_TEST(test_blob_fs),
		FIXTURE_TEST(test_blob_crc32),
		FIXTURE_TEST(test_blob_hash_thread),
	};
	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
