/*
 * requests.c — file-request links: an owner (a logged-in account) lets
 * anyone upload into one of their folders, with an optional password,
 * expiry, and maximum number of files and bytes, all counted against the
 * owner's quota.  POST/GET /api/v1/requests, GET/DELETE
 * /api/v1/requests/{id}, the page /r/{id}, and the gate the upload paths
 * (upload.c: PUT and multipart; tus_create.c: a one-line hook) pass a
 * request's uploads through.  An uploader never sees what the folder
 * holds: the upload's answer names the file received, not its link.
 */
#define _GNU_SOURCE
#include "handlers.h"
#include "pwcheck.h"

#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "../core/ids.h"
#include "../core/tusparse.h"
#include "../http/reply.h"
#include "../util/buf.h"
#include "../util/text.h"
#include "../util/banned.h"

#define REQUEST_MAX_DAYS 3650
#define REQUEST_MAX_FILES 1000000
#define REQUEST_MAX_BYTES ((int64_t)1 << 53)

static const char *request_state(const struct file_request *fr, int64_t now)
{
	if (fr->state != 0)
		return "closed";
	if (fr->expires && fr->expires <= now)
		return "expired";
	if (fr->max_files && fr->files >= fr->max_files)
		return "full";
	return "open";
}

static json_t *request_json(struct pt_req *r, const struct file_request *fr)
{
	struct app *app = r->ctx;
	json_t *o = json_pack(
		"{s:s, s:s, s:s, s:{s:s, s:s}, s:I, s:b, s:I, s:I, s:I, s:I}",
		"id", fr->id, "url",
		pt_psprintf(r->pool, "%s/r/%s", app->public_url, fr->id),
		"state", request_state(fr, pt_now()), "folder", "id",
		fr->folder_id, "name", fr->folder_name ? fr->folder_name : "",
		"created", (json_int_t)fr->created, "password",
		fr->password_hash && *fr->password_hash, "max_files",
		(json_int_t)fr->max_files, "max_bytes",
		(json_int_t)fr->max_bytes, "files", (json_int_t)fr->files,
		"bytes", (json_int_t)fr->bytes);
	json_object_set_new(o, "expires",
			    fr->expires ? json_integer(fr->expires)
					: json_null());
	/* the folder's id is its owner's to know: a shared folder's page
	 * would list what the request's uploaders may not see */
	if (!policy_owns(api_who(r), fr->owner))
		json_object_del(json_object_get(o, "folder"), "id");
	return o;
}

/* ---- the gate of a request's uploads ---- */

bool api_request_gate_or_reply(struct pt_req *r, const char *id,
			       struct file_request *fr, req_res *rc)
{
	struct app *app = r->ctx;
	struct db *db = app_db(app);
	int64_t now = pt_now();
	int err;

	if (!id_valid(id, strlen(id)))
		err = PT_ENOTFOUND;
	else
		err = db ? repo_request_get(db, r->pool, id, fr) : PT_EUNAVAIL;
	if (err == PT_ENOTFOUND && api_unknown_id_or_reply(r, rc))
		return true; /* enumeration: 429 */
	if (err == PT_ENOTFOUND) {
		*rc = reply_error(r, err, NULL,
				  "not found: no file request "
				  "'%s'",
				  id);
		return true;
	}
	if (err) {
		*rc = reply_error(r, err, NULL,
				  "cannot look up the file request: %s",
				  pt_strerror(err));
		return true;
	}
	if (fr->state != 0 || (fr->expires && fr->expires <= now)) {
		*rc = reply_error(r, PT_EGONE, NULL,
				  "gone: the file request '%s' is %s", id,
				  fr->state != 0 ? "closed" : "expired");
		return true;
	}
	if (fr->max_files && fr->files >= fr->max_files) {
		*rc = reply_error(r, PT_EFORBIDDEN, NULL,
				  "forbidden: the file request '%s' takes at "
				  "most %lld files and has them",
				  id, (long long)fr->max_files);
		return true;
	}
	if (*fr->password_hash) {
		/* the wrong-password limits of link passwords, keyed by
		 * the request's id */
		struct link l = { .password_hash = fr->password_hash };
		memcpy(l.id, fr->id, sizeof(l.id));
		const char *pw = req_header(r, "X-Partage-Request-Password");
		bool right = false;
		if (pw &&
		    api_link_password_check_or_reply(r, &l, pw, &right, rc))
			return true;
		if (!right) {
			*rc = reply_error(r, PT_EFORBIDDEN, "password",
					  pw ? "forbidden: wrong password for "
					       "the file request '%s'"
					     : "forbidden: the file request "
					       "'%s' needs its password "
					       "(X-Partage-Request-Password)",
					  id);
			return true;
		}
	}
	/* the upload is the owner's: their tier, quota, strikes */
	struct user u;
	err = repo_user_by_id(db, r->pool, fr->owner, &u);
	if (err || u.disabled) {
		*rc = reply_error(r, PT_EGONE, NULL,
				  "gone: the file request '%s' is closed", id);
		return true;
	}
	struct principal *who = pt_palloc(r->pool, sizeof(*who));
	who->user_id = u.id;
	who->name = u.name;
	who->tier = policy_user_tier(u.tier, u.premium_until, now);
	who->role = "user";
	who->premium_until = u.premium_until;
	r->who = who;
	return false;
}

