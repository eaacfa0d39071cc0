/*
 * test_timer.c — the timer wheel (src/http/timer.c): order of firing,
 * cancel and re-arm from inside a callback, a million random timers that
 * must each fire exactly once and within one tick of their time (driven
 * the way a loop drives it, sleeping until timer_next_ns), far timers
 * that cascade through every level or lie beyond the wheel's span, and
 * the clock jumping forward (or back).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "http/timer.h"
#include "util/pt.h"
#include "util/banned.h"

#define MS 1000000ull
#define SEC (1000 * MS)
#define HOUR (3600 * SEC)
#define DAY (24 * HOUR)
#define TICK TIMER_TICK_NS

/* an arbitrary origin, not aligned to a tick */
#define T0 (123 * SEC + 1234567)

struct item {
	struct timer t;
	int id;
	unsigned fired;
	uint64_t fired_at;
};

/* what fired, in order */
static int order[64];
static size_t norder;

static void record_cb(struct timer_wheel *w, struct timer *t, uint64_t now)
{
	struct item *it = TIMER_OWNER(t, struct item, t);

	it->fired++;
	it->fired_at = now;
	if (norder < PT_ARRAY_LEN(order))
		order[norder++] = it->id;
}

static void item_init(struct item *it, int id)
{
	timer_init(&it->t, record_cb);
	it->id = id;
	it->fired = 0;
	it->fired_at = 0;
}

static struct timer_wheel *wheel_new(uint64_t now)
{
	struct timer_wheel *w = xmalloc(sizeof(*w));

	timer_wheel_init(w, now);
	norder = 0;
	return w;
}

static void test_empty(void **state)
{
	struct timer_wheel *w = wheel_new(T0);

	assert_true(timer_next_ns(w) == UINT64_MAX);
	assert_int_equal(timer_run(w, T0 + HOUR), 0);
	assert_true(timer_next_ns(w) == UINT64_MAX);
	free(w);
}

/* A cancelled timer leaves no trace: the loop does not wake for it. */
static void test_cancel_forgotten(void **state)
{
	struct timer_wheel *w = wheel_new(T0);
	struct item a, b, c;

	timer_init(&a.t, record_cb);
	timer_init(&b.t, record_cb);
	timer_init(&c.t, record_cb);
	timer_arm(w, &a.t, T0 + SEC);	 /* level 1 */
	timer_arm(w, &c.t, T0 + 5 * MS); /* level 0 */
	timer_arm(w, &b.t, T0 + HOUR);
	assert_true(timer_next_ns(w) <= T0 + 5 * MS + TICK);
	timer_cancel(w, &c.t);
	assert_true(timer_next_ns(w) > T0 + 5 * MS + TICK);
	assert_true(timer_next_ns(w) <= T0 + SEC);
	timer_cancel(w, &a.t);
	timer_cancel(w, &a.t); /* twice: a no-op */
	assert_true(timer_next_ns(w) > T0 + 2 * SEC);
	assert_int_equal(w->count, 1);
	timer_cancel(w, &b.t);
	assert_true(timer_next_ns(w) == UINT64_MAX);
	free(w);
}

/* Timers armed out of order fire in order of due time, never early and
 * less than a tick late, with the clock advancing by 1 ms. */
static void test_order(void **state)
{
	static const uint64_t due_ms[] = { 50,	  3, 3000, 7, 1,   8,	2, 250,
					   70000, 5, 4,	   6, 900, 251, 0 };
	size_t n = PT_ARRAY_LEN(due_ms);
	struct item it[PT_ARRAY_LEN(due_ms)];
	struct timer_wheel *w = wheel_new(T0);
	uint64_t now;

	for (size_t i = 0; i < n; i++) {
		item_init(&it[i], (int)i);
		timer_arm(w, &it[i].t, T0 + due_ms[i] * MS + 17);
		assert_true(timer_armed(&it[i].t));
	}
	assert_int_equal(w->count, n);
	for (now = T0; now <= T0 + 71 * SEC; now += MS)
		timer_run(w, now);
	assert_int_equal(norder, n);
	for (size_t i = 0; i < n; i++) {
		struct item *x = &it[order[i]];

		assert_int_equal(x->fired, 1);
		assert_false(timer_armed(&x->t));
		assert_true(x->fired_at >= x->t.due);
		assert_true(x->fired_at - x->t.due < TICK);
		if (i > 0)
			assert_true(it[order[i - 1]].t.due <= x->t.due);
	}
	assert_int_equal(w->count, 0);
	free(w);
}

