/*
 * blob_s3_partial.c — partial (tus) uploads of the s3 blob backend:
 * uploads/<uid>/<8 digits>, a run of segment objects, all st->seg_size
 * (8 MiB) except the last, in the bucket so that any node can resume an
 * upload.  The segment being filled is spooled in memory and rewritten
 * at every sync; at commit the segments become the blob server-side
 * (UploadPartCopy), and concatenation (tus parallel uploads) copies the
 * bytes through this node.  The design notes are in blob_s3.c.
 */
#define _GNU_SOURCE
#include "blob_s3_int.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../util/buf.h"
#include "../util/pt.h"
#include "../util/banned.h"

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
	if ((err = blob_s3_list_prefix(st, prefix, segs_cb, sg))) {
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
		if ((err = blob_s3_obj_delete(st, key)))
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

int blob_s3_partial_create(struct blob_store *s, const char *uid)
{
	char key[KEY_MAX];
	int err;

	seg_key(s->impl, uid, 0, key);
	err = blob_s3_obj_head(s->impl, key, NULL);
	if (!err)
		return -EEXIST;
	if (err != -ENOENT)
		return err;
	return blob_s3_obj_put(s->impl, key, "", 0);
}

int blob_s3_partial_open(struct blob_store *s, const char *uid,
			 uint64_t offset, void **state)
{
	struct s3_store *st = s->impl;
	struct s3_partial *p = xcalloc(1, sizeof(*p));
	int err;

	p->st = st;
	snprintf(p->uid, sizeof(p->uid), "%s", uid);
	p->buf = blob_s3_big_alloc(st->seg_size);
	if ((err = partial_reset(p, offset))) {
		blob_s3_big_free(p->buf, st->seg_size);
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
	if ((err = blob_s3_obj_put(p->st, key, p->buf, p->len)))
		return err;
	p->dirty = false;
	return 0;
}

int blob_s3_partial_write(void *state, const void *data, size_t n)
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

int blob_s3_partial_sync(void *state)
{
	struct s3_partial *p = state;
	/* the spooled tail goes to the bucket: from here on any node can
	 * resume at this offset */
	return p->dirty ? seg_flush(p) : 0;
}

int blob_s3_partial_truncate(void *state, uint64_t offset)
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

void blob_s3_partial_close(void *state)
{
	struct s3_partial *p = state;
	blob_s3_big_free(p->buf, p->st->seg_size);
	free(p);
}

ssize_t blob_s3_partial_pread(struct blob_store *s, const char *uid,
			      void *buf, size_t n, uint64_t off)
{
	if (n == 0)
		return 0;
	return seg_read(s->impl, uid, buf, n, off);
}

int blob_s3_partial_link(struct blob_store *s, const char *uid,
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
	blob_s3_key(st, hex, key);
	err = blob_s3_obj_head(st, key, NULL);
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
		err = total ? blob_s3_obj_copy(st, src, key, total)
			    : blob_s3_obj_put(st, key, "", 0);
		goto done;
	}
	/* server-side assembly: every full segment is a valid part */
	if ((err = blob_s3_mpu_initiate(st, key, &id)))
		goto done;
	etags = xcalloc(sg.n, sizeof(*etags));
	for (uint64_t off = 0; off < total; off += st->seg_size) {
		seg_key(st, uid, off / st->seg_size, src);
		if ((err = blob_s3_part_copy(st, key, id, nparts + 1, src, 0, 0,
					     &etags[nparts])))
			goto fail;
		nparts++;
	}
	if (!(err = blob_s3_mpu_complete(st, key, id, etags, nparts)))
		goto done;
fail:
	blob_s3_mpu_abort_later(st, key, id);
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
int blob_s3_partial_concat(struct blob_store *s, const char *dst,
			   const char *const *src, size_t n)
{
	struct s3_store *st = s->impl;
	size_t bufsz = 1 << 20;
	char *buf = xmalloc(bufsz);
	void *state = NULL;
	int err;

	if ((err = blob_s3_partial_open(s, dst, 0, &state)))
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
			err = blob_s3_partial_write(state, buf, (size_t)k);
			off += (uint64_t)k;
		}
	}
	if (!err)
		err = blob_s3_partial_sync(state);
done:
	if (state)
		blob_s3_partial_close(state);
	free(buf);
	return err;
}

static int remove_cb(const char *key, uint64_t size, int64_t mtime, void *arg)
{
	struct s3_store *st = arg;
	return blob_s3_obj_delete(st, key) < 0 ? -EIO : 0;
}

int blob_s3_partial_remove(struct blob_store *s, const char *uid)
{
	char prefix[KEY_MAX];
	snprintf(prefix, sizeof(prefix), "uploads/%s/", uid);
	return blob_s3_list_prefix(s->impl, prefix, remove_cb, s->impl);
}
