/*
 * pwcheck.c — a request's password hashes through the bounded queue
 * (core/pwhash.h) without holding a worker thread.
 *
 * A handler asks api_pw_verify_or_reply() or api_pw_hash_or_reply().  The first time, the
 * job goes to the queue and the request is suspended (server.h,
 * req_suspend); when the hash is done the request resumes and the handler
 * runs again from the start, and this time the same call, the n-th of the
 * run, finds its result waiting and returns it.  A full queue is a 503
 * with Retry-After at once.  Where a request cannot be suspended (an
 * upload's first call, before its body) the hash runs in place, but only
 * when a hashing slot is free now: it too never waits.
 */
#include "pwcheck.h"
#include "request.h"

#include <string.h>

#include "../core/pwhash.h"
#include "../http/reply.h"
#include "../util/banned.h"

#define PW_MAX 4 /* hashes one request may ask for (a password change: 2) */

enum { PW_IDLE, PW_SUSPENDED, PW_DONE }; /* handshake, see pw_done */

struct pw_async {
	struct pt_req *r;
	struct pwhash_job job;
	int handshake;
	unsigned run;  /* r->runs when next was reset */
	unsigned next; /* this run's next call */
	unsigned n;    /* results kept */
	unsigned seen; /* results some run has already been given */
	bool fresh;    /* the last result given was given the first time */
	struct {
		int result;
		char hash[crypto_pwhash_STRBYTES];
	} res[PW_MAX];
};

/* On a hashing thread.  The handler suspends after submitting, so the
 * job may end before or after the suspension: whichever of the two comes
 * second resumes the request, exactly once. */
static void pw_done(struct pwhash_job *job)
{
	struct pw_async *st = job->arg;
	st->res[st->n].result = job->result;
	memcpy(st->res[st->n].hash, job->hash, sizeof(job->hash));
	st->n++;
	if (__atomic_exchange_n(&st->handshake, PW_DONE, __ATOMIC_ACQ_REL) ==
	    PW_SUSPENDED)
		req_resume(st->r);
}

bool api_pw_rerun(struct pt_req *r)
{
	struct pw_async *st = r->async;
	if (!st)
		return false;
	unsigned next = st->run == r->runs ? st->next : 0;
	return next < __atomic_load_n(&st->n, __ATOMIC_ACQUIRE);
}

bool api_pw_first(struct pt_req *r)
{
	struct pw_async *st = r->async;
	return st && st->fresh;
}

static bool busy(struct pt_req *r, req_res *rc)
{
	req_retry_after(r, 1);
	*rc = reply_error(r, PT_EUNAVAIL, NULL,
			  "service unavailable: too many password checks in "
			  "progress, try again in a second");
	return true;
}

/* false with *res pointing at the result, or true with *rc (suspended, or a
 * 503 replied). */
static bool pw_op_or_reply(struct pt_req *r, enum pwhash_op op,
			   const char *hash, const char *password,
			   bool in_place, int **result, char **out, req_res *rc)
{
	struct app *app = r->ctx;
	struct pw_async *st = r->async;

	if (!st) {
		st = pt_palloc(r->pool, sizeof(*st));
		memset(st, 0, sizeof(*st));
		st->r = r;
		r->async = st;
	}
	if (st->run != r->runs) {
		st->run = r->runs;
		st->next = 0;
	}
	if (st->next < __atomic_load_n(&st->n, __ATOMIC_ACQUIRE)) {
		*result = &st->res[st->next].result;
		*out = st->res[st->next].hash;
		st->next++;
		st->fresh = st->next > st->seen;
		if (st->fresh)
			st->seen = st->next;
		return false;
	}
	if (st->n >= PW_MAX) {
		*rc = reply_error(r, PT_EINTERNAL, NULL,
				  "internal error: too many password hashes "
				  "in one request");
		return true;
	}
	struct pwhash_job *job = &st->job;
	memset(job, 0, sizeof(*job));
	job->op = op;
	job->password = pt_pstrdup(r->pool, password);
	job->done_cb = pw_done;
	job->arg = st;
	if (op == PWHASH_VERIFY) {
		/* not an Argon2 string (no password, a damaged row): it
		 * matches nothing, and libsodium says so */
		size_t n = strlen(hash);
		if (n >= sizeof(job->hash))
			n = 0;
		memcpy(job->hash, hash, n);
		job->hash[n] = '\0';
	}
	if (in_place || !req_can_suspend(r)) {
		if (pwhash_run_now(app->pwhash, job))
			return busy(r, rc);
		st->res[st->n].result = job->result;
		memcpy(st->res[st->n].hash, job->hash, sizeof(job->hash));
		st->n++;
		*result = &st->res[st->next].result;
		*out = st->res[st->next].hash;
		st->next++;
		st->seen = st->next;
		st->fresh = true;
		return false;
	}
	st->handshake = PW_IDLE;
	if (pwhash_submit(app->pwhash, job))
		return busy(r, rc);
	*rc = req_suspend(r);
	if (__atomic_exchange_n(&st->handshake, PW_SUSPENDED,
				__ATOMIC_ACQ_REL) == PW_DONE)
		req_resume(r);
	return true;
}

bool api_pw_verify_or_reply(struct pt_req *r, const char *hash,
			    const char *password, bool *match, req_res *rc)
{
	int *result;
	char *out;
	if (pw_op_or_reply(r, PWHASH_VERIFY, hash, password, false, &result,
			   &out, rc))
		return true;
	/* the run that gets the result read the hash again: when it changed
	 * since the job took it (a password change), the password was
	 * checked against a hash that is no longer the account's */
	*match = *result == 0 && strcmp(out, hash) == 0;
	return false;
}

static bool pw_hash_or_reply(struct pt_req *r, const char *password,
			     bool in_place, char **hash, req_res *rc)
{
	int *result;
	char *out;
	if (pw_op_or_reply(r, PWHASH_HASH, "", password, in_place, &result,
			   &out, rc))
		return true;
	if (*result) {
		req_retry_after(r, 1);
		*rc = reply_error(r, PT_EUNAVAIL, NULL,
				  "service unavailable: cannot hash the "
				  "password now (out of memory)");
		return true;
	}
	*hash = pt_pstrdup(r->pool, out);
	return false;
}

bool api_pw_hash_or_reply(struct pt_req *r, const char *password, char **hash,
			  req_res *rc)
{
	return pw_hash_or_reply(r, password, false, hash, rc);
}

bool api_pw_hash_now_or_reply(struct pt_req *r, const char *password,
			      char **hash, req_res *rc)
{
	return pw_hash_or_reply(r, password, true, hash, rc);
}
