/*
 * pages.c — the HTML pages (templates from web/, embedded in the binary)
 * and the static assets.  Templates have {{key}} placeholders that are
 * replaced with HTML-escaped values, and {{&key}} ones for HTML this file
 * built (escaping what it put in); nothing else is interpreted.
 */
#define _GNU_SOURCE
#include "handlers.h"
#include "pwcheck.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "../core/ids.h"
#include "../http/path.h"
#include "../http/reply.h"
#include "../http/web.h"
#include "../util/buf.h"
#include "../util/banned.h"

const struct web_asset *web_asset_find(const char *name)
{
	for (const struct web_asset *a = web_assets; a->name; a++)
		if (strcmp(a->name, name) == 0)
			return a;
	return NULL;
}

struct kv {
	const char *key, *value;
};

static void render(struct pt_buf *out, const char *tpl, const struct kv *kv,
		   size_t nkv)
{
	const char *p = tpl;
	while (*p) {
		const char *open = strstr(p, "{{");
		if (!open) {
			pt_buf_adds(out, p);
			return;
		}
		pt_buf_add(out, p, (size_t)(open - p));
		const char *close = strstr(open + 2, "}}");
		if (!close) {
			pt_buf_adds(out, open);
			return;
		}
		const char *key = open + 2;
		bool raw = *key == '&';
		size_t klen = (size_t)(close - key) - raw;
		key += raw;
		for (size_t i = 0; i < nkv; i++) {
			if (strlen(kv[i].key) != klen ||
			    memcmp(kv[i].key, key, klen) != 0)
				continue;
			if (raw)
				pt_buf_adds(out, kv[i].value);
			else
				html_escape(out, kv[i].value);
		}
		p = close + 2;
	}
}

struct download_rules;
static const char *tier_rules(struct pt_req *r,
			      const struct download_rules *d);

static void iso_date(int64_t t, char *out, size_t cap)
{
	struct tm tm;
	time_t tt = (time_t)t;
	gmtime_r(&tt, &tm);
	strftime(out, cap, "%Y-%m-%d %H:%M UTC", &tm);
}

static req_res reply_template(struct pt_req *r, int status, const char *name,
			      const struct kv *kv, size_t nkv)
{
	const struct web_asset *a = web_asset_find(name);
	struct pt_buf b;
	req_res rc;
	PT_ASSERT(a);
	pt_buf_init(&b, 1 << 20);
	render(&b, (const char *)a->data, kv, nkv);
	rc = reply_html(r, status, b.p, b.n);
	pt_buf_release(&b);
	return rc;
}

req_res api_page(struct pt_req *r)
{
	struct app *app = r->ctx;
	struct link l;
	req_res rc;
	char size[32], hsize[32], created[40], expires[64], downloads[64];

	if (api_link_lookup_or_reply(r, r->arg[0].p, &l, &rc, false))
		return rc;
	const char *query = "";
	if (l.password_hash && *l.password_hash) {
		const char *pw = req_query(r, "password");
		bool right = false;
		if (pw &&
		    api_link_password_check_or_reply(r, &l, pw, &right, &rc))
			return rc; /* 429, 503, or the hash is running */
		if (!right) {
			const struct kv f[] = {
				{ "id", l.id },
				{ "message", pw ? "Wrong password, try again."
						: "" },
			};
			return reply_template(r, 401, "password.html", f,
					      PT_ARRAY_LEN(f));
		}
		/* the page's links carry the password on to the bytes */
		struct pt_buf q;
		pt_buf_init(&q, 8192);
		pt_buf_adds(&q, "password=");
		path_escape(&q, pw);
		pt_buf_adds(&q, "&");
		query = pt_pstrndup(r->pool, q.p, q.n);
		pt_buf_release(&q);
	}
	snprintf(size, sizeof(size), "%llu", (unsigned long long)l.size);
	pt_human_size(l.size, hsize, sizeof(hsize));
	iso_date(l.created, created, sizeof(created));
	int64_t exp = api_link_expiry(app, &l);
	if (exp)
		iso_date(exp, expires, sizeof(expires));
	else
		snprintf(expires, sizeof(expires), "never");
	if (l.max_downloads)
		snprintf(downloads, sizeof(downloads), "%lld of %lld",
			 (long long)l.downloads, (long long)l.max_downloads);
	else
		snprintf(downloads, sizeof(downloads), "%lld",
			 (long long)l.downloads);
	struct download_rules rules;
	char wait[24];
	policy_download(app->conf, api_who(r), &rules);
	snprintf(wait, sizeof(wait), "%lld", (long long)rules.wait_seconds);
	const struct kv kv[] = {
		{ "wait", wait },
		{ "tier_rules", tier_rules(r, &rules) },
		{ "download_query", query },
		{ "ticket_url", pt_psprintf(r->pool, "/api/v1/files/%s/ticket",
					    l.id) },
		{ "name", l.name },
		{ "size", size },
		{ "size_human", hsize },
		{ "mime", l.mime },
		{ "created", created },
		{ "expires", expires },
		{ "downloads", downloads },
		{ "sha256", l.sha256 },
		{ "download_url", api_download_url(app, r->pool, &l) },
	};
	return reply_template(r, 200, "file.html", kv, PT_ARRAY_LEN(kv));
}

