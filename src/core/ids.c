/*
 * ids.c — link ids and tokens from libsodium's CSPRNG.
 */
#include "ids.h"

#include <openssl/evp.h>
#include <sodium.h>
#include <string.h>

#include "../util/banned.h"

static const char alnum[] =
	"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

void id_fill(char *out, size_t n)
{
	for (size_t i = 0; i < n; i++)
		out[i] = alnum[randombytes_uniform(62)];
	out[n] = '\0';
}

void id_new(char out[ID_LEN + 1])
{
	id_fill(out, ID_LEN);
}

bool id_valid(const char *s, size_t n)
{
	if (n != ID_LEN)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (!((c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') ||
		      (c >= 'a' && c <= 'z')))
			return false;
	}
	return true;
}

void token_new(char out[TOKEN_LEN + 1])
{
	unsigned char raw[32];
	randombytes_buf(raw, sizeof(raw));
	/* never a leading '-' (base64url's 62nd digit): a voucher or token
	 * typed after a command (`partage redeem CODE`) would be read as an
	 * option */
	while ((raw[0] >> 2) == 62)
		randombytes_buf(raw, 1);
	sodium_bin2base64(out, TOKEN_LEN + 1, raw, sizeof(raw),
			  sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	sodium_memzero(raw, sizeof(raw));
}

void token_hash(const char *token, size_t n, char out[TOKEN_HASH_LEN + 1])
{
	unsigned char md[32];
	unsigned int mdlen = 0;
	EVP_Digest(token, n, md, &mdlen, EVP_sha256(), NULL);
	sodium_bin2hex(out, TOKEN_HASH_LEN + 1, md, sizeof(md));
}

bool token_check(const char *token, size_t n, const char *stored_hex)
{
	char h[TOKEN_HASH_LEN + 1];
	if (!stored_hex || strlen(stored_hex) != TOKEN_HASH_LEN)
		return false;
	token_hash(token, n, h);
	return sodium_memcmp(h, stored_hex, TOKEN_HASH_LEN) == 0;
}
