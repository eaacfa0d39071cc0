/*
 * health.c — the health a load balancer checks, answered without waiting
 * behind work.
 *
 * Two threads of their own, started with the server (serve.c):
 *   - the checker asks the metadata store "SELECT 1" once a second on its
 *     own connection (on PostgreSQL it writes the node's heartbeat
 *     instead, cluster.c) and keeps the answer (app->health_*), so no check
 *     ever waits for a connection of the pool or for a slow query: GET
 *     /healthz on the main port reads that answer (pages.c);
 *   - the responder, when [server] health_listen is set, listens on that
 *     second port and answers GET (or HEAD) /healthz itself, from a poll
 *     loop that does nothing else: the worker threads may all be busy
 *     streaming downloads from S3, the checks still get their answer in
 *     microseconds.  Point the balancer's checks there (haproxy:
 *     `check port N`; scripts/start-haproxy.sh: HAPROXY_CHECK_PORT).
 * An answer older than HEALTH_STALE_NS (the checker itself stuck in a
 * database that stopped answering) is a 503.
 *
 * The responder speaks just enough HTTP/1.1: one request per connection,
 * a head of at most 2 KiB read within 2 s, then "Connection: close".  At
 * most HEALTH_CLIENTS connections at once: a new one takes the place of
 * the oldest, so idle connections cannot keep the checks out.  It is
 * meant for the balancer's network, like /metrics.
 */
#define _GNU_SOURCE
#include "app.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "../util/banned.h"

#define HEALTH_CLIENTS 64
#define HEALTH_HEAD_MAX 2048
#define HEALTH_READ_NS (2ull * 1000000000ull)
#define HEALTH_STALE_NS (5ull * 1000000000ull)

struct health {
	struct app *app;
	int lfd; /* -1: no responder */
	int wake[2];
	pthread_t checker, responder;
	bool checker_started, responder_started;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool stop;
};

bool health_db_ok(struct app *app)
{
	uint64_t at = __atomic_load_n(&app->health_at_ns, __ATOMIC_ACQUIRE);
	if (!at) /* no checker (admin commands, tests): ask now */
		return app_db_reachable(app);
	return __atomic_load_n(&app->health_ok, __ATOMIC_RELAXED) &&
	       pt_mono_ns() - at < HEALTH_STALE_NS;
}

static void check_once(struct health *h)
{
	/* several nodes: the heartbeat is the check (cluster.c) */
	bool ok = h->app->cluster ? cluster_beat(h->app) == 0
				  : app_db_reachable(h->app);
	__atomic_store_n(&h->app->health_ok, ok, __ATOMIC_RELAXED);
	__atomic_store_n(&h->app->health_at_ns, pt_mono_ns(), __ATOMIC_RELEASE);
}

static void *checker(void *arg)
{
	struct health *h = arg;
	pt_thread_name("health");
	pthread_mutex_lock(&h->lock);
	while (!h->stop) {
		pthread_mutex_unlock(&h->lock);
		check_once(h);
		pthread_mutex_lock(&h->lock);
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_sec += 1;
		if (!h->stop)
			pthread_cond_timedwait(&h->cond, &h->lock, &ts);
	}
	pthread_mutex_unlock(&h->lock);
	return NULL;
}

struct client {
	int fd;
	uint64_t deadline;
	size_t n;
	char head[HEALTH_HEAD_MAX];
};

/* One reply, then the connection closes.  Best effort: a client that
 * does not take 200 bytes at once does not get them. */
static void answer(struct health *h, struct client *c)
{
	const char *status, *body, *extra = "";
	char buf[512];
	bool get = strncmp(c->head, "GET /healthz ", 13) == 0;
	bool head = strncmp(c->head, "HEAD /healthz ", 14) == 0;

	if (!get && !head) {
		status = "404 Not Found";
		body = "not found: this port answers GET /healthz only\n";
	} else if (health_db_ok(h->app)) {
		status = "200 OK";
		body = "ok\n";
	} else {
		status = "503 Service Unavailable";
		body = API_DB_DOWN "\n";
		extra = "Retry-After: 5\r\n";
	}
	int n = snprintf(buf, sizeof(buf),
			 "HTTP/1.1 %s\r\nContent-Type: text/plain; "
			 "charset=utf-8\r\nCache-Control: no-store\r\n%s"
			 "Content-Length: %zu\r\nConnection: close\r\n\r\n%s",
			 status, extra, strlen(body), head ? "" : body);
	if (n > 0 && (size_t)n < sizeof(buf)) {
		ssize_t w = send(c->fd, buf, (size_t)n,
				 MSG_NOSIGNAL | MSG_DONTWAIT);
		(void)w;
	}
}

static void drop(struct client *c)
{
	close(c->fd);
	c->fd = -1;
}

