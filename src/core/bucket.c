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
	/* 128-bit intermediate: exact for any rate and any idle time */
	unsigned __int128 add128 =
		(unsigned __int128)b->rate * FRAC * dt / 1000000000u;
	uint64_t add = add128 > UINT64_MAX ? UINT64_MAX : (uint64_t)add128;
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
	unsigned __int128 den = (unsigned __int128)b->rate * FRAC;
	return (uint64_t)(((unsigned __int128)missing * 1000000000u + den - 1) /
			  den);
}
