/*
 * webhooks.c — `partage webhooks`: the account's webhooks from the
 * command line, the calls the /account page makes.
 *
 *   partage webhooks                      list them (id, events, URL)
 *   partage webhooks add URL [EVENT...]   register one: its secret alone
 *                                         on stdout, shown only then
 *   partage webhooks rm ID...             delete them
 *   partage webhooks log ID               its deliveries and attempts
 *
 * --json prints the API's objects instead.
 */
#define _GNU_SOURCE
#include "cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../util/banned.h"

/* METHOD {server}{path} with body (JSON or NULL): the reply (NULL for
 * an empty one) on a 2xx in *rep; -1 after "cannot WHAT: reason". */
static int wh_call(const struct cli_opts *o, const char *method,
		   const char *path, const json_t *body, const char *what,
		   json_t **rep)
{
	char *url = xasprintf("%s%s", o->server, path);
	int ret = cli_api_do(o, method, url, body, rep, "%s", what);

	free(url);
	return ret;
}

static void wh_date(json_int_t t, char *out, size_t n)
{
	time_t tt = (time_t)t;
	struct tm tm;
	if (!gmtime_r(&tt, &tm) ||
	    !strftime(out, n, "%Y-%m-%d %H:%M:%S", &tm))
		snprintf(out, n, "%lld", (long long)t);
}

static void wh_events(const json_t *a, char *out, size_t n)
{
	size_t i, at = 0;
	json_t *e;
	out[0] = '\0';
	json_array_foreach(a, i, e) {
		if (json_is_string(e) && at < n)
			at += (size_t)snprintf(out + at, n - at, "%s%s",
					       at ? "," : "",
					       json_string_value(e));
	}
}

static int wh_list(const struct cli_opts *o)
{
	json_t *rep = NULL;
	size_t i;
	json_t *h;

	if (wh_call(o, "GET", "/api/v1/webhooks", NULL, "list webhooks",
		    &rep))
		return CLI_FAIL;
	json_t *arr = json_object_get(rep, "webhooks");
	if (o->json) {
		cli_print_json(rep);
	} else {
		json_array_foreach(arr, i, h) {
			char ev[128];
			wh_events(json_object_get(h, "events"), ev, sizeof(ev));
			printf("%s  %-24s  %s\n", cli_json_str(h, "id"), ev,
			       cli_json_str(h, "url"));
		}
	}
	json_decref(rep);
	return CLI_OK;
}

static int wh_add(const struct cli_opts *o, int argc, char **argv)
{
	json_t *body = json_pack("{s:s}", "url", argv[0]);
	json_t *rep = NULL;
	int ret = CLI_FAIL;

	if (!body) {
		cli_err("cannot add a webhook: the URL is not UTF-8");
		return CLI_FAIL;
	}
	if (argc > 1) {
		json_t *ev = json_array();
		for (int i = 1; i < argc; i++)
			json_array_append_new(ev, json_string(argv[i]));
		json_object_set_new(body, "events", ev);
	}
	if (!wh_call(o, "POST", "/api/v1/webhooks", body, "add the webhook",
		     &rep)) {
		const char *sec = cli_json_str(rep, "secret");
		const char *id = cli_json_str(rep, "id");
		if (o->json) {
			cli_print_json(rep);
			ret = CLI_OK;
		} else if (sec && id) {
			puts(sec);
			fprintf(stderr, "webhook %s: its signing secret is "
					"shown only now\n",
				id);
			ret = CLI_OK;
		} else {
			cli_err("cannot add the webhook: the reply has no "
				"secret");
		}
	}
	json_decref(rep);
	json_decref(body);
	return ret;
}

static int wh_rm(const struct cli_opts *o, int argc, char **argv)
{
	int ret = CLI_OK;
	for (int i = 0; i < argc; i++) {
		char *path = xasprintf("/api/v1/webhooks/%s", argv[i]);
		char *what = xasprintf("delete the webhook '%s'", argv[i]);
		json_t *rep = NULL;
		if (wh_call(o, "DELETE", path, NULL, what, &rep))
			ret = CLI_FAIL;
		json_decref(rep);
		free(path);
		free(what);
	}
	return ret;
}

static int wh_log(const struct cli_opts *o, const char *id)
{
	char *path = xasprintf("/api/v1/webhooks/%s/deliveries", id);
	json_t *rep = NULL;
	size_t i, k;
	json_t *d, *a;

	if (wh_call(o, "GET", path, NULL, "read the deliveries", &rep)) {
		free(path);
		return CLI_FAIL;
	}
	free(path);
	if (o->json) {
		cli_print_json(rep);
		json_decref(rep);
		return CLI_OK;
	}
	json_array_foreach(json_object_get(rep, "deliveries"), i, d) {
		char when[32];
		wh_date(json_integer_value(json_object_get(d, "created")), when,
			sizeof(when));
		printf("%s  %-8s  %-9s  %lld attempt%s  %s\n",
		       when, cli_json_str(d, "event"), cli_json_str(d, "state"),
		       (long long)json_integer_value(
			       json_object_get(d, "attempts")),
		       json_integer_value(json_object_get(d, "attempts")) == 1
			       ? ""
			       : "s",
		       cli_json_str(d, "id"));
		json_array_foreach(json_object_get(d, "log"), k, a) {
			const char *err = cli_json_str(a, "error");
			wh_date(json_integer_value(json_object_get(a, "at")),
				when, sizeof(when));
			printf("    %s  %3lld  %s\n", when,
			       (long long)json_integer_value(
				       json_object_get(a, "status")),
			       err && *err ? err : "ok");
		}
	}
	json_decref(rep);
	return CLI_OK;
}

int cli_webhooks(const struct cli_opts *o, int argc, char **argv)
{
	if (argc == 0)
		return wh_list(o);
	if (!strcmp(argv[0], "add"))
		return wh_add(o, argc - 1, argv + 1);
	if (!strcmp(argv[0], "rm"))
		return wh_rm(o, argc - 1, argv + 1);
	return wh_log(o, argv[1]);
}
