/*
 * login.c — `partage login` and `partage logout`, and the file of stored
 * logins that every other command reads.
 *
 * login asks the server for an API token with the account's name and
 * password (POST /api/v1/tokens {"name","password"}: no session cookie is
 * involved, so no CSRF token either) and keeps the token in the
 * credentials file under the server's URL; logout revokes it
 * (DELETE /api/v1/tokens/{id}, authenticated by the token itself) and
 * removes it.  A command sends a stored token only to URLs under the
 * server it was made for, and never when PARTAGE_API_TOKEN is set.
 *
 * The password comes from the terminal with echo off, or from stdin (one
 * line) when stdin is not a terminal or with --password-stdin; it is wiped
 * from memory after use.
 */
#define _GNU_SOURCE
#include "cli.h"

#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

#include "../util/banned.h"

/* Lines of the file are short; a longer one is not ours. */
#define CREDS_LINE_MAX 4096

/* ---- the file ---- */

/* "$XDG_CONFIG_HOME/partage" (or "$HOME/.config/partage"); caller frees;
 * NULL when neither variable gives an absolute path. */
static char *creds_dir(void)
{
	const char *x = getenv("XDG_CONFIG_HOME"), *home = getenv("HOME");

	if (x && x[0] == '/')
		return xasprintf("%s/partage", x);
	if (home && home[0] == '/')
		return xasprintf("%s/.config/partage", home);
	return NULL;
}

static void cred_free(struct cli_cred *cr)
{
	free(cr->server);
	free(cr->id);
	if (cr->token) {
		sodium_memzero(cr->token, strlen(cr->token));
		free(cr->token);
	}
	memset(cr, 0, sizeof(*cr));
}

void cli_creds_release(struct cli_creds *c)
{
	for (size_t i = 0; i < c->n; i++)
		cred_free(&c->v[i]);
	free(c->v);
	c->v = NULL;
	c->n = 0;
}

static void creds_add(struct cli_creds *c, const char *server,
		      const char *id, const char *token)
{
	c->v = xrealloc(c->v, (c->n + 1) * sizeof(*c->v));
	c->v[c->n].server = xstrdup(server);
	c->v[c->n].id = xstrdup(id);
	c->v[c->n].token = xstrdup(token);
	c->n++;
}

static void creds_remove(struct cli_creds *c, size_t i)
{
	cred_free(&c->v[i]);
	memmove(&c->v[i], &c->v[i + 1], (c->n - i - 1) * sizeof(*c->v));
	c->n--;
}

int cli_creds_load(struct cli_creds *c)
{
	char *dir = creds_dir(), *path = NULL, *line = NULL;
	size_t cap = 0, lineno = 0;
	ssize_t len;
	FILE *f = NULL;
	int ret = 0;

	c->v = NULL;
	c->n = 0;
	if (!dir)
		goto fail; /* nowhere to keep logins: none */
	path = xasprintf("%s/credentials", dir);
	if (!(f = fopen(path, "re"))) {
		if (errno != ENOENT) {
			ret = -errno;
			cli_err("cannot open '%s': %s", path, strerror(errno));
		}
		goto fail;
	}
	while ((len = getline(&line, &cap, f)) >= 0) {
		char *server, *id, *token, *save = NULL;

		lineno++;
		while (len > 0 && (line[len - 1] == '\n' ||
				   line[len - 1] == '\r'))
			line[--len] = '\0';
		if (len == 0 || line[0] == '#')
			continue;
		server = strtok_r(line, " ", &save);
		id = strtok_r(NULL, " ", &save);
		token = strtok_r(NULL, " ", &save);
		if (len > CREDS_LINE_MAX || !server || !id || !token ||
		    strtok_r(NULL, " ", &save)) {
			ret = PT_EBADREQ;
			cli_err("cannot read '%s': line %zu is not "
				"'SERVER TOKEN_ID TOKEN'", path, lineno);
			cli_creds_release(c);
			goto fail;
		}
		creds_add(c, server, id, token);
	}
	if (ferror(f)) {
		ret = -EIO;
		cli_err("cannot read '%s': %s", path, strerror(EIO));
		cli_creds_release(c);
	}
fail:
	if (line) {
		sodium_memzero(line, cap);
		free(line);
	}
	if (f)
		fclose(f);
	free(path);
	free(dir);
	return ret;
}

