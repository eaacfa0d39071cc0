/*
 * tus.c — `partage upload` of a regular file through the server's tus 1.0
 * endpoint, so that a dropped connection or a killed client costs one
 * chunk, not the whole file.
 *
 *   POST  /api/v1/uploads   Upload-Length, Upload-Metadata (filename,
 *                           folder, max_days, max_downloads) → 201,
 *                           Location, X-Delete-Token
 *   PATCH {upload URL}      Upload-Offset, Upload-Checksum: sha256 …, one
 *                           chunk of at most PARTAGE_UPLOAD_CHUNK bytes
 *                           streamed from the file → 204, Upload-Offset
 *   HEAD  {upload URL}      → Upload-Offset, after any failure
 *   GET   {upload URL}      Accept: application/json → the file object
 *
 * Within a run, a transport error, a timeout, 408, 409, 423, 429, 460,
 * 500, 502, 503 or 504 is retried after a wait (1, 2, 4, 8, 16, then 30 s,
 * or the reply's Retry-After when longer; at most PARTAGE_RETRY_MAX_WAIT),
 * up to TRIES_MAX failures in a row without progress: HEAD tells the offset
 * the server kept and the next PATCH continues from there.  Across runs,
 * the upload URL is recorded in the state file (state.c) as soon as the
 * upload exists, and removed when it is done; an upload the server no
 * longer has (404, 410: expired or terminated) starts over.
 *
 * Each chunk is hashed before it is sent (a second read of it, from the
 * page cache mostly), so a chunk corrupted on the way is refused (460) and
 * sent again; the server discards an interrupted chunk that carried a
 * checksum, so a resume starts at a chunk boundary.
 */
#define _GNU_SOURCE
#include "cli.h"

#include <errno.h>
#include <inttypes.h>
#include <openssl/evp.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../util/banned.h"

#define TUS_VERSION "1.0.0"
#define OCTET "application/offset+octet-stream"
#define CHUNK_DEFAULT ((uint64_t)32 << 20)
#define CHUNK_MIN ((uint64_t)4 << 10)
#define CHUNK_MAX ((uint64_t)1 << 30)
#define TRIES_MAX 10
#define WAIT_MAX 30
/* Times an upload may vanish on the server (404/410) and start over. */
#define RESTARTS_MAX 3

enum step { STEP_OK, STEP_RETRY, STEP_GONE, STEP_FAIL, STEP_NO_TUS };

struct tus_up {
	const struct cli_opts *o;
	const char *file, *name;
	int fd;
	uint64_t size, offset, chunk;
	struct cli_resume_key key;
	char *abspath;
	bool keep_state;       /* the state file is usable */
	char *url, *token;     /* the upload, its file's delete token */
	json_t *obj;           /* the file object, at the end */
	unsigned tries;        /* failures since the last progress */
	unsigned retry_after;  /* the last reply's Retry-After; 0 none */
	long status;           /* the last reply's status; 0 none */
	unsigned wait_max;
	bool read_err;         /* the failure is reading the file */
	struct cli_progress bar; /* over every PATCH of the upload */
	struct pt_buf msg;     /* why the last step failed */
};

/* An environment variable as a number in [lo, hi], else dflt (with a
 * warning when it is set but not such a number). */
static uint64_t env_number(const char *var, uint64_t lo, uint64_t hi,
			   uint64_t dflt)
{
	const char *v = getenv(var);
	uint64_t n;

	if (!v || !*v)
		return dflt;
	if (pt_parse_u64(v, strlen(v), &n) || n < lo || n > hi) {
		cli_err("ignoring %s='%s': not a whole number from %" PRIu64
			" to %" PRIu64, var, v, lo, hi);
		return dflt;
	}
	return n;
}

static void tus_request(struct cli_http *h, const char *method,
			const char *url)
{
	cli_http_init(h, method, url);
	cli_http_add_header(h, "Tus-Resumable: " TUS_VERSION);
	cli_http_add_header(h, "Accept: application/json");
}

/* A response header as a number; -1 when absent or not one. */
static int64_t header_u64(const struct cli_http *h, const char *name)
{
	char *v = cli_http_header(h, name);
	uint64_t n;
	int64_t ret = -1;

	if (v && !pt_parse_u64(v, strlen(v), &n) && n <= INT64_MAX)
		ret = (int64_t)n;
	free(v);
	return ret;
}

/* End the progress line before anything else goes to stderr. */
static void end_line(struct tus_up *up)
{
	cli_progress_end(&up->bar);
}

