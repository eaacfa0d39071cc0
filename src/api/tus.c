/*
 * tus.c — resumable uploads: the tus 1.0.0 protocol at /api/v1/uploads
 * with the extensions creation, creation-with-upload, creation-defer-length,
 * expiration, checksum, checksum-trailer, termination and concatenation.
 *
 * State lives where any node can find it: a row per upload in the
 * metadata store (length, durable offset, metadata, expiry, lease) and the
 * bytes in the blob store's partial area.  The offset in the row is
 * durable: bytes are synced before the row says they exist, so HEAD never
 * reports bytes that a crash could take back.  A PATCH holds a lease on
 * the row while it writes, so two requests (on one node or two) never
 * append to the same upload at once.  When the last byte is in, the
 * partial is hashed and committed exactly like a PUT (content-addressed,
 * deduplicated) and the link row is created in the same transaction that
 * closes the upload.
 *
 * Every upload is held to its owner's limit (policy_upload_limit: the
 * tier's size limit under storage.max_file_bytes, and the quota left):
 * at creation, when a deferred length is set, and byte by byte as a
 * PATCH grows it.  A final upload (concatenation) is the one request
 * whose work is not paid for by its own bytes, so what it may do is
 * bounded by the bytes clients sent: see "concatenation" below.
 */
#define _GNU_SOURCE
#include "api.h"

#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "../core/ids.h"
#include "../core/tusparse.h"
#include "../http/disposition.h"
#include "../http/reply.h"
#include "../store/reserve.h"
#include "../util/buf.h"
#include "../util/banned.h"

#define TUS_VERSION "1.0.0"
#define TUS_EXTENSIONS                                                    \
	"creation,creation-with-upload,creation-defer-length,expiration,"  \
	"checksum,checksum-trailer,termination,concatenation"
#define TUS_CHECKSUMS "sha1,sha256,md5"
#define OCTET "application/offset+octet-stream"
/* While one PATCH streams, record the durable offset this often, so a
 * dropped 1 GiB PATCH resumes near where it broke. */
#define CHECKPOINT_BYTES (64u << 20)

struct patch {
	struct app *app;
	struct upload_row u;
	struct blob_partial *part;
	int64_t start;         /* offset at the start of this request */
	EVP_MD_CTX *md;        /* Upload-Checksum of this body, if any */
	unsigned char want[64];
	size_t want_len;
	bool trailer;          /* checksum announced as a trailer */
	EVP_MD_CTX *tmd[3];    /* trailer: sha1, sha256, md5 in parallel */
	uint64_t checkpoint;
	int64_t renewed;       /* when the lease was last extended */
	bool creating;         /* creation-with-upload: reply 201 */
	char *location;
	char token[TOKEN_LEN + 1];
	int err;
	bool done;             /* on_end ran: cleanup has nothing to save */
	bool released;         /* a failed body gave its lease back */
	struct writer *w;      /* this node's record of the PATCH */
	uint64_t limit;        /* the owner's upload limit (owner_limit) */
	bool by_quota;         /* ...set by the quota: refuse with 507 */
};

static const char *const trailer_algos[3] = { "sha1", "sha256", "md5" };

static const EVP_MD *md_by_name(const char *algo)
{
	if (strcmp(algo, "sha1") == 0)
		return EVP_sha1();
	if (strcmp(algo, "sha256") == 0)
		return EVP_sha256();
	if (strcmp(algo, "md5") == 0)
		return EVP_md5();
	return NULL;
}

/* ---- headers on every tus reply ---- */

static void cors(struct pt_req *r)
{
	struct app *app = r->ctx;
	const char *origin = req_header(r, "Origin");
	const char *allowed = app->conf->cors_origins;

	if (!origin || !allowed || !*allowed)
		return;
	if (strcmp(allowed, "*") != 0) {
		/* a space-separated list: exact match of the origin */
		size_t n = strlen(origin);
		const char *p = allowed;
		bool ok = false;
		while (*p && !ok) {
			while (*p == ' ')
				p++;
			const char *e = p;
			while (*e && *e != ' ')
				e++;
			ok = (size_t)(e - p) == n && memcmp(p, origin, n) == 0;
			p = e;
		}
		if (!ok)
			return;
	}
	req_reply_header(r, "Access-Control-Allow-Origin", origin);
	req_reply_header(r, "Vary", "Origin");
	req_reply_header(
		r, "Access-Control-Expose-Headers",
		"Location, Upload-Offset, Upload-Length, Upload-Metadata, "
		"Upload-Defer-Length, Upload-Concat, Upload-Expires, "
		"Tus-Version, Tus-Resumable, Tus-Extension, Tus-Max-Size, "
		"Tus-Checksum-Algorithm, X-Partage-Id, X-Partage-Url, "
		"X-Delete-Token");
}

/* The size limit advertised as Tus-Max-Size: the tier's under
 * storage.max_file_bytes, so there is always one. */
static uint64_t max_size(struct pt_req *r)
{
	struct app *app = r->ctx;
	return policy_max_size(app->conf, api_who(r));
}

/* The upload limit of u's owner (anonymous for 0) now, not of whoever
 * sends the PATCH: an upload keeps the limits of the one who made it. */
static uint64_t owner_limit(struct pt_req *r, const struct upload_row *u,
			    bool *by_quota)
{
	struct app *app = r->ctx;
	struct db *db = app_db(app);
	struct principal who = { .tier = PT_TIER_ANONYMOUS };
	struct user ou;
	int64_t used = 0;

	if (u->owner && db && !repo_user_by_id(db, r->pool, u->owner, &ou)) {
		who.user_id = ou.id;
		who.tier = policy_user_tier(ou.tier, ou.premium_until, pt_now());
		if (policy_tier(app->conf, &who)->storage_quota_bytes)
			used = repo_user_used_bytes(db, ou.id, pt_now());
	}
	return policy_upload_limit(app->conf, &who, used, by_quota);
}

/* Every request but OPTIONS must speak our version: 412 otherwise. */
static int version_ok(struct pt_req *r, int *rc)
{
	const char *v = req_header(r, "Tus-Resumable");
	cors(r);
	req_reply_header(r, "Tus-Resumable", TUS_VERSION);
	if (v && strcmp(v, TUS_VERSION) == 0)
		return 1;
	req_reply_header(r, "Tus-Version", TUS_VERSION);
	*rc = reply_error(r, PT_EPRECOND, NULL,
			  "precondition failed: Tus-Resumable must be %s",
			  TUS_VERSION);
	return 0;
}

