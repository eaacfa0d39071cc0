/*
 * db_pg.c — the PostgreSQL backend of the SQL driver (libpq), for
 * deployments where several partaged nodes share one metadata store.
 *
 * Each connection prepares its statements once (PQprepare, named by their
 * slot in the cache) and runs them with text parameters; the server infers
 * the parameter types from the SQL, which is why the repo module never
 * uses a bare "SELECT $1".  A result is read whole, so a caller may run
 * other statements while it iterates over rows, as it can with SQLite.
 *
 * The server may go away at any time (restart, failover, a DBA's
 * pg_terminate_backend).  A connection then becomes "down": its calls fail
 * with PT_EUNAVAIL (HTTP 503), and the next call outside a transaction
 * reconnects — no more than once a second, so a dead server costs each
 * thread one connect attempt per second, not one per request — and
 * prepares statements again (a new session has none; the connection's
 * generation number tells which statements are stale).  Inside a
 * transaction nothing reconnects: the transaction died with the session
 * and must be rolled back first.  Outages are logged once per process, not
 * once per thread or request.
 */
#include "db_driver.h"

#include <errno.h>
#include <libpq-fe.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../util/pt.h"
#include "../util/banned.h"

#define RECONNECT_NS 1000000000ull /* at most one connect attempt a second */
#define STEP_RETRIES 3             /* autocommit deadlock/serialization */

struct pg_db {
	struct db base;
	char *conninfo;
	PGconn *conn;         /* NULL while down */
	unsigned gen;         /* bumped at every new session */
	int nnames;           /* statement names handed out */
	uint64_t retry_after; /* pt_mono_ns() before which we do not connect */
	bool doomed;          /* the server said FATAL: the session is ending */
	char why[160];        /* …and why, for the log line */
};

struct pg_stmt {
	struct db_stmt base;
	char name[16];
	unsigned gen; /* session it was prepared in; 0 = never */
	int nparams;
	char **params; /* owned text values, NULL for SQL NULL */
	PGresult *res; /* rows of the current execution, NULL before */
	int row, nrows;
};

/* Whether the process has logged the server as unreachable: outages are
 * logged when they start and end, not by every thread that notices. */
static atomic_bool pg_down;

static struct pg_db *PG(struct db *db)
{
	return (struct pg_db *)db;
}

static struct pg_stmt *PS(struct db_stmt *st)
{
	return (struct pg_stmt *)st;
}

/* libpq messages end with a newline and may span lines: keep line one. */
static void first_line(const char *msg, char *buf, size_t cap)
{
	size_t n = strcspn(msg ? msg : "", "\n");
	if (n >= cap)
		n = cap - 1;
	memcpy(buf, msg ? msg : "", n);
	buf[n] = '\0';
}

/* Notices go to our log only when they are warnings or worse: "relation
 * already exists, skipping" on every start is noise.  An error that
 * arrives while the connection is idle is delivered here too, and when it
 * is FATAL (pg_terminate_backend, shutdown, idle timeout) the server is
 * about to close the session: mark it so ensure_conn replaces it. */
static void notice_cb(void *arg, const PGresult *res)
{
	struct pg_db *db = arg;
	const char *sev = PQresultErrorField(res, PG_DIAG_SEVERITY_NONLOCALIZED);
	char line[256];

	if (!sev || strcmp(sev, "NOTICE") == 0 || strcmp(sev, "INFO") == 0 ||
	    strcmp(sev, "DEBUG") == 0 || strcmp(sev, "LOG") == 0)
		return;
	if (strcmp(sev, "FATAL") == 0 || strcmp(sev, "PANIC") == 0) {
		db->doomed = true;
		first_line(PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY),
			   db->why, sizeof(db->why));
		return; /* ensure_conn logs it with what it does about it */
	}
	first_line(PQresultErrorMessage(res), line, sizeof(line));
	pt_log("db: postgres says: %s", line);
}

static bool pg_known_down(void)
{
	return atomic_load(&pg_down);
}

