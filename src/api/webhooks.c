/*
 * webhooks.c — an account's webhooks (POST, GET /api/v1/webhooks, DELETE
 * /api/v1/webhooks/{id}, GET /api/v1/webhooks/{id}/deliveries), the
 * events the other handlers emit, and the deliverer.
 *
 * An event is one JSON object, queued once per hook that takes it in the
 * outbox table of the metadata store (repo.h, "webhooks"): it survives a
 * restart, and every node's deliverer may send it.  Each node runs one
 * deliverer thread: it claims a few due rows with a lease (the row is its
 * own until the lease passes: a node that dies leaves its claims to the
 * others), POSTs each with its signature (core/hooksign.h) through the
 * outbound address guard (core/netguard.h: the hook's address is checked
 * at registration when it is an IP literal, and at every delivery after
 * resolution, whatever it is), logs the attempt, and marks the row
 * delivered (2xx), due again after a backoff (webhooks.retry_base_seconds
 * doubled after each failure, capped at retry_max_seconds), or failed
 * after webhooks.max_attempts.  At least once: a node that dies between
 * the POST and the log sends it again once the lease passes, so a
 * receiver deduplicates on Partage-Delivery.
 *
 * Events: "upload" (a file made: PUT, multipart, remote; not tus yet),
 * "download" (a batch of downloads counted, "downloads" is how many; a
 * whole copy of a Max-Downloads link, download.c), "deleted" (by its
 * owner or delete token), "expired" (a gc pass, gc.c), "takedown" (abuse
 * handling, with its "reason").  An event is
 * queued after the change it reports has committed: a crash between the
 * two loses that event (the change is kept).
 */
#define _GNU_SOURCE
#include "handlers.h"

#include <jansson.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>

#include "../core/hooksign.h"
#include "../core/ids.h"
#include "../core/netguard.h"
#include "../http/reply.h"
#include "../util/banned.h"

#define HOOK_EVENT_ID_LEN 24
#define HOOK_CLAIM 8          /* rows claimed at a time */
/* An idle deliverer looks at the outbox this often, for the claims of
 * nodes that died and the retries other nodes scheduled; its own events
 * (hooks_emit_link kicks it) and its own retries (it knows when they are
 * due) do not wait for it.  Every node of a cluster polls: 1 000 nodes
 * are 200 queries a second, where a 250 ms poll made 4 000. */
#define HOOK_POLL_MS 5000
#define HOOK_URL_MAX 2048
#define HOOK_LOG_MAX 50       /* deliveries the log shows */

static const char *const event_names[] = { "upload", "download", "deleted",
					    "expired", "takedown" };

struct hooks {
	struct app *app;
	struct netguard guard;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool stop, started;
	bool kicked;          /* an event of this node is queued */
	int64_t due;          /* the earliest retry this node set; 0: none */
	pthread_t th;
	char prefix[400];     /* this node's lease holders: "node|" */
};

static void kick(struct hooks *h)
{
	if (!h)
		return;
	pthread_mutex_lock(&h->lock);
	h->kicked = true;
	pthread_cond_signal(&h->cond);
	pthread_mutex_unlock(&h->lock);
}

/* ---- events ---- */

void hooks_emit_link(struct app *app, struct db *db, const char *event,
		     const struct link *l, json_t *extra)
{
	char evid[HOOK_EVENT_ID_LEN + 1];
	int64_t now = pt_now();

	if (!db || !repo_hook_wanted(db, l->owner, event)) {
		json_decref(extra);
		return;
	}
	id_fill(evid, HOOK_EVENT_ID_LEN);
	json_t *o = json_pack("{s:s, s:s, s:I}", "id", evid, "event", event,
			      "created", (json_int_t)now);
	json_object_set_new(o, "file", api_file_json(app, l));
	if (extra)
		json_object_update(o, extra);
	json_decref(extra);
	char *body = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	int64_t rc = repo_hook_emit(db, evid, l->owner, event, body, now);
	if (rc < 0)
		pt_log("webhooks: cannot queue '%s' of %s: %s", event, l->id,
		       pt_strerror((int)rc));
	else if (rc > 0)
		kick(app->hooks);
	free(body);
}

