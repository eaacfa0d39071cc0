/*
 * db_sqlite.c — the SQLite backend of the SQL driver: partaged's default
 * metadata store, one file in the data directory.
 *
 * SQLite runs in WAL mode (readers never block the writer), with a busy
 * timeout so concurrent writers from worker threads queue instead of
 * failing, and synchronous=FULL because a link row acknowledged to a client
 * must survive power loss like the blob it names.
 *
 * A full disk: a commit needs room for its WAL frames, so a write that
 * finds less than the reserve's headroom free releases the data
 * directory's reserve first (reserve.h), and one that fails anyway with
 * SQLITE_FULL (or an I/O error caused by ENOSPC) releases it then: a
 * statement outside a transaction, rolled back whole, runs again at once;
 * in a transaction (rolled back whole by SQLite) the failure is marked
 * retryable, so db_transact runs the transaction again.
 *
 * A statement ending in FOR UPDATE is compiled without it: SQLite has no
 * row locks, and none are needed, since db_begin's BEGIN IMMEDIATE holds
 * the database's only write lock for the whole transaction.
 */
#include "db_driver.h"

#include <ctype.h>
#include <errno.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "reserve.h"
#include "../util/pt.h"
#include "../util/banned.h"

struct sq_db {
	struct db base;
	sqlite3 *h;
};

struct sq_stmt {
	struct db_stmt base;
	sqlite3_stmt *st; /* NULL until compiled */
};

static sqlite3 *handle(struct db *db)
{
	return ((struct sq_db *)db)->h;
}

static sqlite3_stmt *stmt(struct db_stmt *st)
{
	return ((struct sq_stmt *)st)->st;
}

/* Out of disk: SQLITE_FULL, or an I/O error whose cause was (growing the
 * -shm file writes a byte per page, and reports a failure so). */
static bool is_full(sqlite3 *h, int rc)
{
	int e;
	if ((rc & 0xff) == SQLITE_FULL)
		return true;
	if ((rc & 0xff) != SQLITE_IOERR)
		return false;
	e = sqlite3_system_errno(h);
	return e == ENOSPC || e == EDQUOT;
}

static int map_rc(sqlite3 *h, int rc)
{
	if (is_full(h, rc))
		return -ENOSPC;
	switch (rc & 0xff) {
	case SQLITE_OK:
	case SQLITE_DONE:
		return DB_DONE;
	case SQLITE_ROW:
		return DB_ROW;
	case SQLITE_CONSTRAINT:
		return PT_ECONFLICT;
	case SQLITE_BUSY:
	case SQLITE_LOCKED:
		pt_log("db: busy: %s", sqlite3_errmsg(h));
		return PT_EUNAVAIL;
	default:
		pt_log("db: error %d: %s", rc, sqlite3_errmsg(h));
		return PT_EINTERNAL;
	}
}

static int sq_exec(struct db *db, const char *sql)
{
	char *msg = NULL;
	int rc = sqlite3_exec(handle(db), sql, NULL, NULL, &msg);
	if (rc != SQLITE_OK) {
		int err = map_rc(handle(db), rc);
		/* a COMMIT that found the disk full was rolled back */
		if (err == -ENOSPC && reserve_release())
			db->retryable = true;
		if (err == DB_DONE || err == DB_ROW)
			err = PT_EINTERNAL;
		if (err != PT_ECONFLICT)
			pt_log("db: '%.60s': %s", sql, msg ? msg : "error");
		sqlite3_free(msg);
		return err;
	}
	return 0;
}

static void sq_close(struct db *db)
{
	sqlite3_close(handle(db));
	free(db);
}

static int sq_open(const char *path, bool lazy, struct db **out)
{
	struct sq_db *db = xcalloc(1, sizeof(*db));
	int rc, err;

	db->base.drv = &db_sqlite_driver;
	rc = sqlite3_open_v2(path, &db->h,
			     SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
				     SQLITE_OPEN_NOMUTEX,
			     NULL);
	if (rc != SQLITE_OK) {
		pt_log("db: cannot open '%s': %s", path,
		       db->h ? sqlite3_errmsg(db->h) : sqlite3_errstr(rc));
		err = PT_EUNAVAIL;
		goto fail;
	}
	sqlite3_busy_timeout(db->h, 10000);
	/* the WAL and its index may have to be made: room first */
	reserve_before_write();
	for (int i = 0; i < 2; i++) {
		/* mmap_size=0 (Debian's default, said here): the database
		 * is read with pread, never through a mapping that a full
		 * or shrunk file could turn into a SIGBUS; the -shm index
		 * SQLite maps is written page by page before it is used */
		err = sq_exec(&db->base, "PRAGMA journal_mode=WAL; "
					 "PRAGMA synchronous=FULL; "
					 "PRAGMA foreign_keys=ON; "
					 "PRAGMA mmap_size=0;");
		if (err != -ENOSPC || !db->base.retryable)
			break;
		db->base.retryable = false; /* released: once more */
	}
	if (err)
		goto fail;
	*out = &db->base;
	return 0;
fail:
	sqlite3_close(db->h);
	free(db);
	return err;
}