static void drop_conn(struct pg_db *db)
{
	PQfinish(db->conn);
	db->conn = NULL;
}

/* The session is gone: one log line (per outage), and down we go. */
static int lost(struct pg_db *db, const char *why)
{
	char line[256];

	first_line(why, line, sizeof(line));
	if (!atomic_exchange(&pg_down, true))
		pt_log("db: lost the connection to postgres: %s; answering "
		       "503 until it is back", line);
	drop_conn(db);
	/* the next call may reconnect at once: a restarted server or a
	 * killed backend is usually back; connect_now paces the retries */
	db->retry_after = 0;
	return PT_EUNAVAIL;
}

static int connect_now(struct pg_db *db)
{
	/* Our defaults first: libpq lets later entries, the ones expanded
	 * from dbname (the operator's conninfo), override them. */
	static const char *const keys[] = {
		"connect_timeout", "keepalives_idle", "keepalives_interval",
		"keepalives_count", "tcp_user_timeout", "application_name",
		"dbname", NULL,
	};
	const char *vals[] = { "5", "15", "5", "3", "30000", "partaged",
			       db->conninfo, NULL };
	char line[256];

	PGconn *c = PQconnectdbParams(keys, vals, 1);
	if (!c || PQstatus(c) != CONNECTION_OK) {
		first_line(c ? PQerrorMessage(c) : "out of memory", line,
			   sizeof(line));
		PQfinish(c);
		db->retry_after = pt_mono_ns() + RECONNECT_NS;
		if (!atomic_exchange(&pg_down, true))
			pt_log("db: cannot connect to postgres: %s; answering "
			       "503 until it is back", line);
		return PT_EUNAVAIL;
	}
	PQsetNoticeReceiver(c, notice_cb, db);
	db->conn = c;
	db->doomed = false;
	db->gen++;
	if (atomic_exchange(&pg_down, false))
		pt_log("db: connected to postgres again");
	return 0;
}

/* A usable session, or PT_EUNAVAIL.  Outside a transaction, a session the
 * server closed while we were idle is noticed here — its goodbye message
 * is waiting on the socket, read without blocking — and replaced before
 * the caller's statement is sent, so a server restart costs no request an
 * error. */
static int ensure_conn(struct pg_db *db)
{
	if (db->conn && PQstatus(db->conn) == CONNECTION_OK) {
		if (db->base.in_tx)
			return 0;
		/* read what arrived, and parse it (PQisBusy does) so that a
		 * FATAL goodbye reaches notice_cb */
		if (PQconsumeInput(db->conn) && !PQisBusy(db->conn) &&
		    !db->doomed && PQstatus(db->conn) == CONNECTION_OK)
			return 0;
		/* closed while idle (a restart, an idle timeout): replace
		 * it before anyone's statement depends on it */
		pt_log("db: postgres closed an idle connection (%s); "
		       "reconnecting", db->doomed ? db->why : "no reason given");
		drop_conn(db);
	} else if (db->conn) {
		drop_conn(db);
	}
	if (db->base.in_tx)
		return PT_EUNAVAIL; /* the transaction died with the session */
	/* pacing spares a server that is down; once another connection of
	 * this process has got through (pg_down cleared), try at once: a
	 * session still waiting out its pace while the process says "up"
	 * would let an upload in (api_intake_check_or_reply trusts the
	 * flag) that then cannot commit */
	if (pt_mono_ns() < db->retry_after && atomic_load(&pg_down))
		return PT_EUNAVAIL;
	return connect_now(db);
}

/* Map a failed result (NULL: libpq could not even make one) to a status:
 * see db.h.  sql is for the log line. */
