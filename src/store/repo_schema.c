/*
 * repo_schema.c — partage's tables and their migrations.
 *
 * The schema is a list of migrations, each taking it from version N-1 to
 * N and never edited once released; the database records the versions
 * applied (table schema_version), and repo_migrate brings it up to date
 * under a database-wide lock, so nodes starting together migrate once.
 * Column types are the two SQLite and PostgreSQL share, TEXT and BIGINT;
 * ids are made by the application (no engine-specific autoincrement).
 */
#include "repo_int.h"

#include <stdlib.h>

#include "../util/pt.h"
#include "../util/banned.h"

/* A migration whose SQL differs by engine: the SQLite statements, this
 * line, then the PostgreSQL ones (repo_migrate runs the half of its own
 * engine). */
#define REPO_SCHEMA_PG "\n-- postgres\n"

/* Migration 14's parts (see there). */
/* clang-format off */
#define STATS_TABLE                                                        \
	"CREATE TABLE stats (kind TEXT NOT NULL, shard TEXT NOT NULL, n "  \
	"BIGINT NOT NULL DEFAULT 0, bytes BIGINT NOT NULL DEFAULT 0, "     \
	"PRIMARY KEY (kind, shard));"                                      \
	"INSERT INTO stats(kind, shard, n, bytes) SELECT 'links', "        \
	"substr(id, 1, 2), COUNT(*), SUM(size) FROM links WHERE state = 0 " \
	"GROUP BY substr(id, 1, 2);"                                       \
	"INSERT INTO stats(kind, shard, n, bytes) SELECT 'blobs', "        \
	"substr(sha256, 1, 3), COUNT(*), SUM(size) FROM blobs GROUP BY "   \
	"substr(sha256, 1, 3);"                                            \
	"CREATE INDEX links_shard ON links(substr(id, 1, 2), size) WHERE " \
	"state = 0;"
/* add dn rows and db bytes to the counter of (kind, the shard of key) */
#define STATS_ADD(kind, key, dn, db)                                       \
	"INSERT INTO stats(kind, shard, n, bytes) VALUES ('" kind "', "    \
	"substr(" key "), " dn ", " db ") ON CONFLICT (kind, shard) DO "   \
	"UPDATE SET n = stats.n + excluded.n, bytes = stats.bytes + "      \
	"excluded.bytes;"
#define STATS_SQLITE                                                       \
	"CREATE TRIGGER links_stats_insert AFTER INSERT ON links WHEN "    \
	"NEW.state = 0 BEGIN "                                             \
	STATS_ADD("links", "NEW.id, 1, 2", "1", "NEW.size") " END;"        \
	"CREATE TRIGGER links_stats_update AFTER UPDATE OF state, size "   \
	"ON links WHEN (OLD.state = 0) <> (NEW.state = 0) OR (NEW.state "  \
	"= 0 AND NEW.size <> OLD.size) BEGIN "                             \
	STATS_ADD("links", "NEW.id, 1, 2",                                 \
		  "(NEW.state = 0) - (OLD.state = 0)",                     \
		  "(CASE WHEN NEW.state = 0 THEN NEW.size ELSE 0 END) - "  \
		  "(CASE WHEN OLD.state = 0 THEN OLD.size ELSE 0 END)")    \
	" END;"                                                            \
	"CREATE TRIGGER links_stats_delete AFTER DELETE ON links WHEN "    \
	"OLD.state = 0 BEGIN "                                             \
	STATS_ADD("links", "OLD.id, 1, 2", "-1", "-OLD.size") " END;"      \
	"CREATE TRIGGER blobs_stats_insert AFTER INSERT ON blobs BEGIN "   \
	STATS_ADD("blobs", "NEW.sha256, 1, 3", "1", "NEW.size") " END;"    \
	"CREATE TRIGGER blobs_stats_update AFTER UPDATE OF size ON blobs " \
	"WHEN NEW.size <> OLD.size BEGIN "                                 \
	STATS_ADD("blobs", "NEW.sha256, 1, 3", "0", "NEW.size - OLD.size") \
	" END;"                                                            \
	"CREATE TRIGGER blobs_stats_delete AFTER DELETE ON blobs BEGIN "   \
	STATS_ADD("blobs", "OLD.sha256, 1, 3", "-1", "-OLD.size") " END;"
