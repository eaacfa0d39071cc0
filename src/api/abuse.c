/*
 * abuse.c — abuse handling that acts on content, not just on one link:
 * takedowns (POST /api/v1/takedowns for rights holders and admins, and
 * `partaged admin takedown/restore`), the SHA-256 blocklist that refuses
 * re-uploads with 451, abuse reports from anyone, the link checker that
 * link sites use (POST /api/v1/check), and the transparency counts.
 * Every action lands in the append-only audit log.
 */
#define _GNU_SOURCE
#include "handlers.h"
#include "pwcheck.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "../core/ids.h"
#include "../core/linkcheck.h"
#include "../http/reply.h"
#include "../util/buf.h"
#include "../util/banned.h"

#define TAKEDOWN_MAX 1000

/* ---- shared by the API and `partaged admin` ---- */

/* The one takedown transaction: of ids (scope link or content), or of
 * every live link to hex (a blocklist import, hex != NULL: audited only
 * when it took some link down). */
static int takedown_tx(struct app *app, const char *actor, const char **ids,
		       size_t nids, const char *hex, bool content,
		       const char *reason, const char *reference,
		       struct pt_pool *pool, char ***affected,
		       size_t *naffected, int64_t *taken)
{
	struct db *db = app_db(app);
	struct takedown_row t;
	char **out = pt_palloc(pool, TAKEDOWN_MAX * sizeof(*out));
	size_t n = 0;
	int err;

	*affected = out;
	*naffected = 0;
	*taken = 0;
	if (!db)
		return PT_EUNAVAIL;
	memset(&t, 0, sizeof(t));
	id_new(t.id);
	t.created = pt_now();
	t.actor = actor;
	t.scope = content ? "content" : "link";
	t.reason = reason;
	t.reference = reference ? reference : "";
	int64_t purge = t.created +
			(int64_t)app->conf->quarantine_days * 86400;
	if ((err = db_begin(db)))
		return err;
	if (hex) {
		err = repo_takedown_hash(db, &t, hex, purge, pool, out,
					 TAKEDOWN_MAX, &n, taken);
		if (err)
			goto fail;
	}
	for (size_t i = 0; i < nids; i++) {
		if (!id_valid(ids[i], strlen(ids[i])))
			continue;
		err = repo_takedown(db, &t, ids[i], purge, pool, out,
				    TAKEDOWN_MAX, &n);
		if (err == PT_ENOTFOUND)
			continue; /* unknown ids are simply not affected */
		if (err)
			goto fail;
	}
	if (!hex || *taken) {
		struct pt_buf detail;
		pt_buf_init(&detail, 1 << 20);
		pt_buf_addf(&detail, "takedown %s; links:", t.id);
		for (size_t i = 0; i < n; i++)
			pt_buf_addf(&detail, " %s", out[i]);
		err = repo_audit(db, actor,
				 content ? "takedown_content" : "takedown_link",
				 hex ? hex : nids ? ids[0] : "", t.reason,
				 detail.p ? detail.p : "", t.created);
		pt_buf_release(&detail);
		if (err)
			goto fail;
	}
	if ((err = db_commit(db)))
		return err;
	*naffected = n;
	for (size_t i = 0; i < n; i++) {
		struct link l;
		if (!repo_link_get(db, pool, out[i], &l))
			hooks_emit_link(app, db, "takedown", &l,
					json_pack("{s:s}", "reason", reason));
	}
	return 0;
fail:
	db_rollback(db);
	return err;
}

int abuse_takedown(struct app *app, const char *actor, const char **ids,
		   size_t nids, bool content, const char *reason,
		   const char *reference, struct pt_pool *pool,
		   char ***affected, size_t *naffected)
{
	int64_t taken;
	return takedown_tx(app, actor, ids, nids, NULL, content, reason,
			   reference, pool, affected, naffected, &taken);
}

int abuse_takedown_hash(struct app *app, const char *actor, const char *hex,
			const char *reason, struct pt_pool *pool,
			char ***affected, size_t *naffected, int64_t *taken)
{
	return takedown_tx(app, actor, NULL, 0, hex, true, reason, "", pool,
			   affected, naffected, taken);
}

