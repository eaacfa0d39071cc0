/*
 * repo_quota.c — viewing quotas in the database (table stream_quota,
 * issue 16): a viewer's window shared by every node of one PostgreSQL, so
 * ranges of one player that reach two nodes draw on one allowance.  Each
 * change is one short transaction: the rows are locked by an upsert
 * (RETURNING the window), changed in C (the rules of core/media.h) and
 * written back.
 */
#include "repo_int.h"

#include "../util/pt.h"
#include "../util/banned.h"

int repo_quota_update(struct db *db, const char *const *keys, int n,
		      int64_t now,
		      void (*fn)(struct media_quota *q, int n, void *arg),
		      void *arg)
{
	struct media_quota q[2];
	int order[2] = { 0, 1 };
	int err;

	if (n < 1 || n > 2)
		return PT_EINTERNAL;
	if (n == 2 && strcmp(keys[0], keys[1]) > 0) {
		order[0] = 1;
		order[1] = 0;
	}
	if ((err = db_begin(db)))
		return err;
	for (int k = 0; k < n; k++) {
		int i = order[k];
		struct db_stmt *st;
		/* the upsert takes the row's lock until the commit */
		err = db_get(db,
			     "INSERT INTO stream_quota(viewer, touched) VALUES "
			     "($1, $2) ON CONFLICT (viewer) DO UPDATE SET "
			     "touched = excluded.touched RETURNING used_ms, "
			     "start, blocked_until",
			     &st, "ti", keys[i], now);
		if (err)
			goto fail;
		q[i].used_ms = db_col_int(st, 0);
		q[i].start = db_col_int(st, 1);
		q[i].blocked_until = db_col_int(st, 2);
		db_done(st);
	}
	fn(q, n, arg);
	for (int i = 0; i < n; i++) {
		int64_t rows = db_run(db,
				      "UPDATE stream_quota SET used_ms = $2, "
				      "start = $3, blocked_until = $4 WHERE "
				      "viewer = $1",
				      "tiii", keys[i], q[i].used_ms, q[i].start,
				      q[i].blocked_until);
		if (rows < 0) {
			err = (int)rows;
			goto fail;
		}
	}
	return db_commit(db);
fail:
	db_rollback(db);
	return err;
}

int repo_quota_get(struct db *db, const char *const *keys, int n,
		   struct media_quota *q)
{
	for (int i = 0; i < n; i++) {
		struct db_stmt *st;
		memset(&q[i], 0, sizeof(q[i]));
		int err = db_get(db,
				 "SELECT used_ms, start, blocked_until FROM "
				 "stream_quota WHERE viewer = $1",
				 &st, "t", keys[i]);
		if (err == PT_ENOTFOUND)
			continue;
		if (err)
			return err;
		q[i].used_ms = db_col_int(st, 0);
		q[i].start = db_col_int(st, 1);
		q[i].blocked_until = db_col_int(st, 2);
		db_done(st);
	}
	return 0;
}

int repo_quota_expire(struct db *db, int64_t before)
{
	int64_t rc = db_run(db, "DELETE FROM stream_quota WHERE touched < $1",
			    "i", before);
	return rc < 0 ? (int)rc : 0;
}