/* mkdir -p for the last two levels ($XDG_CONFIG_HOME and partage/), 0700. */
static int creds_mkdir(const char *dir)
{
	char *parent = xstrdup(dir), *slash = strrchr(parent, '/');
	int ret = 0;

	if (slash && slash != parent) {
		*slash = '\0';
		if (mkdir(parent, 0700) && errno != EEXIST)
			ret = -errno;
	}
	if (!ret && mkdir(dir, 0700) && errno != EEXIST)
		ret = -errno;
	free(parent);
	return ret;
}

/* Write c whole to the file (temp file, fsync, rename).  Returns 0, or a
 * negative status after saying why on stderr. */
static int creds_save(const struct cli_creds *c)
{
	char *dir = creds_dir(), *path = NULL, *tmp = NULL;
	struct pt_buf b;
	int fd, ret = 0, werr;

	pt_buf_init(&b, (size_t)1 << 24);
	if (!dir) {
		ret = PT_EBADREQ;
		cli_err("cannot store the login: neither XDG_CONFIG_HOME nor "
			"HOME is an absolute path");
		goto fail;
	}
	path = xasprintf("%s/credentials", dir);
	tmp = xasprintf("%s/.credentials.%ld", dir, (long)getpid());
	if ((ret = creds_mkdir(dir))) {
		cli_err("cannot create '%s': %s", dir, strerror(-ret));
		goto fail;
	}
	pt_buf_adds(&b, "# partage logins: SERVER TOKEN_ID TOKEN "
			"(partage login / logout)\n");
	for (size_t i = 0; i < c->n; i++)
		pt_buf_addf(&b, "%s %s %s\n", c->v[i].server, c->v[i].id,
			    c->v[i].token);
	unlink(tmp);
	errno = 0;
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	werr = fd < 0 || write(fd, b.p, b.n) != (ssize_t)b.n || fsync(fd)
		       ? (errno ? errno : EIO)
		       : 0;
	/* closed exactly once: a failed close has released fd all the same,
	 * and closing it again could close another thread's file */
	if (fd >= 0 && close(fd) && !werr)
		werr = errno ? errno : EIO;
	if (werr) {
		ret = -werr;
		cli_err("cannot write '%s': %s", tmp, strerror(werr));
		unlink(tmp);
		goto fail;
	}
	if (rename(tmp, path)) {
		ret = -errno;
		cli_err("cannot rename '%s' to '%s': %s", tmp, path,
			strerror(errno));
		unlink(tmp);
		goto fail;
	}
fail:
	if (b.p)
		sodium_memzero(b.p, b.n);
	pt_buf_release(&b);
	free(tmp);
	free(path);
	free(dir);
	return ret;
}

const struct cli_cred *cli_creds_find(const struct cli_creds *c,
				      const char *url)
{
	const struct cli_cred *best = NULL;
	size_t best_n = 0;

	for (size_t i = 0; c && i < c->n; i++) {
		size_t n = strlen(c->v[i].server);
		if (strncmp(url, c->v[i].server, n) == 0 &&
		    (url[n] == '\0' || url[n] == '/' || url[n] == '?') &&
		    n > best_n) {
			best = &c->v[i];
			best_n = n;
		}
	}
	return best;
}

static ssize_t creds_index(const struct cli_creds *c, const char *server)
{
	for (size_t i = 0; i < c->n; i++)
		if (strcmp(c->v[i].server, server) == 0)
			return (ssize_t)i;
	return -1;
}

