/*
 * ev_conn.c — a connection of the event engine (engine_ev.c says how it
 * runs): reading and parsing request heads (h1.h), handing bodies to the
 * handlers, and writing responses from memory (writev), files (sendfile)
 * and pull callbacks, chunked when their length is unknown.
 */
#define _GNU_SOURCE
#include "ev_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "../util/banned.h"

/* ---- the response ---- */

static const char *reason_phrase(int status)
{
	switch (status) {
	case 100: return "Continue";
	case 200: return "OK";
	case 201: return "Created";
	case 202: return "Accepted";
	case 204: return "No Content";
	case 206: return "Partial Content";
	case 301: return "Moved Permanently";
	case 302: return "Found";
	case 303: return "See Other";
	case 304: return "Not Modified";
	case 307: return "Temporary Redirect";
	case 308: return "Permanent Redirect";
	case 400: return "Bad Request";
	case 401: return "Unauthorized";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 406: return "Not Acceptable";
	case 408: return "Request Timeout";
	case 409: return "Conflict";
	case 410: return "Gone";
	case 411: return "Length Required";
	case 412: return "Precondition Failed";
	case 413: return "Content Too Large";
	case 414: return "URI Too Long";
	case 415: return "Unsupported Media Type";
	case 416: return "Range Not Satisfiable";
	case 417: return "Expectation Failed";
	case 422: return "Unprocessable Content";
	case 423: return "Locked";
	case 428: return "Precondition Required";
	case 429: return "Too Many Requests";
	case 431: return "Request Header Fields Too Large";
	case 451: return "Unavailable For Legal Reasons";
	case 460: return "Checksum Mismatch";
	case 500: return "Internal Server Error";
	case 501: return "Not Implemented";
	case 503: return "Service Unavailable";
	case 505: return "HTTP Version Not Supported";
	case 507: return "Insufficient Storage";
	}
	return "Unknown";
}

/* The Date header's value, made once a second per thread. */
static const char *http_date_now(void)
{
	static __thread char date[32];
	static __thread time_t at;
	time_t now = time(NULL);
	if (now != at) {
		pt_http_date(now, date);
		at = now;
	}
	return date;
}

static uint64_t body_size(const struct resp *resp)
{
	switch (resp->kind) {
	case RESP_MEM:
		return resp->n;
	case RESP_FILE:
		return resp->len;
	case RESP_PULL:
		return resp->size;
	}
	return 0;
}

/* Build the status line and headers of c->resp into c->out. */
static void build_head(struct conn *c)
{
	struct pt_req *r = c->r;
	struct resp *resp = c->resp;
	bool no_body = c->status == 204 || c->status == 304 ||
		       c->status < 200;
	uint64_t size = body_size(resp);
	size_t cap = 160 + resp->header_bytes + 64;
	char *p = pt_palloc(r->pool, cap);
	size_t n = 0;

	c->chunked_out = false;
	if (size == RESP_SIZE_UNKNOWN && !no_body) {
		if (c->h.version >= 11)
			c->chunked_out = true;
		else
			c->close_after = true; /* the close ends the body */
	}
	if (c->close_after || c->body_unread || !c->h.keep_alive ||
	    __atomic_load_n(&c->el->ev->s->draining, __ATOMIC_RELAXED))
		c->keep_alive = false;
	else
		c->keep_alive = true;
	n += (size_t)snprintf(p + n, cap - n, "HTTP/1.1 %d %s\r\nDate: %s\r\n",
			      c->status, reason_phrase(c->status),
			      http_date_now());
	for (struct resp_hdr *h = resp->headers; h; h = h->next) {
		size_t nl = strlen(h->name), vl = strlen(h->value);
		if (n + nl + vl + 4 >= cap)
			break; /* cannot happen: cap counts them */
		memcpy(p + n, h->name, nl);
		n += nl;
		p[n++] = ':';
		p[n++] = ' ';
		memcpy(p + n, h->value, vl);
		n += vl;
		p[n++] = '\r';
		p[n++] = '\n';
	}
	if (c->chunked_out)
		n += (size_t)snprintf(p + n, cap - n,
				      "Transfer-Encoding: chunked\r\n");
	else if (!no_body && size != RESP_SIZE_UNKNOWN)
		n += (size_t)snprintf(p + n, cap - n,
				      "Content-Length: %llu\r\n",
				      (unsigned long long)size);
	if (!c->keep_alive)
		n += (size_t)snprintf(p + n, cap - n, "Connection: close\r\n");
	n += (size_t)snprintf(p + n, cap - n, "\r\n");
	c->out = p;
	c->out_len = n;
	r->head_bytes = n;
	c->out_off = 0;
	c->body_off = 0;
	c->body_len = no_body || c->head_only ? 0 : size;
	if (no_body || c->head_only)
		c->chunked_out = false;
	c->pull_end = false;
	c->p_off = c->p_len = 0;
}

