/*
 * upload.c — PUT /{name} (curl -T) and POST /api/v1/files (multipart).
 *
 * Both stream the body into a blob writer chunk by chunk, so memory stays
 * flat whatever the size; the writer's abort is tied to the request pool,
 * so a client that disconnects or an error half-way leaves nothing behind.
 * Only once the blob is durable is the link row inserted, and only once
 * the row is in is the client told the link (docs/internals.md, 2).
 * The same paths take a file request's uploads (requests.c: the gate),
 * into its owner's folder, answered without the link.
 */
#define _GNU_SOURCE
#include "handlers.h"
#include "pwcheck.h"

#include <errno.h>
#include <jansson.h>
#include <magic.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "../core/ids.h"
#include "../http/disposition.h"
#include "../http/form.h"
#include "../http/path.h"
#include "../http/reply.h"
#include "../util/buf.h"
#include "../util/banned.h"

#define SNIFF_BYTES 16384
/* internal: more parts than one request may carry (413 with its own
 * message) */
#define PT_EPARTS (-4900)
#define NAME_MAX_BYTES 256

/* One file being received. */
struct sink {
	struct blob_writer *w;
	void *cleanup;   /* pool handle that aborts w */
	char *name;
	uint64_t limit;  /* largest file: the tier's, or what the quota leaves */
	bool by_quota;   /* the quota set the limit: refuse with 507 */
	unsigned char head[SNIFF_BYTES];
	size_t head_n;
};

/* A received, committed file waiting for its link row. */
struct received {
	struct blob_writer *w; /* committed, open until the row is in */
	char sha256[BLOB_HEX_LEN + 1];
	uint64_t size;
	char *name, *mime;
	bool existed;
};

struct upload {
	struct app *app;
	uint64_t limit;             /* per file (upload_limit) */
	bool by_quota;
	struct sink sink;
	bool open;
	int err;                    /* first failure, replied at the end */
	char errmsg[256];
	int64_t max_days, max_downloads;
	char *password_hash;        /* of the link password, if one was set */
	struct pt_buf password;     /* multipart: the "password" field */
	struct form_count count_field[2]; /* multipart: max_days, max_downloads */
	char folder[ID_LEN + 1];    /* "" or the uploader's folder */
	struct form *form;
	struct received files[64];
	size_t nfiles;
	bool linking;               /* in create_links: a 503 is the database's */
	struct file_request *req;   /* uploading through a file request */
};


/* ---- sinks ---- */

static void writer_abort_cb(void *arg)
{
	blob_writer_abort(arg);
}

static int sink_open(struct pt_req *r, struct sink *s, const char *name,
		     uint64_t limit, bool by_quota)
{
	struct app *app = r->ctx;
	char clean[NAME_MAX_BYTES];
	int err;

	memset(s, 0, offsetof(struct sink, head));
	s->head_n = 0;
	disp_sanitize_name(name, strlen(name), clean, sizeof(clean));
	s->name = pt_pstrdup(r->pool, clean);
	s->limit = limit;
	s->by_quota = by_quota;
	if ((err = blob_writer_open(app->blobs, &s->w)))
		return err;
	/* the most it can be: the object store sizes its parts by it */
	blob_writer_expect(s->w, limit);
	s->cleanup = pt_pool_cleanup_add(r->pool, writer_abort_cb, s->w);
	return 0;
}

static int sink_write(struct sink *s, const char *data, size_t n)
{
	if (blob_writer_size(s->w) + n > s->limit)
		return s->by_quota ? PT_ENOSPACE : PT_ETOOBIG;
	if (s->head_n < SNIFF_BYTES) {
		size_t k = SNIFF_BYTES - s->head_n;
		if (k > n)
			k = n;
		memcpy(s->head + s->head_n, data, k);
		s->head_n += k;
	}
	return blob_writer_write(s->w, data, n);
}

static int sink_commit(struct pt_req *r, struct sink *s, struct received *out)
{
	int err;

	out->size = blob_writer_size(s->w);
	/* the writer stays open (its pool cleanup closes it) until the link
	 * row is in: see the gc protocol in blob.h */
	err = blob_writer_commit(s->w, out->sha256, &out->existed);
	out->w = s->w;
	s->w = NULL;
	if (err)
		return err;
	out->name = s->name;
	out->mime = api_sniff_mime(r->pool, s->head, s->head_n);
	return 0;
}