static void header_u64(struct pt_req *r, const char *name, uint64_t v)
{
	char b[24];
	snprintf(b, sizeof(b), "%" PRIu64, v);
	req_reply_header(r, name, b);
}

static void header_expires(struct pt_req *r, const struct upload_row *u)
{
	char d[32];
	if (u->state != UPLOAD_OPEN)
		return;
	pt_http_date(u->expires, d);
	req_reply_header(r, "Upload-Expires", d);
}

static int header_number(struct pt_req *r, const char *name, int64_t *out)
{
	const char *v = req_header(r, name);
	uint64_t n;
	if (!v)
		return PT_ENOTFOUND;
	if (pt_parse_u64(v, strlen(v), &n) || n > (uint64_t)INT64_MAX)
		return PT_EBADREQ;
	*out = (int64_t)n;
	return 0;
}

static bool is_final(const struct upload_row *u)
{
	return strncmp(u->concat, "final", 5) == 0;
}

static bool is_partial(const struct upload_row *u)
{
	return strcmp(u->concat, "partial") == 0;
}

static char *upload_url(struct pt_req *r, const char *uid)
{
	struct app *app = r->ctx;
	return pt_psprintf(r->pool, "%s/api/v1/uploads/%s", app->public_url,
			   uid);
}

/* Find an upload and refuse what cannot be touched: 404 unknown, 410
 * terminated or expired.  Returns 0, or 1 with the reply's result in rc. */
static int lookup(struct pt_req *r, const char *uid, struct upload_row *u,
		  int *rc)
{
	struct app *app = r->ctx;
	struct db *db = app_db(app);
	int err;

	if (!db) {
		*rc = reply_error(r, PT_EUNAVAIL, NULL,
				  "service unavailable: metadata store "
				  "unreachable, try again");
		return 1;
	}
	err = strlen(uid) == UPLOAD_UID_LEN
		      ? repo_upload_get(db, r->pool, uid, u)
		      : PT_ENOTFOUND;
	if (err == PT_ENOTFOUND) {
		*rc = reply_error(r, PT_ENOTFOUND, NULL,
				  "not found: no upload '%s'", uid);
		return 1;
	}
	if (err) {
		*rc = reply_error(r, err, NULL, "cannot look up upload: %s",
				  pt_strerror(err));
		return 1;
	}
	if (u->state == UPLOAD_OPEN && u->expires <= pt_now() &&
	    u->lease <= pt_now()) {
		/* expired and nobody writing: free its bytes now rather than
		 * at the next gc pass */
		if (repo_upload_expire(db, u->uid, pt_now()) == 1) {
			struct app *a = r->ctx;
			blob_partial_remove(a->blobs, u->uid);
			u->state = UPLOAD_EXPIRED;
		}
	}
	if (u->state == UPLOAD_DONE && is_partial(u)) {
		/* consumed by the final upload that named it */
		*rc = reply_error(r, PT_EGONE, "consumed",
				  "gone: partial upload '%s' was used by a "
				  "final upload (a partial makes one final)",
				  uid);
		return 1;
	}
	if (u->state == UPLOAD_TERMINATED || u->state == UPLOAD_EXPIRED ||
	    (u->state == UPLOAD_OPEN && u->expires <= pt_now())) {
		const char *why = u->state == UPLOAD_TERMINATED ? "terminated"
								 : "expired";
		*rc = reply_error(r, PT_EGONE, why, "gone: upload '%s' was %s",
				  uid, why);
		return 1;
	}
	return 0;
}

/* Whether the request carries a body (chunked, or a Content-Length > 0). */
static bool has_body(struct pt_req *r)
{
	const char *cl = req_header(r, "Content-Length");
	return req_header(r, "Transfer-Encoding") || (cl && strcmp(cl, "0"));
}

/* ---- completion: the partial becomes a file ---- */

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

/* A client-given type is used when it has the shape of one
 * (type/subtype, token characters only); else libmagic decides. */
/* The "folder" metadata value ("" when absent or not an id). */
static const char *meta_folder(struct pt_req *r, const struct tus_meta *m)
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
static int meta_count(const struct tus_meta *m, const char *key,
		      int64_t *out)
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

static int complete(struct pt_req *r, const struct upload_row *u,
		    struct link *l)
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
				       l->sha256, &existed, &l->crc32)))
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
	if (meta_count(&meta, "max_days", &days))
		days = 0;
	if (meta_count(&meta, "max_downloads", &downloads))
		downloads = 0;
	l->expires = days ? l->created + days * 86400 : 0;
	l->max_downloads = downloads;
	l->owner = u->owner;
	l->reason = "";
	if (u->password_hash && *u->password_hash)
		l->password_hash = u->password_hash;
	/* the folder checked at creation, if it is still the owner's */
	const char *fid = meta_folder(r, &meta);
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
	metrics_add(app->metrics, M_UPLOADS, 1);
	metrics_add(app->metrics, M_UPLOAD_BYTES, l->size);
	if (existed)
		metrics_add(app->metrics, M_DEDUP_HITS, 1);
	return 0;
}

static void completed_headers(struct pt_req *r, const char *id)
{
	struct app *app = r->ctx;
	req_reply_header(r, "X-Partage-Id", id);
	req_reply_header(r, "X-Partage-Url",
			 pt_psprintf(r->pool, "%s/%s", app->public_url, id));
}

static int fail(struct pt_req *r, int err)
{
	switch (err) {
	case PT_ETOOBIG:
		return reply_error(r, err, NULL,
				   "payload too large: the upload would pass "
				   "its Upload-Length or the size limit");
	case PT_ENOSPACE:
		return reply_error(r, err, NULL,
				   "insufficient storage: the upload exceeds "
				   "your storage quota");
	case PT_ELEGAL:
		return reply_error(r, err, "removed",
				   "unavailable for legal reasons: this content "
				   "was removed and cannot be uploaded again");
	case PT_ECHECKSUM:
		return reply_error(r, err, NULL,
				   "checksum mismatch: the chunk was discarded, "
				   "the offset is unchanged");
	case -ENOSPC:
	case -EDQUOT:
		return reply_error(r, err, NULL,
				   "insufficient storage: the server is full");
	case PT_EUNAVAIL:
		return reply_error(r, err, NULL,
				   "service unavailable: metadata store "
				   "unreachable, try again");
	default:
		pt_log("tus: %s", pt_strerror(err));
		return reply_error(r, err > -4000 ? PT_EINTERNAL : err, NULL,
				   "cannot store the upload: %s",
				   pt_strerror(err));
	}
}