uint64_t api_request_bytes_left(const struct file_request *fr)
{
	if (!fr->max_bytes)
		return UINT64_MAX;
	return fr->bytes >= fr->max_bytes
		       ? 0
		       : (uint64_t)(fr->max_bytes - fr->bytes);
}

const char *api_request_tus_id(struct pt_req *r)
{
	const char *id = req_header(r, "X-Partage-Request");
	const char *meta = req_header(r, "Upload-Metadata");
	struct tus_meta m;
	size_t n;
	if (id || !meta || tus_metadata_parse(r->pool, meta, &m))
		return id;
	const char *v = tus_metadata_get(&m, "request", &n);
	return v ? pt_pstrndup(r->pool, v, n) : NULL;
}

bool api_request_tus_or_reply(struct pt_req *r, struct upload_row *u,
			      req_res *rc)
{
	const char *id = api_request_tus_id(r);
	const char *v;
	uint64_t len;
	struct file_request fr;

	if (!id)
		return false;
	if (api_request_gate_or_reply(r, id, &fr, rc))
		return true;
	if ((v = req_header(r, "Upload-Length")) &&
	    !pt_parse_u64(v, strlen(v), &len) &&
	    len > api_request_bytes_left(&fr)) {
		*rc = reply_error(r, PT_ETOOBIG, NULL,
				  "payload too large: the file request '%s' "
				  "takes %llu more bytes",
				  id,
				  (unsigned long long)api_request_bytes_left(
					  &fr));
		return true;
	}
	memcpy(u->request_id, fr.id, sizeof(u->request_id));
	return false;
}

bool api_request_link_hidden(struct pt_req *r, const char *link_id)
{
	struct app *app = r->ctx;
	struct db *db = app_db(app);
	return db && repo_link_from_request(db, link_id);
}

req_res api_request_received(struct pt_req *r, const char *request_id,
			     const struct link *l)
{
	return reply_json(r, 200,
			  json_pack("{s:s, s:s, s:I, s:s}", "request",
				    request_id, "name", l->name, "size",
				    (json_int_t)l->size, "sha256", l->sha256));
}

/* ---- POST /api/v1/requests ---- */

/* A whole number in 0..max from a JSON member (absent or null: 0). */
static bool json_count(json_t *o, const char *key, int64_t max, int64_t *out)
{
	json_t *v = o ? json_object_get(o, key) : NULL;
	*out = 0;
	if (!v || json_is_null(v))
		return true;
	if (!json_is_integer(v) || json_integer_value(v) < 0 ||
	    json_integer_value(v) > max)
		return false;
	*out = json_integer_value(v);
	return true;
}

static req_res create_done(struct pt_req *r, json_t *o)
{
	struct app *app = r->ctx;
	struct db *db = app_db(app);
	const struct principal *who = api_who(r);
	json_t *folder = o ? json_object_get(o, "folder") : NULL;
	json_t *password = o ? json_object_get(o, "password") : NULL;
	struct file_request fr;
	struct folder f;
	int64_t days;
	req_res rc;
	int err;

	memset(&fr, 0, sizeof(fr));
	if (!json_is_string(folder) ||
	    (password && !json_is_null(password) &&
	     !json_is_string(password)) ||
	    !json_count(o, "max_days", REQUEST_MAX_DAYS, &days) ||
	    !json_count(o, "max_files", REQUEST_MAX_FILES, &fr.max_files) ||
	    !json_count(o, "max_bytes", REQUEST_MAX_BYTES, &fr.max_bytes))
		return reply_error(r, PT_EBADREQ, NULL,
				   "bad request: send {\"folder\": "
				   "\"FOLDER_ID\"[, \"password\": \"…\"][, "
				   "\"max_days\": 1..%d][, \"max_files\": "
				   "0..%d][, \"max_bytes\": N]} (0: no limit)",
				   REQUEST_MAX_DAYS, REQUEST_MAX_FILES);
	const char *fid = json_string_value(folder);
	err = !id_valid(fid, strlen(fid)) ? PT_ENOTFOUND
	      : db ? repo_folder_get(db, r->pool, fid, &f)
		   : PT_EUNAVAIL;
	if (!err && f.owner != who->user_id)
		err = PT_ENOTFOUND;
	if (err == PT_ENOTFOUND)
		return reply_error(r, err, NULL,
				   "not found: no folder '%s' of yours", fid);
	if (err)
		return reply_error(r, err, NULL, "cannot look up folder: %s",
				   pt_strerror(err));
	fr.password_hash = "";
	if (json_is_string(password)) {
		const char *pw = json_string_value(password);
		size_t n = strlen(pw);
		if (n == 0 || n > 1024)
			return reply_error(r, PT_EBADREQ, NULL,
					   "bad request: a password has 1 to "
					   "1024 characters");
		if (api_pw_hash_or_reply(r, pw, &fr.password_hash, &rc))
			return rc; /* 503, or the hash is running */
	}
	fr.owner = who->user_id;
	memcpy(fr.folder_id, f.id, sizeof(fr.folder_id));
	fr.folder_name = f.name;
	fr.created = pt_now();
	fr.expires = days ? fr.created + days * 86400 : 0;
	for (int tries = 0; tries < 4; tries++) {
		id_new(fr.id);
		err = repo_request_create(db, &fr);
		if (err != PT_ECONFLICT)
			break;
	}
	if (err == PT_ELIMIT)
		return reply_error(r, PT_ECONFLICT, NULL,
				   "conflict: at most %d open file requests "
				   "per account; close one first",
				   REPO_REQUESTS_OPEN_MAX);
	if (err)
		return reply_error(r, err, NULL,
				   "cannot create the file request: %s",
				   pt_strerror(err));
	return reply_json(r, 201, request_json(r, &fr));
}

