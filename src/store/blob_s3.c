/*
 * blob_s3.c — the S3 blob backend: the same content-addressed store as
 * blob_fs.c, in one bucket of any S3-compatible object store (AWS, Ceph
 * RGW, MinIO, Swift's s3api), through the small client in s3.c.
 *
 *   blobs/ab/cd/abcd…(64 hex)   committed, immutable
 *   tmp/<32 hex>                multipart uploads of writers in progress
 *   uploads/<uid>/<8 digits>    resumable (tus) uploads: 8 MiB segments
 *
 * all under "PREFIX/" when the bucket is configured as "bucket/PREFIX",
 * so that several installations (or test servers) share one bucket.
 *
 * Writing.  The name of a blob is the hash of its bytes, known only after
 * the last byte, and an S3 object cannot be renamed.  A writer therefore
 * buffers the first part (8 MiB): a blob that fits is PUT once, straight
 * to its content key, at commit — most uploads.  A bigger one becomes a
 * multipart upload to a random tmp/ key, parts (8 MiB, doubling every 250
 * parts so 10 000 parts reach past 5 TiB) uploaded by a pool of workers,
 * at most three in flight per writer; commit completes it and makes the
 * content key a server-side copy (CopyObject, or UploadPartCopy in 1 GiB
 * ranges above S3's 5 GiB copy limit); the temp stays, as the source for
 * writer_ensure (blob.h's gc protocol), until the writer is released.  A
 * commit that finds the content already there (HEAD) leaves the upload
 * uncompleted and aborts it at release: deduplication costs no copy.
 * The alternative, a random key per upload recorded by the metadata
 * store, saves the copy but gives up content addressing (dedup, fsck by
 * listing, takedown by hash) and needs a schema change; docs/scaling.md
 * has the measurements behind the choice.
 * An aborted writer aborts its multipart upload; when the store cannot
 * be reached to take the abort (the outage that failed the writer, most
 * often), the node remembers the upload and retries every few seconds,
 * and at every cleanup, until the store takes it.  What a crash leaves
 * (tmp/ objects, multipart uploads) is older than a day when cleanup
 * runs, and cleanup removes it — in-progress uploads of other nodes are
 * younger, so sharing a bucket is safe.
 *
 * Reading.  No local fd: pread() keeps one streaming GET open and serves
 * sequential reads from it, so a download is one or two GETs, not one per
 * 256 KiB block.  The first read at an unexpected offset asks for exactly
 * its bytes; a read that continues where the previous ended opens the
 * stream to the end of the object.  A broken stream is reopened once.
 *
 * Partial uploads (tus) live in the bucket, not on a node, so an upload
 * started on one node continues on any other: a partial is a run of
 * segment objects, all 8 MiB except the last.  The segment being filled
 * is spooled in memory and written (rewritten) at every sync, so the
 * durable offset is always backed by objects; a full segment is written
 * once.  Segments rather than multipart parts, because parts cannot be
 * read back before completion and the commit hashes what is stored
 * (blob.c); at commit the segments are assembled server-side into the
 * content key with UploadPartCopy (each is a valid part: >= 5 MiB).
 */
#define _GNU_SOURCE
#include "blob.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <time.h>

#include "s3.h"
#include "../util/buf.h"
#include "../util/pt.h"
#include "../util/banned.h"

#define PART_SIZE (8u << 20)
#define PARTS_PER_STEP 250
#define PART_MAX (5ull << 30)
#define MAX_PARTS 10000
#define INFLIGHT 3
#define WORKERS 8
#define COPY_MAX (5ull << 30)
#define COPY_PART (1ull << 30)
#define SEG_SIZE (8u << 20)
#define GRACE_SECONDS 86400
#define KEY_MAX 128
#define LIST_MAX (16u << 20) /* one listing page of XML */
#define ORPHAN_RETRY_SECONDS 3

struct job {
	struct job *next;
	struct s3_writer *w;
	unsigned partno;
	char *buf;
	size_t len, cap;
};

/* A multipart upload of this process that a writer gave up but the store
 * did not take the abort of: retried until it does (see the top). */
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

struct s3_writer {
	struct s3_store *st;
	char key[KEY_MAX];
	char *upload_id; /* NULL until the first part leaves */
	char *buf;
	size_t len, cap;
	unsigned nparts;
	/* shared with the workers, under mu */
	pthread_mutex_t mu;
	pthread_cond_t cv;
	char **etags;
	size_t etags_cap;
	unsigned inflight;
	int err;
	bool tmp_done;     /* the multipart upload is complete at key */
	uint64_t size;     /* of the committed blob */
};

struct s3_reader {
	struct s3_store *st;
	char key[KEY_MAX];
	uint64_t size;
	struct s3_stream *stream;
	uint64_t pos;  /* where the open stream is */
	uint64_t end;  /* where it stops (UINT64_MAX: object end) */
	uint64_t next; /* where the last read ended */
};

/* Part and segment buffers (MiBs each) come straight from mmap: freed,
 * they go back to the system at once, where malloc would keep them in a
 * thread's arena (its mmap threshold rises to their size after the first
 * free) and the RSS of a node would stay at its busiest. */
