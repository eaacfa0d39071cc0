/*
 * test_db.c — the SQL driver's behaviours, one table of cases run against
 * every backend: SQLite always (a temp file), PostgreSQL when env
 * PARTAGE_TEST_PG_DSN names a server (scripts/start-postgres.sh prints
 * one), in a schema of its own that is dropped at the end.  Then the
 * PostgreSQL-only cases: losing the session (pg_terminate_backend from a
 * second connection) and getting it back, an unreachable server, and a
 * deadlock that db_transact retries.  The race cases (FOR UPDATE, spending
 * points) run several connections from threads against one database.
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

#include "fixture_repo.h"
#include "util/pt.h"

struct backend {
	const char *name;
	char *url;
	bool pg;
};

static struct backend sqlite_be = { .name = "sqlite" };
static struct backend pg_be = { .name = "postgres", .pg = true };
static char *pg_base_url; /* the server, no schema: for setup and kills */
static char schema[64];

static struct db *open_db(void **state)
{
	struct backend *be = *state;
	struct db *db = NULL;
	assert_int_equal(db_open(be->url, &db), 0);
	assert_non_null(db);
	return db;
}

/* ---- the cases every backend must pass ---- */

static void test_exec(void **state)
{
	struct db *db = open_db(state);

	assert_int_equal(db_exec(db, "CREATE TABLE t_exec (k TEXT PRIMARY "
				     "KEY, n BIGINT NOT NULL)"),
			 0);
	/* several statements in one call */
	assert_int_equal(db_exec(db, "INSERT INTO t_exec VALUES ('a', 1);"
				     "INSERT INTO t_exec VALUES ('b', 2);"),
			 0);
	assert_int_equal(db_exec(db, "SELECT * FROM t_exec"), 0);
	assert_int_equal(db_exec(db, "THIS IS NOT SQL"), PT_EINTERNAL);
	assert_int_equal(db_exec(db, "INSERT INTO t_exec VALUES ('a', 3)"),
			 PT_ECONFLICT);
	/* the connection is still good after errors */
	assert_int_equal(db_exec(db, "DELETE FROM t_exec"), 0);
	db_close(db);
}

static const char *const insert_kv = "INSERT INTO t_kv(k, v, n) "
				     "VALUES ($1, $2, $3)";

static void test_bind_step(void **state)
{
	struct db *db = open_db(state);
	struct db_stmt *st, *st2, *again;

	assert_int_equal(db_exec(db, "CREATE TABLE t_kv (k TEXT PRIMARY KEY,"
				     " v TEXT, n BIGINT NOT NULL)"),
			 0);
	for (int i = 0; i < 5; i++) {
		char k[16], v[32];
		snprintf(k, sizeof(k), "k%d", i);
		snprintf(v, sizeof(v), "value \"%d\" 'q' é", i);
		assert_int_equal(db_prepare(db, insert_kv, &st), 0);
		db_bind_text(st, 1, k);
		db_bind_text(st, 2, v);
		db_bind_int(st, 3, (int64_t)i * 10000000000LL - 7);
		assert_int_equal(db_step(st), DB_DONE);
		assert_int_equal(db_changes(st), 1);
		db_done(st);
	}
	/* cached by the literal's address */
	assert_int_equal(db_prepare(db, insert_kv, &again), 0);
	assert_ptr_equal(again, st);
	db_done(again);

	/* a parameter used twice, rows in order, int64 range */
	assert_int_equal(db_prepare(db, "SELECT k, v, n FROM t_kv WHERE "
					"n > $1 AND n < $1 + 30000000000 "
					"ORDER BY n",
				    &st),
			 0);
	db_bind_int(st, 1, 0);
	assert_int_equal(db_step(st), DB_ROW);
	assert_string_equal(db_col_text(st, 0), "k1");
	assert_string_equal(db_col_text(st, 1), "value \"1\" 'q' é");
	assert_int_equal(db_col_int(st, 2), 9999999993LL);
	assert_false(db_col_null(st, 1));
	/* another statement while this one's rows are being read */
	assert_int_equal(db_prepare(db, "SELECT COUNT(*) FROM t_kv WHERE "
					"k <> $1",
				    &st2),
			 0);
	db_bind_text(st2, 1, "k0");
	assert_int_equal(db_step(st2), DB_ROW);
	assert_int_equal(db_col_int(st2, 0), 4);
	assert_int_equal(db_step(st2), DB_DONE);
	db_done(st2);
	assert_int_equal(db_step(st), DB_ROW);
	assert_string_equal(db_col_text(st, 0), "k2");
	assert_int_equal(db_step(st), DB_ROW);
	assert_string_equal(db_col_text(st, 0), "k3");
	assert_int_equal(db_step(st), DB_DONE);
	db_done(st);

	/* reuse after done: bindings start empty, the new value counts */
	assert_int_equal(db_prepare(db, "SELECT k FROM t_kv WHERE k = $1",
				    &st),
			 0);
	db_bind_text(st, 1, "k4");
	assert_int_equal(db_step(st), DB_ROW);
	assert_string_equal(db_col_text(st, 0), "k4");
	db_done(st);
	assert_int_equal(db_prepare(db, "SELECT k FROM t_kv WHERE k = $1",
				    &st),
			 0);
	db_bind_text(st, 1, "nope");
	assert_int_equal(db_step(st), DB_DONE);
	db_done(st);

	/* more statements than any fixed cache would hold */
	static char sql[100][64];
	for (int i = 0; i < 100; i++) {
		snprintf(sql[i], sizeof(sql[i]),
			 "SELECT COUNT(*) + %d FROM t_kv", i);
		assert_int_equal(db_prepare(db, sql[i], &st), 0);
		assert_int_equal(db_step(st), DB_ROW);
		assert_int_equal(db_col_int(st, 0), 5 + i);
		db_done(st);
	}
	/* a statement that cannot compile */
	assert_int_equal(db_prepare(db, "SELECT nope FROM t_kv", &st),
			 PT_EINTERNAL);
	db_close(db);
}

