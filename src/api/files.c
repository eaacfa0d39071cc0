/*
 * files.c — the file resource: GET /api/v1/files/{id} (the file object;
 * of a password-protected link, only what its page shows before the
 * password, unless the password or the owner's login comes with it),
 * DELETE /{id} (with the delete token), and what every handler that
 * serves a file shares: the link lookup, and the link-password check
 * with its limits on wrong passwords (see api_link_password_check).
 */
#define _GNU_SOURCE
#include "api.h"

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

char *api_download_url(struct app *app, struct pt_pool *pool,
		       const struct link *l)
{
	struct pt_buf b;
	pt_buf_init(&b, 1 << 16);
	pt_buf_addf(&b, "%s/%s/", app->public_url, l->id);
	path_escape(&b, l->name);
	char *s = pt_pstrndup(pool, b.p, b.n);
	pt_buf_release(&b);
	return s;
}

int64_t api_link_expiry(struct app *app, const struct link *l)
{
	struct principal owner = { .tier = PT_TIER_ANONYMOUS };
	int64_t exp = l->expires;
	if (l->owner) {
		struct db *db = app_db(app);
		struct pt_pool *pool = pt_pool_new();
		struct user u;
		owner.tier = PT_TIER_FREE;
		if (db && !repo_user_by_id(db, pool, l->owner, &u))
			owner.tier = policy_user_tier(u.tier, u.premium_until,
						      pt_now());
		pt_pool_free(pool);
	}
	uint64_t days = policy_tier(app->conf, &owner)->retention_days;
	if (days) {
		/* inactive since the last counted download, or the upload */
		int64_t active = l->last_download > l->created ? l->last_download
							       : l->created;
		int64_t r = active + (int64_t)days * 86400;
		if (!exp || r < exp)
			exp = r;
	}
	return exp;
}

json_t *api_file_json(struct app *app, const struct link *l)
{
	struct pt_pool *pool = pt_pool_new();
	json_t *o = json_pack(
		"{s:s, s:o, s:I, s:s, s:o, s:s, s:s, s:I, s:I}", "id", l->id,
		"name", reply_jtext(l->name), "size", (json_int_t)l->size,
		"sha256", l->sha256, "mime", reply_jtext(l->mime), "url",
		pt_psprintf(pool, "%s/%s", app->public_url, l->id),
		"download_url", api_download_url(app, pool, l), "created",
		(json_int_t)l->created, "downloads", (json_int_t)l->downloads);
	/* when it expires under the rules in force now (uploader's Max-Days,
	 * or the owner tier's inactivity limit), if nothing changes */
	int64_t exp = api_link_expiry(app, l);
	json_object_set_new(o, "expires", exp ? json_integer(exp) : json_null());
	json_object_set_new(o, "password_protected",
			    json_boolean(l->password_hash &&
					 *l->password_hash));
	json_object_set_new(o, "folder", *l->folder_id
						 ? json_string(l->folder_id)
						 : json_null());
	json_object_set_new(o, "max_downloads",
			    l->max_downloads ? json_integer(l->max_downloads)
					     : json_null());
	pt_pool_free(pool);
	return o;
}

int api_unknown_id(struct pt_req *r, int *rc)
{
	struct app *app = r->ctx;
	int64_t retry = 0;
	if (!app->conf->unknown_ids_per_minute ||
	    ratelimit_hit(app->unknown_ids, r->client_ip, pt_now(), &retry))
		return 0;
	char ra[24];
	snprintf(ra, sizeof(ra), "%lld", (long long)(retry > 0 ? retry : 1));
	req_reply_header(r, "Retry-After", ra);
	*rc = reply_error(r, PT_ELIMIT, NULL,
			  "too many requests: too many unknown ids from this "
			  "address, wait %s seconds",
			  ra);
	return 1;
}

int api_link_lookup(struct pt_req *r, const char *id, struct link *l,
		    int *rc, bool bytes)
{
	struct app *app = r->ctx;
	struct linkcache *cache = bytes ? app->links : NULL;
	const char *reason;
	int err = 0;

	/* the bytes may be served from a fresh copy of the row (the state
	 * below is still judged now); the file object is always read */
	if (!cache || !linkcache_get(cache, id, r->pool, l)) {
		struct db *db = app_db(app);
		uint64_t gen = cache ? linkcache_gen(cache) : 0;
		if (!db) {
			*rc = reply_error(r, PT_EUNAVAIL, NULL,
					  "service unavailable: metadata "
					  "store unreachable, try again");
			return 1;
		}
		err = repo_link_get(db, r->pool, id, l);
		if (!err && cache)
			linkcache_put(cache, l, gen);
	}
	if (err == PT_ENOTFOUND && api_unknown_id(r, rc))
		return 1;
	if (err == PT_ENOTFOUND) {
		*rc = reply_error(r, PT_ENOTFOUND, NULL,
				  "not found: no file '%s'", id);
		return 1;
	}
	if (err) {
		*rc = reply_error(r, err, NULL, "cannot look up '%s': %s", id,
				  pt_strerror(err));
		return 1;
	}
	enum link_state state = link_effective_state(l, pt_now(), &reason);
	if (state == LINK_REMOVED && *l->takedown_id) {
		/* a legal removal: 451 where the bytes were, 410 elsewhere */
		*rc = reply_error(r, bytes ? PT_ELEGAL : PT_EGONE, reason,
				  "%s: '%s' was removed: %s",
				  bytes ? "unavailable for legal reasons" : "gone",
				  id, reason);
		return 1;
	}
	if (state != LINK_LIVE) {
		*rc = reply_error(r, PT_EGONE, reason, "gone: '%s' was %s", id,
				  reason);
		return 1;
	}
	return 0;
}

