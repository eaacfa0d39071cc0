/*
 * tus_complete.c — the end of a tus upload: when its last byte is in
 * (or at once, for an empty or a final upload), the partial is committed
 * as a blob exactly like a PUT (content-addressed, deduplicated, refused
 * whole when blocked) and the link row, with the name, type, expiry,
 * download limit, password and folder the creation's metadata asked for,
 * is created in the transaction that closes the upload
 * (repo_upload_complete).  Also the metadata values creation checks.
 */
#include "tus_int.h"

#include <string.h>
#include <sys/types.h>

#include "../http/disposition.h"
#include "../util/banned.h"

static const char *meta_name(struct pt_req *r, const struct tus_meta *m)
{
	size_t n;
	const char *v = tus_metadata_get(m, "filename", &n);
	if (!v)
		v = tus_metadata_get(m, "name", &n);
	if (!v)
		return "file";
	char *clean = pt_palloc(r->pool, 256);
	disp_sanitize_name(v, n, clean, 256);
	return clean;
}

/* The "folder" metadata value ("" when absent or not an id). */
const char *tus_meta_folder(struct pt_req *r, const struct tus_meta *m)
{
	size_t n;
	const char *v = m ? tus_metadata_get(m, "folder", &n) : NULL;
	return v && id_valid(v, n) ? pt_pstrndup(r->pool, v, n)
		   : v && n ? "?" /* present but not an id: 404 */
			    : "";
}

/* Metadata "max_days" / "max_downloads" (the Max-Days and Max-Downloads
 * of a PUT): absent → 0, else a decimal whole number 1..10^9 (PT_EBADREQ
 * otherwise). */
int tus_meta_count(const struct tus_meta *m, const char *key, int64_t *out)
{
	size_t n;
	const char *v = m ? tus_metadata_get(m, key, &n) : NULL;
	uint64_t k;

	*out = 0;
	if (!v)
		return 0;
	if (pt_parse_u64(v, n, &k) || k == 0 || k > 1000000000)
		return PT_EBADREQ;
	*out = (int64_t)k;
	return 0;
}

/* A client-given type is used when it has the shape of one
 * (type/subtype, token characters only); else libmagic decides. */
static const char *meta_type(const struct tus_meta *m)
{
	size_t n;
	const char *v = tus_metadata_get(m, "filetype", &n);
	if (!v)
		v = tus_metadata_get(m, "type", &n);
	if (!v || n == 0 || n > 127 || strlen(v) != n)
		return NULL;
	int slashes = 0;
	for (size_t i = 0; i < n; i++) {
		char c = v[i];
		if (c == '/')
			slashes++;
		else if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
			   (c >= '0' && c <= '9') || strchr("!#$&^_.+-", c)))
			return NULL;
	}
	return slashes == 1 && v[0] != '/' && v[n - 1] != '/' ? v : NULL;
}

struct ensure_partial {
	struct blob_store *blobs;
	const char *uid, *hex;
};

/* The gc protocol (blob.h): with the blob row locked, make sure the bytes
 * are there; the partial still exists, so linking it again restores them. */
static int ensure_partial_cb(void *arg)
{
	struct ensure_partial *ep = arg;
	uint64_t size;
	if (blob_stat(ep->blobs, ep->hex, &size) == 0)
		return 0;
	return blob_partial_relink(ep->blobs, ep->uid, ep->hex);
}

/* Blocked content is refused whole, nothing kept (quarantined bytes
 * stay): PT_ELEGAL. */
static int refuse_blocked(struct pt_req *r, const struct upload_row *u,
			  const char *hex, bool existed)
{
	struct app *app = r->ctx;
	struct db *db = app_db(app);
	char *why = "";
	if (!existed)
		blob_remove(app->blobs, hex);
	blob_partial_remove(app->blobs, u->uid);
	if (db) {
		repo_blocked(db, hex, r->pool, &why);
		repo_upload_set_state(db, u->uid, UPLOAD_TERMINATED);
		repo_audit(db, r->client_ip, "refuse_upload", hex, why, u->uid,
			   pt_now());
	}
	return PT_ELEGAL;
}

