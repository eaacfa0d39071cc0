/*
 * remote.c — remote uploads: POST /api/v1/files/remote {"url": …} makes
 * the server fetch the URL (libcurl) into a new file, in the background,
 * and GET /api/v1/files/remote/{job} tells how far it got.
 *
 * A job is created on the request thread and queued; net.fetch_workers
 * threads take jobs in order and fetch them, one transfer each, so a
 * request thread never waits for a remote server.  The bytes go through
 * the same path as every upload (docs/internals.md, 2): a blob writer
 * hashing on the fly, the commit (dedup, fs or S3), the blocklist, then
 * the link row in the transaction that checks the owner's quota.
 *
 * Bounds: the URL's form and, for an IP literal, its address are checked
 * before the job is queued (400, 403); every connection, redirects
 * included, goes through the outbound guard (core/netguard.h); the size
 * is the principal's upload limit at the time of the request (the tier's
 * max_upload_bytes under storage.max_file_bytes, or the quota left), by
 * Content-Length when the server sends one and by the bytes received in
 * any case; the whole transfer lasts at most the tier's remote_seconds,
 * under net.fetch_timeout_seconds.
 * At most net.fetch_queue jobs are queued or running (503 past it), and
 * REMOTE_PER_CLIENT per address (429).
 *
 * Jobs live in this node's memory: a finished job is kept REMOTE_KEEP
 * seconds for its GET, and a restart loses queued and running jobs (their
 * GET answers 404; no link was made, nothing is left stored).  Behind a
 * balancer, the job's GET must reach the node that took it.
 *
 * The job id (24 random characters) is the capability to read it; the
 * delete token of the file to come is in the reply to the POST (only its
 * hash is kept), so an anonymous job's GET does not hand it out.
 */
#define _GNU_SOURCE
#include "handlers.h"

#include <errno.h>
#include <jansson.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "../core/ids.h"
#include "../core/netguard.h"
#include "../http/disposition.h"
#include "../http/reply.h"
#include "../util/banned.h"

#define REMOTE_ID_LEN 24
#define REMOTE_PER_CLIENT 4
#define REMOTE_KEEP 3600
#define REMOTE_MAX_JOBS 10000
#define REMOTE_URL_MAX 4096
#define REMOTE_SNIFF 16384

enum job_state { JOB_QUEUED, JOB_FETCHING, JOB_DONE, JOB_FAILED };
static const char *const state_names[] = { "queued", "fetching", "done",
					   "failed" };

struct job {
	char id[REMOTE_ID_LEN + 1];
	char *url;
	char *name;                /* asked for, or NULL: from the URL */
	char client[48];
	int64_t owner;
	uint64_t quota_bytes;      /* the owner's tier's quota (link row) */
	uint64_t limit;            /* largest file */
	uint64_t timeout;          /* seconds: the tier's, under the net's */
	bool by_quota;
	int64_t max_days, max_downloads;
	char delete_hash[TOKEN_HASH_LEN + 1];
	int64_t created, finished;
	/* under remote.lock */
	enum job_state state;
	uint64_t bytes, total;     /* total 0: unknown */
	int status;                /* of a failure: 400, 403, 413, 451… */
	char error[300];
	char *file;                /* the file object (JSON text) when done */
	struct job *next;          /* all jobs, newest first */
};

struct remote {
	struct app *app;
	struct netguard guard;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct job *jobs;
	size_t njobs, active;
	bool stop;
	unsigned nworkers;
	pthread_t *workers;
};

/* ---- the fetch ---- */

struct fetch {
	struct remote *rm;
	struct job *j;
	struct blob_writer *w;
	uint64_t size;
	int err;                   /* ours: PT_ETOOBIG, a write error */
	unsigned char head[REMOTE_SNIFF];
	size_t head_n;
};

