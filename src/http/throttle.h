/*
 * throttle.h — waking suspended connections at a given time, for engines
 * without timers of their own.
 *
 * A speed-capped download that has used its tokens pauses its request
 * (from its pull callback) until enough tokens will be there.  The event
 * engine does that on its own timers (req_pause_until: the connection's
 * timer in its loop's wheel).  For libmicrohttpd, one timer thread with a
 * min-heap does the resuming (req_pause, then throttle_resume_at), so a
 * capped download costs no worker thread while it waits.
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
/* Waits that the engine's own timers hold (req_pause_until), for the
 * gauge: +1 when one begins, -1 when it ends. */
void throttle_count(struct throttle *t, int delta);
/* Connections waiting now, here or on the engine's timers (a gauge). */
uint64_t throttle_waiting(struct throttle *t);

#endif
