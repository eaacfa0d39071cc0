/*
 * folders.c — folders of a registered user's files: /api/v1/folders
 * (create, list, show, rename/move/share, delete), the public page of a
 * shared folder (GET /folder/{id}), its wait ticket, and the whole folder
 * as one zip (GET /folder/{id}/{name}.zip).
 *
 * The zip is stored, not compressed, and planned before a byte is sent
 * (core/zip.h): every entry's size and CRC-32 come from the metadata, so
 * the response has a Content-Length, a strong ETag over what it contains,
 * and answers Range + If-Range like a file: a download manager resumes it
 * or fetches it over several connections.  Bytes stream from the blobs as
 * the archive reaches them, with no temporary file.  A CRC not yet known
 * (a blob stored before zips existed) is computed once, before replying,
 * and kept in its blob row.
 *
 * What a zip holds: the folder as a directory named after it, with every
 * folder below it and every live link in them.  Links that need a
 * password, or count their downloads (Max-Downloads), stay out: a zip
 * must not be a way around either.  Tier rules apply to the zip as a
 * whole (size limit, wait ticket, parallel downloads, speed cap), and a
 * file whose bytes a client received in full through zips counts as a
 * download of that file for its uploader.
 */
#define _GNU_SOURCE
#include "download.h"
#include "handlers.h"
#include "pwcheck.h"

#include <inttypes.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/zip.h"
#include "../http/disposition.h"
#include "../http/path.h"
#include "../http/range.h"
#include "../http/reply.h"
#include "../util/buf.h"
#include "../util/banned.h"

#define ZIP_MAX_ENTRIES 100000
#define FOLDERS_MAX_LIST 10000

static char *folder_url(struct app *app, struct pt_pool *pool,
			const struct folder *f, bool zip)
{
	if (!zip)
		return pt_psprintf(pool, "%s/folder/%s", app->public_url,
				   f->id);
	struct pt_buf b;
	pt_buf_init(&b, 1 << 16);
	pt_buf_addf(&b, "%s/folder/%s/", app->public_url, f->id);
	path_escape(&b, f->name);
	pt_buf_adds(&b, ".zip");
	char *s = pt_pstrndup(pool, b.p, b.n);
	pt_buf_release(&b);
	return s;
}

static json_t *folder_json(struct app *app, struct pt_pool *pool,
			   const struct folder *f)
{
	return json_pack("{s:s, s:o, s:o, s:I, s:b, s:s, s:s}", "id", f->id,
			 "name", reply_jtext(f->name), "parent",
			 *f->parent ? json_string(f->parent) : json_null(),
			 "created", (json_int_t)f->created, "shared",
			 f->shared, "url", folder_url(app, pool, f, false),
			 "zip_url", folder_url(app, pool, f, true));
}

/* Folder names follow file names' rules (disp_sanitize_name): one path
 * segment of UTF-8, at most 255 bytes. */
static const char *clean_name(struct pt_req *r, const char *name)
{
	char clean[256];
	disp_sanitize_name(name, strlen(name), clean, sizeof(clean));
	return pt_pstrdup(r->pool, clean);
}

/* May who see f: its owner, an admin, or anyone while f or a folder above
 * it is shared (sharing a folder shares what is inside). */
static bool folder_visible(struct db *db, struct pt_pool *pool,
			   const struct folder *f, const struct principal *who)
{
	struct folder at = *f;
	if (policy_owns(who, f->owner))
		return true;
	for (int depth = 0; depth < 64; depth++) {
		if (at.shared)
			return true;
		if (!*at.parent || repo_folder_get(db, pool, at.parent, &at))
			return false;
	}
	return false;
}

/* Look the folder up for a request: 503, 404 (also for a folder the
 * requester may not see: private folders are not revealed), or 403 when
 * `owner` is needed and the requester only sees it.  Returns 0 with *f
 * filled, or true with the reply's result in *rc. */
static bool folder_lookup_or_reply(struct pt_req *r, const char *id, bool owner,
				   struct folder *f, req_res *rc)
{
	struct app *app = r->ctx;
	struct db *db = app_db(app);
	const struct principal *who = api_who(r);
	int err;

