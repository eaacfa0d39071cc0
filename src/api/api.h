/*
 * api.h — partage's resources over HTTP: the application context every
 * handler gets, the routing table, and the handlers, one file per
 * resource: app.c (context, routing table), upload.c (PUT, multipart
 * POST), tus.c (resumable uploads), download.c (the bytes), files.c (the
 * file object, deletion), folders.c (folders and their zips), pages.c
 * (HTML pages, assets), accounts.c (users, sessions, tokens), abuse.c
 * (reports, takedowns), metrics.c (GET /metrics), counts.c (batched
 * download counters) and gc.c (expiry, garbage collection); and the
 * running server that puts them together (serve.c).
 */
#ifndef PT_API_H
#define PT_API_H

#include <jansson.h>
#include <stdint.h>
#include <sys/types.h>

#include "../conf.h"
#include "../http/server.h"
#include "../store/blob.h"
#include "../store/db.h"
#include "../store/linkcache.h"
#include "../store/repo.h"
#include "../store/reserve.h"

#include "../core/policy.h"
#include "../core/pwhash.h"
#include "../core/bucket.h"
#include "../core/coverage.h"
#include "../core/ratelimit.h"
#include "../core/slots.h"
#include "../core/ticket.h"
#include "../http/range.h"
#include "../http/throttle.h"
#include "../util/utf8.h"

struct metrics;
struct counts;

struct app {
	const struct pt_conf *conf;
	struct blob_store *blobs;
	struct db_pool *db;
	const char *public_url;     /* no trailing slash */
	struct metrics *metrics;
	struct counts *counts;      /* batched download counters */
	unsigned char secret[TICKET_KEY_LEN]; /* tickets; from secret_file */
	struct slots *slots;        /* downloads in progress per address */
	struct coverage *coverage;  /* bytes each client got: counting */
	struct throttle *throttle;  /* resumes speed-capped downloads */
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
};

/* The principal of a request (anonymous when nobody logged in). */
const struct principal *api_who(struct pt_req *r);
/* The auth phase (server_config.authenticate). */
int api_authenticate(struct pt_req *r, int *rc);
/* Read a JSON object body (at most 64 KiB), then call done with it (NULL
 * when the body was not a JSON object: done replies 400). */
int api_json_body(struct pt_req *r, int (*done)(struct pt_req *r, json_t *o));
/* The object a JSON body of n bytes holds (the body's UTF-8 was checked
 * first), or NULL when it is empty, not JSON (jansson, no "\u0000") or
 * not an object.  The caller owns the object.  Never blocks. */
json_t *api_json_object(const char *p, size_t n);

/* Terminated by an entry with handler == NULL. */
extern const struct route api_routes[];

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
/* Periodic work of the maintenance thread: a gc pass when gc is true,
 * and the storage gauges.  The reserve is filled again by every pass
 * when the disk has room for it (every tick of the maintenance thread
 * calls reserve_fill). */
void app_maintain(struct app *app, bool gc);

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

/* Handlers */
int api_upload_put(struct pt_req *r);
int api_upload_multipart(struct pt_req *r);
int api_download(struct pt_req *r);
int api_share(struct pt_req *r);       /* GET /{id}: page or bytes */
int api_page(struct pt_req *r);        /* the HTML page of a file */
int api_file_get(struct pt_req *r);
int api_file_delete(struct pt_req *r);
int api_file_patch(struct pt_req *r);  /* rename (owner) */
int api_me_files(struct pt_req *r);
int api_index(struct pt_req *r);
/* GET /api/v1/tiers: every tier's limits as configured (0: none). */
int api_tiers(struct pt_req *r);
/* The account pages (static HTML + the JSON API): /login, and /files and
 * /account, which send a browser without a session to /login?next=. */
int api_login_page(struct pt_req *r);
int api_files_page(struct pt_req *r);
int api_account_page(struct pt_req *r);
int api_static(struct pt_req *r);
int api_healthz(struct pt_req *r);
int api_tus_options(struct pt_req *r);
int api_tus_create(struct pt_req *r);
int api_tus_head(struct pt_req *r);
int api_tus_get(struct pt_req *r);
int api_tus_patch(struct pt_req *r);
int api_tus_delete(struct pt_req *r);
/* Remove abandoned resumable uploads past expiry; returns how many. */
int tus_expire(struct app *app, int64_t now);
int api_users_create(struct pt_req *r);
int api_sessions_create(struct pt_req *r);
int api_sessions_delete(struct pt_req *r);
int api_tokens_create(struct pt_req *r);
int api_tokens_delete(struct pt_req *r);
int api_tokens_list(struct pt_req *r);
int api_me(struct pt_req *r);
int api_me_update(struct pt_req *r);
int api_me_password(struct pt_req *r);
int api_me_redeem(struct pt_req *r);
int api_ticket(struct pt_req *r);
int api_me_rewards(struct pt_req *r);
int api_me_rewards_convert(struct pt_req *r);
int api_takedowns(struct pt_req *r);
int api_reports(struct pt_req *r);
int api_check(struct pt_req *r);
int api_transparency(struct pt_req *r);

