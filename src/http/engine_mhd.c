/*
 * engine_mhd.c — the libmicrohttpd engine: the daemon with its internal
 * epoll thread pool, and the request lifecycle of server.c on MHD's
 * calling convention.
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
#include "engine.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <microhttpd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "reply.h"
#include "../util/banned.h"

struct mhd {
	struct server *s;
	struct MHD_Daemon *d;
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
	struct server *s = ((struct mhd *)cls)->s;
	return __atomic_load_n(&s->draining, __ATOMIC_RELAXED) ? MHD_NO
							       : MHD_YES;
}

static size_t unescape_noop(void *cls, struct MHD_Connection *c, char *s)
{
	/* keep the raw path: path.c decodes each segment itself */
	return strlen(s);
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

	if (ci && ci->client_addr) {
		const struct sockaddr *sa = ci->client_addr;
		if (sa->sa_family == AF_INET)
			inet_ntop(AF_INET,
				  &((const struct sockaddr_in *)sa)->sin_addr,
				  peer, sizeof(peer));
		else if (sa->sa_family == AF_INET6)
			inet_ntop(AF_INET6,
				  &((const struct sockaddr_in6 *)sa)->sin6_addr,
				  peer, sizeof(peer));
	}
	struct xff x = { r->pool, NULL };
	if (s->trusted.n)
		MHD_get_connection_values(r->conn, MHD_HEADER_KIND, xff_cb,
					  &x);
	server_client_address(s, r, peer, x.joined);
}

_Static_assert(RESP_PULL_END == MHD_CONTENT_READER_END_OF_STREAM &&
		       RESP_PULL_ERROR == MHD_CONTENT_READER_END_WITH_ERROR &&
		       RESP_SIZE_UNKNOWN == MHD_SIZE_UNKNOWN,
	       "resp_pull_fn is MHD's content reader");
/* A handler's result as MHD's */
static enum MHD_Result mhd_result(req_res rc)
{
	return req_res_ok(rc) ? MHD_YES : MHD_NO;
}

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

static req_res mhd_queue(struct pt_req *r, int status, struct resp *resp)
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
	return ok == MHD_YES ? REQ_OK : REQ_CLOSE;
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
static void watch_add(struct mhd *s, struct pt_req *r)
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

static void watch_remove(struct mhd *s, struct pt_req *r)
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
	struct mhd *s = arg;
	pt_thread_name("watch");
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
	struct mhd *m = cls;
	struct server *s = m->s;
	struct pt_req *r = *con_cls;

	if (!r) {
		r = xcalloc(1, sizeof(*r));
		*con_cls = r;
		server_req_init(s, r, &mhd_ops, conn, method);
		client_address(s, r);
		if (!framing_ok(conn)) {
			/* RFC 9112 §6.1, §6.3: ambiguous framing is how
			 * requests get smuggled; refuse and close (a reply at
			 * this first call closes the connection) */
			r->in_body = false;
			return mhd_result(
				reply_error(r, PT_EBADREQ, NULL,
					    "bad request: conflicting "
					    "Content-Length/Transfer-Encoding"));
		}
		if (!has_body(conn)) {
			/* a reply queued at this first call makes MHD close
			 * the connection (it assumes an unread body): wait
			 * for the next call to keep it alive */
			r->deferred = true;
			return MHD_YES;
		}
		req_res rc = server_dispatch(s, r, url);
		r->in_body = true;
		if (req_res_ok(rc) && !r->responded)
			watch_add(m, r);
		return mhd_result(rc);
	}
	if (r->suspended) /* resumed: the handler runs again (server.h) */
		return mhd_result(server_resumed(s, r));
	if (r->deferred) {
		r->deferred = false;
		r->in_body = true;
		r->may_suspend = true;
		req_res rc = server_dispatch(s, r, url);
		/* an empty body is complete already */
		if (req_res_ok(rc) && !r->responded && !r->suspended &&
		    r->on_end)
			rc = server_end(s, r);
		r->may_suspend = false;
		return mhd_result(rc);
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
	watch_remove(m, r);
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
	return mhd_result(server_end(s, r));
}

