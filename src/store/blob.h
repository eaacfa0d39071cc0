/*
 * blob.h — the blob store: content-addressed, immutable byte objects named
 * by the SHA-256 of their content.
 *
 * Writing: blob_writer_open() gives a writer; blob_writer_write() streams
 * bytes in (hashing them on the fly); blob_writer_commit() makes the object
 * durable under its hash and tells whether it already existed (dedup);
 * blob_writer_abort() throws everything away.  A writer that is neither
 * committed nor aborted leaks its temporary object: callers tie the abort to
 * their request pool (pt_pool_cleanup_add) at open time.  A crash at any
 * point leaves either nothing visible under the hash or a complete,
 * verified object; blob_store_cleanup() removes leftovers of interrupted
 * writers at start-up.
 *
 * Reading: blob_reader_open() by hash; blob_reader_fd() is a fast path for
 * backends with a local file (sendfile) and returns -1 otherwise, in which
 * case blob_reader_pread() streams.  Backends: fs (blob_fs.c, a local
 * directory) and s3 (blob_s3*.c, any S3-compatible store through s3.c) —
 * the vtable is the only thing handlers see.
 *
 * All functions may block on I/O.  Return 0 or a negative status (errno
 * passes through: -ENOSPC means the store is full).
 */
#ifndef PT_BLOB_H
#define PT_BLOB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define BLOB_HEX_LEN 64

struct blob_store;
struct blob_presign;
struct blob_writer;
struct blob_reader;
struct runhash;

/* The backend's half; the generic half (hashing, accounting) is blob.c. */
struct blob_ops {
	const char *name;
	int (*writer_open)(struct blob_store *s, void **state);
	int (*writer_write)(void *state, const void *p, size_t n);
	/* optional: the blob will be at most max bytes (before any write) */
	void (*writer_expect)(void *state, uint64_t max);
	/* make the object durable as `hex`; *existed when it was there.
	 * The state stays (for writer_ensure) until writer_abort. */
	int (*writer_commit)(void *state, const char *hex, uint64_t size,
			     bool *existed);
	/* after commit: put the object back if it vanished meanwhile */
	int (*writer_ensure)(void *state, const char *hex);
	void (*writer_abort)(void *state);
	int (*reader_open)(struct blob_store *s, const char *hex, void **state,
			   uint64_t *size);
	int (*reader_fd)(void *state);
	/* hand the fd to the caller (who closes it); -1 when none */
	int (*reader_take_fd)(void *state);
	ssize_t (*reader_pread)(void *state, void *p, size_t n, uint64_t off);
	void (*reader_close)(void *state);
	/* -ENOENT when absent */
	int (*stat)(struct blob_store *s, const char *hex, uint64_t *size);
	int (*remove)(struct blob_store *s, const char *hex);
	/* call cb for every stored object; stops when cb returns non-zero */
	int (*list)(struct blob_store *s,
		    int (*cb)(const char *hex, uint64_t size, int64_t mtime, void *arg),
		    void *arg);
	int (*cleanup)(struct blob_store *s);
	void (*close)(struct blob_store *s);

	/* partial uploads (tus), named by upload id */
	int (*partial_create)(struct blob_store *s, const char *uid);
	int (*partial_open)(struct blob_store *s, const char *uid,
			    uint64_t offset, void **state);
	int (*partial_write)(void *state, const void *p, size_t n);
	int (*partial_sync)(void *state);
	int (*partial_truncate)(void *state, uint64_t offset);
	void (*partial_close)(void *state);
	ssize_t (*partial_pread)(struct blob_store *s, const char *uid,
				 void *p, size_t n, uint64_t off);
	/* make the partial the blob `hex` (the partial stays); idempotent,
	 * so it is also the partial's "ensure" */
	int (*partial_link)(struct blob_store *s, const char *uid,
			    const char *hex, bool *existed);
	/* dst = concatenation of the complete partials src[0..n) */
	int (*partial_concat)(struct blob_store *s, const char *dst,
			      const char *const *src, size_t n);
	int (*partial_remove)(struct blob_store *s, const char *uid);
	/* every partial (may be NULL: the backend cannot list them) */
	int (*partial_list)(struct blob_store *s,
			    int (*cb)(const char *uid, int64_t mtime, void *arg),
			    void *arg);
	/* a URL that serves the blob without us (may be NULL: no such
	 * thing, as on fs) */
	int (*presign)(struct blob_store *s, const char *hex,
		       const struct blob_presign *p, char **url);
};

