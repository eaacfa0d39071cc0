/*
 * main.c — partaged: the configuration (file < env < flags), then one
 * command from the table below: `serve` (the signals around the running
 * server of api/serve.c: stores, HTTP server, maintenance thread; also
 * what no command means), `admin` (the operator's commands, src/admin/),
 * and the options that print something and exit.  The usage is generated
 * from the table.  A thin program on top of the engine modules.
 *
 *   partaged [serve] [--config FILE] [--listen HOST:PORT] [--data DIR]
 *            [--public-url URL]
 *   partaged admin [--config FILE] [--data DIR] CMD ...
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "admin/admin.h"
#include "api/api.h"
#include "conf.h"
#include "core/media.h"
#include "core/remux.h"
#include "core/thumb.h"
#include "util/buf.h"
#include "util/pt.h"
#include "util/banned.h"

/* ---- configuration from file < env < flags ---- */

struct flag {
	const char *flag, *key;
};

static const struct flag flags[] = {
	{ "--listen", "server.listen" },
	{ "--data", "storage.data" },
	{ "--public-url", "server.public_url" },
};

/* Pull the config flags out of argv (anywhere), leaving the rest in
 * order.  Returns the new argc, or -1 after printing an error. */
static int load_config(struct pt_conf *c, int argc, char **argv)
{
	const char *file = getenv("PARTAGE_CONFIG");
	struct pt_buf err;
	int out = 1, rc = -1;

	pt_buf_init(&err, 4096);
	conf_init(c);
	for (int i = 1; i < argc; i++)
		if (strcmp(argv[i], "--config") == 0 && i + 1 < argc)
			file = argv[i + 1];
	if (file && *file && conf_load_file(c, file, &err)) {
		fprintf(stderr, "partaged: %s\n",
			err.n ? err.p : "cannot read the config file");
		goto done;
	}
	if (conf_load_env(c, &err)) {
		fprintf(stderr, "partaged: %s\n", err.p);
		goto done;
	}
	for (int i = 1; i < argc; i++) {
		const char *key = NULL;
		if (strcmp(argv[i], "--config") == 0 && i + 1 < argc) {
			i++;
			continue;
		}
		for (size_t k = 0; k < PT_ARRAY_LEN(flags); k++) {
			size_t n = strlen(flags[k].flag);
			if (strcmp(argv[i], flags[k].flag) == 0) {
				if (i + 1 >= argc) {
					fprintf(stderr,
						"partaged: '%s' needs a value\n",
						argv[i]);
					goto done;
				}
				key = flags[k].key;
				if (conf_set(c, key, argv[++i], &err)) {
					fprintf(stderr, "partaged: %s\n",
						err.p);
					goto done;
				}
			} else if (strncmp(argv[i], flags[k].flag, n) == 0 &&
				   argv[i][n] == '=') {
				key = flags[k].key;
				if (conf_set(c, key, argv[i] + n + 1, &err)) {
					fprintf(stderr, "partaged: %s\n",
						err.p);
					goto done;
				}
			}
		}
		if (!key)
			argv[out++] = argv[i];
	}
	argv[out] = NULL;
	rc = out;
done:
	pt_buf_release(&err);
	return rc;
}

/* ---- the commands ---- */

static int usage_error(const char *arg);
static int cmd_help(const struct pt_conf *c, int argc, char **argv);

/* The server (serve.c) until SIGTERM or SIGINT. */
static int cmd_serve(const struct pt_conf *c, int argc, char **argv)
{
	struct app_server *s;
	sigset_t set;
	int sig;

	if (argc > 1)
		return usage_error(argv[0]);
	/* signals go to sigwait below, never to a worker thread */
	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &set, NULL);

	if (app_serve_start(c, &s))
		return 1;
	do
		sigwait(&set, &sig);
	while (sig == SIGHUP); /* reload comes later; never die on HUP */
	pt_log("signal %d: finishing requests in flight", sig);
	app_serve_stop(s, 30);
	pt_log("stopped");
	return 0;
}

static int cmd_dump_config(const struct pt_conf *c, int argc, char **argv)
{
	conf_dump(c, stdout);
	return 0;
}