/* ---- connections ---- */

void ev_arm_idle(struct conn *c)
{
	struct server *s = c->el->ev->s;
	c->last_ns = loop_now(c->el->l);
	if (s->cfg.timeout_seconds && !timer_armed(&c->timer))
		timer_arm(loop_timers(c->el->l), &c->timer,
			  c->last_ns + s->cfg.timeout_seconds * 1000000000ull);
}

/* Free the read buffer when it holds nothing: an idle or capped
 * connection keeps no 64 KiB. */
static void in_release(struct conn *c)
{
	if (c->in && c->off == c->len) {
		free(c->in);
		c->in = NULL;
		c->off = c->len = 0;
	}
}

/* Read what the socket has into `in`, after moving the unconsumed bytes
 * to its start.  1: bytes came; 0: nothing now (or `in` is full); -1:
 * the peer closed or failed. */
static int conn_read(struct conn *c)
{
	if (!c->readable)
		return 0;
	if (!c->in) {
		c->in = xmalloc(IN_SIZE);
		c->off = c->len = 0;
	} else if (c->off) {
		memmove(c->in, c->in + c->off, c->len - c->off);
		c->len -= c->off;
		c->off = 0;
	}
	if (c->len == IN_SIZE)
		return 0;
	size_t room = IN_SIZE - c->len;
	ssize_t k = read(c->fd, c->in + c->len, room);
	if (k > 0) {
		c->len += (size_t)k;
		c->last_ns = loop_now(c->el->l);
		/* less than asked for: the socket had no more, and what comes
		 * next is a new edge (EPOLLET), so the read that would only
		 * say EAGAIN is saved (one system call per request); not once
		 * the peer's FIN is in: no edge is left to tell its EOF */
		if ((size_t)k < room && !c->rdhup)
			c->readable = false;
		return 1;
	}
	if (k < 0 && (errno == EAGAIN || errno == EINTR)) {
		c->readable = false;
		return 0;
	}
	return -1;
}

/* Close the socket and leave the struct to be freed (ev_conn_free) by the
 * callback that got here. */
void ev_request_end(struct conn *c, bool ok)
{
	struct pt_req *r = c->r;
	if (c->resp) {
		resp_free(c->resp);
		c->resp = NULL;
	}
	free(c->pbuf);
	c->pbuf = NULL;
	c->pbuf_cap = 0;
	c->r = NULL;
	c->names = c->values = c->tnames = c->tvalues = NULL;
	c->nheaders = c->ntrailers = 0;
	c->target = NULL;
	if (r)
		server_complete(c->el->ev->s, r, ok);
}

/* Cut the connection; a request in flight ends with ok = false, unless
 * work for it is still out (a pause or a suspension: its post will come
 * and end it then, since the waker holds the request). */
void ev_conn_abort(struct conn *c)
{
	if (c->paused) {
		c->peer_gone = true;
		return;
	}
	ev_request_end(c, false);
	ev_conn_close(c);
}

/* Keep the connection for the next request, or close it with the
 * lingering close after an answer that ends it. */
static void conn_next(struct conn *c)
{
	if (!c->keep_alive || c->peer_gone) {
		if (c->peer_gone) {
			ev_conn_close(c);
			return;
		}
		shutdown(c->fd, SHUT_WR);
		c->state = C_LINGER;
		c->linger_until = loop_now(c->el->l) + LINGER_NS;
		timer_cancel(loop_timers(c->el->l), &c->timer);
		timer_arm(loop_timers(c->el->l), &c->timer,
			  loop_now(c->el->l) + LINGER_IDLE_NS);
		return;
	}
	c->state = C_HEAD;
	c->close_after = c->body_unread = false;
	c->drained = 0;
	h1_request_init(&c->h, c->hslots, MAX_HEADERS, MAX_HEAD);
	in_release(c);
	ev_arm_idle(c);
}