/* ---- request options ---- */

/* Max-Days / Max-Downloads: absent → 0, else a positive integer. */
static int header_count(struct pt_req *r, const char *name, int64_t *out)
{
	const char *v = req_header(r, name);
	*out = 0;
	return v ? api_count_parse(v, strlen(v), out) : 0;
}

static int ensure_cb(void *arg)
{
	return blob_writer_ensure(arg);
}

/* Create the link rows for every received file; fills tokens. */
static int create_links(struct pt_req *r, struct upload *u, struct link *links,
			char (*tokens)[TOKEN_LEN + 1])
{
	struct app *app = r->ctx;
	struct db *db = app_db(app);
	int64_t now = pt_now();
	int err = 0;

	if (!db)
		return PT_EUNAVAIL;
	for (size_t i = 0; i < u->nfiles; i++) {
		struct link *l = &links[i];
		struct received *f = &u->files[i];
		memset(l, 0, sizeof(*l));
		memcpy(l->sha256, f->sha256, sizeof(l->sha256));
		l->name = f->name;
		l->mime = f->mime;
		l->size = f->size;
		l->has_crc = true;
		l->crc32 = blob_writer_crc32(f->w);
		l->created = now;
		l->expires = u->max_days ? now + u->max_days * 86400 : 0;
		l->max_downloads = u->max_downloads;
		l->password_hash = u->password_hash;
		l->owner = api_who(r)->user_id;
		memcpy(l->folder_id, u->folder, sizeof(l->folder_id));
		l->quota_bytes = policy_tier(app->conf, api_who(r))
					 ->storage_quota_bytes;
		l->reason = "";
		l->request_id = u->req ? u->req->id : NULL;
		token_new(tokens[i]);
		token_hash(tokens[i], TOKEN_LEN, l->delete_hash);
		/* 62^12 ids: a collision is astronomically rare, but cheap
		 * to survive */
		for (int tries = 0; tries < 4; tries++) {
			id_new(l->id);
			err = repo_link_create(db, l, ensure_cb, f->w);
			if (err != PT_ECONFLICT)
				break;
		}
		if (err) {
			/* refused whole: the links made for the files before
			 * this one go too (their tokens never reach the
			 * client) */
			for (size_t k = 0; k < i; k++) {
				repo_link_delete(db, links[k].id, "deleted", now);
				if (u->req)
					repo_request_untake(
						db, u->req->id,
						(int64_t)links[k].size);
			}
			return err;
		}
	}
	for (size_t i = 0; i < u->nfiles; i++)
		app_uploaded(app, db, &links[i], u->files[i].existed);
	return 0;
}

/* Blocked content is refused whole (451) and leaves nothing stored: the
 * blobs this request created go again (one that existed before stays: it
 * is quarantined content, gc's to collect). */
static bool check_blocked_or_reply(struct pt_req *r, struct upload *u,
				   req_res *rc)
{
	struct app *app = r->ctx;
	for (size_t i = 0; i < u->nfiles; i++) {
		if (!abuse_check_upload_or_reply(r, u->files[i].sha256, rc))
			continue;
		for (size_t k = 0; k < u->nfiles; k++)
			if (!u->files[k].existed)
				blob_remove(app->blobs, u->files[k].sha256);
		return true;
	}
	return false;
}

