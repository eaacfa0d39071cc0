/*
 * repo.c — the schema, its migrations, and all of partage's SQL.
 *
 * Every statement is written in the dialect SQLite and PostgreSQL share:
 * $N parameters, TEXT/BIGINT columns, INSERT … ON CONFLICT DO NOTHING.
 * Statements are string literals so the driver can cache them per
 * connection by address.
 */
#include "repo.h"

#include <string.h>

#include "../util/pt.h"
#include "../util/banned.h"

/* Migration N takes the schema from version N-1 to N; append, never edit. */
static const char *const migrations[] = {
	/* 1: blobs and links */
	"CREATE TABLE blobs ("
	"  sha256 TEXT PRIMARY KEY,"
	"  size BIGINT NOT NULL,"
	"  created BIGINT NOT NULL);"
	"CREATE TABLE links ("
	"  id TEXT PRIMARY KEY,"
	"  sha256 TEXT NOT NULL,"
	"  name TEXT NOT NULL,"
	"  mime TEXT NOT NULL,"
	"  size BIGINT NOT NULL,"
	"  created BIGINT NOT NULL,"
	"  expires BIGINT NOT NULL DEFAULT 0,"
	"  max_downloads BIGINT NOT NULL DEFAULT 0,"
	"  downloads BIGINT NOT NULL DEFAULT 0,"
	"  last_download BIGINT NOT NULL DEFAULT 0,"
	"  delete_hash TEXT NOT NULL,"
	"  owner_id BIGINT NOT NULL DEFAULT 0,"
	"  state BIGINT NOT NULL DEFAULT 0,"
	"  reason TEXT NOT NULL DEFAULT '',"
	"  changed BIGINT NOT NULL DEFAULT 0);"
	"CREATE INDEX links_sha256 ON links(sha256);",
};

static int64_t schema_version(struct db *db)
{
	struct db_stmt *st;
	int64_t v = 0;
	if (db_prepare(db, "SELECT MAX(version) FROM schema_version", &st))
		return -1;
	if (db_step(st) == DB_ROW)
		v = db_col_int(st, 0);
	db_done(st);
	return v;
}

int repo_migrate(struct db *db)
{
	int err;

	err = db_exec(db, "CREATE TABLE IF NOT EXISTS schema_version ("
			  " version BIGINT PRIMARY KEY, applied BIGINT NOT NULL)");
	if (err)
		return err;
	for (;;) {
		if ((err = db_begin(db)))
			return err;
		int64_t v = schema_version(db);
		if (v < 0) {
			err = PT_EINTERNAL;
			goto fail;
		}
		if (v > (int64_t)PT_ARRAY_LEN(migrations)) {
			pt_log("db: schema version %lld is newer than this "
			       "partaged (%zu)", (long long)v,
			       PT_ARRAY_LEN(migrations));
			err = PT_EINTERNAL;
			goto fail;
		}
		if (v == (int64_t)PT_ARRAY_LEN(migrations)) {
			db_rollback(db);
			return 0;
		}
		if ((err = db_exec(db, migrations[v])))
			goto fail;
		struct db_stmt *st;
		if ((err = db_prepare(db, "INSERT INTO schema_version"
					  "(version, applied) VALUES ($1, $2)",
				      &st)))
			goto fail;
		db_bind_int(st, 1, v + 1);
		db_bind_int(st, 2, pt_now());
		err = db_step(st);
		db_done(st);
		if (err < 0)
			goto fail;
		if ((err = db_commit(db)))
			return err;
		pt_log("db: schema migrated to version %lld", (long long)v + 1);
	}
fail:
	db_rollback(db);
	return err;
}

int repo_blob_add(struct db *db, const char *hex, uint64_t size, int64_t now)
{
	struct db_stmt *st;
	int err = db_prepare(db,
			     "INSERT INTO blobs(sha256, size, created) "
			     "VALUES ($1, $2, $3) ON CONFLICT (sha256) DO NOTHING",
			     &st);
	if (err)
		return err;
	db_bind_text(st, 1, hex);
	db_bind_int(st, 2, (int64_t)size);
	db_bind_int(st, 3, now);
	err = db_step(st);
	db_done(st);
	return err < 0 ? err : 0;
}

