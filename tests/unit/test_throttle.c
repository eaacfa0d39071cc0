/*
 * test_throttle.c — unit tests for src/http/throttle.c: paused requests
 * are woken in time order, never before their time and within the tick
 * their time is rounded up to; stopping wakes everyone; after the stop a
 * request is woken at once and told so.
 *
 * The throttle wakes a request with req_wake (server.h), that is through
 * r->ops: a fake engine here records when and in which order each
 * request was woken.
 */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "http/server.h"
#include "http/throttle.h"
#include "util/pt.h"

#define MS 1000000ull
#define TICK (5 * MS) /* throttle.c's TICK_NS */
/* how late a wake-up may come on a loaded machine (CI runs the unit tests
 * next to each other): the bound that matters is "not early" */
#define LATE (200 * MS)

struct fake {
	struct pt_req r;
	uint64_t when;	/* asked for */
	uint64_t woken; /* pt_mono_ns() at the wake */
	int order;	/* 1 for the first woken */
	int wakes;
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static int woken_so_far;

static void fake_wake(struct pt_req *r)
{
	struct fake *f = r->conn;
	pthread_mutex_lock(&lock);
	f->woken = pt_mono_ns();
	f->order = ++woken_so_far;
	f->wakes++;
	pthread_mutex_unlock(&lock);
}

static void fake_pause(struct pt_req *r)
{
}

static const struct req_ops fake_ops = {
	.pause = fake_pause,
	.wake = fake_wake,
};

static void fakes_init(struct fake *f, size_t n)
{
	memset(f, 0, n * sizeof(*f));
	for (size_t i = 0; i < n; i++) {
		f[i].r.ops = &fake_ops;
		f[i].r.conn = &f[i];
	}
	pthread_mutex_lock(&lock);
	woken_so_far = 0;
	pthread_mutex_unlock(&lock);
}

static int woken_count(void)
{
	pthread_mutex_lock(&lock);
	int n = woken_so_far;
	pthread_mutex_unlock(&lock);
	return n;
}

/* Wait (up to 5 s) until n requests have been woken. */
static void wait_woken(int n)
{
	uint64_t end = pt_mono_ns() + 5000 * MS;
	while (woken_count() < n && pt_mono_ns() < end) {
		struct timespec ts = { 0, 1000000 };
		nanosleep(&ts, NULL);
	}
	assert_int_equal(woken_count(), n);
}

/* Woken once, not before its time, and within LATE of its tick. */
static void assert_on_time(const struct fake *f)
{
	uint64_t tick = (f->when + TICK - 1) / TICK * TICK;
	assert_int_equal(f->wakes, 1);
	assert_true(f->woken >= f->when);
	assert_true(f->woken >= tick);
	assert_true(f->woken < tick + LATE);
}

static void test_time_order(void **state)
{
	struct throttle *t = throttle_new();
	struct fake f[3];
	uint64_t now = pt_mono_ns();
	fakes_init(f, 3);
	/* asked out of order: woken in time order */
	f[0].when = now + 300 * MS;
	f[1].when = now + 100 * MS;
	f[2].when = now + 200 * MS;
	for (int i = 0; i < 3; i++)
		assert_true(throttle_resume_at(t, &f[i].r, f[i].when));
	assert_int_equal(throttle_waiting(t), 3);
	assert_int_equal(woken_count(), 0);
	wait_woken(3);
	assert_int_equal(f[1].order, 1);
	assert_int_equal(f[2].order, 2);
	assert_int_equal(f[0].order, 3);
	for (int i = 0; i < 3; i++)
		assert_on_time(&f[i]);
	assert_int_equal(throttle_waiting(t), 0);
	/* a time already past: woken at once */
	fakes_init(f, 1);
	now = pt_mono_ns();
	f[0].when = now - 1000 * MS;
	assert_true(throttle_resume_at(t, &f[0].r, f[0].when));
	wait_woken(1);
	assert_int_equal(f[0].wakes, 1);
	assert_true(f[0].woken >= now && f[0].woken < now + LATE);
	throttle_free(t);
}

static void test_same_tick(void **state)
{
	struct throttle *t = throttle_new();
	struct fake f[2];
	/* two times in one tick (1 ms and 4 ms into it): both are woken at
	 * its end, together, so the first not before the second's time */
	uint64_t base = (pt_mono_ns() + 100 * MS) / TICK * TICK;
	fakes_init(f, 2);
	f[0].when = base + 1 * MS;
	f[1].when = base + 4 * MS;
	assert_true(throttle_resume_at(t, &f[0].r, f[0].when));
	assert_true(throttle_resume_at(t, &f[1].r, f[1].when));
	wait_woken(2);
	assert_on_time(&f[0]);
	assert_on_time(&f[1]);
	assert_true(f[0].woken >= f[1].when);
	throttle_free(t);
}

static void test_heap_order(void **state)
{
	enum { N = 300 };
	struct throttle *t = throttle_new();
	struct fake *f = calloc(N, sizeof(*f));
	struct fake *by_order[N + 1] = { 0 };
	uint64_t now = pt_mono_ns();
	unsigned seed = 12345;
	assert_non_null(f);
	fakes_init(f, N);
	/* scattered over 20 ticks, many sharing one: the heap must give them
	 * back by tick, whatever order they came in */
	for (int i = 0; i < N; i++) {
		seed = seed * 1103515245u + 12345u;
		f[i].when = now + 50 * MS + (seed >> 8) % (100 * MS);
		assert_true(throttle_resume_at(t, &f[i].r, f[i].when));
	}
	wait_woken(N);
	for (int i = 0; i < N; i++) {
		assert_on_time(&f[i]);
		assert_true(f[i].order >= 1 && f[i].order <= N);
		assert_null(by_order[f[i].order]);
		by_order[f[i].order] = &f[i];
	}
	for (int k = 2; k <= N; k++) {
		uint64_t a = (by_order[k - 1]->when + TICK - 1) / TICK;
		uint64_t b = (by_order[k]->when + TICK - 1) / TICK;
		assert_true(a <= b);
	}
	assert_int_equal(throttle_waiting(t), 0);
	free(f);
	throttle_free(t);
}

static void test_stop(void **state)
{
	struct throttle *t = throttle_new();
	struct fake f[6];
	uint64_t hour = pt_mono_ns() + 3600000 * MS;
	fakes_init(f, 6);
	for (int i = 0; i < 5; i++)
		assert_true(throttle_resume_at(t, &f[i].r, hour + i * MS));
	assert_int_equal(throttle_waiting(t), 5);
	/* stopping wakes everyone now, an hour early: nobody stays paused */
	throttle_stop(t);
	assert_int_equal(woken_count(), 5);
	for (int i = 0; i < 5; i++)
		assert_int_equal(f[i].wakes, 1);
	assert_int_equal(throttle_waiting(t), 0);
	/* after the stop: false, and woken at once, before the call returns */
	assert_false(throttle_resume_at(t, &f[5].r, hour));
	assert_int_equal(f[5].wakes, 1);
	assert_int_equal(woken_count(), 6);
	/* idempotent; free stops no one twice */
	throttle_stop(t);
	throttle_free(t);
	for (int i = 0; i < 6; i++)
		assert_int_equal(f[i].wakes, 1);
	throttle_free(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_time_order),
		cmocka_unit_test(test_same_tick),
		cmocka_unit_test(test_heap_order),
		cmocka_unit_test(test_stop),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
