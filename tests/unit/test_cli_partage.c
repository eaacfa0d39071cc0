/*
 * test_cli_partage.c — unit tests for the `partage` client's table of
 * commands (src/cli/partage.c, included whole to reach the table, the help
 * generated from it and the checks of the command line; the client's other
 * objects are linked, nothing is sent).  A table of command lines with the
 * usage error each gets (or none), the help naming every command and which
 * ones need a login, and the wrapping of its paragraph.
 */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define main partage_main
#include "cli/partage.c"
#undef main

static char *help_text(void)
{
	/* static: gcc takes what strstr finds in the text for a pointer to
	 * a dead local otherwise (-Wdangling-pointer) */
	static char *p;
	static size_t n;
	FILE *f;

	p = NULL;
	f = open_memstream(&p, &n);
	assert_non_null(f);
	help_print(f);
	fclose(f);
	return p;
}

static void test_help_names_every_command(void **state)
{
	char *text = help_text(), want[64];

	assert_true(strncmp(text, "usage: partage ", 15) == 0);
	for (size_t i = 0; i < PT_ARRAY_LEN(commands); i++) {
		const struct command *c = &commands[i];
		if (c->synopsis) {
			/* its own entry, "  NAME" at the start of a line */
			snprintf(want, sizeof(want), "\n  %s", c->name);
			const char *at = strstr(text, want);
			assert_non_null(at);
			assert_true(strchr(" \n", at[strlen(want)]) != NULL);
			assert_non_null(c->help);
		} else {
			/* described with the entry before it */
			assert_true(i > 0 && commands[i - 1].synopsis);
			snprintf(want, sizeof(want), "| %s ", c->name);
			assert_non_null(strstr(commands[i - 1].synopsis, want));
		}
	}
	/* no line past the terminal's 80 columns */
	for (const char *l = text; *l;) {
		size_t n = strcspn(l, "\n");
		if (n > 79)
			fail_msg("%zu columns: '%.*s'", n, (int)n, l);
		l += n + (l[n] == '\n');
	}
	free(text);
}

/* The login paragraph lists the CMD_LOGIN commands, in the table's order,
 * wrapped at HELP_WIDTH. */
static void test_help_says_which_need_a_login(void **state)
{
	char *text = help_text();
	const char *want =
		"\n\nrequest, ls, mv, rename, rm, share, unshare, account, "
		"tokens, webhooks,\nredeem and convert need a login.  ITEM is "
		"a file's id or link, or a\nfolder's id or /folder/ID link (a "
		"bare id that names no file is taken as\na folder); FOLDER is "
		"a folder's id or link.\n\nOptions:\n";
	if (!strstr(text, want))
		fail_msg("no login paragraph as expected in:\n%s", text);
	free(text);
}

static void test_wrap(void **state)
{
	static const struct {
		const char *in;
		size_t width;
		const char *want;
	} cases[] = {
		{ "", 10, "" },
		{ "short", 10, "short\n" },
		{ "exactly 10", 10, "exactly 10\n" },
		{ "exactly 10 x", 10, "exactly 10\nx\n" },
		{ "a b c d e f", 3, "a b\nc d\ne f\n" },
		/* spaces at a cut are dropped, inside a line kept */
		{ "one.  two three", 9, "one.  two\nthree\n" },
		{ "one.  two", 4, "one.\ntwo\n" },
		/* a word longer than the width: whole, on its own line */
		{ "a 0123456789abc b", 5, "a\n0123456789abc\nb\n" },
		{ "0123456789", 4, "0123456789\n" },
	};
	for (size_t i = 0; i < PT_ARRAY_LEN(cases); i++) {
		char *p = NULL;
		size_t n = 0;
		FILE *f = open_memstream(&p, &n);
		wrap(f, cases[i].in, cases[i].width);
		fclose(f);
		if (strcmp(p, cases[i].want) != 0)
			fail_msg("case %zu: '%s', want '%s'", i, p,
				 cases[i].want);
		free(p);
	}
}

/*
 * The command line up to the network: options, the command, the table's
 * checks.  Returns -1 when the command would run, else the exit status;
 * line gets the first line written on stderr ("" for none).
 */
