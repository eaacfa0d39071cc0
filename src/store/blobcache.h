/*
 * blobcache.h — the bytes of small blobs kept in memory for the download
 * path.
 *
 * A small file served from disk costs four system calls besides the
 * answer (open, fstat, pread, close), which is a third of the server's
 * time on a 4 KiB GET.  Blobs are immutable and named by their content's
 * hash, so a copy in memory can never be stale: the link lookup decides
 * whether a blob may be served, the cache only spares the disk.  A blob
 * removed by gc and uploaded again has the same bytes.
 *
 * Entries are blobs of at most max_entry bytes, kept within a budget of
 * bytes (entries and their bookkeeping), the least recently used evicted
 * first.  An entry is reference-counted: a reader holding one keeps its
 * bytes while it is evicted.  Thread-safe (one mutex, held for a lookup or
 * an insert, never across I/O).
 */
#ifndef PT_BLOBCACHE_H
#define PT_BLOBCACHE_H

#include <stddef.h>
#include <stdint.h>

/* The largest blob worth keeping: the download path's "small body" (its
 * headers and body leave in one write). */
#define BLOB_CACHE_MAX_ENTRY (64 * 1024)

struct blob_cache;
struct blob_cached;

/* NULL when budget is 0 (no cache). */
struct blob_cache *blob_cache_new(uint64_t budget, size_t max_entry);
void blob_cache_free(struct blob_cache *c);
size_t blob_cache_max_entry(const struct blob_cache *c);

/* The entry of hex, referenced (blob_cache_unref), or NULL. */
struct blob_cached *blob_cache_get(struct blob_cache *c, const char *hex);
/* Insert a copy of bytes [0, size) as hex and return it referenced (an
 * entry already there is returned instead); NULL when size is over
 * max_entry or over the budget. */
struct blob_cached *blob_cache_put(struct blob_cache *c, const char *hex,
				   const void *bytes, size_t size);
void blob_cache_unref(struct blob_cached *e);
const unsigned char *blob_cached_bytes(const struct blob_cached *e);
size_t blob_cached_size(const struct blob_cached *e);

/* What it holds now: entries and bytes charged to the budget. */
void blob_cache_usage(struct blob_cache *c, size_t *entries,
		      uint64_t *bytes);

#endif
