/*
 * loop.h — an event loop per thread: epoll, a timer wheel and a queue of
 * posts from other threads.
 *
 * The connection layer (issue 13) is to run on N loops on N threads
 * (loop_group_start), each with its own listening socket (SO_REUSEPORT,
 * loop_listen_tcp): the kernel spreads new connections over the sockets by a hash of the
 * address pair, so no loop wakes for a connection another takes (no
 * thundering herd, no accept lock; nginx's `reuseport`).  The cost: a
 * connection waits in the backlog of its own loop even when another is
 * idle, and a loop that blocks delays the connections hashed to it, so
 * nothing that runs on a loop may block (disk and database work go to
 * other threads, which post the answer back).  One shared listener with
 * EPOLLEXCLUSIVE was the other choice; it wakes mostly the same thread
 * and spreads load worse with short requests.
 *
 * Readiness is edge-triggered (EPOLLET) unless LOOP_LEVEL is asked: a
 * connection is registered once for reading and writing and never again
 * (no epoll_ctl per request, per pause or per resume).  A speed-capped
 * download that has spent its tokens simply stops writing, costs nothing
 * while it waits for its timer, and is told again only by a new edge.
 * The price is the callback's contract: it must read or write until
 * EAGAIN, or remember that the socket is still ready and come back to it
 * (from a timer or a post), because no further event will say so.
 * Listening sockets may use LOOP_LEVEL to accept a bounded batch per
 * pass and still be told about the rest.
 *
 * Posts are how other threads talk to a loop: "wake this connection" (an
 * intrusive struct loop_post, queued at most once at a time) or "run this
 * closure" (loop_call, allocated).  The queue is a lock-free stack (one
 * compare-and-swap per post) that the loop takes whole and reverses, so
 * posts run in the order they were made; only the post that finds it
 * empty writes the eventfd, so a batch of posts costs one write and one
 * wake-up.  A post from the loop's own thread writes nothing: the loop
 * looks at the queue before it sleeps.
 *
 * One pass of loop_run: run the posts taken from the queue, run the due
 * timers, wait in epoll_wait (no longer than until the next timer, not at
 * all if posts are waiting), dispatch the events.
 *
 * Threads: a loop and everything registered on it (ios, timers) belong
 * to the thread in loop_run; only loop_post, loop_call and loop_stop may
 * be called from other threads.  Callbacks run on the loop's thread and
 * must not block.
 *
 * Errors: functions that can fail return 0 (or a descriptor) or a
 * negative errno.  Allocation failure aborts (pt.h).
 */
#ifndef PT_LOOP_H
#define PT_LOOP_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/epoll.h>

#include "timer.h"

struct loop;
struct loop_io;

/* Event bits, as given to loop_io_add and to callbacks. */
#define LOOP_READ EPOLLIN
#define LOOP_WRITE EPOLLOUT
#define LOOP_RDHUP EPOLLRDHUP /* the peer shut down its side */
#define LOOP_HUP EPOLLHUP     /* reported whether asked or not */
#define LOOP_ERR EPOLLERR     /* reported whether asked or not */
/* Flag for loop_io_add/mod: level-triggered instead of edge-triggered. */
#define LOOP_LEVEL (1u << 28)

/* Events on io's descriptor; events is the set that happened. */
typedef void (*loop_io_cb)(struct loop *l, struct loop_io *io, uint32_t events);

/* One registered descriptor, embedded in its owner's struct.  Fields are
 * set by loop_io_add; the owner may read fd and data. */
struct loop_io {
	int fd;
	uint32_t events;
	loop_io_cb cb;
	void *data;
};

/* ---- the loop ---- */

/* A new loop, not running.  Returns 0 and *out, or a negative errno
 * (epoll_create1, eventfd: EMFILE, ENFILE, ENOMEM). */
int loop_new(struct loop **out);
/* Free a loop that is not running and that no other thread can still
 * post to.  Ios still registered are forgotten (their descriptors are
 * the owner's to close); queued closures are freed without running,
 * queued post nodes are dropped. */
void loop_free(struct loop *l);
/* Run on the calling thread until loop_stop.  Returns 0, or a negative
 * errno if epoll_wait fails (EINTR is retried).  A stopped loop stays
 * stopped: loop_run returns at once. */
int loop_run(struct loop *l);
/* Make loop_run return at the end of its current pass (the rest of the
 * batch of events is still dispatched), or at once if it sleeps.  Any
 * thread; never blocks. */
void loop_stop(struct loop *l);

/* The loop's clock (monotonic ns), read when it last woke: what timers
 * are armed against.  loop_update_now reads it again. */
uint64_t loop_now(const struct loop *l);
uint64_t loop_update_now(struct loop *l);
/* The loop's timer wheel (timer.h), and the loop of a wheel (for timer
 * callbacks). */
