/*
 * repo_uploads.c — resumable uploads (tus): the upload row, its durable
 * offset, and the lease a PATCH holds on it, taken and checked in one
 * conditional UPDATE so that no two requests, on any node, write one
 * upload at once.  Completing an upload adds its link (repo_link_add)
 * and marks the upload done in the same transaction.
 */
#include "repo_int.h"

#include "../util/pt.h"
#include "../util/banned.h"

int repo_upload_each_open(struct db *db,
			  int (*cb)(const char *uid, int64_t received,
				    void *arg),
			  void *arg)
{
	struct db_stmt *st;
	/* a final upload (concatenation) has no partial until complete */
	int err = db_query(db,
			   "SELECT uid, received FROM uploads WHERE state = 0 "
			   "AND concat NOT LIKE 'final%' ORDER BY uid",
			   &st, "");
	if (err)
		return err;
	while ((err = db_step(st)) == DB_ROW) {
		char uid[UPLOAD_UID_LEN + 1];
		copy_fixed(uid, sizeof(uid), db_col_text(st, 0));
		if ((err = cb(uid, db_col_int(st, 1), arg)))
			break;
	}
	db_done(st);
	return err < 0 ? err : 0;
}

int repo_upload_create(struct db *db, const struct upload_row *u)
{
	int64_t rc = db_run(
		db,
		"INSERT INTO uploads(uid, length, received, metadata, "
		"concat, created, expires, owner_id, delete_hash, "
		"password_hash, request_id) "
		"VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
		"tiittiiitt" "t", u->uid, (int64_t)u->length,
		(int64_t)u->received, u->metadata, u->concat,
		(int64_t)u->created, (int64_t)u->expires, (int64_t)u->owner,
		u->delete_hash, u->password_hash ? u->password_hash : "",
		u->request_id);
	return rc < 0 ? (int)rc : 0;
}

int repo_upload_get(struct db *db, struct pt_pool *pool, const char *uid,
		    struct upload_row *out)
{
	struct db_stmt *st;
	int err = db_get(db,
			 "SELECT uid, length, received, metadata, concat, "
			 "created, expires, owner_id, delete_hash, lease, "
			 "state, link_id, password_hash, hash_state, "
			 "request_id FROM uploads WHERE uid = $1",
			 &st, "t", uid);
	if (err)
		return err;
	copy_fixed(out->uid, sizeof(out->uid), db_col_text(st, 0));
	out->length = db_col_int(st, 1);
	out->received = db_col_int(st, 2);
	out->metadata = pt_pstrdup(pool, db_col_text(st, 3));
	out->concat = pt_pstrdup(pool, db_col_text(st, 4));
	out->created = db_col_int(st, 5);
	out->expires = db_col_int(st, 6);
	out->owner = db_col_int(st, 7);
	copy_fixed(out->delete_hash, sizeof(out->delete_hash),
		   db_col_text(st, 8));
	out->lease = db_col_int(st, 9);
	out->state = (enum upload_state)db_col_int(st, 10);
	copy_fixed(out->link_id, sizeof(out->link_id), db_col_text(st, 11));
	out->password_hash = pt_pstrdup(pool, db_col_text(st, 12));
	out->hash_state = pt_pstrdup(pool, db_col_text(st, 13));
	copy_fixed(out->request_id, sizeof(out->request_id),
		   db_col_text(st, 14));
	db_done(st);
	return 0;
}

int repo_upload_claim(struct db *db, const char *uid, int64_t offset,
		      int64_t now, int64_t lease_until, const char *holder,
		      int64_t node_lease_ms)
{
	int64_t changed;
	if (node_lease_ms > 0 && strcmp(db_backend(db), "postgres") == 0)
		/* or its holder is another node whose heartbeat stopped
		 * (repo_cluster.c): dead nodes' leases end with them.  A
		 * holder that never wrote one (one node, an older version)
		 * keeps the timed lease. */
		changed = db_run(
			db,
			"UPDATE uploads SET lease = $4, holder = $5 WHERE "
			"uid = $1 AND state = 0 AND received = $2 AND (lease "
			"<= $3 OR (holder <> $5 AND holder IN (SELECT name "
			"FROM nodes WHERE seen < (extract(epoch from "
			"clock_timestamp()) * 1000)::bigint - $6)))",
			"tiiiti", uid, offset, now, lease_until, holder,
			node_lease_ms);
	else
		changed = db_run(db,
				 "UPDATE uploads SET lease = $4, holder = $5 "
				 "WHERE uid = $1 AND state = 0 AND received = "
				 "$2 AND lease <= $3",
				 "tiiit", uid, offset, now, lease_until,
				 holder);
	if (changed < 0)
		return (int)changed;
	if (changed == 1)
		return 0;
	/* say why: read it back */
	struct pt_pool *pool = pt_pool_new();
	struct upload_row u;
	int err = repo_upload_get(db, pool, uid, &u);
	if (!err) {
		if (u.state != UPLOAD_OPEN)
			err = PT_EGONE;
		else if (u.received != offset)
			err = PT_ECONFLICT;
		else
			err = PT_ELIMIT;
	}
	pt_pool_free(pool);
	return err;
}