struct blob_store {
	const struct blob_ops *ops;
	void *impl;
};

/* fs backend rooted at dir (creates dir/blobs and dir/tmp). */
int blob_fs_open(const char *dir, struct blob_store **out);
/* s3 backend on one bucket (blob_s3.c): checks the bucket is reachable
 * with these keys (-ENOENT: no such bucket) and starts its part-upload
 * threads; blob_store_close stops them.  public_endpoint (NULL or "":
 * endpoint) is where the clients of presigned URLs reach the store. */
int blob_s3_open(const char *endpoint, const char *bucket, const char *region,
		 const char *access_key, const char *secret_key,
		 const char *public_endpoint, struct blob_store **out);
/* The same from every S3 setting (s3.h: the addressing style too);
 * c->bucket may be "bucket/prefix" here as well. */
struct s3_conf;
int blob_s3_open_conf(const struct s3_conf *c, struct blob_store **out);
void blob_store_close(struct blob_store *s);
/* Remove temp objects left by interrupted writers; returns how many or <0. */
int blob_store_cleanup(struct blob_store *s);

int blob_writer_open(struct blob_store *s, struct blob_writer **out);
int blob_writer_write(struct blob_writer *w, const void *p, size_t n);
/* Before the first write: the blob will be at most max bytes (the
 * request's Content-Length, or the uploader's limit).  The s3 backend
 * sizes its multipart parts by it — equal parts, the last one smaller, as
 * Cloudflare R2 requires — so that MAX_PARTS of them hold max; without
 * it, parts are PART_SIZE and a blob past MAX_PARTS of them is refused.
 * Ignored after the first write. */
void blob_writer_expect(struct blob_writer *w, uint64_t max);
uint64_t blob_writer_size(const struct blob_writer *w);
/* The CRC-32 of the bytes written (zip entries need it), once
 * blob_writer_commit has succeeded: before that the hasher may still be
 * at work. */
uint32_t blob_writer_crc32(const struct blob_writer *w);
/* How many writers have hashed on a thread of their own so far (blob.c's
 * comment; for tests). */
unsigned long blob_hash_threads_started(void);
/*
 * Make the bytes durable as the blob named by their SHA-256 (into hex).
 * The writer stays usable for blob_writer_ensure() until it is freed with
 * blob_writer_abort() (which, after a commit, only releases the source).
 *
 * The garbage-collection protocol (docs/internals.md): a commit that finds
 * the blob already there (dedup) may race with gc deleting it.  So the
 * caller records the blob in the metadata store in a transaction that
 * first locks the blob's row (repo_blob_pin), then calls
 * blob_writer_ensure() — which re-creates the object from the writer's
 * still-open source if gc removed it — and only then inserts the link.
 * gc deletes an object only while holding the same row lock and seeing no
 * live link, so one of the two always wins cleanly.
 */
int blob_writer_commit(struct blob_writer *w, char hex[BLOB_HEX_LEN + 1],
		       bool *existed);
int blob_writer_ensure(struct blob_writer *w);
void blob_writer_abort(struct blob_writer *w);

int blob_reader_open(struct blob_store *s, const char *hex,
		     struct blob_reader **out);
/* The same, the bytes from c (blobcache.h: small blobs in memory) when
 * they are there, and put there when the blob is small and has an fd; a
 * reader from the cache has no fd.  c NULL: blob_reader_open. */
struct blob_cache;
int blob_reader_open_cached(struct blob_store *s, struct blob_cache *c,
			    const char *hex, struct blob_reader **out);
uint64_t blob_reader_size(const struct blob_reader *r);
/* A local fd positioned nowhere in particular (use offsets), owned by the
 * reader, or -1 when the backend has none. */
int blob_reader_fd(struct blob_reader *r);
/* Whether r's bytes are in memory (blob_reader_open_cached's hit). */
bool blob_reader_cached(const struct blob_reader *r);
/* Like pread(2): bytes read, 0 at end, or a negative status. */
ssize_t blob_reader_pread(struct blob_reader *r, void *p, size_t n,
			  uint64_t off);
/* A descriptor of the blob for the caller to own (MHD closes it after
 * sendfile); the reader stays usable and is still to be closed.  -1 when
 * the backend has none or the process is out of descriptors. */