static req_res fail_reply(struct pt_req *r, int err, const char *what)
{
	struct upload *u = r->state;
	req_res rc;
	switch (err) {
	case PT_ELEGAL:
		/* blocklisted by a takedown while the body was arriving:
		 * the link transaction saw it (repo_link_create) */
		if (check_blocked_or_reply(r, u, &rc))
			return rc;
		return reply_error(r, err, "removed",
				   "unavailable for legal reasons: this "
				   "content was removed and cannot be "
				   "uploaded again");
	case PT_ETOOBIG:
		if (u->req && u->limit == api_request_bytes_left(u->req))
			return reply_error(r, err, NULL,
					   "payload too large: the file "
					   "request takes %llu more bytes",
					   (unsigned long long)u->limit);
		if (u->req && u->linking)
			return reply_error(r, err, NULL,
					   "payload too large: the file "
					   "request has no room left for %s",
					   what);
		return reply_error(r, err, NULL,
				   "payload too large: %s exceeds the upload "
				   "limit of %llu bytes",
				   what, (unsigned long long)u->limit);
	case PT_EFORBIDDEN:
		return reply_error(r, err, NULL,
				   "forbidden: the file request takes no more "
				   "files");
	case PT_EGONE:
		return reply_error(r, err, NULL,
				   "gone: the file request is closed or "
				   "expired");
	case PT_EPARTS:
		return reply_error(r, PT_ETOOBIG, NULL,
				   "payload too large: at most %zu files per "
				   "request",
				   PT_ARRAY_LEN(u->files));
	case PT_ENOSPACE:
		return reply_error(r, err, NULL,
				   "insufficient storage: %s exceeds your "
				   "storage quota (%llu bytes left)",
				   what, (unsigned long long)u->limit);
	case -ENOSPC:
	case -EDQUOT:
		return reply_error(r, err, NULL,
				   "insufficient storage: the server is full");
	case PT_EUNAVAIL:
		/* before the link rows the bytes were going to the blob
		 * store: an S3 store that cannot be reached ends up here */
		return reply_error(r, err, NULL,
				   "service unavailable: %s unreachable, try "
				   "again", u->linking ? "metadata store"
						       : "storage");
	case PT_EBADREQ:
		if (u->errmsg[0])
			return reply_error(r, err, NULL, "%s", u->errmsg);
		return reply_error(r, err, NULL,
				   "bad request: malformed multipart body");
	default:
		/* a storage errno is our failure, not the client's (ENOENT
		 * must not read as 404) */
		pt_log("upload: %s failed: %s", what, pt_strerror(err));
		return reply_error(r, err > -4000 ? PT_EINTERNAL : err, NULL,
				   "cannot store %s: %s", what,
				   pt_strerror(err));
	}
}

/* A link password: 1..1024 bytes, stored as Argon2id.  false: set;
 * true: replied (400, 503), return *rc. */
static bool set_password_or_reply(struct pt_req *r, struct upload *u,
				  const char *pw, req_res *rc)
{
	size_t n = strlen(pw);
	if (n == 0 || n > 1024) {
		*rc = reply_error(r, PT_EBADREQ, NULL,
				  "bad request: a link password has 1 to "
				  "1024 characters");
		return true;
	}
	return api_pw_hash_now_or_reply(r, pw, &u->password_hash, rc);
}

/* A file request's uploader is told what was received, not the links:
 * they may not see or download what the folder holds. */
static req_res request_reply(struct pt_req *r, struct upload *u,
			     const struct link *links, size_t n)
{
	if (!req_accepts(r, "application/json")) {
		struct pt_buf b;
		pt_buf_init(&b, 1 << 20);
		for (size_t i = 0; i < n; i++)
			pt_buf_addf(&b, "received '%s' (%llu bytes)\n",
				    links[i].name,
				    (unsigned long long)links[i].size);
		req_res rc = reply_text(r, 201, b.p ? b.p : "");
		pt_buf_release(&b);
		return rc;
	}
	json_t *arr = json_array();
	for (size_t i = 0; i < n; i++)
		json_array_append_new(
			arr, json_pack("{s:s, s:I, s:s}", "name", links[i].name,
				       "size", (json_int_t)links[i].size,
				       "sha256", links[i].sha256));
	return reply_json(r, 201,
			  json_pack("{s:s, s:o}", "request", u->req->id,
				    "files", arr));
}

/* ---- PUT /{name} ---- */

static int put_body(struct pt_req *r, const char *data, size_t n)
{
	struct upload *u = r->state;
	int err = sink_write(&u->sink, data, n);
	if (err) {
		blob_writer_abort(u->sink.w);
		pt_pool_cleanup_disarm(u->sink.cleanup);
		u->sink.w = NULL;
		fail_reply(r, err, "the upload");
		return 1;
	}
	return 0;
}

