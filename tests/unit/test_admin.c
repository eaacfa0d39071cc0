/*
 * test_admin.c — unit tests for the table of `partaged admin` commands
 * (src/admin/admin.c, included whole to reach the table and the help's
 * layout): every command an operator relies on is in the table and in the
 * help generated from it, the descriptions wrap inside their column, and
 * the arguments that ask for help are told from a command to run.  The
 * commands themselves run against real stores in tests/e2e/test_80_admin.py.
 */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "admin/admin.c"

/* The commands of docs/operations.md, as the help's lines begin. */
static const char *const documented[] = {
	"fsck",
	"user add",
	"user list",
	"user set-tier",
	"user set-role",
	"user disable",
	"user enable",
	"voucher create",
	"gc",
	"takedown",
	"restore",
	"blocklist import",
	"blocklist export",
	"reports list",
	"reports show",
	"reports resolve",
	"audit",
	"stats",
};

static char *help_text(void)
{
	char *p = NULL;
	size_t n = 0;
	FILE *f = open_memstream(&p, &n);
	assert_non_null(f);
	admin_help(f);
	fclose(f);
	return p;
}

/* Whether a line of text begins with "  WORDS" then a space or its end. */
static bool listed(const char *text, const char *words)
{
	size_t n = strlen(words);
	for (const char *l = text; *l; l += strcspn(l, "\n") + 1) {
		if (strncmp(l, "  ", 2) == 0 && strncmp(l + 2, words, n) == 0 &&
		    (l[2 + n] == ' ' || l[2 + n] == '\n'))
			return true;
		if (!l[strcspn(l, "\n")])
			break;
	}
	return false;
}

static void test_every_command_is_found_and_runs(void **state)
{
	for (size_t i = 0; i < PT_ARRAY_LEN(commands); i++) {
		const struct admin_cmd *c = admin_cmd_find(commands[i].name);
		assert_ptr_equal(c, &commands[i]);
		/* exactly one way to run it */
		assert_true(!c->run != !c->run_conf);
		assert_non_null(c->help);
		assert_true(c->help[0] != '\0');
	}
	assert_null(admin_cmd_find("frobnicate"));
	assert_null(admin_cmd_find(""));
	assert_null(admin_cmd_find("FSCK"));
	assert_null(admin_cmd_find("users"));
	assert_non_null(admin_cmd_find("fsck")->run_conf);
}

static void test_help_lists_every_command(void **state)
{
	char *text = help_text();

	assert_true(strncmp(text, "admin commands (partaged admin ", 31) == 0);
	for (size_t i = 0; i < PT_ARRAY_LEN(documented); i++)
		if (!listed(text, documented[i]))
			fail_msg("the help does not list '%s':\n%s",
				 documented[i], text);
	for (size_t i = 0; i < PT_ARRAY_LEN(commands); i++)
		assert_true(listed(text, commands[i].name));
	free(text);
}

/* Each "ARGS\tWHAT\n" line of the table, its tab before its newline. */
static void test_help_lines_are_well_formed(void **state)
{
	for (size_t i = 0; i < PT_ARRAY_LEN(commands); i++) {
		const char *p = commands[i].help;
		while (*p) {
			const char *nl = strchr(p, '\n');
			const char *tab = strchr(p, '\t');
			assert_non_null(nl);
			assert_non_null(tab);
			assert_true(tab < nl);
			assert_null(
				memchr(tab + 1, '\t', (size_t)(nl - tab - 1)));
			p = nl + 1;
		}
	}
}

/* No line goes past HELP_WIDTH; a command's line starts at column 2, a
 * description's continuation at HELP_COL. */
static void test_help_layout(void **state)
{
	char *text = help_text();
	bool first = true;
	for (char *l = text; *l; first = false) {
		size_t n = strcspn(l, "\n"), sp = strspn(l, " ");
		if (n > HELP_WIDTH)
			fail_msg("%zu columns: '%.*s'", n, (int)n, l);
		if (!first && sp != 2 && sp != HELP_COL)
			fail_msg("indented %zu: '%.*s'", sp, (int)n, l);
		l += n + (l[n] == '\n');
	}
	free(text);
}

static char *line_of(const char *name, const char *args, const char *what)
{
	char *p = NULL;
	size_t n = 0;
	FILE *f = open_memstream(&p, &n);
	assert_non_null(f);
	help_line(f, name, args, strlen(args), what, strlen(what));
	fclose(f);
	return p;
}