static int pg_error(struct pg_db *db, PGresult *res, const char *sql)
{
	const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE)
				: NULL;
	const char *msg = res ? PQresultErrorField(res,
						   PG_DIAG_MESSAGE_PRIMARY)
			      : NULL;
	char line[256];

	if (!msg || !*msg)
		msg = PQerrorMessage(db->conn);
	if (PQstatus(db->conn) != CONNECTION_OK || !state ||
	    strncmp(state, "08", 2) == 0 || /* connection exception */
	    strncmp(state, "57P", 3) == 0)  /* admin shutdown, crash… */
		return lost(db, msg);
	if (strncmp(state, "23", 2) == 0) /* integrity constraint */
		return PT_ECONFLICT;
	first_line(msg, line, sizeof(line));
	if (strncmp(state, "22", 2) == 0) {
		/* data exception: a value cannot be stored — bytes that are
		 * not UTF-8 (which SQLite would have taken), a number out of
		 * range: the request's fault, not ours */
		pt_log("db: refused value: %s in '%.80s'", line, sql);
		return PT_EBADREQ;
	}
	if (strcmp(state, "40001") == 0 || strcmp(state, "40P01") == 0) {
		db->base.retryable = true;
		pt_log("db: %s (will retry)", line);
		return PT_EUNAVAIL;
	}
	pt_log("db: error %s: %s in '%.80s'", state, line, sql);
	if (strcmp(state, "53100") == 0) /* disk_full */
		return -ENOSPC;
	if (strncmp(state, "53", 2) == 0 || /* insufficient resources */
	    strcmp(state, "57014") == 0 ||  /* statement timeout */
	    strcmp(state, "55P03") == 0)    /* lock timeout */
		return PT_EUNAVAIL;
	return PT_EINTERNAL;
}

static bool result_ok(PGresult *res)
{
	ExecStatusType s = PQresultStatus(res);
	return res && (s == PGRES_COMMAND_OK || s == PGRES_TUPLES_OK);
}

static int pg_exec_raw(struct pg_db *db, const char *sql)
{
	PGresult *res;
	int err = 0;

	if ((err = ensure_conn(db)))
		return err;
	res = PQexec(db->conn, sql);
	if (!result_ok(res))
		err = pg_error(db, res, sql);
	PQclear(res);
	return err;
}

static int pg_exec(struct db *db, const char *sql)
{
	return pg_exec_raw(PG(db), sql);
}

static int pg_open(const char *conninfo, bool lazy, struct db **out)
{
	struct pg_db *db = xcalloc(1, sizeof(*db));
	int err;

	db->base.drv = &db_pg_driver;
	db->conninfo = xstrdup(conninfo);
	if ((err = connect_now(db)) && !lazy) {
		free(db->conninfo);
		free(db);
		return err;
	}
	*out = &db->base;
	return 0;
}

static void pg_close(struct db *db)
{
	drop_conn(PG(db));
	free(PG(db)->conninfo);
	free(db);
}

/* The highest $N in sql, outside quotes and comments: the number of
 * parameters the server will infer, and the bound for db_bind_*. */
static int count_params(const char *sql)
{
	int max = 0;

	for (const char *p = sql; *p; p++) {
		if (*p == '\'' || *p == '"') {
			char q = *p;
			while (p[1] && p[1] != q)
				p++;
			if (p[1])
				p++;
		} else if (p[0] == '-' && p[1] == '-') {
			while (p[1] && p[1] != '\n')
				p++;
		} else if (p[0] == '/' && p[1] == '*') {
			const char *end = strstr(p + 2, "*/");
			if (!end)
				break;
			p = end + 1;
		} else if (*p == '$' && p[1] >= '0' && p[1] <= '9') {
			int n = 0;
			while (p[1] >= '0' && p[1] <= '9' && n < 100000)
				n = n * 10 + (*++p - '0');
			if (n > max)
				max = n;
		}
	}
	return max;
}

static struct db_stmt *pg_stmt_new(struct db *db, const char *sql)
{
	struct pg_stmt *s = xcalloc(1, sizeof(*s));
	int n = snprintf(s->name, sizeof(s->name), "pt%d", PG(db)->nnames++);
	PT_ASSERT(n > 0 && (size_t)n < sizeof(s->name));
	s->nparams = count_params(sql);
	if (s->nparams)
		s->params = xcalloc((size_t)s->nparams, sizeof(*s->params));
	return &s->base;
}

