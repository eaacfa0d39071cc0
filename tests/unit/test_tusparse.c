/*
 * test_tusparse.c — the tus header parsers against tables of edge cases:
 * Upload-Metadata (docs/conformance/tus.md T30: pairs, key rules, padded base64,
 * unique keys, key-only pairs), Upload-Concat (T45/T46/T51: partial, final
 * with relative and absolute URLs, the upload id as the last segment) and
 * Upload-Checksum (T39–T42: lower-case algorithm, base64 digest, the sha1
 * test vector).  Each row is its own cmocka test.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/tusparse.h"
#include "util/pool.h"
#include "util/pt.h"
#include "util/banned.h"

#define OK 0
#define BAD PT_EBADREQ

/* ---- Upload-Metadata ---- */

struct kv {
	const char *key;
	const char *value; /* decoded */
	size_t len;        /* decoded length (values may hold NUL) */
};

struct meta_row {
	const char *name;
	const char *hdr;
	int want;
	size_t n;
	struct kv kv[4];
};

static const struct meta_row meta_rows[] = {
	{ "meta empty header", "", OK, 0, { { 0 } } },
	{ "meta only spaces", "   ", OK, 0, { { 0 } } },
	{ "meta spec example",
	  "filename d29ybGRfZG9taW5hdGlvbl9wbGFuLnBkZg==,is_confidential", OK, 2,
	  { { "filename", "world_domination_plan.pdf", 25 },
	    { "is_confidential", "", 0 } } },
	{ "meta one pair", "a YQ==", OK, 1, { { "a", "a", 1 } } },
	{ "meta two-byte value", "k YWI=", OK, 1, { { "k", "ab", 2 } } },
	{ "meta three-byte value", "k YWJj", OK, 1, { { "k", "abc", 3 } } },
	{ "meta key only", "flag", OK, 1, { { "flag", "", 0 } } },
	{ "meta key with empty value", "k ", OK, 1, { { "k", "", 0 } } },
	{ "meta spaces around comma", "a YQ== , b Yg==", OK, 2,
	  { { "a", "a", 1 }, { "b", "b", 1 } } },
	{ "meta leading spaces", "  a YQ==", OK, 1, { { "a", "a", 1 } } },
	{ "meta trailing spaces", "a YQ==  ", OK, 1, { { "a", "a", 1 } } },
	{ "meta keys are case-sensitive", "A YQ==,a Yg==", OK, 2,
	  { { "A", "a", 1 }, { "a", "b", 1 } } },
	{ "meta value with NUL", "z AA==", OK, 1, { { "z", "", 1 } } },
	{ "meta value with CRLF", "f YQ0KYg==", OK, 1, { { "f", "a\r\nb", 4 } } },
	{ "meta punctuation in key", "x-y_z.%$ YQ==", OK, 1,
	  { { "x-y_z.%$", "a", 1 } } },
	{ "meta utf-8 value", "n w6k=", OK, 1, { { "n", "\xc3\xa9", 2 } } },
	{ "meta four pairs", "a,b YQ==,c,d Yg==", OK, 4,
	  { { "a", "", 0 }, { "b", "a", 1 }, { "c", "", 0 }, { "d", "b", 1 } } },

	{ "meta duplicate key", "a YQ==,a Yg==", BAD, 0, { { 0 } } },
	{ "meta duplicate key-only", "a,a", BAD, 0, { { 0 } } },
	{ "meta empty key first", ",a YQ==", BAD, 0, { { 0 } } },
	{ "meta trailing comma", "a YQ==,", BAD, 0, { { 0 } } },
	{ "meta double comma", "a YQ==,,b Yg==", BAD, 0, { { 0 } } },
	{ "meta lone comma", ",", BAD, 0, { { 0 } } },
	{ "meta two values", "a YQ== Yg==", BAD, 0, { { 0 } } },
	{ "meta not base64", "a !!!!", BAD, 0, { { 0 } } },
	{ "meta unpadded base64", "a YQ", BAD, 0, { { 0 } } },
	{ "meta bad padding", "a YWJj=", BAD, 0, { { 0 } } },
	{ "meta only padding", "a ====", BAD, 0, { { 0 } } },
	{ "meta url-safe alphabet", "a -_-_", BAD, 0, { { 0 } } },
	{ "meta tab in key", "a\tb YQ==", BAD, 0, { { 0 } } },
	{ "meta non-ascii key", "\xc3\xa9 YQ==", BAD, 0, { { 0 } } },
	{ "meta DEL in key", "a\x7f YQ==", BAD, 0, { { 0 } } },
	{ "meta control byte in value", "a Y\x01Q=", BAD, 0, { { 0 } } },
	/* libsodium 1.0.18 decodes every byte >= 0x80 as '/' */
	{ "meta non-ascii in value", "a YW\xc3\xa9", BAD, 0, { { 0 } } },
	{ "meta high bytes as value", "a \xff\xff\xff\xff", BAD, 0, { { 0 } } },
};

