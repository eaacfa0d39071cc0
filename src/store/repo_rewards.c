/*
 * repo_rewards.c — the uploader rewards ledger: append-only rows of
 * points, credited for counted downloads of an owner's links and spent
 * for premium days.  A balance is a sum over the ledger, so spending
 * locks the account's row first (repo_user_lock).
 */
#include "repo_int.h"

#include <sodium.h>

#include "../util/pt.h"
#include "../util/banned.h"

static int64_t ledger_id(void)
{
	int64_t id;
	randombytes_buf(&id, sizeof(id));
	return id & INT64_MAX;
}

int repo_reward_downloads(struct db *db, const char *link_id, int64_t n,
			  int64_t points_each, int64_t now)
{
	if (points_each <= 0 || n <= 0)
		return 0;
	int64_t rc = db_run(db,
			    "INSERT INTO rewards(id, user_id, link_id, kind, "
			    "points, at) SELECT CAST($2 AS BIGINT), owner_id, "
			    "id, 'download', CAST($3 AS BIGINT), CAST($4 AS "
			    "BIGINT) FROM links WHERE id = $1 AND owner_id <> 0",
			    "tiii", link_id, ledger_id(), n * points_each, now);
	return rc < 0 ? (int)rc : 0;
}

int64_t repo_user_points(struct db *db, int64_t user_id)
{
	struct db_stmt *st;
	if (db_get(db,
		   "SELECT COALESCE(SUM(points), 0) FROM rewards WHERE "
		   "user_id = $1",
		   &st, "i", user_id))
		return 0;
	int64_t n = db_col_int(st, 0);
	db_done(st);
	return n;
}

int repo_user_rewards_each(struct db *db, int64_t user_id,
			   int (*cb)(const char *id, int64_t downloads,
				     int64_t points, void *arg),
			   void *arg)
{
	struct db_stmt *st;
	int err = db_query(db,
			   "SELECT l.id, l.downloads, COALESCE(SUM(r.points), "
			   "0) FROM links l LEFT JOIN rewards r ON r.link_id "
			   "= l.id AND r.kind = 'download' WHERE l.owner_id = "
			   "$1 GROUP BY l.id, l.downloads ORDER BY l.id "
			   "LIMIT 10000",
			   &st, "i", user_id);
	if (err)
		return err;
	while ((err = db_step(st)) == DB_ROW)
		if ((err = cb(db_col_text(st, 0), db_col_int(st, 1),
			      db_col_int(st, 2), arg)))
			break;
	db_done(st);
	return err < 0 ? err : 0;
}

int repo_rewards_convert(struct db *db, int64_t user_id, int64_t points,
			 int64_t days, int64_t now)
{
	int64_t rc;
	int err;

	if ((err = db_begin(db)))
		return err;
	/* the balance is a sum over the ledger: lock the account first, so
	 * a concurrent conversion waits and then sees this one's entry */
	if ((err = repo_user_lock(db, user_id)))
		goto fail;
	if (repo_user_points(db, user_id) < points) {
		db_rollback(db);
		return PT_ECONFLICT;
	}
	rc = db_run(db,
		    "INSERT INTO rewards(id, user_id, link_id, kind, points, "
		    "at) VALUES ($1, $2, '', 'convert', $3, $4)",
		    "iiii", ledger_id(), user_id, -points, now);
	if (rc < 0) {
		err = (int)rc;
		goto fail;
	}
	if ((err = repo_user_premium_extend(db, user_id, now, days, NULL)))
		goto fail;
	return db_commit(db);
fail:
	db_rollback(db);
	return err;
}