static size_t write_cb(char *p, size_t sz, size_t n, void *arg)
{
	struct fetch *f = arg;
	size_t len = sz * n;
	int err;

	if (f->size + len > f->j->limit) {
		f->err = f->j->by_quota ? PT_ENOSPACE : PT_ETOOBIG;
		return 0;
	}
	if (f->head_n < REMOTE_SNIFF) {
		size_t k = REMOTE_SNIFF - f->head_n;
		memcpy(f->head + f->head_n, p, k < len ? k : len);
		f->head_n += k < len ? k : len;
	}
	if ((err = blob_writer_write(f->w, p, len))) {
		f->err = err;
		return 0;
	}
	f->size += len;
	return len;
}

static int progress_cb(void *arg, curl_off_t dltotal, curl_off_t dlnow,
		       curl_off_t ultotal, curl_off_t ulnow)
{
	struct fetch *f = arg;
	bool stop;
	(void)ultotal;
	(void)ulnow;
	pthread_mutex_lock(&f->rm->lock);
	f->j->bytes = dlnow > 0 ? (uint64_t)dlnow : 0;
	f->j->total = dltotal > 0 ? (uint64_t)dltotal : 0;
	stop = f->rm->stop;
	pthread_mutex_unlock(&f->rm->lock);
	if (dltotal > 0 && (uint64_t)dltotal > f->j->limit) {
		f->err = f->j->by_quota ? PT_ENOSPACE : PT_ETOOBIG;
		return 1;
	}
	return stop ? 1 : 0;
}

