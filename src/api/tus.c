/*
 * tus.c — resumable uploads: the tus 1.0.0 protocol at /api/v1/uploads
 * with the extensions creation, creation-with-upload, creation-defer-length,
 * expiration, checksum, checksum-trailer, termination and concatenation.
 *
 * State lives where any node can find it: a row per upload in the
 * metadata store (length, durable offset, metadata, expiry, lease) and the
 * bytes in the blob store's partial area.  The offset in the row is
 * durable: bytes are synced before the row says they exist, so HEAD never
 * reports bytes that a crash could take back.  A PATCH holds a lease on
 * the row while it writes, so two requests (on one node or two) never
 * append to the same upload at once.  When the last byte is in, the
 * partial is hashed and committed exactly like a PUT (content-addressed,
 * deduplicated) and the link row is created in the same transaction that
 * closes the upload.
 *
 * Every upload is held to its owner's limit (policy_upload_limit: the
 * tier's size limit under storage.max_file_bytes, and the quota left):
 * at creation, when a deferred length is set, and byte by byte as a
 * PATCH grows it.  A final upload (concatenation) is the one request
 * whose work is not paid for by its own bytes, so what it may do is
 * bounded by the bytes clients sent: see "concatenation" in tus_create.c.
 *
 * The handlers are four files around one private header (tus_int.h):
 * this one (the headers of every reply, lookup, errors; OPTIONS, HEAD,
 * DELETE, GET; expiry), tus_create.c (POST: creation, concatenation),
 * tus_patch.c (PATCH: this node's writers, leases, the durable offset,
 * checksums) and tus_complete.c (the partial becomes a file).
 */
#define _GNU_SOURCE
#include "tus_int.h"

#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../http/reply.h"
#include "../util/banned.h"

#define TUS_VERSION "1.0.0"
#define TUS_EXTENSIONS                                                    \
	"creation,creation-with-upload,creation-defer-length,expiration,"  \
	"checksum,checksum-trailer,termination,concatenation"

/* ---- headers on every tus reply ---- */

static void cors(struct pt_req *r)
{
	struct app *app = r->ctx;
	const char *origin = req_header(r, "Origin");
	const char *allowed = app->conf->cors_origins;

	if (!origin || !allowed || !*allowed)
		return;
	if (strcmp(allowed, "*") != 0) {
		/* a space-separated list: exact match of the origin */
		size_t n = strlen(origin);
		const char *p = allowed;
		bool ok = false;
		while (*p && !ok) {
			while (*p == ' ')
				p++;
			const char *e = p;
			while (*e && *e != ' ')
				e++;
			ok = (size_t)(e - p) == n && memcmp(p, origin, n) == 0;
			p = e;
		}
		if (!ok)
			return;
	}
	req_reply_header(r, "Access-Control-Allow-Origin", origin);
	req_reply_header(r, "Vary", "Origin");
	req_reply_header(
		r, "Access-Control-Expose-Headers",
		"Location, Upload-Offset, Upload-Length, Upload-Metadata, "
		"Upload-Defer-Length, Upload-Concat, Upload-Expires, "
		"Tus-Version, Tus-Resumable, Tus-Extension, Tus-Max-Size, "
		"Tus-Checksum-Algorithm, X-Partage-Id, X-Partage-Url, "
		"X-Delete-Token");
}

/* The size limit advertised as Tus-Max-Size: the tier's under
 * storage.max_file_bytes, so there is always one. */
static uint64_t max_size(struct pt_req *r)
{
	struct app *app = r->ctx;
	return policy_max_size(app->conf, api_who(r));
}

/* Every request but OPTIONS must speak our version: 412 otherwise. */
bool tus_version_or_reply(struct pt_req *r, req_res *rc)
{
	const char *v = req_header(r, "Tus-Resumable");
	cors(r);
	req_reply_header(r, "Tus-Resumable", TUS_VERSION);
	if (v && strcmp(v, TUS_VERSION) == 0)
		return false;
	req_reply_header(r, "Tus-Version", TUS_VERSION);
	*rc = reply_error(r, PT_EPRECOND, NULL,
			  "precondition failed: Tus-Resumable must be %s",
			  TUS_VERSION);
	return true;
}

void tus_header_u64(struct pt_req *r, const char *name, uint64_t v)
{
	char b[24];
	snprintf(b, sizeof(b), "%" PRIu64, v);
	req_reply_header(r, name, b);
}

