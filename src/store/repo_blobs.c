/*
 * repo_blobs.c — the blob rows: one for every committed blob the
 * metadata knows of, named by its SHA-256.  A link's transaction pins the
 * row (repo_blob_pin) and gc reaps it under the same row lock, so a blob
 * is never deleted while a link to it is being made (the protocol in
 * blob.h and docs/internals.md).  Also each blob's CRC-32, which zip
 * downloads need before sending, and fsck's queries.
 */
#include "repo_int.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>

#include "../util/pt.h"
#include "../util/banned.h"

int repo_blob_add(struct db *db, const char *hex, uint64_t size, int64_t now)
{
	int64_t rc =
		db_run(db,
		       "INSERT INTO blobs(sha256, size, created) "
		       "VALUES ($1, $2, $3) ON CONFLICT (sha256) DO NOTHING",
		       "tii", hex, (int64_t)size, (int64_t)now);
	return rc < 0 ? (int)rc : 0;
}

/* Lock the blob's row (creating it if new): the upsert takes the row's
 * write lock in both engines until the transaction ends, which is what
 * serialises this with repo_blob_reap (the gc protocol in blob.h). */
int repo_blob_pin(struct db *db, const struct link *l)
{
	/* a CRC-32 learnt now fills one still unknown (-1) */
	int64_t rc = db_run(db,
			    "INSERT INTO blobs(sha256, size, created, crc32) "
			    "VALUES ($1, $2, $3, $4) ON CONFLICT (sha256) DO "
			    "UPDATE SET size = excluded.size, crc32 = CASE "
			    "WHEN blobs.crc32 < 0 THEN excluded.crc32 ELSE "
			    "blobs.crc32 END",
			    "tiii", l->sha256, (int64_t)l->size, l->created,
			    l->has_crc ? (int64_t)l->crc32 : INT64_C(-1));
	return rc < 0 ? (int)rc : 0;
}

/* A source's derived blob (its thumbnail) is reaped after it (depth 1:
 * a derived blob is never a source, repo_thumbs.c). */
static int blob_reap(struct db *db, const char *hex,
		     int (*remove)(void *arg, const char *hex), void *arg,
		     bool *reaped, int depth);

int repo_blob_reap(struct db *db, const char *hex,
		   int (*remove)(void *arg, const char *hex), void *arg,
		   bool *reaped)
{
	return blob_reap(db, hex, remove, arg, reaped, 0);
}

static int blob_reap(struct db *db, const char *hex,
		     int (*remove)(void *arg, const char *hex), void *arg,
		     bool *reaped, int depth)
{
	int64_t live = -1, rows;
	char derived[BLOB_HEX_LEN + 1] = "";
	int err;

	*reaped = false;
	if ((err = db_begin(db)))
		return err;
	/* lock the row first (a no-op update), then look for links in a new
	 * statement, which sees every upload that committed before the lock */
	rows = db_run(db, "UPDATE blobs SET size = size WHERE sha256 = $1", "t",
		      hex);
	if (rows < 0) {
		err = (int)rows;
		goto fail;
	}
	if (rows != 1) {
		db_rollback(db);
		return 0; /* gone already */
	}
	live = repo_blob_live_links(db, hex);
	if (live == 0) /* a fast-start copy lives as long as its source */
		live = repo_remux_refs(db, hex);
	if (live == 0) /* a thumbnail: kept while its thumbs row names it */
		live = repo_thumb_refs(db, hex);
	if (live != 0) {
		db_rollback(db);
		return live < 0 ? PT_EINTERNAL : 0;
	}
	rows = db_run(db, "DELETE FROM blobs WHERE sha256 = $1", "t", hex);
	if (rows >= 0) /* its fast-start copy is left to gc */
		rows = db_run(db, "DELETE FROM remux WHERE sha256 = $1", "t",
			      hex);
	if (rows < 0) {
		err = (int)rows;
		goto fail;
	}
	/* its thumbnail's row goes with it; the derived blob after it */
	if ((err = repo_thumb_drop(db, hex, derived)))
		goto fail;
	/* the bytes go while the row is still locked: a crash between this
	 * and the commit leaves a row without bytes and no live link, which
	 * the next pass (or fsck --repair) forgets */
	if ((err = remove(arg, hex)) && err != -ENOENT)
		goto fail;
	if ((err = db_commit(db)))
		return err;
	*reaped = true;
	if (*derived && depth == 0) {
		bool gone; /* a failure leaves it to gc's sweep of rows */
		if (blob_reap(db, derived, remove, arg, &gone, depth + 1))
			pt_log("gc: cannot reap the thumbnail %s of %s",
			       derived, hex);
	}
	return 0;
fail:
	db_rollback(db);
	return err;
}

