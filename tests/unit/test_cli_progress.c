/*
 * test_cli_progress.c — the client's progress line (src/cli/progress.c)
 * as a terminal would show it: stderr goes to a file, and each test reads
 * back the last frame drawn (the text after the last carriage return).
 */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "cli/cli.h"

static FILE *out;

static int setup(void **state)
{
	(void)state;
	fflush(stderr);
	out = tmpfile();
	assert_non_null(out);
	assert_int_not_equal(dup2(fileno(out), STDERR_FILENO), -1);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	fflush(stderr);
	fclose(out);
	return 0;
}

/* The last frame drawn, without its erase-to-end-of-line. */
static const char *last_frame(void)
{
	static char buf[4096];
	size_t n;
	char *f, *k;

	fflush(stderr);
	rewind(out);
	n = fread(buf, 1, sizeof(buf) - 1, out);
	buf[n] = '\0';
	f = strrchr(buf, '\r');
	f = f ? f + 1 : buf;
	k = strstr(f, "\033[K");
	if (k)
		*k = '\0';
	return f;
}

static void bar(struct cli_progress *p, uint64_t total)
{
	struct cli_opts o;

	memset(&o, 0, sizeof(o));
	o.progress = true;
	cli_progress_init(p, &o, "waited.bin", total);
	cli_progress_resume(p, 0);
}

/* A held download counts its wait down in place of the bar. */
static void test_hold_counts_down(void **state)
{
	struct cli_progress p;

	(void)state;
	bar(&p, 1000);
	cli_progress_hold(&p, 3, 0);
	assert_string_equal(last_frame(), "partage: free download starts in 3 s");
	cli_progress_update(&p, 0, 1000, true);
	assert_string_equal(last_frame(), "partage: free download starts in 3 s");
}

/* The server's clock may end the wait before ours: the body's first
 * byte ends the countdown, and the finished download says 100 %, not
 * "starts in 1 s" (a CI failure on a loaded machine). */
static void test_first_byte_ends_the_hold(void **state)
{
	struct cli_progress p;

	(void)state;
	bar(&p, 1000);
	cli_progress_hold(&p, 3, 0);
	cli_progress_update(&p, 1000, 1000, true);
	assert_non_null(strstr(last_frame(), "100%"));
	assert_true(strncmp(last_frame(), "waited.bin", 10) == 0);
	cli_progress_end(&p);
}

/* A resumed download held at byte 500: its first byte is 501. */
static void test_hold_from_a_resumed_part(void **state)
{
	struct cli_progress p;

	(void)state;
	bar(&p, 1000);
	cli_progress_resume(&p, 500);
	cli_progress_hold(&p, 5, 500);
	cli_progress_update(&p, 500, 1000, true);
	assert_string_equal(last_frame(), "partage: free download starts in 5 s");
	cli_progress_update(&p, 600, 1000, true);
	assert_non_null(strstr(last_frame(), "60%"));
}

/* Not a terminal: nothing is drawn. */
static void test_off_draws_nothing(void **state)
{
	struct cli_progress p;
	struct cli_opts o;

	(void)state;
	memset(&o, 0, sizeof(o));
	cli_progress_init(&p, &o, "quiet.bin", 10);
	cli_progress_hold(&p, 3, 0);
	cli_progress_update(&p, 10, 10, true);
	cli_progress_end(&p);
	assert_string_equal(last_frame(), "");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_hold_counts_down, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_first_byte_ends_the_hold,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_hold_from_a_resumed_part,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_off_draws_nothing, setup,
						teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
