/*
 * test_conf.c — the configuration table: size parsing edge cases, every
 * section, unknown keys, env overrides, precedence file < env < conf_set,
 * and the dump → load round trip that the config dump relies on.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "conf.h"
#include "util/buf.h"
#include "util/pt.h"
#include "util/banned.h"

#define UNUSED __attribute__((unused))

#define KiB (UINT64_C(1) << 10)
#define MiB (UINT64_C(1) << 20)
#define GiB (UINT64_C(1) << 30)
#define TiB (UINT64_C(1) << 40)

/* ---- helpers ---- */

static struct pt_buf err;

static int setup(void **state UNUSED)
{
	pt_buf_init(&err, 4096);
	return 0;
}

static int teardown(void **state UNUSED)
{
	pt_buf_release(&err);
	return 0;
}

static const char *errs(void)
{
	return err.p ? err.p : "";
}

static void assert_conf_eq(const struct pt_conf *a, const struct pt_conf *b)
{
#define S(f) assert_string_equal(a->f, b->f)
#define N(f) assert_int_equal(a->f, b->f)
	S(listen); S(public_url); N(threads); N(max_connections);
	N(per_ip_connections); N(timeout_seconds); S(secret_file);
	S(access_log); N(upload_expiry_hours);
	S(storage_backend); S(data); S(s3_endpoint); S(s3_bucket);
	N(min_free_bytes); N(reserve_bytes);
	S(s3_region); S(s3_access_key); S(s3_secret_key);
	S(metadata_backend); S(postgres_dsn);
	for (int t = 0; t < PT_TIER_COUNT; t++) {
		N(tier[t].max_upload_bytes); N(tier[t].max_download_bytes);
		N(tier[t].wait_seconds); N(tier[t].speed_bytes_per_second);
		N(tier[t].parallel_downloads); N(tier[t].retention_days);
		N(tier[t].stream_minutes); N(tier[t].stream_wait_minutes);
		N(tier[t].storage_quota_bytes);
	}
	N(points_per_download); N(points_per_premium_day);
#undef S
#undef N
}

static char *dump_text(const struct pt_conf *c)
{
	char *text = NULL;
	size_t n = 0;
	FILE *f = open_memstream(&text, &n);

	assert_non_null(f);
	conf_dump(c, f);
	assert_int_equal(fclose(f), 0);
	return text;
}

/* dump c, load the dump over fresh defaults, and expect the same struct */
static void assert_round_trip(const struct pt_conf *c)
{
	struct pt_conf back;
	char *text = dump_text(c), *again;

	conf_init(&back);
	if (conf_load_string(&back, text, &err))
		fail_msg("dump does not load: %s\n%s", errs(), text);
	assert_conf_eq(c, &back);
	again = dump_text(&back);
	assert_string_equal(text, again);
	free(again);
	free(text);
	conf_release(&back);
}

/* ---- sizes ---- */

static void test_size_parse(void **state UNUSED)
{
	static const struct {
		const char *in;
		int ok;
		uint64_t v;
	} cases[] = {
		{ "0", 1, 0 },
		{ "1", 1, 1 },
		{ "1000", 1, 1000 },
		{ "100B", 1, 100 },
		{ "1K", 1, KiB },
		{ "1k", 1, KiB },
		{ "1KB", 1, KiB },
		{ "64KiB", 1, 64 * KiB },
		{ "3M", 1, 3 * MiB },
		{ "1G", 1, GiB },
		{ "2GiB", 1, 2 * GiB },
		{ "200G", 1, 200 * GiB },
		{ "1T", 1, TiB },
		{ "0K", 1, 0 },
		{ "007", 1, 7 },
		{ "18446744073709551615", 1, UINT64_MAX },
		{ "16777215T", 1, ((UINT64_C(1) << 24) - 1) << 40 },
		{ "17179869183G", 1, ((UINT64_C(1) << 34) - 1) << 30 },
		{ "18446744073709551616", 0, 0 },   /* 2^64 */
		{ "99999999999999999999999", 0, 0 },
		{ "16777216T", 0, 0 },              /* 2^64 by shifting */
		{ "17179869184G", 0, 0 },
		{ "16E", 0, 0 },                    /* exabytes: no such unit */
		{ "1P", 0, 0 },
		{ "-1", 0, 0 },
		{ "+1", 0, 0 },
		{ "1.5G", 0, 0 },
		{ " 1K", 0, 0 },
		{ "1K ", 0, 0 },
		{ "1 K", 0, 0 },
		{ "", 0, 0 },
		{ "K", 0, 0 },
		{ "B", 0, 0 },
		{ "iB", 0, 0 },
		{ "1iB", 0, 0 },                    /* "i" only after a unit */
		{ "1KiBB", 0, 0 },
		{ "1KBB", 0, 0 },
		{ "1Ki", 0, 0 },
		{ "1Kib", 0, 0 },
		{ "1b", 0, 0 },                     /* bits? refuse */
		{ "0x10", 0, 0 },
		{ "1e3", 0, 0 },
		{ "1G1", 0, 0 },
	};

	for (size_t i = 0; i < PT_ARRAY_LEN(cases); i++) {
		uint64_t v = 12345;
		int r = conf_parse_size(cases[i].in, &v);
		if (cases[i].ok) {
			if (r)
				fail_msg("'%s' refused", cases[i].in);
			if (v != cases[i].v)
				fail_msg("'%s' gave %llu", cases[i].in,
					 (unsigned long long)v);
		} else if (r != PT_EBADREQ) {
			fail_msg("'%s' accepted as %llu", cases[i].in,
				 (unsigned long long)v);
		} else {
			assert_int_equal(v, 12345);  /* untouched */
		}
	}
}