/* counts.c, after a flush: one "download" event per link */
static void counted_cb(void *arg, const char *id, int64_t n)
{
	struct app *app = arg;
	struct db *db = app_db(app);
	struct pt_pool *pool;
	struct link l;

	if (!db)
		return;
	pool = pt_pool_new();
	if (!repo_link_get(db, pool, id, &l) &&
	    repo_hook_wanted(db, l.owner, "download"))
		hooks_emit_link(app, db, "download", &l,
				json_pack("{s:I}", "downloads", (json_int_t)n));
	pt_pool_free(pool);
}

/* ---- the deliverer ---- */

struct attempt {
	struct hooks *h;
	const char *holder;
	int64_t now;
	int n;
};

static size_t discard_cb(char *p, size_t sz, size_t n, void *arg)
{
	(void)p;
	(void)arg;
	return sz * n;
}

/* POST d to its hook: the HTTP status (0: none) and, when it is not 2xx,
 * why in err. */
static long post(struct hooks *h, const struct delivery *d, char *err,
		 size_t err_n)
{
	const struct pt_conf *c = h->app->conf;
	struct netguard_ctx gc;
	char sig[HOOKSIGN_HEADER_MAX], line[HOOKSIGN_HEADER_MAX + 64];
	char errbuf[CURL_ERROR_SIZE] = "";
	struct curl_slist *hdr = NULL;
	long status = 0;
	CURL *e = curl_easy_init();
	CURLcode rc;

	err[0] = '\0';
	if (!e) {
		snprintf(err, err_n, "cannot start a transfer");
		return 0;
	}
	if (netguard_curl(e, &gc, &h->guard, 0) != CURLE_OK) {
		snprintf(err, err_n, "libcurl lacks an option the guard needs");
		curl_easy_cleanup(e);
		return 0;
	}
	hooksign_header(d->secret, pt_now(), d->body, strlen(d->body), sig);
	hdr = curl_slist_append(hdr, "Content-Type: application/json");
	snprintf(line, sizeof(line), "Partage-Signature: %s", sig);
	hdr = curl_slist_append(hdr, line);
	snprintf(line, sizeof(line), "Partage-Event: %s", d->event);
	hdr = curl_slist_append(hdr, line);
	snprintf(line, sizeof(line), "Partage-Delivery: %s", d->id);
	hdr = curl_slist_append(hdr, line);
	hdr = curl_slist_append(hdr, "Expect:");
	curl_easy_setopt(e, CURLOPT_URL, d->url);
	curl_easy_setopt(e, CURLOPT_USERAGENT, "partaged (webhook)");
	curl_easy_setopt(e, CURLOPT_HTTPHEADER, hdr);
	curl_easy_setopt(e, CURLOPT_POSTFIELDS, d->body);
	curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE,
			 (curl_off_t)strlen(d->body));
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, discard_cb);
	curl_easy_setopt(e, CURLOPT_ERRORBUFFER, errbuf);
	curl_easy_setopt(e, CURLOPT_TIMEOUT, (long)c->hook_timeout_seconds);
	rc = curl_easy_perform(e);
	if (rc == CURLE_OK) {
		curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &status);
		if (status < 200 || status > 299)
			snprintf(err, err_n, "the receiver answered %ld",
				 status);
	} else if (gc.why && rc == CURLE_COULDNT_CONNECT) {
		snprintf(err, err_n, "refused address %s (%s)", gc.addr,
			 gc.why);
	} else if (rc == CURLE_OPERATION_TIMEDOUT) {
		snprintf(err, err_n, "no answer within %llu seconds",
			 (unsigned long long)c->hook_timeout_seconds);
	} else {
		snprintf(err, err_n, "%s",
			 errbuf[0] ? errbuf : curl_easy_strerror(rc));
	}
	curl_slist_free_all(hdr);
	curl_easy_cleanup(e);
	return status;
}

/* The wait after the k-th failed attempt (k >= 1). */
static int64_t backoff(const struct pt_conf *c, int64_t k)
{
	uint64_t wait = c->hook_retry_base_seconds;
	for (int64_t i = 1; i < k && wait < c->hook_retry_max_seconds; i++)
		wait *= 2;
	return (int64_t)(wait < c->hook_retry_max_seconds
				 ? wait
				 : c->hook_retry_max_seconds);
}

