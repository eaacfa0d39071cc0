/*
 * http.c — the client's side of HTTP: one libcurl easy handle reused for
 * every request (so an upload of many files or a download's file object,
 * ticket and bytes share one connection), response headers kept per
 * response, small bodies buffered and large ones streamed to a callback,
 * and the progress line (progress.c) fed from curl's transfer info.
 */
#define _GNU_SOURCE
#include "cli.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "../core/ids.h"
#include "../util/banned.h"

#define CLI_USER_AGENT "partage-cli/0.1"

static CURL *curl;

void cli_err(const char *fmt, ...)
{
	char line[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	fprintf(stderr, "partage: %s\n", line);
}

void cli_http_init(struct cli_http *h, const char *method, const char *url)
{
	memset(h, 0, sizeof(*h));
	h->method = method;
	h->url = url;
	h->in_fd = -1;
	h->in_size = -1;
	pt_buf_init(&h->hdrs, CLI_BODY_MAX);
	pt_buf_init(&h->body, CLI_BODY_MAX);
}

void cli_http_release(struct cli_http *h)
{
	curl_slist_free_all(h->headers);
	h->headers = NULL;
	pt_buf_release(&h->hdrs);
	pt_buf_release(&h->body);
}

void cli_http_add_header(struct cli_http *h, const char *fmt, ...)
{
	va_list ap;
	char *line;

	va_start(ap, fmt);
	if (vasprintf(&line, fmt, ap) < 0)
		line = NULL;
	va_end(ap);
	PT_ASSERT(line);
	h->headers = curl_slist_append(h->headers, line);
	PT_ASSERT(h->headers);
	free(line);
}

/* ---- progress ---- */

static int xferinfo_cb(void *arg, curl_off_t dltotal, curl_off_t dlnow,
		       curl_off_t ultotal, curl_off_t ulnow)
{
	struct cli_http *h = arg;

	if (h->in_fd >= 0)
		cli_progress_update(h->bar, h->progress_base + (uint64_t)ulnow,
				    h->progress_total ? h->progress_total
						      : (uint64_t)ultotal,
				    false);
	else if (h->final && h->status / 100 == 2)
		cli_progress_update(h->bar, h->progress_base + (uint64_t)dlnow,
				    dltotal ? h->progress_base +
						      (uint64_t)dltotal : 0,
				    false);
	return 0;
}

/* ---- callbacks ---- */

static bool is_redirect(long s)
{
	return s == 301 || s == 302 || s == 303 || s == 307 || s == 308;
}

static size_t header_cb(char *p, size_t size, size_t nmemb, void *arg)
{
	struct cli_http *h = arg;
	size_t n = size * nmemb, len = n;

	while (len > 0 && (p[len - 1] == '\n' || p[len - 1] == '\r'))
		len--;
	if (n >= 5 && strncmp(p, "HTTP/", 5) == 0) {
		/* "HTTP/1.1 206 Partial Content": a new response begins */
		const char *sp = memchr(p, ' ', len);
		uint64_t st = 0;
		if (!sp || (size_t)(p + len - sp) < 4 ||
		    pt_parse_u64(sp + 1, 3, &st))
			st = 0;
		h->status = (long)st;
		h->final = false;
		pt_buf_reset(&h->hdrs);
		return n;
	}
	if (len == 0) {
		/* end of this response's headers: is it the one we keep? */
		char *loc;
		if (h->status < 200)
			return n;
		loc = cli_http_header(h, "Location");
		if (h->follow && is_redirect(h->status) && loc) {
			free(loc);
			return n;
		}
		free(loc);
		h->final = true;
		if (h->on_headers) {
			int err = h->on_headers(h);
			if (err) {
				h->cb_err = err;
				return 0;
			}
		}
		return n;
	}
	if (pt_buf_add(&h->hdrs, p, len) || pt_buf_add(&h->hdrs, "\n", 1)) {
		h->cb_err = PT_ETOOBIG;
		return 0;
	}
	return n;
}

static size_t write_cb(char *p, size_t size, size_t nmemb, void *arg)
{
	struct cli_http *h = arg;
	size_t n = size * nmemb;
	int err;

	if (!h->final)
		return n; /* the body of a redirect we follow */
	if (h->on_body && h->status / 100 == 2) {
		err = h->on_body(h, p, n);
		if (err) {
			h->cb_err = err;
			return 0;
		}
		return n;
	}
	if (pt_buf_add(&h->body, p, n)) {
		h->cb_err = PT_ETOOBIG;
		return 0;
	}
	return n;
}

static size_t read_cb(char *p, size_t size, size_t nmemb, void *arg)
{
	struct cli_http *h = arg;
	size_t want = size * nmemb;
	ssize_t r;

	/* a body of known length never sends more, even if the file grew */
	if (h->in_size >= 0 && want > (uint64_t)h->in_size - h->in_sent)
		want = (size_t)((uint64_t)h->in_size - h->in_sent);
	if (want == 0)
		return 0;
	do
		r = read(h->in_fd, p, want);
	while (r < 0 && errno == EINTR);
	if (r < 0) {
		h->cb_err = -errno;
		return CURL_READFUNC_ABORT;
	}
	h->in_sent += (uint64_t)r;
	return (size_t)r;
}

/* ---- requests ---- */

int cli_http_perform(struct cli_http *h, const struct cli_opts *o)
{
	CURLcode rc;

	if (!curl) {
		curl = curl_easy_init();
		PT_ASSERT(curl);
	} else {
		curl_easy_reset(curl);
	}
	if (!h->auth_added) {
		h->auth_added = true;
		const struct cli_cred *cr = NULL;
		if (!o->api_token && o->creds)
			cr = cli_creds_find(o->creds, h->url);
		if (o->api_token || cr)
			cli_http_add_header(h, "Authorization: Bearer %s",
					    o->api_token ? o->api_token
							 : cr->token);
		/* set at upload, sent to read: a link's password */
		if (o->password)
			cli_http_add_header(h, "X-Partage-Password: %s",
					    o->password);
	}
	/* Expect: 100-continue is left to curl, so a server can refuse a
	 * big PUT (413) before its body is sent. */
	curl_easy_setopt(curl, CURLOPT_URL, h->url);
	curl_easy_setopt(curl, CURLOPT_USERAGENT, CLI_USER_AGENT);
	curl_easy_setopt(curl, CURLOPT_HTTPHEADER, h->headers);
	curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, h->errbuf);
	curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT, 30L);
	/* a throttled download is slow but never silent for 5 minutes */
	curl_easy_setopt(curl, CURLOPT_LOW_SPEED_LIMIT, 1L);
	curl_easy_setopt(curl, CURLOPT_LOW_SPEED_TIME, 300L);
	curl_easy_setopt(curl, CURLOPT_SUPPRESS_CONNECT_HEADERS, 1L);
	curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, header_cb);
	curl_easy_setopt(curl, CURLOPT_HEADERDATA, h);
	curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, write_cb);
	curl_easy_setopt(curl, CURLOPT_WRITEDATA, h);
	if (h->follow) {
		curl_easy_setopt(curl, CURLOPT_FOLLOWLOCATION, 1L);
		curl_easy_setopt(curl, CURLOPT_MAXREDIRS, 5L);
	}
	if (h->in_fd >= 0) {
		curl_easy_setopt(curl, CURLOPT_UPLOAD, 1L);
		curl_easy_setopt(curl, CURLOPT_READFUNCTION, read_cb);
		curl_easy_setopt(curl, CURLOPT_READDATA, h);
		curl_easy_setopt(curl, CURLOPT_INFILESIZE_LARGE,
				 (curl_off_t)h->in_size);
		if (h->method && strcmp(h->method, "PUT") != 0)
			curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST,
					 h->method);
	} else if (h->in_data) {
		curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE,
				 (curl_off_t)h->in_len);
		curl_easy_setopt(curl, CURLOPT_POSTFIELDS, h->in_data);
		if (h->method && strcmp(h->method, "POST") != 0)
			curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST,
					 h->method);
	} else if (h->method && strcmp(h->method, "POST") == 0) {
		curl_easy_setopt(curl, CURLOPT_POSTFIELDS, "");
		curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE, 0L);
	} else if (h->method && strcmp(h->method, "HEAD") == 0) {
		curl_easy_setopt(curl, CURLOPT_NOBODY, 1L);
	} else if (h->method && strcmp(h->method, "GET") != 0) {
		curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, h->method);
	}
	if (h->bar && h->bar->on) {
		cli_progress_resume(h->bar, h->progress_base);
		curl_easy_setopt(curl, CURLOPT_NOPROGRESS, 0L);
		curl_easy_setopt(curl, CURLOPT_XFERINFOFUNCTION, xferinfo_cb);
		curl_easy_setopt(curl, CURLOPT_XFERINFODATA, h);
	}

	h->status = 0;
	h->final = false;
	h->cb_err = 0;
	h->in_sent = 0;
	h->errbuf[0] = '\0';
	pt_buf_reset(&h->hdrs);
	pt_buf_reset(&h->body);
	rc = curl_easy_perform(curl);

	if (h->bar && h->bar->drawn) {
		/* finish the bar with its true totals, then leave it */
		curl_off_t up = 0, down = 0;
		if (h->in_fd >= 0) {
			curl_easy_getinfo(curl, CURLINFO_SIZE_UPLOAD_T, &up);
			cli_progress_update(h->bar,
					    h->progress_base + (uint64_t)up,
					    h->progress_total ? h->progress_total
					    : h->in_size > 0 ? (uint64_t)h->in_size
					    : 0, true);
		} else {
			uint64_t now;
			curl_easy_getinfo(curl, CURLINFO_SIZE_DOWNLOAD_T,
					  &down);
			now = h->progress_base + (uint64_t)down;
			cli_progress_update(h->bar, now,
					    rc == CURLE_OK && !h->bar->total
					    ? now : 0, true);
		}
		if (!h->progress_more)
			cli_progress_end(h->bar);
	}
	if (h->cb_err)
		return h->cb_err;
	if (rc != CURLE_OK) {
		if (!h->errbuf[0])
			snprintf(h->errbuf, sizeof(h->errbuf), "%s",
				 curl_easy_strerror(rc));
		return PT_EUNAVAIL;
	}
	return 0;
}

