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

/* accounts.c: the reply to a wait-ticket request for `id` (a file or a
 * folder) whose bytes are at url: JSON {ticket, wait, ready_at, url}, or
 * for browsers without JavaScript a page that moves on by itself. */
req_res api_ticket_reply(struct pt_req *r, const char *id, const char *name,
			 const char *url);

#endif
