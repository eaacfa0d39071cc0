/*
 * db.c — the backend-independent half of the SQL driver: choosing the
 * backend from the URL, the per-connection statement cache, the
 * per-thread connection pool, transactions with retries, and dispatch to
 * the backend's vtable (db_sqlite.c, db_pg.c).
 *
 * The pool gives each thread one connection for its whole life, because
 * partaged has a fixed set of worker threads (libmicrohttpd's pool and the
 * maintenance thread): no checkout, no locking on the request path, and a
 * statement cache that stays warm.  A thread that exits closes its
 * connection (the key's destructor) so short-lived threads do not keep
 * server connections open.
 */
#include "db_driver.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../util/pt.h"
#include "../util/banned.h"

struct db_pool {
	const struct db_driver *drv;
	void (*hook)(void *arg); /* db_pool_on_change */
	void *hook_arg;
	char *target;
	pthread_key_t key;
	pthread_mutex_t lock;
	struct db *all;
};

static int parse_url(const char *url, const struct db_driver **drv,
		     const char **target)
{
	if (strncmp(url, "postgresql://", 13) == 0 ||
	    strncmp(url, "postgres://", 11) == 0) {
		*drv = &db_pg_driver;
		*target = url;
	} else if (strncmp(url, "postgres:", 9) == 0) {
		*drv = &db_pg_driver;
		*target = url + 9;
	} else if (strncmp(url, "sqlite:", 7) == 0) {
		*drv = &db_sqlite_driver;
		*target = url + 7;
	} else if (*url && !strstr(url, "://")) {
		*drv = &db_sqlite_driver; /* a bare path */
		*target = url;
	} else {
		pt_log("db: unknown database URL scheme in '%.20s'", url);
		return PT_EBADREQ;
	}
	return 0;
}

int db_open(const char *url, struct db **out)
{
	const struct db_driver *drv;
	const char *target;
	int err = parse_url(url, &drv, &target);
	if (err)
		return err;
	return drv->open(target, false, out);
}

void db_close(struct db *db)
{
	if (!db)
		return;
	db_rollback(db);
	for (int i = 0; i < db->nstmts; i++)
		db->drv->stmt_free(db->stmts[i]);
	free(db->stmts);
	db->stmts = NULL;
	db->nstmts = 0;
	db->drv->close(db);
}

const char *db_backend(const struct db *db)
{
	return db->drv->name;
}

int db_exec(struct db *db, const char *sql)
{
	db->retryable = false;
	return db->drv->exec(db, sql);
}

int db_prepare(struct db *db, const char *sql, struct db_stmt **out)
{
	struct db_stmt *st = NULL;
	int err;

	/* Linear: a connection has a few dozen statements, and comparing
	 * pointers is cheaper than hashing. */
	for (int i = 0; i < db->nstmts; i++) {
		if (db->stmts[i]->sql == sql) {
			st = db->stmts[i];
			break;
		}
	}
	if (!st) {
		if (db->nstmts == db->capstmts) {
			db->capstmts = db->capstmts ? 2 * db->capstmts : 32;
			db->stmts = xrealloc(db->stmts, db->capstmts *
						       sizeof(*db->stmts));
		}
		st = db->drv->stmt_new(db, sql);
		st->db = db;
		st->sql = sql;
		db->stmts[db->nstmts++] = st;
	}
	st->changes = 0;
	if ((err = db->drv->stmt_ready(st)))
		return err;
	*out = st;
	return 0;
}

void db_bind_text(struct db_stmt *st, int idx, const char *v)
{
	st->db->drv->bind_text(st, idx, v);
}

void db_bind_int(struct db_stmt *st, int idx, int64_t v)
{
	st->db->drv->bind_int(st, idx, v);
}

int db_step(struct db_stmt *st)
{
	st->db->retryable = false;
	return st->db->drv->step(st);
}

const char *db_col_text(struct db_stmt *st, int col)
{
	return st->db->drv->col_text(st, col);
}

int64_t db_col_int(struct db_stmt *st, int col)
{
	return st->db->drv->col_int(st, col);
}

bool db_col_null(struct db_stmt *st, int col)
{
	return st->db->drv->col_null(st, col);
}

int64_t db_changes(struct db_stmt *st)
{
	return st->changes;
}

void db_done(struct db_stmt *st)
{
	st->db->drv->reset(st);
}

int db_begin(struct db *db)
{
	int err;

	PT_ASSERT(!db->in_tx); /* not nested */
	db->retryable = false;
	if ((err = db->drv->begin(db)))
		return err;
	db->in_tx = true;
	return 0;
}

static void fire_change(struct db *db)
{
	db->changed = false;
	if (db->pool && db->pool->hook)
		db->pool->hook(db->pool->hook_arg);
}

int db_commit(struct db *db)
{
	int err;

	PT_ASSERT(db->in_tx);
	err = db->drv->commit(db);
	if (err)
		db->drv->rollback(db);
	db->in_tx = false;
	/* also after a failed COMMIT: it may have committed, and telling
	 * of a change that did not happen costs only a cache refill */
	if (db->changed)
		fire_change(db);
	return err;
}

void db_rollback(struct db *db)
{
	db->changed = false;
	if (!db->in_tx)
		return;
	db->drv->rollback(db);
	db->in_tx = false;
}

void db_changed(struct db *db)
{
	if (db->in_tx)
		db->changed = true;
	else
		fire_change(db);
}

void db_pool_on_change(struct db_pool *p, void (*hook)(void *arg),
		       void *arg)
{
	p->hook = hook;
	p->hook_arg = arg;
}