static struct db_stmt *sq_stmt_new(struct db *db, const char *sql)
{
	struct sq_stmt *s = xcalloc(1, sizeof(*s));
	return &s->base;
}

/* The length of sql without a trailing "FOR UPDATE" (and the blanks
 * around it), which SQLite does not parse: its row locks are the whole
 * database's, taken by db_begin's BEGIN IMMEDIATE (see db.h). */
static int sql_len_no_lock(const char *sql)
{
	static const char clause[] = "FOR UPDATE";
	size_t n = strlen(sql), k = sizeof(clause) - 1;

	while (n && isspace((unsigned char)sql[n - 1]))
		n--;
	if (n > k && memcmp(sql + n - k, clause, k) == 0 &&
	    isspace((unsigned char)sql[n - k - 1]))
		n -= k;
	PT_ASSERT(n < INT32_MAX);
	return (int)n;
}

static int sq_stmt_ready(struct db_stmt *st)
{
	struct sq_stmt *s = (struct sq_stmt *)st;
	int rc;

	if (s->st)
		return 0;
	rc = sqlite3_prepare_v3(handle(st->db), st->sql,
				sql_len_no_lock(st->sql),
				SQLITE_PREPARE_PERSISTENT, &s->st, NULL);
	if (rc != SQLITE_OK) {
		pt_log("db: cannot prepare '%.80s': %s", st->sql,
		       sqlite3_errmsg(handle(st->db)));
		s->st = NULL;
		return PT_EINTERNAL;
	}
	return 0;
}

static void sq_stmt_free(struct db_stmt *st)
{
	sqlite3_finalize(stmt(st));
	free(st);
}

static int param_index(struct db_stmt *st, int idx)
{
	char name[16];
	int n = snprintf(name, sizeof(name), "$%d", idx);
	PT_ASSERT(n > 0);
	int i = sqlite3_bind_parameter_index(stmt(st), name);
	PT_ASSERT(i > 0); /* programmer error: no such parameter */
	return i;
}

static void sq_bind_text(struct db_stmt *st, int idx, const char *v)
{
	int i = param_index(st, idx);
	if (v)
		sqlite3_bind_text(stmt(st), i, v, -1, SQLITE_TRANSIENT);
	else
		sqlite3_bind_null(stmt(st), i);
}

static void sq_bind_int(struct db_stmt *st, int idx, int64_t v)
{
	sqlite3_bind_int64(stmt(st), param_index(st, idx), v);
}

static int sq_step(struct db_stmt *st)
{
	sqlite3 *h = handle(st->db);
	sqlite3_stmt *s = stmt(st);
	/* a write outside a transaction is a transaction of its own */
	bool own = sqlite3_get_autocommit(h) && !sqlite3_stmt_busy(s) &&
		   !sqlite3_stmt_readonly(s);

	if (own)
		reserve_before_write();
	int rc = sqlite3_step(s);
	if (is_full(h, rc) && reserve_release()) {
		if (own) {
			/* rolled back whole: run it again in the room */
			sqlite3_reset(s);
			rc = sqlite3_step(s);
		} else {
			st->db->retryable = true;
		}
	}
	int r = map_rc(h, rc);
	if (r == DB_DONE)
		st->changes = sqlite3_changes64(handle(st->db));
	return r;
}

static const char *sq_col_text(struct db_stmt *st, int col)
{
	return (const char *)sqlite3_column_text(stmt(st), col);
}

static int64_t sq_col_int(struct db_stmt *st, int col)
{
	return sqlite3_column_int64(stmt(st), col);
}

static bool sq_col_null(struct db_stmt *st, int col)
{
	return sqlite3_column_type(stmt(st), col) == SQLITE_NULL;
}

static void sq_reset(struct db_stmt *st)
{
	sqlite3_reset(stmt(st));
	sqlite3_clear_bindings(stmt(st));
}

static int sq_begin(struct db *db)
{
	reserve_before_write();
	return sq_exec(db, "BEGIN IMMEDIATE");
}

static int sq_commit(struct db *db)
{
	return sq_exec(db, "COMMIT");
}

static void sq_rollback(struct db *db)
{
	if (!sqlite3_get_autocommit(handle(db)))
		sqlite3_exec(handle(db), "ROLLBACK", NULL, NULL, NULL);
}

/* BEGIN IMMEDIATE already holds the database's only write lock. */
static int sq_lock(struct db *db, int64_t key)
{
	return 0;
}

const struct db_driver db_sqlite_driver = {
	.name = "sqlite",
	.open = sq_open,
	.close = sq_close,
	.exec = sq_exec,
	.stmt_new = sq_stmt_new,
	.stmt_ready = sq_stmt_ready,
	.stmt_free = sq_stmt_free,
	.bind_text = sq_bind_text,
	.bind_int = sq_bind_int,
	.step = sq_step,
	.col_text = sq_col_text,
	.col_int = sq_col_int,
	.col_null = sq_col_null,
	.reset = sq_reset,
	.begin = sq_begin,
	.commit = sq_commit,
	.rollback = sq_rollback,
	.lock = sq_lock,
};