static char *big_alloc(size_t n)
{
	void *p = mmap(NULL, n, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		abort(); /* out of memory: the x* policy */
	return p;
}

static void big_free(char *p, size_t n)
{
	if (p)
		munmap(p, n);
}

static void blob_key(struct s3_store *st, const char *hex, char out[KEY_MAX])
{
	snprintf(out, KEY_MAX, "%sblobs/%.2s/%.2s/%s", st->prefix, hex, hex + 2,
		 hex);
}

/* ---- small requests ---- */

static int obj_head(struct s3_store *st, const char *key, uint64_t *size)
{
	struct s3_req r = { .method = "HEAD", .key = key };
	int err = s3_request(st->s3, &r);
	if (!err && size)
		*size = r.length;
	return err;
}

static int obj_put(struct s3_store *st, const char *key, const void *p,
		   size_t n)
{
	struct s3_req r = { .method = "PUT", .key = key, .body = p,
			    .body_len = n };
	return s3_request(st->s3, &r);
}

static int obj_delete(struct s3_store *st, const char *key)
{
	struct s3_req r = { .method = "DELETE", .key = key };
	int err = s3_request(st->s3, &r);
	return err == -ENOENT ? 0 : err;
}

static int mpu_initiate(struct s3_store *st, const char *key, char **id)
{
	struct pt_buf out;
	struct s3_req r = { .method = "POST", .key = key, .query = "uploads=",
			    .out = &out,
			    .headers = { "Content-Type: "
					 "application/octet-stream" } };
	const char *pos = NULL;
	int err;

	pt_buf_init(&out, 1 << 16);
	if (!(err = s3_request(st->s3, &r))) {
		*id = out.p ? s3_xml_next(out.p, NULL, "UploadId", &pos) : NULL;
		if (!*id)
			err = -EIO;
	}
	pt_buf_release(&out);
	return err;
}

/* 0 when the upload is gone (404: already), else the request's status. */
static int mpu_abort(struct s3_store *st, const char *key, const char *id)
{
	char *e = s3_uri_encode(id, false);
	char *q = xasprintf("uploadId=%s", e);
	struct s3_req r = { .method = "DELETE", .key = key, .query = q };
	int err = s3_request(st->s3, &r);
	if (err == -ENOENT)
		err = 0;
	free(q);
	free(e);
	return err;
}

/* Abort a multipart upload this process gives up, or remember it for
 * the retries (orphans_retry) when the store does not answer. */
static void mpu_abort_later(struct s3_store *st, const char *key,
			    const char *id)
{
	struct orphan *o;

	if (!mpu_abort(st, key, id))
		return;
	pt_log("s3: cannot abort the upload of '%s' now: retrying every %d s "
	       "until the store takes it", key, ORPHAN_RETRY_SECONDS);
	o = xmalloc(sizeof(*o));
	o->key = xstrdup(key);
	o->id = xstrdup(id);
	pthread_mutex_lock(&st->mu);
	o->next = st->orphans;
	st->orphans = o;
	pthread_cond_signal(&st->cv); /* a worker starts the retry timer */
	pthread_mutex_unlock(&st->mu);
}

static void orphan_free(struct orphan *o)
{
	free(o->key);
	free(o->id);
	free(o);
}

/* Try the remembered aborts, stopping at the first the store refuses
 * again (it is still away: the rest would fail too).  Returns how many
 * went.  Blocks on the network. */
static int orphans_retry(struct s3_store *st)
{
	struct orphan *list, *o;
	int n = 0;

	pthread_mutex_lock(&st->mu);
	list = st->orphans;
	st->orphans = NULL;
	pthread_mutex_unlock(&st->mu);
	while ((o = list)) {
		if (mpu_abort(st, o->key, o->id))
			break;
		list = o->next;
		pt_log("s3: aborted the upload of '%s' that a failed writer "
		       "left", o->key);
		orphan_free(o);
		n++;
	}
	if (list) {
		struct orphan *last = list;
		while (last->next)
			last = last->next;
		pthread_mutex_lock(&st->mu);
		last->next = st->orphans;
		st->orphans = list;
		pthread_mutex_unlock(&st->mu);
	}
	return n;
}

static int mpu_complete(struct s3_store *st, const char *key, const char *id,
			char *const *etags, unsigned n)
{
	struct pt_buf body, out;
	char *e = s3_uri_encode(id, false);
	char *q = xasprintf("uploadId=%s", e);
	int err;

	pt_buf_init(&body, 16u << 20);
	pt_buf_init(&out, 1 << 16);
	pt_buf_adds(&body, "<CompleteMultipartUpload>");
	for (unsigned i = 0; i < n; i++)
		pt_buf_addf(&body, "<Part><PartNumber>%u</PartNumber>"
			    "<ETag>%s</ETag></Part>", i + 1, etags[i]);
	pt_buf_adds(&body, "</CompleteMultipartUpload>");
	struct s3_req r = { .method = "POST", .key = key, .query = q,
			    .body = body.p, .body_len = body.n, .out = &out,
			    .headers = { "Content-Type: application/xml" } };
	err = s3_request(st->s3, &r);
	pt_buf_release(&body);
	pt_buf_release(&out);
	free(q);
	free(e);
	return err;
}

/* UploadPartCopy of [from, to) of src (whole object when to == 0) as part
 * `partno`; the ETag comes in the XML body, not in a header. */
static int part_copy(struct s3_store *st, const char *dst, const char *id,
		     unsigned partno, const char *src, uint64_t from,
		     uint64_t to, char **etag)
{
	struct pt_buf out;
	char *e = s3_uri_encode(id, false);
	char *q = xasprintf("partNumber=%u&uploadId=%s", partno, e);
	char *srcenc = s3_uri_encode(src, true);
	char *hsrc = xasprintf("x-amz-copy-source: /%s/%s", st->bucket, srcenc);
	char *hrange = to ? xasprintf("x-amz-copy-source-range: bytes=%" PRIu64
				      "-%" PRIu64, from, to - 1)
			  : NULL;
	const char *pos = NULL;
	int err;

	pt_buf_init(&out, 1 << 16);
	struct s3_req r = { .method = "PUT", .key = dst, .query = q,
			    .out = &out, .headers = { hsrc, hrange } };
	if (!(err = s3_request(st->s3, &r))) {
		*etag = out.p ? s3_xml_next(out.p, NULL, "ETag", &pos) : NULL;
		if (!*etag)
			err = -EIO;
	}
	pt_buf_release(&out);
	free(hrange);
	free(hsrc);
	free(srcenc);
	free(q);
	free(e);
	return err;
}

/* dst := src, server-side: one CopyObject up to S3's 5 GiB limit, a
 * multipart upload of UploadPartCopy ranges above it. */
static int obj_copy(struct s3_store *st, const char *src, const char *dst,
		    uint64_t size)
{
	char **etags = NULL;
	char *id = NULL;
	unsigned n = 0;
	int err;

	if (size <= st->copy_max) {
		struct pt_buf out;
		char *srcenc = s3_uri_encode(src, true);
		char *h = xasprintf("x-amz-copy-source: /%s/%s", st->bucket,
				    srcenc);
		pt_buf_init(&out, 1 << 16);
		struct s3_req r = { .method = "PUT", .key = dst, .out = &out,
				    .headers = { h } };
		err = s3_request(st->s3, &r);
		pt_buf_release(&out);
		free(h);
		free(srcenc);
		return err;
	}
	if ((err = mpu_initiate(st, dst, &id)))
		return err;
	etags = xcalloc(size / st->copy_part + 1, sizeof(*etags));
	for (uint64_t off = 0; off < size; off += st->copy_part, n++) {
		uint64_t to = off + st->copy_part < size ? off + st->copy_part
							 : size;
		if ((err = part_copy(st, dst, id, n + 1, src, off, to,
				     &etags[n])))
			goto fail;
	}
	if ((err = mpu_complete(st, dst, id, etags, n)))
		goto fail;
	goto done;
fail:
	mpu_abort_later(st, dst, id);
done:
	for (unsigned i = 0; i < n; i++)
		free(etags[i]);
	free(etags);
	free(id);
	return err;
}

struct list_cb {
	int (*cb)(const char *key, uint64_t size, int64_t mtime, void *arg);
	void *arg;
};

static const char *const list_fields[] = { "Key", "Size", "LastModified" };

/* s3_xml_each: one <Contents> of a listing */
static int list_item(char **v, void *arg)
{
	struct list_cb *lc = arg;
	uint64_t size = 0;
	if (v[0] && v[1] && !pt_parse_u64(v[1], strlen(v[1]), &size))
		return lc->cb(v[0], size, s3_time_parse(v[2]), lc->arg);
	return 0;
}

/* Every object under prefix, a ListObjectsV2 page (1000 keys) at a time;
 * stops when cb returns non-zero (returned when negative). */
static int list_prefix(struct s3_store *st, const char *prefix,
		       int (*cb)(const char *key, uint64_t size, int64_t mtime,
				 void *arg),
		       void *arg)
{
	struct pt_buf out;
	char *full = xasprintf("%s%s", st->prefix, prefix);
	char *token = NULL, *pfx = s3_uri_encode(full, false);
	int err = 0, stop = 0;
	struct list_cb lc = { cb, arg };

	free(full);
	pt_buf_init(&out, LIST_MAX);
	do {
		char *tok = token ? s3_uri_encode(token, false) : NULL;
		char *q = xasprintf("%s%s%slist-type=2&prefix=%s",
				    tok ? "continuation-token=" : "",
				    tok ? tok : "", tok ? "&" : "", pfx);
		struct s3_req r = { .method = "GET", .query = q, .out = &out };
		err = s3_request(st->s3, &r);
		free(q);
		free(tok);
		free(token);
		token = NULL;
		if (err)
			break;
		const char *pos = NULL;
		stop = s3_xml_each(out.p, "Contents", list_fields, 3,
				   list_item, &lc);
		char *trunc = s3_xml_next(out.p, NULL, "IsTruncated", &pos);
		pos = NULL;
		if (trunc && strcmp(trunc, "true") == 0)
			token = s3_xml_next(out.p, NULL,
					    "NextContinuationToken", &pos);
		free(trunc);
	} while (!stop && token);
	free(token);
	free(pfx);
	pt_buf_release(&out);
	return err ? err : (stop < 0 ? stop : 0);
}

/* ---- part workers ---- */

static void part_upload(struct s3_store *st, struct job *j)
{
	struct s3_writer *w = j->w;
	char *etag = NULL;
	int err;

	pthread_mutex_lock(&w->mu);
	err = w->err; /* the writer failed: do not bother */
	pthread_mutex_unlock(&w->mu);
	if (!err) {
		char *e = s3_uri_encode(w->upload_id, false);
		char *q = xasprintf("partNumber=%u&uploadId=%s", j->partno, e);
		struct s3_req r = { .method = "PUT", .key = w->key, .query = q,
				    .body = j->buf, .body_len = j->len };
		err = s3_request(st->s3, &r);
		if (!err && !r.etag[0])
			err = -EIO;
		if (!err)
			etag = xstrdup(r.etag);
		free(q);
		free(e);
	}
	pthread_mutex_lock(&w->mu);
	if (err && !w->err)
		w->err = err;
	w->etags[j->partno - 1] = etag;
	w->inflight--;
	pthread_cond_broadcast(&w->cv);
	pthread_mutex_unlock(&w->mu);
	big_free(j->buf, j->cap);
	free(j);
}

/* Idle, with aborts to retry: one worker waits ORPHAN_RETRY_SECONDS, then
 * retries them (unless a part came first).  Called and returns with mu. */
static void idle_retry(struct s3_store *st)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += ORPHAN_RETRY_SECONDS;
	st->retrying = true;
	while (!st->head && !st->stop &&
	       pthread_cond_timedwait(&st->cv, &st->mu, &ts) != ETIMEDOUT)
		;
	if (!st->head && !st->stop) {
		pthread_mutex_unlock(&st->mu);
		orphans_retry(st);
		pthread_mutex_lock(&st->mu);
	}
	st->retrying = false;
}

