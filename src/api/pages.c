/*
 * pages.c — the HTML pages (templates from web/, embedded in the binary)
 * and the static assets.  Templates have {{key}} placeholders that are
 * replaced with HTML-escaped values, and {{&key}} ones for HTML this file
 * built (escaping what it put in); nothing else is interpreted.
 *
 * Languages: {{_:English text}} is that text translated into the page's
 * language (src/core/i18n.h, po/LANG.po), escaped.  The language comes
 * from the partage_lang cookie (the switch in every page's header), else
 * Accept-Language, else English; the theme from the partage_theme cookie
 * ("light", "dark"; else the browser's prefers-color-scheme).  Every
 * template gets {{lang}}, {{theme}} and {{&header}} (the header bar with
 * the account corner and both switches).  Messages built here go through
 * the macros _ (catalog L, English text), _n (L, singular, plural, count)
 * and N_ (marks a text in a table, translated where used):
 * scripts/i18n.py check finds every literal passed to them.
 */
#define _GNU_SOURCE
#include "handlers.h"
#include "pwcheck.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "../core/i18n.h"
#include "../core/ids.h"
#include "../core/linkcheck.h"
#include "../core/preview.h"
#include "../core/thumb.h"
#include "../http/path.h"
#include "../http/reply.h"
#include "../http/web.h"
#include "../util/buf.h"
#include "../util/text.h"
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

#define _(L, s) i18n_gettext((L), s)
#define _n(L, s, p, n) i18n_ngettext((L), s, p, (uint64_t)(n))
#define N_(s) s

const char *api_lang(struct pt_req *r)
{
	return i18n_pick(req_cookie(r, "partage_lang"),
			 req_header(r, "Accept-Language"));
}

const struct i18n_catalog *api_catalog(struct pt_req *r)
{
	return i18n_find(api_lang(r));
}

static const char *page_theme(struct pt_req *r)
{
	const char *t = req_cookie(r, "partage_theme");
	if (t && (strcmp(t, "light") == 0 || strcmp(t, "dark") == 0))
		return t;
	return "";
}

/* The header bar of every page: the brand, the account corner (nav.js
 * fills it for a session) and the language and theme switches. */
static const char *page_header(struct pt_req *r, const char *lang)
{
	const struct i18n_catalog *L = i18n_find(lang);
	struct pt_buf b;
	bool fr = strcmp(lang, "fr") == 0;
	pt_buf_init(&b, 4096);
	pt_buf_adds(&b, "<header><a class=\"brand\" href=\"/\">partage</a>"
			"<nav id=\"account-nav\" aria-label=\"");
	html_escape(&b, _(L, "Account"));
	pt_buf_adds(&b, "\"><a href=\"/login\">");
	html_escape(&b, _(L, "Log in"));
	pt_buf_adds(&b, "</a></nav><div class=\"prefs\">");
	/* the other language, named in itself: a link to /prefs that works
	 * without JavaScript (nav.js sets the cookie itself and reloads,
	 * which keeps the query) */
	pt_buf_addf(&b, "<a id=\"lang-switch\" href=\"/prefs?lang=%s&amp;next=",
		    fr ? "en" : "fr");
	path_escape(&b, r->raw_path ? r->raw_path : "/");
	pt_buf_addf(&b, "\" data-lang=\"%s\" lang=\"%s\" hreflang=\"%s\">%s</a>",
		    fr ? "en" : "fr", fr ? "en" : "fr", fr ? "en" : "fr",
		    fr ? "English" : "Fran\u00e7ais");
	/* the theme in place: a button, shown by nav.js */
	pt_buf_adds(&b, "<button type=\"button\" class=\"link\" "
			"id=\"theme-switch\" aria-pressed=\"false\" hidden>");
	html_escape(&b, _(L, "Dark theme"));
	pt_buf_adds(&b, "</button></div></header>");
	const char *out = pt_pstrndup(r->pool, b.p, b.n);
	pt_buf_release(&b);
	return out;
}

static void render(struct pt_buf *out, const char *tpl, const struct kv *kv,
		   size_t nkv, const struct i18n_catalog *L)
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
		if (!raw && klen > 2 && key[0] == '_' && key[1] == ':') {
			char id[1024];
			snprintf(id, sizeof(id), "%.*s", (int)(klen - 2),
				 key + 2);
			html_escape(out, _(L, id));
			p = close + 2;
			continue;
		}
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
static void media_parts(struct pt_req *r, const struct link *l,
			const char *query, bool embed, const char **head,
			const char **block);
static const char *page_thumb(struct pt_req *r, const struct link *l,
			      uint32_t *w, uint32_t *h);
static const char *page_text_preview(struct pt_req *r, const struct link *l);
/* a file's thumbnail in a folder's list fits this square */
#define PAGE_CARD_PX 96

static void iso_date(int64_t t, char *out, size_t cap)
{
	struct tm tm;
	time_t tt = (time_t)t;
	gmtime_r(&tt, &tm);
	strftime(out, cap, "%Y-%m-%d %H:%M UTC", &tm);
}

/* An ISO 8601 UTC time for <time datetime> (the page's script shows it
 * in the visitor's zone and language; the text is the fallback). */
static const char *iso_time(struct pt_req *r, int64_t t)
{
	struct tm tm;
	char out[32];
	time_t tt = (time_t)t;
	gmtime_r(&tt, &tm);
	strftime(out, sizeof(out), "%Y-%m-%dT%H:%M:%SZ", &tm);
	return pt_pstrdup(r->pool, out);
}

static req_res reply_template(struct pt_req *r, int status, const char *name,
			      const struct kv *kv, size_t nkv)
{
	const struct web_asset *a = web_asset_find(name);
	const char *lang = api_lang(r);
	const struct i18n_catalog *L = i18n_find(lang);
	struct pt_buf b;
	req_res rc;
	PT_ASSERT(a);
	PT_ASSERT(nkv <= 32);
	struct kv all[36];
	if (nkv)
		memcpy(all, kv, nkv * sizeof(*kv));
	all[nkv++] = (struct kv){ "lang", lang };
	all[nkv++] = (struct kv){ "theme", page_theme(r) };
	all[nkv++] = (struct kv){ "header", page_header(r, lang) };
	/* the file-type icons' sprite, for the pages that show icons */
	const struct web_asset *icons = web_asset_find("icons.svg");
	all[nkv++] = (struct kv){ "icons",
				  icons ? (const char *)icons->data : "" };
	pt_buf_init(&b, 1 << 20);
	render(&b, (const char *)a->data, all, nkv, L);
	/* the page depends on these */
	req_reply_header(r, "Content-Language", lang);
	req_reply_header(r, "Vary", "Accept-Language, Cookie");
	rc = reply_html(r, status, b.p, b.n);
	pt_buf_release(&b);
	return rc;
}

