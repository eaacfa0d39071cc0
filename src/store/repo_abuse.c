/*
 * repo_abuse.c — abuse handling: takedowns of a link or of every link
 * to some content (the blob row locked first, so no upload links the
 * content meanwhile), their undoing, the hash blocklist that new links
 * are checked against (repo_blocked_check), strikes against owners,
 * reports, and the append-only audit log.
 */
#include "repo_int.h"

#include <sodium.h>
#include <time.h>

#include "../util/pt.h"
#include "../util/banned.h"

/* After repo_blob_pin: is the content blocklisted?  A content takedown
 * locks the blob row before it lists the live links (blob_hold), so
 * either it waited for this transaction and sees its link, or this one
 * waited for it and sees its block here (READ COMMITTED: the statement
 * after the wait sees what it committed). */
int repo_blocked_check(struct db *db, const char *hex)
{
	struct db_stmt *st;
	int err = db_get(db, "SELECT 1 FROM blocklist WHERE sha256 = $1", &st,
			 "t", hex);
	if (err == PT_ENOTFOUND)
		return 0;
	if (err)
		return err;
	db_done(st);
	return PT_ELEGAL;
}

int repo_audit(struct db *db, const char *actor, const char *action,
	       const char *target, const char *reason, const char *detail,
	       int64_t now)
{
	/* ids order the log within a second: microseconds, then 8 random
	 * bits so two nodes writing at the same microsecond do not clash */
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	int64_t id = (((int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000) << 8) |
		     (int64_t)randombytes_uniform(256);
	int64_t rc = db_run(db,
			    "INSERT INTO audit(id, at, actor, action, target, "
			    "reason, detail) VALUES ($1, $2, $3, $4, $5, $6, "
			    "$7)",
			    "iittttt", id, now, actor, action,
			    target ? target : "", reason ? reason : "",
			    detail ? detail : "");
	return rc < 0 ? (int)rc : 0;
}

int repo_audit_each(struct db *db, int64_t since,
		    int (*cb)(const struct audit_row *a, void *arg), void *arg)
{
	struct db_stmt *st;
	int err = db_query(db,
			   "SELECT at, actor, action, target, reason, detail "
			   "FROM audit WHERE at >= $1 ORDER BY at, id",
			   &st, "i", since);
	if (err)
		return err;
	while ((err = db_step(st)) == DB_ROW) {
		struct audit_row a = {
			db_col_int(st, 0),  db_col_text(st, 1),
			db_col_text(st, 2), db_col_text(st, 3),
			db_col_text(st, 4), db_col_text(st, 5),
		};
		if ((err = cb(&a, arg)))
			break;
	}
	db_done(st);
	return err < 0 ? err : 0;
}

bool repo_blocked(struct db *db, const char *hex, struct pt_pool *pool,
		  char **reason)
{
	struct db_stmt *st;
	if (db_get(db, "SELECT reason FROM blocklist WHERE sha256 = $1", &st,
		   "t", hex))
		return false;
	if (reason)
		*reason = pt_pstrdup(pool, db_col_text(st, 0));
	db_done(st);
	return true;
}

int repo_block(struct db *db, const char *hex, const char *reason, int64_t now,
	       int64_t purge_after, const char *takedown_id)
{
	int64_t rc = db_run(db,
			    "INSERT INTO blocklist(sha256, reason, created, "
			    "purge_after, takedown_id) VALUES ($1, $2, $3, $4, "
			    "$5) ON CONFLICT (sha256) DO NOTHING",
			    "ttiit", hex, reason, (int64_t)now,
			    (int64_t)purge_after,
			    takedown_id ? takedown_id : "");
	return rc < 0 ? (int)rc : 0;
}

int repo_blocklist_each(struct db *db,
			int (*cb)(const char *hex, const char *reason,
				  void *arg),
			void *arg)
{
	struct db_stmt *st;
	int err = db_query(db,
			   "SELECT sha256, reason FROM blocklist ORDER BY "
			   "sha256",
			   &st, "");
	if (err)
		return err;
	while ((err = db_step(st)) == DB_ROW)
		if ((err = cb(db_col_text(st, 0), db_col_text(st, 1), arg)))
			break;
	db_done(st);
	return err < 0 ? err : 0;
}

/*
 * Lock a blob's row for a content takedown, so that no link to it is
 * created meanwhile (repo_link_create pins the row, then checks the
 * blocklist).  When there is no row (the bytes were collected), one is
 * inserted to be the lock, and *placeholder says so: delete it before
 * the commit (blob_unhold).  On PostgreSQL the insert waits for an
 * upload's uncommitted row of the same hash, then does nothing, and the
 * SELECT … FOR UPDATE locks that row once committed.
 */
static int blob_hold(struct db *db, const char *hex, int64_t size, int64_t now,
		     bool *placeholder)
{
	struct db_stmt *st;
	int64_t rc = db_run(db,
			    "INSERT INTO blobs(sha256, size, created) VALUES "
			    "($1, $2, $3) ON CONFLICT (sha256) DO NOTHING",
			    "tii", hex, size, now);
	if (rc < 0)
		return (int)rc;
	*placeholder = rc == 1;
	if (*placeholder)
		return 0;
	int err = db_get(db,
			 "SELECT sha256 FROM blobs WHERE sha256 = $1 FOR UPDATE",
			 &st, "t", hex);
	if (err == PT_ENOTFOUND) /* reaped this instant: nothing to race */
		return 0;
	if (!err)
		db_done(st);
	return err;
}

static int blob_unhold(struct db *db, const char *hex, bool placeholder)
{
	if (!placeholder)
		return 0;
	int64_t rc = db_run(db, "DELETE FROM blobs WHERE sha256 = $1", "t",
			    hex);
	return rc < 0 ? (int)rc : 0;
}

/*
 * The one takedown: the links of scope "link" (one id) or "content"
 * (every live link to hex: the blob row held first, then blocklisted with
 * the takedown's id).  *taken counts every link changed; with only_live
 * and none changed, the content is blocked with no takedown row (an
 * import of a hash nobody stores).
 */
static int takedown_run(struct db *db, const struct takedown_row *t,
			const char *link_id, const char *hex, int64_t size,
			int64_t purge_after, bool only_live,
			struct pt_pool *pool, char **affected, size_t max,
			size_t *n, int64_t *taken)
{
	struct db_stmt *st;
	bool placeholder = false;
	bool content = link_id == NULL;
	int err;

	*taken = 0;
	/* first the blob row (the lock order of repo_int.h), so that no
	 * upload of the content links it between the list and the block */
	if (content && (err = blob_hold(db, hex, size, t->created,
					&placeholder)))
		return err;
	/* the reason users see: "copyright notice REF" */
	char *why = pt_psprintf(pool, "%s%s%s", t->reason,
				*t->reference ? " " : "", t->reference);
	/* every live link in one statement (not only the first `max`, the
	 * ids reported) */
	if (content)
		err = db_query(db,
			       "UPDATE links SET state = 3, reason = $2, "
			       "takedown_id = $3, changed = $4 WHERE sha256 = $1 "
			       "AND state = 0 RETURNING id",
			       &st, "ttti", hex, why, t->id, t->created);
	else
		err = db_query(db,
			       "UPDATE links SET state = 3, reason = $2, "
			       "takedown_id = $3, changed = $4 WHERE id = $1 "
			       "AND state = 0 RETURNING id",
			       &st, "ttti", link_id, why, t->id, t->created);
	if (err)
		return err;
	while ((err = db_step(st)) == DB_ROW) {
		(*taken)++;
		if (*n < max)
			affected[(*n)++] = pt_pstrdup(pool, db_col_text(st, 0));
	}
	db_done(st);
	if (err < 0)
		return err;
	db_changed(db);
	if (only_live && *taken == 0) {
		if ((err = repo_block(db, hex, why, t->created, 0, "")))
			return err;
		return blob_unhold(db, hex, placeholder);
	}
	/* repeat infringers: one strike per owner per takedown */
	int64_t rc = db_run(db,
			    "UPDATE users SET strikes = strikes + 1 WHERE id "
			    "IN (SELECT DISTINCT owner_id FROM links WHERE "
			    "takedown_id = $1 AND owner_id <> 0)",
			    "t", t->id);
	if (rc < 0)
		return (int)rc;
	if (content && ((err = repo_block(db, hex, why, t->created,
					  purge_after, t->id)) ||
			(err = blob_unhold(db, hex, placeholder))))
		return err;
	rc = db_run(db,
		    "INSERT INTO takedowns(id, created, actor, scope, reason, "
		    "reference, sha256, purge_after) VALUES ($1, $2, $3, $4, "
		    "$5, $6, $7, $8) ON CONFLICT (id) DO NOTHING",
		    "tittttti", t->id, t->created, t->actor, t->scope,
		    t->reason, t->reference, content ? hex : "", purge_after);
	return rc < 0 ? (int)rc : 0;
}

int repo_takedown(struct db *db, const struct takedown_row *t,
		  const char *link_id, int64_t purge_after,
		  struct pt_pool *pool, char **affected, size_t max, size_t *n)
{
	struct link l;
	int64_t taken;
	int err;

	if ((err = repo_link_get(db, pool, link_id, &l)))
		return err;
	bool content = strcmp(t->scope, "content") == 0;
	return takedown_run(db, t, content ? NULL : l.id, l.sha256,
			    (int64_t)l.size, purge_after, false, pool,
			    affected, max, n, &taken);
}

int repo_takedown_hash(struct db *db, const struct takedown_row *t,
		       const char *hex, int64_t purge_after,
		       struct pt_pool *pool, char **affected, size_t max,
		       size_t *n, int64_t *taken)
{
	struct db_stmt *st;
	int64_t size = 0;
	/* the size only matters for the placeholder row of blob_hold */
	int err = db_get(db, "SELECT size FROM blobs WHERE sha256 = $1", &st,
			 "t", hex);
	if (!err) {
		size = db_col_int(st, 0);
		db_done(st);
	} else if (err != PT_ENOTFOUND) {
		return err;
	}
	return takedown_run(db, t, NULL, hex, size, purge_after, true, pool,
			    affected, max, n, taken);
}

int repo_restore(struct db *db, const char *link_id, int64_t now,
		 struct pt_pool *pool, char **takedown_id, int64_t *restored)
{
	struct db_stmt *st;
	struct link l;
	int err;

	*restored = 0;
	if ((err = repo_link_get(db, pool, link_id, &l)))
		return err;
	if (l.state != LINK_REMOVED || !*l.takedown_id)
		return PT_ECONFLICT; /* not taken down */
	*takedown_id = pt_pstrdup(pool, l.takedown_id);
	/* past its quarantine the bytes may be gone: no restore (no open
	 * takedown row: nothing holds the restore back) */
	int64_t purge = -1;
	err = db_get(db,
		     "SELECT purge_after FROM takedowns WHERE id = $1 AND "
		     "state = 0",
		     &st, "t", l.takedown_id);
	if (!err) {
		purge = db_col_int(st, 0);
		db_done(st);
	} else if (err != PT_ENOTFOUND) {
		return err;
	}
	if (purge >= 0 && purge <= now)
		return PT_EGONE;
	int64_t rc = db_run(db,
			    "UPDATE links SET state = 0, reason = '', "
			    "takedown_id = '', changed = $2 WHERE takedown_id "
			    "= $1 AND state = 3",
			    "ti", l.takedown_id, now);
	if (rc < 0)
		return (int)rc;
	*restored = rc;
	db_changed(db);
	const char *const sqls[] = {
		"DELETE FROM blocklist WHERE takedown_id = $1",
		"UPDATE takedowns SET state = 1 WHERE id = $1",
	};
	for (size_t i = 0; i < PT_ARRAY_LEN(sqls); i++)
		if ((rc = db_run(db, sqls[i], "t", l.takedown_id)) < 0)
			return (int)rc;
	return 0;
}

int64_t repo_user_strikes(struct db *db, int64_t user_id)
{
	struct db_stmt *st;
	if (db_get(db, "SELECT strikes FROM users WHERE id = $1", &st, "i",
		   user_id))
		return 0;
	int64_t n = db_col_int(st, 0);
	db_done(st);
	return n;
}

int repo_report_create(struct db *db, const struct report_row *r)
{
	int64_t rc = db_run(db,
			    "INSERT INTO reports(id, created, ip, link_id, "
			    "category, body, contact) VALUES ($1, $2, $3, $4, "
			    "$5, $6, $7)",
			    "tittttt", r->id, (int64_t)r->created, r->ip,
			    r->link_id, r->category, r->body, r->contact);
	return rc < 0 ? (int)rc : 0;
}

int repo_reports_each(struct db *db,
		      int (*cb)(const struct report_row *r, void *arg),
		      void *arg)
{
	struct db_stmt *st;
	int err = db_query(db,
			   "SELECT id, created, ip, link_id, category, body, "
			   "contact, state FROM reports ORDER BY created",
			   &st, "");
	if (err)
		return err;
	while ((err = db_step(st)) == DB_ROW) {
		struct report_row r;
		copy_fixed(r.id, sizeof(r.id), db_col_text(st, 0));
		r.created = db_col_int(st, 1);
		r.ip = db_col_text(st, 2);
		r.link_id = db_col_text(st, 3);
		r.category = db_col_text(st, 4);
		r.body = db_col_text(st, 5);
		r.contact = db_col_text(st, 6);
		r.state = db_col_text(st, 7);
		if ((err = cb(&r, arg)))
			break;
	}
	db_done(st);
	return err < 0 ? err : 0;
}

int repo_report_resolve(struct db *db, const char *id, const char *state)
{
	int64_t rc = db_run(db, "UPDATE reports SET state = $2 WHERE id = $1",
			    "tt", id, state);
	return rc < 0 ? (int)rc : rc == 1 ? 0 : PT_ENOTFOUND;
}