static int deliver_cb(const struct delivery *d, void *arg)
{
	struct attempt *a = arg;
	const struct pt_conf *c = a->h->app->conf;
	struct db *db = app_db(a->h->app);
	char err[300];
	long status = 0;
	const char *state;
	int64_t next = 0, now;

	a->n++;
	if (!d->url)
		snprintf(err, sizeof(err), "the webhook was deleted");
	else
		status = post(a->h, d, err, sizeof(err));
	now = pt_now();
	if (d->url && !err[0]) {
		state = "delivered";
	} else if (!d->url || d->attempts + 1 >= (int64_t)c->hook_max_attempts) {
		state = "failed";
	} else {
		state = "pending";
		next = now + backoff(c, d->attempts + 1);
	}
	if (!db)
		return 0;
	if (next) {
		pthread_mutex_lock(&a->h->lock);
		if (!a->h->due || next < a->h->due)
			a->h->due = next;
		pthread_mutex_unlock(&a->h->lock);
	}
	int rc = repo_hook_attempt(db, d->id, a->holder, now, status, err,
				   state, next);
	if (rc && rc != PT_ECONFLICT)
		pt_log("webhooks: cannot log delivery %s: %s", d->id,
		       pt_strerror(rc));
	return 0;
}

/* One pass: claim due deliveries and send them.  How many it sent. */
static int pass(struct hooks *h)
{
	struct db *db = app_db(h->app);
	char tok[9], holder[420];
	struct attempt a = { .h = h };

	if (!db)
		return 0;
	id_fill(tok, 8);
	snprintf(holder, sizeof(holder), "%s%s", h->prefix, tok);
	struct pt_pool *pool = pt_pool_new();
	a.holder = holder;
	a.now = pt_now();
	/* the lease covers every claimed delivery timing out in turn */
	int64_t lease = a.now + 30 +
			HOOK_CLAIM * (int64_t)h->app->conf->hook_timeout_seconds;
	int err = repo_hook_claim(db, pool, holder, a.now, lease, HOOK_CLAIM,
				  deliver_cb, &a);
	if (err && err != PT_EUNAVAIL)
		pt_log("webhooks: cannot claim deliveries: %s",
		       pt_strerror(err));
	pt_pool_free(pool);
	return a.n;
}

static void *deliverer(void *arg)
{
	struct hooks *h = arg;
	pt_thread_name("hooks");
	pthread_mutex_lock(&h->lock);
	while (!h->stop) {
		h->kicked = false;
		if (h->due && h->due <= pt_now())
			h->due = 0; /* this pass sends them (or sets them again) */
		pthread_mutex_unlock(&h->lock);
		int n = pass(h);
		pthread_mutex_lock(&h->lock);
		if (n || h->stop || h->kicked)
			continue;
		/* until a kick, the next retry of ours, or the poll */
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		int64_t wait_ms = HOOK_POLL_MS;
		if (h->due) {
			int64_t in = (h->due - pt_now()) * 1000;
			if (in < wait_ms)
				wait_ms = in > 0 ? in : 0;
		}
		ts.tv_sec += wait_ms / 1000;
		ts.tv_nsec += (wait_ms % 1000) * 1000000L;
		if (ts.tv_nsec >= 1000000000L) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000L;
		}
		while (!h->stop && !h->kicked &&
		       pthread_cond_timedwait(&h->cond, &h->lock, &ts) == 0)
			;
	}
	pthread_mutex_unlock(&h->lock);
	return NULL;
}

struct hooks *hooks_start(struct app *app)
{
	struct hooks *h = xcalloc(1, sizeof(*h));
	const struct pt_conf *c = app->conf;
	struct db *db = app_db(app);
	char why[160];

	h->app = app;
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		abort(); /* only fails on allocation: the x* policy */
	if (netguard_parse(c->net_allow, &h->guard, why, sizeof(why)))
		pt_log("net.allow: %s", why); /* conf.c checked it */
	snprintf(h->prefix, sizeof(h->prefix), "%s|", app->node);
	pthread_mutex_init(&h->lock, NULL);
	pthread_cond_init(&h->cond, NULL);
	if (db) {
		if (*c->hook_url && !*c->hook_secret)
			pt_log("webhooks: webhooks.url without webhooks.secret: "
			       "the instance's webhook is off");
		else {
			/* the list as the hooks table keeps it: names
			 * between single spaces (conf.c also takes commas) */
			char ev[256];
			size_t o = 0;
			for (const char *p = c->hook_events;
			     *p && o + 1 < sizeof(ev); p++) {
				char ch = *p == ',' ? ' ' : *p;
				if (ch != ' ' || (o && ev[o - 1] != ' '))
					ev[o++] = ch;
			}
			while (o && ev[o - 1] == ' ')
				o--;
			ev[o] = '\0';
			repo_hook_instance_set(db, c->hook_url, c->hook_secret,
					       ev, pt_now());
		}
		repo_hook_release(db, h->prefix);
	}
	counts_on_flush(app->counts, counted_cb, app);
	h->started = pthread_create(&h->th, NULL, deliverer, h) == 0;
	return h;
}

