/*
 * repo_folders.c — the file manager: pages of a user's live links in a
 * chosen order, and folders.  A folder tree belongs to one user; its
 * changes run one owner at a time under a database-wide lock, so moves
 * never make a cycle, and a link created into a folder takes the same
 * lock (repo_folder_hold) so a recursive delete cannot miss it.
 */
#include "repo_int.h"

#include "../util/pt.h"
#include "../util/banned.h"

/* ---- the file manager ---- */

/* ORDER BY cannot be a parameter: one statement per sort order, chosen
 * from a fixed table (never text from the request). */
/* The columns link_row() reads, for lists of links. */
#define LINK_COLS                                                            \
	"SELECT id, sha256, name, mime, size, created, expires, "            \
	"max_downloads, downloads, last_download, owner_id, state, reason, " \
	"folder_id, password_hash, COALESCE((SELECT scan_state FROM blobs b " \
	"WHERE b.sha256 = links.sha256), 0) FROM links "
/* $4 is a folder id, "" for the top level, or "*" for every folder */
#define FILES_SELECT                                       \
	LINK_COLS "WHERE owner_id = $1 AND state = 0 AND " \
		  "($4 = '*' OR folder_id = $4) "

static void link_row(struct db_stmt *st, struct pt_pool *pool, struct link *l)
{
	memset(l, 0, sizeof(*l));
	copy_fixed(l->id, sizeof(l->id), db_col_text(st, 0));
	copy_fixed(l->sha256, sizeof(l->sha256), db_col_text(st, 1));
	l->name = pt_pstrdup(pool, db_col_text(st, 2));
	l->mime = pt_pstrdup(pool, db_col_text(st, 3));
	l->size = (uint64_t)db_col_int(st, 4);
	l->created = db_col_int(st, 5);
	l->expires = db_col_int(st, 6);
	l->max_downloads = db_col_int(st, 7);
	l->downloads = db_col_int(st, 8);
	l->last_download = db_col_int(st, 9);
	l->owner = db_col_int(st, 10);
	l->state = (enum link_state)db_col_int(st, 11);
	l->reason = pt_pstrdup(pool, db_col_text(st, 12));
	copy_fixed(l->folder_id, sizeof(l->folder_id), db_col_text(st, 13));
	l->password_hash = pt_pstrdup(pool, db_col_text(st, 14));
	l->scan_state = (int)db_col_int(st, 15);
}

/* Call cb for each row of st (LINK_COLS) until it returns non-zero, then
 * finish st.  0, cb's status, or the driver's. */
static int link_rows(struct db_stmt *st, struct pt_pool *pool,
		     int (*cb)(const struct link *l, void *arg), void *arg)
{
	int err;
	while ((err = db_step(st)) == DB_ROW) {
		struct link l;
		link_row(st, pool, &l);
		if ((err = cb(&l, arg)))
			break;
	}
	db_done(st);
	return err < 0 ? err : 0;
}
static const char *const files_sql[8] = {
	FILES_SELECT "ORDER BY created, id LIMIT $2 OFFSET $3",
	FILES_SELECT "ORDER BY created DESC, id LIMIT $2 OFFSET $3",
	FILES_SELECT "ORDER BY name, id LIMIT $2 OFFSET $3",
	FILES_SELECT "ORDER BY name DESC, id LIMIT $2 OFFSET $3",
	FILES_SELECT "ORDER BY size, id LIMIT $2 OFFSET $3",
	FILES_SELECT "ORDER BY size DESC, id LIMIT $2 OFFSET $3",
	FILES_SELECT "ORDER BY downloads, id LIMIT $2 OFFSET $3",
	FILES_SELECT "ORDER BY downloads DESC, id LIMIT $2 OFFSET $3",
};

