/*
 * test_zip.c — the zip layout (core/zip.c) against two independent
 * readers: libarchive's zip reader (names, sizes, bytes, CRC checks) and
 * Info-ZIP's `unzip -t` (CRC of every entry, structure, ZIP64), for plain
 * archives, forced ZIP64, folders, an empty archive and UTF-8 names; plus
 * the path rules, piece lookup and the offsets of a >4 GiB layout (planned
 * only: its bytes are never made).
 */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <locale.h>
#include <unistd.h>

#include <cmocka.h>
#include <archive.h>
#include <archive_entry.h>
#include <zlib.h>

#include "core/zip.h"
#include "util/pool.h"
#include "util/pt.h"
#include "util/banned.h"

struct file {
	const char *path;
	const char *data; /* NULL: folder */
	size_t size;
};

/* Build the archive of files into malloc'd memory via the plan. */
static unsigned char *build(const struct file *f, size_t n, bool z64,
			    size_t *len)
{
	struct pt_pool *pool = pt_pool_new();
	struct zip_entry *e = pt_palloc(pool, (n + 1) * sizeof(*e));
	struct zip_plan pl;

	for (size_t i = 0; i < n; i++) {
		e[i].path = f[i].path;
		e[i].size = f[i].data ? f[i].size : 0;
		e[i].crc32 = (uint32_t)crc32(0, (const Bytef *)f[i].data,
					     (uInt)e[i].size);
		e[i].mtime = 1700000000 + (int64_t)i * 61;
	}
	assert_int_equal(zip_plan(pool, e, n, z64, &pl), 0);
	unsigned char *out = malloc(pl.total ? pl.total : 1);
	uint64_t at = 0;
	for (size_t i = 0; i < pl.npieces; i++) {
		const struct zip_piece *p = &pl.pieces[i];
		assert_int_equal(p->at, at);
		memcpy(out + at, p->text ? p->text : f[p->entry].data, p->len);
		at += p->len;
		/* every offset maps back to its piece */
		assert_int_equal(zip_piece_at(&pl, p->at, 0), i);
		assert_int_equal(zip_piece_at(&pl, p->at + p->len - 1, i), i);
	}
	assert_int_equal(at, pl.total);
	*len = pl.total;
	pt_pool_free(pool);
	return out;
}

static void check_libarchive(const unsigned char *z, size_t len,
			     const struct file *f, size_t n)
{
	struct archive *a = archive_read_new();
	struct archive_entry *ae;
	size_t i = 0;

	archive_read_support_format_zip_seekable(a);
	assert_int_equal(archive_read_open_memory(a, z, len), ARCHIVE_OK);
	int rr;
	while ((rr = archive_read_next_header(a, &ae)) == ARCHIVE_OK) {
		assert_true(i < n);
		const char *name = archive_entry_pathname_utf8(ae);
		assert_non_null(name);
		assert_string_equal(name, f[i].path);
		assert_int_equal(archive_entry_mtime(ae),
				 1700000000 + (int64_t)i * 61);
		if (f[i].data) {
			char *buf = malloc(f[i].size + 1);
			assert_int_equal(archive_entry_size(ae), f[i].size);
			la_ssize_t k = archive_read_data(a, buf, f[i].size + 1);
			assert_int_equal(k, (la_ssize_t)f[i].size);
			assert_memory_equal(buf, f[i].data, f[i].size);
			free(buf);
		} else {
			assert_int_equal(archive_entry_filetype(ae), AE_IFDIR);
		}
		i++;
	}
	if (i != n)
		fail_msg("entry %zu: %s", i, archive_error_string(a));
	archive_read_free(a);
}

/* unzip -t exits 0 when every CRC matches; 1 is only "warnings" (an
 * empty archive), which the empty case accepts. */
static int unzip_t(const unsigned char *z, size_t len)
{
	char path[] = "/tmp/partage-test-zip-XXXXXX";
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, z, len), (ssize_t)len);
	close(fd);
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "unzip -tqq %s >/dev/null 2>&1", path);
	int rc = system(cmd);
	unlink(path);
	return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

static const struct file files[] = {
	{ "notes.txt", "hello, zip\n", 11 },
	{ "sub/", NULL, 0 },
	{ "sub/empty.bin", "", 0 },
	{ "sub/r\xc3\xa9sum\xc3\xa9 \xe6\x97\xa5\xe6\x9c\xac.txt",
	  "UTF-8 names, bit 11", 19 },
	{ "sub/deeper/x", "x", 1 },
};

static void test_plain(void **state)
{
	size_t len;
	unsigned char *z = build(files, PT_ARRAY_LEN(files), false, &len);
	assert_memory_equal(z, "PK\3\4", 4);
	assert_memory_equal(z + len - 22, "PK\5\6", 4);
	check_libarchive(z, len, files, PT_ARRAY_LEN(files));
	assert_int_equal(unzip_t(z, len), 0);
	free(z);
}

static void test_zip64_forced(void **state)
{
	size_t len;
	unsigned char *z = build(files, PT_ARRAY_LEN(files), true, &len);
	/* the ZIP64 end record and locator sit before the classic end */
	assert_memory_equal(z + len - 22 - 20, "PK\6\7", 4);
	assert_memory_equal(z + len - 22 - 20 - 56, "PK\6\6", 4);
	check_libarchive(z, len, files, PT_ARRAY_LEN(files));
	assert_int_equal(unzip_t(z, len), 0);
	free(z);
}

