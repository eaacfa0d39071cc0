/*
 * server.c — the HTTP layer every engine shares: routing (one table of
 * method + path patterns), the phases of a request (route, authenticate,
 * handler, body, on_end, suspension and resumption, completion), and the
 * request helpers of server.h.  The engines under it (engine.h) own the
 * sockets: engine_ev.c (the event core: loop.h, h1.h; the default) and
 * engine_mhd.c (libmicrohttpd, the fallback), chosen by server.engine.
 */
#define _GNU_SOURCE
#include "engine.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "reply.h"
#include "../core/ids.h"
#include "../util/banned.h"

static unsigned method_bit(const char *m)
{
	static const struct { const char *name; unsigned bit; } map[] = {
		{ "GET", HTTP_GET },       { "HEAD", HTTP_HEAD },
		{ "POST", HTTP_POST },     { "PUT", HTTP_PUT },
		{ "DELETE", HTTP_DELETE }, { "PATCH", HTTP_PATCH },
		{ "OPTIONS", HTTP_OPTIONS },
	};
	for (size_t i = 0; i < PT_ARRAY_LEN(map); i++)
		if (strcmp(m, map[i].name) == 0)
			return map[i].bit;
	return 0;
}

static bool route_match(const struct compiled_route *cr, struct pt_req *r)
{
	size_t ncap = 0;
	if (cr->n != r->path.n)
		return false;
	for (size_t i = 0; i < cr->n; i++) {
		pt_str p = cr->seg[i], s = r->path.seg[i];
		if (pt_str_eq(p, "{id}")) {
			if (!id_valid(s.p, s.n))
				return false;
		} else if (!pt_str_eq(p, "{*}")) {
			if (p.n != s.n || memcmp(p.p, s.p, s.n) != 0)
				return false;
			continue;
		}
		r->arg[ncap++] = s;
	}
	return true;
}

static void compile_routes(struct server *s)
{
	const struct route *rt = s->cfg.routes;
	unsigned n = 0;
	while (rt[n].handler)
		n++;
	s->nroutes = n;
	s->croutes = xcalloc(n, sizeof(*s->croutes));
	for (unsigned i = 0; i < n; i++) {
		const char *p = rt[i].pattern;
		struct compiled_route *cr = &s->croutes[i];
		PT_ASSERT(p[0] == '/');
		p++;
		while (*p) {
			const char *e = strchr(p, '/');
			size_t len = e ? (size_t)(e - p) : strlen(p);
			PT_ASSERT(cr->n < PATH_MAX_SEGS);
			cr->seg[cr->n++] = (pt_str){ p, len };
			p += len;
			if (*p == '/')
				p++;
		}
	}
}

void server_req_init(struct server *s, struct pt_req *r,
		     const struct req_ops *ops, void *conn, const char *method)
{
	__atomic_add_fetch(&s->inflight, 1, __ATOMIC_RELAXED);
	r->ctx = s->cfg.ctx;
	r->ops = ops;
	r->conn = conn;
	r->pool = pt_pool_new();
	r->start_ns = pt_mono_ns();
	r->method_name = pt_pstrdup(r->pool, method);
	r->method = method_bit(method);
	r->route_index = -1;
}

void server_client_address(struct server *s, struct pt_req *r,
			   const char *peer, const char *xff)
{
	r->client_ip[0] = '\0';
	if (!*peer)
		return;
	if (!s->trusted.n) {
		snprintf(r->client_ip, sizeof(r->client_ip), "%s", peer);
		return;
	}
	proxy_client_address(&s->trusted, peer, xff, r->client_ip,
			     sizeof(r->client_ip));
}

bool req_can_suspend(const struct pt_req *r)
{
	return r->may_suspend;
}

req_res req_suspend(struct pt_req *r)
{
	if (!r->may_suspend || r->suspended)
		return REQ_CLOSE;
	r->suspended = true;
	r->ops->pause(r);
	return REQ_OK;
}

void req_resume(struct pt_req *r)
{
	r->ops->wake(r);
}

void req_pause(struct pt_req *r)
{
	r->ops->pause(r);
}

