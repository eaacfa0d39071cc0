/*
 * db_driver.h — the inside of the SQL driver: the vtable a backend fills
 * (db_sqlite.c, db_pg.c) and the parts of a connection and a statement that
 * db.c manages for every backend (statement cache, pool links, the
 * retryable flag).  Only db*.c include this header.
 *
 * A backend embeds struct db and struct db_stmt as the first member of its
 * own structs, so it converts with a cast.  db.c owns the statement cache:
 * it asks the backend for a new statement object once per SQL literal and
 * connection, and calls stmt_ready before every use so a backend can
 * compile it (again, after a reconnect).
 */
#ifndef PT_DB_DRIVER_H
#define PT_DB_DRIVER_H

#include "db.h"

struct db_stmt {
	struct db *db;
	const char *sql; /* cache key: the literal's address */
	int64_t changes;
};

struct db {
	const struct db_driver *drv;
	struct db_stmt **stmts; /* the statement cache */
	int nstmts, capstmts;
	bool retryable; /* see db_retryable() */
	bool in_tx;     /* between a successful begin and commit/rollback */
	bool changed;   /* db_changed() in this transaction */
	struct db_pool *pool; /* NULL outside a pool */
	struct db *prev, *next; /* in pool->all */
};

struct db_driver {
	const char *name;
	/* target is the URL without the scheme.  With lazy, a backend that
	 * can reconnect later may return a connection that is not connected
	 * yet (0, having logged why); otherwise failure is PT_EUNAVAIL. */
	int (*open)(const char *target, bool lazy, struct db **out);
	void (*close)(struct db *db);
	int (*exec)(struct db *db, const char *sql);
	/* A statement object for sql (never fails; compiled by stmt_ready). */
	struct db_stmt *(*stmt_new)(struct db *db, const char *sql);
	/* Compile the statement if it is not (or no longer) compiled on this
	 * connection.  Returns 0 or a negative status. */
	int (*stmt_ready)(struct db_stmt *st);
	void (*stmt_free)(struct db_stmt *st);
	void (*bind_text)(struct db_stmt *st, int idx, const char *v);
	void (*bind_int)(struct db_stmt *st, int idx, int64_t v);
	int (*step)(struct db_stmt *st);
	const char *(*col_text)(struct db_stmt *st, int col);
	int64_t (*col_int)(struct db_stmt *st, int col);
	bool (*col_null)(struct db_stmt *st, int col);
	/* Reset for the next execution and clear the bindings. */
	void (*reset)(struct db_stmt *st);
	int (*begin)(struct db *db);
	int (*commit)(struct db *db);
	void (*rollback)(struct db *db);
	int (*lock)(struct db *db, int64_t key);
	/* Optional (NULL: always true, one node): take or keep the session
	 * lock named key; 1 held, 0 held by another session, or < 0. */
	int (*lead)(struct db *db, int64_t key);
	/* Optional: the server was found unreachable and has not been
	 * reached since (a hint, cheap to ask; NULL when never down). */
	bool (*known_down)(void);
};

extern const struct db_driver db_sqlite_driver;
extern const struct db_driver db_pg_driver;

#endif
