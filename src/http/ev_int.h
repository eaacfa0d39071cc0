/*
 * ev_int.h — private to the event engine (engine_ev.c: loops, accepting,
 * posts and timers, the engine's entry points; ev_conn.c: a connection's
 * state machine, reading requests and writing responses).
 */
#ifndef PT_EV_INT_H
#define PT_EV_INT_H

#include <stdbool.h>
#include <stdint.h>

#include "engine.h"
#include "h1.h"
#include "loop.h"
#include "reply.h"

#define IN_SIZE (64u * 1024)     /* read buffer (heads are at most 32 KiB) */
#define MAX_HEAD H1_HEAD_DEFAULT
#define MAX_HEADERS 100
#define MAX_TRAILERS 16
#define PULL_MAX (256u * 1024)   /* largest buffer a pulled body gets */
#define SENDFILE_MAX (1u << 20)  /* per sendfile call: others get a turn */
#define ACCEPT_BATCH 64
#define LINGER_NS (5ull * 1000000000)
#define LINGER_IDLE_NS (2ull * 1000000000)

enum cstate { C_HEAD, C_BODY, C_WAIT, C_SEND, C_LINGER, C_CLOSED };

struct ev;
struct evloop;

struct conn {
	struct loop_io io;
	struct timer timer;      /* idle timeout, linger */
	struct loop_post post;   /* req_wake / req_resume */
	struct evloop *el;
	struct conn *prev, *next; /* the loop's connections */
	int fd;
	enum cstate state;
	bool readable, writable; /* edge-triggered: still ready */
	bool peer_gone;          /* HUP or ERR seen */
	bool rdhup;              /* the peer's FIN seen: reads go on to EOF */
	bool paused;             /* waiting for a post (pause or suspend), or
				  * for wake_ns */
	uint64_t wake_ns;        /* req_pause_until: the timer wakes it
				  * then; 0: none */
	bool keep_alive;
	bool close_after;        /* the answer ends the connection */
	bool body_unread;        /* a body left unread: close after */
	uint64_t last_ns;        /* last progress, for the idle timeout */
	uint64_t linger_until;
	char peer[PROXY_ADDR_MAX];

	/* input: in[off .. len) not consumed yet */
	char *in;
	size_t off, len;
	struct h1_request h;
	struct h1_header hslots[MAX_HEADERS];
	struct h1_chunked ch;
	struct h1_header tslots[MAX_TRAILERS];
	uint64_t body_left;      /* H1_BODY_FIXED: bytes still to come */
	uint64_t drained;        /* body bytes dropped after an early reply */

	/* the request being served */
	struct pt_req *r;
	const char **names, **values; /* its headers, pool strings */
	size_t nheaders;
	const char **tnames, **tvalues; /* its trailers */
	size_t ntrailers;
	const char *target;      /* the raw request-target */
	bool head_only;          /* HEAD: no body goes out */

	/* output */
	struct resp *resp;
	int status;
	char *out;               /* response head (pool), then sent */
	size_t out_len, out_off;
	uint64_t body_len, body_off; /* the body, bytes sent */
	bool chunked_out;
	char *pbuf;              /* pulled bytes not written yet */
	size_t pbuf_cap, p_off, p_len;
	bool pull_end;
	char cont[32];           /* "100 Continue" still to write */
	size_t cont_len, cont_off;
};

struct evloop {
	struct ev *ev;
	struct loop *l;
	int lfd;
	struct loop_io lio;
	struct conn *conns;
	/* closed, waiting for a queued post before they are freed */
	struct conn *zombies;
	unsigned index;
};

struct iprow {
	struct iprow *next;
	unsigned n;
	char addr[PROXY_ADDR_MAX];
};

#define IP_BUCKETS 4096

struct ev {
	struct server *s;
	struct loop_group *group;
	unsigned nloops;
	struct evloop *loops;
	char host[256], port[16];
	unsigned bound_port;
	int nconns;
	pthread_mutex_t iplock;
	struct iprow *ip[IP_BUCKETS];
};


extern const struct req_ops ev_ops;

/* engine_ev.c */
/* Close the socket; the struct waits for ev_conn_free (the callback that
 * got here, or its post if one is queued). */
void ev_conn_close(struct conn *c);
void ev_conn_free(struct conn *c);

/* ev_conn.c */
/* Run the connection as far as it can go now. */
void ev_conn_run(struct conn *c);
/* The idle timer from now (armed if it is not). */
void ev_arm_idle(struct conn *c);
/* The current request is over (ok: its response went out whole). */
void ev_request_end(struct conn *c, bool ok);
/* Cut the connection (a request in flight ends with ok = false), or,
 * while work for it is out (paused), mark it for its post. */
void ev_conn_abort(struct conn *c);
/* The handler, on_end or a resumed run returned rc. */
void ev_after_handler(struct conn *c, req_res rc);

#endif