/* abuse.c, shared with `partaged admin` */
/* Take down ids (scope link, or content: every link to the same bytes,
 * blocklisted, bytes kept for the quarantine); affected (pool) lists the
 * links changed.  Audited.  0 or a negative status. */
int abuse_takedown(struct app *app, const char *actor, const char **ids,
		   size_t nids, bool content, const char *reason,
		   const char *reference, struct pt_pool *pool,
		   char ***affected, size_t *naffected);
/* Undo the takedown that removed id (within the quarantine).  Audited. */
int abuse_restore(struct app *app, const char *actor, const char *id,
		  int64_t *restored);
/* Upload gates: blocked content (451) and repeat infringers (403).
 * Return 0, or 1 with the reply's result in *rc. */
int abuse_check_upload(struct pt_req *r, const char *hex, int *rc);
int abuse_check_uploader(struct pt_req *r, int *rc);

/* accounts.c, shared with `partaged admin` */
/* Argon2id (libsodium crypto_pwhash_str); pool memory; NULL on failure.
 * Blocks for the hash, outside the queue: for `partaged admin`; request
 * handlers use api_pw_hash. */
char *account_hash_password(struct pt_pool *pool, const char *password);
/* 0, or PT_EBADREQ with a reason for names/passwords that break the rules */
int account_check_name(const char *name, const char **why);
/* An API token's label: UTF-8 text without control characters, at most
 * TOKEN_LABEL_MAX bytes (the message says 100); "" is fine. */
#define TOKEN_LABEL_MAX 100
int account_check_label(const char *label, const char **why);
/* A token's last use is recorded at most this often (seconds). */
#define TOKEN_TOUCH_SECONDS 60
int account_check_password(const char *password, const char **why);
/* A new voucher code (printed once) and its stored hash. */
void account_voucher_new(char code[TOKEN_LEN + 1],
			 char hash[TOKEN_HASH_LEN + 1]);
int api_metrics(struct pt_req *r);

/* Shared by handlers */
/* The file object of a link (absolute URLs). */
json_t *api_file_json(struct app *app, const struct link *l);
/* When the link expires under the current rules if nothing changes (the
 * uploader's Max-Days, or inactivity past the owner tier's retention);
 * 0: never.  A download pushes the inactivity limit back. */
int64_t api_link_expiry(struct app *app, const struct link *l);
/* Whether the stores can take an upload now, asked before its body: 0, or
 * 1 with the reply's result in *rc (503 while the database is known to be
 * down, 507 when its announced length, Upload-Length or Content-Length,
 * would leave less than the floor free: storage.min_free_bytes plus what
 * the reserve misses, reserve.h). */
int api_intake_check(struct pt_req *r, int *rc);
/* Client text that partage stores (utf8_check with its flags): 0, or 1
 * with the result of a 400 reply in *rc, "bad request: WHAT is not valid
 * UTF-8 (byte N)".  The one check at every edge.  Names are checked
 * without flags: their control characters are removed by
 * disp_sanitize_name (tus T31: sanitised, never echoed raw), not refused. */
int api_text_check(struct pt_req *r, const char *what, const char *s,
		   size_t n, unsigned flags, int *rc);
/* A count of days or downloads (the Max-Days and Max-Downloads headers,
 * the form's max_days and max_downloads): 1 to 10^9 in at most 19
 * digits, spaces and tabs around allowed.  0 with *out set, or
 * PT_EBADREQ.  Never blocks. */
int api_count_parse(const char *v, size_t len, int64_t *out);
/* A multipart form's count field as form.h hands it over: in chunks, each at
 * its offset in the value.  add: 0, or PT_EBADREQ once the value cannot
 * fit (23 bytes).  value: judged whole (a chunk alone may be the "0" of
 * "05"): 0 with *out set, or left alone when the field is absent or
 * blank; PT_EBADREQ as api_count_parse. */
struct form_count {
	char v[24];
};
int api_form_count_add(struct form_count *f, uint64_t off, const char *data,
		       size_t n);
