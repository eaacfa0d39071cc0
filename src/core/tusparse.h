/*
 * tusparse.h — parsers for the tus 1.0.0 request headers.
 *
 *   Upload-Metadata: filename d29ybGRfZG9taW5hdGlvbl9wbGFuLnBkZg==,is_confidential
 *                    key SP base64 *( "," key [SP base64] )
 *   Upload-Concat:   partial  |  final;/api/v1/uploads/a https://h/api/v1/uploads/b
 *   Upload-Checksum: sha1 Kq5sNclPz7QV2+lfQIuc6R7oRu0=
 *
 * Pure functions over NUL-terminated header values; decoded values live in
 * the caller's pool.  Each returns 0 or PT_EBADREQ for a malformed value.
 */
#ifndef PT_TUSPARSE_H
#define PT_TUSPARSE_H

#include <stdbool.h>
#include <stddef.h>

#include "../util/pool.h"

#define TUS_META_MAX 32
/* Partial uploads one final may join.  Each costs the final a lookup, a
 * lease and an open file, and tus clients split an upload into a few
 * parts (tus-js-client's parallelUploads, Uppy: single digits), so 64
 * leaves room without letting one request name thousands. */
#define TUS_CONCAT_MAX 64

struct tus_meta {
	size_t n;
	struct {
		char *key;   /* non-empty, no space/comma/control */
		char *value; /* decoded, NUL-terminated; "" when absent */
		size_t len;  /* decoded length (may contain NUL bytes) */
	} kv[TUS_META_MAX];
};

/* Keys must be unique; values standard base64 with padding. */
int tus_metadata_parse(struct pt_pool *pool, const char *hdr,
		       struct tus_meta *out);
/* The value of key, or NULL. */
const char *tus_metadata_get(const struct tus_meta *m, const char *key,
			     size_t *len);
/* hdr (a valid Upload-Metadata) without the pair of key, the other pairs
 * as they were sent, in order (pool memory). */
char *tus_metadata_without(struct pt_pool *pool, const char *hdr,
			   const char *key);

/* "partial" → *partial; "final;URL…" → each URL's last path segment (the
 * upload id) in uids[0..*n), room for TUS_CONCAT_MAX.  PT_ELIMIT (not
 * PT_EBADREQ) when the list is well formed so far but longer than that.
 * The same id twice is not refused here: the caller says which. */
int tus_concat_parse(struct pt_pool *pool, const char *hdr, bool *partial,
		     char **uids, size_t *n);

/* "<algo> <base64 digest>": algo lower-case [a-z0-9-]{1,15}.  The digest
 * is decoded into digest (64 bytes at least). */
int tus_checksum_parse(const char *hdr, char algo[16], unsigned char *digest,
		       size_t *dlen);

#endif
