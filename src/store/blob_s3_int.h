/*
 * blob_s3_int.h — the inside of the s3 blob backend, shared by its files
 * and by nothing else (tests/unit/test_s3.c aside, which lowers the
 * tunables):
 *
 *   blob_s3.c          the store: open, close, the vtable, presigned URLs;
 *                      the design notes (layout, writing, reading, tus)
 *   blob_s3_req.c      the S3 requests the others are made of: objects,
 *                      multipart uploads, server-side copies, listings,
 *                      and the aborts retried while the store is away
 *   blob_s3_write.c    writers: the part buffer, the part-upload workers,
 *                      commit and ensure
 *   blob_s3_read.c     readers (one streaming GET) and stat
 *   blob_s3_gc.c       what gc and fsck use (list, remove) and the cleanup
 *                      of what interrupted writers left
 *   blob_s3_partial.c  partial (tus) uploads as 8 MiB segment objects
 *
 * Every function here may block on the network unless it says otherwise,
 * and returns 0 or a status of s3.h (-ENOENT for a missing object).
 */
#ifndef PT_BLOB_S3_INT_H
#define PT_BLOB_S3_INT_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "blob.h"
#include "s3.h"

/* the defaults of the tunables of struct s3_store */
#define PART_SIZE (8u << 20)   /* the least part (blob_s3_part_size) */
#define INFLIGHT 3             /* parts in flight per writer */
#define COPY_MAX (5ull << 30)  /* S3's CopyObject limit */
#define COPY_PART (1ull << 30) /* UploadPartCopy range above it */
#define SEG_SIZE (8u << 20)    /* tus segment */
#define GRACE_SECONDS 86400    /* cleanup leaves younger leftovers */

#define MAX_PARTS 10000 /* S3's limit of a multipart upload */
#define WORKERS 8       /* part-upload threads of a store */
#define KEY_MAX 128
#define LIST_MAX (16u << 20) /* one listing page of XML */
#define ORPHAN_RETRY_SECONDS 3

struct job; /* a part for the workers (blob_s3_write.c) */

/* A multipart upload of this process that a writer gave up but the store
 * did not take the abort of: retried until it does (blob_s3.c's notes). */
struct orphan {
	struct orphan *next;
	char *key, *id;
};

struct s3_store {
	struct s3 *s3;
	char *bucket;
	char *prefix; /* "" or "name/": several stores share one bucket */
	/* tunables: constants in production, lowered by the unit test */
	size_t part_size, seg_size;
	unsigned inflight;
	uint64_t copy_max, copy_part;
	int64_t grace;
	/* part uploads of every writer, on WORKERS threads */
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct job *head, *tail;
	bool stop;
	struct orphan *orphans; /* aborts to retry, under mu */
	bool retrying;          /* a worker is retrying them */
	pthread_t th[WORKERS];
	int nth;
};

/* ---- blob_s3_req.c ---- */

/* Part and segment buffers, from mmap (why: blob_s3_req.c).  Allocation
 * failure aborts (the x* policy).  Never block. */
char *blob_s3_big_alloc(size_t n);
void blob_s3_big_free(char *p, size_t n);

/* The key of blob hex: PREFIX/blobs/ab/cd/<hex>.  Never blocks. */
void blob_s3_key(struct s3_store *st, const char *hex, char out[KEY_MAX]);

/* HEAD (size may be NULL), PUT of n bytes, DELETE (0 when already gone). */
int blob_s3_obj_head(struct s3_store *st, const char *key, uint64_t *size);
int blob_s3_obj_put(struct s3_store *st, const char *key, const void *p,
		    size_t n);
int blob_s3_obj_delete(struct s3_store *st, const char *key);
/* dst := src (size bytes), server-side: CopyObject up to st->copy_max,
 * UploadPartCopy ranges of st->copy_part above it. */
int blob_s3_obj_copy(struct s3_store *st, const char *src, const char *dst,
		     uint64_t size);

