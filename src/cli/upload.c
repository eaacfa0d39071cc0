/*
 * upload.c — `partage upload FILE...`: a regular file goes through tus
 * (tus.c: chunked, retried, resumable across runs, a link password in its
 * creation); stdin or a server without tus get one raw PUT /{name} (the curl front door of
 * docs/api.md), the body streamed, as chunked transfer encoding when its
 * length is unknown.  Each
 * file's share URL (or file object with --json) goes to stdout on one
 * line and its delete token to stderr; a failed file does not stop the
 * others, it only makes the exit status 1.  --request sends each file
 * to a file request instead (request.c).
 */
#include "cli.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../http/path.h"
#include "../util/banned.h"

/* The last component of a local path, without trailing slashes
 * ("a/b/" → "b"), as a new string. */
static char *local_basename(const char *path)
{
	size_t n = strlen(path);
	const char *s;

	while (n > 1 && path[n - 1] == '/')
		n--;
	s = path + n;
	while (s > path && s[-1] != '/')
		s--;
	return xstrndup(s, (size_t)(path + n - s));
}

static int upload_one(const struct cli_opts *o, const char *file)
{
	bool is_stdin = strcmp(file, "-") == 0;
	int fd = -1, err, ret = -1;
	char *name = NULL, *token = NULL;
	struct pt_buf url, msg;
	struct cli_http h;
	struct cli_progress bar;
	json_t *j = NULL;
	struct stat st;

	pt_buf_init(&url, 64 * 1024);
	pt_buf_init(&msg, 4096);
	cli_http_init(&h, "PUT", NULL);

	fd = is_stdin ? STDIN_FILENO : open(file, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		cli_err("cannot open '%s': %s", file, strerror(errno));
		goto fail;
	}
	if (fstat(fd, &st) < 0) {
		cli_err("cannot stat '%s': %s", file, strerror(errno));
		goto fail;
	}
	if (S_ISDIR(st.st_mode)) {
		cli_err("cannot upload '%s': %s", file, strerror(EISDIR));
		goto fail;
	}
	name = o->name ? xstrdup(o->name) :
	       is_stdin ? xstrdup("stdin") : local_basename(file);

	if (o->request) {
		ret = cli_request_upload(o, file, fd, name,
					 S_ISREG(st.st_mode)
						 ? (int64_t)st.st_size
						 : -1);
		goto fail;
	}
	/* a file of known size goes through tus, so it can resume */
	if (S_ISREG(st.st_mode) && !is_stdin) {
		err = cli_tus_upload(o, file, fd, &st, name);
		if (err != PT_EUNSUPPORTED) {
			ret = err ? -1 : 0;
			goto fail;
		}
		if (lseek(fd, 0, SEEK_SET) < 0) {
			cli_err("cannot read '%s': %s", file, strerror(errno));
			goto fail;
		}
	}
	if (pt_buf_addf(&url, "%s/", o->server) || path_escape(&url, name)) {
		cli_err("cannot upload '%s': name too long", file);
		goto fail;
	}
	h.url = url.p;
	h.in_fd = fd;
	/* a pipe or a terminal has no length: curl sends it chunked */
	h.in_size = S_ISREG(st.st_mode) ? (int64_t)st.st_size : -1;
	cli_progress_init(&bar, o, name, 0);
	h.bar = &bar;
	cli_http_add_header(&h, "Accept: %s",
			    o->json ? "application/json" : "text/plain");
	if (o->folder)
		cli_http_add_header(&h, "X-Partage-Folder: %s", o->folder);
	if (o->have_max_days)
		cli_http_add_header(&h, "Max-Days: %llu",
				    (unsigned long long)o->max_days);
	if (o->have_max_downloads)
		cli_http_add_header(&h, "Max-Downloads: %llu",
				    (unsigned long long)o->max_downloads);

	if (cli_upload_perform(&h, o, file, &msg))
		goto fail;
	if (h.status != 201 && h.status != 200) {
		cli_http_reason(&h, &msg);
		cli_err("cannot upload '%s': %s", file, msg.p);
		goto fail;
	}

	token = cli_http_header(&h, "X-Delete-Token");
	j = cli_http_json(&h);
	if (!token && j && cli_json_str(j, "delete_token"))
		token = xstrdup(cli_json_str(j, "delete_token"));
	if (o->json && j) {
		cli_print_json(j);
	} else if (h.body.n) {
		/* the share URL and a newline; anything else verbatim */
		fwrite(h.body.p, 1, h.body.n, stdout);
		if (h.body.p[h.body.n - 1] != '\n')
			putchar('\n');
	} else {
		char *loc = cli_http_header(&h, "Location");
		if (loc)
			puts(loc);
		free(loc);
	}
	/* the URL line first, so a terminal shows each token after its URL */
	fflush(stdout);
	if (token)
		fprintf(stderr, "delete token: %s\n", token);
	ret = 0;
fail:
	if (fd >= 0 && !is_stdin)
		close(fd);
	json_decref(j);
	free(token);
	free(name);
	cli_http_release(&h);
	pt_buf_release(&url);
	pt_buf_release(&msg);
	return ret;
}

int cli_upload(const struct cli_opts *o, int argc, char **argv)
{
	int ret = CLI_OK;

	for (int i = 0; i < argc; i++)
		if (upload_one(o, argv[i]))
			ret = CLI_FAIL;
	if (fflush(stdout) != 0) {
		cli_err("cannot write to stdout: %s", strerror(errno));
		ret = CLI_FAIL;
	}
	return ret;
}
