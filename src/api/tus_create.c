/*
 * tus_create.c — POST /api/v1/uploads: a new upload (creation,
 * creation-defer-length, creation-with-upload), and concatenation: a
 * final upload made of finished partial uploads.
 *
 * A creation is checked in full before anything is stored (the headers
 * and metadata, a final's partials, the size limits, the stores), then
 * gets its row and its partial file, then either reads its body as the
 * first PATCH (tus_patch.c) or replies 201 — completing at once an empty
 * upload or a final one (tus_complete.c).
 */
#define _GNU_SOURCE
#include "tus_int.h"
#include "pwcheck.h"

#include <inttypes.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "../http/reply.h"
#include "../store/reserve.h"
#include "../util/banned.h"

/* ---- concatenation ----
 *
 * A final upload makes the server copy, fsync and hash every byte it
 * names, however few bytes its own request carries.  So that this work
 * never exceeds what clients sent:
 *   - a list names at most TUS_CONCAT_MAX partials, each at most once
 *     (400 otherwise);
 *   - a partial is consumed by the final that uses it: its bytes go and
 *     later requests for it, a second final included, get 410;
 *   - the final's length (the sum) is held, before a byte is copied, to
 *     the principal's upload limit (413 with Tus-Max-Size; 507 for the
 *     quota), like a PUT of that length, and to the disk's free space
 *     (507).
 * While it copies, the final holds each partial's lease (pinned against a
 * PATCH's take-over), so no PATCH, expiry or other final touches them; if
 * it fails the leases are given back and the partials stay usable, and
 * its own copy is removed: nothing half-written is left.  The tus spec
 * allows this ("The Server MAY delete partial uploads after
 * concatenation"); the one case where a partial could serve twice is a
 * crash between the final's commit and its consumption.
 */
struct concat {
	size_t n, held;
	char **uids;
	int64_t lengths[TUS_CONCAT_MAX];
	struct writer *w[TUS_CONCAT_MAX];
	int64_t total;
};

/* Whether the data directory's file system has room for the final's
 * copy above the upload floor (reserve_upload_ok: min_free_bytes and
 * what the reserve misses); other backends: yes, the write then tells. */
static bool room_for(struct app *app, uint64_t bytes)
{
	return strcmp(app->conf->storage_backend, "fs") != 0 ||
	       reserve_upload_ok(bytes);
}

/* Check the list of a final upload without changing anything: each
 * partial once, each a complete, open partial upload here; c->total is
 * their sum.  Returns false, or true with the reply's result in *rc. */
static bool concat_check_or_reply(struct pt_req *r, struct concat *c,
				  req_res *rc)
{
	struct app *app = r->ctx;
	struct db *db = app_db(app);

	c->total = 0;
	for (size_t i = 0; i < c->n; i++)
		for (size_t j = 0; j < i; j++)
			if (strcmp(c->uids[i], c->uids[j]) == 0) {
				*rc = reply_error(
					r, PT_EBADREQ, NULL,
					"bad request: Upload-Concat names "
					"partial upload '%s' twice (each "
					"partial may appear once)",
					c->uids[i]);
				return true;
			}
	for (size_t i = 0; i < c->n; i++) {
		struct upload_row pu;
		const char *uid = c->uids[i];
		int err = strlen(uid) == UPLOAD_UID_LEN
				  ? repo_upload_get(db, r->pool, uid, &pu)
				  : PT_ENOTFOUND;
		if (err == PT_ENOTFOUND || (!err && !is_partial(&pu))) {
			*rc = reply_error(r, PT_EBADREQ, NULL,
					  "bad request: Upload-Concat names "
					  "'%s', which is not a partial upload "
					  "here",
					  uid);
			return true;
		}
		if (err) {
			*rc = tus_fail(r, err);
			return true;
		}
		if (pu.state == UPLOAD_DONE) {
			*rc = reply_error(r, PT_EGONE, "consumed",
					  "gone: partial upload '%s' was used "
					  "by a final upload already (a partial "
					  "makes one final)",
					  uid);
			return true;
		}
		if (pu.state != UPLOAD_OPEN || pu.expires <= pt_now()) {
			*rc = reply_error(r, PT_EGONE, NULL,
					  "gone: partial upload '%s' was "
					  "terminated or expired",
					  uid);
			return true;
		}
		if (pu.length < 0 || pu.received != pu.length) {
			*rc = reply_error(r, PT_EBADREQ, NULL,
					  "bad request: partial upload '%s' is "
					  "not finished (no "
					  "concatenation-unfinished)",
					  uid);
			return true;
		}
		if (pu.length > INT64_MAX - c->total) {
			*rc = tus_fail(r, PT_ETOOBIG);
			return true;
		}
		c->lengths[i] = pu.length;
		c->total += pu.length;
	}
	return false;
}

