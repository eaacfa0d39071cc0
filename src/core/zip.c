/*
 * zip.c — the layout of a stored zip archive (zip.h), after PKWARE's
 * APPNOTE.TXT 6.3: local headers (4.3.7), central directory (4.3.12),
 * ZIP64 extra field (4.5.3), ZIP64 end records (4.3.14, 4.3.15), end of
 * central directory (4.3.16); and Info-ZIP's extended timestamp ("UT").
 */
#define _GNU_SOURCE
#include "zip.h"

#include <string.h>
#include <time.h>

#include "../util/buf.h"
#include "../util/pool.h"
#include "../util/pt.h"
#include "../util/banned.h"

#define SIG_LOCAL 0x04034b50u
#define SIG_CENTRAL 0x02014b50u
#define SIG_EOCD64 0x06064b50u
#define SIG_LOC64 0x07064b50u
#define SIG_EOCD 0x06054b50u
#define FLAG_UTF8 0x0800u
#define MADE_BY_UNIX 0x0300u /* upper byte 3: external attrs are Unix modes */
#define VER_STORED 10u       /* 1.0: stored */
#define VER_DIR 20u          /* 2.0: folders */
#define VER_ZIP64 45u        /* 4.5: ZIP64 */
#define MAX16 0xffffu
#define MAX32 0xffffffffu

struct out {
	unsigned char *p;
	size_t n;
};

static void put16(struct out *o, uint32_t v)
{
	o->p[o->n++] = (unsigned char)v;
	o->p[o->n++] = (unsigned char)(v >> 8);
}

static void put32(struct out *o, uint32_t v)
{
	put16(o, v & 0xffff);
	put16(o, v >> 16);
}

static void put64(struct out *o, uint64_t v)
{
	put32(o, (uint32_t)v);
	put32(o, (uint32_t)(v >> 32));
}

static void put(struct out *o, const void *p, size_t n)
{
	memcpy(o->p + o->n, p, n);
	o->n += n;
}

bool zip_path_ok(const char *path)
{
	size_t n = path ? strlen(path) : 0;
	if (n == 0 || n > MAX16 || path[0] == '/')
		return false;
	/* every segment non-empty (a trailing '/' marks a folder) and not
	 * "." or "..": an archive that unpacks outside its folder is a bug */
	for (const char *s = path; *s;) {
		const char *e = strchr(s, '/');
		size_t k = e ? (size_t)(e - s) : strlen(s);
		if (k == 0 || (k == 1 && s[0] == '.') ||
		    (k == 2 && s[0] == '.' && s[1] == '.') ||
		    memchr(s, '\\', k))
			return false;
		if (!e)
			break;
		s = e + 1;
	}
	return true;
}

/* MS-DOS time and date of t in UTC (the UT field carries the exact time);
 * 1980-01-01 for anything earlier, which DOS dates cannot say. */
static void dos_time(int64_t t, uint32_t *tm_out, uint32_t *date_out)
{
	struct tm tm;
	time_t tt = (time_t)(t < 315532800 ? 315532800 : t);
	if (!gmtime_r(&tt, &tm)) {
		/* a year past int (found by fuzz_zip: tm was left unset):
		 * the last time MS-DOS dates can say */
		tm = (struct tm){ .tm_year = 207, .tm_mon = 11, .tm_mday = 31,
				  .tm_hour = 23, .tm_min = 59, .tm_sec = 58 };
	}
	if (tm.tm_year > 207) { /* past 2107 */
		tm.tm_year = 207;
		tm.tm_mon = 11;
		tm.tm_mday = 31;
	}
	*tm_out = (uint32_t)(tm.tm_hour << 11 | tm.tm_min << 5 | tm.tm_sec / 2);
	*date_out = (uint32_t)((tm.tm_year - 80) << 9 | (tm.tm_mon + 1) << 5 |
			       tm.tm_mday);
}

static bool is_dir(const struct zip_entry *e)
{
	size_t n = strlen(e->path);
	return e->path[n - 1] == '/';
}

static void add_piece(struct pt_pool *pool, struct zip_plan *pl, size_t *cap,
		      const char *text, size_t entry, uint64_t len)
{
	if (len == 0)
		return;
	if (pl->npieces == *cap) {
		size_t ncap = *cap ? 2 * *cap : 16;
		struct zip_piece *np = pt_palloc(pool, ncap * sizeof(*np));
		if (pl->npieces)
			memcpy(np, pl->pieces, pl->npieces * sizeof(*np));
		pl->pieces = np;
		*cap = ncap;
	}
	pl->pieces[pl->npieces++] = (struct zip_piece){ text, entry, len,
							pl->total };
	pl->total += len;
}