/* Start a multipart upload to key; *id (caller frees) on success. */
int blob_s3_mpu_initiate(struct s3_store *st, const char *key, char **id);
/* 0 when the upload is gone (404: already), else the request's status. */
int blob_s3_mpu_abort(struct s3_store *st, const char *key, const char *id);
/* Abort, or remember the upload for the retries when the store does not
 * answer (the workers retry every ORPHAN_RETRY_SECONDS). */
void blob_s3_mpu_abort_later(struct s3_store *st, const char *key,
			     const char *id);
/* Complete with the ETags of parts 1..n. */
int blob_s3_mpu_complete(struct s3_store *st, const char *key,
			 const char *id, char *const *etags, unsigned n);
/* UploadPartCopy of [from, to) of src (whole object when to == 0) as part
 * partno of upload id at dst; *etag (caller frees) on success. */
int blob_s3_part_copy(struct s3_store *st, const char *dst, const char *id,
		      unsigned partno, const char *src, uint64_t from,
		      uint64_t to, char **etag);

/* Try the remembered aborts (st->orphans); returns how many went. */
int blob_s3_orphans_retry(struct s3_store *st);
void blob_s3_orphan_free(struct orphan *o);

/* Every object under PREFIX/prefix (cb gets the full key), a page at a
 * time; stops when cb returns non-zero (returned when negative). */
int blob_s3_list_prefix(struct s3_store *st, const char *prefix,
			int (*cb)(const char *key, uint64_t size,
				  int64_t mtime, void *arg),
			void *arg);

/* ---- the vtable's entries, by file (blob.h's struct blob_ops) ---- */

/* blob_s3_write.c; blob_s3_worker is the thread blob_s3_open starts
 * WORKERS of (arg: the store), until st->stop. */
void *blob_s3_worker(void *arg);
int blob_s3_writer_open(struct blob_store *s, void **state);
int blob_s3_writer_write(void *state, const void *p, size_t n);
void blob_s3_writer_expect(void *state, uint64_t max);
/* The part size of a multipart upload of at most max bytes (0: unknown):
 * base (the store's PART_SIZE), or the MiB multiple that lets MAX_PARTS
 * parts hold max, up to S3's 5 GiB.  Every part has it but the last. */
size_t blob_s3_part_size(size_t base, uint64_t max);
int blob_s3_writer_commit(void *state, const char *hex, uint64_t size,
			  bool *existed);
int blob_s3_writer_ensure(void *state, const char *hex);
void blob_s3_writer_abort(void *state);

/* blob_s3_read.c */
int blob_s3_reader_open(struct blob_store *s, const char *hex, void **state,
			uint64_t *size);
int blob_s3_reader_fd(void *state);
ssize_t blob_s3_reader_pread(void *state, void *p, size_t n, uint64_t off);
void blob_s3_reader_close(void *state);
int blob_s3_stat(struct blob_store *s, const char *hex, uint64_t *size);

/* blob_s3_gc.c */
int blob_s3_remove(struct blob_store *s, const char *hex);
int blob_s3_list(struct blob_store *s,
		 int (*cb)(const char *hex, uint64_t size, int64_t mtime,
			   void *arg),
		 void *arg);
int blob_s3_cleanup(struct blob_store *s);

/* blob_s3_partial.c */
int blob_s3_partial_create(struct blob_store *s, const char *uid);
int blob_s3_partial_open(struct blob_store *s, const char *uid,
			 uint64_t offset, void **state);
int blob_s3_partial_write(void *state, const void *data, size_t n);
int blob_s3_partial_sync(void *state);
int blob_s3_partial_truncate(void *state, uint64_t offset);
void blob_s3_partial_close(void *state);
ssize_t blob_s3_partial_pread(struct blob_store *s, const char *uid,
			      void *buf, size_t n, uint64_t off);
int blob_s3_partial_link(struct blob_store *s, const char *uid,
			 const char *hex, bool *existed);
int blob_s3_partial_concat(struct blob_store *s, const char *dst,
			   const char *const *src, size_t n);
int blob_s3_partial_remove(struct blob_store *s, const char *uid);

#endif
