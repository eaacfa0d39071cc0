/*
 * test_cluster.c — what nodes on one PostgreSQL know of each other
 * (src/store/repo_cluster.c, and the dead-holder rule of
 * repo_upload_claim): download slots counted over live nodes, a node
 * whose heartbeat is older than the lease, or whose session (its
 * liveness lock) ended, counting for nothing, the
 * slots of one address taken by concurrent nodes never past the limit,
 * an upload lease of a dead node taken over and one of a live node not,
 * and the purge of long-dead nodes.
 *
 * Needs PARTAGE_TEST_PG_DSN (scripts/start-postgres.sh prints one), in a
 * schema of its own dropped at the end; skipped without it.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "store/db.h"
#include "store/repo.h"
#include "util/pt.h"

#define LEASE_MS 3000

static char *base_url, *url;
static char schema[64];

static int pg_sql(char *sql)
{
	struct db *db;
	int err = db_open(base_url, &db);
	if (!err) {
		err = db_exec(db, sql);
		db_close(db);
	}
	free(sql);
	return err;
}

static int setup(void **state)
{
	static int n;
	const char *dsn = getenv("PARTAGE_TEST_PG_DSN");
	snprintf(schema, sizeof(schema), "pt_cluster_%d_%d", (int)getpid(),
		 ++n);
	if (pg_sql(xasprintf("DROP SCHEMA IF EXISTS %s CASCADE; CREATE "
			     "SCHEMA %s",
			     schema, schema)))
		return -1;
	url = strstr(dsn, "://")
		      ? xasprintf("postgres:%s%coptions=-csearch_path%%3D%s",
				  dsn, strchr(dsn, '?') ? '&' : '?', schema)
		      : xasprintf("postgres:%s options=-csearch_path=%s", dsn,
				  schema);
	struct db *db;
	if (db_open(url, &db))
		return -1;
	int err = repo_migrate(db);
	db_close(db);
	return err ? -1 : 0;
}

static int teardown(void **state)
{
	free(url);
	url = NULL;
	return pg_sql(xasprintf("DROP SCHEMA IF EXISTS %s CASCADE", schema))
		       ? -1
		       : 0;
}

static struct db *open_db(void)
{
	struct db *db;
	assert_int_equal(db_open(url, &db), 0);
	return db;
}

/* Node `node` asks for a slot of (ip, id) with one download of one
 * connection per address; it holds no other connection itself. */
static int take(struct db *db, const char *node, uint64_t token,
		const char *ip, const char *id, char *other)
{
	struct repo_slot_claim c = { .node = node,
				     .token = token,
				     .ip = ip,
				     .id = id,
				     .parallel = 1,
				     .connections = 1,
				     .local_mine = 1,
				     .local_others = 0,
				     .lease_ms = LEASE_MS };
	return repo_slot_take(db, &c, other, other ? 64 : 0);
}

/* The node's heartbeat, made `ago_ms` old. */
static void age(struct db *db, const char *node, int64_t ago_ms)
{
	assert_true(db_run(db,
			   "UPDATE nodes SET seen = seen - $2 WHERE name = $1",
			   "ti", node, ago_ms) == 1);
}

/* Nodes a and b, each on a connection of its own that holds its
 * liveness lock, as the health checker's does. */
