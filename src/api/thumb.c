/*
 * thumb.c — GET/HEAD /thumb/{id} (issue 16): the thumbnail of a file, a
 * JPEG that fits 640 × 640 (core/thumb.h), made in the background by the
 * media queue (media.c) and stored as a blob of its own (repo_thumbs.c).
 *
 * The thumbnail is shown to whoever may see the file: the link's state
 * is judged as for its bytes (removed, expired, infected, a scan pending
 * with scan.pending_downloads = 0: refused as the download is), and a password-protected link wants its password (query
 * `password` or X-Partage-Password, checked with the same limits).  The
 * ETag is the thumbnail blob's hash, so If-None-Match gets a 304 through
 * the download's conditional code (http/cond.c); Cache-Control lets any
 * cache keep an unprotected link's thumbnail an hour (a link removed
 * since may show there that long), a protected one's only the browser.
 */
#define _GNU_SOURCE
#include "download.h"
#include "handlers.h"

#include <stdio.h>
#include <string.h>

#include "../core/thumb.h"
#include "../http/range.h"
#include "../http/reply.h"
#include "../util/banned.h"

#define THUMB_CACHE_PUBLIC "public, max-age=3600"
#define THUMB_CACHE_PRIVATE "private, max-age=3600"

req_res api_thumb(struct pt_req *r)
{
	struct app *app = r->ctx;
	struct db *db = app_db(app);
	struct link l;
	struct thumb_row t;
	struct blob_reader *rd = NULL;
	req_res rc;
	char etag[BLOB_HEX_LEN + 3], lastmod[32];

	if (api_link_lookup_or_reply(r, r->arg[0].p, &l, &rc, true))
		return rc;
	if (api_link_password_or_reply(r, &l, &rc))
		return rc;
	/* as the bytes: not while a scan that holds downloads is pending */
	if (scan_download_or_reply(r, &l, &rc))
		return rc;
	if (!db)
		return reply_error(r, PT_EUNAVAIL, NULL, API_DB_DOWN);
	int err = repo_thumb_get(db, l.sha256, &t);
	if (err && err != PT_ENOTFOUND)
		return reply_error(r, err, NULL,
				   "cannot look up the thumbnail of '%s': %s",
				   l.id, pt_strerror(err));
	if (err || t.state != THUMB_DONE ||
	    blob_reader_open(app->blobs, t.thumb, &rd))
		return reply_error(r, PT_ENOTFOUND, "no-thumbnail",
				   "not found: '%s' has no thumbnail%s", l.id,
				   err ? " (yet)" : "");
	uint64_t size = blob_reader_size(rd);
	if (!size || size > THUMB_OUT_MAX) {
		blob_reader_close(rd);
		return reply_error(r, PT_ECORRUPT, NULL,
				   "stored data is corrupt: the thumbnail of "
				   "'%s' is %llu bytes",
				   l.id, (unsigned long long)size);
	}
	snprintf(etag, sizeof(etag), "\"%s\"", t.thumb);
	pt_http_date(t.created, lastmod);
	struct range_set rs;
	enum range_result rr;
	const char *range_hdr;
	if (api_validate_or_reply(r, etag, t.created, lastmod, size, &rs, &rr,
				  &range_hdr, &rc)) {
		blob_reader_close(rd);
		return rc; /* 304, 412 */
	}
	/* small: read whole, answered whole (a Range is ignored: 200) */
	char *p = pt_palloc(r->pool, size);
	uint64_t got = 0;
	while (got < size) {
		ssize_t k = blob_reader_pread(rd, p + got, size - got, got);
		if (k <= 0)
			break;
		got += (uint64_t)k;
	}
	blob_reader_close(rd);
	if (got != size) {
		pt_log("thumb: the thumbnail %s of %s cannot be read", t.thumb,
		       l.id);
		return reply_error(r, PT_EINTERNAL, NULL,
				   "internal error: the thumbnail of '%s' is "
				   "unavailable",
				   l.id);
	}
	bool protected = l.password_hash && *l.password_hash;
	struct resp *resp = resp_new(p, size, RESP_COPY);
	resp_header(resp, "Content-Type", "image/jpeg");
	resp_header(resp, "ETag", etag);
	resp_header(resp, "Last-Modified", lastmod);
	resp_header(resp, "Cache-Control",
		    protected ? THUMB_CACHE_PRIVATE : THUMB_CACHE_PUBLIC);
	resp_header(resp, "X-Content-Type-Options", "nosniff");
	r->bytes_out = r->method == HTTP_HEAD ? 0 : size;
	return reply_queue(r, 200, resp);
}