int repo_user_files(struct db *db, struct pt_pool *pool, int64_t user_id,
		    const char *folder, int sort, bool desc, int64_t limit,
		    int64_t offset, int (*cb)(const struct link *l, void *arg),
		    void *arg, int64_t *total)
{
	struct db_stmt *st;
	const char *f = folder ? folder : "*";
	int err;

	if (sort < 0 || sort > 3)
		sort = 0;
	err = db_query(db,
		       "SELECT COUNT(*) FROM links WHERE owner_id = $1 AND "
		       "state = 0 AND ($2 = '*' OR folder_id = $2)",
		       &st, "it", user_id, f);
	if (err)
		return err;
	*total = db_step(st) == DB_ROW ? db_col_int(st, 0) : 0;
	db_done(st);
	if ((err = db_query(db, files_sql[sort * 2 + (desc ? 1 : 0)], &st,
			    "iiit", user_id, limit, offset, f)))
		return err;
	return link_rows(st, pool, cb, arg);
}

/* ---- folders ---- */

/* Folder tree changes of one owner run one at a time (PostgreSQL runs
 * READ COMMITTED: two crossing moves could otherwise make a cycle). */
#define REPO_FOLDER_LOCK (INT64_C(0x666f6c64) << 32) /* "fold" */
#define FOLDER_DEPTH_MAX 64

static void folder_row(struct db_stmt *st, struct pt_pool *pool,
		       struct folder *f)
{
	copy_fixed(f->id, sizeof(f->id), db_col_text(st, 0));
	copy_fixed(f->parent, sizeof(f->parent), db_col_text(st, 1));
	f->owner = db_col_int(st, 2);
	f->name = pt_pstrdup(pool, db_col_text(st, 3));
	f->created = db_col_int(st, 4);
	f->shared = db_col_int(st, 5) != 0;
}

#define FOLDER_COLS \
	"SELECT id, parent_id, owner_id, name, created, shared FROM folders "

int repo_folder_get(struct db *db, struct pt_pool *pool, const char *id,
		    struct folder *out)
{
	struct db_stmt *st;
	int err = db_get(db, FOLDER_COLS "WHERE id = $1", &st, "t", id);
	if (err)
		return err;
	folder_row(st, pool, out);
	db_done(st);
	return 0;
}

/* The parent of folder id if it belongs to owner: 0, PT_ENOTFOUND. */
static int folder_parent(struct db *db, const char *id, int64_t owner,
			 char parent[ID_LEN + 1])
{
	struct db_stmt *st;
	int err = db_get(db,
			 "SELECT parent_id FROM folders WHERE id = $1 AND "
			 "owner_id = $2",
			 &st, "ti", id, (int64_t)owner);
	if (err)
		return err;
	copy_fixed(parent, ID_LEN + 1, db_col_text(st, 0));
	db_done(st);
	return 0;
}

/* Is `parent` ("" or a folder of owner) a place for folder `id` (NULL: a
 * new folder)?  Walks up to the top: PT_ECONFLICT when it meets id, or
 * the tree is deeper than FOLDER_DEPTH_MAX. */
static int folder_check_parent(struct db *db, const char *id, int64_t owner,
			       const char *parent)
{
	char at[ID_LEN + 1];
	int err;

	copy_fixed(at, sizeof(at), parent);
	for (int depth = 0; *at; depth++) {
		if ((id && strcmp(at, id) == 0) || depth >= FOLDER_DEPTH_MAX)
			return PT_ECONFLICT;
		if ((err = folder_parent(db, at, owner, at)))
			return err;
	}
	return 0;
}

struct folder_op {
	const struct folder *f; /* create */
	const char *id;
	int64_t owner;
	const char *name, *parent;
	int shared;
	bool recursive;
	int64_t now, nlinks;
	struct pt_pool *pool;
};

