/*
 * repo.h — every SQL statement partage runs, and the schema with its
 * migrations.  Handlers speak in links and blobs; only this module knows
 * tables.
 *
 * Model: a blob row exists for every committed blob the metadata knows of;
 * a link row is one share link to one blob.  References to a blob are the
 * live link rows that name it (derived, never counted), so nothing can
 * drift.  A link is served only while state = 'live', it has not passed
 * `expires` and its downloads are below max_downloads (for a link with a
 * byte budget, the whole copies delivered); otherwise it answers 410 with
 * a reason.
 *
 * Functions take the calling thread's connection, return 0 or a negative
 * status (PT_ENOTFOUND for no such row), and may block.
 *
 * The module is one file per domain, src/store/repo_<domain>.c (schema,
 * links, blobs, uploads, users, expiry, abuse, rewards, folders); what
 * they share is in their private header, repo_int.h, which lists them.
 */
#ifndef PT_REPO_H
#define PT_REPO_H

#include <stdbool.h>
#include <stdint.h>

#include "../core/ids.h"
#include "../core/media.h"
#include "../util/pool.h"
#include "blob.h"
#include "db.h"

enum link_state { LINK_LIVE = 0, LINK_DELETED, LINK_EXPIRED, LINK_REMOVED };

struct link {
	char id[ID_LEN + 1];
	char sha256[BLOB_HEX_LEN + 1];
	char *name; /* pool-owned */
	char *mime;
	uint64_t size;
	int64_t created;
	int64_t expires;       /* 0: never */
	int64_t max_downloads; /* 0: unlimited */
	int64_t downloads;
	int64_t last_download; /* 0: never */
	char delete_hash[TOKEN_HASH_LEN + 1];
	int64_t owner;         /* 0: anonymous */
	enum link_state state;
	char *reason;          /* why not live; "" when live */
	char takedown_id[ID_LEN + 1]; /* "" unless taken down */
	char *password_hash;   /* Argon2id; "" or NULL: no password */
	uint64_t quota_bytes;  /* creating: the owner's quota, 0 none */
	char folder_id[ID_LEN + 1]; /* "" outside any folder */
	bool has_crc;          /* creating: the blob's CRC-32 is known */
	uint32_t crc32;
	int scan_state;        /* reading (repo_link_get): its blob's
				* REPO_SCAN_* */
	const char *request_id; /* creating: the file request it came
				 * through (NULL or "": none); the link goes
				 * into the request's folder */
};

/* Create or upgrade the schema.  Safe to call from several processes. */
int repo_migrate(struct db *db);

/* In one transaction: lock (or create) the blob row, refuse content on
 * the blocklist (PT_ELEGAL: a takedown committed since the caller's own
 * check), check that the folder is still the owner's (if it was deleted
 * meanwhile, the link goes to the top level and l->folder_id is
 * cleared), check the owner's storage quota (l->quota_bytes;
 * PT_ENOSPACE) under a lock on the owner's row, call ensure(arg)
 * (blob_writer_ensure: the bytes are there), insert the link row.  The
 * gc protocol of blob.h.  ensure may be NULL. */
int repo_link_create(struct db *db, struct link *l,
		     int (*ensure)(void *arg), void *arg);
/* gc: under the blob row's lock, if no live link names the blob, call
 * remove(arg, hex) for its bytes and delete the row (*reaped).  Nothing
 * happens when a link is live or the row is gone. */
int repo_blob_reap(struct db *db, const char *hex,
		   int (*remove)(void *arg, const char *hex), void *arg,
		   bool *reaped);
/* gc's blob pass in bounded batches (repo_blobs.c), each one statement
 * for up to REPO_BLOBS_MAX hashes, so its cost grows with what changed:
 *   repo_blobs_known: known[i] = whether hex[i] has a row (the sweep of
 *     the store's listing for strays);
 *   repo_blobs_unreferenced_among: which of hex[] no live link names and
 *     no quarantine holds at now;
 *   repo_blobs_after: the next max rows' hashes after `after` (keyset;
 *     "" from the start), the bounded reconcile sweep of blobs;
 *   repo_links_gone_after: the hashes of the next max links no longer
 *     live after the keyset (*changed, id), which move to the last one
 *     (index links_gone);
 *   repo_quarantines_ended: hashes whose takedown quarantine ended in
 *     (since, now], up to max.
 * Hashes are pool memory. */
#define REPO_BLOBS_MAX 100
int repo_blobs_known(struct db *db, const char *const *hex, size_t n,
		     bool *known);
int repo_blobs_unreferenced_among(struct db *db, int64_t now,
				  const char *const *hex, size_t n,
				  bool *unreferenced);
int repo_blobs_after(struct db *db, struct pt_pool *pool, const char *after,
		     char **out, size_t max, size_t *n);
int repo_links_gone_after(struct db *db, struct pt_pool *pool,
			  int64_t *changed, char *id, char **out, size_t max,
			  size_t *n);
int repo_quarantines_ended(struct db *db, struct pt_pool *pool,
			   int64_t since, int64_t now, char **out, size_t max,
			   size_t *n);
/* How many blobs no live link names and no quarantine holds at now, and
 * their bytes (dry runs: a full count). */
