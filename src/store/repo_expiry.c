/*
 * repo_expiry.c — what gc asks of the database about links: expiring
 * them by the uploader's limits (Max-Days, Max-Downloads) and by
 * inactivity past the owner tier's retention; and the statistics of live
 * links and stored blobs.
 *
 * Expiry works in bounded batches by index (migration 13), never a
 * statement over the whole table.  Each call takes one batch of one rule:
 * it reads the next `batch` ids through a partial index that holds only
 * the rows the rule looks at, in the index's order — links_expires (live
 * links with a Max-Days), links_used_up (live links whose downloads
 * reached Max-Downloads), links_idle_anon and links_idle_owned (live
 * links by last activity, max(last_download, created)) — then expires
 * them by primary key, EXPIRE_IDS ids a statement.  A row expired leaves
 * its index, so the first three rules simply take "the first rows" again;
 * owned links are expired by their owner's tier, which lives in users, so
 * they are walked by keyset (activity, id) from the cursor (written
 * act >= a AND (act > a OR id > b), which SQLite, unlike a row value on
 * an expression, turns into an index range), and only those
 * whose tier's retention has passed change.  A rule is done when a read
 * finds fewer than `batch` rows.
 *
 * Every UPDATE repeats its rule's conditions, so a row that a concurrent
 * statement changed (a download, a delete) is judged again as it is now
 * (PostgreSQL's READ COMMITTED re-checks the WHERE on the new row).  The
 * UPDATE's id list makes the primary key the only sensible plan on both
 * engines, whatever their statistics; its repeated conditions are written
 * +col so that SQLite does not take them for an index range instead.
 */
#include "repo_int.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#include "../util/pt.h"
#include "../util/banned.h"

/* the last activity of a link: written the same way everywhere, so that
 * both engines match it to the expression indexes */
#define ACT \
	"(CASE WHEN last_download > created THEN last_download ELSE created END)"
#define EXPIRE_IDS 100

/* The cut-off of a tier's retention: links last active at or before it
 * expire; INT64_MIN when the tier keeps them forever. */
static int64_t cutoff(int64_t now, int64_t days)
{
	return days > 0 ? now - days * 86400 : INT64_MIN;
}

/* The UPDATE of each rule, for EXPIRE_IDS ids after its `params` leading
 * parameters ($1 now; rule 2: $2 the cut-off; rule 3: $2 the free tier's,
 * $3 the premium tier's).  Built once; cached by their static text. */
static const struct {
	int params;
	const char *cond;
} rules[EXPIRY_RULES] = {
	{ 1, "+state = 0 AND +expires > 0 AND +expires <= $1" },
	{ 1, "+state = 0 AND +max_downloads > 0 AND +downloads >= "
	     "+max_downloads" },
	{ 2, "+state = 0 AND +owner_id = 0 AND +" ACT " <= $2" },
	{ 3, "+state = 0 AND +owner_id <> 0 AND +" ACT " <= (SELECT CASE "
	     "WHEN u.tier = 'premium' OR u.premium_until > $1 THEN CAST($3 AS "
	     "BIGINT) ELSE CAST($2 AS BIGINT) END FROM users u WHERE u.id = "
	     "links.owner_id)" },
};
static char update_sql[EXPIRY_RULES][EXPIRE_IDS * 6 + 600];
static pthread_once_t update_once = PTHREAD_ONCE_INIT;

static void update_sql_init(void)
{
	for (int r = 0; r < EXPIRY_RULES; r++) {
		char *p = update_sql[r];
		size_t cap = sizeof(update_sql[r]);
		size_t n = (size_t)snprintf(p, cap,
					    "UPDATE links SET state = 2, reason "
					    "= 'expired', changed = $1 WHERE "
					    "id IN (");
		for (int i = 0; i < EXPIRE_IDS; i++)
			n += (size_t)snprintf(p + n, cap - n, "%s$%d",
					      i ? "," : "",
					      rules[r].params + 1 + i);
		snprintf(p + n, cap - n, ") AND %s", rules[r].cond);
	}
}

/* Expire ids[0..n) by rule r (its conditions checked again); *changed
 * gets the rows changed added. */
static int expire_ids(struct db *db, int r, int64_t now, int64_t a, int64_t b,
		      char (*ids)[ID_LEN + 1], size_t n, int64_t *changed)
{
	pthread_once(&update_once, update_sql_init);
	for (size_t off = 0; off < n; off += EXPIRE_IDS) {
		struct db_stmt *st;
		int err = db_prepare(db, update_sql[r], &st);
		if (err)
			return err;
		db_bind_int(st, 1, now);
		if (rules[r].params >= 2)
			db_bind_int(st, 2, a);
		if (rules[r].params >= 3)
			db_bind_int(st, 3, b);
		for (int i = 0; i < EXPIRE_IDS; i++)
			db_bind_text(st, rules[r].params + 1 + i,
				     off + (size_t)i < n ? ids[off + (size_t)i]
							 : "");
		err = db_step(st);
		if (err >= 0)
			*changed += db_changes(st);
		db_done(st);
		if (err < 0)
			return err;
	}
	return 0;
}