/* Give the partials held so far back untouched (a failed final). */
static void concat_release(struct pt_req *r, struct concat *c)
{
	struct app *app = r->ctx;
	struct db *db = app_db(app);

	for (size_t i = 0; i < c->held; i++) {
		if (db)
			repo_upload_advance(db, c->uids[i], c->lengths[i], NULL,
					    true);
		tus_writer_remove(c->w[i]);
	}
	c->held = 0;
}

/* Take every partial's lease for the copy.  Returns false, or true with
 * the reply's result in *rc (and nothing held). */
static bool concat_hold_or_reply(struct pt_req *r, struct concat *c,
				 req_res *rc)
{
	struct app *app = r->ctx;
	struct db *db = app_db(app);
	/* the copy may take long: 16 MiB/s is slow for any disk */
	int64_t until = pt_now() + tus_lease_seconds(app) + (c->total >> 24);

	for (c->held = 0; c->held < c->n; c->held++) {
		size_t i = c->held;
		bool alone;
		c->w[i] = tus_writer_add(c->uids[i], &alone);
		c->w[i]->pinned = true;
		int err = repo_upload_claim(db, c->uids[i], c->lengths[i],
					    pt_now(), until, app->node,
					    tus_node_lease_ms(app));
		if (!err)
			continue;
		tus_writer_remove(c->w[i]);
		concat_release(r, c);
		if (err == PT_EGONE)
			*rc = reply_error(r, PT_EGONE, NULL,
					  "gone: partial upload '%s' was used "
					  "by another final upload or removed",
					  c->uids[i]);
		else if (err == PT_ELIMIT || err == PT_ECONFLICT)
			*rc = reply_error(r, PT_ECONFLICT, NULL,
					  "conflict: partial upload '%s' is in "
					  "use by another request, try again",
					  c->uids[i]);
		else
			*rc = tus_fail(r, err);
		return true;
	}
	return false;
}

/* The final is a file: its partials are used up. */
static void concat_consume(struct pt_req *r, struct concat *c)
{
	struct app *app = r->ctx;
	struct db *db = app_db(app);

	for (size_t i = 0; i < c->held; i++) {
		int err = db ? repo_upload_set_state(db, c->uids[i],
						     UPLOAD_DONE)
			     : PT_EUNAVAIL;
		if (err)
			pt_log("tus: cannot mark partial %s used: %s",
			       c->uids[i], pt_strerror(err));
		else
			blob_partial_remove(app->blobs, c->uids[i]);
		tus_writer_remove(c->w[i]);
	}
	c->held = 0;
}

/* ---- creation ---- */

static char *upload_url(struct pt_req *r, const char *uid)
{
	struct app *app = r->ctx;
	return pt_psprintf(r->pool, "%s/api/v1/uploads/%s", app->public_url,
			   uid);
}


/* What a creation asks for, filled in by its steps in order. */
struct creation {
	struct patch *p;        /* the upload's row and its first PATCH */
	const char *concat;     /* Upload-Concat, or NULL */
	const char *meta;       /* Upload-Metadata, or NULL */
	struct tus_meta m;      /* meta parsed (when meta) */
	bool final;             /* Upload-Concat: final;… */
	int64_t length;         /* -1: deferred; a final's: the parts' sum */
	char *uids[TUS_CONCAT_MAX];
	struct concat c;        /* a final's partials (c.uids is uids) */
};

/* Upload-Metadata (well-formed, printable text, max_days and
 * max_downloads whole numbers), the link password (X-Partage-Password or
 * the metadata's "password", hashed into the row) and the metadata's
 * "folder" (the uploader's).  false, or true with the refusal's result in *rc. */
