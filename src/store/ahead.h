/*
 * ahead.h — reads of blobs that may block (S3), done off the event loops
 * by a small pool of I/O threads, with a bounded read-ahead.
 *
 * An event loop serves thousands of connections on one thread: a read
 * that waits for the network there (blob_s3_read.c's GET) stalls every
 * one of them.  A download whose blob has no local descriptor therefore
 * reads through a `struct ahead`: ahead_read() hands over bytes that a
 * worker has already read, or queues the read and returns 0 — the caller
 * pauses its connection, and the worker calls wake(arg) once the bytes are
 * in (or the read failed), from its own thread; the caller then asks
 * again.  No thread per connection, no polling: a waiting download costs
 * its struct and its place in the queue.
 *
 * Read-ahead and memory.  A read fetches at most AHEAD_BLOCK bytes, up to
 * the `limit` the caller names (the end of what its body needs now: a
 * range's end, or what a speed cap allows).  When the caller has taken
 * the last byte of a block and the limit lies further, the next block is
 * fetched at once, while the engine sends this one — but only while the
 * pool's prefetched blocks hold less than `budget` bytes in all.  So an
 * ahead holds at most one block (AHEAD_BLOCK), only between a read and
 * the caller taking its bytes, and never while its connection waits for
 * a speed cap (a paced body names limit = what it may send); the process
 * holds at most `budget` bytes of prefetched blocks plus one block per
 * connection whose read it is waiting for.
 *
 * Lifetime: ahead_free() may come at any time, also while a worker reads
 * for it or is calling its wake: the last worker to let go frees it.
 * The wake's target must outlive a wake that is under way: a connection
 * paused for its wake-up does (the event engine keeps it until then:
 * ev_conn_abort), and after ahead_pool_drain() no wake is under way.
 *
 * Thread-safe.  Nothing here blocks but the workers (and ahead_pool_drain,
 * which waits for their reads in flight).
 */
#ifndef PT_AHEAD_H
#define PT_AHEAD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "blob.h"

/* The most one read fetches (the download stream's block). */
#define AHEAD_BLOCK (256u * 1024)

struct ahead_pool;
struct ahead;

/* `workers` threads ("s3read"), prefetched blocks held up to `budget`
 * bytes in all (0: no prefetch).  NULL when no thread could start
 * (logged): callers then read in place, blocking. */
struct ahead_pool *ahead_pool_new(unsigned workers, size_t budget);
/* Refuse new reads (ahead_read returns PT_EUNAVAIL), fail the queued
 * ones (their wake runs) and wait until every read in flight has ended
 * and woken its caller: before the HTTP server stops, which must not see
 * a paused connection.  May block (as long as the reads in flight).
 * NULL is fine. */
void ahead_pool_drain(struct ahead_pool *p);
/* Drain, stop the threads and free.  Every ahead must be freed first.
 * NULL is fine. */
void ahead_pool_free(struct ahead_pool *p);

/* A reader of rd, which it owns from now (ahead_free closes it); wake(arg)
 * is called, on a worker thread, once for each ahead_read that returned
 * 0.  Never fails, never blocks. */
struct ahead *ahead_new(struct ahead_pool *p, struct blob_reader *rd,
			void (*wake)(void *arg), void *arg);
/*
 * Up to n bytes of the blob from off, never past limit (> off): copied
 * into buf, returns how many (> 0).  0: not read yet — the read is queued
 * or under way and wake(arg) will be called once when it is over (pause
 * first, then return to the engine; the wake may come before the pause
 * on another thread: the engines' pause/wake allow it).  < 0: the read
 * failed (the backend's status, PT_ECORRUPT when the blob is shorter
 * than asked, PT_EUNAVAIL after ahead_pool_drain); the body can never be
 * completed.  Never blocks.
 */
ssize_t ahead_read(struct ahead *a, void *buf, size_t n, uint64_t off,
		   uint64_t limit);
/* Free a (and close its reader), now or, while a worker holds it, when
 * the worker is done.  NULL is fine.  Never blocks. */
void ahead_free(struct ahead *a);

/*
 * Other blocking work of a download on the same threads (opening an S3
 * blob: a HEAD), before any read: fn(t, false) runs on a worker; at the
 * drain, a task still queued gets fn(t, true) on the draining thread
 * instead (it must not block then: refuse and wake the caller).  The
 * task is the caller's (embedded in its state) and must stay valid until
 * fn has run; fn may end its life (wake a caller that frees it) as its
 * last act.  Tasks go before every read.  0, or PT_EUNAVAIL after the
 * drain (fn will not run).  Never blocks.
 */
struct ahead_task {
	void (*fn)(struct ahead_task *t, bool cancelled);
	struct ahead_task *next; /* private */
};
int ahead_pool_run(struct ahead_pool *p, struct ahead_task *t);

/* The pool's counters, for tests and metrics: reads done, bytes held in
 * blocks now. */
struct ahead_stats {
	uint64_t reads;
	uint64_t held;
};
void ahead_pool_stats(struct ahead_pool *p, struct ahead_stats *out);

#endif
