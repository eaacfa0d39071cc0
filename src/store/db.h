/*
 * db.h — the thin SQL driver: connections, prepared statements, rows and
 * transactions over SQLite or PostgreSQL, one interface for both (a vtable
 * in db_driver.h, the backends in db_sqlite.c and db_pg.c).
 *
 * SQL is written once for both engines: parameters are $1, $2, … (SQLite
 * binds them by name, PostgreSQL by number), types are TEXT and BIGINT, and
 * upserts use INSERT … ON CONFLICT.  All SQL lives in the repo module
 * (src/store/repo_*.c, behind repo.h).
 *
 * Threads: a struct db is one connection and belongs to one thread at a
 * time; db_pool_get() gives each thread its own, created on first use and
 * closed when the thread exits.  Statements are prepared once per
 * connection and cached by SQL text pointer (pass string literals).
 *
 * Status: db_step() returns DB_ROW, DB_DONE or a negative status; every
 * other call returns 0 or a negative status:
 *   PT_ECONFLICT  a uniqueness (or other integrity) constraint failed;
 *   PT_EUNAVAIL   the database is busy or unreachable, or the transaction
 *                 lost a serialization race or a deadlock — try again later
 *                 (HTTP 503); db_retryable() tells the last case apart;
 *   PT_EBADREQ    PostgreSQL refused a value: text that is not UTF-8
 *                 (SQLite stores any bytes), a number out of range;
 *   -ENOSPC       the database is out of disk;
 *   PT_EINTERNAL  anything else (bad SQL…), logged with the statement.
 * Everything may block (disk, network).
 *
 * Check-then-write.  SQLite's BEGIN IMMEDIATE serializes whole write
 * transactions; PostgreSQL runs them at READ COMMITTED and only
 * serializes writes to the same rows, so a transaction that reads a
 * value, decides, then writes (a balance, a quota, "not used yet") is a
 * race there even though it is not on SQLite.  Every such decision is
 * made in one of two ways, which both engines honour:
 *   1. one conditional statement whose changed-row count (or RETURNING
 *      row) is the decision: UPDATE … SET n = n - $2 WHERE id = $1 AND
 *      n >= $2; INSERT … ON CONFLICT; UPDATE … WHERE used = 0.  A
 *      concurrent writer of the same row waits, then the condition is
 *      evaluated again on the row it committed;
 *   2. inside db_begin (or db_transact), first lock the row that guards
 *      the decision — by convention the account's: "SELECT id FROM users
 *      WHERE id = $1 FOR UPDATE" — then read and write.  On PostgreSQL the
 *      row stays locked until commit or rollback, so the others wait, and
 *      every later statement of the transaction sees what they committed
 *      (READ COMMITTED takes a new snapshot per statement, not per
 *      transaction).  SQLite compiles a prepared statement (db_prepare,
 *      db_get, db_run…; not db_exec) ending in "FOR UPDATE" without the
 *      clause: its BEGIN IMMEDIATE already excludes every other writer.
 *      The clause must end the statement, in capitals.  Outside a
 *      transaction the clause locks nothing that outlives the statement.
 *   A value read before db_begin (or in an earlier transaction) and
 *   written back later is a lost update on both engines: write only the
 *   columns that change, with an expression (x = x + $2), never a whole
 *   row read earlier.
 *
 * PostgreSQL specifics, all invisible to correct callers:
 *   - Transactions run at READ COMMITTED: see check-then-write above.
 *   - After any error inside a transaction the transaction is dead: roll
 *     it back (SQLite would let it continue; do not rely on that).
 *   - A lost connection is one log line and PT_EUNAVAIL; the next call
 *     (outside a transaction) reconnects, at most once a second, and
 *     prepares the statements again.  A connection the server closed while
 *     idle is noticed before use and replaced without an error.
 *   - A single statement outside a transaction that fails on a deadlock or
 *     serialization failure is retried by the driver (it had no effect);
 *     inside a transaction only the caller can retry: db_transact().
 *   - Result rows are read in full at the first db_step(): page big scans
 *     with LIMIT.  Another statement may run while rows are being read.
 */
#ifndef PT_DB_H
#define PT_DB_H

#include <stdbool.h>
#include <stdint.h>

struct db;
struct db_stmt;
struct db_pool;

enum { DB_DONE = 0, DB_ROW = 1 };

/*
 * The database URL:
 *   "sqlite:PATH" or a bare PATH      an SQLite file (created if missing);
 *   "postgres:CONNINFO"               PostgreSQL, CONNINFO given to libpq
 *                                     as is ("host=… dbname=…" or a URI);
 *   "postgresql://…", "postgres://…"  PostgreSQL, the whole URI to libpq.
 * An empty CONNINFO means libpq's defaults (PGHOST, PGDATABASE… from the
 * environment).  Unless the CONNINFO says otherwise, connecting gives up
 * after 5 s, and TCP keepalives and a 30 s TCP user timeout notice a
 * server that vanished without closing the connection.
 */

/* A pool of per-thread connections to url.  Connects to nothing yet.
 * Returns 0 or a negative status (PT_EBADREQ for an unknown scheme). */
