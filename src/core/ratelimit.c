/*
 * ratelimit.c — fixed-window counters in a chained hash table, capped:
 * a full table sweeps expired entries, then evicts (see ratelimit.h).
 */
#include "ratelimit.h"

#include <arpa/inet.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../util/pt.h"
#include "../util/banned.h"

#define NBUCKETS 8192
/* buckets an eviction looks at for the oldest window */
#define EVICT_SCAN 8

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
	size_t n, max;
	int64_t swept;     /* when the last full sweep ran */
	size_t cursor;     /* where the next eviction looks */
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
	rl->max = RATELIMIT_MAX;
	rl->swept = INT64_MIN;
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

/* Drop the entry with the oldest window in the next few non-empty
 * buckets (the table is full, so there are some). */
static void evict(struct ratelimit *rl)
{
	struct entry **victim = NULL;
	for (size_t seen = 0, i = 0; i < NBUCKETS && seen < EVICT_SCAN; i++) {
		size_t b = (rl->cursor + i) % NBUCKETS;
		if (!rl->b[b])
			continue;
		seen++;
		for (struct entry **p = &rl->b[b]; *p; p = &(*p)->next)
			if (!victim || (*p)->start < (*victim)->start)
				victim = p;
		rl->cursor = (b + 1) % NBUCKETS;
	}
	if (!victim)
		return;
	struct entry *e = *victim;
	*victim = e->next;
	free(e);
	rl->n--;
}

static bool hit(struct ratelimit *rl, const char *key, int64_t now,
		int64_t *retry_after, bool count)
{
	bool ok;
	if (!rl)
		return true;
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
		if (rl->n >= rl->max && now != rl->swept) {
			/* a whole pass, at most once a second: a flood of
			 * new keys must not make every one of them pay it */
			rl->swept = now;
			sweep(rl, now);
		}
		while (rl->n >= rl->max)
			evict(rl);
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
	if (!rl)
		return;
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
	if (!rl)
		return;
	pthread_mutex_lock(&rl->lock);
	struct entry *e = rl->b[hash(key)];
	while (e && strcmp(e->key, key) != 0)
		e = e->next;
	if (e && e->count > 0)
		e->count--;
	pthread_mutex_unlock(&rl->lock);
}

uint64_t ratelimit_count(struct ratelimit *rl, const char *key, int64_t now)
{
	uint64_t n = 0;
	if (!rl)
		return 0;
	pthread_mutex_lock(&rl->lock);
	struct entry *e = rl->b[hash(key)];
	while (e && strcmp(e->key, key) != 0)
		e = e->next;
	if (e && now - e->start < rl->window)
		n = e->count;
	pthread_mutex_unlock(&rl->lock);
	return n;
}

void ratelimit_cap(struct ratelimit *rl, size_t max)
{
	pthread_mutex_lock(&rl->lock);
	rl->max = max ? max : 1;
	pthread_mutex_unlock(&rl->lock);
}

void ratelimit_addr_key(const char *ip, char *out)
{
	unsigned char a[16];
	char text[INET6_ADDRSTRLEN];
	if (inet_pton(AF_INET6, ip, a) != 1 ||
	    /* IPv4-mapped: the IPv4 address is the client */
	    (memcmp(a, "\0\0\0\0\0\0\0\0\0\0\xff\xff", 12) == 0)) {
		snprintf(out, RATELIMIT_ADDR_MAX, "%s", ip);
		return;
	}
	memset(a + 8, 0, 8);
	inet_ntop(AF_INET6, a, text, sizeof(text));
	snprintf(out, RATELIMIT_ADDR_MAX, "%s/64", text);
}
