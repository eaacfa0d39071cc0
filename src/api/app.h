/*
 * app.h — the application context every handler gets (struct app): the
 * stores, the limiters and the shared state of a running partaged, opened
 * from the configuration (app.c); the running server (serve.c); and the
 * services of the context: batched download counters (counts.c), metrics
 * (metrics.c) and garbage collection (gc.c).  The bottom of src/api:
 * it includes nothing else of src/api.
 */
#ifndef PT_APP_H
#define PT_APP_H

#include <jansson.h>
#include <stdint.h>
#include <sys/types.h>

#include "../conf.h"
#include "../http/server.h"
#include "../store/ahead.h"
#include "../store/blob.h"
#include "../store/blobcache.h"
#include "../store/db.h"
#include "../store/linkcache.h"
#include "../store/repo.h"
#include "../store/reserve.h"

#include "../core/policy.h"
#include "../core/pwhash.h"
#include "../core/bucket.h"
#include "../core/coverage.h"
#include "../core/media.h"
#include "../core/ratelimit.h"
#include "../core/slots.h"
#include "../core/ticket.h"
#include "../http/range.h"
#include "../http/throttle.h"
#include "../util/utf8.h"

struct metrics;
struct counts;
struct hooks;
struct media_queue;
struct media_quotas;
struct remux_queue;

/* Where gc's bounded walks stand between passes (gc.c; the maintenance
 * thread's alone).  Zero: from the start (a new process, or a node just
 * elected, looks at everything once, in bounded passes). */
struct gc_cursor {
	int64_t gone_changed;        /* links no longer live: keyset */
	char gone_id[ID_LEN + 1];
	char sweep[BLOB_HEX_LEN + 1]; /* blob rows: the last one swept */
	int64_t quarantine_since;    /* quarantines that ended after it */
	unsigned stats_shard;        /* the next counter shard to recount */
};
/* Counter shards recounted with each refresh of the gauges (a minute):
 * all 7940 in about 8 hours. */
#define STATS_RECONCILE_SHARDS 16

struct app {
	const struct pt_conf *conf;
	struct blob_store *blobs;
	struct blob_cache *blobcache; /* small blobs in memory; NULL: none */
	struct db_pool *db;
	const char *public_url;     /* no trailing slash */
	struct metrics *metrics;
	struct counts *counts;      /* batched download counters */
	unsigned char secret[TICKET_KEY_LEN]; /* tickets; from secret_file */
	struct slots *slots;        /* downloads in progress per address */
	struct cluster *cluster;    /* several nodes (postgres); NULL: one */
	struct coverage *coverage;  /* bytes each client got: counting */
	struct throttle *throttle;  /* resumes speed-capped downloads */
	/* reads of S3 blobs off the event loops (ahead.h); NULL: fs, or
	 * not serving (admin), and a blob is read in place */
	struct ahead_pool *ahead;
	/* failed logins (accounts.c): per address, per name and address;
	 * per name in the database (every node); login_known: name and
	 * address pairs that logged in lately (the per-name limit spares
	 * them).  NULL: no limit. */
	struct ratelimit *login_ip, *login_pair, *login_known;
	/* wrong link passwords (files.c): per link and address, per
	 * address, per link; linkpw_known as login_known */
	struct ratelimit *linkpw_pair, *linkpw_ip, *linkpw_link, *linkpw_known;
	struct pwhash *pwhash;      /* every Argon2id hash (pwcheck.c) */
	struct ratelimit *reports_ip;   /* abuse reports per address */
	struct ratelimit *unknown_ids;  /* 404s per address (enumeration) */
	struct linkcache *links;   /* rows for downloads; NULL: off */
	struct reserve *reserve;   /* DATA/reserve; NULL: no local disk */
	char node[320];             /* this node's name: host and listen */
	struct remote *remote;      /* remote uploads (remote.c); NULL: off */
	struct hooks *hooks;        /* webhook deliveries (webhooks.c) */
	struct media_queue *media;  /* the probe queue; NULL: none */
	struct media_quotas *quotas; /* viewing quotas; NULL: none */
	struct remux_queue *remux;  /* fast-start copies; NULL: none */
	bool elected; /* runs the periodic work (maintenance thread's) */
	struct gc_cursor gc;
	/* the metadata store's health, as the checker last saw it (at 0:
	 * no checker; health.c) */
	bool health_ok;
	uint64_t health_at_ns;
};

