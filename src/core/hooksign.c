/*
 * hooksign.c — webhook signatures (hooksign.h): HMAC-SHA256 of
 * "timestamp.body" with libsodium.
 */
#include "hooksign.h"

#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "../util/pt.h"
#include "../util/banned.h"

void hooksign_hmac(const char *secret, int64_t ts, const char *body,
		   size_t n, char out[HOOKSIGN_HEX_LEN + 1])
{
	crypto_auth_hmacsha256_state st;
	unsigned char mac[crypto_auth_hmacsha256_BYTES];
	char t[24];
	int tn = snprintf(t, sizeof(t), "%lld.", (long long)ts);

	crypto_auth_hmacsha256_init(&st, (const unsigned char *)secret,
				    strlen(secret));
	crypto_auth_hmacsha256_update(&st, (const unsigned char *)t,
				      (unsigned long long)tn);
	crypto_auth_hmacsha256_update(&st, (const unsigned char *)body, n);
	crypto_auth_hmacsha256_final(&st, mac);
	sodium_bin2hex(out, HOOKSIGN_HEX_LEN + 1, mac, sizeof(mac));
}

void hooksign_header(const char *secret, int64_t ts, const char *body,
		     size_t n, char out[HOOKSIGN_HEADER_MAX])
{
	char hex[HOOKSIGN_HEX_LEN + 1];
	hooksign_hmac(secret, ts, body, n, hex);
	snprintf(out, HOOKSIGN_HEADER_MAX, "t=%lld,v1=%s", (long long)ts, hex);
}

bool hooksign_verify(const char *secret, const char *header,
		     const char *body, size_t n, int64_t now,
		     int64_t tolerance)
{
	int64_t ts = -1;
	const char *p = header;
	char want[HOOKSIGN_HEX_LEN + 1];
	bool ok = false;

	if (!header)
		return false;
	/* the timestamp first: it is signed */
	while (*p) {
		const char *e = strchr(p, ',');
		size_t len = e ? (size_t)(e - p) : strlen(p);
		uint64_t v;
		if (len > 2 && !strncmp(p, "t=", 2) &&
		    !pt_parse_u64(p + 2, len - 2, &v) && v <= INT64_MAX)
			ts = (int64_t)v;
		p += len + (e ? 1 : 0);
	}
	if (ts < 0)
		return false;
	if (tolerance && (ts > now + tolerance || ts < now - tolerance))
		return false;
	hooksign_hmac(secret, ts, body, n, want);
	for (p = header; *p;) {
		const char *e = strchr(p, ',');
		size_t len = e ? (size_t)(e - p) : strlen(p);
		if (len == 3 + HOOKSIGN_HEX_LEN && !strncmp(p, "v1=", 3) &&
		    !sodium_memcmp(p + 3, want, HOOKSIGN_HEX_LEN))
			ok = true;
		p += len + (e ? 1 : 0);
	}
	return ok;
}