static req_res put_end(struct pt_req *r)
{
	struct upload *u = r->state;
	struct app *app = r->ctx;
	struct link l;
	char token[1][TOKEN_LEN + 1];
	req_res rc;
	int err;

	if ((err = sink_commit(r, &u->sink, &u->files[0])))
		return fail_reply(r, err, "the upload");
	u->nfiles = 1;
	if (check_blocked_or_reply(r, u, &rc))
		return rc;
	u->linking = true;
	if ((err = create_links(r, u, &l, token)))
		return fail_reply(r, err, "the upload");
	if (u->req)
		return request_reply(r, u, &l, 1);

	char *share = pt_psprintf(r->pool, "%s/%s", app->public_url, l.id);
	struct resp *resp;
	if (req_accepts(r, "application/json")) {
		json_t *o = api_file_json(app, &l);
		json_object_set_new(o, "delete_token", json_string(token[0]));
		char *s = json_dumps(o, JSON_COMPACT);
		json_decref(o);
		char *body = pt_psprintf(r->pool, "%s\n", s);
		free(s);
		resp = resp_new(body, strlen(body), RESP_COPY);
		resp_header(resp, "Content-Type",
					"application/json");
	} else {
		char *body = pt_psprintf(r->pool, "%s\n", share);
		resp = resp_new(body, strlen(body), RESP_COPY);
		resp_header(resp, "Content-Type",
					"text/plain; charset=utf-8");
	}
	resp_header(resp, "Location", share);
	resp_header(resp, "X-Partage-Id", l.id);
	resp_header(resp, "X-Delete-Token", token[0]);
	if (l.expires) {
		char date[32];
		pt_http_date(l.expires, date);
		resp_header(resp, "X-Expires", date);
	}
	return reply_queue(r, 201, resp);
}

/* The request's limit on this upload's bytes, when it is the smaller. */
static void request_limit(struct upload *u)
{
	if (u->req && api_request_bytes_left(u->req) <= u->limit) {
		u->limit = api_request_bytes_left(u->req);
		u->by_quota = false;
	}
}

static req_res put_start(struct pt_req *r, const pt_str *name,
			 struct file_request *req)
{
	struct app *app = r->ctx;
	struct upload *u = pt_palloc(r->pool, sizeof(*u));
	const char *cl = req_header(r, "Content-Length");
	uint64_t len;
	req_res rc;
	int err;

	u->app = app;
	u->req = req;
	r->state = u;
	u->limit = api_upload_limit(r, &u->by_quota);
	request_limit(u);
	/* over the size limit is for good (413), before the disk's now */
	if (cl && !pt_parse_u64(cl, strlen(cl), &len) && len > u->limit &&
	    !u->by_quota)
		return fail_reply(r, PT_ETOOBIG, "the upload");
	if (abuse_check_uploader_or_reply(r, &rc) ||
	    api_intake_check_or_reply(r, &rc) ||
	    api_text_check_or_reply(r, "the file name", name->p, name->n, 0,
				    &rc))
		return rc;
	if (req_header(r, "Content-Range"))
		return reply_error(r, PT_EBADREQ, NULL,
				   "bad request: partial PUT (Content-Range) "
				   "is not supported; use the tus endpoint "
				   "/api/v1/uploads to resume uploads");
	/* a request's uploader sets nothing on the owner's link */
	const char *pw = req ? NULL : req_header(r, "X-Partage-Password");
	if (pw && set_password_or_reply(r, u, pw, &rc))
		return rc;
	if (!req && api_upload_folder_or_reply(r, NULL, u->folder, &rc))
		return rc;
	if (!req && header_count(r, "Max-Days", &u->max_days))
		return reply_error(r, PT_EBADREQ, NULL,
				   "bad request: Max-Days must be a positive "
				   "number of days");
	if (!req && header_count(r, "Max-Downloads", &u->max_downloads))
		return reply_error(r, PT_EBADREQ, NULL,
				   "bad request: Max-Downloads must be a "
				   "positive number");
	/* refuse before reading the body (and before 100 Continue) */
	if (cl && !pt_parse_u64(cl, strlen(cl), &len) && len > u->limit)
		return fail_reply(r, u->by_quota ? PT_ENOSPACE : PT_ETOOBIG,
				  "the upload");
	if ((err = sink_open(r, &u->sink, name->p, u->limit, u->by_quota)))
		return fail_reply(r, err, "the upload");
	if (cl && !pt_parse_u64(cl, strlen(cl), &len))
		blob_writer_expect(u->sink.w, len); /* the exact size */
	r->on_body = put_body;
	r->on_end = put_end;
	return REQ_OK;
}