/* ---- defaults ---- */

static void test_defaults(void **state UNUSED)
{
	struct pt_conf c;
	const struct pt_tier *a, *f, *p;

	conf_init(&c);
	assert_string_equal(c.listen, "127.0.0.1:8080");
	assert_string_equal(c.public_url, "");
	assert_int_equal(c.threads, 0);
	assert_int_equal(c.max_connections, 10000);
	assert_int_equal(c.per_ip_connections, 64);
	assert_int_equal(c.timeout_seconds, 60);
	assert_string_equal(c.secret_file, "");
	assert_string_equal(c.access_log, "");
	assert_int_equal(c.upload_expiry_hours, 24);
	assert_string_equal(c.storage_backend, "fs");
	assert_string_equal(c.data, "./data");
	assert_string_equal(c.s3_endpoint, "");
	assert_string_equal(c.s3_bucket, "");
	assert_string_equal(c.s3_region, "us-east-1");
	assert_string_equal(c.s3_access_key, "");
	assert_string_equal(c.s3_secret_key, "");
	assert_string_equal(c.metadata_backend, "sqlite");
	assert_string_equal(c.postgres_dsn, "");

	a = &c.tier[PT_TIER_ANONYMOUS];
	f = &c.tier[PT_TIER_FREE];
	p = &c.tier[PT_TIER_PREMIUM];
	assert_int_equal(a->wait_seconds, 60);
	assert_int_equal(f->wait_seconds, 25);
	assert_int_equal(a->max_upload_bytes, 2 * GiB);
	assert_int_equal(f->max_upload_bytes, 2 * GiB);
	assert_int_equal(a->max_download_bytes, GiB);
	assert_int_equal(f->max_download_bytes, GiB);
	assert_int_equal(a->speed_bytes_per_second, 100 * KiB);
	assert_int_equal(f->speed_bytes_per_second, 100 * KiB);
	assert_int_equal(a->parallel_downloads, 1);
	assert_int_equal(f->parallel_downloads, 1);
	assert_int_equal(a->retention_days, 21);
	assert_int_equal(f->retention_days, 90);
	assert_int_equal(a->stream_minutes, 72);
	assert_int_equal(f->stream_wait_minutes, 54);
	assert_int_equal(a->storage_quota_bytes, 0);
	assert_int_equal(f->storage_quota_bytes, 200 * GiB);
	/* premium: no limits at all */
	{
		static const struct pt_tier zero;
		assert_memory_equal(p, &zero, sizeof(zero));
	}
	assert_int_equal(c.points_per_download, 1);
	assert_int_equal(c.points_per_premium_day, 333);
	conf_release(&c);
}

static void test_tier_names(void **state UNUSED)
{
	assert_string_equal(conf_tier_name(PT_TIER_ANONYMOUS), "anonymous");
	assert_string_equal(conf_tier_name(PT_TIER_FREE), "free");
	assert_string_equal(conf_tier_name(PT_TIER_PREMIUM), "premium");
	assert_int_equal(conf_tier_lookup("anonymous"), PT_TIER_ANONYMOUS);
	assert_int_equal(conf_tier_lookup("free"), PT_TIER_FREE);
	assert_int_equal(conf_tier_lookup("premium"), PT_TIER_PREMIUM);
	assert_int_equal(conf_tier_lookup("Premium"), PT_TIER_COUNT);
	assert_int_equal(conf_tier_lookup(""), PT_TIER_COUNT);
}

/* ---- every section from a file ---- */