static void test_nulls(void **state)
{
	struct db *db = open_db(state);
	struct db_stmt *st;

	assert_int_equal(db_exec(db, "CREATE TABLE t_null (k TEXT PRIMARY "
				     "KEY, v TEXT, n BIGINT)"),
			 0);
	/* aggregates over no rows are NULL: ints read 0 */
	assert_int_equal(db_prepare(db, "SELECT MAX(n), MAX(v) FROM t_null",
				    &st),
			 0);
	assert_int_equal(db_step(st), DB_ROW);
	assert_true(db_col_null(st, 0));
	assert_int_equal(db_col_int(st, 0), 0);
	assert_null(db_col_text(st, 1));
	db_done(st);

	assert_int_equal(db_prepare(db, "INSERT INTO t_null(k, v, n) "
					"VALUES ($1, $2, $3)",
				    &st),
			 0);
	db_bind_text(st, 1, "a");
	db_bind_text(st, 2, NULL);
	/* $3 unbound: NULL, as in SQLite */
	assert_int_equal(db_step(st), DB_DONE);
	db_done(st);
	assert_int_equal(db_prepare(db, "SELECT v, n, k, v IS NULL FROM "
					"t_null WHERE k = $1",
				    &st),
			 0);
	db_bind_text(st, 1, "a");
	assert_int_equal(db_step(st), DB_ROW);
	assert_true(db_col_null(st, 0));
	assert_null(db_col_text(st, 0));
	assert_true(db_col_null(st, 1));
	assert_int_equal(db_col_int(st, 1), 0);
	assert_false(db_col_null(st, 2));
	/* a boolean reads 1, whatever the engine's representation */
	assert_int_equal(db_col_int(st, 3), 1);
	db_done(st);
	/* empty string is not NULL */
	assert_int_equal(db_exec(db, "UPDATE t_null SET v = ''"), 0);
	assert_int_equal(db_prepare(db, "SELECT v FROM t_null", &st), 0);
	assert_int_equal(db_step(st), DB_ROW);
	assert_false(db_col_null(st, 0));
	assert_string_equal(db_col_text(st, 0), "");
	db_done(st);
	db_close(db);
}

static void test_changes(void **state)
{
	struct db *db = open_db(state);
	struct db_stmt *st;

	assert_int_equal(db_exec(db, "CREATE TABLE t_chg (k TEXT PRIMARY KEY,"
				     " n BIGINT NOT NULL);"
				     "INSERT INTO t_chg VALUES ('a', 1);"
				     "INSERT INTO t_chg VALUES ('b', 1);"
				     "INSERT INTO t_chg VALUES ('c', 2);"),
			 0);
	assert_int_equal(db_prepare(db, "UPDATE t_chg SET n = n + 10 WHERE "
					"n = $1",
				    &st),
			 0);
	db_bind_int(st, 1, 1);
	assert_int_equal(db_step(st), DB_DONE);
	assert_int_equal(db_changes(st), 2);
	db_done(st);
	assert_int_equal(db_prepare(db, "DELETE FROM t_chg WHERE n = $1", &st),
			 0);
	db_bind_int(st, 1, 99);
	assert_int_equal(db_step(st), DB_DONE);
	assert_int_equal(db_changes(st), 0);
	db_done(st);
	/* upsert that does nothing changes nothing */
	assert_int_equal(db_prepare(db, "INSERT INTO t_chg(k, n) VALUES ($1, "
					"$2) ON CONFLICT (k) DO NOTHING",
				    &st),
			 0);
	db_bind_text(st, 1, "a");
	db_bind_int(st, 2, 5);
	assert_int_equal(db_step(st), DB_DONE);
	assert_int_equal(db_changes(st), 0);
	db_done(st);
	db_close(db);
}

