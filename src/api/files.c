/*
 * files.c — the file resource: GET /api/v1/files/{id} (the file object;
 * of a password-protected link, only what its page shows before the
 * password, unless the password or the owner's login comes with it),
 * DELETE /{id} (with the delete token), and what every handler that
 * serves a file shares: the link lookup, and the link-password check
 * with its limits on wrong passwords (see api_link_password_check_or_reply).
 */
#define _GNU_SOURCE
#include "handlers.h"
#include "pwcheck.h"

#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "../core/ids.h"
#include "../http/cond.h"
#include "../http/disposition.h"
#include "../http/path.h"
#include "../http/reply.h"
#include "../util/buf.h"
#include "../util/banned.h"

req_res api_file_get(struct pt_req *r)
{
	struct app *app = r->ctx;
	struct link l;
	req_res rc;
	if (api_link_lookup_or_reply(r, r->arg[0].p, &l, &rc, false))
		return rc;
	/* A password-protected link shows no more than its page does before
	 * the password (its id, and that it needs one): not the name, size,
	 * SHA-256 or type.  Its owner (or an admin) and whoever sends the
	 * password (checked as for the bytes: a wrong one is 401) get it
	 * all. */
	if (l.password_hash && *l.password_hash &&
	    !policy_owns(api_who(r), l.owner)) {
		if (!req_header(r, "X-Partage-Password") &&
		    !req_query(r, "password")) {
			const char *url = pt_psprintf(r->pool, "%s/%s",
						      app->public_url, l.id);
			return reply_json(
				r, 200,
				json_pack("{s:s, s:s, s:s, s:b}", "id", l.id,
					  "url", url, "download_url", url,
					  "password_protected", 1));
		}
		if (api_link_password_or_reply(r, &l, &rc))
			return rc;
	}
	json_t *o = api_file_json(app, &l);
	api_media_json(r, &l, o); /* stream.c */
	return reply_json(r, 200, o);
}

req_res api_file_delete(struct pt_req *r)
{
	struct app *app = r->ctx;
	const char *token = req_header(r, "X-Delete-Token");
	struct link l;
	req_res rc;
	int err;

	if (!token)
		token = req_query(r, "token");
	if (api_link_lookup_or_reply(r, r->arg[0].p, &l, &rc, false))
		return rc;
	/* the uploader's own login (or an admin's) works as well as the
	 * token */
	bool owner = policy_owns(api_who(r), l.owner);
	if (!owner && (!token || !*token))
		return reply_error(r, PT_EUNAUTH, NULL,
				   "authentication required: send the "
				   "X-Delete-Token given at upload");
	/* If-Match / If-Unmodified-Since guard a delete like any write */
	char etag[BLOB_HEX_LEN + 3];
	snprintf(etag, sizeof(etag), "\"%s\"", l.sha256);
	struct cond_request cq = {
		.method = "DELETE",
		.if_match = req_header(r, "If-Match"),
		.if_none_match = req_header(r, "If-None-Match"),
		.if_unmodified_since = req_header(r, "If-Unmodified-Since"),
	};
	if (cond_evaluate(&cq, etag, l.created, false) == COND_PRECONDITION)
		return reply_error(r, PT_EPRECOND, NULL,
				   "precondition failed: '%s' does not meet "
				   "the request's conditions",
				   l.id);
	if (!owner && !token_check(token, strlen(token), l.delete_hash))
		return reply_error(r, PT_EFORBIDDEN, NULL,
				   "forbidden: wrong delete token for '%s'",
				   l.id);
	err = repo_link_delete(app_db(app), l.id, "deleted", pt_now());
	if (err == PT_ENOTFOUND)
		return reply_error(r, PT_EGONE, "deleted",
				   "gone: '%s' was deleted", l.id);
	if (err)
		return reply_error(r, err, NULL, "cannot delete '%s': %s",
				   l.id, pt_strerror(err));
	hooks_emit_link(app, app_db(app), "deleted", &l, NULL);
	return reply_empty(r, 204);
}

/* ---- the file manager: GET /api/v1/me/files, PATCH /api/v1/files/{id} ---- */

struct files_page {
	struct app *app;
	json_t *arr;
};

static int files_cb(const struct link *l, void *arg)
{
	struct files_page *fp = arg;
	json_array_append_new(fp->arr, api_file_json(fp->app, l));
	return 0;
}