/* The number of routes in api_routes (routes.c): the size of the
 * per-route metrics. */
unsigned api_route_count(void);

/* Open the stores named by conf (data dir, blobs, database with its
 * migrations).  Returns 0, or a negative status after logging why. */
int app_open(struct app *app, const struct pt_conf *conf);
void app_close(struct app *app);
/* The calling thread's database connection, or NULL (database down). */
struct db *app_db(struct app *app);
/* Whether the database answers a query now (a PostgreSQL connection
 * exists while the server is down).  Reconnecting is paced by the driver. */
bool app_db_reachable(struct app *app);
#define API_DB_DOWN "service unavailable: metadata store unreachable"
/* The window of the failed-login limits ([abuse] login_failures…), and
 * how long a successful login spares its name and address the per-name
 * limit. */
#define LOGIN_WINDOW 900
#define LOGIN_KNOWN_SECONDS (30 * 86400)
/* The windows of the wrong-link-password limits: per link and address,
 * per address and per link; and how long a right password spares its
 * link and address the per-link limit. */
#define LINKPW_WINDOW 60
#define LINKPW_WIDE_WINDOW 3600
#define LINKPW_KNOWN_SECONDS 86400
/* Rows the link cache holds (direct-mapped). */
#define LINK_CACHE_SLOTS 8192
/* Flush batched counters to the database (maintenance thread, shutdown). */
void app_flush(struct app *app);
/* Periodic work of the maintenance thread, called every tick: asks
 * whether this node is the elected one (db_lead: one node of all those
 * sharing the database runs the periodic work; a lost election or a
 * takeover is logged and shown by partage_maintenance_elected), and if it
 * is, a gc pass when gc is true and the storage gauges when gauges is.
 * The reserve is filled again by every tick of the maintenance thread
 * (reserve_fill). */
#define APP_LEAD_KEY 0x70617275 /* "paru": db_lead's key of the job */
void app_maintain(struct app *app, bool gc, bool gauges);
/* A new file's link row is in (PUT, multipart, tus, remote, a file
 * request): count it (existed: its bytes were stored already, a dedup
 * hit), queue its upload webhook and wake the media probe.  The one
 * place that says what follows an upload, whatever its route. */
void app_uploaded(struct app *app, struct db *db, const struct link *l,
		  bool existed);

/* serve.c: a running partaged — the stores (app_open), the HTTP server
 * on api_routes listening on conf->listen, the access log (access_log:
 * a file, stderr when empty, none when "off") and the maintenance thread
 * (counters, gauges, gc).  `partaged serve` and the whole-server fuzzer
 * start the same thing.  The caller blocks SIGPIPE and the signals it
 * waits for before, so no server thread takes them. */
struct app_server;
/* Start it all.  Returns 0 with *out, or a negative status after logging
 * why (nothing is left running).  Does not block. */
int app_serve_start(const struct pt_conf *conf, struct app_server **out);
/* The TCP port it listens on (the one the kernel chose for port 0). */
unsigned app_serve_port(const struct app_server *s);
/* Stop accepting, let requests in flight finish for up to grace_s
 * seconds, wake throttled downloads, stop the server and the maintenance
 * thread, flush counters, close the stores and free s.  Blocks. */
void app_serve_stop(struct app_server *s, unsigned grace_s);

/* health.c: the checker (a thread asking the metadata store once a
 * second) and, with [server] health_listen, a port of its own answering
 * GET /healthz from its own thread, never behind downloads or the pool. */
struct health;
int health_start(struct app *app, const char *listen, struct health **out);
void health_stop(struct health *h);
/* Whether the metadata store answered the checker lately (no checker:
 * asked now). */
bool health_db_ok(struct app *app);

/* cluster.c: the per-address download limits and the upload leases of
 * several nodes on one PostgreSQL (node heartbeats; docs/scaling.md).
 * Everything is a no-op on SQLite (cluster NULL). */
