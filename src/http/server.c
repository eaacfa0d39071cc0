/*
 * server.c — libmicrohttpd glue: the daemon with its internal epoll thread
 * pool, the request lifecycle, and the router.
 *
 * MHD calls the access handler several times per request: once when the
 * headers are in (we route and run the handler), once per body chunk, and
 * once more when the body is complete.  Returning from the first call
 * without a response lets MHD answer "100 Continue"; queueing one then
 * (413, 401, …) refuses the body before it is sent.  MHD only accepts a
 * response at the first or the last call, so a handler that fails half-way
 * through a body has its response parked here and queued at the last call,
 * with the rest of the body discarded (up to DRAIN_MAX bytes; after that
 * the connection is closed, since a client that keeps sending after an
 * error does not deserve more of our bandwidth).
 */
#define _GNU_SOURCE
#include "server.h"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <errno.h>
#include <netdb.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <pthread.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "proxy.h"
#include "reply.h"
#include "../core/ids.h"
#include "../util/banned.h"

#define DRAIN_MAX (64u << 20)

struct compiled_route {
	size_t n;
	pt_str seg[PATH_MAX_SEGS]; /* literal, or "{id}" / "{*}" */
};

struct server {
	struct server_config cfg;
	struct MHD_Daemon *d;
	struct compiled_route *croutes;
	unsigned nroutes;
	int inflight; /* requests between first call and completion */
	bool draining; /* server_drain: no new connections (accept_cb) */
	struct proxy_list trusted; /* whose X-Forwarded-For we believe */
	/* bodies being received, for the watcher */
	pthread_mutex_t wlock;
	pthread_cond_t wcond;
	pthread_t watcher;
	bool wstarted, wstop;
	struct pt_req *watched;
};

/* A body that has not moved for this long is checked for a closed peer. */
#define WATCH_IDLE_NS (1000ull * 1000 * 1000)
#define WATCH_EVERY_MS 500

/* MHD's accept policy: every connection, until server_drain.  This, not
 * MHD_quiesce_daemon, stops new connections while requests in flight
 * end: libmicrohttpd 0.9.75's quiesce of a thread pool with epoll races
 * its own workers, which remove the listen socket from their epoll sets
 * as soon as they see the daemon quiesced, and then panics ("Failed to
 * remove listen FD from epoll set") on the one it finds already gone —
 * the abort at SIGTERM seen in the e2e runs. */
static enum MHD_Result accept_cb(void *cls, const struct sockaddr *addr,
				 socklen_t len)
{
	struct server *s = cls;
	return __atomic_load_n(&s->draining, __ATOMIC_RELAXED) ? MHD_NO
							       : MHD_YES;
}

static size_t unescape_noop(void *cls, struct MHD_Connection *c, char *s)
{
	/* keep the raw path: path.c decodes each segment itself */
	return strlen(s);
}

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

/* Every X-Forwarded-For line of the request, joined with ", " in order
 * (a proxy may add a line of its own rather than extend the client's). */
struct xff {
	struct pt_pool *pool;
	char *joined;
};

static enum MHD_Result xff_cb(void *cls, enum MHD_ValueKind kind,
			      const char *key, const char *value)
{
	struct xff *x = cls;
	if (strcasecmp(key, "X-Forwarded-For") != 0 || !value)
		return MHD_YES;
	x->joined = x->joined ? pt_psprintf(x->pool, "%s, %s", x->joined,
					    value)
			      : pt_pstrdup(x->pool, value);
	return MHD_YES;
}

/* The client's address: the socket's peer, or behind a trusted proxy the
 * address it forwarded (proxy.h). */
static void client_address(struct server *s, struct pt_req *r)
{
	const union MHD_ConnectionInfo *ci = MHD_get_connection_info(
		r->conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	char peer[PROXY_ADDR_MAX] = "";

	r->client_ip[0] = '\0';
	if (!ci || !ci->client_addr)
		return;
	const struct sockaddr *sa = ci->client_addr;
	if (sa->sa_family == AF_INET)
		inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr,
			  peer, sizeof(peer));
	else if (sa->sa_family == AF_INET6)
		inet_ntop(AF_INET6,
			  &((const struct sockaddr_in6 *)sa)->sin6_addr, peer,
			  sizeof(peer));
	if (!s->trusted.n) {
		snprintf(r->client_ip, sizeof(r->client_ip), "%s", peer);
		return;
	}
	struct xff x = { r->pool, NULL };
	MHD_get_connection_values(r->conn, MHD_HEADER_KIND, xff_cb, &x);
	proxy_client_address(&s->trusted, peer, x.joined, r->client_ip,
			     sizeof(r->client_ip));
}