static void run_meta(void **state)
{
	const struct meta_row *r = *state;
	struct pt_pool *pool = pt_pool_new();
	struct tus_meta m;

	memset(&m, 0xa5, sizeof(m));
	int got = tus_metadata_parse(pool, r->hdr, &m);
	assert_int_equal(got, r->want);
	if (r->want == OK) {
		assert_int_equal(m.n, r->n);
		for (size_t i = 0; i < r->n; i++) {
			size_t len = 99;
			assert_string_equal(m.kv[i].key, r->kv[i].key);
			assert_int_equal(m.kv[i].len, r->kv[i].len);
			assert_memory_equal(m.kv[i].value, r->kv[i].value,
					    r->kv[i].len);
			assert_int_equal(m.kv[i].value[m.kv[i].len], '\0');
			const char *v = tus_metadata_get(&m, r->kv[i].key, &len);
			assert_ptr_equal(v, m.kv[i].value);
			assert_int_equal(len, r->kv[i].len);
		}
		assert_null(tus_metadata_get(&m, "no-such-key", NULL));
	}
	pt_pool_free(pool);
}

/* TUS_META_MAX pairs parse, one more does not */
static void meta_limit(void **state)
{
	struct pt_pool *pool = pt_pool_new();
	struct tus_meta m;
	char hdr[TUS_META_MAX * 16 + 32] = "";
	size_t off = 0;

	(void)state;
	for (int i = 0; i < TUS_META_MAX; i++)
		off += (size_t)snprintf(hdr + off, sizeof(hdr) - off,
					"%sk%d YQ==", i ? "," : "", i);
	assert_int_equal(tus_metadata_parse(pool, hdr, &m), OK);
	assert_int_equal(m.n, TUS_META_MAX);
	assert_string_equal(m.kv[TUS_META_MAX - 1].key, "k31");
	snprintf(hdr + off, sizeof(hdr) - off, ",extra");
	assert_int_equal(tus_metadata_parse(pool, hdr, &m), BAD);
	pt_pool_free(pool);
}

/* ---- Upload-Concat ---- */

struct concat_row {
	const char *name;
	const char *hdr;
	int want;
	bool partial;
	size_t n;
	const char *uids[4];
};

#define ID64 "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ01"

static const struct concat_row concat_rows[] = {
	{ "concat partial", "partial", OK, true, 0, { 0 } },
	{ "concat spec vector", "final;/files/a /files/b", OK, false, 2,
	  { "a", "b" } },
	{ "concat our URLs", "final;/api/v1/uploads/abc /api/v1/uploads/DEF9",
	  OK, false, 2, { "abc", "DEF9" } },
	{ "concat absolute URL",
	  "final;https://h.example:8443/api/v1/uploads/X1 /api/v1/uploads/y",
	  OK, false, 2, { "X1", "y" } },
	{ "concat bare ids", "final;a1 b2 c3", OK, false, 3, { "a1", "b2", "c3" } },
	{ "concat extra spaces", "final; /u/a   /u/b  ", OK, false, 2,
	  { "a", "b" } },
	{ "concat trailing slash", "final;/u/a/", OK, false, 1, { "a" } },
	{ "concat query dropped", "final;/u/a?x=1/2", OK, false, 1, { "a" } },
	{ "concat same twice", "final;/u/a /u/a", OK, false, 2, { "a", "a" } },
	{ "concat 64-char id", "final;/u/" ID64, OK, false, 1, { ID64 } },

	{ "concat empty", "", BAD, false, 0, { 0 } },
	{ "concat Partial", "Partial", BAD, false, 0, { 0 } },
	{ "concat partial with junk", "partial;x", BAD, false, 0, { 0 } },
	{ "concat final without list", "final", BAD, false, 0, { 0 } },
	{ "concat final empty list", "final;", BAD, false, 0, { 0 } },
	{ "concat final only spaces", "final;   ", BAD, false, 0, { 0 } },
	{ "concat final slash only", "final;/", BAD, false, 0, { 0 } },
	{ "concat Final", "Final;/u/a", BAD, false, 0, { 0 } },
	{ "concat space before list", "final ;/u/a", BAD, false, 0, { 0 } },
	{ "concat dash in id", "final;/u/a-b", BAD, false, 0, { 0 } },
	{ "concat dot id", "final;/u/..", BAD, false, 0, { 0 } },
	{ "concat 65-char id", "final;/u/" ID64 "x", BAD, false, 0, { 0 } },
	/* not one id "b" out of two URLs glued by a tab or a comma */
	{ "concat tab inside", "final;/u/a\t/u/b", BAD, false, 0, { 0 } },
	{ "concat comma list", "final;/u/a,/u/b", BAD, false, 0, { 0 } },
	{ "concat percent id", "final;/u/a%41", BAD, false, 0, { 0 } },
};

