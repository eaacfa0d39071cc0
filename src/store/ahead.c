/*
 * ahead.c — the I/O threads of ahead.h: a FIFO of reads, each for one
 * struct ahead, each read into a block of its own and handed back with
 * the ahead's wake.  One mutex guards the queue and every ahead's state
 * (a few operations per 256 KiB read: no contention worth a finer lock);
 * the read itself and the wake run without it.
 *
 * An ahead's states:
 *
 *   IDLE     no block, no read
 *   QUEUED   in the queue for [off, off + want)
 *   RUNNING  a worker reads it (the ahead is the worker's until READY)
 *   READY    buf holds [off, off + len)
 *   FAILED   the read failed with err: every later read fails
 *
 * `waiting` (the caller paused for this read: wake it when it is over),
 * `waking` (workers calling wake, outside the lock: the caller may have
 * taken the block and queued the next read meanwhile, which another
 * worker may finish and wake for too) and `orphan` (ahead_free came while
 * a worker held it: the last worker to let go frees it) make the
 * hand-over safe whichever side comes last.
 *
 * Two queues: reads a caller waits for (`want`: a connection is paused
 * for it) go before prefetches, so a small download, or a download whose
 * next block was not read ahead, does not queue behind the read-ahead of
 * every other download; a prefetch that its caller starts waiting for
 * moves to the first queue.
 */
#define _GNU_SOURCE
#include "ahead.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "../util/pt.h"
#include "../util/banned.h"

enum astate { A_IDLE, A_QUEUED, A_RUNNING, A_READY, A_FAILED };

struct ahead {
	struct ahead_pool *p;
	struct blob_reader *rd;
	void (*wake)(void *arg);
	void *arg;
	struct ahead *next, *prev; /* in a queue */
	enum astate state;
	bool urgent;        /* QUEUED in p->want */
	bool waiting, orphan;
	unsigned waking;    /* workers calling wake now */
	char *buf;
	uint64_t off;       /* READY: buf's first byte; QUEUED/RUNNING: the
			     * read's */
	size_t len, want;   /* READY: bytes in buf; the read's size */
	int err;            /* FAILED */
};

/* a queue of aheads, linked through their next and prev */
struct ahead_q {
	struct ahead *head, *tail;
};

struct ahead_pool {
	pthread_mutex_t mu;
	pthread_cond_t work, idle;
	struct ahead_q want, pre; /* reads waited for; prefetches */
	struct ahead_task *tasks, *tasks_tail; /* before any read */
	bool draining, stop;
	unsigned busy;      /* reads running and wakes being called */
	size_t held, budget;
	uint64_t reads;
	pthread_t *th;
	unsigned nth;
};

/* ---- under p->mu ---- */

static void release_block(struct ahead *a)
{
	if (a->buf) {
		free(a->buf);
		a->buf = NULL;
		a->p->held -= a->len;
		a->len = 0;
	}
}

/* Free a; its reader is closed outside the lock (an S3 reader closes a
 * connection).  Returns with the lock held again. */
static void destroy(struct ahead *a)
{
	struct ahead_pool *p = a->p;
	struct blob_reader *rd = a->rd;
	release_block(a);
	free(a);
	pthread_mutex_unlock(&p->mu);
	blob_reader_close(rd);
	pthread_mutex_lock(&p->mu);
}

static void q_push(struct ahead_q *q, struct ahead *a)
{
	a->next = NULL;
	a->prev = q->tail;
	if (q->tail)
		q->tail->next = a;
	else
		q->head = a;
	q->tail = a;
}

/* O(1): a caller that starts waiting for its prefetch, or goes away */
static void q_remove(struct ahead_q *q, struct ahead *a)
{
	if (a->prev)
		a->prev->next = a->next;
	else
		q->head = a->next;
	if (a->next)
		a->next->prev = a->prev;
	else
		q->tail = a->prev;
	a->next = a->prev = NULL;
}

static struct ahead *q_pop(struct ahead_q *q)
{
	struct ahead *a = q->head;
	if (!a)
		return NULL;
	q->head = a->next;
	if (q->head)
		q->head->prev = NULL;
	else
		q->tail = NULL;
	a->next = a->prev = NULL;
	return a;
}

static void enqueue(struct ahead *a, uint64_t off, size_t want, bool urgent)
{
	struct ahead_pool *p = a->p;
	a->state = A_QUEUED;
	a->off = off;
	a->want = want;
	a->urgent = urgent;
	q_push(urgent ? &p->want : &p->pre, a);
	pthread_cond_signal(&p->work);
}

