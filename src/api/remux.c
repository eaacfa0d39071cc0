/*
 * remux.c — the remux queue (issue 16): fast-start copies of MP4/MOV
 * files whose index (moov) sits after their media data, so that /stream
 * starts at once; and the copy /stream serves.
 *
 * The queue is the database, as the probe's: a probed MP4/MOV blob that
 * a live link names and that has no remux row is still to look at
 * (repo_remux_pending).  One worker per node (so one remux at a time per
 * node) is kicked after each probe, looks at start and every minute, and
 * for each blob: walks its top-level atoms through the blob store
 * (mp4_layout: moov first, nothing to do; no moov, no copy); copies the
 * source to a local file when the backend has no descriptor (S3); runs
 * `partaged __remux` (core/remux.h) with the source on its stdin and an
 * unnamed temporary file (O_TMPFILE in DATA/tmp: a crash leaves nothing)
 * as its stdout, limits from the configuration (address space
 * media.probe_memory_bytes, CPU and wall clock
 * media.remux_timeout_seconds, output media_remux_max_out of the
 * source), stderr to /dev/null, killed at the deadline or when the server
 * stops; checks what it wrote (the size bound, moov first), fsyncs it,
 * stores it as a blob through the blob store API (fs or S3), and only
 * then records the row that names it (repo_remux_record: the gc protocol
 * of blob.h), so no half copy is ever served.  A copy committed whose row
 * is never written (a crash, the source reaped meanwhile) is a stray or
 * an unreferenced blob row, which gc collects.
 *
 * The outcome is recorded for every blob looked at (done, failed, not
 * needed), so a file that cannot be copied is not tried again; files
 * over media.remux_max_bytes get no row and are looked at again if the
 * limit is raised.
 */
#define _GNU_SOURCE
#include "app.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../core/remux.h"
#include "../util/banned.h"

extern char **environ;

#define REMUX_RESCAN_S 60
#define REMUX_POLL_MS 50
#define REMUX_BATCH 8
#define REMUX_COPY_BUF (1u << 20)

struct remux_queue {
	struct app *app;
	pthread_t th;
	bool started;
	pthread_mutex_t lock; /* stop, kicks, cond */
	pthread_cond_t cond;
	bool stop;
	unsigned kicks;
	/* blobs this node's worker failed on in a way that may pass (the
	 * database, the disk): skipped until the next rescan */
	char skip[REMUX_BATCH][BLOB_HEX_LEN + 1];
	unsigned nskip;
};

static bool stopping(struct remux_queue *q)
{
	pthread_mutex_lock(&q->lock);
	bool stop = q->stop;
	pthread_mutex_unlock(&q->lock);
	return stop;
}

static ssize_t reader_read(void *arg, void *buf, size_t n, uint64_t off)
{
	return blob_reader_pread(arg, buf, n, off);
}

static ssize_t fd_read(void *arg, void *buf, size_t n, uint64_t off)
{
	ssize_t k;
	do
		k = pread(*(int *)arg, buf, n, (off_t)off);
	while (k < 0 && errno == EINTR);
	return k;
}

/* An unnamed temporary file in the data directory's staging area (its
 * tmp/, else itself: the S3 backend has no tmp/). */
