/*
 * ratelimit.c — fixed-window counters in a chained hash table.
 */
#include "ratelimit.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "../util/pt.h"
#include "../util/banned.h"

#define NBUCKETS 8192

struct entry {
	struct entry *next;
	int64_t start;
	uint64_t count;
	char key[];
};

struct ratelimit {
	pthread_mutex_t lock;
	uint64_t limit;
	int64_t window;
	size_t n;
	struct entry *b[NBUCKETS];
};

static unsigned hash(const char *s)
{
	return pt_hash_str(s) % NBUCKETS;
}

struct ratelimit *ratelimit_new(uint64_t limit, int64_t window)
{
	struct ratelimit *rl = xcalloc(1, sizeof(*rl));
	pthread_mutex_init(&rl->lock, NULL);
	rl->limit = limit;
	rl->window = window;
	return rl;
}

void ratelimit_free(struct ratelimit *rl)
{
	if (!rl)
		return;
	for (size_t i = 0; i < NBUCKETS; i++) {
		struct entry *e = rl->b[i];
		while (e) {
			struct entry *next = e->next;
			free(e);
			e = next;
		}
	}
	pthread_mutex_destroy(&rl->lock);
	free(rl);
}

static void sweep(struct ratelimit *rl, int64_t now)
{
	for (size_t i = 0; i < NBUCKETS; i++) {
		struct entry **p = &rl->b[i];
		while (*p) {
			if (now - (*p)->start >= rl->window) {
				struct entry *e = *p;
				*p = e->next;
				free(e);
				rl->n--;
			} else {
				p = &(*p)->next;
			}
		}
	}
}

static bool hit(struct ratelimit *rl, const char *key, int64_t now,
		int64_t *retry_after, bool count)
{
	bool ok;
	pthread_mutex_lock(&rl->lock);
	struct entry **p = &rl->b[hash(key)];
	while (*p && strcmp((*p)->key, key) != 0)
		p = &(*p)->next;
	struct entry *e = *p;
	if (e && now - e->start >= rl->window) {
		e->start = now;
		e->count = 0;
	}
	if (!e) {
		if (!count) {
			pthread_mutex_unlock(&rl->lock);
			return true;
		}
		if (rl->n >= RATELIMIT_MAX)
			sweep(rl, now);
		if (rl->n >= RATELIMIT_MAX) {
			pthread_mutex_unlock(&rl->lock);
			if (retry_after)
				*retry_after = rl->window;
			return false;
		}
		size_t n = strlen(key);
		e = xmalloc(sizeof(*e) + n + 1);
		memcpy(e->key, key, n + 1);
		e->start = now;
		e->count = 0;
		e->next = rl->b[hash(key)];
		rl->b[hash(key)] = e;
		rl->n++;
	}
	ok = e->count < rl->limit;
	if (ok && count)
		e->count++;
	if (!ok && retry_after)
		*retry_after = e->start + rl->window - now;
	pthread_mutex_unlock(&rl->lock);
	return ok;
}

bool ratelimit_hit(struct ratelimit *rl, const char *key, int64_t now,
		   int64_t *retry_after)
{
	return hit(rl, key, now, retry_after, true);
}

bool ratelimit_check(struct ratelimit *rl, const char *key, int64_t now,
		     int64_t *retry_after)
{
	return hit(rl, key, now, retry_after, false);
}

void ratelimit_reset(struct ratelimit *rl, const char *key)
{
	pthread_mutex_lock(&rl->lock);
	struct entry **p = &rl->b[hash(key)];
	while (*p && strcmp((*p)->key, key) != 0)
		p = &(*p)->next;
	if (*p) {
		struct entry *e = *p;
		*p = e->next;
		free(e);
		rl->n--;
	}
	pthread_mutex_unlock(&rl->lock);
}

void ratelimit_refund(struct ratelimit *rl, const char *key)
{
	pthread_mutex_lock(&rl->lock);
	struct entry *e = rl->b[hash(key)];
	while (e && strcmp(e->key, key) != 0)
		e = e->next;
	if (e && e->count > 0)
		e->count--;
	pthread_mutex_unlock(&rl->lock);
}
