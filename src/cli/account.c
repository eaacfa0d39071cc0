/*
 * account.c — the logged-in account from the command line: `account`
 * (GET /api/v1/me and /api/v1/me/rewards: tier, premium end, storage,
 * points), `redeem CODE` (a voucher, POST /api/v1/me/redeem) and
 * `convert DAYS` (points into premium days, POST
 * /api/v1/me/rewards/convert), the same calls the web's /account page
 * makes, and `tokens` (list, new [LABEL], revoke ID...: the API tokens,
 * /api/v1/tokens).  The login is sent as by every command
 * (PARTAGE_API_TOKEN, else the stored token of the server).
 */
#define _GNU_SOURCE
#include "cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../core/ids.h"
#include "../util/banned.h"

static bool ac_logged_in(const struct cli_opts *o)
{
	if (o->api_token || (o->creds && cli_creds_find(o->creds, o->server)))
		return true;
	cli_err("not logged in to '%s': run 'partage login' or set "
		"PARTAGE_API_TOKEN",
		o->server);
	return false;
}

/* METHOD {server}{path} with body (JSON or NULL): the reply's JSON object
 * on a 2xx, else NULL after one line on stderr ("cannot WHAT: reason"). */
static json_t *ac_call(const struct cli_opts *o, const char *method,
		       const char *path, const json_t *body, const char *what)
{
	char *url = xasprintf("%s%s", o->server, path);
	json_t *rep = NULL;

	if (!cli_api_do(o, method, url, body, &rep, "%s", what) &&
	    !json_is_object(rep)) {
		json_decref(rep);
		rep = NULL;
		cli_err("cannot %s: the reply is not a JSON object", what);
	}
	free(url);
	return rep;
}

static json_int_t ac_int(const json_t *o, const char *key)
{
	return json_integer_value(json_object_get(o, key));
}

/* "2026-12-31 23:59 UTC" of a Unix time. */
static void ac_date(json_int_t t, char *out, size_t n)
{
	time_t tt = (time_t)t;
	struct tm tm;
	if (!gmtime_r(&tt, &tm) ||
	    !strftime(out, n, "%Y-%m-%d %H:%M UTC", &tm))
		snprintf(out, n, "%lld", (long long)t);
}

int cli_account(const struct cli_opts *o)
{
	json_t *me = NULL, *rw = NULL;
	char a[32], b[32], d[40];
	int ret = CLI_FAIL;

	if (!ac_logged_in(o) ||
	    !(me = ac_call(o, "GET", "/api/v1/me", NULL, "read the account")) ||
	    !(rw = ac_call(o, "GET", "/api/v1/me/rewards", NULL,
			   "read the rewards")))
		goto fail;
	if (o->json) {
		json_t *all = json_pack("{s:O, s:O}", "account", me, "rewards",
					rw);
		cli_print_json(all);
		json_decref(all);
		ret = CLI_OK;
		goto fail;
	}
	printf("name      %s\n", cli_json_str(me, "name") ? cli_json_str(me, "name") : "?");
	printf("tier      %s", cli_json_str(me, "tier") ? cli_json_str(me, "tier") : "?");
	if (ac_int(me, "premium_until") > 0) {
		ac_date(ac_int(me, "premium_until"), d, sizeof(d));
		printf(" (premium until %s)", d);
	}
	putchar('\n');
	pt_human_size((uint64_t)ac_int(me, "used_bytes"), a, sizeof(a));
	if (ac_int(me, "quota_bytes") > 0) {
		pt_human_size((uint64_t)ac_int(me, "quota_bytes"), b,
			       sizeof(b));
		printf("storage   %s of %s\n", a, b);
	} else {
		printf("storage   %s (no quota)\n", a);
	}
	printf("points    %lld", (long long)ac_int(rw, "points"));
	if (ac_int(rw, "points_per_premium_day") > 0)
		printf(" (%lld per premium day: partage convert DAYS)",
		       (long long)ac_int(rw, "points_per_premium_day"));
	putchar('\n');
	ret = CLI_OK;
fail:
	json_decref(me);
	json_decref(rw);
	return ret;
}

/* Print what a redeem or a conversion gave. */
static void ac_premium(const json_t *rep)
{
	char d[40];
	ac_date(ac_int(rep, "premium_until"), d, sizeof(d));
	printf("%lld premium day%s: premium until %s\n",
	       (long long)ac_int(rep, "days"),
	       ac_int(rep, "days") == 1 ? "" : "s", d);
}