static void *worker(void *arg)
{
	struct s3_store *st = arg;
	for (;;) {
		pthread_mutex_lock(&st->mu);
		while (!st->head && !st->stop) {
			if (st->orphans && !st->retrying)
				idle_retry(st);
			else
				pthread_cond_wait(&st->cv, &st->mu);
		}
		struct job *j = st->head;
		if (!j) {
			pthread_mutex_unlock(&st->mu);
			return NULL;
		}
		st->head = j->next;
		if (!st->head)
			st->tail = NULL;
		pthread_mutex_unlock(&st->mu);
		part_upload(st, j);
	}
}

/* ---- writers ---- */

static size_t part_size_of(struct s3_store *st, unsigned partno)
{
	unsigned step = (partno - 1) / PARTS_PER_STEP;
	uint64_t n = (uint64_t)st->part_size << (step < 10 ? step : 10);
	return n > PART_MAX ? (size_t)PART_MAX : (size_t)n;
}

static int s3_writer_open(struct blob_store *s, void **state)
{
	struct s3_writer *w = xcalloc(1, sizeof(*w));
	unsigned char rnd[16];

	w->st = s->impl;
	if (getrandom(rnd, sizeof(rnd), 0) != sizeof(rnd)) {
		free(w);
		return PT_EINTERNAL;
	}
	char *p = w->key + snprintf(w->key, sizeof(w->key), "%stmp/",
				    w->st->prefix);
	for (size_t i = 0; i < sizeof(rnd); i++)
		p += snprintf(p, 3, "%02x", rnd[i]);
	pthread_mutex_init(&w->mu, NULL);
	pthread_cond_init(&w->cv, NULL);
	*state = w;
	return 0;
}

