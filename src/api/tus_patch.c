/*
 * tus_patch.c — PATCH /api/v1/uploads/{uid}: bytes appended at the
 * upload's durable offset, and the body of a creation-with-upload POST.
 *
 * A PATCH claims the row's lease at the offset it names (409 if that is
 * not the upload's offset, or another request holds the lease), writes
 * into the blob store's partial, renews the lease while bytes flow, and
 * makes progress durable (sync, then the row's offset) every
 * [server] tus_checkpoint_bytes (8 MiB: an S3 segment) and at the end,
 * so a dropped PATCH, or one on a node that died, resumes at most that
 * far back.  A chunk with a checksum (a header or
 * a trailer) is durable only once verified; a mismatch cuts it back.
 * Each PATCH is also registered among this node's writers, so that a
 * stalled one can be taken over (below).  The upload's owner's limit
 * holds byte by byte.
 */
#define _GNU_SOURCE
#include "tus_int.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "../http/reply.h"
#include "../util/banned.h"


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

/* ---- this node's writers ----
 *
 * A client that vanishes in the middle of a body is noticed by the engine only
 * at the connection timeout, and until then its PATCH holds the lease.
 * tus clients resume within seconds (tus-js-client gives up after ~9 s),
 * so a new PATCH at the durable offset may take the upload over from a
 * writer on this node that has received nothing for TAKEOVER_IDLE_NS: the
 * old one is marked superseded under its own lock, stops at its next
 * chunk and leaves the upload alone when it ends.  Across nodes (on
 * PostgreSQL) a lease ends when it expires or when its node's heartbeat
 * stops (cluster.c, repo_upload_claim): another node takes an upload of
 * a dead one within node_lease_seconds, and a node that cannot write its
 * heartbeat stops its own writers before that (cluster_fenced). */
#define TAKEOVER_IDLE_NS (2ull * 1000000000u)

static pthread_mutex_t writers_lock = PTHREAD_MUTEX_INITIALIZER;
static struct writer *writers;

/* Register a writer of uid; *alone says whether it is this node's only
 * one.  Every PATCH registers before it claims the lease and leaves after
 * it released it, so a lease that this node holds while it has no other
 * writer of the upload belongs to a request that is over: one whose
 * release failed (the metadata store was unreachable then). */
struct writer *tus_writer_add(const char *uid, bool *alone)
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

void tus_writer_remove(struct writer *w)
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

/* The running hash at offset off, as text for the row, if this request
 * knows it (at its start, its last checkpoint or where it has got to);
 * NULL otherwise: the commit will read the bytes back. */
static const char *hash_at(const struct patch *p, uint64_t off,
			   char buf[RUNHASH_TEXT_MAX])
{
	const struct runhash *h = NULL;

	if (!p->rh_ok)
		return NULL;
	if (p->rh.bytes == off)
		h = &p->rh;
	else if (p->rh_ckpt.bytes == off)
		h = &p->rh_ckpt;
	else if (p->rh_start.bytes == off)
		h = &p->rh_start;
	if (!h)
		return NULL;
	runhash_save(h, buf);
	return buf;
}

