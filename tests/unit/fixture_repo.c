/*
 * fixture_repo.c — the unit tests' temp directory, SQLite database and
 * link row (fixture_repo.h).
 */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fixture_repo.h"

char fixture_dir[256];

int fixture_setup(void **state)
{
	(void)state;
	snprintf(fixture_dir, sizeof(fixture_dir), "/tmp/pt-%s-XXXXXX",
		 program_invocation_short_name);
	assert_non_null(mkdtemp(fixture_dir));
	return 0;
}

int fixture_teardown(void **state)
{
	char cmd[300];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", fixture_dir);
	return system(cmd) == 0 ? 0 : -1;
}

struct db *fixture_db(const char *name, bool migrate)
{
	char url[300];
	struct db *db;

	snprintf(url, sizeof(url), "sqlite:%s/%s", fixture_dir, name);
	assert_int_equal(db_open(url, &db), 0);
	if (migrate)
		assert_int_equal(repo_migrate(db), 0);
	return db;
}

void fixture_link(struct link *l, const char *id)
{
	size_t n = strlen(id);

	memset(l, 0, sizeof(*l));
	snprintf(l->id, sizeof(l->id), "%s", id);
	snprintf(l->sha256, sizeof(l->sha256), "%s", FIXTURE_HEX);
	l->name = "a.txt";
	l->mime = "text/plain";
	l->size = 3;
	l->created = 1000;
	memset(l->delete_hash, '0', TOKEN_HASH_LEN);
	if (n > TOKEN_HASH_LEN)
		n = TOKEN_HASH_LEN;
	memcpy(l->delete_hash + TOKEN_HASH_LEN - n, id, n);
	l->reason = "";
}