/* Within one tick the list is sorted: timers in the same 4 ms, armed in
 * reverse, fire by due time when the tick runs in one call. */
static void test_order_within_tick(void **state)
{
	struct item it[8];
	uint64_t base = 1000 * TICK; /* tick-aligned */
	struct timer_wheel *w = wheel_new(base);

	for (int i = 0; i < 8; i++) {
		item_init(&it[i], i);
		/* all in (base + 9 ticks, base + 10 ticks], reversed */
		timer_arm(w, &it[i].t, base + 9 * TICK + (uint64_t)(8 - i));
	}
	assert_true(timer_next_ns(w) == base + 10 * TICK);
	assert_int_equal(timer_run(w, base + 10 * TICK - 1), 0);
	assert_int_equal(timer_run(w, base + 10 * TICK), 8);
	for (int i = 0; i < 8; i++)
		assert_int_equal(order[i], 7 - i);
	free(w);
}

/* Callback that cancels the timers named by its owner. */
struct canceller {
	struct timer t;
	struct item *victims[3];
	int fired;
};

static void cancel_cb(struct timer_wheel *w, struct timer *t, uint64_t now)
{
	struct canceller *c = TIMER_OWNER(t, struct canceller, t);

	c->fired++;
	timer_cancel(w, t); /* itself: not armed any more, a no-op */
	for (int i = 0; i < 3; i++)
		if (c->victims[i])
			timer_cancel(w, &c->victims[i]->t);
}

static void test_cancel_in_callback(void **state)
{
	struct timer_wheel *w = wheel_new(T0);
	struct canceller c;
	struct item same, later, far, other;

	timer_init(&c.t, cancel_cb);
	c.fired = 0;
	timer_arm(w, &c.t, T0 + 10 * MS);
	/* same tick, later due: it is on the list being run when cancelled */
	item_init(&same, 1);
	timer_arm(w, &same.t, T0 + 10 * MS + 1);
	item_init(&later, 2);
	timer_arm(w, &later.t, T0 + 20 * MS);
	item_init(&far, 3);
	timer_arm(w, &far.t, T0 + 2 * HOUR);
	item_init(&other, 4);
	timer_arm(w, &other.t, T0 + 10 * MS + 2);
	c.victims[0] = &same;
	c.victims[1] = &later;
	c.victims[2] = &far;

	assert_int_equal(timer_run(w, T0 + 3 * HOUR), 2);
	assert_int_equal(c.fired, 1);
	assert_int_equal(same.fired + later.fired + far.fired, 0);
	assert_int_equal(other.fired, 1);
	assert_false(timer_armed(&same.t) || timer_armed(&later.t) ||
		     timer_armed(&far.t));
	assert_int_equal(w->count, 0);
	assert_true(timer_next_ns(w) == UINT64_MAX);
	free(w);
}

/* Callbacks free memory: their own timer's, and (after cancelling it) that
 * of another timer due in the same tick, which is on the list being run.
 * Under ASan any later touch is a use-after-free report. */
struct owned {
	struct timer t;
	struct owned *other;
	int *fired;
};

static void free_cb(struct timer_wheel *w, struct timer *t, uint64_t now)
{
	struct owned *o = TIMER_OWNER(t, struct owned, t);

	(*o->fired)++;
	if (o->other) {
		timer_cancel(w, &o->other->t);
		free(o->other);
	}
	free(o);
}

static void test_free_in_callback(void **state)
{
	struct timer_wheel *w = wheel_new(T0);
	int fired = 0;

	for (int i = 0; i < 100; i++) {
		struct owned *a = xcalloc(1, sizeof(*a));
		struct owned *b = xcalloc(1, sizeof(*b));

		a->fired = b->fired = &fired;
		a->other = b;
		timer_init(&a->t, free_cb);
		timer_init(&b->t, free_cb);
		/* the same tick, b after a */
		timer_arm(w, &a->t, T0 + (uint64_t)i * MS + 1);
		timer_arm(w, &b->t, T0 + (uint64_t)i * MS + 2);
	}
	assert_int_equal(timer_run(w, T0 + SEC), 100);
	assert_int_equal(fired, 100);
	assert_int_equal(w->count, 0);
	free(w);
}