void cli_http_cleanup(void)
{
	if (curl)
		curl_easy_cleanup(curl);
	curl = NULL;
}

void cli_http_strerror(const struct cli_http *h, int err, struct pt_buf *out)
{
	pt_buf_reset(out);
	if (err == PT_EUNAVAIL && h->errbuf[0])
		pt_buf_adds(out, h->errbuf);
	else if (err == PT_ETOOBIG)
		pt_buf_adds(out, "reply too large");
	else
		pt_buf_adds(out, pt_strerror(err));
}

char *cli_http_header(const struct cli_http *h, const char *name)
{
	size_t nl = strlen(name);
	const char *p = h->hdrs.p, *end = p ? p + h->hdrs.n : NULL;

	while (p && p < end) {
		const char *eol = memchr(p, '\n', (size_t)(end - p));
		if (!eol)
			eol = end;
		if ((size_t)(eol - p) > nl && p[nl] == ':' &&
		    strncasecmp(p, name, nl) == 0) {
			const char *v = p + nl + 1, *ve = eol;
			while (v < ve && (*v == ' ' || *v == '\t'))
				v++;
			while (ve > v && (ve[-1] == ' ' || ve[-1] == '\t'))
				ve--;
			return xstrndup(v, (size_t)(ve - v));
		}
		p = eol + 1;
	}
	return NULL;
}

