/*
 * reply.c — queueing responses, and errors in the client's format.
 */
#define _GNU_SOURCE
#include "reply.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "../util/buf.h"
#include "../util/text.h"
#include "../util/utf8.h"
#include "../util/banned.h"

/* A 503 is an outage of something we depend on (the metadata or the
 * object store): say when to come back, unless the handler did.  A few
 * seconds: the database driver reconnects once a second, and clients
 * retrying sooner only add load to a node that is already failing. */
#define RETRY_AFTER_503 "5"

static struct resp *resp_alloc(enum resp_kind kind)
{
	struct resp *resp = xcalloc(1, sizeof(*resp));
	resp->kind = kind;
	resp->tail = &resp->headers;
	resp->fd = -1;
	return resp;
}

struct resp *resp_new(const void *data, size_t n, enum resp_mem mem)
{
	struct resp *resp = resp_alloc(RESP_MEM);
	resp->n = n;
	resp->data = data;
	resp->owned = mem == RESP_FREE;
	if (mem == RESP_COPY && n) {
		void *copy = xmalloc(n);
		memcpy(copy, data, n);
		resp->data = copy;
		resp->owned = true;
	}
	return resp;
}

struct resp *resp_file(int fd, uint64_t off, uint64_t len)
{
	struct resp *resp = resp_alloc(RESP_FILE);
	resp->fd = fd;
	resp->off = off;
	resp->len = len;
	return resp;
}

struct resp *resp_stream(uint64_t size, size_t block, resp_pull_fn pull,
			 void *cls, void (*done)(void *cls))
{
	struct resp *resp = resp_alloc(RESP_PULL);
	resp->size = size;
	resp->block = block;
	resp->pull = pull;
	resp->cls = cls;
	resp->done = done;
	return resp;
}

void resp_header(struct resp *resp, const char *name, const char *value)
{
	size_t nl = strlen(name), vl = strlen(value);
	struct resp_hdr *h = xmalloc(sizeof(*h) + nl + vl + 2);
	memcpy(h->name, name, nl + 1);
	h->value = h->name + nl + 1;
	memcpy(h->value, value, vl + 1);
	h->next = NULL;
	*resp->tail = h;
	resp->tail = &h->next;
	resp->header_bytes += nl + vl + 4; /* ": " CRLF */
}

uint64_t resp_header_bytes(const struct resp *resp)
{
	return resp->header_bytes;
}

void resp_free(struct resp *resp)
{
	if (!resp)
		return;
	for (struct resp_hdr *h = resp->headers, *next; h; h = next) {
		next = h->next;
		free(h);
	}
	if (resp->kind == RESP_MEM && resp->owned)
		free((void *)resp->data);
	if (resp->kind == RESP_FILE && resp->fd >= 0)
		close(resp->fd);
	if (resp->kind == RESP_PULL && resp->done)
		resp->done(resp->cls);
	free(resp);
}

req_res reply_queue(struct pt_req *r, int status, struct resp *resp)
{
	bool retry_after = false;

	PT_ASSERT(!r->responded);
	r->responded = true;
	r->status = status;
	resp_header(resp, "Server", "partage");
	for (struct reply_header *h = r->extra; h; h = h->next) {
		resp_header(resp, h->name, h->value);
		if (!strcasecmp(h->name, "Retry-After"))
			retry_after = true;
	}
	if (status == 503 && !retry_after)
		resp_header(resp, "Retry-After", RETRY_AFTER_503);
	if (status == 405 && r->allow) {
		static const char *const names[] = { "GET", "HEAD", "POST",
						     "PUT", "DELETE", "PATCH",
						     "OPTIONS" };
		char allow[64] = "";
		size_t n = 0;
		for (unsigned i = 0; i < PT_ARRAY_LEN(names); i++)
			if (r->allow & (1u << i))
				n += (size_t)snprintf(allow + n,
						      sizeof(allow) - n, "%s%s",
						      n ? ", " : "", names[i]);
		resp_header(resp, "Allow", allow);
	}
	return r->ops->queue(r, status, resp);
}

static req_res reply_buffer(struct pt_req *r, int status, const char *type,
			    const void *body, size_t n)
{
	struct resp *resp = resp_new(body, n, RESP_COPY);
	resp_header(resp, "Content-Type", type);
	resp_header(resp, "X-Content-Type-Options", "nosniff");
	return reply_queue(r, status, resp);
}

req_res reply_text(struct pt_req *r, int status, const char *body)
{
	return reply_buffer(r, status, "text/plain; charset=utf-8", body,
			    strlen(body));
}

req_res reply_html(struct pt_req *r, int status, const char *body, size_t n)
{
	struct resp *resp = resp_new(body, n, RESP_COPY);
	resp_header(resp, "Content-Type", "text/html; charset=utf-8");
	resp_header(resp, "X-Content-Type-Options", "nosniff");
	resp_header(resp, "X-Frame-Options", "DENY");
	resp_header(
		resp, "Content-Security-Policy",
		"default-src 'self'; img-src 'self' data:; "
		"frame-ancestors 'none'; base-uri 'none'; form-action 'self'");
	resp_header(resp, "Referrer-Policy", "no-referrer");
	return reply_queue(r, status, resp);
}

/* What a reply whose JSON could not be encoded says instead.  Built from
 * text made valid first, the encoder has no reason to refuse anything:
 * reaching this is a bug, answered and logged, never an abort. */
static const char json_failed[] =
	"{\"error\":\"internal error: the reply could not be encoded\","
	"\"status\":500}\n";