/* A size for people in decimal units, as the page's language writes it:
 * "4.2 MB", "4,2 Mo", "512 B". */
static const char *page_size(struct pt_req *r, const struct i18n_catalog *L,
			     uint64_t n)
{
	static const char *const units[] = { N_("B"), N_("kB"), N_("MB"),
					     N_("GB"), N_("TB") };
	double v = (double)n;
	size_t u = 0;
	char num[32];

	while (v >= 1000 && u + 1 < PT_ARRAY_LEN(units)) {
		v /= 1000;
		u++;
	}
	if (u == 0)
		snprintf(num, sizeof(num), "%llu", (unsigned long long)n);
	else
		snprintf(num, sizeof(num), "%.1f", v);
	char *dot = strchr(num, '.');
	if (dot)
		*dot = *_(L, "."); /* the decimal separator */
	return pt_psprintf(r->pool, "%s %s", num, _(L, units[u]));
}

/* What a MIME type is, for people ("Image", "PDF document"…), and its
 * icon (web/icons.svg; nav.js's partage.icon has the same rules for the
 * pages its scripts build).  First prefix that matches. */
static const struct page_kind_rule {
	const char *prefix, *kind, *icon;
} page_kinds[] = {
	{ "image/", N_("Image"), "image" },
	{ "video/", N_("Video"), "video" },
	{ "audio/", N_("Audio"), "audio" },
	{ "text/", N_("Text"), "text" },
	{ "application/pdf", N_("PDF document"), "document" },
	{ "application/msword", N_("Document"), "document" },
	{ "application/vnd.openxmlformats-officedocument", N_("Document"),
	  "document" },
	{ "application/vnd.oasis.opendocument", N_("Document"), "document" },
	{ "application/rtf", N_("Document"), "document" },
	{ "application/epub", N_("Document"), "document" },
	{ "application/zip", N_("Archive"), "archive" },
	{ "application/x-tar", N_("Archive"), "archive" },
	{ "application/gzip", N_("Archive"), "archive" },
	{ "application/x-7z", N_("Archive"), "archive" },
	{ "application/x-rar", N_("Archive"), "archive" },
	{ "application/vnd.rar", N_("Archive"), "archive" },
	{ "application/x-bzip2", N_("Archive"), "archive" },
	{ "application/x-xz", N_("Archive"), "archive" },
	{ "application/zstd", N_("Archive"), "archive" },
	{ "application/json", N_("Text"), "text" },
	{ "application/xml", N_("Text"), "text" },
	{ "application/javascript", N_("Text"), "text" },
	{ "application/x-sh", N_("Text"), "text" },
};

static const struct page_kind_rule *page_kind_of(const char *mime)
{
	for (size_t i = 0; mime && i < PT_ARRAY_LEN(page_kinds); i++)
		if (strncmp(mime, page_kinds[i].prefix,
			    strlen(page_kinds[i].prefix)) == 0)
			return &page_kinds[i];
	return NULL;
}

static const char *page_kind(const struct i18n_catalog *L, const char *mime)
{
	const struct page_kind_rule *k = page_kind_of(mime);
	return _(L, k ? k->kind : "File");
}

/* The type icon of a MIME type, its kind as its text alternative (or, for
 * a folder, mime NULL: "Folder"): an <svg> that uses the sprite the page
 * includes ({{&icons}}). */
static const char *page_icon(struct pt_req *r, const struct i18n_catalog *L,
			     const char *mime, bool folder)
{
	const struct page_kind_rule *k = folder ? NULL : page_kind_of(mime);
	struct pt_buf b;
	pt_buf_init(&b, 1024);
	pt_buf_adds(&b, "<svg class=\"icon\" role=\"img\" aria-label=\"");
	html_escape(&b, folder ? _(L, "Folder") : page_kind(L, mime));
	pt_buf_addf(&b, "\"><use href=\"#i-%s\"/></svg>",
		    folder ? "folder" : k ? k->icon : "file");
	const char *out = pt_pstrndup(r->pool, b.p, b.n);
	pt_buf_release(&b);
	return out;
}

/* Why the visitor waits before a download ("" when they do not). */
static const char *wait_reason(struct pt_req *r, const struct i18n_catalog *L,
			       const struct download_rules *rules)
{
	if (!rules->wait_seconds)
		return "";
	if (api_who(r)->tier == PT_TIER_ANONYMOUS)
		return _(L, "Downloads without an account wait a little: it "
			    "keeps the service free for everyone.");
	return _(L, "Free accounts wait a little before each download.");
}