bool db_retryable(const struct db *db)
{
	return db->retryable;
}

int db_lock(struct db *db, int64_t key)
{
	PT_ASSERT(db->in_tx);
	return db->drv->lock(db, key);
}

int db_lead(struct db *db, int64_t key)
{
	PT_ASSERT(!db->in_tx);
	return db->drv->lead ? db->drv->lead(db, key) : 1;
}

/* Random 1–8 ms times the attempt: two transactions that deadlocked must
 * not retry in lockstep. */
static void retry_pause(int attempt)
{
	uint64_t ns = (1 + pt_mono_ns() % 8) * 1000000ull * (uint64_t)attempt;
	struct timespec ts = { .tv_sec = 0, .tv_nsec = (long)ns };
	nanosleep(&ts, NULL);
}

int db_transact(struct db *db, int (*fn)(struct db *db, void *arg),
		void *arg)
{
	int err = 0;

	for (int attempt = 1; attempt <= 5; attempt++) {
		if (attempt > 1)
			retry_pause(attempt - 1);
		if ((err = db_begin(db))) {
			if (db_retryable(db))
				continue;
			return err;
		}
		err = fn(db, arg);
		if (!err)
			err = db_commit(db);
		else
			db_rollback(db);
		if (!err || !db_retryable(db))
			return err;
	}
	pt_log("db: transaction still failing after 5 attempts: %s",
	       pt_strerror(err));
	return err;
}

/* ---- the pool ---- */

static void pool_unlink(struct db_pool *p, struct db *db)
{
	if (db->prev)
		db->prev->next = db->next;
	else
		p->all = db->next;
	if (db->next)
		db->next->prev = db->prev;
	db->prev = db->next = NULL;
}

/* pthread key destructor: the thread is exiting. */
static void pool_thread_exit(void *arg)
{
	struct db *db = arg;
	struct db_pool *p = db->pool;

	pthread_mutex_lock(&p->lock);
	pool_unlink(p, db);
	pthread_mutex_unlock(&p->lock);
	db_close(db);
}

int db_pool_new(const char *url, struct db_pool **out)
{
	const struct db_driver *drv;
	const char *target;
	struct db_pool *p;
	int err = parse_url(url, &drv, &target);

	if (err)
		return err;
	p = xcalloc(1, sizeof(*p));
	p->drv = drv;
	p->target = xstrdup(target);
	if (pthread_key_create(&p->key, pool_thread_exit)) {
		free(p->target);
		free(p);
		return PT_EINTERNAL;
	}
	pthread_mutex_init(&p->lock, NULL);
	*out = p;
	return 0;
}

void db_pool_free(struct db_pool *p)
{
	if (!p)
		return;
	/* First, so that no destructor runs on a pool being freed. */
	pthread_key_delete(p->key);
	struct db *db = p->all;
	while (db) {
		struct db *next = db->next;
		db_close(db);
		db = next;
	}
	pthread_mutex_destroy(&p->lock);
	free(p->target);
	free(p);
}

bool db_pool_known_down(const struct db_pool *p)
{
	return p->drv->known_down && p->drv->known_down();
}

struct db *db_pool_get(struct db_pool *p)
{
	struct db *db = pthread_getspecific(p->key);
	if (db)
		return db;
	if (p->drv->open(p->target, true, &db))
		return NULL;
	db->pool = p;
	pthread_mutex_lock(&p->lock);
	db->next = p->all;
	if (p->all)
		p->all->prev = db;
	p->all = db;
	pthread_mutex_unlock(&p->lock);
	pthread_setspecific(p->key, db);
	return db;
}

/* Bind fmt's parameters (db_run's letters) from ap. */
static void bind_va(struct db_stmt *st, const char *fmt, va_list ap)
{
	for (int i = 0; fmt[i]; i++) {
		if (fmt[i] == 't')
			db_bind_text(st, i + 1, va_arg(ap, const char *));
		else if (fmt[i] == 'i')
			db_bind_int(st, i + 1, va_arg(ap, int64_t));
		else
			PT_ASSERT(!"db_run: format letters are t and i");
	}
}

/* Prepare sql and bind fmt's parameters from ap. */
static int prepare_va(struct db *db, const char *sql, struct db_stmt **out,
		      const char *fmt, va_list ap)
{
	int err = db_prepare(db, sql, out);
	if (!err)
		bind_va(*out, fmt, ap);
	return err;
}

int db_query(struct db *db, const char *sql, struct db_stmt **out,
	     const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int err = prepare_va(db, sql, out, fmt, ap);
	va_end(ap);
	return err;
}

int64_t db_run(struct db *db, const char *sql, const char *fmt, ...)
{
	struct db_stmt *st;
	va_list ap;
	va_start(ap, fmt);
	int err = prepare_va(db, sql, &st, fmt, ap);
	va_end(ap);
	if (err)
		return err;
	err = db_step(st);
	int64_t n = db_changes(st);
	db_done(st);
	return err < 0 ? err : n;
}

int db_get(struct db *db, const char *sql, struct db_stmt **out,
	   const char *fmt, ...)
{
	struct db_stmt *st;
	va_list ap;
	va_start(ap, fmt);
	int err = prepare_va(db, sql, &st, fmt, ap);
	va_end(ap);
	if (err)
		return err;
	err = db_step(st);
	if (err == DB_ROW) {
		*out = st;
		return 0;
	}
	db_done(st);
	return err == DB_DONE ? PT_ENOTFOUND : err;
}