static void test_conflict(void **state)
{
	struct backend *be = *state;
	struct db *db = open_db(state);
	struct db_stmt *st;

	assert_int_equal(db_exec(db, "CREATE TABLE t_uniq (k TEXT PRIMARY "
				     "KEY, n BIGINT NOT NULL)"),
			 0);
	for (int i = 0; i < 2; i++) {
		assert_int_equal(db_prepare(db, "INSERT INTO t_uniq(k, n) "
						"VALUES ($1, $2)",
					    &st),
				 0);
		db_bind_text(st, 1, "same");
		db_bind_int(st, 2, i);
		assert_int_equal(db_step(st), i == 0 ? DB_DONE : PT_ECONFLICT);
		db_done(st);
	}
	/* NOT NULL is a constraint too */
	assert_int_equal(db_prepare(db, "INSERT INTO t_uniq(k, n) VALUES ($1, "
					"$2)",
				    &st),
			 0);
	db_bind_text(st, 1, "other");
	db_bind_text(st, 2, NULL);
	assert_int_equal(db_step(st), PT_ECONFLICT);
	db_done(st);
	assert_int_equal(db_exec(db, "SELECT 1"), 0);

	/* bytes that are not UTF-8: SQLite stores them, PostgreSQL refuses
	 * them as a bad request (validate text at the edges) */
	assert_int_equal(db_prepare(db, "INSERT INTO t_uniq(k, n) VALUES ($1, "
					"$2)",
				    &st),
			 0);
	db_bind_text(st, 1, "caf\x80\xff");
	db_bind_int(st, 2, 1);
	assert_int_equal(db_step(st), be->pg ? PT_EBADREQ : DB_DONE);
	db_done(st);
	db_close(db);
}

static int64_t count_rows(struct db *db, const char *table_sql)
{
	struct db_stmt *st;
	int64_t n = -1;
	assert_int_equal(db_prepare(db, table_sql, &st), 0);
	if (db_step(st) == DB_ROW)
		n = db_col_int(st, 0);
	db_done(st);
	return n;
}

static const char *const count_tx = "SELECT COUNT(*) FROM t_tx";

static int tx_insert(struct db *db, void *arg)
{
	struct db_stmt *st;
	int err = db_prepare(db, "INSERT INTO t_tx(k) VALUES ($1)", &st);
	if (err)
		return err;
	db_bind_text(st, 1, arg);
	err = db_step(st);
	db_done(st);
	return err < 0 ? err : 0;
}

static void test_transactions(void **state)
{
	struct db *db = open_db(state);
	struct db *other = open_db(state);

	assert_int_equal(db_exec(db, "CREATE TABLE t_tx (k TEXT PRIMARY KEY)"),
			 0);
	/* rollback undoes */
	assert_int_equal(db_begin(db), 0);
	assert_int_equal(tx_insert(db, "a"), 0);
	assert_int_equal(count_rows(db, count_tx), 1);
	db_rollback(db);
	assert_int_equal(count_rows(db, count_tx), 0);
	db_rollback(db); /* outside a transaction: nothing */

	/* commit makes it visible to another connection */
	assert_int_equal(db_begin(db), 0);
	assert_int_equal(tx_insert(db, "a"), 0);
	assert_int_equal(db_commit(db), 0);
	assert_int_equal(count_rows(other, count_tx), 1);

	/* an error inside: roll back, and the connection goes on */
	assert_int_equal(db_begin(db), 0);
	assert_int_equal(tx_insert(db, "b"), 0);
	assert_int_equal(tx_insert(db, "a"), PT_ECONFLICT);
	db_rollback(db);
	assert_int_equal(count_rows(db, count_tx), 1);

	/* db_transact: commits, or rolls back what fn did */
	assert_int_equal(db_transact(db, tx_insert, "c"), 0);
	assert_int_equal(count_rows(other, count_tx), 2);
	assert_int_equal(db_transact(db, tx_insert, "a"), PT_ECONFLICT);
	assert_false(db_retryable(db));
	assert_int_equal(count_rows(db, count_tx), 2);

	/* db_lock inside a transaction */
	assert_int_equal(db_begin(db), 0);
	assert_int_equal(db_lock(db, 42), 0);
	assert_int_equal(db_commit(db), 0);
	db_close(other);
	db_close(db);
}

static void test_migrate(void **state)
{
	struct db *db = open_db(state);
	struct pt_pool *pool = pt_pool_new();
	struct link l = { 0 }, got;

	assert_int_equal(repo_migrate(db), 0);
	int64_t v = count_rows(db, "SELECT MAX(version) FROM schema_version");
	assert_true(v >= 1);
	assert_int_equal(repo_migrate(db), 0); /* idempotent */
	assert_int_equal(count_rows(db, "SELECT MAX(version) FROM "
					"schema_version"),
			 v);

	/* the repo's SQL runs as well: a link, its download budget */
	memcpy(l.id, "abcdefABCDEF", ID_LEN);
	memset(l.sha256, 'a', BLOB_HEX_LEN);
	memset(l.delete_hash, 'd', TOKEN_HASH_LEN);
	l.name = "x.txt";
	l.mime = "text/plain";
	l.size = 5;
	l.created = 1000;
	l.max_downloads = 1;
	assert_int_equal(repo_link_create(db, &l, NULL, NULL), 0);
	assert_int_equal(repo_link_create(db, &l, NULL, NULL), PT_ECONFLICT);
	assert_int_equal(repo_link_get(db, pool, l.id, &got), 0);
	assert_string_equal(got.name, "x.txt");
	assert_int_equal(got.size, 5);
	assert_true(repo_blob_known(db, l.sha256));
	assert_int_equal(repo_link_take_download(db, l.id, 2000), 0);
	assert_int_equal(repo_link_take_download(db, l.id, 2001), PT_EGONE);
	assert_int_equal(repo_link_get(db, pool, "nosuchlink00", &got),
			 PT_ENOTFOUND);
	pt_pool_free(pool);
	db_close(db);
}

