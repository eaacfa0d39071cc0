/*
 * engine_ev.c — the event engine (issue 13): HTTP/1.1 connections on the
 * epoll loops of loop.h, one loop per thread, each with its own listening
 * socket (SO_REUSEPORT), requests read by the strict parser of h1.h.
 *
 * A connection is a state machine driven by readiness (edge-triggered:
 * it remembers that its socket is still readable or writable and comes
 * back to it), by its timer (the idle timeout) and by posts from other
 * threads (req_wake / req_resume: a capped download's next burst, a
 * password hash done).  Nothing here blocks but the handlers, which run
 * on the loop's thread as they ran on libmicrohttpd's (a database query).
 *
 *   HEAD   read and parse a request head (pipelined bytes stay in `in`)
 *   BODY   hand the body to on_body (Content-Length or chunked); a reply
 *          made before its end waits until the rest is read and dropped
 *   WAIT   the handler suspended (req_suspend): nothing until its post
 *   SEND   write the response: head, then the body from memory (writev),
 *          a file (sendfile) or a pull callback; a pull that returns 0
 *          has paused the request (req_pause) until its post
 *   LINGER the response is out, the connection is closing: read and drop
 *          what the client still sends, so that our close does not reset
 *          the connection before it has read the answer (nginx's
 *          lingering close)
 *   CLOSED the socket is closed; the struct is freed by the callback that
 *          closed it (or by its post, if one is queued)
 *
 * Framing is strict (RFC 9112; h1.h lists every refusal): a bad head gets
 * its status (400, 414, 431, 501, 505) with a one-line reason and the
 * connection is closed.  A request whose body the handler refused before
 * reading any of it (401, 413, ...) is answered at once and the
 * connection closed, as libmicrohttpd did; one refused in the middle of
 * its body has the rest read and dropped (up to DRAIN_MAX), then the
 * answer, and the connection stays.
 *
 * Memory: a connection is a struct conn (about 2.5 KiB with its header
 * slots); its 64 KiB read buffer exists only while it holds unread
 * bytes, and a pulled body's buffer only while it holds unsent ones, so
 * a capped download waiting for its next burst costs the struct, its
 * request's pool and the stream's state.
 */
#define _GNU_SOURCE
#include "ev_int.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "../util/banned.h"

/* ---- per-address connection counts ---- */

static unsigned ip_hash(const char *a)
{
	unsigned h = 2166136261u;
	for (; *a; a++)
		h = (h ^ (unsigned char)*a) * 16777619u;
	return h % IP_BUCKETS;
}

/* Count a connection from addr; false (not counted) past the limit. */
static bool ip_take(struct ev *ev, const char *addr, unsigned limit)
{
	if (!limit)
		return true;
	unsigned h = ip_hash(addr);
	bool ok = true;
	pthread_mutex_lock(&ev->iplock);
	struct iprow *p = ev->ip[h];
	while (p && strcmp(p->addr, addr) != 0)
		p = p->next;
	if (!p) {
		p = xcalloc(1, sizeof(*p));
		snprintf(p->addr, sizeof(p->addr), "%s", addr);
		p->next = ev->ip[h];
		ev->ip[h] = p;
	}
	if (p->n >= limit)
		ok = false;
	else
		p->n++;
	pthread_mutex_unlock(&ev->iplock);
	return ok;
}

static void ip_give(struct ev *ev, const char *addr, unsigned limit)
{
	if (!limit)
		return;
	unsigned h = ip_hash(addr);
	pthread_mutex_lock(&ev->iplock);
	struct iprow **pp = &ev->ip[h];
	while (*pp && strcmp((*pp)->addr, addr) != 0)
		pp = &(*pp)->next;
	if (*pp && --(*pp)->n == 0) {
		struct iprow *dead = *pp;
		*pp = dead->next;
		free(dead);
	}
	pthread_mutex_unlock(&ev->iplock);
}

/* ---- the request's side (struct req_ops) ---- */

static const char *find(const char **names, const char **values, size_t n,
			const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (strcasecmp(names[i], name) == 0)
			return values[i];
	return NULL;
}

/* name's value in "a=b; c=d" (cookies) or "a=b&c=d" (a raw query):
 * pool memory; "" for a name without '='. */
static const char *pair_value(struct pt_req *r, const char *list, char sep,
			      const char *name)
{
	size_t nl = strlen(name);
	for (const char *p = list; p && *p;) {
		while (*p == ' ' || *p == '\t' || (sep == '&' && *p == sep))
			p++;
		const char *end = strchr(p, sep);
		size_t len = end ? (size_t)(end - p) : strlen(p);
		const char *eq = memchr(p, '=', len);
		size_t kl = eq ? (size_t)(eq - p) : len;
		if (kl == nl && memcmp(p, name, nl) == 0) {
			if (!eq)
				return "";
			return pt_pstrndup(r->pool, eq + 1,
					   len - (size_t)(eq + 1 - p));
		}
		if (!end)
			break;
		p = end + 1;
	}
	return NULL;
}

