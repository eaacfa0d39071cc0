/*
 * test_repo.c — unit tests for src/store/repo.c on a real SQLite
 * database in a temp directory: migrations, links, download limits and
 * byte budgets, deletion, blob bookkeeping.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fixture_repo.h"
#include "util/pt.h"

static void test_repo(void **state)
{
	struct db *db;
	struct link l, got;
	const char *reason;
	const char *hex = FIXTURE_HEX;
	struct pt_pool *pool = pt_pool_new();

	db = fixture_db("t.db", true);
	assert_int_equal(repo_migrate(db), 0); /* idempotent */

	fixture_link(&l, "AAAAAAAAAAAA");
	l.max_downloads = 2;
	assert_int_equal(repo_link_create(db, &l, NULL, NULL), 0);
	/* same id again: a conflict, reported as such */
	assert_int_equal(repo_link_create(db, &l, NULL, NULL), PT_ECONFLICT);
	fixture_link(&l, "BBBBBBBBBBBB");
	l.expires = 5000;
	assert_int_equal(repo_link_create(db, &l, NULL, NULL), 0);

	assert_int_equal(repo_link_get(db, pool, "AAAAAAAAAAAA", &got), 0);
	assert_string_equal(got.name, "a.txt");
	assert_true(got.max_downloads == 2);
	assert_int_equal(link_effective_state(&got, 2000, &reason), LINK_LIVE);
	assert_int_equal(repo_link_get(db, pool, "CCCCCCCCCCCC", &got), PT_ENOTFOUND);
	assert_int_equal(repo_blob_live_links(db, hex), 2);

	/* Max-Downloads: two takes, then gone */
	assert_int_equal(repo_link_take_download(db, "AAAAAAAAAAAA", 2000), 0);
	assert_int_equal(repo_link_take_download(db, "AAAAAAAAAAAA", 2001), 0);
	assert_int_equal(repo_link_take_download(db, "AAAAAAAAAAAA", 2002), PT_EGONE);
	assert_int_equal(repo_link_get(db, pool, "AAAAAAAAAAAA", &got), 0);
	assert_true(got.downloads == 2);
	assert_int_equal(link_effective_state(&got, 2003, &reason), LINK_EXPIRED);
	assert_string_equal(reason, "expired");

	/* Max-Days: expired at `expires`, not before */
	assert_int_equal(repo_link_take_download(db, "BBBBBBBBBBBB", 4999), 0);
	assert_int_equal(repo_link_take_download(db, "BBBBBBBBBBBB", 5000), PT_EGONE);
	assert_int_equal(repo_link_add_downloads(db, "BBBBBBBBBBBB", 5, 4000), 0);
	assert_int_equal(repo_link_get(db, pool, "BBBBBBBBBBBB", &got), 0);
	assert_true(got.downloads == 6);

	/* delete: once */
	assert_int_equal(repo_link_delete(db, "BBBBBBBBBBBB", "deleted", 3000), 0);
	assert_int_equal(repo_link_delete(db, "BBBBBBBBBBBB", "deleted", 3000), PT_ENOTFOUND);
	assert_int_equal(repo_link_get(db, pool, "BBBBBBBBBBBB", &got), 0);
	assert_int_equal(link_effective_state(&got, 3000, &reason), LINK_DELETED);
	assert_string_equal(reason, "deleted");
	assert_int_equal(repo_blob_live_links(db, hex), 1);

	/* a blob row with links is not forgotten */
	assert_int_equal(repo_blob_forget(db, hex), 0);
	assert_true(repo_blob_known(db, hex));
	assert_int_equal(repo_blob_links_disable(db, hex, "lost", 3000), 0);
	assert_int_equal(repo_blob_live_links(db, hex), 0);
	/* now only dead links name it: the row can go */
	assert_int_equal(repo_blob_forget(db, hex), 0);
	assert_false(repo_blob_known(db, hex));
	db_close(db);
	pt_pool_free(pool);
}

