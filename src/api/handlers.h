/*
 * handlers.h — the routing table (routes.c) and the handlers of partage's
 * resources, one file per resource: upload.c (PUT, multipart POST), tus*.c
 * (resumable uploads), download*.c (the bytes), files.c (the file object,
 * deletion, the file manager), folders.c (folders and their zips),
 * pages.c (HTML pages, assets), accounts.c (users, sessions, tokens,
 * tickets, the auth phase), abuse.c (reports, takedowns) and metrics.c
 * (GET /metrics); and what `partaged admin` shares with them.
 */
#ifndef PT_HANDLERS_H
#define PT_HANDLERS_H

#include "request.h"

/* Terminated by an entry with handler == NULL. */
extern const struct route api_routes[];

/* The auth phase (server_config.authenticate): false, or true after a
 * 401/403 with its result in *rc. */
bool api_authenticate_or_reply(struct pt_req *r, req_res *rc);
/* Handlers */
req_res api_upload_put(struct pt_req *r);
req_res api_upload_multipart(struct pt_req *r);
req_res api_download(struct pt_req *r);
req_res api_share(struct pt_req *r); /* GET /{id}: page or bytes */
req_res api_page(struct pt_req *r);  /* the HTML page of a file */
req_res api_file_get(struct pt_req *r);
req_res api_file_delete(struct pt_req *r);
req_res api_file_patch(struct pt_req *r); /* rename (owner) */
req_res api_me_files(struct pt_req *r);
req_res api_index(struct pt_req *r);
/* GET /api/v1/tiers: every tier's limits as configured (0: none). */
req_res api_tiers(struct pt_req *r);
/* The account pages (static HTML + the JSON API): /login, and /files and
 * /account, which send a browser without a session to /login?next=. */
req_res api_login_page(struct pt_req *r);
req_res api_files_page(struct pt_req *r);
req_res api_account_page(struct pt_req *r);
/* GET /prefs?lang=&theme=&next=: the language and theme cookies, then
 * back to next (a local path). */
req_res api_prefs(struct pt_req *r);
/* GET /report/{id}: the form that reports a file (POST /api/v1/reports). */
req_res api_report_page(struct pt_req *r);
/* GET /qr/{id}: the QR code of a file's link, SVG (qrcode.c). */
req_res api_qr(struct pt_req *r);
req_res api_static(struct pt_req *r);
req_res api_healthz(struct pt_req *r);
req_res api_tus_options(struct pt_req *r);
req_res api_tus_create(struct pt_req *r);
req_res api_tus_head(struct pt_req *r);
req_res api_tus_get(struct pt_req *r);
req_res api_tus_patch(struct pt_req *r);
req_res api_tus_delete(struct pt_req *r);
/* Remove abandoned resumable uploads past expiry; returns how many. */
int tus_expire(struct app *app, int64_t now);
req_res api_users_create(struct pt_req *r);
req_res api_sessions_create(struct pt_req *r);
req_res api_sessions_delete(struct pt_req *r);
req_res api_tokens_create(struct pt_req *r);
req_res api_tokens_delete(struct pt_req *r);
req_res api_tokens_list(struct pt_req *r);
req_res api_me(struct pt_req *r);
req_res api_me_update(struct pt_req *r);
req_res api_me_password(struct pt_req *r);
req_res api_me_redeem(struct pt_req *r);
req_res api_ticket(struct pt_req *r);
req_res api_me_rewards(struct pt_req *r);
req_res api_me_rewards_convert(struct pt_req *r);
req_res api_takedowns(struct pt_req *r);
req_res api_reports(struct pt_req *r);
req_res api_check(struct pt_req *r);
req_res api_transparency(struct pt_req *r);

/* stream.c: media (issue 16) */
/* GET/HEAD /stream/{id}: the bytes of audio or video for a player, under
 * the viewing quota (429 + Retry-After past it). */
req_res api_stream(struct pt_req *r);
/* The probe state and media info of l's blob: true when it can be
 * streamed (probed, audio or video).  Queries the database. */
bool api_media_get(struct app *app, const struct link *l,
		   enum media_state *st, struct media_info *m);
