/*
 * test_ahead.c — unit tests for src/store/ahead.c, the reads of blobs off
 * the event loops, on a real fs blob store in a temp directory: every byte
 * read in order through waits and wake-ups, the read-ahead (a prefetch
 * when the limit lies further and the budget allows; none at budget 0 or
 * at the limit), a seek, a blob shorter than its reader said (truncated
 * under it), frees while a read is queued or running (ASan: no leak, no
 * use after free), the drain failing queued reads and waking their
 * callers, and tasks (a blob's open) on the workers and at the drain.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "store/ahead.h"
#include "store/blob.h"
#include "util/pt.h"

static char dir[256];
static struct blob_store *store;
static char hex[BLOB_HEX_LEN + 1];
static char *data;
#define SIZE (3 * AHEAD_BLOCK + 12345)

/* a wake-up: counted, and signalled to the test's "loop" */
struct waiter {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	unsigned wakes, waited;
};

static void wake_cb(void *arg)
{
	struct waiter *w = arg;
	pthread_mutex_lock(&w->mu);
	w->wakes++;
	pthread_cond_broadcast(&w->cv);
	pthread_mutex_unlock(&w->mu);
}

/* Wait for the wake-up of the read that returned 0 (the n-th). */
static void wait_wake(struct waiter *w)
{
	pthread_mutex_lock(&w->mu);
	w->waited++;
	while (w->wakes < w->waited)
		pthread_cond_wait(&w->cv, &w->mu);
	pthread_mutex_unlock(&w->mu);
}

static void waiter_init(struct waiter *w)
{
	memset(w, 0, sizeof(*w));
	pthread_mutex_init(&w->mu, NULL);
	pthread_cond_init(&w->cv, NULL);
}

static int setup(void **state)
{
	snprintf(dir, sizeof(dir), "/tmp/pt-ahead-XXXXXX");
	assert_non_null(mkdtemp(dir));
	assert_int_equal(blob_fs_open(dir, &store), 0);
	data = malloc(SIZE);
	for (size_t i = 0; i < SIZE; i++)
		data[i] = (char)(i * 7 + i / 4096);
	struct blob_writer *w;
	bool existed;
	assert_int_equal(blob_writer_open(store, &w), 0);
	assert_int_equal(blob_writer_write(w, data, SIZE), 0);
	assert_int_equal(blob_writer_commit(w, hex, &existed), 0);
	blob_writer_abort(w);
	return 0;
}

static int teardown(void **state)
{
	char cmd[300];
	blob_store_close(store);
	free(data);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : -1;
}

static struct blob_reader *reader(void)
{
	struct blob_reader *rd;
	assert_int_equal(blob_reader_open(store, hex, &rd), 0);
	return rd;
}

/* Read [off, end) with reads of at most n, waiting as told; returns how
 * many times it had to wait. */
static unsigned read_all(struct ahead *a, struct waiter *w, uint64_t off,
			 uint64_t end, size_t n, uint64_t limit)
{
	char *buf = malloc(n);
	unsigned waits = 0;
	while (off < end) {
		size_t want = end - off < n ? (size_t)(end - off) : n;
		ssize_t k = ahead_read(a, buf, want, off, limit ? limit : end);
		if (k == 0) {
			waits++;
			wait_wake(w);
			continue;
		}
		assert_true(k > 0);
		assert_true((size_t)k <= want);
		assert_memory_equal(buf, data + off, (size_t)k);
		off += (uint64_t)k;
	}
	free(buf);
	return waits;
}

static void test_sequential_with_read_ahead(void **state)
{
	struct ahead_pool *p = ahead_pool_new(2, 64u << 20);
	struct waiter w;
	struct ahead_stats st;
	waiter_init(&w);
	assert_non_null(p);
	struct ahead *a = ahead_new(p, reader(), wake_cb, &w);
	/* the engine's reads: a block at a time */
	unsigned waits = read_all(a, &w, 0, SIZE, AHEAD_BLOCK, 0);
	/* the first block was waited for; the later ones were asked for
	 * while the previous one was handed over (they may or may not be
	 * there by the time the next read comes) */
	assert_true(waits >= 1);
	assert_true(waits <= 4);
	ahead_pool_stats(p, &st);
	assert_true(st.reads == 4); /* 3 blocks and the tail, each once */
	assert_true(st.held == 0);  /* all handed over */
	ahead_free(a);
	ahead_pool_free(p);
}

