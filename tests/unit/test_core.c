/*
 * test_core.c — unit tests for src/core: token bucket, wait tickets,
 * per-address slots, fixed-window rate limits (capped, evicting), the
 * password hashing queue, and the tier policy.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "conf.h"
#include "core/bucket.h"
#include "core/coverage.h"
#include "core/policy.h"
#include "core/pwhash.h"
#include "core/ratelimit.h"
#include "core/slots.h"
#include "core/ticket.h"

#define SEC 1000000000ull

static void test_bucket_rate(void **state)
{
	struct bucket b;
	uint64_t t = 5 * SEC, sent = 0;
	bucket_init(&b, 100000, 50000, t);
	/* starts empty: nothing now, and a wait that matches the rate */
	assert_int_equal(bucket_take(&b, 1000, t), 0);
	uint64_t w = bucket_wait_ns(&b, 50000, t);
	assert_true(w >= SEC / 2 - 1000 && w <= SEC / 2 + 1000);
	/* ten simulated seconds of greedy sending: 1 MB, within 1 % */
	for (int i = 1; i <= 1000; i++)
		sent += bucket_take(&b, 1 << 20, t + (uint64_t)i * SEC / 100);
	assert_true(sent >= 990000 && sent <= 1010000);
	/* idle time refills to the burst, not beyond */
	assert_int_equal(bucket_take(&b, 1 << 20, t + 100 * SEC), 50000);
	/* unlimited */
	bucket_init(&b, 0, 0, t);
	assert_int_equal(bucket_take(&b, 12345, t), 12345);
	assert_int_equal(bucket_wait_ns(&b, 999, t), 0);
}

static void test_bucket_slow(void **state)
{
	struct bucket b;
	uint64_t t = 0;
	/* 1 byte per second: a byte every second, no rounding to zero */
	bucket_init(&b, 1, 16, t);
	assert_int_equal(bucket_take(&b, 10, t + SEC / 2), 0);
	assert_int_equal(bucket_take(&b, 10, t + SEC), 1);
	uint64_t w = bucket_wait_ns(&b, 1, t + SEC);
	assert_true(w > 0 && w <= SEC + 1000);
	/* huge rates do not overflow */
	bucket_init(&b, 1ull << 40, 1ull << 40, t);
	assert_true(bucket_take(&b, 1ull << 50, t + 3600 * SEC) == 1ull << 40);
}

static void test_ticket(void **state)
{
	unsigned char key[TICKET_KEY_LEN], other[TICKET_KEY_LEN];
	char t[TICKET_MAX], bad[TICKET_MAX];
	int64_t retry = 0;
	memset(key, 7, sizeof(key));
	memset(other, 8, sizeof(other));
	ticket_issue(key, "AAAAAAAAAAAA", "10.0.0.1", 1000, 60, t);
	assert_int_equal(ticket_verify(key, t, "AAAAAAAAAAAA", "10.0.0.1", 1000, &retry), TICKET_EARLY);
	assert_int_equal(retry, 60);
	assert_int_equal(ticket_verify(key, t, "AAAAAAAAAAAA", "10.0.0.1", 1059, &retry), TICKET_EARLY);
	assert_int_equal(retry, 1);
	assert_int_equal(ticket_verify(key, t, "AAAAAAAAAAAA", "10.0.0.1", 1060, NULL), TICKET_OK);
	assert_int_equal(ticket_verify(key, t, "AAAAAAAAAAAA", "10.0.0.1", 1060 + TICKET_VALID, NULL), TICKET_OK);
	assert_int_equal(ticket_verify(key, t, "AAAAAAAAAAAA", "10.0.0.1", 1061 + TICKET_VALID, NULL), TICKET_EXPIRED);
	/* bound to the file, the address and the key */
	assert_int_equal(ticket_verify(key, t, "BBBBBBBBBBBB", "10.0.0.1", 1100, NULL), TICKET_INVALID);
	assert_int_equal(ticket_verify(key, t, "AAAAAAAAAAAA", "10.0.0.2", 1100, NULL), TICKET_INVALID);
	assert_int_equal(ticket_verify(other, t, "AAAAAAAAAAAA", "10.0.0.1", 1100, NULL), TICKET_INVALID);
	/* the wait is in the MAC: a shorter one is a forgery */
	snprintf(bad, sizeof(bad), "1000.0.%s", strchr(strchr(t, '.') + 1, '.') + 1);
	assert_int_equal(ticket_verify(key, bad, "AAAAAAAAAAAA", "10.0.0.1", 1001, NULL), TICKET_INVALID);
	static const char *const junk[] = { "", "x", "1.2", "1.2.", "a.b.c",
					    "1000.60.!!!!", "99999999999999999999.1.AAAA" };
	assert_int_equal(ticket_verify(key, NULL, "AAAAAAAAAAAA", "10.0.0.1", 1100, NULL), TICKET_MISSING);
	assert_int_equal(ticket_verify(key, "", "AAAAAAAAAAAA", "10.0.0.1", 1100, NULL), TICKET_MISSING);
	for (size_t i = 1; i < sizeof(junk) / sizeof(junk[0]); i++)
		assert_int_equal(ticket_verify(key, junk[i], "AAAAAAAAAAAA", "10.0.0.1", 1100, NULL), TICKET_INVALID);
}