int repo_link_create(struct db *db, const struct link *l)
{
	struct db_stmt *st;
	int err;

	if ((err = db_begin(db)))
		return err;
	if ((err = repo_blob_add(db, l->sha256, l->size, l->created)))
		goto fail;
	err = db_prepare(db,
			 "INSERT INTO links(id, sha256, name, mime, size, "
			 "created, expires, max_downloads, delete_hash, "
			 "owner_id) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, "
			 "$9, $10)",
			 &st);
	if (err)
		goto fail;
	db_bind_text(st, 1, l->id);
	db_bind_text(st, 2, l->sha256);
	db_bind_text(st, 3, l->name);
	db_bind_text(st, 4, l->mime);
	db_bind_int(st, 5, (int64_t)l->size);
	db_bind_int(st, 6, l->created);
	db_bind_int(st, 7, l->expires);
	db_bind_int(st, 8, l->max_downloads);
	db_bind_text(st, 9, l->delete_hash);
	db_bind_int(st, 10, l->owner);
	err = db_step(st);
	db_done(st);
	if (err < 0)
		goto fail;
	return db_commit(db);
fail:
	db_rollback(db);
	return err;
}

static void copy_fixed(char *dst, size_t cap, const char *src)
{
	size_t n = src ? strlen(src) : 0;
	if (n >= cap)
		n = cap - 1;
	if (n)
		memcpy(dst, src, n);
	dst[n] = '\0';
}

int repo_link_get(struct db *db, struct pt_pool *pool, const char *id,
		  struct link *out)
{
	struct db_stmt *st;
	int err = db_prepare(db,
			     "SELECT id, sha256, name, mime, size, created, "
			     "expires, max_downloads, downloads, last_download, "
			     "delete_hash, owner_id, state, reason "
			     "FROM links WHERE id = $1",
			     &st);
	if (err)
		return err;
	db_bind_text(st, 1, id);
	err = db_step(st);
	if (err == DB_ROW) {
		copy_fixed(out->id, sizeof(out->id), db_col_text(st, 0));
		copy_fixed(out->sha256, sizeof(out->sha256),
			   db_col_text(st, 1));
		out->name = pt_pstrdup(pool, db_col_text(st, 2));
		out->mime = pt_pstrdup(pool, db_col_text(st, 3));
		out->size = (uint64_t)db_col_int(st, 4);
		out->created = db_col_int(st, 5);
		out->expires = db_col_int(st, 6);
		out->max_downloads = db_col_int(st, 7);
		out->downloads = db_col_int(st, 8);
		out->last_download = db_col_int(st, 9);
		copy_fixed(out->delete_hash, sizeof(out->delete_hash),
			   db_col_text(st, 10));
		out->owner = db_col_int(st, 11);
		out->state = (enum link_state)db_col_int(st, 12);
		out->reason = pt_pstrdup(pool, db_col_text(st, 13));
		err = 0;
	} else if (err == DB_DONE) {
		err = PT_ENOTFOUND;
	}
	db_done(st);
	return err;
}

enum link_state link_effective_state(const struct link *l, int64_t now,
				     const char **reason)
{
	if (l->state != LINK_LIVE) {
		*reason = l->reason && *l->reason ? l->reason
			  : l->state == LINK_DELETED ? "deleted"
			  : l->state == LINK_EXPIRED ? "expired"
						     : "removed";
		return l->state;
	}
	if ((l->expires && now >= l->expires) ||
	    (l->max_downloads && l->downloads >= l->max_downloads)) {
		*reason = "expired";
		return LINK_EXPIRED;
	}
	*reason = "";
	return LINK_LIVE;
}