int repo_blobs_unreferenced_count(struct db *db, int64_t now, int64_t *n,
				  int64_t *bytes)
{
	struct db_stmt *st;
	int err = db_get(db,
			 "SELECT COUNT(*), COALESCE(SUM(b.size), 0) FROM "
			 "blobs b WHERE NOT EXISTS (SELECT 1 FROM links l "
			 "WHERE l.sha256 = b.sha256 AND l.state = 0) AND NOT "
			 "EXISTS (SELECT 1 FROM links l JOIN takedowns t ON "
			 "t.id = l.takedown_id WHERE l.sha256 = b.sha256 AND "
			 "l.state = 3 AND t.state = 0 AND t.purge_after > $1) "
			 "AND NOT EXISTS (SELECT 1 FROM remux r WHERE "
			 "r.copy_sha256 = b.sha256) "
			 "AND NOT EXISTS (SELECT 1 FROM thumbs th WHERE "
			 "th.thumb = b.sha256)",
			 &st, "i", now);
	*n = *bytes = 0;
	if (err)
		return err;
	*n = db_col_int(st, 0);
	*bytes = db_col_int(st, 1);
	db_done(st);
	return 0;
}

int repo_blob_each(struct db *db,
		   int (*cb)(const char *hex, uint64_t size, void *arg),
		   void *arg)
{
	struct db_stmt *st;
	int err = db_query(db, "SELECT sha256, size FROM blobs ORDER BY sha256",
			   &st, "");
	if (err)
		return err;
	while ((err = db_step(st)) == DB_ROW) {
		char hex[BLOB_HEX_LEN + 1];
		copy_fixed(hex, sizeof(hex), db_col_text(st, 0));
		if ((err = cb(hex, (uint64_t)db_col_int(st, 1), arg)))
			break;
	}
	db_done(st);
	return err < 0 ? err : 0;
}

bool repo_blob_known(struct db *db, const char *hex)
{
	struct db_stmt *st;
	if (db_get(db, "SELECT 1 FROM blobs WHERE sha256 = $1", &st, "t", hex))
		return false;
	db_done(st);
	return true;
}

int64_t repo_blob_live_links(struct db *db, const char *hex)
{
	struct db_stmt *st;
	if (db_get(db,
		   "SELECT COUNT(*) FROM links WHERE sha256 = $1 AND "
		   "state = 0",
		   &st, "t", hex))
		return -1;
	int64_t n = db_col_int(st, 0);
	db_done(st);
	return n;
}

int repo_blob_forget(struct db *db, const char *hex)
{
	int64_t rc = db_run(db,
			    "DELETE FROM blobs WHERE sha256 = $1 AND NOT EXISTS "
			    "(SELECT 1 FROM links WHERE links.sha256 = $1 "
			    "AND links.state = 0)",
			    "t", hex);
	return rc < 0 ? (int)rc : 0;
}

int repo_blob_links_disable(struct db *db, const char *hex, const char *reason,
			    int64_t now)
{
	int64_t rc = db_run(db,
			    "UPDATE links SET state = 3, reason = $2, "
			    "changed = $3 WHERE sha256 = $1 AND state = 0",
			    "tti", hex, reason, (int64_t)now);
	db_changed(db);
	return rc < 0 ? (int)rc : 0;
}

int repo_blob_crc(struct db *db, const char *hex, int64_t *crc)
{
	struct db_stmt *st;
	int err = db_get(db, "SELECT crc32 FROM blobs WHERE sha256 = $1", &st,
			 "t", hex);
	*crc = -1;
	if (err)
		return err;
	*crc = db_col_int(st, 0);
	db_done(st);
	return 0;
}

int repo_blob_set_crc(struct db *db, const char *hex, uint32_t crc)
{
	int64_t rc = db_run(db, "UPDATE blobs SET crc32 = $2 WHERE sha256 = $1",
			    "ti", hex, (int64_t)crc);
	return rc < 0 ? (int)rc : 0;
}

/* ---- gc's blob pass in bounded batches (repo.h: REPO_BLOBS_MAX) ----
 * Two statements for up to REPO_BLOBS_MAX hashes, built once, cached like
 * the others by their (static) text; unused parameters are bound to "". */
static char known_sql[REPO_BLOBS_MAX * 6 + 100];
static char unref_sql[REPO_BLOBS_MAX * 6 + 700];
static pthread_once_t blobs_once = PTHREAD_ONCE_INIT;

static size_t in_list(char *p, size_t cap, int first)
{
	size_t n = 0;
	for (int i = 0; i < REPO_BLOBS_MAX; i++)
		n += (size_t)snprintf(p + n, cap - n, "%s$%d", i ? "," : "",
				      first + i);
	n += (size_t)snprintf(p + n, cap - n, ")");
	return n;
}

