/*
 * test_runhash.c — the running SHA-256 + CRC-32 that a resumable upload
 * saves with each durable offset (src/store/runhash.c): saved and taken up
 * again at any byte, it gives the digest of the whole; a damaged or
 * foreign text is refused.
 */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <libdeflate.h>
#include <openssl/evp.h>

#include "store/runhash.h"
#include "util/pt.h"

static void reference(const unsigned char *p, size_t n, unsigned char md[32],
		      uint32_t *crc)
{
	unsigned int len = 0;
	EVP_Digest(p, n, md, &len, EVP_sha256(), NULL);
	*crc = libdeflate_crc32(0, p, n);
}

/* Cut at every offset around block boundaries and at random ones; each
 * piece goes through save and load. */
static void test_save_load_anywhere(void **state)
{
	enum { N = 5000 };
	static unsigned char buf[N];
	unsigned char want[32], got[32];
	uint32_t wcrc, gcrc;

	(void)state;
	srand(7);
	for (size_t i = 0; i < N; i++)
		buf[i] = (unsigned char)rand();
	reference(buf, N, want, &wcrc);
	for (size_t step = 1; step < 200; step += 7) {
		struct runhash h;
		char text[RUNHASH_TEXT_MAX];
		size_t off = 0;

		runhash_init(&h);
		while (off < N) {
			size_t k = step + (size_t)rand() % 130;
			if (k > N - off)
				k = N - off;
			runhash_update(&h, buf + off, k);
			off += k;
			runhash_save(&h, text);
			memset(&h, 0xa5, sizeof(h));
			assert_int_equal(runhash_load(&h, text), 0);
			assert_int_equal(h.bytes, off);
		}
		runhash_final(&h, got, &gcrc);
		assert_memory_equal(got, want, 32);
		assert_int_equal(gcrc, wcrc);
	}
}

/* final does not disturb the state: hashing may go on after it. */
static void test_final_leaves_state(void **state)
{
	struct runhash h;
	unsigned char a[32], b[32], want[32];
	uint32_t crc, wcrc;

	(void)state;
	runhash_init(&h);
	runhash_update(&h, "hello ", 6);
	runhash_final(&h, a, NULL);
	runhash_final(&h, b, NULL);
	assert_memory_equal(a, b, 32);
	runhash_update(&h, "world", 5);
	runhash_final(&h, a, &crc);
	reference((const unsigned char *)"hello world", 11, want, &wcrc);
	assert_memory_equal(a, want, 32);
	assert_int_equal(crc, wcrc);
}

/* An empty stream saves and loads too (a deferred upload at 0). */
static void test_empty(void **state)
{
	struct runhash h;
	char text[RUNHASH_TEXT_MAX];
	unsigned char got[32], want[32];
	uint32_t crc, wcrc;

	(void)state;
	runhash_init(&h);
	runhash_save(&h, text);
	assert_int_equal(runhash_load(&h, text), 0);
	runhash_final(&h, got, &crc);
	reference((const unsigned char *)"", 0, want, &wcrc);
	assert_memory_equal(got, want, 32);
	assert_int_equal(crc, wcrc);
}

static void test_refuses_junk(void **state)
{
	struct runhash h, before;
	char text[RUNHASH_TEXT_MAX], bad[RUNHASH_TEXT_MAX + 8];

	(void)state;
	runhash_init(&h);
	runhash_update(&h, "0123456789abcdefghij", 20);
	runhash_save(&h, text);
	before = h;
	assert_int_equal(runhash_load(&h, NULL), PT_EBADREQ);
	assert_int_equal(runhash_load(&h, ""), PT_EBADREQ);
	assert_int_equal(runhash_load(&h, "r2 14 0 0"), PT_EBADREQ);
	/* every one-character change or cut is refused or still
	 * consistent: never accepted with another byte count */
	for (size_t i = 0; text[i]; i++) {
		memcpy(bad, text, sizeof(text));
		bad[i] = bad[i] == 'f' ? 'g' : 'f';
		struct runhash t = before;
		if (runhash_load(&t, bad) == 0)
			assert_int_equal(t.bytes % 64, t.sha.num);
		memcpy(bad, text, sizeof(text));
		bad[i] = '\0';
		t = before;
		assert_int_equal(runhash_load(&t, bad), PT_EBADREQ);
		assert_memory_equal(&t, &before, sizeof(t));
	}
	/* bytes that disagree with the bit count */
	snprintf(bad, sizeof(bad), "r1 15%s", text + 5);
	assert_int_equal(runhash_load(&h, bad), PT_EBADREQ);
	/* trailing junk */
	snprintf(bad, sizeof(bad), "%s00", text);
	assert_int_equal(runhash_load(&h, bad), PT_EBADREQ);
	assert_memory_equal(&h, &before, sizeof(h));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_save_load_anywhere),
		cmocka_unit_test(test_final_leaves_state),
		cmocka_unit_test(test_empty),
		cmocka_unit_test(test_refuses_junk),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