req_res api_upload_put(struct pt_req *r)
{
	return put_start(r, &r->arg[0], NULL);
}

req_res api_request_put(struct pt_req *r)
{
	struct file_request *fr = pt_palloc(r->pool, sizeof(*fr));
	const char *id = pt_pstrndup(r->pool, r->arg[0].p, r->arg[0].n);
	req_res rc;
	if (api_request_gate_or_reply(r, id, fr, &rc))
		return rc;
	return put_start(r, &r->arg[1], fr);
}

/* ---- POST /api/v1/files (multipart/form-data) ---- */

static int part_finish(struct pt_req *r, struct upload *u)
{
	int err;
	if (!u->open)
		return 0;
	u->open = false;
	if (u->nfiles == PT_ARRAY_LEN(u->files))
		return PT_EPARTS;
	err = sink_commit(r, &u->sink, &u->files[u->nfiles]);
	if (err)
		return err;
	/* the quota is for the whole request: what this file used is gone */
	if (u->by_quota)
		u->limit -= u->files[u->nfiles].size;
	u->nfiles++;
	return 0;
}


static bool post_iter(void *cls, const char *key, const char *filename,
		      const char *data, uint64_t off, size_t size)
{
	struct pt_req *r = cls;
	struct upload *u = r->state;
	int err;

	if (u->err)
		return false;
	if (key && !filename && strcmp(key, "password") == 0) {
		if (pt_buf_add(&u->password, data, size)) {
			snprintf(u->errmsg, sizeof(u->errmsg),
				 "bad request: the password field is longer "
				 "than 1024 bytes");
			u->err = PT_EBADREQ;
			return false;
		}
		return true;
	}
	if (key && !filename && (strcmp(key, "max_days") == 0 ||
				 strcmp(key, "max_downloads") == 0)) {
		/* the form's fields, as the Max-Days / Max-Downloads headers,
		 * judged whole at the end (multipart_end): a form may hand a
		 * value over in pieces, and "0" of "05" is not the value */
		bool days = strcmp(key, "max_days") == 0;
		if (api_form_count_add(&u->count_field[days ? 0 : 1], off, data,
				       size)) {
			snprintf(u->errmsg, sizeof(u->errmsg),
				 "bad request: the %s field must be a whole "
				 "number from 1 to 1000000000",
				 key);
			u->err = PT_EBADREQ;
			return false;
		}
		return true;
	}
	if (!key || strcmp(key, "file") != 0)
		return true; /* other form fields are ignored */
	if (off == 0) {
		const char *fname = api_form_filename(r->pool, filename ? filename
									: "file");
		const char *why;
		size_t at = 0;

		if ((err = part_finish(r, u)))
			goto fail;
		/* the reply is sent after the body: keep what to say */
		if ((why = utf8_check(fname, strlen(fname), 0, &at))) {
			snprintf(u->errmsg, sizeof(u->errmsg),
				 "bad request: the file name %s (byte %zu)",
				 why, at);
			err = PT_EBADREQ;
			goto fail;
		}
		if ((err = sink_open(r, &u->sink, fname, u->limit,
				     u->by_quota)))
			goto fail;
		/* a file of the form is no bigger than the request */
		const char *cl = req_header(r, "Content-Length");
		uint64_t len;
		if (cl && !pt_parse_u64(cl, strlen(cl), &len) &&
		    len < u->limit)
			blob_writer_expect(u->sink.w, len);
		u->open = true;
	}
	if (size && (err = sink_write(&u->sink, data, size)))
		goto fail;
	return true;
fail:
	u->err = err;
	u->open = false;
	return false;
}

static int multipart_body(struct pt_req *r, const char *data, size_t n)
{
	struct upload *u = r->state;
	if (u->err)
		return 1;
	if (form_feed(u->form, data, n) && !u->err)
		u->err = PT_EBADREQ;
	if (u->err) {
		fail_reply(r, u->err, "the upload");
		return 1;
	}
	return 0;
}

