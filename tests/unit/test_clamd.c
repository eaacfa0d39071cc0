/*
 * test_clamd.c — unit tests for src/util/clamd.c: the reply parser's
 * table of edge cases, and a whole INSTREAM exchange against a fake clamd
 * on a socketpair-backed unix socket (the wire of clamd.h, checked byte by
 * byte on the server side).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "util/clamd.h"
#include "util/pt.h"

static const struct {
	const char *reply;
	size_t n; /* 0: strlen */
	enum clamd_verdict v;
	const char *what;
} cases[] = {
	{ "stream: OK", 0, CLAMD_CLEAN, "" },
	{ "stream: OK\0", 11, CLAMD_CLEAN, "" },
	{ "stream: OK\n", 0, CLAMD_CLEAN, "" },
	{ "1: stream: OK", 0, CLAMD_CLEAN, "" },
	{ "stream: Eicar-Test-Signature FOUND", 0, CLAMD_INFECTED,
	  "Eicar-Test-Signature" },
	{ "stream: Partage.Test.EICAR.UNOFFICIAL FOUND\0", 44, CLAMD_INFECTED,
	  "Partage.Test.EICAR.UNOFFICIAL" },
	{ "stream: Win.Test\x01\xff FOUND", 0, CLAMD_INFECTED, "Win.Test??" },
	{ "INSTREAM size limit exceeded. ERROR", 0, CLAMD_ERROR,
	  "INSTREAM size limit exceeded." },
	{ "stream: Can't allocate memory ERROR", 0, CLAMD_ERROR,
	  "stream: Can't allocate memory" },
	{ "", 0, CLAMD_ERROR, "unexpected reply from clamd" },
	{ "stream: ", 0, CLAMD_ERROR, "unexpected reply from clamd" },
	{ "stream:  FOUND", 0, CLAMD_ERROR, "unexpected reply from clamd" },
	{ "stream: OKAY", 0, CLAMD_ERROR, "unexpected reply from clamd" },
	{ "OK", 0, CLAMD_ERROR, "unexpected reply from clamd" },
	{ "FOUND", 0, CLAMD_ERROR, "unexpected reply from clamd" },
	{ "ERROR", 0, CLAMD_ERROR, "unexpected reply from clamd" },
	{ "PONG", 0, CLAMD_ERROR, "unexpected reply from clamd" },
	/* what follows the first NUL or newline is not the reply */
	{ "stream: OK\0stream: X FOUND", 27, CLAMD_CLEAN, "" },
	{ "\0stream: OK", 11, CLAMD_ERROR, "unexpected reply from clamd" },
};

static void test_parse_table(void **state)
{
	for (size_t i = 0; i < PT_ARRAY_LEN(cases); i++) {
		struct clamd_result r;
		memset(&r, 0x55, sizeof(r));
		size_t n = cases[i].n ? cases[i].n : strlen(cases[i].reply);
		clamd_reply_parse(cases[i].reply, n, &r);
		if (r.verdict != cases[i].v || strcmp(r.what, cases[i].what))
			fail_msg("case %zu '%s': verdict %d '%s', want %d '%s'",
				 i, cases[i].reply, r.verdict, r.what,
				 cases[i].v, cases[i].what);
	}
}

static void test_parse_long_name(void **state)
{
	char buf[2048];
	memset(buf, 'A', sizeof(buf));
	memcpy(buf, "stream: ", 8);
	memcpy(buf + sizeof(buf) - 6, " FOUND", 6);
	struct clamd_result r;
	clamd_reply_parse(buf, sizeof(buf), &r);
	assert_int_equal(r.verdict, CLAMD_INFECTED);
	assert_int_equal(strlen(r.what), sizeof(r.what) - 1);
}

/* ---- a fake clamd: reads the INSTREAM, answers `answer` ---- */

struct fake {
	int lfd;
	const char *answer;
	char got[4096];
	size_t got_n;
	bool framed_ok;
};

static bool read_full(int fd, void *p, size_t n)
{
	char *c = p;
	while (n) {
		ssize_t r = read(fd, c, n);
		if (r <= 0)
			return false;
		c += r;
		n -= (size_t)r;
	}
	return true;
}

