/*
 * repo_hooks.c — webhooks: the hooks, the durable outbox of deliveries
 * (claimed with leases, so several nodes share it and a dead node's
 * claims pass to the others) and the log of attempts (repo.h).
 */
#include "repo_int.h"

#include "../util/pt.h"
#include "../util/banned.h"

static void hook_row(struct db_stmt *st, struct pt_pool *pool,
		     struct hook *h)
{
	copy_fixed(h->id, sizeof(h->id), db_col_text(st, 0));
	h->owner = db_col_int(st, 1);
	h->url = pt_pstrdup(pool, db_col_text(st, 2) ? db_col_text(st, 2) : "");
	h->secret = pt_pstrdup(pool, db_col_text(st, 3) ? db_col_text(st, 3)
							 : "");
	h->events = pt_pstrdup(pool, db_col_text(st, 4) ? db_col_text(st, 4)
							 : "");
	h->created = db_col_int(st, 5);
}

int repo_hook_create(struct db *db, const struct hook *h)
{
	int64_t rc = db_run(db,
			    "INSERT INTO webhooks (id, owner, url, secret, "
			    "events, created) VALUES ($1, $2, $3, $4, $5, $6)",
			    "tittti", h->id, h->owner, h->url, h->secret,
			    h->events, h->created);
	return rc < 0 ? (int)rc : 0;
}

int repo_hook_delete(struct db *db, int64_t owner, const char *id)
{
	int err;
	if ((err = db_begin(db)))
		return err;
	int64_t rc = db_run(db,
			    "DELETE FROM webhooks WHERE id = $1 AND owner = $2",
			    "ti", id, owner);
	if (rc == 0)
		rc = PT_ENOTFOUND;
	if (rc > 0)
		rc = db_run(db,
			    "DELETE FROM webhook_attempts WHERE outbox_id IN "
			    "(SELECT id FROM webhook_outbox WHERE hook_id = $1)",
			    "t", id);
	if (rc >= 0)
		rc = db_run(db, "DELETE FROM webhook_outbox WHERE hook_id = $1",
			    "t", id);
	if (rc < 0) {
		db_rollback(db);
		return (int)rc;
	}
	return db_commit(db);
}

int repo_hook_get(struct db *db, struct pt_pool *pool, int64_t owner,
		  const char *id, struct hook *out)
{
	struct db_stmt *st;
	int err = db_get(db,
			 "SELECT id, owner, url, secret, events, created FROM "
			 "webhooks WHERE id = $1 AND owner = $2",
			 &st, "ti", id, owner);
	if (err)
		return err;
	hook_row(st, pool, out);
	db_done(st);
	return 0;
}

int repo_hooks_each(struct db *db, struct pt_pool *pool, int64_t owner,
		    int (*cb)(const struct hook *h, void *arg), void *arg)
{
	struct db_stmt *st;
	int err = db_query(db,
			   "SELECT id, owner, url, secret, events, created "
			   "FROM webhooks WHERE owner = $1 ORDER BY created, "
			   "id LIMIT 1000",
			   &st, "i", owner);
	if (err)
		return err;
	while ((err = db_step(st)) == DB_ROW) {
		struct hook h;
		hook_row(st, pool, &h);
		if ((err = cb(&h, arg)))
			break;
	}
	db_done(st);
	return err < 0 || err > 0 ? err : 0;
}

int64_t repo_hooks_count(struct db *db, int64_t owner)
{
	struct db_stmt *st;
	if (db_get(db, "SELECT COUNT(*) FROM webhooks WHERE owner = $1", &st,
		   "i", owner))
		return 0;
	int64_t n = db_col_int(st, 0);
	db_done(st);
	return n;
}

int repo_hook_instance_set(struct db *db, const char *url,
			   const char *secret, const char *events,
			   int64_t now)
{
	int64_t rc;
	if (!url || !*url) {
		rc = db_run(db, "DELETE FROM webhooks WHERE id = 'instance'",
			    "");
		return rc < 0 ? (int)rc : 0;
	}
	rc = db_run(db,
		    "INSERT INTO webhooks (id, owner, url, secret, events, "
		    "created) VALUES ('instance', $1, $2, $3, $4, $5) ON "
		    "CONFLICT (id) DO UPDATE SET url = $2, secret = $3, "
		    "events = $4",
		    "ittti", (int64_t)HOOK_OWNER_INSTANCE,
		    url, secret, events, now);
	return rc < 0 ? (int)rc : 0;
}