/* Hand the buffered part to the workers (waiting while INFLIGHT are
 * out: the memory of a writer stays bounded). */
static int submit(struct s3_writer *w)
{
	struct s3_store *st = w->st;
	struct job *j;
	int err;

	if (!w->upload_id && (err = mpu_initiate(st, w->key, &w->upload_id)))
		return err;
	pthread_mutex_lock(&w->mu);
	while (w->inflight >= st->inflight && !w->err)
		pthread_cond_wait(&w->cv, &w->mu);
	if ((err = w->err) || w->nparts >= MAX_PARTS) {
		pthread_mutex_unlock(&w->mu);
		return err ? err : PT_ETOOBIG;
	}
	w->inflight++;
	j = xcalloc(1, sizeof(*j));
	j->w = w;
	j->partno = ++w->nparts;
	if (w->nparts > w->etags_cap) {
		w->etags_cap = w->etags_cap ? 2 * w->etags_cap : 64;
		w->etags = xrealloc(w->etags, w->etags_cap * sizeof(*w->etags));
	}
	w->etags[j->partno - 1] = NULL;
	pthread_mutex_unlock(&w->mu);
	j->buf = w->buf;
	j->len = w->len;
	j->cap = w->cap;
	w->buf = NULL;
	w->len = w->cap = 0;

	pthread_mutex_lock(&st->mu);
	if (st->tail)
		st->tail->next = j;
	else
		st->head = j;
	st->tail = j;
	pthread_cond_signal(&st->cv);
	pthread_mutex_unlock(&st->mu);
	return 0;
}

static int wait_parts(struct s3_writer *w)
{
	int err;
	pthread_mutex_lock(&w->mu);
	while (w->inflight > 0)
		pthread_cond_wait(&w->cv, &w->mu);
	err = w->err;
	pthread_mutex_unlock(&w->mu);
	return err;
}

static int s3_writer_write(void *state, const void *p, size_t n)
{
	struct s3_writer *w = state;
	const char *c = p;
	int err;

	while (n > 0) {
		if (!w->buf) {
			w->cap = part_size_of(w->st, w->nparts + 1);
			w->buf = big_alloc(w->cap);
			w->len = 0;
		}
		size_t k = w->cap - w->len < n ? w->cap - w->len : n;
		memcpy(w->buf + w->len, c, k);
		w->len += k;
		c += k;
		n -= k;
		if (w->len == w->cap && (err = submit(w)))
			return err;
	}
	return 0;
}

static void writer_free(struct s3_writer *w)
{
	for (unsigned i = 0; i < w->nparts; i++)
		free(w->etags[i]);
	free(w->etags);
	free(w->upload_id);
	big_free(w->buf, w->cap);
	pthread_mutex_destroy(&w->mu);
	pthread_cond_destroy(&w->cv);
	free(w);
}

/*
 * After a commit the writer keeps a source of the bytes until it is
 * released, so writer_ensure can put the blob back if gc removed it
 * between the dedup check and the link row (blob.h): the buffered part
 * (single PUT), the multipart upload left uncompleted (dedup hit), or the
 * completed tmp/ object (a copy was made).  Release drops that source.
 */
static void s3_writer_abort(void *state)
{
	struct s3_writer *w = state;
	if (!w)
		return;
	if (w->upload_id) {
		pthread_mutex_lock(&w->mu);
		if (!w->err)
			w->err = PT_EINTERNAL; /* queued parts: skip */
		pthread_mutex_unlock(&w->mu);
		wait_parts(w);
		mpu_abort_later(w->st, w->key, w->upload_id);
	}
	if (w->tmp_done)
		obj_delete(w->st, w->key);
	writer_free(w);
}

/* The content key from the writer's source (see above). */
static int writer_publish(struct s3_writer *w, const char *key, uint64_t size)
{
	struct s3_store *st = w->st;
	int err;

	if (!w->upload_id && !w->tmp_done)
		return obj_put(st, key, w->buf, w->len);
	if (w->upload_id) {
		if ((err = mpu_complete(st, w->key, w->upload_id, w->etags,
					w->nparts)))
			return err;
		free(w->upload_id);
		w->upload_id = NULL;
		w->tmp_done = true; /* an object to delete at release */
	}
	return obj_copy(st, w->key, key, size);
}

static int s3_writer_commit(void *state, const char *hex, uint64_t size,
			    bool *existed)
{
	struct s3_writer *w = state;
	char key[KEY_MAX];
	int err;

	*existed = false;
	w->size = size;
	blob_key(w->st, hex, key);
	/* a blob that fit in one part is PUT where it belongs: no copy */
	if (w->upload_id) {
		if (w->len > 0 && (err = submit(w)))
			return err;
		if ((err = wait_parts(w)))
			return err;
	}
	err = obj_head(w->st, key, NULL);
	if (!err) {
		/* deduplicated: nothing to write; a multipart upload stays
		 * open (uncompleted) as the source for writer_ensure */
		*existed = true;
		return 0;
	}
	if (err != -ENOENT)
		return err;
	return writer_publish(w, key, size);
}