static void *fake_run(void *arg)
{
	struct fake *f = arg;
	int fd = accept(f->lfd, NULL, NULL);
	char cmd[10];
	f->framed_ok = fd >= 0 && read_full(fd, cmd, 10) &&
		       memcmp(cmd, "zINSTREAM\0", 10) == 0;
	while (f->framed_ok) {
		uint32_t be;
		if (!read_full(fd, &be, 4)) {
			f->framed_ok = false;
			break;
		}
		uint32_t n = be32toh(be);
		if (!n)
			break;
		if (f->got_n + n > sizeof(f->got) ||
		    !read_full(fd, f->got + f->got_n, n)) {
			f->framed_ok = false;
			break;
		}
		f->got_n += n;
	}
	if (fd >= 0) {
		if (write(fd, f->answer, strlen(f->answer) + 1) < 0)
			f->framed_ok = false;
		close(fd);
	}
	return NULL;
}

struct src {
	const char *p;
	size_t n;
};

static ssize_t src_read(void *arg, void *buf, size_t n, uint64_t off)
{
	struct src *s = arg;
	if (off >= s->n)
		return 0;
	if (n > s->n - off)
		n = s->n - (size_t)off;
	memcpy(buf, s->p + off, n);
	return (ssize_t)n;
}

static void exchange(const char *answer, const char *data,
		     enum clamd_verdict want, const char *what)
{
	char dir[] = "/tmp/tclamd-XXXXXX";
	assert_non_null(mkdtemp(dir));
	char path[64];
	snprintf(path, sizeof(path), "%s/s", dir);
	struct fake f = { .answer = answer };
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	memcpy(sa.sun_path, path, strlen(path) + 1);
	f.lfd = socket(AF_UNIX, SOCK_STREAM, 0);
	assert_true(f.lfd >= 0);
	assert_int_equal(bind(f.lfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(f.lfd, 1), 0);
	pthread_t t;
	pthread_create(&t, NULL, fake_run, &f);
	struct src s = { data, strlen(data) };
	struct clamd_result r;
	int err = clamd_scan(path, 5000, -1, src_read, &s, s.n, &r);
	pthread_join(t, NULL);
	close(f.lfd);
	unlink(path);
	rmdir(dir);
	assert_int_equal(err, 0);
	assert_true(f.framed_ok);
	assert_int_equal(f.got_n, s.n);
	assert_memory_equal(f.got, data, s.n);
	assert_int_equal(r.verdict, want);
	assert_string_equal(r.what, what);
}

static void test_scan_exchange(void **state)
{
	exchange("stream: OK", "hello clamd", CLAMD_CLEAN, "");
	exchange("stream: Bad.Thing FOUND", "x", CLAMD_INFECTED, "Bad.Thing");
	exchange("stream: OK", "", CLAMD_CLEAN, "");
}

static void test_scan_unreachable(void **state)
{
	struct src s = { "x", 1 };
	struct clamd_result r;
	int err = clamd_scan("/nonexistent/dir/clamd.sock", 1000, -1, src_read, &s,
			     1, &r);
	assert_int_equal(err, -ENOENT);
	assert_int_equal(r.verdict, CLAMD_ERROR);
	assert_non_null(strstr(r.what, "cannot reach clamd"));
	err = clamd_scan("tcp:127.0.0.1:1", 1000, -1, src_read, &s, 1, &r);
	assert_int_equal(err, -ECONNREFUSED);
}

/* A clamd that takes the connection and never answers: a stop (the
 * cancel fd readable) ends the scan at once, long before its timeout. */
static void test_scan_cancel(void **state)
{
	char dir[] = "/tmp/tclamd-XXXXXX";
	assert_non_null(mkdtemp(dir));
	char path[64];
	snprintf(path, sizeof(path), "%s/s", dir);
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	memcpy(sa.sun_path, path, strlen(path) + 1);
	int lfd = socket(AF_UNIX, SOCK_STREAM, 0);
	assert_true(lfd >= 0);
	assert_int_equal(bind(lfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(lfd, 1), 0);
	int cancel[2];
	assert_int_equal(pipe(cancel), 0);
	assert_int_equal(write(cancel[1], "", 1), 1);
	struct src s = { "x", 1 };
	struct clamd_result r;
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	int err = clamd_scan(path, 60000, cancel[0], src_read, &s, 1, &r);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	assert_int_equal(err, -ECANCELED);
	assert_int_equal(r.verdict, CLAMD_ERROR);
	assert_true(t1.tv_sec - t0.tv_sec < 5);
	close(cancel[0]);
	close(cancel[1]);
	close(lfd);
	unlink(path);
	rmdir(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_table),
		cmocka_unit_test(test_parse_long_name),
		cmocka_unit_test(test_scan_exchange),
		cmocka_unit_test(test_scan_unreachable),
		cmocka_unit_test(test_scan_cancel),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