static void completed_cb(void *cls, struct MHD_Connection *conn,
			 void **con_cls, enum MHD_RequestTerminationCode toe)
{
	struct mhd *m = cls;
	struct server *s = m->s;
	struct pt_req *r = *con_cls;
	bool ok = toe == MHD_REQUEST_TERMINATED_COMPLETED_OK;

	if (!r)
		return;
	*con_cls = NULL;
	watch_remove(m, r);
	if (r->parked)
		MHD_destroy_response(r->parked);
	server_complete(s, r, ok);
}

static void connection_cb(void *cls, struct MHD_Connection *c, void **socket_ctx,
			  enum MHD_ConnectionNotificationCode code)
{
	struct mhd *m = cls;
	struct server *s = m->s;
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

static void mhd_stop(struct server *s);

static int mhd_start(struct server *s, const char *host, const char *port)
{
	struct mhd *m = xcalloc(1, sizeof(*m));
	struct sockaddr_storage ss;
	struct addrinfo hints, *res = NULL;
	unsigned flags = MHD_USE_EPOLL_INTERNAL_THREAD | MHD_USE_ITC |
			 MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG |
			 MHD_USE_TURBO;
	const struct server_config *cfg = &s->cfg;

	memset(&hints, 0, sizeof(hints));
	hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
	hints.ai_socktype = SOCK_STREAM;
	if (getaddrinfo(*host ? host : NULL, port, &hints, &res) || !res) {
		pt_log("server: bad listen address '%s'", cfg->listen);
		free(m);
		return PT_EBADREQ;
	}
	memset(&ss, 0, sizeof(ss));
	memcpy(&ss, res->ai_addr, res->ai_addrlen);
	freeaddrinfo(res);
	if (ss.ss_family == AF_INET6)
		flags |= MHD_USE_IPv6;
	m->s = s;
	s->e = m;
	pthread_mutex_init(&m->wlock, NULL);
	pthread_cond_init(&m->wcond, NULL);
	m->wstarted = pthread_create(&m->watcher, NULL, watch_loop, m) == 0;
	m->d = MHD_start_daemon(
		flags, 0, accept_cb, m, access_cb, m,
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
		MHD_OPTION_NOTIFY_COMPLETED, completed_cb, m,
		MHD_OPTION_NOTIFY_CONNECTION, connection_cb, m,
		MHD_OPTION_UNESCAPE_CALLBACK, unescape_noop, NULL,
		MHD_OPTION_END);
	if (!m->d) {
		pt_log("server: cannot listen on '%s'", cfg->listen);
		mhd_stop(s);
		return PT_EUNAVAIL;
	}
	return 0;
}

static unsigned mhd_port(const struct server *s)
{
	const struct mhd *m = s->e;
	const union MHD_DaemonInfo *i =
		MHD_get_daemon_info(m->d, MHD_DAEMON_INFO_BIND_PORT);
	return i ? i->port : 0;
}

static void mhd_drain(struct server *s)
{
	/* new connections are refused from now on (accept_cb) */
}

static void mhd_stop(struct server *s)
{
	struct mhd *m = s->e;
	if (!m)
		return;
	if (m->d)
		MHD_stop_daemon(m->d);
	if (m->wstarted) {
		pthread_mutex_lock(&m->wlock);
		m->wstop = true;
		pthread_cond_signal(&m->wcond);
		pthread_mutex_unlock(&m->wlock);
		pthread_join(m->watcher, NULL);
	}
	pthread_cond_destroy(&m->wcond);
	pthread_mutex_destroy(&m->wlock);
	free(m);
	s->e = NULL;
}

const struct engine engine_mhd = {
	.name = "libmicrohttpd",
	.start = mhd_start,
	.port = mhd_port,
	.drain = mhd_drain,
	.stop = mhd_stop,
};