static int folder_create_tx(struct db *db, void *arg)
{
	const struct folder *f = ((struct folder_op *)arg)->f;
	int err;
	if ((err = db_lock(db, REPO_FOLDER_LOCK | f->owner)) ||
	    (err = folder_check_parent(db, NULL, f->owner, f->parent)))
		return err;
	int64_t rc = db_run(db,
			    "INSERT INTO folders(id, owner_id, parent_id, name, "
			    "created, shared) VALUES ($1, $2, $3, $4, $5, $6)",
			    "tittii", f->id, f->owner, f->parent, f->name,
			    f->created, (int64_t)f->shared);
	return rc < 0 ? (int)rc : 0;
}

int repo_folder_create(struct db *db, const struct folder *f)
{
	struct folder_op op = { .f = f };
	return db_transact(db, folder_create_tx, &op);
}

static int folder_update_tx(struct db *db, void *arg)
{
	struct folder_op *op = arg;
	char cur[ID_LEN + 1];
	int err;
	if ((err = db_lock(db, REPO_FOLDER_LOCK | op->owner)) ||
	    (err = folder_parent(db, op->id, op->owner, cur)))
		return err;
	if (op->parent &&
	    (err = folder_check_parent(db, op->id, op->owner, op->parent)))
		return err;
	int64_t rc = db_run(db,
			    "UPDATE folders SET name = COALESCE($2, name), "
			    "parent_id = COALESCE($3, parent_id), shared = "
			    "CASE WHEN $4 < 0 THEN shared ELSE $4 END WHERE id "
			    "= $1",
			    "ttti", op->id, op->name, op->parent,
			    (int64_t)op->shared);
	return rc < 0 ? (int)rc : rc == 1 ? 0 : PT_ENOTFOUND;
}

int repo_folder_update(struct db *db, const char *id, int64_t owner,
		       const char *name, const char *parent, int shared)
{
	struct folder_op op = { .id = id,
				.owner = owner,
				.name = name,
				.parent = parent,
				.shared = shared };
	return db_transact(db, folder_update_tx, &op);
}

/* Append the ids of id's child folders to *ids. */
static int folder_children(struct db *db, struct pt_pool *pool, const char *id,
			   char ***ids, size_t *n, size_t *cap)
{
	struct db_stmt *st;
	int err = db_query(db, "SELECT id FROM folders WHERE parent_id = $1",
			   &st, "t", id);
	if (err)
		return err;
	while ((err = db_step(st)) == DB_ROW) {
		if (*n == *cap) {
			size_t ncap = *cap * 2;
			char **nids = pt_palloc(pool, ncap * sizeof(*nids));
			memcpy(nids, *ids, *n * sizeof(*nids));
			*ids = nids;
			*cap = ncap;
		}
		(*ids)[(*n)++] = pt_pstrdup(pool, db_col_text(st, 0));
	}
	db_done(st);
	return err < 0 ? err : 0;
}

static int folder_delete_tx(struct db *db, void *arg)
{
	struct folder_op *op = arg;
	char parent[ID_LEN + 1];
	struct folder f;
	size_t n = 1, cap = 16;
	char **ids = pt_palloc(op->pool, cap * sizeof(*ids));
	int err;

	op->nlinks = 0;
	if ((err = repo_folder_get(db, op->pool, op->id, &f)) ||
	    (err = db_lock(db, REPO_FOLDER_LOCK | f.owner)) ||
	    (err = folder_parent(db, op->id, f.owner, parent)))
		return err;
	ids[0] = (char *)op->id;
	/* breadth first: the list grows while it is walked */
	for (size_t i = 0; i < n; i++)
		if ((err = folder_children(db, op->pool, ids[i], &ids, &n,
					   &cap)))
			return err;
	if (!op->recursive) {
		struct db_stmt *st;
		if (n > 1)
			return PT_ECONFLICT;
		if ((err = db_get(db,
				  "SELECT COUNT(*) FROM links WHERE "
				  "folder_id = $1 AND state = 0",
				  &st, "t", op->id)))
			return err;
		int64_t k = db_col_int(st, 0);
		db_done(st);
		if (k)
			return PT_ECONFLICT;
	}
	for (size_t i = 0; i < n; i++) {
		int64_t rc = db_run(db,
				    "UPDATE links SET state = 1, reason = "
				    "'deleted', changed = $2 WHERE folder_id = "
				    "$1 AND state = 0",
				    "ti", ids[i], op->now);
		db_changed(db);
		if (rc < 0)
			return (int)rc;
		op->nlinks += rc;
		rc = db_run(db, "DELETE FROM folders WHERE id = $1", "t",
			    ids[i]);
		if (rc < 0)
			return (int)rc;
	}
	return 0;
}

