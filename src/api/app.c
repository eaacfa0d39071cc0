/*
 * app.c — the application context: opening the blob store and the
 * metadata store named by the configuration, and the limiters and shared
 * state every handler uses.
 */
#define _GNU_SOURCE
#include "app.h"

#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../http/reply.h"
#include "../store/s3.h"
#include "../util/banned.h"

/* The key that signs tickets: secret_file, or DATA/secret made at first
 * start (32 random bytes, mode 0600), shared by every node that should
 * accept each other's tickets. */
static int load_secret(struct app *app, const struct pt_conf *conf)
{
	char *path = *conf->secret_file ? xstrdup(conf->secret_file)
					: xasprintf("%s/secret", conf->data);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	int err = 0;

	if (fd < 0 && errno == ENOENT) {
		/* first start: write a unique temp file, then link it into
		 * place; if another process (an admin command, a second node)
		 * won the race, its key is the key */
		unsigned char key[TICKET_KEY_LEN];
		char *tmp = xasprintf("%s.XXXXXX", path);
		randombytes_buf(key, sizeof(key));
		fd = mkostemp(tmp, O_CLOEXEC);
		if (fd < 0 || fchmod(fd, 0600) < 0 ||
		    write(fd, key, sizeof(key)) != sizeof(key) || fsync(fd) < 0 ||
		    (link(tmp, path) < 0 && errno != EEXIST)) {
			err = -errno;
			pt_log("cannot create the secret '%s': %s", path,
			       strerror(errno));
		}
		if (fd >= 0) {
			close(fd);
			unlink(tmp);
		}
		free(tmp);
		sodium_memzero(key, sizeof(key));
		if (err)
			goto done;
		fd = open(path, O_RDONLY | O_CLOEXEC);
	}
	if (fd < 0) {
		err = -errno;
		pt_log("cannot open the secret '%s': %s", path, strerror(errno));
		goto done;
	}
	if (read(fd, app->secret, sizeof(app->secret)) !=
	    (ssize_t)sizeof(app->secret)) {
		err = PT_EBADREQ;
		pt_log("the secret '%s' is shorter than %d bytes", path,
		       TICKET_KEY_LEN);
	}
	close(fd);
done:
	free(path);
	return err;
}

/* db_pool_on_change: a link's row changed and committed. */
static void links_changed(void *arg)
{
	linkcache_bump(arg);
}

/* A limit of `limit` events per `window` seconds; 0 = none (NULL). */
static struct ratelimit *limiter(uint64_t limit, int64_t window)
{
	return limit ? ratelimit_new(limit, window) : NULL;
}

