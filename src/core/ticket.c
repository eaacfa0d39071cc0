/*
 * ticket.c — issuing and verifying wait tickets with libsodium's
 * crypto_auth (HMAC-SHA-512-256), compared in constant time.
 */
#include "ticket.h"

#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "../util/pt.h"
#include "../util/banned.h"

static void mac(const unsigned char key[TICKET_KEY_LEN], const char *id,
		const char *ip, int64_t issued, int64_t wait,
		unsigned char out[crypto_auth_hmacsha512256_BYTES])
{
	crypto_auth_hmacsha512256_state st;
	char nums[48];
	int n = snprintf(nums, sizeof(nums), "%lld%c%lld", (long long)issued,
			 '\0', (long long)wait);
	crypto_auth_hmacsha512256_init(&st, key, TICKET_KEY_LEN);
	crypto_auth_hmacsha512256_update(&st, (const unsigned char *)"ticket",
					 7);
	crypto_auth_hmacsha512256_update(&st, (const unsigned char *)id,
					 strlen(id) + 1);
	crypto_auth_hmacsha512256_update(&st, (const unsigned char *)ip,
					 strlen(ip) + 1);
	crypto_auth_hmacsha512256_update(&st, (const unsigned char *)nums,
					 (unsigned long long)n);
	crypto_auth_hmacsha512256_final(&st, out);
}

void ticket_issue(const unsigned char key[TICKET_KEY_LEN], const char *id,
		  const char *ip, int64_t now, int64_t wait,
		  char out[TICKET_MAX])
{
	unsigned char m[crypto_auth_hmacsha512256_BYTES];
	char b64[64];
	mac(key, id, ip, now, wait, m);
	sodium_bin2base64(b64, sizeof(b64), m, sizeof(m),
			  sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	snprintf(out, TICKET_MAX, "%lld.%lld.%s", (long long)now,
		 (long long)wait, b64);
}

enum ticket_status ticket_verify(const unsigned char key[TICKET_KEY_LEN],
				 const char *ticket, const char *id,
				 const char *ip, int64_t now,
				 int64_t *retry_after)
{
	unsigned char want[crypto_auth_hmacsha512256_BYTES], got[crypto_auth_hmacsha512256_BYTES];
	uint64_t issued, wait;
	size_t glen = 0;
	const char *d1, *d2, *end = NULL;

	if (!ticket || !*ticket)
		return TICKET_MISSING;
	if (strlen(ticket) >= TICKET_MAX || !(d1 = strchr(ticket, '.')) ||
	    !(d2 = strchr(d1 + 1, '.')) ||
	    pt_parse_u64(ticket, (size_t)(d1 - ticket), &issued) ||
	    pt_parse_u64(d1 + 1, (size_t)(d2 - d1 - 1), &wait) ||
	    issued > (uint64_t)INT64_MAX / 2 || wait > 86400 * 365)
		return TICKET_INVALID;
	if (sodium_base642bin(got, sizeof(got), d2 + 1, strlen(d2 + 1), NULL,
			      &glen, &end,
			      sodium_base64_VARIANT_URLSAFE_NO_PADDING) ||
	    glen != sizeof(got) || *end)
		return TICKET_INVALID;
	mac(key, id, ip, (int64_t)issued, (int64_t)wait, want);
	if (sodium_memcmp(want, got, sizeof(got)) != 0)
		return TICKET_INVALID;
	int64_t ready = (int64_t)(issued + wait);
	if (now < ready) {
		if (retry_after)
			*retry_after = ready - now;
		return TICKET_EARLY;
	}
	if (now > ready + TICKET_VALID)
		return TICKET_EXPIRED;
	return TICKET_OK;
}
