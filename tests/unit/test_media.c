/*
 * test_media.c — unit tests for issue 16's logic: src/core/media.c (the
 * probe's record format and its parser, the summary, media time of
 * bytes, the quota window), the probe in-process on a generated WAV, the
 * seccomp filter of the probe process, and the viewing-quota table of
 * src/api/media.c (reserve, settle, per address and per account).
 */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "api/app.h"
#include "core/media.h"
#include "util/pt.h"

static void test_record_round_trip(void **state)
{
	struct media_info m = { .kind = MEDIA_VIDEO,
				.container = "mov,mp4,m4a,3gp,3g2,mj2",
				.vcodec = "h264",
				.acodec = "aac",
				.duration_ms = 42000,
				.width = 1280,
				.height = 720,
				.bitrate = 2500000 },
			  back;
	char buf[512];
	int n = media_info_format(&m, buf, sizeof(buf));
	assert_true(n > 0);
	assert_int_equal(media_info_parse(buf, (size_t)n, &back), 0);
	assert_int_equal(back.kind, m.kind);
	assert_string_equal(back.container, m.container);
	assert_string_equal(back.vcodec, m.vcodec);
	assert_string_equal(back.acodec, m.acodec);
	assert_int_equal(back.duration_ms, m.duration_ms);
	assert_int_equal(back.width, m.width);
	assert_int_equal(back.height, m.height);
	assert_int_equal(back.bitrate, m.bitrate);
	/* too small a buffer: -1, not a cut record */
	assert_int_equal(media_info_format(&m, buf, 20), -1);
}

static void test_record_refusals(void **state)
{
	static const char *const bad[] = {
		"",			 /* no kind */
		"kind=video",		 /* no final newline */
		"kind=movie\n",		 /* unknown kind */
		"kind=video\nextra=1\n", /* unknown key */
		"kind=video\nnoequals\n",
		"kind=video\nvcodec=H264\n", /* uppercase */
		"kind=video\nvcodec=a b\n",  /* space */
		"kind=video\nvcodec=<script>\n",
		"kind=video\nacodec=aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\n",
		"kind=video\nwidth=65536\n", /* past MEDIA_DIM_MAX */
		"kind=video\nwidth=-1\n",
		"kind=video\nwidth=\n",
		"kind=video\nwidth=12x\n",
		"kind=video\nbitrate=99999999999999999999\n",
		"kind=video\nduration_ms=31622400001\n",
		"kind=video\ncontainer=mp4\0x\n",
	};
	struct media_info m;
	for (size_t i = 0; i < PT_ARRAY_LEN(bad); i++) {
		size_t n = strlen(bad[i]);
		if (i == PT_ARRAY_LEN(bad) - 1)
			n = sizeof("kind=video\ncontainer=mp4\0x\n") - 1;
		assert_int_equal(media_info_parse(bad[i], n, &m), PT_EBADREQ);
	}
	assert_int_equal(media_info_parse("kind=audio\n", 11, &m), 0);
	assert_int_equal(m.kind, MEDIA_AUDIO);
}

static void test_summary(void **state)
{
	char buf[160];
	struct media_info v = { .kind = MEDIA_VIDEO,
				.vcodec = "h264",
				.acodec = "aac",
				.duration_ms = 42000,
				.width = 1280,
				.height = 720 };
	media_summary(&v, buf, sizeof(buf));
	assert_string_equal(buf, "Video \xc2\xb7 1280\xc3\x97"
				 "720 \xc2\xb7 0:42 \xc2\xb7 H.264/AAC");
	struct media_info a = { .kind = MEDIA_AUDIO,
				.acodec = "opus",
				.duration_ms = 3723000 };
	media_summary(&a, buf, sizeof(buf));
	assert_string_equal(buf, "Audio \xc2\xb7 1:02:03 \xc2\xb7 Opus");
	struct media_info i = { .kind = MEDIA_IMAGE,
				.vcodec = "mjpeg",
				.width = 64,
				.height = 48,
				.duration_ms = 40 };
	media_summary(&i, buf, sizeof(buf));
	assert_string_equal(buf, "Image \xc2\xb7 64\xc3\x97"
				 "48 \xc2\xb7 JPEG");
	/* cut, never overrun */
	media_summary(&v, buf, 8);
	assert_true(strlen(buf) < 8);
	assert_string_equal(media_codec_display("weird_codec"), "weird_codec");
}