static void test_slots_across_nodes(void **state)
{
	struct db *a = open_db(), *b = open_db();
	char other[64] = "";

	assert_int_equal(repo_node_beat(a, "a"), 0);
	assert_int_equal(repo_node_beat(b, "b"), 0);
	assert_int_equal(take(a, "a", 1, "10.0.0.1", "file1", NULL),
			 REPO_SLOT_OK);
	/* another file from that address on b: the parallel limit */
	assert_int_equal(take(b, "b", 1, "10.0.0.1", "file2", other),
			 REPO_SLOT_PARALLEL);
	assert_string_equal(other, "file1");
	/* another connection of the same download: the connections limit */
	assert_int_equal(take(b, "b", 2, "10.0.0.1", "file1", NULL),
			 REPO_SLOT_CONNECTIONS);
	/* another address is its own */
	assert_int_equal(take(b, "b", 3, "10.0.0.2", "file2", NULL),
			 REPO_SLOT_OK);
	/* a's download ends: b may start one */
	assert_int_equal(repo_slot_drop(a, "a", 1), 0);
	assert_int_equal(take(b, "b", 4, "10.0.0.1", "file2", NULL),
			 REPO_SLOT_OK);
	/* a node's own rows are its memory's business (slots.c), not
	 * counted from the database */
	assert_int_equal(take(b, "b", 5, "10.0.0.1", "file3", NULL),
			 REPO_SLOT_OK);
	/* this node's other downloads count with the others' */
	struct repo_slot_claim c = { .node = "a", .token = 9, .ip = "10.0.0.3",
				     .id = "x", .parallel = 2,
				     .connections = 0, .local_mine = 1,
				     .local_others = 1, .lease_ms = LEASE_MS };
	assert_int_equal(repo_slot_take(a, &c, NULL, 0), REPO_SLOT_OK);
	assert_int_equal(take(b, "b", 6, "10.0.0.3", "y", NULL),
			 REPO_SLOT_PARALLEL);
	/* a second connection of one download on each node: two, when the
	 * tier allows two */
	c = (struct repo_slot_claim){ .node = "b", .token = 10,
				      .ip = "10.0.0.3", .id = "x",
				      .parallel = 2, .connections = 2,
				      .local_mine = 1, .lease_ms = LEASE_MS };
	assert_int_equal(repo_slot_take(b, &c, NULL, 0), REPO_SLOT_OK);
	c.token = 11;
	c.local_mine = 2; /* b's first and this one */
	assert_int_equal(repo_slot_take(b, &c, NULL, 0),
			 REPO_SLOT_CONNECTIONS);
	db_close(a);
	db_close(b);
}

static void test_dead_node_counts_for_nothing(void **state)
{
	struct db *a = open_db(), *b = open_db();

	assert_int_equal(repo_node_beat(a, "a"), 0);
	assert_int_equal(repo_node_beat(b, "b"), 0);
	assert_int_equal(take(a, "a", 1, "10.0.0.1", "file1", NULL),
			 REPO_SLOT_OK);
	assert_int_equal(take(b, "b", 1, "10.0.0.1", "file2", NULL),
			 REPO_SLOT_PARALLEL);
	/* a beat 2.5 s ago: alive still */
	age(b, "a", LEASE_MS - 500);
	assert_int_equal(take(b, "b", 1, "10.0.0.1", "file2", NULL),
			 REPO_SLOT_PARALLEL);
	/* 3.5 s (hung, or cut off with its session still open): gone, its
	 * slot with it */
	age(b, "a", 1000);
	assert_int_equal(take(b, "b", 1, "10.0.0.1", "file2", NULL),
			 REPO_SLOT_OK);
	assert_int_equal(repo_slot_drop(b, "b", 1), 0);
	/* a node that never wrote a heartbeat counts for nothing either */
	assert_int_equal(take(b, "ghost", 1, "10.0.0.4", "f", NULL),
			 REPO_SLOT_OK);
	assert_int_equal(take(b, "b", 2, "10.0.0.4", "g", NULL),
			 REPO_SLOT_OK);
	/* a beats again: its slot counts again (it is still its) */
	assert_int_equal(repo_node_beat(a, "a"), 0);
	assert_int_equal(take(b, "b", 3, "10.0.0.1", "file3", NULL),
			 REPO_SLOT_PARALLEL);
	/* a's process dies (its session ends) right after a beat: dead at
	 * once, not a lease later */
	db_close(a);
	for (int i = 0; i < 100; i++) { /* the server ends the session */
		if (take(b, "b", 3, "10.0.0.1", "file3", NULL) == REPO_SLOT_OK)
			break;
		usleep(10000);
	}
	assert_int_equal(repo_slot_drop(b, "b", 3), 0);
	assert_int_equal(take(b, "b", 3, "10.0.0.1", "file3", NULL),
			 REPO_SLOT_OK);
	/* a new life of a: its old slots go */
	a = open_db();
	assert_int_equal(repo_node_beat(a, "a"), 0);
	assert_int_equal(repo_slots_drop_node(a, "a"), 0);
	/* the purge: nodes silent longer than asked, and their slots */
	age(b, "a", 700000);
	assert_int_equal(take(a, "a", 7, "10.0.0.9", "z", NULL),
			 REPO_SLOT_OK);
	assert_int_equal(repo_node_purge(b, 600000), 0);
	struct db_stmt *st;
	assert_int_equal(db_get(b,
				"SELECT (SELECT count(*) FROM nodes WHERE name "
				"= 'a'), (SELECT count(*) FROM download_slots "
				"WHERE node = 'a'), (SELECT count(*) FROM "
				"nodes WHERE name = 'b')",
				&st, ""),
			 0);
	assert_int_equal(db_col_int(st, 0), 0);
	assert_int_equal(db_col_int(st, 1), 0);
	assert_int_equal(db_col_int(st, 2), 1);
	db_done(st);
	db_close(a);
	db_close(b);
}