static void unqueue(struct ahead *a)
{
	q_remove(a->urgent ? &a->p->want : &a->p->pre, a);
}

/* The read of a is over (state READY or FAILED): wake its caller if it
 * waits, outside the lock; frees a if it was orphaned meanwhile.  Called
 * with p->mu held and p->busy counting this; returns with the lock held
 * and busy no longer counting it. */
static void hand_over(struct ahead *a)
{
	struct ahead_pool *p = a->p;
	if (!a->orphan && a->waiting) {
		void (*wake)(void *) = a->wake;
		void *arg = a->arg;
		a->waiting = false;
		a->waking++;
		pthread_mutex_unlock(&p->mu);
		wake(arg);
		pthread_mutex_lock(&p->mu);
		a->waking--;
	}
	if (a->orphan && !a->waking && a->state != A_RUNNING)
		destroy(a);
	if (--p->busy == 0)
		pthread_cond_broadcast(&p->idle);
}

/* ---- the workers ---- */

static void *worker(void *arg)
{
	struct ahead_pool *p = arg;
	pt_thread_name("s3read");
	pthread_mutex_lock(&p->mu);
	for (;;) {
		while (!p->tasks && !p->want.head && !p->pre.head && !p->stop)
			pthread_cond_wait(&p->work, &p->mu);
		if (p->tasks) {
			struct ahead_task *t = p->tasks;
			p->tasks = t->next;
			if (!p->tasks)
				p->tasks_tail = NULL;
			p->busy++;
			pthread_mutex_unlock(&p->mu);
			t->fn(t, false); /* t may be gone after */
			pthread_mutex_lock(&p->mu);
			if (--p->busy == 0)
				pthread_cond_broadcast(&p->idle);
			continue;
		}
		struct ahead *a = q_pop(&p->want);
		if (!a)
			a = q_pop(&p->pre);
		if (!a)
			break;
		a->state = A_RUNNING;
		p->busy++;
		uint64_t off = a->off;
		size_t want = a->want;
		pthread_mutex_unlock(&p->mu);

		/* the ahead is ours until READY: its reader too */
		char *buf = xmalloc(want);
		size_t got = 0;
		ssize_t k = 0;
		while (got < want) {
			k = blob_reader_pread(a->rd, buf + got, want - got,
					      off + got);
			if (k <= 0)
				break;
			got += (size_t)k;
		}

		pthread_mutex_lock(&p->mu);
		p->reads++;
		if (got > 0) {
			a->state = A_READY;
			a->buf = buf;
			a->len = got;
			a->off = off;
			p->held += got;
		} else {
			free(buf);
			a->state = A_FAILED;
			/* 0: shorter than it said; never pad a body */
			a->err = k < 0 ? (int)k : PT_ECORRUPT;
		}
		hand_over(a);
	}
	pthread_mutex_unlock(&p->mu);
	return NULL;
}

struct ahead_pool *ahead_pool_new(unsigned workers, size_t budget)
{
	struct ahead_pool *p = xcalloc(1, sizeof(*p));
	pthread_mutex_init(&p->mu, NULL);
	pthread_cond_init(&p->work, NULL);
	pthread_cond_init(&p->idle, NULL);
	p->budget = budget;
	p->th = xcalloc(workers ? workers : 1, sizeof(pthread_t));
	for (unsigned i = 0; i < (workers ? workers : 1); i++) {
		int err = pthread_create(&p->th[i], NULL, worker, p);
		if (err) {
			pt_log("cannot start a blob read thread: %s",
			       strerror(err));
			break;
		}
		p->nth++;
	}
	if (!p->nth) {
		ahead_pool_free(p);
		return NULL;
	}
	return p;
}

void ahead_pool_drain(struct ahead_pool *p)
{
	if (!p)
		return;
	pthread_mutex_lock(&p->mu);
	p->draining = true;
	/* the queued tasks are refused, the queued reads fail; their
	 * callers are woken and end their requests */
	while (p->tasks) {
		struct ahead_task *t = p->tasks;
		p->tasks = t->next;
		if (!p->tasks)
			p->tasks_tail = NULL;
		p->busy++;
		pthread_mutex_unlock(&p->mu);
		t->fn(t, true);
		pthread_mutex_lock(&p->mu);
		p->busy--;
	}
	for (;;) {
		struct ahead *a = q_pop(&p->want);
		if (!a)
			a = q_pop(&p->pre);
		if (!a)
			break;
		a->state = A_FAILED;
		a->err = PT_EUNAVAIL;
		p->busy++;
		hand_over(a);
	}
	while (p->busy)
		pthread_cond_wait(&p->idle, &p->mu);
	pthread_mutex_unlock(&p->mu);
}

