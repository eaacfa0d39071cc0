/*
 * test_loop.c — the event loop (src/http/loop.c): readiness of a
 * socketpair (edge-triggered: told once per edge), a timer driving the
 * sleep of epoll_wait, 100 000 posts from 4 threads each run exactly
 * once, a batch of posts costing one eventfd write, stop from another
 * thread, an io removed (and freed) while its event is pending in the
 * same batch, and two loops on threads with SO_REUSEPORT listeners.
 * Every test has a watchdog timer, so a bug fails it instead of hanging.
 */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sched.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "http/loop.h"
#include "util/pt.h"
#include "util/banned.h"

#define MS 1000000ull
#define SEC (1000 * MS)

static struct timer watchdog;
static int watchdog_fired;

static void watchdog_cb(struct timer_wheel *w, struct timer *t, uint64_t now)
{
	watchdog_fired = 1;
	loop_stop(loop_of_timers(w));
}

static void arm_watchdog(struct loop *l, uint64_t ns)
{
	watchdog_fired = 0;
	timer_init(&watchdog, watchdog_cb);
	timer_arm(loop_timers(l), &watchdog, loop_update_now(l) + ns);
}

static struct loop *new_loop(void)
{
	struct loop *l = NULL;

	assert_int_equal(loop_new(&l), 0);
	return l;
}

static void pair(int sv[2])
{
	assert_int_equal(socketpair(AF_UNIX,
				    SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
				    0, sv),
			 0);
}

/* ---- readiness ---- */

struct reader {
	struct loop_io io;
	int calls;
	size_t got;
	size_t drain; /* bytes to read per call (0: until EAGAIN) */
	int nostop;   /* do not stop the loop */
	uint32_t last;
	char buf[64];
};

static void reader_cb(struct loop *l, struct loop_io *io, uint32_t ev)
{
	struct reader *r = io->data;
	ssize_t n;

	r->calls++;
	r->last = ev;
	if (ev & LOOP_READ) {
		do {
			n = read(io->fd, r->buf,
				 r->drain ? r->drain : sizeof(r->buf));
			if (n > 0)
				r->got += (size_t)n;
		} while (n > 0 && !r->drain);
	}
	if (!r->nostop)
		loop_stop(l);
}

/* Run a loop that the callback stops; the watchdog stops it otherwise. */
static void run_once(struct loop *l, uint64_t limit)
{
	arm_watchdog(l, limit);
	/* a stopped loop stays stopped: use a fresh flag per run */
	assert_int_equal(loop_run(l), 0);
	timer_cancel(loop_timers(l), &watchdog);
}

static void test_socketpair_readiness(void **state)
{
	int sv[2];
	struct reader r = { 0 };
	struct loop *l;

	pair(sv);
	/* one loop per run: loop_stop is sticky */
	l = new_loop();
	assert_int_equal(loop_io_add(l, &r.io, sv[0], LOOP_READ | LOOP_RDHUP,
				     reader_cb, &r),
			 0);
	assert_int_equal(write(sv[1], "hello", 5), 5);
	run_once(l, 2 * SEC);
	assert_false(watchdog_fired);
	assert_int_equal(r.calls, 1);
	assert_int_equal(r.got, 5);
	assert_true(r.last & LOOP_READ);
	assert_false(r.last & LOOP_RDHUP);
	assert_int_equal(loop_io_del(l, &r.io), 0);
	loop_free(l);

	/* edge-triggered: a read that leaves bytes behind is not told again
	 * until new bytes arrive */
	l = new_loop();
	r = (struct reader){ .drain = 2 };
	assert_int_equal(loop_io_add(l, &r.io, sv[0], LOOP_READ, reader_cb, &r),
			 0);
	assert_int_equal(write(sv[1], "abcdef", 6), 6);
	run_once(l, 2 * SEC);
	assert_int_equal(r.calls, 1);
	assert_int_equal(r.got, 2);
	loop_free(l);
	l = new_loop();
	assert_int_equal(loop_io_add(l, &r.io, sv[0], LOOP_READ, reader_cb, &r),
			 0);
	/* re-registered: a new edge, since 4 bytes wait */
	run_once(l, 2 * SEC);
	assert_int_equal(r.calls, 2);
	loop_free(l);
	l = new_loop();
	r.calls = 0;
	assert_int_equal(loop_io_add(l, &r.io, sv[0], LOOP_READ, reader_cb, &r),
			 0);
	r.drain = 0;
	run_once(l, 2 * SEC); /* drains the rest */
	assert_int_equal(r.got, 6);
	loop_free(l);
	l = new_loop();
	r.calls = 0;
	assert_int_equal(loop_io_add(l, &r.io, sv[0], LOOP_READ, reader_cb, &r),
			 0);
	run_once(l, 100 * MS); /* nothing to read: only the watchdog */
	assert_true(watchdog_fired);
	assert_int_equal(r.calls, 0);
	loop_free(l);

	/* the peer closes: read and RDHUP */
	l = new_loop();
	r = (struct reader){ 0 };
	assert_int_equal(loop_io_add(l, &r.io, sv[0], LOOP_READ | LOOP_RDHUP,
				     reader_cb, &r),
			 0);
	close(sv[1]);
	run_once(l, 2 * SEC);
	assert_int_equal(r.calls, 1);
	assert_true(r.last & LOOP_RDHUP);
	loop_free(l);
	close(sv[0]);
}

