/*
 * remote.c — `partage remote URL...`: ask the server to fetch each URL
 * itself (POST /api/v1/files/remote), then follow the job (GET on it
 * twice a second) with the progress line until the file is made or the
 * server gives up.  As `partage upload`: each file's share URL (or file
 * object with --json) on stdout, its delete token on stderr, a failed
 * URL makes the exit status 1 without stopping the others.
 */
#include "cli.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../util/banned.h"

#define REMOTE_POLL_NS 500000000L

static int remote_one(const struct cli_opts *o, const char *src)
{
	struct pt_buf msg;
	struct cli_progress bar;
	json_t *body = json_pack("{s:s}", "url", src);
	json_t *rep = NULL, *st = NULL;
	char *url = xasprintf("%s/api/v1/files/remote", o->server);
	char *token = NULL, *job = NULL;
	long status = 0;
	int ret = -1;

	pt_buf_init(&msg, 4096);
	if (o->name)
		json_object_set_new(body, "name", json_string(o->name));
	if (o->have_max_days)
		json_object_set_new(body, "max_days",
				    json_integer((json_int_t)o->max_days));
	if (o->have_max_downloads)
		json_object_set_new(body, "max_downloads",
				    json_integer((json_int_t)o->max_downloads));
	if (cli_api_do(o, "POST", url, body, &rep, "fetch '%s'", src))
		goto out;
	if (!cli_json_str(rep, "url") || !cli_json_str(rep, "delete_token")) {
		cli_err("cannot fetch '%s': the reply has no job", src);
		goto out;
	}
	job = xstrdup(cli_json_str(rep, "url"));
	token = xstrdup(cli_json_str(rep, "delete_token"));
	cli_progress_init(&bar, o, src, 0);
	for (;;) {
		const char *state;
		json_decref(st);
		st = NULL;
		pt_buf_reset(&msg);
		if (cli_api_call(o, "GET", job, NULL, &st, &status, &msg)) {
			cli_progress_end(&bar);
			cli_err("cannot follow the fetch of '%s': %s", src,
				msg.p);
			goto out;
		}
		state = cli_json_str(st, "state");
		json_t *b = json_object_get(st, "bytes");
		json_t *t = json_object_get(st, "total");
		cli_progress_update(&bar, (uint64_t)json_integer_value(b),
				    (uint64_t)json_integer_value(t),
				    state && strcmp(state, "fetching"));
		if (state && !strcmp(state, "failed")) {
			cli_progress_end(&bar);
			cli_err("cannot fetch '%s': %s", src,
				cli_json_str(st, "error")
					? cli_json_str(st, "error")
					: "failed");
			goto out;
		}
		if (state && !strcmp(state, "done"))
			break;
		struct timespec ts = { 0, REMOTE_POLL_NS };
		nanosleep(&ts, NULL);
	}
	cli_progress_end(&bar);
	json_t *file = json_object_get(st, "file");
	if (o->json)
		cli_print_json(file);
	else
		puts(cli_json_str(file, "url") ? cli_json_str(file, "url")
					       : "");
	fflush(stdout);
	fprintf(stderr, "delete token: %s\n", token);
	ret = 0;
out:
	json_decref(body);
	json_decref(rep);
	json_decref(st);
	free(url);
	free(job);
	free(token);
	pt_buf_release(&msg);
	return ret;
}

int cli_remote(const struct cli_opts *o, int argc, char **argv)
{
	int ret = CLI_OK;

	for (int i = 0; i < argc; i++)
		if (remote_one(o, argv[i]))
			ret = CLI_FAIL;
	if (fflush(stdout) != 0) {
		cli_err("cannot write to stdout: %s", strerror(errno));
		ret = CLI_FAIL;
	}
	return ret;
}