static void test_small_reads_and_no_prefetch(void **state)
{
	/* budget 0: a block is read only when asked for */
	struct ahead_pool *p = ahead_pool_new(1, 0);
	struct waiter w;
	struct ahead_stats st;
	waiter_init(&w);
	struct ahead *a = ahead_new(p, reader(), wake_cb, &w);
	/* 1000-byte reads: one wait per block, and the rest from memory */
	unsigned waits = read_all(a, &w, 0, SIZE, 1000, 0);
	assert_int_equal(waits, 4);
	ahead_pool_stats(p, &st);
	assert_true(st.reads == 4);
	ahead_free(a);
	ahead_pool_free(p);
}

static void test_paced_reads_only_the_limit(void **state)
{
	/* a paced body names limit = what it may send: that much is read,
	 * nothing more is kept */
	struct ahead_pool *p = ahead_pool_new(1, 64u << 20);
	struct waiter w;
	struct ahead_stats st;
	char buf[5000];
	waiter_init(&w);
	struct ahead *a = ahead_new(p, reader(), wake_cb, &w);
	for (uint64_t off = 100; off < 100 + 10 * 5000; off += 5000) {
		assert_int_equal(ahead_read(a, buf, 5000, off, off + 5000), 0);
		wait_wake(&w);
		assert_int_equal(ahead_read(a, buf, 5000, off, off + 5000),
				 5000);
		assert_memory_equal(buf, data + off, 5000);
		ahead_pool_stats(p, &st);
		assert_true(st.held == 0);
	}
	ahead_pool_stats(p, &st);
	assert_true(st.reads == 10);
	ahead_free(a);
	ahead_pool_free(p);
}

static void test_seek(void **state)
{
	/* multipart/byteranges: the next part elsewhere drops the block */
	struct ahead_pool *p = ahead_pool_new(1, 64u << 20);
	struct waiter w;
	waiter_init(&w);
	struct ahead *a = ahead_new(p, reader(), wake_cb, &w);
	read_all(a, &w, 10, 20, 10, 0);
	read_all(a, &w, SIZE - 300, SIZE - 100, 64, 0);
	read_all(a, &w, 5, 2 * AHEAD_BLOCK + 7, AHEAD_BLOCK, 0);
	read_all(a, &w, 0, 1, 1, 0);
	ahead_free(a);
	ahead_pool_free(p);
}

static void test_short_blob_fails(void **state)
{
	/* the stored bytes end before the reader's size: the read fails
	 * (PT_ECORRUPT), never a short or padded body, and stays failed */
	struct ahead_pool *p = ahead_pool_new(1, 64u << 20);
	struct waiter w;
	char buf[1000], path[512];
	waiter_init(&w);
	struct blob_reader *rd = reader();
	snprintf(path, sizeof(path), "%s/blobs/%.2s/%.2s/%s", dir, hex,
		 hex + 2, hex);
	assert_int_equal(truncate(path, AHEAD_BLOCK), 0);
	struct ahead *a = ahead_new(p, rd, wake_cb, &w);
	assert_int_equal(ahead_read(a, buf, 1000, AHEAD_BLOCK + 10, SIZE), 0);
	wait_wake(&w);
	assert_int_equal(ahead_read(a, buf, 1000, AHEAD_BLOCK + 10, SIZE),
			 PT_ECORRUPT);
	assert_int_equal(ahead_read(a, buf, 1000, 0, SIZE), PT_ECORRUPT);
	ahead_free(a);
	ahead_pool_free(p);
}

static void test_free_while_reading(void **state)
{
	/* a client gone while its read is queued, running or waking: the
	 * ahead is freed by whoever comes last (ASan and LSan check) */
	struct ahead_pool *p = ahead_pool_new(3, 64u << 20);
	struct waiter w;
	char buf[64];
	waiter_init(&w);
	for (int i = 0; i < 2000; i++) {
		struct ahead *a = ahead_new(p, reader(), wake_cb, &w);
		uint64_t off = (uint64_t)(i * 4099) % (SIZE - 64);
		assert_int_equal(ahead_read(a, buf, 64, off, SIZE), 0);
		if (i % 3 == 1)
			usleep(10);
		ahead_free(a);
	}
	ahead_pool_free(p);
}

