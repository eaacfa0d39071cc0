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
/* Bounds of one pass (the rest waits for the next one): links expired,
 * EXPIRY_BATCH per transaction; links no longer live looked at; blob
 * rows swept; each REPO_BLOBS_MAX a statement. */
#define EXPIRE_BATCHES 100  /* 100 000 links */
#define GONE_BATCHES 1000   /* 100 000 links */
#define SWEEP_BATCHES 1000  /* 100 000 blob rows */
/* links no longer live are looked at again for this long after the walk
 * reached them: nodes' clocks differ (changed is the writer's time) */
#define GONE_OVERLAP 600
/* shared viewing-quota rows outlive any window (stream_minutes and
 * stream_wait_minutes are at most a week each) */
#define QUOTA_ROW_TTL (15 * 86400)

struct stray {
	struct app *app;
	struct db *db;
	int64_t now;
	bool dry_run;
	int64_t n;
	/* strays past their grace, checked against the rows in batches */
	char hex[REPO_BLOBS_MAX][BLOB_HEX_LEN + 1];
	uint64_t size[REPO_BLOBS_MAX];
	size_t pending;
};

static int blob_remove_cb(void *arg, const char *hex)
{
	return blob_remove(arg, hex);
}

/* A blob file with no row: an upload that died between its commit and
 * its row, or one that is there right now.  It goes through the same
 * protocol as any blob: adopted with a row, then reaped under that row's
 * lock, so an upload racing it either commits its link first (and the
 * blob stays) or waits for the lock and puts the bytes back.  The store's
 * listing is checked against the rows REPO_BLOBS_MAX files a statement. */
static void stray_flush(struct stray *s)
{
	const char *hex[REPO_BLOBS_MAX];
	bool known[REPO_BLOBS_MAX];
	size_t n = s->pending;

	s->pending = 0;
	for (size_t i = 0; i < n; i++)
		hex[i] = s->hex[i];
	if (!n || repo_blobs_known(s->db, hex, n, known))
		return;
	for (size_t i = 0; i < n; i++) {
		bool reaped = false;
		if (known[i])
			continue;
		if (s->dry_run) {
			s->n++;
			continue;
		}
		if (repo_blob_add(s->db, hex[i], s->size[i], s->now) ||
		    repo_blob_reap(s->db, hex[i], blob_remove_cb,
				   s->app->blobs, &reaped))
			continue;
		if (reaped)
			s->n++;
	}
}