/* Within one run of 100 ms: edge-triggered, a callback that reads 2 of
 * 6 bytes is told once; level-triggered, three times (then no more: the
 * socket is empty). */
static void test_edge_vs_level(void **state)
{
	static const uint32_t modes[2] = { LOOP_READ, LOOP_READ | LOOP_LEVEL };
	static const int want[2] = { 1, 3 };

	for (int m = 0; m < 2; m++) {
		struct reader r = { .drain = 2, .nostop = 1 };
		struct loop *l = new_loop();
		int sv[2];

		pair(sv);
		assert_int_equal(loop_io_add(l, &r.io, sv[0], LOOP_READ,
					     reader_cb, &r),
				 0);
		/* loop_io_mod sets the mode that counts */
		assert_int_equal(loop_io_mod(l, &r.io, modes[m]), 0);
		assert_int_equal(write(sv[1], "abcdef", 6), 6);
		run_once(l, 100 * MS);
		assert_true(watchdog_fired);
		assert_int_equal(r.calls, want[m]);
		assert_int_equal(r.got, 2 * (size_t)want[m]);
		loop_free(l);
		close(sv[0]);
		close(sv[1]);
	}
}

/* writable: told once (edge), again after the buffer filled and drained */
struct writer {
	struct loop_io io;
	int calls;
	int stop_after;
};

static void writer_cb(struct loop *l, struct loop_io *io, uint32_t ev)
{
	struct writer *w = io->data;
	char buf[4096] = { 0 };

	w->calls++;
	if (w->calls == 1)
		while (write(io->fd, buf, sizeof(buf)) > 0)
			;
	if (w->calls >= w->stop_after)
		loop_stop(l);
}

struct drainer {
	struct loop_io io;
};

static void drainer_cb(struct loop *l, struct loop_io *io, uint32_t ev)
{
	char buf[65536];

	while (read(io->fd, buf, sizeof(buf)) > 0)
		;
}

static void test_write_edge(void **state)
{
	int sv[2];
	struct writer w = { .stop_after = 2 };
	struct drainer d;
	struct loop *l = new_loop();

	pair(sv);
	assert_int_equal(loop_io_add(l, &w.io, sv[0], LOOP_WRITE, writer_cb,
				     &w),
			 0);
	assert_int_equal(loop_io_add(l, &d.io, sv[1], LOOP_READ, drainer_cb,
				     &d),
			 0);
	run_once(l, 2 * SEC);
	assert_false(watchdog_fired);
	assert_int_equal(w.calls, 2);
	loop_free(l);
	close(sv[0]);
	close(sv[1]);
}

/* ---- timers drive the sleep ---- */

static uint64_t fired_at;

static void stop_cb(struct timer_wheel *w, struct timer *t, uint64_t now)
{
	fired_at = pt_mono_ns();
	loop_stop(loop_of_timers(w));
}