void tus_header_expires(struct pt_req *r, const struct upload_row *u)
{
	char d[32];
	if (u->state != UPLOAD_OPEN)
		return;
	pt_http_date(u->expires, d);
	req_reply_header(r, "Upload-Expires", d);
}

int tus_header_number(struct pt_req *r, const char *name, int64_t *out)
{
	const char *v = req_header(r, name);
	uint64_t n;
	if (!v)
		return PT_ENOTFOUND;
	if (pt_parse_u64(v, strlen(v), &n) || n > (uint64_t)INT64_MAX)
		return PT_EBADREQ;
	*out = (int64_t)n;
	return 0;
}

/* Find an upload and refuse what cannot be touched: 404 unknown, 410
 * terminated or expired.  Returns false, or true with the reply's result in rc. */
bool tus_lookup_or_reply(struct pt_req *r, const char *uid,
			 struct upload_row *u, req_res *rc)
{
	struct app *app = r->ctx;
	struct db *db = app_db(app);
	int err;

	if (!db) {
		*rc = reply_error(r, PT_EUNAVAIL, NULL,
				  "service unavailable: metadata store "
				  "unreachable, try again");
		return true;
	}
	err = strlen(uid) == UPLOAD_UID_LEN
		      ? repo_upload_get(db, r->pool, uid, u)
		      : PT_ENOTFOUND;
	if (err == PT_ENOTFOUND) {
		*rc = reply_error(r, PT_ENOTFOUND, NULL,
				  "not found: no upload '%s'", uid);
		return true;
	}
	if (err) {
		*rc = reply_error(r, err, NULL, "cannot look up upload: %s",
				  pt_strerror(err));
		return true;
	}
	if (u->state == UPLOAD_OPEN && u->expires <= pt_now() &&
	    u->lease <= pt_now()) {
		/* expired and nobody writing: free its bytes now rather than
		 * at the next gc pass */
		if (repo_upload_expire(db, u->uid, pt_now()) == 1) {
			struct app *a = r->ctx;
			blob_partial_remove(a->blobs, u->uid);
			u->state = UPLOAD_EXPIRED;
		}
	}
	if (u->state == UPLOAD_DONE && is_partial(u)) {
		/* consumed by the final upload that named it */
		*rc = reply_error(r, PT_EGONE, "consumed",
				  "gone: partial upload '%s' was used by a "
				  "final upload (a partial makes one final)",
				  uid);
		return true;
	}
	if (u->state == UPLOAD_TERMINATED || u->state == UPLOAD_EXPIRED ||
	    (u->state == UPLOAD_OPEN && u->expires <= pt_now())) {
		const char *why = u->state == UPLOAD_TERMINATED ? "terminated"
								 : "expired";
		*rc = reply_error(r, PT_EGONE, why, "gone: upload '%s' was %s",
				  uid, why);
		return true;
	}
	return false;
}

/* Whether the request carries a body (chunked, or a Content-Length > 0). */
bool tus_has_body(struct pt_req *r)
{
	const char *cl = req_header(r, "Content-Length");
	return req_header(r, "Transfer-Encoding") || (cl && strcmp(cl, "0"));
}

req_res tus_fail(struct pt_req *r, int err)
{
	switch (err) {
	case PT_ETOOBIG:
		return reply_error(r, err, NULL,
				   "payload too large: the upload would pass "
				   "its Upload-Length or the size limit");
	case PT_ENOSPACE:
		return reply_error(r, err, NULL,
				   "insufficient storage: the upload exceeds "
				   "your storage quota");
	case PT_ELEGAL:
		return reply_error(r, err, "removed",
				   "unavailable for legal reasons: this content "
				   "was removed and cannot be uploaded again");
	case PT_ECHECKSUM:
		return reply_error(r, err, NULL,
				   "checksum mismatch: the chunk was discarded, "
				   "the offset is unchanged");
	case -ENOSPC:
	case -EDQUOT:
		return reply_error(r, err, NULL,
				   "insufficient storage: the server is full");
	case PT_EUNAVAIL:
		return reply_error(r, err, NULL,
				   "service unavailable: metadata store "
				   "unreachable, try again");
	default:
		pt_log("tus: %s", pt_strerror(err));
		return reply_error(r, err > -4000 ? PT_EINTERNAL : err, NULL,
				   "cannot store the upload: %s",
				   pt_strerror(err));
	}
}

/* ---- handlers ---- */