bool repo_hook_wanted(struct db *db, int64_t owner, const char *event)
{
	struct db_stmt *st;
	int err = db_get(db,
			 "SELECT 1 FROM webhooks WHERE (owner = $1 OR owner = "
			 "-1) AND (events = 'all' OR (' ' || events || ' ') "
			 "LIKE ('% ' || CAST($2 AS TEXT) || ' %')) LIMIT 1",
			 &st, "it", owner, event);
	if (err == PT_ENOTFOUND)
		return false;
	if (!err)
		db_done(st);
	return true;
}

int64_t repo_hook_emit(struct db *db, const char *event_id, int64_t owner,
		       const char *event, const char *body, int64_t now)
{
	/* the parameters in the select list carry their types for
	 * PostgreSQL, which cannot infer them there */
	return db_run(db,
		      "INSERT INTO webhook_outbox (id, hook_id, owner, event, "
		      "body, created, next_at) SELECT CAST($1 AS TEXT) || '.' "
		      "|| id, id, CAST($2 AS BIGINT), CAST($3 AS TEXT), "
		      "CAST($4 AS TEXT), CAST($5 AS BIGINT), CAST($5 AS "
		      "BIGINT) FROM webhooks WHERE (owner = $2 OR owner = -1) "
		      "AND (events = 'all' OR (' ' || events || ' ') LIKE "
		      "('% ' || CAST($3 AS TEXT) || ' %'))",
		      "titti", event_id, owner, event, body, now);
}

static void delivery_row(struct db_stmt *st, struct pt_pool *pool,
			 struct delivery *d, bool claim)
{
	const char *t;
	memset(d, 0, sizeof(*d));
	copy_fixed(d->id, sizeof(d->id), db_col_text(st, 0));
	copy_fixed(d->hook_id, sizeof(d->hook_id), db_col_text(st, 1));
	d->event = pt_pstrdup(pool, (t = db_col_text(st, 2)) ? t : "");
	d->body = pt_pstrdup(pool, (t = db_col_text(st, 3)) ? t : "");
	d->state = pt_pstrdup(pool, (t = db_col_text(st, 4)) ? t : "");
	d->last_error = pt_pstrdup(pool, (t = db_col_text(st, 5)) ? t : "");
	d->created = db_col_int(st, 6);
	d->attempts = db_col_int(st, 7);
	d->next_at = db_col_int(st, 8);
	d->last_status = db_col_int(st, 9);
	if (claim && !db_col_null(st, 10)) {
		d->url = pt_pstrdup(pool, db_col_text(st, 10));
		d->secret = pt_pstrdup(pool, db_col_text(st, 11));
	}
}

/* Every row of st (closed here) into the pool first, since cb runs
 * statements of its own, then cb on each; cb's non-zero return stops
 * and is returned. */
static int deliveries_each(struct db_stmt *st, struct pt_pool *pool,
			   bool with_hook,
			   int (*cb)(const struct delivery *d, void *arg),
			   void *arg)
{
	struct delivery *v = NULL;
	size_t n = 0, cap = 0;
	int err;

	while ((err = db_step(st)) == DB_ROW) {
		if (n == cap) {
			cap = cap ? 2 * cap : 16;
			struct delivery *nv = pt_palloc(pool, cap * sizeof(*nv));
			if (n)
				memcpy(nv, v, n * sizeof(*nv));
			v = nv;
		}
		delivery_row(st, pool, &v[n++], with_hook);
	}
	db_done(st);
	if (err < 0)
		return err;
	for (size_t i = 0; i < n; i++)
		if ((err = cb(&v[i], arg)))
			return err;
	return 0;
}

int repo_hook_claim(struct db *db, struct pt_pool *pool, const char *holder,
		    int64_t now, int64_t lease_until, int64_t max,
		    int (*cb)(const struct delivery *d, void *arg), void *arg)
{
	struct db_stmt *st;
	/* a read first: an idle outbox costs every node no write lock */
	int err = db_get(db,
			 "SELECT 1 FROM webhook_outbox WHERE state = 'pending' "
			 "AND next_at <= $1 AND lease < $1 LIMIT 1",
			 &st, "i", now);
	if (err == PT_ENOTFOUND)
		return 0;
	if (err)
		return err;
	db_done(st);
	/* one statement decides (db.h, check-then-write): the outer WHERE
	 * is evaluated again on a row another node claimed meanwhile */
	int64_t rc = db_run(db,
			    "UPDATE webhook_outbox SET holder = $1, lease = $3 "
			    "WHERE state = 'pending' AND next_at <= $2 AND "
			    "lease < $2 AND id IN (SELECT id FROM "
			    "webhook_outbox WHERE state = 'pending' AND "
			    "next_at <= $2 AND lease < $2 ORDER BY next_at "
			    "LIMIT $4)",
			    "tiii", holder, now, lease_until, max);
	if (rc <= 0)
		return (int)rc;
	err = db_query(db,
			   "SELECT o.id, o.hook_id, o.event, o.body, o.state, "
			   "o.last_error, o.created, o.attempts, o.next_at, "
			   "o.last_status, h.url, h.secret FROM webhook_outbox "
			   "o LEFT JOIN webhooks h ON h.id = o.hook_id WHERE "
			   "o.holder = $1 AND o.lease = $2 AND o.state = "
			   "'pending' ORDER BY o.next_at",
			   &st, "ti", holder, lease_until);
	if (err)
		return err;
	return deliveries_each(st, pool, true, cb, arg);
}