/* ---- the engine's side of a request (struct req_ops) ---- */

_Static_assert(RESP_PULL_END == MHD_CONTENT_READER_END_OF_STREAM &&
		       RESP_PULL_ERROR == MHD_CONTENT_READER_END_WITH_ERROR &&
		       RESP_SIZE_UNKNOWN == MHD_SIZE_UNKNOWN,
	       "resp_pull_fn is MHD's content reader");
_Static_assert((int)REQ_OK == (int)MHD_YES && (int)REQ_CLOSE == (int)MHD_NO,
	       "handler results are MHD's");

static const char *mhd_value(struct pt_req *r, enum req_kind kind,
			     const char *name)
{
	static const enum MHD_ValueKind kinds[] = {
		[REQ_HEADER] = MHD_HEADER_KIND,
		[REQ_COOKIE] = MHD_COOKIE_KIND,
		[REQ_QUERY] = MHD_GET_ARGUMENT_KIND,
		[REQ_TRAILER] = MHD_FOOTER_KIND,
	};
	return MHD_lookup_connection_value(r->conn, kinds[kind], name);
}

/* resp as MHD's response; resp is freed, its body now MHD's. */
static struct MHD_Response *mhd_response(struct resp *resp)
{
	struct MHD_Response *m = NULL;

	switch (resp->kind) {
	case RESP_MEM:
		m = resp->owned ? MHD_create_response_from_buffer_with_free_callback(
					  resp->n, (void *)resp->data, free)
				: MHD_create_response_from_buffer(
					  resp->n, (void *)resp->data,
					  MHD_RESPMEM_PERSISTENT);
		resp->owned = false;
		break;
	case RESP_FILE:
		m = MHD_create_response_from_fd_at_offset64(resp->len, resp->fd,
							    (int64_t)resp->off);
		resp->fd = -1;
		break;
	case RESP_PULL:
		m = MHD_create_response_from_callback(
			resp->size, resp->block, resp->pull, resp->cls,
			resp->done);
		resp->done = NULL;
		break;
	}
	if (!m)
		abort(); /* out of memory (or a file offset past 2^63) */
	for (struct resp_hdr *h = resp->headers; h; h = h->next)
		MHD_add_response_header(m, h->name, h->value);
	resp_free(resp);
	return m;
}

static int mhd_queue(struct pt_req *r, int status, struct resp *resp)
{
	struct MHD_Response *m = mhd_response(resp);
	enum MHD_Result ok = MHD_queue_response(r->conn, (unsigned)status, m);
	if (ok == MHD_NO && r->in_body) {
		/* MHD takes responses only at the first and the last call:
		 * keep it for the last one (access_cb) */
		r->parked = m;
		r->parked_status = status;
		return REQ_OK;
	}
	MHD_destroy_response(m);
	return ok;
}

static void mhd_pause(struct pt_req *r)
{
	MHD_suspend_connection(r->conn);
}

static void mhd_wake(struct pt_req *r)
{
	/* MHD takes resumptions from any thread (MHD_USE_ITC wakes the
	 * connection's worker), also one that comes before the pausing
	 * callback has returned */
	MHD_resume_connection(r->conn);
}

static int mhd_socket(struct pt_req *r)
{
	const union MHD_ConnectionInfo *ci = MHD_get_connection_info(
		r->conn, MHD_CONNECTION_INFO_CONNECTION_FD);
	return ci ? ci->connect_fd : -1;
}

static const struct req_ops mhd_ops = {
	.value = mhd_value,
	.queue = mhd_queue,
	.pause = mhd_pause,
	.wake = mhd_wake,
	.socket = mhd_socket,
};

/* ---- requests, whatever the engine ---- */

bool req_can_suspend(const struct pt_req *r)
{
	return r->may_suspend;
}

int req_suspend(struct pt_req *r)
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

/* Run a handler (or an on_end), remembering it to run again after
 * req_resume if it suspends (only where r->may_suspend is set: a
 * bodiless request's handler, or an on_end). */
static int run(struct pt_req *r, int (*fn)(struct pt_req *r))
{
	r->again = fn;
	r->extra_mark = r->extra;
	r->runs++;
	return fn(r);
}

static int dispatch(struct server *s, struct pt_req *r, const char *url)
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
			int rc;
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

struct framing {
	const char *cl;
	bool conflict, te;
};