/* A head we cannot hand to a handler: its refusal, one line, through
 * the usual path (the access log, the metrics), then the close. */
static void refuse(struct conn *c, int status, const char *reason)
{
	struct server *s = c->el->ev->s;
	struct pt_req *r = xcalloc(1, sizeof(*r));
	char body[256];

	server_req_init(s, r, &ev_ops, c, "-");
	server_client_address(s, r, c->peer, NULL);
	c->r = r;
	/* for the log (which escapes them): the method and target of the
	 * request line as far as they go, at most 1 KiB */
	if (c->in && c->off < c->len) {
		const char *line = c->in + c->off;
		size_t n = c->len - c->off, i = 0;
		while (i < n && (line[i] == '\r' || line[i] == '\n'))
			i++;
		size_t m0 = i;
		while (i < n && line[i] != ' ' && line[i] != '\n' && i - m0 < 64)
			i++;
		if (i > m0)
			r->method_name = pt_pstrndup(r->pool, line + m0, i - m0);
		if (i < n && line[i] == ' ') {
			size_t t0 = ++i;
			while (i < n && line[i] != ' ' && line[i] != '\r' &&
			       line[i] != '\n' && i - t0 < 1024)
				i++;
			r->raw_path = pt_pstrndup(r->pool, line + t0, i - t0);
		}
	}
	int n = snprintf(body, sizeof(body), "%s: %s\n",
			 reason_phrase(status), reason);
	struct resp *resp = resp_new(body, n > 0 && (size_t)n < sizeof(body)
						   ? (size_t)n
						   : strlen(body),
				     RESP_COPY);
	resp_header(resp, "Content-Type", "text/plain; charset=utf-8");
	resp_header(resp, "X-Content-Type-Options", "nosniff");
	reply_queue(r, status, resp);
	c->close_after = true;
	c->head_only = false;
	if (c->in)
		c->off = c->len; /* nothing after a broken head is read */
	c->state = C_SEND;
	build_head(c);
}

/* Every X-Forwarded-For value, joined with ", " in order. */
static const char *xff_joined(struct conn *c, struct pt_req *r)
{
	const char *joined = NULL;
	for (size_t i = 0; i < c->nheaders; i++) {
		if (strcasecmp(c->names[i], "X-Forwarded-For") != 0)
			continue;
		joined = joined ? pt_psprintf(r->pool, "%s, %s", joined,
					      c->values[i])
				: c->values[i];
	}
	return joined;
}

/* The handler (or on_end, or a resumed run) returned rc. */
void ev_after_handler(struct conn *c, req_res rc)
{
	struct pt_req *r = c->r;
	if (!req_res_ok(rc)) {
		ev_conn_abort(c);
		return;
	}
	if (r->suspended) {
		c->state = C_WAIT;
		c->paused = true;
		return;
	}
	if (!r->responded) /* cannot happen: server_end replies */
		reply_error(r, PT_EINTERNAL, NULL, "internal error: no reply");
	c->state = C_SEND;
	build_head(c);
}

/* The body is in (or there was none): on_end, or the reply made early. */
static void body_end(struct conn *c)
{
	struct pt_req *r = c->r;
	if (r->responded) {
		c->state = C_SEND;
		build_head(c);
		return;
	}
	r->may_suspend = true;
	req_res rc = server_end(c->el->ev->s, r);
	r->may_suspend = false;
	ev_after_handler(c, rc);
}