static void test_media_time(void **state)
{
	struct media_info m = { .bitrate = 128000 };
	assert_int_equal(media_bitrate_of(&m, 1000), 128000);
	/* no bitrate: size × 8 ÷ duration */
	struct media_info d = { .duration_ms = 10000 };
	assert_int_equal(media_bitrate_of(&d, 1000000), 800000);
	/* nothing known: the fallback, never 0 */
	struct media_info z = { 0 };
	assert_int_equal(media_bitrate_of(&z, 0), MEDIA_BITRATE_FALLBACK);
	/* 16 000 bytes at 128 kbit/s: one second */
	assert_int_equal(media_ms_of_bytes(16000, 128000), 1000);
	assert_int_equal(media_ms_of_bytes(0, 128000), 0);
	assert_int_equal(media_ms_of_bytes(UINT64_MAX, 1), INT64_MAX);
	assert_int_equal(media_ms_of_bytes(1000, 0),
			 media_ms_of_bytes(1000, MEDIA_BITRATE_FALLBACK));
}

static void test_quota_window(void **state)
{
	struct media_quota q = { 0 };
	int64_t ra;
	const int64_t allow = 60000, wait = 60;
	assert_true(media_quota_allows(&q, allow, wait, 1000, &ra));
	media_quota_add(&q, 30000, allow, wait, 1000);
	assert_true(media_quota_allows(&q, allow, wait, 1010, &ra));
	media_quota_add(&q, 30000, allow, wait, 1020);
	/* used up at 1020: refused until 1080 */
	assert_false(media_quota_allows(&q, allow, wait, 1030, &ra));
	assert_int_equal(ra, 50);
	assert_false(media_quota_allows(&q, allow, wait, 1079, &ra));
	assert_true(media_quota_allows(&q, allow, wait, 1080, &ra));
	assert_int_equal(q.used_ms, 0);
	/* a window not used up ends after allowance + wait */
	media_quota_add(&q, 10000, allow, wait, 2000);
	assert_true(media_quota_allows(&q, allow, wait, 2119, &ra));
	assert_int_equal(q.used_ms, 10000);
	assert_true(media_quota_allows(&q, allow, wait, 2120, &ra));
	assert_int_equal(q.used_ms, 0);
	/* unlimited */
	struct media_quota u = { 0 };
	media_quota_add(&u, INT64_MAX, 0, 0, 1);
	assert_true(media_quota_allows(&u, 0, 0, 2, &ra));
}

static void test_quota_table(void **state)
{
	struct media_quotas *t = media_quotas_new();
	struct media_viewer a = { "192.0.2.1", 0, 60000, 60 };
	struct media_viewer acct = { "192.0.2.2", 7, 60000, 60 };
	struct media_viewer acct_elsewhere = { "192.0.2.3", 7, 60000, 60 };
	struct media_viewer prem = { "192.0.2.1", 8, 0, 0 };
	int64_t ra, used;

	/* a range of 90 s: 60 granted (a shorter response) */
	assert_int_equal(media_quota_reserve(t, &a, 90000, 100, &ra), 60000);
	/* in flight, the rest is taken: refused */
	assert_int_equal(media_quota_reserve(t, &a, 1000, 100, &ra), 0);
	assert_true(ra > 0);
	/* the response was cut after 20 s of media: 40 s come back */
	media_quota_settle(t, &a, 60000, 20000, 101);
	media_quota_state(t, &a, 101, &used, &ra);
	assert_int_equal(used, 20000);
	assert_int_equal(ra, 0);
	assert_int_equal(media_quota_reserve(t, &a, 40000, 102, &ra), 40000);
	media_quota_settle(t, &a, 40000, 40000, 110);
	/* used up at 110: refused for the wait */
	assert_int_equal(media_quota_reserve(t, &a, 1000, 111, &ra), 0);
	assert_int_equal(ra, 59);
	media_quota_state(t, &a, 111, &used, &ra);
	assert_int_equal(ra, 59);
	assert_int_equal(media_quota_reserve(t, &a, 1000, 170, &ra), 1000);
	/* an account counts wherever it comes from */
	assert_int_equal(media_quota_reserve(t, &acct, 60000, 100, &ra), 60000);
	media_quota_settle(t, &acct, 60000, 60000, 100);
	assert_int_equal(media_quota_reserve(t, &acct_elsewhere, 1, 101, &ra),
			 0);
	/* unlimited: whatever is asked, nothing recorded */
	assert_int_equal(media_quota_reserve(t, &prem, INT64_MAX, 111, &ra),
			 INT64_MAX);
	assert_int_equal(ra, 0);
	/* a NULL table: unlimited */
	assert_int_equal(media_quota_reserve(NULL, &a, 5, 1, &ra), 5);
	/* many viewers: the table evicts, never grows or fails */
	for (int i = 0; i < 100000; i++) {
		char ip[32];
		snprintf(ip, sizeof(ip), "10.%d.%d.%d", i >> 16, (i >> 8) & 255,
			 i & 255);
		struct media_viewer v = { ip, 0, 60000, 60 };
		assert_true(media_quota_reserve(t, &v, 10, 200, &ra) == 10);
		media_quota_settle(t, &v, 10, 10, 200);
	}
	media_quotas_free(t);
}

