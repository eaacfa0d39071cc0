/*
 * loop.c — the event loop per thread (loop.h has the design and the
 * contract).
 *
 * Stale events: epoll_wait hands back a batch; a callback early in the
 * batch may remove (and free) an io whose event comes later in the same
 * batch, a classic use-after-free.  loop_io_del therefore clears the
 * io's pointer from the rest of the batch being dispatched (libuv does
 * the same), and the dispatcher skips cleared entries.  The batch is at
 * most LOOP_BATCH events, so the scan is short and happens only for a
 * removal.
 */
#define _GNU_SOURCE
#include "loop.h"

#include <errno.h>
#include <limits.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include "../util/pt.h"
#include "../util/banned.h"

#define LOOP_BATCH 256

struct loop {
	int epfd, efd;
	struct loop_io wake_io;
	_Atomic(struct loop_post *) head; /* posts, newest first */
	atomic_bool stop;
	uint64_t now;
	/* the batch being dispatched, for loop_io_del */
	struct epoll_event *batch;
	int batch_i, batch_n;
	/* counters; only wake_writes is written by other threads */
	atomic_uint_fast64_t passes, events, posts_run, wake_writes;
	struct epoll_event ev[LOOP_BATCH];
	struct timer_wheel timers;
};

/* The loop this thread is running, if any: a post from it needs no
 * eventfd write. */
static _Thread_local struct loop *running_here;

static uint64_t relaxed_get(const atomic_uint_fast64_t *c)
{
	return atomic_load_explicit(c, memory_order_relaxed);
}

/* Only the loop's thread writes these: a plain add, no locked insn. */
static void bump(atomic_uint_fast64_t *c, uint64_t n)
{
	atomic_store_explicit(c, relaxed_get(c) + n, memory_order_relaxed);
}

static void wake_cb(struct loop *l, struct loop_io *io, uint32_t events)
{
	uint64_t v;

	/* the posts themselves are taken at the top of the next pass */
	if (read(l->efd, &v, sizeof(v)) < 0 && errno != EAGAIN)
		pt_log("loop: cannot read the eventfd: %s", strerror(errno));
}

static void wake(struct loop *l)
{
	uint64_t one = 1;

	atomic_fetch_add_explicit(&l->wake_writes, 1, memory_order_relaxed);
	/* EAGAIN: the counter is full, the loop is woken anyway */
	if (write(l->efd, &one, sizeof(one)) < 0 && errno != EAGAIN)
		pt_log("loop: cannot write the eventfd: %s", strerror(errno));
}

int loop_new(struct loop **out)
{
	struct loop *l = xcalloc(1, sizeof(*l));
	int rc;

	l->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (l->epfd < 0) {
		rc = -errno;
		free(l);
		return rc;
	}
	l->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (l->efd < 0) {
		rc = -errno;
		close(l->epfd);
		free(l);
		return rc;
	}
	atomic_init(&l->head, NULL);
	atomic_init(&l->stop, false);
	l->now = pt_mono_ns();
	timer_wheel_init(&l->timers, l->now);
	rc = loop_io_add(l, &l->wake_io, l->efd, LOOP_READ | LOOP_LEVEL,
			 wake_cb, NULL);
	if (rc < 0) {
		close(l->efd);
		close(l->epfd);
		free(l);
		return rc;
	}
	*out = l;
	return 0;
}

void loop_free(struct loop *l)
{
	struct loop_post *p, *next;

	if (!l)
		return;
	p = atomic_exchange(&l->head, NULL);
	for (; p; p = next) {
		next = p->next;
		if (p->heap)
			free(p);
		else
			atomic_store(&p->queued, false);
	}
	close(l->efd);
	close(l->epfd);
	free(l);
}

uint64_t loop_now(const struct loop *l)
{
	return l->now;
}

uint64_t loop_update_now(struct loop *l)
{
	return l->now = pt_mono_ns();
}

struct timer_wheel *loop_timers(struct loop *l)
{
	return &l->timers;
}

struct loop *loop_of_timers(struct timer_wheel *w)
{
	return TIMER_OWNER(w, struct loop, timers);
}

static uint32_t epoll_bits(uint32_t events)
{
	uint32_t e = events & (LOOP_READ | LOOP_WRITE | LOOP_RDHUP);

	return (events & LOOP_LEVEL) ? e : e | EPOLLET;
}