/* ---- this node's writers ----
 *
 * A client that vanishes in the middle of a body is noticed by the engine only
 * at the connection timeout, and until then its PATCH holds the lease.
 * tus clients resume within seconds (tus-js-client gives up after ~9 s),
 * so a new PATCH at the durable offset may take the upload over from a
 * writer on this node that has received nothing for TAKEOVER_IDLE_NS: the
 * old one is marked superseded under its own lock, stops at its next
 * chunk and leaves the upload alone when it ends.  Across nodes the lease
 * expiry is the only rule. */
#define TAKEOVER_IDLE_NS (2ull * 1000000000u)

struct writer {
	struct writer *next;
	pthread_mutex_t lock;  /* held while a chunk is written */
	char uid[UPLOAD_UID_LEN + 1];
	uint64_t progress_ns;
	bool superseded;
	bool pinned;           /* a final upload's copy: never taken over */
};

static pthread_mutex_t writers_lock = PTHREAD_MUTEX_INITIALIZER;
static struct writer *writers;

/* Register a writer of uid; *alone says whether it is this node's only
 * one.  Every PATCH registers before it claims the lease and leaves after
 * it released it, so a lease that this node holds while it has no other
 * writer of the upload belongs to a request that is over: one whose
 * release failed (the metadata store was unreachable then). */
static struct writer *writer_add(const char *uid, bool *alone)
{
	struct writer *w = xcalloc(1, sizeof(*w));
	pthread_mutex_init(&w->lock, NULL);
	memcpy(w->uid, uid, sizeof(w->uid));
	w->progress_ns = pt_mono_ns();
	*alone = true;
	pthread_mutex_lock(&writers_lock);
	for (struct writer *o = writers; o; o = o->next)
		if (strcmp(o->uid, uid) == 0)
			*alone = false;
	w->next = writers;
	writers = w;
	pthread_mutex_unlock(&writers_lock);
	return w;
}

static void writer_remove(struct writer *w)
{
	pthread_mutex_lock(&writers_lock);
	for (struct writer **p = &writers; *p; p = &(*p)->next) {
		if (*p == w) {
			*p = w->next;
			break;
		}
	}
	pthread_mutex_unlock(&writers_lock);
	pthread_mutex_destroy(&w->lock);
	free(w);
}

/* Mark this node's idle writers of uid superseded; true if one was. */
static bool writers_take_over(const char *uid)
{
	bool took = false;
	uint64_t now = pt_mono_ns();
	pthread_mutex_lock(&writers_lock);
	for (struct writer *w = writers; w; w = w->next) {
		if (strcmp(w->uid, uid) != 0 || w->superseded || w->pinned)
			continue;
		pthread_mutex_lock(&w->lock);
		if (now - w->progress_ns >= TAKEOVER_IDLE_NS) {
			w->superseded = true;
			took = true;
		}
		pthread_mutex_unlock(&w->lock);
	}
	pthread_mutex_unlock(&writers_lock);
	return took;
}

/* ---- PATCH body ---- */

/* A lease outlives an idle connection (the engine closes those after
 * timeout_seconds) and is renewed while bytes flow; a node that restarts
 * drops its own leases at once (app_open), so only another node's crash
 * makes an upload wait, for at most this long. */
static int64_t lease_seconds(struct app *app)
{
	return (int64_t)app->conf->timeout_seconds + 30;
}

/* The request ends without on_end (client gone, timeout): keep what is
 * stored and synced, unless a checksum was promised — then the chunk is
 * unverifiable and goes. */
static void patch_cleanup(void *arg)
{
	struct patch *p = arg;
	struct db *db = app_db(p->app);
	int64_t keep = p->start;

	bool superseded = p->w && p->w->superseded;
	if (p->part && !p->done && !superseded && !p->released) {
		if (!p->md && !p->trailer && !blob_partial_sync(p->part))
			keep = (int64_t)blob_partial_size(p->part);
		else
			blob_partial_truncate(p->part, (uint64_t)p->start);
		if (db)
			repo_upload_advance(db, p->u.uid, keep, true);
	}
	blob_partial_close(p->part);
	p->part = NULL;
	if (p->w) {
		writer_remove(p->w);
		p->w = NULL;
	}
	if (p->md)
		EVP_MD_CTX_free(p->md);
	for (int i = 0; i < 3; i++)
		if (p->tmd[i])
			EVP_MD_CTX_free(p->tmd[i]);
}

static int patch_write(struct pt_req *r, struct patch *p, const char *data,
		       size_t n, uint64_t size);

static int patch_body(struct pt_req *r, const char *data, size_t n)
{
	struct patch *p = r->state;
	uint64_t size = blob_partial_size(p->part);

	if (p->err)
		return 1;
	pthread_mutex_lock(&p->w->lock);
	if (p->w->superseded) {
		pthread_mutex_unlock(&p->w->lock);
		p->err = PT_ECONFLICT;
		reply_error(r, PT_ECONFLICT, NULL,
			    "conflict: another request took this upload over");
		return 1;
	}
	p->w->progress_ns = pt_mono_ns();
	int rc = patch_write(r, p, data, n, size);
	pthread_mutex_unlock(&p->w->lock);
	return rc;
}