static void test_drain_fails_queued_reads(void **state)
{
	/* one worker, many readers queued: the drain lets the running read
	 * end, fails the others and wakes each caller exactly once; reads
	 * after it are refused */
	struct ahead_pool *p = ahead_pool_new(1, 64u << 20);
	struct waiter w;
	char *buf = malloc(AHEAD_BLOCK);
	struct ahead *a[16];
	waiter_init(&w);
	for (int i = 0; i < 16; i++) {
		a[i] = ahead_new(p, reader(), wake_cb, &w);
		assert_int_equal(ahead_read(a[i], buf, AHEAD_BLOCK, 0, SIZE),
				 0);
	}
	ahead_pool_drain(p);
	pthread_mutex_lock(&w.mu);
	assert_int_equal(w.wakes, 16);
	pthread_mutex_unlock(&w.mu);
	int ok = 0, refused = 0;
	for (int i = 0; i < 16; i++) {
		ssize_t k = ahead_read(a[i], buf, AHEAD_BLOCK, 0, SIZE);
		if (k == AHEAD_BLOCK) {
			assert_memory_equal(buf, data, AHEAD_BLOCK);
			ok++;
		} else {
			assert_int_equal(k, PT_EUNAVAIL);
			refused++;
		}
	}
	assert_int_equal(ok + refused, 16);
	/* a new reader gets nothing queued */
	struct ahead *b = ahead_new(p, reader(), wake_cb, &w);
	assert_int_equal(ahead_read(b, buf, 10, 0, SIZE), PT_EUNAVAIL);
	ahead_free(b);
	for (int i = 0; i < 16; i++)
		ahead_free(a[i]);
	free(buf);
	ahead_pool_free(p);
}

/* A task (a blob's open) that waits for the test before it returns. */
struct gate_task {
	struct ahead_task t;
	pthread_mutex_t *mu;
	pthread_cond_t *cv;
	bool *open;
	int ran;        /* 1: ran, 2: cancelled */
	bool started;
	pthread_t thread;
};

static void gate_fn(struct ahead_task *t, bool cancelled)
{
	struct gate_task *g = (struct gate_task *)t;
	pthread_mutex_lock(g->mu);
	g->thread = pthread_self();
	g->started = true;
	pthread_cond_broadcast(g->cv);
	if (!cancelled)
		while (!*g->open)
			pthread_cond_wait(g->cv, g->mu);
	g->ran = cancelled ? 2 : 1;
	pthread_mutex_unlock(g->mu);
}

static void *drainer(void *arg)
{
	ahead_pool_drain(arg);
	return NULL;
}

static void test_tasks_and_their_drain(void **state)
{
	/* tasks run on a worker, before reads; the drain refuses the queued
	 * ones on its own thread (fn(t, true)), waits for the running one,
	 * and later tasks are refused */
	struct ahead_pool *p = ahead_pool_new(1, 0);
	pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
	pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
	bool open = false;
	struct gate_task g[3];
	memset(g, 0, sizeof(g));
	for (int i = 0; i < 3; i++) {
		g[i].t.fn = gate_fn;
		g[i].mu = &mu;
		g[i].cv = &cv;
		g[i].open = &open;
	}
	assert_int_equal(ahead_pool_run(p, &g[0].t), 0);
	pthread_mutex_lock(&mu);
	while (!g[0].started)
		pthread_cond_wait(&cv, &mu);
	pthread_mutex_unlock(&mu);
	assert_false(pthread_equal(g[0].thread, pthread_self()));
	assert_int_equal(ahead_pool_run(p, &g[1].t), 0);
	assert_int_equal(ahead_pool_run(p, &g[2].t), 0);
	pthread_t th;
	assert_int_equal(pthread_create(&th, NULL, drainer, p), 0);
	pthread_mutex_lock(&mu);
	while (g[1].ran != 2 || g[2].ran != 2)
		pthread_cond_wait(&cv, &mu);
	assert_int_equal(g[0].ran, 0); /* still running: the drain waits */
	open = true;
	pthread_cond_broadcast(&cv);
	pthread_mutex_unlock(&mu);
	pthread_join(th, NULL);
	assert_int_equal(g[0].ran, 1);
	struct gate_task late = g[0];
	assert_int_equal(ahead_pool_run(p, &late.t), PT_EUNAVAIL);
	ahead_pool_free(p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_sequential_with_read_ahead,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_small_reads_and_no_prefetch,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_paced_reads_only_the_limit,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_seek, setup, teardown),
		cmocka_unit_test_setup_teardown(test_short_blob_fails, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_free_while_reading, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_drain_fails_queued_reads,
						setup, teardown),
		cmocka_unit_test(test_tasks_and_their_drain),
	};
	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