int abuse_restore(struct app *app, const char *actor, const char *id,
		  int64_t *restored)
{
	struct db *db = app_db(app);
	struct pt_pool *pool = pt_pool_new();
	char *tid = NULL;
	int err;

	if (!db) {
		err = PT_EUNAVAIL;
		goto done;
	}
	/* the bytes must still be there (the quarantine keeps them; this
	 * guards against a clock that disagrees with gc's --now) */
	struct link l;
	uint64_t size;
	if ((err = repo_link_get(db, pool, id, &l)))
		goto done;
	if (blob_stat(app->blobs, l.sha256, &size) != 0) {
		err = PT_EGONE;
		goto done;
	}
	if ((err = db_begin(db)))
		goto done;
	err = repo_restore(db, id, pt_now(), pool, &tid, restored);
	if (!err)
		err = repo_audit(db, actor, "restore", id, "",
				 pt_psprintf(pool, "takedown %s; %lld links", tid,
					     (long long)*restored),
				 pt_now());
	if (err) {
		db_rollback(db);
		goto done;
	}
	err = db_commit(db);
done:
	pt_pool_free(pool);
	return err;
}

/* Refuse blocked content at upload: 451 with the reason.  Logged in the
 * audit as a refusal (the transparency report counts them). */
bool abuse_check_upload_or_reply(struct pt_req *r, const char *hex, req_res *rc)
{
	struct app *app = r->ctx;
	struct db *db = app_db(app);
	char *why = NULL;

	if (!db || !repo_blocked(db, hex, r->pool, &why))
		return false;
	repo_audit(db, r->client_ip, "refuse_upload", hex, why, "", pt_now());
	*rc = reply_error(r, PT_ELEGAL, "removed",
			  "unavailable for legal reasons: this content was "
			  "removed (%s) and cannot be uploaded again",
			  why);
	return true;
}

/* May this principal upload at all (repeat infringers may not)? */
bool abuse_check_uploader_or_reply(struct pt_req *r, req_res *rc)
{
	struct app *app = r->ctx;
	const struct principal *who = api_who(r);
	uint64_t limit = app->conf->repeat_infringer_strikes;
	if (!who->user_id || !limit)
		return false;
	struct db *db = app_db(app);
	int64_t strikes = db ? repo_user_strikes(db, who->user_id) : 0;
	if (strikes < (int64_t)limit)
		return false;
	*rc = reply_error(r, PT_EFORBIDDEN, NULL,
			  "forbidden: uploads are closed for account '%s' "
			  "after %lld takedowns of its files",
			  who->name, (long long)strikes);
	return true;
}

/* ---- POST /api/v1/takedowns ---- */

static req_res takedowns_done(struct pt_req *r, json_t *o)
{
	struct app *app = r->ctx;
	const struct principal *who = api_who(r);
	json_t *ids = o ? json_object_get(o, "ids") : NULL;
	json_t *scope = o ? json_object_get(o, "scope") : NULL;
	json_t *reason = o ? json_object_get(o, "reason") : NULL;
	json_t *ref = o ? json_object_get(o, "reference") : NULL;
	const char *sc = json_is_string(scope) ? json_string_value(scope) : "link";

	if (!json_is_array(ids) || json_array_size(ids) == 0 ||
	    json_array_size(ids) > TAKEDOWN_MAX || !json_is_string(reason) ||
	    (strcmp(sc, "link") && strcmp(sc, "content")))
		return reply_error(r, PT_EBADREQ, NULL,
				   "bad request: send {\"ids\": [...] (1 to "
				   "%d), \"scope\": \"link\"|\"content\", "
				   "\"reason\": …, \"reference\": …}",
				   TAKEDOWN_MAX);
	size_t n = json_array_size(ids), k = 0;
	const char **list = pt_palloc(r->pool, n * sizeof(*list));
	for (size_t i = 0; i < n; i++) {
		json_t *v = json_array_get(ids, i);
		if (!json_is_string(v))
			continue;
		/* accept share URLs too: the id is the last 12-char segment */
		const char *s = json_string_value(v);
		const char *slash = strrchr(s, '/');
		const char *id = s;
		if (slash && id_valid(slash + 1, strlen(slash + 1)))
			id = slash + 1;
		else if (strlen(s) > 12) {
			/* .../ID/name */
			for (const char *p = s; (p = strchr(p, '/')); p++)
				if (id_valid(p + 1, 12) &&
				    (p[13] == '/' || p[13] == '\0')) {
					id = pt_pstrndup(r->pool, p + 1, 12);
					break;
				}
		}
		list[k++] = id;
	}
	char **affected;
	size_t na;
	int err = abuse_takedown(app, who->name, list, k,
				 strcmp(sc, "content") == 0,
				 json_string_value(reason),
				 json_is_string(ref) ? json_string_value(ref)
						     : "",
				 r->pool, &affected, &na);
	if (err)
		return reply_error(r, err, NULL, "cannot take down: %s",
				   pt_strerror(err));
	json_t *arr = json_array();
	for (size_t i = 0; i < na; i++)
		json_array_append_new(arr, json_string(affected[i]));
	return reply_json(r, 201, json_pack("{s:o}", "affected", arr));
}