/* Read up to max ids of a query whose first column is the id (and, with
 * key, whose second is the activity: the keyset of the last row). */
static int read_ids(struct db_stmt *st, char (*ids)[ID_LEN + 1], size_t max,
		    size_t *n, int64_t *key)
{
	int err;
	*n = 0;
	while (*n < max && (err = db_step(st)) == DB_ROW) {
		copy_fixed(ids[*n], ID_LEN + 1, db_col_text(st, 0));
		if (key)
			*key = db_col_int(st, 1);
		(*n)++;
	}
	db_done(st);
	return err < 0 ? err : 0;
}

int repo_links_expire_batch(struct db *db, int64_t now, const int64_t days[3],
			    size_t batch, struct expiry_cursor *cur,
			    int64_t *expired)
{
	int64_t n = 0, a = 0, b = 0;
	size_t got = 0;
	struct db_stmt *st = NULL;
	int err = 0;

	if (cur->rule >= EXPIRY_RULES)
		return 0;
	if (batch < 1)
		batch = 1;
	char(*ids)[ID_LEN + 1] = xcalloc(batch, ID_LEN + 1);
	switch (cur->rule) {
	case 0: /* Max-Days */
		err = db_query(db,
			       "SELECT id FROM links WHERE state = 0 AND "
			       "expires > 0 AND expires <= $1 ORDER BY expires "
			       "LIMIT $2",
			       &st, "ii", now, (int64_t)batch);
		break;
	case 1: /* Max-Downloads used up (burn after reading) */
		err = db_query(db,
			       "SELECT id FROM links WHERE state = 0 AND "
			       "max_downloads > 0 AND downloads >= "
			       "max_downloads ORDER BY id LIMIT $1",
			       &st, "i", (int64_t)batch);
		break;
	case 2: /* anonymous links idle past their retention */
		a = cutoff(now, days[0]);
		if (days[0] > 0)
			err = db_query(db,
				       "SELECT id FROM links WHERE state = 0 "
				       "AND owner_id = 0 AND " ACT
				       " <= $1 ORDER "
				       "BY " ACT ", id LIMIT $2",
				       &st, "ii", a, (int64_t)batch);
		break;
	case 3: /* owned links, by the owner's tier: keyset walk */
		a = cutoff(now, days[1]);
		b = cutoff(now, days[2]);
		if (days[1] > 0 || days[2] > 0)
			err = db_query(db,
				       "SELECT id, " ACT " FROM links WHERE "
				       "state = 0 AND owner_id <> 0 AND " ACT
				       " <= $1 AND " ACT " >= $2 AND (" ACT
				       " > $2 OR id > $3) "
				       "ORDER BY " ACT ", id LIMIT $4",
				       &st, "iiti", a > b ? a : b, cur->act,
				       cur->id, (int64_t)batch);
		break;
	}
	if (!err && st)
		err = read_ids(st, ids, batch, &got,
			       cur->rule == 3 ? &cur->act : NULL);
	if (!err && got && cur->rule == 3)
		copy_fixed(cur->id, sizeof(cur->id), ids[got - 1]);
	if (!err && got)
		err = expire_ids(db, cur->rule, now, a, b, ids, got, &n);
	free(ids);
	if (err)
		return err;
	if (n)
		db_changed(db);
	*expired += n;
	if (got < batch) { /* the rule is through */
		cur->rule++;
		cur->act = INT64_MIN;
		cur->id[0] = '\0';
	}
	return 0;
}

int repo_links_expire(struct db *db, int64_t now,
		      const int64_t retention_days[3], int64_t *expired)
{
	struct expiry_cursor cur = { .rule = 0, .act = INT64_MIN };
	int err = 0;

	*expired = 0;
	while (!err && cur.rule < EXPIRY_RULES)
		err = repo_links_expire_batch(db, now, retention_days,
					      EXPIRY_BATCH, &cur, expired);
	return err;
}