	if (!db) {
		*rc = reply_error(r, PT_EUNAVAIL, NULL,
				  "service unavailable: metadata store "
				  "unreachable, try again");
		return true;
	}
	err = repo_folder_get(db, r->pool, id, f);
	if (err == 0 && !folder_visible(db, r->pool, f, who))
		err = PT_ENOTFOUND;
	if (err == PT_ENOTFOUND && api_unknown_id_or_reply(r, rc))
		return true;
	if (err == PT_ENOTFOUND) {
		*rc = reply_error(r, err, NULL, "not found: no folder '%s'", id);
		return true;
	}
	if (err) {
		*rc = reply_error(r, err, NULL, "cannot look up folder '%s': %s",
				  id, pt_strerror(err));
		return true;
	}
	if (owner && !policy_owns(who, f->owner)) {
		*rc = reply_error(r, PT_EFORBIDDEN, NULL,
				  "forbidden: only its owner changes folder "
				  "'%s'",
				  id);
		return true;
	}
	return false;
}

/* ---- the contents of a folder, recursively ---- */

/* One entry of a folder's tree: a folder (link NULL) or a file. */
struct item {
	const char *path;  /* in the archive: "Folder/sub/name" or ".../" */
	struct link *link; /* NULL for a folder */
	int64_t mtime;
};

struct tree {
	struct pt_pool *pool;
	struct item *items;
	size_t n, cap;
	size_t skipped;  /* live links left out (password, Max-Downloads) */
	uint64_t bytes;  /* of the files */
	/* paths taken, for unique names: open addressing over items */
	size_t *slots;
	size_t nslots;
	bool too_many;
};

static bool tree_has(const struct tree *t, const char *path, size_t *slot)
{
	size_t i = pt_hash_str(path) & (t->nslots - 1);
	for (;; i = (i + 1) & (t->nslots - 1)) {
		if (t->slots[i] == SIZE_MAX) {
			*slot = i;
			return false;
		}
		if (strcmp(t->items[t->slots[i]].path, path) == 0) {
			*slot = i;
			return true;
		}
	}
}

static void tree_rehash(struct tree *t)
{
	size_t ns = t->nslots ? 2 * t->nslots : 64, slot;
	t->nslots = ns;
	t->slots = pt_palloc(t->pool, ns * sizeof(*t->slots));
	memset(t->slots, 0xff, ns * sizeof(*t->slots));
	for (size_t i = 0; i < t->n; i++) {
		tree_has(t, t->items[i].path, &slot);
		t->slots[slot] = i;
	}
}

/* Add path (made unique: "name (2).ext" after "name.ext") to the tree. */
static void tree_add(struct tree *t, const char *dir, const char *name,
		     bool folder, struct link *l, int64_t mtime)
{
	size_t slot;
	if (t->n >= ZIP_MAX_ENTRIES) {
		t->too_many = true;
		return;
	}
	if (2 * (t->n + 1) > t->nslots)
		tree_rehash(t);
	const char *dot = folder ? NULL : strrchr(name, '.');
	if (dot && dot == name)
		dot = NULL; /* ".profile" has no extension */
	int stem = dot ? (int)(dot - name) : (int)strlen(name);
	char *path = pt_psprintf(t->pool, "%s%s%s", dir, name, folder ? "/" : "");
	for (unsigned k = 2; tree_has(t, path, &slot); k++)
		path = pt_psprintf(t->pool, "%s%.*s (%u)%s%s", dir, stem, name,
				   k, dot ? dot : "", folder ? "/" : "");
	if (t->n == t->cap) {
		size_t nc = t->cap ? 2 * t->cap : 64;
		struct item *ni = pt_palloc(t->pool, nc * sizeof(*ni));
		if (t->n)
			memcpy(ni, t->items, t->n * sizeof(*ni));
		t->items = ni;
		t->cap = nc;
	}
	t->items[t->n] = (struct item){ path, l, mtime };
	t->slots[slot] = t->n++;
}

struct walk {
	struct tree *t;
	const char *dir;
	int64_t now;
	struct folder *sub; /* child folders found */
	size_t nsub, capsub;
};

static int walk_link(const struct link *l, void *arg)
{
	struct walk *w = arg;
	const char *reason;
	if (link_effective_state(l, w->now, &reason) != LINK_LIVE)
		return 0;
	if ((l->password_hash && *l->password_hash) || l->max_downloads) {
		w->t->skipped++;
		return 0;
	}
	struct link *copy = pt_palloc(w->t->pool, sizeof(*copy));
	*copy = *l; /* its strings are pool memory already */
	tree_add(w->t, w->dir, l->name, false, copy, l->created);
	w->t->bytes += l->size;
	return w->t->too_many;
}

