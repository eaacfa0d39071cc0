/*
 * server.h — the HTTP layer: the request object that handlers see, the
 * routing table, and the server that runs them on an engine (engine.h).
 *
 * A request passes fixed phases: route (method + path pattern from one
 * table) → handler → (body callbacks while the body streams in) → reply →
 * completion (log line, metrics, the handler's on_complete, pool freed).
 * Handlers never see an engine's calling convention; they fill in a reply with
 * reply.h or install body callbacks.  They run on one of the engine's
 * worker threads, each serving many connections, so they should
 * block only briefly (a database query); longer work (a password hash)
 * suspends the request and runs it again when done (req_suspend).
 *
 * Paths reach the router raw (no engine unescapes them) and are
 * split and decoded per segment by path.h, so "%2F" in a name stays data.
 *
 * The engine (libmicrohttpd in engine_mhd.c and form.c, or the event core
 * in engine_ev.c) stays behind this header and reply.h: nothing outside
 * src/http sees it.  A request reaches
 * the engine only through r->ops, so a unit test can run a handler with a
 * request of its own making (tests/unit/test_handler.c).
 */
#ifndef PT_SERVER_H
#define PT_SERVER_H

#include <stdbool.h>
#include <stdint.h>

#include "../util/pool.h"
#include "../util/pt.h"
#include "path.h"

enum {
	HTTP_GET = 1 << 0,
	HTTP_HEAD = 1 << 1,
	HTTP_POST = 1 << 2,
	HTTP_PUT = 1 << 3,
	HTTP_DELETE = 1 << 4,
	HTTP_PATCH = 1 << 5,
	HTTP_OPTIONS = 1 << 6,
};

struct pt_req;
struct resp;

/*
 * What handlers, on_end callbacks and every reply function return to the
 * engine: REQ_OK, go on (a reply is queued, body callbacks are installed,
 * or the request is suspended); REQ_CLOSE, drop the connection.  A type of
 * its own, so that returning a status, an error code or 0 where a result
 * is due does not compile; req_res_ok() reads it.  (One int in a struct:
 * returned in a register like the int it replaces.)
 *
 * A helper that may reply on failure is named NAME_or_reply and returns
 * bool: true, it replied and the caller returns *rc; false, nothing was
 * sent and the caller goes on (as redis's ...OrReply functions).
 */
typedef struct {
	int v;
} req_res;

#define REQ_CLOSE ((req_res){ 0 })
#define REQ_OK ((req_res){ 1 })

static inline bool req_res_ok(req_res res)
{
	return res.v != 0;
}

typedef req_res (*route_cb)(struct pt_req *r);

/* Where a request value comes from (req_value). */
enum req_kind { REQ_HEADER, REQ_COOKIE, REQ_QUERY, REQ_TRAILER };

/*
 * The engine under a request: the few things only it can do.  An engine
 * fills these in for real connections; a test fills them in with its own.
 */
struct req_ops {
	/* a header, cookie, raw query argument or trailer; NULL: absent */
	const char *(*value)(struct pt_req *r, enum req_kind kind,
			     const char *name);
	/* send resp (reply.h's reply_queue, after the common headers);
	 * takes resp whatever happens */
	req_res (*queue)(struct pt_req *r, int status, struct resp *resp);
	/* stop calling this request back until wake (any thread) */
	void (*pause)(struct pt_req *r);
	void (*wake)(struct pt_req *r);
	/* pause, and wake at when_ns (monotonic) on the engine's own
	 * timers; NULL when the engine has none */
	void (*pause_until)(struct pt_req *r, uint64_t when_ns);
	/* the connection's socket, for TCP_INFO and liveness; -1: none */
	int (*socket)(struct pt_req *r);
	/* a pull may hand its work to another thread (req_pull_offload) */
	bool pull_offload;
};

/*
 * One route.  pattern segments: a literal, "{id}" (a valid link id), or
 * "{*}" (any one segment).  Captured segments go to r->arg[] in order.
 */
