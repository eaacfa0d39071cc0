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
 *
 * This file holds the store itself (open, close, the vtable, presigned
 * URLs); the rest is in blob_s3_req.c, blob_s3_write.c, blob_s3_read.c,
 * blob_s3_gc.c and blob_s3_partial.c, which share blob_s3_int.h.
 */
#define _GNU_SOURCE
#include "blob_s3_int.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../util/buf.h"
#include "../util/pt.h"
#include "../util/banned.h"

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
		blob_s3_orphans_retry(st);
	for (struct orphan *o = st->orphans, *next; o; o = next, left++) {
		next = o->next;
		blob_s3_orphan_free(o);
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

	blob_s3_key(st, hex, key);
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
	.writer_open = blob_s3_writer_open,
	.writer_write = blob_s3_writer_write,
	.writer_expect = blob_s3_writer_expect,
	.writer_commit = blob_s3_writer_commit,
	.writer_ensure = blob_s3_writer_ensure,
	.writer_abort = blob_s3_writer_abort,
	.reader_open = blob_s3_reader_open,
	.reader_fd = blob_s3_reader_fd,
	.reader_take_fd = blob_s3_reader_fd,
	.reader_pread = blob_s3_reader_pread,
	.reader_close = blob_s3_reader_close,
	.stat = blob_s3_stat,
	.remove = blob_s3_remove,
	.list = blob_s3_list,
	.cleanup = blob_s3_cleanup,
	.close = s3_close,
	.partial_create = blob_s3_partial_create,
	.partial_open = blob_s3_partial_open,
	.partial_write = blob_s3_partial_write,
	.partial_sync = blob_s3_partial_sync,
	.partial_truncate = blob_s3_partial_truncate,
	.partial_close = blob_s3_partial_close,
	.partial_pread = blob_s3_partial_pread,
	.partial_link = blob_s3_partial_link,
	.partial_concat = blob_s3_partial_concat,
	.partial_remove = blob_s3_partial_remove,
	.presign = s3_presign,
};

int blob_s3_open(const char *endpoint, const char *bucket, const char *region,
		 const char *access_key, const char *secret_key,
		 const char *public_endpoint, struct blob_store **out)
{
	struct s3_conf c = { endpoint, bucket, region, access_key,
			     secret_key, public_endpoint, false };
	return blob_s3_open_conf(&c, out);
}

int blob_s3_open_conf(const struct s3_conf *conf, struct blob_store **out)
{
	struct s3_store *st = xcalloc(1, sizeof(*st));
	const char *bucket = conf->bucket, *endpoint = conf->endpoint;
	const char *slash = bucket ? strchr(bucket, '/') : NULL;
	struct blob_store *s;
	const char *why;
	int err;

	/* "bucket/prefix": this store's keys all start with "prefix/" */
	st->bucket = slash ? xstrndup(bucket, (size_t)(slash - bucket))
			   : xstrdup(bucket ? bucket : "");
	st->prefix = slash && slash[1] ? xasprintf("%s/", slash + 1)
				       : xstrdup("");
	struct s3_conf c = *conf;
	c.bucket = st->bucket;

	pthread_mutex_init(&st->mu, NULL);
	pthread_cond_init(&st->cv, NULL);
	st->part_size = PART_SIZE;
	st->seg_size = SEG_SIZE;
	st->inflight = INFLIGHT;
	st->copy_max = COPY_MAX;
	st->copy_part = COPY_PART;
	st->grace = GRACE_SECONDS;
	if ((why = s3_conf_problem(&c)) || s3_new(&c, &st->s3)) {
		pt_log("s3: %s", why ? why : "cannot make the client");
		err = PT_EBADREQ;
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
		if (pthread_create(&st->th[st->nth], NULL, blob_s3_worker,
				   st)) {
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