static void test_every_section(void **state UNUSED)
{
	static const char ini[] =
		"; a comment\n"
		"# another\n"
		"[server]\n"
		"listen = 0.0.0.0:9000\n"
		"public_url = https://files.example.org\n"
		"threads = 8\n"
		"max_connections = 500\n"
		"per_ip_connections = 0\n"
		"timeout_seconds = 5\n"
		"secret_file = /etc/partage/secret\n"
		"access_log = off\n"
		"upload_expiry_hours = 48\n"
		"\n"
		"[storage]\n"
		"backend = s3\n"
		"data = /var/lib/partage\n"
		"s3_endpoint = http://127.0.0.1:9001\n"
		"s3_bucket = blobs\n"
		"s3_region = eu-west-3\n"
		"s3_access_key = AKIA\n"
		"s3_secret_key = sekrit=/+x\n"
		"[metadata]\n"
		"backend = postgres\n"
		"postgres_dsn = host=db dbname=partage user=pt\n"
		"[tier.anonymous]\n"
		"max_upload_bytes = 1G\n"
		"max_download_bytes = 512M\n"
		"wait_seconds = 30\n"
		"speed_bytes_per_second = 50K\n"
		"parallel_downloads = 2\n"
		"retention_days = 7\n"
		"stream_minutes = 10\n"
		"stream_wait_minutes = 20\n"
		"storage_quota_bytes = 1T\n"
		"[tier.free]\n"
		"wait_seconds: 12\n"           /* inih takes ':' too */
		"retention_days=0\n"
		"[tier.premium]\n"
		"max_upload_bytes = 100GiB\n"
		"speed_bytes_per_second = 10M ; inline comment\n"
		"[rewards]\n"
		"points_per_download = 3\n"
		"points_per_premium_day = 1000\n";
	struct pt_conf c;

	conf_init(&c);
	if (conf_load_string(&c, ini, &err))
		fail_msg("%s", errs());
	assert_string_equal(c.listen, "0.0.0.0:9000");
	assert_string_equal(c.public_url, "https://files.example.org");
	assert_int_equal(c.threads, 8);
	assert_int_equal(c.max_connections, 500);
	assert_int_equal(c.per_ip_connections, 0);
	assert_int_equal(c.timeout_seconds, 5);
	assert_string_equal(c.secret_file, "/etc/partage/secret");
	assert_string_equal(c.access_log, "off");
	assert_int_equal(c.upload_expiry_hours, 48);
	assert_string_equal(c.storage_backend, "s3");
	assert_string_equal(c.data, "/var/lib/partage");
	assert_string_equal(c.s3_endpoint, "http://127.0.0.1:9001");
	assert_string_equal(c.s3_bucket, "blobs");
	assert_string_equal(c.s3_region, "eu-west-3");
	assert_string_equal(c.s3_access_key, "AKIA");
	assert_string_equal(c.s3_secret_key, "sekrit=/+x");
	assert_string_equal(c.metadata_backend, "postgres");
	assert_string_equal(c.postgres_dsn, "host=db dbname=partage user=pt");
	assert_int_equal(c.tier[0].max_upload_bytes, GiB);
	assert_int_equal(c.tier[0].max_download_bytes, 512 * MiB);
	assert_int_equal(c.tier[0].wait_seconds, 30);
	assert_int_equal(c.tier[0].speed_bytes_per_second, 50 * KiB);
	assert_int_equal(c.tier[0].parallel_downloads, 2);
	assert_int_equal(c.tier[0].retention_days, 7);
	assert_int_equal(c.tier[0].stream_minutes, 10);
	assert_int_equal(c.tier[0].stream_wait_minutes, 20);
	assert_int_equal(c.tier[0].storage_quota_bytes, TiB);
	assert_int_equal(c.tier[1].wait_seconds, 12);
	assert_int_equal(c.tier[1].retention_days, 0);
	assert_int_equal(c.tier[1].max_upload_bytes, 2 * GiB);  /* default */
	assert_int_equal(c.tier[2].max_upload_bytes, 100 * GiB);
	assert_int_equal(c.tier[2].speed_bytes_per_second, 10 * MiB);
	assert_int_equal(c.points_per_download, 3);
	assert_int_equal(c.points_per_premium_day, 1000);
	assert_round_trip(&c);
	conf_release(&c);
}

/* ---- errors, with the file and line ---- */

