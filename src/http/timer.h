/*
 * timer.h — a hierarchical timer wheel for one thread.
 *
 * The event loop (loop.h) keeps one wheel per thread for every timer its
 * connections need: idle timeouts, the wake-ups of speed-capped downloads,
 * the keep-alive byte of a held download.  There can be millions of them,
 * and most are re-armed or cancelled long before they fire, so arming and
 * cancelling are O(1) and allocate nothing: a timer is a node embedded in
 * its owner's struct (struct timer below), and the owner finds itself
 * again from the node with TIMER_OWNER.
 *
 * Layout (Varghese & Lauck's scheme 7, as in the Linux timer wheel before
 * 4.8): time is counted in ticks of TIMER_TICK_NS (4 ms).  Level 0 has 64
 * slots of one tick, level 1 64 slots of 64 ticks, and so on for
 * TIMER_LEVELS levels (64^6 ticks = 8.7 years).  A timer goes into the
 * lowest level whose span covers its distance from now; when level 0
 * wraps, the next slot of level 1 is emptied into level 0 ("cascade"), and
 * so on up.  A timer is thus moved at most TIMER_LEVELS - 1 times in its
 * life, and only if it lives long enough to get near its time (a 30 s
 * idle timeout re-armed on every read never cascades at all).  A timer
 * farther than the wheel's span is parked in its farthest slot and placed
 * again each time that slot cascades.  A bitmap per level finds the next
 * non-empty slot with one count-trailing-zeros, so timer_next_ns is
 * O(TIMER_LEVELS) and timer_run skips empty stretches of time (a jump of
 * hours costs a few hundred steps, not a million).
 *
 * Guarantees: a timer never fires before its due time, and fires within
 * one tick after it (or after the moment it was armed, for a time already
 * past), as seen by the calls to timer_run.  The timers of one tick fire
 * in order of their due time (the tick's list is sorted when it comes
 * due); timers with equal due times fire in an unspecified order.
 *
 * Threads: none.  A wheel and its timers belong to one thread; nothing
 * here locks.  Callbacks run from timer_run, on that thread, and may arm,
 * re-arm or cancel any timer of the wheel, themselves included, and free
 * the memory of a timer that is no longer armed.  A timer armed from a
 * callback for a time at or before the tick being run fires at the next
 * tick, never in the same pass, so a callback that re-arms itself "now"
 * cannot keep timer_run looping.
 *
 * Memory: struct timer is 32 bytes; the wheel is TIMER_LEVELS * 64 list
 * heads of 32 bytes (12 KiB) and never allocates.
 */
#ifndef PT_TIMER_H
#define PT_TIMER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* One tick: the wheel's resolution.  4 ms: fine enough for a pacing
 * wake-up (a capped download sends a burst of a second's worth), coarse
 * enough that thousands of wake-ups due within a few ms come in one
 * pass of the loop. */
#define TIMER_TICK_NS 4000000ull
#define TIMER_SLOT_BITS 6
#define TIMER_SLOTS (1u << TIMER_SLOT_BITS)
#define TIMER_LEVELS 6

struct timer;
struct timer_wheel;

/* Called once when t comes due; t is no longer armed when it runs.  now
 * is the time given to timer_run. */
typedef void (*timer_cb)(struct timer_wheel *w, struct timer *t, uint64_t now);

/* Embed in the owner's struct; set up with timer_init before first use.
 * The fields are the wheel's. */
struct timer {
	struct timer *next, *prev; /* NULL when not armed */
	uint64_t due;		   /* ns, as given to timer_arm */
	timer_cb cb;
};

/* The struct holding a timer: TIMER_OWNER(t, struct conn, idle). */
#define TIMER_OWNER(ptr, type, member) \
	((type *)(void *)((char *)(ptr)-offsetof(type, member)))

struct timer_wheel {
	uint64_t tick;	/* the next tick to run: all before it have run */
	uint64_t count; /* armed timers */
	uint64_t bitmap[TIMER_LEVELS]; /* bit s: slot s is not empty */
	struct timer running;	       /* the tick being run (sorted) */
	struct timer slot[TIMER_LEVELS][TIMER_SLOTS]; /* list heads */
};

/* Set up an empty wheel whose clock starts at now_ns (any monotonic
 * clock in ns, the same for every call on this wheel). */
void timer_wheel_init(struct timer_wheel *w, uint64_t now_ns);

/* Set up a timer (not armed) that will call cb. */
static inline void timer_init(struct timer *t, timer_cb cb)
{
	t->next = t->prev = NULL;
	t->due = 0;
	t->cb = cb;
}

static inline bool timer_armed(const struct timer *t)
{
	return t->next != NULL;
}

/* Arm t to fire at due_ns, or move it there if armed already.  O(1).  A
 * due time already past fires at the next tick. */
void timer_arm(struct timer_wheel *w, struct timer *t, uint64_t due_ns);

/* Disarm t if armed; nothing otherwise.  O(1).  The owner may free t
 * afterwards. */
void timer_cancel(struct timer_wheel *w, struct timer *t);

/* When timer_run next has something to do, in ns: the due tick of the
 * first timer, or an earlier tick at which a far slot must cascade (which
 * may fire nothing).  UINT64_MAX when no timer is armed.  This is what a
 * loop sleeps until.  O(TIMER_LEVELS). */
uint64_t timer_next_ns(const struct timer_wheel *w);

/* Run every tick up to now_ns: cascade, and fire every timer due by then,
 * in order of due time.  Returns the number fired.  A now_ns earlier than
 * a previous call's does nothing (the clock is taken as monotonic). */
uint64_t timer_run(struct timer_wheel *w, uint64_t now_ns);

#endif