static int patch_write(struct pt_req *r, struct patch *p, const char *data,
		       size_t n, uint64_t size)
{
	int err;
	if (p->u.length >= 0 && size + n > (uint64_t)p->u.length) {
		err = PT_ETOOBIG;
		goto fail;
	}
	/* a deferred length (or a quota that shrank) stops here, not at
	 * the disk's end */
	if (size + n > p->limit) {
		err = p->by_quota ? PT_ENOSPACE : PT_ETOOBIG;
		if (!p->by_quota)
			header_u64(r, "Tus-Max-Size", p->limit);
		goto fail;
	}
	if (p->md)
		EVP_DigestUpdate(p->md, data, n);
	for (int i = 0; i < 3; i++)
		if (p->tmd[i])
			EVP_DigestUpdate(p->tmd[i], data, n);
	if ((err = blob_partial_write(p->part, data, n)))
		goto fail;
	size += n;
	int64_t now = pt_now();
	if (now - p->renewed >= 10) {
		struct db *db = app_db(p->app);
		if (db && !repo_upload_renew(db, p->u.uid,
					     now + lease_seconds(p->app)))
			p->renewed = now;
	}
	/* a checkpoint makes progress durable mid-request (not with a
	 * checksum: those bytes are unverified until the end) */
	if (!p->md && !p->trailer && size - p->checkpoint >= CHECKPOINT_BYTES &&
	    (p->u.length < 0 || size < (uint64_t)p->u.length)) {
		struct db *db = app_db(p->app);
		if (!blob_partial_sync(p->part) && db &&
		    !repo_upload_advance(db, p->u.uid, (int64_t)size, false))
			p->checkpoint = size;
	}
	return 0;
fail:
	p->err = err;
	blob_partial_truncate(p->part, (uint64_t)p->start);
	/* the client has its answer now and may PATCH again at once, before
	 * this body ends: the lease goes with the bytes */
	struct db *db = app_db(p->app);
	if (db && !repo_upload_advance(db, p->u.uid, p->start, true))
		p->released = true;
	fail(r, err);
	return 1;
}

static int check_digest(struct pt_req *r, struct patch *p)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;

	if (p->trailer) {
		const char *t = req_trailer(r, "Upload-Checksum");
		char algo[16];
		if (!t)
			return PT_EBADREQ;
		if (tus_checksum_parse(t, algo, p->want, &p->want_len))
			return PT_EBADREQ;
		for (int i = 0; i < 3; i++) {
			if (strcmp(algo, trailer_algos[i]) != 0)
				continue;
			EVP_DigestFinal_ex(p->tmd[i], md, &mdlen);
			return mdlen == p->want_len &&
					       !memcmp(md, p->want, mdlen)
				       ? 0
				       : PT_ECHECKSUM;
		}
		return PT_EBADREQ;
	}
	EVP_DigestFinal_ex(p->md, md, &mdlen);
	return mdlen == p->want_len && !memcmp(md, p->want, mdlen)
		       ? 0
		       : PT_ECHECKSUM;
}

static int patch_end(struct pt_req *r)
{
	struct patch *p = r->state;
	struct app *app = r->ctx;
	struct db *db = app_db(app);
	int64_t size = (int64_t)blob_partial_size(p->part);
	int err;

	p->done = true;
	if (p->w && p->w->superseded)
		return p->err ? REQ_OK
			      : reply_error(r, PT_ECONFLICT, NULL,
					    "conflict: another request took "
					    "this upload over");
	if (p->err) {
		/* replied already; the bytes were cut back: free the lease
		 * unless that is done (another PATCH may hold it by now) */
		if (db && !p->released)
			repo_upload_advance(db, p->u.uid, p->start, true);
		return REQ_OK;
	}
	if (p->md || p->trailer) {
		err = check_digest(r, p);
		if (err) {
			blob_partial_truncate(p->part, (uint64_t)p->start);
			if (db)
				repo_upload_advance(db, p->u.uid, p->start, true);
			if (err == PT_EBADREQ)
				return reply_error(
					r, err, NULL,
					"bad request: Upload-Checksum trailer "
					"missing or of an unsupported algorithm");
			return fail(r, err);
		}
	}
	/* The last byte becomes durable with the link, in one transaction
	 * (repo_upload_complete): an offset that said "all there" before
	 * the link exists would tell a client whose final PATCH failed (a
	 * 503 in a database outage) that its upload is done, when no file
	 * will ever appear. */
	bool last = p->u.length == size && !is_partial(&p->u);
	if ((err = blob_partial_sync(p->part)) || !db ||
	    (!last && (err = repo_upload_advance(db, p->u.uid, size, true)))) {
		blob_partial_truncate(p->part, (uint64_t)p->start);
		if (db)
			repo_upload_advance(db, p->u.uid, p->start, true);
		return fail(r, err ? err : PT_EUNAVAIL);
	}
	blob_partial_close(p->part);
	p->part = NULL;
	p->u.received = size;
	header_u64(r, "Upload-Offset", (uint64_t)size);
	if (last) {
		struct link l;
		if ((err = complete(r, &p->u, &l))) {
			/* still open (not completed by another request, not
			 * refused): free the lease; the offset stays the
			 * durable one (the bytes past it are cut at the next
			 * PATCH) */
			if (err != PT_ECONFLICT && err != PT_ELEGAL)
				repo_upload_advance(db, p->u.uid,
						    (int64_t)p->checkpoint,
						    true);
			return fail(r, err);
		}
		completed_headers(r, l.id);
	} else {
		header_expires(r, &p->u);
	}
	if (p->creating) {
		req_reply_header(r, "Location", p->location);
		req_reply_header(r, "X-Delete-Token", p->token);
		return reply_empty(r, 201);
	}
	return reply_empty(r, 204);
}

/*
 * Start writing the body of a PATCH (or of a creation-with-upload POST)
 * at p->u.received.  Returns REQ_OK with the body callbacks installed, or
 * the result of an error reply.
 */