/* A periodic timer re-arms itself; another re-arms itself "now" and must
 * fire once per pass, at the next tick, not loop within one timer_run. */
struct periodic {
	struct timer t;
	uint64_t period;
	int left;
	int fired;
	uint64_t last;
};

static void periodic_cb(struct timer_wheel *w, struct timer *t, uint64_t now)
{
	struct periodic *p = TIMER_OWNER(t, struct periodic, t);

	p->fired++;
	p->last = now;
	if (--p->left > 0)
		timer_arm(w, t, now + p->period);
}

static void test_rearm_in_callback(void **state)
{
	struct timer_wheel *w = wheel_new(T0);
	struct periodic p = { .period = 100 * MS, .left = 10 };
	struct periodic z = { .period = 0, .left = 1000 };
	uint64_t now = T0, n;

	timer_init(&p.t, periodic_cb);
	timer_arm(w, &p.t, T0 + 100 * MS);
	for (; now <= T0 + 2 * SEC; now += MS)
		timer_run(w, now);
	assert_int_equal(p.fired, 10);
	assert_false(timer_armed(&p.t));

	timer_init(&z.t, periodic_cb);
	timer_arm(w, &z.t, now);
	assert_true(timer_next_ns(w) <= now + TICK);
	now += TICK;
	n = timer_run(w, now);
	assert_int_equal(n, 1);
	assert_true(timer_armed(&z.t));
	/* again at the same time: it went to the next tick */
	assert_int_equal(timer_run(w, now), 0);
	assert_true(timer_next_ns(w) <= now + TICK);
	assert_int_equal(timer_run(w, now + TICK), 1);
	/* moving a timer elsewhere from its own callback, and moving an
	 * armed timer (re-arm) from outside */
	timer_arm(w, &z.t, now + HOUR);
	timer_arm(w, &z.t, now + 5 * SEC);
	assert_int_equal(w->count, 1);
	assert_int_equal(timer_run(w, now + 5 * SEC + TICK), 1);
	assert_int_equal(z.fired, 3);
	timer_cancel(w, &z.t);
	assert_int_equal(w->count, 0);
	free(w);
}

/* xorshift64*: reproducible randomness */
static uint64_t rng = 0x9E3779B97F4A7C15ull;
static uint64_t rnd(void)
{
	rng ^= rng >> 12;
	rng ^= rng << 25;
	rng ^= rng >> 27;
	return rng * 2685821657736338717ull;
}

struct big {
	struct timer t;
	uint8_t fired;
	uint8_t cancelled;
};

static uint64_t big_last_due, big_fired, big_late_max;
static int big_bad;

static void big_cb(struct timer_wheel *w, struct timer *t, uint64_t now)
{
	struct big *b = TIMER_OWNER(t, struct big, t);

	b->fired++;
	big_fired++;
	if (b->cancelled || now < t->due || now - t->due >= TICK ||
	    t->due < big_last_due)
		big_bad++;
	if (now - t->due > big_late_max)
		big_late_max = now - t->due;
	big_last_due = t->due;
}

/* 1 000 000 timers: a third within a second, a third within ten minutes,
 * a third within six hours (through levels 0 to 4); a tenth re-armed
 * elsewhere and a tenth cancelled before they fire.  The clock is driven
 * like a loop: sleep until timer_next_ns, run.  Every remaining timer
 * fires exactly once, in order of due time, within one tick. */
static void test_million(void **state)
{
	const size_t n = 1000000;
	struct big *b = xcalloc(n, sizeof(*b));
	struct timer_wheel *w = wheel_new(T0);
	const uint64_t spans[3] = { SEC, 600 * SEC, 6 * HOUR };
	uint64_t now = T0, next, wakeups = 0;
	size_t expect = 0;

	big_last_due = big_fired = big_late_max = 0;
	big_bad = 0;
	for (size_t i = 0; i < n; i++) {
		timer_init(&b[i].t, big_cb);
		timer_arm(w, &b[i].t, T0 + rnd() % spans[i % 3]);
	}
	for (size_t i = 0; i < n; i += 10) {
		size_t j = (i + 3) % n, k = (i + 7) % n;

		timer_arm(w, &b[j].t, T0 + rnd() % spans[j % 3]);
		timer_cancel(w, &b[k].t);
		b[k].cancelled = 1;
	}
	for (size_t i = 0; i < n; i++)
		expect += !b[i].cancelled;
	assert_int_equal(w->count, expect);
	while ((next = timer_next_ns(w)) != UINT64_MAX) {
		assert_true(next >= now - TICK);
		if (next > now)
			now = next;
		timer_run(w, now);
		wakeups++;
	}
	assert_int_equal(big_bad, 0);
	assert_int_equal(big_fired, expect);
	for (size_t i = 0; i < n; i++)
		assert_int_equal(b[i].fired, !b[i].cancelled);
	assert_int_equal(w->count, 0);
	assert_true(big_late_max < TICK);
	print_message("1M timers: %llu wake-ups, latest %llu ns late\n",
		      (unsigned long long)wakeups,
		      (unsigned long long)big_late_max);
	free(b);
	free(w);
}