static int walk_folder(const struct folder *f, void *arg)
{
	struct walk *w = arg;
	if (w->nsub == w->capsub) {
		size_t nc = w->capsub ? 2 * w->capsub : 16;
		struct folder *ns = pt_palloc(w->t->pool, nc * sizeof(*ns));
		if (w->nsub)
			memcpy(ns, w->sub, w->nsub * sizeof(*ns));
		w->sub = ns;
		w->capsub = nc;
	}
	w->sub[w->nsub++] = *f;
	return 0;
}

/* Everything under root, breadth first, each level in name order: root
 * itself as "<name>/", then its files and folders, then theirs.  0,
 * PT_EFORBIDDEN past ZIP_MAX_ENTRIES, or the store's status. */
static int tree_build(struct db *db, const struct folder *root,
		      struct tree *t)
{
	struct pending {
		struct folder f;
		const char *dir; /* f's path in the archive, ending in '/' */
	} *q;
	size_t nq = 1, capq = 16;
	int64_t now = pt_now();
	int err;

	q = pt_palloc(t->pool, capq * sizeof(*q));
	tree_add(t, "", root->name, true, NULL, root->created);
	q[0] = (struct pending){ *root, t->items[0].path };
	for (size_t i = 0; i < nq; i++) {
		struct walk w = { .t = t, .dir = q[i].dir, .now = now };
		if ((err = repo_folder_links(db, t->pool, q[i].f.id, walk_link,
					     &w)) ||
		    (err = repo_folders_list(db, t->pool, q[i].f.owner,
					     q[i].f.id, walk_folder, &w)))
			return err;
		for (size_t j = 0; j < w.nsub && !t->too_many; j++) {
			size_t at = t->n;
			tree_add(t, q[i].dir, w.sub[j].name, true, NULL,
				 w.sub[j].created);
			if (t->too_many)
				break;
			if (nq == capq) {
				struct pending *nqq =
					pt_palloc(t->pool, 2 * capq * sizeof(*q));
				memcpy(nqq, q, nq * sizeof(*q));
				q = nqq;
				capq *= 2;
			}
			q[nq++] = (struct pending){ w.sub[j], t->items[at].path };
		}
		if (t->too_many)
			break;
	}
	return t->too_many ? PT_EFORBIDDEN : 0;
}

/* ---- /api/v1/folders ---- */

static req_res create_done(struct pt_req *r, json_t *o)
{
	struct app *app = r->ctx;
	json_t *name = o ? json_object_get(o, "name") : NULL;
	json_t *parent = o ? json_object_get(o, "parent") : NULL;
	json_t *shared = o ? json_object_get(o, "shared") : NULL;
	struct folder f = { .owner = api_who(r)->user_id, .created = pt_now() };
	int err;

	if (!json_is_string(name) || !*json_string_value(name) ||
	    (parent && !json_is_null(parent) && !json_is_string(parent)) ||
	    (shared && !json_is_boolean(shared)))
		return reply_error(r, PT_EBADREQ, NULL,
				   "bad request: send {\"name\": \"…\"[, "
				   "\"parent\": \"FOLDER_ID\"][, \"shared\": "
				   "true]}");
	f.name = (char *)clean_name(r, json_string_value(name));
	if (json_is_string(parent)) {
		const char *p = json_string_value(parent);
		if (*p && !id_valid(p, strlen(p)))
			return reply_error(r, PT_ENOTFOUND, NULL,
					   "not found: no folder '%s'", p);
		snprintf(f.parent, sizeof(f.parent), "%s", p);
	}
	f.shared = json_is_true(shared);
	struct db *db = app_db(app);
	if (!db)
		return reply_error(r, PT_EUNAVAIL, NULL,
				   "service unavailable: metadata store "
				   "unreachable, try again");
	for (int tries = 0; tries < 4; tries++) {
		id_new(f.id);
		err = repo_folder_create(db, &f);
		if (err != PT_ECONFLICT || !*f.parent)
			break;
	}
	if (err == PT_ENOTFOUND)
		return reply_error(r, err, NULL, "not found: no folder '%s'",
				   f.parent);
	if (err == PT_ECONFLICT)
		return reply_error(r, err, NULL,
				   "conflict: folders nest at most 64 deep");
	if (err)
		return reply_error(r, err, NULL, "cannot create the folder: %s",
				   pt_strerror(err));
	req_reply_header(r, "Location", folder_url(app, r->pool, &f, false));
	return reply_json(r, 201, folder_json(app, r->pool, &f));
}