int repo_blobs_unreferenced_count(struct db *db, int64_t now, int64_t *n,
				  int64_t *bytes);
/* PT_ENOTFOUND when no such id. */
int repo_link_get(struct db *db, struct pt_pool *pool, const char *id,
		  struct link *out);
/* The state a link is in at time `now`, counting expiry and exhausted
 * downloads; *reason gets a static one-word reason when not live. */
enum link_state link_effective_state(const struct link *l, int64_t now,
				     const char **reason);
/* Take one download of the link at `now` if it is still servable: 0 when
 * taken, PT_EGONE when it is not (expired, used up, deleted). Atomic. */
int repo_link_take_download(struct db *db, const char *id, int64_t now);
/* Add n counted downloads, the last at `last` (batched counters). */
int repo_link_add_downloads(struct db *db, const char *id, int64_t n,
			    int64_t last);
/*
 * The byte budget of a Max-Downloads link of size > 0: it delivers its
 * bytes max_downloads times in total, counted in bytes (docs/internals.md).
 * A response reserves the bytes it will send before it is answered and
 * gives back, when it ends, what it did not deliver.  The bytes past
 * last_from belong to the one client whose reservation first reached them
 * (the holder): only it may fetch them, e.g. to resume.  downloads = the
 * whole copies delivered, so the link turns "expired" (410 for everyone)
 * once every byte of the budget was delivered and none is in flight.
 */
struct link_budget {
	int64_t total;     /* max_downloads × size (saturated) */
	int64_t last_from; /* (max_downloads − 1) × size */
	int64_t size;      /* > 0 */
	int64_t slack;     /* resume allowance, over the link's life */
};
/* Reserve `bytes` for `client` (its address): 0 and *sent = the bytes
 * charged so far, this reservation included; PT_ECONFLICT when the last
 * download belongs to another client; PT_EGONE when the budget cannot
 * cover them (or the link is gone).  Atomic: one conditional UPDATE. */
int repo_link_budget_take(struct db *db, const char *id,
			  const struct link_budget *b, uint64_t bytes,
			  const char *client, int64_t now, int64_t *sent);
/* End a reservation of `reserved` bytes of which `unsent` never left;
 * `slack` more are given back, as far as the link's allowance lasts
 * (bytes a killed client was sent but may not have kept). */
int repo_link_budget_give(struct db *db, const char *id,
			  const struct link_budget *b, uint64_t reserved,
			  uint64_t unsent, uint64_t slack);
/* Mark a live link deleted with reason.  PT_ENOTFOUND if not live. */
int repo_link_delete(struct db *db, const char *id, const char *reason,
		     int64_t now);

/* ---- resumable uploads (tus) ---- */

#define UPLOAD_UID_LEN 24

enum upload_state { UPLOAD_OPEN = 0, UPLOAD_DONE, UPLOAD_TERMINATED,
		    UPLOAD_EXPIRED };

struct upload_row {
	char uid[UPLOAD_UID_LEN + 1];
	int64_t length;        /* -1: deferred */
	int64_t received;      /* durable offset */
	char *metadata;        /* Upload-Metadata as sent ("" none) */
	char *concat;          /* Upload-Concat as sent ("" none) */
	int64_t created, expires;
	int64_t owner;
	char delete_hash[TOKEN_HASH_LEN + 1];
	int64_t lease;         /* a PATCH holds it until then; 0 free */
	enum upload_state state;
	char link_id[ID_LEN + 1]; /* "" until complete */
	char *password_hash;   /* the link's, Argon2id; "" or NULL: none */
	char *hash_state;      /* the running hash at `received`
				* (runhash_save); "": none */
	char request_id[ID_LEN + 1]; /* the file request, "" none */
};

int repo_upload_create(struct db *db, const struct upload_row *u);
/* PT_ENOTFOUND when no such uid */
int repo_upload_get(struct db *db, struct pt_pool *pool, const char *uid,
		    struct upload_row *out);
/*
 * Take the upload for a PATCH at `offset` until `lease_until`: 0 when
 * taken; PT_ECONFLICT when the offset is not the durable one, PT_ELIMIT
 * when another request holds it, PT_ENOTFOUND/PT_EGONE when it is not open.
 * node_lease_ms > 0 (PostgreSQL): a lease held by another node whose
 * heartbeat is older than that (repo_cluster.c) is free too.
 */
int repo_upload_claim(struct db *db, const char *uid, int64_t offset,
		      int64_t now, int64_t lease_until, const char *holder,
		      int64_t node_lease_ms);
/* Take the lease over from a request of the same holder (this node) that
 * is known dead: only when the durable offset is `offset`. */
int repo_upload_claim_from(struct db *db, const char *uid, int64_t offset,
			   int64_t lease_until, const char *holder);
/* Extend a lease that a PATCH in progress holds. */
int repo_upload_renew(struct db *db, const char *uid, int64_t lease_until);
/* Drop every lease `holder` (a node) holds: at start-up, none of its
 * requests can still be running. */
int repo_upload_release_holder(struct db *db, const char *holder);
/* Record a durable offset (keep or drop the lease) and the running hash
 * of the bytes up to it (runhash_save; NULL or "": not known). */