struct timer_wheel *loop_timers(struct loop *l);
struct loop *loop_of_timers(struct timer_wheel *w);

/* ---- descriptors ---- */

/* Watch fd for events (LOOP_READ, LOOP_WRITE, LOOP_RDHUP, LOOP_LEVEL),
 * calling cb(l, io, what) on the loop's thread.  Edge-triggered unless
 * LOOP_LEVEL (see above).  fd should be non-blocking.  io belongs to the
 * caller and must stay valid until loop_io_del.  Returns 0 or a negative
 * errno from epoll_ctl (EEXIST: fd already registered; EPERM: a regular
 * file). */
int loop_io_add(struct loop *l, struct loop_io *io, int fd, uint32_t events,
		loop_io_cb cb, void *data);
/* Change the events watched.  Returns 0 or a negative errno. */
int loop_io_mod(struct loop *l, struct loop_io *io, uint32_t events);
/* Stop watching io; call it before closing the descriptor.  After it
 * returns the loop never touches io again, even for events of the batch
 * being dispatched: the owner may free io at once, from any callback.
 * Returns 0 or a negative errno from epoll_ctl (the io is forgotten
 * anyway). */
int loop_io_del(struct loop *l, struct loop_io *io);

/* ---- posts from any thread ---- */

typedef void (*loop_post_cb)(struct loop *l, void *data);

/* A post node embedded in its owner (a connection), for "wake this
 * connection" from another thread.  It is queued at most once at a time:
 * posting it again before it has run does nothing.  It is unqueued just
 * before its callback runs, so the callback, or anyone, may post it
 * again.  The owner must not free it while it is queued (loop_post
 * returned true and the callback has not run yet); the usual way is to
 * free the owner only from that callback, or after loop_free. */
struct loop_post {
	struct loop_post *next;
	loop_post_cb cb;
	void *data;
	atomic_bool queued;
	bool heap; /* a loop_call closure: freed after it runs */
};

void loop_post_init(struct loop_post *p, loop_post_cb cb, void *data);
/* Queue p to run on l's thread.  Any thread; lock-free, never blocks,
 * one eventfd write if the queue was empty.  Returns true if queued,
 * false if p was queued already (it will run once). */
bool loop_post(struct loop *l, struct loop_post *p);
/* Run cb(l, data) on l's thread: a closure, allocated here and freed
 * after it runs (or by loop_free).  Any thread; never blocks. */
void loop_call(struct loop *l, loop_post_cb cb, void *data);

/* Counters, for tests and benchmarks (read from any thread; approximate
 * while the loop runs). */
struct loop_stats {
	uint64_t passes;      /* epoll_wait calls */
	uint64_t events;      /* events dispatched */
	uint64_t posts_run;   /* post and closure callbacks run */
	uint64_t wake_writes; /* eventfd writes by posters */
};
void loop_stats(const struct loop *l, struct loop_stats *s);

/* ---- N loops on N threads ---- */

struct loop_group;

/* Called for loop i on the calling thread of loop_group_start, before
 * any loop runs: register listeners, timers, state.  Returns 0, or a
 * negative errno to fail the start. */
typedef int (*loop_setup_cb)(struct loop *l, unsigned i, void *arg);

/* Make n loops, call setup for each, then run each on a thread of its
 * own.  Returns 0 and *out, or a negative errno (from loop_new, setup or
 * pthread_create); on failure nothing is left running or allocated
 * (what setup registered is the caller's to release).  Signals are not
 * blocked in the threads: block them in the caller first if they must go
 * to one thread. */
int loop_group_start(struct loop_group **out, unsigned n, loop_setup_cb setup,
		     void *arg);
unsigned loop_group_size(const struct loop_group *g);
struct loop *loop_group_loop(struct loop_group *g, unsigned i);
/* Stop every loop and wait for its thread.  Returns the first error a
 * loop_run returned, or 0.  The loops stay allocated (the caller may
 * walk them to release what it registered) until loop_group_free. */
int loop_group_stop(struct loop_group *g);
/* Free the loops (stopping them first if need be) and the group. */
void loop_group_free(struct loop_group *g);

/* A non-blocking, close-on-exec TCP listening socket on host:port (host
 * NULL: every address), with SO_REUSEADDR, and SO_REUSEPORT if reuseport
 * (then each loop calls it for the same port and gets a socket of its
 * own; only sockets of the same user may join).  The first address of
 * host that binds is used.  Returns the descriptor, or a negative errno
 * (-EINVAL if host or port do not resolve). */
int loop_listen_tcp(const char *host, const char *port, int backlog,
		    bool reuseport);

#endif
