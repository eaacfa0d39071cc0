/*
 * blob_s3_gc.c — what gc and fsck use of the s3 blob backend: removing a
 * blob, listing every blob (only keys of the blobs/ab/cd/<hex> form), and
 * the cleanup of what interrupted writers left: multipart uploads and
 * tmp/ objects older than st->grace (a day), so that the in-progress
 * uploads of other nodes sharing the bucket are left alone.
 */
#define _GNU_SOURCE
#include "blob_s3_int.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../util/buf.h"
#include "../util/pt.h"
#include "../util/banned.h"

int blob_s3_remove(struct blob_store *s, const char *hex)
{
	char key[KEY_MAX];
	blob_s3_key(s->impl, hex, key);
	return blob_s3_obj_delete(s->impl, key);
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

int blob_s3_list(struct blob_store *s,
		 int (*cb)(const char *hex, uint64_t size, int64_t mtime,
			   void *arg),
		 void *arg)
{
	struct list_arg la = { cb, arg, ((struct s3_store *)s->impl)->prefix };
	return blob_s3_list_prefix(s->impl, "blobs/", list_blob_cb, &la);
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
	if (mtime >= 0 && mtime < sw->before &&
	    !blob_s3_obj_delete(sw->st, key))
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
	    !blob_s3_mpu_abort(sw->st, v[0], v[1]))
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

int blob_s3_cleanup(struct blob_store *s)
{
	struct s3_store *st = s->impl;
	/* wall-clock time: S3's dates are real, PARTAGE_TIME_OFFSET is not */
	struct sweep sw = { st, (int64_t)time(NULL) - st->grace, 0 };
	int err;

	/* this process's own failed aborts first, whatever their age */
	sw.n += blob_s3_orphans_retry(st);
	if ((err = sweep_uploads(&sw)))
		return err;
	if ((err = blob_s3_list_prefix(st, "tmp/", sweep_tmp_cb, &sw)))
		return err;
	return sw.n;
}
