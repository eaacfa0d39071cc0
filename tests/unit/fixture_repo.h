/*
 * fixture_repo.h — what the unit tests of the stores share: a temp
 * directory made before a test and removed after it (cmocka's setup and
 * teardown), a real SQLite database in it with partage's schema, and a
 * link row to create there.  No mocks: a real directory and a real
 * SQLite file (docs/testing.md).  Every failure fails the test at once
 * (cmocka asserts), so the callers check nothing.
 *
 * Built once into build/tests/libfixture.a, which every unit test links
 * (Makefile); a test that uses none of it links none of it.
 */
#ifndef PT_FIXTURE_REPO_H
#define PT_FIXTURE_REPO_H

#include <stdbool.h>

#include "store/db.h"
#include "store/repo.h"

/* SHA-256 of "abc": the blob fixture_link's rows name. */
#define FIXTURE_HEX \
	"ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"

/* The test's directory, "/tmp/pt-PROGRAM-XXXXXX" (PROGRAM: the test
 * binary's name): set by fixture_setup, there until fixture_teardown. */
extern char fixture_dir[256];

/* cmocka setup (per test or per group): make a new fixture_dir.  0, or
 * the test fails. */
int fixture_setup(void **state);
/* cmocka teardown: remove fixture_dir and everything in it.  0, or -1
 * (cmocka then reports the teardown as failed). */
int fixture_teardown(void **state);

/* A cmocka test f run between fixture_setup and fixture_teardown. */
#define FIXTURE_TEST(f) \
	cmocka_unit_test_setup_teardown(f, fixture_setup, fixture_teardown)

/* sqlite:DIR/NAME (created when absent), migrated to the current schema
 * first when migrate.  The caller closes it (db_close). */
struct db *fixture_db(const char *name, bool migrate);

/* A live anonymous link id of FIXTURE_HEX: "a.txt", text/plain, 3 bytes,
 * created at 1000, never expiring, a delete hash of its own (zeros, then
 * the id); every other field zero.  Strings are static. */
void fixture_link(struct link *l, const char *id);

#endif
