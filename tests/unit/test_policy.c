/*
 * test_policy.c — unit tests for src/core/policy.c: the tier rules for
 * downloads, uploads, presigned redirects and ownership.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdbool.h>

#include "conf.h"
#include "core/policy.h"
#include "util/buf.h"
#include "util/pt.h"

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

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_policy),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