req_res api_page(struct pt_req *r)
{
	struct app *app = r->ctx;
	const struct i18n_catalog *L = api_catalog(r);
	struct link l;
	req_res rc;
	char size[32], created[40], expires[64];
	const char *downloads;

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
				{ "message",
				  pw ? _(L, "Wrong password, try again.")
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
	iso_date(l.created, created, sizeof(created));
	int64_t exp = api_link_expiry(app, &l);
	if (exp)
		iso_date(exp, expires, sizeof(expires));
	else
		snprintf(expires, sizeof(expires), "%s", _(L, "never"));
	if (l.max_downloads)
		downloads = pt_psprintf(
			r->pool, _(L, "%lld of %lld"), (long long)l.downloads,
			(long long)l.max_downloads);
	else
		downloads = pt_psprintf(r->pool, "%lld",
					(long long)l.downloads);
	struct download_rules rules;
	char wait[24];
	policy_download(app->conf, api_who(r), &rules);
	snprintf(wait, sizeof(wait), "%lld", (long long)rules.wait_seconds);
	/* the virus scan's state (a block of its own on the page), in the
	 * page's language; the JSON keeps the API's word */
	static const struct {
		const char *state, *text;
	} scan_words[] = {
		{ "clean", N_("clean") },
		{ "infected", N_("infected") },
		{ "pending", N_("pending") },
		{ "error", N_("error") },
	};
	const char *scan = api_scan_state(app, l.scan_state);
	const char *scan_text = _(L, "not scanned");
	for (size_t i = 0; scan && i < PT_ARRAY_LEN(scan_words); i++)
		if (strcmp(scan, scan_words[i].state) == 0)
			scan_text = _(L, scan_words[i].text);
	const struct kv kv[] = {
		{ "wait", wait },
		{ "tier_rules", tier_rules(r, &rules) },
		{ "wait_reason", wait_reason(r, L, &rules) },
		{ "download_query", query },
		{ "ticket_url", pt_psprintf(r->pool, "/api/v1/files/%s/ticket",
					    l.id) },
		{ "report_url", pt_psprintf(r->pool, "/report/%s", l.id) },
		{ "id", l.id },
		{ "name", l.name },
		{ "size", size },
		{ "size_human", page_size(r, L, l.size) },
		{ "size_bytes", pt_psprintf(r->pool,
					    _n(L, "%s byte", "%s bytes",
					       l.size),
					    size) },
		{ "mime", l.mime },
		{ "kind", page_kind(L, l.mime) },
		{ "icon", page_icon(r, L, l.mime, false) },
		{ "created", created },
		{ "created_iso", iso_time(r, l.created) },
		{ "expires", expires },
		{ "expires_iso", exp ? iso_time(r, exp) : "" },
		{ "downloads", downloads },
		{ "sha256", l.sha256 },
		{ "download_url", api_download_url(app, r->pool, &l) },
		{ "scan", scan_text },
		{ "scan_hidden", scan ? "" : "hidden" },
		/* last: media_parts fills these two */
		{ "media_head", "" },
		{ "media_block", "" },
	};
	struct kv *kvm = pt_palloc(r->pool, sizeof(kv));
	memcpy(kvm, kv, sizeof(kv));
	media_parts(r, &l, query, false, &kvm[PT_ARRAY_LEN(kv) - 2].value,
		    &kvm[PT_ARRAY_LEN(kv) - 1].value);
	const char *preview = page_text_preview(r, &l);
	if (*preview)
		kvm[PT_ARRAY_LEN(kv) - 1].value =
			pt_psprintf(r->pool, "%s%s",
				    kvm[PT_ARRAY_LEN(kv) - 1].value, preview);
	return reply_template(r, 200, "file.html", kvm, PT_ARRAY_LEN(kv));
}

/* One line on the rules of the visitor's tier for the direct link:
 * "The direct link waits 60 s, then sends at 100 kB/s. 1 download at
 * a time, 30 s apart." (empty for a tier without any). */
static const char *tier_rules(struct pt_req *r,
			      const struct download_rules *d)
{
	const struct i18n_catalog *L = api_catalog(r);
	struct pt_buf b;
	pt_buf_init(&b, 512);
	if (d->wait_seconds)
		pt_buf_addf(&b, _(L, "The direct link waits %lld s."),
			    (long long)d->wait_seconds);
	if (d->speed)
		pt_buf_addf(&b, _(L, " It sends at %s/s."),
			    page_size(r, L, d->speed));
	if (d->parallel)
		pt_buf_addf(&b,
			    _n(L, " %llu download at a time.",
			       " %llu downloads at a time.", d->parallel),
			    (unsigned long long)d->parallel);
	if (d->cooldown)
		pt_buf_addf(&b, _(L, " Downloads %lld s apart."),
			    (long long)d->cooldown);
	if (d->connections)
		pt_buf_addf(&b,
			    _n(L, " %llu connection per download.",
			       " %llu connections per download.",
			       d->connections),
			    (unsigned long long)d->connections);
	const char *out = pt_pstrndup(r->pool, b.n ? b.p : "", b.n);
	pt_buf_release(&b);
	return out;
}

req_res api_folder_html(struct pt_req *r, const struct folder_view *v)
{
	struct app *app = r->ctx;
	const struct i18n_catalog *L = api_catalog(r);
	struct pt_buf list;
	char created[40], wait[24];
	struct download_rules rules;

	/* the folders and files in it, escaped here, inserted raw */
	pt_buf_init(&list, 64 << 20);
	for (size_t i = 0; i < v->nsubs; i++) {
		pt_buf_addf(&list, "<li class=folder>%s<a href=\"/folder/%s\">",
			    page_icon(r, L, NULL, true), v->subs[i].id);
		html_escape(&list, v->subs[i].name);
		pt_buf_adds(&list, "/</a></li>\n");
	}
	for (size_t i = 0; i < v->nfiles; i++) {
		const struct link *l = &v->files[i];
		pt_buf_addf(&list, "<li class=file>%s<a href=\"/%s\">",
			    page_icon(r, L, l->mime, false), l->id);
		uint32_t tw, th, cw, ch;
		if (!(l->password_hash && *l->password_hash) &&
		    page_thumb(r, l, &tw, &th) &&
		    thumb_fit(tw, th, PAGE_CARD_PX, PAGE_CARD_PX, &cw, &ch))
			pt_buf_addf(&list,
				    "<img class=thumb src=\"/thumb/%s\" "
				    "width=%u height=%u alt=\"\" "
				    "loading=lazy> ",
				    l->id, cw, ch);
		html_escape(&list, l->name);
		pt_buf_addf(&list, "</a> <span class=size>%s</span>",
			    page_size(r, L, l->size));
		if (l->password_hash && *l->password_hash) {
			pt_buf_adds(&list, " <span class=lock>");
			html_escape(&list, _(L, "password"));
			pt_buf_adds(&list, "</span>");
		}
		pt_buf_adds(&list, "</li>\n");
	}
	if (!v->nsubs && !v->nfiles) {
		pt_buf_adds(&list, "<li class=empty>");
		html_escape(&list, _(L, "This folder is empty."));
		pt_buf_adds(&list, "</li>\n");
	}
	iso_date(v->f->created, created, sizeof(created));
	policy_download(app->conf, api_who(r), &rules);
	snprintf(wait, sizeof(wait), "%lld", (long long)rules.wait_seconds);
	const struct kv kv[] = {
		{ "name", v->f->name },
		{ "created", created },
		{ "created_iso", iso_time(r, v->f->created) },
		{ "zip_size", page_size(r, L, v->zip_size) },
		{ "zip_files",
		  pt_psprintf(r->pool,
			      _n(L, "%zu file", "%zu files", v->zip_files),
			      v->zip_files) },
		{ "left_out", v->left_out ? _(L, "Files with a password or a "
						 "download limit are not in "
						 "the zip: open them one by "
						 "one.")
					  : "" },
		{ "wait", wait },
		{ "wait_reason", wait_reason(r, L, &rules) },
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

/* The page of a download ticket for browsers without JavaScript: it moves
 * on to url by itself after wait seconds (accounts.c). */
req_res api_wait_page(struct pt_req *r, const char *name, const char *url,
		      int64_t wait)
{
	const struct i18n_catalog *L = api_catalog(r);
	const struct kv kv[] = {
		{ "name", name },
		{ "url", url },
		{ "wait", pt_psprintf(r->pool, "%lld", (long long)wait) },
		{ "starts",
		  pt_psprintf(r->pool,
			      _n(L, "Your download starts in %lld second.",
				 "Your download starts in %lld seconds.",
				 wait),
			      (long long)wait) },
	};
	return reply_template(r, 200, "wait.html", kv, PT_ARRAY_LEN(kv));
}

/* ---- error pages: reply_error's HTML (reply_html_error_hook) ---- */

req_res api_error_page(struct pt_req *r, int status, const char *message)
{
	static const struct {
		int status;
		const char *title, *text;
	} pages[] = {
		{ 400, N_("This request was not understood"),
		  N_("The address or the form has a mistake in it. Check "
		     "the link, or go back and try again.") },
		{ 401, N_("You need to log in"),
		  N_("This page is for a logged-in account. Log in, then try "
		     "again.") },
		{ 403, N_("This is not allowed"),
		  N_("Your account or your address may not do this.") },
		{ 404, N_("File not found"),
		  N_("Nothing is here: the link may be mistyped or cut "
		     "short. Check it with the person who sent it.") },
		{ 410, N_("This file is gone"),
		  N_("It was deleted by its owner, or it expired (its time or "
		     "its number of downloads ran out).") },
		{ 413, N_("This is too large"),
		  N_("The file is larger than this server accepts for your "
		     "account.") },
		{ 429, N_("Too many requests"),
		  N_("Slow down a little: wait a moment, then try again.") },
		{ 451, N_("Unavailable for legal reasons"),
		  N_("This file was blocked after a report.") },
		{ 503, N_("The service is briefly unavailable"),
		  N_("Try again in a few seconds.") },
	};
	const char *lang = api_lang(r);
	const struct i18n_catalog *L = i18n_find(lang);
	const char *title = N_("Something went wrong");
	const char *text = N_("The server could not answer this request. Try "
			      "again later.");
	char code[8], msg[REPLY_MSG_MAX];

	for (size_t i = 0; i < PT_ARRAY_LEN(pages); i++)
		if (pages[i].status == status) {
			title = pages[i].title;
			text = pages[i].text;
		}
	snprintf(code, sizeof(code), "%d", status);
	/* the server's own words stay, English, below: one line */
	text_escape(msg, sizeof(msg), message, strlen(message), 0);
	const struct kv kv[] = {
		{ "status", code },
		{ "title", _(L, title) },
		{ "text", _(L, text) },
		{ "detail", msg },
		{ "files_link", r->who ? "" : "hidden" },
	};
	return reply_template(r, status, "error.html", kv, PT_ARRAY_LEN(kv));
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

/* The report form of a file: its script posts to /api/v1/reports, whose
 * limits (text 10000 bytes, contact 500, 20 reports an hour per address)
 * the form states and keeps. */
req_res api_report_page(struct pt_req *r)
{
	struct link l;
	req_res rc;

	if (api_link_lookup_or_reply(r, r->arg[0].p, &l, &rc, false))
		return rc;
	const bool locked = l.password_hash && *l.password_hash;
	const struct kv kv[] = {
		{ "id", l.id },
		/* a password-protected file's name is not told */
		{ "name", locked ? l.id : l.name },
	};
	return reply_template(r, 200, "report.html", kv, PT_ARRAY_LEN(kv));
}

/* GET /prefs?lang=fr|en&theme=light|dark&next=PATH: the header's switches
 * without JavaScript.  Sets the cookies for a year and sends the browser
 * back to next, a local path ("/" when it is not one: never another site,
 * never a byte that could break the header). */
req_res api_prefs(struct pt_req *r)
{
	const char *lang = req_query(r, "lang");
	const char *theme = req_query(r, "theme");
	const char *next = req_query(r, "next");
	const char *cookie[2] = { NULL, NULL };

	if (lang) {
		if (strcmp(lang, "en") != 0 && !i18n_find(lang))
			return reply_error(r, PT_EBADREQ, NULL,
					   "bad request: lang is en or a "
					   "language of po/");
		cookie[0] = pt_psprintf(r->pool,
					"partage_lang=%s; Path=/; "
					"SameSite=Lax; Max-Age=31536000",
					lang);
	}
	if (theme) {
		if (strcmp(theme, "light") != 0 && strcmp(theme, "dark") != 0)
			return reply_error(r, PT_EBADREQ, NULL,
					   "bad request: theme is light or "
					   "dark");
		cookie[1] = pt_psprintf(r->pool,
					"partage_theme=%s; Path=/; "
					"SameSite=Lax; Max-Age=31536000",
					theme);
	}
	bool local = next && next[0] == '/' && next[1] != '/' &&
		     next[1] != '\\';
	for (const char *p = next; local && *p; p++)
		if ((unsigned char)*p < 0x21 || (unsigned char)*p >= 0x7f ||
		    *p == '\\')
			local = false;
	for (int i = 0; i < 2; i++)
		if (cookie[i])
			req_reply_header(r, "Set-Cookie", cookie[i]);
	req_reply_header(r, "Location", local ? next : "/");
	req_reply_header(r, "Cache-Control", "no-store");
	return reply_empty(r, 303);
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
			     enum pt_tier_id id, char *out, size_t cap,
			     const struct i18n_catalog *L);

static void cell_wait(const struct pt_conf *c, const struct pt_tier *t, enum pt_tier_id id, char *o,
		      size_t n, const struct i18n_catalog *L)
{
	if (t->wait_seconds)
		snprintf(o, n, _(L, "%llu s"), (unsigned long long)t->wait_seconds);
	else
		snprintf(o, n, "%s", _(L, "none"));
}

static void cell_speed(const struct pt_conf *c, const struct pt_tier *t, enum pt_tier_id id, char *o,
		       size_t n, const struct i18n_catalog *L)
{
	if (t->speed_bytes_per_second)
		tier_size(t->speed_bytes_per_second, "/s", o, n);
	else
		snprintf(o, n, "%s", _(L, "no cap"));
}

static void cell_parallel(const struct pt_conf *c, const struct pt_tier *t, enum pt_tier_id id,
			  char *o, size_t n, const struct i18n_catalog *L)
{
	if (t->parallel_downloads)
		snprintf(o, n, _(L, "%llu per address"),
			 (unsigned long long)t->parallel_downloads);
	else
		snprintf(o, n, "%s", _(L, "no limit"));
}

static void cell_conns(const struct pt_conf *c, const struct pt_tier *t,
		       enum pt_tier_id id, char *o, size_t n, const struct i18n_catalog *L)
{
	if (t->connections_per_download)
		snprintf(o, n, "%llu",
			 (unsigned long long)t->connections_per_download);
	else
		snprintf(o, n, "%s", _(L, "no limit"));
}

static void cell_cooldown(const struct pt_conf *c, const struct pt_tier *t,
			  enum pt_tier_id id, char *o, size_t n, const struct i18n_catalog *L)
{
	if (t->cooldown_seconds)
		snprintf(o, n, _(L, "%llu s"),
			 (unsigned long long)t->cooldown_seconds);
	else
		snprintf(o, n, "%s", _(L, "none"));
}

static void cell_up(const struct pt_conf *c, const struct pt_tier *t, enum pt_tier_id id, char *o,
		    size_t n, const struct i18n_catalog *L)
{
	/* storage.max_file_bytes caps every tier, "no limit" ones too */
	uint64_t max = t->max_upload_bytes && t->max_upload_bytes <
							 c->max_file_bytes
			       ? t->max_upload_bytes
			       : c->max_file_bytes;
	tier_size(max, "", o, n);
}

static void cell_down(const struct pt_conf *c, const struct pt_tier *t, enum pt_tier_id id, char *o,
		      size_t n, const struct i18n_catalog *L)
{
	if (t->max_download_bytes)
		tier_size(t->max_download_bytes, "", o, n);
	else
		snprintf(o, n, "%s", _(L, "no limit"));
}

static void cell_keep(const struct pt_conf *c, const struct pt_tier *t, enum pt_tier_id id, char *o,
		      size_t n, const struct i18n_catalog *L)
{
	if (t->retention_days)
		snprintf(o, n,
			 _n(L, "%llu day after the last download",
			    "%llu days after the last download",
			    t->retention_days),
			 (unsigned long long)t->retention_days);
	else
		snprintf(o, n, "%s", _(L, "forever"));
}

static void cell_quota(const struct pt_conf *c, const struct pt_tier *t, enum pt_tier_id id, char *o,
		       size_t n, const struct i18n_catalog *L)
{
	if (id == PT_TIER_ANONYMOUS)
		snprintf(o, n, "%s", _(L, "no account")); /* a quota is per account */
	else if (t->storage_quota_bytes)
		tier_size(t->storage_quota_bytes, "", o, n);
	else
		snprintf(o, n, "%s", _(L, "no limit"));
}

static void cell_stream(const struct pt_conf *c, const struct pt_tier *t, enum pt_tier_id id, char *o,
			size_t n, const struct i18n_catalog *L)
{
	if (t->stream_minutes)
		snprintf(o, n, _(L, "%llu min, then a %llu min wait"),
			 (unsigned long long)t->stream_minutes,
			 (unsigned long long)t->stream_wait_minutes);
	else
		snprintf(o, n, "%s", _(L, "no limit"));
}

/* The table of the tiers' limits as this server is configured, HTML. */
static void tiers_table(struct pt_buf *b, const struct pt_conf *c,
			const struct i18n_catalog *L)
{
	static const struct {
		const char *what;
		tier_cell_fn fn;
	} rows[] = {
		{ N_("Wait before a download"), cell_wait },
		{ N_("Download speed"), cell_speed },
		{ N_("Downloads at a time"), cell_parallel },
		{ N_("Connections per download"), cell_conns },
		{ N_("Wait between downloads"), cell_cooldown },
		{ N_("Largest upload"), cell_up },
		{ N_("Largest download"), cell_down },
		{ N_("Files kept"), cell_keep },
		{ N_("Storage"), cell_quota },
		{ N_("Streaming"), cell_stream },
	};
	char cell[96];

	pt_buf_adds(b, "<table id=\"tiers\">\n<thead><tr><th></th>");
	for (int t = 0; t < PT_TIER_COUNT; t++) {
		pt_buf_adds(b, "<th scope=\"col\">");
		/* the names of the tiers, for people */
		static const char *const names[] = { N_("anonymous"),
						     N_("free"),
						     N_("premium") };
		const char *name = conf_tier_name((enum pt_tier_id)t);
		for (size_t k = 0; k < PT_ARRAY_LEN(names); k++)
			if (strcmp(names[k], name) == 0)
				name = _(L, names[k]);
		html_escape(b, name);
		pt_buf_adds(b, "</th>");
	}
	pt_buf_adds(b, "</tr></thead>\n<tbody>\n");
	for (size_t i = 0; i < PT_ARRAY_LEN(rows); i++) {
		pt_buf_adds(b, "<tr><th scope=\"row\">");
		html_escape(b, _(L, rows[i].what));
		pt_buf_adds(b, "</th>");
		for (int t = 0; t < PT_TIER_COUNT; t++) {
			rows[i].fn(c, &c->tier[t], (enum pt_tier_id)t, cell,
				   sizeof(cell), L);
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
	tiers_table(&tiers, app->conf, api_catalog(r));
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

/* ---- media (issue 16): the player, Open Graph tags, embed, oEmbed ---- */

/* The player's size in embeds and oEmbed: the video's, scaled down to fit
 * max_w × max_h (0: no bound); audio gets a bar. */
static void media_frame(const struct media_info *m, uint64_t max_w,
			uint64_t max_h, uint64_t *w, uint64_t *h)
{
	*w = m->kind == MEDIA_VIDEO && m->width ? m->width : 640;
	*h = m->kind == MEDIA_VIDEO && m->height ? m->height : 60;
	if (m->kind == MEDIA_VIDEO && !m->width)
		*h = 360;
	if (max_w && *w > max_w) {
		*h = *h * max_w / *w;
		*w = max_w;
	}
	if (max_h && *h > max_h) {
		*w = *w * max_h / *h;
		*h = max_h;
	}
	if (!*w)
		*w = 1;
	if (!*h)
		*h = 1;
}

static void meta(struct pt_buf *b, const char *attr, const char *name,
		 const char *content)
{
	pt_buf_addf(b, "<meta %s=\"%s\" content=\"", attr, name);
	html_escape(b, content);
	pt_buf_adds(b, "\">\n");
}

/* media_summary's line with its first word, the kind, in the page's
 * language ("Vidéo · 320×240 · 0:04 · H.264/AAC"); sizes, durations and
 * codec names read the same in every language. */
static const char *page_media_summary(struct pt_req *r,
				      const struct media_info *m)
{
	static const char *const kinds[] = { N_("File"), N_("Video"),
					     N_("Audio"), N_("Image") };
	const char *kind = kinds[(unsigned)m->kind < 4 ? m->kind : 0];
	size_t kn = strlen(kind);
	char sum[160];
	media_summary(m, sum, sizeof(sum));
	if (strncmp(sum, kind, kn) != 0)
		return pt_pstrdup(r->pool, sum);
	return pt_psprintf(r->pool, "%s%s", _(api_catalog(r), kind), sum + kn);
}

/* The thumbnail of l (absolute URL, pool memory) and its size, or NULL. */
static const char *page_thumb(struct pt_req *r, const struct link *l,
			      uint32_t *w, uint32_t *h)
{
	struct app *app = r->ctx;
	struct db *db = app_db(app);
	struct thumb_row t;
	*w = *h = 0;
	if (!db || repo_thumb_get(db, l->sha256, &t) || t.state != THUMB_DONE)
		return NULL;
	*w = t.width;
	*h = t.height;
	return pt_psprintf(r->pool, "%s/thumb/%s", app->public_url, l->id);
}

/* ` attr="/thumb/ID[?query]"`: relative, with the page's password query
 * (a protected link's thumbnail wants it as its bytes do) */
static void thumb_attr(struct pt_buf *b, const char *attr,
		       const struct link *l, const char *query)
{
	pt_buf_addf(b, " %s=\"/thumb/%s", attr, l->id);
	if (*query) {
		pt_buf_adds(b, "?");
		html_escape(b, query);
	}
	pt_buf_adds(b, "\"");
}

/* The file page's text preview (preview.h): the first PREVIEW_BYTES of
 * a text file, escaped, read through the blob store; "" for other
 * files, and for text that is not valid UTF-8. */
static const char *page_text_preview(struct pt_req *r, const struct link *l)
{
	struct app *app = r->ctx;
	struct blob_reader *rd;
	char buf[PREVIEW_BYTES];
	struct pt_buf b;
	if (!preview_mime_text(l->mime) || !l->size)
		return "";
	/* not while a scan that holds downloads is pending (scan.c) */
	if (app->conf->scan_clamd && *app->conf->scan_clamd &&
	    !app->conf->scan_pending_downloads &&
	    l->scan_state == REPO_SCAN_PENDING)
		return "";
	if (blob_reader_open(app->blobs, l->sha256, &rd))
		return "";
	size_t want = l->size < sizeof(buf) ? (size_t)l->size : sizeof(buf);
	size_t got = 0;
	while (got < want) {
		ssize_t k = blob_reader_pread(rd, buf + got, want - got, got);
		if (k <= 0)
			break;
		got += (size_t)k;
	}
	blob_reader_close(rd);
	if (got != want)
		return "";
	pt_buf_init(&b, 64 << 10);
	/* the preview scrolls (style.css): it takes the keyboard's focus so
	 * that a keyboard can scroll it, and is named by its heading */
	pt_buf_adds(&b, "<section class=\"preview\"><h2 id=\"preview-h\">");
	const struct i18n_catalog *L = api_catalog(r);
	html_escape(&b, _(L, "Preview"));
	pt_buf_adds(&b, "</h2>\n<pre id=\"text-preview\" tabindex=\"0\" "
			"role=\"region\" aria-labelledby=\"preview-h\">");
	if (preview_html(buf, got, &b)) {
		pt_buf_release(&b);
		return "";
	}
	pt_buf_addf(&b, "%s</pre></section>\n",
		    l->size > got ? "\n\xe2\x80\xa6" : "");
	const char *html = pt_pstrndup(r->pool, b.p, b.n);
	pt_buf_release(&b);
	return html;
}

/* The file page's <head> additions (Open Graph and Twitter card, the
 * oEmbed discovery link) and its media block (summary, player), built
 * here with every value escaped; "" for files that are not media.  A
 * password-protected file gets the player (its URL carries the
 * password, as the page's links do) but no tags: links to it unfurl
 * nothing. */
static void media_parts(struct pt_req *r, const struct link *l,
			const char *query, bool embed, const char **head,
			const char **block)
{
	struct app *app = r->ctx;
	enum media_state st;
	struct media_info m;
	bool stream = api_media_get(app, l, &st, &m);
	struct pt_buf b;
	char num[24];
	uint64_t w, h;

	*head = "";
	*block = "";
	if (st != MEDIA_DONE)
		return;
	const char *sum = page_media_summary(r, &m);
	media_frame(&m, 0, 0, &w, &h);
	uint32_t tw = 0, th = 0;
	const char *thumb = page_thumb(r, l, &tw, &th);
	const char *surl = pt_psprintf(r->pool, "%s/stream/%s", app->public_url,
				       l->id);
	bool protected = l->password_hash && *l->password_hash;
	if (!embed && !protected) {
		const char *page = pt_psprintf(r->pool, "%s/%s",
					       app->public_url, l->id);
		pt_buf_init(&b, 64 << 10);
		meta(&b, "property", "og:title", l->name);
		meta(&b, "property", "og:url", page);
		meta(&b, "property", "og:site_name", "partage");
		meta(&b, "property", "og:description", sum);
		meta(&b, "property", "og:type",
		     !stream			 ? "website"
		     : m.kind == MEDIA_VIDEO ? "video.other"
					     : "music.song");
		if (thumb) { /* the thumbnail (thumb.c) */
			meta(&b, "property", "og:image", thumb);
			meta(&b, "property", "og:image:type", "image/jpeg");
			snprintf(num, sizeof(num), "%u", tw);
			meta(&b, "property", "og:image:width", num);
			snprintf(num, sizeof(num), "%u", th);
			meta(&b, "property", "og:image:height", num);
			meta(&b, "name", "twitter:image", thumb);
		}
		if (stream) {
			const char *tag = m.kind == MEDIA_VIDEO ? "og:video"
								: "og:audio";
			meta(&b, "property", tag, surl);
			meta(&b, "property",
			     pt_psprintf(r->pool, "%s:type", tag), l->mime);
			if (m.kind == MEDIA_VIDEO) {
				snprintf(num, sizeof(num), "%llu",
					 (unsigned long long)w);
				meta(&b, "property", "og:video:width", num);
				snprintf(num, sizeof(num), "%llu",
					 (unsigned long long)h);
				meta(&b, "property", "og:video:height", num);
			}
			const char *embed_url = pt_psprintf(
				r->pool, "%s/embed/%s", app->public_url, l->id);
			meta(&b, "name", "twitter:card", "player");
			meta(&b, "name", "twitter:title", l->name);
			meta(&b, "name", "twitter:player", embed_url);
			snprintf(num, sizeof(num), "%llu",
				 (unsigned long long)w);
			meta(&b, "name", "twitter:player:width", num);
			snprintf(num, sizeof(num), "%llu",
				 (unsigned long long)h);
			meta(&b, "name", "twitter:player:height", num);
			pt_buf_adds(&b, "<link rel=\"alternate\" type=\""
					"application/json+oembed\" href=\"");
			struct pt_buf u;
			pt_buf_init(&u, 8192);
			pt_buf_addf(&u, "%s/api/v1/oembed?url=",
				    app->public_url);
			path_escape(&u, page);
			pt_buf_adds(&u, "&format=json");
			html_escape(&b, u.p);
			pt_buf_release(&u);
			pt_buf_adds(&b, "\">\n");
		} else {
			meta(&b, "name", "twitter:card",
			     thumb ? "summary_large_image" : "summary");
		}
		*head = pt_pstrndup(r->pool, b.p, b.n);
		pt_buf_release(&b);
	}
	pt_buf_init(&b, 64 << 10);
	pt_buf_addf(&b, "<section id=\"media\" class=\"media\" "
			"data-file=\"/api/v1/files/%s",
		    l->id);
	if (*query) { /* "password=…&": for the JSON too */
		pt_buf_adds(&b, "?");
		html_escape(&b, query);
	}
	pt_buf_adds(&b, "\">\n");
	if (!embed) {
		pt_buf_adds(&b, "<p id=\"media-summary\">");
		html_escape(&b, sum);
		pt_buf_adds(&b, "</p>\n");
	}
	if (stream) {
		const char *el = m.kind == MEDIA_VIDEO ? "video" : "audio";
		pt_buf_addf(&b, "<%s id=\"player\" controls preload=\"metadata\" "
				"src=\"/stream/%s",
			    el, l->id);
		if (*query) {
			pt_buf_adds(&b, "?");
			html_escape(&b, query);
		}
		pt_buf_adds(&b, "\"");
		if (thumb && m.kind == MEDIA_VIDEO)
			thumb_attr(&b, "poster", l, query);
		if (m.kind == MEDIA_VIDEO && m.width && m.height)
			pt_buf_addf(&b, " width=\"%u\" height=\"%u\"", m.width,
				    m.height);
		pt_buf_addf(&b, "></%s>\n<p id=\"media-quota\" hidden "
				"aria-live=\"polite\"></p>\n"
				"<script src=\"/static/player.js\"></script>\n",
			    el);
	}
	if (thumb && !stream) { /* an image: its thumbnail */
		pt_buf_adds(&b, "<p><img id=\"thumb\"");
		thumb_attr(&b, "src", l, query);
		pt_buf_addf(&b, " width=\"%u\" height=\"%u\" alt=\"", tw,
			    th);
		html_escape(&b, l->name);
		pt_buf_adds(&b, "\"></p>\n");
	}
	pt_buf_adds(&b, "</section>\n");
	*block = pt_pstrndup(r->pool, b.p, b.n);
	pt_buf_release(&b);
}

req_res api_embed_page(struct pt_req *r)
{
	struct app *app = r->ctx;
	struct link l;
	enum media_state st;
	struct media_info m;
	req_res rc;
	const char *head, *block;

	if (api_link_lookup_or_reply(r, r->arg[0].p, &l, &rc, false))
		return rc;
	if (l.password_hash && *l.password_hash)
		return reply_error(r, PT_EFORBIDDEN, "password",
				   "forbidden: '%s' is password-protected and "
				   "cannot be embedded",
				   l.id);
	if (!api_media_get(app, &l, &st, &m))
		return reply_error(r, PT_ENOTFOUND, "not-media",
				   "not found: '%s' is not audio or video "
				   "that can be played",
				   l.id);
	media_parts(r, &l, "", true, &head, &block);
	const char *lang = api_lang(r);
	const struct kv kv[] = { { "name", l.name },
				 { "media_block", block },
				 { "lang", lang } };
	/* reply_html's headers, except that any site may frame it: that is
	 * what it is for */
	const struct web_asset *a = web_asset_find("embed.html");
	struct pt_buf b;
	PT_ASSERT(a);
	pt_buf_init(&b, 1 << 20);
	render(&b, (const char *)a->data, kv, PT_ARRAY_LEN(kv),
	       i18n_find(lang));
	struct resp *resp = resp_new(b.p, b.n, RESP_COPY);
	pt_buf_release(&b);
	resp_header(resp, "Content-Type", "text/html; charset=utf-8");
	resp_header(resp, "X-Content-Type-Options", "nosniff");
	resp_header(resp, "Content-Security-Policy",
		    "default-src 'self'; img-src 'self' data:; "
		    "frame-ancestors *; base-uri 'none'; form-action 'self'");
	resp_header(resp, "Referrer-Policy", "no-referrer");
	return reply_queue(r, 200, resp);
}

req_res api_oembed(struct pt_req *r)
{
	struct app *app = r->ctx;
	const char *url = req_query(r, "url");
	const char *format = req_query(r, "format");
	const char *mw = req_query(r, "maxwidth");
	const char *mh = req_query(r, "maxheight");
	uint64_t max_w = 0, max_h = 0, w, h;
	char id[ID_LEN + 1];
	struct link l;
	enum media_state st;
	struct media_info m;
	req_res rc;

	if (format && strcmp(format, "json") != 0)
		return reply_error(r, PT_EUNSUPPORTED, NULL,
				   "not implemented: oEmbed answers in JSON "
				   "only (format=json)");
	if ((mw && pt_parse_u64(mw, strlen(mw), &max_w)) ||
	    (mh && pt_parse_u64(mh, strlen(mh), &max_h)))
		return reply_error(r, PT_EBADREQ, NULL,
				   "bad request: maxwidth and maxheight are "
				   "numbers of pixels");
	size_t pn = strlen(app->public_url);
	if (!url || strncmp(url, app->public_url, pn) != 0 ||
	    url[pn] != '/' || !linkcheck_id(url, strlen(url), id))
		return reply_error(r, PT_ENOTFOUND, NULL,
				   "not found: url must be a file page of "
				   "%s (%s/ID)",
				   app->public_url, app->public_url);
	if (api_link_lookup_or_reply(r, id, &l, &rc, false))
		return rc;
	if (l.password_hash && *l.password_hash)
		return reply_error(r, PT_EUNAUTH, "password",
				   "authentication required: '%s' is "
				   "password-protected",
				   l.id);
	bool stream = api_media_get(app, &l, &st, &m);
	json_t *o = json_pack("{s:s, s:o, s:s, s:s}", "version", "1.0",
			      "title", reply_jtext(l.name), "provider_name",
			      "partage", "provider_url", app->public_url);
	uint32_t tw, th;
	const char *thumb = page_thumb(r, &l, &tw, &th);
	if (thumb) {
		json_object_set_new(o, "thumbnail_url", json_string(thumb));
		json_object_set_new(o, "thumbnail_width", json_integer(tw));
		json_object_set_new(o, "thumbnail_height", json_integer(th));
	}
	if (!stream) {
		json_object_set_new(o, "type", json_string("link"));
		return reply_json(r, 200, o);
	}
	media_frame(&m, max_w, max_h, &w, &h);
	json_object_set_new(o, "type", json_string(m.kind == MEDIA_VIDEO
							   ? "video"
							   : "rich"));
	json_object_set_new(o, "width", json_integer((json_int_t)w));
	json_object_set_new(o, "height", json_integer((json_int_t)h));
	json_object_set_new(
		o, "html",
		json_string(pt_psprintf(
			r->pool,
			"<iframe src=\"%s/embed/%s\" width=\"%llu\" "
			"height=\"%llu\" frameborder=\"0\" allow=\"autoplay; "
			"fullscreen\" allowfullscreen></iframe>",
			app->public_url, l.id, (unsigned long long)w,
			(unsigned long long)h)));
	return reply_json(r, 200, o);
}

/* fmt (a translation with one %s) HTML-escaped, its %s replaced by html
 * as it is: text around markup (a name in a <span>, a <time>). */
static void html_fill(struct pt_req *r, struct pt_buf *b, const char *fmt,
		      const char *html)
{
	const char *at = strstr(fmt, "%s");
	if (!at) {
		html_escape(b, fmt);
		return;
	}
	html_escape(b, pt_pstrndup(r->pool, fmt, (size_t)(at - fmt)));
	pt_buf_adds(b, html);
	html_escape(b, at + 2);
}

/* GET /r/{id}: the upload page pointed at a file request (requests.c
 * found it); upload.js sends to the request when the page names one.
 * The limits and the reason a request takes no more files are said in
 * the page's language; data-state keeps the API's word for scripts. */
req_res api_request_html(struct pt_req *r, const struct file_request *fr,
			 const char *state)
{
	static const struct {
		const char *state, *text;
	} closed[] = {
		{ "closed", N_("This file request is closed: it takes no more "
			       "files.") },
		{ "expired", N_("This file request has expired: it takes no "
				"more files.") },
		{ "full", N_("This file request is full: it takes no more "
			     "files.") },
	};
	struct app *app = r->ctx;
	const struct i18n_catalog *L = api_catalog(r);
	const char *folder = fr->folder_name ? fr->folder_name : "";
	struct pt_buf lim, head;
	char expires[40];
	pt_buf_init(&lim, 4096);
	pt_buf_init(&head, 4096);
	if (fr->max_files) {
		int64_t left = fr->files < fr->max_files
				       ? fr->max_files - fr->files
				       : 0;
		html_escape(&lim,
			    pt_psprintf(r->pool,
					_n(L, "At most %lld file (%lld left).",
					   "At most %lld files (%lld left).",
					   fr->max_files),
					(long long)fr->max_files,
					(long long)left));
		pt_buf_adds(&lim, " ");
	}
	if (fr->max_bytes) {
		uint64_t left = api_request_bytes_left(fr);
		const char *all = page_size(r, L, (uint64_t)fr->max_bytes);
		html_escape(&lim,
			    pt_psprintf(r->pool,
					_(L, "At most %s in all (%s left)."),
					all, page_size(r, L, left)));
		pt_buf_adds(&lim, " ");
	}
	if (fr->expires) {
		struct pt_buf t;
		iso_date(fr->expires, expires, sizeof(expires));
		pt_buf_init(&t, 256);
		pt_buf_addf(&t, "<time datetime=\"%s\">",
			    iso_time(r, fr->expires));
		html_escape(&t, expires);
		pt_buf_adds(&t, "</time>");
		html_fill(r, &lim, _(L, "Open until %s."),
			  pt_pstrndup(r->pool, t.p, t.n));
		pt_buf_release(&t);
		pt_buf_adds(&lim, " ");
	}
	if (!lim.n)
		html_escape(&lim, _(L, "No limit on the number of files."));
	/* the folder's name in a span of its own (user content) */
	struct pt_buf fn;
	pt_buf_init(&fn, 1024);
	pt_buf_adds(&fn, "<span id=\"request-folder\">");
	html_escape(&fn, folder);
	pt_buf_adds(&fn, "</span>");
	html_fill(r, &head, _(L, "Send files to %s"),
		  pt_pstrndup(r->pool, fn.p, fn.n));
	pt_buf_release(&fn);
	const char *why = "";
	for (size_t i = 0; i < PT_ARRAY_LEN(closed); i++)
		if (strcmp(state, closed[i].state) == 0)
			why = _(L, closed[i].text);
	bool open = strcmp(state, "open") == 0;
	const struct kv kv[] = {
		{ "id", fr->id },
		{ "title",
		  pt_psprintf(r->pool, _(L, "Send files to %s"), folder) },
		{ "heading", pt_pstrndup(r->pool, head.p, head.n) },
		{ "state", state },
		{ "closed", why },
		{ "limits", pt_pstrndup(r->pool, lim.p, lim.n) },
		{ "url", pt_psprintf(r->pool, "%s/r/%s", app->public_url,
				     fr->id) },
		{ "closed_hidden", open ? "hidden" : "" },
		{ "form_hidden", open ? "" : "hidden" },
		{ "password_hidden", *fr->password_hash ? "" : "hidden" },
	};
	req_res rc = reply_template(r, open ? 200 : 410, "request.html", kv,
				    PT_ARRAY_LEN(kv));
	pt_buf_release(&lim);
	pt_buf_release(&head);
	return rc;
}