static void test_timer_timeout(void **state)
{
	struct loop *l = new_loop();
	struct timer t;
	struct loop_stats s;
	uint64_t start;

	timer_init(&t, stop_cb);
	start = loop_update_now(l);
	timer_arm(loop_timers(l), &t, start + 50 * MS);
	arm_watchdog(l, 5 * SEC);
	assert_int_equal(loop_run(l), 0);
	assert_false(watchdog_fired);
	assert_true(fired_at >= start + 50 * MS);
	/* not much later (a loaded machine may add a little) */
	assert_true(fired_at < start + 50 * MS + 300 * MS);
	loop_stats(l, &s);
	/* it slept until the timer: a few passes, not a busy loop */
	assert_true(s.passes <= 5);
	print_message("timer 50 ms: fired after %.1f ms, %llu passes\n",
		      (double)(fired_at - start) / 1e6,
		      (unsigned long long)s.passes);
	loop_free(l);
}

/* ---- posts ---- */

#define POSTERS 4
#define PER_POSTER 25000
#define POSTS (POSTERS * PER_POSTER)

static uint8_t delivered[POSTS];
static unsigned delivered_total;
static struct loop *post_loop;

static void count_cb(struct loop *l, void *data)
{
	size_t i = (size_t)(uintptr_t)data;

	delivered[i]++;
	if (++delivered_total == POSTS)
		loop_stop(l);
}

static void *poster_main(void *arg)
{
	size_t base = (size_t)(uintptr_t)arg * PER_POSTER;

	for (size_t i = 0; i < PER_POSTER; i++) {
		loop_call(post_loop, count_cb, (void *)(uintptr_t)(base + i));
		/* let the loop run between posts: many batches, not one */
		if (i % 256 == 0)
			sched_yield();
	}
	return NULL;
}

static void test_posts_from_threads(void **state)
{
	pthread_t th[POSTERS];
	struct loop_stats s;

	post_loop = new_loop();
	memset(delivered, 0, sizeof(delivered));
	delivered_total = 0;
	arm_watchdog(post_loop, 20 * SEC);
	for (uintptr_t i = 0; i < POSTERS; i++)
		assert_int_equal(pthread_create(&th[i], NULL, poster_main,
						(void *)i),
				 0);
	assert_int_equal(loop_run(post_loop), 0);
	for (int i = 0; i < POSTERS; i++)
		pthread_join(th[i], NULL);
	assert_false(watchdog_fired);
	assert_int_equal(delivered_total, POSTS);
	for (size_t i = 0; i < POSTS; i++)
		if (delivered[i] != 1)
			fail_msg("post %zu delivered %u times", i,
				 delivered[i]);
	loop_stats(post_loop, &s);
	assert_int_equal(s.posts_run, POSTS);
	assert_true(s.wake_writes <= POSTS);
	print_message("%d posts from %d threads: %llu eventfd writes, "
		      "%llu passes\n",
		      POSTS, POSTERS, (unsigned long long)s.wake_writes,
		      (unsigned long long)s.passes);
	loop_free(post_loop);
}

/* Intrusive posts: queued once however often posted; a batch costs one
 * eventfd write; order kept; the callback may post itself again. */
struct conn {
	struct loop_post wake;
	int runs;
	int repost;
};

static int nrun;

static void conn_wake_cb(struct loop *l, void *data)
{
	struct conn *c = data;

	c->runs++;
	if (c->repost-- > 0)
		assert_true(loop_post(l, &c->wake));
}

static struct conn conns[3];
static int ordered[3];

static void order_cb(struct loop *l, void *data)
{
	struct conn *c = data;

	c->runs++;
	ordered[nrun++] = (int)(c - conns);
	if (nrun == 3)
		loop_stop(l);
}

