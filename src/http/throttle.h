/*
 * throttle.h — waking suspended connections at a given time.
 *
 * A speed-capped download that has used its tokens pauses its request
 * (req_pause, from its pull callback) and asks to be woken when enough
 * tokens will be there.  One timer thread with a
 * min-heap does the resuming, so a capped download costs no worker thread
 * while it waits: 10 000 of them leave the workers free for everyone else.
 */
#ifndef PT_THROTTLE_H
#define PT_THROTTLE_H

#include <stdbool.h>
#include <stdint.h>

struct throttle;
struct pt_req;

struct throttle *throttle_new(void);
/* Resume every waiting connection now and stop the thread; later
 * throttle_resume_at calls resume at once and return false.  Idempotent. */
void throttle_stop(struct throttle *t);
/* Stop (if not yet) and free. */
void throttle_free(struct throttle *t);
/* The caller has just paused r (req_pause): wake it at when_ns
 * (monotonic).  Returns false when the throttle is stopping (r is woken
 * at once; the caller must then end the response instead of waiting). */
bool throttle_resume_at(struct throttle *t, struct pt_req *r,
			uint64_t when_ns);
/* Connections waiting now (a gauge). */
uint64_t throttle_waiting(struct throttle *t);

#endif