int tus_complete(struct pt_req *r, const struct upload_row *u,
		 const struct runhash *known, struct link *l)
{
	struct app *app = r->ctx;
	struct db *db = app_db(app);
	struct tus_meta meta;
	bool existed;
	int err;

	if (!db)
		return PT_EUNAVAIL;
	memset(l, 0, sizeof(*l));
	if ((err = blob_partial_commit(app->blobs, u->uid, (uint64_t)u->length,
				       known, l->sha256, &existed, &l->crc32)))
		return err;
	if (repo_blocked(db, l->sha256, r->pool, NULL))
		return refuse_blocked(r, u, l->sha256, existed);
	if (tus_metadata_parse(r->pool, u->metadata, &meta))
		meta.n = 0; /* validated at creation; be safe */
	l->name = (char *)meta_name(r, &meta);
	const char *type = meta_type(&meta);
	if (type) {
		l->mime = pt_pstrdup(r->pool, type);
	} else {
		unsigned char head[16384];
		ssize_t k = 0;
		struct blob_reader *rd;
		if (!blob_reader_open(app->blobs, l->sha256, &rd)) {
			k = blob_reader_pread(rd, head, sizeof(head), 0);
			blob_reader_close(rd);
		}
		l->mime = api_sniff_mime(r->pool, head, k > 0 ? (size_t)k : 0);
	}
	l->size = (uint64_t)u->length;
	l->has_crc = true;
	l->created = pt_now();
	/* checked at creation */
	int64_t days, downloads;
	if (tus_meta_count(&meta, "max_days", &days))
		days = 0;
	if (tus_meta_count(&meta, "max_downloads", &downloads))
		downloads = 0;
	l->expires = days ? l->created + days * 86400 : 0;
	l->max_downloads = downloads;
	l->owner = u->owner;
	l->reason = "";
	if (u->password_hash && *u->password_hash)
		l->password_hash = u->password_hash;
	/* the folder checked at creation, if it is still the owner's */
	const char *fid = tus_meta_folder(r, &meta);
	struct folder f;
	if (*fid && u->owner && !repo_folder_get(db, r->pool, fid, &f) &&
	    f.owner == u->owner)
		memcpy(l->folder_id, f.id, sizeof(l->folder_id));
	if (u->owner) {
		struct user ou;
		if (!repo_user_by_id(db, r->pool, u->owner, &ou)) {
			struct principal op = {
				.user_id = ou.id,
				.tier = policy_user_tier(ou.tier,
							 ou.premium_until,
							 pt_now()),
			};
			l->quota_bytes =
				policy_tier(app->conf, &op)->storage_quota_bytes;
		}
	}
	memcpy(l->delete_hash, u->delete_hash, sizeof(l->delete_hash));
	for (int tries = 0; tries < 4; tries++) {
		id_new(l->id);
		struct ensure_partial ep = { app->blobs, u->uid, l->sha256 };
		err = repo_upload_complete(db, u->uid, l, ensure_partial_cb,
					   &ep);
		if (err != PT_ECONFLICT || repo_link_get(db, r->pool, l->id,
							 &(struct link){ 0 }))
			break;
	}
	if (err == PT_ELEGAL) /* taken down while it was being stored */
		return refuse_blocked(r, u, l->sha256, existed);
	if (err)
		return err;
	/* recorded: the partial copy can go */
	blob_partial_remove(app->blobs, u->uid);
	app_uploaded(app, db, l, existed);
	return 0;
}

void tus_completed_headers(struct pt_req *r, const char *id)
{
	struct app *app = r->ctx;
	if (api_request_link_hidden(r, id)) /* a file request's uploader */
		return;
	req_reply_header(r, "X-Partage-Id", id);
	req_reply_header(r, "X-Partage-Url",
			 pt_psprintf(r->pool, "%s/%s", app->public_url, id));
}
