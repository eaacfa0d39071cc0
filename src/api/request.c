/*
 * request.c — what every resource handler asks about a request: who
 * sends it (api_who), its JSON body, the link it names (lookup with the
 * takedown, expiry and enumeration rules, and the file object and URLs
 * of a link), the checks on client text, counts and the URLs the server
 * will fetch or post to, and whether the stores can take an upload.  The
 * resource files (upload.c, download.c, files.c, folders.c, accounts.c,
 * tus.c, ...) use these and not each other's helpers (docs/internals.md,
 * "Layers").
 */
#define _GNU_SOURCE
#include "request.h"
#include "pwcheck.h"

#include <jansson.h>
#include <magic.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "../core/ids.h"
#include "../core/netguard.h"
#include "../http/path.h"
#include "../http/reply.h"
#include "../util/buf.h"
#include "../util/utf8.h"
#include "../util/banned.h"

#define JSON_BODY_MAX (64 * 1024)

/* ---- who ---- */

static const struct principal anonymous = { .tier = PT_TIER_ANONYMOUS,
					    .role = "user" };

const struct principal *api_who(struct pt_req *r)
{
	return r->who ? r->who : &anonymous;
}

/* ---- JSON bodies ---- */

struct json_body {
	struct pt_buf buf;
	req_res (*done)(struct pt_req *r, json_t *o);
	bool too_big;
};

static void json_body_free(void *arg)
{
	pt_buf_release(&((struct json_body *)arg)->buf);
}

static int json_body_chunk(struct pt_req *r, const char *data, size_t n)
{
	struct json_body *jb = r->state;
	if (pt_buf_add(&jb->buf, data, n))
		jb->too_big = true;
	return 0;
}

static req_res json_body_end(struct pt_req *r)
{
	struct json_body *jb = r->state;
	if (jb->too_big)
		return reply_error(r, PT_ETOOBIG, NULL,
				   "payload too large: JSON bodies are at most "
				   "%d bytes",
				   JSON_BODY_MAX);
	req_res rc;
	/* jansson refuses text that is not UTF-8: say so, rather than the
	 * handler's "send {…}" */
	if (api_text_check_or_reply(r, "the JSON body", jb->buf.p, jb->buf.n, 0,
				    &rc))
		return rc;
	json_t *o = api_json_object(jb->buf.p, jb->buf.n);
	rc = jb->done(r, o);
	json_decref(o);
	return rc;
}

req_res api_json_body(struct pt_req *r,
		      req_res (*done)(struct pt_req *r, json_t *o))
{
	struct json_body *jb = pt_palloc(r->pool, sizeof(*jb));
	const char *cl = req_header(r, "Content-Length");
	uint64_t len;

	if (cl && !pt_parse_u64(cl, strlen(cl), &len) && len > JSON_BODY_MAX)
		return reply_error(r, PT_ETOOBIG, NULL,
				   "payload too large: JSON bodies are at most "
				   "%d bytes",
				   JSON_BODY_MAX);
	pt_buf_init(&jb->buf, JSON_BODY_MAX);
	jb->done = done;
	pt_pool_cleanup_add(r->pool, json_body_free, jb);
	r->state = jb;
	r->on_body = json_body_chunk;
	r->on_end = json_body_end;
	return REQ_OK;
}

json_t *api_json_object(const char *p, size_t n)
{
	json_t *o = n ? json_loadb(p, n, 0, NULL) : NULL;
	if (o && !json_is_object(o)) {
		json_decref(o);
		o = NULL;
	}
	return o;
}

/* ---- links ---- */

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
	const char *scan = api_scan_state(app, l->scan_state);
	if (scan)
		json_object_set_new(o, "scan", json_string(scan));
	const char *thumb = api_thumb_url(app, pool, l);
	json_object_set_new(o, "thumbnail_url",
			    thumb ? json_string(thumb) : json_null());
	pt_pool_free(pool);
	return o;
}

const char *api_thumb_url(struct app *app, struct pt_pool *pool,
			  const struct link *l)
{
	struct db *db = app_db(app);
	struct thumb_row t;
	if (!db || repo_thumb_get(db, l->sha256, &t) || t.state != THUMB_DONE)
		return NULL;
	return pt_psprintf(pool, "%s/thumb/%s", app->public_url, l->id);
}

const char *api_scan_state(struct app *app, int state)
{
	switch (state) {
	case REPO_SCAN_CLEAN:
		return "clean";
	case REPO_SCAN_INFECTED:
		return "infected";
	case REPO_SCAN_ERROR:
		return "error";
	default:
		/* never scanned: pending while scanning is on */
		return app->conf->scan_clamd && *app->conf->scan_clamd
			       ? "pending"
			       : NULL;
	}
}

bool api_unknown_id_or_reply(struct pt_req *r, req_res *rc)
{
	struct app *app = r->ctx;
	int64_t retry = 0;
	if (!app->conf->unknown_ids_per_minute ||
	    ratelimit_hit(app->unknown_ids, r->client_ip, pt_now(), &retry))
		return false;
	*rc = reply_error(r, PT_ELIMIT, NULL,
			  "too many requests: too many unknown ids from this "
			  "address, wait %s seconds",
			  req_retry_after(r, retry));
	return true;
}

