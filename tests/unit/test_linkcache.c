/*
 * test_linkcache.c — unit tests for src/store/linkcache.c: copies come
 * back whole, only servable rows are kept, a copy dies with its ttl or
 * with a generation bump — also one made by another mapping of the same
 * counter file, as `partaged admin` makes — and a row read before a bump
 * is never served after it.  The counter file has its block before it is
 * mapped, also one an older version left sparse.
 */
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "fixture_repo.h"
#include "store/linkcache.h"
#include "util/pool.h"
#include "util/pt.h"

static struct link sample(const char *id)
{
	struct link l;
	memset(&l, 0, sizeof(l));
	snprintf(l.id, sizeof(l.id), "%s", id);
	memset(l.sha256, 'b', BLOB_HEX_LEN);
	l.name = "été <1>.txt";
	l.mime = "text/plain";
	l.reason = "";
	l.password_hash = NULL;
	l.size = 1234;
	l.created = 1000;
	l.owner = 7;
	return l;
}

static void test_round_trip(void **state)
{
	struct linkcache *c;
	struct pt_pool *pool = pt_pool_new();
	struct link l = sample("abcdefABCDEF"), got;

	assert_int_equal(linkcache_new(NULL, 60000, 16, &c), 0);
	assert_false(linkcache_get(c, l.id, pool, &got));
	linkcache_put(c, &l, linkcache_gen(c));
	assert_true(linkcache_get(c, l.id, pool, &got));
	assert_string_equal(got.id, l.id);
	assert_string_equal(got.name, l.name);
	assert_string_equal(got.mime, "text/plain");
	assert_string_equal(got.password_hash, ""); /* NULL: none */
	assert_int_equal(got.size, 1234);
	assert_int_equal(got.owner, 7);
	assert_memory_equal(got.sha256, l.sha256, BLOB_HEX_LEN);
	/* the copy is the caller's: changing it changes nothing kept */
	got.name[0] = 'X';
	assert_true(linkcache_get(c, l.id, pool, &got));
	assert_string_equal(got.name, l.name);
	/* another id in the same slot (16 slots, many ids) takes it over */
	char id[ID_LEN + 1];
	int replaced = 0;
	for (int i = 0; i < 200; i++) {
		snprintf(id, sizeof(id), "zz%010u", (unsigned)i);
		struct link o = sample(id);
		linkcache_put(c, &o, linkcache_gen(c));
		assert_true(linkcache_get(c, id, pool, &got));
		assert_string_equal(got.id, id);
		replaced += !linkcache_get(c, l.id, pool, &got);
	}
	assert_true(replaced > 0);
	linkcache_free(c);
	pt_pool_free(pool);
}

static void test_only_servable_rows(void **state)
{
	struct linkcache *c;
	struct pt_pool *pool = pt_pool_new();
	struct link l = sample("budget000001"), got;

	assert_int_equal(linkcache_new(NULL, 60000, 64, &c), 0);
	l.max_downloads = 1; /* taken in the database */
	linkcache_put(c, &l, linkcache_gen(c));
	assert_false(linkcache_get(c, l.id, pool, &got));
	l = sample("deleted00001");
	l.state = LINK_DELETED;
	l.reason = "deleted";
	linkcache_put(c, &l, linkcache_gen(c));
	assert_false(linkcache_get(c, l.id, pool, &got));
	/* a password link is kept with its hash (checked per request) */
	l = sample("password0001");
	l.password_hash = "$argon2id$v=19$m=65536,t=2,p=1$xx$yy";
	linkcache_put(c, &l, linkcache_gen(c));
	assert_true(linkcache_get(c, l.id, pool, &got));
	assert_string_equal(got.password_hash, l.password_hash);
	linkcache_free(c);
	pt_pool_free(pool);
}

