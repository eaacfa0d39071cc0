/*
 * bucket.h — a token bucket in fixed-point integers (after nginx's
 * limit_req): `rate` bytes per second refill up to `burst` bytes.
 *
 * bucket_take() says how many of the wanted bytes may go now; when none
 * may, bucket_wait_ns() says how long until `min` bytes may.  Pure
 * arithmetic on caller-supplied monotonic nanoseconds, no locking: one
 * bucket belongs to one download.
 */
#ifndef PT_BUCKET_H
#define PT_BUCKET_H

#include <stdint.h>

struct bucket {
	uint64_t rate;    /* bytes per second; 0 = unlimited */
	uint64_t burst;   /* capacity in bytes */
	uint64_t tokens;  /* bytes available, in 1/1024 bytes */
	uint64_t last_ns; /* time of the last refill */
};

void bucket_init(struct bucket *b, uint64_t rate, uint64_t burst,
		 uint64_t now_ns);
/* Bytes that may be sent now, at most want; they are taken. */
uint64_t bucket_take(struct bucket *b, uint64_t want, uint64_t now_ns);
/* Nanoseconds until `min` bytes are available (0 if they are now). */
uint64_t bucket_wait_ns(struct bucket *b, uint64_t min, uint64_t now_ns);

#endif