req_res api_requests_create(struct pt_req *r)
{
	return api_json_body(r, create_done);
}

/* ---- GET /api/v1/requests ---- */

struct list_ctx {
	struct pt_req *r;
	json_t *arr;
};

static int list_cb(const struct file_request *fr, void *arg)
{
	struct list_ctx *c = arg;
	json_array_append_new(c->arr, request_json(c->r, fr));
	return 0;
}

req_res api_requests_list(struct pt_req *r)
{
	struct app *app = r->ctx;
	struct db *db = app_db(app);
	struct list_ctx c = { r, json_array() };
	int err = db ? repo_requests_each(db, r->pool, api_who(r)->user_id,
					  list_cb, &c)
		     : PT_EUNAVAIL;
	if (err) {
		json_decref(c.arr);
		return reply_error(r, err, NULL,
				   "cannot list file requests: %s",
				   pt_strerror(err));
	}
	return reply_json(r, 200, json_pack("{s:o}", "requests", c.arr));
}

/* ---- GET /api/v1/requests/{id}: what an uploader may know ---- */

static bool lookup_or_reply(struct pt_req *r, const char *id,
			    struct file_request *fr, req_res *rc)
{
	struct app *app = r->ctx;
	struct db *db = app_db(app);
	int err = !id_valid(id, strlen(id)) ? PT_ENOTFOUND
		  : db ? repo_request_get(db, r->pool, id, fr)
		       : PT_EUNAVAIL;
	if (!err)
		return false;
	if (err == PT_ENOTFOUND && api_unknown_id_or_reply(r, rc))
		return true; /* enumeration: 429 */
	*rc = err == PT_ENOTFOUND
		      ? reply_error(r, err, NULL,
				    "not found: no file request '%s'", id)
		      : reply_error(r, err, NULL,
				    "cannot look up the file request: %s",
				    pt_strerror(err));
	return true;
}

req_res api_request_get(struct pt_req *r)
{
	struct file_request fr;
	req_res rc;
	if (lookup_or_reply(r, pt_pstrndup(r->pool, r->arg[0].p, r->arg[0].n),
			    &fr, &rc))
		return rc;
	return reply_json(r, 200, request_json(r, &fr));
}

req_res api_request_delete(struct pt_req *r)
{
	struct app *app = r->ctx;
	struct db *db = app_db(app);
	const char *id = pt_pstrndup(r->pool, r->arg[0].p, r->arg[0].n);
	int err = !id_valid(id, strlen(id)) ? PT_ENOTFOUND
		  : db ? repo_request_close(db, id, api_who(r)->user_id)
		       : PT_EUNAVAIL;
	if (err == PT_ENOTFOUND)
		return reply_error(r, err, NULL,
				   "not found: no open file request '%s' of "
				   "yours",
				   id);
	if (err)
		return reply_error(r, err, NULL,
				   "cannot close the file request: %s",
				   pt_strerror(err));
	return reply_empty(r, 204);
}

/* ---- GET /r/{id}: the upload page, pointed at the request ---- */

req_res api_request_page(struct pt_req *r)
{
	struct file_request fr;
	req_res rc;
	const char *id = pt_pstrndup(r->pool, r->arg[0].p, r->arg[0].n);

	req_reply_header(r, "Vary", "Accept");
	if (lookup_or_reply(r, id, &fr, &rc))
		return rc;
	if (!req_accepts(r, "text/html"))
		return reply_json(r, 200, request_json(r, &fr));
	return api_request_html(r, &fr, request_state(&fr, pt_now()));
}
