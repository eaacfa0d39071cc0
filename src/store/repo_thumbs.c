/*
 * repo_thumbs.c — thumbnails of blobs (table thumbs, issue 16): which
 * derived blob is the thumbnail of which source blob, and the sources
 * still to do.
 *
 * A thumbnail is a blob like any other (content-addressed, a row in
 * blobs), kept alive by the thumbs row that names it instead of by a
 * link: gc's reference test counts both (repo_blobs.c), and reaping the
 * source deletes its thumbs row in the same transaction, then reaps the
 * derived blob (repo_blob_reap).  Recording a thumbnail is the upload's
 * protocol with the thumbs row in the link's place: lock the source's
 * row (gone: the source was reaped meanwhile, record nothing), pin the
 * derived blob's row, ensure its bytes, write the thumbs row, commit.
 * Two blob rows are locked, always the source's first; gc locks one
 * blob row per transaction, so no cycle.  A blob that is some source's
 * thumbnail is never a source itself (repo_thumbs_pending), so chains
 * of derived blobs are one long and never loop.
 */
#include "repo_int.h"

#include "../util/pt.h"
#include "../util/banned.h"

int repo_thumb_get(struct db *db, const char *hex, struct thumb_row *t)
{
	struct db_stmt *st;
	memset(t, 0, sizeof(*t));
	int err = db_get(db,
			 "SELECT state, thumb, width, height, created FROM "
			 "thumbs WHERE sha256 = $1",
			 &st, "t", hex);
	if (err)
		return err;
	int64_t s = db_col_int(st, 0);
	t->state = s == THUMB_DONE ? THUMB_DONE : THUMB_FAILED;
	copy_fixed(t->thumb, sizeof(t->thumb), db_col_text(st, 1));
	t->width = (uint32_t)db_col_int(st, 2);
	t->height = (uint32_t)db_col_int(st, 3);
	t->created = db_col_int(st, 4);
	db_done(st);
	if (t->state == THUMB_DONE && strlen(t->thumb) != BLOB_HEX_LEN)
		t->state = THUMB_FAILED;
	return 0;
}

int repo_thumb_put(struct db *db, const char *hex, const struct thumb_row *t,
		   uint64_t size, int (*ensure)(void *arg), void *arg)
{
	bool done = t->state == THUMB_DONE;
	int64_t rows;
	int err;

	if (done && strcmp(t->thumb, hex) == 0)
		return PT_EBADREQ; /* its own thumbnail: it would never go */
	if ((err = db_begin(db)))
		return err;
	rows = db_run(db, "UPDATE blobs SET size = size WHERE sha256 = $1", "t",
		      hex);
	if (rows < 0) {
		err = (int)rows;
		goto fail;
	}
	if (rows != 1) {
		err = PT_ENOTFOUND; /* reaped meanwhile */
		goto fail;
	}
	if (done) {
		rows = db_run(db,
			      "INSERT INTO blobs(sha256, size, created) VALUES "
			      "($1, $2, $3) ON CONFLICT (sha256) DO UPDATE SET "
			      "size = excluded.size",
			      "tii", t->thumb, (int64_t)size, t->created);
		if (rows < 0) {
			err = (int)rows;
			goto fail;
		}
		/* holding its row: gc cannot delete the bytes now; put them
		 * back if it did just before */
		if (ensure && (err = ensure(arg)))
			goto fail;
	}
	rows = db_run(db,
		      "INSERT INTO thumbs(sha256, state, thumb, width, height, "
		      "created) VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT "
		      "(sha256) DO UPDATE SET state = excluded.state, thumb = "
		      "excluded.thumb, width = excluded.width, height = "
		      "excluded.height, created = excluded.created",
		      "titiii", hex,
		      (int64_t)(done ? THUMB_DONE : THUMB_FAILED),
		      done ? t->thumb : "", (int64_t)(done ? t->width : 0),
		      (int64_t)(done ? t->height : 0), t->created);
	if (rows < 0) {
		err = (int)rows;
		goto fail;
	}
	return db_commit(db);
fail:
	db_rollback(db);
	return err;
}

int repo_thumbs_pending(struct db *db, int64_t max,
			int (*cb)(const char *hex, void *arg), void *arg)
{
	struct db_stmt *st;
	int err = db_query(db,
			   "SELECT m.sha256 FROM media m WHERE m.state = 1 "
			   "AND m.kind IN ('video', 'image') AND NOT EXISTS "
			   "(SELECT 1 FROM thumbs t WHERE t.sha256 = "
			   "m.sha256) AND NOT EXISTS (SELECT 1 FROM thumbs t "
			   "WHERE t.thumb = m.sha256) AND EXISTS (SELECT 1 "
			   "FROM links l WHERE l.sha256 = m.sha256 AND "
			   "l.state = 0) LIMIT $1",
			   &st, "i", max);
	if (err)
		return err;
	while ((err = db_step(st)) == DB_ROW) {
		const char *hex = db_col_text(st, 0);
		if ((err = cb(hex ? hex : "", arg)))
			break;
	}
	db_done(st);
	return err == DB_DONE ? 0 : err;
}

int64_t repo_thumb_refs(struct db *db, const char *hex)
{
	struct db_stmt *st;
	if (db_get(db, "SELECT COUNT(*) FROM thumbs WHERE thumb = $1", &st, "t",
		   hex))
		return -1;
	int64_t n = db_col_int(st, 0);
	db_done(st);
	return n;
}

int repo_thumb_drop(struct db *db, const char *hex, char *thumb)
{
	struct db_stmt *st;
	thumb[0] = '\0';
	int err = db_get(db, "SELECT thumb FROM thumbs WHERE sha256 = $1", &st,
			 "t", hex);
	if (err == PT_ENOTFOUND)
		return 0;
	if (err)
		return err;
	copy_fixed(thumb, BLOB_HEX_LEN + 1, db_col_text(st, 0));
	db_done(st);
	int64_t rc = db_run(db, "DELETE FROM thumbs WHERE sha256 = $1", "t",
			    hex);
	return rc < 0 ? (int)rc : 0;
}
