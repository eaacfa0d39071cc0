/*
 * manage.c — the logged-in user's file manager from the command line:
 * `ls`, `mv`, `rename`, `rm`, `share` and `unshare` on the account's files
 * and folders, through the same API the web's /files page uses
 * (GET /api/v1/me/files, GET /api/v1/folders, PATCH and DELETE on
 * /api/v1/files/{id}, /{id} and /api/v1/folders/{id}).
 *
 * Every request carries the login exactly as mkdir's does (PARTAGE_API_TOKEN,
 * else the stored token of the URL's server); without either, a command
 * says so and sends nothing.  An item is a file (its id, share URL or
 * direct URL) or a folder (its /folder/{id} link); a bare id is asked
 * about as a file first (GET /api/v1/files/{id}) and taken as a folder
 * when the server knows no such file.  Items are handled one by one: a
 * failure is one line on stderr with the server's reason, and the others
 * are still done (exit 1 at the end).
 */
#define _GNU_SOURCE
#include "cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/ids.h"
#include "../util/banned.h"

/* ---- requests ---- */

static bool mg_logged_in(const struct cli_opts *o, const char *url)
{
	return o->api_token || (o->creds && cli_creds_find(o->creds, url));
}

static void mg_not_logged_in(const char *base)
{
	cli_err("not logged in to '%s': run 'partage login' or set "
		"PARTAGE_API_TOKEN", base);
}

/* A folder named by its id or its /folder/{id} link (a file's link is
 * not one).  Returns 0, or PT_EBADREQ. */
static int mg_folder_parse(const char *arg, const struct cli_opts *o,
			   struct cli_target *t)
{
	if (cli_target_parse(arg, o, t))
		return PT_EBADREQ;
	if (strcmp(t->kind, "folders") != 0 && strstr(arg, "://")) {
		cli_target_release(t);
		return PT_EBADREQ;
	}
	t->kind = "folders";
	return 0;
}

/* ---- ls ---- */

/* Append the array member `key` of obj to arr. */
static void mg_extend(json_t *arr, const json_t *obj, const char *key)
{
	json_t *a = json_object_get(obj, key);
	size_t i;
	json_t *v;

	json_array_foreach(a, i, v)
		json_array_append(arr, v);
}

/* A name on one line of a terminal: control characters become '?'. */
static void mg_put_name(const char *s)
{
	for (; s && *s; s++)
		putchar((unsigned char)*s < 0x20 || *s == 0x7f ? '?' : *s);
}

static json_int_t mg_int(const json_t *obj, const char *key)
{
	return json_integer_value(json_object_get(obj, key));
}

/*
 * GET /api/v1/folders[?parent=ID] and every page of
 * GET /api/v1/me/files?folder=[ID]&sort=name, then print:
 *   Fo1d3rId0001  folder              Holiday 2026/  shared
 *   AbCdEf123456     1.2 MiB       3  report.pdf
 */