req_res api_folders_create(struct pt_req *r)
{
	return api_json_body(r, create_done);
}

struct folder_list {
	struct app *app;
	struct pt_pool *pool;
	json_t *arr;
};

static int list_cb(const struct folder *f, void *arg)
{
	struct folder_list *fl = arg;
	if (json_array_size(fl->arr) >= FOLDERS_MAX_LIST)
		return 1;
	json_array_append_new(fl->arr, folder_json(fl->app, fl->pool, f));
	return 0;
}

req_res api_folders_list(struct pt_req *r)
{
	struct app *app = r->ctx;
	struct db *db = app_db(app);
	const char *parent = req_query(r, "parent");
	struct folder_list fl = { app, r->pool, json_array() };
	int err = db ? repo_folders_list(db, r->pool, api_who(r)->user_id,
					 parent, list_cb, &fl)
		     : PT_EUNAVAIL;
	if (err) {
		json_decref(fl.arr);
		return reply_error(r, err, NULL, "cannot list folders: %s",
				   pt_strerror(err));
	}
	return reply_json(r, 200, json_pack("{s:o}", "folders", fl.arr));
}

static int files_cb(const struct link *l, void *arg)
{
	struct folder_list *fl = arg;
	const char *reason;
	if (link_effective_state(l, pt_now(), &reason) == LINK_LIVE)
		json_array_append_new(fl->arr, api_file_json(fl->app, l));
	return 0;
}

/* The zip's plan: entries, CRCs when with_crc (computed and kept when
 * unknown), the layout.  false, or true with an error reply's result in *rc. */
static bool zip_prepare_or_reply(struct pt_req *r, const struct folder *f,
				 bool with_crc, struct tree *t,
				 struct zip_plan *plan, req_res *rc)
{
	struct app *app = r->ctx;
	struct db *db = app_db(app);
	int err;

	t->pool = r->pool;
	err = db ? tree_build(db, f, t) : PT_EUNAVAIL;
	if (err == PT_EFORBIDDEN) {
		*rc = reply_error(r, err, NULL,
				  "forbidden: folder '%s' holds more than %d "
				  "entries: download the folders inside it "
				  "one by one",
				  f->id, ZIP_MAX_ENTRIES);
		return true;
	}
	if (err) {
		*rc = reply_error(r, err, NULL, "cannot list folder '%s': %s",
				  f->id, pt_strerror(err));
		return true;
	}
	struct zip_entry *e = pt_palloc(r->pool, t->n * sizeof(*e));
	for (size_t i = 0; i < t->n; i++) {
		struct link *l = t->items[i].link;
		e[i] = (struct zip_entry){ t->items[i].path, l ? l->size : 0, 0,
					   t->items[i].mtime };
		if (!l || !with_crc || !l->size)
			continue;
		int64_t crc = -1;
		uint32_t c;
		err = repo_blob_crc(db, l->sha256, &crc);
		if (!err && crc < 0) {
			/* stored before zips: read it once, keep the answer */
			if (!(err = blob_crc32(app->blobs, l->sha256, &c))) {
				crc = c;
				repo_blob_set_crc(db, l->sha256, c);
			}
		}
		if (err) {
			pt_log("zip: no CRC-32 for blob %s of link %s: %s",
			       l->sha256, l->id, pt_strerror(err));
			*rc = reply_error(r, err == PT_EUNAVAIL ? err
								: PT_EINTERNAL,
					  NULL,
					  "internal error: the stored bytes of "
					  "'%s' are unavailable",
					  l->id);
			return true;
		}
		e[i].crc32 = (uint32_t)crc;
	}
	if (zip_plan(r->pool, e, t->n, false, plan)) {
		*rc = reply_error(r, PT_EINTERNAL, NULL,
				  "internal error: cannot lay out the zip of "
				  "'%s'",
				  f->id);
		return true;
	}
	return false;
}