static int patch_begin(struct pt_req *r, struct patch *p)
{
	struct app *app = r->ctx;
	struct db *db = app_db(app);
	const char *ck = req_header(r, "Upload-Checksum");
	const char *trailer = req_header(r, "Trailer");
	const char *cl = req_header(r, "Content-Length");
	uint64_t len;
	int err;

	if (ck) {
		char algo[16];
		const EVP_MD *md;
		if (tus_checksum_parse(ck, algo, p->want, &p->want_len) ||
		    !(md = md_by_name(algo)))
			return reply_error(r, PT_EBADREQ, NULL,
					   "bad request: Upload-Checksum must "
					   "be '<%s> <base64>'",
					   TUS_CHECKSUMS);
		p->md = EVP_MD_CTX_new();
		EVP_DigestInit_ex(p->md, md, NULL);
	} else if (trailer && strcasestr(trailer, "Upload-Checksum")) {
		/* the algorithm comes at the end: hash with all three */
		p->trailer = true;
		for (int i = 0; i < 3; i++) {
			p->tmd[i] = EVP_MD_CTX_new();
			EVP_DigestInit_ex(p->tmd[i],
					  md_by_name(trailer_algos[i]), NULL);
		}
	}
	pt_pool_cleanup_add(r->pool, patch_cleanup, p);
	if (cl && !pt_parse_u64(cl, strlen(cl), &len) && p->u.length >= 0 &&
	    (uint64_t)p->u.received + len > (uint64_t)p->u.length)
		return fail(r, PT_ETOOBIG);
	p->limit = owner_limit(r, &p->u, &p->by_quota);
	if (cl && !pt_parse_u64(cl, strlen(cl), &len) &&
	    (len > p->limit ||
	     (uint64_t)p->u.received > p->limit - len)) {
		if (!p->by_quota)
			header_u64(r, "Tus-Max-Size", p->limit);
		return fail(r, p->by_quota ? PT_ENOSPACE : PT_ETOOBIG);
	}
	/* the stores, after the limits (413 is for good, 507 for now); a
	 * creation asked already */
	int rc;
	if (!p->creating && api_intake_check(r, &rc))
		return rc;
	bool alone;
	p->w = writer_add(p->u.uid, &alone);
	err = repo_upload_claim(db, p->u.uid, p->u.received, pt_now(),
				pt_now() + lease_seconds(app), app->node);
	/* held by this node: by a request that is over (alone), or by one
	 * that stalled (take over) — claim_from checks that we hold it */
	if (err == PT_ELIMIT && (alone || writers_take_over(p->u.uid)))
		err = repo_upload_claim_from(db, p->u.uid, p->u.received,
					     pt_now() + lease_seconds(app),
					     app->node);
	if (err) {
		writer_remove(p->w);
		p->w = NULL;
	}
	if (err == PT_ECONFLICT)
		return reply_error(r, PT_ECONFLICT, NULL,
				   "conflict: Upload-Offset is not the "
				   "upload's offset (HEAD it)");
	if (err == PT_ELIMIT)
		return reply_error(r, PT_ECONFLICT, NULL,
				   "conflict: another request is writing "
				   "this upload");
	if (err)
		return fail(r, err);
	p->start = p->u.received;
	p->checkpoint = (uint64_t)p->start;
	p->renewed = pt_now();
	err = blob_partial_open(app->blobs, p->u.uid, (uint64_t)p->start,
				&p->part);
	if (err) {
		repo_upload_advance(db, p->u.uid, p->start, true);
		return fail(r, err);
	}
	r->state = p;
	r->on_body = patch_body;
	r->on_end = patch_end;
	return REQ_OK;
}

/* ---- handlers ---- */

int api_tus_options(struct pt_req *r)
{
	cors(r);
	req_reply_header(r, "Tus-Resumable", TUS_VERSION);
	req_reply_header(r, "Tus-Version", TUS_VERSION);
	req_reply_header(r, "Tus-Extension", TUS_EXTENSIONS);
	req_reply_header(r, "Tus-Checksum-Algorithm", TUS_CHECKSUMS);
	if (max_size(r))
		header_u64(r, "Tus-Max-Size", max_size(r));
	if (req_header(r, "Origin") && req_header(r, "Access-Control-Request-Method")) {
		req_reply_header(r, "Access-Control-Allow-Methods",
				 "POST, GET, HEAD, PATCH, DELETE, OPTIONS");
		req_reply_header(
			r, "Access-Control-Allow-Headers",
			"Authorization, Content-Type, Upload-Offset, "
			"Upload-Length, Upload-Metadata, Upload-Defer-Length, "
			"Upload-Concat, Upload-Checksum, Tus-Resumable, "
			"X-HTTP-Method-Override, X-Requested-With");
		req_reply_header(r, "Access-Control-Max-Age", "86400");
	}
	return reply_empty(r, 204);
}

/* ---- concatenation ----
 *
 * A final upload makes the server copy, fsync and hash every byte it
 * names, however few bytes its own request carries.  So that this work
 * never exceeds what clients sent:
 *   - a list names at most TUS_CONCAT_MAX partials, each at most once
 *     (400 otherwise);
 *   - a partial is consumed by the final that uses it: its bytes go and
 *     later requests for it, a second final included, get 410;
 *   - the final's length (the sum) is held, before a byte is copied, to
 *     the principal's upload limit (413 with Tus-Max-Size; 507 for the
 *     quota), like a PUT of that length, and to the disk's free space
 *     (507).
 * While it copies, the final holds each partial's lease (pinned against a
 * PATCH's take-over), so no PATCH, expiry or other final touches them; if
 * it fails the leases are given back and the partials stay usable, and
 * its own copy is removed: nothing half-written is left.  The tus spec
 * allows this ("The Server MAY delete partial uploads after
 * concatenation"); the one case where a partial could serve twice is a
 * crash between the final's commit and its consumption.
 */
struct concat {
	size_t n, held;
	char **uids;
	int64_t lengths[TUS_CONCAT_MAX];
	struct writer *w[TUS_CONCAT_MAX];
	int64_t total;
};

/* Whether the data directory's file system has room for the final's
 * copy above the upload floor (reserve_upload_ok: min_free_bytes and
 * what the reserve misses); other backends: yes, the write then tells. */
static bool room_for(struct app *app, uint64_t bytes)
{
	return strcmp(app->conf->storage_backend, "fs") != 0 ||
	       reserve_upload_ok(bytes);
}

/* Check the list of a final upload without changing anything: each
 * partial once, each a complete, open partial upload here; c->total is
 * their sum.  Returns 0, or 1 with the reply's result in *rc. */