int app_open(struct app *app, const struct pt_conf *conf)
{
	char *dburl = NULL;
	struct db *db;
	int err;

	memset(app, 0, sizeof(*app));
	app->conf = conf;
	char host[256] = "localhost";
	gethostname(host, sizeof(host) - 1);
	snprintf(app->node, sizeof(app->node), "%s/%s", host, conf->listen);
	if (strcmp(conf->storage_backend, "fs") != 0 &&
	    strcmp(conf->storage_backend, "s3") != 0) {
		pt_log("storage backend '%s' is not available in this build",
		       conf->storage_backend);
		return PT_EBADREQ;
	}
	if (strcmp(conf->s3_redirect, "presigned") == 0 &&
	    strcmp(conf->storage_backend, "s3") != 0) {
		pt_log("storage.s3_redirect = presigned needs storage.backend "
		       "= s3");
		return PT_EBADREQ;
	}
	if (strcmp(conf->storage_backend, "s3") == 0) {
		/* blobs in the bucket; data still holds the SQLite file */
		if (mkdir(conf->data, 0755) < 0 && errno != EEXIST) {
			err = -errno;
			pt_log("cannot create data directory '%s': %s",
			       conf->data, pt_strerror(err));
			return err;
		}
		struct s3_conf sc = {
			conf->s3_endpoint, conf->s3_bucket, conf->s3_region,
			conf->s3_access_key, conf->s3_secret_key,
			conf->s3_public_endpoint,
			strcmp(conf->s3_addressing, "virtual") == 0,
		};
		if ((err = blob_s3_open_conf(&sc, &app->blobs)))
			return err;
	} else if ((err = blob_fs_open(conf->data, &app->blobs))) {
		pt_log("cannot open data directory '%s': %s", conf->data,
		       pt_strerror(err));
		return err;
	}
	/* fs only: an S3 read is not a local one (blob_reader_open_cached) */
	if (strcmp(conf->storage_backend, "fs") == 0)
		app->blobcache = blob_cache_new(conf->small_cache_bytes,
						BLOB_CACHE_MAX_ENTRY);
	/* the space a full disk still gives to deleting (reserve.h), before
	 * anything writes to the SQLite file; with PostgreSQL the data dir
	 * keeps only the upload floor of the fs store */
	bool sqlite = strcmp(conf->metadata_backend, "postgres") != 0;
	if ((sqlite || strcmp(conf->storage_backend, "fs") == 0) &&
	    reserve_open(conf->data, sqlite ? conf->reserve_bytes : 0,
			 conf->min_free_bytes, &app->reserve))
		app->reserve = NULL; /* logged; runs without */
	if (strcmp(conf->metadata_backend, "postgres") == 0)
		dburl = xasprintf("postgres:%s", conf->postgres_dsn);
	else
		dburl = xasprintf("sqlite:%s/partage.db", conf->data);
	err = db_pool_new(dburl, &app->db);
	free(dburl);
	if (err)
		goto fail;
	db = db_pool_get(app->db);
	if (!db) {
		err = PT_EUNAVAIL;
		goto fail;
	}
	if ((err = repo_migrate(db))) {
		pt_log("cannot migrate the database schema: %s",
		       pt_strerror(err));
		goto fail;
	}
	if ((err = load_secret(app, conf)))
		goto fail;
	app->metrics = metrics_new(api_route_count());
	app->counts = counts_new((int64_t)conf->points_per_download);
	app->coverage = coverage_new(COVERAGE_MAX);
	app->slots = slots_new();
	app->cluster = cluster_new(conf);
	app->throttle = throttle_new();
	/* every limit of 0 is off: its table stays NULL */
	app->login_ip = limiter(conf->login_failures_per_address,
				LOGIN_WINDOW);
	app->login_pair = limiter(conf->login_failures, LOGIN_WINDOW);
	app->login_known = limiter(conf->login_failures_per_name ? 1 : 0,
				   LOGIN_KNOWN_SECONDS);
	app->linkpw_pair = limiter(conf->link_password_failures,
				   LINKPW_WINDOW);
	app->linkpw_ip = limiter(conf->link_password_failures_per_address,
				 LINKPW_WIDE_WINDOW);
	app->linkpw_link = limiter(conf->link_password_failures_per_link,
				   LINKPW_WIDE_WINDOW);
	app->linkpw_known = limiter(conf->link_password_failures_per_link
					    ? 1
					    : 0,
				    LINKPW_KNOWN_SECONDS);
	app->pwhash = pwhash_new((unsigned)conf->password_hash_threads,
				 (unsigned)conf->password_hash_queue);
	if (!app->pwhash) {
		err = PT_EUNAVAIL;
		goto fail;
	}
	app->reports_ip = ratelimit_new(20, 3600);
	app->unknown_ids = ratelimit_new(conf->unknown_ids_per_minute, 60);
	if (conf->link_cache_ms) {
		char *gen = xasprintf("%s/link-generation", conf->data);
		err = linkcache_new(gen, conf->link_cache_ms, LINK_CACHE_SLOTS,
				    &app->links);
		if (err)
			pt_log("cannot map '%s': %s; this process reads "
			       "every link from the database, and its own "
			       "changes reach a running server's copies only "
			       "when they expire (link_cache_ms)",
			       gen, pt_strerror(err));
		free(gen);
		if (app->links)
			db_pool_on_change(app->db, links_changed, app->links);
	}
	return 0;
fail:
	app_close(app);
	return err;
}

