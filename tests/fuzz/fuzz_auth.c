/*
 * fuzz_auth.c — libFuzzer target for the request-free parts of the auth
 * phase (http/auth.c): which credential a request carries (Authorization
 * or the session cookie), the X-CSRF-Token comparison and the same-origin
 * test that lets a plain HTML form of ours post without the token.
 * Input: byte 0 is a mask of which headers are present, the rest is split
 * at NUL into Authorization, cookie value, X-CSRF-Token, the session's
 * CSRF token, Origin, Sec-Fetch-Site, public_url.  Checks against an
 * independent reading of auth.h:
 *   - Authorization present: BEARER exactly when it starts with "Bearer "
 *     in any case and something other than spaces follows; the token is
 *     what follows, without leading spaces; the cookie is never used;
 *   - otherwise COOKIE exactly when the cookie is non-empty, token = it;
 *   - a CSRF token is accepted exactly when it is byte-equal to the
 *     session's, and an absent one never;
 *   - same-origin exactly when Sec-Fetch-Site is "same-origin" with no
 *     Origin or "null", or Origin equals public_url up to the first '/'
 *     after "://" (case aside); a cross-site Sec-Fetch-Site with a foreign
 *     Origin never passes.
 */
#define _GNU_SOURCE
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "http/auth.h"
#include "util/pt.h"
#include "util/banned.h"

enum { F_AUTH, F_COOKIE, F_CSRF, F_WANT, F_ORIGIN, F_SITE, F_URL, NF };

static bool ci_prefix(const char *s, const char *p)
{
	for (; *p; s++, p++) {
		char a = *s, b = *p;
		if (a >= 'A' && a <= 'Z')
			a = (char)(a - 'A' + 'a');
		if (b >= 'A' && b <= 'Z')
			b = (char)(b - 'A' + 'a');
		if (a != b)
			return false;
	}
	return true;
}

static bool ref_same_origin(const char *url, const char *origin,
			    const char *site)
{
	if (site && !strcmp(site, "same-origin") &&
	    (!origin || !strcmp(origin, "null")))
		return true;
	const char *h = strstr(url, "://");
	if (!origin || !h)
		return false;
	const char *slash = strchr(h + 3, '/');
	size_t n = slash ? (size_t)(slash - url) : strlen(url);
	return strlen(origin) == n && ci_prefix(url, origin);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *f[NF];
	if (size < 1)
		return 0;
	uint8_t mask = data[0];
	char *buf = malloc(size + NF);
	memcpy(buf, data + 1, size - 1);
	memset(buf + size - 1, 0, NF + 1);
	char *p = buf, *end = buf + size - 1;
	for (int i = 0; i < NF; i++) {
		f[i] = p;
		p += strlen(p) + 1;
		if (p > end)
			p = end;
	}
	/* the mask drops headers (the public URL is always configured) */
	for (int i = 0; i < NF - 1; i++)
		if (!(mask & (1u << i)) && i != F_WANT)
			f[i] = NULL;

	const char *token = (const char *)1;
	enum auth_kind k = auth_credential(f[F_AUTH], f[F_COOKIE], &token);
	if (f[F_AUTH]) {
		const char *a = f[F_AUTH];
		if (!ci_prefix(a, "bearer ")) {
			PT_ASSERT(k == AUTH_BAD_SCHEME && token == NULL);
		} else {
			const char *t = a + 7;
			while (*t == ' ')
				t++;
			if (*t) {
				PT_ASSERT(k == AUTH_BEARER && token == t);
				PT_ASSERT(token[0] != ' ');
			} else {
				PT_ASSERT(k == AUTH_NONE && token == NULL);
			}
		}
	} else if (f[F_COOKIE] && *f[F_COOKIE]) {
		PT_ASSERT(k == AUTH_COOKIE && token == f[F_COOKIE]);
	} else {
		PT_ASSERT(k == AUTH_NONE && token == NULL);
	}

	bool csrf = auth_csrf_ok(f[F_CSRF], f[F_WANT]);
	PT_ASSERT(csrf == (f[F_CSRF] && strcmp(f[F_CSRF], f[F_WANT]) == 0));
	PT_ASSERT(!auth_csrf_ok(NULL, f[F_WANT]));
	PT_ASSERT(auth_csrf_ok(f[F_WANT], f[F_WANT]));

	bool same = auth_same_origin(f[F_URL], f[F_ORIGIN], f[F_SITE]);
	PT_ASSERT(same == ref_same_origin(f[F_URL], f[F_ORIGIN], f[F_SITE]));
	if (f[F_SITE] && !strcmp(f[F_SITE], "cross-site") && f[F_ORIGIN] &&
	    strcasecmp(f[F_ORIGIN], "https://files.example") != 0)
		PT_ASSERT(!auth_same_origin("https://files.example/",
					    f[F_ORIGIN], f[F_SITE]));
	free(buf);
	return 0;
}