int repo_stats(struct db *db, struct repo_stats *out)
{
	struct db_stmt *st;
	int err;

	memset(out, 0, sizeof(*out));
	/* the counters the triggers keep (migration 14): a few thousand
	 * rows, whatever the size of links and blobs */
	err = db_query(db,
		       "SELECT kind, COALESCE(SUM(n), 0), COALESCE(SUM(bytes), "
		       "0) FROM stats GROUP BY kind",
		       &st, "");
	if (err)
		return err;
	while ((err = db_step(st)) == DB_ROW) {
		const char *kind = db_col_text(st, 0);
		if (strcmp(kind, "links") == 0) {
			out->live_links = db_col_int(st, 1);
			out->logical_bytes = db_col_int(st, 2);
		} else if (strcmp(kind, "blobs") == 0) {
			out->blobs = db_col_int(st, 1);
			out->stored_bytes = db_col_int(st, 2);
		}
	}
	db_done(st);
	return err < 0 ? err : 0;
}

/* The shards: a link id's first 2 characters ([0-9A-Za-z], ids.h), a
 * blob hash's first 3 (hex). */
static const char alnum[] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklm"
			    "nopqrstuvwxyz";
static const char hexdig[] = "0123456789abcdef";
#define LINK_SHARDS (62 * 62)
#define BLOB_SHARDS (16 * 16 * 16)

/* Recount one shard, exactly: lock its row first (created if missing),
 * so that writers of that shard wait at their trigger, then count in a
 * new statement, which sees every change committed before the lock. */
static int reconcile_one(struct db *db, bool links, const char *shard,
			 bool *fixed)
{
	struct db_stmt *st;
	int64_t n0, b0, n1, b1;
	const char *kind = links ? "links" : "blobs";
	int err;

	*fixed = false;
	if ((err = db_begin(db)))
		return err;
	int64_t rc = db_run(db,
			    "INSERT INTO stats(kind, shard, n, bytes) VALUES "
			    "($1, $2, 0, 0) ON CONFLICT (kind, shard) DO "
			    "UPDATE SET n = stats.n",
			    "tt", kind, shard);
	if (rc < 0) {
		err = (int)rc;
		goto fail;
	}
	if ((err = db_get(db,
			  "SELECT n, bytes FROM stats WHERE kind = $1 AND "
			  "shard = $2",
			  &st, "tt", kind, shard)))
		goto fail;
	n0 = db_col_int(st, 0);
	b0 = db_col_int(st, 1);
	db_done(st);
	if (links) {
		err = db_get(db,
			     "SELECT COUNT(*), COALESCE(SUM(size), 0) FROM "
			     "links WHERE state = 0 AND substr(id, 1, 2) = $1",
			     &st, "t", shard);
	} else {
		/* hex sorts the same in every collation: a range of the
		 * primary key, and the prefix itself for exactness */
		char hi[4] = { shard[0], shard[1], shard[2], 0 };
		int i = 2;
		while (i >= 0 && hi[i] == 'f')
			hi[i--] = '\0';
		if (i < 0)
			hi[0] = 'g', hi[1] = '\0'; /* after every hash */
		else
			hi[i] = hi[i] == '9' ? 'a' : (char)(hi[i] + 1);
		err = db_get(db,
			     "SELECT COUNT(*), COALESCE(SUM(size), 0) FROM "
			     "blobs WHERE sha256 >= $1 AND sha256 < $2 AND "
			     "substr(sha256, 1, 3) = $1",
			     &st, "tt", shard, hi);
	}
	if (err)
		goto fail;
	n1 = db_col_int(st, 0);
	b1 = db_col_int(st, 1);
	db_done(st);
	if (n1 != n0 || b1 != b0) {
		rc = db_run(db,
			    "UPDATE stats SET n = $3, bytes = $4 WHERE kind = "
			    "$1 AND shard = $2",
			    "ttii", kind, shard, n1, b1);
		if (rc < 0) {
			err = (int)rc;
			goto fail;
		}
		*fixed = true;
		pt_log("stats: %s shard '%s' counted %lld (%lld bytes), the "
		       "counters said %lld (%lld bytes): set to the count",
		       kind, shard, (long long)n1, (long long)b1, (long long)n0,
		       (long long)b0);
	}
	return db_commit(db);
fail:
	db_rollback(db);
	return err;
}

int repo_stats_reconcile(struct db *db, unsigned shards, unsigned *cursor,
			 int64_t *fixed)
{
	for (unsigned k = 0; k < shards; k++) {
		unsigned i = *cursor % (LINK_SHARDS + BLOB_SHARDS);
		bool links = i < LINK_SHARDS, f;
		char shard[4] = { 0 };
		if (links) {
			shard[0] = alnum[i / 62];
			shard[1] = alnum[i % 62];
		} else {
			i -= LINK_SHARDS;
			shard[0] = hexdig[i / 256];
			shard[1] = hexdig[(i / 16) % 16];
			shard[2] = hexdig[i % 16];
		}
		int err = reconcile_one(db, links, shard, &f);
		if (err)
			return err;
		*cursor = (*cursor + 1) % (LINK_SHARDS + BLOB_SHARDS);
		if (f)
			(*fixed)++;
	}
	return 0;
}
