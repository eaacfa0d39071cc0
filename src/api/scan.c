/*
 * scan.c — virus scanning with ClamAV's clamd ([scan] clamd): a thread
 * of its own scans, after their upload's response, the blobs no scan has
 * seen yet (the queue is the blobs table: repo_scan_pending, so a
 * restart loses nothing and another node may take over).  A clean blob is
 * marked clean; an infected one is taken down like a content takedown
 * (every live link, the hash blocklisted, an audit entry with the
 * signature as the reason: abuse_takedown_hash) and marked infected;
 * clamd's ERROR reply (a file over its StreamMaxLength...) or a file that
 * cannot be read marks it error.  While clamd cannot be reached, blobs
 * stay pending and the scanner tries again every RETRY_S seconds.
 */
#define _GNU_SOURCE
#include "handlers.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../http/reply.h"
#include "../util/clamd.h"
#include "../util/banned.h"

#define BATCH 16
#define IDLE_MS 500 /* between looks at the queue */
#define RETRY_S 5   /* after clamd could not be reached */

struct scanner {
	struct app *app;
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool stop;
	/* written by scan_stop: a scan in progress ends at once (clamd's
	 * timeouts are per step, minutes in all), its blob stays pending */
	int cancel[2];
};

static ssize_t read_cb(void *arg, void *buf, size_t n, uint64_t off)
{
	return blob_reader_pread(arg, buf, n, off);
}

/* One blob: 0 when its state is settled, or -1 when clamd could not be
 * reached (it stays pending). */
static int scan_one(struct app *app, int cancel_fd, const char *hex,
		    int64_t size)
{
	struct db *db = app_db(app);
	struct blob_reader *rd = NULL;
	struct clamd_result res;
	int err;

	if (!db)
		return -1;
	if ((err = blob_reader_open(app->blobs, hex, &rd))) {
		snprintf(res.what, sizeof(res.what), "cannot read: %s",
			 pt_strerror(err));
		res.verdict = CLAMD_ERROR;
	} else {
		err = clamd_scan(app->conf->scan_clamd,
				 (int)app->conf->scan_timeout_seconds * 1000,
				 cancel_fd, read_cb, rd, (uint64_t)size, &res);
		blob_reader_close(rd);
		/* unreachable: try again later; a failure mid-exchange (a
		 * timeout, a reset) is this file's error */
		if (err == -ECANCELED)
			return -1; /* stopping: it stays pending */
		if (err == -ENOENT || err == -ECONNREFUSED ||
		    err == -EHOSTUNREACH || err == -ENETUNREACH ||
		    err == -EACCES) {
			pt_log("scan: %s", res.what);
			return -1;
		}
	}
	if (res.verdict == CLAMD_INFECTED) {
		struct pt_pool *pool = pt_pool_new();
		char **affected;
		size_t na;
		int64_t taken = 0;
		char *why = pt_psprintf(pool, "malware: %s", res.what);
		err = abuse_takedown_hash(app, "clamd", hex, why, pool,
					  &affected, &na, &taken);
		pt_pool_free(pool);
		if (err) {
			pt_log("scan: cannot quarantine %s: %s", hex,
			       pt_strerror(err));
			return -1;
		}
		pt_log("scan: %s is infected (%s): %lld links taken down", hex,
		       res.what, (long long)taken);
		err = repo_scan_set(db, hex, REPO_SCAN_INFECTED, res.what);
	} else if (res.verdict == CLAMD_CLEAN) {
		err = repo_scan_set(db, hex, REPO_SCAN_CLEAN, "");
	} else {
		pt_log("scan: %s: %s", hex, res.what);
		err = repo_scan_set(db, hex, REPO_SCAN_ERROR, res.what);
	}
	if (err)
		pt_log("scan: cannot record the scan of %s: %s", hex,
		       pt_strerror(err));
	return 0;
}

/* One batch of the queue: how many were settled, or -1 (clamd down, or
 * stopping). */