static enum MHD_Result framing_cb(void *cls, enum MHD_ValueKind kind,
				  const char *key, const char *value)
{
	struct framing *f = cls;
	if (strcasecmp(key, "Transfer-Encoding") == 0)
		f->te = true;
	if (strcasecmp(key, "Content-Length") != 0)
		return MHD_YES;
	if (f->cl && strcmp(f->cl, value) != 0)
		f->conflict = true;
	f->cl = value;
	return MHD_YES;
}

static bool framing_ok(struct MHD_Connection *c)
{
	struct framing f = { NULL, false, false };
	MHD_get_connection_values(c, MHD_HEADER_KIND, framing_cb, &f);
	return !f.conflict && !(f.te && f.cl);
}

/*
 * A client that sends the last bytes it has and closes at once (a killed
 * upload) leaves data and its FIN in the socket together.  With epoll,
 * libmicrohttpd 0.9.75 takes a short read as "drained" and never reads the
 * end of the stream, so the request would wait for the connection timeout
 * (and a tus upload keep its lease, a graceful stop wait).  A watcher looks
 * at bodies that stopped moving: a peer whose end of stream is waiting
 * (a peek reads 0) gets its socket shut down, which wakes MHD, which then
 * sees the end and ends the request as the client's abort it is.  The
 * socket stays open while the request is in the list: MHD calls
 * completed_cb, which takes it out under the lock, before closing it.
 */
static void watch_add(struct server *s, struct pt_req *r)
{
	int fd = req_socket(r);
	if (fd < 0 || !s->wstarted)
		return;
	r->fd = fd;
	r->body_ns = pt_mono_ns();
	pthread_mutex_lock(&s->wlock);
	r->wprev = NULL;
	r->wnext = s->watched;
	if (s->watched)
		s->watched->wprev = r;
	s->watched = r;
	r->watched = true;
	pthread_mutex_unlock(&s->wlock);
}

static void watch_remove(struct server *s, struct pt_req *r)
{
	if (!r->watched)
		return;
	pthread_mutex_lock(&s->wlock);
	if (r->wprev)
		r->wprev->wnext = r->wnext;
	else
		s->watched = r->wnext;
	if (r->wnext)
		r->wnext->wprev = r->wprev;
	r->watched = false;
	pthread_mutex_unlock(&s->wlock);
}

static void *watch_loop(void *arg)
{
	struct server *s = arg;
	pthread_mutex_lock(&s->wlock);
	while (!s->wstop) {
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_nsec += WATCH_EVERY_MS * 1000000L;
		ts.tv_sec += ts.tv_nsec / 1000000000L;
		ts.tv_nsec %= 1000000000L;
		pthread_cond_timedwait(&s->wcond, &s->wlock, &ts);
		uint64_t now = pt_mono_ns();
		for (struct pt_req *r = s->watched; r && !s->wstop;
		     r = r->wnext) {
			char c;
			if (r->hung_up ||
			    now - __atomic_load_n(&r->body_ns,
						  __ATOMIC_RELAXED) <
				    WATCH_IDLE_NS ||
			    recv(r->fd, &c, 1, MSG_PEEK | MSG_DONTWAIT) != 0)
				continue;
			r->hung_up = true;
			shutdown(r->fd, SHUT_RDWR);
		}
	}
	pthread_mutex_unlock(&s->wlock);
	return NULL;
}

static bool has_body(struct MHD_Connection *c)
{
	const char *cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
						     "Content-Length");
	if (MHD_lookup_connection_value(c, MHD_HEADER_KIND,
					"Transfer-Encoding"))
		return true;
	return cl && strcmp(cl, "0") != 0;
}