static void test_empty(void **state)
{
	size_t len;
	unsigned char *z = build(NULL, 0, false, &len);
	assert_int_equal(len, 22);
	assert_memory_equal(z, "PK\5\6", 4);
	/* libarchive's seekable reader refuses an archive without entries
	 * ("Truncated ZIP file data"); Info-ZIP reads it as empty */
	assert_true(unzip_t(z, len) <= 1);
	free(z);
}

static void test_corruption_detected(void **state)
{
	/* the readers do check: one flipped data byte fails unzip -t */
	size_t len;
	unsigned char *z = build(files, 1, false, &len);
	z[30 + strlen(files[0].path) + 9] ^= 1;
	assert_int_not_equal(unzip_t(z, len), 0);
	free(z);
}

static void test_paths(void **state)
{
	static const struct {
		const char *p;
		bool ok;
	} rows[] = {
		{ "a", true },	      { "a/b", true },	  { "a/", true },
		{ "", false },	      { "/a", false },	  { "a//b", false },
		{ "../a", false },    { "a/../b", false }, { "a/..", false },
		{ "./a", false },     { "a\\b", false },   { "..a", true },
		{ "a..", true },
	};
	for (size_t i = 0; i < PT_ARRAY_LEN(rows); i++)
		if (zip_path_ok(rows[i].p) != rows[i].ok)
			fail_msg("zip_path_ok(\"%s\") != %d", rows[i].p,
				 rows[i].ok);
	struct pt_pool *pool = pt_pool_new();
	struct zip_entry bad = { "../escape", 1, 0, 0 };
	struct zip_plan pl;
	assert_int_equal(zip_plan(pool, &bad, 1, false, &pl), PT_EBADREQ);
	struct zip_entry dir_with_bytes = { "d/", 5, 0, 0 };
	assert_int_equal(zip_plan(pool, &dir_with_bytes, 1, false, &pl),
			 PT_EBADREQ);
	pt_pool_free(pool);
}

static uint64_t rd64(const char *p)
{
	uint64_t v = 0;
	for (int i = 7; i >= 0; i--)
		v = v << 8 | (unsigned char)p[i];
	return v;
}

/* found by fuzz_zip: an mtime whose year gmtime_r cannot give left the
 * DOS date made of an unset struct tm (UBSan: shift of a negative
 * value); such times, and any past 2107, are dated 2107-12-31 */
static void test_far_times(void **state)
{
	/* glibc leaves a wrapped, negative tm_year for the last one */
	static const int64_t t[] = { INT64_MAX, INT64_C(1) << 62,
				     INT64_C(4102444800) * 1000,
				     INT64_C(0x5b5b5b62) << 32 };
	for (size_t i = 0; i < PT_ARRAY_LEN(t); i++) {
		struct pt_pool *pool = pt_pool_new();
		struct zip_entry e = { "a.txt", 0, 0, t[i] };
		struct zip_plan pl;
		assert_int_equal(zip_plan(pool, &e, 1, false, &pl), 0);
		const unsigned char *h = (const unsigned char *)pl.pieces[0].text;
		unsigned date = h[12] | h[13] << 8;
		assert_int_equal(date, (127u << 9) | (12u << 5) | 31u);
		pt_pool_free(pool);
	}
}

static void test_big_layout(void **state)
{
	/* 5 GiB then a small file: sizes and offsets past 4 GiB switch to
	 * ZIP64 fields; the layout adds up without a byte of data */
	struct pt_pool *pool = pt_pool_new();
	struct zip_entry e[2] = { { "big.bin", 5ull << 30, 0x12345678, 0 },
				  { "after.txt", 3, 0, 0 } };
	struct zip_plan pl;
	assert_int_equal(zip_plan(pool, e, 2, false, &pl), 0);
	assert_int_equal(pl.npieces, 5);
	/* local header of big.bin: ZIP64 extra with both sizes */
	const char *h = pl.pieces[0].text;
	assert_int_equal(pl.pieces[0].len, 30 + 7 + 9 + 20);
	assert_int_equal(rd64(h + 30 + 7 + 9 + 4), 5ull << 30);
	assert_int_equal(pl.pieces[1].len, 5ull << 30);
	uint64_t second = pl.pieces[2].at;
	assert_int_equal(second, pl.pieces[1].at + (5ull << 30));
	/* the central record of after.txt carries its offset in ZIP64 */
	const char *cd = pl.pieces[4].text;
	size_t first_cd = 46 + 7 + 9 + 4 + 16;
	const char *c2 = cd + first_cd;
	assert_memory_equal(c2, "PK\1\2", 4);
	assert_int_equal(rd64(c2 + 46 + 9 + 9 + 4), second);
	assert_int_equal(zip_piece_at(&pl, (5ull << 30) + 100, 0), 2);
	assert_int_equal(zip_piece_at(&pl, pl.total - 1, 0), 4);
	pt_pool_free(pool);
}

int main(void)
{
	setlocale(LC_ALL, "C.UTF-8"); /* libarchive converts names */
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_plain),
		cmocka_unit_test(test_zip64_forced),
		cmocka_unit_test(test_empty),
		cmocka_unit_test(test_corruption_detected),
		cmocka_unit_test(test_paths),
		cmocka_unit_test(test_far_times),
		cmocka_unit_test(test_big_layout),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
