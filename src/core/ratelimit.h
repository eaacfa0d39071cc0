/*
 * ratelimit.h — counting events per key in fixed windows (login attempts
 * per address and per account, lookups of unknown ids per address).
 *
 * A bounded, thread-safe table: at most RATELIMIT_MAX keys; when it is
 * full, entries whose window has passed are swept, and if none has, the
 * new key is refused (fail closed: a flood cannot grow memory).
 */
#ifndef PT_RATELIMIT_H
#define PT_RATELIMIT_H

#include <stdbool.h>
#include <stdint.h>

#define RATELIMIT_MAX 100000

struct ratelimit;

/* At most `limit` events per `window` seconds per key. */
struct ratelimit *ratelimit_new(uint64_t limit, int64_t window);
void ratelimit_free(struct ratelimit *rl);
/* Count one event for key at now; false when the key is over its limit
 * (the event is not counted then).  *retry_after: seconds until allowed. */
bool ratelimit_hit(struct ratelimit *rl, const char *key, int64_t now,
		   int64_t *retry_after);
/* Would an event be allowed, without counting it? */
bool ratelimit_check(struct ratelimit *rl, const char *key, int64_t now,
		     int64_t *retry_after);
/* Give back one counted event (it turned out not to count: a login that
 * succeeded after its attempt was counted up front). */
void ratelimit_refund(struct ratelimit *rl, const char *key);
/* Forget a key (a successful login clears its failures). */
void ratelimit_reset(struct ratelimit *rl, const char *key);

#endif
