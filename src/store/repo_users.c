/*
 * repo_users.c — accounts: users and their setters of one column each
 * (never a whole row read earlier written back), the count of failed
 * logins that every node shares, sessions and API tokens, vouchers, and
 * the account row's lock (repo_user_lock) that guards every decision on
 * an account's sums.
 */
#include "repo_int.h"

#include "../util/pt.h"
#include "../util/banned.h"

/* Lock the account's row until the transaction ends: the guard of every
 * decision on the account's sums (points, storage used) — see db.h's
 * check-then-write.  It comes last in the lock order (repo_int.h). */
int repo_user_lock(struct db *db, int64_t user_id)
{
	struct db_stmt *st;
	int err = db_get(db, "SELECT id FROM users WHERE id = $1 FOR UPDATE",
			 &st, "i", user_id);
	if (!err)
		db_done(st);
	return err;
}

int repo_login_attempt(struct db *db, const char *name, int64_t now,
		       int64_t window, int64_t *n, int64_t *since)
{
	struct db_stmt *st;
	/* one statement: concurrent attempts on any node each get their own
	 * count, so none slips through between a check and a count */
	int err = db_get(db,
			 "INSERT INTO login_failures (name, since, n) "
			 "VALUES ($1, $2, 1) ON CONFLICT (name) DO UPDATE SET "
			 "n = CASE WHEN login_failures.since <= $3 THEN 1 "
			 "ELSE login_failures.n + 1 END, "
			 "since = CASE WHEN login_failures.since <= $3 THEN $2 "
			 "ELSE login_failures.since END "
			 "RETURNING n, since",
			 &st, "tii", name, now, now - window);
	if (err)
		return err;
	*n = db_col_int(st, 0);
	*since = db_col_int(st, 1);
	db_done(st);
	return 0;
}

int repo_login_refund(struct db *db, const char *name)
{
	int64_t k = db_run(db,
			   "UPDATE login_failures SET n = n - 1 "
			   "WHERE name = $1 AND n > 0",
			   "t", name);
	return k < 0 ? (int)k : 0;
}

int repo_login_failures_expire(struct db *db, int64_t before)
{
	int64_t k = db_run(db, "DELETE FROM login_failures WHERE since < $1",
			   "i", before);
	return k < 0 ? (int)k : 0;
}

static void user_from_row(struct db_stmt *st, struct pt_pool *pool,
			  struct user *u)
{
	u->id = db_col_int(st, 0);
	u->name = pt_pstrdup(pool, db_col_text(st, 1));
	u->pwhash = pt_pstrdup(pool, db_col_text(st, 2));
	u->tier = pt_pstrdup(pool, db_col_text(st, 3));
	u->premium_until = db_col_int(st, 4);
	u->role = pt_pstrdup(pool, db_col_text(st, 5));
	u->disabled = db_col_int(st, 6) != 0;
	u->direct_downloads = db_col_int(st, 7) != 0;
	u->created = db_col_int(st, 8);
}

#define USER_COLS                                                 \
	"id, name, pwhash, tier, premium_until, role, disabled, " \
	"direct_downloads, created"

int repo_user_create(struct db *db, const struct user *u)
{
	int64_t rc = db_run(db,
			    "INSERT INTO users(id, name, pwhash, tier, "
			    "premium_until, role, created) VALUES ($1, $2, $3, "
			    "$4, $5, $6, $7)",
			    "itttiti", (int64_t)u->id, u->name, u->pwhash,
			    u->tier, (int64_t)u->premium_until, u->role,
			    (int64_t)u->created);
	return rc < 0 ? (int)rc : 0;
}

int repo_user_by_name(struct db *db, struct pt_pool *pool, const char *name,
		      struct user *out)
{
	struct db_stmt *st;
	int err = db_get(db, "SELECT " USER_COLS " FROM users WHERE name = $1",
			 &st, "t", name);
	if (err)
		return err;
	user_from_row(st, pool, out);
	db_done(st);
	return 0;
}

int repo_user_by_id(struct db *db, struct pt_pool *pool, int64_t id,
		    struct user *out)
{
	struct db_stmt *st;
	int err = db_get(db, "SELECT " USER_COLS " FROM users WHERE id = $1",
			 &st, "i", (int64_t)id);
	if (err)
		return err;
	user_from_row(st, pool, out);
	db_done(st);
	return 0;
}