void app_close(struct app *app)
{
	if (app->counts && app->db) {
		struct db *db = db_pool_get(app->db);
		if (db)
			counts_flush(app->counts, db);
	}
	counts_free(app->counts);
	metrics_free(app->metrics);
	throttle_free(app->throttle);
	ahead_pool_free(app->ahead);
	slots_free(app->slots);
	cluster_free(app->cluster);
	coverage_free(app->coverage);
	pwhash_free(app->pwhash);
	ratelimit_free(app->login_ip);
	ratelimit_free(app->login_pair);
	ratelimit_free(app->login_known);
	ratelimit_free(app->linkpw_pair);
	ratelimit_free(app->linkpw_ip);
	ratelimit_free(app->linkpw_link);
	ratelimit_free(app->linkpw_known);
	ratelimit_free(app->reports_ip);
	linkcache_free(app->links);
	ratelimit_free(app->unknown_ids);
	sodium_memzero(app->secret, sizeof(app->secret));
	db_pool_free(app->db);
	reserve_close(app->reserve);
	blob_store_close(app->blobs);
	blob_cache_free(app->blobcache);
	memset(app, 0, sizeof(*app));
}

struct db *app_db(struct app *app)
{
	return db_pool_get(app->db);
}

bool app_db_reachable(struct app *app)
{
	struct db *db = app_db(app);
	return db && !db_exec(db, "SELECT 1");
}

void app_flush(struct app *app)
{
	struct db *db = app_db(app);
	if (db)
		counts_flush(app->counts, db);
}

void app_uploaded(struct app *app, struct db *db, const struct link *l,
		  bool existed)
{
	metrics_add(app->metrics, M_UPLOADS, 1);
	metrics_add(app->metrics, M_UPLOAD_BYTES, l->size);
	if (existed)
		metrics_add(app->metrics, M_DEDUP_HITS, 1);
	hooks_emit_link(app, db, "upload", l, NULL);
	media_kick(app); /* probed in the background (media.c) */
}

void app_maintain(struct app *app, bool gc, bool gauges)
{
	struct gc_stats st;
	struct repo_stats rs;
	struct db *db = app_db(app);

	/* one node runs the periodic work; the others only ask, every tick,
	 * so that when it dies one of them takes over within a tick */
	bool lead = db && db_lead(db, APP_LEAD_KEY) == 1;
	if (lead != app->elected)
		pt_log(lead ? "maintenance: elected: this node runs gc and "
			      "the storage gauges"
			    : "maintenance: no longer elected: another node "
			      "runs gc and the storage gauges");
	if (lead && !app->elected)
		gauges = true; /* the gauges at once, not in a minute */
	app->elected = lead;
	metrics_elected(app->metrics, lead);
	if (!lead)
		return;
	if (gc) {
		int err = gc_run(app, pt_now(), false, &st);
		if (err)
			pt_log("gc: %s", pt_strerror(err));
		else if (st.expired_links || st.reaped_blobs ||
			 st.expired_uploads || st.stray_removed)
			pt_log("gc: %lld links expired, %lld blobs removed "
			       "(%lld bytes), %lld uploads expired, %lld stray "
			       "files removed",
			       (long long)st.expired_links,
			       (long long)st.reaped_blobs,
			       (long long)st.reaped_bytes,
			       (long long)st.expired_uploads,
			       (long long)st.stray_removed);
	}
	if (gauges) {
		int64_t fixed = 0;
		int err = repo_stats_reconcile(db, STATS_RECONCILE_SHARDS,
					       &app->gc.stats_shard, &fixed);
		if (err)
			pt_log("stats: recount: %s", pt_strerror(err));
		if (!repo_stats(db, &rs))
			metrics_store(app->metrics, &rs);
	}
}