static void test_load_errors(void **state UNUSED)
{
	static const struct {
		const char *ini, *msg;
	} cases[] = {
		{ "[server]\nthreads = 4\nfoo = 1\n",
		  "<string>:3: unknown key 'foo' in [server]" },
		{ "[server]\nbackend = fs\n",
		  "<string>:2: unknown key 'backend' in [server]" },
		{ "\n[nope]\nx = 1\n",
		  "<string>:3: unknown key 'x' in [nope] (unknown section)" },
		{ "[tier]\nwait_seconds = 1\n",
		  "<string>:2: unknown key 'wait_seconds' in [tier] "
		  "(unknown section)" },
		{ "[tier.gold]\nwait_seconds = 1\n",
		  "<string>:2: unknown key 'wait_seconds' in [tier.gold] "
		  "(unknown section)" },
		{ "[Server]\nlisten = a:1\n",
		  "<string>:2: unknown key 'listen' in [Server] "
		  "(unknown section)" },
		{ "listen = a:1\n",
		  "<string>:1: key 'listen' is not in a [section]" },
		{ "[tier.free]\n\nwait_seconds = abc\n",
		  "<string>:3: bad value 'abc' for 'tier.free.wait_seconds': "
		  "not a number" },
		{ "[tier.free]\nwait_seconds = -1\n",
		  "<string>:2: bad value '-1' for 'tier.free.wait_seconds': "
		  "not a number" },
		{ "[tier.free]\nwait_seconds =\n",
		  "<string>:2: bad value '' for 'tier.free.wait_seconds': "
		  "not a number" },
		{ "[tier.premium]\nmax_upload_bytes = 1.5G\n",
		  "<string>:2: bad value '1.5G' for "
		  "'tier.premium.max_upload_bytes': not a size (bytes, or a "
		  "number with K, M, G or T)" },
		{ "[tier.premium]\nstorage_quota_bytes = 16777216T\n",
		  "<string>:2: bad value '16777216T' for "
		  "'tier.premium.storage_quota_bytes': too large" },
		{ "[server]\nthreads = 1025\n",
		  "<string>:2: bad value '1025' for 'server.threads': must be "
		  "at most 1024" },
		{ "[server]\ntimeout_seconds = 86401\n",
		  "<string>:2: bad value '86401' for 'server.timeout_seconds': "
		  "must be at most 86400" },
		{ "[server]\nupload_expiry_hours = 0\n",
		  "<string>:2: bad value '0' for 'server.upload_expiry_hours': "
		  "must be at least 1" },
		{ "[rewards]\npoints_per_premium_day = 0\n",
		  "<string>:2: bad value '0' for "
		  "'rewards.points_per_premium_day': must be at least 1" },
		{ "[storage]\nbackend = ftp\n",
		  "<string>:2: bad value 'ftp' for 'storage.backend': must be "
		  "one of fs, s3" },
		{ "[metadata]\nbackend = mysql\n",
		  "<string>:2: bad value 'mysql' for 'metadata.backend': must "
		  "be one of sqlite, postgres" },
		{ "[storage]\ndata =\n",
		  "<string>:2: bad value '' for 'storage.data': must not be "
		  "empty" },
		{ "[server]\nlisten = 8080\n",
		  "<string>:2: bad value '8080' for 'server.listen': expected "
		  "HOST:PORT" },
		{ "[server]\nlisten = localhost:http\n",
		  "<string>:2: bad value 'localhost:http' for 'server.listen': "
		  "port is not a number from 0 to 65535" },
		{ "[server]\nlisten = localhost:65536\n",
		  "<string>:2: bad value 'localhost:65536' for "
		  "'server.listen': port is not a number from 0 to 65535" },
		{ "[server]\npublic_url = files.example.org\n",
		  "<string>:2: bad value 'files.example.org' for "
		  "'server.public_url': not an http:// or https:// URL" },
		{ "[server]\npublic_url = https://\n",
		  "<string>:2: bad value 'https://' for 'server.public_url': "
		  "URL has no host" },
		/* inih: " ;x" is a comment, so the value is "" */
		{ "[server]\nsecret_file = ;x\n",
		  NULL },
		{ "[server]\nsecret_file=;x\n",
		  "<string>:2: bad value ';x' for 'server.secret_file': ';' at "
		  "the start or after a space begins a comment" },
		{ "[server]\nthreads = 1\nlisten\n",
		  "<string>:3: syntax error (expected [section] or key = "
		  "value)" },
		{ "[server\nthreads = 1\n",
		  "<string>:1: syntax error (expected [section] or key = "
		  "value)" },
		/* the first error wins, whichever kind it is */
		{ "[server]\nthreads = x\nlisten\n",
		  "<string>:2: bad value 'x' for 'server.threads': not a "
		  "number" },
		{ "[server]\nnope\nthreads = x\n",
		  "<string>:2: syntax error (expected [section] or key = "
		  "value)" },
		/* control bytes never reach the message */
		{ "[server]\naccess_log = a\x01" "b\n",
		  "<string>:2: bad value 'a?b' for 'server.access_log': "
		  "contains a control character" },
	};

	for (size_t i = 0; i < PT_ARRAY_LEN(cases); i++) {
		struct pt_conf c;
		int r;

		conf_init(&c);
		pt_buf_reset(&err);
		r = conf_load_string(&c, cases[i].ini, &err);
		if (!cases[i].msg) {
			if (r)
				fail_msg("case %zu: %s", i, errs());
		} else {
			assert_int_equal(r, PT_EBADREQ);
			if (strcmp(errs(), cases[i].msg))
				fail_msg("case %zu:\n got '%s'\nwant '%s'", i,
					 errs(), cases[i].msg);
		}
		conf_release(&c);
	}
}

