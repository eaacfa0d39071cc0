/*
 * repo_links.c — the link rows: adding one (repo_link_add's steps, in the
 * transaction of repo_link_create or repo_upload_complete), reading it,
 * counting its downloads, the byte budget of a Max-Downloads link, delete
 * and rename, and the link checker's one query for many ids.  Every
 * decision on a link (the last download, the budget) is one conditional
 * UPDATE, so requests on any number of nodes cannot overdraw it.
 */
#include "repo_int.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "../util/pt.h"
#include "../util/banned.h"

static int link_insert(struct db *db, const struct link *l)
{
	int64_t rc = db_run(
		db,
		"INSERT INTO links(id, sha256, name, mime, size, "
		"created, expires, max_downloads, delete_hash, "
		"owner_id, password_hash, folder_id, request_id) VALUES "
		"($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
		"ttttiiiititt" "t", l->id, l->sha256, l->name, l->mime,
		(int64_t)l->size, (int64_t)l->created, (int64_t)l->expires,
		(int64_t)l->max_downloads, l->delete_hash, (int64_t)l->owner,
		l->password_hash ? l->password_hash : "", l->folder_id,
		l->request_id ? l->request_id : "");
	return rc < 0 ? (int)rc : 0;
}

/* The storage quota, checked where it cannot be raced: the owner's row is
 * locked before the sum, so two uploads of one account are serialised
 * here and the second sees the first. */
static int quota_check(struct db *db, const struct link *l)
{
	int err;
	if (!l->owner || !l->quota_bytes)
		return 0;
	if ((err = repo_user_lock(db, l->owner)) && err != PT_ENOTFOUND)
		return err;
	int64_t used = repo_user_used_bytes(db, l->owner, l->created);
	if (used < 0)
		return PT_EINTERNAL;
	if ((uint64_t)used + l->size > l->quota_bytes)
		return PT_ENOSPACE;
	return 0;
}

/* The steps in the lock order of repo_int.h. */
int repo_link_add(struct db *db, struct link *l, int (*ensure)(void *arg),
		  void *arg)
{
	int err;
	/* a file request's place is taken before the folder is held: it
	 * names the folder (the request row's lock comes after the blob
	 * row's and before the folder lock, in repo_int.h's order) */
	if ((err = repo_blob_pin(db, l)) ||
	    (err = repo_blocked_check(db, l->sha256)) ||
	    (l->request_id && *l->request_id &&
	     (err = repo_request_take(db, l->request_id, (int64_t)l->size,
				      l->created, l->folder_id))) ||
	    (err = repo_folder_hold(db, l)) || (err = quota_check(db, l)))
		return err;
	/* holding the row: gc cannot delete the blob now; put it back if it
	 * did just before */
	if (ensure && (err = ensure(arg)))
		return err;
	return link_insert(db, l);
}

int repo_link_create(struct db *db, struct link *l, int (*ensure)(void *arg),
		     void *arg)
{
	int err;

	if ((err = db_begin(db)))
		return err;
	if ((err = repo_link_add(db, l, ensure, arg)))
		goto fail;
	return db_commit(db);
fail:
	db_rollback(db);
	return err;
}

int repo_link_get(struct db *db, struct pt_pool *pool, const char *id,
		  struct link *out)
{
	struct db_stmt *st;
	int err = db_get(db,
			 "SELECT id, sha256, name, mime, size, created, "
			 "expires, max_downloads, downloads, last_download, "
			 "delete_hash, owner_id, state, reason, takedown_id, "
			 "password_hash, folder_id, COALESCE((SELECT "
			 "scan_state FROM blobs b WHERE b.sha256 = "
			 "links.sha256), 0) FROM links WHERE id = $1",
			 &st, "t", id);
	if (err)
		return err;
	copy_fixed(out->id, sizeof(out->id), db_col_text(st, 0));
	copy_fixed(out->sha256, sizeof(out->sha256), db_col_text(st, 1));
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
	copy_fixed(out->takedown_id, sizeof(out->takedown_id),
		   db_col_text(st, 14));
	out->password_hash = pt_pstrdup(pool, db_col_text(st, 15));
	copy_fixed(out->folder_id, sizeof(out->folder_id), db_col_text(st, 16));
	out->scan_state = (int)db_col_int(st, 17);
	out->request_id = NULL;
	db_done(st);
	return 0;
}

