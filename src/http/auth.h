/*
 * auth.h — the request-free parts of the auth phase (api_authenticate_or_reply in
 * api/accounts.c): which credential a request carries, and the checks
 * that stop a cross-site page from using a browser's session cookie.
 * Header values in (NULL when absent), answers out; no I/O, no
 * allocation, thread-safe.  The Cookie header itself is split by
 * libmicrohttpd (MHD_COOKIE_KIND); what reaches here is the session
 * cookie's value.
 */
#ifndef PT_AUTH_H
#define PT_AUTH_H

#include <stdbool.h>

enum auth_kind {
	AUTH_NONE = 0,   /* no credential (or an empty one): anonymous */
	AUTH_BEARER,     /* Authorization: Bearer TOKEN */
	AUTH_COOKIE,     /* the session cookie (CSRF rules apply) */
	AUTH_BAD_SCHEME, /* Authorization with another scheme: 401 */
};

/* The credential of a request.  An Authorization header wins over the
 * cookie: "Bearer" in any case and one space, then the token after any
 * more spaces (*token points into authorization).  Without one, the
 * session cookie's value (*token = cookie).  An empty token is
 * AUTH_NONE; *token is NULL unless BEARER or COOKIE. */
enum auth_kind auth_credential(const char *authorization, const char *cookie,
			       const char **token);

/* The X-CSRF-Token sent (NULL: none) equals the session's, compared in
 * constant time for a given length. */
bool auth_csrf_ok(const char *sent, const char *want);

/* A browser says the request comes from one of this site's pages: the
 * Fetch metadata header Sec-Fetch-Site is "same-origin" and Origin is
 * absent or "null", or Origin is public_url's scheme://host[:port]
 * (compared without case).  Scripts cannot set either, and a cross-site
 * form carries "cross-site" and its own origin.  (Our pages'
 * Referrer-Policy: no-referrer makes Chromium send "Origin: null" on a
 * form's POST, so Sec-Fetch-Site is what a form of ours usually shows.) */
bool auth_same_origin(const char *public_url, const char *origin,
		      const char *sec_fetch_site);

#endif