static void test_slots(void **state)
{
	struct slots *s = slots_new();
	char other[SLOTS_ID_MAX];
	uint64_t t1, t2, t3, t4;
	struct slots_claim c = { "1.2.3.4", "fileA", -1, 2, 1 };

	assert_int_equal(slots_acquire(s, &c, &t1, other), SLOTS_OK);
	assert_true(t1 != 0);
	/* a second connection of the same download: over its one */
	assert_int_equal(slots_acquire(s, &c, &t2, other), SLOTS_CONNECTIONS);
	c.id = "fileB";
	assert_int_equal(slots_acquire(s, &c, &t2, other), SLOTS_OK);
	c.id = "fileC";
	assert_int_equal(slots_acquire(s, &c, &t3, other), SLOTS_PARALLEL);
	assert_true(strcmp(other, "fileA") == 0 || strcmp(other, "fileB") == 0);
	assert_int_equal(slots_held(s, "1.2.3.4"), 2);
	/* other addresses are apart */
	struct slots_claim d = { "5.6.7.8", "fileC", -1, 1, 1 };
	assert_int_equal(slots_acquire(s, &d, &t4, other), SLOTS_OK);
	slots_release(s, "5.6.7.8", t4);
	slots_release(s, "1.2.3.4", t1);
	assert_int_equal(slots_acquire(s, &c, &t3, other), SLOTS_OK);
	slots_release(s, "1.2.3.4", t2);
	slots_release(s, "1.2.3.4", t3);
	assert_int_equal(slots_held(s, "1.2.3.4"), 0);
	/* connections without a limit on them, downloads limited */
	struct slots_claim e = { "1.2.3.4", "fileA", -1, 1, 0 };
	assert_int_equal(slots_acquire(s, &e, &t1, other), SLOTS_OK);
	assert_int_equal(slots_acquire(s, &e, &t2, other), SLOTS_OK);
	assert_int_equal(slots_held(s, "1.2.3.4"), 1);
	slots_release(s, "1.2.3.4", t1);
	slots_release(s, "1.2.3.4", t2);
	/* no limit: always yes, nothing held */
	struct slots_claim f = { "9.9.9.9", "x", -1, 0, 0 };
	assert_int_equal(slots_acquire(s, &f, &t1, other), SLOTS_OK);
	assert_int_equal(t1, 0);
	assert_int_equal(slots_held(s, "9.9.9.9"), 0);
	slots_release(s, "9.9.9.9", t1);
	/* countdowns: the first call starts it, the next ones see it */
	assert_int_equal(slots_countdown(s, "1.2.3.4", "fileA", 100, 60), 160);
	assert_int_equal(slots_countdown(s, "1.2.3.4", "fileA", 130, 60), 160);
	assert_int_equal(slots_countdown(s, "1.2.3.4", "fileB", 130, 60), 190);
	assert_int_equal(slots_countdown(s, "1.2.3.5", "fileA", 130, 60), 190);
	/* gone TICKET_VALID seconds after it ended: a new one */
	assert_int_equal(slots_countdown(s, "1.2.3.4", "fileA",
					 160 + TICKET_VALID, 60),
			 220 + TICKET_VALID);
	slots_free(s);
}