static bool creation_metadata_or_reply(struct pt_req *r, struct creation *cr,
				       req_res *rc)
{
	struct upload_row *u = &cr->p->u;
	const char *meta = cr->meta;

	if (meta && tus_metadata_parse(r->pool, meta, &cr->m)) {
		*rc = reply_error(r, PT_EBADREQ, NULL,
				  "bad request: malformed Upload-Metadata "
				  "(key base64,key base64,…)");
		return true;
	}
	if (meta) {
		size_t fn;
		const char *fv = tus_metadata_get(&cr->m, "filename", &fn);
		if (!fv)
			fv = tus_metadata_get(&cr->m, "name", &fn);
		/* control characters are not refused: the name is
		 * sanitised (T31), never echoed raw */
		if (api_text_check_or_reply(r, "Upload-Metadata", meta,
					    strlen(meta), 0, rc) ||
		    (fv &&
		     api_text_check_or_reply(r,
					     "the filename in Upload-Metadata",
					     fv, fn, 0, rc)))
			return true;
		int64_t k;
		if (tus_meta_count(&cr->m, "max_days", &k) ||
		    tus_meta_count(&cr->m, "max_downloads", &k)) {
			*rc = reply_error(r, PT_EBADREQ, NULL,
					  "bad request: max_days and "
					  "max_downloads in Upload-Metadata "
					  "must be positive whole numbers");
			return true;
		}
	}
	/* A link password: X-Partage-Password, or the metadata key
	 * "password", which is kept out of the stored metadata (HEAD echoes
	 * that to anyone who has the upload URL). */
	size_t pwn = 0;
	const char *pw = req_header(r, "X-Partage-Password");
	if (pw)
		pwn = strlen(pw);
	else if (meta)
		pw = tus_metadata_get(&cr->m, "password", &pwn);
	u->password_hash = "";
	if (pw) {
		if (pwn == 0 || pwn > 1024 || strlen(pw) != pwn) {
			*rc = reply_error(r, PT_EBADREQ, NULL,
					  "bad request: a link password has "
					  "1 to 1024 characters");
			return true;
		}
		if (api_pw_hash_now_or_reply(r, pw, &u->password_hash, rc))
			return true; /* 503: every hashing slot is busy */
	}
	/* "folder": the uploader's folder the file goes into */
	char folder[ID_LEN + 1];
	return api_upload_folder_or_reply(r,
					  tus_meta_folder(r,
							  meta ? &cr->m : NULL),
					  folder, rc);
}

/* Upload-Concat (partial, or final and its list) and the length:
 * Upload-Length, or Upload-Defer-Length: 1, or for a final neither (it
 * is the parts' sum: concat_check).  false, or true with the refusal's result
 * in *rc. */
static bool creation_length_or_reply(struct pt_req *r, struct creation *cr,
				     req_res *rc)
{
	const char *defer = req_header(r, "Upload-Defer-Length");
	bool partial = false;
	int err;

	err = cr->concat ? tus_concat_parse(r->pool, cr->concat, &partial,
					    cr->uids, &cr->c.n)
			 : 0;
	if (err == PT_ELIMIT) {
		*rc = reply_error(r, PT_EBADREQ, NULL,
				  "bad request: a final upload joins at most "
				  "%d partial uploads",
				  TUS_CONCAT_MAX);
		return true;
	}
	if (err) {
		*rc = reply_error(r, PT_EBADREQ, NULL,
				  "bad request: Upload-Concat must be "
				  "'partial' or 'final;URL URL…'");
		return true;
	}
	err = tus_header_number(r, "Upload-Length", &cr->length);
	if (err == PT_EBADREQ) {
		*rc = reply_error(r, PT_EBADREQ, NULL,
				  "bad request: Upload-Length must be a "
				  "non-negative integer");
		return true;
	}
	cr->final = cr->concat && !partial;
	if (cr->final && err == 0) {
		*rc = reply_error(r, PT_EBADREQ, NULL,
				  "bad request: a final upload takes no "
				  "Upload-Length (it is the parts' sum)");
		return true;
	}
	if (!cr->final && err == PT_ENOTFOUND) {
		if (!defer || strcmp(defer, "1") != 0) {
			*rc = reply_error(r, PT_EBADREQ, NULL,
					  "bad request: send Upload-Length, "
					  "or Upload-Defer-Length: 1");
			return true;
		}
		cr->length = -1;
	} else if (defer) {
		*rc = reply_error(r, PT_EBADREQ, NULL,
				  "bad request: Upload-Length and "
				  "Upload-Defer-Length together");
		return true;
	}
	return false;
}