/*
 * What a finished request means: STEP_OK for a 2xx (the caller checks
 * which), STEP_RETRY for what a wait may cure, STEP_GONE when the server
 * no longer has the upload, STEP_FAIL otherwise; the reason in up->msg.
 */
static enum step judge(struct tus_up *up, const struct cli_http *h, int err)
{
	long s = h->status;

	up->retry_after = 0;
	up->status = err ? 0 : s;
	if (err && err > -4000) {
		/* a negative errno comes from reading the file */
		pt_buf_reset(&up->msg);
		pt_buf_adds(&up->msg, pt_strerror(err));
		up->read_err = true;
		return STEP_FAIL;
	}
	if (err) {
		cli_http_strerror(h, err, &up->msg);
		return err == PT_EUNAVAIL ? STEP_RETRY : STEP_FAIL;
	}
	if (s / 100 == 2)
		return STEP_OK;
	cli_http_reason(h, &up->msg);
	if (s == 404 || s == 410)
		return STEP_GONE;
	if (s == 408 || s == 409 || s == 423 || s == 429 || s == 460 ||
	    s == 500 || s == 502 || s == 503 || s == 504) {
		up->retry_after = cli_http_retry_after(h, 0);
		return STEP_RETRY;
	}
	return STEP_FAIL;
}

/* Wait before the next try, saying why; false when the tries are spent. */
static bool retry_wait(struct tus_up *up)
{
	unsigned secs;
	char *why;

	if (++up->tries > TRIES_MAX)
		return false;
	secs = up->tries > 5 ? WAIT_MAX : 1u << (up->tries - 1);
	if (up->retry_after > secs)
		secs = up->retry_after;
	if (secs > up->wait_max)
		secs = up->wait_max;
	end_line(up);
	why = xasprintf("upload of '%s' interrupted (%s), retrying", up->file,
			up->msg.p);
	cli_wait(up->o, secs, why);
	free(why);
	return true;
}

/* Append "key base64(value)" to a Upload-Metadata value. */
static void meta_add(struct pt_buf *b, const char *key, const char *value)
{
	size_t n = strlen(value);
	size_t len = sodium_base64_ENCODED_LEN(n,
					       sodium_base64_VARIANT_ORIGINAL);
	char *enc = xmalloc(len);

	sodium_bin2base64(enc, len, (const unsigned char *)value, n,
			  sodium_base64_VARIANT_ORIGINAL);
	pt_buf_addf(b, "%s%s %s", b->n ? "," : "", key, enc);
	free(enc);
}

static enum step step_create(struct tus_up *up)
{
	const struct cli_opts *o = up->o;
	char *url = xasprintf("%s/api/v1/uploads", o->server), *loc = NULL;
	char num[24], *tr = NULL;
	struct pt_buf meta;
	struct cli_http h;
	enum step r;
	int err;

	pt_buf_init(&meta, 64 * 1024);
	meta_add(&meta, "filename", up->name);
	if (o->folder)
		meta_add(&meta, "folder", o->folder);
	if (o->have_max_days) {
		snprintf(num, sizeof(num), "%" PRIu64, o->max_days);
		meta_add(&meta, "max_days", num);
	}
	if (o->have_max_downloads) {
		snprintf(num, sizeof(num), "%" PRIu64, o->max_downloads);
		meta_add(&meta, "max_downloads", num);
	}
	/* the server keeps its hash and leaves it out of what HEAD echoes */
	if (o->password)
		meta_add(&meta, "password", o->password);
	tus_request(&h, "POST", url);
	cli_http_add_header(&h, "Upload-Length: %" PRIu64, up->size);
	cli_http_add_header(&h, "Upload-Metadata: %s", meta.p);
	err = cli_http_perform(&h, o);
	tr = err ? NULL : cli_http_header(&h, "Tus-Resumable");
	if (!err && !tr && (h.status == 404 || h.status == 405)) {
		/* no tus here at all (an older or another server) */
		r = STEP_NO_TUS;
		goto fail;
	}
	r = judge(up, &h, err);
	if (r == STEP_GONE)
		r = STEP_FAIL; /* a 404 of the creation: not an upload's */
	if (r != STEP_OK)
		goto fail;
	loc = cli_http_header(&h, "Location");
	if (h.status != 201 || !loc || !*loc) {
		pt_buf_reset(&up->msg);
		pt_buf_addf(&up->msg, "the server made no upload (HTTP %ld "
			    "without Location)", h.status);
		r = STEP_FAIL;
		goto fail;
	}
	free(up->url);
	free(up->token);
	up->url = cli_url_resolve(o->server, loc);
	up->token = cli_http_header(&h, "X-Delete-Token");
	if (!up->token)
		up->token = xstrdup("");
	/* an empty upload is complete at once */
	int64_t off = header_u64(&h, "Upload-Offset");
	up->offset = off > 0 ? (uint64_t)off : 0;
	if (up->keep_state && up->offset < up->size &&
	    cli_state_put(&up->key, up->url, up->token))
		up->keep_state = false;
fail:
	cli_http_release(&h);
	pt_buf_release(&meta);
	free(loc);
	free(tr);
	free(url);
	return r;
}