/* Nothing after the first error is applied. */
static void test_stop_at_first_error(void **state UNUSED)
{
	struct pt_conf c;

	conf_init(&c);
	assert_int_equal(conf_load_string(&c, "[server]\nthreads = 2\n"
					  "bogus = 1\nthreads = 3\n", &err),
			 PT_EBADREQ);
	assert_int_equal(c.threads, 2);
	conf_release(&c);
}

static void test_long_lines(void **state UNUSED)
{
	struct pt_conf c;
	char ini[1024], v[200];
	int r;

	/* 180 bytes: the longest value, fits on a line */
	memset(v, 'a', 180);
	v[180] = '\0';
	conf_init(&c);
	snprintf(ini, sizeof(ini), "[metadata]\npostgres_dsn = %s\n", v);
	assert_int_equal(conf_load_string(&c, ini, &err), 0);
	assert_string_equal(c.postgres_dsn, v);

	/* 181: refused by the value rule */
	v[180] = 'a';
	v[181] = '\0';
	snprintf(ini, sizeof(ini), "[metadata]\npostgres_dsn=%s\n", v);
	assert_int_equal(conf_load_string(&c, ini, &err), PT_EBADREQ);
	assert_non_null(strstr(errs(), ":2: bad value 'aaaa"));
	assert_non_null(strstr(errs(), "...' for 'metadata.postgres_dsn': "
			       "longer than 180 bytes"));

	/* the longest line inih takes whole: 197 bytes and '\n' */
	snprintf(ini, sizeof(ini), "[server]\n; %0195d\nthreads = 3\n", 0);
	assert_int_equal(conf_load_string(&c, ini, &err), 0);
	assert_int_equal(c.threads, 3);
	snprintf(ini, sizeof(ini), "[server]\n; %0196d\nthreads = 4\n", 0);
	assert_int_equal(conf_load_string(&c, ini, &err), PT_EBADREQ);
	assert_string_equal(errs(), "<string>:2: line too long (more than "
			    "197 bytes)");
	assert_int_equal(c.threads, 3);
	c.threads = 0;

	/* a line inih would split: refused, not half-read */
	snprintf(ini, sizeof(ini), "[server]\n; %0300d\nthreads = 3\n", 0);
	r = conf_load_string(&c, ini, &err);
	assert_int_equal(r, PT_EBADREQ);
	assert_non_null(strstr(errs(), "<string>:2: line too long"));
	assert_int_equal(c.threads, 0);
	conf_release(&c);
}

/* ---- conf_set: keys and value rules ---- */

static void test_set(void **state UNUSED)
{
	struct pt_conf c;

	conf_init(&c);
	assert_int_equal(conf_set(&c, "tier.free.wait_seconds", "5", &err), 0);
	assert_int_equal(c.tier[PT_TIER_FREE].wait_seconds, 5);
	assert_int_equal(conf_set(&c, "storage.data", "/srv/x", &err), 0);
	assert_string_equal(c.data, "/srv/x");
	assert_int_equal(conf_set(&c, "server.listen", "[::1]:0", &err), 0);
	assert_string_equal(c.listen, "[::1]:0");

	assert_int_equal(conf_set(&c, "tier.free.wait_seconds", "abc", &err),
			 PT_EBADREQ);
	assert_string_equal(errs(), "bad value 'abc' for "
			    "'tier.free.wait_seconds': not a number");
	assert_int_equal(c.tier[PT_TIER_FREE].wait_seconds, 5);  /* kept */

	static const char *const unknown[] = {
		"listen", "server", "server.", ".listen", "server.listen.x",
		"tier.wait_seconds", "tier.free", "data", "",
		"storage.data.", "SERVER.LISTEN",
	};
	for (size_t i = 0; i < PT_ARRAY_LEN(unknown); i++) {
		char want[128];
		assert_int_equal(conf_set(&c, unknown[i], "1", &err),
				 PT_EBADREQ);
		snprintf(want, sizeof(want), "unknown key '%s'", unknown[i]);
		assert_string_equal(errs(), want);
	}

	/* strings that would not survive an INI round trip */
	static const char *const bad[] = {
		" x", "x ", "a\nb", "a\tb", "a\rb", "a ;b", ";x", "a\x7f",
	};
	for (size_t i = 0; i < PT_ARRAY_LEN(bad); i++) {
		if (!conf_set(&c, "server.secret_file", bad[i], &err))
			fail_msg("'%s' accepted", bad[i]);
		assert_null(strchr(errs(), '\n'));
	}
	assert_string_equal(c.secret_file, "");
	/* but these are fine */
	assert_int_equal(conf_set(&c, "server.secret_file", "a;b # c=d:[e]",
				  &err), 0);
	assert_int_equal(conf_set(&c, "server.secret_file", "/p/é", &err), 0);

	/* a NULL err is allowed */
	assert_int_equal(conf_set(&c, "server.threads", "x", NULL),
			 PT_EBADREQ);
	conf_release(&c);
}

