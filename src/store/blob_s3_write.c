/*
 * blob_s3_write.c — writers of the s3 blob backend (the design is in
 * blob_s3.c): a blob that fits in the first part is PUT once at commit; a
 * bigger one goes as a multipart upload to a tmp/ key, its parts uploaded
 * by the store's WORKERS threads (at most st->inflight per writer), and
 * commit completes it and copies it to the content key.  Parts are all
 * one size but the last (blob_s3_part_size, from blob_writer_expect's
 * bound), as Cloudflare R2 requires; MAX_PARTS of them are the most.  The workers also
 * retry, when idle, the aborts the store did not take.
 */
#define _GNU_SOURCE
#include "blob_s3_int.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <sys/random.h>
#include <time.h>

#include "../util/pt.h"
#include "../util/banned.h"

#define PART_MAX (5ull << 30) /* S3's largest part */

struct job {
	struct job *next;
	struct s3_writer *w;
	unsigned partno;
	char *buf;
	size_t len, cap;
};

struct s3_writer {
	struct s3_store *st;
	char key[KEY_MAX];
	char *upload_id; /* NULL until the first part leaves */
	char *buf;
	size_t len, cap;
	size_t part;      /* every part's size but the last's (0: not yet) */
	uint64_t expect;  /* blob_writer_expect's bound, 0 = none */
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
	blob_s3_big_free(j->buf, j->cap);
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
		blob_s3_orphans_retry(st);
		pthread_mutex_lock(&st->mu);
	}
	st->retrying = false;
}

void *blob_s3_worker(void *arg)
{
	struct s3_store *st = arg;
	pt_thread_name("s3io");
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

/* Equal parts (R2 refuses a multipart upload whose parts, the last
 * excepted, differ in size; S3 and the others take it too), sized once
 * for the whole upload. */
size_t blob_s3_part_size(size_t base, uint64_t max)
{
	uint64_t need = (max + MAX_PARTS - 1) / MAX_PARTS;
	need = (need + (1u << 20) - 1) & ~(uint64_t)((1u << 20) - 1);
	if (need > PART_MAX)
		need = PART_MAX;
	return need > base ? (size_t)need : base;
}

void blob_s3_writer_expect(void *state, uint64_t max)
{
	struct s3_writer *w = state;
	if (!w->part)
		w->expect = max;
}

int blob_s3_writer_open(struct blob_store *s, void **state)
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

	if (!w->upload_id &&
	    (err = blob_s3_mpu_initiate(st, w->key, &w->upload_id)))
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

int blob_s3_writer_write(void *state, const void *p, size_t n)
{
	struct s3_writer *w = state;
	const char *c = p;
	int err;

	while (n > 0) {
		if (!w->buf) {
			if (!w->part)
				w->part = blob_s3_part_size(w->st->part_size,
							    w->expect);
			w->cap = w->part;
			w->buf = blob_s3_big_alloc(w->cap);
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
	blob_s3_big_free(w->buf, w->cap);
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
void blob_s3_writer_abort(void *state)
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
		blob_s3_mpu_abort_later(w->st, w->key, w->upload_id);
	}
	if (w->tmp_done)
		blob_s3_obj_delete(w->st, w->key);
	writer_free(w);
}

/* The content key from the writer's source (see above). */
static int writer_publish(struct s3_writer *w, const char *key, uint64_t size)
{
	struct s3_store *st = w->st;
	int err;

	if (!w->upload_id && !w->tmp_done)
		return blob_s3_obj_put(st, key, w->buf, w->len);
	if (w->upload_id) {
		if ((err = blob_s3_mpu_complete(st, w->key, w->upload_id,
						w->etags, w->nparts)))
			return err;
		free(w->upload_id);
		w->upload_id = NULL;
		w->tmp_done = true; /* an object to delete at release */
	}
	return blob_s3_obj_copy(st, w->key, key, size);
}

int blob_s3_writer_commit(void *state, const char *hex, uint64_t size,
			  bool *existed)
{
	struct s3_writer *w = state;
	char key[KEY_MAX];
	int err;

	*existed = false;
	w->size = size;
	blob_s3_key(w->st, hex, key);
	/* a blob that fit in one part is PUT where it belongs: no copy */
	if (w->upload_id) {
		if (w->len > 0 && (err = submit(w)))
			return err;
		if ((err = wait_parts(w)))
			return err;
	}
	err = blob_s3_obj_head(w->st, key, NULL);
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

int blob_s3_writer_ensure(void *state, const char *hex)
{
	struct s3_writer *w = state;
	char key[KEY_MAX];
	int err;

	blob_s3_key(w->st, hex, key);
	err = blob_s3_obj_head(w->st, key, NULL);
	if (err != -ENOENT)
		return err;
	pt_log("s3: blob '%s' vanished after commit: writing it again", key);
	return writer_publish(w, key, w->size);
}