void hooks_stop(struct hooks *h)
{
	if (!h)
		return;
	counts_on_flush(h->app->counts, NULL, NULL);
	pthread_mutex_lock(&h->lock);
	h->stop = true;
	pthread_cond_broadcast(&h->cond);
	pthread_mutex_unlock(&h->lock);
	if (h->started)
		pthread_join(h->th, NULL);
	curl_global_cleanup();
	pthread_cond_destroy(&h->cond);
	pthread_mutex_destroy(&h->lock);
	free(h);
}

/* ---- the API ---- */

static json_t *events_json(const char *events)
{
	json_t *a = json_array();
	if (!strcmp(events, "all")) {
		json_array_append_new(a, json_string("all"));
		return a;
	}
	for (const char *p = events; *p;) {
		size_t n = strcspn(p, " ");
		if (n)
			json_array_append_new(a, json_stringn(p, n));
		p += n + (p[n] ? 1 : 0);
	}
	return a;
}

static json_t *hook_json(const struct hook *k)
{
	return json_pack("{s:s, s:s, s:o, s:I}", "id", k->id, "url", k->url,
			 "events", events_json(k->events), "created",
			 (json_int_t)k->created);
}

/* events: absent or "all", or an array of known names → "all" or the
 * names, space-separated, in the table's order (pool).  NULL: refused. */
static const char *events_parse(struct pt_pool *pool, json_t *v)
{
	bool want[PT_ARRAY_LEN(event_names)] = { false };
	char out[128] = "";

	if (!v || (json_is_string(v) && !strcmp(json_string_value(v), "all")))
		return "all";
	if (!json_is_array(v) || !json_array_size(v))
		return NULL;
	size_t i;
	json_t *e;
	json_array_foreach(v, i, e) {
		bool known = false;
		if (json_is_string(e) && !strcmp(json_string_value(e), "all"))
			return "all";
		for (size_t k = 0; json_is_string(e) &&
				   k < PT_ARRAY_LEN(event_names); k++)
			if (!strcmp(json_string_value(e), event_names[k]))
				known = want[k] = true;
		if (!known)
			return NULL;
	}
	for (size_t k = 0; k < PT_ARRAY_LEN(event_names); k++)
		if (want[k]) {
			size_t n = strlen(out);
			snprintf(out + n, sizeof(out) - n, "%s%s", n ? " " : "",
				 event_names[k]);
		}
	return pt_pstrdup(pool, out);
}

static req_res create_done(struct pt_req *r, json_t *o)
{
	struct app *app = r->ctx;
	struct hooks *h = app->hooks;
	const struct principal *who = api_who(r);
	json_t *url = o ? json_object_get(o, "url") : NULL;
	const char *events = o ? events_parse(r->pool,
					      json_object_get(o, "events"))
			       : NULL;
	char tok[TOKEN_LEN + 1];
	req_res rc;
	struct hook k;
	int err;

	if (!json_is_string(url) || !events)
		return reply_error(r, PT_EBADREQ, NULL,
				   "bad request: send {\"url\": \"https://…\""
				   "[, \"events\": [\"upload\", \"download\", "
				   "\"deleted\", \"expired\", \"takedown\"]]}");
	const char *u = json_string_value(url);
	if (api_url_check_or_reply(r, h ? &h->guard : NULL, u, HOOK_URL_MAX,
				   "", &rc))
		return rc;
	struct db *db = app_db(app);
	if (!db)
		return reply_error(r, PT_EUNAVAIL, NULL, API_DB_DOWN);
	if (repo_hooks_count(db, who->user_id) >=
	    (int64_t)app->conf->hook_per_account)
		return reply_error(r, PT_EFORBIDDEN, NULL,
				   "forbidden: at most %llu webhooks per "
				   "account",
				   (unsigned long long)
					   app->conf->hook_per_account);
	memset(&k, 0, sizeof(k));
	id_new(k.id);
	k.owner = who->user_id;
	k.url = (char *)u;
	token_new(tok);
	k.secret = pt_psprintf(r->pool, "whsec_%s", tok);
	k.events = (char *)events;
	k.created = pt_now();
	if ((err = repo_hook_create(db, &k)))
		return reply_error(r, err, NULL, "cannot create the webhook: %s",
				   pt_strerror(err));
	json_t *out = hook_json(&k);
	json_object_set_new(out, "secret", json_string(k.secret));
	return reply_json(r, 201, out);
}

