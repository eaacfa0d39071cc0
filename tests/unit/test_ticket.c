/*
 * test_ticket.c — unit tests for src/core/ticket.c: wait tickets, their
 * countdown and expiry, their binding to file, address and key.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "core/ticket.h"

static void test_ticket(void **state)
{
	unsigned char key[TICKET_KEY_LEN], other[TICKET_KEY_LEN];
	char t[TICKET_MAX], bad[TICKET_MAX];
	int64_t retry = 0;
	memset(key, 7, sizeof(key));
	memset(other, 8, sizeof(other));
	ticket_issue(key, "AAAAAAAAAAAA", "10.0.0.1", 1000, 60, t);
	assert_int_equal(ticket_verify(key, t, "AAAAAAAAAAAA", "10.0.0.1", 1000, &retry), TICKET_EARLY);
	assert_int_equal(retry, 60);
	assert_int_equal(ticket_verify(key, t, "AAAAAAAAAAAA", "10.0.0.1", 1059, &retry), TICKET_EARLY);
	assert_int_equal(retry, 1);
	assert_int_equal(ticket_verify(key, t, "AAAAAAAAAAAA", "10.0.0.1", 1060, NULL), TICKET_OK);
	assert_int_equal(ticket_verify(key, t, "AAAAAAAAAAAA", "10.0.0.1", 1060 + TICKET_VALID, NULL), TICKET_OK);
	assert_int_equal(ticket_verify(key, t, "AAAAAAAAAAAA", "10.0.0.1", 1061 + TICKET_VALID, NULL), TICKET_EXPIRED);
	/* bound to the file, the address and the key */
	assert_int_equal(ticket_verify(key, t, "BBBBBBBBBBBB", "10.0.0.1", 1100, NULL), TICKET_INVALID);
	assert_int_equal(ticket_verify(key, t, "AAAAAAAAAAAA", "10.0.0.2", 1100, NULL), TICKET_INVALID);
	assert_int_equal(ticket_verify(other, t, "AAAAAAAAAAAA", "10.0.0.1", 1100, NULL), TICKET_INVALID);
	/* the wait is in the MAC: a shorter one is a forgery */
	snprintf(bad, sizeof(bad), "1000.0.%s", strchr(strchr(t, '.') + 1, '.') + 1);
	assert_int_equal(ticket_verify(key, bad, "AAAAAAAAAAAA", "10.0.0.1", 1001, NULL), TICKET_INVALID);
	static const char *const junk[] = { "", "x", "1.2", "1.2.", "a.b.c",
					    "1000.60.!!!!", "99999999999999999999.1.AAAA" };
	assert_int_equal(ticket_verify(key, NULL, "AAAAAAAAAAAA", "10.0.0.1", 1100, NULL), TICKET_MISSING);
	assert_int_equal(ticket_verify(key, "", "AAAAAAAAAAAA", "10.0.0.1", 1100, NULL), TICKET_MISSING);
	for (size_t i = 1; i < sizeof(junk) / sizeof(junk[0]); i++)
		assert_int_equal(ticket_verify(key, junk[i], "AAAAAAAAAAAA", "10.0.0.1", 1100, NULL), TICKET_INVALID);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ticket),
	};
	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