req_res api_folder_get(struct pt_req *r)
{
	struct app *app = r->ctx;
	struct folder f;
	struct tree t = { 0 };
	struct zip_plan plan;
	req_res rc;

	if (folder_lookup_or_reply(r, r->arg[0].p, false, &f, &rc))
		return rc;
	struct db *db = app_db(app);
	struct folder_list subs = { app, r->pool, json_array() };
	struct folder_list files = { app, r->pool, json_array() };
	int err = repo_folders_list(db, r->pool, f.owner, f.id, list_cb, &subs);
	if (!err)
		err = repo_folder_links(db, r->pool, f.id, files_cb, &files);
	if (err) {
		json_decref(subs.arr);
		json_decref(files.arr);
		return reply_error(r, err, NULL, "cannot list folder '%s': %s",
				   f.id, pt_strerror(err));
	}
	json_t *o = folder_json(app, r->pool, &f);
	json_object_set_new(o, "folders", subs.arr);
	json_object_set_new(o, "files", files.arr);
	/* the zip's size does not depend on the CRCs: no bytes are read */
	if (zip_prepare_or_reply(r, &f, false, &t, &plan, &rc) == 0) {
		size_t nfiles = 0;
		for (size_t i = 0; i < t.n; i++)
			nfiles += t.items[i].link != NULL;
		json_object_set_new(
			o, "zip",
			json_pack("{s:I, s:I, s:I, s:I}", "size",
				  (json_int_t)plan.total, "files",
				  (json_int_t)nfiles, "bytes",
				  (json_int_t)t.bytes, "left_out",
				  (json_int_t)t.skipped));
	} else {
		json_decref(o);
		return rc;
	}
	return reply_json(r, 200, o);
}

static req_res patch_done(struct pt_req *r, json_t *o)
{
	struct app *app = r->ctx;
	struct folder f;
	req_res rc;
	int err;
	json_t *name = o ? json_object_get(o, "name") : NULL;
	json_t *parent = o ? json_object_get(o, "parent") : NULL;
	json_t *shared = o ? json_object_get(o, "shared") : NULL;

	if (!o || (name && (!json_is_string(name) ||
			    !*json_string_value(name))) ||
	    (parent && !json_is_null(parent) && !json_is_string(parent)) ||
	    (shared && !json_is_boolean(shared)) ||
	    (!name && !parent && !shared))
		return reply_error(r, PT_EBADREQ, NULL,
				   "bad request: send any of {\"name\": \"…\", "
				   "\"parent\": \"FOLDER_ID\" or null, "
				   "\"shared\": true|false}");
	if (folder_lookup_or_reply(r, r->arg[0].p, true, &f, &rc))
		return rc;
	const char *nm = name ? clean_name(r, json_string_value(name)) : NULL;
	const char *par = !parent ? NULL
			  : json_is_null(parent) ? ""
						 : json_string_value(parent);
	if (par && *par && !id_valid(par, strlen(par)))
		return reply_error(r, PT_ENOTFOUND, NULL,
				   "not found: no folder '%s'", par);
	err = repo_folder_update(app_db(app), f.id, f.owner, nm, par,
				 shared ? json_is_true(shared) : -1);
	if (err == PT_ENOTFOUND)
		return reply_error(r, err, NULL, "not found: no folder '%s'",
				   par && *par ? par : f.id);
	if (err == PT_ECONFLICT)
		return reply_error(r, err, NULL,
				   "conflict: a folder cannot move into itself "
				   "or a folder inside it");
	if (err)
		return reply_error(r, err, NULL, "cannot change folder '%s': %s",
				   f.id, pt_strerror(err));
	if ((err = repo_folder_get(app_db(app), r->pool, f.id, &f)))
		return reply_error(r, err, NULL, "cannot read folder '%s': %s",
				   r->arg[0].p, pt_strerror(err));
	return reply_json(r, 200, folder_json(app, r->pool, &f));
}

req_res api_folder_patch(struct pt_req *r)
{
	return api_json_body(r, patch_done);
}

req_res api_folder_delete(struct pt_req *r)
{
	struct app *app = r->ctx;
	struct folder f;
	req_res rc;
	int64_t n = 0;
	const char *rec = req_query(r, "recursive");
	bool recursive = rec && (strcmp(rec, "1") == 0 ||
				 strcmp(rec, "true") == 0);

	if (folder_lookup_or_reply(r, r->arg[0].p, true, &f, &rc))
		return rc;
	int err = repo_folder_delete(app_db(app), f.id, recursive, pt_now(),
				     &n);
	if (err == PT_ECONFLICT)
		return reply_error(r, err, NULL,
				   "conflict: folder '%s' is not empty: delete "
				   "with ?recursive=1 to delete what it holds",
				   f.id);
	if (err)
		return reply_error(r, err, NULL, "cannot delete folder '%s': %s",
				   f.id, pt_strerror(err));
	if (n)
		pt_log("folder %s deleted with %lld links", f.id, (long long)n);
	return reply_empty(r, 204);
}