static int s3_writer_ensure(void *state, const char *hex)
{
	struct s3_writer *w = state;
	char key[KEY_MAX];
	int err;

	blob_key(w->st, hex, key);
	err = obj_head(w->st, key, NULL);
	if (err != -ENOENT)
		return err;
	pt_log("s3: blob '%s' vanished after commit: writing it again", key);
	return writer_publish(w, key, w->size);
}

/* ---- readers ---- */

static int s3_reader_open(struct blob_store *s, const char *hex, void **state,
			  uint64_t *size)
{
	struct s3_reader *r = xcalloc(1, sizeof(*r));
	int err;

	r->st = s->impl;
	blob_key(r->st, hex, r->key);
	if ((err = obj_head(r->st, r->key, &r->size))) {
		free(r);
		return err;
	}
	r->next = UINT64_MAX;
	*state = r;
	*size = r->size;
	return 0;
}

static int s3_reader_fd(void *state)
{
	return -1;
}

static ssize_t s3_reader_pread(void *state, void *p, size_t n, uint64_t off)
{
	struct s3_reader *r = state;
	bool retried = false;

	if (off >= r->size || n == 0)
		return 0;
	if (n > r->size - off)
		n = (size_t)(r->size - off);
	for (;;) {
		ssize_t k;
		int err;

		if (!r->stream || r->pos != off) {
			s3_stream_close(r->stream);
			r->stream = NULL;
			/* sequential: stream to the end; else just this */
			r->end = off == r->next ? UINT64_MAX : off + n;
			if ((err = s3_stream_open(r->st->s3, r->key, off,
						  r->end, &r->stream))) {
				if (retried || err == -ENOENT)
					return err;
				retried = true;
				continue;
			}
			r->pos = off;
		}
		k = s3_stream_read(r->stream, p, n);
		if (k > 0) {
			r->pos += (uint64_t)k;
			r->next = r->pos;
			return k;
		}
		s3_stream_close(r->stream);
		r->stream = NULL;
		if (k == 0 && r->end != UINT64_MAX && off >= r->end) {
			r->next = off; /* window done: go on to the end */
			continue;
		}
		if (retried)
			/* k == 0: shorter than HEAD said */
			return k < 0 ? k : PT_ECORRUPT;
		retried = true;
		r->next = off;
	}
}

static void s3_reader_close(void *state)
{
	struct s3_reader *r = state;
	s3_stream_close(r->stream);
	free(r);
}

static int s3_stat(struct blob_store *s, const char *hex, uint64_t *size)
{
	char key[KEY_MAX];
	blob_key(s->impl, hex, key);
	return obj_head(s->impl, key, size);
}

static int s3_remove(struct blob_store *s, const char *hex)
{
	char key[KEY_MAX];
	blob_key(s->impl, hex, key);
	return obj_delete(s->impl, key);
}

struct list_arg {
	int (*cb)(const char *hex, uint64_t size, int64_t mtime, void *arg);
	void *arg;
	const char *prefix;
};

/* blobs/ab/cd/<hex> only: anything else in the bucket is not a blob */
static int list_blob_cb(const char *key, uint64_t size, int64_t mtime,
			void *arg)
{
	struct list_arg *la = arg;
	const char *hex;

	key += strlen(la->prefix); /* listed under it: it is there */
	hex = key + 12;
	if (strlen(key) != 12 + BLOB_HEX_LEN || memcmp(key, "blobs/", 6) ||
	    key[8] != '/' || key[11] != '/' || !blob_hex_valid(hex) ||
	    memcmp(key + 6, hex, 2) || memcmp(key + 9, hex + 2, 2))
		return 0;
	return la->cb(hex, size, mtime, la->arg);
}

static int s3_list(struct blob_store *s,
		   int (*cb)(const char *hex, uint64_t size, int64_t mtime,
			     void *arg),
		   void *arg)
{
	struct list_arg la = { cb, arg, ((struct s3_store *)s->impl)->prefix };
	return list_prefix(s->impl, "blobs/", list_blob_cb, &la);
}

/* ---- cleanup: what interrupted writers left behind ---- */

struct sweep {
	struct s3_store *st;
	int64_t before;
	int n;
};

static int sweep_tmp_cb(const char *key, uint64_t size, int64_t mtime,
			void *arg)
{
	struct sweep *sw = arg;
	if (mtime >= 0 && mtime < sw->before && !obj_delete(sw->st, key))
		sw->n++;
	return 0;
}

static const char *const upload_fields[] = { "Key", "UploadId",
					     "Initiated" };

/* s3_xml_each: one <Upload> of a multipart-uploads listing */
static int upload_item(char **v, void *arg)
{
	struct sweep *sw = arg;
	int64_t t = s3_time_parse(v[2]);
	if (v[0] && v[1] && t >= 0 && t < sw->before &&
	    !mpu_abort(sw->st, v[0], v[1]))
		sw->n++;
	return 0;
}

/* Abort the multipart uploads begun before sw->before: writers that died
 * (tmp/ keys) and assemblies that did not finish (content keys).  Younger
 * ones may belong to a live writer on another node. */
