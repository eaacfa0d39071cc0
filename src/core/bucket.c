/*
 * bucket.c — token bucket arithmetic.  Tokens are kept in 1/1024 bytes so
 * that slow rates refill smoothly at nanosecond granularity without
 * floating point.
 */
#include "bucket.h"

#include "../util/banned.h"

#define FRAC 1024u

static void refill(struct bucket *b, uint64_t now_ns)
{
	if (now_ns <= b->last_ns)
		return;
	uint64_t dt = now_ns - b->last_ns;
	/* rate * dt / 1e9 in 1/1024 bytes, without overflow for dt up to
	 * hours at rates up to TB/s: split the multiplication */
	uint64_t add = (b->rate * FRAC / 1000000u) * (dt / 1000u) +
		       (b->rate * FRAC % 1000000u) * (dt / 1000u) / 1000000u;
	uint64_t cap = b->burst * FRAC;
	b->tokens = add >= cap - b->tokens ? cap : b->tokens + add;
	b->last_ns = now_ns;
}

void bucket_init(struct bucket *b, uint64_t rate, uint64_t burst,
		 uint64_t now_ns)
{
	b->rate = rate;
	b->burst = burst ? burst : 1;
	b->tokens = 0;
	b->last_ns = now_ns;
}

uint64_t bucket_take(struct bucket *b, uint64_t want, uint64_t now_ns)
{
	if (b->rate == 0)
		return want;
	refill(b, now_ns);
	uint64_t have = b->tokens / FRAC;
	uint64_t n = want < have ? want : have;
	b->tokens -= n * FRAC;
	return n;
}

uint64_t bucket_wait_ns(struct bucket *b, uint64_t min, uint64_t now_ns)
{
	if (b->rate == 0)
		return 0;
	refill(b, now_ns);
	if (min > b->burst)
		min = b->burst;
	uint64_t need = min * FRAC;
	if (b->tokens >= need)
		return 0;
	uint64_t missing = need - b->tokens; /* in 1/1024 bytes */
	/* missing / (rate * FRAC) seconds, rounded up */
	uint64_t per_us = b->rate * FRAC / 1000000u; /* 1/1024 B per µs */
	if (per_us == 0)
		return (missing * 1000000000u + b->rate * FRAC - 1) /
		       (b->rate * FRAC);
	return (missing + per_us - 1) / per_us * 1000u;
}