int db_pool_new(const char *url, struct db_pool **out);
/* Closes every connection; no thread may use the pool any more. */
void db_pool_free(struct db_pool *p);
/* The calling thread's connection.  SQLite: NULL (and a log line) when the
 * file cannot be opened.  PostgreSQL: never NULL; while the server is
 * unreachable the connection's calls return PT_EUNAVAIL, and it reconnects
 * by itself when the server is back. */
struct db *db_pool_get(struct db_pool *p);
/* Whether the database was found unreachable and not reached since: a
 * cheap hint for refusing work early (an upload before its body). */
bool db_pool_known_down(const struct db_pool *p);
/* Call hook(arg) after every committed change that a statement marked
 * with db_changed (set once, before the pool is used by threads). */
void db_pool_on_change(struct db_pool *p, void (*hook)(void *arg),
		       void *arg);
/* Mark a change others cache (a link's row): the pool's hook runs after
 * the transaction commits, or now outside one (the statement that just
 * ran has committed). */
void db_changed(struct db *db);

/* One connection, outside any pool.  Returns 0, or PT_EUNAVAIL (logged)
 * when the database cannot be opened or reached now. */
int db_open(const char *url, struct db **out);
void db_close(struct db *db);
/* "sqlite" or "postgres": for logs and the rare dialect difference. */
const char *db_backend(const struct db *db);

/* Run one or more statements with no parameters; rows are discarded. */
int db_exec(struct db *db, const char *sql);

/* Prepared (and cached) statement, reset and with no bindings. */
int db_prepare(struct db *db, const char *sql, struct db_stmt **out);
void db_bind_text(struct db_stmt *st, int idx, const char *v); /* NULL → NULL */
void db_bind_int(struct db_stmt *st, int idx, int64_t v);
int db_step(struct db_stmt *st);
/* Column values of the current row; text is valid until the next step or
 * reset.  NULL text reads as NULL, NULL ints as 0 (and PostgreSQL booleans
 * as 1 and 0, like SQLite's). */
const char *db_col_text(struct db_stmt *st, int col);
int64_t db_col_int(struct db_stmt *st, int col);
bool db_col_null(struct db_stmt *st, int col);
/* Rows changed by the last completed statement. */
int64_t db_changes(struct db_stmt *st);
/*
 * Prepare, bind and run a statement that returns no rows, in one call:
 * fmt has one letter per parameter, 't' (const char *, NULL for NULL) or
 * 'i' (int64_t), for $1, $2, ...  Returns the rows changed (>= 0) or a
 * negative status.  Most writes of the repo module are this shape.
 */
int64_t db_run(struct db *db, const char *sql, const char *fmt, ...);
/*
 * The same for a query of at most one row: 0 with *out on that row (read
 * its columns, then db_done), PT_ENOTFOUND when there is none, or another
 * negative status.
 */
int db_get(struct db *db, const char *sql, struct db_stmt **out,
	   const char *fmt, ...);
/* Prepare sql and bind fmt's parameters (db_run's letters): 0 with *out
 * ready to step (db_done after), or a negative status. */
int db_query(struct db *db, const char *sql, struct db_stmt **out,
	     const char *fmt, ...);
/* Done with the statement: reset it for the next user. */
void db_done(struct db_stmt *st);

/* Transactions (not nested).  db_begin takes the write lock at once
 * (BEGIN IMMEDIATE on SQLite) so a transaction never fails half-way on a
 * lock upgrade; on PostgreSQL it is a plain BEGIN (READ COMMITTED), and
 * a transaction that decides on what it read locks the rows first
 * (SELECT … FOR UPDATE: see check-then-write above).
 * db_commit rolls back when it fails.  db_rollback is a no-op outside a
 * transaction, and always leaves the connection usable. */
int db_begin(struct db *db);
int db_commit(struct db *db);
void db_rollback(struct db *db);

/* Whether the last failure on db was a serialization failure or a
 * deadlock (SQLSTATE 40001, 40P01): the whole transaction was rolled back
 * by the server and running it again from db_begin may well succeed. */
bool db_retryable(const struct db *db);

/* Run fn(db, arg) in a transaction: begin, fn, commit, or roll back when
 * fn returns non-zero or commit fails.  While the failure is retryable
 * (db_retryable) the whole transaction runs again, up to 5 times after a
 * short random pause, so fn must not act outside the database.  Returns 0,
 * or fn's or the driver's negative status (fn's positive returns are
 * passed through after a rollback).  Blocks. */
int db_transact(struct db *db, int (*fn)(struct db *db, void *arg),
		void *arg);

/* Inside a transaction: wait for, then hold until commit or rollback, the
 * database-wide lock named key (PostgreSQL's pg_advisory_xact_lock; a
 * no-op on SQLite, where db_begin already excludes every other writer).
 * For rare whole-database steps such as migrations run by several nodes
 * at once.  Returns 0 or a negative status. */
int db_lock(struct db *db, int64_t key);

/* Outside a transaction: whether this connection is the one, among every
 * node's, that runs the job named key — PostgreSQL: a session-level
 * advisory lock (pg_try_advisory_lock) taken by the first to ask and held
 * until its connection ends, so when that node dies or loses the database
 * the next one to ask takes over; SQLite: always (one node).  Ask again
 * before each run: a lost connection loses the lock.  1 elected, 0 not,
 * or a negative status (not elected). */
int db_lead(struct db *db, int64_t key);

#endif