int loop_io_add(struct loop *l, struct loop_io *io, int fd, uint32_t events,
		loop_io_cb cb, void *data)
{
	struct epoll_event ev = { .events = epoll_bits(events) };

	PT_ASSERT(cb != NULL);
	io->fd = fd;
	io->events = events;
	io->cb = cb;
	io->data = data;
	ev.data.ptr = io;
	if (epoll_ctl(l->epfd, EPOLL_CTL_ADD, fd, &ev) < 0)
		return -errno;
	return 0;
}

int loop_io_mod(struct loop *l, struct loop_io *io, uint32_t events)
{
	struct epoll_event ev = { .events = epoll_bits(events) };

	ev.data.ptr = io;
	if (epoll_ctl(l->epfd, EPOLL_CTL_MOD, io->fd, &ev) < 0)
		return -errno;
	io->events = events;
	return 0;
}

int loop_io_del(struct loop *l, struct loop_io *io)
{
	int rc = 0;

	if (epoll_ctl(l->epfd, EPOLL_CTL_DEL, io->fd, NULL) < 0)
		rc = -errno;
	/* events for io later in the batch being dispatched are stale */
	for (int i = l->batch_i + 1; i < l->batch_n; i++)
		if (l->batch[i].data.ptr == io)
			l->batch[i].data.ptr = NULL;
	return rc;
}

void loop_post_init(struct loop_post *p, loop_post_cb cb, void *data)
{
	p->next = NULL;
	p->cb = cb;
	p->data = data;
	atomic_init(&p->queued, false);
	p->heap = false;
}

bool loop_post(struct loop *l, struct loop_post *p)
{
	struct loop_post *old;

	if (atomic_exchange_explicit(&p->queued, true, memory_order_acq_rel))
		return false;
	old = atomic_load_explicit(&l->head, memory_order_relaxed);
	do
		p->next = old;
	while (!atomic_compare_exchange_weak_explicit(&l->head, &old, p,
						      memory_order_release,
						      memory_order_relaxed));
	/* the first post of a batch wakes the loop; the loop's own thread
	 * need not, it looks at the queue before it sleeps */
	if (!old && running_here != l)
		wake(l);
	return true;
}

void loop_call(struct loop *l, loop_post_cb cb, void *data)
{
	struct loop_post *p = xmalloc(sizeof(*p));

	loop_post_init(p, cb, data);
	p->heap = true;
	loop_post(l, p);
}

/* Run the posts queued so far, oldest first.  Posts made meanwhile wait
 * for the next pass (which will not sleep), so a post that re-posts
 * itself cannot starve the descriptors. */
static void run_posts(struct loop *l)
{
	struct loop_post *p, *rev = NULL, *next;
	loop_post_cb cb;
	void *data;
	uint64_t n = 0;

	p = atomic_exchange_explicit(&l->head, NULL, memory_order_acquire);
	for (; p; p = next) {
		next = p->next;
		p->next = rev;
		rev = p;
	}
	for (p = rev; p; p = next) {
		next = p->next;
		cb = p->cb;
		data = p->data;
		if (p->heap) {
			free(p);
		} else {
			/* unqueued first: the callback may post it again
			 * (and free it, so p is not touched after) */
			atomic_store_explicit(&p->queued, false,
					      memory_order_release);
		}
		cb(l, data);
		n++;
	}
	bump(&l->posts_run, n);
}

/* How long epoll_wait may sleep, in ms: until the next timer (rounded
 * up, so as not to wake before it), -1 for ever, 0 if posts wait. */
static int sleep_ms(struct loop *l)
{
	uint64_t next, d;

	if (atomic_load_explicit(&l->head, memory_order_relaxed) ||
	    atomic_load_explicit(&l->stop, memory_order_relaxed))
		return 0;
	next = timer_next_ns(&l->timers);
	if (next == UINT64_MAX)
		return -1;
	if (next <= l->now)
		return 0;
	d = (next - l->now + 999999) / 1000000;
	return d > INT_MAX ? INT_MAX : (int)d;
}

int loop_run(struct loop *l)
{
	struct loop *outer = running_here;
	int n, rc = 0;

	running_here = l;
	while (!atomic_load_explicit(&l->stop, memory_order_acquire)) {
		run_posts(l);
		l->now = pt_mono_ns();
		timer_run(&l->timers, l->now);
		if (atomic_load_explicit(&l->stop, memory_order_acquire))
			break;
		n = epoll_wait(l->epfd, l->ev, LOOP_BATCH, sleep_ms(l));
		bump(&l->passes, 1);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			rc = -errno;
			pt_log("loop: epoll_wait failed: %s", strerror(errno));
			break;
		}
		l->now = pt_mono_ns();
		l->batch = l->ev;
		l->batch_n = n;
		for (l->batch_i = 0; l->batch_i < n; l->batch_i++) {
			struct loop_io *io = l->ev[l->batch_i].data.ptr;

			if (io)
				io->cb(l, io, l->ev[l->batch_i].events);
		}
		l->batch_n = 0;
		l->batch_i = 0;
		bump(&l->events, (uint64_t)n);
	}
	running_here = outer;
	return rc;
}