/* Add "media" and "stream" to a file object o (GET /api/v1/files/{id}). */
void api_media_json(struct pt_req *r, const struct link *l, json_t *o);
/* The requesting viewer's quota: {minutes, wait_minutes, used_seconds,
 * left_seconds, retry_after}, or JSON null when unlimited. */
json_t *api_media_quota_json(struct pt_req *r);
/* thumb.c: GET/HEAD /thumb/{id}, the file's thumbnail (issue 16). */
req_res api_thumb(struct pt_req *r);
/* GET /embed/{id}: the player alone, for an iframe (pages.c). */
req_res api_embed_page(struct pt_req *r);
/* GET /api/v1/oembed?url=…[&format=json][&maxwidth=&maxheight=]. */
req_res api_oembed(struct pt_req *r);

/* abuse.c, shared with `partaged admin` */
/* Take down ids (scope link, or content: every link to the same bytes,
 * blocklisted, bytes kept for the quarantine); affected (pool) lists the
 * links changed.  Audited.  0 or a negative status. */
int abuse_takedown(struct app *app, const char *actor, const char **ids,
		   size_t nids, bool content, const char *reason,
		   const char *reference, struct pt_pool *pool,
		   char ***affected, size_t *naffected);
/* The same content takedown by hash, for a blocklist import: every live
 * link to hex (lowercase SHA-256) is taken down and the hash blocklisted
 * with reason; *taken counts the links (affected lists at most
 * TAKEDOWN_MAX of them).  Audited when some link was taken down; with
 * none, the hash is only blocklisted.  0 or a negative status. */
int abuse_takedown_hash(struct app *app, const char *actor, const char *hex,
			const char *reason, struct pt_pool *pool,
			char ***affected, size_t *naffected, int64_t *taken);
/* Undo the takedown that removed id (within the quarantine).  Audited. */
int abuse_restore(struct app *app, const char *actor, const char *id,
		  int64_t *restored);
/* Upload gates: blocked content (451) and repeat infringers (403).
 * Return false, or true with the reply's result in *rc. */
bool abuse_check_upload_or_reply(struct pt_req *r, const char *hex,
				 req_res *rc);
bool abuse_check_uploader_or_reply(struct pt_req *r, req_res *rc);

/* accounts.c, shared with `partaged admin` */
/* Argon2id (libsodium crypto_pwhash_str); pool memory; NULL on failure.
 * Blocks for the hash, outside the queue: for `partaged admin`; request
 * handlers use api_pw_hash_or_reply. */
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
req_res api_metrics(struct pt_req *r);

/* folders.c */
req_res api_folders_create(struct pt_req *r);
req_res api_folders_list(struct pt_req *r);
req_res api_folder_get(struct pt_req *r);
req_res api_folder_patch(struct pt_req *r);
req_res api_folder_delete(struct pt_req *r);
req_res api_folder_ticket(struct pt_req *r);
req_res api_folder_page(struct pt_req *r); /* GET /folder/{id} */
req_res api_folder_zip(struct pt_req *r);  /* GET /folder/{id}/{name}.zip */
/* The folder an upload goes into: `value` (tus metadata), else the
 * X-Partage-Folder header, else ?folder=; out = "" for none.  Returns
 * false, or true with the reply's result in *rc (401 anonymous, 404 not a folder
 * of the uploader's, 503). */
bool api_upload_folder_or_reply(struct pt_req *r, const char *value,
				char out[ID_LEN + 1], req_res *rc);

/* requests.c: file-request links */
req_res api_requests_create(struct pt_req *r); /* POST /api/v1/requests */
req_res api_requests_list(struct pt_req *r);   /* GET, the owner's */
req_res api_request_get(struct pt_req *r);     /* GET /api/v1/requests/{id} */
req_res api_request_delete(struct pt_req *r);  /* closes it (owner) */
req_res api_request_page(struct pt_req *r);    /* GET /r/{id} */
/* upload.c: PUT /r/{id}/{name} (and /api/v1/requests/{id}/files/{name}),
 * POST /api/v1/requests/{id}/files (multipart) */