/* The byte budget of a Max-Downloads link (issue 12): N = 2, 100 bytes */
static void test_repo_budget(void **state)
{
	struct db *db;
	struct link l, got;
	const char *reason;
	const char *id = "DDDDDDDDDDDD", *a = "192.0.2.1", *b = "192.0.2.2";
	struct link_budget bu = { .total = 200, .last_from = 100, .size = 100,
				  .slack = 100 };
	struct pt_pool *pool = pt_pool_new();
	int64_t sent = -1;

	db = fixture_db("t.db", true);
	fixture_link(&l, id);
	l.size = 100;
	l.max_downloads = 2;
	assert_int_equal(repo_link_create(db, &l, NULL, NULL), 0);

	/* a reaches into the last copy: it holds it */
	assert_int_equal(repo_link_budget_take(db, id, &bu, 150, a, 10, &sent),
			 0);
	assert_true(sent == 150);
	/* b may not take the last copy's bytes, nor anyone past the budget */
	assert_int_equal(repo_link_budget_take(db, id, &bu, 10, b, 11, &sent),
			 PT_ECONFLICT);
	assert_int_equal(repo_link_budget_take(db, id, &bu, 60, a, 12, &sent),
			 PT_EGONE);
	/* a's response is cut after 100 bytes: 50 come back */
	assert_int_equal(repo_link_budget_give(db, id, &bu, 150, 50, 0), 0);
	assert_int_equal(repo_link_get(db, pool, id, &got), 0);
	assert_true(got.downloads == 1);
	assert_int_equal(link_effective_state(&got, 13, &reason), LINK_LIVE);
	/* still a's: b is refused, a resumes the rest */
	assert_int_equal(repo_link_budget_take(db, id, &bu, 100, b, 14, &sent),
			 PT_ECONFLICT);
	assert_int_equal(repo_link_budget_take(db, id, &bu, 100, a, 15, &sent),
			 0);
	assert_true(sent == 200);
	/* cut again after all 100 were acknowledged: 30 of allowance back;
	 * the copies are delivered all the same */
	assert_int_equal(repo_link_budget_give(db, id, &bu, 100, 0, 30), 0);
	assert_int_equal(repo_link_get(db, pool, id, &got), 0);
	assert_true(got.downloads == 2);
	assert_int_equal(link_effective_state(&got, 16, &reason), LINK_EXPIRED);
	/* used up: nothing more, even for the holder and within the budget */
	assert_int_equal(repo_link_budget_take(db, id, &bu, 10, a, 17, &sent),
			 PT_EGONE);
	assert_int_equal(repo_link_budget_take(db, id, &bu, 10, b, 17, &sent),
			 PT_EGONE);
	db_close(db);
	pt_pool_free(pool);
}

struct claimed {
	int n;
	char id[64];
	const char *url;
};

static int claim_cb(const struct delivery *d, void *arg)
{
	struct claimed *c = arg;
	c->n++;
	snprintf(c->id, sizeof(c->id), "%s", d->id);
	c->url = d->url;
	return 0;
}

static int count_cb(const struct delivery *d, void *arg)
{
	(void)d;
	(*(int *)arg)++;
	return 0;
}

/* The webhook outbox: fan-out by owner and event, one holder per claim
 * until its lease passes, attempts only by the holder, backoff due
 * times, releasing a node's leases, deletion. */
static void test_repo_hooks(void **state)
{
	struct db *db;
	struct pt_pool *pool = pt_pool_new();
	struct hook h = { .owner = 7, .url = "http://example.com/a",
			  .secret = "whsec_x", .events = "upload download",
			  .created = 1000 };
	struct claimed c = { 0 };
	int n = 0;

	db = fixture_db("h.db", true);
	snprintf(h.id, sizeof(h.id), "HOOKAAAAAAAA");
	assert_int_equal(repo_hook_create(db, &h), 0);
	assert_int_equal(repo_hook_instance_set(db, "http://example.com/i",
						"whsec_i", "deleted", 1000), 0);
	assert_true(repo_hook_wanted(db, 7, "upload"));
	assert_true(repo_hook_wanted(db, 8, "deleted"));  /* the instance */
	assert_false(repo_hook_wanted(db, 8, "upload"));
	assert_false(repo_hook_wanted(db, 7, "takedown"));
	/* "load" is no event of "upload download": words, not substrings */
	assert_false(repo_hook_wanted(db, 7, "load"));
	assert_int_equal(repo_hook_emit(db, "E1", 7, "upload", "{}", 2000), 1);
	assert_int_equal(repo_hook_emit(db, "E2", 7, "deleted", "{}", 2000), 1);
	assert_int_equal(repo_hook_emit(db, "E3", 8, "upload", "{}", 2000), 0);

	/* a claim holds both due rows; a second holder gets none */
	assert_int_equal(repo_hook_claim(db, pool, "nodeA|1", 2000, 2100, 8,
					 claim_cb, &c), 0);
	assert_int_equal(c.n, 2);
	struct claimed c2 = { 0 };
	assert_int_equal(repo_hook_claim(db, pool, "nodeB|1", 2050, 2150, 8,
					 claim_cb, &c2), 0);
	assert_int_equal(c2.n, 0);
	/* only the holder records; a failure is due again later */
	assert_int_equal(repo_hook_attempt(db, "E1.HOOKAAAAAAAA", "nodeB|1",
					   2050, 500, "x", "pending", 2060),
			 PT_ECONFLICT);
	assert_int_equal(repo_hook_attempt(db, "E1.HOOKAAAAAAAA", "nodeA|1",
					   2050, 500, "x", "pending", 2060), 0);
	c2.n = 0;
	assert_int_equal(repo_hook_claim(db, pool, "nodeB|2", 2055, 2155, 8,
					 claim_cb, &c2), 0);
	assert_int_equal(c2.n, 0); /* not due yet; E2 still leased */
	/* node A restarts: its leases are freed, E2 is due at once */
	assert_int_equal(repo_hook_release(db, "nodeA|"), 0);
	assert_int_equal(repo_hook_claim(db, pool, "nodeB|3", 2056, 2156, 8,
					 claim_cb, &c2), 0);
	assert_int_equal(c2.n, 1);
	assert_string_equal(c2.id, "E2.instance");
	assert_string_equal(c2.url, "http://example.com/i");
	assert_int_equal(repo_hook_attempt(db, "E2.instance", "nodeB|3", 2057,
					   200, "", "delivered", 0), 0);
	/* the log: the hook's rows, newest first, and their attempts */
	assert_int_equal(repo_hook_deliveries(db, pool, "HOOKAAAAAAAA", 50,
					      count_cb, &n), 0);
	assert_int_equal(n, 1);
	/* deleting the hook takes its rows along; another owner cannot */
	assert_int_equal(repo_hook_delete(db, 8, "HOOKAAAAAAAA"),
			 PT_ENOTFOUND);
	assert_int_equal(repo_hook_delete(db, 7, "HOOKAAAAAAAA"), 0);
	n = 0;
	assert_int_equal(repo_hook_deliveries(db, pool, "HOOKAAAAAAAA", 50,
					      count_cb, &n), 0);
	assert_int_equal(n, 0);
	assert_int_equal(repo_hooks_count(db, 7), 0);
	db_close(db);
	pt_pool_free(pool);
}

