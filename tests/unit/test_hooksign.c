/*
 * test_hooksign.c — webhook signatures: known vectors (computed with
 * Python's hmac module, as a receiver would), the header's form, and
 * verification against tampered bodies, wrong secrets, stale or future
 * timestamps and malformed headers.
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
#include <sodium.h>

#include "core/hooksign.h"
#include "util/banned.h"

static const char BODY[] = "{\"event\":\"upload\"}";

static void test_vectors(void **state)
{
	(void)state;
	char hex[HOOKSIGN_HEX_LEN + 1];
	/* python3: hmac.new(b'whsec_test', b'1700000000.' + body,
	 * hashlib.sha256).hexdigest() */
	hooksign_hmac("whsec_test", 1700000000, BODY, strlen(BODY), hex);
	assert_string_equal(hex, "4d205bdbac3e8795b249b27233d5151bd2fc28eb"
				 "4583866ccd7f26389b9942ff");
	hooksign_hmac("key", 0, "", 0, hex);
	assert_string_equal(hex, "85841b4efc3cd7776c3c8f9b7cca9e281c550e5d"
				 "19889d78e9e669c6337f000d");
}

static void test_header(void **state)
{
	(void)state;
	char h[HOOKSIGN_HEADER_MAX];
	hooksign_header("whsec_test", 1700000000, BODY, strlen(BODY), h);
	assert_string_equal(h, "t=1700000000,v1=4d205bdbac3e8795b249b27233d5"
			       "151bd2fc28eb4583866ccd7f26389b9942ff");
	assert_true(hooksign_verify("whsec_test", h, BODY, strlen(BODY),
				    1700000000, 300));
	/* within the tolerance, and without one */
	assert_true(hooksign_verify("whsec_test", h, BODY, strlen(BODY),
				    1700000300, 300));
	assert_true(hooksign_verify("whsec_test", h, BODY, strlen(BODY),
				    1900000000, 0));
}

struct bad {
	const char *what, *secret, *header, *body;
	int64_t now;
};

#define GOOD_V1 "4d205bdbac3e8795b249b27233d5151bd2fc28eb4583866ccd7f26389b9942ff"
static const struct bad bads[] = {
	{ "tampered body", "whsec_test", "t=1700000000,v1=" GOOD_V1,
	  "{\"event\":\"uploaD\"}", 1700000000 },
	{ "wrong secret", "whsec_tesT", "t=1700000000,v1=" GOOD_V1, BODY,
	  1700000000 },
	{ "other timestamp", "whsec_test", "t=1700000001,v1=" GOOD_V1, BODY,
	  1700000000 },
	{ "stale", "whsec_test", "t=1700000000,v1=" GOOD_V1, BODY,
	  1700000301 },
	{ "future", "whsec_test", "t=1700000000,v1=" GOOD_V1, BODY,
	  1699999699 },
	{ "no timestamp", "whsec_test", "v1=" GOOD_V1, BODY, 1700000000 },
	{ "no signature", "whsec_test", "t=1700000000", BODY, 1700000000 },
	{ "short signature", "whsec_test", "t=1700000000,v1=4d205b", BODY,
	  1700000000 },
	{ "empty", "whsec_test", "", BODY, 1700000000 },
	{ "garbage", "whsec_test", ",,,=,t=,v1=", BODY, 1700000000 },
	{ "negative time", "whsec_test", "t=-1,v1=" GOOD_V1, BODY,
	  1700000000 },
};

static void test_refused(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(bads) / sizeof(bads[0]); i++)
		if (hooksign_verify(bads[i].secret, bads[i].header,
				    bads[i].body, strlen(bads[i].body),
				    bads[i].now, 300))
			fail_msg("%s: verified", bads[i].what);
	assert_false(hooksign_verify("whsec_test", NULL, BODY, strlen(BODY),
				     0, 0));
	/* a second v1 (a rotated secret) may be the one that matches */
	assert_true(hooksign_verify("whsec_test",
				    "t=1700000000,v1=" "00000000000000000000000"
				    "000000000000000000000000000000000000000000"
				    ",v1=" GOOD_V1 ",v0=x",
				    BODY, strlen(BODY), 1700000000, 300));
}

int main(void)
{
	if (sodium_init() < 0)
		return 1;
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_vectors),
		cmocka_unit_test(test_header),
		cmocka_unit_test(test_refused),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