static void test_post_coalesce_and_batch(void **state)
{
	struct loop *l = new_loop();
	struct conn c = { 0 };
	struct loop_stats s;

	loop_post_init(&c.wake, conn_wake_cb, &c);
	nrun = 0;
	/* not running: 1000 posts of one node, one queued, one write */
	assert_true(loop_post(l, &c.wake));
	for (int i = 0; i < 999; i++)
		assert_false(loop_post(l, &c.wake));
	for (int i = 0; i < 3; i++) {
		loop_post_init(&conns[i].wake, order_cb, &conns[i]);
		conns[i].runs = 0;
		assert_true(loop_post(l, &conns[i].wake));
	}
	loop_stats(l, &s);
	assert_int_equal(s.wake_writes, 1);
	c.repost = 2;
	arm_watchdog(l, 2 * SEC);
	assert_int_equal(loop_run(l), 0);
	assert_false(watchdog_fired);
	/* c ran first, then the three in order; its re-posts after them */
	for (int i = 0; i < 3; i++) {
		assert_int_equal(conns[i].runs, 1);
		assert_int_equal(ordered[i], i);
	}
	assert_true(c.runs >= 1);
	loop_stats(l, &s);
	/* re-posts from the loop's own thread write nothing */
	assert_int_equal(s.wake_writes, 1);
	loop_free(l);
	/* loop_free dropped c's queued re-post: it may be posted again */
	assert_false(atomic_load(&c.wake.queued));
}

/* ---- stop from another thread ---- */

struct runner {
	struct loop *l;
	int rc;
	atomic_bool done;
};

static void *runner_main(void *arg)
{
	struct runner *r = arg;

	r->rc = loop_run(r->l);
	atomic_store(&r->done, true);
	return NULL;
}

static void test_stop_from_thread(void **state)
{
	struct runner r = { .l = new_loop(), .rc = 1 };
	struct timespec ts;
	pthread_t th;

	atomic_init(&r.done, false);
	/* no timer, no io: epoll_wait sleeps for ever until woken */
	assert_int_equal(pthread_create(&th, NULL, runner_main, &r), 0);
	ts = (struct timespec){ 0, 50 * 1000 * 1000 };
	nanosleep(&ts, NULL);
	assert_false(atomic_load(&r.done));
	loop_stop(r.l);
	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += 5;
	assert_int_equal(pthread_timedjoin_np(th, NULL, &ts), 0);
	assert_true(atomic_load(&r.done));
	assert_int_equal(r.rc, 0);
	loop_free(r.l);
}

/* ---- an io removed while its event waits in the same batch ---- */

struct victim {
	struct loop_io io;
	int calls;
	struct victim *other;
	int free_other; /* 1: free it; 0: poison its callback */
};

static int poisoned_calls;

static void poisoned_cb(struct loop *l, struct loop_io *io, uint32_t ev)
{
	poisoned_calls++;
}

static void victim_cb(struct loop *l, struct loop_io *io, uint32_t ev)
{
	struct victim *v = io->data, *o = v->other;

	v->calls++;
	/* the first of the two to run removes the other, whose event is
	 * in this same batch, and closes (and frees) it */
	if (o) {
		o->other = NULL;
		assert_int_equal(loop_io_del(l, &o->io), 0);
		close(o->io.fd);
		if (v->free_other) {
			free(o);
		} else {
			o->io.cb = poisoned_cb;
		}
		v->other = NULL;
	}
	loop_stop(l);
}

static void removal_case(int free_other)
{
	struct loop *l = new_loop();
	struct victim *a = xcalloc(1, sizeof(*a)), *b = xcalloc(1, sizeof(*b));
	struct loop_stats s;
	int sa[2], sb[2];

	pair(sa);
	pair(sb);
	a->other = b;
	b->other = a;
	a->free_other = b->free_other = free_other;
	assert_int_equal(loop_io_add(l, &a->io, sa[0], LOOP_READ, victim_cb, a),
			 0);
	assert_int_equal(loop_io_add(l, &b->io, sb[0], LOOP_READ, victim_cb, b),
			 0);
	/* both readable before the loop waits: one batch of two events */
	assert_int_equal(write(sa[1], "x", 1), 1);
	assert_int_equal(write(sb[1], "y", 1), 1);
	poisoned_calls = 0;
	arm_watchdog(l, 2 * SEC);
	assert_int_equal(loop_run(l), 0);
	assert_false(watchdog_fired);
	loop_stats(l, &s);
	assert_int_equal(s.passes, 1);
	assert_int_equal(poisoned_calls, 0);
	/* exactly one ran; the survivor is the one that ran */
	if (free_other) {
		struct victim *alive = a->calls ? a : b;

		assert_int_equal(alive->calls, 1);
		assert_int_equal(loop_io_del(l, &alive->io), 0);
		close(alive->io.fd);
		free(alive);
	} else {
		assert_int_equal(a->calls + b->calls, 1);
		close((a->calls ? a : b)->io.fd);
		free(a);
		free(b);
	}
	close(sa[1]);
	close(sb[1]);
	loop_free(l);
}

