/*
 * repo_requests.c — file-request links: a row per request (its owner's
 * folder, password, expiry and limits, what came in so far).  A file
 * counts into its request in the transaction that adds its link
 * (repo_link_add calls repo_request_take), one conditional UPDATE, so
 * two uploads on two nodes cannot both take the last place.
 */
#include "repo_int.h"

#include "../util/pt.h"
#include "../util/banned.h"

#define REQUEST_COLS                                                    \
	"SELECT r.id, r.owner_id, r.folder_id, r.created, r.expires, "  \
	"r.password_hash, r.max_files, r.max_bytes, r.files, r.bytes, " \
	"r.state, COALESCE(f.name, '') FROM file_requests r LEFT JOIN " \
	"folders f ON f.id = r.folder_id "

static void request_row(struct db_stmt *st, struct pt_pool *pool,
			struct file_request *fr)
{
	memset(fr, 0, sizeof(*fr));
	copy_fixed(fr->id, sizeof(fr->id), db_col_text(st, 0));
	fr->owner = db_col_int(st, 1);
	copy_fixed(fr->folder_id, sizeof(fr->folder_id), db_col_text(st, 2));
	fr->created = db_col_int(st, 3);
	fr->expires = db_col_int(st, 4);
	fr->password_hash = pt_pstrdup(pool, db_col_text(st, 5));
	fr->max_files = db_col_int(st, 6);
	fr->max_bytes = db_col_int(st, 7);
	fr->files = db_col_int(st, 8);
	fr->bytes = db_col_int(st, 9);
	fr->state = (int)db_col_int(st, 10);
	fr->folder_name = pt_pstrdup(pool, db_col_text(st, 11));
}

int repo_request_create(struct db *db, const struct file_request *fr)
{
	struct db_stmt *st;
	int err = db_get(db,
			 "SELECT COUNT(*) FROM file_requests WHERE owner_id = "
			 "$1 AND state = 0",
			 &st, "i", fr->owner);
	if (err)
		return err;
	int64_t open = db_col_int(st, 0);
	db_done(st);
	if (open >= REPO_REQUESTS_OPEN_MAX)
		return PT_ELIMIT;
	int64_t rc = db_run(db,
			    "INSERT INTO file_requests(id, owner_id, folder_id, "
			    "created, expires, password_hash, max_files, "
			    "max_bytes) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) "
			    "ON CONFLICT (id) DO NOTHING",
			    "titiitii", fr->id, fr->owner, fr->folder_id,
			    fr->created, fr->expires,
			    fr->password_hash ? fr->password_hash : "",
			    fr->max_files, fr->max_bytes);
	return rc < 0 ? (int)rc : rc == 1 ? 0 : PT_ECONFLICT;
}

int repo_request_get(struct db *db, struct pt_pool *pool, const char *id,
		     struct file_request *out)
{
	struct db_stmt *st;
	int err = db_get(db, REQUEST_COLS "WHERE r.id = $1", &st, "t", id);
	if (err)
		return err;
	request_row(st, pool, out);
	db_done(st);
	return 0;
}

int repo_requests_each(struct db *db, struct pt_pool *pool, int64_t owner,
		       int (*cb)(const struct file_request *fr, void *arg),
		       void *arg)
{
	struct db_stmt *st;
	int err = db_query(db,
			   REQUEST_COLS "WHERE r.owner_id = $1 ORDER BY "
					"r.created DESC, r.id",
			   &st, "i", owner);
	if (err)
		return err;
	while ((err = db_step(st)) == DB_ROW) {
		struct file_request fr;
		request_row(st, pool, &fr);
		if ((err = cb(&fr, arg)))
			break;
	}
	db_done(st);
	return err < 0 ? err : 0;
}

int repo_request_close(struct db *db, const char *id, int64_t owner)
{
	int64_t rc = db_run(db,
			    "UPDATE file_requests SET state = 1 WHERE id = $1 "
			    "AND owner_id = $2 AND state = 0",
			    "ti", id, owner);
	return rc < 0 ? (int)rc : rc == 1 ? 0 : PT_ENOTFOUND;
}

int repo_request_take(struct db *db, const char *id, int64_t bytes, int64_t now,
		      char *folder)
{
	struct db_stmt *st;
	/* the condition and the count in one statement */
	int err = db_get(db,
			 "UPDATE file_requests SET files = files + 1, "
			 "bytes = bytes + $2 WHERE id = $1 AND state = 0 AND "
			 "(expires = 0 OR expires > $3) AND "
			 "(max_files = 0 OR files < max_files) AND "
			 "(max_bytes = 0 OR bytes + $2 <= max_bytes) "
			 "RETURNING folder_id",
			 &st, "tii", id, bytes, now);
	if (!err) {
		copy_fixed(folder, ID_LEN + 1, db_col_text(st, 0));
		db_done(st);
		return 0;
	}
	if (err != PT_ENOTFOUND)
		return err;
	/* refused: say why (a second read, for the answer only) */
	err = db_get(db,
		     "SELECT state, expires, max_files, files, max_bytes, "
		     "bytes FROM file_requests WHERE id = $1",
		     &st, "t", id);
	if (err == PT_ENOTFOUND)
		return PT_EGONE;
	if (err)
		return err;
	int64_t state = db_col_int(st, 0), expires = db_col_int(st, 1);
	int64_t max_files = db_col_int(st, 2), files = db_col_int(st, 3);
	db_done(st);
	if (state != 0 || (expires && expires <= now))
		return PT_EGONE;
	if (max_files && files >= max_files)
		return PT_EFORBIDDEN;
	return PT_ETOOBIG;
}

int repo_request_untake(struct db *db, const char *id, int64_t bytes)
{
	int64_t rc = db_run(db,
			    "UPDATE file_requests SET files = files - 1, "
			    "bytes = bytes - $2 WHERE id = $1 AND files > 0",
			    "ti", id, bytes);
	return rc < 0 ? (int)rc : 0;
}

bool repo_link_from_request(struct db *db, const char *link_id)
{
	struct db_stmt *st;
	if (db_get(db, "SELECT 1 FROM links WHERE id = $1 AND request_id <> ''",
		   &st, "t", link_id))
		return false;
	db_done(st);
	return true;
}
