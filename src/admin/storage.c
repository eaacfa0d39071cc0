/*
 * storage.c — `partaged admin gc [--now UNIXTIME] [--dry-run]`, one pass
 * of the expiry and collection that the maintenance thread runs
 * periodically (api/gc.c), and `partaged admin stats [--recount]`, the
 * store's figures (the counters of repo_stats; --recount checks them all
 * against the tables first).
 */
#define _GNU_SOURCE
#include "admin.h"

#include <stdio.h>
#include <string.h>

#include "../util/banned.h"

int admin_gc(struct app *app, int argc, char **argv)
{
	int64_t now = pt_now();
	bool dry = false;
	struct gc_stats st;

	for (int i = 1; i < argc; i++) {
		uint64_t t;
		if (strcmp(argv[i], "--dry-run") == 0)
			dry = true;
		else if (strcmp(argv[i], "--now") == 0 && i + 1 < argc &&
			 !pt_parse_u64(argv[i + 1], strlen(argv[i + 1]), &t))
			now = (int64_t)t, i++;
		else
			return admin_die(
				"usage: gc [--now UNIXTIME] [--dry-run]");
	}
	int err = gc_run(app, now, dry, &st);
	if (err)
		return admin_die("gc: %s", pt_strerror(err));
	printf("gc%s: %lld links expired, %lld blobs removed (%lld bytes), "
	       "%lld uploads expired, %lld stray files removed\n",
	       dry ? " (dry run, nothing changed)" : "",
	       (long long)st.expired_links, (long long)st.reaped_blobs,
	       (long long)st.reaped_bytes, (long long)st.expired_uploads,
	       (long long)st.stray_removed);
	return 0;
}

/* One "name value" line each, for people and scripts alike; the same
 * figures as the partage_*_total gauges of /metrics. */
int admin_stats(struct app *app, int argc, char **argv)
{
	struct repo_stats st;
	int err;

	if (argc > 2 || (argc == 2 && strcmp(argv[1], "--recount") != 0))
		return admin_die("usage: stats [--recount]");
	if (argc == 2) {
		/* every shard once (repo_stats_reconcile) */
		unsigned cursor = 0;
		int64_t fixed = 0;
		err = repo_stats_reconcile(app_db(app), REPO_STATS_SHARDS, &cursor,
					   &fixed);
		if (err)
			return admin_die("stats: recount: %s",
					 pt_strerror(err));
		printf("recounted: %lld counters were wrong\n",
		       (long long)fixed);
	}
	err = repo_stats(app_db(app), &st);
	if (err) {
		fprintf(stderr, "partaged: cannot read the statistics: %s\n",
			pt_strerror(err));
		return 1;
	}
	printf("live_links %lld\nlive_bytes %lld\nblobs %lld\n"
	       "stored_bytes %lld\n",
	       (long long)st.live_links, (long long)st.logical_bytes,
	       (long long)st.blobs, (long long)st.stored_bytes);
	return 0;
}