int repo_upload_advance(struct db *db, const char *uid, int64_t received,
			const char *hash_state, bool release);
/* Set a deferred length; PT_ECONFLICT when it is set already to another. */
int repo_upload_set_length(struct db *db, const char *uid, int64_t length);
/* In one transaction: the blob row (locked, then the folder, the quota
 * and ensure(arg) as in repo_link_create), the link row, and the upload
 * done. */
int repo_upload_complete(struct db *db, const char *uid, struct link *l,
			 int (*ensure)(void *arg), void *arg);
int repo_upload_set_state(struct db *db, const char *uid,
			  enum upload_state st);
/* Expire an open, idle upload past its expiry: 1 when done, 0 when it
 * is not (any more) expirable, or a negative status. */
int repo_upload_expire(struct db *db, const char *uid, int64_t now);
/* Open uploads whose expiry passed, and done/terminated ones whose
 * partial bytes may still linger: up to max uids into out (pool). */
int repo_uploads_expired(struct db *db, struct pt_pool *pool, int64_t now,
			 char **out, size_t max, size_t *n);

/* ---- accounts ---- */

/* Count one login attempt for name (every node shares the count): *n is
 * the attempts in the window that began at *since, a new window when the
 * last began `window` seconds or more before now. */
int repo_login_attempt(struct db *db, const char *name, int64_t now,
		       int64_t window, int64_t *n, int64_t *since);
/* Give back one counted attempt (it succeeded). */
int repo_login_refund(struct db *db, const char *name);
/* Forget windows that began before `before`. */
int repo_login_failures_expire(struct db *db, int64_t before);

struct user {
	int64_t id;
	char *name, *pwhash;
	char *tier;             /* "free" or "premium" (base tier) */
	int64_t premium_until;  /* premium until then, whatever the tier */
	char *role;             /* "user", "rights_holder", "admin" */
	bool disabled;
	bool direct_downloads;  /* premium: the page redirects to the bytes */
	int64_t created;
};

struct token_row {
	char id[ID_LEN + 1];
	char *kind;             /* "session" or "api" */
	char *csrf;             /* sessions: the CSRF token */
	char *label;            /* API tokens: what it is for, may be "" */
	int64_t created;
	int64_t expires;        /* 0: never */
	int64_t last_used;      /* 0: never; see repo_token_touch */
};

/* PT_ECONFLICT when the name is taken. */
int repo_user_create(struct db *db, const struct user *u);
int repo_user_by_name(struct db *db, struct pt_pool *pool, const char *name,
		      struct user *out);
int repo_user_by_id(struct db *db, struct pt_pool *pool, int64_t id,
		    struct user *out);
/* The user of a live token (by the token's SHA-256 hex). */
int repo_user_by_token(struct db *db, struct pt_pool *pool, const char *hash,
		       int64_t now, struct user *out, struct token_row *tok);
/* Setters of one column each (or two that go together), nothing else
 * touched: a row read earlier and written back whole would undo what
 * others changed in between (a voucher's premium days).  PT_ENOTFOUND:
 * no such user. */
/* premium_until = MAX(premium_until, now) + days: two extensions at once
 * both count.  *until (may be NULL) gets the new end. */
int repo_user_premium_extend(struct db *db, int64_t id, int64_t now,
			     int64_t days, int64_t *until);
/* The base tier; "free" also ends premium time (premium_until = 0). */
int repo_user_set_tier(struct db *db, int64_t id, const char *tier);
int repo_user_set_role(struct db *db, int64_t id, const char *role);
/* Disabling does not end sessions: revoke the tokens after it, so no
 * login can slip in between (repo_token_create refuses a disabled
 * account). */
int repo_user_set_disabled(struct db *db, int64_t id, bool disabled);
int repo_user_set_direct_downloads(struct db *db, int64_t id, bool on);
/* Replace the password hash `old` (the one the caller checked) with
 * pwhash and revoke every token of the user, in one transaction.
 * PT_ECONFLICT when the hash is no longer `old` (changed meanwhile). */
int repo_user_password_change(struct db *db, int64_t id, const char *old,
			      const char *pwhash);
int repo_users_each(struct db *db, struct pt_pool *pool,
		    int (*cb)(const struct user *u, void *arg), void *arg);
/* A token (by its SHA-256 hex `hash`), made only while the account is
 * enabled and its password hash is still pwhash — the one the caller
 * checked the password against, or read when it authenticated the
 * request: a password change or a disable that committed meanwhile
 * (and revoked the tokens) leaves no token behind.  PT_ENOTFOUND when
 * not made. */
int repo_token_create(struct db *db, const struct token_row *t,
		      int64_t user_id, const char *hash, int64_t now,
		      const char *pwhash);
/* Records that token id was used at now, unless that was already done
 * within the last `every` seconds: a token's use costs a write at most
 * that often. */
int repo_token_touch(struct db *db, const char *id, int64_t now,
		     int64_t every);
/* PT_ENOTFOUND unless the token exists and is the user's. */
int repo_token_delete(struct db *db, const char *id, int64_t user_id);
/* The user's API tokens (not sessions), oldest first: cb gets each (id,
 * label, created, last_used; valid during the call) until it returns
 * non-zero.  0, cb's status or the driver's. */
