/*
 * db.c — the SQLite backend of the SQL driver, and the per-thread
 * connection pool.
 *
 * SQLite runs in WAL mode (readers never block the writer), with a busy
 * timeout so concurrent writers from worker threads queue instead of
 * failing, and synchronous=FULL because a link row acknowledged to a client
 * must survive power loss like the blob it names.
 */
#include "db.h"

#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../util/pt.h"
#include "../util/banned.h"

#define STMT_CACHE 64

struct db_stmt {
	struct db *db;
	const char *sql; /* cache key: the literal's address */
	sqlite3_stmt *st;
	int64_t changes;
};

struct db {
	sqlite3 *h;
	struct db_stmt cache[STMT_CACHE];
	int ncache;
	struct db *next_in_pool;
};

struct db_pool {
	char *url;
	pthread_key_t key;
	pthread_mutex_t lock;
	struct db *all;
};

static const char *sqlite_path(const char *url)
{
	if (strncmp(url, "sqlite:", 7) == 0)
		return url + 7;
	return url;
}

static int map_rc(sqlite3 *h, int rc)
{
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
	case SQLITE_FULL:
		return -28; /* ENOSPC */
	default:
		pt_log("db: error %d: %s", rc, sqlite3_errmsg(h));
		return PT_EINTERNAL;
	}
}

int db_open(const char *url, struct db **out)
{
	struct db *db = xcalloc(1, sizeof(*db));
	const char *path = sqlite_path(url);
	int rc;

	rc = sqlite3_open_v2(path, &db->h,
			     SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
				     SQLITE_OPEN_NOMUTEX,
			     NULL);
	if (rc != SQLITE_OK) {
		pt_log("db: cannot open '%s': %s", path,
		       db->h ? sqlite3_errmsg(db->h) : sqlite3_errstr(rc));
		sqlite3_close(db->h);
		free(db);
		return PT_EUNAVAIL;
	}
	sqlite3_busy_timeout(db->h, 10000);
	rc = db_exec(db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; "
			 "PRAGMA foreign_keys=ON;");
	if (rc < 0) {
		db_close(db);
		return rc;
	}
	*out = db;
	return 0;
}

void db_close(struct db *db)
{
	if (!db)
		return;
	for (int i = 0; i < db->ncache; i++)
		sqlite3_finalize(db->cache[i].st);
	sqlite3_close(db->h);
	free(db);
}

int db_exec(struct db *db, const char *sql)
{
	char *msg = NULL;
	int rc = sqlite3_exec(db->h, sql, NULL, NULL, &msg);
	if (rc != SQLITE_OK) {
		int err = map_rc(db->h, rc);
		if (err == DB_DONE || err == DB_ROW)
			err = PT_EINTERNAL;
		pt_log("db: '%.60s': %s", sql, msg ? msg : "error");
		sqlite3_free(msg);
		return err;
	}
	return 0;
}

int db_prepare(struct db *db, const char *sql, struct db_stmt **out)
{
	struct db_stmt *s;
	int rc;

	for (int i = 0; i < db->ncache; i++) {
		if (db->cache[i].sql == sql) {
			*out = &db->cache[i];
			db->cache[i].changes = 0;
			return 0;
		}
	}
	PT_ASSERT(db->ncache < STMT_CACHE);
	s = &db->cache[db->ncache];
	rc = sqlite3_prepare_v3(db->h, sql, -1, SQLITE_PREPARE_PERSISTENT,
				&s->st, NULL);
	if (rc != SQLITE_OK) {
		pt_log("db: cannot prepare '%.80s': %s", sql,
		       sqlite3_errmsg(db->h));
		return PT_EINTERNAL;
	}
	s->db = db;
	s->sql = sql;
	s->changes = 0;
	db->ncache++;
	*out = s;
	return 0;
}

static int param_index(struct db_stmt *st, int idx)
{
	char name[16];
	int n = snprintf(name, sizeof(name), "$%d", idx);
	PT_ASSERT(n > 0);
	int i = sqlite3_bind_parameter_index(st->st, name);
	PT_ASSERT(i > 0); /* programmer error: no such parameter */
	return i;
}

void db_bind_text(struct db_stmt *st, int idx, const char *v)
{
	int i = param_index(st, idx);
	if (v)
		sqlite3_bind_text(st->st, i, v, -1, SQLITE_TRANSIENT);
	else
		sqlite3_bind_null(st->st, i);
}

void db_bind_int(struct db_stmt *st, int idx, int64_t v)
{
	sqlite3_bind_int64(st->st, param_index(st, idx), v);
}

int db_step(struct db_stmt *st)
{
	int rc = sqlite3_step(st->st);
	int r = map_rc(st->db->h, rc);
	if (r == DB_DONE)
		st->changes = sqlite3_changes64(st->db->h);
	return r;
}

const char *db_col_text(struct db_stmt *st, int col)
{
	return (const char *)sqlite3_column_text(st->st, col);
}

int64_t db_col_int(struct db_stmt *st, int col)
{
	return sqlite3_column_int64(st->st, col);
}

bool db_col_null(struct db_stmt *st, int col)
{
	return sqlite3_column_type(st->st, col) == SQLITE_NULL;
}

int64_t db_changes(struct db_stmt *st)
{
	return st->changes;
}

void db_done(struct db_stmt *st)
{
	sqlite3_reset(st->st);
	sqlite3_clear_bindings(st->st);
}

int db_begin(struct db *db)
{
	return db_exec(db, "BEGIN IMMEDIATE");
}

int db_commit(struct db *db)
{
	int err = db_exec(db, "COMMIT");
	if (err)
		db_rollback(db);
	return err;
}

void db_rollback(struct db *db)
{
	if (!sqlite3_get_autocommit(db->h))
		sqlite3_exec(db->h, "ROLLBACK", NULL, NULL, NULL);
}

int db_pool_new(const char *url, struct db_pool **out)
{
	struct db_pool *p = xcalloc(1, sizeof(*p));
	p->url = xstrdup(url);
	pthread_key_create(&p->key, NULL);
	pthread_mutex_init(&p->lock, NULL);
	*out = p;
	return 0;
}

void db_pool_free(struct db_pool *p)
{
	if (!p)
		return;
	struct db *db = p->all;
	while (db) {
		struct db *next = db->next_in_pool;
		db_close(db);
		db = next;
	}
	pthread_key_delete(p->key);
	pthread_mutex_destroy(&p->lock);
	free(p->url);
	free(p);
}

struct db *db_pool_get(struct db_pool *p)
{
	struct db *db = pthread_getspecific(p->key);
	if (db)
		return db;
	if (db_open(p->url, &db))
		return NULL;
	pthread_setspecific(p->key, db);
	pthread_mutex_lock(&p->lock);
	db->next_in_pool = p->all;
	p->all = db;
	pthread_mutex_unlock(&p->lock);
	return db;
}