/* Eight nodes, each with its own connection, start a download of a file
 * of their own for one address at once: one gets it. */
#define RACERS 8
static int race_ok;
static pthread_mutex_t race_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_barrier_t race_gate, race_end;

static void *racer(void *arg)
{
	int i = (int)(intptr_t)arg;
	char node[16], id[16];
	struct db *db = NULL;
	snprintf(node, sizeof(node), "n%d", i);
	snprintf(id, sizeof(id), "file%d", i);
	bool up = !db_open(url, &db) && !repo_node_beat(db, node);
	pthread_barrier_wait(&race_gate);
	if (up && take(db, node, 1, "10.9.9.9", id, NULL) == REPO_SLOT_OK) {
		pthread_mutex_lock(&race_lock);
		race_ok++;
		pthread_mutex_unlock(&race_lock);
	}
	/* every node lives until all have asked */
	pthread_barrier_wait(&race_end);
	if (db)
		db_close(db);
	return NULL;
}

static void test_concurrent_nodes_take_one_slot(void **state)
{
	for (int round = 0; round < 5; round++) {
		pthread_t t[RACERS];
		race_ok = 0;
		struct db *db = open_db();
		db_exec(db, "DELETE FROM download_slots");
		db_close(db);
		pthread_barrier_init(&race_gate, NULL, RACERS);
		pthread_barrier_init(&race_end, NULL, RACERS);
		for (int i = 0; i < RACERS; i++)
			pthread_create(&t[i], NULL, racer,
				       (void *)(intptr_t)i);
		for (int i = 0; i < RACERS; i++)
			pthread_join(t[i], NULL);
		pthread_barrier_destroy(&race_gate);
		pthread_barrier_destroy(&race_end);
		assert_int_equal(race_ok, 1);
	}
}

