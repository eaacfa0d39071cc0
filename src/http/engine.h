/*
 * engine.h — private to src/http: what server.c (the routing, the request
 * lifecycle every engine shares) and the engines under it (engine_mhd.c:
 * libmicrohttpd; engine_ev.c: the event core of loop.h and h1.h) know of
 * each other.  server.h is the public side.
 *
 * An engine owns the sockets and the bytes; it makes a struct pt_req per
 * request with its own r->ops, and drives it through the phases with
 * the functions below: server_dispatch when the head is in, r->on_body
 * for body bytes, server_end when the body is complete, server_resumed
 * after a req_resume, and server_complete when the response is over.
 */
#ifndef PT_ENGINE_H
#define PT_ENGINE_H

#include <pthread.h>
#include <stdbool.h>

#include "server.h"
#include "../util/proxy.h"

/* The most bytes of a body read and dropped after an early reply, before
 * the connection is closed instead. */
#define DRAIN_MAX (64u << 20)

struct compiled_route {
	size_t n;
	pt_str seg[PATH_MAX_SEGS]; /* literal, or "{id}" / "{*}" */
};

struct server {
	struct server_config cfg;
	const struct engine *engine;
	void *e;                   /* the engine's state */
	struct compiled_route *croutes;
	unsigned nroutes;
	int inflight;              /* requests between head and completion */
	bool draining;             /* server_drain: no new connections */
	struct proxy_list trusted; /* whose X-Forwarded-For we believe */
};

struct engine {
	const char *name;
	/* listen on host:port and serve; 0 or a negative status, logged */
	int (*start)(struct server *s, const char *host, const char *port);
	unsigned (*port)(const struct server *s);
	/* stop taking connections (s->draining is set already) */
	void (*drain)(struct server *s);
	/* close everything: requests in flight complete with ok = false */
	void (*stop)(struct server *s);
};

extern const struct engine engine_mhd, engine_ev;

/* A request's fields an engine fills in first. */
void server_req_init(struct server *s, struct pt_req *r,
		     const struct req_ops *ops, void *conn,
		     const char *method);
/* The client's address from the peer's (text) and, behind a trusted
 * proxy, every X-Forwarded-For value joined (NULL: none). */
void server_client_address(struct server *s, struct pt_req *r,
			   const char *peer, const char *xff);
/* The head is in: route, authenticate, run the handler.  url is the raw
 * target (path and query). */
req_res server_dispatch(struct server *s, struct pt_req *r, const char *url);
/* The body is complete (or there was none and the handler did not
 * reply): run on_end, or answer 500 when nothing will reply. */
req_res server_end(struct server *s, struct pt_req *r);
/* After req_resume: run the suspended handler (or on_end) again. */
req_res server_resumed(struct server *s, struct pt_req *r);
/* The response is over (ok: every byte went out): on_complete, the log
 * line, the pool; r is freed. */
void server_complete(struct server *s, struct pt_req *r, bool ok);

#endif