enum {
	ROUTE_AUTH = 1 << 0,    /* 401 unless the request is authenticated */
	ROUTE_NO_CSRF = 1 << 1, /* changes nothing a forged form could abuse */
	/* a plain HTML form posts here (no script to send X-CSRF-Token): a
	 * browser's Origin header naming this site stands in for it */
	ROUTE_FORM = 1 << 2,
};

struct route {
	unsigned methods;
	const char *pattern;
	route_cb handler;
	const char *name; /* metrics label */
	unsigned flags;   /* ROUTE_* */
};

struct pt_req {
	void *ctx;                  /* the server's user context */
	const struct req_ops *ops;  /* the engine's (see struct req_ops) */
	void *conn;                 /* private to the engine */
	struct pt_pool *pool;
	unsigned method;            /* HTTP_* bit */
	const char *method_name;
	const char *raw_path;       /* without query */
	struct path path;
	const struct route *route;
	int route_index;            /* -1 when none matched */
	pt_str arg[PATH_MAX_SEGS];  /* captures, decoded, NUL-terminated */
	char client_ip[48];
	uint64_t start_ns;
	uint64_t bytes_in, bytes_out;
	/* bytes of the response's status line and headers on the wire, set
	 * by the engine when it writes them; 0: unknown (libmicrohttpd) */
	uint64_t head_bytes;
	int status;                 /* of the queued reply */
	unsigned allow;             /* methods for a 405's Allow header */
	bool responded;
	bool in_body;               /* past the first call */
	bool deferred;              /* bodiless: dispatch at the next call */
	/* private to engine_mhd.c: a reply made mid-body, queued at the last
	 * call (MHD accepts responses only then) */
	void *parked;
	int parked_status;
	/* private to engine_mhd.c: in the list of bodies being received, which
	 * a watcher checks for clients that closed (see watch_loop) */
	struct pt_req *wprev, *wnext;
	bool watched, hung_up;
	int fd;
	uint64_t body_ns;           /* when the last body bytes came */

	/* Installed by a handler that takes a body.  on_body gets every
	 * chunk; on_end runs after the last and must reply.  Returning
	 * non-zero from on_body means "stop": the handler has replied. */
	int (*on_body)(struct pt_req *r, const char *data, size_t n);
	req_res (*on_end)(struct pt_req *r);
	/* After the response has gone (ok: every byte was sent). */
	void (*on_complete)(struct pt_req *r, bool ok);
	void *state;
	void *who;                  /* the authenticated principal (app) */
	/* headers every reply to this request carries (reply_queue) */
	struct reply_header *extra;
	/* Work off the worker thread (req_suspend): for the module that
	 * suspended the request, kept across the handler's runs. */
	void *async;
	/* A second module's state across runs, as async: download.c's blob
	 * opened off the loop (it may follow a password hash in the same
	 * request, which holds async) */
	void *async_io;
	/* private to server.c: what runs again after req_resume, and the
	 * reply headers it had not added yet */
	req_res (*again)(struct pt_req *r);
	struct reply_header *extra_mark;
	unsigned runs;              /* handler runs so far (see req_suspend) */
	bool may_suspend, suspended;
};

struct reply_header {
	struct reply_header *next;
	const char *name, *value;
};

struct server_config {
	const char *listen;         /* "HOST:PORT" */
	/* "event" (NULL too: engine_ev.c) or "libmicrohttpd" */
	const char *engine;
	unsigned threads;
	unsigned max_connections;
	unsigned per_ip_connections;
	unsigned timeout_seconds;
	/* "ADDR[/BITS] ..." whose X-Forwarded-For names the client (proxy.h);
	 * NULL or "" = none */
	const char *trusted_proxies;
	const struct route *routes; /* terminated by handler == NULL */
	void *ctx;
	/* request log and metrics hook, called once per finished request */
	void (*on_done)(struct pt_req *r, bool ok, void *ctx);
	void (*on_connection)(int delta, void *ctx);
	/* the auth phase, before every handler: fill r->who and return
	 * false, or reply (401, 403) and return true with the reply's result
	 * in *rc (an _or_reply function) */
	bool (*authenticate)(struct pt_req *r, req_res *rc);
};

