/*
 * tus_int.h — what the files of the tus handlers share, and nothing else
 * includes: tus.c (the headers of every reply, lookup, errors, HEAD, GET,
 * DELETE, OPTIONS, expiry), tus_create.c (POST: creation and
 * concatenation), tus_patch.c (PATCH: this node's writers, the lease, the
 * durable offset, checksums) and tus_complete.c (the partial becomes a
 * file).  The protocol and its invariants are described in tus.c.
 *
 * Functions that reply return the reply's result (REQ_OK or an error
 * reply's); those that may refuse are NAME_or_reply: false, or true
 * with the reply's result in *rc.  None blocks longer than the metadata and blob stores it calls.
 */
#ifndef PT_TUS_INT_H
#define PT_TUS_INT_H

#include "handlers.h"

#include <openssl/evp.h>
#include <pthread.h>
#include <string.h>

#include "../core/ids.h"
#include "../core/tusparse.h"
#include "../store/runhash.h"

#define TUS_CHECKSUMS "sha1,sha256,md5"
#define OCTET "application/offset+octet-stream"

/* One PATCH (or the body of a creation-with-upload POST) in progress. */
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
	struct runhash rh;     /* the upload's bytes so far, as written */
	struct runhash rh_start; /* ...at `start` */
	struct runhash rh_ckpt;  /* ...at `checkpoint` */
	bool rh_ok;            /* rh covers every byte from 0 (else the
				* commit reads the partial back) */
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

/* This node's record of a request that writes an upload (tus_patch.c). */
struct writer {
	struct writer *next;
	pthread_mutex_t lock;  /* held while a chunk is written */
	char uid[UPLOAD_UID_LEN + 1];
	uint64_t progress_ns;
	bool superseded;
	bool pinned;           /* a final upload's copy: never taken over */
};

static inline bool is_final(const struct upload_row *u)
{
	return strncmp(u->concat, "final", 5) == 0;
}

static inline bool is_partial(const struct upload_row *u)
{
	return strcmp(u->concat, "partial") == 0;
}

/* tus.c */
/* Every request but OPTIONS must speak our version: false, or true after
 * a 412 with its result in *rc.  Adds the CORS and Tus-Resumable
 * headers. */
bool tus_version_or_reply(struct pt_req *r, req_res *rc);
void tus_header_u64(struct pt_req *r, const char *name, uint64_t v);
/* Upload-Expires, while u is open. */
void tus_header_expires(struct pt_req *r, const struct upload_row *u);
/* A header's non-negative integer: 0, PT_ENOTFOUND when absent,
 * PT_EBADREQ when malformed. */
int tus_header_number(struct pt_req *r, const char *name, int64_t *out);
/* Find an upload and refuse what cannot be touched: 404 unknown, 410
 * terminated, expired or consumed.  Returns false, or true with the
 * reply's result in *rc. */
bool tus_lookup_or_reply(struct pt_req *r, const char *uid,
			 struct upload_row *u, req_res *rc);
/* Whether the request carries a body (chunked, or a Content-Length > 0). */
bool tus_has_body(struct pt_req *r);
/* Reply to a failure with err's status and reason (413, 507, 451, 460,
 * 503, 500...); returns the reply's result. */
req_res tus_fail(struct pt_req *r, int err);

/* tus_patch.c */
/* Register a writer of uid (free it with tus_writer_remove); *alone says
 * whether it is this node's only one. */
struct writer *tus_writer_add(const char *uid, bool *alone);
void tus_writer_remove(struct writer *w);
/* How long a lease is taken or renewed for, in seconds. */
int64_t tus_lease_seconds(struct app *app);
/* Several nodes: a lease whose node's heartbeat is older than this (ms)
 * is free (repo_upload_claim); 0 with one node. */
int64_t tus_node_lease_ms(struct app *app);
/* Start writing the body of a PATCH (or of a creation-with-upload POST)
 * at p->u.received.  Returns REQ_OK with the body callbacks installed, or
 * the result of an error reply. */
req_res tus_patch_begin(struct pt_req *r, struct patch *p);

/* tus_complete.c */
/* The "folder" metadata value ("" when absent, "?" when not an id). */
const char *tus_meta_folder(struct pt_req *r, const struct tus_meta *m);
/* Metadata "max_days" / "max_downloads": absent → 0, else a decimal
 * whole number 1..10^9 (PT_EBADREQ otherwise). */
int tus_meta_count(const struct tus_meta *m, const char *key, int64_t *out);
/* Commit the partial of u (all its bytes in) as a blob and create its
 * link in *l, closing the upload; known: the running hash of its bytes
 * (NULL: read them back).  0 or a negative status; PT_ELEGAL after
 * refusing blocked content (nothing kept). */
int tus_complete(struct pt_req *r, const struct upload_row *u,
		 const struct runhash *known, struct link *l);
/* X-Partage-Id and X-Partage-Url of the file an upload became (none for
 * an upload through a file request: api_request_link_hidden). */
void tus_completed_headers(struct pt_req *r, const char *id);

#endif