static void blobs_sql_init(void)
{
	size_t n = (size_t)snprintf(known_sql, sizeof(known_sql),
				    "SELECT sha256 FROM blobs WHERE sha256 "
				    "IN (");
	in_list(known_sql + n, sizeof(known_sql) - n, 1);
	/* $1 now; content taken down stays through its quarantine */
	n = (size_t)snprintf(unref_sql, sizeof(unref_sql),
			     "SELECT b.sha256 FROM blobs b WHERE NOT EXISTS "
			     "(SELECT 1 FROM links l WHERE l.sha256 = "
			     "b.sha256 AND l.state = 0) AND NOT EXISTS (SELECT "
			     "1 FROM links l JOIN takedowns t ON t.id = "
			     "l.takedown_id WHERE l.sha256 = b.sha256 AND "
			     "l.state = 3 AND t.state = 0 AND t.purge_after > "
			     "$1) AND NOT EXISTS (SELECT 1 FROM remux r WHERE "
			     "r.copy_sha256 = b.sha256) AND NOT EXISTS (SELECT 1 "
			     "FROM thumbs th WHERE th.thumb = b.sha256) AND "
			     "b.sha256 IN (");
	in_list(unref_sql + n, sizeof(unref_sql) - n, 2);
}

/* Run sql on hex[0..n) (from parameter `first` on, after `now` when
 * first is 2); flag[i] = whether hex[i] came back. */
static int blobs_in(struct db *db, const char *sql, int first, int64_t now,
		    const char *const *hex, size_t n, bool *flag)
{
	struct db_stmt *st;
	int err;

	PT_ASSERT(n <= REPO_BLOBS_MAX);
	if ((err = db_prepare(db, sql, &st)))
		return err;
	if (first == 2)
		db_bind_int(st, 1, now);
	for (int i = 0; i < REPO_BLOBS_MAX; i++)
		db_bind_text(st, first + i, (size_t)i < n ? hex[i] : "");
	for (size_t i = 0; i < n; i++)
		flag[i] = false;
	while ((err = db_step(st)) == DB_ROW) {
		const char *h = db_col_text(st, 0);
		for (size_t i = 0; i < n; i++)
			if (strcmp(hex[i], h) == 0)
				flag[i] = true; /* duplicates all match */
	}
	db_done(st);
	return err < 0 ? err : 0;
}

int repo_blobs_known(struct db *db, const char *const *hex, size_t n,
		     bool *known)
{
	pthread_once(&blobs_once, blobs_sql_init);
	return blobs_in(db, known_sql, 1, 0, hex, n, known);
}

int repo_blobs_unreferenced_among(struct db *db, int64_t now,
				  const char *const *hex, size_t n,
				  bool *unreferenced)
{
	pthread_once(&blobs_once, blobs_sql_init);
	return blobs_in(db, unref_sql, 2, now, hex, n, unreferenced);
}

int repo_rows_text(int err, struct db_stmt *st, struct pt_pool *pool,
		   char **out, size_t max, size_t *n)
{
	*n = 0;
	if (err)
		return err;
	while (*n < max && (err = db_step(st)) == DB_ROW)
		out[(*n)++] = pt_pstrdup(pool, db_col_text(st, 0));
	db_done(st);
	return err < 0 ? err : 0;
}

int repo_blobs_after(struct db *db, struct pt_pool *pool, const char *after,
		     char **out, size_t max, size_t *n)
{
	struct db_stmt *st = NULL;
	int err = db_query(db,
			   "SELECT sha256 FROM blobs WHERE sha256 > $1 ORDER "
			   "BY sha256 LIMIT $2",
			   &st, "ti", after, (int64_t)max);
	return repo_rows_text(err, st, pool, out, max, n);
}

int repo_links_gone_after(struct db *db, struct pt_pool *pool, int64_t *changed,
			  char *id, char **out, size_t max, size_t *n)
{
	struct db_stmt *st;
	int err = db_query(db,
			   "SELECT changed, id, sha256 FROM links WHERE state "
			   "<> 0 AND (changed, id) > ($1, $2) ORDER BY "
			   "changed, id LIMIT $3",
			   &st, "iti", *changed, id, (int64_t)max);
	*n = 0;
	if (err)
		return err;
	while (*n < max && (err = db_step(st)) == DB_ROW) {
		*changed = db_col_int(st, 0);
		copy_fixed(id, ID_LEN + 1, db_col_text(st, 1));
		out[(*n)++] = pt_pstrdup(pool, db_col_text(st, 2));
	}
	db_done(st);
	return err < 0 ? err : 0;
}

int repo_quarantines_ended(struct db *db, struct pt_pool *pool, int64_t since,
			   int64_t now, char **out, size_t max, size_t *n)
{
	struct db_stmt *st = NULL;
	int err = db_query(db,
			   "SELECT DISTINCT l.sha256 FROM takedowns t JOIN "
			   "links l ON l.takedown_id = t.id WHERE "
			   "t.purge_after > $1 AND t.purge_after <= $2",
			   &st, "ii", since, now);
	return repo_rows_text(err, st, pool, out, max, n);
}