/* PostgreSQL: a function per table; search_path as at creation, so that
 * it finds its stats table whoever writes the row */
#define STATS_PG_FN(table, col, len, cond)                                 \
	"CREATE FUNCTION partage_" table "_stats() RETURNS trigger SET "   \
	"search_path FROM CURRENT LANGUAGE plpgsql AS $f$ DECLARE d_n "    \
	"BIGINT := 0; d_b BIGINT := 0; k TEXT; BEGIN "                     \
	"IF TG_OP = 'DELETE' OR TG_OP = 'UPDATE' THEN k := OLD." col "; "  \
	"IF " cond("OLD") " THEN d_n := d_n - 1; d_b := d_b - OLD.size; "  \
	"END IF; END IF; "                                                 \
	"IF TG_OP = 'INSERT' OR TG_OP = 'UPDATE' THEN k := NEW." col "; "  \
	"IF " cond("NEW") " THEN d_n := d_n + 1; d_b := d_b + NEW.size; "  \
	"END IF; END IF; "                                                 \
	"IF d_n <> 0 OR d_b <> 0 THEN "                                    \
	STATS_ADD(table, "k, 1, " len, "d_n", "d_b") " END IF; "           \
	"RETURN NULL; END $f$;"
#define STATS_LIVE(row) row ".state = 0"
#define STATS_ANY(row) "true"
#define STATS_PG                                                           \
	STATS_PG_FN("links", "id", "2", STATS_LIVE)                        \
	"CREATE TRIGGER links_stats AFTER INSERT OR DELETE OR UPDATE OF "  \
	"state, size ON links FOR EACH ROW EXECUTE FUNCTION "              \
	"partage_links_stats();"                                           \
	STATS_PG_FN("blobs", "sha256", "3", STATS_ANY)                     \
	"CREATE TRIGGER blobs_stats AFTER INSERT OR DELETE OR UPDATE OF "  \
	"size ON blobs FOR EACH ROW EXECUTE FUNCTION "                     \
	"partage_blobs_stats();"
/* clang-format on */