static int check(const char *const *words, char *line, size_t cap)
{
	char *argv[16];
	int argc = 0;
	struct cli_opts o = { 0 };
	bool seen[PT_ARRAY_LEN(cmd_opts)] = { false };
	const char *server = NULL;
	FILE *tmp = tmpfile();
	int saved = dup(2), rc;

	argv[argc++] = (char *)"partage";
	while (words[argc - 1])
		argv[argc] = (char *)words[argc - 1], argc++;
	argv[argc] = NULL;
	assert_non_null(tmp);
	fflush(stderr);
	dup2(fileno(tmp), 2);

	optind = 0; /* glibc: start over */
	rc = options_parse(argc, argv, &o, seen, &server);
	if (rc < 0 && optind >= argc)
		rc = usage("no command given");
	if (rc < 0) {
		const struct command *c = command_find(argv[optind]);
		if (!c)
			rc = usage("unknown command '%s'", argv[optind]);
		else if (command_check(c, &o, seen, argc - optind - 1,
				       argv + optind + 1))
			rc = CLI_USAGE;
	}

	fflush(stderr);
	dup2(saved, 2);
	close(saved);
	rewind(tmp);
	line[0] = '\0';
	if (fgets(line, (int)cap, tmp))
		line[strcspn(line, "\n")] = '\0';
	fclose(tmp);
	return rc;
}

#define W(...) ((const char *const[]){ __VA_ARGS__, NULL })