int cli_ls(const struct cli_opts *o, int argc, char **argv)
{
	const char *arg = argc > 0 ? argv[0] : NULL;
	struct cli_target t = { 0 };
	struct pt_buf msg;
	json_t *folders = json_array(), *files = json_array(), *rep = NULL;
	const char *base = o->server, *id = "";
	char *url = NULL;
	long status;
	size_t i;
	json_t *v;
	int ret = CLI_FAIL;

	pt_buf_init(&msg, 4096);
	if (arg && strcmp(arg, "/") != 0) {
		if (mg_folder_parse(arg, o, &t)) {
			cli_err("not a folder id or link: '%s'", arg);
			goto fail;
		}
		base = t.base;
		id = t.id;
	}
	if (!mg_logged_in(o, base)) {
		mg_not_logged_in(base);
		goto fail;
	}
	/* the files first: they answer 404 for a folder that is not ours */
	for (json_int_t page = 1;; page++) {
		free(url);
		url = xasprintf("%s/api/v1/me/files?folder=%s&sort=name&"
				"order=asc&page=%lld", base, id,
				(long long)page);
		json_decref(rep);
		if (cli_api_call(o, "GET", url, NULL, &rep, &status, &msg) ||
		    !json_is_array(json_object_get(rep, "files"))) {
			if (!msg.n)
				pt_buf_adds(&msg, "the reply is not a list");
			cli_err("cannot list '%s': %s", arg ? arg : "/", msg.p);
			goto fail;
		}
		size_t got = json_array_size(json_object_get(rep, "files"));
		mg_extend(files, rep, "files");
		if (!got || page * mg_int(rep, "per_page") >=
				    mg_int(rep, "total"))
			break;
	}
	free(url);
	url = *id ? xasprintf("%s/api/v1/folders?parent=%s", base, id)
		  : xasprintf("%s/api/v1/folders", base);
	json_decref(rep);
	if (cli_api_call(o, "GET", url, NULL, &rep, &status, &msg) ||
	    !json_is_array(json_object_get(rep, "folders"))) {
		if (!msg.n)
			pt_buf_adds(&msg, "the reply is not a list");
		cli_err("cannot list '%s': %s", arg ? arg : "/", msg.p);
		goto fail;
	}
	/* without ?parent the server lists every folder: keep the top's */
	json_array_foreach(json_object_get(rep, "folders"), i, v)
		if (*id || json_is_null(json_object_get(v, "parent")))
			json_array_append(folders, v);

	if (o->json) {
		json_t *all = json_pack("{s:O, s:O}", "folders", folders,
					"files", files);
		PT_ASSERT(all);
		cli_print_json(all);
		json_decref(all);
	} else {
		json_array_foreach(folders, i, v) {
			printf("%s  %-18s  ", cli_json_str(v, "id"), "folder");
			mg_put_name(cli_json_str(v, "name"));
			fputs(json_is_true(json_object_get(v, "shared"))
				      ? "/  shared\n" : "/\n", stdout);
		}
		json_array_foreach(files, i, v) {
			char size[32], dl[32];
			pt_human_size((uint64_t)mg_int(v, "size"), size,
				       sizeof(size));
			snprintf(dl, sizeof(dl), "%lld",
				 (long long)mg_int(v, "downloads"));
			printf("%s  %10s  %6s  ", cli_json_str(v, "id"), size,
			       dl);
			mg_put_name(cli_json_str(v, "name"));
			putchar('\n');
		}
	}
	ret = CLI_OK;
fail:
	json_decref(rep);
	json_decref(folders);
	json_decref(files);
	cli_target_release(&t);
	free(url);
	pt_buf_release(&msg);
	return ret;
}

/* ---- mv, rename, rm ---- */

/* What one command does to a file and to a folder. */
struct mg_op {
	const char *verb;          /* "move": "cannot move 'x': …" */
	const char *file_method;   /* DELETE goes to /{id}, PATCH to
				    * /api/v1/files/{id} */
	const json_t *file_body;   /* NULL: none */
	const char *folder_method; /* to /api/v1/folders/{id}{folder_query} */
	const json_t *folder_body;
	const char *folder_query;
};

/* Apply op to the file or folder arg names.  Returns 0, or -1 after one
 * line on stderr. */
static int mg_item(const struct cli_opts *o, const struct mg_op *op,
		   const char *arg)
{
	struct cli_target t = { 0 };
	struct pt_buf msg;
	char *url = NULL;
	bool folder;
	long status;
	int ret = -1;

	pt_buf_init(&msg, 4096);
	if (cli_target_parse(arg, o, &t)) {
		cli_err("not a partage id or link: '%s'", arg);
		goto fail;
	}
	if (!mg_logged_in(o, t.base)) {
		mg_not_logged_in(t.base);
		goto fail;
	}
	folder = strcmp(t.kind, "folders") == 0;
	if (!folder && !strstr(arg, "://")) {
		/* a bare id: a file when the server knows it as one (live or
		 * not: its error is then the file's), else a folder */
		url = xasprintf("%s/api/v1/files/%s", t.base, t.id);
		if (cli_api_call(o, "GET", url, NULL, NULL, &status, &msg) &&
		    status == 0) {
			cli_err("cannot %s '%s': %s", op->verb, arg, msg.p);
			goto fail;
		}
		folder = status == 404;
		free(url);
	}
	if (folder)
		url = xasprintf("%s/api/v1/folders/%s%s", t.base, t.id,
				op->folder_query);
	else if (strcmp(op->file_method, "DELETE") == 0)
		url = xasprintf("%s/%s", t.base, t.id);
	else
		url = xasprintf("%s/api/v1/files/%s", t.base, t.id);
	if (cli_api_do(o, folder ? op->folder_method : op->file_method, url,
		       folder ? op->folder_body : op->file_body, NULL,
		       "%s '%s'", op->verb, arg))
		goto fail;
	ret = 0;
fail:
	cli_target_release(&t);
	free(url);
	pt_buf_release(&msg);
	return ret;
}

