/*
 * gc.c — expiry and garbage collection: the tier retention rules, the
 * uploaders' limits, abandoned resumable uploads, and the blobs no live
 * link names any more.  Run by the maintenance thread every
 * gc_interval_seconds and by `partaged admin gc [--now T] [--dry-run]`.
 *
 * Deleting bytes follows the protocol of blob.h: a blob goes only inside a
 * transaction that holds its row's lock and sees no live link, and an
 * upload that deduplicates onto it takes the same lock and puts the bytes
 * back from its own open source if they were removed just before; so a
 * file that a client was told about is never lost to a race.  A crash at
 * any point leaves a state the next pass completes (docs/internals.md).
 *
 * On a full disk gc is what gives space back, so it must be able to
 * commit: the SQLite driver releases the data directory's reserve for it
 * (reserve.h), and the expiry transaction runs again once if its first
 * try found the disk full.
 */
#define _GNU_SOURCE
#include "app.h"
#include "handlers.h"

#include <errno.h>
#include <string.h>

#include "../util/banned.h"

#define BATCH 512
/* leave young strays to fsck's report for a while: they are evidence */
#define STRAY_GRACE 3600

struct stray {
	struct app *app;
	struct db *db;
	int64_t now;
	bool dry_run;
	int64_t n;
};

static int blob_remove_cb(void *arg, const char *hex)
{
	return blob_remove(arg, hex);
}

/* A blob file with no row: an upload that died between its commit and
 * its row, or one that is there right now.  It goes through the same
 * protocol as any blob: adopted with a row, then reaped under that row's
 * lock, so an upload racing it either commits its link first (and the
 * blob stays) or waits for the lock and puts the bytes back. */
static int stray_cb(const char *hex, uint64_t size, int64_t mtime, void *arg)
{
	struct stray *s = arg;
	bool reaped = false;
	if (s->now - mtime < STRAY_GRACE || repo_blob_known(s->db, hex))
		return 0;
	if (s->dry_run) {
		s->n++;
		return 0;
	}
	if (repo_blob_add(s->db, hex, size, s->now) ||
	    repo_blob_reap(s->db, hex, blob_remove_cb, s->app->blobs, &reaped))
		return 0;
	if (reaped)
		s->n++;
	return 0;
}

/* Partials whose upload is not open: left by a crash between an upload's
 * end (done, terminated, expired) and the removal of its bytes, or
 * between creating a partial and its row (hence the grace). */
static int orphan_cb(const char *uid, int64_t mtime, void *arg)
{
	struct stray *s = arg;
	struct upload_row u;
	struct pt_pool *pool;
	if (s->now - mtime < STRAY_GRACE)
		return 0;
	pool = pt_pool_new();
	int err = repo_upload_get(s->db, pool, uid, &u);
	if (err == PT_ENOTFOUND || (!err && u.state != UPLOAD_OPEN)) {
		if (s->dry_run || !blob_partial_remove(s->app->blobs, uid))
			s->n++;
	}
	pt_pool_free(pool);
	return 0;
}

/* Blobs that nothing live names: in batches, each under its row lock. */
static int reap(struct app *app, struct db *db, struct gc_stats *st)
{
	int err = 0;
	for (int round = 0; round < 1000; round++) {
		char *hex[BATCH];
		size_t n = 0;
		struct pt_pool *pool = pt_pool_new();
		err = repo_blobs_unreferenced(db, pool, st->now, hex, BATCH, &n);
		size_t done = 0;
		for (size_t i = 0; !err && i < n; i++) {
			uint64_t size = 0;
			bool reaped = false;
			blob_stat(app->blobs, hex[i], &size);
			err = repo_blob_reap(db, hex[i], blob_remove_cb,
					     app->blobs, &reaped);
			if (reaped) {
				st->reaped_blobs++;
				st->reaped_bytes += (int64_t)size;
				done++;
			}
		}
		pt_pool_free(pool);
		/* a batch that reaped nothing will not change: stop */
		if (err || n < BATCH || done == 0)
			break;
	}
	return err;
}

static int expired_cb(const struct link *l, void *arg)
{
	struct app *app = arg;
	hooks_emit_link(app, app_db(app), "expired", l, NULL);
	return 0;
}

int gc_run(struct app *app, int64_t now, bool dry_run, struct gc_stats *st)
{
	struct db *db = app_db(app);
	struct pt_pool *pool = NULL;
	int64_t days[3];
	int err;

	memset(st, 0, sizeof(*st));
	st->now = now;
	if (!db)
		return PT_EUNAVAIL;
	if (app->counts && !dry_run)
		counts_flush(app->counts, db); /* last downloads count */
	for (int t = 0; t < PT_TIER_COUNT; t++)
		days[t] = (int64_t)app->conf->tier[t].retention_days;
	/* on a full disk the expiry commits in the reserve (reserve.h): a
	 * first try that found no room released it, and runs once more */
	for (int attempt = 0;; attempt++) {
		if ((err = db_begin(db)))
			return err;
		err = repo_links_expire(db, now, days, &st->expired_links);
		if (!err && (dry_run || !(err = db_commit(db))))
			break;
		db_rollback(db);
		if (attempt || err != -ENOSPC || !db_retryable(db))
			return err;
		st->expired_links = 0;
	}
	if (!dry_run && st->expired_links > 0) {
		/* their "expired" webhook events */
		struct pt_pool *ep = pt_pool_new();
		repo_links_expired_each(db, ep, now, expired_cb, app);
		pt_pool_free(ep);
	}
	if (dry_run) {
		/* the same work, taken back: inside the transaction the
		 * expired links are gone, so the blobs they free show */
		pool = pt_pool_new();
		char *uids[BATCH];
		size_t n = 0;
		repo_blobs_unreferenced_count(db, now, &st->reaped_blobs,
					      &st->reaped_bytes);
		repo_uploads_expired(db, pool, now, uids, BATCH, &n);
		st->expired_uploads = (int64_t)n;
		pt_pool_free(pool);
		db_rollback(db);
	} else {
		st->expired_uploads = tus_expire(app, now);
		repo_login_failures_expire(db, now - LOGIN_WINDOW);
		err = reap(app, db, st);
		if (err)
			return err;
	}

	/* object stores: multipart uploads and temp objects a dead node left
	 * (the backend only takes those older than a day); on fs the same
	 * sweep runs at start-up only, as it cannot tell a live temp file */
	if (!dry_run && strcmp(app->conf->storage_backend, "fs") != 0)
		blob_store_cleanup(app->blobs);

	struct stray s = { app, db, now, dry_run, 0 };
	blob_list(app->blobs, stray_cb, &s);
	blob_partial_list(app->blobs, orphan_cb, &s);
	st->stray_removed = s.n;
	if (!dry_run)
		metrics_gc(app->metrics, st);
	return 0;
}