static enum MHD_Result access_cb(void *cls, struct MHD_Connection *conn,
				 const char *url, const char *method,
				 const char *version, const char *upload_data,
				 size_t *upload_data_size, void **con_cls)
{
	struct server *s = cls;
	struct pt_req *r = *con_cls;

	if (!r) {
		r = xcalloc(1, sizeof(*r));
		*con_cls = r;
		__atomic_add_fetch(&s->inflight, 1, __ATOMIC_RELAXED);
		r->ctx = s->cfg.ctx;
		r->ops = &mhd_ops;
		r->conn = conn;
		r->pool = pt_pool_new();
		r->start_ns = pt_mono_ns();
		r->method_name = pt_pstrdup(r->pool, method);
		r->method = method_bit(method);
		r->route_index = -1;
		client_address(s, r);
		if (!framing_ok(conn)) {
			/* RFC 9112 §6.1, §6.3: ambiguous framing is how
			 * requests get smuggled; refuse and close (a reply at
			 * this first call closes the connection) */
			r->in_body = false;
			return reply_error(r, PT_EBADREQ, NULL,
					   "bad request: conflicting "
					   "Content-Length/Transfer-Encoding") ==
					       MHD_YES
				       ? MHD_YES
				       : MHD_NO;
		}
		if (!has_body(conn)) {
			/* a reply queued at this first call makes MHD close
			 * the connection (it assumes an unread body): wait
			 * for the next call to keep it alive */
			r->deferred = true;
			return MHD_YES;
		}
		int rc = dispatch(s, r, url);
		r->in_body = true;
		if (rc == MHD_YES && !r->responded)
			watch_add(s, r);
		return rc == MHD_YES ? MHD_YES : MHD_NO;
	}
	if (r->suspended) {
		/* resumed: the suspended handler runs again (see server.h) */
		r->suspended = false;
		r->extra = r->extra_mark;
		r->may_suspend = true;
		int rc = run(r, r->again);
		r->may_suspend = false;
		return rc == MHD_YES ? MHD_YES : MHD_NO;
	}
	if (r->deferred) {
		r->deferred = false;
		r->in_body = true;
		r->may_suspend = true;
		int rc = dispatch(s, r, url);
		/* an empty body is complete already */
		if (rc == MHD_YES && !r->responded && !r->suspended &&
		    r->on_end)
			rc = run(r, r->on_end);
		r->may_suspend = false;
		return rc == MHD_YES ? MHD_YES : MHD_NO;
	}
	if (*upload_data_size) {
		size_t n = *upload_data_size;
		*upload_data_size = 0;
		r->bytes_in += n;
		__atomic_store_n(&r->body_ns, pt_mono_ns(), __ATOMIC_RELAXED);
		if (r->responded) /* draining after an error */
			return r->bytes_in > DRAIN_MAX ? MHD_NO : MHD_YES;
		if (r->on_body)
			r->on_body(r, upload_data, n);
		return MHD_YES; /* else: a body nobody asked for, dropped */
	}
	/* the whole request is in */
	watch_remove(s, r);
	if (r->parked) {
		struct MHD_Response *resp = r->parked;
		r->parked = NULL;
		enum MHD_Result ok = MHD_queue_response(
			conn, (unsigned)r->parked_status, resp);
		MHD_destroy_response(resp);
		return ok;
	}
	if (r->responded)
		return MHD_YES;
	if (r->on_end) {
		r->may_suspend = true;
		int rc = run(r, r->on_end);
		r->may_suspend = false;
		return rc == MHD_YES ? MHD_YES : MHD_NO;
	}
	return reply_error(r, PT_EINTERNAL, NULL, "internal error: no reply") ==
			       MHD_YES
		       ? MHD_YES
		       : MHD_NO;
}

static void completed_cb(void *cls, struct MHD_Connection *conn,
			 void **con_cls, enum MHD_RequestTerminationCode toe)
{
	struct server *s = cls;
	struct pt_req *r = *con_cls;
	bool ok = toe == MHD_REQUEST_TERMINATED_COMPLETED_OK;

	if (!r)
		return;
	*con_cls = NULL;
	watch_remove(s, r);
	if (r->parked)
		MHD_destroy_response(r->parked);
	if (r->on_complete)
		r->on_complete(r, ok);
	if (s->cfg.on_done)
		s->cfg.on_done(r, ok, s->cfg.ctx);
	pt_pool_free(r->pool); /* runs cleanups: temp files, readers */
	free(r);
	__atomic_sub_fetch(&s->inflight, 1, __ATOMIC_RELAXED);
}

static void connection_cb(void *cls, struct MHD_Connection *c, void **socket_ctx,
			  enum MHD_ConnectionNotificationCode code)
{
	struct server *s = cls;
	if (s->cfg.on_connection)
		s->cfg.on_connection(code == MHD_CONNECTION_NOTIFY_STARTED ? 1
									   : -1,
				     s->cfg.ctx);
}

/* libmicrohttpd's own messages may quote request bytes: they go through
 * pt_log, which escapes them (one line, valid UTF-8). */
__attribute__((format(printf, 2, 0))) static void
mhd_log(void *cls, const char *fmt, va_list ap)
{
	char line[1024];
	vsnprintf(line, sizeof(line), fmt, ap);
	size_t n = strlen(line);
	while (n && (line[n - 1] == '\n' || line[n - 1] == '\r'))
		line[--n] = '\0';
	pt_log("libmicrohttpd: %s", line);
}

