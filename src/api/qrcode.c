/*
 * qrcode.c — GET /qr/{id}: the QR code of a file's public link
 * (PUBLIC_URL/ID, the "url" of its JSON) as SVG, for the upload cards and
 * the file page (core/qr.h draws it).
 *
 * Only this server's own links: the text is made here from an id that
 * names a live file (the link lookup: 404 for an unknown id, counted
 * against the address's enumeration budget like any other lookup; 410
 * for a deleted one), never taken from the request, so the endpoint is
 * not a QR generator for arbitrary text.  A password-protected file's
 * code is its page's link, which asks for the password as the link does.
 *
 * Cached: the code of an id never changes while public_url stays, so the
 * reply is public for a day with a strong ETag over the text, and
 * If-None-Match answers 304 without drawing.
 */
#define _GNU_SOURCE
#include "handlers.h"

#include <stdio.h>
#include <string.h>

#include "../core/qr.h"
#include "../http/cond.h"
#include "../http/reply.h"
#include "../util/buf.h"
#include "../util/banned.h"

req_res api_qr(struct pt_req *r)
{
	struct app *app = r->ctx;
	struct link l;
	req_res rc;
	struct pt_buf b;
	char etag[32];

	if (api_link_lookup_or_reply(r, r->arg[0].p, &l, &rc, false))
		return rc;
	const char *url = pt_psprintf(r->pool, "%s/%s", app->public_url, l.id);
	snprintf(etag, sizeof(etag), "\"qr1-%08x\"", pt_hash_str(url));
	req_reply_header(r, "ETag", etag);
	req_reply_header(r, "Cache-Control", "public, max-age=86400");
	const char *inm = req_header(r, "If-None-Match");
	if (inm && cond_etag_list_match(inm, etag, true))
		return reply_empty(r, 304);
	pt_buf_init(&b, 256 * 1024);
	int err = qr_svg(&b, url, strlen(url));
	if (err) {
		pt_buf_release(&b);
		/* a public_url so long that its links fit no QR code */
		return reply_error(r, PT_EINTERNAL, NULL,
				   "cannot draw the QR code of '%s': %s", l.id,
				   pt_strerror(err));
	}
	size_t n;
	char *svg = pt_buf_detach(&b, &n);
	struct resp *resp = resp_new(svg, n, RESP_FREE);
	resp_header(resp, "Content-Type", "image/svg+xml");
	resp_header(resp, "X-Content-Type-Options", "nosniff");
	/* an SVG opened on its own runs no script of ours or anyone's */
	resp_header(resp, "Content-Security-Policy",
		    "default-src 'none'; style-src 'unsafe-inline'");
	return reply_queue(r, 200, resp);
}