/* Record the durable offset off with its running hash. */
static int advance(struct patch *p, struct db *db, uint64_t off, bool release)
{
	char buf[RUNHASH_TEXT_MAX];

	return repo_upload_advance(db, p->u.uid, (int64_t)off,
				   hash_at(p, off, buf), release);
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

/* A lease outlives an idle connection (the engine closes those after
 * timeout_seconds) and is renewed while bytes flow; a node that restarts
 * drops its own leases at once (app_open), so only another node's crash
 * makes an upload wait, for at most this long. */
int64_t tus_lease_seconds(struct app *app)
{
	return (int64_t)app->conf->timeout_seconds + 30;
}

int64_t tus_node_lease_ms(struct app *app)
{
	return app->cluster ? (int64_t)app->conf->node_lease_seconds * 1000
			    : 0;
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
			advance(p, db, (uint64_t)keep, true);
	}
	blob_partial_close(p->part);
	p->part = NULL;
	if (p->w) {
		tus_writer_remove(p->w);
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
	if (cluster_fenced(p->app)) {
		/* the other nodes may take this node for dead and the upload
		 * over: write nothing more, change nothing (the row and the
		 * partial are the taker's now); the client resumes at the
		 * durable offset */
		pthread_mutex_unlock(&p->w->lock);
		p->err = PT_EUNAVAIL;
		p->released = true;
		req_retry_after(r, 1);
		reply_error(r, PT_EUNAVAIL, NULL,
			    "service unavailable: this node lost the "
			    "metadata store: resume at the upload's offset "
			    "(HEAD it)");
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
			tus_header_u64(r, "Tus-Max-Size", p->limit);
		goto fail;
	}
	if (p->md)
		EVP_DigestUpdate(p->md, data, n);
	for (int i = 0; i < 3; i++)
		if (p->tmd[i])
			EVP_DigestUpdate(p->tmd[i], data, n);
	if ((err = blob_partial_write(p->part, data, n)))
		goto fail;
	if (p->rh_ok)
		runhash_update(&p->rh, data, n);
	size += n;
	int64_t now = pt_now();
	if (now - p->renewed >= 10) {
		struct db *db = app_db(p->app);
		if (db && !repo_upload_renew(db, p->u.uid,
					     now + tus_lease_seconds(p->app)))
			p->renewed = now;
	}
	/* a checkpoint makes progress durable mid-request (not with a
	 * checksum: those bytes are unverified until the end) */
	if (!p->md && !p->trailer &&
	    size - p->checkpoint >= p->app->conf->tus_checkpoint_bytes &&
	    (p->u.length < 0 || size < (uint64_t)p->u.length)) {
		struct db *db = app_db(p->app);
		if (!blob_partial_sync(p->part) && db &&
		    !advance(p, db, size, false)) {
			p->checkpoint = size;
			p->rh_ckpt = p->rh;
		}
	}
	return 0;
fail:
	p->err = err;
	blob_partial_truncate(p->part, (uint64_t)p->start);
	/* the client has its answer now and may PATCH again at once, before
	 * this body ends: the lease goes with the bytes */
	struct db *db = app_db(p->app);
	if (db && !advance(p, db, (uint64_t)p->start, true))
		p->released = true;
	tus_fail(r, err);
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

static req_res patch_end(struct pt_req *r)
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
			advance(p, db, (uint64_t)p->start, true);
		return REQ_OK;
	}
	if (p->md || p->trailer) {
		err = check_digest(r, p);
		if (err) {
			blob_partial_truncate(p->part, (uint64_t)p->start);
			if (db)
				advance(p, db, (uint64_t)p->start, true);
			if (err == PT_EBADREQ)
				return reply_error(
					r, err, NULL,
					"bad request: Upload-Checksum trailer "
					"missing or of an unsupported algorithm");
			return tus_fail(r, err);
		}
	}
	/* The last byte becomes durable with the link, in one transaction
	 * (repo_upload_complete): an offset that said "all there" before
	 * the link exists would tell a client whose final PATCH failed (a
	 * 503 in a database outage) that its upload is done, when no file
	 * will ever appear. */
	bool last = p->u.length == size && !is_partial(&p->u);
	if ((err = blob_partial_sync(p->part)) || !db ||
	    (!last && (err = advance(p, db, (uint64_t)size, true)))) {
		blob_partial_truncate(p->part, (uint64_t)p->start);
		if (db)
			advance(p, db, (uint64_t)p->start, true);
		return tus_fail(r, err ? err : PT_EUNAVAIL);
	}
	blob_partial_close(p->part);
	p->part = NULL;
	p->u.received = size;
	tus_header_u64(r, "Upload-Offset", (uint64_t)size);
	if (last) {
		struct link l;
		if ((err = tus_complete(r, &p->u, p->rh_ok ? &p->rh : NULL,
					&l))) {
			/* still open (not completed by another request, not
			 * refused): free the lease; the offset stays the
			 * durable one (the bytes past it are cut at the next
			 * PATCH) */
			if (err != PT_ECONFLICT && err != PT_ELEGAL)
				advance(p, db, p->checkpoint, true);
			return tus_fail(r, err);
		}
		tus_completed_headers(r, l.id);
	} else {
		tus_header_expires(r, &p->u);
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
req_res tus_patch_begin(struct pt_req *r, struct patch *p)
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
		return tus_fail(r, PT_ETOOBIG);
	p->limit = owner_limit(r, &p->u, &p->by_quota);
	if (cl && !pt_parse_u64(cl, strlen(cl), &len) &&
	    (len > p->limit ||
	     (uint64_t)p->u.received > p->limit - len)) {
		if (!p->by_quota)
			tus_header_u64(r, "Tus-Max-Size", p->limit);
		return tus_fail(r, p->by_quota ? PT_ENOSPACE : PT_ETOOBIG);
	}
	/* the stores, after the limits (413 is for good, 507 for now); a
	 * creation asked already */
	req_res rc;
	if (!p->creating && api_intake_check_or_reply(r, &rc))
		return rc;
	bool alone;
	p->w = tus_writer_add(p->u.uid, &alone);
	err = repo_upload_claim(db, p->u.uid, p->u.received, pt_now(),
				pt_now() + tus_lease_seconds(app), app->node,
				tus_node_lease_ms(app));
	/* held by this node: by a request that is over (alone), or by one
	 * that stalled (take over) — claim_from checks that we hold it */
	if (err == PT_ELIMIT && (alone || writers_take_over(p->u.uid)))
		err = repo_upload_claim_from(db, p->u.uid, p->u.received,
					     pt_now() + tus_lease_seconds(app),
					     app->node);
	if (err) {
		tus_writer_remove(p->w);
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
		return tus_fail(r, err);
	p->start = p->u.received;
	p->checkpoint = (uint64_t)p->start;
	/* the hash of the bytes before this request: none yet, or the one
	 * saved with the offset the lease was claimed at */
	runhash_init(&p->rh);
	p->rh_ok = p->start == 0 ||
		   (!runhash_load(&p->rh, p->u.hash_state) &&
		    p->rh.bytes == (uint64_t)p->start);
	p->rh_start = p->rh_ckpt = p->rh;
	p->renewed = pt_now();
	err = blob_partial_open(app->blobs, p->u.uid, (uint64_t)p->start,
				&p->part);
	if (err) {
		advance(p, db, (uint64_t)p->start, true);
		return tus_fail(r, err);
	}
	r->state = p;
	r->on_body = patch_body;
	r->on_end = patch_end;
	return REQ_OK;
}

req_res api_tus_patch(struct pt_req *r)
{
	struct patch *p = pt_palloc(r->pool, sizeof(*p));
	const char *ctype = req_header(r, "Content-Type");
	int64_t offset, length;
	req_res rc;
	int err;

	if (tus_version_or_reply(r, &rc))
		return rc;
	p->app = r->ctx;
	if (!ctype || strcasecmp(ctype, OCTET) != 0)
		return reply_error(r, PT_EUNSUPPORTED, NULL,
				   "unsupported media type: PATCH bodies must "
				   "be " OCTET);
	if (tus_lookup_or_reply(r, r->arg[0].p, &p->u, &rc))
		return rc;
	if (is_final(&p->u))
		return reply_error(r, PT_EFORBIDDEN, NULL,
				   "forbidden: a final upload is assembled "
				   "from its parts, not patched");
	if (tus_header_number(r, "Upload-Offset", &offset))
		return reply_error(r, PT_EBADREQ, NULL,
				   "bad request: Upload-Offset must be a "
				   "non-negative integer");
	if (p->u.state == UPLOAD_DONE && offset == p->u.received) {
		/* A repeated final PATCH (its answer was lost, or was a 503
		 * after the completion committed): nothing to add, and the
		 * client learns it is done, as from HEAD.  Bytes past the end
		 * are refused. */
		if (tus_has_body(r))
			return reply_error(r, PT_EFORBIDDEN, NULL,
					   "forbidden: the upload is complete");
		tus_header_u64(r, "Upload-Offset", (uint64_t)p->u.received);
		if (*p->u.link_id)
			tus_completed_headers(r, p->u.link_id);
		return reply_empty(r, 204);
	}
	if (offset != p->u.received) {
		tus_header_u64(r, "Upload-Offset", (uint64_t)p->u.received);
		return reply_error(r, PT_ECONFLICT, NULL,
				   "conflict: Upload-Offset %" PRId64
				   " but the upload is at %" PRId64,
				   offset, p->u.received);
	}
	err = tus_header_number(r, "Upload-Length", &length);
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
				tus_header_u64(r, "Tus-Max-Size", limit);
			return tus_fail(r, by_quota ? PT_ENOSPACE : PT_ETOOBIG);
		}
		if (p->u.length < 0 &&
		    (err = repo_upload_set_length(app_db(app), p->u.uid,
						  length)))
			return tus_fail(r, err == PT_ECONFLICT ? PT_EBADREQ
							       : err);
		p->u.length = length;
	}
	return tus_patch_begin(r, p);
}
