/*
 * request.c — file requests from the command line: `partage request
 * create FOLDER [--password PW] [--expires DAYS] [--max-files N]
 * [--max-bytes N]` prints the request's link (its object with --json),
 * `request list` the owner's requests one per line, `request delete
 * ID...` closes them (POST, GET, DELETE /api/v1/requests…, logged in);
 * and `upload --request URL FILE` sends a file to someone's request
 * (PUT URL/NAME, the request's password in X-Partage-Request-Password),
 * printing what the server says it received.
 */
#include "cli.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/ids.h"
#include "../http/path.h"
#include "../util/banned.h"

static int request_create(const struct cli_opts *o, const char *folder)
{
	char *url = xasprintf("%s/api/v1/requests", o->server);
	json_t *req = json_pack("{s:s}", "folder", folder);
	int ret = CLI_FAIL;

	if (!req) {
		cli_err("cannot make a file request: '%s' is not UTF-8",
			folder);
		goto fail;
	}
	if (o->password)
		json_object_set_new(req, "password", json_string(o->password));
	if (o->have_expires)
		json_object_set_new(req, "max_days",
				    json_integer((json_int_t)o->expires));
	if (o->have_max_files)
		json_object_set_new(req, "max_files",
				    json_integer((json_int_t)o->max_files));
	if (o->have_max_bytes)
		json_object_set_new(req, "max_bytes",
				    json_integer((json_int_t)o->max_bytes));
	if (!cli_api_make(o, url, req, "request",
			  "make a file request into '%s'", folder))
		ret = CLI_OK;
fail:
	json_decref(req);
	free(url);
	return ret;
}

static json_int_t num(const json_t *o, const char *key)
{
	return json_integer_value(json_object_get(o, key));
}

/* ID STATE FILES[/MAX] BYTES[/MAX] FOLDER URL, one line each */
static int request_list(const struct cli_opts *o)
{
	char *url = xasprintf("%s/api/v1/requests", o->server);
	json_t *rep = NULL;
	int ret = CLI_FAIL;

	if (cli_api_do(o, "GET", url, NULL, &rep, "list file requests"))
		goto fail;
	json_t *arr = json_object_get(rep, "requests");
	if (!json_is_array(arr)) {
		cli_err("cannot list file requests: the reply is not a list");
		goto fail;
	}
	if (o->json) {
		cli_print_json(rep);
		ret = CLI_OK;
		goto fail;
	}
	size_t i;
	json_t *r;
	json_array_foreach(arr, i, r) {
		const json_t *f = json_object_get(r, "folder");
		printf("%s %s %lld", cli_json_str(r, "id"),
		       cli_json_str(r, "state"), (long long)num(r, "files"));
		if (num(r, "max_files"))
			printf("/%lld", (long long)num(r, "max_files"));
		printf(" %lld", (long long)num(r, "bytes"));
		if (num(r, "max_bytes"))
			printf("/%lld", (long long)num(r, "max_bytes"));
		printf(" %s %s\n", f ? cli_json_str(f, "name") : "",
		       cli_json_str(r, "url"));
	}
	ret = CLI_OK;
fail:
	json_decref(rep);
	free(url);
	return ret;
}

/* An id, or a link ending in one (/r/{id}, /folder/{id}): the id. */
static const char *request_id(const char *arg)
{
	const char *s = strrchr(arg, '/');
	s = s ? s + 1 : arg;
	return id_valid(s, strlen(s)) ? s : NULL;
}

static int request_delete(const struct cli_opts *o, int argc, char **argv)
{
	int ret = CLI_OK;
	for (int i = 0; i < argc; i++) {
		const char *id = request_id(argv[i]);
		if (!id) {
			cli_err("not a file request: '%s'", argv[i]);
			ret = CLI_FAIL;
			continue;
		}
		char *url = xasprintf("%s/api/v1/requests/%s", o->server, id);
		if (cli_api_do(o, "DELETE", url, NULL, NULL,
			       "close file request '%s'", id))
			ret = CLI_FAIL;
		free(url);
	}
	return ret;
}

int cli_request(const struct cli_opts *o, int argc, char **argv)
{
	if (strcmp(argv[0], "create") == 0) {
		/* a folder's id, or its /folder/{id} link */
		const char *f = request_id(argv[1]);
		if (!f) {
			cli_err("not a folder id or link: '%s'", argv[1]);
			return CLI_FAIL;
		}
		return request_create(o, f);
	}
	if (strcmp(argv[0], "list") == 0)
		return request_list(o);
	return request_delete(o, argc - 1, argv + 1);
}

int cli_request_upload(const struct cli_opts *o, const char *file, int fd,
		       const char *name, int64_t size)
{
	struct pt_buf url, msg;
	struct cli_http h;
	struct cli_progress bar;
	int ret = -1;
	const char *r = o->request;

	pt_buf_init(&url, 64 * 1024);
	pt_buf_init(&msg, 4096);
	cli_http_init(&h, "PUT", NULL);
	/* the request's link, or its bare id on --server */
	if (strstr(r, "://")) {
		size_t n = strlen(r);
		while (n && r[n - 1] == '/')
			n--;
		pt_buf_add(&url, r, n);
	} else if (request_id(r)) {
		pt_buf_addf(&url, "%s/r/%s", o->server, request_id(r));
	} else {
		cli_err("--request takes a file request's link or id, not "
			"'%s'",
			r);
		goto fail;
	}
	if (pt_buf_adds(&url, "/") || path_escape(&url, name)) {
		cli_err("cannot upload '%s': name too long", file);
		goto fail;
	}
	h.url = url.p;
	h.in_fd = fd;
	h.in_size = size;
	cli_progress_init(&bar, o, name, 0);
	h.bar = &bar;
	cli_http_add_header(&h, "Accept: %s",
			    o->json ? "application/json" : "text/plain");
	if (o->password)
		cli_http_add_header(&h, "X-Partage-Request-Password: %s",
				    o->password);
	if (cli_upload_perform(&h, o, file, &msg))
		goto fail;
	if (h.status != 201) {
		cli_http_reason(&h, &msg);
		cli_err("cannot upload '%s': %s", file, msg.p);
		goto fail;
	}
	fwrite(h.body.p, 1, h.body.n, stdout);
	if (h.body.n && h.body.p[h.body.n - 1] != '\n')
		putchar('\n');
	ret = 0;
fail:
	cli_http_release(&h);
	pt_buf_release(&url);
	pt_buf_release(&msg);
	return ret;
}