struct cluster;
/* NULL unless the metadata is on PostgreSQL. */
struct cluster *cluster_new(const struct pt_conf *conf);
void cluster_free(struct cluster *c);
/* At start: forget this node's slots of a previous life. */
void cluster_started(struct app *app);
/* The heartbeat (health.c, once a second): 0, or a negative status when
 * the database did not take it.  Also deletes slots whose delete failed
 * and, now and then, dead nodes' rows.  Blocks on the database. */
int cluster_beat(struct app *app);
/* Whether this node may already count as gone for the others (its last
 * good heartbeat is nearly node_lease_seconds old): its upload writers
 * stop rather than race the node that takes over. */
bool cluster_fenced(struct app *app);
/* After slots_acquire gave token for (ip, id): the same limits counted
 * over every live node.  REPO_SLOT_OK (also when the database cannot be
 * asked: this node's limits only), REPO_SLOT_PARALLEL (other: an id the
 * address is downloading) or REPO_SLOT_CONNECTIONS.  Blocks on the
 * database. */
int cluster_slot_take(struct app *app, const char *ip, const char *id,
		      uint64_t token, uint64_t parallel, uint64_t connections,
		      char *other, size_t other_len);
/* Give a slot back (before slots_release). */
void cluster_slot_drop(struct app *app, uint64_t token);

/* gc.c */
struct gc_stats {
	int64_t expired_links;
	int64_t expired_uploads;
	int64_t reaped_blobs, reaped_bytes;
	int64_t stray_removed;
	int64_t now;
};
/* One pass at `now` (see gc.c); a dry run changes nothing and counts what
 * a real pass would do.  0 or a negative status. */
int gc_run(struct app *app, int64_t now, bool dry_run, struct gc_stats *st);

/* metrics.c */
struct metrics *metrics_new(unsigned nroutes);
void metrics_free(struct metrics *m);
void metrics_request(struct metrics *m, int route, int status,
		     uint64_t bytes_in, uint64_t bytes_out);
void metrics_connection(struct metrics *m, int delta);
enum metric_counter { M_UPLOADS, M_UPLOAD_BYTES, M_DOWNLOADS, M_DEDUP_HITS,
		      M_PRESIGNED, M_COUNTERS };
void metrics_add(struct metrics *m, enum metric_counter c, uint64_t n);
void metrics_gc(struct metrics *m, const struct gc_stats *st);
/* Gauges from the metadata store, refreshed by the maintenance thread. */
void metrics_store(struct metrics *m, const struct repo_stats *st);
/* Whether this node runs the periodic work (app_maintain). */
void metrics_elected(struct metrics *m, bool elected);

/* counts.c: downloads counted in memory, written in batches.  The table
 * grows with the distinct links counted (never drops one); a flush writes
 * them all, COUNTS_FLUSH_BATCH links per transaction, and keeps what it
 * could not write for the next one.  Thread-safe. */
#define COUNTS_FLUSH_BATCH 1000
struct counts *counts_new(int64_t points_per_download);
void counts_free(struct counts *c);
void counts_bump(struct counts *c, const char *id, int64_t when);
/* Activity without a download (a stream, issue 16): the link's
 * last_download becomes when at the next flush, its count stays. */
void counts_touch(struct counts *c, const char *id, int64_t when);
/* 0 when all were written, else a negative status (the rest kept). */
int counts_flush(struct counts *c, struct db *db);
/* Call cb(arg, link id, downloads) for each link of a flush once its
 * counts are committed (webhooks.c); NULL: nobody. */
void counts_on_flush(struct counts *c,
		     void (*cb)(void *arg, const char *id, int64_t n),
		     void *arg);

/* webhooks.c: events for the accounts' and the instance's webhooks.
 * Queue event ("upload", "download", "deleted", "expired", "takedown")
 * about link l (the file object, plus extra's members when extra is not
 * NULL; extra is taken) for l's owner's hooks and the instance's, in
 * the durable outbox.  Never fails the caller: an error is logged. */
void hooks_emit_link(struct app *app, struct db *db, const char *event,
		     const struct link *l, json_t *extra);
/* The deliverer: one thread per node that claims due deliveries, signs
 * and POSTs them through the address guard, logs each attempt and
 * retries with backoff.  Also sets the instance's hook from the config
 * and frees this node's leases of a previous life.  Never NULL. */