/* The limits, before anything is stored: a final's partials
 * (concat_check) give its length; the length against the principal's
 * upload limit (413 for good, 507 for the quota), then the stores
 * (api_intake_check_or_reply), then a final's room on disk.  false, or true with
 * the refusal's result in *rc. */
static bool creation_limits_or_reply(struct pt_req *r, struct creation *cr,
				     req_res *rc)
{
	struct app *app = r->ctx;
	int64_t length;

	/* a final's length is the sum of its parts, held to the same
	 * limits before any byte is copied */
	if (cr->final && concat_check_or_reply(r, &cr->c, rc))
		return true;
	if (cr->final)
		cr->length = cr->c.total;
	length = cr->length;
	const char *what = cr->final ? "the final upload's length (the sum "
				       "of its partials)"
				     : "Upload-Length";
	bool by_quota;
	uint64_t limit = api_upload_limit(r, &by_quota);
	if (length > 0 && (uint64_t)length > limit) {
		if (by_quota) {
			*rc = reply_error(r, PT_ENOSPACE, NULL,
					  "insufficient storage: %s "
					  "%" PRId64 " exceeds your storage "
					  "quota (%" PRIu64 " bytes left)",
					  what, length, limit);
			return true;
		}
		tus_header_u64(r, "Tus-Max-Size", limit);
		*rc = reply_error(r, PT_ETOOBIG, NULL,
				  "payload too large: %s %" PRId64
				  " exceeds the limit of %" PRIu64 " bytes",
				  what, length, limit);
		return true;
	}
	/* after the size limits: an upload over them is refused for good
	 * (413), not for now (507) */
	if (api_intake_check_or_reply(r, rc))
		return true;
	if (cr->final && !room_for(app, (uint64_t)length)) {
		*rc = reply_error(r, PT_ENOSPACE, NULL,
				  "insufficient storage: no room for the "
				  "final upload's %" PRId64 " bytes now",
				  length);
		return true;
	}
	return false;
}

/* The upload's row and its partial file, a final's holding its parts'
 * bytes (their leases taken for the copy, concat_hold); p->location and
 * p->token are set.  false, or true with the failure's result in *rc and
 * nothing left behind (the partials released). */
static bool creation_store_or_reply(struct pt_req *r, struct creation *cr,
				    req_res *rc)
{
	struct app *app = r->ctx;
	struct db *db = app_db(app);
	struct patch *p = cr->p;
	struct upload_row *u = &p->u;
	int err;

	/* the upload id is the key to the upload: UPLOAD_UID_LEN
	 * characters of the link ids' alphabet (ids.h) */
	id_fill(u->uid, UPLOAD_UID_LEN);
	u->length = cr->length;
	u->metadata = cr->meta ? tus_metadata_without(r->pool, cr->meta,
						      "password")
			       : "";
	u->concat = pt_pstrdup(r->pool, cr->concat ? cr->concat : "");
	u->owner = api_who(r)->user_id;
	u->created = pt_now();
	u->expires = u->created +
		     (int64_t)app->conf->upload_expiry_hours * 3600;
	token_new(p->token);
	token_hash(p->token, TOKEN_LEN, u->delete_hash);
	if (cr->final && concat_hold_or_reply(r, &cr->c, rc))
		return true;
	if ((err = blob_partial_create(app->blobs, u->uid)) ||
	    (cr->final &&
	     (err = blob_partial_concat(app->blobs, u->uid,
					(const char *const *)cr->uids,
					cr->c.n)))) {
		blob_partial_remove(app->blobs, u->uid);
		concat_release(r, &cr->c);
		*rc = tus_fail(r, err);
		return true;
	}
	if (cr->final)
		u->received = cr->length;
	if ((err = repo_upload_create(db, u))) {
		blob_partial_remove(app->blobs, u->uid);
		concat_release(r, &cr->c);
		*rc = tus_fail(r, err);
		return true;
	}
	p->location = upload_url(r, u->uid);
	return false;
}