enum link_state link_effective_state(const struct link *l, int64_t now,
				     const char **reason)
{
	if (l->state != LINK_LIVE) {
		*reason = l->reason && *l->reason    ? l->reason
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
	/* one statement, so two concurrent takes of the last download
	 * cannot both succeed */
	int64_t rc = db_run(db,
			    "UPDATE links SET downloads = downloads + 1, "
			    "last_download = $2 WHERE id = $1 AND state = 0 "
			    "AND (expires = 0 OR expires > $2) AND "
			    "(max_downloads = 0 OR downloads < max_downloads)",
			    "ti", id, now);
	return rc < 0 ? (int)rc : rc == 1 ? 0 : PT_EGONE;
}

int repo_link_add_downloads(struct db *db, const char *id, int64_t n,
			    int64_t last)
{
	int64_t rc = db_run(db,
			    "UPDATE links SET downloads = downloads + $2, "
			    "last_download = $3 WHERE id = $1",
			    "tii", id, (int64_t)n, (int64_t)last);
	return rc < 0 ? (int)rc : 0;
}

/* ---- the byte budget of Max-Downloads links (burn after reading) ----
 * Every statement is one conditional UPDATE on the link row, so requests
 * on any number of nodes sharing the store cannot overdraw it. */

int repo_link_budget_take(struct db *db, const char *id,
			  const struct link_budget *b, uint64_t bytes,
			  const char *client, int64_t now, int64_t *sent)
{
	struct db_stmt *st;
	/* $2 bytes, $3 the budget, $4 where the last download begins, $5
	 * the client.  SET reads the old row in both dialects. */
	int err = db_get(db,
			 "UPDATE links SET budget_sent = budget_sent + $2, "
			 "budget_open = budget_open + $2, "
			 "budget_holder = CASE WHEN budget_sent + $2 > $4 AND "
			 "budget_holder = '' THEN $5 ELSE budget_holder END, "
			 "last_download = $6 "
			 "WHERE id = $1 AND state = 0 AND "
			 "(expires = 0 OR expires > $6) AND "
			 "downloads < max_downloads AND "
			 "budget_sent + $2 <= $3 AND "
			 "(budget_sent + $2 <= $4 OR budget_holder = '' OR "
			 "budget_holder = $5) "
			 "RETURNING budget_sent",
			 &st, "tiiiti", id, (int64_t)bytes, b->total,
			 b->last_from, client, now);
	if (err == PT_ENOTFOUND) {
		/* refused: say why (a second read, for the message only) */
		err = db_get(db,
			     "SELECT budget_holder, downloads, max_downloads "
			     "FROM links WHERE id = $1",
			     &st, "t", id);
		if (err)
			return err == PT_ENOTFOUND ? PT_EGONE : err;
		const char *h = db_col_text(st, 0);
		bool other = h && *h && strcmp(h, client) != 0 &&
			     db_col_int(st, 1) < db_col_int(st, 2);
		db_done(st);
		return other ? PT_ECONFLICT : PT_EGONE;
	}
	if (err)
		return err;
	if (sent)
		*sent = db_col_int(st, 0);
	db_done(st);
	return 0;
}

int repo_link_budget_give(struct db *db, const char *id,
			  const struct link_budget *b, uint64_t reserved,
			  uint64_t unsent, uint64_t slack)
{
	/* GRANT = the resume allowance given now, capped by what is left of
	 * b->slack.  downloads = the whole copies delivered: the bytes
	 * charged and no longer in flight, plus the allowance given (those
	 * bytes went out too; the budget just lets them go again).  It
	 * cannot pass max_downloads by more than the allowance's one copy,
	 * and expiry needs only >=. */
#define GRANT                                                       \
	"(CASE WHEN budget_slack + $4 > $5 THEN $5 - budget_slack " \
	"ELSE $4 END)"
	int64_t rc = db_run(
		db,
		"UPDATE links SET "
		"budget_sent = budget_sent - $3 - " GRANT ", "
		"budget_open = budget_open - $2, "
		"budget_slack = budget_slack + " GRANT ", "
		"downloads = (budget_sent - $3 + budget_slack - budget_open + "
		"$2) / $6 WHERE id = $1",
		"tiiiii", id, (int64_t)reserved, (int64_t)unsent,
		(int64_t)slack, b->slack, b->size);
#undef GRANT
	return rc < 0 ? (int)rc : 0;
}

int repo_link_delete(struct db *db, const char *id, const char *reason,
		     int64_t now)
{
	int64_t rc = db_run(db,
			    "UPDATE links SET state = 1, reason = $2, "
			    "changed = $3 WHERE id = $1 AND state = 0",
			    "tti", id, reason, (int64_t)now);
	db_changed(db);
	return rc < 0 ? (int)rc : rc == 1 ? 0 : PT_ENOTFOUND;
}

int repo_link_rename(struct db *db, const char *id, const char *name)
{
	int64_t rc = db_run(db,
			    "UPDATE links SET name = $2 WHERE id = $1 AND "
			    "state = 0",
			    "tt", id, name);
	db_changed(db);
	return rc < 0 ? (int)rc : rc == 1 ? 0 : PT_ENOTFOUND;
}

/* One statement for up to REPO_CHECK_MAX ids: built once, cached like the
 * literals (the driver keys its cache on the text's address).  Its
 * parameters are an array, not db_query's fixed list: it is the repo's one
 * db_prepare with bindings by hand. */
static char check_sql[REPO_CHECK_MAX * 6 + 200];
static pthread_once_t check_once = PTHREAD_ONCE_INIT;

static void check_sql_init(void)
{
	size_t n = (size_t)snprintf(check_sql, sizeof(check_sql),
				    "SELECT id, name, size, state, reason, "
				    "expires, max_downloads, downloads, "
				    "password_hash FROM "
				    "links WHERE id IN (");
	for (int i = 1; i <= REPO_CHECK_MAX; i++)
		n += (size_t)snprintf(check_sql + n, sizeof(check_sql) - n,
				      "%s$%d", i > 1 ? "," : "", i);
	snprintf(check_sql + n, sizeof(check_sql) - n, ")");
}

int repo_links_check(struct db *db, struct pt_pool *pool, const char **ids,
		     size_t n, struct link *out, bool *found)
{
	struct db_stmt *st;
	int err;

	PT_ASSERT(n <= REPO_CHECK_MAX);
	pthread_once(&check_once, check_sql_init);
	if ((err = db_prepare(db, check_sql, &st)))
		return err;
	for (int i = 1; i <= REPO_CHECK_MAX; i++)
		db_bind_text(st, i, (size_t)i <= n ? ids[i - 1] : "");
	for (size_t i = 0; i < n; i++)
		found[i] = false;
	while ((err = db_step(st)) == DB_ROW) {
		const char *id = db_col_text(st, 0);
		for (size_t i = 0; i < n; i++) {
			if (found[i] || strcmp(ids[i], id) != 0)
				continue;
			struct link *l = &out[i];
			memset(l, 0, sizeof(*l));
			copy_fixed(l->id, sizeof(l->id), id);
			l->name = pt_pstrdup(pool, db_col_text(st, 1));
			l->size = (uint64_t)db_col_int(st, 2);
			l->state = (enum link_state)db_col_int(st, 3);
			l->reason = pt_pstrdup(pool, db_col_text(st, 4));
			l->expires = db_col_int(st, 5);
			l->max_downloads = db_col_int(st, 6);
			l->downloads = db_col_int(st, 7);
			l->password_hash = pt_pstrdup(pool, db_col_text(st, 8));
			found[i] = true; /* duplicates in the input all match */
		}
	}
	db_done(st);
	return err < 0 ? err : 0;
}
