/*
 * fuzz_zip.c — libFuzzer target for the zip layout (core/zip.c).
 * Input: one flag byte (bit 0: force_zip64, bit 1: a huge entry that
 * needs ZIP64 sizes), then records split at '\n': [size byte][4 bytes of
 * mtime, little-endian, signed, scaled by the size byte's low bits]
 * [path...] (at most 64 entries).
 * Checks:
 *   - zip_plan refuses (PT_EBADREQ) exactly when some path breaks the
 *     rules written in zip.h (checked against an independent reading of
 *     them) or a folder has bytes;
 *   - the pieces tile [0, total) in order, entry i's data is one piece of
 *     its size, after its local header, and zip_piece_at finds the piece
 *     of every offset from any hint;
 *   - when the archive is small, it is assembled (entry i's bytes are a
 *     function of i, CRC-32 from zlib) and libarchive's zip reader reads
 *     it back: the same names (when UTF-8), sizes, bytes and order.
 */
#include <archive.h>
#include <archive_entry.h>
#include <locale.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "core/zip.h"
#include "util/pool.h"
#include "util/pt.h"
#include "util/utf8.h"
#include "util/banned.h"

#define MAX_ENTRIES 64

/* zip.h: non-empty, at most 65535 bytes, relative, every segment
 * non-empty except after a trailing '/', no "." or "..", no backslash */
static bool path_ok(const char *p)
{
	size_t n = strlen(p);
	if (n == 0 || n > 65535 || p[0] == '/' || strchr(p, '\\'))
		return false;
	size_t start = 0;
	for (size_t i = 0; i <= n; i++) {
		if (i < n && p[i] != '/')
			continue;
		size_t k = i - start;
		if (i == n && k == 0)
			break; /* after the trailing '/' */
		if (k == 0 || (k == 1 && p[start] == '.') ||
		    (k == 2 && p[start] == '.' && p[start + 1] == '.'))
			return false;
		start = i + 1;
	}
	return true;
}

static unsigned char byte_of(size_t entry, uint64_t j)
{
	return (unsigned char)(entry * 31 + j * 7 + 1);
}