req_res api_hooks_create(struct pt_req *r)
{
	return api_json_body(r, create_done);
}

static int list_cb(const struct hook *k, void *arg)
{
	json_array_append_new(arg, hook_json(k));
	return 0;
}

req_res api_hooks_list(struct pt_req *r)
{
	struct app *app = r->ctx;
	struct db *db = app_db(app);
	json_t *a = json_array();
	int err = db ? repo_hooks_each(db, r->pool, api_who(r)->user_id,
				       list_cb, a)
		     : PT_EUNAVAIL;
	if (err) {
		json_decref(a);
		return reply_error(r, err, NULL, "cannot list webhooks: %s",
				   pt_strerror(err));
	}
	return reply_json(r, 200, json_pack("{s:o}", "webhooks", a));
}

req_res api_hook_delete(struct pt_req *r)
{
	struct app *app = r->ctx;
	struct db *db = app_db(app);
	char id[ID_LEN + 1];
	snprintf(id, sizeof(id), "%.*s", (int)r->arg[0].n, r->arg[0].p);
	int err = db ? repo_hook_delete(db, api_who(r)->user_id, id)
		     : PT_EUNAVAIL;
	if (err == PT_ENOTFOUND)
		return reply_error(r, err, NULL, "not found: no webhook '%s'",
				   id);
	if (err)
		return reply_error(r, err, NULL, "cannot delete the webhook: "
				   "%s", pt_strerror(err));
	return reply_empty(r, 204);
}

struct log_ctx {
	struct db *db;
	json_t *arr;
};

static int attempt_cb(int64_t at, int64_t status, const char *error,
		      void *arg)
{
	json_array_append_new(arg, json_pack("{s:I, s:I, s:s}", "at",
					     (json_int_t)at, "status",
					     (json_int_t)status, "error",
					     error));
	return 0;
}

static int delivery_cb(const struct delivery *d, void *arg)
{
	struct log_ctx *lc = arg;
	json_t *attempts = json_array();
	repo_hook_attempts(lc->db, d->id, attempt_cb, attempts);
	json_t *o = json_pack("{s:s, s:s, s:s, s:I, s:I, s:I, s:s, s:o}",
			      "id", d->id, "event", d->event, "state",
			      d->state, "created", (json_int_t)d->created,
			      "attempts", (json_int_t)d->attempts,
			      "last_status", (json_int_t)d->last_status,
			      "last_error", d->last_error, "log", attempts);
	json_object_set_new(o, "next_at",
			    strcmp(d->state, "pending")
				    ? json_null()
				    : json_integer((json_int_t)d->next_at));
	json_array_append_new(lc->arr, o);
	return 0;
}

req_res api_hook_deliveries(struct pt_req *r)
{
	struct app *app = r->ctx;
	struct db *db = app_db(app);
	char id[ID_LEN + 1];
	struct hook k;
	struct log_ctx lc = { db, NULL };
	int err;

	snprintf(id, sizeof(id), "%.*s", (int)r->arg[0].n, r->arg[0].p);
	if (!db)
		return reply_error(r, PT_EUNAVAIL, NULL, API_DB_DOWN);
	err = repo_hook_get(db, r->pool, api_who(r)->user_id, id, &k);
	if (err == PT_ENOTFOUND)
		return reply_error(r, err, NULL, "not found: no webhook '%s'",
				   id);
	if (err)
		return reply_error(r, err, NULL, "cannot read the webhook: %s",
				   pt_strerror(err));
	lc.arr = json_array();
	err = repo_hook_deliveries(db, r->pool, id, HOOK_LOG_MAX, delivery_cb,
				   &lc);
	if (err) {
		json_decref(lc.arr);
		return reply_error(r, err, NULL, "cannot read the deliveries: "
				   "%s", pt_strerror(err));
	}
	req_reply_header(r, "Cache-Control", "no-store");
	return reply_json(r, 200, json_pack("{s:o, s:o}", "webhook",
					    hook_json(&k), "deliveries",
					    lc.arr));
}