bool api_link_lookup_or_reply(struct pt_req *r, const char *id, struct link *l,
			      req_res *rc, bool bytes)
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
			return true;
		}
		err = repo_link_get(db, r->pool, id, l);
		if (!err && cache)
			linkcache_put(cache, l, gen);
	}
	if (err == PT_ENOTFOUND && api_unknown_id_or_reply(r, rc))
		return true;
	if (err == PT_ENOTFOUND) {
		*rc = reply_error(r, PT_ENOTFOUND, NULL,
				  "not found: no file '%s'", id);
		return true;
	}
	if (err) {
		*rc = reply_error(r, err, NULL, "cannot look up '%s': %s", id,
				  pt_strerror(err));
		return true;
	}
	enum link_state state = link_effective_state(l, pt_now(), &reason);
	if (state == LINK_REMOVED && *l->takedown_id) {
		/* a legal removal: 451 where the bytes were, 410 elsewhere */
		*rc = reply_error(r, bytes ? PT_ELEGAL : PT_EGONE, reason,
				  "%s: '%s' was removed: %s",
				  bytes ? "unavailable for legal reasons" : "gone",
				  id, reason);
		return true;
	}
	if (state != LINK_LIVE) {
		*rc = reply_error(r, PT_EGONE, reason, "gone: '%s' was %s", id,
				  reason);
		return true;
	}
	return false;
}

/* ---- request options and checks ---- */

int api_count_parse(const char *v, size_t len, int64_t *out)
{
	uint64_t n;
	while (len && (*v == ' ' || *v == '\t')) {
		v++;
		len--;
	}
	while (len && (v[len - 1] == ' ' || v[len - 1] == '\t'))
		len--;
	if (pt_parse_u64(v, len, &n) || n == 0 || n > 1000000000)
		return PT_EBADREQ;
	*out = (int64_t)n;
	return 0;
}

int api_form_count_add(struct form_count *f, uint64_t off, const char *data,
		       size_t n)
{
	if (off + n >= sizeof(f->v))
		return PT_EBADREQ;
	memcpy(f->v + off, data, n);
	f->v[off + n] = '\0';
	return 0;
}

int api_form_count_value(const struct form_count *f, int64_t *out)
{
	if (!f->v[0])
		return 0;
	return api_count_parse(f->v, strlen(f->v), out);
}

bool api_text_check_or_reply(struct pt_req *r, const char *what, const char *s,
			     size_t n, unsigned flags, req_res *rc)
{
	size_t at = 0;
	const char *why = utf8_check(s, n, flags, &at);

	if (!why)
		return false;
	*rc = reply_error(r, PT_EBADREQ, NULL, "bad request: %s %s (byte %zu)",
			  what, why, at);
	return true;
}

bool api_url_check_or_reply(struct pt_req *r, const struct netguard *g,
			    const char *u, size_t max, const char *note,
			    req_res *rc)
{
	char why[300];
	bool forbidden;

	if (strlen(u) > max) {
		*rc = reply_error(r, PT_EBADREQ, NULL,
				  "bad request: the URL is longer than %zu "
				  "bytes", max);
		return true;
	}
	if (api_text_check_or_reply(r, "the URL", u, strlen(u), 0, rc))
		return true;
	for (const char *p = u; *p; p++)
		if ((unsigned char)*p <= 0x20 || *p == 0x7f) {
			*rc = reply_error(r, PT_EBADREQ, NULL,
					  "bad request: the URL has spaces or "
					  "control characters");
			return true;
		}
	if (!netguard_url_check(g, u, why, sizeof(why), &forbidden))
		return false;
	*rc = reply_error(r, forbidden ? PT_EFORBIDDEN : PT_EBADREQ, NULL,
			  "%s: %s%s", forbidden ? "forbidden" : "bad request",
			  why, forbidden ? note : "");
	return true;
}

bool api_intake_check_or_reply(struct pt_req *r, req_res *rc)
{
	struct app *app = r->ctx;
	const char *v;
	uint64_t len = 0;

	/* The database is known to be down: ask it again (reconnecting is
	 * paced), and refuse before the body rather than store bytes that
	 * no row will ever name. */
	if (db_pool_known_down(app->db) && !app_db_reachable(app)) {
		*rc = reply_error(r, PT_EUNAVAIL, NULL, API_DB_DOWN);
		return true;
	}
	if (strcmp(app->conf->storage_backend, "fs") != 0)
		return false;
	/* the bytes announced (a tus upload's whole length): they must
	 * leave the floor free, min_free_bytes and all of the reserve */
	if (((v = req_header(r, "Upload-Length")) ||
	     (v = req_header(r, "Content-Length"))) &&
	    pt_parse_u64(v, strlen(v), &len))
		len = 0;
	if (reserve_upload_ok(len))
		return false;
	*rc = reply_error(r, PT_ENOSPACE, NULL,
			  "insufficient storage: the server is not taking "
			  "new uploads now (low on disk space)");
	return true;
}