/* One line on the rules of the visitor's tier for the direct link:
 * "The direct link waits 60 s, then sends at 100 KiB/s; one download at
 * a time, 30 s apart." (empty for a tier without any). */
static const char *tier_rules(struct pt_req *r,
			      const struct download_rules *d)
{
	struct pt_buf b;
	char speed[32];
	pt_buf_init(&b, 512);
	if (d->wait_seconds)
		pt_buf_addf(&b, "It waits %lld s%s", (long long)d->wait_seconds,
			    d->speed ? ", then" : ".");
	if (d->speed) {
		pt_human_size(d->speed, speed, sizeof(speed));
		pt_buf_addf(&b, "%s sends at %s/s.",
			    d->wait_seconds ? "" : "It", speed);
	}
	if (d->parallel)
		pt_buf_addf(&b, " %llu download%s at a time",
			    (unsigned long long)d->parallel,
			    d->parallel == 1 ? "" : "s");
	if (d->cooldown)
		pt_buf_addf(&b, "%s %lld s apart", d->parallel ? "," : " Downloads",
			    (long long)d->cooldown);
	if (d->parallel || d->cooldown)
		pt_buf_adds(&b, ".");
	if (d->connections)
		pt_buf_addf(&b, " %llu connection%s per download.",
			    (unsigned long long)d->connections,
			    d->connections == 1 ? "" : "s");
	const char *out = pt_pstrndup(r->pool, b.n ? b.p : "", b.n);
	pt_buf_release(&b);
	return out;
}

req_res api_folder_html(struct pt_req *r, const struct folder_view *v)
{
	struct app *app = r->ctx;
	struct pt_buf list;
	char hsize[32], created[40], wait[24], count[64];
	struct download_rules rules;

	/* the folders and files in it, escaped here, inserted raw */
	pt_buf_init(&list, 64 << 20);
	for (size_t i = 0; i < v->nsubs; i++) {
		pt_buf_addf(&list, "<li class=folder><a href=\"/folder/%s\">",
			    v->subs[i].id);
		html_escape(&list, v->subs[i].name);
		pt_buf_adds(&list, "/</a></li>\n");
	}
	for (size_t i = 0; i < v->nfiles; i++) {
		const struct link *l = &v->files[i];
		pt_human_size(l->size, hsize, sizeof(hsize));
		pt_buf_addf(&list, "<li class=file><a href=\"/%s\">", l->id);
		html_escape(&list, l->name);
		pt_buf_addf(&list, "</a> <span class=size>%s</span>%s</li>\n",
			    hsize,
			    l->password_hash && *l->password_hash
				    ? " <span class=lock>password</span>"
				    : "");
	}
	if (!v->nsubs && !v->nfiles)
		pt_buf_adds(&list, "<li class=empty>This folder is empty.</li>\n");
	pt_human_size(v->zip_size, hsize, sizeof(hsize));
	iso_date(v->f->created, created, sizeof(created));
	policy_download(app->conf, api_who(r), &rules);
	snprintf(wait, sizeof(wait), "%lld", (long long)rules.wait_seconds);
	snprintf(count, sizeof(count), "%zu file%s", v->zip_files,
		 v->zip_files == 1 ? "" : "s");
	const struct kv kv[] = {
		{ "name", v->f->name },
		{ "created", created },
		{ "zip_size", hsize },
		{ "zip_files", count },
		{ "left_out", v->left_out ? "Files with a password or a "
					    "download limit are not in the "
					    "zip: open them one by one."
					  : "" },
		{ "wait", wait },
		{ "ticket_url", pt_psprintf(r->pool, "/api/v1/folders/%s/ticket",
					    v->f->id) },
		{ "zip_url", v->zip_url },
		{ "list", list.p ? list.p : "" },
	};
	req_res rc = reply_template(r, 200, "folder.html", kv,
				    PT_ARRAY_LEN(kv));
	pt_buf_release(&list);
	return rc;
}

