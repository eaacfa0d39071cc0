/*
 * state.c — the file of unfinished uploads, so that `partage upload FILE`
 * run again after a kill, a crash or Ctrl-C resumes the upload the server
 * still holds instead of sending the file again.
 *
 * $XDG_STATE_HOME/partage/uploads.json (else ~/.local/state/partage/…),
 * mode 0600 in a 0700 directory:
 *
 *   {"uploads": [{"server": "https://host", "path": "/abs/file",
 *                 "size": N, "mtime_ns": N, "dev": N, "ino": N,
 *                 "url": "https://host/api/v1/uploads/UID",
 *                 "delete_token": "…", "options": "SHA-256 hex",
 *                 "created": UNIX_TIME}, …]}
 *
 * An entry matches only the same server and the same file unchanged (path,
 * size, modification time, device and inode), so an edited file is sent
 * anew; an upload whose options (name, folder, limits, password, login:
 * "options" is their digest) differ from this run's is not resumed.
 * Every change is a read-modify-write under an exclusive flock() on
 * uploads.lock, and the file is replaced whole (temp file, fsync, rename):
 * concurrent partage processes serialise, and a crash leaves the old or the
 * new file.  Entries older than STATE_MAX_AGE are dropped on the next
 * write: the server has expired those uploads long before.
 *
 * The state is a convenience: when it cannot be read or written the upload
 * still happens, it only cannot be resumed by another run.
 */
#define _GNU_SOURCE
#include "cli.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "../util/banned.h"

#define STATE_MAX_AGE (30 * 86400)
#define STATE_FILE_MAX (16u << 20)

/* "$XDG_STATE_HOME/partage" (or "$HOME/.local/state/partage"); caller
 * frees; NULL when neither variable gives an absolute path. */
static char *state_dir(void)
{
	const char *x = getenv("XDG_STATE_HOME"), *home = getenv("HOME");

	if (x && x[0] == '/')
		return xasprintf("%s/partage", x);
	if (home && home[0] == '/')
		return xasprintf("%s/.local/state/partage", home);
	return NULL;
}

/* mkdir -p dir, the levels it creates 0700.  Returns 0 or -errno. */
static int mkdir_p(const char *dir)
{
	char *p = xstrdup(dir);
	int ret = 0;

	for (char *s = p + 1; !ret; s++) {
		if (*s != '/' && *s != '\0')
			continue;
		char c = *s;
		*s = '\0';
		if (mkdir(p, 0700) && errno != EEXIST)
			ret = -errno;
		*s = c;
		if (!c)
			break;
	}
	free(p);
	return ret;
}

struct state {
	char *dir, *path;
	int lock_fd;
	json_t *root;     /* {"uploads": [...]} */
};

/* Lock the state and read it into st->root (an empty list when the file
 * does not exist or is not ours).  Returns 0, or a negative status after
 * saying why on stderr. */
static int state_open(struct state *st)
{
	char *lock = NULL;
	json_t *arr;
	int ret = 0;

	memset(st, 0, sizeof(*st));
	st->lock_fd = -1;
	st->dir = state_dir();
	if (!st->dir) {
		cli_err("cannot keep upload state: neither XDG_STATE_HOME nor "
			"HOME is an absolute path");
		return PT_EBADREQ;
	}
	st->path = xasprintf("%s/uploads.json", st->dir);
	lock = xasprintf("%s/uploads.lock", st->dir);
	if ((ret = mkdir_p(st->dir))) {
		cli_err("cannot create '%s': %s", st->dir, strerror(-ret));
		goto fail;
	}
	st->lock_fd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (st->lock_fd < 0) {
		ret = -errno;
		cli_err("cannot open '%s': %s", lock, strerror(errno));
		goto fail;
	}
	while (flock(st->lock_fd, LOCK_EX) < 0) {
		if (errno != EINTR) {
			ret = -errno;
			cli_err("cannot lock '%s': %s", lock, strerror(errno));
			goto fail;
		}
	}
	json_error_t jerr;
	st->root = json_load_file(st->path, 0, &jerr);
	if (!st->root && access(st->path, F_OK) == 0)
		cli_err("ignoring '%s': %s", st->path, jerr.text);
	arr = json_object_get(st->root, "uploads");
	if (!json_is_object(st->root) || !json_is_array(arr)) {
		json_decref(st->root);
		st->root = json_pack("{s:[]}", "uploads");
		PT_ASSERT(st->root);
	}
fail:
	free(lock);
	return ret;
}

/* Unlock and free (the lock goes with the descriptor). */
static void state_close(struct state *st)
{
	if (st->lock_fd >= 0)
		close(st->lock_fd);
	json_decref(st->root);
	free(st->dir);
	free(st->path);
	memset(st, 0, sizeof(*st));
	st->lock_fd = -1;
}

/* Replace the file with st->root.  Returns 0, or a negative status after
 * saying why on stderr. */