/* The principal's limit for one upload: the tier's size limit under
 * storage.max_file_bytes, or the storage quota left when that is smaller
 * (then a refusal is 507). */
uint64_t api_upload_limit(struct pt_req *r, bool *by_quota)
{
	struct app *app = r->ctx;
	const struct principal *who = api_who(r);
	int64_t used = 0;
	if (who->user_id &&
	    policy_tier(app->conf, who)->storage_quota_bytes) {
		struct db *db = app_db(app);
		used = db ? repo_user_used_bytes(db, who->user_id, pt_now()) : 0;
	}
	return policy_upload_limit(app->conf, who, used, by_quota);
}

/* Browsers (HTML's multipart/form-data algorithm) and curl -F send '"',
 * CR and LF in a part's filename as %22, %0D, %0A, and nothing else
 * escaped: undo exactly those (the name is sanitised afterwards). */
char *api_form_filename(struct pt_pool *pool, const char *name)
{
	size_t n = strlen(name), o = 0;
	char *out = pt_palloc(pool, n + 1);
	for (size_t i = 0; i < n; i++) {
		if (name[i] == '%' && i + 2 < n) {
			if (!strncasecmp(name + i, "%22", 3)) {
				out[o++] = '"';
				i += 2;
				continue;
			}
			if (!strncasecmp(name + i, "%0D", 3) ||
			    !strncasecmp(name + i, "%0A", 3)) {
				out[o++] = ' ';
				i += 2;
				continue;
			}
		}
		out[o++] = name[i];
	}
	out[o] = '\0';
	return out;
}

/* ---- link passwords ---- */

/* A 429 for a wrong-password limit, with Retry-After. */
static bool linkpw_refused(struct pt_req *r, const struct link *l,
			   int64_t retry, const char *who, req_res *rc)
{
	*rc = reply_error(r, PT_ELIMIT, "password",
			  "too many requests: too many wrong passwords for "
			  "'%s' %s, wait %s seconds",
			  l->id, who, req_retry_after(r, retry));
	return true;
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
bool api_link_password_check_or_reply(struct pt_req *r, const struct link *l,
				      const char *pw, bool *right, req_res *rc)
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
	if (api_pw_verify_or_reply(r, l->password_hash, pw, &match, rc)) {
		if (r->responded) { /* 503: no attempt was made */
			ratelimit_refund(app->linkpw_pair, pair);
			ratelimit_refund(app->linkpw_ip, addr);
			if (!known)
				ratelimit_refund(app->linkpw_link, l->id);
		}
		return true;
	}
	*right = match;
	if (!match)
		return false;
	ratelimit_refund(app->linkpw_pair, pair);
	ratelimit_refund(app->linkpw_ip, addr);
	if (!known) {
		ratelimit_refund(app->linkpw_link, l->id);
		ratelimit_hit(app->linkpw_known, pair, now, NULL);
	}
	return false;
}

bool api_link_password_or_reply(struct pt_req *r, const struct link *l,
				req_res *rc)
{
	if (!l->password_hash || !*l->password_hash)
		return false;
	const char *pw = req_header(r, "X-Partage-Password");
	if (!pw)
		pw = req_query(r, "password");
	if (pw) {
		bool right;
		if (api_link_password_check_or_reply(r, l, pw, &right, rc))
			return true;
		if (right)
			return false;
	}
	*rc = reply_error(r, PT_EUNAUTH, "password",
			  pw ? "authentication required: wrong password for "
			       "'%s'"
			     : "authentication required: '%s' is "
			       "password-protected: add ?password=… or the "
			       "X-Partage-Password header",
			  l->id);
	return true;
}

/* ---- MIME sniffing: libmagic handles are not thread-safe, so one per
 * worker thread ---- */
static pthread_key_t magic_key;
static pthread_once_t magic_once = PTHREAD_ONCE_INIT;

static void magic_free(void *m)
{
	magic_close(m);
}

static void magic_key_init(void)
{
	pthread_key_create(&magic_key, magic_free);
}

char *api_sniff_mime(struct pt_pool *pool, const void *p, size_t n)
{
	magic_t m;
	const char *t;

	pthread_once(&magic_once, magic_key_init);
	m = pthread_getspecific(magic_key);
	if (!m) {
		m = magic_open(MAGIC_MIME | MAGIC_ERROR | MAGIC_NO_CHECK_COMPRESS);
		if (m && magic_load(m, NULL) != 0) {
			pt_log("upload: cannot load libmagic database: %s",
			       magic_error(m));
			magic_close(m);
			m = NULL;
		}
		if (m)
			pthread_setspecific(magic_key, m);
	}
	if (n == 0)
		return pt_pstrdup(pool, "application/x-empty");
	t = m ? magic_buffer(m, p, n) : NULL;
	if (!t || !*t)
		return pt_pstrdup(pool, "application/octet-stream");
	/* "application/octet-stream; charset=binary": the charset says nothing */
	const char *bin = strstr(t, "; charset=binary");
	if (bin)
		return pt_pstrndup(pool, t, (size_t)(bin - t));
	return pt_pstrdup(pool, t);
}
