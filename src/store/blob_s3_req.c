/*
 * blob_s3_req.c — the S3 requests the s3 blob backend is made of (see
 * blob_s3.c for the design): HEAD, PUT and DELETE of one object, multipart
 * uploads (initiate, complete, abort, UploadPartCopy), server-side copies
 * of any size, paged listings under a prefix, and the aborts that the
 * store did not take, kept and retried until it does.  Also the key of a
 * blob and the mmap'd buffers of parts and segments.
 */
#define _GNU_SOURCE
#include "blob_s3_int.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "../util/buf.h"
#include "../util/pt.h"
#include "../util/banned.h"

/* Part and segment buffers (MiBs each) come straight from mmap: freed,
 * they go back to the system at once, where malloc would keep them in a
 * thread's arena (its mmap threshold rises to their size after the first
 * free) and the RSS of a node would stay at its busiest. */
char *blob_s3_big_alloc(size_t n)
{
	void *p = mmap(NULL, n, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		abort(); /* out of memory: the x* policy */
	return p;
}

void blob_s3_big_free(char *p, size_t n)
{
	if (p)
		munmap(p, n);
}

void blob_s3_key(struct s3_store *st, const char *hex, char out[KEY_MAX])
{
	snprintf(out, KEY_MAX, "%sblobs/%.2s/%.2s/%s", st->prefix, hex, hex + 2,
		 hex);
}

/* ---- small requests ---- */

int blob_s3_obj_head(struct s3_store *st, const char *key, uint64_t *size)
{
	struct s3_req r = { .method = "HEAD", .key = key };
	int err = s3_request(st->s3, &r);
	if (!err && size)
		*size = r.length;
	return err;
}

int blob_s3_obj_put(struct s3_store *st, const char *key, const void *p,
		    size_t n)
{
	struct s3_req r = { .method = "PUT", .key = key, .body = p,
			    .body_len = n };
	return s3_request(st->s3, &r);
}

int blob_s3_obj_delete(struct s3_store *st, const char *key)
{
	struct s3_req r = { .method = "DELETE", .key = key };
	int err = s3_request(st->s3, &r);
	return err == -ENOENT ? 0 : err;
}

int blob_s3_mpu_initiate(struct s3_store *st, const char *key, char **id)
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
int blob_s3_mpu_abort(struct s3_store *st, const char *key, const char *id)
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
 * the retries (blob_s3_orphans_retry) when the store does not answer. */
void blob_s3_mpu_abort_later(struct s3_store *st, const char *key,
			     const char *id)
{
	struct orphan *o;

	if (!blob_s3_mpu_abort(st, key, id))
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

void blob_s3_orphan_free(struct orphan *o)
{
	free(o->key);
	free(o->id);
	free(o);
}

/* Try the remembered aborts, stopping at the first the store refuses
 * again (it is still away: the rest would fail too).  Returns how many
 * went.  Blocks on the network. */
int blob_s3_orphans_retry(struct s3_store *st)
{
	struct orphan *list, *o;
	int n = 0;

	pthread_mutex_lock(&st->mu);
	list = st->orphans;
	st->orphans = NULL;
	pthread_mutex_unlock(&st->mu);
	while ((o = list)) {
		if (blob_s3_mpu_abort(st, o->key, o->id))
			break;
		list = o->next;
		pt_log("s3: aborted the upload of '%s' that a failed writer "
		       "left", o->key);
		blob_s3_orphan_free(o);
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

int blob_s3_mpu_complete(struct s3_store *st, const char *key, const char *id,
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
int blob_s3_part_copy(struct s3_store *st, const char *dst, const char *id,
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
int blob_s3_obj_copy(struct s3_store *st, const char *src, const char *dst,
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
	if ((err = blob_s3_mpu_initiate(st, dst, &id)))
		return err;
	etags = xcalloc(size / st->copy_part + 1, sizeof(*etags));
	for (uint64_t off = 0; off < size; off += st->copy_part, n++) {
		uint64_t to = off + st->copy_part < size ? off + st->copy_part
							 : size;
		if ((err = blob_s3_part_copy(st, dst, id, n + 1, src, off, to,
					     &etags[n])))
			goto fail;
	}
	if ((err = blob_s3_mpu_complete(st, dst, id, etags, n)))
		goto fail;
	goto done;
fail:
	blob_s3_mpu_abort_later(st, dst, id);
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
int blob_s3_list_prefix(struct s3_store *st, const char *prefix,
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
