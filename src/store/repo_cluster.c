/*
 * repo_cluster.c — what several nodes on one PostgreSQL share about each
 * other: a heartbeat row per node (`nodes`: name, seen), and a row per
 * download connection that the tiers' per-address limits count
 * (`download_slots`: node, token, address, id).  A node is alive while
 * its heartbeat is younger than the lease (node_lease_seconds); the rows
 * of a node that is not count for nothing, so a node killed with -9
 * frees its slots, and its tus upload leases (repo_uploads.c), within
 * the lease, without anyone deleting them.
 *
 * Times are the database's clock (clock_timestamp(), in ms): nodes'
 * clocks may differ, the database's is one.  These statements are
 * PostgreSQL's alone (callers use them only when db_backend says
 * "postgres"): one node on SQLite keeps its limits in memory.  Both
 * tables are UNLOGGED there (migration 23): no WAL for rows that only
 * describe live connections.
 */
#include "repo_int.h"

#include "../util/pt.h"
#include "../util/banned.h"

#define DBNOW "(extract(epoch from clock_timestamp()) * 1000)::bigint"
/* rows of one address read per claim: an address holds at most
 * SLOTS_CONNS_MAX (64) connections on each node */
#define SLOT_ROWS_MAX 256

/* FNV-1a: the same number for one string on every node (the process's
 * own hash may be seeded), in a range of advisory lock keys of its own
 * (the top bytes). */
static int64_t lock_key(const char *s, uint64_t range)
{
	uint64_t h = 14695981039346656037ull;
	for (const unsigned char *p = (const unsigned char *)s; *p; p++)
		h = (h ^ *p) * 1099511628211ull;
	return (int64_t)(range | (h & 0xffffffffffffull));
}

int64_t repo_node_key(const char *node)
{
	return lock_key(node, 0x4e4f000000000000ull); /* "NO" */
}

int repo_node_beat(struct db *db, const char *node)
{
	/* and the session lock (re-entrant: each beat adds one to its count,
	 * no scan of pg_locks): while this connection lives, the others see
	 * this node alive, and they see it dead the moment its process
	 * dies and the server closes the session */
	int64_t rc = db_run(db,
			    "WITH l AS (SELECT pg_try_advisory_lock($2) AS ok) "
			    "INSERT INTO nodes(name, seen, lock_key) SELECT $1, "
			    DBNOW ", $2 FROM l ON CONFLICT (name) DO UPDATE SET "
			    "seen = excluded.seen, lock_key = excluded.lock_key",
			    "ti", node, repo_node_key(node));
	return rc < 0 ? (int)rc : 0;
}

int repo_node_purge(struct db *db, int64_t silent_ms)
{
	int64_t rc = db_run(db,
			    "DELETE FROM download_slots WHERE node IN (SELECT "
			    "name FROM nodes WHERE seen < " DBNOW " - $1)",
			    "i", silent_ms);
	if (rc >= 0)
		rc = db_run(db,
			    "DELETE FROM nodes WHERE seen < " DBNOW " - $1 AND "
			    "NOT EXISTS (SELECT 1 FROM download_slots s WHERE "
			    "s.node = nodes.name)",
			    "i", silent_ms);
	return rc < 0 ? (int)rc : 0;
}

int repo_slots_drop_node(struct db *db, const char *node)
{
	int64_t rc = db_run(db, "DELETE FROM download_slots WHERE node = $1",
			    "t", node);
	return rc < 0 ? (int)rc : 0;
}

int repo_slot_drop(struct db *db, const char *node, uint64_t token)
{
	int64_t rc = db_run(db,
			    "DELETE FROM download_slots WHERE node = $1 AND "
			    "token = $2",
			    "ti", node, (int64_t)token);
	return rc < 0 ? (int)rc : 0;
}

struct take {
	const struct repo_slot_claim *c;
	int result;
	char *other;
	size_t other_len;
};

static int take_tx(struct db *db, void *arg)
{
	struct take *t = arg;
	const struct repo_slot_claim *c = t->c;
	struct db_stmt *st;
	uint64_t mine = c->local_mine, others = c->local_others;
	int err;

	t->result = REPO_SLOT_OK;
	/* one address's claims, on every node, one after another: the
	 * count below sees every row committed before it */
	if ((err = db_lock(db, lock_key(c->ip, 0x534c000000000000ull))))
		return err;
	/* the other nodes' connections of the address, from nodes whose
	 * heartbeat is fresh; a node whose session lock is free (we can
	 * take it shared, until our commit) has died since its last beat */
	err = db_query(db,
		       "SELECT s.id, n.lock_key FROM download_slots s JOIN "
		       "nodes n ON n.name = s.node WHERE s.ip = $1 AND s.node "
		       "<> $2 AND n.seen >= " DBNOW " - $3 ORDER BY n.lock_key",
		       &st, "tti", c->ip, c->node, c->lease_ms);
	if (err)
		return err;
	struct row {
		char id[64];
		int64_t key;
		bool counted;
	} rows[SLOT_ROWS_MAX];
	size_t n = 0;
	while ((err = db_step(st)) == DB_ROW)
		if (n < SLOT_ROWS_MAX) {
			copy_fixed(rows[n].id, sizeof(rows[n].id),
				   db_col_text(st, 0));
			rows[n].counted = false;
			rows[n++].key = db_col_int(st, 1);
		}
	db_done(st);
	if (err < 0)
		return err;
	int64_t last = 0;
	bool dead = false;
	for (size_t i = 0; i < n; i++) {
		if (i == 0 || rows[i].key != last) {
			last = rows[i].key;
			struct db_stmt *lk;
			if ((err = db_get(db,
					  "SELECT "
					  "pg_try_advisory_xact_lock_shared($1)",
					  &lk, "i", last)))
				return err;
			dead = db_col_int(lk, 0) != 0;
			db_done(lk);
		}
		if (dead)
			continue;
		if (strcmp(rows[i].id, c->id) == 0) {
			mine++;
			continue;
		}
		bool seen = false;
		for (size_t j = 0; j < i && !seen; j++)
			seen = rows[j].counted &&
			       strcmp(rows[j].id, rows[i].id) == 0;
		if (seen)
			continue;
		rows[i].counted = true;
		if (!others && t->other)
			copy_fixed(t->other, t->other_len, rows[i].id);
		others++;
	}
	/* as slots.c: mine counts this connection; a download that is going
	 * already is not a new one for the parallel rule */
	if (c->connections && mine > c->connections)
		t->result = REPO_SLOT_CONNECTIONS;
	else if (c->parallel && mine == 1 && others >= c->parallel)
		t->result = REPO_SLOT_PARALLEL;
	if (t->result != REPO_SLOT_OK)
		return 0; /* nothing written: the commit ends the lock */
	int64_t rc = db_run(db,
			    "INSERT INTO download_slots(node, token, ip, id, "
			    "since) VALUES ($1, $2, $3, $4, " DBNOW ") ON "
			    "CONFLICT (node, token) DO UPDATE SET ip = "
			    "excluded.ip, id = excluded.id, since = "
			    "excluded.since",
			    "titt", c->node, (int64_t)c->token, c->ip, c->id);
	return rc < 0 ? (int)rc : 0;
}

int repo_slot_take(struct db *db, const struct repo_slot_claim *c,
		   char *other, size_t other_len)
{
	struct take t = { c, REPO_SLOT_OK, other, other_len };
	int err = db_transact(db, take_tx, &t);
	return err ? err : t.result;
}