/* A content takedown takes every live link down, blocks the hash, and
 * leaves the blob rows as they were: a blob gc had collected gets no
 * row (the one it locked meanwhile is deleted again).  Afterwards the
 * link transaction refuses the content (PT_ELEGAL). */
static void test_takedown_content(void **state)
{
	struct db *db = open_db(state);
	struct pt_pool *pool = pt_pool_new();
	struct link l = { 0 };
	struct takedown_row t = { .id = "takedown0001", .created = 5000,
				  .actor = "admin", .scope = "content",
				  .reason = "test", .reference = "" };
	char *affected[2];
	size_t n = 0;

	assert_int_equal(repo_migrate(db), 0);
	memset(l.sha256, 'b', BLOB_HEX_LEN);
	memset(l.delete_hash, 'd', TOKEN_HASH_LEN);
	l.name = "x";
	l.mime = "text/plain";
	l.size = 5;
	l.created = 1000;
	for (int i = 0; i < 3; i++) {
		snprintf(l.id, sizeof(l.id), "link0000000%c", (char)('0' + i));
		assert_int_equal(repo_link_create(db, &l, NULL, NULL), 0);
	}
	/* gc collected the bytes and the row (say) */
	assert_int_equal(db_run(db, "DELETE FROM blobs", ""), 1);
	assert_int_equal(db_begin(db), 0);
	assert_int_equal(repo_takedown(db, &t, "link00000001", 9000, pool,
				       affected, 2, &n),
			 0);
	assert_int_equal(db_commit(db), 0);
	assert_int_equal(n, 2); /* reported up to max */
	assert_int_equal(count_rows(db, "SELECT COUNT(*) FROM links WHERE "
					"state = 0"),
			 0); /* all taken down */
	assert_int_equal(count_rows(db, "SELECT COUNT(*) FROM blobs"), 0);
	assert_true(repo_blocked(db, l.sha256, pool, NULL));
	memcpy(l.id, "link00000009", 13);
	assert_int_equal(repo_link_create(db, &l, NULL, NULL), PT_ELEGAL);
	assert_int_equal(count_rows(db, "SELECT COUNT(*) FROM links"), 3);
	pt_pool_free(pool);
	db_close(db);
}

/* Failed logins per name: counted in one statement, a fixed window from
 * the first attempt, a success gives its attempt back, gc forgets. */
static void test_login_window(void **state)
{
	struct db *db = open_db(state);
	int64_t n = 0, since = 0;

	assert_int_equal(repo_migrate(db), 0);
	for (int i = 1; i <= 3; i++) {
		assert_int_equal(repo_login_attempt(db, "eve", 1000 + i, 900,
						    &n, &since),
				 0);
		assert_int_equal(n, i);
		assert_int_equal(since, 1001); /* the window's first */
	}
	assert_int_equal(repo_login_attempt(db, "bob", 1100, 900, &n, &since),
			 0);
	assert_int_equal(n, 1); /* names are counted apart */
	assert_int_equal(repo_login_refund(db, "eve"), 0);
	assert_int_equal(repo_login_attempt(db, "eve", 1500, 900, &n, &since),
			 0);
	assert_int_equal(n, 3);
	/* 900 s after the window began, a new one */
	assert_int_equal(repo_login_attempt(db, "eve", 1901, 900, &n, &since),
			 0);
	assert_int_equal(n, 1);
	assert_int_equal(since, 1901);
	assert_int_equal(repo_login_failures_expire(db, 1901), 0);
	assert_int_equal(count_rows(db, "SELECT COUNT(*) FROM login_failures"),
			 1);
	db_close(db);
}

struct token_seen {
	int n;
	char label[32];
	int64_t last_used;
};

static int token_seen_cb(const struct token_row *t, void *arg)
{
	struct token_seen *s = arg;
	s->n++;
	snprintf(s->label, sizeof(s->label), "%s", t->label);
	s->last_used = t->last_used;
	return 0;
}

/* A token's label is kept; its last use is written at most once per
 * `every` seconds, and sessions are not listed. */