/* ---- the account pages ----
 *
 * /login, /files and /account are static HTML: their scripts read and
 * change everything through the JSON API with the session cookie and its
 * CSRF token.  /files and /account answer a browser without a live
 * session with a redirect to /login?next=HERE, so nobody sees an empty
 * page flash; other clients get the 401. */

static req_res reply_page(struct pt_req *r, const char *name)
{
	/* the same bytes for everyone, but /files and /account redirect
	 * when logged out: a cache must ask again */
	req_reply_header(r, "Cache-Control", "private, no-cache");
	return reply_template(r, 200, name, NULL, 0);
}

/* false when a user is logged in; otherwise true with the redirect to the login
 * page (browsers) or a 401 in *rc.  here is a local path. */
static bool need_login_or_reply(struct pt_req *r, const char *here, req_res *rc)
{
	struct pt_buf b;

	if (r->who)
		return false;
	if (!req_accepts(r, "text/html")) {
		*rc = reply_error(r, PT_EUNAUTH, NULL,
				  "authentication required: log in at /login");
		return true;
	}
	pt_buf_init(&b, 4096);
	pt_buf_adds(&b, "/login?next=");
	path_escape(&b, here);
	req_reply_header(r, "Location", pt_pstrndup(r->pool, b.p, b.n));
	req_reply_header(r, "Cache-Control", "no-store");
	pt_buf_release(&b);
	*rc = reply_empty(r, 302);
	return true;
}

req_res api_login_page(struct pt_req *r)
{
	return reply_page(r, "login.html");
}

req_res api_files_page(struct pt_req *r)
{
	const char *folder = req_query(r, "folder");
	const char *here = "/files";
	req_res rc;

	if (folder && id_valid(folder, strlen(folder)))
		here = pt_psprintf(r->pool, "/files?folder=%s", folder);
	if (need_login_or_reply(r, here, &rc))
		return rc;
	return reply_page(r, "files.html");
}

req_res api_account_page(struct pt_req *r)
{
	req_res rc;
	if (need_login_or_reply(r, "/account", &rc))
		return rc;
	return reply_page(r, "account.html");
}

/* ---- the tiers' limits: GET /api/v1/tiers and the table on / ---- */

/* A size for people without a needless ".0": "100 KiB", "1.5 GiB". */
static void tier_size(uint64_t n, const char *suffix, char *out, size_t cap)
{
	char h[32];
	char *dot;

	pt_human_size(n, h, sizeof(h));
	dot = strstr(h, ".0 ");
	if (dot)
		memmove(dot, dot + 2, strlen(dot + 2) + 1);
	snprintf(out, cap, "%s%s", h, suffix);
}

/* One row of the table: a cell per tier from fmt(tier) into out. */
typedef void (*tier_cell_fn)(const struct pt_conf *c, const struct pt_tier *t,
			     enum pt_tier_id id, char *out, size_t cap);

static void cell_wait(const struct pt_conf *c, const struct pt_tier *t, enum pt_tier_id id, char *o,
		      size_t n)
{
	if (t->wait_seconds)
		snprintf(o, n, "%llu s", (unsigned long long)t->wait_seconds);
	else
		snprintf(o, n, "none");
}