static void job_fail(struct remote *rm, struct job *j, int status,
		     const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static void job_fail(struct remote *rm, struct job *j, int status,
		     const char *fmt, ...)
{
	va_list ap;
	pthread_mutex_lock(&rm->lock);
	va_start(ap, fmt);
	vsnprintf(j->error, sizeof(j->error), fmt, ap);
	va_end(ap);
	j->status = status;
	j->state = JOB_FAILED;
	j->finished = pt_now();
	rm->active--;
	pthread_mutex_unlock(&rm->lock);
}

/* The file's name: the one asked for, else the last segment of the URL
 * the bytes came from (unescaped), else "download". */
static char *job_name(struct pt_pool *pool, struct job *j, CURL *h)
{
	char clean[256];
	const char *src = j->name;
	char *un = NULL;

	if (!src) {
		char *eff = NULL, *path = NULL;
		CURLU *u = curl_url();
		curl_easy_getinfo(h, CURLINFO_EFFECTIVE_URL, &eff);
		if (u && eff && curl_url_set(u, CURLUPART_URL, eff, 0) == CURLUE_OK &&
		    curl_url_get(u, CURLUPART_PATH, &path, 0) == CURLUE_OK) {
			const char *slash = strrchr(path, '/');
			const char *seg = slash ? slash + 1 : path;
			int n = 0;
			un = curl_easy_unescape(h, seg, 0, &n);
		}
		curl_free(path);
		curl_url_cleanup(u);
		src = un && *un ? un : "download";
	}
	disp_sanitize_name(src, strlen(src), clean, sizeof(clean));
	curl_free(un);
	return pt_pstrdup(pool, clean);
}

static int ensure_cb(void *arg)
{
	return blob_writer_ensure(arg);
}

/* The bytes are committed: the blocklist, the link row, the file object. */
static void job_link(struct remote *rm, struct job *j, struct fetch *f,
		     struct pt_pool *pool, CURL *h)
{
	struct app *app = rm->app;
	char hex[BLOB_HEX_LEN + 1];
	bool existed = false;
	struct link l;
	char *why = NULL;
	int err;

	if ((err = blob_writer_commit(f->w, hex, &existed))) {
		job_fail(rm, j, pt_http_status(err), "cannot store the file: %s",
			 pt_strerror(err));
		return;
	}
	struct db *db = app_db(app);
	if (!db) {
		job_fail(rm, j, 503, API_DB_DOWN);
		return;
	}
	if (repo_blocked(db, hex, pool, &why)) {
		repo_audit(db, j->client, "refuse_upload", hex, why, j->url,
			   pt_now());
		if (!existed)
			blob_remove(app->blobs, hex);
		job_fail(rm, j, 451,
			 "unavailable for legal reasons: this content was "
			 "removed (%s) and cannot be uploaded again", why);
		return;
	}
	memset(&l, 0, sizeof(l));
	memcpy(l.sha256, hex, sizeof(l.sha256));
	l.name = job_name(pool, j, h);
	l.mime = api_sniff_mime(pool, f->head, f->head_n);
	l.size = blob_writer_size(f->w);
	l.has_crc = true;
	l.crc32 = blob_writer_crc32(f->w);
	l.created = pt_now();
	l.expires = j->max_days ? l.created + j->max_days * 86400 : 0;
	l.max_downloads = j->max_downloads;
	l.owner = j->owner;
	l.quota_bytes = j->quota_bytes;
	l.reason = "";
	memcpy(l.delete_hash, j->delete_hash, sizeof(l.delete_hash));
	for (int tries = 0; tries < 4; tries++) {
		id_new(l.id);
		err = repo_link_create(db, &l, ensure_cb, f->w);
		if (err != PT_ECONFLICT)
			break;
	}
	if (err == PT_ENOSPACE) {
		job_fail(rm, j, 507, "insufficient storage: the file "
			 "(%llu bytes) exceeds your storage quota",
			 (unsigned long long)l.size);
		return;
	}
	if (err == PT_ELEGAL) {
		job_fail(rm, j, 451, "unavailable for legal reasons: this "
			 "content was removed and cannot be uploaded again");
		return;
	}
	if (err) {
		job_fail(rm, j, pt_http_status(err), "cannot store the file: %s",
			 pt_strerror(err));
		return;
	}
	app_uploaded(app, db, &l, existed);
	json_t *o = api_file_json(app, &l);
	char *s = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	pthread_mutex_lock(&rm->lock);
	j->file = s;
	j->bytes = l.size;
	j->total = l.size;
	j->state = JOB_DONE;
	j->finished = pt_now();
	rm->active--;
	pthread_mutex_unlock(&rm->lock);
}

static void job_run(struct remote *rm, struct job *j)
{
	struct app *app = rm->app;
	struct pt_pool *pool = pt_pool_new();
	struct fetch *f = xcalloc(1, sizeof(*f));
	struct netguard_ctx gc;
	char errbuf[CURL_ERROR_SIZE] = "";
	CURL *h = curl_easy_init();
	CURLcode rc;
	int err;

	f->rm = rm;
	f->j = j;
	if (!h) {
		job_fail(rm, j, 500, "internal error: cannot start a transfer");
		goto out;
	}
	if ((err = blob_writer_open(app->blobs, &f->w))) {
		job_fail(rm, j, pt_http_status(err), "cannot store the file: %s",
			 pt_strerror(err));
		goto out;
	}
	if (netguard_curl(h, &gc, &rm->guard,
			  (long)app->conf->fetch_redirects) != CURLE_OK) {
		job_fail(rm, j, 500, "internal error: libcurl lacks an option "
			 "the guard needs");
		goto out;
	}
	curl_easy_setopt(h, CURLOPT_URL, j->url);
	curl_easy_setopt(h, CURLOPT_USERAGENT, "partaged (remote upload)");
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, write_cb);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, f);
	curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
	curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, progress_cb);
	curl_easy_setopt(h, CURLOPT_XFERINFODATA, f);
	curl_easy_setopt(h, CURLOPT_FAILONERROR, 1L);
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
	curl_easy_setopt(h, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)j->limit);
	curl_easy_setopt(h, CURLOPT_TIMEOUT, (long)j->timeout);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, (long)j->timeout);
	rc = curl_easy_perform(h);
	if (rc == CURLE_OK) {
		job_link(rm, j, f, pool, h);
		goto out;
	}
	if (f->err == PT_ETOOBIG || rc == CURLE_FILESIZE_EXCEEDED) {
		if (j->by_quota)
			job_fail(rm, j, 507, "insufficient storage: the file "
				 "exceeds your storage quota (%llu bytes left)",
				 (unsigned long long)j->limit);
		else
			job_fail(rm, j, 413, "payload too large: the file "
				 "exceeds the upload limit of %llu bytes",
				 (unsigned long long)j->limit);
	} else if (f->err == PT_ENOSPACE) {
		job_fail(rm, j, 507, "insufficient storage: the file exceeds "
			 "your storage quota (%llu bytes left)",
			 (unsigned long long)j->limit);
	} else if (f->err) {
		job_fail(rm, j, pt_http_status(f->err),
			 "cannot store the file: %s", pt_strerror(f->err));
	} else if (gc.why && rc == CURLE_COULDNT_CONNECT) {
		job_fail(rm, j, 403, "forbidden: refused address %s (%s)",
			 gc.addr, gc.why);
	} else if (rc == CURLE_OPERATION_TIMEDOUT) {
		job_fail(rm, j, 504, "timed out: the transfer took longer than "
			 "%llu seconds (this tier's bound)",
			 (unsigned long long)j->timeout);
	} else if (rc == CURLE_HTTP_RETURNED_ERROR) {
		long code = 0;
		curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code);
		job_fail(rm, j, 502, "bad gateway: the remote server answered "
			 "%ld", code);
	} else if (rc == CURLE_TOO_MANY_REDIRECTS) {
		job_fail(rm, j, 502, "bad gateway: more than %llu redirects",
			 (unsigned long long)app->conf->fetch_redirects);
	} else if (rc == CURLE_ABORTED_BY_CALLBACK) {
		job_fail(rm, j, 503, "service unavailable: the server is "
			 "shutting down");
	} else {
		job_fail(rm, j, 502, "bad gateway: %s",
			 errbuf[0] ? errbuf : curl_easy_strerror(rc));
	}