/* ---- reading from the terminal ---- */

/* One line from f without its newline; caller wipes and frees.  NULL at
 * end of file before any byte. */
static char *read_line(FILE *f)
{
	char *line = NULL;
	size_t cap = 0;
	ssize_t len = getline(&line, &cap, f);

	if (len < 0) {
		free(line);
		return NULL;
	}
	while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
		line[--len] = '\0';
	return line;
}

/* Ask on the terminal; echo off for a password.  NULL when there is no
 * terminal or it was closed. */
static char *ask_tty(const char *prompt, bool secret)
{
	struct termios old, quiet;
	bool restore = false;
	char *line = NULL;
	FILE *tty = fopen("/dev/tty", "r+e");

	if (!tty)
		return NULL;
	fputs(prompt, tty);
	fflush(tty);
	if (secret && tcgetattr(fileno(tty), &old) == 0) {
		quiet = old;
		quiet.c_lflag &= ~(tcflag_t)ECHO;
		quiet.c_lflag |= ECHONL;
		restore = tcsetattr(fileno(tty), TCSAFLUSH, &quiet) == 0;
	}
	line = read_line(tty);
	if (restore)
		tcsetattr(fileno(tty), TCSAFLUSH, &old);
	fclose(tty);
	return line;
}

static void wipe(char *s)
{
	if (s) {
		sodium_memzero(s, strlen(s));
		free(s);
	}
}

/* ---- the commands ---- */

/* DELETE /api/v1/tokens/{id} with the token itself.  0 when the server
 * revoked it or no longer knows it (401, 404); else a negative status and
 * the reason in msg. */
static int token_revoke(const struct cli_opts *o, const struct cli_cred *cr,
			struct pt_buf *msg)
{
	struct cli_opts lo = *o;
	struct cli_http h;
	char *url = xasprintf("%s/api/v1/tokens/%s", cr->server, cr->id);
	int err;

	lo.api_token = cr->token;
	lo.password = NULL;
	cli_http_init(&h, "DELETE", url);
	cli_http_add_header(&h, "Accept: application/json");
	err = cli_http_perform(&h, &lo);
	if (err) {
		cli_http_strerror(&h, err, msg);
	} else if (h.status != 204 && h.status != 200 && h.status != 401 &&
		   h.status != 404) {
		cli_http_reason(&h, msg);
		err = PT_EUNAVAIL;
	}
	cli_http_release(&h);
	free(url);
	return err;
}