static int mg_items(const struct cli_opts *o, const struct mg_op *op,
		    int argc, char **argv)
{
	int ret = CLI_OK;

	for (int i = 0; i < argc; i++)
		if (mg_item(o, op, argv[i]))
			ret = CLI_FAIL;
	return ret;
}

/* mv ITEM... --to FOLDER ('/' = the top level) */
int cli_mv(const struct cli_opts *o, int argc, char **argv)
{
	struct cli_target to = { 0 };
	json_t *dest, *fb = NULL, *db = NULL;
	int ret = CLI_FAIL;

	if (strcmp(o->to, "/") == 0) {
		dest = json_null();
	} else if (mg_folder_parse(o->to, o, &to)) {
		cli_err("--to takes a folder id or link, or '/': '%s'",
			o->to);
		goto fail;
	} else {
		dest = json_string(to.id);
	}
	fb = json_pack("{s:O}", "folder", dest);
	db = json_pack("{s:o}", "parent", dest);
	PT_ASSERT(fb && db);
	const struct mg_op op = { "move", "PATCH", fb, "PATCH", db, "" };
	ret = mg_items(o, &op, argc, argv);
fail:
	json_decref(fb);
	json_decref(db);
	cli_target_release(&to);
	return ret;
}

/* rename ITEM NAME */
int cli_rename(const struct cli_opts *o, const char *item, const char *name)
{
	json_t *body = json_pack("{s:s}", "name", name);
	int ret;

	if (!body) {
		cli_err("cannot rename '%s': the name is not UTF-8", item);
		return CLI_FAIL;
	}
	const struct mg_op op = { "rename", "PATCH", body, "PATCH", body,
				  "" };
	ret = mg_items(o, &op, 1, (char **)&item);
	json_decref(body);
	return ret;
}

/* rm ITEM... [--recursive] */
int cli_rm(const struct cli_opts *o, int argc, char **argv)
{
	const struct mg_op op = { "remove", "DELETE", NULL, "DELETE", NULL,
				  o->recursive ? "?recursive=1" : "" };

	return mg_items(o, &op, argc, argv);
}

/* ---- share, unshare ---- */

/* PATCH /api/v1/folders/{id} {"shared"}: prints the link when shared. */
int cli_share(const struct cli_opts *o, const char *arg, bool share)
{
	struct cli_target t = { 0 };
	char *url = NULL;
	json_t *body = json_pack("{s:b}", "shared", share), *rep = NULL;
	int ret = CLI_FAIL;

	PT_ASSERT(body);
	if (mg_folder_parse(arg, o, &t)) {
		cli_err("not a folder id or link: '%s'", arg);
		goto fail;
	}
	if (!mg_logged_in(o, t.base)) {
		mg_not_logged_in(t.base);
		goto fail;
	}
	url = xasprintf("%s/api/v1/folders/%s", t.base, t.id);
	if (cli_api_do(o, "PATCH", url, body, &rep, "%s '%s'",
		       share ? "share" : "unshare", arg))
		goto fail;
	if (share) {
		if (!cli_json_str(rep, "url")) {
			cli_err("cannot share '%s': the reply is not a folder",
				arg);
			goto fail;
		}
		puts(cli_json_str(rep, "url"));
	}
	ret = CLI_OK;
fail:
	json_decref(body);
	json_decref(rep);
	cli_target_release(&t);
	free(url);
	return ret;
}
