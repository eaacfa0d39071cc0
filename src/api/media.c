/*
 * media.c — the media service (issue 16): the probe queue that gives
 * every new file its media info, and the table of viewing quotas.
 *
 * The queue is the database: a blob a live link names and that has no
 * row in `media` is still to probe (repo_media_pending).  Uploads (every
 * route: PUT, multipart, tus) call media_kick after the link is
 * committed, which only wakes a worker; the workers (media.probe_workers
 * threads, 1 by default) probe outside every request, and at start and
 * every minute they look for work anyway: files uploaded before a crash
 * or a restart, or on another node, are probed then.
 *
 * A probe is a separate process: /proc/self/exe `__probe`
 * (core/media.h, media_probe_child), the file on its stdin, its answer on
 * a pipe, stderr to /dev/null, an empty signal mask, and a wall-clock
 * timeout (media.probe_timeout_seconds) after which it is killed.  Its
 * answer is parsed as untrusted (media_info_parse).  A child that dies,
 * times out or answers junk leaves the file "failed", and the queue goes
 * on.  The fs backend hands the blob's own descriptor to the child; on a
 * backend without one (S3) the head and the tail of the blob (PROBE_EDGE
 * bytes each, where containers keep their index) are copied through the
 * blob store API into an unlinked sparse temporary file in the data
 * directory, of the blob's full size.
 *
 * Thumbnails (core/thumb.h): when a worker finds nothing to probe it
 * takes a probed image or video without a thumbs row
 * (repo_thumbs_pending) and runs /proc/self/exe `__thumb` on it the same
 * way (one at a time per worker, the probe's limits and timeout, plus
 * media.thumb_max_pixels).  Its JPEG is checked (header, length, SOI and
 * EOI markers), stored as a blob through the blob store API and recorded
 * with repo_thumb_put (the upload's gc protocol, repo_thumbs.c); a child
 * that dies, times out or answers junk records "failed", and the file
 * has no thumbnail.  Without a descriptor of its own (S3) the child gets
 * a sparse copy of the blob's edges and of THUMB_MID bytes around 10 %
 * of it, where the frame usually is.
 *
 * The quota table: one entry per viewer key ("a:ADDRESS" or "u:ID"),
 * MEDIA_QUOTA_SETS sets of MEDIA_QUOTA_WAYS entries; a full set evicts
 * its least recently used entry that is not waiting out a quota.
 */
#define _GNU_SOURCE
#include "app.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../core/thumb.h"
#include "../util/banned.h"

extern char **environ;

#define PROBE_EDGE (16u << 20)
#define PROBE_OUT_MAX 1024
#define PROBE_BATCH 16
#define PROBE_RESCAN_S 60
#define PROBE_POLL_MS 200
#define WORKERS_MAX 16

struct media_queue {
	struct app *app;
	pthread_t th[WORKERS_MAX];
	unsigned n;
	pthread_mutex_t lock; /* stop, kicks, cond, counters */
	pthread_cond_t cond;
	pthread_mutex_t pick; /* picking work: busy[] */
	bool stop;
	unsigned kicks;				  /* bumped by media_kick */
	char busy[WORKERS_MAX][BLOB_HEX_LEN + 1]; /* blobs being probed */
	uint64_t probed, failed;
	uint64_t thumbs, thumbs_failed; /* thumbnailer runs, and failures */
};

/* ---- one probe ---- */

/* A descriptor of the blob for the child: its own (fs), or a sparse copy
 * of its edges (a backend without one).  -1 on failure. */