static void test_ratelimit(void **state)
{
	struct ratelimit *rl = ratelimit_new(3, 60);
	int64_t retry = 0;
	for (int i = 0; i < 3; i++)
		assert_true(ratelimit_hit(rl, "k", 100, NULL));
	assert_false(ratelimit_hit(rl, "k", 110, &retry));
	assert_int_equal(retry, 50);
	assert_false(ratelimit_check(rl, "k", 120, NULL));
	assert_true(ratelimit_check(rl, "other", 120, NULL));
	/* a new window */
	assert_true(ratelimit_hit(rl, "k", 160, NULL));
	ratelimit_reset(rl, "k");
	for (int i = 0; i < 3; i++)
		assert_true(ratelimit_hit(rl, "k", 161, NULL));
	ratelimit_free(rl);
}

static void test_ratelimit_cap(void **state)
{
	struct ratelimit *rl = ratelimit_new(2, 60);
	char key[32];
	ratelimit_cap(rl, 4);
	assert_true(ratelimit_hit(rl, "old", 100, NULL));
	assert_true(ratelimit_hit(rl, "old", 100, NULL));
	assert_false(ratelimit_hit(rl, "old", 100, NULL));
	/* a full table of live windows evicts: new keys are never refused */
	for (int i = 0; i < 20; i++) {
		snprintf(key, sizeof(key), "k%d", i);
		assert_true(ratelimit_hit(rl, key, 101 + i, NULL));
	}
	/* the oldest window went first */
	assert_int_equal(ratelimit_count(rl, "old", 121), 0);
	assert_int_equal(ratelimit_count(rl, "k19", 121), 1);
	assert_int_equal(ratelimit_count(rl, "k19", 120 + 60), 0);
	/* expired windows are swept before anything live is evicted */
	assert_true(ratelimit_hit(rl, "late", 500, NULL));
	assert_int_equal(ratelimit_count(rl, "late", 500), 1);
	ratelimit_free(rl);
	/* addresses: IPv6 by its /64 */
	char k[RATELIMIT_ADDR_MAX];
	ratelimit_addr_key("192.0.2.7", k);
	assert_string_equal(k, "192.0.2.7");
	ratelimit_addr_key("2001:db8:1:2:aaaa:bbbb:cccc:dddd", k);
	assert_string_equal(k, "2001:db8:1:2::/64");
	ratelimit_addr_key("2001:db8:1:2::1", k);
	assert_string_equal(k, "2001:db8:1:2::/64");
	ratelimit_addr_key("::1", k);
	assert_string_equal(k, "::/64");
	ratelimit_addr_key("::ffff:192.0.2.7", k);
	assert_string_equal(k, "::ffff:192.0.2.7");
	ratelimit_addr_key("", k);
	assert_string_equal(k, "");
	/* NULL: no limit */
	assert_true(ratelimit_hit(NULL, "x", 1, NULL));
	assert_true(ratelimit_check(NULL, "x", 1, NULL));
	assert_int_equal(ratelimit_count(NULL, "x", 1), 0);
	ratelimit_refund(NULL, "x");
	ratelimit_reset(NULL, "x");
}

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