static void run_concat(void **state)
{
	const struct concat_row *r = *state;
	struct pt_pool *pool = pt_pool_new();
	char *uids[TUS_CONCAT_MAX];
	size_t n = 77;
	bool partial = !r->partial;

	int got = tus_concat_parse(pool, r->hdr, &partial, uids, &n);
	assert_int_equal(got, r->want);
	if (r->want == OK) {
		assert_int_equal(partial, r->partial);
		assert_int_equal(n, r->n);
		for (size_t i = 0; i < r->n; i++)
			assert_string_equal(uids[i], r->uids[i]);
	}
	pt_pool_free(pool);
}

static void concat_limit(void **state)
{
	struct pt_pool *pool = pt_pool_new();
	char *uids[TUS_CONCAT_MAX + 1];
	char hdr[TUS_CONCAT_MAX * 8 + 32] = "final;";
	size_t off = strlen(hdr), n = 0;
	bool partial = true;

	(void)state;
	for (int i = 0; i < TUS_CONCAT_MAX; i++)
		off += (size_t)snprintf(hdr + off, sizeof(hdr) - off, "/u/i%d ", i);
	assert_int_equal(tus_concat_parse(pool, hdr, &partial, uids, &n), OK);
	assert_false(partial);
	assert_int_equal(n, TUS_CONCAT_MAX);
	assert_string_equal(uids[TUS_CONCAT_MAX - 1], "i63");
	/* one more: a refusal of its own kind, so the reply can say why */
	snprintf(hdr + off, sizeof(hdr) - off, "/u/more");
	assert_int_equal(tus_concat_parse(pool, hdr, &partial, uids, &n),
			 PT_ELIMIT);
	pt_pool_free(pool);
}

/* ---- Upload-Checksum ---- */

struct checksum_row {
	const char *name;
	const char *hdr;
	int want;
	const char *algo;
	const char *hex; /* the decoded digest */
};

#define SHA1_HW "2aae6c35c94fcfb415dbe95f408b9ce91ee846ed"
#define SHA256_HW "b94d27b9934d3e08a52e52d7da7dabfac484efe37a5380ee9088f7ace2efcde9"
#define MD5_HW "5eb63bbbe01eeed093cb22bb8f5acdc3"
#define SHA512_B64                                                         \
	"MJ7MSJwS1utMxA9QyQLytNDtd+5RGnx6m808qG1M2G+YndNbxf9JlnDaNCVbRbDP2DDo" \
	"H2Bdz33FVC6TrpzXbw=="

static const struct checksum_row checksum_rows[] = {
	{ "checksum T42 sha1 vector", "sha1 Kq5sNclPz7QV2+lfQIuc6R7oRu0=", OK,
	  "sha1", SHA1_HW },
	{ "checksum sha256", "sha256 uU0nuZNNPgilLlLX2n2r+sSE7+N6U4DukIj3rOLvzek=",
	  OK, "sha256", SHA256_HW },
	{ "checksum md5", "md5 XrY7u+Ae7tCTyyK7j1rNww==", OK, "md5", MD5_HW },
	{ "checksum 64-byte digest", "sha512 " SHA512_B64, OK, "sha512",
	  "309ecc489c12d6eb4cc40f50c902f2b4d0ed77ee511a7c7a9bcd3ca86d4cd86f"
	  "989dd35bc5ff499670da34255b45b0cfd830e81f605dcf7dc5542e93ae9cd76f" },
	{ "checksum unknown algo still parses", "crc32 AAAAAA==", OK, "crc32",
	  "00000000" },
	{ "checksum 15-char algo", "abcdefghijklmno AA==", OK, "abcdefghijklmno",
	  "00" },
	{ "checksum digits and dash", "sha3-256 AA==", OK, "sha3-256", "00" },

	{ "checksum uppercase algo", "SHA1 Kq5sNclPz7QV2+lfQIuc6R7oRu0=", BAD,
	  0, 0 },
	{ "checksum mixed-case algo", "Sha1 Kq5sNclPz7QV2+lfQIuc6R7oRu0=", BAD,
	  0, 0 },
	{ "checksum 16-char algo", "abcdefghijklmnop AA==", BAD, 0, 0 },
	{ "checksum underscore algo", "sha_1 AA==", BAD, 0, 0 },
	{ "checksum no digest", "sha1", BAD, 0, 0 },
	{ "checksum empty digest", "sha1 ", BAD, 0, 0 },
	{ "checksum empty algo", " Kq5sNclPz7QV2+lfQIuc6R7oRu0=", BAD, 0, 0 },
	{ "checksum empty header", "", BAD, 0, 0 },
	{ "checksum two spaces", "sha1  Kq5sNclPz7QV2+lfQIuc6R7oRu0=", BAD, 0,
	  0 },
	{ "checksum trailing space", "sha1 Kq5sNclPz7QV2+lfQIuc6R7oRu0= ", BAD,
	  0, 0 },
	{ "checksum unpadded", "sha1 Kq5sNclPz7QV2+lfQIuc6R7oRu0", BAD, 0, 0 },
	{ "checksum non-canonical bits", "sha1 Kq5sNclPz7QV2+lfQIuc6R7oRu1=",
	  BAD, 0, 0 },
	{ "checksum url-safe alphabet", "sha1 Kq5sNclPz7QV2-lfQIuc6R7oRu0=", BAD,
	  0, 0 },
	{ "checksum digest over 64 bytes", "x " SHA512_B64 "AAAA", BAD, 0, 0 },
	{ "checksum non-ascii in digest", "sha1 QIuc6R\xc8\x90Ru0=", BAD, 0, 0 },
	{ "checksum high bytes digest", "sha1 \x80\x80\x80\x80", BAD, 0, 0 },
	{ "checksum tab separator", "sha1\tKq5sNclPz7QV2+lfQIuc6R7oRu0=", BAD, 0,
	  0 },
};