int repo_user_tokens_each(struct db *db, int64_t user_id,
			  int (*cb)(const struct token_row *t, void *arg),
			  void *arg);
int repo_user_tokens_revoke(struct db *db, int64_t user_id);
/* Bytes of the user's links that can still be downloaded at now (the
 * storage quota's measure), or -1. */
int64_t repo_user_used_bytes(struct db *db, int64_t user_id, int64_t now);
int repo_voucher_create(struct db *db, const char *hash, int64_t days,
			int64_t now);
/* Once: PT_ENOTFOUND for an unknown or used code; *days on success. */
int repo_voucher_redeem(struct db *db, const char *hash, int64_t user_id,
			int64_t now, int64_t *days);

/* ---- expiry and statistics ---- */

/*
 * Expire links at `now`: uploader limits (Max-Days, Max-Downloads) and
 * inactivity past the owner tier's retention (retention_days[tier],
 * anonymous/free/premium; 0 = forever).  *expired counts them.  Run it in
 * a transaction (db_begin): a dry run rolls that back.
 */
int repo_links_expire(struct db *db, int64_t now,
		      const int64_t retention_days[3], int64_t *expired);
/*
 * The same in bounded batches (repo_expiry.c): one call changes at most
 * `batch` links, by one rule, through that rule's index, and moves *cur
 * on; start with { .rule = 0, .act = INT64_MIN } and call (a transaction
 * each, or one for all) until cur->rule == EXPIRY_RULES.  *expired gets
 * the links changed added.  repo_links_expire is this to the end.
 */
#define EXPIRY_RULES 4
#define EXPIRY_BATCH 1000
struct expiry_cursor {
	int rule;                /* 0..EXPIRY_RULES-1; EXPIRY_RULES: done */
	int64_t act;             /* keyset of the owned-links rule */
	char id[ID_LEN + 1];
};
int repo_links_expire_batch(struct db *db, int64_t now,
			    const int64_t retention_days[3], size_t batch,
			    struct expiry_cursor *cur, int64_t *expired);

struct repo_stats {
	int64_t live_links, logical_bytes; /* what users see */
	int64_t blobs, stored_bytes;       /* what the disk holds */
};
/* From the counters the triggers keep with every change (migration 14):
 * a read of a few thousand rows, not a count of the tables. */
int repo_stats(struct db *db, struct repo_stats *out);
/* Recount `shards` shards of those counters from where *cursor stands
 * (then move it on, round the 3844 link and 4096 blob shards), each in a
 * transaction that holds its counter's row: exact, and bounded (1/3844 of
 * the links, 1/4096 of the blobs each).  A counter found wrong is set to
 * the count and logged; *fixed counts them. */
#define REPO_STATS_SHARDS (62 * 62 + 16 * 16 * 16)
int repo_stats_reconcile(struct db *db, unsigned shards, unsigned *cursor,
			 int64_t *fixed);

/* ---- abuse handling ---- */

struct takedown_row {
	char id[ID_LEN + 1];
	int64_t created;
	const char *actor, *scope, *reason, *reference;
};

struct report_row {
	char id[ID_LEN + 1];
	int64_t created;
	const char *ip, *link_id, *category, *body, *contact, *state;
};

struct audit_row {
	int64_t at;
	const char *actor, *action, *target, *reason, *detail;
};

/* Append to the audit log (nothing ever deletes from it). */
int repo_audit(struct db *db, const char *actor, const char *action,
	       const char *target, const char *reason, const char *detail,
	       int64_t now);
int repo_audit_each(struct db *db, int64_t since,
		    int (*cb)(const struct audit_row *a, void *arg), void *arg);
/* Is the content on the blocklist?  *reason (pool) when it is. */
bool repo_blocked(struct db *db, const char *hex, struct pt_pool *pool,
		  char **reason);
int repo_block(struct db *db, const char *hex, const char *reason,
	       int64_t now, int64_t purge_after, const char *takedown_id);
int repo_blocklist_each(struct db *db,
			int (*cb)(const char *hex, const char *reason, void *arg),
			void *arg);
/*
 * Take down link_id (scope "link") or every live link to its content
 * (scope "content": also blocklisted, bytes kept until purge_after; the
 * blob row is locked first, so no upload links the content meanwhile:
 * see repo_link_create).  The ids changed are appended to
 * affected[*n..max) (all are changed, even past max).  Run in a
 * transaction.
 */
int repo_takedown(struct db *db, const struct takedown_row *t,
		  const char *link_id, int64_t purge_after,
		  struct pt_pool *pool, char **affected, size_t max, size_t *n);
/* The same content takedown by hash (a blocklist import): every live
 * link to hex is taken down and the hash blocklisted under t->id; *taken
 * counts the links changed.  When none was live, the hash is only
 * blocklisted (no takedown row, nothing to restore).  Run in a
 * transaction. */
int repo_takedown_hash(struct db *db, const struct takedown_row *t,
		       const char *hex, int64_t purge_after,
		       struct pt_pool *pool, char **affected, size_t max,
		       size_t *n, int64_t *taken);