static void cell_speed(const struct pt_conf *c, const struct pt_tier *t, enum pt_tier_id id, char *o,
		       size_t n)
{
	if (t->speed_bytes_per_second)
		tier_size(t->speed_bytes_per_second, "/s", o, n);
	else
		snprintf(o, n, "no cap");
}

static void cell_parallel(const struct pt_conf *c, const struct pt_tier *t, enum pt_tier_id id,
			  char *o, size_t n)
{
	if (t->parallel_downloads)
		snprintf(o, n, "%llu per address",
			 (unsigned long long)t->parallel_downloads);
	else
		snprintf(o, n, "no limit");
}

static void cell_conns(const struct pt_conf *c, const struct pt_tier *t,
		       enum pt_tier_id id, char *o, size_t n)
{
	if (t->connections_per_download)
		snprintf(o, n, "%llu",
			 (unsigned long long)t->connections_per_download);
	else
		snprintf(o, n, "no limit");
}

static void cell_cooldown(const struct pt_conf *c, const struct pt_tier *t,
			  enum pt_tier_id id, char *o, size_t n)
{
	if (t->cooldown_seconds)
		snprintf(o, n, "%llu s",
			 (unsigned long long)t->cooldown_seconds);
	else
		snprintf(o, n, "none");
}

static void cell_up(const struct pt_conf *c, const struct pt_tier *t, enum pt_tier_id id, char *o,
		    size_t n)
{
	/* storage.max_file_bytes caps every tier, "no limit" ones too */
	uint64_t max = t->max_upload_bytes && t->max_upload_bytes <
							 c->max_file_bytes
			       ? t->max_upload_bytes
			       : c->max_file_bytes;
	tier_size(max, "", o, n);
}

static void cell_down(const struct pt_conf *c, const struct pt_tier *t, enum pt_tier_id id, char *o,
		      size_t n)
{
	if (t->max_download_bytes)
		tier_size(t->max_download_bytes, "", o, n);
	else
		snprintf(o, n, "no limit");
}

static void cell_keep(const struct pt_conf *c, const struct pt_tier *t, enum pt_tier_id id, char *o,
		      size_t n)
{
	if (t->retention_days)
		snprintf(o, n, "%llu days after the last download",
			 (unsigned long long)t->retention_days);
	else
		snprintf(o, n, "forever");
}

static void cell_quota(const struct pt_conf *c, const struct pt_tier *t, enum pt_tier_id id, char *o,
		       size_t n)
{
	if (id == PT_TIER_ANONYMOUS)
		snprintf(o, n, "no account"); /* a quota is per account */
	else if (t->storage_quota_bytes)
		tier_size(t->storage_quota_bytes, "", o, n);
	else
		snprintf(o, n, "no limit");
}

static void cell_stream(const struct pt_conf *c, const struct pt_tier *t, enum pt_tier_id id, char *o,
			size_t n)
{
	if (t->stream_minutes)
		snprintf(o, n, "%llu min, then a %llu min wait",
			 (unsigned long long)t->stream_minutes,
			 (unsigned long long)t->stream_wait_minutes);
	else
		snprintf(o, n, "no limit");
}

/* The table of the tiers' limits as this server is configured, HTML. */
static void tiers_table(struct pt_buf *b, const struct pt_conf *c)
{
	static const struct {
		const char *what;
		tier_cell_fn fn;
	} rows[] = {
		{ "Wait before a download", cell_wait },
		{ "Download speed", cell_speed },
		{ "Downloads at a time", cell_parallel },
		{ "Connections per download", cell_conns },
		{ "Wait between downloads", cell_cooldown },
		{ "Largest upload", cell_up },
		{ "Largest download", cell_down },
		{ "Files kept", cell_keep },
		{ "Storage", cell_quota },
		{ "Streaming", cell_stream },
	};
	char cell[96];

	pt_buf_adds(b, "<table id=\"tiers\">\n<thead><tr><th></th>");
	for (int t = 0; t < PT_TIER_COUNT; t++) {
		pt_buf_adds(b, "<th scope=\"col\">");
		html_escape(b, conf_tier_name((enum pt_tier_id)t));
		pt_buf_adds(b, "</th>");
	}
	pt_buf_adds(b, "</tr></thead>\n<tbody>\n");
	for (size_t i = 0; i < PT_ARRAY_LEN(rows); i++) {
		pt_buf_adds(b, "<tr><th scope=\"row\">");
		html_escape(b, rows[i].what);
		pt_buf_adds(b, "</th>");
		for (int t = 0; t < PT_TIER_COUNT; t++) {
			rows[i].fn(c, &c->tier[t], (enum pt_tier_id)t, cell,
				   sizeof(cell));
			pt_buf_adds(b, "<td>");
			html_escape(b, cell);
			pt_buf_adds(b, "</td>");
		}
		pt_buf_adds(b, "</tr>\n");
	}
	pt_buf_adds(b, "</tbody>\n</table>");
}