static int probe_source(struct app *app, const char *hex)
{
	struct blob_reader *rd;
	int fd = -1;
	if (blob_reader_open(app->blobs, hex, &rd))
		return -1;
	int own = blob_reader_fd(rd);
	if (own >= 0) {
		fd = fcntl(own, F_DUPFD_CLOEXEC, 3);
		blob_reader_close(rd);
		return fd;
	}
	uint64_t size = blob_reader_size(rd);
	fd = open(app->conf->data, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
	if (fd < 0)
		fd = open("/tmp", O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
	if (fd < 0 || ftruncate(fd, (off_t)size) < 0)
		goto fail;
	char *buf = xmalloc(1 << 20);
	uint64_t spans[2][2] = {
		{ 0, size < PROBE_EDGE ? size : PROBE_EDGE },
		{ size > PROBE_EDGE ? size - PROBE_EDGE : 0, size },
	};
	for (int s = 0; s < 2; s++) {
		uint64_t at = s && spans[1][0] < spans[0][1] ? spans[0][1]
							     : spans[s][0];
		while (at < spans[s][1]) {
			size_t want = spans[s][1] - at < (1u << 20)
					      ? (size_t)(spans[s][1] - at)
					      : (1u << 20);
			ssize_t k = blob_reader_pread(rd, buf, want, at);
			if (k <= 0 ||
			    pwrite(fd, buf, (size_t)k, (off_t)at) != k) {
				free(buf);
				goto fail;
			}
			at += (uint64_t)k;
		}
	}
	free(buf);
	blob_reader_close(rd);
	return fd;
fail:
	if (fd >= 0)
		close(fd);
	blob_reader_close(rd);
	return -1;
}

static bool stopping(struct media_queue *q)
{
	pthread_mutex_lock(&q->lock);
	bool stop = q->stop;
	pthread_mutex_unlock(&q->lock);
	return stop;
}

/* Start /proc/self/exe with the internal command cmd (the sandboxed
 * children: probe, thumbnail, remux): in as its fd 0, out as its fd 1,
 * /dev/null as 2, no other descriptor of ours (they are all O_CLOEXEC),
 * signals default and unblocked, environment envp.  0 with *pid, or an
 * errno value. */
int media_spawn(const char *cmd, int in, int out, char *const envp[],
		pid_t *pid)
{
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t at;
	sigset_t none, all;
	char *argv[] = { "partaged", (char *)cmd, NULL };

	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, in, 0);
	posix_spawn_file_actions_adddup2(&fa, out, 1);
	posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
	posix_spawnattr_init(&at);
	sigemptyset(&none);
	sigfillset(&all);
	posix_spawnattr_setsigmask(&at, &none);
	posix_spawnattr_setsigdefault(&at, &all);
	posix_spawnattr_setflags(&at, POSIX_SPAWN_SETSIGMASK |
					      POSIX_SPAWN_SETSIGDEF);
	int rc = posix_spawn(pid, "/proc/self/exe", &fa, &at, argv, envp);
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&at);
	return rc;
}

/* Run the probe process on fd: 0 with *m, or a negative status.  A
 * server stopping kills it (within PROBE_POLL_MS). */
static int probe_run(struct media_queue *q, int fd, struct media_info *m)
{
	struct app *app = q->app;
	int out[2] = { -1, -1 }, err = PT_EINTERNAL;
	pid_t pid = -1;
	char as[64], cpu[64], *envp[3];

	if (pipe2(out, O_CLOEXEC) < 0)
		return -errno;
	snprintf(as, sizeof(as), "PARTAGE_PROBE_AS_MB=%llu",
		 (unsigned long long)(app->conf->media_probe_memory_bytes >>
				      20));
	snprintf(cpu, sizeof(cpu), "PARTAGE_PROBE_CPU_S=%llu",
		 (unsigned long long)app->conf->media_probe_timeout_seconds);
	envp[0] = as;
	envp[1] = cpu;
	envp[2] = NULL;
	int rc = media_spawn(MEDIA_PROBE_COMMAND, fd, out[1], envp, &pid);
	close(out[1]);
	if (rc) {
		close(out[0]);
		pt_log("media: cannot start the probe: %s", strerror(rc));
		return -rc;
	}
	char buf[PROBE_OUT_MAX];
	size_t n = 0;
	bool killed = false;
	uint64_t deadline = pt_mono_ns() +
			    app->conf->media_probe_timeout_seconds *
				    1000000000ull;
	for (;;) {
		uint64_t now = pt_mono_ns();
		if (now >= deadline || stopping(q)) {
			kill(pid, SIGKILL);
			killed = true;
			break;
		}
		struct pollfd p = { out[0], POLLIN, 0 };
		int ms = (int)((deadline - now) / 1000000) + 1;
		if (ms > PROBE_POLL_MS)
			ms = PROBE_POLL_MS;
		int k = poll(&p, 1, ms);
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			continue; /* the deadline check kills it */
		ssize_t got = read(out[0], buf + n, sizeof(buf) - n);
		if (got < 0 && errno == EINTR)
			continue;
		if (got <= 0)
			break; /* end: the child exited or closed it */
		n += (size_t)got;
		if (n == sizeof(buf)) { /* longer than any answer */
			kill(pid, SIGKILL);
			killed = true;
			break;
		}
	}
	close(out[0]);
	int status = 0;
	/* its stdout closed: it has exited or is about to; a hung child was
	 * killed above */
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	if (killed) {
		err = PT_EUNAVAIL;
	} else if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
		err = media_info_parse(buf, n, m);
	} else {
		err = PT_EUNSUPPORTED;
	}
	if (WIFSIGNALED(status) || killed)
		pt_log("media: probe %s (%s)", killed ? "timed out" : "died",
		       WIFSIGNALED(status) ? strsignal(WTERMSIG(status))
					   : "exited");
	return err;
}