/* creation-with-upload: the body is the first PATCH.  Returns the
 * result of tus_patch_begin, or of a refusal. */
static req_res creation_body(struct pt_req *r, struct creation *cr)
{
	struct app *app = r->ctx;
	struct db *db = app_db(app);
	struct patch *p = cr->p;
	struct upload_row *u = &p->u;
	const char *ctype = req_header(r, "Content-Type");
	req_res rc;

	if (!ctype || strcasecmp(ctype, OCTET) != 0)
		return reply_error(r, PT_EUNSUPPORTED, NULL,
				   "unsupported media type: a creation "
				   "body must be " OCTET);
	/* the whole file in one creation request with its sha256:
	 * blocked content is refused before a byte is read */
	const char *ck = req_header(r, "Upload-Checksum");
	const char *cl = req_header(r, "Content-Length");
	char algo[16];
	unsigned char dg[64];
	size_t dn;
	uint64_t len;
	if (ck && cl && !pt_parse_u64(cl, strlen(cl), &len) &&
	    (int64_t)len == u->length &&
	    !tus_checksum_parse(ck, algo, dg, &dn) &&
	    !strcmp(algo, "sha256") && dn == 32) {
		char hex[BLOB_HEX_LEN + 1];
		sodium_bin2hex(hex, sizeof(hex), dg, dn);
		if (abuse_check_upload_or_reply(r, hex, &rc)) {
			repo_upload_set_state(db, u->uid, UPLOAD_TERMINATED);
			blob_partial_remove(app->blobs, u->uid);
			return rc;
		}
	}
	p->creating = true;
	return tus_patch_begin(r, p);
}

/* The 201 of a creation without a body.  An empty upload and a final
 * one are complete at once: a final that cannot complete leaves nothing
 * (its row terminated, its copy removed, its parts released); one that
 * does consumes its parts. */
static req_res creation_reply(struct pt_req *r, struct creation *cr)
{
	struct app *app = r->ctx;
	struct db *db = app_db(app);
	struct patch *p = cr->p;
	struct upload_row *u = &p->u;
	int err;

	req_reply_header(r, "Location", p->location);
	req_reply_header(r, "X-Delete-Token", p->token);
	if (u->length == 0 || cr->final) {
		/* empty or concatenated: complete at once */
		struct link l;
		if (!is_partial(u)) {
			if ((err = tus_complete(r, u, NULL, &l))) {
				if (cr->final) {
					/* no half-made final: the parts stay */
					repo_upload_set_state(
						db, u->uid, UPLOAD_TERMINATED);
					blob_partial_remove(app->blobs, u->uid);
					concat_release(r, &cr->c);
				}
				return tus_fail(r, err);
			}
			tus_completed_headers(r, l.id);
			concat_consume(r, &cr->c);
		}
		tus_header_u64(r, "Upload-Offset", (uint64_t)u->received);
	} else {
		tus_header_expires(r, u);
	}
	return reply_empty(r, 201);
}

req_res api_tus_create(struct pt_req *r)
{
	struct app *app = r->ctx;
	struct creation *cr = pt_palloc(r->pool, sizeof(*cr));
	req_res rc;

	if (tus_version_or_reply(r, &rc))
		return rc;
	if (!app_db(app))
		return tus_fail(r, PT_EUNAVAIL);
	if (abuse_check_uploader_or_reply(r, &rc))
		return rc;
	cr->p = pt_palloc(r->pool, sizeof(*cr->p));
	cr->p->app = app;
	if (api_request_tus_or_reply(r, &cr->p->u, &rc)) /* file requests */
		return rc;
	cr->concat = req_header(r, "Upload-Concat");
	cr->meta = req_header(r, "Upload-Metadata");
	cr->length = -1;
	cr->c.uids = cr->uids;
	if (creation_metadata_or_reply(r, cr, &rc) ||
	    creation_length_or_reply(r, cr, &rc) ||
	    creation_limits_or_reply(r, cr, &rc) ||
	    creation_store_or_reply(r, cr, &rc))
		return rc;
	if (tus_has_body(r) && !cr->final)
		return creation_body(r, cr);
	return creation_reply(r, cr);
}