static int parse_listen(const char *listen, struct sockaddr_storage *ss,
			socklen_t *len)
{
	char host[256];
	const char *colon = strrchr(listen, ':');
	struct addrinfo hints, *res = NULL;
	size_t hn;

	if (!colon || colon == listen)
		return PT_EBADREQ;
	hn = (size_t)(colon - listen);
	if (listen[0] == '[' && colon[-1] == ']') {
		listen++;
		hn -= 2;
	}
	if (hn >= sizeof(host))
		return PT_EBADREQ;
	memcpy(host, listen, hn);
	host[hn] = '\0';
	memset(&hints, 0, sizeof(hints));
	hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
	hints.ai_socktype = SOCK_STREAM;
	if (getaddrinfo(hn ? host : NULL, colon + 1, &hints, &res) || !res)
		return PT_EBADREQ;
	memcpy(ss, res->ai_addr, res->ai_addrlen);
	*len = res->ai_addrlen;
	freeaddrinfo(res);
	return 0;
}

int server_start(const struct server_config *cfg, struct server **out)
{
	struct server *s = xcalloc(1, sizeof(*s));
	struct sockaddr_storage ss;
	socklen_t sslen;
	unsigned flags = MHD_USE_EPOLL_INTERNAL_THREAD | MHD_USE_ITC |
			 MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG |
			 MHD_USE_TURBO;

	s->cfg = *cfg;
	if (parse_listen(cfg->listen, &ss, &sslen)) {
		pt_log("server: bad listen address '%s'", cfg->listen);
		free(s);
		return PT_EBADREQ;
	}
	char why[160];
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
	if (ss.ss_family == AF_INET6)
		flags |= MHD_USE_IPv6;
	compile_routes(s);
	pthread_mutex_init(&s->wlock, NULL);
	pthread_cond_init(&s->wcond, NULL);
	s->wstarted = pthread_create(&s->watcher, NULL, watch_loop, s) == 0;
	s->d = MHD_start_daemon(
		flags, 0, accept_cb, s, access_cb, s,
		/* first, so that MHD's own messages about the options go
		 * through it too */
		MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL,
		MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss,
		MHD_OPTION_THREAD_POOL_SIZE, (unsigned)cfg->threads,
		/* 0 = no limit of ours: the descriptors are the limit */
		MHD_OPTION_CONNECTION_LIMIT,
		(unsigned)(cfg->max_connections ? cfg->max_connections
						: 1000000),
		MHD_OPTION_PER_IP_CONNECTION_LIMIT,
		(unsigned)cfg->per_ip_connections,
		MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)cfg->timeout_seconds,
		/* MHD wipes the whole pool before every keep-alive request:
		 * 64 KiB keeps small GETs cheap (320 KiB cost 2x per 4 KiB
		 * GET, bench/ profile) while body reads stay reasonably big */
		MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)(64 * 1024),
		MHD_OPTION_NOTIFY_COMPLETED, completed_cb, s,
		MHD_OPTION_NOTIFY_CONNECTION, connection_cb, s,
		MHD_OPTION_UNESCAPE_CALLBACK, unescape_noop, NULL,
		MHD_OPTION_END);
	if (!s->d) {
		pt_log("server: cannot listen on '%s'", cfg->listen);
		server_stop(s);
		return PT_EUNAVAIL;
	}
	*out = s;
	return 0;
}

unsigned server_port(const struct server *s)
{
	const union MHD_DaemonInfo *i =
		MHD_get_daemon_info(s->d, MHD_DAEMON_INFO_BIND_PORT);
	return i ? i->port : 0;
}

void server_drain(struct server *s, unsigned grace_s)
{
	if (!s)
		return;
	/* new connections are refused from now on (accept_cb) */
	__atomic_store_n(&s->draining, true, __ATOMIC_RELAXED);
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
	if (s->d)
		MHD_stop_daemon(s->d);
	if (s->wstarted) {
		pthread_mutex_lock(&s->wlock);
		s->wstop = true;
		pthread_cond_signal(&s->wcond);
		pthread_mutex_unlock(&s->wlock);
		pthread_join(s->watcher, NULL);
	}
	pthread_cond_destroy(&s->wcond);
	pthread_mutex_destroy(&s->wlock);
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

bool req_accepts(struct pt_req *r, const char *type)
{
	const char *a = req_header(r, "Accept");
	return a && strcasestr(a, type) != NULL;
}