void req_wake(struct pt_req *r)
{
	r->ops->wake(r);
}

bool req_pull_offload(const struct pt_req *r)
{
	return r && r->ops && r->ops->pull_offload;
}

bool req_pause_until(struct pt_req *r, uint64_t when_ns)
{
	if (!r->ops->pause_until)
		return false;
	r->ops->pause_until(r, when_ns);
	return true;
}

/* Run a handler (or an on_end), remembering it to run again after
 * req_resume if it suspends (only where r->may_suspend is set: a
 * bodiless request's handler, or an on_end). */
static req_res run(struct pt_req *r, req_res (*fn)(struct pt_req *r))
{
	r->again = fn;
	r->extra_mark = r->extra;
	r->runs++;
	return fn(r);
}

req_res server_dispatch(struct server *s, struct pt_req *r, const char *url)
{
	const char *q = strchr(url, '?');
	unsigned allowed = 0;

	r->raw_path = q ? pt_pstrndup(r->pool, url, (size_t)(q - url)) : url;
	/* tus: clients behind proxies that only pass GET/POST send the real
	 * method here, and it MUST win */
	const char *ovr = req_header(r, "X-HTTP-Method-Override");
	if (ovr && method_bit(ovr)) {
		r->method = method_bit(ovr);
		r->method_name = pt_pstrdup(r->pool, ovr);
	}
	if (path_split(r->pool, r->raw_path, &r->path))
		return reply_error(r, PT_EBADREQ, NULL,
				   "bad request: malformed path");
	for (unsigned i = 0; i < s->nroutes; i++) {
		const struct route *rt = &s->cfg.routes[i];
		unsigned m = rt->methods;
		if (m & HTTP_GET)
			m |= HTTP_HEAD; /* MHD sends no body for HEAD */
		if (!route_match(&s->croutes[i], r))
			continue;
		if (!(m & r->method) || !r->method) {
			/* a catch-all segment says nothing about the path */
			if (!strstr(rt->pattern, "{*}"))
				allowed |= m;
			continue;
		}
		r->route = rt;
		r->route_index = (int)i;
		if (s->cfg.authenticate) {
			req_res rc;
			if (s->cfg.authenticate(r, &rc))
				return rc;
		}
		return run(r, rt->handler);
	}
	r->allow = allowed;
	if (allowed || !r->method)
		return reply_error(r, PT_EMETHOD, NULL,
				   "method not allowed: '%s'", r->method_name);
	return reply_error(r, PT_ENOTFOUND, NULL, "not found: '%s'",
			   r->raw_path);
}

req_res server_end(struct server *s, struct pt_req *r)
{
	if (r->on_end) {
		r->may_suspend = true;
		req_res rc = run(r, r->on_end);
		r->may_suspend = false;
		return rc;
	}
	return reply_error(r, PT_EINTERNAL, NULL, "internal error: no reply");
}

req_res server_resumed(struct server *s, struct pt_req *r)
{
	r->suspended = false;
	r->extra = r->extra_mark;
	r->may_suspend = true;
	req_res rc = run(r, r->again);
	r->may_suspend = false;
	return rc;
}

void server_complete(struct server *s, struct pt_req *r, bool ok)
{
	if (r->on_complete)
		r->on_complete(r, ok);
	if (s->cfg.on_done)
		s->cfg.on_done(r, ok, s->cfg.ctx);
	pt_pool_free(r->pool); /* runs cleanups: temp files, readers */
	free(r);
	__atomic_sub_fetch(&s->inflight, 1, __ATOMIC_RELAXED);
}

/* "HOST:PORT", "[V6]:PORT" or ":PORT" into host ("" for any) and port. */
static int split_listen(const char *listen, char *host, size_t hn_max,
			char *port, size_t pn_max)
{
	const char *colon = strrchr(listen, ':');
	size_t hn;

	if (!colon || !colon[1])
		return PT_EBADREQ;
	hn = (size_t)(colon - listen);
	if (hn >= 2 && listen[0] == '[' && colon[-1] == ']') {
		listen++;
		hn -= 2;
	}
	if (hn >= hn_max || strlen(colon + 1) >= pn_max)
		return PT_EBADREQ;
	memcpy(host, listen, hn);
	host[hn] = '\0';
	snprintf(port, pn_max, "%s", colon + 1);
	return 0;
}