static int pg_stmt_ready(struct db_stmt *st)
{
	struct pg_db *db = PG(st->db);
	struct pg_stmt *s = PS(st);
	PGresult *res;
	int err;

	if ((err = ensure_conn(db)))
		return err;
	if (s->gen == db->gen)
		return 0;
	res = PQprepare(db->conn, s->name, st->sql, 0, NULL);
	if (!result_ok(res)) {
		err = pg_error(db, res, st->sql);
		if (err == PT_ECONFLICT)
			err = PT_EINTERNAL;
	} else {
		s->gen = db->gen;
	}
	PQclear(res);
	return err;
}

static void clear_params(struct pg_stmt *s)
{
	for (int i = 0; i < s->nparams; i++) {
		free(s->params[i]);
		s->params[i] = NULL;
	}
}

static void pg_reset(struct db_stmt *st)
{
	struct pg_stmt *s = PS(st);
	PQclear(s->res);
	s->res = NULL;
	s->row = s->nrows = 0;
	clear_params(s);
}

static void pg_stmt_free(struct db_stmt *st)
{
	pg_reset(st);
	free(PS(st)->params);
	free(st);
}

static void set_param(struct db_stmt *st, int idx, char *v)
{
	struct pg_stmt *s = PS(st);
	PT_ASSERT(idx >= 1 && idx <= s->nparams); /* no such parameter */
	free(s->params[idx - 1]);
	s->params[idx - 1] = v;
}

static void pg_bind_text(struct db_stmt *st, int idx, const char *v)
{
	set_param(st, idx, v ? xstrdup(v) : NULL);
}

static void pg_bind_int(struct db_stmt *st, int idx, int64_t v)
{
	set_param(st, idx, xasprintf("%lld", (long long)v));
}

/* Run the prepared statement; the rows wait in s->res. */
static int run(struct pg_db *db, struct pg_stmt *s)
{
	int err;

	for (int attempt = 0;; attempt++) {
		/* db_prepare made it ready; only a session lost since (or a
		 * retry) needs ensure_conn's reconnect and a new prepare */
		if ((!db->conn || s->gen != db->gen) &&
		    (err = pg_stmt_ready(&s->base)))
			return err;
		s->res = PQexecPrepared(db->conn, s->name, s->nparams,
					(const char *const *)s->params, NULL,
					NULL, 0);
		if (result_ok(s->res))
			break;
		err = pg_error(db, s->res, s->base.sql);
		PQclear(s->res);
		s->res = NULL;
		/* alone, the statement failed as a whole and had no effect */
		if (!db->base.retryable || db->base.in_tx ||
		    attempt + 1 >= STEP_RETRIES)
			return err;
		db->base.retryable = false;
	}
	s->nrows = PQntuples(s->res);
	s->row = -1;
	s->base.changes = strtoll(PQcmdTuples(s->res), NULL, 10);
	return 0;
}

static int pg_step(struct db_stmt *st)
{
	struct pg_stmt *s = PS(st);
	int err;

	if (!s->res && (err = run(PG(st->db), s)))
		return err;
	if (s->row + 1 < s->nrows) {
		s->row++;
		return DB_ROW;
	}
	s->row = s->nrows;
	return DB_DONE;
}

static bool pg_col_null(struct db_stmt *st, int col)
{
	struct pg_stmt *s = PS(st);
	PT_ASSERT(s->res && s->row >= 0 && s->row < s->nrows);
	PT_ASSERT(col >= 0 && col < PQnfields(s->res));
	return PQgetisnull(s->res, s->row, col);
}

static const char *pg_col_text(struct db_stmt *st, int col)
{
	if (pg_col_null(st, col))
		return NULL;
	return PQgetvalue(PS(st)->res, PS(st)->row, col);
}

