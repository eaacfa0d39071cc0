/*
 * loop_bench.c — micro-benchmarks of the event core (src/http/timer.c,
 * src/http/loop.c), built by `make bench-loop` into build/bench/loop_bench
 * and driven by bench/loop.sh:
 *
 *   loop_bench timers N       arm N timers over the next 60 s, then time
 *                             insert+cancel pairs, re-arms and firing
 *   loop_bench posts T N      N closures (loop_call) and N intrusive posts
 *                             from T threads to one loop: posts/s
 *   loop_bench serve PORT L S a TCP server on L loops (SO_REUSEPORT) that
 *                             answers every request (a line ending in an
 *                             empty line) with a fixed 4 KiB response,
 *                             keep-alive, for S seconds; measure it with
 *                             wrk.  No HTTP parsing: this is the floor
 *                             the engine costs, not a server.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "http/loop.h"
#include "util/pt.h"
#include "util/banned.h"

static uint64_t rng = 88172645463325252ull;
static uint64_t rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

static uint64_t parse_n(const char *s)
{
	uint64_t v = 0;

	if (pt_parse_u64(s, strlen(s), &v) != 0 || v == 0) {
		fprintf(stderr, "loop_bench: bad number '%s'\n", s);
		exit(2);
	}
	return v;
}

/* ---- timers ---- */

static uint64_t fired;
static void count_fire(struct timer_wheel *w, struct timer *t, uint64_t now)
{
	fired++;
}

static int bench_timers(uint64_t n)
{
	struct timer_wheel *w = xmalloc(sizeof(*w));
	struct timer *ts = xcalloc(n, sizeof(*ts));
	struct timer extra[1024];
	const uint64_t ops = 4000000, span = 60ull * 1000000000;
	uint64_t now = pt_mono_ns(), t0, t1, *dues;

	timer_wheel_init(w, now);
	dues = xmalloc(sizeof(*dues) * 4096);
	for (size_t i = 0; i < 4096; i++)
		dues[i] = now + rnd() % span;
	t0 = pt_mono_ns();
	for (uint64_t i = 0; i < n; i++) {
		timer_init(&ts[i], count_fire);
		timer_arm(w, &ts[i], dues[i & 4095] + i);
	}
	t1 = pt_mono_ns();
	printf("timers %10llu: arm          %6.1f ns/op\n",
	       (unsigned long long)n, (double)(t1 - t0) / (double)n);
	for (size_t i = 0; i < PT_ARRAY_LEN(extra); i++)
		timer_init(&extra[i], count_fire);
	t0 = pt_mono_ns();
	for (uint64_t i = 0; i < ops; i++) {
		struct timer *x = &extra[i & 1023];

		timer_arm(w, x, dues[i & 4095]);
		timer_cancel(w, x);
	}
	t1 = pt_mono_ns();
	printf("timers %10llu: insert+cancel %5.1f ns/pair\n",
	       (unsigned long long)n, (double)(t1 - t0) / (double)ops);
	/* re-arm an armed timer picked at random (an idle timeout pushed
	 * back on every read): cache misses dominate at 1M */
	t0 = pt_mono_ns();
	for (uint64_t i = 0; i < ops; i++)
		timer_arm(w, &ts[rnd() % n], dues[i & 4095]);
	t1 = pt_mono_ns();
	printf("timers %10llu: re-arm random %5.1f ns/op\n",
	       (unsigned long long)n, (double)(t1 - t0) / (double)ops);
	/* fire them all, waking as a loop would */
	fired = 0;
	t0 = pt_mono_ns();
	uint64_t next, wakeups = 0;
	while ((next = timer_next_ns(w)) != UINT64_MAX) {
		timer_run(w, next);
		wakeups++;
	}
	t1 = pt_mono_ns();
	printf("timers %10llu: run all      %6.1f ns/timer (%llu fired, "
	       "%llu wake-ups over 60 s)\n",
	       (unsigned long long)n, (double)(t1 - t0) / (double)fired,
	       (unsigned long long)fired, (unsigned long long)wakeups);
	free(dues);
	free(ts);
	free(w);
	return 0;
}

/* ---- posts ---- */

static struct loop *post_loop;
static uint64_t post_n, post_total, post_done;
static unsigned post_threads;
static struct loop_post *post_nodes;

static void post_cb(struct loop *l, void *data)
{
	if (++post_done == post_total)
		loop_stop(l);
}

static void *closure_main(void *arg)
{
	for (uint64_t i = 0; i < post_n; i++)
		loop_call(post_loop, post_cb, NULL);
	return NULL;
}

static void *node_main(void *arg)
{
	struct loop_post *p = &post_nodes[(uintptr_t)arg * post_n];

	for (uint64_t i = 0; i < post_n; i++)
		loop_post(post_loop, &p[i]);
	return NULL;
}

static void post_round(const char *what, void *(*fn)(void *))
{
	pthread_t th[64];
	struct loop_stats s;
	uint64_t t0, t1;

	if (loop_new(&post_loop) < 0)
		exit(1);
	post_done = 0;
	post_total = post_n * post_threads;
	t0 = pt_mono_ns();
	for (uintptr_t i = 0; i < post_threads; i++)
		pthread_create(&th[i], NULL, fn, (void *)i);
	loop_run(post_loop);
	t1 = pt_mono_ns();
	for (unsigned i = 0; i < post_threads; i++)
		pthread_join(th[i], NULL);
	loop_stats(post_loop, &s);
	printf("posts %s: %u threads x %llu: %.2f M posts/s, %llu eventfd "
	       "writes, %llu loop passes\n",
	       what, post_threads, (unsigned long long)post_n,
	       (double)post_total / ((double)(t1 - t0) / 1e9) / 1e6,
	       (unsigned long long)s.wake_writes, (unsigned long long)s.passes);
	loop_free(post_loop);
}

