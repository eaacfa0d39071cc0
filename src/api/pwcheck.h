/*
 * pwcheck.h — password hashes for request handlers (pwcheck.c), through the
 * bounded queue of core/pwhash.h.
 */
#ifndef PT_PWCHECK_H
#define PT_PWCHECK_H

#include "app.h"

/* pwcheck.c: Argon2id through the bounded queue (core/pwhash.h).  The
 * first call suspends the request and returns true with *rc (return it from
 * the handler, which runs again from the start when the hash is done:
 * code before the call must be safe to run twice); the same call in the
 * next run returns false with the result.  true is also a 503 with Retry-After
 * when the queue is full.  Where the request cannot be suspended (a
 * handler's first call with a body to come) the hash runs in place if a
 * slot is free now, else 503. */
bool api_pw_verify_or_reply(struct pt_req *r, const char *hash,
			    const char *password, bool *match, req_res *rc);
/* A new Argon2id string of password (pool memory) in *hash. */
bool api_pw_hash_or_reply(struct pt_req *r, const char *password, char **hash,
			  req_res *rc);
/* The same without suspending, for handlers that cannot run twice (an
 * upload's end, which has stored blobs): in place if a hashing slot is
 * free now, else 503.  Blocks for one hash. */
bool api_pw_hash_now_or_reply(struct pt_req *r, const char *password,
			      char **hash, req_res *rc);
/* Whether the handler runs again with a hash result waiting for its next
 * api_pw_* call: a limit counted before the hash is not counted twice. */
bool api_pw_rerun(struct pt_req *r);
/* Whether the result the last api_pw_* call gave is given for the first
 * time (a later run that reaches it again must not count it again). */
bool api_pw_first(struct pt_req *r);

#endif