static void start_request(struct conn *c)
{
	struct server *s = c->el->ev->s;
	struct h1_request *h = &c->h;
	char *base = c->in + c->off;
	struct pt_req *r = xcalloc(1, sizeof(*r));
	char *head;

	/* the method as a C string for a moment (a space follows it) */
	char save = base[h->method.off + h->method.len];
	base[h->method.off + h->method.len] = '\0';
	server_req_init(s, r, &ev_ops, c, base + h->method.off);
	base[h->method.off + h->method.len] = save;
	c->r = r;

	/* the head, as C strings in the request's pool */
	head = pt_palloc(r->pool, h->head_len + 1);
	memcpy(head, base, h->head_len);
	head[h->head_len] = '\0';
	c->names = pt_palloc(r->pool, (h->nheaders + 1) * sizeof(char *));
	c->values = pt_palloc(r->pool, (h->nheaders + 1) * sizeof(char *));
	for (size_t i = 0; i < h->nheaders; i++) {
		const struct h1_header *x = &h->headers[i];
		head[x->name.off + x->name.len] = '\0';
		head[x->value.off + x->value.len] = '\0';
		c->names[i] = head + x->name.off;
		c->values[i] = head + x->value.off;
	}
	c->nheaders = h->nheaders;
	c->target = pt_pstrndup(r->pool, base + h->target.off, h->target.len);
	/* origin-form as it is; absolute-form by its path and query */
	const char *url = c->target;
	if (h->absolute_form)
		url = pt_psprintf(r->pool, "%.*s%s%.*s",
				  h->path.len ? (int)h->path.len : 1,
				  h->path.len ? base + h->path.off : "/",
				  h->has_query ? "?" : "", (int)h->query.len,
				  base + h->query.off);
	c->head_only = h1_span_eq(base, h->method, "HEAD");
	server_client_address(s, r, c->peer, s->trusted.n ? xff_joined(c, r)
							   : NULL);
	c->off += h->head_len;

	bool body = h->body == H1_BODY_CHUNKED ||
		    (h->body == H1_BODY_FIXED && h->content_length > 0);
	if (!body) {
		r->in_body = true;
		r->may_suspend = true;
		req_res rc = server_dispatch(s, r, url);
		if (req_res_ok(rc) && !r->responded && !r->suspended)
			rc = server_end(s, r);
		r->may_suspend = false;
		ev_after_handler(c, rc);
		return;
	}
	if (h->body == H1_BODY_FIXED)
		c->body_left = h->content_length;
	else
		h1_chunked_init(&c->ch, c->tslots, MAX_TRAILERS,
				H1_TRAILER_DEFAULT, H1_CHUNK_LINE_DEFAULT);
	req_res rc = server_dispatch(s, r, url);
	r->in_body = true;
	if (!req_res_ok(rc)) {
		ev_conn_abort(c);
		return;
	}
	if (r->responded) {
		/* refused before its body (401, 413, ...): answer now and
		 * close, the body unread */
		c->body_unread = true;
		c->state = C_SEND;
		build_head(c);
		return;
	}
	if (h->expect_continue) {
		static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
		memcpy(c->cont, cont, sizeof(cont) - 1);
		c->cont_len = sizeof(cont) - 1;
		c->cont_off = 0;
	}
	c->state = C_BODY;
}

/* Body bytes for the handler, or dropped after an early reply. */
static void deliver(struct conn *c, const char *p, size_t n)
{
	struct pt_req *r = c->r;
	r->bytes_in += n;
	if (r->responded) {
		c->drained += n;
		return;
	}
	if (r->on_body)
		r->on_body(r, p, n);
}

static void take_trailers(struct conn *c, const char *base)
{
	struct pt_req *r = c->r;
	size_t n = c->ch.ntrailers;
	c->tnames = pt_palloc(r->pool, (n + 1) * sizeof(char *));
	c->tvalues = pt_palloc(r->pool, (n + 1) * sizeof(char *));
	for (size_t i = 0; i < n; i++) {
		const struct h1_header *x = &c->tslots[i];
		c->tnames[i] = pt_pstrndup(r->pool, base + x->name.off,
					   x->name.len);
		c->tvalues[i] = pt_pstrndup(r->pool, base + x->value.off,
					    x->value.len);
	}
	c->ntrailers = n;
}

/* Hand over the body bytes in `in`.  Moves to another state when the
 * body is complete or broken. */