static enum step step_head(struct tus_up *up)
{
	struct cli_http h;
	int64_t off, len;
	enum step r;

	tus_request(&h, "HEAD", up->url);
	r = judge(up, &h, cli_http_perform(&h, up->o));
	if (r != STEP_OK)
		goto fail;
	off = header_u64(&h, "Upload-Offset");
	len = header_u64(&h, "Upload-Length");
	pt_buf_reset(&up->msg);
	if (off < 0) {
		pt_buf_adds(&up->msg, "the server's HEAD has no Upload-Offset");
		r = STEP_FAIL;
	} else if (len != (int64_t)up->size || (uint64_t)off > up->size) {
		/* not this file's upload: make a new one */
		pt_buf_adds(&up->msg, "the server's upload has another length");
		r = STEP_GONE;
	} else {
		up->offset = (uint64_t)off;
	}
fail:
	cli_http_release(&h);
	return r;
}

/* The SHA-256 of the file's bytes [off, off + n), base64, into b64. */
static int chunk_digest(struct tus_up *up, uint64_t off, uint64_t n,
			char b64[64])
{
	size_t bufsz = 1u << 20;
	unsigned char *buf = xmalloc(bufsz), md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	int ret = 0;

	PT_ASSERT(ctx);
	EVP_DigestInit_ex(ctx, EVP_sha256(), NULL);
	while (n > 0) {
		size_t want = n < bufsz ? (size_t)n : bufsz;
		ssize_t r = pread(up->fd, buf, want, (off_t)off);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			ret = r < 0 ? -errno : PT_ECONFLICT;
			goto fail;
		}
		EVP_DigestUpdate(ctx, buf, (size_t)r);
		off += (uint64_t)r;
		n -= (uint64_t)r;
	}
	EVP_DigestFinal_ex(ctx, md, &mdlen);
	sodium_bin2base64(b64, 64, md, mdlen, sodium_base64_VARIANT_ORIGINAL);
fail:
	EVP_MD_CTX_free(ctx);
	free(buf);
	return ret;
}

/* Whether the file still is the one being sent (size, mtime). */
static bool file_unchanged(struct tus_up *up)
{
	struct stat st;

	return fstat(up->fd, &st) == 0 && (uint64_t)st.st_size == up->size &&
	       (int64_t)st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec ==
		       up->key.mtime_ns;
}

static enum step step_patch(struct tus_up *up)
{
	uint64_t n = up->size - up->offset;
	struct cli_http h;
	char b64[64];
	enum step r;
	int64_t off;
	int err;

	if (n > up->chunk)
		n = up->chunk;
	tus_request(&h, "PATCH", up->url);
	err = chunk_digest(up, up->offset, n, b64);
	if (!err && lseek(up->fd, (off_t)up->offset, SEEK_SET) < 0)
		err = -errno;
	if (err || !file_unchanged(up)) {
		pt_buf_reset(&up->msg);
		if (err && err != PT_ECONFLICT) {
			pt_buf_adds(&up->msg, pt_strerror(err));
			up->read_err = true;
		} else {
			pt_buf_adds(&up->msg, "the file changed during the "
					      "upload");
		}
		r = STEP_FAIL;
		goto fail;
	}
	h.in_fd = up->fd;
	h.in_size = (int64_t)n;
	h.bar = &up->bar;
	h.progress_base = up->offset;
	h.progress_total = up->size;
	h.progress_more = true;
	cli_http_add_header(&h, "Upload-Offset: %" PRIu64, up->offset);
	cli_http_add_header(&h, "Content-Type: " OCTET);
	cli_http_add_header(&h, "Upload-Checksum: sha256 %s", b64);
	err = cli_http_perform(&h, up->o);
	if (err && !file_unchanged(up)) {
		pt_buf_reset(&up->msg);
		pt_buf_adds(&up->msg, "the file changed during the upload");
		r = STEP_FAIL;
		goto fail;
	}
	r = judge(up, &h, err);
	if (r != STEP_OK)
		goto fail;
	off = header_u64(&h, "Upload-Offset");
	if (off < (int64_t)up->offset || (uint64_t)off > up->size) {
		/* ask where it stands */
		pt_buf_reset(&up->msg);
		pt_buf_addf(&up->msg, "the PATCH reply has %s Upload-Offset",
			    off < 0 ? "no" : "a wrong");
		r = STEP_RETRY;
		goto fail;
	}
	if ((uint64_t)off > up->offset)
		up->tries = 0; /* progress: the next failure waits 1 s */
	up->offset = (uint64_t)off;
fail:
	cli_http_release(&h);
	return r;
}