static int scan_batch(struct scanner *s)
{
	struct app *app = s->app;
	struct db *db = app_db(app);
	struct pt_pool *pool = pt_pool_new();
	char *hex[BATCH];
	int64_t size[BATCH];
	size_t n = 0;
	int done = 0;

	if (db && !repo_scan_pending(db, pool, hex, size, BATCH, &n)) {
		for (size_t i = 0; i < n; i++) {
			if (__atomic_load_n(&s->stop, __ATOMIC_RELAXED) ||
			    scan_one(app, s->cancel[0], hex[i], size[i])) {
				done = -1;
				break;
			}
			done++;
		}
	}
	pt_pool_free(pool);
	return done;
}

static void *scan_thread(void *arg)
{
	struct scanner *s = arg;
	int wait_ms = 0;
	pt_thread_name("scan");
	pthread_mutex_lock(&s->lock);
	while (!s->stop) {
		if (wait_ms) {
			struct timespec ts;
			clock_gettime(CLOCK_REALTIME, &ts);
			ts.tv_sec += wait_ms / 1000;
			ts.tv_nsec += (long)(wait_ms % 1000) * 1000000;
			if (ts.tv_nsec >= 1000000000) {
				ts.tv_sec++;
				ts.tv_nsec -= 1000000000;
			}
			pthread_cond_timedwait(&s->cond, &s->lock, &ts);
			if (s->stop)
				break;
		}
		pthread_mutex_unlock(&s->lock);
		int done = scan_batch(s);
		wait_ms = done < 0 ? RETRY_S * 1000 : done == 0 ? IDLE_MS : 0;
		pthread_mutex_lock(&s->lock);
	}
	pthread_mutex_unlock(&s->lock);
	return NULL;
}

struct scanner *scan_start(struct app *app)
{
	if (!app->conf->scan_clamd || !*app->conf->scan_clamd)
		return NULL;
	struct scanner *s = xcalloc(1, sizeof(*s));
	s->app = app;
	if (pipe2(s->cancel, O_CLOEXEC | O_NONBLOCK) < 0) {
		pt_log("scan: cannot start: %s", strerror(errno));
		free(s);
		return NULL;
	}
	pthread_mutex_init(&s->lock, NULL);
	pthread_cond_init(&s->cond, NULL);
	if (pthread_create(&s->thread, NULL, scan_thread, s) != 0) {
		pt_log("scan: cannot start the scanner thread");
		close(s->cancel[0]);
		close(s->cancel[1]);
		pthread_cond_destroy(&s->cond);
		pthread_mutex_destroy(&s->lock);
		free(s);
		return NULL;
	}
	pt_log("scan: scanning new files with clamd at %s",
	       app->conf->scan_clamd);
	return s;
}

void scan_stop(struct scanner *s)
{
	if (!s)
		return;
	pthread_mutex_lock(&s->lock);
	__atomic_store_n(&s->stop, true, __ATOMIC_RELAXED);
	pthread_cond_signal(&s->cond);
	pthread_mutex_unlock(&s->lock);
	if (write(s->cancel[1], "", 1) < 0)
		pt_log("scan: cannot cancel the scan in progress: %s",
		       strerror(errno));
	pthread_join(s->thread, NULL);
	close(s->cancel[0]);
	close(s->cancel[1]);
	pthread_cond_destroy(&s->cond);
	pthread_mutex_destroy(&s->lock);
	free(s);
}

bool scan_download_or_reply(struct pt_req *r, const struct link *l, req_res *rc)
{
	struct app *app = r->ctx;
	if (app->conf->scan_pending_downloads || !app->conf->scan_clamd ||
	    !*app->conf->scan_clamd || l->scan_state != REPO_SCAN_PENDING)
		return false;
	req_retry_after(r, 5);
	*rc = reply_error(r, PT_ECONFLICT, "scan",
			  "conflict: '%s' is being scanned for viruses; try "
			  "again in a few seconds",
			  l->id);
	return true;
}
