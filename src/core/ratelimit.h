/*
 * ratelimit.h — counting events per key in fixed windows (failed logins
 * per address and per name and address, wrong link passwords, lookups of
 * unknown ids, abuse reports per address).
 *
 * A bounded, thread-safe table: at most RATELIMIT_MAX keys (or the cap
 * given to ratelimit_cap).  When it is full, entries whose window has
 * passed are swept (at most once a second), and if none has, the entry
 * with the oldest window among a few buckets is evicted: memory stays
 * bounded and a flood of new keys (one per address of an IPv6 network)
 * forgets some counts rather than refusing every new key, which would
 * lock out everyone else.  An attacker who can fill the table has that
 * many addresses anyway, each with a fresh budget.
 */
#ifndef PT_RATELIMIT_H
#define PT_RATELIMIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define RATELIMIT_MAX 100000

struct ratelimit;

/* At most `limit` events per `window` seconds per key.  Every function
 * below takes a NULL table as "no limit": hit and check allow, count is
 * 0, the rest do nothing. */
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
/* Events counted for key in its current window (0: none, or it passed). */
uint64_t ratelimit_count(struct ratelimit *rl, const char *key, int64_t now);
/* The key of a client address for per-address limits: an IPv4 address
 * as it is, an IPv6 address as its /64 ("2001:db8:1:2::/64"): one
 * subscriber usually has a whole /64, and a limit per address would give
 * it 2^64 budgets.  Text that is not an address is copied.  out has at
 * least RATELIMIT_ADDR_MAX bytes. */
#define RATELIMIT_ADDR_MAX 52
void ratelimit_addr_key(const char *ip, char *out);
/* Hold at most max keys (tests; the default is RATELIMIT_MAX). */
void ratelimit_cap(struct ratelimit *rl, size_t max);

#endif