/* ---- the zip ---- */

#define ZIP_BLOCK (256 * 1024)

struct zipstream {
	struct blob_store *blobs;
	const struct zip_plan *plan; /* request pool: used only while the */
	const struct item *items;    /* request lives, never in zip_free */
	uint64_t first, len;         /* the archive bytes this response has */
	size_t hint;
	struct blob_reader *rd;
	size_t rd_entry;
	struct speed_cap cap;
};

static ssize_t zip_cb(void *cls, uint64_t pos, char *buf, size_t max)
{
	struct zipstream *s = cls;
	if (pos >= s->len)
		return RESP_PULL_END;
	ssize_t k = speed_cap_take(&s->cap, s->len - pos, max);
	if (k <= 0)
		return k ? RESP_PULL_ERROR : 0;
	uint64_t at = s->first + pos;
	size_t i = zip_piece_at(s->plan, at, s->hint);
	const struct zip_piece *p = &s->plan->pieces[i];
	uint64_t in = at - p->at, left = p->len - in;
	if (left > s->len - pos)
		left = s->len - pos;
	size_t n = left < (uint64_t)k ? (size_t)left : (size_t)k;
	s->hint = i;
	if (p->text) {
		memcpy(buf, p->text + in, n);
		return (ssize_t)n;
	}
	const struct link *l = s->items[p->entry].link;
	if (!s->rd || s->rd_entry != p->entry) {
		blob_reader_close(s->rd);
		s->rd = NULL;
		int err = blob_reader_open(s->blobs, l->sha256, &s->rd);
		if (!err && blob_reader_size(s->rd) != l->size)
			err = PT_ECORRUPT;
		if (err) {
			/* the length is promised: cut the response, never pad */
			pt_log("zip: blob %s of link %s: %s", l->sha256, l->id,
			       pt_strerror(err));
			return RESP_PULL_ERROR;
		}
		s->rd_entry = p->entry;
	}
	ssize_t got = blob_reader_pread(s->rd, buf, n, in);
	return got > 0 ? got : RESP_PULL_ERROR;
}

static void zip_free(void *cls)
{
	struct zipstream *s = cls;
	speed_cap_end(&s->cap);
	blob_reader_close(s->rd);
	free(s);
}

/* What a zip download holds until its response is over. */
struct zipheld {
	uint64_t slot; /* slots.h token */
	int64_t cooldown;
	bool count;
	const char *id;
	uint64_t first, last; /* archive bytes the response carries */
	const struct zip_plan *plan;
	const struct item *items;
};

/* Release the slot; a finished response delivered its bytes: every file
 * whose data it covered counts toward that file's downloads. */
static void zip_complete(struct pt_req *r, bool ok)
{
	struct zipheld *h = r->state;
	int64_t now = pt_now();

	api_download_unhold(r, &h->slot);
	if (h->count)
		api_download_ended(r, h->id, h->cooldown);
	if (!ok || !h->count)
		return;
	for (size_t i = 0; i < h->plan->npieces; i++) {
		const struct zip_piece *p = &h->plan->pieces[i];
		if (p->text || p->at > h->last || p->at + p->len <= h->first)
			continue;
		const struct link *l = h->items[p->entry].link;
		uint64_t a = h->first > p->at ? h->first - p->at : 0;
		uint64_t b = h->last < p->at + p->len - 1 ? h->last - p->at
							   : p->len - 1;
		api_download_cover(r, l->id, l->size, a, b, now);
	}
}