json_t *cli_http_json(const struct cli_http *h)
{
	json_t *j;

	if (!h->body.n)
		return NULL;
	j = json_loadb(h->body.p, h->body.n, 0, NULL);
	if (j && !json_is_object(j)) {
		json_decref(j);
		j = NULL;
	}
	return j;
}

const char *cli_json_str(const json_t *obj, const char *key)
{
	return json_string_value(json_object_get(obj, key));
}

void cli_print_json(const json_t *obj)
{
	char *s = json_dumps(obj, JSON_COMPACT);
	PT_ASSERT(s);
	puts(s);
	free(s);
}

static void cli_print_made(const struct cli_opts *o, const json_t *obj,
			   const char *what)
{
	if (o->json) {
		cli_print_json(obj);
		return;
	}
	puts(cli_json_str(obj, "url"));
	fprintf(stderr, "%s id: %s\n", what, cli_json_str(obj, "id"));
}

int cli_upload_perform(struct cli_http *h, const struct cli_opts *o,
		       const char *file, struct pt_buf *msg)
{
	int err = cli_http_perform(h, o);
	if (err && err > -4000) {
		/* a negative errno comes from reading the file */
		cli_err("cannot read '%s': %s", file, pt_strerror(err));
		return -1;
	}
	if (err) {
		cli_http_strerror(h, err, msg);
		cli_err("cannot upload '%s': %s", file, msg->p);
		return -1;
	}
	return 0;
}

/* The phrase for an HTTP status, from the engine's one status table. */
static const char *status_phrase(long status)
{
#define PT_X_PHRASE(name, code, http, msg)                              \
	if (status == http)                                             \
		return msg;
	PT_STATUS_MAP(PT_X_PHRASE)
#undef PT_X_PHRASE
	if (status / 100 == 3)
		return "unexpected redirect";
	if (status / 100 == 4)
		return "request refused";
	if (status / 100 == 5)
		return "server error";
	return "unexpected reply";
}