static const char *ev_value(struct pt_req *r, enum req_kind kind,
			    const char *name)
{
	struct conn *c = r->conn;
	switch (kind) {
	case REQ_HEADER:
		return find(c->names, c->values, c->nheaders, name);
	case REQ_COOKIE: {
		const char *v = find(c->names, c->values, c->nheaders,
				     "Cookie");
		return v ? pair_value(r, v, ';', name) : NULL;
	}
	case REQ_QUERY: {
		const char *q = c->target ? strchr(c->target, '?') : NULL;
		return q ? pair_value(r, q + 1, '&', name) : NULL;
	}
	case REQ_TRAILER:
		return find(c->tnames, c->tvalues, c->ntrailers, name);
	}
	return NULL;
}

static req_res ev_queue(struct pt_req *r, int status, struct resp *resp)
{
	struct conn *c = r->conn;
	/* sent when the engine is ready for it: at once after the
	 * handler, or once the body has been read (a reply made before
	 * its end) */
	c->resp = resp;
	c->status = status;
	return REQ_OK;
}

static void ev_pause(struct pt_req *r)
{
	struct conn *c = r->conn;
	c->paused = true;
}

static void ev_wake(struct pt_req *r)
{
	struct conn *c = r->conn;
	loop_post(c->el->l, &c->post);
}

/* From the pull callback, on the loop's thread: the connection's own
 * timer (its idle timeout, which a paused connection does not need)
 * wakes it. */
static void ev_pause_until(struct pt_req *r, uint64_t when_ns)
{
	struct conn *c = r->conn;
	c->paused = true;
	c->wake_ns = when_ns ? when_ns : 1;
	timer_arm(loop_timers(c->el->l), &c->timer, c->wake_ns);
}

static int ev_socket(struct pt_req *r)
{
	struct conn *c = r->conn;
	return c->fd;
}

const struct req_ops ev_ops = {
	.value = ev_value,
	.queue = ev_queue,
	.pause = ev_pause,
	.wake = ev_wake,
	.pause_until = ev_pause_until,
	.socket = ev_socket,
	.pull_offload = true,
};

void ev_conn_close(struct conn *c)
{
	struct evloop *el = c->el;
	struct ev *ev = el->ev;
	struct server *s = ev->s;

	if (c->state == C_CLOSED)
		return;
	loop_io_del(el->l, &c->io);
	close(c->fd);
	c->fd = -1;
	timer_cancel(loop_timers(el->l), &c->timer);
	if (c->prev)
		c->prev->next = c->next;
	else
		el->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	c->prev = c->next = NULL;
	ip_give(ev, c->peer, s->cfg.per_ip_connections);
	__atomic_sub_fetch(&ev->nconns, 1, __ATOMIC_RELAXED);
	if (s->cfg.on_connection)
		s->cfg.on_connection(-1, s->cfg.ctx);
	c->state = C_CLOSED;
}

static void conn_release(struct conn *c)
{
	free(c->in);
	free(c->pbuf);
	free(c);
}

void ev_conn_free(struct conn *c)
{
	struct evloop *el = c->el;
	if (atomic_load(&c->post.queued)) {
		/* its post frees it (on_post), or the stop does */
		c->prev = NULL;
		c->next = el->zombies;
		if (el->zombies)
			el->zombies->prev = c;
		el->zombies = c;
		return;
	}
	conn_release(c);
}

/* The current request is over (ok: its response went out whole). */
/* ---- callbacks ---- */

static void on_io(struct loop *l, struct loop_io *io, uint32_t events)
{
	struct conn *c = io->data;
	if (events & (LOOP_ERR | LOOP_HUP))
		c->peer_gone = true;
	if (events & (LOOP_RDHUP | LOOP_ERR | LOOP_HUP))
		c->rdhup = true;
	if (events & (LOOP_READ | LOOP_RDHUP | LOOP_ERR | LOOP_HUP))
		c->readable = true;
	if (events & (LOOP_WRITE | LOOP_ERR | LOOP_HUP))
		c->writable = true;
	if (c->paused)
		return; /* a pause or a suspension: its post goes on (and sees
			 * peer_gone) */
	ev_conn_run(c);
	if (c->state == C_CLOSED)
		ev_conn_free(c);
}

/* Run again a connection that was paused or suspended: its post came, or
 * its wake-up time.  May close and free it. */