struct server;

/* Start listening.  Returns 0, or a negative status with a log line. */
int server_start(const struct server_config *cfg, struct server **out);
/* The local TCP port the daemon listens on (the kernel's choice when the
 * listen address says port 0); 0 if the engine cannot tell. */
unsigned server_port(const struct server *s);
/* Stop accepting and wait up to `grace_s` for requests in flight. */
void server_drain(struct server *s, unsigned grace_s);
/* Close everything and free (no connection may be suspended now). */
void server_stop(struct server *s);
/* The engine's name: "libmicrohttpd" or "event". */
const char *server_engine(const struct server *s);
/* Number of routes in the table, for metrics arrays. */
unsigned server_route_count(const struct server *s);

/* Request helpers */
const char *req_header(struct pt_req *r, const char *name);
/* A cookie's value, as sent; NULL when absent. */
const char *req_cookie(struct pt_req *r, const char *name);
/* A trailer of a chunked body (after on_body's last call); NULL: none. */
const char *req_trailer(struct pt_req *r, const char *name);
/* The connection's socket (TCP_INFO, liveness probes); -1: unknown. */
int req_socket(struct pt_req *r);
/* Query argument, percent-decoded into the pool; NULL when absent. */
const char *req_query(struct pt_req *r, const char *name);
/* Add a header to whatever reply this request gets (copied). */
void req_reply_header(struct pt_req *r, const char *name, const char *value);
/* Retry-After: seconds (at least 1: "now" is no advice) on whatever reply
 * r gets; returns the value written (the pool's), for the reply's text. */
const char *req_retry_after(struct pt_req *r, int64_t seconds);
/* Does the Accept header name this media type (or a type/wildcard)? */
bool req_accepts(struct pt_req *r, const char *type);

/*
 * Waiting without a worker thread.  A bodiless request's handler, or an
 * on_end, that must wait for work done elsewhere (a password hash on the
 * pwhash threads) calls req_suspend() and returns its result without
 * replying; the other thread calls req_resume() when the work is done,
 * and then the same handler (or on_end) runs again from the start, with
 * the reply headers it had added dropped.  So the code before the
 * suspension must be safe to run twice, and the result of the work is
 * found on the second run in r->async.  req_suspend returns REQ_OK, or
 * REQ_CLOSE when the request cannot be suspended here (a handler's first
 * call with a body still to come): then the caller does its work in
 * place.  req_resume may be called from any thread, once per
 * req_suspend, also before the handler has returned.
 */
bool req_can_suspend(const struct pt_req *r);
req_res req_suspend(struct pt_req *r);
void req_resume(struct pt_req *r);

/*
 * Pacing a streamed body (reply.h's resp_stream).  A pull callback that
 * may send nothing now calls req_pause and returns 0; the engine then
 * leaves the connection alone, costing no thread and no polling, until
 * req_wake (from any thread; throttle.h does it at a given time) makes it
 * call the pull callback again.
 */
void req_pause(struct pt_req *r);
void req_wake(struct pt_req *r);
/* From a pull callback: pause r and wake it at when_ns (monotonic) on the
 * engine's own timers (the event engine: the connection's timer in its
 * loop's wheel, no thread, no lock, no post).  false, doing nothing,
 * when the engine has no timers: pause and wake it by other means
 * (throttle.h). */
bool req_pause_until(struct pt_req *r, uint64_t when_ns);
/* May a pull callback hand a read to another thread — queue it, req_pause,
 * return 0, and have that thread req_wake r when it is done, possibly
 * before the pause?  true on the event engine (a wake is a post that the
 * loop runs after the callback has returned, and a paused connection is
 * kept until its wake: the waker's r stays valid).  false on
 * libmicrohttpd (a resume that comes before the suspension is lost) and
 * on requests without an engine: there the pull reads in place, on the
 * engine's own threads. */
bool req_pull_offload(const struct pt_req *r);

#endif