static void feed_body(struct conn *c)
{
	struct pt_req *r = c->r;
	bool done = c->h.body == H1_BODY_FIXED && c->body_left == 0;
	while (!done && c->state == C_BODY && c->in && c->off < c->len) {
		char *base = c->in + c->off;
		size_t avail = c->len - c->off;
		if (c->h.body == H1_BODY_FIXED) {
			size_t n = avail < c->body_left ? avail
							: (size_t)c->body_left;
			deliver(c, base, n);
			c->off += n;
			c->body_left -= n;
			done = c->body_left == 0;
			continue;
		}
		size_t used = 0;
		struct h1_span d;
		enum h1_result rc = h1_chunked_next(&c->ch, base, avail, &used,
						    &d);
		if (rc == H1_DATA) {
			deliver(c, base + d.off, d.len);
			c->off += used;
			continue;
		}
		if (rc == H1_AGAIN) {
			c->off += used;
			break;
		}
		if (rc == H1_DONE) {
			take_trailers(c, base);
			c->off += used;
			done = true;
			break;
		}
		/* a broken chunked body: say so, and close */
		if (!r->responded)
			reply_error(r, PT_EBADREQ, NULL, "bad request: %s",
				    c->ch.reason);
		c->body_unread = true;
		c->state = C_SEND;
		build_head(c);
		return;
	}
	if (c->state != C_BODY)
		return;
	if (c->drained > DRAIN_MAX) {
		/* a client that keeps sending after its refusal */
		ev_conn_abort(c);
		return;
	}
	if (done)
		body_end(c);
}

/* Account for k bytes written of head (first) and then body. */
static void wrote(struct conn *c, size_t k)
{
	size_t h = c->out_len - c->out_off;
	if (k <= h) {
		c->out_off += k;
		return;
	}
	c->out_off = c->out_len;
	c->body_off += k - h;
}

/* A write that failed: 0 when it is only "not now" (the socket is full),
 * -1 when the connection is gone. */
static int write_failed(struct conn *c)
{
	if (errno == EAGAIN || errno == EINTR) {
		if (errno == EAGAIN)
			c->writable = false;
		return 0;
	}
	return -1;
}

/* Pull the next piece of a pulled body into pbuf (framed as a chunk when
 * the body is chunked).  1: bytes to write; 0: paused (or nothing yet);
 * 2: the body is over; -1: the stream failed. */
static int pull_next(struct conn *c)
{
	struct resp *resp = c->resp;
	size_t max = resp->block && resp->block < PULL_MAX ? resp->block
							  : PULL_MAX;
	if (!c->chunked_out && c->body_len - c->body_off < max)
		max = (size_t)(c->body_len - c->body_off);
	if (!c->pbuf) {
		c->pbuf_cap = max + 32;
		c->pbuf = xmalloc(c->pbuf_cap);
	}
	char *at = c->pbuf + (c->chunked_out ? 16 : 0);
	c->paused = false;
	ssize_t k = resp->pull(resp->cls, c->body_off, at, max);
	if (k == 0) {
		if (!c->paused) /* a pull that waits without pausing */
			loop_post(c->el->l, &c->post);
		c->paused = true;
		/* nothing to keep while it waits */
		free(c->pbuf);
		c->pbuf = NULL;
		return 0;
	}
	if (k == RESP_PULL_END) {
		if (!c->chunked_out)
			return c->body_off == c->body_len ? 2 : -1;
		memcpy(c->pbuf, "0\r\n\r\n", 5);
		c->p_off = 0;
		c->p_len = 5;
		c->pull_end = true;
		return 1;
	}
	if (k < 0 || (size_t)k > max)
		return -1;
	c->body_off += (uint64_t)k;
	if (!c->chunked_out) {
		c->p_off = 0;
		c->p_len = (size_t)k;
		return 1;
	}
	char size[16];
	int sl = snprintf(size, sizeof(size), "%zx\r\n", (size_t)k);
	memcpy(c->pbuf + 16 - sl, size, (size_t)sl);
	memcpy(at + k, "\r\n", 2);
	c->p_off = 16 - (size_t)sl;
	c->p_len = 16 + (size_t)k + 2;
	return 1;
}

/* Write the response.  1: all of it is out; 0: blocked or paused; -1:
 * the connection is gone. */