req_res api_request_put(struct pt_req *r);
req_res api_request_multipart(struct pt_req *r);
/* An upload through file request `id`: it must be open (404, 410), not
 * full (403) and given its password (X-Partage-Request-Password: 403,
 * 429 past the wrong-password limits); then the request's principal
 * (r->who) becomes its owner's, whose tier, quota and strikes the upload
 * counts against.  *fr (pool) is the request.  false, or true with the
 * reply's result in *rc.  May suspend for the password's hash (see
 * pwcheck.h). */
bool api_request_gate_or_reply(struct pt_req *r, const char *id,
			       struct file_request *fr, req_res *rc);
/* What the request still takes (UINT64_MAX: no byte limit). */
uint64_t api_request_bytes_left(const struct file_request *fr);
/* tus creation: the request named by X-Partage-Request or the metadata
 * key "request" passes the gate, an Upload-Length over what it still
 * takes is 413, and u->request_id is set (the upload counts into it when
 * it completes).  false when there is none, or it passed. */
bool api_request_tus_or_reply(struct pt_req *r, struct upload_row *u,
			      req_res *rc);
/* A completed upload's link that its uploader is not told (it came
 * through a file request). */
bool api_request_link_hidden(struct pt_req *r, const char *link_id);
/* 200 with what a request's uploader may know of the file received
 * (request, name, size, sha256): not its link. */
req_res api_request_received(struct pt_req *r, const char *request_id,
			     const struct link *l);
/* scan.c: virus scanning with clamd ([scan]).  The scanner thread, or
 * NULL when scanning is off (or its thread could not start: logged). */
struct scanner;
struct scanner *scan_start(struct app *app);
void scan_stop(struct scanner *s); /* NULL: nothing */
/* Downloads of a file not scanned yet, when [scan] pending_downloads = 0:
 * 409 with Retry-After.  false, or true with the reply's result in *rc. */
bool scan_download_or_reply(struct pt_req *r, const struct link *l,
			    req_res *rc);

/* pages.c: the upload page pointed at a request (state: open, closed,
 * expired, full) */
req_res api_request_html(struct pt_req *r, const struct file_request *fr,
			 const char *state);

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
req_res api_folder_html(struct pt_req *r, const struct folder_view *v);
/* The no-JavaScript page of a download ticket: moves on to url after
 * wait seconds, in the visitor's language. */
req_res api_wait_page(struct pt_req *r, const char *name, const char *url,
		      int64_t wait);
/* The HTML page of an error (reply_html_error_hook): translated, with a
 * way back and the server's message as a detail. */
req_res api_error_page(struct pt_req *r, int status, const char *message);
/* The page language of a request ("en", "fr": cookie partage_lang, else
 * Accept-Language) and its catalog (NULL for English); src/core/i18n.h. */
struct i18n_catalog;
const char *api_lang(struct pt_req *r);
const struct i18n_catalog *api_catalog(struct pt_req *r);

/* remote.c: remote uploads (POST a URL, the server fetches it) */
req_res api_remote_create(struct pt_req *r); /* POST /api/v1/files/remote */
req_res api_remote_get(struct pt_req *r);    /* GET …/remote/{job} */
/* Start the fetch workers (net.fetch_workers) for app, whose conf and
 * public_url are set.  Never NULL. */
struct remote *remote_start(struct app *app);
/* Stop taking jobs, abort the transfers in flight (their bytes go, no
 * link is made), join the workers, free rm (NULL: nothing).  Blocks. */
void remote_stop(struct remote *rm);

/* webhooks.c: an account's webhooks and their delivery log */
req_res api_hooks_create(struct pt_req *r);   /* POST /api/v1/webhooks */
req_res api_hooks_list(struct pt_req *r);     /* GET /api/v1/webhooks */
req_res api_hook_delete(struct pt_req *r);    /* DELETE …/webhooks/{id} */
req_res api_hook_deliveries(struct pt_req *r); /* GET …/{id}/deliveries */

/* accounts.c: the reply to a wait-ticket request for `id` (a file or a
 * folder) whose bytes are at url: JSON {ticket, wait, ready_at, url}, or
 * for browsers without JavaScript a page that moves on by itself. */
req_res api_ticket_reply(struct pt_req *r, const char *id, const char *name,
			 const char *url);

#endif
