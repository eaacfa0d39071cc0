/*
 * request.h — what every resource handler asks about a request (request.c):
 * who sends it, its JSON body, the link it names and its password, its
 * file object and URLs, and the checks on client text, counts, URLs to
 * fetch, upload limits and intake.  Resource files use these, not each
 * other's helpers (docs/internals.md, "Layers").
 */
#ifndef PT_REQUEST_H
#define PT_REQUEST_H

#include "app.h"

/* The principal of a request (anonymous when nobody logged in). */
const struct principal *api_who(struct pt_req *r);
/* Read a JSON object body (at most 64 KiB), then call done with it (NULL
 * when the body was not a JSON object: done replies 400). */
req_res api_json_body(struct pt_req *r,
		      req_res (*done)(struct pt_req *r, json_t *o));
/* The object a JSON body of n bytes holds (the body's UTF-8 was checked
 * first), or NULL when it is empty, not JSON (jansson, no "\u0000") or
 * not an object.  The caller owns the object.  Never blocks. */
json_t *api_json_object(const char *p, size_t n);

/* A link's virus-scan state for its JSON and page: "pending", "clean",
 * "infected", "error", or NULL when never scanned and [scan] is off. */
const char *api_scan_state(struct app *app, int state);
/* The file object of a link (absolute URLs). */
json_t *api_file_json(struct app *app, const struct link *l);
/* The absolute URL of l's thumbnail (/thumb/{id}, pool memory), or NULL
 * when it has none (yet).  Queries the database. */
const char *api_thumb_url(struct app *app, struct pt_pool *pool,
			  const struct link *l);
/* When the link expires under the current rules if nothing changes (the
 * uploader's Max-Days, or inactivity past the owner tier's retention);
 * 0: never.  A download pushes the inactivity limit back. */
int64_t api_link_expiry(struct app *app, const struct link *l);
/* Whether the stores can take an upload now, asked before its body: false, or
 * true with the reply's result in *rc (503 while the database is known to be
 * down, 507 when its announced length, Upload-Length or Content-Length,
 * would leave less than the floor free: storage.min_free_bytes plus what
 * the reserve misses, reserve.h). */
bool api_intake_check_or_reply(struct pt_req *r, req_res *rc);
/* Client text that partage stores (utf8_check with its flags): false,
 * or true with the result of a 400 reply in *rc, "bad request: WHAT is not valid
 * UTF-8 (byte N)".  The one check at every edge.  Names are checked
 * without flags: their control characters are removed by
 * disp_sanitize_name (tus T31: sanitised, never echoed raw), not refused. */
bool api_text_check_or_reply(struct pt_req *r, const char *what, const char *s,
			     size_t n, unsigned flags, req_res *rc);
/* A URL a client gives the server to fetch or post to (remote uploads,
 * webhooks): at most max bytes, UTF-8, no spaces or control characters,
 * and passing the outbound guard g (netguard_url_check: http(s), a host,
 * no credentials, no refused address literal).  false, or true with *rc
 * the result of a 400 reply, or of a 403 when g refuses the address
 * ("forbidden: WHY" then note, which may be "").  Never blocks (no
 * resolution). */
struct netguard;
bool api_url_check_or_reply(struct pt_req *r, const struct netguard *g,
			    const char *u, size_t max, const char *note,
			    req_res *rc);
/* A count of days or downloads (the Max-Days and Max-Downloads headers,
 * the form's max_days and max_downloads): 1 to 10^9 in at most 19
 * digits, spaces and tabs around allowed.  0 with *out set, or
 * PT_EBADREQ.  Never blocks. */
int api_count_parse(const char *v, size_t len, int64_t *out);
/* A multipart form's count field as form.h hands it over: in chunks, each at
 * its offset in the value.  add: 0, or PT_EBADREQ once the value cannot
 * fit (23 bytes).  value: judged whole (a chunk alone may be the "0" of
 * "05"): 0 with *out set, or left alone when the field is absent or
 * blank; PT_EBADREQ as api_count_parse. */
struct form_count {
	char v[24];
};
int api_form_count_add(struct form_count *f, uint64_t off, const char *data,
		       size_t n);
int api_form_count_value(const struct form_count *f, int64_t *out);
/* A multipart part's filename with the escapes browsers and curl -F use
 * undone: "%22" to '"', "%0D" and "%0A" to a space (any case), nothing
 * else; pool memory, never longer than name. */
char *api_form_filename(struct pt_pool *pool, const char *name);
/* The largest upload the request's principal may make now: the tier's
 * size limit under storage.max_file_bytes, or the quota left when less
 * (policy_upload_limit; never unlimited); *by_quota when the storage
 * quota set it (refuse with 507). */
uint64_t api_upload_limit(struct pt_req *r, bool *by_quota);
/* Password-protected links: the password from ?password= or the
 * X-Partage-Password header must match (Argon2id).  false, or true
 * with *rc the result of a 401/429/503 reply or of a suspension (the handler
 * runs again when the hash is done: see pwcheck.c). */
bool api_link_password_or_reply(struct pt_req *r, const struct link *l,
				req_res *rc);
/* The check behind it, for the page's form too: pw against the link's
 * password under the wrong-password limits (429 with Retry-After when
 * over one, and no hash is run).  false with *right: right, or wrong
 * (counted, nothing replied); true with *rc: replied or suspended, as
 * above. */
bool api_link_password_check_or_reply(struct pt_req *r, const struct link *l,
				      const char *pw, bool *right, req_res *rc);

/* MIME type of content from its first bytes (libmagic), pool memory. */
char *api_sniff_mime(struct pt_pool *pool, const void *p, size_t n);
/* "<public_url>/<id>/<escaped name>" into pool memory. */
char *api_download_url(struct app *app, struct pt_pool *pool,
		       const struct link *l);
/* Look up a link for a request and reply 404/410/503 when it cannot be
 * served (bytes: 451 instead of 410 for legal removals, on the direct
 * URL): returns false with *l filled, or true with the result of the
 * error reply in *rc.  Unknown ids count against the address's
 * enumeration limit (429 past it). */
bool api_link_lookup_or_reply(struct pt_req *r, const char *id, struct link *l,
			      req_res *rc, bool bytes);
/* An id looked up and not found (a link, a folder): count it against the
 * address's budget, abuse.unknown_ids_per_minute, the same on every
 * route (the link checker counts its own, in input order).  false, or true
 * with a 429 reply's result (Retry-After set) in *rc. */
bool api_unknown_id_or_reply(struct pt_req *r, req_res *rc);

#endif
