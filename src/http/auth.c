/*
 * auth.c — credentials and cross-site checks of the auth phase (auth.h).
 */
#define _GNU_SOURCE
#include "auth.h"

#include <sodium.h>
#include <string.h>
#include <strings.h>

#include "../util/banned.h"

enum auth_kind auth_credential(const char *authorization, const char *cookie,
			       const char **token)
{
	*token = NULL;
	if (authorization) {
		if (strncasecmp(authorization, "Bearer ", 7) != 0)
			return AUTH_BAD_SCHEME;
		const char *t = authorization + 7;
		while (*t == ' ')
			t++;
		if (!*t)
			return AUTH_NONE;
		*token = t;
		return AUTH_BEARER;
	}
	if (!cookie || !*cookie)
		return AUTH_NONE;
	*token = cookie;
	return AUTH_COOKIE;
}

bool auth_csrf_ok(const char *sent, const char *want)
{
	size_t n = sent ? strlen(sent) : 0;
	return sent && n == strlen(want) && sodium_memcmp(sent, want, n) == 0;
}

bool auth_same_origin(const char *public_url, const char *origin,
		      const char *sec_fetch_site)
{
	const char *host = strstr(public_url, "://");
	if (sec_fetch_site && strcmp(sec_fetch_site, "same-origin") == 0 &&
	    (!origin || strcmp(origin, "null") == 0))
		return true;
	if (!origin || !host)
		return false;
	size_t n = (size_t)(strchrnul(host + 3, '/') - public_url);
	return strlen(origin) == n && strncasecmp(origin, public_url, n) == 0;
}