static int send_some(struct conn *c)
{
	struct resp *resp = c->resp;
	for (;;) {
		size_t hleft = c->out_len - c->out_off;
		bool body_left = c->body_off < c->body_len ||
				 (c->chunked_out && !c->pull_end);
		if (resp->kind == RESP_PULL && c->p_off < c->p_len) {
			if (!c->writable)
				return 0;
			ssize_t k = send(c->fd, c->pbuf + c->p_off,
					 c->p_len - c->p_off, MSG_NOSIGNAL);
			if (k < 0)
				return write_failed(c);
			c->p_off += (size_t)k;
			c->last_ns = loop_now(c->el->l);
			continue;
		}
		if (!hleft && !body_left)
			return 1;
		if (!c->writable)
			return 0;
		ssize_t k;
		if (resp->kind == RESP_MEM && body_left) {
			struct iovec iov[2];
			int n = 0;
			if (hleft)
				iov[n++] = (struct iovec){ c->out + c->out_off,
							   hleft };
			iov[n++] = (struct iovec){
				(char *)resp->data + c->body_off,
				(size_t)(c->body_len - c->body_off)
			};
			k = writev(c->fd, iov, n);
			if (k < 0)
				return write_failed(c);
			wrote(c, (size_t)k);
		} else if (hleft) {
			/* a file's first bytes join the head in one packet */
			int more = resp->kind == RESP_FILE && body_left
					   ? MSG_MORE
					   : 0;
			k = send(c->fd, c->out + c->out_off, hleft,
				 MSG_NOSIGNAL | more);
			if (k < 0)
				return write_failed(c);
			c->out_off += (size_t)k;
		} else if (resp->kind == RESP_FILE) {
			off_t at = (off_t)(resp->off + c->body_off);
			uint64_t left = c->body_len - c->body_off;
			k = sendfile(c->fd, resp->fd, &at,
				     left < SENDFILE_MAX ? (size_t)left
							 : SENDFILE_MAX);
			if (k < 0)
				return write_failed(c);
			if (k == 0)
				return -1; /* the file is shorter than said */
			c->body_off += (uint64_t)k;
		} else {
			int p = pull_next(c);
			if (p <= 0)
				return p;
			if (p == 2)
				return 1;
			continue;
		}
		c->last_ns = loop_now(c->el->l);
	}
}

/* Read and drop what a closing client still sends. */
static void linger(struct conn *c)
{
	char sink[4096];
	for (;;) {
		ssize_t k = read(c->fd, sink, sizeof(sink));
		if (k > 0)
			continue;
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0 && errno == EAGAIN) {
			c->readable = false;
			return;
		}
		ev_conn_close(c); /* its end, or an error */
		return;
	}
}

/* Run the connection as far as it can go now. */
void ev_conn_run(struct conn *c)
{
	for (;;) {
		switch (c->state) {
		case C_HEAD: {
			if (c->in && c->off < c->len) {
				enum h1_result rc = h1_request_parse(
					&c->h, c->in + c->off, c->len - c->off);
				if (rc == H1_DONE) {
					start_request(c);
					continue;
				}
				if (rc == H1_ERROR) {
					refuse(c, c->h.status, c->h.reason);
					continue;
				}
			}
			int k = conn_read(c);
			if (k > 0)
				continue;
			if (k < 0) {
				ev_conn_close(c);
				return;
			}
			in_release(c);
			return;
		}
		case C_BODY: {
			if (c->cont_off < c->cont_len) {
				ssize_t k = send(c->fd, c->cont + c->cont_off,
						 c->cont_len - c->cont_off,
						 MSG_NOSIGNAL);
				if (k < 0) {
					if (write_failed(c) < 0)
						ev_conn_abort(c);
					return;
				}
				c->cont_off += (size_t)k;
				continue;
			}
			feed_body(c);
			if (c->state != C_BODY)
				continue;
			int k = conn_read(c);
			if (k > 0)
				continue;
			if (k < 0)
				ev_conn_abort(c);
			return;
		}
		case C_SEND: {
			int k = send_some(c);
			if (k > 0) {
				ev_request_end(c, true);
				conn_next(c);
				continue;
			}
			if (k < 0)
				ev_conn_abort(c);
			return;
		}
		case C_LINGER:
			linger(c);
			return;
		case C_WAIT:
		case C_CLOSED:
			return;
		}
	}
}