/* Undo the takedown that removed link_id: its links come back and its
 * block is lifted.  PT_ECONFLICT when the link was not taken down,
 * PT_EGONE past the quarantine.  Run in a transaction. */
int repo_restore(struct db *db, const char *link_id, int64_t now,
		 struct pt_pool *pool, char **takedown_id, int64_t *restored);
int64_t repo_user_strikes(struct db *db, int64_t user_id);
int repo_report_create(struct db *db, const struct report_row *r);
/* Set a report's state ("resolved", "rejected", "open"). */
int repo_report_resolve(struct db *db, const char *id, const char *state);
int repo_reports_each(struct db *db,
		      int (*cb)(const struct report_row *r, void *arg),
		      void *arg);

#define REPO_CHECK_MAX 1000
/* The link checker: one query for up to REPO_CHECK_MAX ids; found[i]
 * tells whether ids[i] exists, out[i] its row (name, size, state, reason,
 * limits, password_hash). */
int repo_links_check(struct db *db, struct pt_pool *pool, const char **ids,
		     size_t n, struct link *out, bool *found);

/* ---- uploader rewards (append-only ledger) ---- */

/* Credit n counted downloads of link_id to its owner (none: nothing). */
int repo_reward_downloads(struct db *db, const char *link_id, int64_t n,
			  int64_t points_each, int64_t now);
int64_t repo_user_points(struct db *db, int64_t user_id);
int repo_user_rewards_each(struct db *db, int64_t user_id,
			   int (*cb)(const char *id, int64_t downloads,
				     int64_t points, void *arg),
			   void *arg);
/* Spend points for premium days; PT_ECONFLICT when there are too few. */
int repo_rewards_convert(struct db *db, int64_t user_id, int64_t points,
			 int64_t days, int64_t now);

/* ---- the file manager ---- */

enum { FILES_BY_CREATED = 0, FILES_BY_NAME, FILES_BY_SIZE, FILES_BY_DOWNLOADS };
/* A page of the user's live links in an order; *total counts them all.
 * folder: NULL for all of them, "" for those in no folder, or a folder id. */
int repo_user_files(struct db *db, struct pt_pool *pool, int64_t user_id,
		    const char *folder, int sort, bool desc, int64_t limit,
		    int64_t offset,
		    int (*cb)(const struct link *l, void *arg), void *arg,
		    int64_t *total);
/* PT_ENOTFOUND unless the link is live. */
int repo_link_rename(struct db *db, const char *id, const char *name);

/* ---- folders ----
 * A folder belongs to one user and sits in another of theirs or at the
 * top (parent ""); links sit in at most one folder.  Moves never make a
 * cycle.  A shared folder's page and zip are public to whoever has the
 * link; a private one only its owner sees. */
struct folder {
	char id[ID_LEN + 1];
	char parent[ID_LEN + 1]; /* "" at the top */
	int64_t owner;
	char *name; /* pool-owned */
	int64_t created;
	bool shared;
};
/* PT_ENOTFOUND when the parent is not a folder of f->owner. */
int repo_folder_create(struct db *db, const struct folder *f);
/* PT_ENOTFOUND when no such folder. */
int repo_folder_get(struct db *db, struct pt_pool *pool, const char *id,
		    struct folder *out);
/* Change what is not NULL (shared: -1 keeps it).  PT_ENOTFOUND when the
 * folder or the new parent is not the owner's; PT_ECONFLICT when the new
 * parent is the folder itself or inside it. */
int repo_folder_update(struct db *db, const char *id, int64_t owner,
		       const char *name, const char *parent, int shared);
/* Remove the folder.  Unless recursive, PT_ECONFLICT when it holds a live
 * link or a folder; recursive deletes every folder below it and the live
 * links in them (reason "deleted"), *nlinks counting those. */
int repo_folder_delete(struct db *db, const char *id, bool recursive,
		       int64_t now, int64_t *nlinks);
/* The owner's folders with parent `parent` (NULL: all of them), by name. */
int repo_folders_list(struct db *db, struct pt_pool *pool, int64_t owner,
		      const char *parent,
		      int (*cb)(const struct folder *f, void *arg), void *arg);
/* The live links in a folder, by name. */
int repo_folder_links(struct db *db, struct pt_pool *pool,
		      const char *folder_id,
		      int (*cb)(const struct link *l, void *arg), void *arg);
/* Put a live link of `owner` in folder_id ("" = none).  PT_ENOTFOUND when
 * the link is not live or the folder is not the owner's. */
int repo_link_move(struct db *db, const char *id, int64_t owner,
		   const char *folder_id);
/* A blob's CRC-32: *crc = -1 while unknown. */
int repo_blob_crc(struct db *db, const char *hex, int64_t *crc);
int repo_blob_set_crc(struct db *db, const char *hex, uint32_t crc);

/* ---- media info (issue 16; core/media.h) ---- */

/* The probe state of a blob and, when MEDIA_DONE, its info: 0, or
 * PT_ENOTFOUND when it was never probed (MEDIA_PENDING). */
int repo_media_get(struct db *db, const char *hex, enum media_state *state,
		   struct media_info *m);
/* Record a probe's outcome (m may be NULL unless MEDIA_DONE); replaces
 * an earlier one. */