/* Append at most 200 bytes of s[0..n) that are printable on one line. */
static void add_oneline(struct pt_buf *out, const char *s, size_t n)
{
	size_t kept = 0;

	while (n > 0 && (*s == ' ' || *s == '\t'))
		s++, n--;
	for (size_t i = 0; i < n && kept < 200; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == '\n' || c == '\r')
			break;
		if (c < 0x20 || c == 0x7f)
			continue;
		pt_buf_add(out, &s[i], 1);
		kept++;
	}
	while (out->n > 0 && out->p[out->n - 1] == ' ')
		out->p[--out->n] = '\0';
}

void cli_http_reason(const struct cli_http *h, struct pt_buf *out)
{
	char *ct = cli_http_header(h, "Content-Type");
	json_t *j = NULL;

	pt_buf_reset(out);
	if (ct && strcasestr(ct, "json")) {
		/* "error" is the sentence; "reason" may be a code word */
		static const char *const keys[] = { "error", "message",
						    "reason" };
		j = cli_http_json(h);
		for (size_t i = 0; j && i < PT_ARRAY_LEN(keys); i++) {
			const char *s = cli_json_str(j, keys[i]);
			if (s) {
				add_oneline(out, s, strlen(s));
				break;
			}
		}
	} else if (ct && strncasecmp(ct, "text/plain", 10) == 0 && h->body.n) {
		add_oneline(out, h->body.p, h->body.n);
	}
	if (!out->n)
		pt_buf_adds(out, status_phrase(h->status));
	pt_buf_addf(out, " (HTTP %ld)", h->status);
	json_decref(j);
	free(ct);
}

unsigned cli_http_retry_after(const struct cli_http *h, unsigned dflt)
{
	char *v = cli_http_header(h, "Retry-After");
	uint64_t secs;
	int64_t when;
	unsigned ret = dflt;

	if (!v)
		return dflt;
	if (pt_parse_u64(v, strlen(v), &secs) == 0)
		ret = secs > 3600 ? 3600 : (unsigned)secs;
	else if (pt_http_date_parse(v, &when) == 0) {
		int64_t left = when - (int64_t)time(NULL);
		ret = left > 3600 ? 3600 : left > 0 ? (unsigned)left : 0;
	}
	free(v);
	return ret ? ret : 1;
}

/* ---- targets ---- */

/*
 * What a user may paste:
 *   AbCdEf123456                              id, server from --server
 *   https://host[/prefix]/AbCdEf123456        share URL (the page)
 *   https://host[/prefix]/AbCdEf123456/a.pdf  direct URL (the bytes)
 * The server is everything before the id's '/', so a share URL needs
 * no --server and a public_url with a path prefix still works.
 */
int cli_target_parse(const char *arg, const struct cli_opts *o,
		     struct cli_target *t)
{
	const char *s = strstr(arg, "://"), *path, *end;
	/* the last three segments' starts and lengths, oldest first */
	const char *seg[3] = { NULL, NULL, NULL };
	size_t len[3] = { 0, 0, 0 };
	int at;

	memset(t, 0, sizeof(*t));
	t->kind = "files";
	if (!s) {
		if (!id_valid(arg, strlen(arg)))
			return PT_EBADREQ;
		memcpy(t->id, arg, ID_LEN + 1);
		t->base = xstrdup(o->server);
		return 0;
	}
	path = s + 3 + strcspn(s + 3, "/?#");
	end = path + strcspn(path, "?#");
	for (const char *p = path; p < end;) {
		const char *q;
		p++; /* the '/' */
		q = p + strcspn(p, "/?#");
		if (q > end)
			q = end;
		if (q > p) {
			seg[0] = seg[1], len[0] = len[1];
			seg[1] = seg[2], len[1] = len[2];
			seg[2] = p, len[2] = (size_t)(q - p);
		}
		p = q;
	}
	/* /{id}, /{id}/{name}, /folder/{id}, /folder/{id}/{name}.zip */
	if (seg[2] && id_valid(seg[2], len[2]))
		at = 2;
	else if (seg[1] && id_valid(seg[1], len[1]))
		at = 1;
	else
		return PT_EBADREQ;
	memcpy(t->id, seg[at], ID_LEN);
	t->id[ID_LEN] = '\0';
	const char *cut = seg[at] - 1;
	if (at > 0 && seg[at - 1] && len[at - 1] == 6 &&
	    memcmp(seg[at - 1], "folder", 6) == 0) {
		t->kind = "folders";
		cut = seg[at - 1] - 1;
	}
	t->base = xstrndup(arg, (size_t)(cut - arg));
	if (at == 1)
		t->direct = xstrndup(arg, strcspn(arg, "#"));
	return 0;
}

void cli_target_release(struct cli_target *t)
{
	free(t->base);
	free(t->direct);
	memset(t, 0, sizeof(*t));
}