int api_form_count_value(const struct form_count *f, int64_t *out);
/* A multipart part's filename with the escapes browsers and curl -F use
 * undone: "%22" to '"', "%0D" and "%0A" to a space (any case), nothing
 * else; pool memory, never longer than name. */
char *api_form_filename(struct pt_pool *pool, const char *name);
/* The largest upload the request's principal may make now: the tier's
 * size limit under storage.max_file_bytes, or the quota left when less
 * (policy_upload_limit; never unlimited); *by_quota when the storage
 * quota set it (refuse with 507). */
uint64_t api_upload_limit(struct pt_req *r, bool *by_quota);
/* Password-protected links: the password from ?password= or the
 * X-Partage-Password header must match (Argon2id).  Returns 0, or 1 with
 * *rc the result of a 401/429/503 reply or of a suspension (the handler
 * runs again when the hash is done: see pwcheck.c). */
int api_link_password(struct pt_req *r, const struct link *l, int *rc);
/* The check behind it, for the page's form too: pw against the link's
 * password under the wrong-password limits (429 with Retry-After when
 * over one, and no hash is run).  0: right; 2: wrong (counted, nothing
 * replied); 1 with *rc: replied or suspended, as above. */
int api_link_password_check(struct pt_req *r, const struct link *l,
			    const char *pw, int *rc);

/* pwcheck.c: Argon2id through the bounded queue (core/pwhash.h).  The
 * first call suspends the request and returns 1 with *rc (return it from
 * the handler, which runs again from the start when the hash is done:
 * code before the call must be safe to run twice); the same call in the
 * next run returns 0 with the result.  1 is also a 503 with Retry-After
 * when the queue is full.  Where the request cannot be suspended (a
 * handler's first call with a body to come) the hash runs in place if a
 * slot is free now, else 503. */
int api_pw_verify(struct pt_req *r, const char *hash, const char *password,
		  bool *match, int *rc);
/* A new Argon2id string of password (pool memory) in *hash. */
int api_pw_hash(struct pt_req *r, const char *password, char **hash,
		int *rc);
/* The same without suspending, for handlers that cannot run twice (an
 * upload's end, which has stored blobs): in place if a hashing slot is
 * free now, else 503.  Blocks for one hash. */
int api_pw_hash_now(struct pt_req *r, const char *password, char **hash,
		    int *rc);
/* Whether the handler runs again with a hash result waiting for its next
 * api_pw_* call: a limit counted before the hash is not counted twice. */
bool api_pw_rerun(struct pt_req *r);
/* Whether the result the last api_pw_* call gave is given for the first
 * time (a later run that reaches it again must not count it again). */
bool api_pw_first(struct pt_req *r);
/* MIME type of content from its first bytes (libmagic), pool memory. */
char *api_sniff_mime(struct pt_pool *pool, const void *p, size_t n);
/* "<public_url>/<id>/<escaped name>" into pool memory. */
char *api_download_url(struct app *app, struct pt_pool *pool,
		       const struct link *l);
/* Look up a link for a request and reply 404/410/503 when it cannot be
 * served (bytes: 451 instead of 410 for legal removals, on the direct
 * URL): returns 0 with *l filled, or the result of the error reply in
 * *rc and a non-zero return.  Unknown ids count against the address's
 * enumeration limit (429 past it). */
int api_link_lookup(struct pt_req *r, const char *id, struct link *l,
		    int *rc, bool bytes);
/* An id looked up and not found (a link, a folder): count it against the
 * address's budget, abuse.unknown_ids_per_minute, the same on every
 * route (the link checker counts its own, in input order).  0, or 1 with
 * a 429 reply's result (Retry-After set) in *rc. */
int api_unknown_id(struct pt_req *r, int *rc);

/* download.c, shared with folder zips (folders.c) */
/* A streamed response's speed cap: a token bucket, and req_pause/req_wake
 * by the throttle thread while it is empty; and the hold of a ticketless
 * download: no byte before not_before.  rate 0: no cap. */
struct speed_cap {
	struct bucket bucket;
	uint64_t not_before;       /* pt_mono_ns(); 0: no hold */
	uint64_t keep_at;          /* the hold's next keep-alive byte */
	struct pt_req *r;
	struct throttle *throttle; /* NULL: no cap, no hold */
};
void speed_cap_init(struct speed_cap *c, uint64_t rate, uint64_t not_before,
		    struct pt_req *r, struct throttle *throttle);
/* In a pull callback (reply.h) with `left` bytes still to send: how many
 * of max it may produce now (> 0); 0 after pausing the request until
 * tokens are back or the hold is over (the callback returns 0); -1 when it could
 * not be scheduled (end the response with an error).  Never blocks. */
