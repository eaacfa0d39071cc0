/*
 * repo_expiry.c — what gc asks of the database about links: expiring
 * them by the uploader's limits (Max-Days, Max-Downloads) and by
 * inactivity past the owner tier's retention; and the statistics of live
 * links and stored blobs.
 *
 * Expiry works in bounded batches by index (migration 13), never a
 * statement over the whole table: each rule changes at most `batch` rows
 * per call, found through a partial index that holds only the rows the
 * rule looks at — links_expires (live links with a Max-Days), links_used_up
 * (live links whose downloads reached Max-Downloads), links_idle_anon and
 * links_idle_owned (live links by last activity, max(last_download,
 * created)).  The first three lose a row as soon as it is expired, so each
 * batch is simply "the first `batch` rows"; owned links are expired by
 * their owner's tier, which lives in users, so they are walked by keyset
 * (activity, id) from the cursor and only the ones whose tier's retention
 * has passed change.  Every UPDATE repeats its rule's conditions, so a
 * row that a concurrent statement changed (a download) is judged again
 * as it is now (PostgreSQL's READ COMMITTED re-checks the WHERE).
 */
#include "repo_int.h"

#include "../util/pt.h"
#include "../util/banned.h"

/* the last activity of a link: written the same way everywhere, so that
 * both engines match it to the expression indexes */
#define ACT \
	"(CASE WHEN last_download > created THEN last_download ELSE created END)"
#define EXPIRE "UPDATE links SET state = 2, reason = 'expired', changed = $1 "

/* The cut-off of a tier's retention: links last active at or before it
 * expire; INT64_MIN when the tier keeps them forever. */
static int64_t cutoff(int64_t now, int64_t days)
{
	return days > 0 ? now - days * 86400 : INT64_MIN;
}

/* A rule whose rows leave its index when expired: one batch.  $1 now,
 * $2 batch, $3 (when fmt has it) the cut-off. */
static int simple(struct db *db, const char *sql, const char *fmt, int64_t now,
		  int64_t cut, size_t batch, int64_t *changed)
{
	int64_t rc = db_run(db, sql, fmt, now, (int64_t)batch, cut);
	if (rc < 0)
		return (int)rc;
	*changed = rc;
	return 0;
}

/* Owned links: the next `batch` of links_idle_owned after the cursor
 * (a.k.a. keyset pagination), expired when their owner's tier says so. */
static int owned(struct db *db, int64_t now, const int64_t days[3],
		 size_t batch, struct expiry_cursor *cur, int64_t *changed,
		 bool *last)
{
	int64_t free_cut = cutoff(now, days[1]),
		prem_cut = cutoff(now, days[2]);
	int64_t cut = free_cut > prem_cut ? free_cut : prem_cut;
	int64_t upper_act = cut;
	char upper_id[ID_LEN + 1] = "";
	struct db_stmt *st;

	/* where this batch ends: its last row's key, or the end of the
	 * rule's range when fewer than batch rows are left */
	int err = db_get(db,
			 "SELECT " ACT ", id FROM links WHERE state = 0 AND "
			 "owner_id <> 0 AND " ACT " <= $1 AND (" ACT ", id) > "
			 "($2, $3) ORDER BY " ACT ", id LIMIT 1 OFFSET $4",
			 &st, "iiti", cut, cur->act, cur->id,
			 (int64_t)batch - 1);
	if (!err) {
		upper_act = db_col_int(st, 0);
		copy_fixed(upper_id, sizeof(upper_id), db_col_text(st, 1));
		db_done(st);
		*last = false;
	} else if (err == PT_ENOTFOUND) {
		*last = true;
	} else {
		return err;
	}
	/* the rows between the cursor and that key (or the end), by
	 * primary key; each expires when its owner's tier's retention has
	 * passed (an owner that does not exist: NULL, kept, as before) */
#define OWNED_TIER                                                     \
	"+state = 0 AND +owner_id <> 0 AND +" ACT " <= (SELECT CASE "  \
	"WHEN u.tier = 'premium' OR u.premium_until > $1 THEN "        \
	"CAST($6 AS BIGINT) ELSE CAST($5 AS BIGINT) END FROM users u " \
	"WHERE u.id = links.owner_id)"
	int64_t rc;
	if (*last)
		rc = db_run(db,
			    EXPIRE "WHERE id IN (SELECT id FROM links WHERE "
				   "state = 0 AND owner_id <> 0 AND " ACT
				   " <= $2 AND (" ACT ", id) > ($3, $4)) "
				   "AND " OWNED_TIER,
			    "iiitii", now, cut, cur->act, cur->id, free_cut,
			    prem_cut);
	else
		rc = db_run(db,
			    EXPIRE "WHERE id IN (SELECT id FROM links WHERE "
				   "state = 0 AND owner_id <> 0 AND " ACT
				   " <= $2 AND (" ACT
				   ", id) > ($3, $4) AND (" ACT
				   ", id) <= ($7, $8)) AND " OWNED_TIER,
			    "iiitiiit", now, cut, cur->act, cur->id, free_cut,
			    prem_cut, upper_act, upper_id);
#undef OWNED_TIER
	if (rc < 0)
		return (int)rc;
	*changed = rc;
	cur->act = upper_act;
	copy_fixed(cur->id, sizeof(cur->id), upper_id);
	return 0;
}

