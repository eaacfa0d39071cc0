/*
 * reply.c — queueing responses, and errors in the client's format.
 */
#define _GNU_SOURCE
#include "reply.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "../util/buf.h"
#include "../util/banned.h"

/* A 503 is an outage of something we depend on (the metadata or the
 * object store): say when to come back, unless the handler did.  A few
 * seconds: the database driver reconnects once a second, and clients
 * retrying sooner only add load to a node that is already failing. */
#define RETRY_AFTER_503 "5"

int reply_queue(struct pt_req *r, int status, struct MHD_Response *resp)
{
	enum MHD_Result ok;
	bool retry_after = false;

	PT_ASSERT(!r->responded);
	r->responded = true;
	r->status = status;
	MHD_add_response_header(resp, "Server", "partage");
	for (struct reply_header *h = r->extra; h; h = h->next) {
		MHD_add_response_header(resp, h->name, h->value);
		if (!strcasecmp(h->name, "Retry-After"))
			retry_after = true;
	}
	if (status == 503 && !retry_after)
		MHD_add_response_header(resp, "Retry-After", RETRY_AFTER_503);
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
		MHD_add_response_header(resp, "Allow", allow);
	}
	ok = MHD_queue_response(r->conn, (unsigned)status, resp);
	if (ok == MHD_NO && r->in_body) {
		/* MHD takes responses only at the first and the last call:
		 * keep it for the last one (server.c) */
		r->parked = resp;
		r->parked_status = status;
		return MHD_YES;
	}
	MHD_destroy_response(resp);
	return ok;
}

static int reply_buffer(struct pt_req *r, int status, const char *type,
			const void *body, size_t n)
{
	struct MHD_Response *resp = MHD_create_response_from_buffer(
		n, (void *)body, MHD_RESPMEM_MUST_COPY);
	if (!resp)
		abort();
	MHD_add_response_header(resp, "Content-Type", type);
	MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
	return reply_queue(r, status, resp);
}

int reply_text(struct pt_req *r, int status, const char *body)
{
	return reply_buffer(r, status, "text/plain; charset=utf-8", body,
			    strlen(body));
}

int reply_html(struct pt_req *r, int status, const char *body, size_t n)
{
	struct MHD_Response *resp = MHD_create_response_from_buffer(
		n, (void *)body, MHD_RESPMEM_MUST_COPY);
	if (!resp)
		abort();
	MHD_add_response_header(resp, "Content-Type", "text/html; charset=utf-8");
	MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
	MHD_add_response_header(resp, "X-Frame-Options", "DENY");
	MHD_add_response_header(
		resp, "Content-Security-Policy",
		"default-src 'self'; img-src 'self' data:; "
		"frame-ancestors 'none'; base-uri 'none'; form-action 'self'");
	MHD_add_response_header(resp, "Referrer-Policy", "no-referrer");
	return reply_queue(r, status, resp);
}

int reply_json(struct pt_req *r, int status, json_t *obj)
{
	char *s = json_dumps(obj, JSON_COMPACT);
	json_decref(obj);
	if (!s)
		abort();
	size_t n = strlen(s);
	s = realloc(s, n + 2);
	if (!s)
		abort();
	s[n] = '\n';
	s[n + 1] = '\0';
	int rc = reply_buffer(r, status, "application/json", s, n + 1);
	free(s);
	return rc;
}

int reply_empty(struct pt_req *r, int status)
{
	struct MHD_Response *resp =
		MHD_create_response_from_buffer(0, NULL, MHD_RESPMEM_PERSISTENT);
	if (!resp)
		abort();
	return reply_queue(r, status, resp);
}

int html_escape(struct pt_buf *out, const char *s)
{
	int err = 0;
	for (; *s && !err; s++) {
		switch (*s) {
		case '&': err = pt_buf_adds(out, "&amp;"); break;
		case '<': err = pt_buf_adds(out, "&lt;"); break;
		case '>': err = pt_buf_adds(out, "&gt;"); break;
		case '"': err = pt_buf_adds(out, "&quot;"); break;
		case '\'': err = pt_buf_adds(out, "&#39;"); break;
		default: err = pt_buf_add(out, s, 1);
		}
	}
	return err;
}

int reply_error(struct pt_req *r, int err, const char *reason,
		const char *fmt, ...)
{
	int status = pt_http_status(err);
	char msg[512];
	va_list ap;
	int rc;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	/* one line, always: a name quoted in a message must not break it */
	for (char *p = msg; *p; p++)
		if ((unsigned char)*p < 0x20)
			*p = ' ';

	if (req_accepts(r, "application/json")) {
		json_t *o = json_pack("{s:s, s:i}", "error", msg, "status",
				      status);
		if (reason)
			json_object_set_new(o, "reason", json_string(reason));
		return reply_json(r, status, o);
	}
	if (req_accepts(r, "text/html")) {
		struct pt_buf b;
		pt_buf_init(&b, 1 << 16);
		pt_buf_addf(&b,
			    "<!doctype html><html><head><meta charset=utf-8>"
			    "<title>%d</title><link rel=stylesheet "
			    "href=\"/static/style.css\"></head><body>"
			    "<header><a class=brand href=\"/\">partage</a>"
			    "</header><main>"
			    "<h1>%d</h1><p class=error>",
			    status, status);
		html_escape(&b, msg);
		pt_buf_adds(&b, "</p><p><a href=\"/\">partage</a></p>"
				"</main></body></html>\n");
		rc = reply_html(r, status, b.p, b.n);
		pt_buf_release(&b);
		return rc;
	}
	size_t n = strlen(msg);
	if (n < sizeof(msg) - 1) {
		msg[n] = '\n';
		msg[n + 1] = '\0';
	}
	return reply_text(r, status, msg);
}