req_res api_me_files(struct pt_req *r)
{
	static const char *const sorts[] = { "created", "name", "size",
					     "downloads" };
	struct app *app = r->ctx;
	const struct principal *who = api_who(r);
	const char *sort = req_query(r, "sort");
	const char *order = req_query(r, "order");
	const char *page = req_query(r, "page");
	const char *per = req_query(r, "per_page");
	const char *folder = req_query(r, "folder");
	uint64_t pg = 1, pp = 50;
	int s = 0;
	int64_t total = 0;

	if (sort) {
		s = -1;
		for (int i = 0; i < (int)PT_ARRAY_LEN(sorts); i++)
			if (strcmp(sort, sorts[i]) == 0)
				s = i;
	}
	if (s < 0 || (order && strcmp(order, "asc") && strcmp(order, "desc")) ||
	    (page && (pt_parse_u64(page, strlen(page), &pg) || pg == 0)) ||
	    (per && (pt_parse_u64(per, strlen(per), &pp) || pp == 0 ||
		     pp > 1000)))
		return reply_error(r, PT_EBADREQ, NULL,
				   "bad request: sort=created|name|size|"
				   "downloads, order=asc|desc, page>=1, "
				   "per_page 1..1000");
	bool desc = order ? strcmp(order, "desc") == 0 : s == 0 || s == 3;
	struct db *db = app_db(app);
	if (!db)
		return reply_error(r, PT_EUNAVAIL, NULL,
				   "service unavailable: metadata store "
				   "unreachable, try again");
	/* ?folder=ID: the files in one of the user's folders; ?folder= (empty):
	 * those in none */
	if (folder && *folder) {
		struct folder f;
		int e = id_valid(folder, strlen(folder))
				? repo_folder_get(db, r->pool, folder, &f)
				: PT_ENOTFOUND;
		if (!e && f.owner != who->user_id)
			e = PT_ENOTFOUND;
		if (e == PT_ENOTFOUND)
			return reply_error(r, e, NULL,
					   "not found: no folder '%s'", folder);
		if (e)
			return reply_error(r, e, NULL, "cannot list files: %s",
					   pt_strerror(e));
	}
	struct files_page fp = { app, json_array() };
	int err = repo_user_files(db, r->pool, who->user_id, folder, s, desc,
				  (int64_t)pp, (int64_t)((pg - 1) * pp),
				  files_cb, &fp, &total);
	if (err) {
		json_decref(fp.arr);
		return reply_error(r, err, NULL, "cannot list files: %s",
				   pt_strerror(err));
	}
	return reply_json(r, 200,
			  json_pack("{s:o, s:I, s:I, s:I}", "files", fp.arr,
				    "total", (json_int_t)total, "page",
				    (json_int_t)pg, "per_page", (json_int_t)pp));
}

/* PATCH /api/v1/files/{id}: {"name": "…"} renames, {"folder": "ID"}
 * moves into one of the owner's folders ("" or null: out of any). */
static req_res file_patch_done(struct pt_req *r, json_t *o)
{
	struct app *app = r->ctx;
	struct link l;
	req_res rc;
	int err;
	json_t *name = o ? json_object_get(o, "name") : NULL;
	json_t *folder = o ? json_object_get(o, "folder") : NULL;

	if (!o || (!name && !folder) ||
	    (name && (!json_is_string(name) || !*json_string_value(name))) ||
	    (folder && !json_is_string(folder) && !json_is_null(folder)))
		return reply_error(r, PT_EBADREQ, NULL,
				   "bad request: send {\"name\": \"new name\"} "
				   "and/or {\"folder\": \"FOLDER_ID\" or null}");
	if (api_link_lookup_or_reply(r, r->arg[0].p, &l, &rc, false))
		return rc;
	if (!policy_owns(api_who(r), l.owner))
		return reply_error(r, PT_EFORBIDDEN, NULL,
				   "forbidden: only the uploader changes '%s'",
				   l.id);
	if (folder) {
		const char *fid = json_is_null(folder)
					  ? ""
					  : json_string_value(folder);
		err = *fid && !id_valid(fid, strlen(fid))
			      ? PT_ENOTFOUND
			      : repo_link_move(app_db(app), l.id, l.owner, fid);
		if (err == PT_ENOTFOUND)
			return reply_error(r, err, NULL,
					   "not found: no folder '%s'", fid);
		if (err)
			return reply_error(r, err, NULL, "cannot move: %s",
					   pt_strerror(err));
		snprintf(l.folder_id, sizeof(l.folder_id), "%s", fid);
	}
	if (name) {
		char clean[256];
		const char *n = json_string_value(name);
		if (api_text_check_or_reply(r, "the name", n, strlen(n), 0,
					    &rc))
			return rc;
		disp_sanitize_name(n, strlen(n), clean, sizeof(clean));
		err = repo_link_rename(app_db(app), l.id, clean);
		if (err)
			return reply_error(r, err, NULL, "cannot rename: %s",
					   pt_strerror(err));
		l.name = pt_pstrdup(r->pool, clean);
	}
	return reply_json(r, 200, api_file_json(app, &l));
}

req_res api_file_patch(struct pt_req *r)
{
	return api_json_body(r, file_patch_done);
}