int zip_plan(struct pt_pool *pool, const struct zip_entry *e, size_t n,
	     bool force_zip64, struct zip_plan *out)
{
	struct zip_plan pl = { 0 };
	size_t cap = 0;
	uint64_t *local_at = pt_palloc(pool, (n ? n : 1) * sizeof(*local_at));
	size_t cd_bytes = 0;

	for (size_t i = 0; i < n; i++)
		if (!zip_path_ok(e[i].path) || (is_dir(&e[i]) && e[i].size))
			return PT_EBADREQ;

	/* local headers and data */
	for (size_t i = 0; i < n; i++) {
		size_t nlen = strlen(e[i].path);
		bool z64 = force_zip64 || e[i].size >= MAX32;
		uint32_t t, d;
		struct out o = { pt_palloc(pool, 30 + nlen + 9 + 20), 0 };

		dos_time(e[i].mtime, &t, &d);
		local_at[i] = pl.total;
		put32(&o, SIG_LOCAL);
		put16(&o, z64 ? VER_ZIP64 : is_dir(&e[i]) ? VER_DIR : VER_STORED);
		put16(&o, FLAG_UTF8);
		put16(&o, 0); /* stored */
		put16(&o, t);
		put16(&o, d);
		put32(&o, e[i].crc32);
		put32(&o, z64 ? MAX32 : (uint32_t)e[i].size);
		put32(&o, z64 ? MAX32 : (uint32_t)e[i].size);
		put16(&o, (uint32_t)nlen);
		put16(&o, 9 + (z64 ? 20 : 0));
		put(&o, e[i].path, nlen);
		put16(&o, 0x5455); /* UT: flags, mtime */
		put16(&o, 5);
		o.p[o.n++] = 1;
		put32(&o, (uint32_t)e[i].mtime);
		if (z64) { /* both sizes, always, in a local header */
			put16(&o, 0x0001);
			put16(&o, 16);
			put64(&o, e[i].size);
			put64(&o, e[i].size);
		}
		add_piece(pool, &pl, &cap, (const char *)o.p, 0, o.n);
		add_piece(pool, &pl, &cap, NULL, i, e[i].size);
		cd_bytes += 46 + nlen + 9 + 28;
	}

	/* central directory and the end records, one piece */
	uint64_t cd_at = pl.total;
	struct out o = { pt_palloc(pool, cd_bytes + 56 + 20 + 22), 0 };
	for (size_t i = 0; i < n; i++) {
		size_t nlen = strlen(e[i].path);
		bool zsize = force_zip64 || e[i].size >= MAX32;
		bool zoff = force_zip64 || local_at[i] >= MAX32;
		uint32_t t, d, xlen = 9;
		bool dir = is_dir(&e[i]);

		if (zsize || zoff)
			xlen += 4 + (zsize ? 16 : 0) + (zoff ? 8 : 0);
		dos_time(e[i].mtime, &t, &d);
		put32(&o, SIG_CENTRAL);
		put16(&o, MADE_BY_UNIX | VER_ZIP64);
		put16(&o, zsize || zoff ? VER_ZIP64 : dir ? VER_DIR : VER_STORED);
		put16(&o, FLAG_UTF8);
		put16(&o, 0);
		put16(&o, t);
		put16(&o, d);
		put32(&o, e[i].crc32);
		put32(&o, zsize ? MAX32 : (uint32_t)e[i].size);
		put32(&o, zsize ? MAX32 : (uint32_t)e[i].size);
		put16(&o, (uint32_t)nlen);
		put16(&o, xlen);
		put16(&o, 0); /* comment */
		put16(&o, 0); /* disk */
		put16(&o, 0); /* internal attributes */
		/* Unix mode in the high half, MS-DOS folder bit in the low */
		put32(&o, dir ? (040755u << 16) | 0x10 : 0100644u << 16);
		put32(&o, zoff ? MAX32 : (uint32_t)local_at[i]);
		put(&o, e[i].path, nlen);
		put16(&o, 0x5455);
		put16(&o, 5);
		o.p[o.n++] = 1;
		put32(&o, (uint32_t)e[i].mtime);
		if (zsize || zoff) { /* only the fields that overflowed, in order */
			put16(&o, 0x0001);
			put16(&o, (zsize ? 16 : 0) + (zoff ? 8 : 0));
			if (zsize) {
				put64(&o, e[i].size);
				put64(&o, e[i].size);
			}
			if (zoff)
				put64(&o, local_at[i]);
		}
	}
	uint64_t cd_len = o.n;
	if (force_zip64 || n >= MAX16 || cd_at >= MAX32 || cd_len >= MAX32) {
		uint64_t eocd64_at = cd_at + cd_len;
		put32(&o, SIG_EOCD64);
		put64(&o, 44); /* size of the rest of this record */
		put16(&o, MADE_BY_UNIX | VER_ZIP64);
		put16(&o, VER_ZIP64);
		put32(&o, 0); /* this disk */
		put32(&o, 0); /* disk of the central directory */
		put64(&o, n);
		put64(&o, n);
		put64(&o, cd_len);
		put64(&o, cd_at);
		put32(&o, SIG_LOC64);
		put32(&o, 0);
		put64(&o, eocd64_at);
		put32(&o, 1); /* disks */
	}
	put32(&o, SIG_EOCD);
	put16(&o, 0);
	put16(&o, 0);
	put16(&o, n >= MAX16 ? MAX16 : (uint32_t)n);
	put16(&o, n >= MAX16 ? MAX16 : (uint32_t)n);
	put32(&o, cd_len >= MAX32 ? MAX32 : (uint32_t)cd_len);
	put32(&o, cd_at >= MAX32 ? MAX32 : (uint32_t)cd_at);
	put16(&o, 0); /* comment */
	add_piece(pool, &pl, &cap, (const char *)o.p, 0, o.n);
	*out = pl;
	return 0;
}

size_t zip_piece_at(const struct zip_plan *p, uint64_t pos, size_t hint)
{
	/* sequential reads: the hint's piece or the next one */
	for (size_t i = hint; i < p->npieces && i < hint + 2; i++)
		if (pos >= p->pieces[i].at &&
		    pos < p->pieces[i].at + p->pieces[i].len)
			return i;
	size_t lo = 0, hi = p->npieces;
	while (hi - lo > 1) {
		size_t mid = lo + (hi - lo) / 2;
		if (p->pieces[mid].at <= pos)
			lo = mid;
		else
			hi = mid;
	}
	return lo;
}
