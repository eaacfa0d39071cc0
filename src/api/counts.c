/*
 * counts.c — download counters kept in memory and written in batches.
 *
 * Counting every download with its own write transaction would put an
 * fsync on the path of every GET (SQLite, synchronous=FULL).  Links with a
 * download limit are counted exactly, in the request (download.c); the
 * rest are counted here and flushed every few seconds by the maintenance
 * thread and at shutdown, at the cost of losing the last seconds of counts
 * in a crash — counts, never files.  Each flush also credits the
 * uploaders' rewards ledger in the same transaction.
 */
#include "app.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "../util/banned.h"

#define COUNTS_MAX 65536

struct count {
	char id[ID_LEN + 1];
	int64_t n, last;
};

struct counts {
	int64_t points_per_download;
	void (*on_flush)(void *arg, const char *id, int64_t n);
	void *on_flush_arg;
	pthread_mutex_t lock;
	struct count *v;
	size_t n, cap;
};

struct counts *counts_new(int64_t points_per_download)
{
	struct counts *c = xcalloc(1, sizeof(*c));
	c->points_per_download = points_per_download;
	pthread_mutex_init(&c->lock, NULL);
	return c;
}

void counts_free(struct counts *c)
{
	if (!c)
		return;
	pthread_mutex_destroy(&c->lock);
	free(c->v);
	free(c);
}

void counts_bump(struct counts *c, const char *id, int64_t when)
{
	pthread_mutex_lock(&c->lock);
	/* a short linear scan: batches hold a few seconds of downloads */
	for (size_t i = 0; i < c->n; i++) {
		if (strcmp(c->v[i].id, id) == 0) {
			c->v[i].n++;
			c->v[i].last = when;
			pthread_mutex_unlock(&c->lock);
			return;
		}
	}
	if (c->n < COUNTS_MAX) {
		if (c->n == c->cap) {
			c->cap = c->cap ? 2 * c->cap : 64;
			c->v = xrealloc(c->v, c->cap * sizeof(*c->v));
		}
		struct count *e = &c->v[c->n++];
		memcpy(e->id, id, ID_LEN);
		e->id[ID_LEN] = '\0';
		e->n = 1;
		e->last = when;
	}
	pthread_mutex_unlock(&c->lock);
}

int counts_flush(struct counts *c, struct db *db)
{
	struct count *v;
	size_t n;
	int err = 0;

	pthread_mutex_lock(&c->lock);
	v = c->v;
	n = c->n;
	c->v = NULL;
	c->n = c->cap = 0;
	pthread_mutex_unlock(&c->lock);
	if (!n)
		return 0;
	/* one transaction for the batch: one fsync, not n */
	err = db_begin(db);
	for (size_t i = 0; !err && i < n; i++) {
		err = repo_link_add_downloads(db, v[i].id, v[i].n, v[i].last);
		if (!err)
			err = repo_reward_downloads(db, v[i].id, v[i].n,
						    c->points_per_download,
						    v[i].last);
	}
	if (!err)
		err = db_commit(db);
	else
		db_rollback(db);
	pthread_mutex_lock(&c->lock);
	void (*on)(void *, const char *, int64_t) = c->on_flush;
	void *on_arg = c->on_flush_arg;
	pthread_mutex_unlock(&c->lock);
	/* counted for good: tell (webhooks) */
	for (size_t i = 0; !err && on && i < n; i++)
		on(on_arg, v[i].id, v[i].n);
	if (err) {
		/* keep them for the next flush */
		for (size_t i = 0; i < n; i++)
			for (int64_t k = 0; k < v[i].n; k++)
				counts_bump(c, v[i].id, v[i].last);
	}
	free(v);
	return err;
}

void counts_on_flush(struct counts *c,
		     void (*cb)(void *arg, const char *id, int64_t n),
		     void *arg)
{
	pthread_mutex_lock(&c->lock);
	c->on_flush = cb;
	c->on_flush_arg = arg;
	pthread_mutex_unlock(&c->lock);
}