int server_start(const struct server_config *cfg, struct server **out)
{
	struct server *s = xcalloc(1, sizeof(*s));
	char host[256], port[16], why[160];
	int err;

	s->cfg = *cfg;
	s->engine = cfg->engine && strcmp(cfg->engine, "libmicrohttpd") == 0
			    ? &engine_mhd
			    : &engine_ev;
	if (split_listen(cfg->listen, host, sizeof(host), port,
			 sizeof(port))) {
		pt_log("server: bad listen address '%s'", cfg->listen);
		free(s);
		return PT_EBADREQ;
	}
	if (proxy_list_parse(cfg->trusted_proxies, &s->trusted, why,
			     sizeof(why))) {
		pt_log("server: bad trusted_proxies: %s", why);
		free(s);
		return PT_EBADREQ;
	}
	if (s->trusted.n && cfg->per_ip_connections)
		pt_log("server: per_ip_connections = %u also counts the "
		       "connections of each trusted proxy; behind a load "
		       "balancer set it to 0 and limit per client there",
		       cfg->per_ip_connections);
	compile_routes(s);
	if ((err = s->engine->start(s, host, port))) {
		free(s->croutes);
		free(s);
		return err;
	}
	*out = s;
	return 0;
}

unsigned server_port(const struct server *s)
{
	return s->engine->port(s);
}

const char *server_engine(const struct server *s)
{
	return s->engine->name;
}

void server_drain(struct server *s, unsigned grace_s)
{
	if (!s)
		return;
	/* new connections are refused from now on */
	__atomic_store_n(&s->draining, true, __ATOMIC_RELAXED);
	s->engine->drain(s);
	/* idle keep-alive connections do not count: only requests in flight */
	for (unsigned i = 0; i < grace_s * 20; i++) {
		if (__atomic_load_n(&s->inflight, __ATOMIC_RELAXED) == 0)
			break;
		usleep(50 * 1000);
	}
}

void server_stop(struct server *s)
{
	if (!s)
		return;
	s->engine->stop(s);
	free(s->croutes);
	free(s);
}

unsigned server_route_count(const struct server *s)
{
	return s->nroutes;
}

const char *req_header(struct pt_req *r, const char *name)
{
	return r->ops->value(r, REQ_HEADER, name);
}

const char *req_cookie(struct pt_req *r, const char *name)
{
	return r->ops->value(r, REQ_COOKIE, name);
}

const char *req_trailer(struct pt_req *r, const char *name)
{
	return r->ops->value(r, REQ_TRAILER, name);
}

int req_socket(struct pt_req *r)
{
	return r->ops->socket(r);
}

const char *req_query(struct pt_req *r, const char *name)
{
	const char *v = r->ops->value(r, REQ_QUERY, name);
	if (!v)
		return NULL;
	size_t n = strlen(v);
	char *tmp = pt_pstrndup(r->pool, v, n), *out = pt_palloc(r->pool, n + 1);
	for (size_t i = 0; i < n; i++)
		if (tmp[i] == '+')
			tmp[i] = ' ';
	if (path_unescape(tmp, n, out) < 0)
		return NULL;
	return out;
}

void req_reply_header(struct pt_req *r, const char *name, const char *value)
{
	struct reply_header *h = pt_palloc(r->pool, sizeof(*h));
	h->name = pt_pstrdup(r->pool, name);
	h->value = pt_pstrdup(r->pool, value);
	h->next = r->extra;
	r->extra = h;
}

const char *req_retry_after(struct pt_req *r, int64_t seconds)
{
	const char *v = pt_psprintf(r->pool, "%lld",
				    (long long)(seconds > 0 ? seconds : 1));
	req_reply_header(r, "Retry-After", v);
	return v;
}

bool req_accepts(struct pt_req *r, const char *type)
{
	const char *a = req_header(r, "Accept");
	return a && strcasestr(a, type) != NULL;
}