static void *responder(void *arg)
{
	struct health *h = arg;
	struct client *cl = xcalloc(HEALTH_CLIENTS, sizeof(*cl));
	struct pollfd pf[HEALTH_CLIENTS + 2];

	pt_thread_name("healthz");

	for (int i = 0; i < HEALTH_CLIENTS; i++)
		cl[i].fd = -1;
	for (;;) {
		int map[HEALTH_CLIENTS];
		nfds_t n = 0;
		pf[n++] = (struct pollfd){ .fd = h->wake[0], .events = POLLIN };
		pf[n++] = (struct pollfd){ .fd = h->lfd, .events = POLLIN };
		for (int i = 0; i < HEALTH_CLIENTS; i++) {
			if (cl[i].fd < 0)
				continue;
			map[n - 2] = i;
			pf[n++] = (struct pollfd){ .fd = cl[i].fd,
						   .events = POLLIN };
		}
		int r = poll(pf, n, 200);
		if (r < 0 && errno != EINTR)
			break;
		if (pf[0].revents)
			break; /* stop */
		uint64_t now = pt_mono_ns();
		for (nfds_t k = 2; r > 0 && k < n; k++) {
			struct client *c = &cl[map[k - 2]];
			if (!pf[k].revents)
				continue;
			ssize_t got = recv(c->fd, c->head + c->n,
					   sizeof(c->head) - 1 - c->n,
					   MSG_DONTWAIT);
			if (got <= 0) {
				if (got < 0 &&
				    (errno == EAGAIN || errno == EINTR))
					continue;
				drop(c);
				continue;
			}
			c->n += (size_t)got;
			c->head[c->n] = '\0';
			if (strstr(c->head, "\r\n\r\n") ||
			    strstr(c->head, "\n\n")) {
				answer(h, c);
				drop(c);
			} else if (c->n >= sizeof(c->head) - 1) {
				drop(c); /* no head fits: nothing to say */
			}
		}
		for (int i = 0; i < HEALTH_CLIENTS; i++)
			if (cl[i].fd >= 0 && now > cl[i].deadline)
				drop(&cl[i]);
		if (pf[1].revents & POLLIN) {
			int fd;
			while ((fd = accept4(h->lfd, NULL, NULL,
					     SOCK_NONBLOCK | SOCK_CLOEXEC)) >=
			       0) {
				int i = 0, old = 0;
				while (i < HEALTH_CLIENTS && cl[i].fd >= 0) {
					if (cl[i].deadline < cl[old].deadline)
						old = i;
					i++;
				}
				if (i == HEALTH_CLIENTS) {
					/* full: the oldest goes (a client that
					 * sends nothing), not the new check */
					drop(&cl[old]);
					i = old;
				}
				cl[i].fd = fd;
				cl[i].n = 0;
				cl[i].deadline = now + HEALTH_READ_NS;
			}
		}
	}
	for (int i = 0; i < HEALTH_CLIENTS; i++)
		if (cl[i].fd >= 0)
			drop(&cl[i]);
	free(cl);
	return NULL;
}

/* A listening socket on "HOST:PORT" ([v6]:PORT), or -errno/PT_EBADREQ. */
static int listen_on(const char *spec)
{
	char host[256];
	const char *colon = strrchr(spec, ':');
	struct addrinfo hints = { .ai_family = AF_UNSPEC,
				  .ai_socktype = SOCK_STREAM,
				  .ai_flags = AI_PASSIVE | AI_NUMERICSERV },
			*res = NULL;
	int fd = -1, err;

	if (!colon || (size_t)(colon - spec) >= sizeof(host))
		return PT_EBADREQ;
	const char *h = spec;
	size_t hl = (size_t)(colon - spec);
	if (hl >= 2 && h[0] == '[' && h[hl - 1] == ']')
		h++, hl -= 2;
	snprintf(host, sizeof(host), "%.*s", (int)hl, h);
	if (getaddrinfo(*host ? host : NULL, colon + 1, &hints, &res))
		return PT_EBADREQ;
	err = PT_EBADREQ;
	for (struct addrinfo *a = res; a; a = a->ai_next) {
		fd = socket(a->ai_family,
			    a->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		if (fd < 0) {
			err = -errno;
			continue;
		}
		int one = 1;
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		if (bind(fd, a->ai_addr, a->ai_addrlen) == 0 &&
		    listen(fd, 128) == 0)
			break;
		err = -errno;
		close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	return fd >= 0 ? fd : err;
}

int health_start(struct app *app, const char *listen_spec, struct health **out)
{
	struct health *h = xcalloc(1, sizeof(*h));
	h->app = app;
	h->lfd = -1;
	h->wake[0] = h->wake[1] = -1;
	pthread_mutex_init(&h->lock, NULL);
	pthread_cond_init(&h->cond, NULL);
	if (listen_spec && *listen_spec) {
		int fd = listen_on(listen_spec);
		if (fd < 0 || pipe2(h->wake, O_CLOEXEC)) {
			pt_log("cannot listen on health_listen '%s': %s",
			       listen_spec, pt_strerror(fd < 0 ? fd : -errno));
			if (fd >= 0)
				close(fd);
			pthread_cond_destroy(&h->cond);
			pthread_mutex_destroy(&h->lock);
			free(h);
			return fd < 0 ? fd : PT_EUNAVAIL;
		}
		h->lfd = fd;
		pt_log("health checks answered on %s (GET /healthz)",
		       listen_spec);
	}
	/* the first answer before anyone asks */
	check_once(h);
	h->checker_started = pthread_create(&h->checker, NULL, checker, h) == 0;
	if (h->lfd >= 0)
		h->responder_started = pthread_create(&h->responder, NULL,
						      responder, h) == 0;
	*out = h;
	return 0;
}

void health_stop(struct health *h)
{
	if (!h)
		return;
	pthread_mutex_lock(&h->lock);
	h->stop = true;
	pthread_cond_broadcast(&h->cond);
	pthread_mutex_unlock(&h->lock);
	if (h->wake[1] >= 0) {
		ssize_t w = write(h->wake[1], "x", 1);
		(void)w;
	}
	if (h->checker_started)
		pthread_join(h->checker, NULL);
	if (h->responder_started)
		pthread_join(h->responder, NULL);
	/* no checker any more: answers are asked for again */
	__atomic_store_n(&h->app->health_at_ns, 0, __ATOMIC_RELEASE);
	if (h->lfd >= 0)
		close(h->lfd);
	if (h->wake[0] >= 0)
		close(h->wake[0]);
	if (h->wake[1] >= 0)
		close(h->wake[1]);
	pthread_cond_destroy(&h->cond);
	pthread_mutex_destroy(&h->lock);
	free(h);
}