static int64_t pg_col_int(struct db_stmt *st, int col)
{
	const char *v = pg_col_text(st, col);
	if (!v)
		return 0;
	/* booleans read as SQLite gives them */
	if (v[0] == 't' && !v[1])
		return 1;
	if (v[0] == 'f' && !v[1])
		return 0;
	return strtoll(v, NULL, 10);
}

static int pg_begin(struct db *db)
{
	return pg_exec_raw(PG(db), "BEGIN");
}

static int pg_commit(struct db *db)
{
	struct pg_db *p = PG(db);
	PGresult *res;
	int err = 0;

	if ((err = ensure_conn(p)))
		return err;
	res = PQexec(p->conn, "COMMIT");
	if (!result_ok(res)) {
		err = pg_error(p, res, "COMMIT");
		if (err == PT_EUNAVAIL && !p->conn)
			pt_log("db: the connection broke during COMMIT: the "
			       "transaction may or may not have committed");
	} else if (strcmp(PQcmdStatus(res), "ROLLBACK") == 0) {
		/* COMMIT of a transaction an earlier error aborted: the
		 * caller went on after a failure it should have seen */
		pt_log("db: COMMIT of a failed transaction rolled it back");
		err = PT_EINTERNAL;
	}
	PQclear(res);
	return err;
}

static void pg_rollback(struct db *db)
{
	struct pg_db *p = PG(db);

	/* Only on a live session still in a transaction: a lost session
	 * rolled back on the server by itself. */
	if (!p->conn || PQstatus(p->conn) != CONNECTION_OK ||
	    PQtransactionStatus(p->conn) == PQTRANS_IDLE)
		return;
	PQclear(PQexec(p->conn, "ROLLBACK"));
	if (PQstatus(p->conn) != CONNECTION_OK)
		lost(p, PQerrorMessage(p->conn));
}

static int pg_lock(struct db *db, int64_t key)
{
	struct db_stmt *st;
	int err = db_prepare(db, "SELECT pg_advisory_xact_lock($1::bigint)",
			     &st);
	if (err)
		return err;
	db_bind_int(st, 1, key);
	err = db_step(st);
	db_done(st);
	return err < 0 ? err : 0;
}

/* A session-level advisory lock: held until this connection ends (a
 * node that dies, or whose connection is lost, lets it go at once).
 * pg_try_advisory_lock counts re-entries, so it is asked for only when
 * pg_locks says this session does not hold it yet; CASE evaluates in
 * order. */
static int pg_lead(struct db *db, int64_t key)
{
	struct db_stmt *st;
	int err = db_prepare(db,
			     "SELECT CASE WHEN EXISTS (SELECT 1 FROM pg_locks "
			     "WHERE locktype = 'advisory' AND pid = "
			     "pg_backend_pid() AND granted AND objsubid = 1 "
			     "AND classid::text::bigint * 4294967296 + "
			     "objid::text::bigint = $1::bigint) THEN true "
			     "ELSE pg_try_advisory_lock($1::bigint) END",
			     &st);
	if (err)
		return err;
	db_bind_int(st, 1, key);
	err = db_step(st);
	int held = err == DB_ROW && db_col_int(st, 0) != 0;
	db_done(st);
	return err < 0 ? err : held;
}

const struct db_driver db_pg_driver = {
	.name = "postgres",
	.open = pg_open,
	.close = pg_close,
	.exec = pg_exec,
	.stmt_new = pg_stmt_new,
	.stmt_ready = pg_stmt_ready,
	.stmt_free = pg_stmt_free,
	.bind_text = pg_bind_text,
	.bind_int = pg_bind_int,
	.step = pg_step,
	.col_text = pg_col_text,
	.col_int = pg_col_int,
	.col_null = pg_col_null,
	.reset = pg_reset,
	.begin = pg_begin,
	.commit = pg_commit,
	.rollback = pg_rollback,
	.lock = pg_lock,
	.lead = pg_lead,
	.known_down = pg_known_down,
};