int cli_redeem(const struct cli_opts *o, const char *code)
{
	json_t *body = json_pack("{s:s}", "code", code), *rep = NULL;
	int ret = CLI_FAIL;

	if (!body) {
		cli_err("cannot redeem: the code is not UTF-8");
		return CLI_FAIL;
	}
	if (ac_logged_in(o) &&
	    (rep = ac_call(o, "POST", "/api/v1/me/redeem", body,
			   "redeem the voucher"))) {
		ac_premium(rep);
		ret = CLI_OK;
	}
	json_decref(body);
	json_decref(rep);
	return ret;
}

int cli_convert(const struct cli_opts *o, const char *days)
{
	uint64_t n;
	json_t *body, *rep = NULL;
	int ret = CLI_FAIL;

	if (pt_parse_u64(days, strlen(days), &n) || n == 0 || n > 36500) {
		cli_err("convert takes a number of days from 1 to 36500, not "
			"'%s'",
			days);
		return CLI_USAGE;
	}
	body = json_pack("{s:I}", "days", (json_int_t)n);
	PT_ASSERT(body);
	if (ac_logged_in(o) &&
	    (rep = ac_call(o, "POST", "/api/v1/me/rewards/convert", body,
			   "convert points"))) {
		ac_premium(rep);
		printf("points left: %lld\n", (long long)ac_int(rep, "points"));
		ret = CLI_OK;
	}
	json_decref(body);
	json_decref(rep);
	return ret;
}

/* `tokens`: the account's API tokens, one 'ID CREATED LAST-USED LABEL'
 * line each (or the server's JSON). */
static int tokens_list(const struct cli_opts *o)
{
	json_t *rep = ac_call(o, "GET", "/api/v1/tokens", NULL,
			      "list the tokens");
	json_t *arr = rep ? json_object_get(rep, "tokens") : NULL;
	json_t *t;
	size_t i;
	char c[40], u[40];

	if (!rep)
		return CLI_FAIL;
	if (o->json) {
		cli_print_json(rep);
	} else {
		json_array_foreach(arr, i, t)
		{
			const char *id = cli_json_str(t, "id");
			const char *label = cli_json_str(t, "label");
			ac_date(ac_int(t, "created"), c, sizeof(c));
			if (ac_int(t, "last_used") > 0)
				ac_date(ac_int(t, "last_used"), u, sizeof(u));
			else
				snprintf(u, sizeof(u), "never used");
			/* labels have no control characters (the server
			 * refuses them) */
			printf("%s  created %s  %s%s%s%s\n", id ? id : "?", c,
			       ac_int(t, "last_used") > 0 ? "used " : "", u,
			       label && *label ? "  " : "",
			       label ? label : "");
		}
	}
	json_decref(rep);
	return CLI_OK;
}

int cli_tokens(const struct cli_opts *o, int argc, char **argv)
{
	int ret = CLI_OK;

	if (!ac_logged_in(o))
		return CLI_FAIL;
	if (argc == 0)
		return tokens_list(o);
	if (strcmp(argv[0], "new") == 0) {
		json_t *body = json_pack("{s:s}", "label",
					 argc > 1 ? argv[1] : "");
		json_t *rep;
		if (!body) {
			cli_err("cannot make a token: the label is not UTF-8");
			return CLI_FAIL;
		}
		rep = ac_call(o, "POST", "/api/v1/tokens", body,
			      "make a token");
		json_decref(body);
		if (!rep)
			return CLI_FAIL;
		/* the secret alone on stdout, for a pipe; its id to stderr */
		const char *tok = cli_json_str(rep, "token");
		const char *id = cli_json_str(rep, "id");
		if (tok && *tok && id && *id) {
			puts(tok);
			fprintf(stderr, "token %s: shown only now; 'partage "
					"tokens revoke %s' ends it\n",
				id, id);
		} else {
			cli_err("cannot make a token: the reply has no token");
			ret = CLI_FAIL;
		}
		json_decref(rep);
		return ret;
	}
	/* revoke ID... : every one is tried, the status says whether all
	 * went */
	for (int i = 1; i < argc; i++) {
		if (!id_valid(argv[i], strlen(argv[i]))) {
			cli_err("cannot revoke '%s': not a token id", argv[i]);
			ret = CLI_FAIL;
			continue;
		}
		char *url = xasprintf("%s/api/v1/tokens/%s", o->server,
				      argv[i]);
		if (cli_api_do(o, "DELETE", url, NULL, NULL,
			       "revoke the token %s", argv[i]))
			ret = CLI_FAIL;
		else
			fprintf(stderr, "revoked the token %s\n", argv[i]);
		free(url);
	}
	return ret;
}