static int concat_check(struct pt_req *r, struct concat *c, int *rc)
{
	struct app *app = r->ctx;
	struct db *db = app_db(app);

	c->total = 0;
	for (size_t i = 0; i < c->n; i++)
		for (size_t j = 0; j < i; j++)
			if (strcmp(c->uids[i], c->uids[j]) == 0) {
				*rc = reply_error(
					r, PT_EBADREQ, NULL,
					"bad request: Upload-Concat names "
					"partial upload '%s' twice (each "
					"partial may appear once)",
					c->uids[i]);
				return 1;
			}
	for (size_t i = 0; i < c->n; i++) {
		struct upload_row pu;
		const char *uid = c->uids[i];
		int err = strlen(uid) == UPLOAD_UID_LEN
				  ? repo_upload_get(db, r->pool, uid, &pu)
				  : PT_ENOTFOUND;
		if (err == PT_ENOTFOUND || (!err && !is_partial(&pu))) {
			*rc = reply_error(r, PT_EBADREQ, NULL,
					  "bad request: Upload-Concat names "
					  "'%s', which is not a partial upload "
					  "here",
					  uid);
			return 1;
		}
		if (err) {
			*rc = fail(r, err);
			return 1;
		}
		if (pu.state == UPLOAD_DONE) {
			*rc = reply_error(r, PT_EGONE, "consumed",
					  "gone: partial upload '%s' was used "
					  "by a final upload already (a partial "
					  "makes one final)",
					  uid);
			return 1;
		}
		if (pu.state != UPLOAD_OPEN || pu.expires <= pt_now()) {
			*rc = reply_error(r, PT_EGONE, NULL,
					  "gone: partial upload '%s' was "
					  "terminated or expired",
					  uid);
			return 1;
		}
		if (pu.length < 0 || pu.received != pu.length) {
			*rc = reply_error(r, PT_EBADREQ, NULL,
					  "bad request: partial upload '%s' is "
					  "not finished (no "
					  "concatenation-unfinished)",
					  uid);
			return 1;
		}
		if (pu.length > INT64_MAX - c->total) {
			*rc = fail(r, PT_ETOOBIG);
			return 1;
		}
		c->lengths[i] = pu.length;
		c->total += pu.length;
	}
	return 0;
}

/* Give the partials held so far back untouched (a failed final). */
static void concat_release(struct pt_req *r, struct concat *c)
{
	struct app *app = r->ctx;
	struct db *db = app_db(app);

	for (size_t i = 0; i < c->held; i++) {
		if (db)
			repo_upload_advance(db, c->uids[i], c->lengths[i], true);
		writer_remove(c->w[i]);
	}
	c->held = 0;
}

/* Take every partial's lease for the copy.  Returns 0, or 1 with the
 * reply's result in *rc (and nothing held). */
static int concat_hold(struct pt_req *r, struct concat *c, int *rc)
{
	struct app *app = r->ctx;
	struct db *db = app_db(app);
	/* the copy may take long: 16 MiB/s is slow for any disk */
	int64_t until = pt_now() + lease_seconds(app) + (c->total >> 24);

	for (c->held = 0; c->held < c->n; c->held++) {
		size_t i = c->held;
		bool alone;
		c->w[i] = writer_add(c->uids[i], &alone);
		c->w[i]->pinned = true;
		int err = repo_upload_claim(db, c->uids[i], c->lengths[i],
					    pt_now(), until, app->node);
		if (!err)
			continue;
		writer_remove(c->w[i]);
		concat_release(r, c);
		if (err == PT_EGONE)
			*rc = reply_error(r, PT_EGONE, NULL,
					  "gone: partial upload '%s' was used "
					  "by another final upload or removed",
					  c->uids[i]);
		else if (err == PT_ELIMIT || err == PT_ECONFLICT)
			*rc = reply_error(r, PT_ECONFLICT, NULL,
					  "conflict: partial upload '%s' is in "
					  "use by another request, try again",
					  c->uids[i]);
		else
			*rc = fail(r, err);
		return 1;
	}
	return 0;
}

/* The final is a file: its partials are used up. */
static void concat_consume(struct pt_req *r, struct concat *c)
{
	struct app *app = r->ctx;
	struct db *db = app_db(app);

	for (size_t i = 0; i < c->held; i++) {
		int err = db ? repo_upload_set_state(db, c->uids[i],
						     UPLOAD_DONE)
			     : PT_EUNAVAIL;
		if (err)
			pt_log("tus: cannot mark partial %s used: %s",
			       c->uids[i], pt_strerror(err));
		else
			blob_partial_remove(app->blobs, c->uids[i]);
		writer_remove(c->w[i]);
	}
	c->held = 0;
}