static void resume(struct conn *c)
{
	c->paused = false;
	c->wake_ns = 0;
	if (c->state == C_WAIT) {
		if (c->peer_gone) {
			ev_request_end(c, false);
			ev_conn_close(c);
		} else {
			ev_after_handler(c, server_resumed(c->el->ev->s, c->r));
		}
	} else if (c->peer_gone && c->state != C_LINGER) {
		ev_conn_abort(c);
	}
	if (c->state != C_CLOSED) {
		ev_arm_idle(c);
		ev_conn_run(c);
	}
	if (c->state == C_CLOSED)
		ev_conn_free(c);
}

/* req_wake / req_resume, on the loop's thread. */
static void on_post(struct loop *l, void *data)
{
	struct conn *c = data;
	if (c->state == C_CLOSED) {
		struct evloop *el = c->el;
		if (c->prev)
			c->prev->next = c->next;
		else
			el->zombies = c->next;
		if (c->next)
			c->next->prev = c->prev;
		conn_release(c);
		return;
	}
	resume(c);
}

static void on_timer(struct timer_wheel *w, struct timer *t, uint64_t now)
{
	struct conn *c = TIMER_OWNER(t, struct conn, timer);
	struct server *s = c->el->ev->s;

	if (c->state == C_LINGER) {
		ev_conn_close(c);
		ev_conn_free(c);
		return;
	}
	if (c->paused && c->wake_ns) {
		if (now < c->wake_ns) /* not yet (armed earlier, as idle) */
			timer_arm(w, t, c->wake_ns);
		else
			resume(c);
		return;
	}
	if (c->paused || c->state == C_WAIT || !s->cfg.timeout_seconds)
		return; /* armed again when its post comes */
	uint64_t due = c->last_ns + s->cfg.timeout_seconds * 1000000000ull;
	if (now < due) {
		timer_arm(w, t, due);
		return;
	}
	/* idle too long: a slow client, or a keep-alive nobody uses */
	if (c->r)
		ev_conn_abort(c);
	else
		ev_conn_close(c);
	if (c->state == C_CLOSED)
		ev_conn_free(c);
}

static void peer_text(const struct sockaddr_storage *sa, char *out,
		      size_t n)
{
	out[0] = '\0';
	if (sa->ss_family == AF_INET)
		inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr,
			  out, (socklen_t)n);
	else if (sa->ss_family == AF_INET6)
		inet_ntop(AF_INET6,
			  &((const struct sockaddr_in6 *)sa)->sin6_addr, out,
			  (socklen_t)n);
}

static void on_accept(struct loop *l, struct loop_io *io, uint32_t events)
{
	struct evloop *el = io->data;
	struct ev *ev = el->ev;
	struct server *s = ev->s;

	for (int i = 0; i < ACCEPT_BATCH; i++) {
		struct sockaddr_storage sa;
		socklen_t len = sizeof(sa);
		memset(&sa, 0, sizeof(sa));
		int fd = accept4(el->lfd, (struct sockaddr *)&sa, &len,
				 SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			if (errno == EMFILE || errno == ENFILE)
				pt_log("server: out of file descriptors: %s",
				       strerror(errno));
			return;
		}
		char peer[PROXY_ADDR_MAX];
		peer_text(&sa, peer, sizeof(peer));
		if (__atomic_load_n(&s->draining, __ATOMIC_RELAXED) ||
		    (s->cfg.max_connections &&
		     (unsigned)__atomic_load_n(&ev->nconns,
					       __ATOMIC_RELAXED) >=
			     s->cfg.max_connections) ||
		    !ip_take(ev, peer, s->cfg.per_ip_connections)) {
			close(fd);
			continue;
		}
		int one = 1;
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		struct conn *c = xcalloc(1, sizeof(*c));
		c->el = el;
		c->fd = fd;
		snprintf(c->peer, sizeof(c->peer), "%s", peer);
		h1_request_init(&c->h, c->hslots, MAX_HEADERS, MAX_HEAD);
		timer_init(&c->timer, on_timer);
		loop_post_init(&c->post, on_post, c);
		if (loop_io_add(l, &c->io, fd,
				LOOP_READ | LOOP_WRITE | LOOP_RDHUP, on_io,
				c)) {
			ip_give(ev, peer, s->cfg.per_ip_connections);
			close(fd);
			free(c);
			continue;
		}
		c->next = el->conns;
		if (el->conns)
			el->conns->prev = c;
		el->conns = c;
		__atomic_add_fetch(&ev->nconns, 1, __ATOMIC_RELAXED);
		if (s->cfg.on_connection)
			s->cfg.on_connection(1, s->cfg.ctx);
		c->readable = c->writable = true;
		c->state = C_HEAD;
		ev_arm_idle(c);
		ev_conn_run(c);
		if (c->state == C_CLOSED)
			ev_conn_free(c);
	}
}

/* ---- the engine ---- */