void loop_stop(struct loop *l)
{
	atomic_store_explicit(&l->stop, true, memory_order_release);
	if (running_here != l)
		wake(l);
}

void loop_stats(const struct loop *l, struct loop_stats *s)
{
	s->passes = relaxed_get(&l->passes);
	s->events = relaxed_get(&l->events);
	s->posts_run = relaxed_get(&l->posts_run);
	s->wake_writes = relaxed_get(&l->wake_writes);
}

/* ---- groups ---- */

struct loop_group {
	unsigned n;
	bool stopped;
	int first_error;
	struct loop_thread {
		struct loop *l;
		pthread_t th;
		bool started;
		int rc;
		unsigned index;
	} t[];
};

static void *group_main(void *arg)
{
	struct loop_thread *t = arg;
	char name[16];

	snprintf(name, sizeof(name), "loop%u", t->index);
	pt_thread_name(name);
	t->rc = loop_run(t->l);
	return NULL;
}

int loop_group_start(struct loop_group **out, unsigned n, loop_setup_cb setup,
		     void *arg)
{
	struct loop_group *g;
	unsigned i;
	int rc = 0;

	PT_ASSERT(n > 0);
	g = xcalloc(1, sizeof(*g) + n * sizeof(g->t[0]));
	g->n = n;
	for (i = 0; i < n && rc == 0; i++) {
		rc = loop_new(&g->t[i].l);
		if (rc == 0 && setup)
			rc = setup(g->t[i].l, i, arg);
	}
	for (i = 0; i < n && rc == 0; i++) {
		g->t[i].index = i;
		rc = -pthread_create(&g->t[i].th, NULL, group_main, &g->t[i]);
		g->t[i].started = rc == 0;
	}
	if (rc < 0) {
		loop_group_free(g);
		return rc;
	}
	*out = g;
	return 0;
}

unsigned loop_group_size(const struct loop_group *g)
{
	return g->n;
}

struct loop *loop_group_loop(struct loop_group *g, unsigned i)
{
	PT_ASSERT(i < g->n);
	return g->t[i].l;
}

int loop_group_stop(struct loop_group *g)
{
	unsigned i;

	if (g->stopped)
		return g->first_error;
	for (i = 0; i < g->n; i++)
		if (g->t[i].l)
			loop_stop(g->t[i].l);
	for (i = 0; i < g->n; i++) {
		if (!g->t[i].started)
			continue;
		pthread_join(g->t[i].th, NULL);
		if (g->t[i].rc < 0 && g->first_error == 0)
			g->first_error = g->t[i].rc;
	}
	g->stopped = true;
	return g->first_error;
}

void loop_group_free(struct loop_group *g)
{
	if (!g)
		return;
	loop_group_stop(g);
	for (unsigned i = 0; i < g->n; i++)
		loop_free(g->t[i].l);
	free(g);
}

int loop_listen_tcp(const char *host, const char *port, int backlog,
		    bool reuseport)
{
	struct addrinfo hints = { .ai_family = AF_UNSPEC,
				  .ai_socktype = SOCK_STREAM,
				  .ai_flags = AI_PASSIVE };
	struct addrinfo *res = NULL, *ai;
	int fd = -1, rc = -EINVAL, one = 1;

	if (getaddrinfo(host, port, &hints, &res) != 0)
		return -EINVAL;
	for (ai = res; ai; ai = ai->ai_next) {
		fd = socket(ai->ai_family,
			    ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
			    ai->ai_protocol);
		if (fd < 0) {
			rc = -errno;
			continue;
		}
		if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one,
			       sizeof(one)) == 0 &&
		    (!reuseport || setsockopt(fd, SOL_SOCKET, SO_REUSEPORT,
					      &one, sizeof(one)) == 0) &&
		    bind(fd, ai->ai_addr, ai->ai_addrlen) == 0 &&
		    listen(fd, backlog) == 0)
			break;
		rc = -errno;
		close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	return fd >= 0 ? fd : rc;
}
