/*
 * pool.c — per-request arenas: a chain of blocks, large allocations as
 * their own block, and a list of cleanup handlers.
 */
#define _GNU_SOURCE
#include "pool.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pt.h"
#include "banned.h"

#define BLOCK_SIZE 4096

struct block {
	struct block *next;
	size_t used, size;
	_Alignas(16) unsigned char data[];
};

struct cleanup {
	struct cleanup *next;
	pt_cleanup_cb cb;
	void *arg;
};

struct pt_pool {
	struct block *blocks;
	struct cleanup *cleanups;
};

struct pt_pool *pt_pool_new(void)
{
	return xcalloc(1, sizeof(struct pt_pool));
}

void pt_pool_free(struct pt_pool *pool)
{
	if (!pool)
		return;
	for (struct cleanup *c = pool->cleanups; c; c = c->next)
		if (c->cb)
			c->cb(c->arg);
	struct block *b = pool->blocks;
	while (b) {
		struct block *next = b->next;
		free(b);
		b = next;
	}
	free(pool);
}

void *pt_palloc(struct pt_pool *pool, size_t n)
{
	struct block *b = pool->blocks;
	n = (n + 15) & ~(size_t)15;
	if (!b || b->size - b->used < n) {
		size_t size = n > BLOCK_SIZE / 2 ? n : BLOCK_SIZE;
		struct block *nb = xmalloc(sizeof(*nb) + size);
		nb->size = size;
		nb->used = 0;
		if (b && n > BLOCK_SIZE / 2) {
			/* keep the current block for small allocations */
			nb->next = b->next;
			b->next = nb;
		} else {
			nb->next = b;
			pool->blocks = nb;
		}
		b = nb;
	}
	void *p = b->data + b->used;
	b->used += n;
	memset(p, 0, n);
	return p;
}

char *pt_pstrndup(struct pt_pool *pool, const char *s, size_t n)
{
	char *p = pt_palloc(pool, n + 1);
	memcpy(p, s, n);
	p[n] = '\0';
	return p;
}

char *pt_pstrdup(struct pt_pool *pool, const char *s)
{
	return pt_pstrndup(pool, s, strlen(s));
}

char *pt_psprintf(struct pt_pool *pool, const char *fmt, ...)
{
	va_list ap;
	int n;
	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	PT_ASSERT(n >= 0);
	char *p = pt_palloc(pool, (size_t)n + 1);
	va_start(ap, fmt);
	vsnprintf(p, (size_t)n + 1, fmt, ap);
	va_end(ap);
	return p;
}

void *pt_pool_cleanup_add(struct pt_pool *pool, pt_cleanup_cb cb, void *arg)
{
	struct cleanup *c = pt_palloc(pool, sizeof(*c));
	c->cb = cb;
	c->arg = arg;
	c->next = pool->cleanups;
	pool->cleanups = c;
	return c;
}

void pt_pool_cleanup_disarm(void *handle)
{
	if (handle)
		((struct cleanup *)handle)->cb = NULL;
}
