/*
 * db.h — the thin SQL driver: connections, prepared statements, rows and
 * transactions over SQLite (now) and PostgreSQL (the same interface, a
 * second backend behind the vtable in db.c).
 *
 * SQL is written once for both engines: parameters are $1, $2, … (SQLite
 * binds them by name, PostgreSQL by number), types are TEXT and BIGINT, and
 * upserts use INSERT … ON CONFLICT.  All SQL lives in repo.c.
 *
 * Threads: a struct db is one connection and belongs to one thread at a
 * time; db_pool_get() gives each thread its own, created on first use.
 * Statements are prepared once per connection and cached by SQL text
 * pointer (pass string literals).  db_step() returns DB_ROW, DB_DONE or a
 * negative status: PT_ECONFLICT on a uniqueness violation, PT_EUNAVAIL when
 * the database is busy or unreachable, PT_EINTERNAL otherwise (logged).
 * Everything may block.
 */
#ifndef PT_DB_H
#define PT_DB_H

#include <stdbool.h>
#include <stdint.h>

struct db;
struct db_stmt;
struct db_pool;

enum { DB_DONE = 0, DB_ROW = 1 };

/* "sqlite:PATH" (or a bare path).  Returns 0 or a negative status. */
int db_pool_new(const char *url, struct db_pool **out);
void db_pool_free(struct db_pool *p);
/* The calling thread's connection; NULL (and a log line) when it cannot
 * be opened. */
struct db *db_pool_get(struct db_pool *p);

int db_open(const char *url, struct db **out);
void db_close(struct db *db);

/* Run one or more statements with no parameters and no rows. */
int db_exec(struct db *db, const char *sql);

/* Prepared (and cached) statement, reset and with no bindings. */
int db_prepare(struct db *db, const char *sql, struct db_stmt **out);
void db_bind_text(struct db_stmt *st, int idx, const char *v); /* NULL → NULL */
void db_bind_int(struct db_stmt *st, int idx, int64_t v);
int db_step(struct db_stmt *st);
/* Column values of the current row; text is valid until the next step or
 * reset.  NULL text reads as NULL, NULL ints as 0. */
const char *db_col_text(struct db_stmt *st, int col);
int64_t db_col_int(struct db_stmt *st, int col);
bool db_col_null(struct db_stmt *st, int col);
/* Rows changed by the last completed statement. */
int64_t db_changes(struct db_stmt *st);
/* Done with the statement: reset it for the next user. */
void db_done(struct db_stmt *st);

/* Transactions (not nested).  db_begin takes the write lock at once
 * (BEGIN IMMEDIATE on SQLite) so a transaction never fails half-way on a
 * lock upgrade. */
int db_begin(struct db *db);
int db_commit(struct db *db);
void db_rollback(struct db *db);

#endif