int api_tus_create(struct pt_req *r)
{
	struct app *app = r->ctx;
	struct db *db = app_db(app);
	struct patch *p = pt_palloc(r->pool, sizeof(*p));
	struct upload_row *u = &p->u;
	const char *concat = req_header(r, "Upload-Concat");
	const char *meta = req_header(r, "Upload-Metadata");
	const char *defer = req_header(r, "Upload-Defer-Length");
	const char *ctype = req_header(r, "Content-Type");
	struct tus_meta m;
	char *uids[TUS_CONCAT_MAX];
	struct concat c = { .uids = uids };
	bool partial = false;
	int64_t length = -1;
	int rc, err;

	if (!version_ok(r, &rc))
		return rc;
	if (!db)
		return fail(r, PT_EUNAVAIL);
	if (abuse_check_uploader(r, &rc))
		return rc;
	p->app = app;
	if (meta && tus_metadata_parse(r->pool, meta, &m))
		return reply_error(r, PT_EBADREQ, NULL,
				   "bad request: malformed Upload-Metadata "
				   "(key base64,key base64,…)");
	if (meta) {
		size_t fn;
		const char *fv = tus_metadata_get(&m, "filename", &fn);
		if (!fv)
			fv = tus_metadata_get(&m, "name", &fn);
		/* control characters are not refused: the name is
		 * sanitised (T31), never echoed raw */
		if (api_text_check(r, "Upload-Metadata", meta, strlen(meta), 0,
				   &rc) ||
		    (fv && api_text_check(r, "the filename in Upload-Metadata",
					  fv, fn, 0, &rc)))
			return rc;
		int64_t k;
		if (meta_count(&m, "max_days", &k) ||
		    meta_count(&m, "max_downloads", &k))
			return reply_error(r, PT_EBADREQ, NULL,
					   "bad request: max_days and "
					   "max_downloads in Upload-Metadata "
					   "must be positive whole numbers");
	}
	/* A link password: X-Partage-Password, or the metadata key
	 * "password", which is kept out of the stored metadata (HEAD echoes
	 * that to anyone who has the upload URL). */
	size_t pwn = 0;
	const char *pw = req_header(r, "X-Partage-Password");
	if (pw)
		pwn = strlen(pw);
	else if (meta)
		pw = tus_metadata_get(&m, "password", &pwn);
	u->password_hash = "";
	if (pw) {
		if (pwn == 0 || pwn > 1024 || strlen(pw) != pwn)
			return reply_error(r, PT_EBADREQ, NULL,
					   "bad request: a link password has "
					   "1 to 1024 characters");
		if (api_pw_hash_now(r, pw, &u->password_hash, &rc))
			return rc; /* 503: every hashing slot is busy */
	}
	/* "folder": the uploader's folder the file goes into */
	char folder[ID_LEN + 1];
	if (api_upload_folder(r, meta_folder(r, meta ? &m : NULL), folder, &rc))
		return rc;
	err = concat ? tus_concat_parse(r->pool, concat, &partial, uids, &c.n)
		     : 0;
	if (err == PT_ELIMIT)
		return reply_error(r, PT_EBADREQ, NULL,
				   "bad request: a final upload joins at most "
				   "%d partial uploads",
				   TUS_CONCAT_MAX);
	if (err)
		return reply_error(r, PT_EBADREQ, NULL,
				   "bad request: Upload-Concat must be "
				   "'partial' or 'final;URL URL…'");
	err = header_number(r, "Upload-Length", &length);
	if (err == PT_EBADREQ)
		return reply_error(r, PT_EBADREQ, NULL,
				   "bad request: Upload-Length must be a "
				   "non-negative integer");
	bool final = concat && !partial;
	if (final && err == 0)
		return reply_error(r, PT_EBADREQ, NULL,
				   "bad request: a final upload takes no "
				   "Upload-Length (it is the parts' sum)");
	if (!final && err == PT_ENOTFOUND) {
		if (!defer || strcmp(defer, "1") != 0)
			return reply_error(r, PT_EBADREQ, NULL,
					   "bad request: send Upload-Length, "
					   "or Upload-Defer-Length: 1");
		length = -1;
	} else if (defer) {
		return reply_error(r, PT_EBADREQ, NULL,
				   "bad request: Upload-Length and "
				   "Upload-Defer-Length together");
	}
	/* a final's length is the sum of its parts, held to the same
	 * limits before any byte is copied */
	if (final && concat_check(r, &c, &rc))
		return rc;
	if (final)
		length = c.total;
	const char *what = final ? "the final upload's length (the sum of "
				   "its partials)"
				 : "Upload-Length";
	bool by_quota;
	uint64_t limit = api_upload_limit(r, &by_quota);
	if (length > 0 && (uint64_t)length > limit) {
		if (by_quota)
			return reply_error(r, PT_ENOSPACE, NULL,
					   "insufficient storage: %s "
					   "%" PRId64 " exceeds your storage "
					   "quota (%" PRIu64 " bytes left)",
					   what, length, limit);
		header_u64(r, "Tus-Max-Size", limit);
		return reply_error(r, PT_ETOOBIG, NULL,
				   "payload too large: %s %" PRId64
				   " exceeds the limit of %" PRIu64 " bytes",
				   what, length, limit);
	}
	/* after the size limits: an upload over them is refused for good
	 * (413), not for now (507) */
	if (api_intake_check(r, &rc))
		return rc;
	if (final && !room_for(app, (uint64_t)length))
		return reply_error(r, PT_ENOSPACE, NULL,
				   "insufficient storage: no room for the "
				   "final upload's %" PRId64 " bytes now",
				   length);

	/* the row */
	char raw[UPLOAD_UID_LEN + 1];
	for (int i = 0; i < UPLOAD_UID_LEN; i++)
		raw[i] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnop"
			 "qrstuvwxyz"[randombytes_uniform(62)];
	raw[UPLOAD_UID_LEN] = '\0';
	memcpy(u->uid, raw, sizeof(u->uid));
	u->length = length;
	u->metadata = meta ? tus_metadata_without(r->pool, meta, "password")
			   : "";
	u->concat = pt_pstrdup(r->pool, concat ? concat : "");
	u->owner = api_who(r)->user_id;
	u->created = pt_now();
	u->expires = u->created +
		     (int64_t)app->conf->upload_expiry_hours * 3600;
	token_new(p->token);
	token_hash(p->token, TOKEN_LEN, u->delete_hash);
	if (final && concat_hold(r, &c, &rc))
		return rc;
	if ((err = blob_partial_create(app->blobs, u->uid)) ||
	    (final && (err = blob_partial_concat(app->blobs, u->uid,
						 (const char *const *)uids,
						 c.n)))) {
		blob_partial_remove(app->blobs, u->uid);
		concat_release(r, &c);
		return fail(r, err);
	}
	if (final)
		u->received = length;
	if ((err = repo_upload_create(db, u))) {
		blob_partial_remove(app->blobs, u->uid);
		concat_release(r, &c);
		return fail(r, err);
	}
	p->location = upload_url(r, u->uid);

	/* creation-with-upload: the body is the first PATCH */
	if (has_body(r) && !final) {
		if (!ctype || strcasecmp(ctype, OCTET) != 0)
			return reply_error(r, PT_EUNSUPPORTED, NULL,
					   "unsupported media type: a creation "
					   "body must be " OCTET);
		/* the whole file in one creation request with its sha256:
		 * blocked content is refused before a byte is read */
		const char *ck = req_header(r, "Upload-Checksum");
		const char *cl = req_header(r, "Content-Length");
		char algo[16];
		unsigned char dg[64];
		size_t dn;
		uint64_t len;
		if (ck && cl && !pt_parse_u64(cl, strlen(cl), &len) &&
		    (int64_t)len == u->length &&
		    !tus_checksum_parse(ck, algo, dg, &dn) &&
		    !strcmp(algo, "sha256") && dn == 32) {
			char hex[BLOB_HEX_LEN + 1];
			sodium_bin2hex(hex, sizeof(hex), dg, dn);
			if (abuse_check_upload(r, hex, &rc)) {
				repo_upload_set_state(db, u->uid,
						      UPLOAD_TERMINATED);
				blob_partial_remove(app->blobs, u->uid);
				return rc;
			}
		}
		p->creating = true;
		return patch_begin(r, p);
	}
	req_reply_header(r, "Location", p->location);
	req_reply_header(r, "X-Delete-Token", p->token);
	if (u->length == 0 || final) {
		/* empty or concatenated: complete at once */
		struct link l;
		if (!is_partial(u)) {
			if ((err = complete(r, u, &l))) {
				if (final) {
					/* no half-made final: the parts stay */
					repo_upload_set_state(
						db, u->uid, UPLOAD_TERMINATED);
					blob_partial_remove(app->blobs, u->uid);
					concat_release(r, &c);
				}
				return fail(r, err);
			}
			completed_headers(r, l.id);
			concat_consume(r, &c);
		}
		header_u64(r, "Upload-Offset", (uint64_t)u->received);
	} else {
		header_expires(r, u);
	}
	return reply_empty(r, 201);
}

