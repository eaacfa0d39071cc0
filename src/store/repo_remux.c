/*
 * repo_remux.c — fast-start copies of MP4/MOV blobs (table remux, issue
 * 16): which blobs still wait for the remux, its outcome, and the copy
 * /stream serves.  Keyed by the source's content, like media info.
 *
 * A copy is a blob of its own (its bytes in the blob store, its row in
 * blobs) that no link names: the done row of its source is what keeps it,
 * under the gc protocol of blob.h.  repo_remux_record pins the copy's row
 * as an upload pins its blob (so a reap of the same bytes racing it is
 * undone by the ensure callback), after locking the source's row (so the
 * source cannot be reaped between the check and the insert); repo_blob_reap
 * keeps a blob that a remux row names and deletes the row of a source it
 * reaps, which leaves the copy unreferenced for gc.
 */
#include "repo_int.h"

#include "../util/pt.h"
#include "../util/banned.h"

int repo_remux_pending(struct db *db, uint64_t max_bytes, int64_t max,
		       int (*cb)(const char *hex, uint64_t size, void *arg),
		       void *arg)
{
	struct db_stmt *st;
	/* probed audio or video in the MP4/MOV family (the probe's
	 * container name), small enough, named by a live link that may be
	 * streamed (not Max-Downloads), not looked at yet */
	int err = db_query(db,
			   "SELECT l.sha256, MIN(l.size) FROM links l "
			   "JOIN media m ON m.sha256 = l.sha256 "
			   "LEFT JOIN remux x ON x.sha256 = l.sha256 "
			   "WHERE x.sha256 IS NULL AND l.state = 0 AND "
			   "l.max_downloads = 0 AND l.size <= $1 AND "
			   "m.state = 1 AND m.kind IN ('video', 'audio') AND "
			   "m.container LIKE 'mov,mp4%' "
			   "GROUP BY l.sha256 LIMIT $2",
			   &st, "ii", (int64_t)max_bytes, max);
	if (err)
		return err;
	while ((err = db_step(st)) == DB_ROW) {
		const char *hex = db_col_text(st, 0);
		if ((err = cb(hex ? hex : "", (uint64_t)db_col_int(st, 1),
			      arg)))
			break;
	}
	db_done(st);
	return err == DB_DONE ? 0 : err < 0 ? err : 0;
}

int repo_remux_mark(struct db *db, const char *hex, enum remux_state state,
		    int64_t now)
{
	int64_t rc = db_run(db,
			    "INSERT INTO remux(sha256, state, created) VALUES "
			    "($1, $2, $3) ON CONFLICT (sha256) DO NOTHING",
			    "tii", hex, (int64_t)state, now);
	return rc < 0 ? (int)rc : 0;
}

int repo_remux_record(struct db *db, const char *hex, const char *copy,
		      uint64_t copy_size, int64_t now, int (*ensure)(void *arg),
		      void *arg)
{
	int64_t rows;
	int err;

	if ((err = db_begin(db)))
		return err;
	/* the source's row first: no reap of it (which deletes its remux
	 * row) can run between here and the commit */
	rows = db_run(db, "UPDATE blobs SET size = size WHERE sha256 = $1", "t",
		      hex);
	if (rows != 1) {
		err = rows < 0 ? (int)rows : PT_EGONE;
		goto fail;
	}
	/* then the copy's, as an upload pins its blob */
	rows = db_run(db,
		      "INSERT INTO blobs(sha256, size, created) VALUES ($1, "
		      "$2, $3) ON CONFLICT (sha256) DO UPDATE SET size = "
		      "excluded.size",
		      "tii", copy, (int64_t)copy_size, now);
	if (rows < 0) {
		err = (int)rows;
		goto fail;
	}
	if (ensure && (err = ensure(arg)))
		goto fail;
	rows = db_run(db,
		      "INSERT INTO remux(sha256, state, copy_sha256, "
		      "copy_size, created) VALUES ($1, $2, $3, $4, $5) ON "
		      "CONFLICT (sha256) DO NOTHING",
		      "titii", hex, (int64_t)REMUX_DONE, copy,
		      (int64_t)copy_size, now);
	if (rows < 0) {
		err = (int)rows;
		goto fail;
	}
	/* 0 rows: another node recorded its own first; this copy's row is
	 * then unreferenced, and gc reaps it */
	return db_commit(db);
fail:
	db_rollback(db);
	return err;
}

int repo_remux_get(struct db *db, const char *hex, enum remux_state *state,
		   char copy[BLOB_HEX_LEN + 1], uint64_t *copy_size,
		   int64_t *created)
{
	struct db_stmt *st;
	*state = REMUX_PENDING;
	copy[0] = '\0';
	*copy_size = 0;
	*created = 0;
	int err = db_get(db,
			 "SELECT state, copy_sha256, copy_size, created FROM "
			 "remux WHERE sha256 = $1",
			 &st, "t", hex);
	if (err)
		return err;
	int64_t s = db_col_int(st, 0);
	*state = s >= REMUX_DONE && s <= REMUX_NOT_NEEDED ? (enum remux_state)s
							  : REMUX_FAILED;
	copy_fixed(copy, BLOB_HEX_LEN + 1, db_col_text(st, 1));
	*copy_size = (uint64_t)db_col_int(st, 2);
	*created = db_col_int(st, 3);
	db_done(st);
	if (*state == REMUX_DONE && strlen(copy) != BLOB_HEX_LEN)
		*state = REMUX_FAILED;
	return 0;
}

int64_t repo_remux_refs(struct db *db, const char *hex)
{
	struct db_stmt *st;
	if (db_get(db, "SELECT COUNT(*) FROM remux WHERE copy_sha256 = $1", &st,
		   "t", hex))
		return -1;
	int64_t n = db_col_int(st, 0);
	db_done(st);
	return n;
}