int cli_file_object(const struct cli_opts *o, const struct cli_target *t,
		    json_t **out, struct pt_buf *msg)
{
	struct cli_http h;
	char *url = xasprintf("%s/api/v1/%s/%s", t->base, t->kind, t->id);
	json_t *j = NULL;
	int err;

	*out = NULL;
	cli_http_init(&h, "GET", url);
	cli_http_add_header(&h, "Accept: application/json");
	err = cli_http_perform(&h, o);
	if (err) {
		cli_http_strerror(&h, err, msg);
		goto fail;
	}
	j = cli_http_json(&h);
	if (h.status == 200 && j) {
		*out = j;
		j = NULL;
	} else if (j) {
		/* a JSON error: the server's own verdict on this id */
		cli_http_reason(&h, msg);
		err = PT_EINTERNAL;
#define PT_X_FROM_HTTP(name, code, http, m)                             \
		if (h.status == http && err == PT_EINTERNAL)            \
			err = code;
		PT_STATUS_MAP(PT_X_FROM_HTTP)
#undef PT_X_FROM_HTTP
	} else {
		pt_buf_reset(msg);
		if (h.status == 200)
			pt_buf_adds(msg, "the reply is not a file object");
		else
			cli_http_reason(&h, msg);
		err = PT_EUNSUPPORTED;
	}
fail:
	json_decref(j);
	cli_http_release(&h);
	free(url);
	return err;
}

char *cli_url_resolve(const char *base, const char *ref)
{
	CURLU *u = curl_url();
	char *b = xasprintf("%s/", base), *got = NULL, *ret;

	PT_ASSERT(u);
	if (curl_url_set(u, CURLUPART_URL, b, 0) == CURLUE_OK &&
	    curl_url_set(u, CURLUPART_URL, ref, 0) == CURLUE_OK &&
	    curl_url_get(u, CURLUPART_URL, &got, 0) == CURLUE_OK)
		ret = xstrdup(got);
	else if (strstr(ref, "://"))
		ret = xstrdup(ref);
	else
		ret = xasprintf("%s/%s", base, ref[0] == '/' ? ref + 1 : ref);
	curl_free(got);
	curl_url_cleanup(u);
	free(b);
	return ret;
}

/* One call of the JSON API (cli.h). */
int cli_api_call(const struct cli_opts *o, const char *method,
		 const char *url, const json_t *body, json_t **rep,
		 long *status, struct pt_buf *msg)
{
	struct cli_http h;
	char *data = NULL;
	int err, ret = -1;

	if (rep)
		*rep = NULL;
	*status = 0;
	cli_http_init(&h, method, url);
	if (body) {
		data = json_dumps(body, JSON_COMPACT);
		PT_ASSERT(data);
		h.in_data = data;
		h.in_len = strlen(data);
		cli_http_add_header(&h, "Content-Type: application/json");
	}
	cli_http_add_header(&h, "Accept: application/json");
	err = cli_http_perform(&h, o);
	if (err) {
		cli_http_strerror(&h, err, msg);
		goto fail;
	}
	*status = h.status;
	if (h.status / 100 != 2) {
		cli_http_reason(&h, msg);
		goto fail;
	}
	if (rep)
		*rep = cli_http_json(&h);
	ret = 0;
fail:
	cli_http_release(&h);
	free(data);
	return ret;
}

/* cli_api_call, then "cannot WHAT: reason" on a failure */
static int api_do(const struct cli_opts *o, const char *method,
		  const char *url, const json_t *body, json_t **rep,
		  const char *what)
{
	struct pt_buf msg;
	long status;
	int ret;

	pt_buf_init(&msg, 4096);
	ret = cli_api_call(o, method, url, body, rep, &status, &msg);
	if (ret)
		cli_err("cannot %s: %s", what, msg.p);
	pt_buf_release(&msg);
	return ret;
}

int cli_api_do(const struct cli_opts *o, const char *method, const char *url,
	       const json_t *body, json_t **rep, const char *fmt, ...)
{
	char what[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	return api_do(o, method, url, body, rep, what);
}

int cli_api_make(const struct cli_opts *o, const char *url,
		 const json_t *req, const char *kind, const char *fmt, ...)
{
	char what[1024];
	json_t *rep;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	if (api_do(o, "POST", url, req, &rep, what))
		return -1;
	if (!cli_json_str(rep, "url")) {
		cli_err("cannot %s: the reply is not a %s", what, kind);
		json_decref(rep);
		return -1;
	}
	cli_print_made(o, rep, kind);
	json_decref(rep);
	return 0;
}
