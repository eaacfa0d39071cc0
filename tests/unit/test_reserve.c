/*
 * test_reserve.c — unit tests for src/store/reserve.c on a temp directory
 * of the real file system: the reserve file holds real blocks, a release
 * empties it once, it comes back when an upload asks and there is room,
 * a lowered reserve_bytes shrinks it, and the upload floor counts the
 * announced length and min_free (bytes or a percentage).  The full disk
 * itself is tests/e2e/test_72_full_disk.py (a tmpfs needs root).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/statvfs.h>

#include "conf.h"
#include "fixture_repo.h"
#include "store/reserve.h"

#define MiB (UINT64_C(1) << 20)

static char path[300];

static int setup(void **state)
{
	struct statvfs v;
	fixture_setup(state);
	snprintf(path, sizeof(path), "%s/reserve", fixture_dir);
	/* 1 MiB reserves need a file system of 16 MiB with room */
	assert_int_equal(statvfs(fixture_dir, &v), 0);
	if ((uint64_t)v.f_blocks * v.f_frsize < 16 * MiB ||
	    (uint64_t)v.f_bavail * v.f_frsize < 64 * MiB)
		skip();
	return 0;
}

static uint64_t held(void)
{
	struct stat st;
	return stat(path, &st) == 0 ? (uint64_t)st.st_blocks * 512 : 0;
}

static void test_release_and_fill(void **state)
{
	struct reserve *r;

	assert_int_equal(reserve_open(fixture_dir, MiB, 0, &r), 0);
	assert_true(held() >= MiB); /* real blocks, not a sparse size */
	reserve_before_write(); /* plenty free: kept */
	assert_true(held() >= MiB);
	assert_true(reserve_upload_ok(MiB));
	assert_false(reserve_upload_ok(UINT64_MAX));

	assert_true(reserve_release());
	assert_int_equal(held(), 0);
	assert_false(reserve_release()); /* nothing left to give */
	/* the next upload's check makes it whole first */
	assert_true(reserve_upload_ok(0));
	assert_true(held() >= MiB);
	assert_true(reserve_release());
	assert_int_equal(reserve_fill(r), 0);
	assert_true(held() >= MiB);
	reserve_close(r);
	/* unregistered: nothing to release, every upload fits */
	assert_false(reserve_release());
	assert_true(reserve_upload_ok(UINT64_MAX));

	/* a lowered reserve_bytes gives the rest back */
	assert_int_equal(reserve_open(fixture_dir, MiB / 2, 0, &r), 0);
	assert_true(held() >= MiB / 2 && held() < MiB);
	reserve_close(r);
	/* 0: none, and an old one is given back */
	assert_int_equal(reserve_open(fixture_dir, 0, 0, &r), 0);
	assert_int_equal(held(), 0);
	assert_true(reserve_upload_ok(UINT64_MAX));
	reserve_close(r);
}

static void test_floor(void **state)
{
	struct reserve *r;
	struct statvfs v;

	/* all of the disk as the floor: nothing fits */
	assert_int_equal(reserve_open(fixture_dir, 0, CONF_PERCENT | 100, &r),
			 0);
	assert_false(reserve_upload_ok(0));
	reserve_close(r);
	/* the free space minus a little: only what leaves the floor */
	assert_int_equal(statvfs(fixture_dir, &v), 0);
	uint64_t free = (uint64_t)v.f_bavail * v.f_frsize;
	assert_int_equal(reserve_open(fixture_dir, 0, free / 2, &r), 0);
	assert_true(reserve_upload_ok(0));
	assert_true(reserve_upload_ok(MiB));
	assert_false(reserve_upload_ok(free - free / 4));
	reserve_close(r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_release_and_fill, setup,
						fixture_teardown),
		cmocka_unit_test_setup_teardown(test_floor, setup,
						fixture_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