/* A 429 for a wrong-password limit, with Retry-After. */
static int linkpw_refused(struct pt_req *r, const struct link *l,
			  int64_t retry, const char *who, int *rc)
{
	char ra[24];
	if (retry < 1)
		retry = 1;
	snprintf(ra, sizeof(ra), "%lld", (long long)retry);
	req_reply_header(r, "Retry-After", ra);
	*rc = reply_error(r, PT_ELIMIT, "password",
			  "too many requests: too many wrong passwords for "
			  "'%s' %s, wait %lld seconds",
			  l->id, who, (long long)retry);
	return 1;
}

/*
 * Wrong passwords are limited per link and address, per address (all
 * links) and per link (all addresses).  Every attempt is counted up
 * front, so concurrent guesses cannot slip through between a check and a
 * count, and a right password gives its counts back: only failures are
 * limited.  An address over a limit gets 429 and its password is not
 * hashed at all, right or wrong.  The per-link limit would let guessers
 * on many addresses lock a link's audience out, so it spares addresses
 * that gave the right password for this link in the last day, and it is
 * counted only for the others.
 */
int api_link_password_check(struct pt_req *r, const struct link *l,
			    const char *pw, int *rc)
{
	struct app *app = r->ctx;
	int64_t now = pt_now(), retry = 0;
	char addr[RATELIMIT_ADDR_MAX];
	ratelimit_addr_key(r->client_ip, addr);
	const char *pair = pt_psprintf(r->pool, "%s\n%s", l->id, addr);
	bool known = ratelimit_count(app->linkpw_known, pair, now) > 0;
	bool match;

	if (!api_pw_rerun(r)) {
		if (!ratelimit_hit(app->linkpw_pair, pair, now, &retry))
			return linkpw_refused(r, l, retry, "from this address",
					      rc);
		if (!ratelimit_hit(app->linkpw_ip, addr, now,
				   &retry)) {
			ratelimit_refund(app->linkpw_pair, pair);
			return linkpw_refused(r, l, retry,
					      "and other links from this "
					      "address",
					      rc);
		}
		if (!known &&
		    !ratelimit_hit(app->linkpw_link, l->id, now, &retry)) {
			ratelimit_refund(app->linkpw_pair, pair);
			ratelimit_refund(app->linkpw_ip, addr);
			return linkpw_refused(r, l, retry,
					      "from many addresses (addresses "
					      "that gave the right one lately "
					      "still may)",
					      rc);
		}
	}
	if (api_pw_verify(r, l->password_hash, pw, &match, rc)) {
		if (r->responded) { /* 503: no attempt was made */
			ratelimit_refund(app->linkpw_pair, pair);
			ratelimit_refund(app->linkpw_ip, addr);
			if (!known)
				ratelimit_refund(app->linkpw_link, l->id);
		}
		return 1;
	}
	if (!match)
		return 2;
	ratelimit_refund(app->linkpw_pair, pair);
	ratelimit_refund(app->linkpw_ip, addr);
	if (!known) {
		ratelimit_refund(app->linkpw_link, l->id);
		ratelimit_hit(app->linkpw_known, pair, now, NULL);
	}
	return 0;
}

int api_link_password(struct pt_req *r, const struct link *l, int *rc)
{
	if (!l->password_hash || !*l->password_hash)
		return 0;
	const char *pw = req_header(r, "X-Partage-Password");
	if (!pw)
		pw = req_query(r, "password");
	if (pw) {
		int k = api_link_password_check(r, l, pw, rc);
		if (k != 2)
			return k;
	}
	*rc = reply_error(r, PT_EUNAUTH, "password",
			  pw ? "authentication required: wrong password for "
			       "'%s'"
			     : "authentication required: '%s' is "
			       "password-protected: add ?password=… or the "
			       "X-Partage-Password header",
			  l->id);
	return 1;
}

int api_file_get(struct pt_req *r)
{
	struct app *app = r->ctx;
	struct link l;
	int rc;
	if (api_link_lookup(r, r->arg[0].p, &l, &rc, false))
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
		if (api_link_password(r, &l, &rc))
			return rc;
	}
	return reply_json(r, 200, api_file_json(app, &l));
}

int api_file_delete(struct pt_req *r)
{
	struct app *app = r->ctx;
	const char *token = req_header(r, "X-Delete-Token");
	struct link l;
	int rc, err;

	if (!token)
		token = req_query(r, "token");
	if (api_link_lookup(r, r->arg[0].p, &l, &rc, false))
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

int api_me_files(struct pt_req *r)
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
static int file_patch_done(struct pt_req *r, json_t *o)
{
	struct app *app = r->ctx;
	struct link l;
	int rc, err;
	json_t *name = o ? json_object_get(o, "name") : NULL;
	json_t *folder = o ? json_object_get(o, "folder") : NULL;

	if (!o || (!name && !folder) ||
	    (name && (!json_is_string(name) || !*json_string_value(name))) ||
	    (folder && !json_is_string(folder) && !json_is_null(folder)))
		return reply_error(r, PT_EBADREQ, NULL,
				   "bad request: send {\"name\": \"new name\"} "
				   "and/or {\"folder\": \"FOLDER_ID\" or null}");
	if (api_link_lookup(r, r->arg[0].p, &l, &rc, false))
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
		if (api_text_check(r, "the name", n, strlen(n), 0, &rc))
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

int api_file_patch(struct pt_req *r)
{
	return api_json_body(r, file_patch_done);
}