void ahead_pool_free(struct ahead_pool *p)
{
	if (!p)
		return;
	ahead_pool_drain(p);
	pthread_mutex_lock(&p->mu);
	p->stop = true;
	pthread_cond_broadcast(&p->work);
	pthread_mutex_unlock(&p->mu);
	for (unsigned i = 0; i < p->nth; i++)
		pthread_join(p->th[i], NULL);
	pthread_cond_destroy(&p->idle);
	pthread_cond_destroy(&p->work);
	pthread_mutex_destroy(&p->mu);
	free(p->th);
	free(p);
}

void ahead_pool_stats(struct ahead_pool *p, struct ahead_stats *out)
{
	memset(out, 0, sizeof(*out));
	if (!p)
		return;
	pthread_mutex_lock(&p->mu);
	out->reads = p->reads;
	out->held = p->held;
	pthread_mutex_unlock(&p->mu);
}

/* ---- the caller's side ---- */

int ahead_pool_run(struct ahead_pool *p, struct ahead_task *t)
{
	pthread_mutex_lock(&p->mu);
	if (p->draining) {
		pthread_mutex_unlock(&p->mu);
		return PT_EUNAVAIL;
	}
	t->next = NULL;
	if (p->tasks_tail)
		p->tasks_tail->next = t;
	else
		p->tasks = t;
	p->tasks_tail = t;
	pthread_cond_signal(&p->work);
	pthread_mutex_unlock(&p->mu);
	return 0;
}

struct ahead *ahead_new(struct ahead_pool *p, struct blob_reader *rd,
			void (*wake)(void *arg), void *arg)
{
	struct ahead *a = xcalloc(1, sizeof(*a));
	a->p = p;
	a->rd = rd;
	a->wake = wake;
	a->arg = arg;
	return a;
}

ssize_t ahead_read(struct ahead *a, void *buf, size_t n, uint64_t off,
		   uint64_t limit)
{
	struct ahead_pool *p = a->p;
	ssize_t ret;

	if (n == 0 || limit <= off)
		return PT_EINTERNAL; /* a caller's bug: nothing to wait for */
	pthread_mutex_lock(&p->mu);
	switch (a->state) {
	case A_QUEUED:
		if (!a->urgent) { /* a prefetch, waited for now */
			q_remove(&p->pre, a);
			q_push(&p->want, a);
			a->urgent = true;
		}
		/* fall through */
	case A_RUNNING:
		/* a read is out (the one asked for, or a prefetch that the
		 * caller skipped past: READY sorts it out next time) */
		a->waiting = true;
		ret = 0;
		goto out;
	case A_FAILED:
		ret = a->err;
		goto out;
	case A_READY:
		if (off >= a->off && off < a->off + a->len) {
			uint64_t end = a->off + a->len;
			size_t k = end - off < n ? (size_t)(end - off) : n;
			memcpy(buf, a->buf + (off - a->off), k);
			ret = (ssize_t)k;
			if (off + k < end)
				goto out;
			/* the block is spent: fetch the next one now, while
			 * the engine sends this, if the limit and the
			 * pool's budget allow */
			release_block(a);
			a->state = A_IDLE;
			uint64_t next = off + k;
			if (next < limit && !p->draining &&
			    p->held + AHEAD_BLOCK <= p->budget)
				enqueue(a, next,
					limit - next < AHEAD_BLOCK
						? (size_t)(limit - next)
						: AHEAD_BLOCK,
					false);
			goto out;
		}
		/* a block of some other part of the blob (a seek): drop */
		release_block(a);
		a->state = A_IDLE;
		/* fall through */
	case A_IDLE:
		if (p->draining) {
			ret = PT_EUNAVAIL;
			goto out;
		}
		enqueue(a, off,
			limit - off < AHEAD_BLOCK ? (size_t)(limit - off)
						  : AHEAD_BLOCK,
			true);
		a->waiting = true;
		ret = 0;
		goto out;
	}
	ret = PT_EINTERNAL;
out:
	pthread_mutex_unlock(&p->mu);
	return ret;
}

void ahead_free(struct ahead *a)
{
	if (!a)
		return;
	struct ahead_pool *p = a->p;
	pthread_mutex_lock(&p->mu);
	if (a->state == A_RUNNING || a->waking) {
		a->orphan = true; /* the last worker to let go frees it */
		a->waiting = false;
	} else {
		if (a->state == A_QUEUED)
			unqueue(a);
		destroy(a);
	}
	pthread_mutex_unlock(&p->mu);
}