/* Against a model: random arms (past, near, far), re-arms, cancels and
 * clock steps (small, and jumps of up to two days), with callbacks that
 * re-arm themselves.  The model knows the tick each timer must fire at:
 * its due tick, or the wheel's next tick if that is already past.  After
 * every timer_run nothing due is left armed (nothing late), each firing
 * was due (nothing early), and one run fires in order of (tick, due). */
#define MODEL_N 2000
static struct model {
	struct timer t;
	bool armed;
	uint64_t eft; /* expected tick */
} model[MODEL_N];
static uint64_t model_last_tick, model_last_due;
static int model_bad;

static uint64_t expect_tick(const struct timer_wheel *w, uint64_t due)
{
	uint64_t e = due / TICK + (due % TICK != 0);

	return e < w->tick ? w->tick : e;
}

static uint64_t model_due(uint64_t now)
{
	switch (rnd() % 8) {
	case 0:
		return now > SEC ? now - rnd() % SEC : 0; /* past */
	case 1:
		return now + rnd() % (20 * DAY); /* far */
	case 2:
		return now + rnd() % HOUR;
	default:
		return now + rnd() % (2 * SEC);
	}
}

static void model_arm(struct timer_wheel *w, size_t i, uint64_t due)
{
	timer_arm(w, &model[i].t, due);
	model[i].armed = true;
	model[i].eft = expect_tick(w, due);
}

static void model_cb(struct timer_wheel *w, struct timer *t, uint64_t now)
{
	struct model *m = TIMER_OWNER(t, struct model, t);

	if (!m->armed || m->eft > now / TICK || m->eft < model_last_tick ||
	    (m->eft == model_last_tick && t->due < model_last_due))
		model_bad++;
	model_last_tick = m->eft;
	model_last_due = t->due;
	m->armed = false;
	if (rnd() % 4 == 0)
		model_arm(w, (size_t)(m - model), now + rnd() % (50 * MS));
}

static void test_model(void **state)
{
	struct timer_wheel *w = wheel_new(T0);
	uint64_t now = T0, runs = 0, fired = 0;

	for (size_t i = 0; i < MODEL_N; i++) {
		timer_init(&model[i].t, model_cb);
		model[i].armed = false;
	}
	model_bad = 0;
	for (int step = 0; step < 100000; step++) {
		uint64_t op = rnd() % 10, i = rnd() % MODEL_N;

		if (op < 5) {
			model_arm(w, i, model_due(now));
		} else if (op < 7) {
			timer_cancel(w, &model[i].t);
			model[i].armed = false;
		} else {
			uint64_t r = rnd() % 100;

			now += r < 90	? rnd() % (10 * MS)
			       : r < 99 ? rnd() % (10 * SEC)
					: rnd() % (2 * DAY);
			model_last_tick = 0;
			model_last_due = 0;
			fired += timer_run(w, now);
			runs++;
			for (size_t k = 0; k < MODEL_N; k++)
				if (model[k].armed &&
				    model[k].eft <= now / TICK)
					fail_msg("timer %zu late: tick %llu, "
						 "now tick %llu",
						 k,
						 (unsigned long long)model[k]
							 .eft,
						 (unsigned long long)(now /
								      TICK));
		}
		if (model_bad)
			fail_msg("step %d: a timer fired early, unarmed or "
				 "out of order",
				 step);
	}
	size_t armed = 0;
	for (size_t k = 0; k < MODEL_N; k++) {
		armed += model[k].armed;
		assert_int_equal(timer_armed(&model[k].t), model[k].armed);
	}
	assert_int_equal(w->count, armed);
	print_message("model: %llu runs, %llu fired, %zu still armed\n",
		      (unsigned long long)runs, (unsigned long long)fired,
		      armed);
	free(w);
}