int repo_folder_delete(struct db *db, const char *id, bool recursive,
		       int64_t now, int64_t *nlinks)
{
	struct pt_pool *pool = pt_pool_new();
	struct folder_op op = { .id = id,
				.recursive = recursive,
				.now = now,
				.pool = pool };
	int err = db_transact(db, folder_delete_tx, &op);
	if (nlinks)
		*nlinks = err ? 0 : op.nlinks;
	pt_pool_free(pool);
	return err;
}

int repo_folders_list(struct db *db, struct pt_pool *pool, int64_t owner,
		      const char *parent,
		      int (*cb)(const struct folder *f, void *arg), void *arg)
{
	struct db_stmt *st;
	int err = db_query(db,
			   /* CAST: PostgreSQL cannot type a bare $2 IS NULL */
			   FOLDER_COLS "WHERE owner_id = $1 AND (CAST($2 AS "
				       "TEXT) IS NULL OR parent_id = CAST($2 "
				       "AS TEXT)) ORDER BY name, id",
			   &st, "it", owner, parent);
	if (err)
		return err;
	while ((err = db_step(st)) == DB_ROW) {
		struct folder f;
		folder_row(st, pool, &f);
		if ((err = cb(&f, arg)))
			break;
	}
	db_done(st);
	return err < 0 ? err : 0;
}

int repo_folder_links(struct db *db, struct pt_pool *pool,
		      const char *folder_id,
		      int (*cb)(const struct link *l, void *arg), void *arg)
{
	struct db_stmt *st;
	int err = db_query(db,
			   LINK_COLS "WHERE folder_id = $1 AND state = 0 "
				     "ORDER BY name, id",
			   &st, "t", folder_id);
	return err ? err : link_rows(st, pool, cb, arg);
}

/* A link created into a folder: hold the owner's folder lock (the one
 * repo_folder_delete holds) and see that the folder is still theirs.
 * Without it a recursive delete running meanwhile misses the new link,
 * which then stays live in a folder that is gone, in no listing.  A
 * folder deleted since the request checked it puts the link at the top
 * level (l->folder_id is cleared). */
int repo_folder_hold(struct db *db, struct link *l)
{
	char parent[ID_LEN + 1];
	int err;

	if (!*l->folder_id)
		return 0;
	if ((err = db_lock(db, REPO_FOLDER_LOCK | l->owner)))
		return err;
	err = folder_parent(db, l->folder_id, l->owner, parent);
	if (err != PT_ENOTFOUND)
		return err;
	l->folder_id[0] = '\0';
	return 0;
}

static int link_move_tx(struct db *db, void *arg)
{
	struct folder_op *op = arg;
	char parent[ID_LEN + 1];
	int err;
	if ((err = db_lock(db, REPO_FOLDER_LOCK | op->owner)))
		return err;
	if (*op->parent &&
	    (err = folder_parent(db, op->parent, op->owner, parent)))
		return err;
	int64_t rc = db_run(db,
			    "UPDATE links SET folder_id = $2 WHERE id = $1 AND "
			    "state = 0",
			    "tt", op->id, op->parent);
	db_changed(db);
	return rc < 0 ? (int)rc : rc == 1 ? 0 : PT_ENOTFOUND;
}

int repo_link_move(struct db *db, const char *id, int64_t owner,
		   const char *folder_id)
{
	struct folder_op op = { .id = id, .owner = owner, .parent = folder_id };
	return db_transact(db, link_move_tx, &op);
}