static int stray_cb(const char *hex, uint64_t size, int64_t mtime, void *arg)
{
	struct stray *s = arg;
	if (s->now - mtime < STRAY_GRACE)
		return 0;
	snprintf(s->hex[s->pending], sizeof(s->hex[0]), "%s", hex);
	s->size[s->pending++] = size;
	if (s->pending == REPO_BLOBS_MAX)
		stray_flush(s);
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

/* Of these candidates, the blobs that nothing live names (one
 * statement), each reaped under its row lock. */
static int reap_among(struct app *app, struct db *db, struct gc_stats *st,
		      char **hex, size_t n)
{
	bool unref[REPO_BLOBS_MAX];
	int err = repo_blobs_unreferenced_among(db, st->now,
						(const char *const *)hex, n,
						unref);
	for (size_t i = 0; !err && i < n; i++) {
		uint64_t size = 0;
		bool reaped = false;
		if (!unref[i])
			continue;
		/* its fast-start copy (remux.c), kept by the row that the
		 * reap deletes: reaped right after it */
		enum remux_state rs = REMUX_PENDING;
		char copy[BLOB_HEX_LEN + 1];
		uint64_t csize = 0;
		int64_t made;
		if (repo_remux_get(db, hex[i], &rs, copy, &csize, &made))
			rs = REMUX_PENDING;
		blob_stat(app->blobs, hex[i], &size);
		err = repo_blob_reap(db, hex[i], blob_remove_cb, app->blobs,
				     &reaped);
		if (reaped) {
			st->reaped_blobs++;
			st->reaped_bytes += (int64_t)size;
		}
		if (!err && reaped && rs == REMUX_DONE) {
			err = repo_blob_reap(db, copy, blob_remove_cb,
					     app->blobs, &reaped);
			if (reaped) {
				st->reaped_blobs++;
				st->reaped_bytes += (int64_t)csize;
			}
		}
	}
	return err;
}

static int expired_cb(const struct link *l, void *arg)
{
	struct app *app = arg;
	hooks_emit_link(app, app_db(app), "expired", l, NULL);
	return 0;
}

/*
 * Blobs that nothing live names, found by what changed, not by looking at
 * every blob: the blobs of links that stopped being live since the last
 * pass (index links_gone, keyset in app->gc), and of takedowns whose
 * quarantine ended since; then a bounded slice of every blob row (the
 * reconcile sweep, from where the last pass stopped, wrapping around),
 * which catches what no change points at.  Each step is a few bounded
 * batches per pass, REPO_BLOBS_MAX hashes a statement.
 */
static int reap(struct app *app, struct db *db, struct gc_stats *st)
{
	struct gc_cursor *c = &app->gc;
	char *hex[REPO_BLOBS_MAX];
	size_t n = 0;
	int err = 0;

	for (int b = 0; !err && b < GONE_BATCHES; b++) {
		struct pt_pool *pool = pt_pool_new();
		err = repo_links_gone_after(db, pool, &c->gone_changed,
					    c->gone_id, hex, REPO_BLOBS_MAX,
					    &n);
		if (!err && n)
			err = reap_among(app, db, st, hex, n);
		pt_pool_free(pool);
		if (!err && n < REPO_BLOBS_MAX) {
			/* the end: look at the last minutes again next time */
			c->gone_changed = c->gone_changed > GONE_OVERLAP
						  ? c->gone_changed - GONE_OVERLAP
						  : 0;
			c->gone_id[0] = '\0';
			break;
		}
	}
	if (!err) {
		struct pt_pool *pool = pt_pool_new();
		err = repo_quarantines_ended(db, pool, c->quarantine_since,
					     st->now, hex, REPO_BLOBS_MAX, &n);
		if (!err && n)
			err = reap_among(app, db, st, hex, n);
		pt_pool_free(pool);
		if (!err)
			c->quarantine_since = st->now;
	}
	for (int b = 0; !err && b < SWEEP_BATCHES; b++) {
		struct pt_pool *pool = pt_pool_new();
		err = repo_blobs_after(db, pool, c->sweep, hex, REPO_BLOBS_MAX,
				       &n);
		if (!err && n) {
			snprintf(c->sweep, sizeof(c->sweep), "%s", hex[n - 1]);
			err = reap_among(app, db, st, hex, n);
		}
		pt_pool_free(pool);
		if (!err && n < REPO_BLOBS_MAX) {
			c->sweep[0] = '\0'; /* around again next pass */
			break;
		}
	}
	return err;
}

/* Expiry in bounded batches, a transaction each (repo_links_expire_batch):
 * at most EXPIRE_BATCHES per pass.  On a full disk a batch commits in the
 * reserve (reserve.h): a first try that found no room released it, and
 * runs once more. */
static int expire(struct db *db, int64_t now, const int64_t days[3],
		  int64_t *expired)
{
	struct expiry_cursor cur = { .rule = 0, .act = INT64_MIN };

	for (int b = 0; b < EXPIRE_BATCHES && cur.rule < EXPIRY_RULES; b++) {
		for (int attempt = 0;; attempt++) {
			struct expiry_cursor was = cur;
			int64_t n = 0;
			int err;
			if ((err = db_begin(db)))
				return err;
			err = repo_links_expire_batch(db, now, days,
						      EXPIRY_BATCH, &cur, &n);
			if (!err && !(err = db_commit(db))) {
				*expired += n;
				break;
			}
			db_rollback(db);
			cur = was;
			if (attempt || err != -ENOSPC || !db_retryable(db))
				return err;
		}
	}
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
	if (dry_run) {
		/* the whole expiry in one transaction, taken back below */
		if ((err = db_begin(db)))
			return err;
		err = repo_links_expire(db, now, days, &st->expired_links);
		if (err) {
			db_rollback(db);
			return err;
		}
	} else if ((err = expire(db, now, days, &st->expired_links))) {
		return err;
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
		repo_quota_expire(db, now - QUOTA_ROW_TTL); /* quota.c */
		err = reap(app, db, st);
		if (err)
			return err;
	}

	/* object stores: multipart uploads and temp objects a dead node left
	 * (the backend only takes those older than a day); on fs the same
	 * sweep runs at start-up only, as it cannot tell a live temp file */
	if (!dry_run && strcmp(app->conf->storage_backend, "fs") != 0)
		blob_store_cleanup(app->blobs);

	struct stray *s = xcalloc(1, sizeof(*s));
	*s = (struct stray){ .app = app, .db = db, .now = now,
			     .dry_run = dry_run };
	blob_list(app->blobs, stray_cb, s);
	stray_flush(s);
	blob_partial_list(app->blobs, orphan_cb, s);
	st->stray_removed = s->n;
	free(s);
	if (!dry_run)
		metrics_gc(app->metrics, st);
	return 0;
}