/* ---- storage.min_free_bytes: a size or a share of the file system ---- */

static void test_space_percent(void **state UNUSED)
{
	struct pt_conf c;

	conf_init(&c);
	/* the default: 1 % of the disk, whatever its size */
	assert_true(c.min_free_bytes == (CONF_PERCENT | 1));
	assert_int_equal(conf_space(c.min_free_bytes, 32 * MiB), 335544);
	assert_int_equal(conf_space(c.min_free_bytes, 0), 0);
	assert_int_equal(c.reserve_bytes, 64 * MiB);
	assert_round_trip(&c);

	static const struct {
		const char *v;
		uint64_t stored, of_1t; /* conf_space(v, 1 TiB) */
	} ok[] = {
		{ "0%", CONF_PERCENT, 0 },
		{ "5%", CONF_PERCENT | 5, TiB / 20 },
		{ "100%", CONF_PERCENT | 100, TiB },
		{ "64M", 64 * MiB, 64 * MiB },
		{ "0", 0, 0 },
		{ "1000000T", 1000000 * TiB, 1000000 * TiB },
	};
	for (size_t i = 0; i < PT_ARRAY_LEN(ok); i++) {
		if (conf_set(&c, "storage.min_free_bytes", ok[i].v, &err))
			fail_msg("'%s' refused: %s", ok[i].v, errs());
		assert_true(c.min_free_bytes == ok[i].stored);
		assert_true(conf_space(c.min_free_bytes, TiB) == ok[i].of_1t);
		assert_round_trip(&c);
	}
	static const char *const bad[] = { "101%", "%", "-1%", "5 %", "5%%",
					   "1.5%", "5K%", "99999999999999999999%" };
	for (size_t i = 0; i < PT_ARRAY_LEN(bad); i++) {
		if (!conf_set(&c, "storage.min_free_bytes", bad[i], &err))
			fail_msg("'%s' accepted", bad[i]);
		assert_null(strchr(errs(), '\n'));
	}
	/* the percentage is for min_free_bytes only */
	assert_int_equal(conf_set(&c, "storage.reserve_bytes", "5%", &err),
			 PT_EBADREQ);
	assert_int_equal(conf_set(&c, "tier.free.max_upload_bytes", "5%",
				  &err), PT_EBADREQ);
	conf_release(&c);
}

/* ---- environment ---- */

static void unset_all(void)
{
	static const char *const names[] = {
		"PARTAGE_LISTEN", "PARTAGE_DATA", "PARTAGE_PUBLIC_URL",
		"PARTAGE_SERVER_LISTEN", "PARTAGE_STORAGE_DATA",
		"PARTAGE_TIER_FREE_WAIT_SECONDS", "PARTAGE_SERVER_THREADS",
		"PARTAGE_TIER_ANONYMOUS_MAX_UPLOAD_BYTES",
		"PARTAGE_METADATA_BACKEND",
		"PARTAGE_REWARDS_POINTS_PER_DOWNLOAD",
		"PARTAGE_TIME_OFFSET", "PARTAGE_CONFIG", "PARTAGE_BOGUS",
		"PARTAGE_STORAGE_S3_SECRET_KEY",
	};
	for (size_t i = 0; i < PT_ARRAY_LEN(names); i++)
		unsetenv(names[i]);
}

