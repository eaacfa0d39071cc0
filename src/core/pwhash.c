/*
 * pwhash.c — the bounded Argon2id queue of pwhash.h: a FIFO of jobs, a
 * few threads that take them while fewer than `max` hashes run, and a
 * counter of jobs not yet finished so that draining can wait for them.
 */
#include "pwhash.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../util/pt.h"
#include "../util/banned.h"

struct pwhash {
	pthread_mutex_t lock;
	pthread_cond_t work;  /* a job came, a slot freed, or stop */
	pthread_cond_t idle;  /* a job finished (for drain) */
	struct pwhash_job *head, *tail;
	unsigned waiting;     /* jobs in the FIFO */
	unsigned running;     /* hashes running (threads and run_now) */
	unsigned unfinished;  /* submitted, done_cb not yet returned */
	unsigned max, queue;
	bool closed, stop;
	unsigned nthreads;
	pthread_t *threads;
};

static void job_run(struct pwhash_job *job)
{
	if (job->op == PWHASH_VERIFY) {
		job->result = crypto_pwhash_str_verify(job->hash, job->password,
						       strlen(job->password)) == 0
				      ? 0
				      : 1;
		return;
	}
	job->result = crypto_pwhash_str(job->hash, job->password,
					strlen(job->password),
					crypto_pwhash_OPSLIMIT_INTERACTIVE,
					crypto_pwhash_MEMLIMIT_INTERACTIVE) == 0
			      ? 0
			      : PT_EUNAVAIL;
}

/* job_run as one of the q->max hashes running: called with q->lock
 * held, returns with it held (released while the hash runs). */
static void job_run_counted(struct pwhash *q, struct pwhash_job *job)
{
	q->running++;
	pthread_mutex_unlock(&q->lock);
	job_run(job);
	pthread_mutex_lock(&q->lock);
	q->running--;
	pthread_cond_signal(&q->work);
}

static void *worker(void *arg)
{
	struct pwhash *q = arg;
	pt_thread_name("pwhash");
	pthread_mutex_lock(&q->lock);
	for (;;) {
		while (!q->stop && (!q->head || q->running >= q->max))
			pthread_cond_wait(&q->work, &q->lock);
		if (q->stop && !q->head)
			break;
		if (!q->head || q->running >= q->max)
			continue;
		struct pwhash_job *job = q->head;
		q->head = job->next;
		if (!q->head)
			q->tail = NULL;
		q->waiting--;
		job_run_counted(q, job);
		pthread_mutex_unlock(&q->lock);
		/* the callback may free the job: nothing of it is read after */
		job->done_cb(job);
		pthread_mutex_lock(&q->lock);
		q->unfinished--;
		pthread_cond_broadcast(&q->idle);
	}
	pthread_mutex_unlock(&q->lock);
	return NULL;
}

struct pwhash *pwhash_new(unsigned threads, unsigned queue)
{
	struct pwhash *q = xcalloc(1, sizeof(*q));
	if (!threads) {
		long n = sysconf(_SC_NPROCESSORS_ONLN);
		threads = n >= 4 ? (unsigned)(n / 2) : 1;
	}
	pthread_mutex_init(&q->lock, NULL);
	pthread_cond_init(&q->work, NULL);
	pthread_cond_init(&q->idle, NULL);
	q->max = threads;
	q->queue = queue;
	q->threads = xcalloc(threads, sizeof(*q->threads));
	for (unsigned i = 0; i < threads; i++) {
		if (pthread_create(&q->threads[i], NULL, worker, q) != 0)
			break;
		q->nthreads++;
	}
	if (!q->nthreads) {
		pt_log("cannot start a password hashing thread");
		pwhash_free(q);
		return NULL;
	}
	return q;
}

void pwhash_drain(struct pwhash *q)
{
	if (!q)
		return;
	pthread_mutex_lock(&q->lock);
	q->closed = true;
	while (q->unfinished)
		pthread_cond_wait(&q->idle, &q->lock);
	pthread_mutex_unlock(&q->lock);
}

void pwhash_free(struct pwhash *q)
{
	if (!q)
		return;
	pwhash_drain(q);
	pthread_mutex_lock(&q->lock);
	q->stop = true;
	pthread_cond_broadcast(&q->work);
	pthread_mutex_unlock(&q->lock);
	for (unsigned i = 0; i < q->nthreads; i++)
		pthread_join(q->threads[i], NULL);
	free(q->threads);
	pthread_cond_destroy(&q->work);
	pthread_cond_destroy(&q->idle);
	pthread_mutex_destroy(&q->lock);
	free(q);
}

int pwhash_submit(struct pwhash *q, struct pwhash_job *job)
{
	pthread_mutex_lock(&q->lock);
	/* a job may wait only for a slot: free slots take it at once */
	unsigned free_slots = q->running < q->max ? q->max - q->running : 0;
	if (q->closed || q->waiting >= q->queue + free_slots) {
		pthread_mutex_unlock(&q->lock);
		return PT_EUNAVAIL;
	}
	job->next = NULL;
	if (q->tail)
		q->tail->next = job;
	else
		q->head = job;
	q->tail = job;
	q->waiting++;
	q->unfinished++;
	pthread_cond_signal(&q->work);
	pthread_mutex_unlock(&q->lock);
	return 0;
}

int pwhash_run_now(struct pwhash *q, struct pwhash_job *job)
{
	pthread_mutex_lock(&q->lock);
	if (q->closed || q->head || q->running >= q->max) {
		pthread_mutex_unlock(&q->lock);
		return PT_EUNAVAIL;
	}
	job_run_counted(q, job);
	pthread_mutex_unlock(&q->lock);
	return 0;
}

unsigned pwhash_threads(const struct pwhash *q)
{
	return q->max;
}