int blob_reader_take_fd(struct blob_reader *r);
void blob_reader_close(struct blob_reader *r);
/* The CRC-32 (zlib's, as zip uses) of a stored blob, read in full.
 * Returns 0, -ENOENT, PT_ECORRUPT when it is shorter than it says, or
 * the backend's status.  Blocks. */
int blob_crc32(struct blob_store *s, const char *hex, uint32_t *crc);

int blob_stat(struct blob_store *s, const char *hex, uint64_t *size);
int blob_remove(struct blob_store *s, const char *hex);
int blob_list(struct blob_store *s,
	      int (*cb)(const char *hex, uint64_t size, int64_t mtime, void *arg), void *arg);

bool blob_hex_valid(const char *hex);
/* Do this store's readers wait for the network (s3: every open and read
 * is a request), rather than for a local disk (fs: the page cache, or
 * sendfile)?  Never blocks. */
bool blob_store_may_block(const struct blob_store *s);

/*
 * A short-lived URL from which the client fetches the blob straight from
 * the store (S3 presigned GET), so the store or a CDN in front of it
 * carries the bytes instead of this node.  The URL makes the store answer
 * with the given Content-Type and Content-Disposition; Range works on it.
 * now is the real clock (the store checks the expiry against its own).
 * Returns 0 with *url (caller frees), -ENOTSUP when the backend cannot
 * (fs), -ENOENT for a bad hex.  Does not check that the blob exists.
 * Never blocks.
 */
struct blob_presign {
	const char *content_type;        /* NULL: the store's */
	const char *content_disposition; /* NULL: none */
	uint64_t seconds;                /* lifetime */
	int64_t now;
};
int blob_presign(struct blob_store *s, const char *hex,
		 const struct blob_presign *p, char **url);

/*
 * Partial uploads: bytes that arrive over many requests, possibly on
 * several nodes, before they become a blob (tus).  The metadata store
 * keeps the durable offset; a partial may hold bytes past it (written but
 * not yet synced and recorded when the process died), so opening one
 * truncates it to the offset the caller knows is durable.
 * uid must be [0-9A-Za-z]{1,64} (PT_EBADREQ otherwise).
 */
struct blob_partial;
int blob_partial_create(struct blob_store *s, const char *uid);
/* Open for appending at `offset` (the partial is cut there). */
int blob_partial_open(struct blob_store *s, const char *uid, uint64_t offset,
		      struct blob_partial **out);
int blob_partial_write(struct blob_partial *p, const void *data, size_t n);
uint64_t blob_partial_size(const struct blob_partial *p);
/* Make everything written so far durable. */
int blob_partial_sync(struct blob_partial *p);
/* Cut back to offset (a chunk that failed its checksum). */
int blob_partial_truncate(struct blob_partial *p, uint64_t offset);
void blob_partial_close(struct blob_partial *p);
/* Commit the complete partial of `size` bytes as a blob; *crc (if not
 * NULL) gets its CRC-32.  Its hash is `known` when that covers exactly
 * `size` bytes (the running hash of the bytes as they were written: no
 * read), and is taken by reading the partial back otherwise.  The
 * partial stays, so a crash before the caller records the blob can be
 * retried; remove it with blob_partial_remove afterwards. */
int blob_partial_commit(struct blob_store *s, const char *uid, uint64_t size,
			const struct runhash *known,
			char hex[BLOB_HEX_LEN + 1], bool *existed,
			uint32_t *crc);
/* Link the (still present) partial as blob hex again: gc's protocol. */
int blob_partial_relink(struct blob_store *s, const char *uid,
			const char *hex);
int blob_partial_concat(struct blob_store *s, const char *dst,
			const char *const *src, size_t n);
int blob_partial_remove(struct blob_store *s, const char *uid);
/* Read from a partial without opening it for writing (which cuts it):
 * bytes read, 0 past its end, or a negative status (-ENOENT: none). */
ssize_t blob_partial_pread(struct blob_store *s, const char *uid, void *buf,
			   size_t n, uint64_t off);
/* Call cb for every partial (gc's sweep of orphans); 0 when the backend
 * cannot list. */
int blob_partial_list(struct blob_store *s,
		      int (*cb)(const char *uid, int64_t mtime, void *arg),
		      void *arg);

#endif