int repo_hook_attempt(struct db *db, const char *id, const char *holder,
		      int64_t now, int64_t status, const char *error,
		      const char *state, int64_t next_at)
{
	int err;
	if ((err = db_begin(db)))
		return err;
	int64_t rc = db_run(db,
			    "UPDATE webhook_outbox SET attempts = attempts + 1, "
			    "state = $3, next_at = $4, last_status = $5, "
			    "last_error = $6, lease = 0, holder = '' WHERE id = "
			    "$1 AND holder = $2",
			    "tttiit", id, holder, state, next_at, status,
			    error);
	if (rc == 0)
		rc = PT_ECONFLICT;
	if (rc > 0)
		rc = db_run(db,
			    "INSERT INTO webhook_attempts (outbox_id, at, "
			    "status, error) VALUES ($1, $2, $3, $4)",
			    "tiit", id, now, status, error);
	if (rc < 0) {
		db_rollback(db);
		return (int)rc;
	}
	return db_commit(db);
}

int repo_hook_release(struct db *db, const char *prefix)
{
	int64_t rc = db_run(db,
			    "UPDATE webhook_outbox SET lease = 0, holder = '' "
			    "WHERE lease > 0 AND substr(holder, 1, "
			    "length(CAST($1 AS TEXT))) = $1",
			    "t", prefix);
	return rc < 0 ? (int)rc : 0;
}

int repo_hook_deliveries(struct db *db, struct pt_pool *pool,
			 const char *hook_id, int64_t limit,
			 int (*cb)(const struct delivery *d, void *arg),
			 void *arg)
{
	struct db_stmt *st;
	int err = db_query(db,
			   "SELECT id, hook_id, event, body, state, last_error, "
			   "created, attempts, next_at, last_status FROM "
			   "webhook_outbox WHERE hook_id = $1 ORDER BY created "
			   "DESC, id DESC LIMIT $2",
			   &st, "ti", hook_id, limit);
	if (err)
		return err;
	return deliveries_each(st, pool, false, cb, arg);
}

int repo_hook_attempts(struct db *db, const char *outbox_id,
		       int (*cb)(int64_t at, int64_t status,
				 const char *error, void *arg),
		       void *arg)
{
	struct db_stmt *st;
	int err = db_query(db,
			   "SELECT at, status, error FROM webhook_attempts "
			   "WHERE outbox_id = $1 ORDER BY at, status LIMIT 100",
			   &st, "t", outbox_id);
	if (err)
		return err;
	while ((err = db_step(st)) == DB_ROW)
		if ((err = cb(db_col_int(st, 0), db_col_int(st, 1),
			      db_col_text(st, 2) ? db_col_text(st, 2) : "",
			      arg)))
			break;
	db_done(st);
	return err < 0 || err > 0 ? err : 0;
}

int repo_links_expired_each(struct db *db, struct pt_pool *pool,
			    int64_t changed,
			    int (*cb)(const struct link *l, void *arg),
			    void *arg)
{
	struct db_stmt *st;
	int err = db_query(db,
			   "SELECT id FROM links WHERE state = 2 AND reason = "
			   "'expired' AND changed = $1 ORDER BY id LIMIT 10000",
			   &st, "i", changed);
	if (err)
		return err;
	char **ids = NULL;
	size_t n = 0, cap = 0;
	while ((err = db_step(st)) == DB_ROW) {
		if (n == cap) {
			cap = cap ? 2 * cap : 64;
			char **nv = pt_palloc(pool, cap * sizeof(*nv));
			if (n)
				memcpy(nv, ids, n * sizeof(*nv));
			ids = nv;
		}
		ids[n++] = pt_pstrdup(pool, db_col_text(st, 0));
	}
	db_done(st);
	if (err < 0)
		return err;
	for (size_t i = 0; i < n; i++) {
		struct link l;
		if (repo_link_get(db, pool, ids[i], &l))
			continue;
		if ((err = cb(&l, arg)))
			return err;
	}
	return 0;
}
