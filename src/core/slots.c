/*
 * slots.c — per-address downloads and countdowns in two chained hash
 * tables under one mutex (critical sections are short: an address has at
 * most SLOTS_CONNS_MAX connections, probed with a zero-timeout poll).
 */
#define _GNU_SOURCE
#include "slots.h"

#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ticket.h"
#include "../util/pt.h"
#include "../util/banned.h"

#define NBUCKETS 4096

struct conn {
	char id[SLOTS_ID_MAX];
	int fd;
	bool dead; /* its peer is gone: no longer counted */
	uint64_t token;
};

struct entry {
	struct entry *next;
	size_t n, cap;
	struct conn *c;
	char ip[48];
};

struct countdown {
	struct countdown *next;
	int64_t ready, expires;
	char ip[48];
	char id[SLOTS_ID_MAX];
};

struct slots {
	pthread_mutex_t lock;
	size_t n, ncd;
	uint64_t next_token;
	struct entry *b[NBUCKETS];
	struct countdown *cd[NBUCKETS];
	struct countdown *cool[NBUCKETS]; /* by ip; id: the last download */
};

static unsigned hash(const char *s)
{
	return pt_hash_str(s) % NBUCKETS;
}

static void copy(char *dst, size_t cap, const char *src)
{
	size_t n = strlen(src);
	if (n >= cap)
		n = cap - 1;
	memcpy(dst, src, n);
	dst[n] = 0;
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
			free(e->c);
			free(e);
			e = next;
		}
		for (int t = 0; t < 2; t++) {
			struct countdown *d = t ? s->cool[i] : s->cd[i];
			while (d) {
				struct countdown *next = d->next;
				free(d);
				d = next;
			}
		}
	}
	pthread_mutex_destroy(&s->lock);
	free(s);
}

static struct entry **find(struct slots *s, const char *ip)
{
	struct entry **p = &s->b[hash(ip)];
	while (*p && strncmp((*p)->ip, ip, sizeof((*p)->ip) - 1) != 0)
		p = &(*p)->next;
	return p;
}

/* Has the peer of this socket closed or reset it?  (POLLRDHUP: the
 * client shut down its side; a client waiting for our bytes does not.) */
static bool peer_gone(int fd)
{
	struct pollfd p = { .fd = fd, .events = POLLRDHUP };
	if (fd < 0)
		return false;
	if (poll(&p, 1, 0) != 1)
		return false;
	return (p.revents & (POLLRDHUP | POLLHUP | POLLERR | POLLNVAL)) != 0;
}

enum slots_result slots_acquire(struct slots *s, const struct slots_claim *c,
				uint64_t *token, char other[SLOTS_ID_MAX])
{
	enum slots_result res = SLOTS_OK;

	*token = 0;
	if (!c->parallel && !c->connections)
		return SLOTS_OK;
	pthread_mutex_lock(&s->lock);
	struct entry **p = find(s, c->ip), *e = *p;
	if (!e) {
		if (s->n >= SLOTS_MAX) {
			res = SLOTS_FULL;
			goto out;
		}
		e = xcalloc(1, sizeof(*e));
		copy(e->ip, sizeof(e->ip), c->ip);
		*p = e;
		s->n++;
	}
	/* count the live connections of this download, and the other
	 * downloads; a connection whose client has gone counts no more */
	uint64_t mine = 0, others = 0;
	for (size_t i = 0; i < e->n; i++) {
		struct conn *k = &e->c[i];
		if (k->dead || (k->dead = peer_gone(k->fd)))
			continue;
		if (strncmp(k->id, c->id, SLOTS_ID_MAX - 1) == 0) {
			mine++;
			continue;
		}
		/* distinct other ids: count each once, at its first live
		 * connection */
		bool seen = false;
		for (size_t j = 0; j < i && !seen; j++)
			seen = !e->c[j].dead && strcmp(e->c[j].id, k->id) == 0;
		if (!seen) {
			if (!others && other)
				copy(other, SLOTS_ID_MAX, k->id);
			others++;
		}
	}
	if (c->connections && mine >= c->connections)
		res = SLOTS_CONNECTIONS;
	else if (c->parallel && !mine && others >= c->parallel)
		res = SLOTS_PARALLEL;
	else if (e->n >= SLOTS_CONNS_MAX)
		res = SLOTS_FULL;
	if (res != SLOTS_OK)
		goto out;
	if (e->n == e->cap) {
		e->cap = e->cap ? 2 * e->cap : 4;
		e->c = xrealloc(e->c, e->cap * sizeof(*e->c));
	}
	struct conn *k = &e->c[e->n++];
	memset(k, 0, sizeof(*k));
	copy(k->id, sizeof(k->id), c->id);
	k->fd = c->fd;
	k->token = *token = ++s->next_token;
out:
	if (e && e->n == 0) { /* made for nothing */
		*find(s, c->ip) = e->next;
		free(e->c);
		free(e);
		s->n--;
	}
	pthread_mutex_unlock(&s->lock);
	return res;
}

void slots_release(struct slots *s, const char *ip, uint64_t token)
{
	if (!token)
		return;
	pthread_mutex_lock(&s->lock);
	struct entry **p = find(s, ip), *e = *p;
	for (size_t i = 0; e && i < e->n; i++) {
		if (e->c[i].token != token)
			continue;
		e->c[i] = e->c[--e->n];
		break;
	}
	if (e && e->n == 0) {
		*p = e->next;
		free(e->c);
		free(e);
		s->n--;
	}
	pthread_mutex_unlock(&s->lock);
}