/* Far timers: an hour, a day, 30 days, a year, 20 years (beyond the
 * wheel's 8.7 years: parked and placed again), each fires within a tick
 * and the loop wakes only a few hundred times to get there. */
static void test_far(void **state)
{
	static const uint64_t dues[] = { HOUR,		 DAY,
					 30 * DAY,	 365 * DAY,
					 20 * 365 * DAY, 2 * HOUR + 5 };
	struct item it[PT_ARRAY_LEN(dues)];
	struct timer_wheel *w = wheel_new(T0);
	uint64_t now = T0, next, wakeups = 0;

	for (size_t i = 0; i < PT_ARRAY_LEN(dues); i++) {
		item_init(&it[i], (int)i);
		timer_arm(w, &it[i].t, T0 + dues[i]);
	}
	while ((next = timer_next_ns(w)) != UINT64_MAX) {
		assert_true(next <= T0 + 20 * 365 * DAY + TICK);
		if (next > now)
			now = next;
		timer_run(w, now);
		wakeups++;
	}
	for (size_t i = 0; i < PT_ARRAY_LEN(dues); i++) {
		assert_int_equal(it[i].fired, 1);
		assert_true(it[i].fired_at >= it[i].t.due);
		assert_true(it[i].fired_at - it[i].t.due < TICK);
	}
	assert_int_equal(order[0], 0);
	assert_int_equal(order[1], 5);
	assert_int_equal(order[5], 4);
	print_message("far timers: %llu wake-ups over 20 years\n",
		      (unsigned long long)wakeups);
	assert_true(wakeups < 2000);
	free(w);
}

/* The clock jumps: two hours at once fires everything due in order in one
 * call; a jump back fires nothing; a timer armed after the jump for a
 * time already past fires at the next tick; a jump of a year over an
 * empty wheel costs nothing and the wheel works after it. */
static void test_time_jumps(void **state)
{
	struct timer_wheel *w = wheel_new(T0);
	struct item a, b, c, d, e;
	uint64_t now;

	item_init(&a, 0);
	item_init(&b, 1);
	item_init(&c, 2);
	item_init(&d, 3);
	item_init(&e, 4);
	timer_arm(w, &c.t, T0 + HOUR);
	timer_arm(w, &b.t, T0 + 2 * SEC);
	timer_arm(w, &a.t, T0 + 1 * SEC);
	timer_arm(w, &d.t, T0 + 3 * HOUR);

	now = T0 + 2 * HOUR;
	assert_int_equal(timer_run(w, now), 3);
	assert_int_equal(norder, 3);
	assert_int_equal(order[0], 0);
	assert_int_equal(order[1], 1);
	assert_int_equal(order[2], 2);
	assert_true(timer_armed(&d.t));
	/* back in time: nothing, and nothing breaks */
	assert_int_equal(timer_run(w, T0), 0);
	/* armed for the past (the old clock): the next tick */
	timer_arm(w, &e.t, T0 + SEC);
	assert_true(timer_next_ns(w) <= now + TICK);
	assert_int_equal(timer_run(w, now + TICK), 1);
	assert_int_equal(e.fired, 1);
	assert_int_equal(timer_run(w, T0 + 3 * HOUR + TICK), 1);
	assert_int_equal(d.fired, 1);

	/* a year over an empty wheel */
	now = T0 + 365 * DAY + 3 * MS;
	assert_int_equal(timer_run(w, now), 0);
	assert_true(w->tick == now / TICK + 1);
	timer_arm(w, &a.t, now + SEC);
	assert_int_equal(timer_run(w, now + SEC - MS), 0);
	assert_int_equal(timer_run(w, now + SEC + TICK), 1);
	assert_int_equal(a.fired, 2);
	free(w);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_empty),
		cmocka_unit_test(test_cancel_forgotten),
		cmocka_unit_test(test_order),
		cmocka_unit_test(test_order_within_tick),
		cmocka_unit_test(test_cancel_in_callback),
		cmocka_unit_test(test_rearm_in_callback),
		cmocka_unit_test(test_free_in_callback),
		cmocka_unit_test(test_million),
		cmocka_unit_test(test_model),
		cmocka_unit_test(test_far),
		cmocka_unit_test(test_time_jumps),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