static void test_command_lines(void **state)
{
	static const char tokens_use[] =
		"partage: tokens takes nothing, 'new [LABEL]' or 'revoke ID...'";
	const struct {
		const char *const *words;
		int rc;
		const char *err; /* the first line on stderr */
	} cases[] = {
		{ W("frobnicate"), 2, "partage: unknown command 'frobnicate'" },
		{ W("--bogus", "ls"), 2, "partage: unknown option '--bogus'" },
		{ W("ls", "--server"), 2,
		  "partage: option '--server' needs a value" },
		{ W("upload", "a", "--max-days", "soon"), 2,
		  "partage: --max-days takes a whole number" },
		/* the counts of arguments */
		{ W("upload"), 2, "partage: upload: missing argument" },
		{ W("download"), 2, "partage: download: missing argument" },
		{ W("info", "a", "b"), 2, "partage: info takes one file" },
		{ W("delete", "a", "b"), 2, "partage: delete takes one file" },
		{ W("mkdir", "a", "b"), 2,
		  "partage: mkdir takes one folder name" },
		{ W("ls", "a", "b"), 2, "partage: ls takes one folder" },
		{ W("share"), 2, "partage: share: missing argument" },
		{ W("unshare", "a", "b"), 2,
		  "partage: unshare takes one folder" },
		{ W("rename"), 2, "partage: rename: missing argument" },
		{ W("rename", "a"), 2,
		  "partage: rename takes a file or folder and its new name" },
		{ W("rename", "a", "b", "c"), 2,
		  "partage: rename takes a file or folder and its new name" },
		{ W("mv", "a"), 2, "partage: mv needs --to FOLDER" },
		{ W("mv", "--to", "/"), 2, "partage: mv: missing argument" },
		{ W("rm"), 2, "partage: rm: missing argument" },
		{ W("logout", "x"), 2, "partage: logout takes no argument" },
		{ W("account", "x"), 2, "partage: account takes no argument" },
		{ W("redeem"), 2, "partage: redeem: missing argument" },
		{ W("redeem", "a", "b"), 2, "partage: redeem takes one code" },
		{ W("convert", "1", "2"), 2,
		  "partage: convert takes one number" },
		{ W("login", "a", "b"), 2,
		  "partage: login takes one user name" },
		{ W("tokens", "frob"), 2, tokens_use },
		{ W("tokens", "new", "a", "b"), 2, tokens_use },
		{ W("tokens", "revoke"), 2, tokens_use },
		/* options against the command */
		{ W("delete", "x", "--json"), 2,
		  "partage: --json does not apply to this command" },
		{ W("ls", "--json", "--to", "x"), 2,
		  "partage: --to does not apply to this command" },
		{ W("info", "x", "-o", "y"), 2,
		  "partage: -o does not apply to this command" },
		{ W("logout", "--password-stdin"), 2,
		  "partage: --password-stdin does not apply to this command" },
		{ W("upload", "a", "b", "--name", "n"), 2,
		  "partage: --name applies to one file only" },
		{ W("download", "a", "b", "-o", "x"), 2,
		  "partage: -o applies to one file only" },
		{ W("upload", "a", "--name="), 2,
		  "partage: --name must not be empty" },
		{ W("upload", "a", "--folder", "bad"), 2,
		  "partage: --folder takes a folder id (12 letters and digits)" },
		{ W("mkdir", "a", "--parent", "bad"), 2,
		  "partage: --parent takes a folder id (12 letters and digits)" },
		/* what runs */
		{ W("upload", "a", "b", "--max-days", "3"), -1, "" },
		{ W("download", "a", "-o", "x", "--password", "p"), -1, "" },
		{ W("info", "a", "--json"), -1, "" },
		{ W("ls"), -1, "" },
		{ W("ls", "AAAAAAAAAAAA", "--json"), -1, "" },
		{ W("mv", "a", "b", "--to", "/"), -1, "" },
		{ W("rename", "a", "b"), -1, "" },
		{ W("share", "AAAAAAAAAAAA"), -1, "" },
		{ W("tokens"), -1, "" },
		{ W("tokens", "new"), -1, "" },
		{ W("tokens", "new", "label"), -1, "" },
		{ W("tokens", "revoke", "a", "b"), -1, "" },
		{ W("login"), -1, "" },
		{ W("login", "bob", "--password-stdin"), -1, "" },
		{ W("logout"), -1, "" },
		{ W("mkdir", "x", "--parent", "AAAAAAAAAAAA", "--shared"), -1,
		  "" },
		{ W("upload", "a", "--folder", "AAAAAAAAAAAA"), -1, "" },
		{ W("--help"), 0, "" },
	};
	char line[256];

	for (size_t i = 0; i < PT_ARRAY_LEN(cases); i++) {
		/* --help prints the help on stdout: not into the test's */
		int out = dup(1);
		FILE *null = fopen("/dev/null", "w");
		fflush(stdout);
		dup2(fileno(null), 1);
		int rc = check(cases[i].words, line, sizeof(line));
		fflush(stdout);
		dup2(out, 1);
		close(out);
		fclose(null);
		if (rc != cases[i].rc || strcmp(line, cases[i].err) != 0)
			fail_msg("case %zu (%s ...): %d '%s', want %d '%s'", i,
				 cases[i].words[0], rc, line, cases[i].rc,
				 cases[i].err);
	}
}

/* Every count the table can refuse has its message. */
static void test_table_is_complete(void **state)
{
	for (size_t i = 0; i < PT_ARRAY_LEN(commands); i++) {
		const struct command *c = &commands[i];
		assert_non_null(c->run);
		assert_non_null(c->opts);
		assert_true(c->max < 0 || c->max >= c->min);
		/* refused with "NAME <count>": 1 < min, or a max */
		if (c->min > 1 || c->max >= 0)
			assert_non_null(c->count);
		assert_ptr_equal(command_find(c->name), c);
		/* its options are options the parser knows */
		for (const char *p = c->opts; *p;) {
			size_t n = strcspn(p, " ");
			bool known = false;
			for (size_t k = 0; k < PT_ARRAY_LEN(cmd_opts); k++)
				known |= strlen(cmd_opts[k].name) == n &&
					 !strncmp(cmd_opts[k].name, p, n);
			if (!known)
				fail_msg("%s: unknown option '%.*s'", c->name,
					 (int)n, p);
			p += n + (p[n] == ' ');
		}
	}
	assert_null(command_find("help"));
	assert_null(command_find(""));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_help_names_every_command),
		cmocka_unit_test(test_help_says_which_need_a_login),
		cmocka_unit_test(test_wrap),
		cmocka_unit_test(test_command_lines),
		cmocka_unit_test(test_table_is_complete),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