req_res reply_json(struct pt_req *r, int status, json_t *obj)
{
	char *s = obj ? json_dumps(obj, JSON_COMPACT) : NULL;
	json_decref(obj);
	if (!s) {
		pt_log("reply: cannot encode the JSON reply to %s '%.200s' "
		       "(status %d): answering 500",
		       r->method_name, r->raw_path ? r->raw_path : "",
		       status);
		return reply_buffer(r, 500, "application/json", json_failed,
				    sizeof(json_failed) - 1);
	}
	size_t n = strlen(s);
	s = xrealloc(s, n + 2);
	s[n] = '\n';
	s[n + 1] = '\0';
	req_res rc = reply_buffer(r, status, "application/json", s, n + 1);
	free(s);
	return rc;
}

json_t *reply_jtext(const char *s)
{
	size_t n = s ? strlen(s) : 0;
	if (!s)
		return json_string("");
	if (!utf8_check(s, n, 0, NULL))
		return json_stringn(s, n);
	struct pt_buf b;
	pt_buf_init(&b, 4 * n + 1);
	text_escape_buf(&b, s, n, 0);
	json_t *j = json_stringn(b.p ? b.p : "", b.n);
	pt_buf_release(&b);
	return j;
}

req_res reply_empty(struct pt_req *r, int status)
{
	return reply_queue(r, status, resp_new(NULL, 0, RESP_STATIC));
}

int html_escape(struct pt_buf *out, const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t n = strlen(s);
	int err = 0;

	for (size_t i = 0; i < n && !err;) {
		uint32_t c;
		size_t l = utf8_decode(p + i, n - i, &c);
		if (l == 0 || (c < 0x20 && c != '\t' && c != '\n' &&
			       c != '\r') || c == 0x7f) {
			/* the page stays valid UTF-8 without controls */
			err = pt_buf_adds(out, "\xef\xbf\xbd"); /* U+FFFD */
			i += l ? l : 1;
			continue;
		}
		switch (c) {
		case '&': err = pt_buf_adds(out, "&amp;"); break;
		case '<': err = pt_buf_adds(out, "&lt;"); break;
		case '>': err = pt_buf_adds(out, "&gt;"); break;
		case '"': err = pt_buf_adds(out, "&quot;"); break;
		case '\'': err = pt_buf_adds(out, "&#39;"); break;
		default: err = pt_buf_add(out, p + i, l);
		}
		i += l;
	}
	return err;
}

int reply_error_body(struct pt_buf *out, enum reply_format f, int status,
		     const char *message, const char *reason)
{
	char msg[REPLY_MSG_MAX], why[REPLY_REASON_MAX];
	int err = 0;

	/* one line of valid UTF-8, whatever the bytes: a name or a path
	 * quoted in a message can neither break it nor the encoders */
	text_escape(msg, sizeof(msg), message, message ? strlen(message) : 0,
		    0);
	if (reason)
		text_escape(why, sizeof(why), reason, strlen(reason), 0);
	if (f == REPLY_JSON) {
		json_t *o = json_pack("{s:s, s:i}", "error", msg, "status",
				      status);
		if (o && reason)
			json_object_set_new(o, "reason", json_string(why));
		char *s = o ? json_dumps(o, JSON_COMPACT) : NULL;
		json_decref(o);
		if (!s) /* cannot happen: both strings are valid */
			return pt_buf_adds(out, json_failed);
		err = pt_buf_adds(out, s);
		free(s);
		return err ? err : pt_buf_adds(out, "\n");
	}
	if (f == REPLY_HTML) {
		err = pt_buf_addf(out,
				  "<!doctype html><html><head><meta "
				  "charset=utf-8><meta name=viewport "
				  "content=\"width=device-width, "
				  "initial-scale=1\"><title>%d</title><link "
				  "rel=stylesheet href=\"/static/style.css\">"
				  "</head><body><header><a class=brand "
				  "href=\"/\">partage</a></header><main>"
				  "<h1>%d</h1><p class=error>",
				  status, status);
		if (!err)
			err = html_escape(out, msg);
		if (!err)
			err = pt_buf_adds(out, "</p><p><a href=\"/\">partage"
					       "</a></p></main></body></html>"
					       "\n");
		return err;
	}
	err = pt_buf_adds(out, msg);
	return err ? err : pt_buf_adds(out, "\n");
}

reply_html_error_fn reply_html_error_hook;

req_res reply_error(struct pt_req *r, int err, const char *reason,
		    const char *fmt, ...)
{
	int status = pt_http_status(err);
	/* longer than any message kept: text_escape never reads past the
	 * first REPLY_MSG_MAX - 1 bytes, so vsnprintf's cut is never seen */
	char raw[2 * REPLY_MSG_MAX];
	enum reply_format f = req_accepts(r, "application/json") ? REPLY_JSON
			      : req_accepts(r, "text/html")      ? REPLY_HTML
								 : REPLY_TEXT;
	struct pt_buf b;
	va_list ap;
	req_res rc;

	va_start(ap, fmt);
	vsnprintf(raw, sizeof(raw), fmt, ap);
	va_end(ap);
	if (f == REPLY_HTML && reply_html_error_hook)
		return reply_html_error_hook(r, status, raw);
	pt_buf_init(&b, 1 << 16);
	reply_error_body(&b, f, status, raw, reason);
	if (f == REPLY_JSON)
		rc = reply_buffer(r, status, "application/json", b.p, b.n);
	else if (f == REPLY_HTML)
		rc = reply_html(r, status, b.p, b.n);
	else
		rc = reply_buffer(r, status, "text/plain; charset=utf-8", b.p,
				  b.n);
	pt_buf_release(&b);
	return rc;
}
