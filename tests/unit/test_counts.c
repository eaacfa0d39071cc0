/*
 * test_counts.c — the batched download counters of src/api/counts.c on a
 * real SQLite database: no count is ever dropped, however many distinct
 * links one flush carries (issue 19: past 65 536 they were), and a flush
 * that fails keeps every count for the next one.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/app.h"
#include "fixture_repo.h"
#include "util/pt.h"

#define LINKS 70000

static void link_id(char *id, unsigned i)
{
	snprintf(id, ID_LEN + 1, "c%011u", i);
}

/* LINKS links, without an fsync each (repo_link_create is its own
 * transaction) */
static void make_links(struct db *db)
{
	char id[ID_LEN + 1];
	assert_int_equal(db_exec(db, "PRAGMA synchronous=OFF"), 0);
	for (unsigned i = 0; i < LINKS; i++) {
		struct link l;
		link_id(id, i);
		fixture_link(&l, id);
		assert_int_equal(repo_link_create(db, &l, NULL, NULL), 0);
	}
	assert_int_equal(db_exec(db, "PRAGMA synchronous=FULL"), 0);
}

static void totals(struct db *db, int64_t *sum, int64_t *counted, int64_t *last)
{
	struct db_stmt *st;
	assert_int_equal(db_get(db,
				"SELECT COALESCE(SUM(downloads), 0), "
				"COUNT(*), MIN(last_download) FROM links "
				"WHERE downloads > 0",
				&st, ""),
			 0);
	*sum = db_col_int(st, 0);
	*counted = db_col_int(st, 1);
	*last = db_col_int(st, 2);
	db_done(st);
}

/* 70 000 distinct links, each downloaded twice (the second later), in one
 * batch: every count reaches its row, with the later time. */
static void test_many_links(void **state)
{
	struct db *db = fixture_db("t.db", true);
	struct counts *c = counts_new(0);
	char id[ID_LEN + 1];
	int64_t sum, counted, last;

	make_links(db);
	for (unsigned i = 0; i < LINKS; i++) {
		link_id(id, i);
		counts_bump(c, id, 2000);
	}
	for (unsigned i = 0; i < LINKS; i++) {
		link_id(id, i);
		counts_bump(c, id, 3000);
	}
	assert_int_equal(counts_flush(c, db), 0);
	totals(db, &sum, &counted, &last);
	assert_int_equal(counted, LINKS);
	assert_int_equal(sum, 2 * LINKS);
	assert_int_equal(last, 3000);
	/* nothing left: a second flush adds nothing */
	assert_int_equal(counts_flush(c, db), 0);
	totals(db, &sum, &counted, &last);
	assert_int_equal(sum, 2 * LINKS);
	counts_free(c);
	db_close(db);
}

/* A flush that fails (here: a database without the schema, a real
 * failure of a real SQLite) keeps every count, and the counts made
 * meanwhile are added to them. */
static void test_failed_flush_keeps(void **state)
{
	struct db *bad = fixture_db("bad.db", false);
	struct db *db = fixture_db("t2.db", true);
	struct counts *c = counts_new(0);
	char id[ID_LEN + 1];
	int64_t sum, counted, last;

	make_links(db);
	for (unsigned i = 0; i < LINKS; i++) {
		link_id(id, i);
		counts_bump(c, id, 2000);
	}
	assert_true(counts_flush(c, bad) < 0);
	assert_true(counts_flush(c, bad) < 0); /* twice: still kept */
	link_id(id, 7);
	counts_bump(c, id, 4000);
	assert_int_equal(counts_flush(c, db), 0);
	totals(db, &sum, &counted, &last);
	assert_int_equal(counted, LINKS);
	assert_int_equal(sum, LINKS + 1);
	struct db_stmt *st;
	assert_int_equal(db_get(db,
				"SELECT downloads, last_download FROM links "
				"WHERE id = $1",
				&st, "t", id),
			 0);
	assert_int_equal(db_col_int(st, 0), 2);
	assert_int_equal(db_col_int(st, 1), 4000);
	db_done(st);
	counts_free(c);
	db_close(bad);
	db_close(db);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		FIXTURE_TEST(test_many_links),
		FIXTURE_TEST(test_failed_flush_keeps),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
