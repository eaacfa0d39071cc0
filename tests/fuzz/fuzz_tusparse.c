/*
 * fuzz_tusparse.c — libFuzzer target for the tus header parsers.  The
 * first byte picks the parser (mod 3), the rest is the header value (cut
 * at the first NUL, as a header would be).  Checks the invariants the
 * handlers in api/tus.c rely on:
 *   Upload-Metadata: at most TUS_META_MAX pairs, keys non-empty printable
 *     ASCII without space or comma, unique; values NUL-terminated at their
 *     decoded length; tus_metadata_get finds each key's own value; a value
 *     re-encoded as base64 and parsed again gives the same pairs.
 *   Upload-Concat: "partial" alone, or 1..TUS_CONCAT_MAX upload ids of
 *     1..64 alphanumerics, each a substring of the header.
 *   Upload-Checksum: algo 1..15 of [a-z0-9-] (lowercase), the prefix of the
 *     header before its one space; digest 1..64 bytes that re-encode to
 *     the rest of the header.
 * On failure, the outputs are not looked at (they may be partly written).
 */
#include <sodium.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/tusparse.h"
#include "util/pool.h"
#include "util/pt.h"
#include "util/banned.h"

static bool key_ok(const char *k)
{
	if (!*k)
		return false;
	for (const unsigned char *p = (const unsigned char *)k; *p; p++)
		if (*p <= 0x20 || *p >= 0x7f || *p == ',')
			return false;
	return true;
}

static void check_meta(struct pt_pool *pool, const char *hdr)
{
	struct tus_meta m, again;

	if (tus_metadata_parse(pool, hdr, &m) != 0)
		return;
	PT_ASSERT(m.n <= TUS_META_MAX);
	/* rebuild the header from what was parsed */
	size_t cap = strlen(hdr) * 2 + 16, off = 0;
	char *re = pt_palloc(pool, cap);
	for (size_t i = 0; i < m.n; i++) {
		const char *k = m.kv[i].key;
		size_t len = 0;
		PT_ASSERT(key_ok(k));
		PT_ASSERT(m.kv[i].value != NULL);
		PT_ASSERT(m.kv[i].value[m.kv[i].len] == '\0');
		for (size_t j = 0; j < i; j++)
			PT_ASSERT(strcmp(m.kv[j].key, k) != 0);
		PT_ASSERT(tus_metadata_get(&m, k, &len) == m.kv[i].value);
		PT_ASSERT(len == m.kv[i].len);
		off += (size_t)snprintf(re + off, cap - off, "%s%s", i ? "," : "", k);
		if (m.kv[i].len) {
			size_t b = sodium_base64_ENCODED_LEN(m.kv[i].len,
							     sodium_base64_VARIANT_ORIGINAL);
			PT_ASSERT(off + 1 + b < cap);
			re[off++] = ' ';
			sodium_bin2base64(re + off, cap - off,
					  (const unsigned char *)m.kv[i].value,
					  m.kv[i].len, sodium_base64_VARIANT_ORIGINAL);
			off += strlen(re + off);
		}
	}
	PT_ASSERT(tus_metadata_parse(pool, re, &again) == 0);
	PT_ASSERT(again.n == m.n);
	for (size_t i = 0; i < m.n; i++) {
		PT_ASSERT(strcmp(again.kv[i].key, m.kv[i].key) == 0);
		PT_ASSERT(again.kv[i].len == m.kv[i].len);
		PT_ASSERT(memcmp(again.kv[i].value, m.kv[i].value, m.kv[i].len) == 0);
	}
}

static void check_concat(struct pt_pool *pool, const char *hdr)
{
	char *uids[TUS_CONCAT_MAX];
	size_t n = 12345;
	bool partial = true;

	if (tus_concat_parse(pool, hdr, &partial, uids, &n) != 0)
		return;
	PT_ASSERT(n <= TUS_CONCAT_MAX);
	if (partial) {
		PT_ASSERT(strcmp(hdr, "partial") == 0);
		PT_ASSERT(n == 0);
		return;
	}
	PT_ASSERT(strncmp(hdr, "final;", 6) == 0);
	PT_ASSERT(n >= 1);
	for (size_t i = 0; i < n; i++) {
		size_t l = strlen(uids[i]);
		PT_ASSERT(l >= 1 && l <= 64);
		for (size_t j = 0; j < l; j++) {
			char c = uids[i][j];
			PT_ASSERT((c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') ||
				  (c >= 'a' && c <= 'z'));
		}
		PT_ASSERT(strstr(hdr + 6, uids[i]) != NULL);
	}
}

static void check_checksum(const char *hdr)
{
	char algo[16];
	unsigned char digest[64];
	size_t dlen = 999;

	if (tus_checksum_parse(hdr, algo, digest, &dlen) != 0)
		return;
	size_t al = strnlen(algo, sizeof(algo));
	PT_ASSERT(al >= 1 && al <= 15);
	for (size_t i = 0; i < al; i++) {
		char c = algo[i];
		PT_ASSERT((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-');
	}
	PT_ASSERT(strncmp(hdr, algo, al) == 0 && hdr[al] == ' ');
	PT_ASSERT(dlen >= 1 && dlen <= 64);
	char b64[96];
	sodium_bin2base64(b64, sizeof(b64), digest, dlen,
			  sodium_base64_VARIANT_ORIGINAL);
	PT_ASSERT(strcmp(b64, hdr + al + 1) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size == 0)
		return 0;
	size_t n = size - 1;
	char *hdr = malloc(n + 1);
	memcpy(hdr, data + 1, n);
	hdr[n] = '\0';
	struct pt_pool *pool = pt_pool_new();
	switch (data[0] % 3) {
	case 0:
		check_meta(pool, hdr);
		break;
	case 1:
		check_concat(pool, hdr);
		break;
	default:
		check_checksum(hdr);
		break;
	}
	pt_pool_free(pool);
	free(hdr);
	return 0;
}