req_res api_tiers(struct pt_req *r)
{
	struct app *app = r->ctx;
	json_t *arr = json_array();

	for (int i = 0; i < PT_TIER_COUNT; i++) {
		const struct pt_tier *t = &app->conf->tier[i];
		json_array_append_new(arr, json_pack(
			"{s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, "
			"s:I}",
			"name", conf_tier_name((enum pt_tier_id)i),
			"wait_seconds", (json_int_t)t->wait_seconds,
			"speed_bytes_per_second",
			(json_int_t)t->speed_bytes_per_second,
			"parallel_downloads", (json_int_t)t->parallel_downloads,
			"connections_per_download",
			(json_int_t)t->connections_per_download,
			"cooldown_seconds", (json_int_t)t->cooldown_seconds,
			"max_upload_bytes", (json_int_t)t->max_upload_bytes,
			"max_download_bytes", (json_int_t)t->max_download_bytes,
			"retention_days", (json_int_t)t->retention_days,
			"storage_quota_bytes",
			(json_int_t)t->storage_quota_bytes,
			"stream_minutes", (json_int_t)t->stream_minutes,
			"stream_wait_minutes",
			(json_int_t)t->stream_wait_minutes));
	}
	return reply_json(r, 200, json_pack("{s:o}", "tiers", arr));
}

req_res api_index(struct pt_req *r)
{
	struct app *app = r->ctx;
	struct pt_buf tiers;
	req_res rc;

	if (!req_accepts(r, "text/html"))
		return reply_text(r, 200,
				  "partage: upload with `curl -T FILE URL/`; "
				  "see the README for the API\n");
	pt_buf_init(&tiers, 64 * 1024);
	tiers_table(&tiers, app->conf);
	const struct kv kv[] = { { "public_url", app->public_url },
				 { "tiers", tiers.p } };
	rc = reply_template(r, 200, "index.html", kv, PT_ARRAY_LEN(kv));
	pt_buf_release(&tiers);
	return rc;
}

req_res api_static(struct pt_req *r)
{
	static const struct { const char *ext, *type; } types[] = {
		{ ".css", "text/css; charset=utf-8" },
		{ ".js", "text/javascript; charset=utf-8" },
		{ ".svg", "image/svg+xml" },
		{ ".png", "image/png" },
	};
	const char *name = r->arg[0].p;
	const struct web_asset *a = web_asset_find(name);
	const char *dot = strrchr(name, '.');
	const char *type = NULL;

	for (size_t i = 0; dot && i < PT_ARRAY_LEN(types); i++)
		if (strcmp(dot, types[i].ext) == 0)
			type = types[i].type;
	if (!a || !type)
		return reply_error(r, PT_ENOTFOUND, NULL, "not found: '%s'",
				   name);
	struct resp *resp = resp_new(a->data, a->len, RESP_STATIC);
	resp_header(resp, "Content-Type", type);
	resp_header(resp, "Cache-Control", "public, max-age=3600");
	resp_header(resp, "X-Content-Type-Options", "nosniff");
	return reply_queue(r, 200, resp);
}

req_res api_healthz(struct pt_req *r)
{
	/* a query, not just a handle: a load balancer must see the outage
	 * to send clients to a node that has a database; the checker's
	 * (health.c), so a check waits for no connection of the pool */
	if (!health_db_ok(r->ctx))
		return reply_error(r, PT_EUNAVAIL, NULL, API_DB_DOWN);
	return reply_text(r, 200, "ok\n");
}