static void test_token_touch(void **state)
{
	struct db *db = open_db(state);
	struct token_row t = { .id = "tok000000001", .kind = "api",
			       .label = "backup job" };
	struct token_row s = { .id = "ses000000001", .kind = "session",
			       .csrf = "c" };
	struct token_seen seen = { 0 };

	struct user u = { .id = 7, .name = "toucher", .pwhash = "pw",
			  .tier = "free", .role = "user", .created = 1 };

	assert_int_equal(repo_migrate(db), 0);
	assert_int_equal(repo_user_create(db, &u), 0);
	assert_int_equal(repo_token_create(db, &t, 7, "hash-a", 500, "pw"), 0);
	assert_int_equal(repo_token_create(db, &s, 7, "hash-b", 500, "pw"), 0);
	assert_int_equal(repo_user_tokens_each(db, 7, token_seen_cb, &seen),
			 0);
	assert_int_equal(seen.n, 1);
	assert_string_equal(seen.label, "backup job");
	assert_int_equal(seen.last_used, 0);

	const int64_t at[] = { 1000, 1030, 1059, 1060, 1200 };
	const int64_t want[] = { 1000, 1000, 1000, 1060, 1200 };
	for (size_t i = 0; i < PT_ARRAY_LEN(at); i++) {
		assert_int_equal(repo_token_touch(db, t.id, at[i], 60), 0);
		memset(&seen, 0, sizeof(seen));
		assert_int_equal(
			repo_user_tokens_each(db, 7, token_seen_cb, &seen), 0);
		assert_int_equal(seen.last_used, want[i]);
	}
	/* an unknown id is no error: the token may have just been revoked */
	assert_int_equal(repo_token_touch(db, "nosuchtoken0", 1300, 60), 0);
	db_close(db);
}

/* A token is made only while the hash the caller checked is still the
 * account's and the account is enabled; a password change is a compare
 * and swap that revokes every token in the same transaction. */
static void test_token_conditional(void **state)
{
	struct db *db = open_db(state);
	struct token_row t = { .id = "tok000000001", .kind = "api",
			       .label = "" };
	struct user u = { .id = 8, .name = "changer", .pwhash = "old",
			  .tier = "free", .role = "user", .created = 1 };
	struct pt_pool *pool = pt_pool_new();
	struct user got;

	assert_int_equal(repo_migrate(db), 0);
	assert_int_equal(repo_user_create(db, &u), 0);
	assert_int_equal(repo_token_create(db, &t, 8, "h1", 500, "old"), 0);
	assert_int_equal(repo_user_password_change(db, 8, "stale", "new"),
			 PT_ECONFLICT);
	assert_int_equal(repo_user_by_token(db, pool, "h1", 600, &got, NULL),
			 0);
	assert_int_equal(repo_user_password_change(db, 8, "old", "new"), 0);
	assert_int_equal(repo_user_by_token(db, pool, "h1", 600, &got, NULL),
			 PT_ENOTFOUND);
	/* a login that checked the old hash makes nothing now */
	memcpy(t.id, "tok000000002", 13);
	assert_int_equal(repo_token_create(db, &t, 8, "h2", 700, "old"),
			 PT_ENOTFOUND);
	assert_int_equal(repo_token_create(db, &t, 9, "h2", 700, "new"),
			 PT_ENOTFOUND);
	assert_int_equal(repo_token_create(db, &t, 8, "h2", 700, "new"), 0);
	assert_int_equal(repo_user_by_token(db, pool, "h2", 800, &got, NULL),
			 0);
	assert_string_equal(got.name, "changer");
	/* nor for a disabled account */
	assert_int_equal(repo_user_set_disabled(db, 8, true), 0);
	memcpy(t.id, "tok000000003", 13);
	assert_int_equal(repo_token_create(db, &t, 8, "h3", 700, "new"),
			 PT_ENOTFOUND);
	pt_pool_free(pool);
	db_close(db);
}

struct pool_arg {
	struct db_pool *pool;
	struct db *db;
};

static void *pool_thread(void *arg)
{
	struct pool_arg *a = arg;
	a->db = db_pool_get(a->pool);
	if (a->db && db_exec(a->db, "SELECT 1"))
		a->db = NULL;
	return NULL;
}

static void test_pool(void **state)
{
	struct backend *be = *state;
	struct db_pool *pool;
	struct pool_arg a;
	pthread_t t;

	assert_int_equal(db_pool_new(be->url, &pool), 0);
	struct db *mine = db_pool_get(pool);
	assert_non_null(mine);
	assert_ptr_equal(db_pool_get(pool), mine);
	assert_string_equal(db_backend(mine), be->name);
	a.pool = pool;
	assert_int_equal(pthread_create(&t, NULL, pool_thread, &a), 0);
	pthread_join(t, NULL);
	/* the thread had its own, closed when it exited */
	assert_non_null(a.db);
	assert_ptr_not_equal(a.db, mine);
	assert_int_equal(db_exec(mine, "SELECT 1"), 0);
	db_pool_free(pool);
	assert_int_equal(db_pool_new("nosuch://x", &pool), PT_EBADREQ);
}

/* ---- check-then-write under concurrency (db.h) ---- */

#define RACERS 6

struct race_arg {
	struct backend *be;
	pthread_barrier_t *bar;
	int rounds, err;
	int64_t user_id;
	int result; /* repo_rewards_convert's */
};

/* Read n under FOR UPDATE, pause, write n + 1 back as a constant: a lost
 * update unless the read locked the row. */
