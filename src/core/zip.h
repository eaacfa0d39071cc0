/*
 * zip.h — the byte layout of a stored (uncompressed) zip archive, computed
 * before a byte of it is sent.
 *
 * A folder download is a zip whose every byte is a function of what the
 * metadata already knows: each entry's path, size, CRC-32 and time.  So
 * the archive's length is known in advance (Content-Length), any byte
 * range of it can be produced without producing what comes before (Range,
 * resumes, several connections), and the same inputs give the same bytes
 * on every node (a strong ETag).  A streaming zip writer such as
 * libarchive's computes the CRC from the data as it goes and can only
 * start at byte 0, which is why the layout is planned here and checked
 * against libarchive's reader and Info-ZIP's `unzip -t` in the tests.
 *
 * The plan is a list of pieces in archive order: literal bytes (headers,
 * the central directory) and the data of entry i.  Entries carry no data
 * descriptors (the CRC is known before the data), their names are UTF-8
 * (general purpose bit 11), and ZIP64 records appear only where a size,
 * an offset or the entry count does not fit the classic fields (or always,
 * with force_zip64, for tests).
 *
 *   local header   PK\3\4 ver flags method time date crc csize usize
 *                  nlen xlen | name | extra (UT mtime, ZIP64 sizes)
 *   data           the entry's bytes, stored
 *   ...
 *   central dir    PK\1\2 … per entry (UT mtime, ZIP64 sizes/offset)
 *   [zip64 eocd    PK\6\6 … | zip64 locator PK\6\7 …]
 *   eocd           PK\5\6 … entries, cd size, cd offset
 */
#ifndef PT_ZIP_H
#define PT_ZIP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct pt_pool;

struct zip_entry {
	const char *path; /* UTF-8, '/'-separated; a trailing '/' = folder */
	uint64_t size;    /* 0 for folders */
	uint32_t crc32;
	int64_t mtime;    /* Unix time */
};

/* A piece of the archive: `len` literal bytes at `text`, or (text NULL)
 * the whole data of entry `entry`. */
struct zip_piece {
	const char *text;
	size_t entry;
	uint64_t len;
	uint64_t at; /* offset of the piece in the archive */
};

struct zip_plan {
	struct zip_piece *pieces; /* pool memory */
	size_t npieces;
	uint64_t total;           /* the archive's length */
};

/* Plan the archive of entries e[0..n) into pool memory.  Paths must be
 * non-empty, at most 65535 bytes, relative, without "." or ".."
 * segments (zip_path_ok).  Returns 0, or PT_EBADREQ for a bad path.
 * Never blocks. */
int zip_plan(struct pt_pool *pool, const struct zip_entry *e, size_t n,
	     bool force_zip64, struct zip_plan *out);

/* Is path acceptable as an entry name (see zip_plan)? */
bool zip_path_ok(const char *path);

/* The index of the piece holding archive offset pos (pos < total), found
 * from hint (the last answer) forwards, else by binary search. */
size_t zip_piece_at(const struct zip_plan *p, uint64_t pos, size_t hint);

#endif