static int state_save(struct state *st)
{
	char *tmp = xasprintf("%s/.uploads.json.%ld", st->dir, (long)getpid());
	char *s = NULL;
	int fd = -1, ret = 0;
	size_t n;

	s = json_dumps(st->root, JSON_INDENT(1));
	PT_ASSERT(s);
	n = strlen(s);
	unlink(tmp);
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	errno = 0;
	if (fd < 0 || write(fd, s, n) != (ssize_t)n || write(fd, "\n", 1) != 1 ||
	    fsync(fd)) {
		ret = -(errno ? errno : EIO);
		cli_err("cannot write '%s': %s", tmp, strerror(-ret));
		unlink(tmp);
		goto fail;
	}
	if (close(fd)) {
		fd = -1;
		ret = -errno;
		cli_err("cannot write '%s': %s", tmp, strerror(-ret));
		unlink(tmp);
		goto fail;
	}
	fd = -1;
	if (rename(tmp, st->path)) {
		ret = -errno;
		cli_err("cannot rename '%s' to '%s': %s", tmp, st->path,
			strerror(errno));
		unlink(tmp);
		goto fail;
	}
fail:
	if (fd >= 0)
		close(fd);
	free(s);
	free(tmp);
	return ret;
}

static bool int_is(const json_t *o, const char *key, int64_t v)
{
	const json_t *j = json_object_get(o, key);
	return json_is_integer(j) && json_integer_value(j) == (json_int_t)v;
}

static bool entry_matches(const json_t *e, const struct cli_resume_key *k)
{
	const char *server = cli_json_str(e, "server");
	const char *path = cli_json_str(e, "path");

	return server && path && strcmp(server, k->server) == 0 &&
	       strcmp(path, k->path) == 0 &&
	       int_is(e, "size", (int64_t)k->size) &&
	       int_is(e, "mtime_ns", k->mtime_ns) &&
	       int_is(e, "dev", (int64_t)k->dev) &&
	       int_is(e, "ino", (int64_t)k->ino);
}

/* Drop the entries for k and those too old to matter; true if any went. */
static bool state_drop(struct state *st, const struct cli_resume_key *k)
{
	json_t *arr = json_object_get(st->root, "uploads");
	int64_t now = (int64_t)time(NULL);
	bool changed = false;

	for (size_t i = json_array_size(arr); i-- > 0;) {
		const json_t *e = json_array_get(arr, i);
		const json_t *c = json_object_get(e, "created");
		if (!json_is_object(e) || (k && entry_matches(e, k)) ||
		    !json_is_integer(c) ||
		    now - (int64_t)json_integer_value(c) > STATE_MAX_AGE) {
			json_array_remove(arr, i);
			changed = true;
		}
	}
	return changed;
}

int cli_state_get(const struct cli_resume_key *k, char **url, char **token)
{
	struct state st;
	json_t *arr;
	int ret = PT_ENOTFOUND;

	*url = *token = NULL;
	if (state_open(&st))
		goto fail;
	arr = json_object_get(st.root, "uploads");
	for (size_t i = 0; i < json_array_size(arr); i++) {
		const json_t *e = json_array_get(arr, i);
		const char *u = cli_json_str(e, "url");
		const char *t = cli_json_str(e, "delete_token");
		if (u && t && entry_matches(e, k)) {
			const char *opt = cli_json_str(e, "options");
			*url = xstrdup(u);
			*token = xstrdup(t);
			ret = opt && strcmp(opt, k->options) == 0 ? 0
								  : PT_ECONFLICT;
			break;
		}
	}
fail:
	state_close(&st);
	return ret;
}

int cli_state_put(const struct cli_resume_key *k, const char *url,
		  const char *token)
{
	struct state st;
	json_t *e;
	int ret;

	if ((ret = state_open(&st)))
		goto fail;
	state_drop(&st, k);
	e = json_pack("{s:s, s:s, s:I, s:I, s:I, s:I, s:s, s:s, s:s, s:I}",
		      "server", k->server, "path", k->path,
		      "size", (json_int_t)k->size,
		      "mtime_ns", (json_int_t)k->mtime_ns,
		      "dev", (json_int_t)k->dev, "ino", (json_int_t)k->ino,
		      "url", url, "delete_token", token, "options",
		      k->options, "created", (json_int_t)time(NULL));
	if (!e) {
		/* a path that is not UTF-8: jansson keeps only UTF-8 */
		ret = PT_EBADREQ;
		goto fail;
	}
	json_array_append_new(json_object_get(st.root, "uploads"), e);
	ret = state_save(&st);
fail:
	state_close(&st);
	return ret;
}

int cli_state_remove(const struct cli_resume_key *k)
{
	struct state st;
	int ret;

	if ((ret = state_open(&st)))
		goto fail;
	if (state_drop(&st, k))
		ret = state_save(&st);
fail:
	state_close(&st);
	return ret;
}