/* The digest of what the upload is created with (cli_resume_key.options):
 * the name, folder, limits, link password and the login it is sent with,
 * each field ended by a NUL. */
static void options_digest(const struct tus_up *up, char out[65])
{
	const struct cli_opts *o = up->o;
	const struct cli_cred *cr =
		!o->api_token && o->creds ? cli_creds_find(o->creds, o->server)
					  : NULL;
	crypto_hash_sha256_state st;
	unsigned char md[crypto_hash_sha256_BYTES];
	char num[64];

	crypto_hash_sha256_init(&st);
#define FIELD(s)                                                       \
	crypto_hash_sha256_update(&st, (const unsigned char *)(s),     \
				  strlen(s) + 1)
	FIELD("partage-upload-options-1");
	FIELD(up->name);
	FIELD(o->folder ? o->folder : "");
	snprintf(num, sizeof(num), "%d %" PRIu64, o->have_max_days,
		 o->have_max_days ? o->max_days : 0);
	FIELD(num);
	snprintf(num, sizeof(num), "%d %" PRIu64, o->have_max_downloads,
		 o->have_max_downloads ? o->max_downloads : 0);
	FIELD(num);
	FIELD(o->password ? o->password : "");
	FIELD(o->api_token ? o->api_token : cr ? cr->token : "");
#undef FIELD
	crypto_hash_sha256_final(&st, md);
	sodium_bin2hex(out, 65, md, sizeof(md));
}

/* Terminate an upload this run will not resume (tus DELETE; the URL is
 * the capability).  Best effort: the server expires it anyway. */
static void terminate(struct tus_up *up, const char *url)
{
	struct cli_http h;
	tus_request(&h, "DELETE", url);
	cli_http_perform(&h, up->o);
	cli_http_release(&h);
}

/* DELETE the file the upload made, with its delete token. */
static void unprotected_delete(struct tus_up *up)
{
	struct cli_http h;
	const char *id = cli_json_str(up->obj, "id");
	char *url;

	if (!id)
		return;
	url = xasprintf("%s/%s", up->o->server, id);
	cli_http_init(&h, "DELETE", url);
	if (*up->token)
		cli_http_add_header(&h, "X-Delete-Token: %s", up->token);
	cli_http_perform(&h, up->o);
	cli_http_release(&h);
	free(url);
}

/* GET the upload: the file object the last byte made. */
static enum step step_fetch(struct tus_up *up)
{
	struct cli_http h;
	enum step r;

	tus_request(&h, "GET", up->url);
	r = judge(up, &h, cli_http_perform(&h, up->o));
	if (r != STEP_OK)
		goto fail;
	json_decref(up->obj);
	up->obj = cli_http_json(&h);
	if (h.status != 200 || !cli_json_str(up->obj, "url")) {
		pt_buf_reset(&up->msg);
		pt_buf_adds(&up->msg, "the reply is not a file object");
		r = STEP_FAIL;
	} else if (up->o->password &&
		   !json_is_true(json_object_get(up->obj,
						 "password_protected"))) {
		/* a server that ignored the password (or an upload resumed
		 * from a run without --password): never leave the file open */
		unprotected_delete(up);
		pt_buf_reset(&up->msg);
		pt_buf_adds(&up->msg, "the server did not protect the file "
				      "with the password; it was deleted");
		r = STEP_FAIL;
	}
fail:
	cli_http_release(&h);
	return r;
}

/* Print the result as a PUT's: the share URL (or the file object with
 * its delete_token, --json) on stdout, the delete token on stderr. */
static void print_result(struct tus_up *up)
{
	if (up->o->json) {
		if (*up->token)
			json_object_set_new(up->obj, "delete_token",
					    json_string(up->token));
		cli_print_json(up->obj);
	} else {
		puts(cli_json_str(up->obj, "url"));
	}
	/* the URL line first, so a terminal shows each token after its URL */
	fflush(stdout);
	if (*up->token)
		fprintf(stderr, "delete token: %s\n", up->token);
}