static void run_checksum(void **state)
{
	const struct checksum_row *r = *state;
	char algo[16];
	unsigned char digest[64], want[64];
	size_t dlen = 999;

	memset(algo, 'Z', sizeof(algo));
	int got = tus_checksum_parse(r->hdr, algo, digest, &dlen);
	assert_int_equal(got, r->want);
	if (r->want == OK) {
		size_t n = strlen(r->hex) / 2;
		for (size_t i = 0; i < n; i++) {
			unsigned v;
			assert_int_equal(sscanf(r->hex + 2 * i, "%2x", &v), 1);
			want[i] = (unsigned char)v;
		}
		assert_string_equal(algo, r->algo);
		assert_int_equal(dlen, n);
		assert_memory_equal(digest, want, n);
	}
}

/* The password pair is left out of what is stored (and echoed by HEAD);
 * every other pair stays as it was, in order. */
static void meta_without(void **state)
{
	struct pt_pool *pool = pt_pool_new();
	static const struct {
		const char *in, *key, *want;
	} rows[] = {
		{ "filename YS50eHQ=,password c2VjcmV0,filetype dGV4dC9wbGFpbg==",
		  "password", "filename YS50eHQ=,filetype dGV4dC9wbGFpbg==" },
		{ "password c2VjcmV0", "password", "" },
		{ "password", "password", "" },
		{ "passwords eA==,password eQ==, pass eg==", "password",
		  "passwords eA==,pass eg==" },
		{ "filename YQ==", "password", "filename YQ==" },
		{ "", "password", "" },
		{ "a YQ==, password eA==, b Yg==", "password", "a YQ==,b Yg==" },
	};
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++)
		assert_string_equal(
			tus_metadata_without(pool, rows[i].in, rows[i].key),
			rows[i].want);
	pt_pool_free(pool);
}

int main(void)
{
	size_t nm = sizeof(meta_rows) / sizeof(meta_rows[0]);
	size_t nc = sizeof(concat_rows) / sizeof(concat_rows[0]);
	size_t nk = sizeof(checksum_rows) / sizeof(checksum_rows[0]);
	size_t total = nm + nc + nk + 3, i = 0;
	struct CMUnitTest *t = calloc(total, sizeof(*t));
	int rc;

	for (size_t j = 0; j < nm; j++, i++) {
		t[i].name = meta_rows[j].name;
		t[i].test_func = run_meta;
		t[i].initial_state = (void *)&meta_rows[j];
	}
	for (size_t j = 0; j < nc; j++, i++) {
		t[i].name = concat_rows[j].name;
		t[i].test_func = run_concat;
		t[i].initial_state = (void *)&concat_rows[j];
	}
	for (size_t j = 0; j < nk; j++, i++) {
		t[i].name = checksum_rows[j].name;
		t[i].test_func = run_checksum;
		t[i].initial_state = (void *)&checksum_rows[j];
	}
	t[i].name = "meta TUS_META_MAX pairs";
	t[i++].test_func = meta_limit;
	t[i].name = "concat TUS_CONCAT_MAX urls";
	t[i++].test_func = concat_limit;
	t[i].name = "meta without a key";
	t[i++].test_func = meta_without;
	rc = _cmocka_run_group_tests("tusparse", t, total, NULL, NULL);
	free(t);
	return rc;
}
