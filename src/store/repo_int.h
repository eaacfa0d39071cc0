/*
 * repo_int.h — what the files of the repo module share, for them alone
 * (nothing outside src/store/repo_*.c includes it; the module's API is
 * repo.h).  The module is one file per domain:
 *   repo_schema.c   the tables and their migrations;
 *   repo_links.c    links: create, read, downloads, the byte budget,
 *                   delete, rename, the link checker;
 *   repo_blobs.c    blob rows: pin, reap (gc), CRC-32, fsck's queries;
 *   repo_uploads.c  resumable uploads (tus) and their leases;
 *   repo_users.c    accounts, login failures, tokens, vouchers;
 *   repo_expiry.c   expiry of links (gc) and the statistics;
 *   repo_abuse.c    takedowns, the blocklist, reports, the audit log;
 *   repo_rewards.c  the uploader rewards ledger;
 *   repo_folders.c  folders and the file manager's pages;
 *   repo_hooks.c    webhooks, their outbox and delivery log.
 *   repo_media.c    media info of blobs and the probe's work list.
 *   repo_requests.c file-request links and their counts.
 *   repo_remux.c    fast-start copies of MP4/MOV blobs.
 *   repo_quota.c    viewing quotas shared by the nodes.
 *   repo_thumbs.c   thumbnails: derived blobs and their sources.
 *   repo_cluster.c  node heartbeats and download slots (PostgreSQL).
 *
 * Every statement is written in the dialect SQLite and PostgreSQL share
 * ($N parameters, TEXT/BIGINT columns, INSERT … ON CONFLICT: db.h), and
 * is a string literal, so the driver can cache it per connection by its
 * address.  Statements run through db.h's helpers (db_run, db_get,
 * db_query); a statement whose parameters are not a fixed list is the
 * one exception (repo_links_check).
 *
 * Locks are taken in one order everywhere, so two transactions never
 * wait for each other in a circle: the blob row (repo_blob_pin), then
 * a file request's row (repo_request_take), then the owner's folder lock
 * (repo_folder_hold), then the account's row (repo_user_lock).
 */
#ifndef PT_REPO_INT_H
#define PT_REPO_INT_H

#include <stddef.h>
#include <string.h>

#include "repo.h"

/* Copy src (NULL reads as "") into dst of cap bytes, cut to fit. */
static inline void copy_fixed(char *dst, size_t cap, const char *src)
{
	size_t n = src ? strlen(src) : 0;
	if (n >= cap)
		n = cap - 1;
	if (n)
		memcpy(dst, src, n);
	dst[n] = '\0';
}

/* repo_links.c: inside the caller's transaction, the steps that add the
 * link row l (the gc protocol of blob.h): pin the blob row, refuse
 * blocked content (PT_ELEGAL), hold the owner's folder, check the quota
 * (PT_ENOSPACE), call ensure(arg) (may be NULL), insert the row.  Used by
 * repo_link_create and repo_upload_complete. */
int repo_link_add(struct db *db, struct link *l, int (*ensure)(void *arg),
		  void *arg);

/* repo_blobs.c: lock l's blob row until the transaction ends, creating
 * it if new (and filling in a CRC-32 still unknown).  What serialises a
 * new link with repo_blob_reap. */
int repo_blob_pin(struct db *db, const struct link *l);

/* repo_abuse.c: after repo_blob_pin, is the content blocklisted?
 * PT_ELEGAL when it is. */
int repo_blocked_check(struct db *db, const char *hex);

/* repo_folders.c: a link created into a folder holds the owner's folder
 * lock and checks that the folder is still theirs; when it is gone,
 * l->folder_id is cleared (the link goes to the top level). */
int repo_folder_hold(struct db *db, struct link *l);

/* repo_blobs.c: the first column of a query's rows, at most max, into
 * out (copies in pool), *n how many.  err is db_query's result (st is
 * not read when it failed).  0 or a negative error; st is finished. */
int repo_rows_text(int err, struct db_stmt *st, struct pt_pool *pool,
		   char **out, size_t max, size_t *n);

/* repo_users.c: lock the account's row until the transaction ends, the
 * guard of every decision on the account's sums (points, storage used).
 * PT_ENOTFOUND when there is no such account. */
int repo_user_lock(struct db *db, int64_t user_id);

/* repo_thumbs.c, for gc (repo_blobs.c): how many thumbs rows name hex as
 * their derived blob (-1 on error); and, inside the reap of source hex,
 * delete its thumbs row, with its derived blob's hash in thumb ("" none:
 * BLOB_HEX_LEN + 1 bytes). */
int64_t repo_thumb_refs(struct db *db, const char *hex);
int repo_thumb_drop(struct db *db, const char *hex, char *thumb);

#endif