static int sweep_uploads(struct sweep *sw)
{
	struct s3_store *st = sw->st;
	struct pt_buf out;
	char *km = NULL, *um = NULL;
	char *pfx = s3_uri_encode(st->prefix, false);
	int err = 0;

	pt_buf_init(&out, LIST_MAX);
	do {
		/* names sorted for SigV4; the markers go as a pair */
		char *k = km ? s3_uri_encode(km, false) : NULL;
		char *u = um ? s3_uri_encode(um, false) : NULL;
		char *q = xasprintf("%s%s%sprefix=%s&%s%s%suploads=",
				    k ? "key-marker=" : "", k ? k : "",
				    k ? "&" : "", pfx, k ? "upload-id-marker=" : "",
				    k ? (u ? u : "") : "", k ? "&" : "");
		struct s3_req r = { .method = "GET", .query = q, .out = &out };
		err = s3_request(st->s3, &r);
		free(q);
		free(k);
		free(u);
		free(km);
		free(um);
		km = um = NULL;
		if (err)
			break;
		const char *pos = NULL;
		s3_xml_each(out.p, "Upload", upload_fields, 3, upload_item,
			    sw);
		char *trunc = s3_xml_next(out.p, NULL, "IsTruncated", &pos);
		if (trunc && strcmp(trunc, "true") == 0) {
			pos = NULL;
			km = s3_xml_next(out.p, NULL, "NextKeyMarker", &pos);
			pos = NULL;
			um = s3_xml_next(out.p, NULL, "NextUploadIdMarker",
					 &pos);
			if (km && !*km) {
				free(km);
				km = NULL;
			}
		}
		free(trunc);
	} while (km);
	free(um);
	free(pfx);
	pt_buf_release(&out);
	return err;
}

static int s3_cleanup(struct blob_store *s)
{
	struct s3_store *st = s->impl;
	/* wall-clock time: S3's dates are real, PARTAGE_TIME_OFFSET is not */
	struct sweep sw = { st, (int64_t)time(NULL) - st->grace, 0 };
	int err;

	/* this process's own failed aborts first, whatever their age */
	sw.n += orphans_retry(st);
	if ((err = sweep_uploads(&sw)))
		return err;
	if ((err = list_prefix(st, "tmp/", sweep_tmp_cb, &sw)))
		return err;
	return sw.n;
}

/* ---- partial uploads: uploads/<uid>/<segment> ---- */

struct s3_partial {
	struct s3_store *st;
	char uid[72];
	uint64_t seg;  /* the segment being filled */
	char *buf;     /* its bytes so far (seg_size of room) */
	size_t len;
	bool dirty;    /* buf is not what the stored segment holds */
};

static void seg_key(struct s3_store *st, const char *uid, uint64_t seg,
		    char out[KEY_MAX])
{
	snprintf(out, KEY_MAX, "%suploads/%s/%08" PRIu64, st->prefix, uid, seg);
}

struct segs {
	uint64_t *size; /* by segment number; UINT64_MAX: missing */
	size_t n;
};

static int segs_cb(const char *key, uint64_t size, int64_t mtime, void *arg)
{
	struct segs *sg = arg;
	const char *slash = strrchr(key, '/');
	uint64_t i;

	if (!slash || pt_parse_u64(slash + 1, strlen(slash + 1), &i) ||
	    i >= MAX_PARTS)
		return 0;
	if (i >= sg->n) {
		sg->size = xrealloc(sg->size, (i + 1) * sizeof(*sg->size));
		while (sg->n <= i)
			sg->size[sg->n++] = UINT64_MAX;
	}
	sg->size[i] = size;
	return 0;
}

/* The segments of uid.  -ENOENT when there are none at all. */
static int segs_list(struct s3_store *st, const char *uid, struct segs *sg)
{
	char prefix[KEY_MAX];
	int err;

	sg->size = NULL;
	sg->n = 0;
	snprintf(prefix, sizeof(prefix), "uploads/%s/", uid);
	if ((err = list_prefix(st, prefix, segs_cb, sg))) {
		free(sg->size);
		return err;
	}
	if (sg->n == 0)
		return -ENOENT;
	return 0;
}

/* Bytes stored contiguously from 0: full segments, then at most one
 * shorter one. */
static uint64_t segs_total(struct s3_store *st, const struct segs *sg)
{
	uint64_t total = 0;
	for (size_t i = 0; i < sg->n; i++) {
		if (sg->size[i] == UINT64_MAX)
			break;
		total += sg->size[i];
		if (sg->size[i] < st->seg_size)
			break;
	}
	return total;
}

static ssize_t seg_read(struct s3_store *st, const char *uid, void *p,
			size_t n, uint64_t off)
{
	char key[KEY_MAX], range[80];
	uint64_t seg = off / st->seg_size, in = off % st->seg_size;
	struct pt_buf out;
	int err;

	if (n > st->seg_size - in)
		n = (size_t)(st->seg_size - in);
	seg_key(st, uid, seg, key);
	snprintf(range, sizeof(range), "Range: bytes=%" PRIu64 "-%" PRIu64,
		 in, in + n - 1);
	pt_buf_init(&out, n);
	struct s3_req r = { .method = "GET", .key = key, .out = &out,
			    .headers = { range } };
	err = s3_request(st->s3, &r);
	if (err) {
		pt_buf_release(&out);
		/* past the last byte stored: the end */
		return err == PT_ERANGE || err == -ENOENT ? 0 : err;
	}
	n = out.n < n ? out.n : n;
	memcpy(p, out.p, n);
	pt_buf_release(&out);
	return (ssize_t)n;
}

/* Cut the stored partial at `offset` and load the segment holding it.
 * Segments past it go now; the tail of its own segment goes with the
 * next sync (until then a reader of the store sees stale bytes past the
 * durable offset, which nobody reads: the offset says where data ends). */
static int partial_reset(struct s3_partial *p, uint64_t offset)
{
	struct s3_store *st = p->st;
	uint64_t seg = offset / st->seg_size, in = offset % st->seg_size;
	char key[KEY_MAX];
	struct segs sg;
	int err;

	if ((err = segs_list(st, p->uid, &sg)))
		return err;
	if (segs_total(st, &sg) < offset) {
		err = PT_ECORRUPT; /* shorter than its durable offset */
		goto done;
	}
	for (size_t i = sg.n; i-- > seg + (in > 0 || seg == 0);) {
		if (sg.size[i] == UINT64_MAX)
			continue;
		seg_key(st, p->uid, i, key);
		if ((err = obj_delete(st, key)))
			goto done;
	}
	p->seg = seg;
	p->len = 0;
	p->dirty = false;
	if (in > 0) {
		for (size_t got = 0; got < in;) {
			ssize_t k = seg_read(st, p->uid, p->buf + got, in - got,
					     seg * st->seg_size + got);
			if (k <= 0) {
				err = k < 0 ? (int)k : PT_ECORRUPT;
				goto done;
			}
			got += (size_t)k;
		}
		p->len = in;
		p->dirty = sg.size[seg] != in;
	} else if (seg == 0) {
		/* segment 0 marks that the partial exists: keep it, empty */
		p->dirty = sg.size[0] != 0;
	}
done:
	free(sg.size);
	return err;
}

