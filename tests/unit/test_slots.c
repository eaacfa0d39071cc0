/*
 * test_slots.c — unit tests for src/core/slots.c: per-address download
 * and connection slots, and the countdowns.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "core/slots.h"
#include "core/ticket.h"

static void test_slots(void **state)
{
	struct slots *s = slots_new();
	char other[SLOTS_ID_MAX];
	uint64_t t1, t2, t3, t4;
	struct slots_claim c = { "1.2.3.4", "fileA", -1, 2, 1 };

	assert_int_equal(slots_acquire(s, &c, &t1, other), SLOTS_OK);
	assert_true(t1 != 0);
	/* a second connection of the same download: over its one */
	assert_int_equal(slots_acquire(s, &c, &t2, other), SLOTS_CONNECTIONS);
	c.id = "fileB";
	assert_int_equal(slots_acquire(s, &c, &t2, other), SLOTS_OK);
	c.id = "fileC";
	assert_int_equal(slots_acquire(s, &c, &t3, other), SLOTS_PARALLEL);
	assert_true(strcmp(other, "fileA") == 0 || strcmp(other, "fileB") == 0);
	assert_int_equal(slots_held(s, "1.2.3.4"), 2);
	/* other addresses are apart */
	struct slots_claim d = { "5.6.7.8", "fileC", -1, 1, 1 };
	assert_int_equal(slots_acquire(s, &d, &t4, other), SLOTS_OK);
	slots_release(s, "5.6.7.8", t4);
	slots_release(s, "1.2.3.4", t1);
	assert_int_equal(slots_acquire(s, &c, &t3, other), SLOTS_OK);
	slots_release(s, "1.2.3.4", t2);
	slots_release(s, "1.2.3.4", t3);
	assert_int_equal(slots_held(s, "1.2.3.4"), 0);
	/* connections without a limit on them, downloads limited */
	struct slots_claim e = { "1.2.3.4", "fileA", -1, 1, 0 };
	assert_int_equal(slots_acquire(s, &e, &t1, other), SLOTS_OK);
	assert_int_equal(slots_acquire(s, &e, &t2, other), SLOTS_OK);
	assert_int_equal(slots_held(s, "1.2.3.4"), 1);
	slots_release(s, "1.2.3.4", t1);
	slots_release(s, "1.2.3.4", t2);
	/* no limit: always yes, nothing held */
	struct slots_claim f = { "9.9.9.9", "x", -1, 0, 0 };
	assert_int_equal(slots_acquire(s, &f, &t1, other), SLOTS_OK);
	assert_int_equal(t1, 0);
	assert_int_equal(slots_held(s, "9.9.9.9"), 0);
	slots_release(s, "9.9.9.9", t1);
	/* countdowns: the first call starts it, the next ones see it */
	assert_int_equal(slots_countdown(s, "1.2.3.4", "fileA", 100, 60), 160);
	assert_int_equal(slots_countdown(s, "1.2.3.4", "fileA", 130, 60), 160);
	assert_int_equal(slots_countdown(s, "1.2.3.4", "fileB", 130, 60), 190);
	assert_int_equal(slots_countdown(s, "1.2.3.5", "fileA", 130, 60), 190);
	/* gone TICKET_VALID seconds after it ended: a new one */
	assert_int_equal(slots_countdown(s, "1.2.3.4", "fileA",
					 160 + TICKET_VALID, 60),
			 220 + TICKET_VALID);
	slots_free(s);
}

/* What this node adds to the cluster's counts (api/cluster.c). */
static void test_counts(void **state)
{
	struct slots *s = slots_new();
	char other[SLOTS_ID_MAX];
	uint64_t t1, t2, t3, mine, others;
	struct slots_claim a = { "1.2.3.4", "fileA", -1, 3, 2 };
	struct slots_claim b = { "1.2.3.4", "fileB", -1, 3, 2 };

	slots_counts(s, "1.2.3.4", "fileA", &mine, &others);
	assert_true(mine == 0 && others == 0);
	assert_int_equal(slots_acquire(s, &a, &t1, other), SLOTS_OK);
	assert_int_equal(slots_acquire(s, &a, &t2, other), SLOTS_OK);
	assert_int_equal(slots_acquire(s, &b, &t3, other), SLOTS_OK);
	slots_counts(s, "1.2.3.4", "fileA", &mine, &others);
	assert_true(mine == 2 && others == 1);
	slots_counts(s, "1.2.3.4", "fileB", &mine, &others);
	assert_true(mine == 1 && others == 1);
	slots_counts(s, "9.9.9.9", "fileB", &mine, &others);
	assert_true(mine == 0 && others == 0);
	slots_release(s, "1.2.3.4", t1);
	slots_release(s, "1.2.3.4", t2);
	slots_counts(s, "1.2.3.4", "fileB", &mine, &others);
	assert_true(mine == 1 && others == 0);
	slots_release(s, "1.2.3.4", t3);
	slots_free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_slots),
		cmocka_unit_test(test_counts),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