static void test_remove_pending(void **state)
{
	removal_case(0);
}

/* The same with the memory freed: under ASan any later touch is a
 * heap-use-after-free report. */
static void test_remove_pending_freed(void **state)
{
	removal_case(1);
}

/* ---- N loops, SO_REUSEPORT ---- */

struct acceptor {
	struct loop_io io;
	atomic_int accepted;
};

static struct acceptor acceptors[2];
static char listen_port[16];

static void accept_cb(struct loop *l, struct loop_io *io, uint32_t ev)
{
	struct acceptor *a = io->data;
	int fd;

	while ((fd = accept4(io->fd, NULL, NULL, SOCK_CLOEXEC)) >= 0) {
		atomic_fetch_add(&a->accepted, 1);
		close(fd);
	}
}

static int setup_cb(struct loop *l, unsigned i, void *arg)
{
	int fd = loop_listen_tcp("127.0.0.1", listen_port, 128, true);

	if (fd < 0)
		return fd;
	atomic_init(&acceptors[i].accepted, 0);
	return loop_io_add(l, &acceptors[i].io, fd, LOOP_READ, accept_cb,
			   &acceptors[i]);
}

static void test_group_reuseport(void **state)
{
	struct loop_group *g = NULL;
	struct sockaddr_in sin;
	socklen_t len = sizeof(sin);
	int probe, total = 0;
	const int conns_n = 64;

	/* find a free port: bind one socket to 0, then reuse its port */
	probe = loop_listen_tcp("127.0.0.1", "0", 1, true);
	assert_true(probe >= 0);
	assert_int_equal(getsockname(probe, (struct sockaddr *)&sin, &len), 0);
	snprintf(listen_port, sizeof(listen_port), "%u", ntohs(sin.sin_port));
	close(probe);
	assert_int_equal(loop_group_start(&g, 2, setup_cb, NULL), 0);
	assert_int_equal(loop_group_size(g), 2);
	for (int i = 0; i < conns_n; i++) {
		int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

		assert_true(fd >= 0);
		assert_int_equal(connect(fd, (struct sockaddr *)&sin,
					 sizeof(sin)),
				 0);
		close(fd);
	}
	for (int tries = 0; tries < 500; tries++) {
		struct timespec ts = { 0, 10 * 1000 * 1000 };

		total = atomic_load(&acceptors[0].accepted) +
			atomic_load(&acceptors[1].accepted);
		if (total == conns_n)
			break;
		nanosleep(&ts, NULL);
	}
	assert_int_equal(loop_group_stop(g), 0);
	assert_int_equal(total, conns_n);
	/* the kernel spread them (all on one: a chance of 2^-63) */
	assert_true(atomic_load(&acceptors[0].accepted) > 0);
	assert_true(atomic_load(&acceptors[1].accepted) > 0);
	print_message("reuseport: %d and %d connections\n",
		      atomic_load(&acceptors[0].accepted),
		      atomic_load(&acceptors[1].accepted));
	for (unsigned i = 0; i < 2; i++) {
		struct loop *l = loop_group_loop(g, i);

		assert_int_equal(loop_io_del(l, &acceptors[i].io), 0);
		close(acceptors[i].io.fd);
	}
	loop_group_free(g);
	/* a port that does not resolve */
	assert_int_equal(loop_listen_tcp("127.0.0.1", "no-such-port", 1, false),
			 -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_socketpair_readiness),
		cmocka_unit_test(test_edge_vs_level),
		cmocka_unit_test(test_write_edge),
		cmocka_unit_test(test_timer_timeout),
		cmocka_unit_test(test_posts_from_threads),
		cmocka_unit_test(test_post_coalesce_and_batch),
		cmocka_unit_test(test_stop_from_thread),
		cmocka_unit_test(test_remove_pending_freed),
		cmocka_unit_test(test_remove_pending),
		cmocka_unit_test(test_group_reuseport),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