int repo_links_expire_batch(struct db *db, int64_t now, const int64_t days[3],
			    size_t batch, struct expiry_cursor *cur,
			    int64_t *expired)
{
	int64_t n = 0;
	bool last = true;
	int err = 0;

	/* each UPDATE finds its batch by the rule's index in the subquery,
	 * then its rows by primary key; the repeated conditions are written
	 * +col so that SQLite does not take them for an index range (they
	 * are there for PostgreSQL's re-check, see the top) */
	switch (cur->rule) {
	case 0: /* Max-Days */
		err = simple(db,
			     EXPIRE
			     "WHERE id IN (SELECT id FROM links WHERE "
			     "state = 0 AND expires > 0 AND expires <= "
			     "$1 LIMIT $2) AND +state = 0 AND +expires > "
			     "0 AND +expires <= $1",
			     "ii", now, 0, batch, &n);
		break;
	case 1: /* Max-Downloads used up (burn after reading) */
		err = simple(db,
			     EXPIRE "WHERE id IN (SELECT id FROM links WHERE "
				    "state = 0 AND max_downloads > 0 AND "
				    "downloads >= max_downloads LIMIT $2) AND "
				    "+state = 0 AND +max_downloads > 0 AND "
				    "+downloads >= +max_downloads",
			     "ii", now, 0, batch, &n);
		break;
	case 2: /* anonymous links idle past their retention */
		if (days[0] > 0)
			err = simple(db,
				     EXPIRE "WHERE id IN (SELECT id FROM links "
					    "WHERE state = 0 AND owner_id = 0 "
					    "AND " ACT " <= $3 LIMIT $2) AND "
					    "+state = 0 AND +owner_id = 0 AND "
					    "+" ACT " <= $3",
				     "iii", now, cutoff(now, days[0]), batch,
				     &n);
		break;
	case 3: /* owned links, by the owner's tier */
		if (days[1] > 0 || days[2] > 0)
			err = owned(db, now, days, batch, cur, &n, &last);
		break;
	default:
		return 0;
	}
	if (err)
		return err;
	if (n)
		db_changed(db);
	*expired += n;
	/* a rule is through when a batch found fewer rows than it could
	 * take (the keyset walk: when it reached the end of its range) */
	if (cur->rule == 3 ? last : n < (int64_t)batch) {
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
	/* COUNT() and SUM() always give one row */
	err = db_get(db,
		     "SELECT COUNT(*), COALESCE(SUM(size), 0) FROM links "
		     "WHERE state = 0",
		     &st, "");
	if (err)
		return err;
	out->live_links = db_col_int(st, 0);
	out->logical_bytes = db_col_int(st, 1);
	db_done(st);
	err = db_get(db, "SELECT COUNT(*), COALESCE(SUM(size), 0) FROM blobs",
		     &st, "");
	if (err)
		return err;
	out->blobs = db_col_int(st, 0);
	out->stored_bytes = db_col_int(st, 1);
	db_done(st);
	return 0;
}