static int s3_partial_create(struct blob_store *s, const char *uid)
{
	char key[KEY_MAX];
	int err;

	seg_key(s->impl, uid, 0, key);
	err = obj_head(s->impl, key, NULL);
	if (!err)
		return -EEXIST;
	if (err != -ENOENT)
		return err;
	return obj_put(s->impl, key, "", 0);
}

static int s3_partial_open(struct blob_store *s, const char *uid,
			   uint64_t offset, void **state)
{
	struct s3_store *st = s->impl;
	struct s3_partial *p = xcalloc(1, sizeof(*p));
	int err;

	p->st = st;
	snprintf(p->uid, sizeof(p->uid), "%s", uid);
	p->buf = big_alloc(st->seg_size);
	if ((err = partial_reset(p, offset))) {
		big_free(p->buf, st->seg_size);
		free(p);
		return err;
	}
	*state = p;
	return 0;
}

static int seg_flush(struct s3_partial *p)
{
	char key[KEY_MAX];
	int err;
	seg_key(p->st, p->uid, p->seg, key);
	if ((err = obj_put(p->st, key, p->buf, p->len)))
		return err;
	p->dirty = false;
	return 0;
}

static int s3_partial_write(void *state, const void *data, size_t n)
{
	struct s3_partial *p = state;
	size_t segsz = p->st->seg_size;
	const char *c = data;
	int err;

	while (n > 0) {
		size_t k = segsz - p->len < n ? segsz - p->len : n;
		memcpy(p->buf + p->len, c, k);
		p->len += k;
		p->dirty = true;
		c += k;
		n -= k;
		if (p->len == segsz) {
			/* a full segment is written once and never again */
			if (p->seg + 1 >= MAX_PARTS)
				return PT_ETOOBIG;
			if ((err = seg_flush(p)))
				return err;
			p->seg++;
			p->len = 0;
		}
	}
	return 0;
}

static int s3_partial_sync(void *state)
{
	struct s3_partial *p = state;
	/* the spooled tail goes to the bucket: from here on any node can
	 * resume at this offset */
	return p->dirty ? seg_flush(p) : 0;
}

static int s3_partial_truncate(void *state, uint64_t offset)
{
	struct s3_partial *p = state;
	uint64_t base = p->seg * p->st->seg_size;

	if (offset >= base && offset <= base + p->len) {
		if (offset != base + p->len) {
			p->len = (size_t)(offset - base);
			p->dirty = true;
		}
		return 0;
	}
	return partial_reset(p, offset);
}

static void s3_partial_close(void *state)
{
	struct s3_partial *p = state;
	big_free(p->buf, p->st->seg_size);
	free(p);
}

static ssize_t s3_partial_pread(struct blob_store *s, const char *uid,
				void *buf, size_t n, uint64_t off)
{
	if (n == 0)
		return 0;
	return seg_read(s->impl, uid, buf, n, off);
}

static int s3_partial_link(struct blob_store *s, const char *uid,
			   const char *hex, bool *existed)
{
	struct s3_store *st = s->impl;
	char key[KEY_MAX], src[KEY_MAX];
	char **etags = NULL, *id = NULL;
	struct segs sg = { 0 };
	unsigned nparts = 0;
	uint64_t total;
	int err;

	*existed = false;
	blob_key(st, hex, key);
	err = obj_head(st, key, NULL);
	if (!err) {
		*existed = true;
		return 0;
	}
	if (err != -ENOENT)
		return err;
	if ((err = segs_list(st, uid, &sg)))
		return err;
	total = segs_total(st, &sg);
	if (total <= st->seg_size) {
		seg_key(st, uid, 0, src);
		err = total ? obj_copy(st, src, key, total)
			    : obj_put(st, key, "", 0);
		goto done;
	}
	/* server-side assembly: every full segment is a valid part */
	if ((err = mpu_initiate(st, key, &id)))
		goto done;
	etags = xcalloc(sg.n, sizeof(*etags));
	for (uint64_t off = 0; off < total; off += st->seg_size) {
		seg_key(st, uid, off / st->seg_size, src);
		if ((err = part_copy(st, key, id, nparts + 1, src, 0, 0,
				     &etags[nparts])))
			goto fail;
		nparts++;
	}
	if (!(err = mpu_complete(st, key, id, etags, nparts)))
		goto done;
fail:
	mpu_abort_later(st, key, id);
done:
	for (unsigned i = 0; i < nparts; i++)
		free(etags[i]);
	free(etags);
	free(id);
	free(sg.size);
	return err;
}

/* The bytes are copied through this node: sources are arbitrary lengths
 * (a segment boundary of dst falls anywhere in a source), which rules out
 * a server-side assembly; concatenation is rare (tus parallel uploads). */
static int s3_partial_concat(struct blob_store *s, const char *dst,
			     const char *const *src, size_t n)
{
	struct s3_store *st = s->impl;
	size_t bufsz = 1 << 20;
	char *buf = xmalloc(bufsz);
	void *state = NULL;
	int err;

	if ((err = s3_partial_open(s, dst, 0, &state)))
		goto done;
	for (size_t i = 0; i < n && !err; i++) {
		struct segs sg;
		uint64_t total;
		if ((err = segs_list(st, src[i], &sg)))
			break;
		total = segs_total(st, &sg);
		free(sg.size);
		for (uint64_t off = 0; off < total && !err;) {
			size_t want = total - off < bufsz ? (size_t)(total - off)
							  : bufsz;
			ssize_t k = seg_read(st, src[i], buf, want, off);
			if (k <= 0) {
				err = k < 0 ? (int)k : PT_ECORRUPT;
				break;
			}
			err = s3_partial_write(state, buf, (size_t)k);
			off += (uint64_t)k;
		}
	}
	if (!err)
		err = s3_partial_sync(state);
done:
	if (state)
		s3_partial_close(state);
	free(buf);
	return err;
}