int repo_link_take_download(struct db *db, const char *id, int64_t now)
{
	struct db_stmt *st;
	/* one statement, so two concurrent takes of the last download
	 * cannot both succeed */
	int err = db_prepare(db,
			     "UPDATE links SET downloads = downloads + 1, "
			     "last_download = $2 WHERE id = $1 AND state = 0 "
			     "AND (expires = 0 OR expires > $2) AND "
			     "(max_downloads = 0 OR downloads < max_downloads)",
			     &st);
	if (err)
		return err;
	db_bind_text(st, 1, id);
	db_bind_int(st, 2, now);
	err = db_step(st);
	if (err >= 0)
		err = db_changes(st) == 1 ? 0 : PT_EGONE;
	db_done(st);
	return err;
}

int repo_link_add_downloads(struct db *db, const char *id, int64_t n,
			    int64_t last)
{
	struct db_stmt *st;
	int err = db_prepare(db,
			     "UPDATE links SET downloads = downloads + $2, "
			     "last_download = $3 WHERE id = $1",
			     &st);
	if (err)
		return err;
	db_bind_text(st, 1, id);
	db_bind_int(st, 2, n);
	db_bind_int(st, 3, last);
	err = db_step(st);
	db_done(st);
	return err < 0 ? err : 0;
}

int repo_link_delete(struct db *db, const char *id, const char *reason,
		     int64_t now)
{
	struct db_stmt *st;
	int err = db_prepare(db,
			     "UPDATE links SET state = 1, reason = $2, "
			     "changed = $3 WHERE id = $1 AND state = 0",
			     &st);
	if (err)
		return err;
	db_bind_text(st, 1, id);
	db_bind_text(st, 2, reason);
	db_bind_int(st, 3, now);
	err = db_step(st);
	if (err >= 0)
		err = db_changes(st) == 1 ? 0 : PT_ENOTFOUND;
	db_done(st);
	return err;
}

int repo_blob_each(struct db *db,
		   int (*cb)(const char *hex, uint64_t size, void *arg),
		   void *arg)
{
	struct db_stmt *st;
	int err = db_prepare(db, "SELECT sha256, size FROM blobs ORDER BY sha256",
			     &st);
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
	bool known = false;
	if (db_prepare(db, "SELECT 1 FROM blobs WHERE sha256 = $1", &st))
		return false;
	db_bind_text(st, 1, hex);
	known = db_step(st) == DB_ROW;
	db_done(st);
	return known;
}

int64_t repo_blob_live_links(struct db *db, const char *hex)
{
	struct db_stmt *st;
	int64_t n = -1;
	if (db_prepare(db,
		       "SELECT COUNT(*) FROM links WHERE sha256 = $1 AND "
		       "state = 0",
		       &st))
		return -1;
	db_bind_text(st, 1, hex);
	if (db_step(st) == DB_ROW)
		n = db_col_int(st, 0);
	db_done(st);
	return n;
}

int repo_blob_forget(struct db *db, const char *hex)
{
	struct db_stmt *st;
	int err = db_prepare(db,
			     "DELETE FROM blobs WHERE sha256 = $1 AND NOT EXISTS "
			     "(SELECT 1 FROM links WHERE links.sha256 = $1 "
			     "AND links.state = 0)",
			     &st);
	if (err)
		return err;
	db_bind_text(st, 1, hex);
	err = db_step(st);
	db_done(st);
	return err < 0 ? err : 0;
}

int repo_blob_links_disable(struct db *db, const char *hex,
			    const char *reason, int64_t now)
{
	struct db_stmt *st;
	int err = db_prepare(db,
			     "UPDATE links SET state = 3, reason = $2, "
			     "changed = $3 WHERE sha256 = $1 AND state = 0",
			     &st);
	if (err)
		return err;
	db_bind_text(st, 1, hex);
	db_bind_text(st, 2, reason);
	db_bind_int(st, 3, now);
	err = db_step(st);
	db_done(st);
	return err < 0 ? err : 0;
}