static void test_upload_lease_of_dead_node(void **state)
{
	struct db *db = open_db();
	struct upload_row u;
	memset(&u, 0, sizeof(u));
	snprintf(u.uid, sizeof(u.uid), "%s", "abcdefghijklmnopqrstuvwx");
	u.length = 100;
	u.metadata = u.concat = "";
	u.created = 1000;
	u.expires = 1000000;
	snprintf(u.delete_hash, sizeof(u.delete_hash), "%064d", 0);
	assert_int_equal(repo_upload_create(db, &u), 0);
	assert_int_equal(repo_node_beat(db, "a"), 0);
	assert_int_equal(repo_node_beat(db, "b"), 0);
	/* a holds it for a long lease (timeout + 30 s) */
	assert_int_equal(repo_upload_claim(db, u.uid, 0, 1000, 1090, "a",
					   LEASE_MS),
			 0);
	/* b may not while a is alive */
	assert_int_equal(repo_upload_claim(db, u.uid, 0, 1001, 1091, "b",
					   LEASE_MS),
			 PT_ELIMIT);
	/* nor without the rule (one node, or before heartbeats) */
	age(db, "a", LEASE_MS + 1000);
	assert_int_equal(repo_upload_claim(db, u.uid, 0, 1001, 1091, "b", 0),
			 PT_ELIMIT);
	/* a is gone: b takes it at once, not after the lease */
	assert_int_equal(repo_upload_claim(db, u.uid, 0, 1001, 1091, "b",
					   LEASE_MS),
			 0);
	/* and b's lease holds against a come back... */
	assert_int_equal(repo_node_beat(db, "a"), 0);
	assert_int_equal(repo_upload_claim(db, u.uid, 0, 1002, 1092, "a",
					   LEASE_MS),
			 PT_ELIMIT);
	/* ...and against b itself being taken for dead by b */
	age(db, "b", LEASE_MS + 1000);
	assert_int_equal(repo_upload_claim(db, u.uid, 0, 1002, 1092, "b",
					   LEASE_MS),
			 PT_ELIMIT);
	/* a wrong offset is still a conflict */
	assert_int_equal(repo_upload_claim(db, u.uid, 5, 1002, 1092, "a",
					   LEASE_MS),
			 PT_ECONFLICT);
	db_close(db);
}

/* What a download start and end cost (docs/scaling.md): take and drop
 * one slot, 1000 times, with another node holding a download of another
 * address (the usual case: none of this address elsewhere), and with one
 * of the same address elsewhere (then one more round trip: is that node
 * alive).  Prints the mean; fails only past 50 ms, a broken database. */
static void test_cost(void **state)
{
	struct db *a = open_db(), *b = open_db();
	assert_int_equal(repo_node_beat(a, "a"), 0);
	assert_int_equal(repo_node_beat(b, "b"), 0);
	assert_int_equal(take(a, "a", 1, "10.0.0.1", "elsewhere", NULL),
			 REPO_SLOT_OK);
	for (int same = 0; same < 2; same++) {
		const char *ip = same ? "10.0.0.1" : "10.0.0.2";
		uint64_t t0 = pt_mono_ns();
		for (int i = 0; i < 1000; i++) {
			struct repo_slot_claim c = {
				.node = "b", .token = 100, .ip = ip,
				.id = same ? "elsewhere" : "f", .parallel = 1,
				.connections = 4, .local_mine = 1,
				.lease_ms = LEASE_MS };
			assert_int_equal(repo_slot_take(b, &c, NULL, 0),
					 REPO_SLOT_OK);
			assert_int_equal(repo_slot_drop(b, "b", 100), 0);
		}
		double us = (double)(pt_mono_ns() - t0) / 1000.0 / 1000.0;
		printf("test_cluster: take + drop of a slot, %s: %.0f us\n",
		       same ? "the address downloading on another node"
			    : "no other download of the address",
		       us);
		assert_true(us < 50000);
	}
	db_close(a);
	db_close(b);
}

int main(void)
{
	const char *dsn = getenv("PARTAGE_TEST_PG_DSN");
	const struct CMUnitTest all[] = {
		cmocka_unit_test_setup_teardown(test_slots_across_nodes, setup,
						teardown),
		cmocka_unit_test_setup_teardown(
			test_dead_node_counts_for_nothing, setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_concurrent_nodes_take_one_slot, setup, teardown),
		cmocka_unit_test_setup_teardown(test_upload_lease_of_dead_node,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_cost, setup, teardown),
	};
	if (!dsn || !*dsn) {
		printf("test_cluster: PARTAGE_TEST_PG_DSN is not set: %zu "
		       "PostgreSQL cases skipped\n",
		       PT_ARRAY_LEN(all));
		return 0;
	}
	base_url = xasprintf("postgres:%s", dsn);
	int failed = cmocka_run_group_tests_name("cluster", all, NULL, NULL);
	free(base_url);
	return failed;
}