/* Migration N takes the schema from version N-1 to N; append, never edit. */
static const char *const migrations[] = {
	/* 1: blobs and links */
	"CREATE TABLE blobs ("
	"  sha256 TEXT PRIMARY KEY,"
	"  size BIGINT NOT NULL,"
	"  created BIGINT NOT NULL);"
	"CREATE TABLE links ("
	"  id TEXT PRIMARY KEY,"
	"  sha256 TEXT NOT NULL,"
	"  name TEXT NOT NULL,"
	"  mime TEXT NOT NULL,"
	"  size BIGINT NOT NULL,"
	"  created BIGINT NOT NULL,"
	"  expires BIGINT NOT NULL DEFAULT 0,"
	"  max_downloads BIGINT NOT NULL DEFAULT 0,"
	"  downloads BIGINT NOT NULL DEFAULT 0,"
	"  last_download BIGINT NOT NULL DEFAULT 0,"
	"  delete_hash TEXT NOT NULL,"
	"  owner_id BIGINT NOT NULL DEFAULT 0,"
	"  state BIGINT NOT NULL DEFAULT 0,"
	"  reason TEXT NOT NULL DEFAULT '',"
	"  changed BIGINT NOT NULL DEFAULT 0);"
	"CREATE INDEX links_sha256 ON links(sha256);",
	/* 2: resumable uploads (tus) */
	"CREATE TABLE uploads ("
	"  uid TEXT PRIMARY KEY,"
	"  length BIGINT NOT NULL,"
	"  received BIGINT NOT NULL DEFAULT 0,"
	"  metadata TEXT NOT NULL DEFAULT '',"
	"  concat TEXT NOT NULL DEFAULT '',"
	"  created BIGINT NOT NULL,"
	"  expires BIGINT NOT NULL,"
	"  owner_id BIGINT NOT NULL DEFAULT 0,"
	"  delete_hash TEXT NOT NULL,"
	"  lease BIGINT NOT NULL DEFAULT 0,"
	"  holder TEXT NOT NULL DEFAULT '',"
	"  state BIGINT NOT NULL DEFAULT 0,"
	"  link_id TEXT NOT NULL DEFAULT '',"
	"  cleaned BIGINT NOT NULL DEFAULT 0);"
	"CREATE INDEX uploads_expires ON uploads(expires);",
	/* 3: accounts, sessions and API tokens, vouchers.  Ids are random
	 * 63-bit numbers made by the application: no engine-specific
	 * autoincrement in portable SQL. */
	"CREATE TABLE users ("
	"  id BIGINT PRIMARY KEY,"
	"  name TEXT NOT NULL UNIQUE,"
	"  pwhash TEXT NOT NULL,"
	"  tier TEXT NOT NULL DEFAULT 'free',"
	"  premium_until BIGINT NOT NULL DEFAULT 0,"
	"  role TEXT NOT NULL DEFAULT 'user',"
	"  disabled BIGINT NOT NULL DEFAULT 0,"
	"  direct_downloads BIGINT NOT NULL DEFAULT 0,"
	"  created BIGINT NOT NULL);"
	"CREATE TABLE tokens ("
	"  id TEXT PRIMARY KEY,"
	"  user_id BIGINT NOT NULL,"
	"  hash TEXT NOT NULL UNIQUE,"
	"  kind TEXT NOT NULL,"
	"  csrf TEXT NOT NULL DEFAULT '',"
	"  created BIGINT NOT NULL,"
	"  expires BIGINT NOT NULL DEFAULT 0);"
	"CREATE INDEX tokens_user ON tokens(user_id);"
	"CREATE TABLE vouchers ("
	"  hash TEXT PRIMARY KEY,"
	"  days BIGINT NOT NULL,"
	"  created BIGINT NOT NULL,"
	"  redeemed_by BIGINT NOT NULL DEFAULT 0,"
	"  redeemed_at BIGINT NOT NULL DEFAULT 0);"
	"CREATE INDEX links_owner ON links(owner_id);",
	/* 4: abuse handling: takedowns, the hash blocklist, reports, and the
	 * append-only audit log */
	"CREATE TABLE takedowns ("
	"  id TEXT PRIMARY KEY,"
	"  created BIGINT NOT NULL,"
	"  actor TEXT NOT NULL,"
	"  scope TEXT NOT NULL,"
	"  reason TEXT NOT NULL,"
	"  reference TEXT NOT NULL,"
	"  sha256 TEXT NOT NULL DEFAULT '',"
	"  state BIGINT NOT NULL DEFAULT 0);"
	"CREATE TABLE blocklist ("
	"  sha256 TEXT PRIMARY KEY,"
	"  reason TEXT NOT NULL,"
	"  created BIGINT NOT NULL,"
	"  purge_after BIGINT NOT NULL DEFAULT 0,"
	"  takedown_id TEXT NOT NULL DEFAULT '');"
	"CREATE TABLE reports ("
	"  id TEXT PRIMARY KEY,"
	"  created BIGINT NOT NULL,"
	"  ip TEXT NOT NULL,"
	"  link_id TEXT NOT NULL,"
	"  category TEXT NOT NULL,"
	"  body TEXT NOT NULL,"
	"  contact TEXT NOT NULL,"
	"  state TEXT NOT NULL DEFAULT 'open');"
	"CREATE TABLE audit ("
	"  id BIGINT PRIMARY KEY,"
	"  at BIGINT NOT NULL,"
	"  actor TEXT NOT NULL,"
	"  action TEXT NOT NULL,"
	"  target TEXT NOT NULL,"
	"  reason TEXT NOT NULL,"
	"  detail TEXT NOT NULL);"
	"CREATE INDEX audit_at ON audit(at);"
	"ALTER TABLE links ADD COLUMN takedown_id TEXT NOT NULL DEFAULT '';"
	"CREATE INDEX links_takedown ON links(takedown_id);"
	"ALTER TABLE users ADD COLUMN strikes BIGINT NOT NULL DEFAULT 0;",
	/* 5: the uploader rewards ledger, append-only */
	"CREATE TABLE rewards ("
	"  id BIGINT PRIMARY KEY,"
	"  user_id BIGINT NOT NULL,"
	"  link_id TEXT NOT NULL,"
	"  kind TEXT NOT NULL,"
	"  points BIGINT NOT NULL,"
	"  at BIGINT NOT NULL);"
	"CREATE INDEX rewards_user ON rewards(user_id);",
	/* 6: password-protected links (Argon2id of the link password) */
	"ALTER TABLE links ADD COLUMN password_hash TEXT NOT NULL DEFAULT '';",
	/* 7: every takedown keeps the bytes through its quarantine */
	"ALTER TABLE takedowns ADD COLUMN purge_after BIGINT NOT NULL "
	"DEFAULT 0;",
	/* 8: folders; a link sits in one folder ('' = none); each blob's
	 * CRC-32 (-1 until known), which zip downloads need before sending */
	"CREATE TABLE folders ("
	"  id TEXT PRIMARY KEY,"
	"  owner_id BIGINT NOT NULL,"
	"  parent_id TEXT NOT NULL DEFAULT '',"
	"  name TEXT NOT NULL,"
	"  created BIGINT NOT NULL,"
	"  shared BIGINT NOT NULL DEFAULT 0);"
	"CREATE INDEX folders_owner ON folders(owner_id, parent_id);"
	"CREATE INDEX folders_parent ON folders(parent_id);"
	"ALTER TABLE links ADD COLUMN folder_id TEXT NOT NULL DEFAULT '';"
	"CREATE INDEX links_folder ON links(folder_id);"
	"ALTER TABLE blobs ADD COLUMN crc32 BIGINT NOT NULL DEFAULT -1;",
	/* 9: failed logins per account name, shared by every node (a
	 * fixed window from the first failure) */
	"CREATE TABLE login_failures ("
	"  name TEXT PRIMARY KEY,"
	"  since BIGINT NOT NULL,"
	"  n BIGINT NOT NULL);",
	/* 10: a resumable upload's link password (Argon2id), given at
	 * creation and kept out of the metadata that HEAD echoes */
	"ALTER TABLE uploads ADD COLUMN password_hash TEXT NOT NULL "
	"DEFAULT '';",
	/* 11: an API token's label (what it is for) and when it was last
	 * used (to the minute: see repo_token_touch) */
	"ALTER TABLE tokens ADD COLUMN label TEXT NOT NULL DEFAULT '';"
	"ALTER TABLE tokens ADD COLUMN last_used BIGINT NOT NULL DEFAULT 0;",
	/* 12: the byte budget of a Max-Downloads link (repo_link_budget_*):
	 * bytes charged, the part of them still in flight, the client the
	 * last download belongs to, the resume allowance given away */
	"ALTER TABLE links ADD COLUMN budget_sent BIGINT NOT NULL DEFAULT 0;"
	"ALTER TABLE links ADD COLUMN budget_open BIGINT NOT NULL DEFAULT 0;"
	"ALTER TABLE links ADD COLUMN budget_holder TEXT NOT NULL "
	"DEFAULT '';"
	"ALTER TABLE links ADD COLUMN budget_slack BIGINT NOT NULL "
	"DEFAULT 0;",
	/* 13: a resumable upload's running hash at its durable offset
	 * (runhash.h), so completing it does not read it back */
	"ALTER TABLE uploads ADD COLUMN hash_state TEXT NOT NULL "
	"DEFAULT '';",
	/* 14: webhooks (repo_hooks.c): an account's hooks (owner -1: the
	 * instance's, from the config), the durable outbox of deliveries
	 * with their leases and retries, and the log of every attempt */
	"CREATE TABLE webhooks ("
	"  id TEXT PRIMARY KEY,"
	"  owner BIGINT NOT NULL,"
	"  url TEXT NOT NULL,"
	"  secret TEXT NOT NULL,"
	"  events TEXT NOT NULL,"
	"  created BIGINT NOT NULL);"
	"CREATE INDEX webhooks_owner ON webhooks(owner);"
	"CREATE TABLE webhook_outbox ("
	"  id TEXT PRIMARY KEY,"
	"  hook_id TEXT NOT NULL,"
	"  owner BIGINT NOT NULL,"
	"  event TEXT NOT NULL,"
	"  body TEXT NOT NULL,"
	"  created BIGINT NOT NULL,"
	"  state TEXT NOT NULL DEFAULT 'pending',"
	"  attempts BIGINT NOT NULL DEFAULT 0,"
	"  next_at BIGINT NOT NULL,"
	"  holder TEXT NOT NULL DEFAULT '',"
	"  lease BIGINT NOT NULL DEFAULT 0,"
	"  last_status BIGINT NOT NULL DEFAULT 0,"
	"  last_error TEXT NOT NULL DEFAULT '');"
	"CREATE INDEX webhook_outbox_due ON webhook_outbox(state, next_at);"
	"CREATE INDEX webhook_outbox_hook ON webhook_outbox(hook_id, created);"
	"CREATE TABLE webhook_attempts ("
	"  outbox_id TEXT NOT NULL,"
	"  at BIGINT NOT NULL,"
	"  status BIGINT NOT NULL,"
	"  error TEXT NOT NULL);"
	"CREATE INDEX webhook_attempts_outbox ON webhook_attempts(outbox_id);",
	/* 15: media info of a blob (issue 16, repo_media_*): one row once
	 * the probe ran (state: enum media_state); a blob without a row is
	 * still to probe, which is how the queue survives restarts */
	"CREATE TABLE media ("
	"  sha256 TEXT PRIMARY KEY,"
	"  state BIGINT NOT NULL,"
	"  kind TEXT NOT NULL DEFAULT '',"
	"  container TEXT NOT NULL DEFAULT '',"
	"  vcodec TEXT NOT NULL DEFAULT '',"
	"  acodec TEXT NOT NULL DEFAULT '',"
	"  duration_ms BIGINT NOT NULL DEFAULT 0,"
	"  width BIGINT NOT NULL DEFAULT 0,"
	"  height BIGINT NOT NULL DEFAULT 0,"
	"  bitrate BIGINT NOT NULL DEFAULT 0,"
	"  probed BIGINT NOT NULL);",
	/* 16: file-request links: anyone may upload into the owner's folder
	 * within the limits (0: none); files and bytes count what came in
	 * (repo_request_take); state 0 open, 1 closed by its owner.  A link
	 * and a tus upload name the request they came through ('' none) */
	"CREATE TABLE file_requests ("
	"  id TEXT PRIMARY KEY,"
	"  owner_id BIGINT NOT NULL,"
	"  folder_id TEXT NOT NULL,"
	"  created BIGINT NOT NULL,"
	"  expires BIGINT NOT NULL DEFAULT 0,"
	"  password_hash TEXT NOT NULL DEFAULT '',"
	"  max_files BIGINT NOT NULL DEFAULT 0,"
	"  max_bytes BIGINT NOT NULL DEFAULT 0,"
	"  files BIGINT NOT NULL DEFAULT 0,"
	"  bytes BIGINT NOT NULL DEFAULT 0,"
	"  state BIGINT NOT NULL DEFAULT 0);"
	"CREATE INDEX file_requests_owner ON file_requests(owner_id);"
	"ALTER TABLE links ADD COLUMN request_id TEXT NOT NULL DEFAULT '';"
	"ALTER TABLE uploads ADD COLUMN request_id TEXT NOT NULL "
	"DEFAULT '';",
	/* 17: virus scanning (repo_scan.c): a blob's scan state, 0 not yet
	 * scanned (pending while [scan] clamd is set), 1 clean, 2 infected,
	 * 3 error; and the signature or the error */
	"ALTER TABLE blobs ADD COLUMN scan_state BIGINT NOT NULL DEFAULT 0;"
	"ALTER TABLE blobs ADD COLUMN scan_reason TEXT NOT NULL "
	"DEFAULT '';"
	"CREATE INDEX blobs_scan_state ON blobs(scan_state);",
	/* 18: gc by index, in bounded batches (repo_expiry.c, repo_blobs.c):
	 * partial indexes that hold only the rows each expiry rule looks
	 * at, and the links that stopped being live, by when */
	"CREATE INDEX links_expires ON links(expires) WHERE state = 0 AND "
	"expires > 0;"
	"CREATE INDEX links_used_up ON links(id) WHERE state = 0 AND "
	"max_downloads > 0 AND downloads >= max_downloads;"
	"CREATE INDEX links_idle_anon ON links(owner_id, (CASE WHEN "
	"last_download > created THEN last_download ELSE created END), id) "
	"WHERE state = 0;"
	"CREATE INDEX links_idle_owned ON links((CASE WHEN last_download > "
	"created THEN last_download ELSE created END), id) WHERE state = 0 "
	"AND owner_id <> 0;"
	"CREATE INDEX links_gone ON links(changed, id) WHERE state <> 0;",
	/* 19: the storage statistics kept with every change (repo_expiry.c):
	 * per shard of the key (a link id's first 2 characters, a blob
	 * hash's first 3), live links and their bytes, blobs and theirs,
	 * updated by triggers in the transaction that changes the row (many
	 * rows: writers rarely wait for each other), summed for the gauges
	 * and recounted a few shards at a time (repo_stats_reconcile).
	 * Triggers differ by engine. */
	STATS_TABLE STATS_SQLITE REPO_SCHEMA_PG STATS_TABLE STATS_PG,
	/* 20: fast-start copies of MP4/MOV blobs (issue 16, repo_remux.c):
	 * one row per source blob once looked at (state: enum remux_state);
	 * a done row names its copy, itself a blob that this row keeps
	 * alive (gc: repo_blob_reap) until the source is reaped */
	"CREATE TABLE remux ("
	"  sha256 TEXT PRIMARY KEY,"
	"  state BIGINT NOT NULL,"
	"  copy_sha256 TEXT NOT NULL DEFAULT '',"
	"  copy_size BIGINT NOT NULL DEFAULT 0,"
	"  created BIGINT NOT NULL);"
	"CREATE INDEX remux_copy ON remux(copy_sha256) WHERE copy_sha256 "
	"<> '';",
	/* 21: viewing quotas shared by the nodes of one PostgreSQL (issue
	 * 16, repo_quota.c): a viewer's window (struct media_quota), its
	 * reservations in flight included; rows not touched for longer
	 * than any window are deleted by gc */
	"CREATE TABLE stream_quota ("
	"  viewer TEXT PRIMARY KEY,"
	"  used_ms BIGINT NOT NULL DEFAULT 0,"
	"  start BIGINT NOT NULL DEFAULT 0,"
	"  blocked_until BIGINT NOT NULL DEFAULT 0,"
	"  touched BIGINT NOT NULL DEFAULT 0);"
	"CREATE INDEX stream_quota_touched ON stream_quota(touched);",
	/* 22: thumbnails (issue 16, repo_thumbs.c): one row per source blob
	 * once the thumbnailer ran (state: enum thumb_state); `thumb` names
	 * the derived blob (a blob row of its own) while state is done.  The
	 * row keeps that blob from gc; it goes with its source's row
	 * (repo_blob_reap), and the derived blob after it */
	"CREATE TABLE thumbs ("
	"  sha256 TEXT PRIMARY KEY,"
	"  state BIGINT NOT NULL,"
	"  thumb TEXT NOT NULL DEFAULT '',"
	"  width BIGINT NOT NULL DEFAULT 0,"
	"  height BIGINT NOT NULL DEFAULT 0,"
	"  created BIGINT NOT NULL);"
	"CREATE INDEX thumbs_thumb ON thumbs(thumb);",
	/* 23: the cluster's live nodes and download slots (repo_cluster.c):
	 * a heartbeat row per node (and the key of the advisory lock its
	 * session holds), a row per download connection of the tiers'
	 * per-address limits.  PostgreSQL only uses them; there they
	 * are UNLOGGED (no WAL: they describe connections, which a database
	 * crash ends anyway).  SQLite gets the same tables, unused. */
	"CREATE TABLE nodes (name TEXT PRIMARY KEY, seen BIGINT NOT NULL, "
	"lock_key BIGINT NOT NULL DEFAULT 0);"
	"CREATE TABLE download_slots (node TEXT NOT NULL, token BIGINT NOT "
	"NULL, ip TEXT NOT NULL, id TEXT NOT NULL, since BIGINT NOT NULL, "
	"PRIMARY KEY (node, token));"
	"CREATE INDEX download_slots_ip ON download_slots(ip);" REPO_SCHEMA_PG
	"CREATE UNLOGGED TABLE nodes (name TEXT PRIMARY KEY, seen BIGINT NOT "
	"NULL, lock_key BIGINT NOT NULL DEFAULT 0);"
	"CREATE UNLOGGED TABLE download_slots (node TEXT NOT NULL, token "
	"BIGINT NOT NULL, ip TEXT NOT NULL, id TEXT NOT NULL, since BIGINT "
	"NOT NULL, PRIMARY KEY (node, token));"
	"CREATE INDEX download_slots_ip ON download_slots(ip);",
};