static void test_policy(void **state)
{
	struct pt_conf c;
	struct principal anon = { .tier = PT_TIER_ANONYMOUS };
	struct principal free_ = { .user_id = 7, .tier = PT_TIER_FREE };
	struct principal prem = { .user_id = 8, .tier = PT_TIER_PREMIUM };
	struct download_rules d;
	bool q;

	conf_init(&c);
	/* the defaults are Megaupload's published rules */
	policy_download(&c, &anon, &d);
	assert_int_equal(d.wait_seconds, 60);
	assert_int_equal(d.parallel, 1);
	assert_true(d.max_bytes == 1ull << 30);
	policy_download(&c, &free_, &d);
	assert_int_equal(d.wait_seconds, 25);
	policy_download(&c, &prem, &d);
	assert_int_equal(d.wait_seconds, 0);
	assert_int_equal(d.speed, 0);
	assert_int_equal(d.parallel, 0);
	assert_int_equal(d.max_bytes, 0);
	assert_false(d.redirect); /* streamed unless configured */

	/* presigned redirects: S3 only, and only for uncapped tiers */
	struct pt_buf err;
	pt_buf_init(&err, 1024);
	assert_int_equal(conf_set(&c, "storage.s3_redirect", "presigned", &err), 0);
	policy_download(&c, &prem, &d);
	assert_false(d.redirect); /* fs */
	assert_int_equal(conf_set(&c, "storage.backend", "s3", &err), 0);
	policy_download(&c, &prem, &d);
	assert_true(d.redirect);
	policy_download(&c, &free_, &d);
	assert_false(d.redirect); /* speed cap, one at a time */
	assert_int_equal(conf_set(&c, "tier.free.speed_bytes_per_second", "0", &err), 0);
	policy_download(&c, &free_, &d);
	assert_false(d.redirect); /* still one at a time */
	assert_int_equal(conf_set(&c, "tier.free.parallel_downloads", "0", &err), 0);
	policy_download(&c, &free_, &d);
	assert_false(d.redirect); /* a viewing quota (72 minutes) */
	assert_int_equal(conf_set(&c, "tier.free.stream_minutes", "0", &err), 0);
	policy_download(&c, &free_, &d);
	assert_false(d.redirect); /* two connections per download */
	assert_int_equal(conf_set(&c, "tier.free.connections_per_download", "0", &err), 0);
	policy_download(&c, &free_, &d);
	assert_true(d.redirect);
	assert_int_equal(conf_set(&c, "tier.premium.speed_bytes_per_second", "1M", &err), 0);
	policy_download(&c, &prem, &d);
	assert_false(d.redirect);
	assert_int_equal(conf_set(&c, "storage.s3_redirect", "cdn", &err), PT_EBADREQ);
	assert_int_equal(conf_set(&c, "storage.s3_presign_seconds", "0", &err), PT_EBADREQ);
	assert_int_equal(conf_set(&c, "storage.s3_presign_seconds", "604801", &err), PT_EBADREQ);
	pt_buf_release(&err);

	assert_true(policy_upload_limit(&c, &anon, 0, &q) == 2ull << 30);
	assert_false(q);
	/* free: 200 GiB of storage; the quota wins when less is left */
	assert_true(policy_upload_limit(&c, &free_, (int64_t)(200ull << 30) - 1000, &q) == 1000);
	assert_true(q);
	assert_true(policy_upload_limit(&c, &free_, (int64_t)(300ull << 30), &q) == 0);
	assert_true(q);
	/* premium's "no limit" is storage.max_file_bytes (1 TiB) */
	assert_true(policy_upload_limit(&c, &prem, 0, &q) == 1ull << 40);
	assert_false(q);
	assert_true(policy_max_size(&c, &prem) == 1ull << 40);
	assert_int_equal(conf_set(&c, "storage.max_file_bytes", "1G", &err), 0);
	assert_true(policy_upload_limit(&c, &prem, 0, &q) == 1ull << 30);
	assert_true(policy_upload_limit(&c, &anon, 0, &q) == 1ull << 30);
	assert_true(policy_max_size(&c, &anon) == 1ull << 30);
	assert_int_equal(conf_set(&c, "storage.max_file_bytes", "0", &err), PT_EBADREQ);
	assert_int_equal(conf_set(&c, "storage.max_file_bytes", "8388608T", &err), PT_EBADREQ);
	pt_buf_release(&err);

	assert_int_equal(policy_user_tier("free", 0, 100), PT_TIER_FREE);
	assert_int_equal(policy_user_tier("free", 200, 100), PT_TIER_PREMIUM);
	assert_int_equal(policy_user_tier("free", 100, 100), PT_TIER_FREE);
	assert_int_equal(policy_user_tier("premium", 0, 100), PT_TIER_PREMIUM);

	struct principal admin = { .user_id = 9, .role = "admin" };
	assert_true(policy_owns(&free_, 7));
	assert_false(policy_owns(&free_, 8));
	assert_false(policy_owns(&anon, 0));
	assert_true(policy_owns(&admin, 7));
	conf_release(&c);
}