struct hooks *hooks_start(struct app *app);
/* Stop the deliverer (a delivery in flight ends first: at most
 * webhooks.timeout_seconds) and free h (NULL: nothing).  Blocks. */
void hooks_stop(struct hooks *h);

/* media.c: the probe queue and the viewing quotas (issue 16) */
/* Start media.probe_workers workers (NULL when 0): they probe every blob a
 * live link names that has no media row yet, now, when kicked and every
 * minute.  Stop joins them (a probe in progress ends or times out
 * first); NULL is fine. */
struct media_queue *media_queue_start(struct app *app);
void media_queue_stop(struct media_queue *q);
/* A link was committed: wake a worker.  Never blocks on a probe. */
void media_kick(struct app *app);
/* media.c: start a sandboxed child `partaged CMD` (probe, thumbnail,
 * remux) with in and out as its fds 0 and 1.  0 with *pid, or an errno. */
int media_spawn(const char *cmd, int in, int out, char *const envp[],
		pid_t *pid);
/* A viewer: counted per address and, when logged in, per account too
 * (the stricter wins); allowance_ms 0 is unlimited. */
struct media_viewer {
	const char *address;
	int64_t user_id;
	int64_t allowance_ms, wait_s;
};
struct media_quotas *media_quotas_new(void);
void media_quotas_free(struct media_quotas *t);
/* Reserve up to want_ms of media time for a response: the ms granted (0:
 * refused, *retry_after seconds until it may try again).  Unlimited
 * viewers and t NULL get want_ms. */
int64_t media_quota_reserve(struct media_quotas *t,
			    const struct media_viewer *v, int64_t want_ms,
			    int64_t now, int64_t *retry_after);
/* The response ended having delivered delivered_ms of its reserved_ms. */
void media_quota_settle(struct media_quotas *t, const struct media_viewer *v,
			int64_t reserved_ms, int64_t delivered_ms, int64_t now);
/* What the viewer has used in its window (reservations in flight
 * included) and, when refused now, the seconds until it may go on. */
void media_quota_state(struct media_quotas *t, const struct media_viewer *v,
		       int64_t now, int64_t *used_ms, int64_t *retry_after);
/* Distinct links counted and not yet written. */
size_t counts_pending(struct counts *c);

/* remux.c: fast-start copies of MP4/MOV files (issue 16, core/remux.h).
 * One worker per node (NULL when media.remux_max_bytes or
 * media.probe_workers is 0) remuxes the blobs repo_remux_pending lists,
 * one at a time, now, when kicked (after a probe) and every minute.
 * Stop joins it (a remux in progress is killed).  NULL is fine. */
struct remux_queue *remux_start(struct app *app);
void remux_stop(struct remux_queue *q);
void remux_kick(struct app *app);
/* The fast-start copy of l's blob, opened for /stream: true with *rd
 * (the caller closes it), its hash, size and when it was made; false
 * when there is none (serve the original). */
bool api_remux_open(struct app *app, const struct link *l,
		    struct blob_reader **rd, char hex[BLOB_HEX_LEN + 1],
		    uint64_t *size, int64_t *made);
/* The state of l's fast-start copy for the file's JSON: "pending",
 * "done" (/stream serves the copy), "failed", "not-needed" (moov already
 * first, or not MP4/MOV); "off" when the node makes none. */
const char *api_remux_state(struct app *app, const struct link *l,
			    const struct media_info *m);

/* quota.c: the viewing quota where it holds for every node: the
 * database's table on PostgreSQL, this node's memory table (above) on
 * SQLite or when the database fails.  Same contracts as media_quota_*;
 * *shared says where a reservation went, for its settle. */
int64_t stream_quota_reserve(struct app *app, const struct media_viewer *v,
			     int64_t want_ms, int64_t now,
			     int64_t *retry_after, bool *shared);
void stream_quota_settle(struct app *app, const struct media_viewer *v,
			 bool shared, int64_t reserved_ms,
			 int64_t delivered_ms, int64_t now);
void stream_quota_state(struct app *app, const struct media_viewer *v,
			int64_t now, int64_t *used_ms, int64_t *retry_after);

#endif