static req_res zip_serve(struct pt_req *r, const struct folder *f)
{
	struct app *app = r->ctx;
	struct tree t = { 0 };
	struct zip_plan plan;
	struct download_rules rules;
	struct range_set rs;
	enum range_result rr;
	char etag[80], lastmod[32];
	req_res rc;

	struct zipheld *h = pt_palloc(r->pool, sizeof(*h));
	r->state = h;
	r->on_complete = zip_complete;
	/* HEAD too: its ETag is the GET's, and that covers the CRCs */
	if (zip_prepare_or_reply(r, f, true, &t, &plan, &rc))
		return rc;
	policy_download(app->conf, api_who(r), &rules);
	struct download_pass pass;
	bool gated = api_download_gate_or_reply(r, "folders", f->id, plan.total,
						&rules, &pass, &rc);
	h->slot = pass.slot;
	h->cooldown = pass.cooldown;
	h->id = pt_pstrndup(r->pool, f->id, strlen(f->id));
	if (gated)
		return rc;

	/* a strong validator: the central directory names every path, size,
	 * CRC, time and offset; the blobs' hashes pin the bytes */
	unsigned char md[crypto_hash_sha256_BYTES];
	char hex[2 * sizeof(md) + 1];
	crypto_hash_sha256_state hs;
	int64_t newest = f->created;
	crypto_hash_sha256_init(&hs);
	const struct zip_piece *cd = &plan.pieces[plan.npieces - 1];
	crypto_hash_sha256_update(&hs, (const unsigned char *)cd->text, cd->len);
	for (size_t i = 0; i < t.n; i++) {
		if (t.items[i].link)
			crypto_hash_sha256_update(
				&hs,
				(const unsigned char *)t.items[i].link->sha256,
				BLOB_HEX_LEN);
		if (t.items[i].mtime > newest)
			newest = t.items[i].mtime;
	}
	crypto_hash_sha256_final(&hs, md);
	sodium_bin2hex(hex, sizeof(hex), md, sizeof(md));
	snprintf(etag, sizeof(etag), "\"zip-%.40s\"", hex);
	pt_http_date(newest, lastmod);

	const char *range_hdr;
	if (api_validate_or_reply(r, etag, newest, lastmod, plan.total, &rs,
				  &rr, &range_hdr, &rc)) {
		/* 304, 412, 416: no bytes, so no slot held until the engine reports
		 * the answer complete */
		api_download_unhold(r, &h->slot);
		return rc;
	}
	/* several ranges of a zip: the whole archive instead (RFC 9110
	 * §14.2 lets a server ignore Range); download managers ask one */
	if (rr == RANGE_OK && rs.n > 1)
		rr = RANGE_IGNORE;

	struct zipstream *s = xcalloc(1, sizeof(*s));
	s->blobs = app->blobs;
	s->items = t.items;
	s->first = rr == RANGE_OK ? rs.r[0].first : 0;
	s->len = rr == RANGE_OK ? rs.r[0].last - rs.r[0].first + 1 : plan.total;
	/* the plan must outlive this frame: it lives in the request pool */
	struct zip_plan *kept = pt_palloc(r->pool, sizeof(*kept));
	*kept = plan;
	s->plan = kept;
	speed_cap_init(&s->cap, r->method == HTTP_GET ? rules.speed : 0,
		       pass.not_before, r, app->throttle);
	h->count = r->method == HTTP_GET && s->len > 0;
	h->first = s->first;
	h->last = s->first + s->len - 1;
	h->plan = kept;
	h->items = t.items;

	struct resp *resp = resp_stream(s->len, ZIP_BLOCK, zip_cb, s, zip_free);
	int status = 200;
	if (rr == RANGE_OK) {
		char cr206[80];
		snprintf(cr206, sizeof(cr206),
			 "bytes %" PRIu64 "-%" PRIu64 "/%" PRIu64, h->first,
			 h->last, plan.total);
		resp_header(resp, "Content-Range", cr206);
		status = 206;
	}
	struct pt_buf b;
	pt_buf_init(&b, 8192);
	disp_build(&b, pt_psprintf(r->pool, "%s.zip", f->name), true);
	resp_header(resp, "Content-Disposition", b.p);
	pt_buf_release(&b);
	resp_header(resp, "Content-Type", "application/zip");
	api_add_validators(resp, etag, lastmod);
	resp_header(resp, "X-Content-Type-Options", "nosniff");
	r->bytes_out = r->method == HTTP_HEAD ? 0 : s->len;
	return reply_queue(r, status, resp);
}

req_res api_folder_zip(struct pt_req *r)
{
	struct folder f;
	req_res rc;
	if (folder_lookup_or_reply(r, r->arg[0].p, false, &f, &rc))
		return rc;
	return zip_serve(r, &f);
}