static int bench_posts(unsigned threads, uint64_t n)
{
	if (threads > 64)
		threads = 64;
	post_threads = threads;
	post_n = n / threads;
	post_round("closure", closure_main);
	post_nodes = xcalloc(post_n * threads, sizeof(*post_nodes));
	for (uint64_t i = 0; i < post_n * threads; i++)
		loop_post_init(&post_nodes[i], post_cb, NULL);
	post_round("node   ", node_main);
	free(post_nodes);
	return 0;
}

/* ---- a fixed 4 KiB response server ---- */

static char resp[4096 + 256];
static size_t resp_len;
static const char *serve_port;

struct bconn {
	struct loop_io io;
	unsigned owed;	/* responses not yet written */
	size_t off;	/* into the current response */
	unsigned match; /* of "\r\n\r\n" so far */
};

struct lstate {
	struct loop_io listen;
};

static void conn_close(struct loop *l, struct bconn *c)
{
	loop_io_del(l, &c->io);
	close(c->io.fd);
	free(c);
}

/* Write what is owed until done or EAGAIN; false if the peer is gone. */
static bool conn_flush(struct bconn *c)
{
	struct iovec iov[16];

	while (c->owed) {
		int n = 0;
		ssize_t w;

		iov[n].iov_base = resp + c->off;
		iov[n++].iov_len = resp_len - c->off;
		for (unsigned i = 1; i < c->owed && n < 16; i++) {
			iov[n].iov_base = resp;
			iov[n++].iov_len = resp_len;
		}
		w = writev(c->io.fd, iov, n);
		if (w < 0)
			return errno == EAGAIN;
		c->off += (size_t)w;
		while (c->owed && c->off >= resp_len) {
			c->off -= resp_len;
			c->owed--;
		}
	}
	return true;
}

static void conn_cb(struct loop *l, struct loop_io *io, uint32_t ev)
{
	struct bconn *c = io->data;
	char buf[16384];
	ssize_t n;

	if (ev & LOOP_READ) {
		for (;;) {
			n = read(io->fd, buf, sizeof(buf));
			if (n == 0 || (n < 0 && errno != EAGAIN)) {
				conn_close(l, c);
				return;
			}
			if (n < 0)
				break;
			for (ssize_t i = 0; i < n; i++) {
				char want = (c->match & 1) ? '\n' : '\r';

				if (buf[i] == want) {
					if (++c->match == 4) {
						c->owed++;
						c->match = 0;
					}
				} else {
					c->match = buf[i] == '\r';
				}
			}
		}
	}
	if (!conn_flush(c) || (ev & (LOOP_HUP | LOOP_ERR)))
		conn_close(l, c);
}

static void accept_cb(struct loop *l, struct loop_io *io, uint32_t ev)
{
	int fd;

	while ((fd = accept4(io->fd, NULL, NULL,
			     SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0) {
		struct bconn *c = xcalloc(1, sizeof(*c));

		if (loop_io_add(l, &c->io, fd, LOOP_READ | LOOP_WRITE, conn_cb,
				c) < 0) {
			close(fd);
			free(c);
		}
	}
}

static struct lstate lstates[64];

static int serve_setup(struct loop *l, unsigned i, void *arg)
{
	int fd = loop_listen_tcp("127.0.0.1", serve_port, 1024, true);

	if (fd < 0)
		return fd;
	return loop_io_add(l, &lstates[i].listen, fd, LOOP_READ, accept_cb,
			   &lstates[i]);
}

static int bench_serve(const char *port, unsigned loops, uint64_t secs)
{
	struct loop_group *g = NULL;
	struct timespec ts = { (time_t)secs, 0 };
	sigset_t set;
	int rc, hl;

	hl = snprintf(resp, sizeof(resp),
		      "HTTP/1.1 200 OK\r\nServer: loop_bench\r\n"
		      "Content-Type: application/octet-stream\r\n"
		      "Content-Length: 4096\r\n\r\n");
	memset(resp + hl, 'x', 4096);
	resp_len = (size_t)hl + 4096;
	serve_port = port;
	if (loops > 64)
		loops = 64;
	sigemptyset(&set);
	sigaddset(&set, SIGPIPE);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	rc = loop_group_start(&g, loops, serve_setup, NULL);
	if (rc < 0) {
		fprintf(stderr, "loop_bench: cannot start: %s\n",
			pt_strerror(rc));
		return 1;
	}
	printf("serving 4 KiB on 127.0.0.1:%s with %u loops for %llu s\n", port,
	       loops, (unsigned long long)secs);
	fflush(stdout);
	nanosleep(&ts, NULL);
	loop_group_stop(g);
	for (unsigned i = 0; i < loops; i++) {
		struct loop_stats s;

		loop_stats(loop_group_loop(g, i), &s);
		printf("loop %u: %llu passes, %llu events\n", i,
		       (unsigned long long)s.passes,
		       (unsigned long long)s.events);
	}
	loop_group_free(g);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 3 && strcmp(argv[1], "timers") == 0)
		return bench_timers(parse_n(argv[2]));
	if (argc == 4 && strcmp(argv[1], "posts") == 0)
		return bench_posts((unsigned)parse_n(argv[2]),
				   parse_n(argv[3]));
	if (argc == 5 && strcmp(argv[1], "serve") == 0)
		return bench_serve(argv[2], (unsigned)parse_n(argv[3]),
				   parse_n(argv[4]));
	fprintf(stderr, "usage: loop_bench timers N | posts THREADS N | "
			"serve PORT LOOPS SECONDS\n");
	return 2;
}