int repo_media_put(struct db *db, const char *hex, enum media_state state,
		   const struct media_info *m, int64_t now);
/* Blobs a live link names that have no media row yet: up to max, cb(hex,
 * mime) for each (the smallest mime of its links) until it returns
 * non-zero.  The probe queue's work list. */
int repo_media_pending(struct db *db, int64_t max,
		       int (*cb)(const char *hex, const char *mime, void *arg),
		       void *arg);

/* ---- thumbnails (issue 16; core/thumb.h, repo_thumbs.c) ---- */

enum thumb_state { THUMB_NONE = 0, THUMB_DONE = 1, THUMB_FAILED = 2 };
struct thumb_row {
	enum thumb_state state;
	char thumb[BLOB_HEX_LEN + 1]; /* the derived blob; "" unless done */
	uint32_t width, height;
	int64_t created;
};
/* The thumbnail row of source blob hex: 0, or PT_ENOTFOUND (none yet). */
int repo_thumb_get(struct db *db, const char *hex, struct thumb_row *t);
/* Record the thumbnailer's outcome for source hex in one transaction:
 * lock the source's blob row (PT_ENOTFOUND when it was reaped: nothing
 * is recorded), and when t->state is THUMB_DONE pin the derived blob
 * t->thumb (size bytes) and call ensure(arg) (blob_writer_ensure) under
 * that lock; then write the row.  PT_EBADREQ when a blob would be its
 * own thumbnail.  Blocks. */
int repo_thumb_put(struct db *db, const char *hex, const struct thumb_row *t,
		   uint64_t size, int (*ensure)(void *arg), void *arg);
/* Sources to thumbnail: probed video and images with a live link and no
 * thumbs row, that are no blob's thumbnail themselves; up to max, cb(hex)
 * until it returns non-zero. */
int repo_thumbs_pending(struct db *db, int64_t max,
			int (*cb)(const char *hex, void *arg), void *arg);

/* fsck support */
/* Call cb for every open upload that has a partial (not a final
 * concatenation), with its durable offset. */
int repo_upload_each_open(struct db *db,
			  int (*cb)(const char *uid, int64_t received,
				    void *arg),
			  void *arg);
/* Call cb for every blob row. */
int repo_blob_each(struct db *db,
		   int (*cb)(const char *hex, uint64_t size, void *arg),
		   void *arg);
bool repo_blob_known(struct db *db, const char *hex);
/* Number of live links to a blob. */
int64_t repo_blob_live_links(struct db *db, const char *hex);
/* Drop a blob row that no live link refers to (its bytes are gone). */
int repo_blob_forget(struct db *db, const char *hex);
int repo_blob_add(struct db *db, const char *hex, uint64_t size, int64_t now);
/* Mark every live link to a blob as removed with reason (missing bytes). */
int repo_blob_links_disable(struct db *db, const char *hex,
			    const char *reason, int64_t now);

/* ---- webhooks (repo_hooks.c) ----
 *
 * A hook is an account's URL for some events (owner: the user's id), or
 * the instance's from the config (owner HOOK_OWNER_INSTANCE, id
 * "instance": it gets every account's events and anonymous ones).  An
 * event is queued as one outbox row per hook that takes it, id
 * "<event id>.<hook id>", due at once; a deliverer claims due rows with a
 * lease (holder, lease: until when), so several nodes share the outbox
 * and a node that died leaves its rows to the others once the lease
 * passes; each attempt is logged, then the row is delivered, due again
 * later, or failed for good. */
#define HOOK_OWNER_INSTANCE (-1)
#define HOOK_ID_MAX 16 /* "instance" or an ID_LEN id */
struct hook {
	char id[HOOK_ID_MAX + 1];
	int64_t owner;
	char *url, *secret, *events; /* pool-owned; events: "all" or names */
	int64_t created;
};
int repo_hook_create(struct db *db, const struct hook *h);
/* Delete owner's hook id with its pending deliveries (the log of those
 * delivered or failed stays readable by nobody: it goes too).
 * PT_ENOTFOUND when owner has no such hook. */
int repo_hook_delete(struct db *db, int64_t owner, const char *id);
/* owner's hook id: 0 with *out (pool), or PT_ENOTFOUND. */
int repo_hook_get(struct db *db, struct pt_pool *pool, int64_t owner,
		  const char *id, struct hook *out);
/* owner's hooks, oldest first; cb's non-zero return stops and is
 * returned. */
int repo_hooks_each(struct db *db, struct pt_pool *pool, int64_t owner,
		    int (*cb)(const struct hook *h, void *arg), void *arg);
int64_t repo_hooks_count(struct db *db, int64_t owner);
/* The instance's hook from the config; url "" removes it. */
int repo_hook_instance_set(struct db *db, const char *url,
			   const char *secret, const char *events,
			   int64_t now);
/* Whether a hook of owner, or the instance's, takes event: a read, so
 * an event nobody wants costs no write.  Errors read as true. */
bool repo_hook_wanted(struct db *db, int64_t owner, const char *event);
/* Queue body (the event's JSON) for every hook of owner, and the
 * instance's, whose events take `event`.  In the caller's transaction
 * when there is one.  Returns the rows queued (>= 0) or a negative
 * status. */