ssize_t speed_cap_take(struct speed_cap *c, uint64_t left, size_t max);
/* What the gate grants a download. */
struct download_pass {
	uint64_t slot;       /* slots.h token; 0: none held */
	uint64_t not_before; /* the hold: pt_mono_ns() before which no byte
			      * of the body goes; 0: none */
	int64_t cooldown;    /* the tier's cooldown_seconds: start it when
			      * the response ends (api_download_ended) */
};
/* The tier's gate in front of the bytes of `id` (kind "files" or
 * "folders", for the ticket and page URLs): the size limit (403), the
 * wait (GET only: a valid ticket passes; a browser without one is sent
 * to the page, 303; any other client is held: p->not_before is when its
 * countdown, bound to (address, id), ends, and the response must send no
 * byte of the body before), the parallel downloads of the address (429)
 * and the connections of this download (503).  p->slot is set when a
 * slot is taken: release it with api_download_unhold.  Returns 0, or 1
 * with the refusal's result in *rc. */
struct download_rules;
int api_download_gate(struct pt_req *r, const char *kind, const char *id,
		      uint64_t size, const struct download_rules *rules,
		      struct download_pass *p, int *rc);
/* Release the slot the gate took, if any, and clear it: when the last
 * byte is in the engine's hands, when the answer carries no bytes (304, 416, an
 * error), or when the response ends. */
void api_download_unhold(struct pt_req *r, uint64_t *slot);
/* A GET's response with bytes of id ended: the address's next download
 * of another id waits `cooldown` seconds (slots.h). */
void api_download_ended(struct pt_req *r, const char *id, int64_t cooldown);
/* ETag, Last-Modified, Accept-Ranges, Cache-Control and Vary: Accept of
 * a downloadable representation. */
void api_add_validators(struct resp *resp, const char *etag,
			const char *lastmod);
/* Conditionals (cond.c) and Range (range.c) of a GET or HEAD of a
 * representation of `size` bytes with these validators: 1 with the
 * 304/412/416 reply's result in *rc, or 0 with *rr RANGE_IGNORE or
 * RANGE_OK (*rs filled) and *range_hdr the request's Range (or NULL). */
int api_validate(struct pt_req *r, const char *etag, int64_t mtime,
		 const char *lastmod, uint64_t size, struct range_set *rs,
		 enum range_result *rr, const char **range_hdr, int *rc);
/* Bytes [first, last] of file id (size bytes) reached the request's
 * client: true when that completed a counted download (coverage.c),
 * which is then in the metrics and the link's counter. */
bool api_download_cover(struct pt_req *r, const char *id, uint64_t size,
			uint64_t first, uint64_t last, int64_t now);

/* folders.c */
int api_folders_create(struct pt_req *r);
int api_folders_list(struct pt_req *r);
int api_folder_get(struct pt_req *r);
int api_folder_patch(struct pt_req *r);
int api_folder_delete(struct pt_req *r);
int api_folder_ticket(struct pt_req *r);
int api_folder_page(struct pt_req *r);  /* GET /folder/{id} */
int api_folder_zip(struct pt_req *r);   /* GET /folder/{id}/{name}.zip */
/* The folder an upload goes into: `value` (tus metadata), else the
 * X-Partage-Folder header, else ?folder=; out = "" for none.  Returns 0,
 * or 1 with the reply's result in *rc (401 anonymous, 404 not a folder
 * of the uploader's, 503). */
int api_upload_folder(struct pt_req *r, const char *value,
		      char out[ID_LEN + 1], int *rc);

/* pages.c: the HTML page of a folder, from what folders.c gathered */
struct folder_view {
	const struct folder *f;
	const struct folder *subs; /* the folders in it */
	size_t nsubs;
	const struct link *files;  /* its live links */
	size_t nfiles;
	uint64_t zip_size;         /* the whole tree as a zip */
	size_t zip_files, left_out;
	const char *zip_url;
};
int api_folder_html(struct pt_req *r, const struct folder_view *v);

/* accounts.c: the reply to a wait-ticket request for `id` (a file or a
 * folder) whose bytes are at url: JSON {ticket, wait, ready_at, url}, or
 * for browsers without JavaScript a page that moves on by itself. */
int api_ticket_reply(struct pt_req *r, const char *id, const char *name,
		     const char *url);

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

/* counts.c: downloads counted in memory, written in batches */
struct counts *counts_new(int64_t points_per_download);
void counts_free(struct counts *c);
void counts_bump(struct counts *c, const char *id, int64_t when);
int counts_flush(struct counts *c, struct db *db);

#endif