/* The version the schema is at (0: none yet) into *v; 0 or a negative
 * status.  MAX() always gives one row. */
static int schema_version(struct db *db, int64_t *v)
{
	struct db_stmt *st;
	int err = db_get(db, "SELECT MAX(version) FROM schema_version", &st,
			 "");
	if (err)
		return err;
	*v = db_col_int(st, 0);
	db_done(st);
	return 0;
}

/* Run a migration: all of it, or its engine's half (REPO_SCHEMA_PG). */
static int exec_migration(struct db *db, const char *sql)
{
	const char *pg = strstr(sql, REPO_SCHEMA_PG);
	if (!pg)
		return db_exec(db, sql);
	if (strcmp(db_backend(db), "postgres") == 0)
		return db_exec(db, pg + strlen(REPO_SCHEMA_PG));
	char *lite = xstrndup(sql, (size_t)(pg - sql));
	int err = db_exec(db, lite);
	free(lite);
	return err;
}

/* db_lock key for migrations: any constant the repo uses for nothing else */
#define REPO_MIGRATE_LOCK 0x70617274 /* "part" */

int repo_migrate(struct db *db)
{
	int err;

	for (;;) {
		if ((err = db_begin(db)))
			return err;
		/* Nodes starting together: one migrates, the others wait here,
		 * then find the work done.  Even CREATE TABLE IF NOT EXISTS
		 * races on PostgreSQL, so it comes after the lock. */
		if ((err = db_lock(db, REPO_MIGRATE_LOCK)))
			goto fail;
		if ((err = db_exec(db,
				   "CREATE TABLE IF NOT EXISTS schema_version ("
				   " version BIGINT PRIMARY KEY,"
				   " applied BIGINT NOT NULL)")))
			goto fail;
		int64_t v;
		if ((err = schema_version(db, &v)))
			goto fail;
		if (v > (int64_t)PT_ARRAY_LEN(migrations)) {
			pt_log("db: schema version %lld is newer than this "
			       "partaged (%zu)",
			       (long long)v, PT_ARRAY_LEN(migrations));
			err = PT_EINTERNAL;
			goto fail;
		}
		if (v == (int64_t)PT_ARRAY_LEN(migrations)) {
			db_rollback(db);
			return 0;
		}
		if ((err = exec_migration(db, migrations[v])))
			goto fail;
		int64_t rc = db_run(db,
				    "INSERT INTO schema_version(version, "
				    "applied) VALUES ($1, $2)",
				    "ii", v + 1, pt_now());
		if (rc < 0) {
			err = (int)rc;
			goto fail;
		}
		if ((err = db_commit(db)))
			return err;
		pt_log("db: schema migrated to version %lld", (long long)v + 1);
	}
fail:
	db_rollback(db);
	return err;
}
