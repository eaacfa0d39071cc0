/*
 * timer.c — the hierarchical timer wheel (timer.h has the design).
 *
 * Every list is a ring through a head node: a slot's head lives in
 * w->slot, the tick being run in w->running.  An armed timer is always on
 * exactly one ring, so cancelling is an unlink wherever it is; the ring of
 * a slot that becomes empty clears its bit in the level's bitmap, found
 * from the head's address.
 */
#include "timer.h"

#include "../util/pt.h"
#include "../util/banned.h"

/* Ticks spanned by the levels below level l: 64^l. */
#define LEVEL_SHIFT(l) ((unsigned)(l)*TIMER_SLOT_BITS)
#define WHEEL_SPAN (1ull << LEVEL_SHIFT(TIMER_LEVELS))

static void ring_init(struct timer *h)
{
	h->next = h->prev = h;
}

static bool ring_empty(const struct timer *h)
{
	return h->next == h;
}

static void ring_append(struct timer *h, struct timer *t)
{
	t->prev = h->prev;
	t->next = h;
	h->prev->next = t;
	h->prev = t;
}

/* Move every node of from onto the empty ring to. */
static void ring_move(struct timer *from, struct timer *to)
{
	if (ring_empty(from)) {
		ring_init(to);
		return;
	}
	to->next = from->next;
	to->prev = from->prev;
	to->next->prev = to;
	to->prev->next = to;
	ring_init(from);
}

static uint64_t rotr64(uint64_t x, unsigned s)
{
	s &= 63;
	return s ? (x >> s) | (x << (64 - s)) : x;
}

/* The tick at which a timer due at ns is run: the first tick starting at
 * or after it, so that a timer never fires early. */
static uint64_t tick_of(uint64_t ns)
{
	return ns / TIMER_TICK_NS + (ns % TIMER_TICK_NS != 0);
}

/* Put an unlinked timer on the ring for its due tick, relative to
 * w->tick. */
static void place(struct timer_wheel *w, struct timer *t)
{
	uint64_t e = tick_of(t->due), d;
	unsigned l;

	if (e < w->tick)
		e = w->tick;
	d = e - w->tick;
	if (d >= WHEEL_SPAN) {
		/* parked in the farthest slot; placed again when it cascades */
		e = w->tick + WHEEL_SPAN - 1;
		d = WHEEL_SPAN - 1;
	}
	for (l = 0; l < TIMER_LEVELS - 1; l++)
		if (d < (1ull << LEVEL_SHIFT(l + 1)))
			break;
	unsigned s = (unsigned)(e >> LEVEL_SHIFT(l)) & (TIMER_SLOTS - 1);
	ring_append(&w->slot[l][s], t);
	w->bitmap[l] |= 1ull << s;
}

void timer_wheel_init(struct timer_wheel *w, uint64_t now_ns)
{
	w->tick = now_ns / TIMER_TICK_NS;
	w->count = 0;
	ring_init(&w->running);
	for (unsigned l = 0; l < TIMER_LEVELS; l++) {
		w->bitmap[l] = 0;
		for (unsigned s = 0; s < TIMER_SLOTS; s++)
			ring_init(&w->slot[l][s]);
	}
}

void timer_cancel(struct timer_wheel *w, struct timer *t)
{
	struct timer *p = t->prev, *n = t->next;
	uintptr_t first = (uintptr_t)&w->slot[0][0];
	uintptr_t a = (uintptr_t)p;

	if (!n)
		return;
	p->next = n;
	n->prev = p;
	t->next = t->prev = NULL;
	w->count--;
	/* the ring is down to its head: if that is a slot's, clear its bit */
	if (p == n && a >= first &&
	    a < (uintptr_t)&w->slot[TIMER_LEVELS - 1][TIMER_SLOTS]) {
		size_t i = (a - first) / sizeof(struct timer);
		w->bitmap[i / TIMER_SLOTS] &= ~(1ull << (i % TIMER_SLOTS));
	}
}

void timer_arm(struct timer_wheel *w, struct timer *t, uint64_t due_ns)
{
	PT_ASSERT(t->cb != NULL);
	timer_cancel(w, t);
	t->due = due_ns;
	place(w, t);
	w->count++;
}

/* The first tick at or after w->tick at which something must happen: a
 * level-0 slot to run or a higher slot to cascade.  UINT64_MAX if none. */
