/*
 * coverage.c — per-client byte coverage of files, in a chained hash table
 * under one mutex.  Interval lists are tiny (a handful of ranges in
 * practice; capped at COVERAGE_SPANS, beyond which the smallest gap is
 * left open, which can only under-count).
 */
#include "coverage.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../util/pt.h"
#include "../util/banned.h"

#define NBUCKETS 16384

struct span {
	uint64_t first, last; /* inclusive */
};

struct entry {
	struct entry *next;
	int64_t day, touched;
	uint64_t size;
	bool counted;
	unsigned n;
	struct span s[COVERAGE_SPANS];
	char key[80]; /* id '|' client */
};

struct coverage {
	pthread_mutex_t lock;
	size_t n, max;
	struct entry *b[NBUCKETS];
};

static unsigned hash(const char *s)
{
	return pt_hash_str(s) % NBUCKETS;
}

struct coverage *coverage_new(size_t max_entries)
{
	struct coverage *c = xcalloc(1, sizeof(*c));
	pthread_mutex_init(&c->lock, NULL);
	c->max = max_entries ? max_entries : COVERAGE_MAX;
	return c;
}

void coverage_free(struct coverage *c)
{
	if (!c)
		return;
	for (size_t i = 0; i < NBUCKETS; i++) {
		struct entry *e = c->b[i];
		while (e) {
			struct entry *next = e->next;
			free(e);
			e = next;
		}
	}
	pthread_mutex_destroy(&c->lock);
	free(c);
}

/* Drop entries idle for a day; if none is, the stalest one. */
static void evict(struct coverage *c, int64_t now)
{
	struct entry **oldest = NULL;
	for (size_t i = 0; i < NBUCKETS; i++) {
		struct entry **p = &c->b[i];
		while (*p) {
			if (now - (*p)->touched > 86400) {
				struct entry *e = *p;
				*p = e->next;
				free(e);
				c->n--;
				continue;
			}
			if (!oldest || (*p)->touched < (*oldest)->touched)
				oldest = p;
			p = &(*p)->next;
		}
	}
	if (c->n >= c->max && oldest) {
		struct entry *e = *oldest;
		*oldest = e->next;
		free(e);
		c->n--;
	}
}

/* Merge [f, l] into the sorted disjoint list. */
static void add_span(struct entry *e, uint64_t f, uint64_t l)
{
	struct span out[COVERAGE_SPANS + 1];
	unsigned n = 0, i = 0;
	while (i < e->n && e->s[i].last + 1 < f)
		out[n++] = e->s[i++];
	while (i < e->n && e->s[i].first <= l + 1 && l != UINT64_MAX) {
		if (e->s[i].first < f)
			f = e->s[i].first;
		if (e->s[i].last > l)
			l = e->s[i].last;
		i++;
	}
	out[n++] = (struct span){ f, l };
	while (i < e->n)
		out[n++] = e->s[i++];
	if (n > COVERAGE_SPANS) {
		/* close nothing, drop the last span: can only under-count */
		n = COVERAGE_SPANS;
	}
	memcpy(e->s, out, n * sizeof(out[0]));
	e->n = n;
}

bool coverage_add(struct coverage *c, const char *id, const char *client,
		  uint64_t size, uint64_t first, uint64_t last, int64_t now)
{
	char key[80];
	bool done = false;
	int64_t day = now / 86400;

	if (size == 0 || first > last || last >= size)
		return false;
	snprintf(key, sizeof(key), "%s|%s", id, client);
	pthread_mutex_lock(&c->lock);
	struct entry **p = &c->b[hash(key)];
	while (*p && strcmp((*p)->key, key) != 0)
		p = &(*p)->next;
	struct entry *e = *p;
	if (e && (e->day != day || e->size != size)) {
		/* a new day (or new content): start over */
		e->day = day;
		e->size = size;
		e->counted = false;
		e->n = 0;
	}
	if (!e) {
		if (c->n >= c->max)
			evict(c, now);
		e = xcalloc(1, sizeof(*e));
		memcpy(e->key, key, sizeof(key));
		e->day = day;
		e->size = size;
		unsigned h = hash(key);
		e->next = c->b[h];
		c->b[h] = e;
		c->n++;
	}
	e->touched = now;
	if (!e->counted) {
		add_span(e, first, last);
		if (e->n == 1 && e->s[0].first == 0 && e->s[0].last == size - 1) {
			e->counted = true;
			done = true;
		}
	}
	pthread_mutex_unlock(&c->lock);
	return done;
}