/* File requests: the count of each file is one conditional UPDATE; the
 * refusal says which limit (403 files, 413 bytes, 410 closed/expired). */
static void test_repo_requests(void **state)
{
	char folder[ID_LEN + 1];
	struct db *db;
	struct file_request fr, got;
	struct pt_pool *pool = pt_pool_new();

	db = fixture_db("r.db", true);
	memset(&fr, 0, sizeof(fr));
	snprintf(fr.id, sizeof(fr.id), "RRRRRRRRRRRR");
	snprintf(fr.folder_id, sizeof(fr.folder_id), "FFFFFFFFFFFF");
	fr.owner = 7;
	fr.created = 1000;
	fr.expires = 5000;
	fr.max_files = 2;
	fr.max_bytes = 100;
	fr.password_hash = "";
	assert_int_equal(repo_request_create(db, &fr), 0);
	assert_int_equal(repo_request_create(db, &fr), PT_ECONFLICT);
	assert_int_equal(repo_request_take(db, "RRRRRRRRRRRR", 60, 2000, folder),
			 0);
	assert_string_equal(folder, "FFFFFFFFFFFF");
	/* 60 + 41 > 100: over the bytes, nothing counted */
	assert_int_equal(repo_request_take(db, "RRRRRRRRRRRR", 41, 2000, folder),
			 PT_ETOOBIG);
	assert_int_equal(repo_request_take(db, "RRRRRRRRRRRR", 40, 2000, folder),
			 0);
	assert_int_equal(repo_request_take(db, "RRRRRRRRRRRR", 0, 2000, folder),
			 PT_EFORBIDDEN);
	assert_int_equal(repo_request_get(db, pool, "RRRRRRRRRRRR", &got), 0);
	assert_true(got.files == 2 && got.bytes == 100 && got.owner == 7);
	/* a place given back is free again */
	assert_int_equal(repo_request_untake(db, "RRRRRRRRRRRR", 40), 0);
	assert_int_equal(repo_request_take(db, "RRRRRRRRRRRR", 40, 4999, folder),
			 0);
	/* expired, then closed, then unknown: all gone */
	assert_int_equal(repo_request_untake(db, "RRRRRRRRRRRR", 40), 0);
	assert_int_equal(repo_request_take(db, "RRRRRRRRRRRR", 1, 5000, folder),
			 PT_EGONE);
	assert_int_equal(repo_request_close(db, "RRRRRRRRRRRR", 8),
			 PT_ENOTFOUND); /* not the owner */
	assert_int_equal(repo_request_close(db, "RRRRRRRRRRRR", 7), 0);
	assert_int_equal(repo_request_close(db, "RRRRRRRRRRRR", 7),
			 PT_ENOTFOUND);
	assert_int_equal(repo_request_take(db, "RRRRRRRRRRRR", 1, 2000, folder),
			 PT_EGONE);
	assert_int_equal(repo_request_take(db, "NNNNNNNNNNNN", 1, 2000, folder),
			 PT_EGONE);
	/* at most REPO_REQUESTS_OPEN_MAX open per owner */
	fr.owner = 9;
	for (int i = 0; i < REPO_REQUESTS_OPEN_MAX; i++) {
		snprintf(fr.id, sizeof(fr.id), "Q%011d", i);
		assert_int_equal(repo_request_create(db, &fr), 0);
	}
	snprintf(fr.id, sizeof(fr.id), "QQQQQQQQQQQQ");
	assert_int_equal(repo_request_create(db, &fr), PT_ELIMIT);
	db_close(db);
	pt_pool_free(pool);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		FIXTURE_TEST(test_repo),
		FIXTURE_TEST(test_repo_budget),
		FIXTURE_TEST(test_repo_hooks),
		FIXTURE_TEST(test_repo_requests),
	};
	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