static void test_env(void **state UNUSED)
{
	struct pt_conf c;

	unset_all();
	conf_init(&c);
	setenv("PARTAGE_LISTEN", "0.0.0.0:1234", 1);
	setenv("PARTAGE_DATA", "/tmp/d", 1);
	setenv("PARTAGE_PUBLIC_URL", "http://x.test", 1);
	setenv("PARTAGE_TIER_FREE_WAIT_SECONDS", "7", 1);
	setenv("PARTAGE_TIER_ANONYMOUS_MAX_UPLOAD_BYTES", "10M", 1);
	setenv("PARTAGE_METADATA_BACKEND", "postgres", 1);
	setenv("PARTAGE_REWARDS_POINTS_PER_DOWNLOAD", "0", 1);
	setenv("PARTAGE_STORAGE_S3_SECRET_KEY", "k/+=", 1);
	/* PARTAGE_* that are not keys are someone else's: ignored */
	setenv("PARTAGE_TIME_OFFSET", "-86400", 1);
	setenv("PARTAGE_CONFIG", "/etc/partage.ini", 1);
	setenv("PARTAGE_BOGUS", "whatever", 1);
	if (conf_load_env(&c, &err))
		fail_msg("%s", errs());
	assert_string_equal(c.listen, "0.0.0.0:1234");
	assert_string_equal(c.data, "/tmp/d");
	assert_string_equal(c.public_url, "http://x.test");
	assert_int_equal(c.tier[PT_TIER_FREE].wait_seconds, 7);
	assert_int_equal(c.tier[PT_TIER_ANONYMOUS].max_upload_bytes, 10 * MiB);
	assert_string_equal(c.metadata_backend, "postgres");
	assert_int_equal(c.points_per_download, 0);
	assert_string_equal(c.s3_secret_key, "k/+=");

	/* the full name beats the short form */
	setenv("PARTAGE_SERVER_LISTEN", "127.0.0.2:80", 1);
	setenv("PARTAGE_STORAGE_DATA", "/tmp/e", 1);
	assert_int_equal(conf_load_env(&c, &err), 0);
	assert_string_equal(c.listen, "127.0.0.2:80");
	assert_string_equal(c.data, "/tmp/e");

	/* a bad value names the variable */
	setenv("PARTAGE_SERVER_THREADS", "many", 1);
	assert_int_equal(conf_load_env(&c, &err), PT_EBADREQ);
	assert_string_equal(errs(), "PARTAGE_SERVER_THREADS: bad value 'many' "
			    "for 'server.threads': not a number");
	unsetenv("PARTAGE_SERVER_THREADS");
	setenv("PARTAGE_LISTEN", "nope", 1);
	unsetenv("PARTAGE_SERVER_LISTEN");
	assert_int_equal(conf_load_env(&c, &err), PT_EBADREQ);
	assert_string_equal(errs(), "PARTAGE_LISTEN: bad value 'nope' for "
			    "'server.listen': expected HOST:PORT");
	unset_all();
	conf_release(&c);
}

/* defaults < file < env < conf_set (flags) */
static void test_precedence(void **state UNUSED)
{
	static const char ini[] =
		"[tier.free]\nwait_seconds = 10\n"
		"[server]\nlisten = 127.0.0.1:1\nthreads = 2\n";
	struct pt_conf c;

	unset_all();
	conf_init(&c);
	assert_int_equal(c.tier[PT_TIER_FREE].wait_seconds, 25);
	assert_int_equal(conf_load_string(&c, ini, &err), 0);
	assert_int_equal(c.tier[PT_TIER_FREE].wait_seconds, 10);
	assert_string_equal(c.listen, "127.0.0.1:1");

	setenv("PARTAGE_TIER_FREE_WAIT_SECONDS", "20", 1);
	setenv("PARTAGE_LISTEN", "127.0.0.1:2", 1);
	assert_int_equal(conf_load_env(&c, &err), 0);
	assert_int_equal(c.tier[PT_TIER_FREE].wait_seconds, 20);
	assert_string_equal(c.listen, "127.0.0.1:2");
	assert_int_equal(c.threads, 2);  /* file value, env did not touch */

	assert_int_equal(conf_set(&c, "tier.free.wait_seconds", "30", &err), 0);
	assert_int_equal(conf_set(&c, "server.listen", "127.0.0.1:3", &err), 0);
	assert_int_equal(c.tier[PT_TIER_FREE].wait_seconds, 30);
	assert_string_equal(c.listen, "127.0.0.1:3");
	unset_all();
	conf_release(&c);
}

/* ---- files ---- */