static int cmd_help_config(const struct pt_conf *c, int argc, char **argv)
{
	conf_help(stdout);
	return 0;
}

static int cmd_version(const struct pt_conf *c, int argc, char **argv)
{
	puts("partaged 0.1");
	return 0;
}

/*
 * names: the command as the usage shows it, then its aliases, separated by
 * spaces.  args: what follows it in the usage; NULL for the options that
 * print something and exit, which the usage lists on one line.  run gets
 * argv from the command on (argc 0 when none was given: serve) and
 * returns the exit status.  The first entry is what no command means.
 */
static const struct command {
	const char *names, *args;
	int (*run)(const struct pt_conf *c, int argc, char **argv);
} commands[] = {
	{ "serve",
	  "[--config FILE] [--listen HOST:PORT] [--data DIR] "
	  "[--public-url URL]",
	  cmd_serve },
	{ "admin", "[--config FILE] [--data DIR] CMD ...", admin_main },
	{ "--dump-config", NULL, cmd_dump_config },
	{ "--help-config", NULL, cmd_help_config },
	{ "--version", NULL, cmd_version },
	{ "--help -h help", NULL, cmd_help },
};

static bool names_match(const char *names, const char *arg)
{
	size_t n = strlen(arg);

	for (const char *p = names; *p; p += strcspn(p, " "), p += *p == ' ')
		if (strncmp(p, arg, n) == 0 && (p[n] == ' ' || !p[n]))
			return true;
	return false;
}

/* "usage: partaged ..." and a line per command, generated from commands[]:
 * the first in brackets (the default), the options on one line. */
static void usage_print(FILE *out)
{
	const char *lead = "usage: ";
	bool in_opts = false;

	for (size_t i = 0; i < PT_ARRAY_LEN(commands); i++) {
		const struct command *c = &commands[i];
		int len = (int)strcspn(c->names, " ");
		if (!c->args && in_opts) {
			fprintf(out, " | %.*s", len, c->names);
			continue;
		}
		if (in_opts)
			fputc('\n', out);
		fprintf(out, "%spartaged %s%.*s%s", lead, i == 0 ? "[" : "",
			len, c->names, i == 0 ? "]" : "");
		if (c->args)
			fprintf(out, " %s\n", c->args);
		in_opts = !c->args;
		lead = "       ";
	}
	if (in_opts)
		fputc('\n', out);
}

/* `partaged --help`: the usage and the admin commands */
static int cmd_help(const struct pt_conf *c, int argc, char **argv)
{
	usage_print(stdout);
	admin_help(stdout);
	return 0;
}

/* An unknown argument (or one serve does not take): a usage error, as the
 * client's. */
static int usage_error(const char *arg)
{
	fprintf(stderr, "partaged: unknown argument '%s'\n", arg);
	usage_print(stderr);
	return 2;
}

int main(int argc, char **argv)
{
	const struct command *cmd = NULL;
	struct pt_conf conf;
	int rc;

	/* the sandboxed media probe (core/media.h): before anything else,
	 * no configuration, no library set-up */
	if (argc == 2 && strcmp(argv[1], MEDIA_PROBE_COMMAND) == 0)
		return media_probe_child();
	if (argc == 2 && strcmp(argv[1], MEDIA_REMUX_COMMAND) == 0)
		return media_remux_child(); /* the same: core/remux.h */
	if (argc == 2 && strcmp(argv[1], THUMB_COMMAND) == 0)
		return thumb_child(); /* the thumbnailer (core/thumb.h): the same */
	if (sodium_init() < 0) {
		fprintf(stderr, "partaged: cannot initialise libsodium\n");
		return 1;
	}
	argc = load_config(&conf, argc, argv);
	if (argc < 0)
		return 1;
	for (size_t i = 0; i < PT_ARRAY_LEN(commands) && !cmd; i++)
		if (argc == 1 ? i == 0
			      : names_match(commands[i].names, argv[1]))
			cmd = &commands[i];
	rc = cmd ? cmd->run(&conf, argc - 1, argv + 1) : usage_error(argv[1]);
	conf_release(&conf);
	return rc;
}