static int bump_fn(struct db *db, void *arg)
{
	struct db_stmt *st;
	int err = db_get(db, "SELECT n FROM t_bal WHERE k = 'a' FOR UPDATE  ",
			 &st, "");
	if (err)
		return err;
	int64_t n = db_col_int(st, 0);
	db_done(st);
	usleep(2000);
	int64_t rc = db_run(db, "UPDATE t_bal SET n = $1 WHERE k = 'a'", "i",
			    n + 1);
	return rc < 0 ? (int)rc : rc == 1 ? 0 : PT_EINTERNAL;
}

static void *bump_thread(void *arg)
{
	struct race_arg *a = arg;
	struct db *db;
	if (db_open(a->be->url, &db)) {
		a->err = -1;
		return NULL;
	}
	pthread_barrier_wait(a->bar);
	for (int i = 0; i < a->rounds && !a->err; i++)
		a->err = db_transact(db, bump_fn, NULL);
	db_close(db);
	return NULL;
}

/* SELECT … FOR UPDATE inside a transaction makes read-decide-write safe
 * on both engines (SQLite compiles it without the clause). */
static void test_for_update(void **state)
{
	struct db *db = open_db(state);
	pthread_barrier_t bar;
	pthread_t t[RACERS];
	struct race_arg a[RACERS];

	assert_int_equal(db_exec(db, "CREATE TABLE t_bal (k TEXT PRIMARY KEY, "
				     "n BIGINT NOT NULL);"
				     "INSERT INTO t_bal VALUES ('a', 0);"),
			 0);
	pthread_barrier_init(&bar, NULL, RACERS);
	for (int i = 0; i < RACERS; i++) {
		a[i] = (struct race_arg){ .be = *state, .bar = &bar,
					  .rounds = 10 };
		pthread_create(&t[i], NULL, bump_thread, &a[i]);
	}
	for (int i = 0; i < RACERS; i++) {
		pthread_join(t[i], NULL);
		assert_int_equal(a[i].err, 0);
	}
	pthread_barrier_destroy(&bar);
	assert_int_equal(count_rows(db, "SELECT n FROM t_bal"), RACERS * 10);
	/* only a trailing clause is taken off: elsewhere it is an error */
	struct db_stmt *st;
	assert_int_equal(db_prepare(db, "SELECT n FROM t_bal FOR UPDATE "
					"WHERE k = 'a'",
				    &st),
			 PT_EINTERNAL);
	db_close(db);
}

static void *convert_thread(void *arg)
{
	struct race_arg *a = arg;
	struct db *db;
	if (db_open(a->be->url, &db)) {
		a->err = -1;
		return NULL;
	}
	pthread_barrier_wait(a->bar);
	a->result = repo_rewards_convert(db, a->user_id, 1, 1, 5000);
	db_close(db);
	return NULL;
}

/* A balance of one point, spent by RACERS connections at once, round
 * after round: one conversion each time, the balance never below 0. */
static void test_rewards_convert_race(void **state)
{
	struct db *db = open_db(state);
	pthread_barrier_t bar;
	pthread_t t[RACERS];
	struct race_arg a[RACERS];
	struct user u = { .id = 42, .name = "saver", .pwhash = "x",
			  .tier = "free", .role = "user", .created = 1 };

	assert_int_equal(repo_migrate(db), 0);
	assert_int_equal(repo_user_create(db, &u), 0);
	pthread_barrier_init(&bar, NULL, RACERS);
	for (int round = 0; round < 10; round++) {
		assert_int_equal(db_run(db, "INSERT INTO rewards(id, user_id, "
					    "link_id, kind, points, at) VALUES "
					    "($1, 42, 'l', 'download', 1, 1)",
					"i", (int64_t)round + 1),
				 1);
		int ok = 0;
		for (int i = 0; i < RACERS; i++) {
			a[i] = (struct race_arg){ .be = *state, .bar = &bar,
						  .user_id = 42 };
			pthread_create(&t[i], NULL, convert_thread, &a[i]);
		}
		for (int i = 0; i < RACERS; i++) {
			pthread_join(t[i], NULL);
			assert_int_equal(a[i].err, 0);
			if (a[i].result == 0)
				ok++;
			else
				assert_int_equal(a[i].result, PT_ECONFLICT);
		}
		assert_int_equal(ok, 1);
		assert_int_equal(repo_user_points(db, 42), 0);
	}
	pthread_barrier_destroy(&bar);
	/* an unknown account has no points to spend */
	assert_int_equal(repo_rewards_convert(db, 43, 1, 1, 5000),
			 PT_ENOTFOUND);
	db_close(db);
}

/* ---- PostgreSQL only ---- */

static int64_t backend_pid(struct db *db)
{
	return count_rows(db, "SELECT pg_backend_pid()");
}