/* The column layout at its edges: a table of cases. */
static void test_help_line_wraps(void **state)
{
	static const struct {
		const char *name, *args, *what, *want;
	} cases[] = {
		/* no description: the synopsis alone */
		{ "audit", "", "", "  audit\n" },
		{ "user", "enable NAME", "", "  user enable NAME\n" },
		/* short: on the same line, at HELP_COL */
		{ "gc", "", "one pass",
		  "  gc                                    one pass\n" },
		/* a synopsis past HELP_COL - 2: the description below */
		{ "x", "12345678901234567890123456789012345", "d",
		  "  x 12345678901234567890123456789012345\n"
		  "                                        d\n" },
		/* one column less: two spaces before the description */
		{ "x", "1234567890123456789012345678901234", "d",
		  "  x 1234567890123456789012345678901234  d\n" },
		/* 39 columns of words: one too many; 38 fill the line */
		{ "a", "", "aaaaaaaaa bbbbbbbbb ccccccccc ddddddddd",
		  "  a                                     aaaaaaaaa bbbbbbbbb "
		  "ccccccccc\n"
		  "                                        ddddddddd\n" },
		{ "a", "", "aaaaaaaaa bbbbbbbbb ccccccccc dddddddd",
		  "  a                                     aaaaaaaaa bbbbbbbbb "
		  "ccccccccc dddddddd\n" },
		/* a word longer than the column: whole, on its own line */
		{ "a", "", "x 0123456789012345678901234567890123456789 y",
		  "  a                                     x\n"
		  "                                        "
		  "0123456789012345678901234567890123456789\n"
		  "                                        y\n" },
		/* runs of spaces between words do not make empty lines */
		{ "a", "", "one   two",
		  "  a                                     one   two\n" },
	};
	for (size_t i = 0; i < PT_ARRAY_LEN(cases); i++) {
		char *got = line_of(cases[i].name, cases[i].args,
				    cases[i].what);
		if (strcmp(got, cases[i].want) != 0)
			fail_msg("case %zu:\n got '%s'\nwant '%s'", i, got,
				 cases[i].want);
		free(got);
	}
}

/* What help_wanted makes of argv: 0 help (stdout), 1 no command (the
 * list on stderr), -1 a command to run; nothing is opened either way. */
static void test_help_wanted(void **state)
{
	static const struct {
		const char *argv[5];
		int want;
	} cases[] = {
		{ { "admin" }, 1 },
		{ { "admin", "--help" }, 0 },
		{ { "admin", "-h" }, 0 },
		{ { "admin", "help" }, 0 },
		{ { "admin", "user", "--help" }, 0 },
		{ { "admin", "gc", "-h" }, 0 },
		{ { "admin", "frobnicate", "--help" }, 0 },
		/* "help" after the command is an argument (a user's name) */
		{ { "admin", "user", "add", "help" }, -1 },
		/* after "--", nothing is an option */
		{ { "admin", "--", "--help" }, -1 },
		{ { "admin", "takedown", "x", "--", "-h" }, -1 },
		{ { "admin", "gc" }, -1 },
		{ { "admin", "frobnicate" }, -1 },
	};
	int out = dup(1), err = dup(2), null = open("/dev/null", O_WRONLY);

	assert_true(out >= 0 && err >= 0 && null >= 0);
	for (size_t i = 0; i < PT_ARRAY_LEN(cases); i++) {
		int argc = 0;
		while (argc < 5 && cases[i].argv[argc])
			argc++;
		fflush(stdout);
		fflush(stderr);
		dup2(null, 1);
		dup2(null, 2);
		int got = help_wanted(argc, (char **)cases[i].argv);
		fflush(stdout);
		fflush(stderr);
		dup2(out, 1);
		dup2(err, 2);
		if (got != cases[i].want)
			fail_msg("case %zu (%s %s): %d, want %d", i,
				 cases[i].argv[1] ? cases[i].argv[1] : "",
				 argc > 2 ? cases[i].argv[2] : "", got,
				 cases[i].want);
	}
	close(out);
	close(err);
	close(null);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_every_command_is_found_and_runs),
		cmocka_unit_test(test_help_lists_every_command),
		cmocka_unit_test(test_help_lines_are_well_formed),
		cmocka_unit_test(test_help_layout),
		cmocka_unit_test(test_help_line_wraps),
		cmocka_unit_test(test_help_wanted),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