int repo_user_by_token(struct db *db, struct pt_pool *pool, const char *hash,
		       int64_t now, struct user *out, struct token_row *tok)
{
	struct db_stmt *st;
	int err = db_get(
		db,
		"SELECT u.id, u.name, u.pwhash, u.tier, u.premium_until, "
		"u.role, u.disabled, u.direct_downloads, u.created, t.id, "
		"t.kind, t.csrf, t.expires, t.label, t.created, t.last_used "
		"FROM tokens t JOIN users u ON "
		"u.id = t.user_id WHERE t.hash = $1 AND (t.expires = 0 OR "
		"t.expires > $2)",
		&st, "ti", hash, (int64_t)now);
	if (err)
		return err;
	user_from_row(st, pool, out);
	if (tok) {
		copy_fixed(tok->id, sizeof(tok->id), db_col_text(st, 9));
		tok->kind = pt_pstrdup(pool, db_col_text(st, 10));
		tok->csrf = pt_pstrdup(pool, db_col_text(st, 11));
		tok->expires = db_col_int(st, 12);
		tok->label = pt_pstrdup(pool, db_col_text(st, 13));
		tok->created = db_col_int(st, 14);
		tok->last_used = db_col_int(st, 15);
	}
	db_done(st);
	return 0;
}

int repo_user_premium_extend(struct db *db, int64_t id, int64_t now,
			     int64_t days, int64_t *until)
{
	struct db_stmt *st;
	/* one statement: the extension counts from the end the row has
	 * when it is written, so two extensions at once both add */
	int err = db_get(db,
			 "UPDATE users SET premium_until = CASE WHEN "
			 "premium_until > $2 THEN premium_until ELSE $2 END + "
			 "$3 WHERE id = $1 RETURNING premium_until",
			 &st, "iii", id, now, days * 86400);
	if (err)
		return err;
	if (until)
		*until = db_col_int(st, 0);
	db_done(st);
	return 0;
}

int repo_user_set_tier(struct db *db, int64_t id, const char *tier)
{
	/* free ends premium time too; premium leaves it be */
	int64_t rc = db_run(db,
			    "UPDATE users SET tier = $2, premium_until = CASE "
			    "WHEN $2 = 'free' THEN 0 ELSE premium_until END "
			    "WHERE id = $1",
			    "it", id, tier);
	return rc < 0 ? (int)rc : rc == 1 ? 0 : PT_ENOTFOUND;
}

int repo_user_set_role(struct db *db, int64_t id, const char *role)
{
	int64_t rc = db_run(db, "UPDATE users SET role = $2 WHERE id = $1",
			    "it", id, role);
	return rc < 0 ? (int)rc : rc == 1 ? 0 : PT_ENOTFOUND;
}

int repo_user_set_disabled(struct db *db, int64_t id, bool disabled)
{
	int64_t rc = db_run(db, "UPDATE users SET disabled = $2 WHERE id = $1",
			    "ii", id, (int64_t)(disabled ? 1 : 0));
	return rc < 0 ? (int)rc : rc == 1 ? 0 : PT_ENOTFOUND;
}

int repo_user_set_direct_downloads(struct db *db, int64_t id, bool on)
{
	int64_t rc = db_run(
		db, "UPDATE users SET direct_downloads = $2 WHERE id = $1",
		"ii", (int64_t)id, (int64_t)(on ? 1 : 0));
	return rc < 0 ? (int)rc : rc == 1 ? 0 : PT_ENOTFOUND;
}

int repo_user_password_change(struct db *db, int64_t id, const char *old,
			      const char *pwhash)
{
	int err;
	if ((err = db_begin(db)))
		return err;
	/* compare and swap: a change that checked a hash replaced
	 * meanwhile changes nothing */
	int64_t rc = db_run(db,
			    "UPDATE users SET pwhash = $3 WHERE id = $1 AND "
			    "pwhash = $2",
			    "itt", id, old, pwhash);
	if (rc < 0) {
		err = (int)rc;
		goto fail;
	}
	if (rc != 1) {
		err = PT_ECONFLICT;
		goto fail;
	}
	/* with the row locked by the update: a login that checked the old
	 * hash either made its token before (deleted here) or waits and
	 * then finds the hash changed (repo_token_create) */
	rc = db_run(db, "DELETE FROM tokens WHERE user_id = $1", "i", id);
	if (rc < 0) {
		err = (int)rc;
		goto fail;
	}
	return db_commit(db);
fail:
	db_rollback(db);
	return err;
}

int repo_users_each(struct db *db, struct pt_pool *pool,
		    int (*cb)(const struct user *u, void *arg), void *arg)
{
	struct db_stmt *st;
	int err = db_query(db, "SELECT " USER_COLS " FROM users ORDER BY name",
			   &st, "");
	if (err)
		return err;
	while ((err = db_step(st)) == DB_ROW) {
		struct user u;
		user_from_row(st, pool, &u);
		if ((err = cb(&u, arg)))
			break;
	}
	db_done(st);
	return err < 0 ? err : 0;
}