static int setup_loop(struct loop *l, unsigned i, void *arg)
{
	struct ev *ev = arg;
	struct evloop *el = &ev->loops[i];
	char port[16];

	el->ev = ev;
	el->l = l;
	el->index = i;
	/* every loop its own socket on one port: the first one's, when the
	 * configuration says port 0 */
	snprintf(port, sizeof(port), "%s", ev->port);
	if (i > 0)
		snprintf(port, sizeof(port), "%u", ev->bound_port);
	if (i == 0 && strcmp(port, "0") != 0) {
		/* SO_REUSEPORT would let a second partaged share the port
		 * with a running one (same user): a plain socket first, which
		 * fails with EADDRINUSE if anything listens there */
		int probe = loop_listen_tcp(*ev->host ? ev->host : NULL, port,
					    1, false);
		if (probe < 0)
			return probe;
		close(probe);
	}
	el->lfd = loop_listen_tcp(*ev->host ? ev->host : NULL, port, 1024,
				  true);
	if (el->lfd < 0)
		return el->lfd;
	if (i == 0) {
		struct sockaddr_storage ss;
		socklen_t len = sizeof(ss);
		memset(&ss, 0, sizeof(ss));
		if (getsockname(el->lfd, (struct sockaddr *)&ss, &len) == 0)
			ev->bound_port = ntohs(
				ss.ss_family == AF_INET6
					? ((struct sockaddr_in6 *)&ss)->sin6_port
					: ((struct sockaddr_in *)&ss)->sin_port);
	}
	return loop_io_add(l, &el->lio, el->lfd, LOOP_READ | LOOP_LEVEL,
			   on_accept, el);
}

static void ev_stop(struct server *s);

static int ev_start(struct server *s, const char *host, const char *port)
{
	struct ev *ev = xcalloc(1, sizeof(*ev));
	unsigned n = s->cfg.threads ? s->cfg.threads : 1;

	ev->s = s;
	ev->nloops = n;
	ev->loops = xcalloc(n, sizeof(*ev->loops));
	for (unsigned i = 0; i < n; i++)
		ev->loops[i].lfd = -1;
	snprintf(ev->host, sizeof(ev->host), "%s", host);
	snprintf(ev->port, sizeof(ev->port), "%s", port);
	pthread_mutex_init(&ev->iplock, NULL);
	s->e = ev;
	int err = loop_group_start(&ev->group, n, setup_loop, ev);
	if (err) {
		pt_log("server: cannot listen on '%s': %s", s->cfg.listen,
		       strerror(-err));
		for (unsigned i = 0; i < n; i++)
			if (ev->loops[i].lfd >= 0)
				close(ev->loops[i].lfd);
		pthread_mutex_destroy(&ev->iplock);
		free(ev->loops);
		free(ev);
		s->e = NULL;
		return PT_EUNAVAIL;
	}
	return 0;
}

static unsigned ev_port(const struct server *s)
{
	const struct ev *ev = s->e;
	return ev->bound_port;
}

static void close_listener(struct loop *l, void *data)
{
	struct evloop *el = data;
	if (el->lfd < 0)
		return;
	loop_io_del(l, &el->lio);
	close(el->lfd);
	el->lfd = -1;
}

static void ev_drain(struct server *s)
{
	struct ev *ev = s->e;
	for (unsigned i = 0; i < ev->nloops; i++)
		loop_call(ev->loops[i].l, close_listener, &ev->loops[i]);
}

static void ev_stop(struct server *s)
{
	struct ev *ev = s->e;
	if (!ev)
		return;
	loop_group_stop(ev->group);
	/* the loops are still: end what is left on this thread, and free
	 * the connections once the loops (whose post queues may hold their
	 * nodes) are gone */
	struct conn *dead = NULL;
	for (unsigned i = 0; i < ev->nloops; i++) {
		struct evloop *el = &ev->loops[i];
		for (struct conn *c = el->conns, *next; c; c = next) {
			next = c->next;
			ev_request_end(c, false);
			ev_conn_close(c);
			c->next = dead;
			dead = c;
		}
		el->conns = NULL;
		for (struct conn *c = el->zombies, *next; c; c = next) {
			next = c->next;
			c->next = dead;
			dead = c;
		}
		el->zombies = NULL;
		if (el->lfd >= 0) {
			close(el->lfd);
			el->lfd = -1;
		}
	}
	loop_group_free(ev->group);
	for (struct conn *c = dead, *next; c; c = next) {
		next = c->next;
		conn_release(c);
	}
	for (unsigned i = 0; i < IP_BUCKETS; i++)
		while (ev->ip[i]) {
			struct iprow *p = ev->ip[i];
			ev->ip[i] = p->next;
			free(p);
		}
	pthread_mutex_destroy(&ev->iplock);
	free(ev->loops);
	free(ev);
	s->e = NULL;
}

const struct engine engine_ev = {
	.name = "event",
	.start = ev_start,
	.port = ev_port,
	.drain = ev_drain,
	.stop = ev_stop,
};

