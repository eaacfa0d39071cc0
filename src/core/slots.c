/*
 * slots.c — per-address download counters in a chained hash table under
 * one mutex (critical sections are a handful of instructions).
 */
#include "slots.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "../util/pt.h"
#include "../util/banned.h"

#define NBUCKETS 4096

struct entry {
	struct entry *next;
	uint64_t held;
	char ip[48];
};

struct slots {
	pthread_mutex_t lock;
	size_t n;
	struct entry *b[NBUCKETS];
};

static unsigned hash(const char *s)
{
	return pt_hash_str(s) % NBUCKETS;
}

struct slots *slots_new(void)
{
	struct slots *s = xcalloc(1, sizeof(*s));
	pthread_mutex_init(&s->lock, NULL);
	return s;
}

void slots_free(struct slots *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < NBUCKETS; i++) {
		struct entry *e = s->b[i];
		while (e) {
			struct entry *next = e->next;
			free(e);
			e = next;
		}
	}
	pthread_mutex_destroy(&s->lock);
	free(s);
}

static struct entry **find(struct slots *s, const char *ip)
{
	struct entry **p = &s->b[hash(ip)];
	while (*p && strcmp((*p)->ip, ip) != 0)
		p = &(*p)->next;
	return p;
}

bool slots_acquire(struct slots *s, const char *ip, uint64_t limit)
{
	bool ok = false;
	if (!limit)
		return true;
	pthread_mutex_lock(&s->lock);
	struct entry **p = find(s, ip);
	if (*p) {
		if ((*p)->held < limit) {
			(*p)->held++;
			ok = true;
		}
	} else if (s->n < SLOTS_MAX) {
		struct entry *e = xcalloc(1, sizeof(*e));
		size_t n = strlen(ip);
		memcpy(e->ip, ip, n < sizeof(e->ip) ? n : sizeof(e->ip) - 1);
		e->held = 1;
		e->next = NULL;
		*p = e;
		s->n++;
		ok = true;
	}
	pthread_mutex_unlock(&s->lock);
	return ok;
}

void slots_release(struct slots *s, const char *ip)
{
	pthread_mutex_lock(&s->lock);
	struct entry **p = find(s, ip);
	if (*p && --(*p)->held == 0) {
		struct entry *e = *p;
		*p = e->next;
		free(e);
		s->n--;
	}
	pthread_mutex_unlock(&s->lock);
}

uint64_t slots_held(struct slots *s, const char *ip)
{
	pthread_mutex_lock(&s->lock);
	struct entry **p = find(s, ip);
	uint64_t n = *p ? (*p)->held : 0;
	pthread_mutex_unlock(&s->lock);
	return n;
}