req_res api_takedowns(struct pt_req *r)
{
	const struct principal *who = api_who(r);
	if (!who->role || (strcmp(who->role, "rights_holder") != 0 &&
			   strcmp(who->role, "admin") != 0))
		return reply_error(r, PT_EFORBIDDEN, NULL,
				   "forbidden: takedowns are for rights holders "
				   "and admins; everyone can send a report to "
				   "/api/v1/reports");
	return api_json_body(r, takedowns_done);
}

/* ---- POST /api/v1/reports ---- */

static req_res reports_done(struct pt_req *r, json_t *o)
{
	struct app *app = r->ctx;
	static const char *const categories[] = { "copyright", "abuse",
						  "malware", "illegal",
						  "privacy", "other" };
	const char *id = o ? json_string_value(json_object_get(o, "id")) : NULL;
	const char *url = o ? json_string_value(json_object_get(o, "url")) : NULL;
	const char *cat = o ? json_string_value(json_object_get(o, "category"))
			    : NULL;
	const char *text = o ? json_string_value(json_object_get(o, "text")) : NULL;
	const char *contact = o ? json_string_value(json_object_get(o, "contact"))
				: NULL;
	bool cat_ok = false;

	char uid[ID_LEN + 1];
	if (!id && url && linkcheck_id(url, strlen(url), uid))
		id = uid;
	for (size_t i = 0; cat && i < PT_ARRAY_LEN(categories); i++)
		cat_ok |= strcmp(cat, categories[i]) == 0;
	if (!id || !id_valid(id, strlen(id)) || !cat_ok)
		return reply_error(r, PT_EBADREQ, NULL,
				   "bad request: send {\"id\" or \"url\", "
				   "\"category\": copyright|abuse|malware|"
				   "illegal|privacy|other, \"text\", "
				   "\"contact\"}");
	if ((text && strlen(text) > 10000) || (contact && strlen(contact) > 500))
		return reply_error(r, PT_ETOOBIG, NULL,
				   "payload too large: text up to 10000 "
				   "characters, contact up to 500");
	struct report_row rep = { .created = pt_now(),
				  .ip = r->client_ip,
				  .link_id = id,
				  .category = cat,
				  .body = text ? text : "",
				  .contact = contact ? contact : "" };
	id_new(rep.id);
	struct db *db = app_db(app);
	int err = db ? repo_report_create(db, &rep) : PT_EUNAVAIL;
	if (!err)
		err = repo_audit(db, r->client_ip, "report", id, cat, rep.id,
				 rep.created);
	if (err)
		return reply_error(r, err, NULL, "cannot store the report: %s",
				   pt_strerror(err));
	return reply_json(r, 201,
			  json_pack("{s:s, s:s}", "id", rep.id, "status",
				    "open"));
}

req_res api_reports(struct pt_req *r)
{
	struct app *app = r->ctx;
	int64_t retry = 0;
	if (!ratelimit_hit(app->reports_ip, r->client_ip, pt_now(), &retry)) {
		return reply_error(r, PT_ELIMIT, NULL,
				   "too many requests: too many reports from "
				   "this address, wait %s seconds",
				   req_retry_after(r, retry));
	}
	return api_json_body(r, reports_done);
}

