/*
 * blobcache.c — small blobs in memory (blobcache.h): a chained hash of
 * entries by hash, and a list in order of use for eviction.
 */
#include "blobcache.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "blob.h"
#include "../util/pt.h"

#include "../util/banned.h"

struct blob_cached {
	atomic_uint refs;       /* the cache's own (while listed) + readers' */
	struct blob_cached *next;  /* hash chain */
	struct blob_cached *older, *newer; /* use order */
	size_t size;
	char hex[BLOB_HEX_LEN + 1];
	unsigned char bytes[];
};

struct blob_cache {
	pthread_mutex_t lock;
	struct blob_cached **slots; /* nslots, a power of two */
	size_t nslots;
	struct blob_cached *newest, *oldest;
	size_t entries, max_entry;
	uint64_t used, budget;
};

static size_t charge(size_t size)
{
	return sizeof(struct blob_cached) + size;
}

struct blob_cache *blob_cache_new(uint64_t budget, size_t max_entry)
{
	if (!budget || !max_entry)
		return NULL;
	struct blob_cache *c = xcalloc(1, sizeof(*c));
	pthread_mutex_init(&c->lock, NULL);
	/* about one slot per 4 KiB of budget: short chains for small files */
	size_t n = 64;
	while (n < (1u << 20) && (uint64_t)n * 4096 < budget)
		n <<= 1;
	c->slots = xcalloc(n, sizeof(*c->slots));
	c->nslots = n;
	c->budget = budget;
	c->max_entry = max_entry;
	return c;
}

static void entry_drop(struct blob_cached *e)
{
	if (atomic_fetch_sub(&e->refs, 1) == 1)
		free(e);
}

void blob_cache_free(struct blob_cache *c)
{
	if (!c)
		return;
	for (struct blob_cached *e = c->newest, *o; e; e = o) {
		o = e->older;
		entry_drop(e);
	}
	free(c->slots);
	pthread_mutex_destroy(&c->lock);
	free(c);
}

size_t blob_cache_max_entry(const struct blob_cache *c)
{
	return c ? c->max_entry : 0;
}

/* The hash is a SHA-256 in hex: its first 16 digits are as good as any
 * hash of them. */
static size_t slot_of(const struct blob_cache *c, const char *hex)
{
	uint64_t h = 0;
	for (int i = 0; i < 16 && hex[i]; i++) {
		char ch = hex[i];
		h = h << 4 | (uint64_t)(ch <= '9' ? ch - '0' : (ch | 32) - 'a' + 10);
	}
	return (size_t)h & (c->nslots - 1);
}

static void lru_unlink(struct blob_cache *c, struct blob_cached *e)
{
	if (e->newer)
		e->newer->older = e->older;
	else
		c->newest = e->older;
	if (e->older)
		e->older->newer = e->newer;
	else
		c->oldest = e->newer;
	e->newer = e->older = NULL;
}

static void lru_push(struct blob_cache *c, struct blob_cached *e)
{
	e->older = c->newest;
	e->newer = NULL;
	if (c->newest)
		c->newest->newer = e;
	c->newest = e;
	if (!c->oldest)
		c->oldest = e;
}

static struct blob_cached *find(struct blob_cache *c, const char *hex,
				struct blob_cached ***at)
{
	struct blob_cached **p = &c->slots[slot_of(c, hex)];
	for (; *p; p = &(*p)->next)
		if (memcmp((*p)->hex, hex, BLOB_HEX_LEN) == 0)
			break;
	if (at)
		*at = p;
	return *p;
}

/* Take the least recently used entry out; the lock is held. */
static void evict_oldest(struct blob_cache *c)
{
	struct blob_cached *e = c->oldest, **p;
	if (!e)
		return;
	lru_unlink(c, e);
	/* out of its chain (it is in it: every listed entry is) */
	for (p = &c->slots[slot_of(c, e->hex)]; *p && *p != e; p = &(*p)->next)
		;
	if (*p)
		*p = e->next;
	c->entries--;
	c->used -= charge(e->size);
	entry_drop(e);
}

struct blob_cached *blob_cache_get(struct blob_cache *c, const char *hex)
{
	if (!c || !hex)
		return NULL;
	pthread_mutex_lock(&c->lock);
	struct blob_cached *e = find(c, hex, NULL);
	if (e) {
		atomic_fetch_add(&e->refs, 1);
		if (c->newest != e) {
			lru_unlink(c, e);
			lru_push(c, e);
		}
	}
	pthread_mutex_unlock(&c->lock);
	return e;
}

struct blob_cached *blob_cache_put(struct blob_cache *c, const char *hex,
				   const void *bytes, size_t size)
{
	if (!c || !hex || size > c->max_entry || charge(size) > c->budget ||
	    strlen(hex) != BLOB_HEX_LEN)
		return NULL;
	/* the copy is made before the lock: only the linking is shared */
	struct blob_cached *n = xmalloc(sizeof(*n) + (size ? size : 1));
	atomic_init(&n->refs, 2); /* the cache's and the caller's */
	n->next = n->older = n->newer = NULL;
	n->size = size;
	memcpy(n->hex, hex, BLOB_HEX_LEN + 1);
	if (size)
		memcpy(n->bytes, bytes, size);

	pthread_mutex_lock(&c->lock);
	struct blob_cached **p, *e = find(c, hex, &p);
	if (e) { /* another thread was first */
		atomic_fetch_add(&e->refs, 1);
		pthread_mutex_unlock(&c->lock);
		free(n);
		return e;
	}
	while (c->used + charge(size) > c->budget && c->oldest)
		evict_oldest(c);
	find(c, hex, &p); /* evictions may have changed the chain */
	n->next = *p;
	*p = n;
	lru_push(c, n);
	c->entries++;
	c->used += charge(size);
	pthread_mutex_unlock(&c->lock);
	return n;
}

void blob_cache_unref(struct blob_cached *e)
{
	if (e)
		entry_drop(e);
}

const unsigned char *blob_cached_bytes(const struct blob_cached *e)
{
	return e->bytes;
}

size_t blob_cached_size(const struct blob_cached *e)
{
	return e->size;
}

void blob_cache_usage(struct blob_cache *c, size_t *entries, uint64_t *bytes)
{
	*entries = 0;
	*bytes = 0;
	if (!c)
		return;
	pthread_mutex_lock(&c->lock);
	*entries = c->entries;
	*bytes = c->used;
	pthread_mutex_unlock(&c->lock);
}