static uint64_t next_event_tick(const struct timer_wheel *w)
{
	uint64_t best = UINT64_MAX, r, u, c;
	unsigned l, sh;

	if (w->bitmap[0]) {
		r = rotr64(w->bitmap[0], (unsigned)w->tick);
		best = w->tick + (uint64_t)__builtin_ctzll(r);
	}
	for (l = 1; l < TIMER_LEVELS; l++) {
		if (!w->bitmap[l])
			continue;
		sh = LEVEL_SHIFT(l);
		/* level l cascades at multiples of 64^l; slot s at the next
		 * such boundary u with u % 64 == s */
		u = (w->tick + (1ull << sh) - 1) >> sh;
		r = rotr64(w->bitmap[l], (unsigned)u);
		c = (u + (uint64_t)__builtin_ctzll(r)) << sh;
		if (c < best)
			best = c;
	}
	return best;
}

uint64_t timer_next_ns(const struct timer_wheel *w)
{
	uint64_t t;

	if (w->count == 0)
		return UINT64_MAX;
	t = next_event_tick(w);
	if (t == UINT64_MAX || t > UINT64_MAX / TIMER_TICK_NS)
		return UINT64_MAX;
	return t * TIMER_TICK_NS;
}

/* Empty slot s of level l back into the wheel, relative to w->tick. */
static void cascade(struct timer_wheel *w, unsigned l, unsigned s)
{
	struct timer tmp, *t;

	if (!(w->bitmap[l] & (1ull << s)))
		return;
	ring_move(&w->slot[l][s], &tmp);
	w->bitmap[l] &= ~(1ull << s);
	while (!ring_empty(&tmp)) {
		t = tmp.next;
		tmp.next = t->next;
		t->next->prev = &tmp;
		place(w, t);
	}
}

static bool due_before(const struct timer *a, const struct timer *b)
{
	return a->due < b->due;
}

/* Sort the ring h by due time: a merge sort of the linked list (stable,
 * O(n log n), no allocation), then the prev links rebuilt. */
static void ring_sort(struct timer *h)
{
	struct timer *list, *p, *q, *e, *tail;
	size_t insize = 1, nmerges, psize, qsize, i;

	if (ring_empty(h) || h->next->next == h)
		return;
	h->prev->next = NULL;
	list = h->next;
	for (;;) {
		p = list;
		list = tail = NULL;
		nmerges = 0;
		while (p) {
			nmerges++;
			q = p;
			psize = 0;
			for (i = 0; i < insize && q; i++) {
				psize++;
				q = q->next;
			}
			qsize = insize;
			while (psize > 0 || (qsize > 0 && q)) {
				if (psize == 0) {
					e = q;
					q = q->next;
					qsize--;
				} else if (qsize == 0 || !q ||
					   !due_before(q, p)) {
					e = p;
					p = p->next;
					psize--;
				} else {
					e = q;
					q = q->next;
					qsize--;
				}
				if (tail)
					tail->next = e;
				else
					list = e;
				tail = e;
			}
			p = q;
		}
		if (tail) /* always: the ring holds two timers or more */
			tail->next = NULL;
		if (nmerges <= 1)
			break;
		insize *= 2;
	}
	p = h;
	for (e = list; e; e = e->next) {
		e->prev = p;
		p->next = e;
		p = e;
	}
	p->next = h;
	h->prev = p;
}

uint64_t timer_run(struct timer_wheel *w, uint64_t now_ns)
{
	uint64_t target = now_ns / TIMER_TICK_NS, fired = 0, t;
	struct timer *n;
	unsigned l;

	while (w->tick <= target) {
		t = w->count ? next_event_tick(w) : UINT64_MAX;
		if (t > target) {
			w->tick = target + 1;
			break;
		}
		/* nothing happens in the ticks skipped: as if run one by one */
		w->tick = t;
		for (l = 1; l < TIMER_LEVELS; l++) {
			if (t & ((1ull << LEVEL_SHIFT(l)) - 1))
				break;
			cascade(w, l,
				(unsigned)(t >> LEVEL_SHIFT(l)) &
					(TIMER_SLOTS - 1));
		}
		unsigned s = (unsigned)t & (TIMER_SLOTS - 1);
		ring_move(&w->slot[0][s], &w->running);
		w->bitmap[0] &= ~(1ull << s);
		/* arming from a callback now lands on a later tick */
		w->tick = t + 1;
		ring_sort(&w->running);
		while (!ring_empty(&w->running)) {
			n = w->running.next;
			timer_cancel(w, n);
			n->cb(w, n, now_ns);
			fired++;
		}
	}
	return fired;
}