static void pp_destroy_cb(void *arg)
{
	struct upload *u = arg;
	/* the form may hand buffered data to the iterator while freed: make
	 * it a no-op, the request is over */
	if (!u->err)
		u->err = PT_EINTERNAL;
	form_free(u->form);
	pt_buf_release(&u->password);
}

static req_res multipart_end(struct pt_req *r)
{
	struct upload *u = r->state;
	struct app *app = r->ctx;
	req_res rc;
	int err;

	if (u->err)
		return fail_reply(r, u->err, "the upload");
	/* the count fields, whole (an empty one, a form left blank, sets
	 * nothing); before the open file is committed */
	for (int i = 0; i < 2; i++)
		if (api_form_count_value(&u->count_field[i],
					 i ? &u->max_downloads : &u->max_days))
			return reply_error(r, PT_EBADREQ, NULL,
					   "bad request: the %s field must be "
					   "a whole number from 1 to 1000000000",
					   i ? "max_downloads" : "max_days");
	if ((err = part_finish(r, u)))
		return fail_reply(r, err, "the upload");
	if (u->nfiles == 0)
		return reply_error(r, PT_EBADREQ, NULL,
				   "bad request: no 'file' part in the form");
	if (check_blocked_or_reply(r, u, &rc))
		return rc;
	if (u->req) /* the owner's link: the uploader sets none of these */
		u->max_days = u->max_downloads = 0;
	else if (u->password.n &&
		 set_password_or_reply(r, u, u->password.p, &rc))
		return rc;
	struct link *links = pt_palloc(r->pool, u->nfiles * sizeof(*links));
	char(*tokens)[TOKEN_LEN + 1] =
		pt_palloc(r->pool, u->nfiles * sizeof(*tokens));
	u->linking = true;
	if ((err = create_links(r, u, links, tokens)))
		return fail_reply(r, err, "the upload");
	if (u->req)
		return request_reply(r, u, links, u->nfiles);
	json_t *arr = json_array();
	for (size_t i = 0; i < u->nfiles; i++) {
		json_t *o = api_file_json(app, &links[i]);
		json_object_set_new(o, "delete_token", json_string(tokens[i]));
		json_array_append_new(arr, o);
	}
	return reply_json(r, 201, json_pack("{s:o}", "files", arr));
}

static req_res multipart_start(struct pt_req *r, struct file_request *req)
{
	struct upload *u = pt_palloc(r->pool, sizeof(*u));
	const char *ct = req_header(r, "Content-Type");

	u->app = r->ctx;
	u->req = req;
	r->state = u;
	u->limit = api_upload_limit(r, &u->by_quota);
	request_limit(u);
	req_res rc;
	if (abuse_check_uploader_or_reply(r, &rc) ||
	    api_intake_check_or_reply(r, &rc) ||
	    (!req && api_upload_folder_or_reply(r, NULL, u->folder, &rc)))
		return rc;
	if (!req && (header_count(r, "Max-Days", &u->max_days) ||
		     header_count(r, "Max-Downloads", &u->max_downloads)))
		return reply_error(r, PT_EBADREQ, NULL,
				   "bad request: Max-Days and Max-Downloads "
				   "must be positive numbers");
	if (!ct || strncasecmp(ct, "multipart/form-data", 19) != 0)
		return reply_error(r, PT_EUNSUPPORTED, NULL,
				   "unsupported media type: send "
				   "multipart/form-data with 'file' parts");
	pt_buf_init(&u->password, 1024);
	u->form = form_new(r, 64 * 1024, post_iter, r);
	if (!u->form)
		return reply_error(r, PT_EBADREQ, NULL,
				   "bad request: malformed multipart "
				   "Content-Type (no boundary?)");
	pt_pool_cleanup_add(r->pool, pp_destroy_cb, u);
	r->on_body = multipart_body;
	r->on_end = multipart_end;
	return REQ_OK;
}

req_res api_upload_multipart(struct pt_req *r)
{
	return multipart_start(r, NULL);
}

req_res api_request_multipart(struct pt_req *r)
{
	struct file_request *fr = pt_palloc(r->pool, sizeof(*fr));
	const char *id = pt_pstrndup(r->pool, r->arg[0].p, r->arg[0].n);
	req_res rc;
	if (api_request_gate_or_reply(r, id, fr, &rc))
		return rc;
	return multipart_start(r, fr);
}