int repo_upload_claim_from(struct db *db, const char *uid, int64_t offset,
			   int64_t lease_until, const char *holder)
{
	int64_t rc = db_run(db,
			    "UPDATE uploads SET lease = $3 WHERE uid = $1 AND "
			    "state = 0 AND received = $2 AND holder = $4",
			    "tiit", uid, offset, lease_until, holder);
	return rc < 0 ? (int)rc : rc == 1 ? 0 : PT_ELIMIT;
}

int repo_upload_renew(struct db *db, const char *uid, int64_t lease_until)
{
	int64_t rc = db_run(db, "UPDATE uploads SET lease = $2 WHERE uid = $1",
			    "ti", uid, (int64_t)lease_until);
	return rc < 0 ? (int)rc : 0;
}

int repo_upload_release_holder(struct db *db, const char *holder)
{
	int64_t rc = db_run(db,
			    "UPDATE uploads SET lease = 0 WHERE holder = $1 "
			    "AND lease > 0",
			    "t", holder);
	return rc < 0 ? (int)rc : 0;
}

int repo_upload_advance(struct db *db, const char *uid, int64_t received,
			const char *hash_state, bool release)
{
	int64_t rc = db_run(db,
			    release ? "UPDATE uploads SET received = $2, "
				      "hash_state = $3, lease = 0 "
				      "WHERE uid = $1"
				    : "UPDATE uploads SET received = $2, "
				      "hash_state = $3 WHERE uid = $1",
			    "tit", uid, received,
			    hash_state ? hash_state : "");
	return rc < 0 ? (int)rc : 0;
}

int repo_upload_set_length(struct db *db, const char *uid, int64_t length)
{
	int64_t rc = db_run(db,
			    "UPDATE uploads SET length = $2 WHERE uid = $1 AND "
			    "(length = -1 OR length = $2)",
			    "ti", uid, length);
	return rc < 0 ? (int)rc : rc == 1 ? 0 : PT_ECONFLICT;
}

int repo_upload_complete(struct db *db, const char *uid, struct link *l,
			 int (*ensure)(void *arg), void *arg)
{
	int64_t rc;
	int err;

	if ((err = db_begin(db)))
		return err;
	/* an upload through a file request counts into it with its link
	 * (the caller knows the upload, not the request) */
	struct db_stmt *st;
	char request[ID_LEN + 1] = "";
	if (!(err = db_get(db, "SELECT request_id FROM uploads WHERE uid = $1",
			   &st, "t", uid))) {
		copy_fixed(request, sizeof(request), db_col_text(st, 0));
		db_done(st);
	} else if (err != PT_ENOTFOUND) {
		goto fail;
	}
	if (*request) {
		/* the owner's link: nothing the uploader asked for in the
		 * metadata (a password, an expiry, a download limit) */
		l->request_id = request;
		l->password_hash = NULL;
		l->expires = 0;
		l->max_downloads = 0;
	}
	err = repo_link_add(db, l, ensure, arg);
	if (*request)
		l->request_id = NULL; /* request[] ends with this call */
	if (err)
		goto fail;
	rc = db_run(db,
		    "UPDATE uploads SET state = 1, link_id = $2, "
		    "received = length, lease = 0 WHERE uid = $1 AND "
		    "state = 0",
		    "tt", uid, l->id);
	if (rc != 1) {
		/* 0 rows: completed by someone else meanwhile */
		err = rc < 0 ? (int)rc : PT_ECONFLICT;
		goto fail;
	}
	return db_commit(db);
fail:
	db_rollback(db);
	return err;
}

int repo_upload_set_state(struct db *db, const char *uid,
			  enum upload_state state)
{
	int64_t rc = db_run(db,
			    "UPDATE uploads SET state = $2, lease = 0 "
			    "WHERE uid = $1",
			    "ti", uid, (int64_t)state);
	return rc < 0 ? (int)rc : 0;
}

int repo_upload_expire(struct db *db, const char *uid, int64_t now)
{
	/* only an open upload nobody is writing: the condition and the change
	 * are one statement, so a PATCH cannot claim it in between */
	int64_t rc = db_run(db,
			    "UPDATE uploads SET state = 3 WHERE uid = $1 AND "
			    "state = 0 AND expires <= $2 AND lease <= $2",
			    "ti", uid, now);
	return (int)rc;
}

int repo_uploads_expired(struct db *db, struct pt_pool *pool, int64_t now,
			 char **out, size_t max, size_t *n)
{
	struct db_stmt *st = NULL;
	int err = db_query(db,
			   "SELECT uid FROM uploads WHERE state = 0 AND "
			   "expires <= $1 AND lease <= $1 LIMIT 1000",
			   &st, "i", now);
	return repo_rows_text(err, st, pool, out, max, n);
}