out:
	if (f->w)
		blob_writer_abort(f->w);
	if (h)
		curl_easy_cleanup(h);
	free(f);
	pt_pool_free(pool);
}

static void *worker(void *arg)
{
	struct remote *rm = arg;
	pt_thread_name("fetch");
	pthread_mutex_lock(&rm->lock);
	for (;;) {
		struct job *pick = NULL;
		while (!rm->stop) {
			/* the oldest queued job: the list is newest first */
			for (struct job *j = rm->jobs; j; j = j->next)
				if (j->state == JOB_QUEUED)
					pick = j;
			if (pick)
				break;
			pthread_cond_wait(&rm->cond, &rm->lock);
		}
		if (rm->stop)
			break;
		pick->state = JOB_FETCHING;
		pthread_mutex_unlock(&rm->lock);
		job_run(rm, pick);
		pthread_mutex_lock(&rm->lock);
	}
	pthread_mutex_unlock(&rm->lock);
	return NULL;
}

/* ---- the service ---- */

struct remote *remote_start(struct app *app)
{
	struct remote *rm = xcalloc(1, sizeof(*rm));
	char why[160];

	rm->app = app;
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		abort(); /* only fails on allocation: the x* policy */
	if (netguard_parse(app->conf->net_allow, &rm->guard, why,
			   sizeof(why))) {
		/* conf.c checked it: cannot happen */
		pt_log("net.allow: %s", why);
	}
	pthread_mutex_init(&rm->lock, NULL);
	pthread_cond_init(&rm->cond, NULL);
	rm->workers = xcalloc(app->conf->fetch_workers, sizeof(pthread_t));
	for (unsigned i = 0; i < app->conf->fetch_workers; i++) {
		if (pthread_create(&rm->workers[i], NULL, worker, rm))
			break;
		rm->nworkers++;
	}
	return rm;
}