/* Kill db's session from another connection, and wait until it is gone. */
static void kill_session(int64_t pid)
{
	struct db *killer;
	struct db_stmt *st;

	assert_int_equal(db_open(pg_base_url, &killer), 0);
	assert_int_equal(db_prepare(killer, "SELECT pg_terminate_backend("
					    "$1::integer, 5000)",
				    &st),
			 0);
	db_bind_int(st, 1, pid);
	assert_int_equal(db_step(st), DB_ROW);
	assert_int_equal(db_col_int(st, 0), 1);
	db_done(st);
	db_close(killer);
}

static void test_pg_reconnect(void **state)
{
	struct db *db = open_db(state);
	struct db_stmt *st;
	int64_t pid;

	assert_int_equal(db_exec(db, "CREATE TABLE t_re (k TEXT PRIMARY KEY)"),
			 0);
	assert_int_equal(db_exec(db, "INSERT INTO t_re VALUES ('first')"), 0);

	/* killed while idle: noticed before use, replaced, no error */
	pid = backend_pid(db);
	kill_session(pid);
	assert_int_equal(count_rows(db, "SELECT COUNT(*) FROM t_re"), 1);
	assert_true(backend_pid(db) != pid);

	/* killed inside a transaction: 503 until rolled back, then fine,
	 * with the cached statements prepared again */
	pid = backend_pid(db);
	assert_int_equal(db_begin(db), 0);
	assert_int_equal(db_prepare(db, "INSERT INTO t_re(k) VALUES ($1)",
				    &st),
			 0);
	db_bind_text(st, 1, "lost");
	assert_int_equal(db_step(st), DB_DONE);
	db_done(st);
	kill_session(pid);
	/* prepared already: the loss shows when the statement runs */
	assert_int_equal(db_prepare(db, "INSERT INTO t_re(k) VALUES ($1)",
				    &st),
			 0);
	db_bind_text(st, 1, "lost too");
	assert_int_equal(db_step(st), PT_EUNAVAIL);
	db_done(st);
	assert_int_equal(db_exec(db, "SELECT 1"), PT_EUNAVAIL);
	assert_int_equal(db_commit(db), PT_EUNAVAIL);
	db_rollback(db);
	assert_int_equal(db_prepare(db, "INSERT INTO t_re(k) VALUES ($1)",
				    &st),
			 0);
	db_bind_text(st, 1, "after");
	assert_int_equal(db_step(st), DB_DONE);
	db_done(st);
	/* the row of the killed transaction never committed */
	assert_int_equal(count_rows(db, "SELECT COUNT(*) FROM t_re"), 2);

	/* killed between two statements of no transaction: the next one
	 * finds out while executing, gets PT_EUNAVAIL if the probe missed
	 * it, and the one after succeeds */
	pid = backend_pid(db);
	kill_session(pid);
	int r = db_exec(db, "SELECT 1");
	assert_true(r == 0 || r == PT_EUNAVAIL);
	assert_int_equal(db_exec(db, "SELECT 1"), 0);
	db_close(db);
}

static void test_pg_unreachable(void **state)
{
	struct db_pool *pool;
	struct db *db = NULL;

	/* port 1 on loopback: refused at once */
	assert_int_equal(db_open("postgres:host=127.0.0.1 port=1 "
				 "dbname=partage",
				 &db),
			 PT_EUNAVAIL);
	assert_int_equal(db_pool_new("postgres:host=127.0.0.1 port=1 "
				     "dbname=partage",
				     &pool),
			 0);
	db = db_pool_get(pool);
	assert_non_null(db); /* never NULL: it may come back */
	assert_int_equal(db_exec(db, "SELECT 1"), PT_EUNAVAIL);
	assert_int_equal(db_begin(db), PT_EUNAVAIL);
	struct db_stmt *st;
	assert_int_equal(db_prepare(db, "SELECT 1", &st), PT_EUNAVAIL);
	db_pool_free(pool);
}

struct dl_arg {
	struct backend *be;
	pthread_barrier_t *bar;
	const char *first, *second;
	int attempts, err;
};

static int dl_fn(struct db *db, void *arg)
{
	struct dl_arg *a = arg;
	struct db_stmt *st;
	int err;
	const char *keys[2] = { a->first, a->second };

	for (int i = 0; i < 2; i++) {
		err = db_prepare(db, "UPDATE t_dl SET n = n + 1 WHERE k = $1",
				 &st);
		if (err)
			return err;
		db_bind_text(st, 1, keys[i]);
		err = db_step(st);
		db_done(st);
		if (err < 0)
			return err;
		/* the first time, both hold one row before taking the
		 * other's: a sure deadlock */
		if (i == 0 && a->attempts++ == 0)
			pthread_barrier_wait(a->bar);
	}
	return 0;
}

static void *dl_thread(void *arg)
{
	struct dl_arg *a = arg;
	struct db *db;
	if (db_open(a->be->url, &db)) {
		a->err = -1;
		return NULL;
	}
	a->err = db_transact(db, dl_fn, a);
	db_close(db);
	return NULL;
}

