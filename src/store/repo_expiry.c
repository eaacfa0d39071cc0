/*
 * repo_expiry.c — what gc asks of the database about links: expiring
 * them by the uploader's limits (Max-Days, Max-Downloads) and by
 * inactivity past the owner tier's retention, each rule one UPDATE over
 * the whole table; and the statistics of live links and stored blobs.
 */
#include "repo_int.h"

#include "../util/pt.h"
#include "../util/banned.h"

/* Run sql with $1 = now and, unless before is INT64_MIN, $2 = before;
 * add the rows it changed to *changed. */
static int exec_count(struct db *db, const char *sql, int64_t now,
		      int64_t before, int64_t *changed)
{
	int64_t rc = db_run(db, sql, before != INT64_MIN ? "ii" : "i", now,
			    before);
	if (rc < 0)
		return (int)rc;
	*changed += rc;
	return 0;
}

int repo_links_expire(struct db *db, int64_t now,
		      const int64_t retention_days[3], int64_t *expired)
{
	int64_t n = 0;
	int err;

	*expired = 0;
	/* uploader-set limits: Max-Days, Max-Downloads (burn after reading) */
	err = exec_count(db,
			 "UPDATE links SET state = 2, reason = 'expired', "
			 "changed = $1 WHERE state = 0 AND ((expires > 0 AND "
			 "expires <= $1) OR (max_downloads > 0 AND downloads >= "
			 "max_downloads))",
			 now, INT64_MIN, &n);
	/* inactivity, by the owner's tier: the last counted download, or
	 * the upload when there was none */
	if (!err && retention_days[0] > 0)
		err = exec_count(db,
				 "UPDATE links SET state = 2, reason = "
				 "'expired', changed = $1 WHERE state = 0 AND "
				 "owner_id = 0 AND (CASE WHEN last_download > "
				 "created THEN last_download ELSE created END) "
				 "<= $2",
				 now, now - retention_days[0] * 86400, &n);
	if (!err && retention_days[1] > 0)
		err = exec_count(db,
				 "UPDATE links SET state = 2, reason = "
				 "'expired', changed = $1 WHERE state = 0 AND "
				 "owner_id IN (SELECT id FROM users WHERE tier "
				 "<> 'premium' AND premium_until <= $1) AND "
				 "(CASE WHEN last_download > created THEN "
				 "last_download ELSE created END) <= $2",
				 now, now - retention_days[1] * 86400, &n);
	if (!err && retention_days[2] > 0)
		err = exec_count(db,
				 "UPDATE links SET state = 2, reason = "
				 "'expired', changed = $1 WHERE state = 0 AND "
				 "owner_id IN (SELECT id FROM users WHERE tier "
				 "= 'premium' OR premium_until > $1) AND "
				 "(CASE WHEN last_download > created THEN "
				 "last_download ELSE created END) <= $2",
				 now, now - retention_days[2] * 86400, &n);
	if (n)
		db_changed(db);
	*expired = n;
	return err;
}

int repo_stats(struct db *db, struct repo_stats *out)
{
	struct db_stmt *st;
	int err;

	memset(out, 0, sizeof(*out));
	/* COUNT() and SUM() always give one row */
	err = db_get(db,
		     "SELECT COUNT(*), COALESCE(SUM(size), 0) FROM links "
		     "WHERE state = 0",
		     &st, "");
	if (err)
		return err;
	out->live_links = db_col_int(st, 0);
	out->logical_bytes = db_col_int(st, 1);
	db_done(st);
	err = db_get(db, "SELECT COUNT(*), COALESCE(SUM(size), 0) FROM blobs",
		     &st, "");
	if (err)
		return err;
	out->blobs = db_col_int(st, 0);
	out->stored_bytes = db_col_int(st, 1);
	db_done(st);
	return 0;
}