static void job_free(struct job *j)
{
	free(j->url);
	free(j->name);
	free(j->file);
	free(j);
}

void remote_stop(struct remote *rm)
{
	if (!rm)
		return;
	pthread_mutex_lock(&rm->lock);
	rm->stop = true;
	pthread_cond_broadcast(&rm->cond);
	pthread_mutex_unlock(&rm->lock);
	for (unsigned i = 0; i < rm->nworkers; i++)
		pthread_join(rm->workers[i], NULL);
	for (struct job *j = rm->jobs, *next; j; j = next) {
		next = j->next;
		job_free(j);
	}
	free(rm->workers);
	curl_global_cleanup();
	pthread_cond_destroy(&rm->cond);
	pthread_mutex_destroy(&rm->lock);
	free(rm);
}

/* Drop finished jobs older than REMOTE_KEEP.  Under rm->lock. */
static void sweep(struct remote *rm, int64_t now)
{
	struct job **pp = &rm->jobs;
	while (*pp) {
		struct job *j = *pp;
		if ((j->state == JOB_DONE || j->state == JOB_FAILED) &&
		    j->finished + REMOTE_KEEP < now) {
			*pp = j->next;
			rm->njobs--;
			job_free(j);
			continue;
		}
		pp = &j->next;
	}
}

static json_t *job_json(struct app *app, const struct job *j)
{
	json_t *o = json_pack("{s:s, s:s, s:s, s:I}", "id", j->id, "source",
			      j->url, "state", state_names[j->state], "bytes",
			      (json_int_t)j->bytes);
	json_object_set_new(o, "total", j->total ? json_integer((json_int_t)
								j->total)
						 : json_null());
	json_object_set_new(o, "url", json_sprintf("%s/api/v1/files/remote/%s",
						   app->public_url, j->id));
	if (j->state == JOB_FAILED) {
		json_object_set_new(o, "error", json_string(j->error));
		json_object_set_new(o, "status", json_integer(j->status));
	} else {
		json_object_set_new(o, "error", json_null());
	}
	json_t *file = j->file ? json_loads(j->file, 0, NULL) : NULL;
	json_object_set_new(o, "file", file ? file : json_null());
	return o;
}

