/*
 * counts.c — download counters kept in memory and written in batches.
 *
 * Counting every download with its own write transaction would put an
 * fsync on the path of every GET (SQLite, synchronous=FULL).  Links with a
 * download limit are counted exactly, in the request (download.c); the
 * rest are counted here and flushed every few seconds by the counters
 * thread (serve.c, its own thread so a long gc pass never holds them
 * back), before each gc pass and at shutdown, at the cost of losing the
 * last seconds of counts in a crash — counts, never files.  Each flush
 * also credits the uploaders' rewards ledger in the same transaction.
 *
 * No count is ever dropped: the table is an open-addressing hash of link
 * ids that grows with the number of distinct links counted since the last
 * flush (about 64 bytes each once the table is at its worst load: 1.6
 * million links between two flushes is 100 MB), and a flush writes them
 * in transactions of at most COUNTS_FLUSH_BATCH links until none is left.
 * A batch that fails (database gone) is merged back with everything not
 * yet written, to be tried again at the next flush.
 *
 * Streams (issue 16) are activity without a download: counts_touch adds
 * an entry of 0 downloads, whose flush moves last_download (what the
 * retention rules read) and nothing else (no rewards, no webhook).
 */
#include "app.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "../util/banned.h"

struct count {
	char id[ID_LEN + 1]; /* "" = a free slot */
	int64_t n, last;
};

struct counts {
	int64_t points_per_download;
	void (*on_flush)(void *arg, const char *id, int64_t n);
	void *on_flush_arg;
	pthread_mutex_t lock;
	struct count *v; /* cap slots, a power of two */
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

/* FNV-1a over the id's ID_LEN bytes */
static size_t hash_id(const char *id)
{
	uint64_t h = 1469598103934665603ULL;
	for (size_t i = 0; i < ID_LEN && id[i]; i++) {
		h ^= (unsigned char)id[i];
		h *= 1099511628211ULL;
	}
	return (size_t)h;
}

static struct count *slot(struct count *v, size_t cap, const char *id)
{
	size_t i = hash_id(id) & (cap - 1);
	while (v[i].id[0] && strncmp(v[i].id, id, ID_LEN) != 0)
		i = (i + 1) & (cap - 1);
	return &v[i];
}

/* Add n downloads of id, the last at `last`; the lock is held.  Grows the
 * table at half full: never refuses. */
static void add_locked(struct counts *c, const char *id, int64_t n,
		       int64_t last)
{
	if (2 * (c->n + 1) > c->cap) {
		size_t cap = c->cap ? 2 * c->cap : 64;
		struct count *v = xcalloc(cap, sizeof(*v));
		for (size_t i = 0; i < c->cap; i++)
			if (c->v[i].id[0])
				*slot(v, cap, c->v[i].id) = c->v[i];
		free(c->v);
		c->v = v;
		c->cap = cap;
	}
	struct count *e = slot(c->v, c->cap, id);
	if (!e->id[0]) {
		memcpy(e->id, id, ID_LEN);
		e->id[ID_LEN] = '\0';
		c->n++;
	}
	e->n += n;
	if (last > e->last)
		e->last = last;
}

void counts_bump(struct counts *c, const char *id, int64_t when)
{
	if (!id || !id[0])
		return;
	pthread_mutex_lock(&c->lock);
	add_locked(c, id, 1, when);
	pthread_mutex_unlock(&c->lock);
}

void counts_touch(struct counts *c, const char *id, int64_t when)
{
	if (!id || !id[0])
		return;
	pthread_mutex_lock(&c->lock);
	add_locked(c, id, 0, when);
	pthread_mutex_unlock(&c->lock);
}

size_t counts_pending(struct counts *c)
{
	pthread_mutex_lock(&c->lock);
	size_t n = c->n;
	pthread_mutex_unlock(&c->lock);
	return n;
}

/* One transaction for up to COUNTS_FLUSH_BATCH links: one fsync, not n. */
static int write_batch(struct counts *c, struct db *db, const struct count *v,
		       size_t n)
{
	int err = db_begin(db);
	for (size_t i = 0; !err && i < n; i++) {
		err = repo_link_add_downloads(db, v[i].id, v[i].n, v[i].last);
		if (!err && v[i].n) /* 0: streamed only (counts_touch) */
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
		if (v[i].n)
			on(on_arg, v[i].id, v[i].n);
	return err;
}

int counts_flush(struct counts *c, struct db *db)
{
	struct count *v, *b;
	size_t cap, n = 0, done = 0;
	int err = 0;

	pthread_mutex_lock(&c->lock);
	v = c->v;
	cap = c->cap;
	c->v = NULL;
	c->n = c->cap = 0;
	pthread_mutex_unlock(&c->lock);
	if (!v)
		return 0;
	/* pack the used slots to the front: the batches are runs of them */
	for (size_t i = 0; i < cap; i++)
		if (v[i].id[0])
			v[n++] = v[i];
	for (; !err && done < n; done += COUNTS_FLUSH_BATCH) {
		b = v + done;
		size_t k = n - done < COUNTS_FLUSH_BATCH ? n - done
							 : COUNTS_FLUSH_BATCH;
		err = write_batch(c, db, b, k);
		if (err)
			break;
	}
	if (err) {
		/* this batch and the rest: back for the next flush, added to
		 * what was counted meanwhile */
		pthread_mutex_lock(&c->lock);
		for (size_t i = done; i < n; i++)
			add_locked(c, v[i].id, v[i].n, v[i].last);
		pthread_mutex_unlock(&c->lock);
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