int api_tus_head(struct pt_req *r)
{
	struct upload_row u;
	int rc;

	if (!version_ok(r, &rc))
		return rc;
	req_reply_header(r, "Cache-Control", "no-store");
	if (lookup(r, r->arg[0].p, &u, &rc))
		return rc;
	header_u64(r, "Upload-Offset", (uint64_t)u.received);
	if (u.length >= 0)
		header_u64(r, "Upload-Length", (uint64_t)u.length);
	else
		req_reply_header(r, "Upload-Defer-Length", "1");
	if (*u.metadata)
		req_reply_header(r, "Upload-Metadata", u.metadata);
	if (*u.concat)
		req_reply_header(r, "Upload-Concat", u.concat);
	header_expires(r, &u);
	if (u.state == UPLOAD_DONE && *u.link_id) {
		struct app *app = r->ctx;
		req_reply_header(r, "X-Partage-Id", u.link_id);
		req_reply_header(r, "X-Partage-Url",
				 pt_psprintf(r->pool, "%s/%s", app->public_url,
					     u.link_id));
	}
	return reply_empty(r, 200);
}

int api_tus_patch(struct pt_req *r)
{
	struct patch *p = pt_palloc(r->pool, sizeof(*p));
	const char *ctype = req_header(r, "Content-Type");
	int64_t offset, length;
	int rc, err;

	if (!version_ok(r, &rc))
		return rc;
	p->app = r->ctx;
	if (!ctype || strcasecmp(ctype, OCTET) != 0)
		return reply_error(r, PT_EUNSUPPORTED, NULL,
				   "unsupported media type: PATCH bodies must "
				   "be " OCTET);
	if (lookup(r, r->arg[0].p, &p->u, &rc))
		return rc;
	if (is_final(&p->u))
		return reply_error(r, PT_EFORBIDDEN, NULL,
				   "forbidden: a final upload is assembled "
				   "from its parts, not patched");
	if (header_number(r, "Upload-Offset", &offset))
		return reply_error(r, PT_EBADREQ, NULL,
				   "bad request: Upload-Offset must be a "
				   "non-negative integer");
	if (p->u.state == UPLOAD_DONE && offset == p->u.received) {
		/* A repeated final PATCH (its answer was lost, or was a 503
		 * after the completion committed): nothing to add, and the
		 * client learns it is done, as from HEAD.  Bytes past the end
		 * are refused. */
		if (has_body(r))
			return reply_error(r, PT_EFORBIDDEN, NULL,
					   "forbidden: the upload is complete");
		header_u64(r, "Upload-Offset", (uint64_t)p->u.received);
		if (*p->u.link_id)
			completed_headers(r, p->u.link_id);
		return reply_empty(r, 204);
	}
	if (offset != p->u.received) {
		header_u64(r, "Upload-Offset", (uint64_t)p->u.received);
		return reply_error(r, PT_ECONFLICT, NULL,
				   "conflict: Upload-Offset %" PRId64
				   " but the upload is at %" PRId64,
				   offset, p->u.received);
	}
	err = header_number(r, "Upload-Length", &length);
	if (err == PT_EBADREQ)
		return reply_error(r, PT_EBADREQ, NULL,
				   "bad request: Upload-Length must be a "
				   "non-negative integer");
	if (err == 0) {
		struct app *app = r->ctx;
		if (p->u.length >= 0 && p->u.length != length)
			return reply_error(r, PT_EBADREQ, NULL,
					   "bad request: Upload-Length cannot "
					   "change once set");
		if (length < p->u.received)
			return reply_error(r, PT_EBADREQ, NULL,
					   "bad request: Upload-Length is "
					   "below the bytes received");
		bool by_quota;
		uint64_t limit = owner_limit(r, &p->u, &by_quota);
		if ((uint64_t)length > limit) {
			if (!by_quota)
				header_u64(r, "Tus-Max-Size", limit);
			return fail(r, by_quota ? PT_ENOSPACE : PT_ETOOBIG);
		}
		if (p->u.length < 0 &&
		    (err = repo_upload_set_length(app_db(app), p->u.uid,
						  length)))
			return fail(r, err == PT_ECONFLICT ? PT_EBADREQ : err);
		p->u.length = length;
	}
	return patch_begin(r, p);
}

int api_tus_delete(struct pt_req *r)
{
	struct app *app = r->ctx;
	struct upload_row u;
	int rc, err;

	if (!version_ok(r, &rc))
		return rc;
	if (lookup(r, r->arg[0].p, &u, &rc))
		return rc;
	if ((err = repo_upload_set_state(app_db(app), u.uid,
					 UPLOAD_TERMINATED)))
		return fail(r, err);
	/* a PATCH in flight keeps its open fd; its bytes go with it */
	blob_partial_remove(app->blobs, u.uid);
	return reply_empty(r, 204);
}

int api_tus_get(struct pt_req *r)
{
	struct app *app = r->ctx;
	struct upload_row u;
	struct link l;
	int rc;

	cors(r);
	if (lookup(r, r->arg[0].p, &u, &rc))
		return rc;
	if (u.state != UPLOAD_DONE || !*u.link_id) {
		json_t *o = json_pack("{s:s, s:i, s:I}", "error",
				      "conflict: the upload is not complete",
				      "status", 409, "offset",
				      (json_int_t)u.received);
		if (u.length >= 0)
			json_object_set_new(o, "length", json_integer(u.length));
		return reply_json(r, 409, o);
	}
	if (api_link_lookup(r, u.link_id, &l, &rc, false))
		return rc;
	return reply_json(r, 200, api_file_json(app, &l));
}

/* Maintenance: abandoned uploads past their expiry lose their bytes. */
int tus_expire(struct app *app, int64_t now)
{
	struct db *db = app_db(app);
	struct pt_pool *pool = pt_pool_new();
	char *uids[256];
	size_t n = 0;
	int removed = 0;

	if (db && !repo_uploads_expired(db, pool, now, uids, 256, &n)) {
		for (size_t i = 0; i < n; i++) {
			if (repo_upload_expire(db, uids[i], now) != 1)
				continue; /* a PATCH took it meanwhile */
			blob_partial_remove(app->blobs, uids[i]);
			removed++;
		}
	}
	pt_pool_free(pool);
	return removed;
}
