/*
 * throttle.c — the timer thread (started by the first wait it holds: the
 * event engine never needs it) that resumes suspended connections, with
 * a binary min-heap of wake-up times.
 *
 * Wake-up times are rounded up to a TICK: the connections due in one tick
 * are woken together, so a worker wakes once for a batch instead of once
 * per connection (with libmicrohttpd a wake is an eventfd write and an
 * epoll wake-up, and it walks its list of suspended connections for each
 * batch).  A tick is
 * far below the half second of data a capped download gets per wake-up.
 */
#define _GNU_SOURCE
#include "throttle.h"

#include <pthread.h>
#include <stdlib.h>
#include <time.h>

#include "server.h"
#include "../util/pt.h"
#include "../util/banned.h"

#define TICK_NS (5ull * 1000000u)

struct wake {
	uint64_t when;
	struct pt_req *r;
};

struct throttle {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	pthread_t thread;
	bool started;  /* the thread runs: from the first wait it holds */
	struct wake *heap;
	size_t n, cap;
	bool stop;
	int64_t timed; /* waits on the engine's timers (atomic) */
};

static void heap_push(struct throttle *t, struct wake w)
{
	if (t->n == t->cap) {
		t->cap = t->cap ? 2 * t->cap : 1024;
		t->heap = xrealloc(t->heap, t->cap * sizeof(*t->heap));
	}
	size_t i = t->n++;
	while (i > 0) {
		size_t parent = (i - 1) / 2;
		if (t->heap[parent].when <= w.when)
			break;
		t->heap[i] = t->heap[parent];
		i = parent;
	}
	t->heap[i] = w;
}

static struct wake heap_pop(struct throttle *t)
{
	struct wake top = t->heap[0], last = t->heap[--t->n];
	size_t i = 0;
	for (;;) {
		size_t l = 2 * i + 1, r = l + 1, m = i;
		uint64_t mw = last.when;
		if (l < t->n && t->heap[l].when < mw) {
			m = l;
			mw = t->heap[l].when;
		}
		if (r < t->n && t->heap[r].when < mw)
			m = r;
		if (m == i)
			break;
		t->heap[i] = t->heap[m];
		i = m;
	}
	if (t->n)
		t->heap[i] = last;
	return top;
}

static void *run(void *arg)
{
	struct throttle *t = arg;
	struct pt_req **due = xmalloc(1024 * sizeof(*due));
	pt_thread_name("throttle");
	pthread_mutex_lock(&t->lock);
	while (!t->stop) {
		uint64_t now = pt_mono_ns();
		size_t n = 0;
		while (t->n && t->heap[0].when <= now && n < 1024)
			due[n++] = heap_pop(t).r;
		if (n) {
			/* wake outside the lock: the engine's wake takes its
			 * own locks, and workers must be able to queue
			 * meanwhile */
			pthread_mutex_unlock(&t->lock);
			for (size_t i = 0; i < n; i++)
				req_wake(due[i]);
			pthread_mutex_lock(&t->lock);
			continue;
		}
		if (t->n) {
			uint64_t when = t->heap[0].when;
			struct timespec ts = { (time_t)(when / 1000000000u),
					       (long)(when % 1000000000u) };
			pthread_cond_timedwait(&t->cond, &t->lock, &ts);
		} else {
			pthread_cond_wait(&t->cond, &t->lock);
		}
	}
	/* shutting down: nobody may stay paused (server_stop) */
	while (t->n)
		req_wake(heap_pop(t).r);
	pthread_mutex_unlock(&t->lock);
	free(due);
	return NULL;
}

struct throttle *throttle_new(void)
{
	struct throttle *t = xcalloc(1, sizeof(*t));
	pthread_condattr_t ca;
	pthread_mutex_init(&t->lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&t->cond, &ca);
	pthread_condattr_destroy(&ca);
	return t;
}

void throttle_stop(struct throttle *t)
{
	pthread_mutex_lock(&t->lock);
	if (t->stop) {
		pthread_mutex_unlock(&t->lock);
		return;
	}
	t->stop = true;
	pthread_cond_signal(&t->cond);
	pthread_mutex_unlock(&t->lock);
	if (t->started)
		pthread_join(t->thread, NULL);
}

void throttle_free(struct throttle *t)
{
	if (!t)
		return;
	throttle_stop(t);
	pthread_mutex_destroy(&t->lock);
	pthread_cond_destroy(&t->cond);
	free(t->heap);
	free(t);
}

bool throttle_resume_at(struct throttle *t, struct pt_req *r,
			uint64_t when_ns)
{
	pthread_mutex_lock(&t->lock);
	if (t->stop) {
		pthread_mutex_unlock(&t->lock);
		req_wake(r);
		return false;
	}
	if (!t->started) {
		/* an engine without timers of its own: the thread starts
		 * with the first wait it must hold */
		if (pthread_create(&t->thread, NULL, run, t) != 0) {
			pthread_mutex_unlock(&t->lock);
			req_wake(r);
			return false;
		}
		t->started = true;
	}
	when_ns = (when_ns + TICK_NS - 1) / TICK_NS * TICK_NS;
	bool first = t->n == 0 || when_ns < t->heap[0].when;
	heap_push(t, (struct wake){ when_ns, r });
	if (first)
		pthread_cond_signal(&t->cond);
	pthread_mutex_unlock(&t->lock);
	return true;
}

void throttle_count(struct throttle *t, int delta)
{
	__atomic_add_fetch(&t->timed, delta, __ATOMIC_RELAXED);
}

uint64_t throttle_waiting(struct throttle *t)
{
	pthread_mutex_lock(&t->lock);
	uint64_t n = t->n;
	pthread_mutex_unlock(&t->lock);
	int64_t timed = __atomic_load_n(&t->timed, __ATOMIC_RELAXED);
	return n + (uint64_t)(timed > 0 ? timed : 0);
}