/* ---- POST /api/v1/check: the link checker ---- */

/* The largest body taken: 1000 links of 250 bytes. */
#define CHECK_BODY_MAX (256 * 1024)

struct check {
	struct pt_buf body;
};

static void check_free(void *arg)
{
	pt_buf_release(&((struct check *)arg)->body);
}

static int check_chunk(struct pt_req *r, const char *data, size_t n)
{
	struct check *c = r->state;
	if (pt_buf_add(&c->body, data, n) == 0)
		return 0;
	/* never check what is left after a cut: results would not match
	 * the input */
	reply_error(r, PT_ETOOBIG, NULL,
		    "payload too large: at most %d bytes of links per check",
		    CHECK_BODY_MAX);
	return 1;
}

/*
 * Unknown ids cost the address's enumeration budget here as on every
 * other route (abuse.unknown_ids_per_minute), one per unknown id, in
 * input order.  When it runs out at item k, items k.. are "unchecked"
 * (known or not: their status would tell) and Retry-After says when to
 * send them again; when it runs out at the first item, the answer is a
 * 429.  Items that hold no id are "unknown" without a lookup or a cost.
 */
static req_res check_end(struct pt_req *r)
{
	struct app *app = r->ctx;
	struct check *c = r->state;
	struct linkcheck_item *it;
	size_t n, nids = 0;

	int err = linkcheck_parse(r->pool, c->body.p, c->body.n,
				  REPO_CHECK_MAX, &it, &n);
	if (err == PT_ETOOBIG)
		return reply_error(r, err, NULL,
				   "payload too large: at most %d links per "
				   "check",
				   REPO_CHECK_MAX);
	if (err)
		return reply_error(r, PT_EBADREQ, NULL,
				   "bad request: a JSON array of links or ids "
				   "(strings), or one per line");
	const char **ids = pt_palloc(r->pool, (n ? n : 1) * sizeof(*ids));
	size_t *at = pt_palloc(r->pool, (n ? n : 1) * sizeof(*at));
	for (size_t i = 0; i < n; i++)
		if (it[i].valid) {
			at[nids] = i;
			ids[nids++] = it[i].id;
		}
	struct link *rows = pt_palloc(r->pool, (nids ? nids : 1) * sizeof(*rows));
	bool *found = pt_palloc(r->pool, nids ? nids : 1);
	struct db *db = app_db(app);
	err = !nids ? 0
	      : db  ? repo_links_check(db, r->pool, ids, nids, rows, found)
		    : PT_EUNAVAIL;
	if (err)
		return reply_error(r, err, NULL, "cannot check: %s",
				   pt_strerror(err));
	json_t *res = json_array();
	int64_t now = pt_now(), retry = 0;
	size_t stop = n;
	for (size_t i = 0, k = 0; i < n; i++) {
		json_t *o;
		const char *why;
		bool known = false;
		struct link *l = NULL;
		if (it[i].valid) {
			known = found[k];
			l = &rows[k++];
		}
		if (stop == n && it[i].valid && !known &&
		    app->conf->unknown_ids_per_minute &&
		    !ratelimit_hit(app->unknown_ids, r->client_ip, now,
				   &retry))
			stop = i;
		if (i >= stop) {
			o = json_pack("{s:o, s:s}", "id", reply_jtext(it[i].id),
				      "status", "unchecked");
		} else if (!known) {
			/* unknown: nothing more, not even whether it ever
			 * existed */
			o = json_pack("{s:o, s:s}", "id", reply_jtext(it[i].id),
				      "status", "unknown");
		} else if (l->password_hash && *l->password_hash) {
			/* no more than its page shows before the password:
			 * not its name or size */
			bool live = link_effective_state(l, now, &why) ==
				    LINK_LIVE;
			o = json_pack("{s:s, s:s, s:b}", "id", l->id, "status",
				      live ? "alive" : "removed",
				      "password_protected", 1);
			if (!live)
				json_object_set_new(o, "reason",
						    json_string(why));
		} else if (link_effective_state(l, now, &why) == LINK_LIVE) {
			o = json_pack("{s:s, s:s, s:o, s:I}", "id", l->id,
				      "status", "alive", "name",
				      reply_jtext(l->name), "size",
				      (json_int_t)l->size);
		} else {
			o = json_pack("{s:s, s:s, s:o, s:I, s:s}", "id", l->id,
				      "status", "removed", "name",
				      reply_jtext(l->name), "size",
				      (json_int_t)l->size, "reason", why);
		}
		json_array_append_new(res, o);
	}
	if (stop < n) {
		const char *ra = req_retry_after(r, retry);
		if (stop == 0) {
			json_decref(res);
			return reply_error(r, PT_ELIMIT, NULL,
					   "too many requests: too many unknown "
					   "ids from this address, wait %s "
					   "seconds",
					   ra);
		}
		return reply_json(r, 200,
				  json_pack("{s:o, s:I}", "results", res,
					    "retry_after",
					    (json_int_t)(retry > 0 ? retry : 1)));
	}
	return reply_json(r, 200, json_pack("{s:o}", "results", res));
}