int repo_token_create(struct db *db, const struct token_row *t, int64_t user_id,
		      const char *hash, int64_t now, const char *pwhash)
{
	/* one statement, conditional on what the caller checked; the users
	 * row is locked (PostgreSQL: a password change or a disable waits
	 * for this insert, or this waits for it and sees the new row) */
	int64_t rc = db_run(db,
			    "INSERT INTO tokens(id, user_id, hash, kind, csrf, "
			    "created, expires, label) SELECT CAST($1 AS TEXT), "
			    "id, CAST($3 AS TEXT), CAST($4 AS TEXT), "
			    "CAST($5 AS TEXT), CAST($6 AS BIGINT), "
			    "CAST($7 AS BIGINT), CAST($8 AS TEXT) FROM users "
			    "WHERE id = $2 AND pwhash = $9 AND disabled = 0 "
			    "FOR UPDATE",
			    "titttiitt", t->id, (int64_t)user_id, hash, t->kind,
			    t->csrf ? t->csrf : "", (int64_t)now,
			    (int64_t)t->expires, t->label ? t->label : "",
			    pwhash);
	return rc < 0 ? (int)rc : rc == 1 ? 0 : PT_ENOTFOUND;
}

int repo_token_touch(struct db *db, const char *id, int64_t now, int64_t every)
{
	int64_t rc = db_run(db,
			    "UPDATE tokens SET last_used = $2 WHERE id = $1 "
			    "AND last_used <= $3",
			    "tii", id, (int64_t)now, (int64_t)(now - every));
	return rc < 0 ? (int)rc : 0;
}

int repo_token_delete(struct db *db, const char *id, int64_t user_id)
{
	int64_t rc = db_run(db,
			    "DELETE FROM tokens WHERE id = $1 AND user_id = $2",
			    "ti", id, (int64_t)user_id);
	return rc < 0 ? (int)rc : rc == 1 ? 0 : PT_ENOTFOUND;
}

int repo_user_tokens_each(struct db *db, int64_t user_id,
			  int (*cb)(const struct token_row *t, void *arg),
			  void *arg)
{
	struct db_stmt *st;
	int err = db_query(db,
			   "SELECT id, created, label, last_used FROM tokens "
			   "WHERE user_id = $1 AND kind = 'api' "
			   "ORDER BY created, id",
			   &st, "i", user_id);
	if (err)
		return err;
	while ((err = db_step(st)) == DB_ROW) {
		struct token_row t = {
			.kind = "api",
			.created = db_col_int(st, 1),
			.label = (char *)db_col_text(st, 2),
			.last_used = db_col_int(st, 3),
		};
		copy_fixed(t.id, sizeof(t.id), db_col_text(st, 0));
		if ((err = cb(&t, arg)))
			break;
	}
	db_done(st);
	return err < 0 ? err : 0;
}

int repo_user_tokens_revoke(struct db *db, int64_t user_id)
{
	int64_t rc = db_run(db, "DELETE FROM tokens WHERE user_id = $1", "i",
			    (int64_t)user_id);
	return rc < 0 ? (int)rc : 0;
}

int64_t repo_user_used_bytes(struct db *db, int64_t user_id, int64_t now)
{
	struct db_stmt *st;
	/* what can still be downloaded: not the links that gc has yet to
	 * expire */
	if (db_get(db,
		   "SELECT COALESCE(SUM(size), 0) FROM links WHERE "
		   "owner_id = $1 AND state = 0 AND (expires = 0 OR "
		   "expires > $2) AND (max_downloads = 0 OR downloads < "
		   "max_downloads)",
		   &st, "ii", user_id, now))
		return -1;
	int64_t n = db_col_int(st, 0);
	db_done(st);
	return n;
}

int repo_voucher_create(struct db *db, const char *hash, int64_t days,
			int64_t now)
{
	int64_t rc = db_run(db,
			    "INSERT INTO vouchers(hash, days, created) "
			    "VALUES ($1, $2, $3)",
			    "tii", hash, (int64_t)days, (int64_t)now);
	return rc < 0 ? (int)rc : 0;
}

int repo_voucher_redeem(struct db *db, const char *hash, int64_t user_id,
			int64_t now, int64_t *days)
{
	struct db_stmt *st;
	int err;

	if ((err = db_begin(db)))
		return err;
	/* the conditional update is the "once": a second redeem changes
	 * no row */
	int64_t changed = db_run(db,
				 "UPDATE vouchers SET redeemed_by = $2, "
				 "redeemed_at = $3 WHERE hash = $1 AND "
				 "redeemed_by = 0",
				 "tii", hash, user_id, now);
	if (changed != 1) {
		err = changed < 0 ? (int)changed : PT_ENOTFOUND;
		goto fail;
	}
	/* the row this transaction just changed */
	if ((err = db_get(db, "SELECT days FROM vouchers WHERE hash = $1", &st,
			  "t", hash)))
		goto fail;
	*days = db_col_int(st, 0);
	db_done(st);
	if ((err = repo_user_premium_extend(db, user_id, now, *days, NULL)))
		goto fail;
	return db_commit(db);
fail:
	db_rollback(db);
	return err;
}