static void test_file(void **state UNUSED)
{
	char path[] = "/tmp/test_conf.XXXXXX", want[128];
	struct pt_conf c;
	int fd = mkstemp(path);
	static const char ini[] = "[server]\r\nthreads = 6\r\n\r\n[rewards]\r\n"
				  "points_per_download = x\r\n";

	assert_true(fd >= 0);
	assert_int_equal(write(fd, ini, sizeof(ini) - 1), sizeof(ini) - 1);
	close(fd);
	conf_init(&c);
	assert_int_equal(conf_load_file(&c, path, &err), PT_EBADREQ);
	snprintf(want, sizeof(want), "%s:5: bad value 'x' for "
		 "'rewards.points_per_download': not a number", path);
	assert_string_equal(errs(), want);
	assert_int_equal(c.threads, 6);

	fd = open(path, O_WRONLY | O_TRUNC);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "[server]\nthreads = 9\n", 21), 21);
	close(fd);
	assert_int_equal(conf_load_file(&c, path, &err), 0);
	assert_int_equal(c.threads, 9);

	/* a NUL byte means this is not a config file */
	fd = open(path, O_WRONLY | O_TRUNC);
	assert_int_equal(write(fd, "[server]\n\0x", 11), 11);
	close(fd);
	assert_int_equal(conf_load_file(&c, path, &err), PT_EBADREQ);
	assert_non_null(strstr(errs(), "contains a NUL byte"));

	/* an empty file is a valid, empty config */
	fd = open(path, O_WRONLY | O_TRUNC);
	close(fd);
	assert_int_equal(conf_load_file(&c, path, &err), 0);

	unlink(path);
	assert_int_equal(conf_load_file(&c, path, &err), -ENOENT);
	snprintf(want, sizeof(want), "cannot read '%s': %s", path,
		 strerror(ENOENT));
	assert_string_equal(errs(), want);
	assert_int_equal(conf_load_file(&c, "/", &err), -EISDIR);
	conf_release(&c);
}

/* ---- dump ---- */

static void test_dump_round_trip(void **state UNUSED)
{
	struct pt_conf c;
	char v[181];
	char *text;

	/* defaults */
	conf_init(&c);
	assert_round_trip(&c);
	text = dump_text(&c);
	assert_non_null(strstr(text, "\n[tier.free]\n"));
	assert_non_null(strstr(text, "\nmax_upload_bytes = 2G\n"));
	assert_non_null(strstr(text, "\nspeed_bytes_per_second = 100K\n"));
	assert_non_null(strstr(text, "\nstorage_quota_bytes = 200G\n"));
	assert_non_null(strstr(text, "\npublic_url =\n"));
	assert_non_null(strstr(text, "\nlisten = 127.0.0.1:8080\n"));
	free(text);

	/* awkward but legal values */
	memset(v, 'z', 180);
	v[180] = '\0';
	static const char *const sets[][2] = {
		{ "server.secret_file", "a;b # c=d:[e];" },
		{ "server.access_log", "=" },
		{ "storage.s3_bucket", "[x]" },
		{ "storage.s3_access_key", "#" },
		{ "storage.s3_region", ":" },
		{ "server.public_url", "http://h:1/p?q=a b" },
		{ "tier.premium.max_upload_bytes", "18446744073709551615" },
		{ "tier.premium.storage_quota_bytes", "1025" },
		{ "tier.free.speed_bytes_per_second", "1536K" },
		{ "tier.anonymous.wait_seconds", "86400" },
		{ "server.threads", "1024" },
	};
	for (size_t i = 0; i < PT_ARRAY_LEN(sets); i++)
		if (conf_set(&c, sets[i][0], sets[i][1], &err))
			fail_msg("%s", errs());
	assert_int_equal(conf_set(&c, "metadata.postgres_dsn", v, &err), 0);
	assert_int_equal(conf_set(&c, "storage.s3_secret_key", v, &err), 0);
	assert_int_equal(conf_set(&c, "storage.s3_endpoint", "https://s3",
				  &err), 0);
	assert_round_trip(&c);
	conf_release(&c);
}

static void test_help(void **state UNUSED)
{
	char *text = NULL;
	size_t n = 0;
	FILE *f = open_memstream(&text, &n);

	conf_help(f);
	fclose(f);
	assert_non_null(strstr(text, "tier.free.wait_seconds"));
	assert_non_null(strstr(text, "PARTAGE_TIER_FREE_WAIT_SECONDS"));
	assert_non_null(strstr(text,
			       "PARTAGE_SERVER_LISTEN or PARTAGE_LISTEN"));
	free(text);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_size_parse),
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_tier_names),
		cmocka_unit_test(test_every_section),
		cmocka_unit_test(test_load_errors),
		cmocka_unit_test(test_stop_at_first_error),
		cmocka_unit_test(test_long_lines),
		cmocka_unit_test(test_set),
		cmocka_unit_test(test_space_percent),
		cmocka_unit_test(test_env),
		cmocka_unit_test(test_precedence),
		cmocka_unit_test(test_file),
		cmocka_unit_test(test_dump_round_trip),
		cmocka_unit_test(test_help),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
