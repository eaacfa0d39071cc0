/*
 * test_expiry.c — gc's expiry in bounded batches (repo_links_expire_batch,
 * src/store/repo_expiry.c) on a real SQLite database: every rule expires
 * all it should, no call changes more than its batch, the keyset walk of
 * owned links gets past a run of links it must keep (premium owners)
 * longer than a batch, and what must stay stays.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fixture_repo.h"
#include "util/pt.h"

#define NOW 10000000
#define FREE_ID 1001
#define PREMIUM_ID 1002

/* n links "P%011u": created, expires, max_downloads, owner */
static void links(struct db *db, char prefix, unsigned n, int64_t created,
		  int64_t expires, int64_t max_downloads, int64_t owner)
{
	char id[ID_LEN + 1];
	for (unsigned i = 0; i < n; i++) {
		struct link l;
		snprintf(id, sizeof(id), "%c%011u", prefix, i);
		fixture_link(&l, id);
		l.created = created;
		l.expires = expires;
		l.max_downloads = max_downloads;
		l.owner = owner;
		assert_int_equal(repo_link_create(db, &l, NULL, NULL), 0);
	}
}

static void user(struct db *db, int64_t id, const char *name, const char *tier)
{
	struct user u = { .id = id,
			  .name = (char *)name,
			  .pwhash = (char *)"x",
			  .tier = (char *)tier,
			  .role = (char *)"user",
			  .created = 1 };
	assert_int_equal(repo_user_create(db, &u), 0);
}

static int64_t live(struct db *db, char prefix)
{
	struct db_stmt *st;
	char like[3] = { prefix, '%', 0 };
	assert_int_equal(db_get(db,
				"SELECT COUNT(*) FROM links WHERE state = 0 "
				"AND id LIKE $1",
				&st, "t", like),
			 0);
	int64_t n = db_col_int(st, 0);
	db_done(st);
	return n;
}

static void test_batches(void **state)
{
	struct db *db = fixture_db("t.db", true);
	const int64_t days[3] = { 30, 60, 0 }; /* premium: forever */

	assert_int_equal(db_exec(db, "PRAGMA synchronous=OFF"), 0);
	user(db, FREE_ID, "freeuser", "free");
	user(db, PREMIUM_ID, "premiumuser", "premium");
	links(db, 'A', 2500, NOW - 100, NOW - 10, 0, 0); /* Max-Days over */
	links(db, 'B', 1500, NOW - 100, 0, 1, FREE_ID);	 /* used up, below */
	links(db, 'C', 2200, 1000, 0, 0, 0);		 /* anonymous, idle */
	links(db, 'D', 1200, 1000, 0, 0, FREE_ID);	 /* free, idle */
	/* premium, idle, and first in the owned keyset (older): a run of
	 * links to keep longer than a batch, before the ones to expire */
	links(db, 'E', 1300, 999, 0, 0, PREMIUM_ID);
	links(db, 'F', 500, NOW - 10, 0, 0, 0);		 /* anonymous, fresh */
	links(db, 'G', 700, 1000, 0, 0, FREE_ID);	 /* free, downloaded */
	links(db, 'H', 300, NOW - 100, NOW + 100, 5, 0); /* not yet */
	assert_int_equal(db_exec(db, "UPDATE links SET downloads = 1 WHERE "
				     "id LIKE 'B%'; UPDATE links SET "
				     "last_download = 9999995 WHERE id LIKE "
				     "'G%'; UPDATE links SET downloads = 4 "
				     "WHERE id LIKE 'H%'"),
			 0);

	struct expiry_cursor cur = { .rule = 0, .act = INT64_MIN };
	int64_t total = 0;
	int calls = 0;
	while (cur.rule < EXPIRY_RULES) {
		int64_t n = 0;
		assert_int_equal(db_begin(db), 0);
		assert_int_equal(repo_links_expire_batch(db, NOW, days, 1000,
							 &cur, &n),
				 0);
		assert_int_equal(db_commit(db), 0);
		assert_true(n <= 1000); /* bounded */
		total += n;
		assert_true(++calls < 40);
	}
	assert_int_equal(total, 2500 + 1500 + 2200 + 1200);
	assert_int_equal(live(db, 'A'), 0);
	assert_int_equal(live(db, 'B'), 0);
	assert_int_equal(live(db, 'C'), 0);
	assert_int_equal(live(db, 'D'), 0);
	assert_int_equal(live(db, 'E'), 1300);
	assert_int_equal(live(db, 'F'), 500);
	assert_int_equal(live(db, 'G'), 700);
	assert_int_equal(live(db, 'H'), 300);
	/* about a call per thousand: A 3, B 2, C 3, the owned walk 3 */
	assert_true(calls <= 12);

	/* the whole thing again: nothing left to do */
	int64_t again = -1;
	assert_int_equal(repo_links_expire(db, NOW, days, &again), 0);
	assert_int_equal(again, 0);
	/* premium ends: its links go by the free tier's retention */
	assert_int_equal(repo_user_set_tier(db, PREMIUM_ID, "free"), 0);
	assert_int_equal(repo_links_expire(db, NOW, days, &again), 0);
	assert_int_equal(again, 1300);
	db_close(db);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		FIXTURE_TEST(test_batches),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