int64_t repo_hook_emit(struct db *db, const char *event_id, int64_t owner,
		       const char *event, const char *body, int64_t now);

struct delivery {
	char id[64];
	char hook_id[HOOK_ID_MAX + 1];
	char *event, *body, *state, *last_error; /* pool */
	int64_t created, attempts, next_at, last_status;
	char *url, *secret; /* claims only: the hook's; NULL: hook deleted */
};
/* Claim up to max deliveries due at now for holder (unique per claim)
 * until lease_until, and call cb for each claimed. */
int repo_hook_claim(struct db *db, struct pt_pool *pool, const char *holder,
		    int64_t now, int64_t lease_until, int64_t max,
		    int (*cb)(const struct delivery *d, void *arg), void *arg);
/* Log an attempt on delivery id (held by holder) and set its state:
 * "delivered", "failed" (for good) or "pending" due at next_at.  A
 * delivery whose lease was lost meanwhile is left alone (another node
 * has it): PT_ECONFLICT. */
int repo_hook_attempt(struct db *db, const char *id, const char *holder,
		      int64_t now, int64_t status, const char *error,
		      const char *state, int64_t next_at);
/* Free the leases of every holder starting with prefix (this node's,
 * after a restart). */
int repo_hook_release(struct db *db, const char *prefix);
/* The latest `limit` deliveries of hook_id, newest first (pool). */
int repo_hook_deliveries(struct db *db, struct pt_pool *pool,
			 const char *hook_id, int64_t limit,
			 int (*cb)(const struct delivery *d, void *arg),
			 void *arg);
/* The links an expiry pass at `changed` marked expired
 * (repo_links_expire), for their "expired" events: cb for each (pool),
 * at most 10000. */
int repo_links_expired_each(struct db *db, struct pt_pool *pool,
			    int64_t changed,
			    int (*cb)(const struct link *l, void *arg),
			    void *arg);
/* The attempts of a delivery, oldest first. */
int repo_hook_attempts(struct db *db, const char *outbox_id,
		       int (*cb)(int64_t at, int64_t status,
				 const char *error, void *arg),
		       void *arg);
/* ---- file requests (repo_requests.c) ----
 * A link that lets anyone upload into one of its owner's folders, within
 * its limits (0: none).  The counts are taken in the link's own
 * transaction (repo_request_take), so concurrent uploads on any number of
 * nodes cannot overfill it. */
struct file_request {
	char id[ID_LEN + 1];
	int64_t owner;
	char folder_id[ID_LEN + 1];
	int64_t created;
	int64_t expires;          /* 0: never */
	char *password_hash;      /* Argon2id; "": none (pool) */
	int64_t max_files, max_bytes; /* 0: no limit */
	int64_t files, bytes;     /* received so far */
	int state;                /* 0 open, 1 closed */
	char *folder_name;        /* reading: the folder's name (pool) */
};
/* Open requests an account may have at once. */
#define REPO_REQUESTS_OPEN_MAX 100
/* PT_ELIMIT when the owner has REPO_REQUESTS_OPEN_MAX open already,
 * PT_ECONFLICT when the id is taken. */
int repo_request_create(struct db *db, const struct file_request *fr);
/* PT_ENOTFOUND when there is no such request. */
int repo_request_get(struct db *db, struct pt_pool *pool, const char *id,
		     struct file_request *out);
/* The owner's requests, newest first. */
int repo_requests_each(struct db *db, struct pt_pool *pool, int64_t owner,
		       int (*cb)(const struct file_request *fr, void *arg),
		       void *arg);
/* Close the owner's request (state 1): PT_ENOTFOUND when it is not
 * theirs or already closed.  Files received stay. */
int repo_request_close(struct db *db, const char *id, int64_t owner);
/* Inside the link's transaction: count one file of `bytes` into the
 * request, in one conditional UPDATE.  PT_EGONE closed or expired (or
 * gone), PT_EFORBIDDEN max_files reached, PT_ETOOBIG over max_bytes;
 * else 0 and folder (ID_LEN + 1) gets the request's folder. */
int repo_request_take(struct db *db, const char *id, int64_t bytes,
		      int64_t now, char *folder);
/* Give back what repo_request_take counted for a link undone after its
 * transaction (a multipart upload refused whole). */
int repo_request_untake(struct db *db, const char *id, int64_t bytes);
/* Did the link come through a file request?  (Its uploader is not told
 * the link.)  false when no such link. */
bool repo_link_from_request(struct db *db, const char *link_id);

/* ---- virus scanning (repo_scan.c) ----
 * The queue is the blobs table: a blob not yet scanned that some live
 * link names is pending; a restart loses nothing. */
enum { REPO_SCAN_PENDING = 0, REPO_SCAN_CLEAN = 1, REPO_SCAN_INFECTED = 2,
       REPO_SCAN_ERROR = 3 };
/* Up to max pending blobs (oldest first): hex into out (pool), their
 * sizes into sizes; *n how many. */
int repo_scan_pending(struct db *db, struct pt_pool *pool, char **out,
		      int64_t *sizes, size_t max, size_t *n);
