/*
 * pwhash.h — Argon2id password hashing in a bounded queue, off the
 * request threads.
 *
 * One Argon2id run (libsodium's interactive limits: 64 MiB, a few tens of
 * milliseconds of one CPU) is the most expensive thing an unauthenticated
 * client can ask of partaged: a login, a link password, a registration.
 * Run on libmicrohttpd's few epoll worker threads, a handful of guessing
 * clients stalled every connection those threads serve.  So every hash
 * goes through one queue: at most `threads` hashes run at once, each on a
 * thread of this module, at most `queue` more wait, and a job beyond that
 * is refused at once (PT_EUNAVAIL: the caller answers 503 with
 * Retry-After) instead of waiting.  The memory hashing can take is thus
 * bounded too: threads × 64 MiB.
 *
 * Jobs are asynchronous: the caller (src/api/pwcheck.c) suspends its
 * connection, submits, and the job's done_cb, called on a hashing thread,
 * resumes it.  pwhash_run_now() is the synchronous form for callers that
 * cannot suspend (an upload's first call): it runs on the caller's thread
 * only when a slot is free now and nothing waits, and never waits itself.
 * Thread-safe.
 */
#ifndef PT_PWHASH_H
#define PT_PWHASH_H

#include <sodium.h>
#include <stdbool.h>

enum pwhash_op { PWHASH_VERIFY, PWHASH_HASH };

struct pwhash_job {
	enum pwhash_op op;
	const char *password;  /* the caller's; must live until done_cb */
	/* VERIFY: the stored hash (in); HASH: the new hash (out) */
	char hash[crypto_pwhash_STRBYTES];
	/* VERIFY: 0 match, 1 no match; HASH: 0, or PT_EUNAVAIL (no memory
	 * for the 64 MiB) */
	int result;
	/* Called once on a hashing thread when the result is in (not when
	 * the job was refused).  It may free the job. */
	void (*done_cb)(struct pwhash_job *job);
	void *arg;
	struct pwhash_job *next; /* private */
};

struct pwhash;

/* `threads` hashing threads (0: max(1, CPUs / 2)), at most `queue` jobs
 * waiting for one.  NULL when no thread could start (logged). */
struct pwhash *pwhash_new(unsigned threads, unsigned queue);
/* Refuse new jobs and wait until every job's done_cb has returned, then
 * stop the threads and free.  NULL is fine. */
void pwhash_free(struct pwhash *q);
/* Refuse new jobs and wait for those in flight (before the HTTP server
 * stops: their done_cb resumes connections).  May block. */
void pwhash_drain(struct pwhash *q);
/* Queue a job: 0 (done_cb will run), or PT_EUNAVAIL when the queue is
 * full or draining (the job is untouched; done_cb will not run). */
int pwhash_submit(struct pwhash *q, struct pwhash_job *job);
/* Run a job on the calling thread when a hashing slot is free and no job
 * waits: 0 with job->result set (done_cb is not called), or PT_EUNAVAIL.
 * Blocks for the hash's duration only. */
int pwhash_run_now(struct pwhash *q, struct pwhash_job *job);
/* The threads' count, for messages and tests. */
unsigned pwhash_threads(const struct pwhash *q);

#endif