static void read_back(const unsigned char *zip, size_t len,
		      const struct zip_entry *e, size_t n)
{
	struct archive *a = archive_read_new();
	struct archive_entry *ae;
	size_t i = 0;
	unsigned char buf[512];

	archive_read_support_format_zip_seekable(a);
	PT_ASSERT(archive_read_open_memory(a, zip, len) == ARCHIVE_OK);
	int rc;
	while ((rc = archive_read_next_header(a, &ae)) == ARCHIVE_OK ||
	       rc == ARCHIVE_WARN) {
		PT_ASSERT(i < n);
		const char *name = archive_entry_pathname_utf8(ae);
		/* libarchive warns about names that are not UTF-8 (partage's
		 * are: disp_sanitize_name), and only about them */
		bool utf8 = !utf8_check(e[i].path, strlen(e[i].path),
					UTF8_NO_NUL, NULL);
		if (utf8) {
			if (rc != ARCHIVE_OK || !name || strcmp(name, e[i].path))
				pt_log("entry %zu: rc %d %s '%s'", i, rc,
				       archive_error_string(a), name ? name : "(null)");
			PT_ASSERT(rc == ARCHIVE_OK);
			PT_ASSERT(name && strcmp(name, e[i].path) == 0);
		}
		PT_ASSERT((uint64_t)archive_entry_size(ae) == e[i].size);
		uint64_t got = 0;
		la_ssize_t k;
		while ((k = archive_read_data(a, buf, sizeof(buf))) > 0) {
			for (la_ssize_t j = 0; j < k; j++)
				PT_ASSERT(buf[j] == byte_of(i, got + (uint64_t)j));
			got += (uint64_t)k;
		}
		PT_ASSERT(k == 0);
		PT_ASSERT(got == e[i].size);
		i++;
	}
	if (i != n)
		pt_log("read %zu of %zu: %s", i, n, archive_error_string(a));
	PT_ASSERT(i == n);
	archive_read_free(a);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct zip_entry e[MAX_ENTRIES + 1];
	size_t n = 0;
	bool expect_ok = true;
	static bool init;

	if (!init) {
		setlocale(LC_ALL, "C.UTF-8");
		init = true;
	}
	if (size == 0)
		return 0;
	bool force = data[0] & 1, huge = data[0] & 2;
	char *copy = malloc(size);
	memcpy(copy, data + 1, size - 1);
	copy[size - 1] = '\0';
	char *p = copy, *end = copy + size - 1;
	while (p < end && n < MAX_ENTRIES) {
		char *nl = memchr(p, '\n', (size_t)(end - p));
		char *rec_end = nl ? nl : end;
		*rec_end = '\0';
		if (rec_end - p >= 5) {
			const unsigned char *u = (const unsigned char *)p;
			uint32_t t = (uint32_t)u[1] | (uint32_t)u[2] << 8 |
				     (uint32_t)u[3] << 16 | (uint32_t)u[4] << 24;
			e[n].path = p + 5;
			e[n].size = u[0];
			/* seconds of 1902..2038, or far in the past or
			 * future (to year ±2.9e11: what gmtime_r refuses) */
			e[n].mtime = (int64_t)(int32_t)t * ((u[0] & 1) ? 1 : 977);
			if ((u[0] & 6) == 6)
				e[n].mtime = (int64_t)(int32_t)t * 4294967296;
			size_t pl = strlen(e[n].path);
			if (pl && e[n].path[pl - 1] == '/')
				e[n].size = 0;
			n++;
		}
		p = rec_end + 1;
	}
	if (huge) { /* sizes past 4 GiB: ZIP64 fields; planned, not built */
		e[n].path = "big.bin";
		e[n].size = (UINT64_C(1) << 32) + data[0];
		e[n].mtime = 0;
		n++;
	}
	for (size_t i = 0; i < n; i++) {
		e[i].crc32 = 0;
		if (!path_ok(e[i].path))
			expect_ok = false;
	}
	/* a folder with bytes is refused too */
	if (n && (data[0] & 4) && expect_ok) {
		size_t pl = strlen(e[0].path);
		if (e[0].path[pl - 1] == '/') {
			e[0].size = 1;
			expect_ok = false;
		}
	}

	struct pt_pool *pool = pt_pool_new();
	struct zip_plan plan;
	int err = zip_plan(pool, e, n, force, &plan);
	PT_ASSERT(err == 0 || err == PT_EBADREQ);
	PT_ASSERT((err == 0) == expect_ok);
	for (size_t i = 0; i < n; i++)
		PT_ASSERT(zip_path_ok(e[i].path) == path_ok(e[i].path));
	if (err)
		goto out;

	/* the pieces tile the archive; entry data in order, right sizes */
	uint64_t at = 0;
	size_t next_entry = 0;
	PT_ASSERT(plan.npieces >= 1);
	for (size_t i = 0; i < plan.npieces; i++) {
		const struct zip_piece *pc = &plan.pieces[i];
		PT_ASSERT(pc->at == at && pc->len > 0);
		if (!pc->text) {
			while (next_entry < n && e[next_entry].size == 0)
				next_entry++;
			PT_ASSERT(pc->entry == next_entry);
			PT_ASSERT(pc->len == e[pc->entry].size);
			PT_ASSERT(i > 0 && plan.pieces[i - 1].text);
			next_entry++;
		}
		at += pc->len;
	}
	while (next_entry < n && e[next_entry].size == 0)
		next_entry++;
	PT_ASSERT(next_entry == n);
	PT_ASSERT(at == plan.total);
	PT_ASSERT(plan.pieces[plan.npieces - 1].text);
	for (size_t i = 0; i < plan.npieces; i++) {
		const struct zip_piece *pc = &plan.pieces[i];
		size_t hint = (i * 7 + size) % plan.npieces;
		PT_ASSERT(zip_piece_at(&plan, pc->at, hint) == i);
		PT_ASSERT(zip_piece_at(&plan, pc->at + pc->len - 1, i) == i);
		if (i)
			PT_ASSERT(zip_piece_at(&plan, pc->at, i - 1) == i);
	}
	if (huge)
		goto out;

	/* small: build it, with the CRCs the bytes really have, and read it
	 * back */
	for (size_t i = 0; i < n; i++) {
		uLong c = crc32(0L, Z_NULL, 0);
		for (uint64_t j = 0; j < e[i].size; j++) {
			unsigned char b = byte_of(i, j);
			c = crc32(c, &b, 1);
		}
		e[i].crc32 = (uint32_t)c;
	}
	PT_ASSERT(zip_plan(pool, e, n, force, &plan) == 0);
	unsigned char *zip = malloc(plan.total);
	for (size_t i = 0; i < plan.npieces; i++) {
		const struct zip_piece *pc = &plan.pieces[i];
		if (pc->text)
			memcpy(zip + pc->at, pc->text, pc->len);
		else
			for (uint64_t j = 0; j < pc->len; j++)
				zip[pc->at + j] = byte_of(pc->entry, j);
	}
	if (n)
		read_back(zip, plan.total, e, n);
	else if (!force) /* libarchive does not recognise the empty zip: the canonical
	      * one, an end record alone */
		PT_ASSERT(plan.total == 22 &&
			  memcmp(zip, "PK\5\6\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0", 22) == 0);
	free(zip);
out:
	pt_pool_free(pool);
	free(copy);
	return 0;
}