/* Probe one blob and record the outcome. */
static void probe_one(struct media_queue *q, struct db *db, const char *hex,
		      const char *mime)
{
	struct app *app = q->app;
	struct media_info m;
	enum media_state st = MEDIA_SKIPPED;
	if (media_mime_probable(mime)) {
		int fd = probe_source(app, hex);
		int err = fd >= 0 ? probe_run(q, fd, &m) : PT_EUNAVAIL;
		if (fd >= 0)
			close(fd);
		if (err && stopping(q))
			return; /* killed by the stop: still to probe */
		st = err ? MEDIA_FAILED : MEDIA_DONE;
		pthread_mutex_lock(&q->lock);
		q->probed++;
		q->failed += err != 0;
		pthread_mutex_unlock(&q->lock);
	}
	int err = repo_media_put(db, hex, st, &m, pt_now());
	if (err)
		pt_log("media: cannot record the probe of %s: %s", hex,
		       pt_strerror(err));
	else if (st == MEDIA_DONE)
		remux_kick(app); /* a fast-start copy? (remux.c) */
}

/* ---- thumbnails ---- */

/* bytes around 10 % of a blob copied for the thumbnailer when the
 * backend has no descriptor (half before, half after) */
#define THUMB_MID (16u << 20)

/* Copy [from, to) of rd into fd at the same offsets. */
static int copy_span(struct blob_reader *rd, int fd, char *buf, uint64_t from,
		     uint64_t to)
{
	while (from < to) {
		size_t want = to - from < (1u << 20) ? (size_t)(to - from)
						     : (1u << 20);
		ssize_t k = blob_reader_pread(rd, buf, want, from);
		if (k <= 0 || pwrite(fd, buf, (size_t)k, (off_t)from) != k)
			return -1;
		from += (uint64_t)k;
	}
	return 0;
}

/* A descriptor of the blob for the thumbnailer: probe_source's, with
 * the middle span too on a backend without a descriptor.  -1 on
 * failure. */
