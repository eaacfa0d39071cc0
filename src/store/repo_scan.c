/*
 * repo_scan.c — the virus scanner's queue and verdicts: a blob's
 * scan_state (REPO_SCAN_*, repo.h).  Pending blobs are those never scanned
 * that a live link names, so the queue needs no table of its own and
 * survives restarts; a blob collected and uploaded again is scanned again.
 */
#include "repo_int.h"

#include "../util/pt.h"
#include "../util/banned.h"

int repo_scan_pending(struct db *db, struct pt_pool *pool, char **out,
		      int64_t *sizes, size_t max, size_t *n)
{
	struct db_stmt *st;
	*n = 0;
	int err = db_query(db,
			   "SELECT b.sha256, b.size FROM blobs b WHERE "
			   "b.scan_state = 0 AND EXISTS (SELECT 1 FROM links l "
			   "WHERE l.sha256 = b.sha256 AND l.state = 0) "
			   "ORDER BY b.created, b.sha256 LIMIT $1",
			   &st, "i", (int64_t)max);
	if (err)
		return err;
	while ((err = db_step(st)) == DB_ROW && *n < max) {
		out[*n] = pt_pstrdup(pool, db_col_text(st, 0));
		sizes[*n] = db_col_int(st, 1);
		(*n)++;
	}
	db_done(st);
	return err < 0 ? err : 0;
}

int repo_scan_set(struct db *db, const char *hex, int state, const char *reason)
{
	int64_t rc = db_run(db,
			    "UPDATE blobs SET scan_state = $2, scan_reason = $3 "
			    "WHERE sha256 = $1",
			    "tit", hex, (int64_t)state, reason ? reason : "");
	if (rc < 0)
		return (int)rc;
	db_changed(db); /* cached links carry the state: drop them */
	return 0;
}