int cli_login(const struct cli_opts *o, int argc, char **argv)
{
	struct cli_opts lo = *o;
	struct cli_creds c = { 0 };
	struct cli_cred old = { 0 };
	struct cli_http h;
	struct pt_buf msg;
	char *user = NULL, *pw = NULL, *body = NULL, *url = NULL;
	char *prompt = NULL, *label = NULL;
	const char *id, *token;
	json_t *req = NULL, *rep = NULL;
	ssize_t i;
	int err, ret = CLI_FAIL;

	pt_buf_init(&msg, 4096);
	cli_http_init(&h, "POST", NULL);
	if (strpbrk(o->server, " \t\r\n")) {
		cli_err("cannot log in to '%s': a server URL has no spaces",
			o->server);
		goto fail;
	}
	if (argc > 0)
		user = xstrdup(argv[0]);
	else if (!o->password_stdin && isatty(STDIN_FILENO))
		user = ask_tty("user: ", false);
	if (!user || !*user) {
		cli_err("login: no user name (partage login USER)");
		ret = CLI_USAGE;
		goto fail;
	}
	if (o->password_stdin || !isatty(STDIN_FILENO)) {
		pw = read_line(stdin);
	} else {
		prompt = xasprintf("password for %s at %s: ", user, o->server);
		pw = ask_tty(prompt, true);
	}
	if (!pw) {
		cli_err("login: no password given");
		goto fail;
	}
	/* A logged-in request would create a token for that login and ignore
	 * name and password: this one carries no token at all. */
	lo.api_token = NULL;
	lo.creds = NULL;
	lo.password = NULL;
	/* the token's label says where it lives, for the /account page */
	char host[64] = "";
	if (gethostname(host, sizeof(host) - 1) != 0)
		host[0] = '\0';
	label = xasprintf("partage on %s", *host ? host : "this computer");
	req = json_pack("{s:s, s:s, s:s}", "name", user, "password", pw,
			"label", label);
	if (!req) {
		cli_err("cannot log in as '%s': the name or password is not "
			"UTF-8", user);
		goto fail;
	}
	body = json_dumps(req, JSON_COMPACT);
	PT_ASSERT(body);
	url = xasprintf("%s/api/v1/tokens", o->server);
	h.url = url;
	h.in_data = body;
	h.in_len = strlen(body);
	cli_http_add_header(&h, "Content-Type: application/json");
	cli_http_add_header(&h, "Accept: application/json");
	err = cli_http_perform(&h, &lo);
	if (err) {
		cli_http_strerror(&h, err, &msg);
		cli_err("cannot log in to '%s': %s", o->server, msg.p);
		goto fail;
	}
	if (h.status != 201) {
		cli_http_reason(&h, &msg);
		cli_err("cannot log in to '%s' as '%s': %s", o->server, user,
			msg.p);
		goto fail;
	}
	rep = cli_http_json(&h);
	id = cli_json_str(rep, "id");
	token = cli_json_str(rep, "token");
	if (!id || !token || !*id || !*token || strpbrk(id, " \n") ||
	    strpbrk(token, " \n")) {
		cli_err("cannot log in to '%s': the reply has no token",
			o->server);
		goto fail;
	}
	if (cli_creds_load(&c))
		goto fail;
	if ((i = creds_index(&c, o->server)) >= 0) {
		old.server = xstrdup(c.v[i].server);
		old.id = xstrdup(c.v[i].id);
		old.token = xstrdup(c.v[i].token);
		creds_remove(&c, (size_t)i);
	}
	creds_add(&c, o->server, id, token);
	if (creds_save(&c)) {
		/* not kept: do not leave a live token nobody knows */
		struct cli_cred fresh = { o->server, (char *)id, (char *)token };
		token_revoke(o, &fresh, &msg);
		goto fail;
	}
	/* the login it replaces is revoked, as logout would */
	if (old.id && strcmp(old.id, id) != 0)
		token_revoke(o, &old, &msg);
	fprintf(stderr, "logged in to %s as %s\n", o->server, user);
	ret = CLI_OK;
fail:
	cred_free(&old);
	cli_creds_release(&c);
	json_decref(rep);
	json_decref(req);
	wipe(body);
	wipe(pw);
	free(user);
	free(prompt);
	free(label);
	free(url);
	if (h.body.p)
		sodium_memzero(h.body.p, h.body.n);
	cli_http_release(&h);
	pt_buf_release(&msg);
	return ret;
}

int cli_logout(const struct cli_opts *o)
{
	struct cli_creds c = { 0 };
	struct pt_buf msg;
	ssize_t i;
	int err, ret = CLI_FAIL;

	pt_buf_init(&msg, 4096);
	if (cli_creds_load(&c))
		goto fail;
	if ((i = creds_index(&c, o->server)) < 0) {
		cli_err("not logged in to '%s'", o->server);
		goto fail;
	}
	err = token_revoke(o, &c.v[i], &msg);
	creds_remove(&c, (size_t)i);
	if (creds_save(&c))
		goto fail;
	if (err) {
		cli_err("cannot revoke the token at '%s': %s (removed here; "
			"it stays valid on the server)", o->server, msg.p);
		goto fail;
	}
	fprintf(stderr, "logged out of %s\n", o->server);
	ret = CLI_OK;
fail:
	cli_creds_release(&c);
	pt_buf_release(&msg);
	return ret;
}