/* Record a blob's verdict and its signature or error. */
int repo_scan_set(struct db *db, const char *hex, int state,
		  const char *reason);

/* ---- fast-start copies (issue 16; repo_remux.c, core/remux.h) ---- */

enum remux_state {
	REMUX_PENDING = 0,    /* not looked at yet (no row) */
	REMUX_DONE = 1,	      /* copy_sha256 is its fast-start copy */
	REMUX_FAILED = 2,     /* damaged, refused by the muxer, too big */
	REMUX_NOT_NEEDED = 3, /* its index is already first */
};
/* Blobs that may want a fast-start copy: probed audio/video of the
 * MP4/MOV family, at most max_bytes, named by a live link without
 * Max-Downloads, without a remux row.  cb(hex, size) for up to max of
 * them until it returns non-zero.  The remux queue's work list. */
int repo_remux_pending(struct db *db, uint64_t max_bytes, int64_t max,
		       int (*cb)(const char *hex, uint64_t size, void *arg),
		       void *arg);
/* Record an outcome without a copy (FAILED, NOT_NEEDED); keeps a row
 * already there. */
int repo_remux_mark(struct db *db, const char *hex, enum remux_state state,
		    int64_t now);
/* In one transaction: lock the source's blob row (PT_EGONE when it is
 * gone: reaped meanwhile), pin the copy's (creating it), call ensure(arg)
 * (blob_writer_ensure: the copy's bytes are there), insert the done row
 * (a row already there stays).  The gc protocol of blob.h. */
int repo_remux_record(struct db *db, const char *hex, const char *copy,
		      uint64_t copy_size, int64_t now,
		      int (*ensure)(void *arg), void *arg);
/* The remux row of a source: 0, or PT_ENOTFOUND (REMUX_PENDING). */
int repo_remux_get(struct db *db, const char *hex, enum remux_state *state,
		   char copy[BLOB_HEX_LEN + 1], uint64_t *copy_size,
		   int64_t *created);
/* How many remux rows name hex as their copy (-1 on error). */
int64_t repo_remux_refs(struct db *db, const char *hex);

/* ---- viewing quotas in the database (issue 16; repo_quota.c) ---- */

/* In one transaction: lock (creating them) the quota rows of keys[0..n)
 * (n <= 2; taken in the keys' order, so two transactions never wait in a
 * circle), read their windows into q[], call fn(q, n, arg), which may
 * change them, and write them back; touched = now.  0 or a status. */
int repo_quota_update(struct db *db, const char *const *keys, int n,
		      int64_t now,
		      void (*fn)(struct media_quota *q, int n, void *arg),
		      void *arg);
/* The windows of keys[0..n) without a lock (zero for a key without a
 * row). */
int repo_quota_get(struct db *db, const char *const *keys, int n,
		   struct media_quota *q);
/* Forget rows not touched since `before` (gc). */
int repo_quota_expire(struct db *db, int64_t before);
/* ---- the cluster (repo_cluster.c): node heartbeats, download slots ----
 * PostgreSQL only (the caller checks db_backend): several nodes, the
 * database's clock.  Each call may block on the database. */
/* This node is alive now: its row's heartbeat (an upsert), and the
 * session lock of repo_node_key(node) on this connection
 * (pg_try_advisory_lock), which tells the others at once when the
 * process dies.  Call it on one connection that stays the node's. */
int repo_node_beat(struct db *db, const char *node);
/* The advisory lock key of a node's liveness. */
int64_t repo_node_key(const char *node);
/* Forget the slots of nodes silent for silent_ms, and those nodes. */
int repo_node_purge(struct db *db, int64_t silent_ms);
/* Forget every slot of node (a new life of it, or its shutdown). */
int repo_slots_drop_node(struct db *db, const char *node);
enum { REPO_SLOT_OK = 0, REPO_SLOT_PARALLEL = 1, REPO_SLOT_CONNECTIONS = 2 };
struct repo_slot_claim {
	const char *node;      /* this node */
	uint64_t token;        /* its slot (slots.h), unique on the node */
	const char *ip, *id;   /* the download: (address, id) */
	uint64_t parallel;     /* downloads per address; 0: any */
	uint64_t connections;  /* connections per download; 0: any */
	uint64_t local_mine;   /* this node's live connections of (ip, id),
				* this one included */
	uint64_t local_others; /* this node's other downloads of ip */
	int64_t lease_ms;      /* a node silent this long counts no more */
};
/* Count the download connections of c->ip that other live nodes hold
 * (a fresh heartbeat, and their session lock held: a node killed is dead
 * at once, one cut off or hung when its heartbeat is lease_ms old),
 * add this node's, and record this one if the limits allow it, under a
 * lock of the address (one transaction: no two nodes both take the last
 * slot).  REPO_SLOT_OK (recorded: drop it with repo_slot_drop),
 * REPO_SLOT_PARALLEL (the id of another download into other),
 * REPO_SLOT_CONNECTIONS, or a negative status (nothing recorded). */
int repo_slot_take(struct db *db, const struct repo_slot_claim *c,
		   char *other, size_t other_len);
int repo_slot_drop(struct db *db, const char *node, uint64_t token);

#endif