static int staging_file(struct app *app)
{
	char *tmp = xasprintf("%s/tmp", app->conf->data);
	int fd = open(tmp, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
	free(tmp);
	if (fd < 0)
		fd = open(app->conf->data, O_TMPFILE | O_RDWR | O_CLOEXEC,
			  0600);
	return fd;
}

/* A descriptor of the whole source for the child: the blob's own (fs), or
 * a local copy of its bytes.  -1 on failure. */
static int source_fd(struct app *app, struct blob_reader *rd)
{
	int own = blob_reader_fd(rd);
	if (own >= 0)
		return fcntl(own, F_DUPFD_CLOEXEC, 3);
	uint64_t size = blob_reader_size(rd);
	int fd = staging_file(app);
	if (fd < 0)
		return -1;
	char *buf = xmalloc(REMUX_COPY_BUF);
	for (uint64_t at = 0; at < size;) {
		size_t want = size - at < REMUX_COPY_BUF ? (size_t)(size - at)
							 : REMUX_COPY_BUF;
		ssize_t k = blob_reader_pread(rd, buf, want, at);
		if (k <= 0 || pwrite(fd, buf, (size_t)k, (off_t)at) != k) {
			free(buf);
			close(fd);
			return -1;
		}
		at += (uint64_t)k;
	}
	free(buf);
	return fd;
}

/* Run `partaged __remux` on in → out: 0 when it wrote a copy, else a
 * negative status (PT_EUNAVAIL: killed by the deadline or the stop). */
static int remux_run(struct remux_queue *q, int in, int out, uint64_t size)
{
	const struct pt_conf *c = q->app->conf;
	char as[64], cpu[64], fsz[64], *envp[4];
	pid_t pid;

	snprintf(as, sizeof(as), "PARTAGE_REMUX_AS_MB=%llu",
		 (unsigned long long)(c->media_probe_memory_bytes >> 20));
	snprintf(cpu, sizeof(cpu), "PARTAGE_REMUX_CPU_S=%llu",
		 (unsigned long long)c->media_remux_timeout_seconds);
	snprintf(fsz, sizeof(fsz), "PARTAGE_REMUX_FSIZE=%llu",
		 (unsigned long long)media_remux_max_out(size));
	envp[0] = as;
	envp[1] = cpu;
	envp[2] = fsz;
	envp[3] = NULL;
	int rc = media_spawn(MEDIA_REMUX_COMMAND, in, out, envp, &pid);
	if (rc) {
		pt_log("remux: cannot start the remux: %s", strerror(rc));
		return -rc;
	}
	uint64_t deadline = pt_mono_ns() +
			    c->media_remux_timeout_seconds * 1000000000ull;
	int status = 0;
	bool killed = false;
	for (;;) {
		pid_t w = waitpid(pid, &status, WNOHANG);
		if (w == pid)
			break;
		if (w < 0 && errno != EINTR) {
			status = -1;
			break;
		}
		if (!killed && (pt_mono_ns() >= deadline || stopping(q))) {
			kill(pid, SIGKILL);
			killed = true;
			continue; /* reap it */
		}
		struct timespec ts = { 0, REMUX_POLL_MS * 1000000L };
		nanosleep(&ts, NULL);
	}
	if (killed)
		return PT_EUNAVAIL;
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		return 0;
	if (WIFSIGNALED(status))
		pt_log("remux: the remux died (%s)",
		       strsignal(WTERMSIG(status)));
	return PT_EUNSUPPORTED;
}

static int ensure_cb(void *arg)
{
	return blob_writer_ensure(arg);
}

/* Store the child's output (out, checked) as a blob and record it. */
static int store_copy(struct remux_queue *q, struct db *db, const char *hex,
		      uint64_t size, int out)
{
	struct app *app = q->app;
	struct blob_writer *w;
	struct stat sb;
	char copy[BLOB_HEX_LEN + 1];
	bool existed;
	int err;

	/* trust nothing the child wrote: its size, its layout */
	if (fstat(out, &sb) < 0 || sb.st_size <= 0 ||
	    (uint64_t)sb.st_size > media_remux_max_out(size) ||
	    mp4_layout(fd_read, &out, (uint64_t)sb.st_size) != MP4_FASTSTART)
		return PT_EUNSUPPORTED;
	if (fsync(out) < 0)
		return -errno;
	if ((err = blob_writer_open(app->blobs, &w)))
		return err;
	blob_writer_expect(w, (uint64_t)sb.st_size);
	char *buf = xmalloc(REMUX_COPY_BUF);
	for (uint64_t at = 0; !err && at < (uint64_t)sb.st_size;) {
		ssize_t k = pread(out, buf, REMUX_COPY_BUF, (off_t)at);
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			err = k < 0 ? -errno : PT_EINTERNAL;
		else
			err = blob_writer_write(w, buf, (size_t)k);
		at += k > 0 ? (uint64_t)k : 0;
	}
	free(buf);
	if (!err)
		err = blob_writer_commit(w, copy, &existed);
	if (!err)
		err = repo_remux_record(db, hex, copy, (uint64_t)sb.st_size,
					pt_now(), ensure_cb, w);
	blob_writer_abort(w);
	return err;
}

/* Look at one blob and record the outcome (nothing when the cause may
 * pass: the caller skips it until the next rescan). */
static int remux_one(struct remux_queue *q, struct db *db, const char *hex,
		     uint64_t size)
{
	struct app *app = q->app;
	struct blob_reader *rd;
	int in = -1, out = -1, err;

	if ((err = blob_reader_open(app->blobs, hex, &rd)))
		return err;
	enum mp4_layout lay = mp4_layout(reader_read, rd, size);
	if (lay != MP4_MOOV_LAST) {
		blob_reader_close(rd);
		return repo_remux_mark(db, hex,
				       lay == MP4_FASTSTART ? REMUX_NOT_NEEDED
							    : REMUX_FAILED,
				       pt_now());
	}
	/* room for it all: the staging file, the blob writer's copy (fs),
	 * the source's local copy (a backend without a descriptor), and an
	 * eighth more; else it waits for the next rescan */
	struct statvfs vs;
	uint64_t need = 2 * media_remux_max_out(size) +
			(blob_reader_fd(rd) < 0 ? size : 0);
	if (statvfs(app->conf->data, &vs) == 0 &&
	    (uint64_t)vs.f_bavail * vs.f_frsize < need + need / 8) {
		blob_reader_close(rd);
		return PT_ENOSPACE;
	}
	errno = 0;
	in = source_fd(app, rd);
	blob_reader_close(rd);
	out = staging_file(app);
	if (in < 0 || out < 0) {
		err = errno ? -errno : PT_EINTERNAL;
		goto done;
	}
	uint64_t t0 = pt_mono_ns();
	err = remux_run(q, in, out, size);
	if (!err)
		err = store_copy(q, db, hex, size, out);
	if (err == PT_EUNSUPPORTED || (err == PT_EUNAVAIL && !stopping(q))) {
		pt_log("remux: %s: no fast-start copy (%s)", hex,
		       err == PT_EUNAVAIL ? "timed out" : "cannot be copied");
		err = repo_remux_mark(db, hex, REMUX_FAILED, pt_now());
	} else if (!err) {
		pt_log("remux: %s: fast-start copy in %llu ms", hex,
		       (unsigned long long)((pt_mono_ns() - t0) / 1000000));
	}
done:
	if (in >= 0)
		close(in);
	if (out >= 0)
		close(out);
	return err;
}

/* ---- the worker ---- */

struct pick {
	struct remux_queue *q;
	char hex[BLOB_HEX_LEN + 1];
	uint64_t size;
	bool found;
};

static int pick_cb(const char *hex, uint64_t size, void *arg)
{
	struct pick *p = arg;
	if (strlen(hex) != BLOB_HEX_LEN)
		return 0;
	for (unsigned i = 0; i < p->q->nskip; i++)
		if (strcmp(p->q->skip[i], hex) == 0)
			return 0;
	memcpy(p->hex, hex, sizeof(p->hex));
	p->size = size;
	p->found = true;
	return 1;
}

static void *worker(void *arg)
{
	struct remux_queue *q = arg;
	pt_thread_name("remux");
	pt_thread_background(); /* its children (probe, thumbnail, remux) too */
	pthread_mutex_lock(&q->lock);
	while (!q->stop) {
		unsigned seen = q->kicks;
		struct pick p = { .q = q };
		pthread_mutex_unlock(&q->lock);
		struct db *db = app_db(q->app);
		if (db &&
		    repo_remux_pending(db, q->app->conf->media_remux_max_bytes,
				       REMUX_BATCH * 2, pick_cb, &p) < 0)
			p.found = false;
		if (p.found) {
			int err = remux_one(q, db, p.hex, p.size);
			if (err && !stopping(q)) {
				pt_log("remux: %s: %s (tried again later)",
				       p.hex, pt_strerror(err));
				if (q->nskip < REMUX_BATCH)
					memcpy(q->skip[q->nskip++], p.hex,
					       sizeof(p.hex));
			}
		}
		pthread_mutex_lock(&q->lock);
		if (p.found || q->stop || q->kicks != seen)
			continue;
		q->nskip = 0; /* the next rescan tries them again */
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_sec += REMUX_RESCAN_S;
		pthread_cond_timedwait(&q->cond, &q->lock, &ts);
	}
	pthread_mutex_unlock(&q->lock);
	return NULL;
}

struct remux_queue *remux_start(struct app *app)
{
	if (!app->conf->media_remux_max_bytes ||
	    !app->conf->media_probe_workers)
		return NULL;
	struct remux_queue *q = xcalloc(1, sizeof(*q));
	q->app = app;
	pthread_mutex_init(&q->lock, NULL);
	pthread_cond_init(&q->cond, NULL);
	q->started = pthread_create(&q->th, NULL, worker, q) == 0;
	return q;
}

void remux_stop(struct remux_queue *q)
{
	if (!q)
		return;
	pthread_mutex_lock(&q->lock);
	q->stop = true;
	pthread_cond_broadcast(&q->cond);
	pthread_mutex_unlock(&q->lock);
	if (q->started)
		pthread_join(q->th, NULL);
	pthread_cond_destroy(&q->cond);
	pthread_mutex_destroy(&q->lock);
	free(q);
}

void remux_kick(struct app *app)
{
	struct remux_queue *q = app->remux;
	if (!q)
		return;
	pthread_mutex_lock(&q->lock);
	q->kicks++;
	pthread_cond_signal(&q->cond);
	pthread_mutex_unlock(&q->lock);
}

/* ---- /stream's source ---- */

bool api_remux_open(struct app *app, const struct link *l,
		    struct blob_reader **rd, char hex[BLOB_HEX_LEN + 1],
		    uint64_t *size, int64_t *made)
{
	struct db *db = app_db(app);
	enum remux_state st;
	uint64_t csize;
	int64_t cmade;
	*rd = NULL;
	if (!db || repo_remux_get(db, l->sha256, &st, hex, &csize, &cmade) ||
	    st != REMUX_DONE)
		return false; /* *size and *made untouched: the original's */
	int err = blob_reader_open(app->blobs, hex, rd);
	if (!err && blob_reader_size(*rd) == csize) {
		*size = csize;
		*made = cmade;
		return true;
	}
	/* the row names bytes that are not there: serve the original */
	pt_log("remux: the fast-start copy %s of %s cannot be opened: %s", hex,
	       l->sha256, err ? pt_strerror(err) : "its size differs");
	if (!err)
		blob_reader_close(*rd);
	*rd = NULL;
	return false;
}

const char *api_remux_state(struct app *app, const struct link *l,
			    const struct media_info *m)
{
	struct db *db = app_db(app);
	enum remux_state st;
	char hex[BLOB_HEX_LEN + 1];
	uint64_t size;
	int64_t made;
	if (strncmp(m->container, "mov,mp4", 7) != 0)
		return "not-needed"; /* only MP4/MOV keep an index apart */
	if (!db)
		return "pending";
	int err = repo_remux_get(db, l->sha256, &st, hex, &size, &made);
	if (err == PT_ENOTFOUND) {
		/* none yet: is it ever to come? */
		if (!app->conf->media_remux_max_bytes ||
		    !app->conf->media_probe_workers)
			return "off";
		return l->size > app->conf->media_remux_max_bytes ? "off"
								  : "pending";
	}
	if (err)
		return "pending";
	return st == REMUX_DONE	    ? "done"
	       : st == REMUX_FAILED ? "failed"
				    : "not-needed";
}