static req_res create_done(struct pt_req *r, json_t *o)
{
	struct app *app = r->ctx;
	struct remote *rm = app->remote;
	json_t *url = o ? json_object_get(o, "url") : NULL;
	json_t *name = o ? json_object_get(o, "name") : NULL;
	json_t *days = o ? json_object_get(o, "max_days") : NULL;
	json_t *dls = o ? json_object_get(o, "max_downloads") : NULL;
	const struct principal *who = api_who(r);
	req_res rc;

	if (!rm)
		return reply_error(r, PT_EUNAVAIL, NULL,
				   "service unavailable: remote uploads are "
				   "off");
	if (!json_is_string(url) || (name && !json_is_string(name)) ||
	    (days && !json_is_integer(days)) || (dls && !json_is_integer(dls)))
		return reply_error(r, PT_EBADREQ, NULL,
				   "bad request: send {\"url\": \"https://…\""
				   "[, \"name\": \"…\"][, \"max_days\": N]"
				   "[, \"max_downloads\": N]}");
	const char *u = json_string_value(url);
	if ((name && api_text_check_or_reply(r, "the name",
					     json_string_value(name),
					     strlen(json_string_value(name)), 0,
					     &rc)) ||
	    api_url_check_or_reply(r, &rm->guard, u, REMOTE_URL_MAX,
				   "; the server does not fetch from private "
				   "or special addresses",
				   &rc))
		return rc;
	int64_t max_days = days ? json_integer_value(days) : 0;
	int64_t max_dls = dls ? json_integer_value(dls) : 0;
	if ((days && (max_days < 1 || max_days > 1000000000)) ||
	    (dls && (max_dls < 1 || max_dls > 1000000000)))
		return reply_error(r, PT_EBADREQ, NULL,
				   "bad request: max_days and max_downloads "
				   "are whole numbers from 1 to 1000000000");
	if (abuse_check_uploader_or_reply(r, &rc) ||
	    api_intake_check_or_reply(r, &rc))
		return rc;

	struct job *j = xcalloc(1, sizeof(*j));
	char token[TOKEN_LEN + 1];
	id_fill(j->id, REMOTE_ID_LEN);
	j->url = xstrdup(u);
	j->name = name ? xstrdup(json_string_value(name)) : NULL;
	snprintf(j->client, sizeof(j->client), "%s", r->client_ip);
	j->owner = who->user_id;
	j->quota_bytes = policy_tier(app->conf, who)->storage_quota_bytes;
	j->limit = api_upload_limit(r, &j->by_quota);
	/* the time by tier (remote_seconds), under the server's ceiling */
	uint64_t tier_s = policy_tier(app->conf, api_who(r))->remote_seconds;
	j->timeout = app->conf->fetch_timeout_seconds;
	if (tier_s && tier_s < j->timeout)
		j->timeout = tier_s;
	j->max_days = max_days;
	j->max_downloads = max_dls;
	token_new(token);
	token_hash(token, TOKEN_LEN, j->delete_hash);
	j->created = pt_now();
	j->state = JOB_QUEUED;

	pthread_mutex_lock(&rm->lock);
	sweep(rm, j->created);
	size_t mine = 0;
	for (struct job *k = rm->jobs; k; k = k->next)
		if ((k->state == JOB_QUEUED || k->state == JOB_FETCHING) &&
		    !strcmp(k->client, j->client))
			mine++;
	const char *busy = NULL;
	if (mine >= REMOTE_PER_CLIENT)
		busy = "client";
	else if (rm->active >= app->conf->fetch_queue ||
		 rm->njobs >= REMOTE_MAX_JOBS)
		busy = "server";
	if (!busy) {
		j->next = rm->jobs;
		rm->jobs = j;
		rm->njobs++;
		rm->active++;
		pthread_cond_signal(&rm->cond);
	}
	json_t *out = busy ? NULL : job_json(app, j);
	pthread_mutex_unlock(&rm->lock);
	if (busy) {
		job_free(j);
		if (!strcmp(busy, "client")) {
			req_retry_after(r, 10);
			return reply_error(r, PT_ELIMIT, NULL,
					   "too many requests: at most %d "
					   "remote uploads at a time per "
					   "address", REMOTE_PER_CLIENT);
		}
		req_retry_after(r, 30);
		return reply_error(r, PT_EUNAVAIL, NULL,
				   "service unavailable: too many remote "
				   "uploads in progress, try again later");
	}
	json_object_set_new(out, "delete_token", json_string(token));
	req_reply_header(r, "Location",
			 json_string_value(json_object_get(out, "url")));
	return reply_json(r, 202, out);
}

req_res api_remote_create(struct pt_req *r)
{
	return api_json_body(r, create_done);
}

req_res api_remote_get(struct pt_req *r)
{
	struct app *app = r->ctx;
	struct remote *rm = app->remote;
	json_t *out = NULL;

	if (rm && r->arg[0].n == REMOTE_ID_LEN) {
		pthread_mutex_lock(&rm->lock);
		for (struct job *j = rm->jobs; j; j = j->next)
			if (!memcmp(j->id, r->arg[0].p, REMOTE_ID_LEN)) {
				out = job_json(app, j);
				break;
			}
		pthread_mutex_unlock(&rm->lock);
	}
	if (!out)
		return reply_error(r, PT_ENOTFOUND, NULL,
				   "not found: no remote upload with this id "
				   "(finished ones are kept for an hour)");
	req_reply_header(r, "Cache-Control", "no-store");
	return reply_json(r, 200, out);
}