static int thumb_source(struct app *app, const char *hex)
{
	struct blob_reader *rd;
	int fd = -1;
	if (blob_reader_open(app->blobs, hex, &rd))
		return -1;
	if (blob_reader_fd(rd) >= 0) {
		blob_reader_close(rd);
		return probe_source(app, hex);
	}
	uint64_t size = blob_reader_size(rd);
	fd = open(app->conf->data, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
	if (fd < 0)
		fd = open("/tmp", O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
	if (fd < 0 || ftruncate(fd, (off_t)size) < 0)
		goto fail;
	char *buf = xmalloc(1 << 20);
	uint64_t mid = size / 10;
	uint64_t spans[3][2] = {
		{ 0, size < PROBE_EDGE ? size : PROBE_EDGE },
		{ mid > THUMB_MID / 2 ? mid - THUMB_MID / 2 : 0,
		  size - mid > THUMB_MID / 2 ? mid + THUMB_MID / 2 : size },
		{ size > PROBE_EDGE ? size - PROBE_EDGE : 0, size },
	};
	/* the spans are in order; each starts where the last one ended at
	 * the latest (a small blob is copied once) */
	uint64_t at = 0;
	for (int i = 0; i < 3; i++) {
		uint64_t from = spans[i][0] > at ? spans[i][0] : at;
		if (from < spans[i][1] &&
		    copy_span(rd, fd, buf, from, spans[i][1]) < 0) {
			free(buf);
			goto fail;
		}
		if (spans[i][1] > at)
			at = spans[i][1];
	}
	free(buf);
	blob_reader_close(rd);
	return fd;
fail:
	if (fd >= 0)
		close(fd);
	blob_reader_close(rd);
	return -1;
}

/* Run `partaged __thumb` on fd: 0 with the JPEG in out[0..*len) and its
 * size, or a negative status (PT_EUNAVAIL: killed). */
static int thumb_run(struct media_queue *q, int fd, uint8_t *out, size_t *len,
		     uint32_t *w, uint32_t *h)
{
	struct app *app = q->app;
	int pipefd[2] = { -1, -1 }, err = PT_EUNSUPPORTED;
	pid_t pid = -1;
	char as[64], cpu[64], px[64], *envp[4];
	size_t cap = THUMB_HEAD_MAX + THUMB_OUT_MAX, n = 0;
	char *buf;

	if (pipe2(pipefd, O_CLOEXEC) < 0)
		return -errno;
	snprintf(as, sizeof(as), "PARTAGE_PROBE_AS_MB=%llu",
		 (unsigned long long)(app->conf->media_probe_memory_bytes >>
				      20));
	snprintf(cpu, sizeof(cpu), "PARTAGE_PROBE_CPU_S=%llu",
		 (unsigned long long)app->conf->media_probe_timeout_seconds);
	snprintf(px, sizeof(px), "PARTAGE_THUMB_MAX_PIXELS=%llu",
		 (unsigned long long)app->conf->media_thumb_max_pixels);
	envp[0] = as;
	envp[1] = cpu;
	envp[2] = px;
	envp[3] = NULL;
	int rc = media_spawn(THUMB_COMMAND, fd, pipefd[1], envp, &pid);
	close(pipefd[1]);
	if (rc) {
		close(pipefd[0]);
		pt_log("media: cannot start the thumbnailer: %s", strerror(rc));
		return -rc;
	}
	buf = xmalloc(cap);
	bool killed = false;
	uint64_t deadline = pt_mono_ns() +
			    app->conf->media_probe_timeout_seconds *
				    1000000000ull;
	for (;;) {
		uint64_t now = pt_mono_ns();
		if (now >= deadline || stopping(q)) {
			kill(pid, SIGKILL);
			killed = true;
			break;
		}
		struct pollfd p = { pipefd[0], POLLIN, 0 };
		int ms = (int)((deadline - now) / 1000000) + 1;
		if (ms > PROBE_POLL_MS)
			ms = PROBE_POLL_MS;
		int k = poll(&p, 1, ms);
		if (k <= 0)
			continue; /* EINTR, or the deadline check kills it */
		ssize_t got = read(pipefd[0], buf + n, cap - n);
		if (got < 0 && errno == EINTR)
			continue;
		if (got <= 0)
			break; /* the child exited or closed it */
		n += (size_t)got;
		if (n == cap) { /* longer than any answer */
			kill(pid, SIGKILL);
			killed = true;
			break;
		}
	}
	close(pipefd[0]);
	int status = 0;
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	size_t head = 0;
	if (killed) {
		err = PT_EUNAVAIL;
	} else if (WIFEXITED(status) && WEXITSTATUS(status) == 0 &&
		   thumb_head_parse(buf, n, w, h, len, &head) == 0 &&
		   head + *len == n &&
		   thumb_jpeg_ok((const uint8_t *)buf + head, *len)) {
		memcpy(out, buf + head, *len);
		err = 0;
	}
	free(buf);
	if (WIFSIGNALED(status) || killed)
		pt_log("media: thumbnailer %s (%s)",
		       killed ? "timed out" : "died",
		       WIFSIGNALED(status) ? strsignal(WTERMSIG(status))
					   : "exited");
	return err;
}

static int thumb_ensure_cb(void *arg)
{
	return blob_writer_ensure(arg);
}

/* Store a made thumbnail as a blob and record it (row->thumb set). */
static int thumb_store(struct app *app, struct db *db, const char *hex,
		       const uint8_t *p, size_t len, struct thumb_row *row)
{
	struct blob_writer *w;
	bool existed;
	int err = blob_writer_open(app->blobs, &w);
	if (err)
		return err;
	blob_writer_expect(w, len);
	if (!(err = blob_writer_write(w, p, len)) &&
	    !(err = blob_writer_commit(w, row->thumb, &existed)))
		err = repo_thumb_put(db, hex, row, len, thumb_ensure_cb, w);
	/* after a commit the blob stays: without a row it is a stray,
	 * swept by gc (a source reaped meanwhile) */
	blob_writer_abort(w);
	return err;
}

/* Make, store and record the thumbnail of blob hex: false when nothing
 * could be recorded (the stores failing, or a stop): the worker then
 * waits for a kick or its rescan instead of trying again at once. */
static bool thumb_one(struct media_queue *q, struct db *db, const char *hex)
{
	struct app *app = q->app;
	struct thumb_row row = { .state = THUMB_FAILED, .created = pt_now() };
	uint8_t *out = xmalloc(THUMB_OUT_MAX);
	size_t len = 0;
	int fd = thumb_source(app, hex);
	int err = fd >= 0 ? thumb_run(q, fd, out, &len, &row.width, &row.height)
			  : PT_EUNAVAIL;
	if (fd >= 0)
		close(fd);
	if (err && stopping(q)) {
		free(out);
		return false; /* killed by the stop: still to do */
	}
	if (!err) {
		row.state = THUMB_DONE;
		err = thumb_store(app, db, hex, out, len, &row);
		if (err == PT_EBADREQ) { /* its own thumbnail */
			row.state = THUMB_FAILED;
			err = repo_thumb_put(db, hex, &row, 0, NULL, NULL);
		}
	} else {
		err = repo_thumb_put(db, hex, &row, 0, NULL, NULL);
	}
	free(out);
	pthread_mutex_lock(&q->lock);
	q->thumbs++;
	q->thumbs_failed += row.state != THUMB_DONE;
	pthread_mutex_unlock(&q->lock);
	if (err && err != PT_ENOTFOUND) {
		pt_log("media: cannot record the thumbnail of %s: %s", hex,
		       pt_strerror(err));
		return false;
	}
	return true;
}

struct thumb_pick {
	struct media_queue *q;
	char hex[BLOB_HEX_LEN + 1];
	bool found;
};

static int thumb_pick_cb(const char *hex, void *arg)
{
	struct thumb_pick *p = arg;
	if (strlen(hex) != BLOB_HEX_LEN)
		return 0;
	for (unsigned i = 0; i < p->q->n; i++)
		if (strcmp(p->q->busy[i], hex) == 0)
			return 0; /* another worker's */
	memcpy(p->hex, hex, sizeof(p->hex));
	p->found = true;
	return 1;
}

/* One thumbnail, if any is to do: whether one was made and recorded
 * (false: nothing to do, or the stores failed). */
static bool thumb_step(struct media_queue *q, struct db *db, unsigned me)
{
	struct thumb_pick p = { .q = q };
	pthread_mutex_lock(&q->pick);
	if (repo_thumbs_pending(db, PROBE_BATCH + WORKERS_MAX, thumb_pick_cb,
				&p) < 0)
		p.found = false;
	if (p.found)
		memcpy(q->busy[me], p.hex, sizeof(p.hex));
	pthread_mutex_unlock(&q->pick);
	if (!p.found)
		return false;
	bool done = thumb_one(q, db, p.hex);
	pthread_mutex_lock(&q->pick);
	q->busy[me][0] = '\0';
	pthread_mutex_unlock(&q->pick);
	return done;
}

/* ---- the workers ---- */

struct pick {
	struct media_queue *q;
	char hex[BLOB_HEX_LEN + 1];
	char mime[128];
	bool found;
};

static int pick_cb(const char *hex, const char *mime, void *arg)
{
	struct pick *p = arg;
	if (strlen(hex) != BLOB_HEX_LEN)
		return 0;
	for (unsigned i = 0; i < p->q->n; i++)
		if (strcmp(p->q->busy[i], hex) == 0)
			return 0; /* another worker's */
	memcpy(p->hex, hex, sizeof(p->hex));
	snprintf(p->mime, sizeof(p->mime), "%s", mime);
	p->found = true;
	return 1;
}

struct worker {
	struct media_queue *q;
	unsigned i;
};

static void *worker(void *arg)
{
	struct worker *w = arg;
	struct media_queue *q = w->q;
	unsigned me = w->i;

	free(w);
	pt_thread_name("media");
	pt_thread_background(); /* its children (probe, thumbnail, remux) too */

	pthread_mutex_lock(&q->lock);
	while (!q->stop) {
		unsigned seen = q->kicks;
		struct pick p = { .q = q };
		pthread_mutex_unlock(&q->lock);
		struct db *db = app_db(q->app);
		/* under q->pick: no two workers take the same blob */
		pthread_mutex_lock(&q->pick);
		if (db && repo_media_pending(db, PROBE_BATCH + WORKERS_MAX,
					     pick_cb, &p) < 0)
			p.found = false;
		if (p.found)
			memcpy(q->busy[me], p.hex, sizeof(p.hex));
		pthread_mutex_unlock(&q->pick);
		if (p.found) {
			probe_one(q, db, p.hex, p.mime);
			pthread_mutex_lock(&q->pick);
			q->busy[me][0] = '\0';
			pthread_mutex_unlock(&q->pick);
		} else if (db) {
			p.found = thumb_step(q, db, me); /* nothing to probe */
		}
		pthread_mutex_lock(&q->lock);
		/* stop may have come while the lock was free (the pick, a
		 * probe): its broadcast found nobody waiting */
		if (p.found || q->stop || q->kicks != seen)
			continue;
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_sec += PROBE_RESCAN_S;
		pthread_cond_timedwait(&q->cond, &q->lock, &ts);
	}
	pthread_mutex_unlock(&q->lock);
	return NULL;
}

struct media_queue *media_queue_start(struct app *app)
{
	unsigned n = (unsigned)app->conf->media_probe_workers;
	if (!n)
		return NULL;
	if (n > WORKERS_MAX)
		n = WORKERS_MAX;
	struct media_queue *q = xcalloc(1, sizeof(*q));
	q->app = app;
	pthread_mutex_init(&q->lock, NULL);
	pthread_mutex_init(&q->pick, NULL);
	pthread_cond_init(&q->cond, NULL);
	for (unsigned i = 0; i < n; i++) {
		struct worker *w = xmalloc(sizeof(*w));
		w->q = q;
		w->i = i;
		if (pthread_create(&q->th[i], NULL, worker, w)) {
			free(w);
			break;
		}
		q->n++;
	}
	return q;
}

void media_queue_stop(struct media_queue *q)
{
	if (!q)
		return;
	pthread_mutex_lock(&q->lock);
	q->stop = true;
	pthread_cond_broadcast(&q->cond);
	pthread_mutex_unlock(&q->lock);
	for (unsigned i = 0; i < q->n; i++)
		pthread_join(q->th[i], NULL);
	pthread_cond_destroy(&q->cond);
	pthread_mutex_destroy(&q->lock);
	pthread_mutex_destroy(&q->pick);
	free(q);
}

void media_kick(struct app *app)
{
	struct media_queue *q = app->media;
	if (!q)
		return;
	pthread_mutex_lock(&q->lock);
	q->kicks++;
	pthread_cond_signal(&q->cond);
	pthread_mutex_unlock(&q->lock);
}

/* ---- viewing quotas ---- */

#define MEDIA_QUOTA_SETS 4096
#define MEDIA_QUOTA_WAYS 4
#define QUOTA_KEY_MAX 72
/* Retry-After when the quota is taken by responses still in flight */
#define MEDIA_INFLIGHT_RETRY 2

struct quota_entry {
	char key[QUOTA_KEY_MAX];
	struct media_quota q;
	int64_t touched;
};

struct media_quotas {
	pthread_mutex_t lock;
	struct quota_entry e[MEDIA_QUOTA_SETS][MEDIA_QUOTA_WAYS];
};

struct media_quotas *media_quotas_new(void)
{
	struct media_quotas *t = xcalloc(1, sizeof(*t));
	pthread_mutex_init(&t->lock, NULL);
	return t;
}

void media_quotas_free(struct media_quotas *t)
{
	if (!t)
		return;
	pthread_mutex_destroy(&t->lock);
	free(t);
}

static uint64_t key_hash(const char *s)
{
	uint64_t h = 1469598103934665603ull; /* FNV-1a */
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ull;
	return h;
}

/* The entry of key (created when create), under t->lock; NULL when none. */
static struct media_quota *quota_find(struct media_quotas *t, const char *key,
				      int64_t now, bool create)
{
	struct quota_entry *set = t->e[key_hash(key) % MEDIA_QUOTA_SETS];
	struct quota_entry *victim = NULL;
	for (int i = 0; i < MEDIA_QUOTA_WAYS; i++) {
		if (strcmp(set[i].key, key) == 0) {
			set[i].touched = now;
			return &set[i].q;
		}
		/* evict free entries first, then the least recent that is
		 * not waiting out its quota, then the least recent */
		if (!victim || !set[i].key[0] ||
		    (victim->key[0] &&
		     ((victim->q.blocked_until > now) >
			      (set[i].q.blocked_until > now) ||
		      ((victim->q.blocked_until > now) ==
			       (set[i].q.blocked_until > now) &&
		       set[i].touched < victim->touched))))
			victim = &set[i];
	}
	if (!create)
		return NULL;
	snprintf(victim->key, sizeof(victim->key), "%s", key);
	memset(&victim->q, 0, sizeof(victim->q));
	victim->touched = now;
	return &victim->q;
}

static void viewer_keys(const struct media_viewer *v,
			char keys[2][QUOTA_KEY_MAX], int *n)
{
	*n = 0;
	snprintf(keys[(*n)++], QUOTA_KEY_MAX, "a:%s", v->address);
	if (v->user_id)
		snprintf(keys[(*n)++], QUOTA_KEY_MAX, "u:%lld",
			 (long long)v->user_id);
}

int64_t media_quota_reserve(struct media_quotas *t,
			    const struct media_viewer *v, int64_t want_ms,
			    int64_t now, int64_t *retry_after)
{
	char keys[2][QUOTA_KEY_MAX];
	int n;
	*retry_after = 0;
	if (!t || v->allowance_ms <= 0)
		return want_ms; /* unlimited */
	viewer_keys(v, keys, &n);
	pthread_mutex_lock(&t->lock);
	int64_t grant = want_ms;
	struct media_quota *qs[2];
	for (int i = 0; i < n; i++) {
		qs[i] = quota_find(t, keys[i], now, true);
		int64_t ra;
		if (!media_quota_allows(qs[i], v->allowance_ms, v->wait_s, now,
					&ra)) {
			if (ra > *retry_after)
				*retry_after = ra;
			grant = 0;
			continue;
		}
		int64_t left = v->allowance_ms - qs[i]->used_ms;
		if (left <= 0) {
			/* used up by responses still in flight: they settle
			 * when they end (a dropped one within a second or
			 * two: stream.c), and may give time back; then the
			 * wait starts, or the viewer goes on */
			if (MEDIA_INFLIGHT_RETRY > *retry_after)
				*retry_after = MEDIA_INFLIGHT_RETRY;
			grant = 0;
		} else if (left < grant) {
			grant = left;
		}
	}
	if (grant > 0)
		for (int i = 0; i < n; i++) {
			if (!qs[i]->start)
				qs[i]->start = now;
			qs[i]->used_ms += grant;
		}
	pthread_mutex_unlock(&t->lock);
	return grant;
}

void media_quota_settle(struct media_quotas *t, const struct media_viewer *v,
			int64_t reserved_ms, int64_t delivered_ms, int64_t now)
{
	char keys[2][QUOTA_KEY_MAX];
	int n;
	if (!t || v->allowance_ms <= 0)
		return;
	if (delivered_ms > reserved_ms)
		delivered_ms = reserved_ms;
	viewer_keys(v, keys, &n);
	pthread_mutex_lock(&t->lock);
	for (int i = 0; i < n; i++) {
		struct media_quota *q = quota_find(t, keys[i], now, false);
		if (!q)
			continue;	   /* evicted meanwhile */
		q->used_ms -= reserved_ms; /* then count what was delivered */
		if (q->used_ms < 0)
			q->used_ms = 0;
		media_quota_add(q, delivered_ms, v->allowance_ms, v->wait_s,
				now);
	}
	pthread_mutex_unlock(&t->lock);
}

void media_quota_state(struct media_quotas *t, const struct media_viewer *v,
		       int64_t now, int64_t *used_ms, int64_t *retry_after)
{
	char keys[2][QUOTA_KEY_MAX];
	int n;
	*used_ms = 0;
	*retry_after = 0;
	if (!t || v->allowance_ms <= 0)
		return;
	viewer_keys(v, keys, &n);
	pthread_mutex_lock(&t->lock);
	for (int i = 0; i < n; i++) {
		struct media_quota *q = quota_find(t, keys[i], now, false);
		if (!q)
			continue;
		int64_t ra;
		if (!media_quota_allows(q, v->allowance_ms, v->wait_s, now,
					&ra) &&
		    ra > *retry_after)
			*retry_after = ra;
		if (q->used_ms > *used_ms)
			*used_ms = q->used_ms;
	}
	pthread_mutex_unlock(&t->lock);
}
