/*
 * test_cli_login.c — unit tests for the credentials file of src/cli/login.c
 * (included whole, to reach the static creds_save).  close() is wrapped so
 * a test can make it fail the way it does on NFS or a full quota: the file
 * is released all the same, and closing it again could close a file
 * another thread has just opened under the same number.  The HTTP side of
 * login.c is not exercised; the cli_http_* functions are stubs.
 */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <dirent.h>
#include <errno.h>
#include <stdbool.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int closes;	 /* calls of close() since the last reset */
static bool close_fails; /* close() releases the fd, then says EIO */

static int test_close(int fd)
{
	int rc = close(fd);

	closes++;
	if (close_fails && rc == 0) {
		errno = EIO;
		return -1;
	}
	return rc;
}

#define close(fd) test_close(fd)
#include "../../src/cli/login.c"
#undef close

/* ---- what login.c needs from the rest of the client ---- */

void cli_err(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

void cli_http_init(struct cli_http *h, const char *method, const char *url)
{
	memset(h, 0, sizeof(*h));
}

void cli_http_release(struct cli_http *h)
{
}

void cli_http_add_header(struct cli_http *h, const char *fmt, ...)
{
}

int cli_http_perform(struct cli_http *h, const struct cli_opts *o)
{
	return PT_EUNAVAIL;
}

void cli_http_reason(const struct cli_http *h, struct pt_buf *out)
{
}

json_t *cli_http_json(const struct cli_http *h)
{
	return NULL;
}

void cli_http_strerror(const struct cli_http *h, int err, struct pt_buf *out)
{
}

const char *cli_json_str(const json_t *obj, const char *key)
{
	return NULL;
}

/* ---- tests ---- */

static char tmpdir[64];

static int setup(void **state)
{
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/test_cli_login.XXXXXX");
	if (!mkdtemp(tmpdir))
		return -1;
	setenv("XDG_CONFIG_HOME", tmpdir, 1);
	closes = 0;
	close_fails = false;
	return 0;
}

static int teardown(void **state)
{
	char p[128];

	snprintf(p, sizeof(p), "%s/partage/credentials", tmpdir);
	unlink(p);
	snprintf(p, sizeof(p), "%s/partage", tmpdir);
	rmdir(p);
	rmdir(tmpdir);
	return 0;
}

static size_t entries_in(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	size_t n = 0;

	assert_non_null(d);
	while ((e = readdir(d)))
		n += strcmp(e->d_name, ".") != 0 &&
		     strcmp(e->d_name, "..") != 0;
	closedir(d);
	return n;
}

static struct cli_cred one = { "http://h.example", "tid", "secret" };

static void test_save_and_load(void **state)
{
	struct cli_creds c = { &one, 1 }, back = { 0 };
	char dir[96];

	assert_int_equal(creds_save(&c), 0);
	assert_int_equal(closes, 1);
	snprintf(dir, sizeof(dir), "%s/partage", tmpdir);
	assert_int_equal(entries_in(dir), 1); /* no temp file left */
	assert_int_equal(cli_creds_load(&back), 0);
	assert_int_equal(back.n, 1);
	assert_string_equal(back.v[0].server, "http://h.example");
	assert_string_equal(back.v[0].id, "tid");
	assert_string_equal(back.v[0].token, "secret");
	cli_creds_release(&back);
}

/* A failed close is a failed save, and the fd is closed exactly once. */
static void test_failed_close_closes_once(void **state)
{
	struct cli_creds c = { &one, 1 };
	char dir[96];

	close_fails = true;
	assert_int_equal(creds_save(&c), -EIO);
	close_fails = false;
	assert_int_equal(closes, 1);
	snprintf(dir, sizeof(dir), "%s/partage", tmpdir);
	/* neither the temp file nor a credentials file */
	assert_int_equal(entries_in(dir), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_save_and_load, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_failed_close_closes_once,
						setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