static int remove_cb(const char *key, uint64_t size, int64_t mtime, void *arg)
{
	struct s3_store *st = arg;
	return obj_delete(st, key) < 0 ? -EIO : 0;
}

static int s3_partial_remove(struct blob_store *s, const char *uid)
{
	char prefix[KEY_MAX];
	snprintf(prefix, sizeof(prefix), "uploads/%s/", uid);
	return list_prefix(s->impl, prefix, remove_cb, s->impl);
}

/* ---- the store ---- */

static void store_free(struct s3_store *st)
{
	int left = 0;

	pthread_mutex_lock(&st->mu);
	st->stop = true;
	pthread_cond_broadcast(&st->cv);
	pthread_mutex_unlock(&st->mu);
	for (int i = 0; i < st->nth; i++)
		pthread_join(st->th[i], NULL);
	/* a last try: the store may be back since the last retry */
	if (st->orphans)
		orphans_retry(st);
	for (struct orphan *o = st->orphans, *next; o; o = next, left++) {
		next = o->next;
		orphan_free(o);
	}
	if (left)
		pt_log("s3: %d multipart upload%s not aborted: the store is "
		       "unreachable; a cleanup removes them after a day",
		       left, left == 1 ? "" : "s");
	pthread_mutex_destroy(&st->mu);
	pthread_cond_destroy(&st->cv);
	s3_free(st->s3);
	free(st->bucket);
	free(st->prefix);
	free(st);
}

/* GET with response-content-type / -disposition: the store sends the
 * file's name and type, as our own download path does. */
static int s3_presign(struct blob_store *s, const char *hex,
		      const struct blob_presign *p, char **url)
{
	struct s3_store *st = s->impl;
	char key[KEY_MAX];
	struct pt_buf q;

	blob_key(st, hex, key);
	pt_buf_init(&q, 1 << 16);
	if (p->content_disposition) {
		char *e = s3_uri_encode(p->content_disposition, false);
		pt_buf_addf(&q, "response-content-disposition=%s", e);
		free(e);
	}
	if (p->content_type) {
		char *e = s3_uri_encode(p->content_type, false);
		pt_buf_addf(&q, "%sresponse-content-type=%s", q.n ? "&" : "",
			    e);
		free(e);
	}
	*url = s3_presign_url(st->s3, key, q.n ? q.p : NULL, p->now,
			      p->seconds);
	pt_buf_release(&q);
	return 0;
}

static void s3_close(struct blob_store *s)
{
	store_free(s->impl);
	free(s);
}

static const struct blob_ops s3_ops = {
	.name = "s3",
	.writer_open = s3_writer_open,
	.writer_write = s3_writer_write,
	.writer_commit = s3_writer_commit,
	.writer_ensure = s3_writer_ensure,
	.writer_abort = s3_writer_abort,
	.reader_open = s3_reader_open,
	.reader_fd = s3_reader_fd,
	.reader_take_fd = s3_reader_fd,
	.reader_pread = s3_reader_pread,
	.reader_close = s3_reader_close,
	.stat = s3_stat,
	.remove = s3_remove,
	.list = s3_list,
	.cleanup = s3_cleanup,
	.close = s3_close,
	.partial_create = s3_partial_create,
	.partial_open = s3_partial_open,
	.partial_write = s3_partial_write,
	.partial_sync = s3_partial_sync,
	.partial_truncate = s3_partial_truncate,
	.partial_close = s3_partial_close,
	.partial_pread = s3_partial_pread,
	.partial_link = s3_partial_link,
	.partial_concat = s3_partial_concat,
	.partial_remove = s3_partial_remove,
	.presign = s3_presign,
};

int blob_s3_open(const char *endpoint, const char *bucket, const char *region,
		 const char *access_key, const char *secret_key,
		 const char *public_endpoint, struct blob_store **out)
{
	struct s3_store *st = xcalloc(1, sizeof(*st));
	const char *slash = bucket ? strchr(bucket, '/') : NULL;
	struct blob_store *s;
	int err;

	/* "bucket/prefix": this store's keys all start with "prefix/" */
	st->bucket = slash ? xstrndup(bucket, (size_t)(slash - bucket))
			   : xstrdup(bucket ? bucket : "");
	st->prefix = slash && slash[1] ? xasprintf("%s/", slash + 1)
				       : xstrdup("");
	struct s3_conf c = { endpoint, st->bucket, region, access_key,
			     secret_key, public_endpoint };

	pthread_mutex_init(&st->mu, NULL);
	pthread_cond_init(&st->cv, NULL);
	st->part_size = PART_SIZE;
	st->seg_size = SEG_SIZE;
	st->inflight = INFLIGHT;
	st->copy_max = COPY_MAX;
	st->copy_part = COPY_PART;
	st->grace = GRACE_SECONDS;
	if ((err = s3_new(&c, &st->s3))) {
		pt_log("s3: s3_bucket, s3_region and the keys are needed");
		goto fail;
	}
	/* fail at start-up, not at the first upload, when the bucket is not
	 * there or the keys are wrong */
	struct s3_req r = { .method = "HEAD" };
	if ((err = s3_request(st->s3, &r))) {
		pt_log("s3: cannot reach bucket '%s' at '%s': %s", st->bucket,
		       endpoint, err == -ENOENT ? "no such bucket"
						: pt_strerror(err));
		goto fail;
	}
	for (; st->nth < WORKERS; st->nth++)
		if (pthread_create(&st->th[st->nth], NULL, worker, st)) {
			err = PT_EINTERNAL;
			goto fail;
		}
	s = xmalloc(sizeof(*s));
	s->ops = &s3_ops;
	s->impl = st;
	*out = s;
	return 0;
fail:
	store_free(st);
	return err;
}