req_res api_folder_ticket(struct pt_req *r)
{
	struct app *app = r->ctx;
	struct folder f;
	req_res rc;
	if (folder_lookup_or_reply(r, r->arg[0].p, false, &f, &rc))
		return rc;
	return api_ticket_reply(r, f.id, f.name,
				folder_url(app, r->pool, &f, true));
}

struct collect {
	struct pt_pool *pool;
	void *arr;
	size_t n, cap, size;
};

static void *collect_slot(struct collect *c)
{
	if (c->n == c->cap) {
		size_t nc = c->cap ? 2 * c->cap : 16;
		void *na = pt_palloc(c->pool, nc * c->size);
		if (c->n)
			memcpy(na, c->arr, c->n * c->size);
		c->arr = na;
		c->cap = nc;
	}
	return (char *)c->arr + c->n++ * c->size;
}

static int collect_folder(const struct folder *f, void *arg)
{
	*(struct folder *)collect_slot(arg) = *f;
	return 0;
}

static int collect_link(const struct link *l, void *arg)
{
	const char *reason;
	if (link_effective_state(l, pt_now(), &reason) == LINK_LIVE)
		*(struct link *)collect_slot(arg) = *l;
	return 0;
}

static req_res folder_page(struct pt_req *r, const struct folder *f)
{
	struct app *app = r->ctx;
	struct db *db = app_db(app);
	struct collect subs = { r->pool, NULL, 0, 0, sizeof(struct folder) };
	struct collect files = { r->pool, NULL, 0, 0, sizeof(struct link) };
	struct tree t = { 0 };
	struct zip_plan plan;
	req_res rc;
	int err = repo_folders_list(db, r->pool, f->owner, f->id,
				    collect_folder, &subs);
	if (!err)
		err = repo_folder_links(db, r->pool, f->id, collect_link, &files);
	if (err)
		return reply_error(r, err, NULL, "cannot list folder '%s': %s",
				   f->id, pt_strerror(err));
	if (zip_prepare_or_reply(r, f, false, &t, &plan, &rc))
		return rc;
	size_t nfiles = 0;
	for (size_t i = 0; i < t.n; i++)
		nfiles += t.items[i].link != NULL;
	struct folder_view v = {
		.f = f,
		.subs = subs.arr,
		.nsubs = subs.n,
		.files = files.arr,
		.nfiles = files.n,
		.zip_size = plan.total,
		.zip_files = nfiles,
		.left_out = t.skipped,
		.zip_url = folder_url(app, r->pool, f, true),
	};
	return api_folder_html(r, &v);
}

/* GET /folder/{id}: the page for browsers, the zip for curl and wget. */
req_res api_folder_page(struct pt_req *r)
{
	struct folder f;
	req_res rc;
	req_reply_header(r, "Vary", "Accept");
	if (folder_lookup_or_reply(r, r->arg[0].p, false, &f, &rc))
		return rc;
	if (!req_accepts(r, "text/html"))
		return zip_serve(r, &f);
	return folder_page(r, &f);
}

bool api_upload_folder_or_reply(struct pt_req *r, const char *value,
				char out[ID_LEN + 1], req_res *rc)
{
	struct app *app = r->ctx;
	const struct principal *who = api_who(r);
	struct folder f;

	out[0] = '\0';
	if (!value)
		value = req_header(r, "X-Partage-Folder");
	if (!value)
		value = req_query(r, "folder");
	if (!value || !*value)
		return false;
	if (!who->user_id) {
		*rc = reply_error(r, PT_EUNAUTH, NULL,
				  "authentication required: log in to upload "
				  "into a folder");
		return true;
	}
	struct db *db = app_db(app);
	int err = !id_valid(value, strlen(value)) ? PT_ENOTFOUND
		  : db ? repo_folder_get(db, r->pool, value, &f)
		       : PT_EUNAVAIL;
	if (!err && f.owner != who->user_id)
		err = PT_ENOTFOUND;
	if (err == PT_ENOTFOUND) {
		*rc = reply_error(r, err, NULL,
				  "not found: no folder '%s' of yours", value);
		return true;
	}
	if (err) {
		*rc = reply_error(r, err, NULL, "cannot look up folder: %s",
				  pt_strerror(err));
		return true;
	}
	memcpy(out, f.id, ID_LEN + 1);
	return false;
}
