/*
 * test_pwhash.c — unit tests for src/core/pwhash.c: the bounded
 * password hashing queue, verify in place, drain.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <pthread.h>
#include <sodium.h>
#include <string.h>

#include "core/pwhash.h"
#include "util/pt.h"

struct pw_wait {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	int done;
};

static struct pw_wait pw_w = { PTHREAD_MUTEX_INITIALIZER,
			       PTHREAD_COND_INITIALIZER, 0 };

static void pw_done_cb(struct pwhash_job *job)
{
	pthread_mutex_lock(&pw_w.lock);
	pw_w.done++;
	pthread_cond_signal(&pw_w.cond);
	pthread_mutex_unlock(&pw_w.lock);
}

static void test_pwhash(void **state)
{
	struct pwhash *q = pwhash_new(1, 1);
	struct pwhash_job jobs[6], now;
	int queued = 0, refused = 0;
	assert_non_null(q);
	assert_int_equal(pwhash_threads(q), 1);
	memset(jobs, 0, sizeof(jobs));
	for (int i = 0; i < 6; i++) {
		jobs[i].op = PWHASH_HASH;
		jobs[i].password = "a password";
		jobs[i].done_cb = pw_done_cb;
		if (pwhash_submit(q, &jobs[i]) == 0)
			queued++;
		else
			refused++;
	}
	/* one running and one waiting at most: the rest refused at once */
	assert_true(queued >= 2 && queued <= 3);
	assert_int_equal(queued + refused, 6);
	pthread_mutex_lock(&pw_w.lock);
	while (pw_w.done < queued)
		pthread_cond_wait(&pw_w.cond, &pw_w.lock);
	pthread_mutex_unlock(&pw_w.lock);
	assert_int_equal(jobs[0].result, 0);
	assert_int_equal(crypto_pwhash_str_verify(jobs[0].hash, "a password",
						  10),
			 0);
	/* verify in place, while nothing runs */
	memset(&now, 0, sizeof(now));
	now.op = PWHASH_VERIFY;
	memcpy(now.hash, jobs[0].hash, sizeof(now.hash));
	now.password = "a password";
	assert_int_equal(pwhash_run_now(q, &now), 0);
	assert_int_equal(now.result, 0);
	now.password = "another";
	assert_int_equal(pwhash_run_now(q, &now), 0);
	assert_int_equal(now.result, 1);
	/* drained: nothing more is taken */
	pwhash_drain(q);
	assert_int_equal(pwhash_submit(q, &jobs[5]), PT_EUNAVAIL);
	assert_int_equal(pwhash_run_now(q, &now), PT_EUNAVAIL);
	pwhash_free(q);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pwhash),
	};
	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