uint64_t slots_held(struct slots *s, const char *ip)
{
	uint64_t n = 0;
	pthread_mutex_lock(&s->lock);
	struct entry *e = *find(s, ip);
	for (size_t i = 0; e && i < e->n; i++) {
		if (e->c[i].dead)
			continue;
		bool seen = false;
		for (size_t j = 0; j < i && !seen; j++)
			seen = !e->c[j].dead &&
			       strcmp(e->c[j].id, e->c[i].id) == 0;
		n += !seen;
	}
	pthread_mutex_unlock(&s->lock);
	return n;
}

void slots_counts(struct slots *s, const char *ip, const char *id,
		  uint64_t *mine, uint64_t *others)
{
	*mine = *others = 0;
	pthread_mutex_lock(&s->lock);
	struct entry *e = *find(s, ip);
	for (size_t i = 0; e && i < e->n; i++) {
		if (e->c[i].dead)
			continue;
		if (strncmp(e->c[i].id, id, SLOTS_ID_MAX - 1) == 0) {
			(*mine)++;
			continue;
		}
		bool seen = false;
		for (size_t j = 0; j < i && !seen; j++)
			seen = !e->c[j].dead &&
			       strcmp(e->c[j].id, e->c[i].id) == 0;
		*others += !seen;
	}
	pthread_mutex_unlock(&s->lock);
}

static void countdown_sweep(struct slots *s, int64_t now)
{
	for (size_t i = 0; i < 2 * NBUCKETS; i++) {
		struct countdown **p = i < NBUCKETS ? &s->cd[i]
						    : &s->cool[i - NBUCKETS];
		while (*p) {
			if ((*p)->expires <= now) {
				struct countdown *d = *p;
				*p = d->next;
				free(d);
				s->ncd--;
			} else {
				p = &(*p)->next;
			}
		}
	}
}

int64_t slots_countdown(struct slots *s, const char *ip, const char *id,
			int64_t now, int64_t wait)
{
	char key[48 + SLOTS_ID_MAX];
	int64_t ready = 0;

	snprintf(key, sizeof(key), "%.47s %.63s", ip, id);
	pthread_mutex_lock(&s->lock);
	struct countdown **p = &s->cd[hash(key)];
	while (*p) {
		struct countdown *d = *p;
		if (d->expires <= now) { /* stale: drop on the way */
			*p = d->next;
			free(d);
			s->ncd--;
			continue;
		}
		if (strncmp(d->ip, ip, sizeof(d->ip) - 1) == 0 &&
		    strncmp(d->id, id, sizeof(d->id) - 1) == 0) {
			ready = d->ready;
			goto out;
		}
		p = &d->next;
	}
	if (s->ncd >= SLOTS_COUNTDOWNS)
		countdown_sweep(s, now);
	if (s->ncd >= SLOTS_COUNTDOWNS)
		goto out;
	struct countdown *d = xcalloc(1, sizeof(*d));
	copy(d->ip, sizeof(d->ip), ip);
	copy(d->id, sizeof(d->id), id);
	d->ready = ready = now + wait;
	d->expires = d->ready + TICKET_VALID;
	d->next = s->cd[hash(key)];
	s->cd[hash(key)] = d;
	s->ncd++;
out:
	pthread_mutex_unlock(&s->lock);
	return ready;
}

/* The cooldown entry of ip (stale ones dropped on the way), or NULL. */
static struct countdown **cool_find(struct slots *s, const char *ip,
				    int64_t now)
{
	struct countdown **p = &s->cool[hash(ip)];
	while (*p) {
		struct countdown *d = *p;
		if (d->expires <= now) {
			*p = d->next;
			free(d);
			s->ncd--;
			continue;
		}
		if (strncmp(d->ip, ip, sizeof(d->ip) - 1) == 0)
			return p;
		p = &d->next;
	}
	return p;
}

void slots_cooldown_start(struct slots *s, const char *ip, const char *id,
			  int64_t now, int64_t secs)
{
	if (secs <= 0)
		return;
	pthread_mutex_lock(&s->lock);
	struct countdown **p = cool_find(s, ip, now), *d = *p;
	if (!d) {
		if (s->ncd >= SLOTS_COUNTDOWNS)
			countdown_sweep(s, now);
		if (s->ncd >= SLOTS_COUNTDOWNS)
			goto out;
		d = xcalloc(1, sizeof(*d));
		copy(d->ip, sizeof(d->ip), ip);
		d->next = s->cool[hash(ip)];
		s->cool[hash(ip)] = d;
		s->ncd++;
	}
	copy(d->id, sizeof(d->id), id);
	d->ready = d->expires = now + secs;
out:
	pthread_mutex_unlock(&s->lock);
}

int64_t slots_cooldown_until(struct slots *s, const char *ip, const char *id,
			     int64_t now)
{
	int64_t until = 0;
	pthread_mutex_lock(&s->lock);
	struct countdown *d = *cool_find(s, ip, now);
	if (d && strncmp(d->id, id, sizeof(d->id) - 1) != 0)
		until = d->ready;
	pthread_mutex_unlock(&s->lock);
	return until;
}