req_res api_check(struct pt_req *r)
{
	struct check *c = pt_palloc(r->pool, sizeof(*c));
	pt_buf_init(&c->body, CHECK_BODY_MAX);
	pt_pool_cleanup_add(r->pool, check_free, c);
	r->state = c;
	r->on_body = check_chunk;
	r->on_end = check_end;
	return REQ_OK;
}

/* ---- GET /api/v1/transparency ---- */

struct month {
	char name[8];
	json_int_t reports, takedowns_link, takedowns_content, restores,
		refused;
};

struct months {
	struct month m[240];
	size_t n;
};

static int count_cb(const struct audit_row *a, void *arg)
{
	struct months *ms = arg;
	struct tm tm;
	time_t t = (time_t)a->at;
	char name[8];

	gmtime_r(&t, &tm);
	strftime(name, sizeof(name), "%Y-%m", &tm);
	struct month *m = NULL;
	for (size_t i = 0; i < ms->n; i++)
		if (strcmp(ms->m[i].name, name) == 0)
			m = &ms->m[i];
	if (!m) {
		if (ms->n == PT_ARRAY_LEN(ms->m))
			return 0;
		m = &ms->m[ms->n++];
		memcpy(m->name, name, sizeof(name));
	}
	if (!strcmp(a->action, "report"))
		m->reports++;
	else if (!strcmp(a->action, "takedown_link"))
		m->takedowns_link++;
	else if (!strcmp(a->action, "takedown_content"))
		m->takedowns_content++;
	else if (!strcmp(a->action, "restore"))
		m->restores++;
	else if (!strcmp(a->action, "refuse_upload"))
		m->refused++;
	return 0;
}

req_res api_transparency(struct pt_req *r)
{
	struct app *app = r->ctx;
	struct months *ms = pt_palloc(r->pool, sizeof(*ms));
	struct db *db = app_db(app);
	/* the last 20 years at most; months in order (audit is by time) */
	int err = db ? repo_audit_each(db, pt_now() - 20LL * 366 * 86400,
				       count_cb, ms)
		     : PT_EUNAVAIL;
	if (err)
		return reply_error(r, err, NULL, "cannot count: %s",
				   pt_strerror(err));
	json_t *arr = json_array();
	struct month tot = { "total", 0, 0, 0, 0, 0 };
	for (size_t i = 0; i < ms->n; i++) {
		struct month *m = &ms->m[i];
		json_array_append_new(
			arr, json_pack("{s:s, s:I, s:{s:I, s:I}, s:I, s:I}",
				       "month", m->name, "reports", m->reports,
				       "takedowns", "link", m->takedowns_link,
				       "content", m->takedowns_content,
				       "restores", m->restores,
				       "refused_uploads", m->refused));
		tot.reports += m->reports;
		tot.takedowns_link += m->takedowns_link;
		tot.takedowns_content += m->takedowns_content;
		tot.restores += m->restores;
		tot.refused += m->refused;
	}
	return reply_json(
		r, 200,
		json_pack("{s:I, s:{s:I, s:I}, s:I, s:I, s:o}", "reports",
			  tot.reports, "takedowns", "link", tot.takedowns_link,
			  "content", tot.takedowns_content, "restores",
			  tot.restores, "refused_uploads", tot.refused,
			  "months", arr));
}