static void test_ttl_and_generation(void **state)
{
	struct linkcache *c;
	struct pt_pool *pool = pt_pool_new();
	struct link l = sample("ttl000000001"), got;

	assert_int_equal(linkcache_new(NULL, 50, 64, &c), 0);
	linkcache_put(c, &l, linkcache_gen(c));
	assert_true(linkcache_get(c, l.id, pool, &got));
	struct timespec ts = { 0, 80 * 1000000L };
	nanosleep(&ts, NULL);
	assert_false(linkcache_get(c, l.id, pool, &got)); /* past its ttl */

	/* a row read before a change is filed under the old generation:
	 * never served once the change has bumped it */
	uint64_t before = linkcache_gen(c);
	linkcache_bump(c);
	linkcache_put(c, &l, before);
	assert_false(linkcache_get(c, l.id, pool, &got));
	linkcache_put(c, &l, linkcache_gen(c));
	assert_true(linkcache_get(c, l.id, pool, &got));
	linkcache_bump(c);
	assert_false(linkcache_get(c, l.id, pool, &got));
	linkcache_free(c);

	/* ttl 0: nothing is kept */
	assert_int_equal(linkcache_new(NULL, 0, 64, &c), 0);
	linkcache_put(c, &l, linkcache_gen(c));
	assert_false(linkcache_get(c, l.id, pool, &got));
	linkcache_free(c);
	pt_pool_free(pool);
}

/* Two mappings of one counter file, as the server and `partaged admin`
 * on the same data directory: a bump by one drops the other's copies. */
static void test_shared_generation(void **state)
{
	struct linkcache *server, *admin;
	struct pt_pool *pool = pt_pool_new();
	struct link l = sample("shared000001"), got;
	char path[300];

	snprintf(path, sizeof(path), "%s/link-generation", fixture_dir);
	assert_int_equal(linkcache_new(path, 60000, 64, &server), 0);
	assert_int_equal(linkcache_new(path, 60000, 64, &admin), 0);
	assert_int_equal(linkcache_gen(server), linkcache_gen(admin));
	linkcache_put(server, &l, linkcache_gen(server));
	assert_true(linkcache_get(server, l.id, pool, &got));
	linkcache_bump(admin);
	assert_false(linkcache_get(server, l.id, pool, &got));
	assert_int_equal(linkcache_gen(server), linkcache_gen(admin));
	linkcache_free(admin);
	/* the count survives its mappings */
	uint64_t g = linkcache_gen(server);
	linkcache_free(server);
	assert_int_equal(linkcache_new(path, 60000, 64, &server), 0);
	assert_int_equal(linkcache_gen(server), g);
	linkcache_free(server);
	/* a directory that cannot hold the file: an error, not a crash */
	assert_true(linkcache_new("/nonexistent-dir/x/link-generation", 1000,
				  64, &server) < 0);
	pt_pool_free(pool);
}

/* A store through the mapping into a page without a block is a SIGBUS
 * on a full disk: the file must have its block from linkcache_new on. */
static void test_counter_has_its_block(void **state)
{
	struct linkcache *c;
	struct stat st;
	char path[300], tmp[700];

	/* new: made whole, and no temp file left */
	snprintf(path, sizeof(path), "%s/link-generation", fixture_dir);
	assert_int_equal(linkcache_new(path, 1000, 64, &c), 0);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_size, 8);
	assert_true(st.st_blocks > 0);
	assert_int_equal(linkcache_gen(c), 0);
	linkcache_free(c);
	snprintf(tmp, sizeof(tmp), "rmdir '%s' 2>/dev/null; ls '%s' | "
		 "grep -qv '^link-generation$'", fixture_dir, fixture_dir);
	assert_int_not_equal(system(tmp), 0);

	/* sparse, as an older partaged extended it with ftruncate */
	snprintf(path, sizeof(path), "%s/sparse-generation", fixture_dir);
	int fd = open(path, O_RDWR | O_CREAT, 0644);
	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, 8), 0);
	assert_int_equal(fstat(fd, &st), 0);
	assert_int_equal(st.st_blocks, 0);
	close(fd);
	assert_int_equal(linkcache_new(path, 1000, 64, &c), 0);
	assert_int_equal(stat(path, &st), 0);
	assert_true(st.st_blocks > 0);
	assert_int_equal(linkcache_gen(c), 0);
	linkcache_bump(c);
	assert_int_equal(linkcache_gen(c), 1);
	linkcache_free(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_only_servable_rows),
		cmocka_unit_test(test_ttl_and_generation),
		FIXTURE_TEST(test_shared_generation),
		FIXTURE_TEST(test_counter_has_its_block),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