/* a WAV header and silence: libavformat in-process */
static void test_probe_in_process(void **state)
{
	uint8_t wav[44 + 16000];
	memset(wav, 0, sizeof(wav));
	memcpy(wav, "RIFF", 4);
	uint32_t v = sizeof(wav) - 8;
	memcpy(wav + 4, &v, 4);
	memcpy(wav + 8, "WAVEfmt ", 8);
	v = 16;
	memcpy(wav + 16, &v, 4);
	uint16_t s = 1; /* PCM */
	memcpy(wav + 20, &s, 2);
	s = 1; /* mono */
	memcpy(wav + 22, &s, 2);
	v = 8000;
	memcpy(wav + 24, &v, 4);
	v = 16000;
	memcpy(wav + 28, &v, 4);
	s = 2;
	memcpy(wav + 32, &s, 2);
	s = 16;
	memcpy(wav + 34, &s, 2);
	memcpy(wav + 36, "data", 4);
	v = 16000;
	memcpy(wav + 40, &v, 4);
	struct media_info m;
	assert_int_equal(media_probe_mem(wav, sizeof(wav), &m), 0);
	assert_int_equal(m.kind, MEDIA_AUDIO);
	assert_string_equal(m.container, "wav");
	assert_string_equal(m.acodec, "pcm_s16le");
	assert_int_equal(m.duration_ms, 1000);
	/* junk, nothing, a lone header: no media, no crash */
	assert_int_equal(media_probe_mem((const uint8_t *)"hello", 5, &m),
			 PT_EUNSUPPORTED);
	assert_int_equal(media_probe_mem(NULL, 0, &m), PT_EUNSUPPORTED);
	int err = media_probe_mem(wav, 44, &m);
	assert_true(err == 0 || err == PT_EUNSUPPORTED);
}

/* The probe process's filter: reading fd 0 and writing fd 1 work, opening
 * a file or writing elsewhere kills it with SIGSYS. */
static int sandboxed(void (*fn)(void))
{
	pid_t pid = fork();
	if (pid == 0) {
		if (media_sandbox_enter() < 0)
			_exit(99);
		fn();
		_exit(0);
	}
	int st;
	waitpid(pid, &st, 0);
	return WIFSIGNALED(st) ? -WTERMSIG(st) : WEXITSTATUS(st);
}

static void try_open(void)
{
	int fd = open("/etc/passwd", O_RDONLY);
	_exit(fd >= 0 ? 1 : 2);
}

#if !defined(__SANITIZE_ADDRESS__)
static void try_write2(void)
{
	ssize_t k = write(2, "x", 1);
	_exit(k == 1 ? 1 : 2);
}
#endif

static void try_fork(void)
{
	pid_t p = fork();
	_exit(p >= 0 ? 1 : 2);
}

static void try_allowed(void)
{
	char c;
	ssize_t k = read(0, &c, 1); /* stdin: /dev/null or a tty */
	(void)k;
	void *p = xmalloc(8 << 20);
	memset(p, 1, 8 << 20);
	free(p);
}

static void test_sandbox(void **state)
{
	assert_int_equal(sandboxed(try_allowed), 0);
	assert_int_equal(sandboxed(try_open), -SIGSYS);
#if !defined(__SANITIZE_ADDRESS__)
	/* (ASan builds allow stderr for its reports: mediaprobe.c) */
	assert_int_equal(sandboxed(try_write2), -SIGSYS);
#endif
	assert_int_equal(sandboxed(try_fork), -SIGSYS);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_record_round_trip),
		cmocka_unit_test(test_record_refusals),
		cmocka_unit_test(test_summary),
		cmocka_unit_test(test_media_time),
		cmocka_unit_test(test_quota_window),
		cmocka_unit_test(test_quota_table),
		cmocka_unit_test(test_probe_in_process),
		cmocka_unit_test(test_sandbox),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