static void test_pg_deadlock_retry(void **state)
{
	struct db *db = open_db(state);
	pthread_barrier_t bar;
	pthread_t t1, t2;
	struct dl_arg a1 = { *state, &bar, "x", "y", 0, 0 };
	struct dl_arg a2 = { *state, &bar, "y", "x", 0, 0 };

	assert_int_equal(db_exec(db, "CREATE TABLE t_dl (k TEXT PRIMARY KEY, "
				     "n BIGINT NOT NULL);"
				     "INSERT INTO t_dl VALUES ('x', 0);"
				     "INSERT INTO t_dl VALUES ('y', 0);"),
			 0);
	pthread_barrier_init(&bar, NULL, 2);
	pthread_create(&t1, NULL, dl_thread, &a1);
	pthread_create(&t2, NULL, dl_thread, &a2);
	pthread_join(t1, NULL);
	pthread_join(t2, NULL);
	pthread_barrier_destroy(&bar);
	assert_int_equal(a1.err, 0);
	assert_int_equal(a2.err, 0);
	/* one of them lost the deadlock and ran again */
	assert_int_equal(a1.attempts + a2.attempts, 3);
	assert_int_equal(count_rows(db, "SELECT SUM(n) FROM t_dl"), 4);
	db_close(db);
}

/* ---- setup ---- */

static int sqlite_setup(void **state)
{
	fixture_setup(state);
	sqlite_be.url = xasprintf("sqlite:%s/test.db", fixture_dir);
	return 0;
}

static int sqlite_teardown(void **state)
{
	free(sqlite_be.url);
	sqlite_be.url = NULL;
	return fixture_teardown(state);
}

/* The DSN with search_path set to our schema: a URI takes it as a query
 * parameter, a key=value string as one more pair. */
static char *dsn_with_schema(const char *dsn, const char *name)
{
	if (strstr(dsn, "://"))
		return xasprintf("postgres:%s%coptions=-csearch_path%%3D%s", dsn,
				 strchr(dsn, '?') ? '&' : '?', name);
	return xasprintf("postgres:%s options=-csearch_path=%s", dsn, name);
}

/* Run sql (freed here) on the server, outside the test's schema. */
static int pg_sql(char *sql)
{
	struct db *db;
	int err = db_open(pg_base_url, &db);
	if (!err) {
		err = db_exec(db, sql);
		db_close(db);
	}
	free(sql);
	return err;
}

/* Each case gets a fresh schema, so repo_migrate starts from nothing. */
static int pg_setup(void **state)
{
	static int n;
	snprintf(schema, sizeof(schema), "pt_test_%d_%d", (int)getpid(), ++n);
	if (pg_sql(xasprintf("DROP SCHEMA IF EXISTS %s CASCADE; "
			     "CREATE SCHEMA %s", schema, schema)))
		return -1;
	pg_be.url = dsn_with_schema(getenv("PARTAGE_TEST_PG_DSN"), schema);
	return 0;
}

static int pg_teardown(void **state)
{
	free(pg_be.url);
	pg_be.url = NULL;
	return pg_sql(xasprintf("DROP SCHEMA IF EXISTS %s CASCADE", schema))
		       ? -1 : 0;
}

#define CASE(f, be, set, tear) \
	cmocka_unit_test_prestate_setup_teardown(f, set, tear, &be)
#define CASES(be, set, tear)                                           \
	CASE(test_exec, be, set, tear),                                \
	CASE(test_bind_step, be, set, tear),                           \
	CASE(test_nulls, be, set, tear),                               \
	CASE(test_changes, be, set, tear),                             \
	CASE(test_conflict, be, set, tear),                            \
	CASE(test_transactions, be, set, tear),                        \
	CASE(test_migrate, be, set, tear),                             \
	CASE(test_login_window, be, set, tear),                        \
	CASE(test_token_conditional, be, set, tear),                   \
	CASE(test_takedown_content, be, set, tear),                    \
	CASE(test_token_touch, be, set, tear),                         \
	CASE(test_pool, be, set, tear),                                \
	CASE(test_for_update, be, set, tear),                          \
	CASE(test_rewards_convert_race, be, set, tear)

int main(void)
{
	const struct CMUnitTest all[] = {
		CASES(sqlite_be, sqlite_setup, sqlite_teardown),
		CASES(pg_be, pg_setup, pg_teardown),
		CASE(test_pg_reconnect, pg_be, pg_setup, pg_teardown),
		CASE(test_pg_unreachable, pg_be, pg_setup, pg_teardown),
		CASE(test_pg_deadlock_retry, pg_be, pg_setup, pg_teardown),
	};
	const size_t nsqlite = 12;
	const char *dsn = getenv("PARTAGE_TEST_PG_DSN");
	size_t n = PT_ARRAY_LEN(all);

	if (dsn && *dsn) {
		pg_base_url = xasprintf("postgres:%s", dsn);
	} else {
		printf("test_db: PARTAGE_TEST_PG_DSN is not set: %zu "
		       "PostgreSQL cases skipped (export the DSN that "
		       "scripts/start-postgres.sh prints)\n",
		       n - nsqlite);
		n = nsqlite;
	}
	/* cmocka's macro wants an array; it only reads the first n */
	int failed = _cmocka_run_group_tests("db", all, n, NULL, NULL);
	free(pg_base_url);
	return failed;
}