static void test_coverage(void **state)
{
	struct coverage *c = coverage_new(100);
	int64_t day = 20000 * 86400LL;
	/* eight overlapping connections (aria2c -x8): one download */
	int counted = 0;
	for (uint64_t i = 0; i < 8; i++)
		counted += coverage_add(c, "AAAAAAAAAAAA", "1.1.1.1", 8000,
					i * 1000, i * 1000 + 1099 > 7999 ? 7999 : i * 1000 + 1099, day);
	assert_int_equal(counted, 1);
	/* once a day: the same client again counts nothing */
	assert_false(coverage_add(c, "AAAAAAAAAAAA", "1.1.1.1", 8000, 0, 7999, day + 10));
	/* the next day it does */
	assert_true(coverage_add(c, "AAAAAAAAAAAA", "1.1.1.1", 8000, 0, 7999, day + 86400));
	/* first byte a thousand times: never */
	for (int i = 0; i < 1000; i++)
		assert_false(coverage_add(c, "BBBBBBBBBBBB", "2.2.2.2", 8000, 0, 0, day));
	/* a resume: two halves out of order, with a gap closed last */
	assert_false(coverage_add(c, "CCCCCCCCCCCC", "3.3.3.3", 100, 60, 99, day));
	assert_false(coverage_add(c, "CCCCCCCCCCCC", "3.3.3.3", 100, 0, 40, day));
	assert_true(coverage_add(c, "CCCCCCCCCCCC", "3.3.3.3", 100, 41, 59, day));
	/* another client is another download */
	assert_true(coverage_add(c, "CCCCCCCCCCCC", "4.4.4.4", 100, 0, 99, day));
	/* nonsense ranges are ignored */
	assert_false(coverage_add(c, "DDDDDDDDDDDD", "5.5.5.5", 100, 50, 10, day));
	assert_false(coverage_add(c, "DDDDDDDDDDDD", "5.5.5.5", 100, 0, 100, day));
	assert_false(coverage_add(c, "DDDDDDDDDDDD", "5.5.5.5", 0, 0, 0, day));
	coverage_free(c);
	/* a full table evicts instead of growing */
	c = coverage_new(4);
	for (int i = 0; i < 100; i++) {
		char id[16];
		snprintf(id, sizeof(id), "%012d", i);
		coverage_add(c, id, "9.9.9.9", 10, 0, 4, day);
	}
	assert_true(coverage_add(c, "000000000099", "9.9.9.9", 10, 5, 9, day));
	coverage_free(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bucket_rate), cmocka_unit_test(test_bucket_slow),
		cmocka_unit_test(test_ticket),      cmocka_unit_test(test_slots),
		cmocka_unit_test(test_ratelimit),   cmocka_unit_test(test_policy),
		cmocka_unit_test(test_ratelimit_cap), cmocka_unit_test(test_pwhash),
		cmocka_unit_test(test_coverage),
	};
	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