req_res api_tus_options(struct pt_req *r)
{
	cors(r);
	req_reply_header(r, "Tus-Resumable", TUS_VERSION);
	req_reply_header(r, "Tus-Version", TUS_VERSION);
	req_reply_header(r, "Tus-Extension", TUS_EXTENSIONS);
	req_reply_header(r, "Tus-Checksum-Algorithm", TUS_CHECKSUMS);
	if (max_size(r))
		tus_header_u64(r, "Tus-Max-Size", max_size(r));
	if (req_header(r, "Origin") && req_header(r, "Access-Control-Request-Method")) {
		req_reply_header(r, "Access-Control-Allow-Methods",
				 "POST, GET, HEAD, PATCH, DELETE, OPTIONS");
		req_reply_header(
			r, "Access-Control-Allow-Headers",
			"Authorization, Content-Type, Upload-Offset, "
			"Upload-Length, Upload-Metadata, Upload-Defer-Length, "
			"Upload-Concat, Upload-Checksum, Tus-Resumable, "
			"X-HTTP-Method-Override, X-Requested-With");
		req_reply_header(r, "Access-Control-Max-Age", "86400");
	}
	return reply_empty(r, 204);
}

req_res api_tus_head(struct pt_req *r)
{
	struct upload_row u;
	req_res rc;

	if (tus_version_or_reply(r, &rc))
		return rc;
	req_reply_header(r, "Cache-Control", "no-store");
	if (tus_lookup_or_reply(r, r->arg[0].p, &u, &rc))
		return rc;
	tus_header_u64(r, "Upload-Offset", (uint64_t)u.received);
	if (u.length >= 0)
		tus_header_u64(r, "Upload-Length", (uint64_t)u.length);
	else
		req_reply_header(r, "Upload-Defer-Length", "1");
	if (*u.metadata)
		req_reply_header(r, "Upload-Metadata", u.metadata);
	if (*u.concat)
		req_reply_header(r, "Upload-Concat", u.concat);
	tus_header_expires(r, &u);
	/* a file request's uploader is not told the link */
	if (u.state == UPLOAD_DONE && *u.link_id && !*u.request_id) {
		struct app *app = r->ctx;
		req_reply_header(r, "X-Partage-Id", u.link_id);
		req_reply_header(r, "X-Partage-Url",
				 pt_psprintf(r->pool, "%s/%s", app->public_url,
					     u.link_id));
	}
	return reply_empty(r, 200);
}

req_res api_tus_delete(struct pt_req *r)
{
	struct app *app = r->ctx;
	struct upload_row u;
	req_res rc;
	int err;

	if (tus_version_or_reply(r, &rc))
		return rc;
	if (tus_lookup_or_reply(r, r->arg[0].p, &u, &rc))
		return rc;
	if ((err = repo_upload_set_state(app_db(app), u.uid,
					 UPLOAD_TERMINATED)))
		return tus_fail(r, err);
	/* a PATCH in flight keeps its open fd; its bytes go with it */
	blob_partial_remove(app->blobs, u.uid);
	return reply_empty(r, 204);
}

req_res api_tus_get(struct pt_req *r)
{
	struct app *app = r->ctx;
	struct upload_row u;
	struct link l;
	req_res rc;

	cors(r);
	if (tus_lookup_or_reply(r, r->arg[0].p, &u, &rc))
		return rc;
	if (u.state != UPLOAD_DONE || !*u.link_id) {
		json_t *o = json_pack("{s:s, s:i, s:I}", "error",
				      "conflict: the upload is not complete",
				      "status", 409, "offset",
				      (json_int_t)u.received);
		if (u.length >= 0)
			json_object_set_new(o, "length", json_integer(u.length));
		return reply_json(r, 409, o);
	}
	if (api_link_lookup_or_reply(r, u.link_id, &l, &rc, false))
		return rc;
	if (*u.request_id) /* a file request's uploader is not told the link */
		return api_request_received(r, u.request_id, &l);
	return reply_json(r, 200, api_file_json(app, &l));
}

/* Maintenance: abandoned uploads past their expiry lose their bytes. */
int tus_expire(struct app *app, int64_t now)
{
	struct db *db = app_db(app);
	struct pt_pool *pool = pt_pool_new();
	char *uids[256];
	size_t n = 0;
	int removed = 0;

	if (db && !repo_uploads_expired(db, pool, now, uids, 256, &n)) {
		for (size_t i = 0; i < n; i++) {
			if (repo_upload_expire(db, uids[i], now) != 1)
				continue; /* a PATCH took it meanwhile */
			blob_partial_remove(app->blobs, uids[i]);
			removed++;
		}
	}
	pt_pool_free(pool);
	return removed;
}