int cli_tus_upload(const struct cli_opts *o, const char *file, int fd,
		   const struct stat *st, const char *name)
{
	enum { P_CREATE, P_HEAD, P_PATCH, P_FETCH, P_DONE } phase, next;
	struct tus_up up = { 0 };
	unsigned restarts = 0;
	bool resumed;
	enum step r;
	int ret = -1;

	up.o = o;
	up.file = file;
	up.name = name;
	up.fd = fd;
	up.size = (uint64_t)st->st_size;
	cli_progress_init(&up.bar, o, name, up.size);
	up.chunk = env_number("PARTAGE_UPLOAD_CHUNK", CHUNK_MIN, CHUNK_MAX,
			      CHUNK_DEFAULT);
	up.wait_max = (unsigned)env_number("PARTAGE_RETRY_MAX_WAIT", 0, 3600,
					   3600);
	pt_buf_init(&up.msg, 4096);
	up.abspath = realpath(file, NULL);
	up.keep_state = up.abspath != NULL;
	up.key.server = o->server;
	up.key.path = up.abspath;
	up.key.size = up.size;
	up.key.mtime_ns = (int64_t)st->st_mtim.tv_sec * 1000000000 +
			  st->st_mtim.tv_nsec;
	up.key.dev = (uint64_t)st->st_dev;
	up.key.ino = (uint64_t)st->st_ino;
	options_digest(&up, up.key.options);
	if (up.keep_state) {
		int err = cli_state_get(&up.key, &up.url, &up.token);
		if (err == PT_ECONFLICT) {
			/* options are fixed at creation: a run with other
			 * ones starts over rather than finish the old upload
			 * under the old ones */
			cli_err("'%s' was partly uploaded with other options "
				"(name, folder, limits, password or login): "
				"starting over",
				file);
			terminate(&up, up.url);
			cli_state_remove(&up.key);
			free(up.url);
			free(up.token);
			up.url = up.token = NULL;
		} else if (err && err != PT_ENOTFOUND) {
			up.keep_state = false;
		}
	}
	resumed = up.url != NULL;
	phase = resumed ? P_HEAD : P_CREATE;

	while (phase != P_DONE) {
		switch (phase) {
		case P_CREATE:
			r = step_create(&up);
			next = P_CREATE;
			break;
		case P_HEAD:
			r = step_head(&up);
			next = P_HEAD;
			if (r == STEP_OK && resumed)
				fprintf(stderr, "partage: upload of '%s' "
					"resuming at %" PRIu64 " of %" PRIu64
					" bytes\n", file, up.offset, up.size);
			break;
		case P_PATCH:
			r = step_patch(&up);
			next = P_HEAD;
			break;
		default:
			r = step_fetch(&up);
			/* 409: not complete after all; ask where it is */
			next = up.status == 409 ? P_HEAD : P_FETCH;
			if (r == STEP_GONE) {
				/* done, then deleted: nothing to resume */
				if (up.keep_state)
					cli_state_remove(&up.key);
				r = STEP_FAIL;
			}
			break;
		}
		if (r == STEP_NO_TUS) {
			ret = PT_EUNSUPPORTED;
			goto fail;
		}
		if (r == STEP_OK) {
			if (phase == P_FETCH)
				phase = P_DONE;
			else
				phase = up.offset == up.size ? P_FETCH
							     : P_PATCH;
			resumed = false;
			continue;
		}
		if (r == STEP_GONE && ++restarts <= RESTARTS_MAX) {
			/* expired or terminated on the server: start over */
			end_line(&up);
			cli_err("upload of '%s' is gone from the server (%s), "
				"starting over", file, up.msg.p);
			if (up.keep_state)
				cli_state_remove(&up.key);
			up.offset = 0;
			resumed = false;
			phase = P_CREATE;
			continue;
		}
		if (r == STEP_RETRY && retry_wait(&up)) {
			phase = next;
			continue;
		}
		end_line(&up);
		cli_err("cannot %s '%s': %s", up.read_err ? "read" : "upload",
			file, up.msg.p);
		goto fail;
	}
	end_line(&up);
	if (up.keep_state)
		cli_state_remove(&up.key);
	print_result(&up);
	ret = 0;
fail:
	json_decref(up.obj);
	free(up.url);
	free(up.token);
	free(up.abspath);
	pt_buf_release(&up.msg);
	return ret;
}
