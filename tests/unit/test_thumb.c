/*
 * test_thumb.c — unit tests for the thumbnails and text previews of
 * issue 16: the size fitting and the thumbnail process's header
 * (core/thumb.c), the maker in-process and under the probe's seccomp
 * filter on a BMP made here (core/thumbmake.c), the refusal of a
 * decompression bomb by its header, and the text preview's escaping
 * (core/preview.c).
 */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/media.h"
#include "core/preview.h"
#include "core/thumb.h"
#include "util/buf.h"
#include "util/pt.h"

static void test_fit(void **state)
{
	static const struct {
		uint32_t w, h, mw, mh, ow, oh;
		bool ok;
	} cases[] = {
		{ 1920, 1080, 640, 640, 640, 360, true },
		{ 1080, 1920, 640, 640, 360, 640, true },
		{ 320, 240, 640, 640, 320, 240, true }, /* never enlarged */
		{ 640, 640, 640, 640, 640, 640, true },
		{ 10000, 1, 640, 640, 640, 1, true }, /* at least 1 */
		{ 1, 10000, 640, 640, 1, 640, true },
		{ 65535, 65535, 96, 96, 96, 96, true },
		{ 1281, 721, 640, 640, 640, 360, true }, /* rounded */
		{ 0, 100, 640, 640, 0, 0, false },
		{ 100, 0, 640, 640, 0, 0, false },
		{ 100, 100, 0, 640, 0, 0, false },
		{ 4294967295u, 4294967295u, 640, 640, 640, 640, true },
	};
	for (size_t i = 0; i < PT_ARRAY_LEN(cases); i++) {
		uint32_t ow, oh;
		assert_int_equal(thumb_fit(cases[i].w, cases[i].h, cases[i].mw,
					   cases[i].mh, &ow, &oh),
				 cases[i].ok);
		assert_int_equal(ow, cases[i].ow);
		assert_int_equal(oh, cases[i].oh);
	}
}

static void test_head(void **state)
{
	char buf[THUMB_HEAD_MAX];
	uint32_t w, h;
	size_t len, head;
	int n = thumb_head_format(640, 360, 12345, buf, sizeof(buf));
	assert_true(n > 0);
	assert_int_equal(thumb_head_parse(buf, (size_t)n, &w, &h, &len, &head),
			 0);
	assert_int_equal(w, 640);
	assert_int_equal(h, 360);
	assert_int_equal(len, 12345);
	assert_int_equal(head, (size_t)n);
	static const char *const bad[] = {
		"jpeg 641 360 100\n",	 /* too wide */
		"jpeg 640 641 100\n",	 /* too high */
		"jpeg 0 360 100\n",	 /* zero */
		"jpeg 640 360 0\n",	 /* empty */
		"jpeg 640 360 524289\n", /* past THUMB_OUT_MAX */
		"jpeg 640 360 99999999999999999999999\n",
		"jpeg 064 360 100\n", /* leading zero */
		"jpeg -1 360 100\n",
		"jpeg 640  360 100\n",
		"jpeg 640 360 100 \n",
		"png 640 360 100\n",
		"JPEG 640 360 100\n",
		"jpeg 640 360\n",
		"\n",
	};
	for (size_t i = 0; i < PT_ARRAY_LEN(bad); i++)
		assert_int_equal(thumb_head_parse(bad[i], strlen(bad[i]), &w,
						  &h, &len, &head),
				 PT_EBADREQ);
	/* no line yet; and a line that never ends */
	assert_int_equal(thumb_head_parse("jpeg 64", 7, &w, &h, &len, &head),
			 -EAGAIN);
	char longer[THUMB_HEAD_MAX + 10];
	memset(longer, '1', sizeof(longer));
	assert_int_equal(thumb_head_parse(longer, sizeof(longer), &w, &h, &len,
					  &head),
			 PT_EBADREQ);
	/* the JPEG markers */
	const uint8_t ok[] = { 0xff, 0xd8, 0xff, 0xe0, 0, 0xff, 0xd9 };
	const uint8_t cut[] = { 0xff, 0xd8, 0xff, 0xe0, 0, 0xff };
	assert_true(thumb_jpeg_ok(ok, sizeof(ok)));
	assert_false(thumb_jpeg_ok(cut, sizeof(cut)));
	assert_false(thumb_jpeg_ok(ok, 3));
}

/* A w × h 24-bit BMP (bottom-up, rows padded to 4 bytes) of a gradient;
 * the header may claim other dimensions than the pixels it holds. */
static uint8_t *bmp(int32_t w, int32_t h, int32_t claim_w, int32_t claim_h,
		    size_t *n)
{
	size_t row = ((size_t)w * 3 + 3) & ~(size_t)3;
	size_t px = row * (size_t)h;
	*n = 54 + px;
	uint8_t *p = calloc(1, *n);
#define LE32(at, v)                                \
	do {                                       \
		uint32_t v_ = (uint32_t)(v);       \
		p[(at)] = (uint8_t)v_;             \
		p[(at) + 1] = (uint8_t)(v_ >> 8);  \
		p[(at) + 2] = (uint8_t)(v_ >> 16); \
		p[(at) + 3] = (uint8_t)(v_ >> 24); \
	} while (0)
	p[0] = 'B';
	p[1] = 'M';
	LE32(2, *n);
	LE32(10, 54);
	LE32(14, 40);
	LE32(18, claim_w);
	LE32(22, claim_h);
	p[26] = 1;
	p[28] = 24;
	LE32(34, px);
#undef LE32
	for (int32_t y = 0; y < h; y++)
		for (int32_t x = 0; x < w; x++) {
			uint8_t *q = p + 54 + (size_t)y * row + (size_t)x * 3;
			q[0] = (uint8_t)(x * 4);
			q[1] = (uint8_t)(y * 4);
			q[2] = 0x80;
		}
	return p;
}

static void test_make(void **state)
{
	static uint8_t out[THUMB_OUT_MAX];
	size_t n, len;
	uint32_t w, h;
	uint8_t *p = bmp(64, 48, 64, 48, &n);
	assert_int_equal(thumb_make_mem(p, n, 16000000, out, sizeof(out), &len,
					&w, &h),
			 0);
	assert_int_equal(w, 64);
	assert_int_equal(h, 48);
	assert_true(thumb_jpeg_ok(out, len));
	/* the pixel cap: exactly the picture passes, one less is refused
	 * (by the size declared, or by the decoder's bound when only
	 * decoding would tell the size) */
	assert_int_equal(thumb_make_mem(p, n, 64 * 48, out, sizeof(out), &len,
					&w, &h),
			 0);
	int err = thumb_make_mem(p, n, 64 * 48 - 1, out, sizeof(out), &len, &w,
				 &h);
	assert_true(err == PT_ETOOBIG || err == PT_EUNSUPPORTED);
	free(p);
	/* bombs: 60000 × 60000 (past the cap) and 5000 × 5000 (past a
	 * cap of 1 Mpx) declared, a few pixels present: refused, not
	 * decoded (in a child with an address-space limit, as the server
	 * runs it) */
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
#if !defined(__SANITIZE_ADDRESS__)
		/* (ASan's shadow memory needs terabytes of address space) */
		struct rlimit rl = { 512u << 20, 512u << 20 };
		setrlimit(RLIMIT_AS, &rl); /* room for the library */
#endif
		uint8_t *b1 = bmp(8, 8, 60000, 60000, &n);
		int e1 = thumb_make_mem(b1, n, 16000000, out, sizeof(out), &len,
					&w, &h);
		uint8_t *b2 = bmp(8, 8, 5000, 5000, &n);
		int e2 = thumb_make_mem(b2, n, 1000000, out, sizeof(out), &len,
					&w, &h);
		_exit((e1 == PT_ETOOBIG || e1 == PT_EUNSUPPORTED) &&
				      (e2 == PT_ETOOBIG ||
				       e2 == PT_EUNSUPPORTED)
			      ? 0
			      : 1);
	}
	int status;
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	/* not media */
	assert_int_equal(thumb_make_mem((const uint8_t *)"hello", 5, 16000000,
					out, sizeof(out), &len, &w, &h),
			 PT_EUNSUPPORTED);
	/* larger than the box: scaled to fit */
	p = bmp(1000, 500, 1000, 500, &n);
	assert_int_equal(thumb_make_mem(p, n, 16000000, out, sizeof(out), &len,
					&w, &h),
			 0);
	assert_int_equal(w, 640);
	assert_int_equal(h, 320);
	free(p);
}

/* the maker under the probe's seccomp filter: every system call it
 * makes is allowed (else SIGSYS) */
static void test_make_sandboxed(void **state)
{
	size_t n;
	uint8_t *p = bmp(300, 200, 300, 200, &n);
	static uint8_t out[THUMB_OUT_MAX];
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		size_t len;
		uint32_t w, h;
		if (media_sandbox_enter() < 0)
			_exit(3);
		int err = thumb_make_mem(p, n, 16000000, out, sizeof(out), &len,
					 &w, &h);
		_exit(err == 0 && w == 300 && h == 200 ? 0 : 1);
	}
	int status;
	assert_int_equal(waitpid(pid, &status, 0), pid);
	if (WIFSIGNALED(status))
		fail_msg("the maker died of signal %d in the sandbox",
			 WTERMSIG(status));
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	free(p);
}

static const char *preview(const char *s, size_t n, int *err)
{
	static struct pt_buf b;
	pt_buf_release(&b);
	pt_buf_init(&b, 1 << 16);
	*err = preview_html(s, n, &b);
	return b.p ? b.p : "";
}

static void test_preview(void **state)
{
	int err;
	static const struct {
		const char *in, *out;
	} cases[] = {
		{ "<script>alert(1)</script>",
		  "&lt;script&gt;alert(1)&lt;/script&gt;" },
		{ "a & b \"c\" 'd'", "a &amp; b &quot;c&quot; &#39;d&#39;" },
		{ "line\r\nnext\ttab", "line\nnext\ttab" },
		{ "esc\x1b[31m", "esc\xe2\x90\x9b[31m" }, /* ␛ */
		{ "del\x7f", "del\xe2\x90\xa1" },	  /* ␡ */
		{ "cr\rx", "cr\xe2\x90\x8dx" },		  /* ␍ */
		{ "bidi\xe2\x80\xae"
		  "evil",
		  "bidi\xef\xbf\xbd"
		  "evil" },
		{ "c1\xc2\x85x", "c1\xef\xbf\xbdx" },
		{ "caf\xc3\xa9 \xf0\x9f\x98\x80",
		  "caf\xc3\xa9 \xf0\x9f\x98\x80" },
		{ "", "" },
	};
	for (size_t i = 0; i < PT_ARRAY_LEN(cases); i++) {
		const char *got = preview(cases[i].in, strlen(cases[i].in),
					  &err);
		assert_int_equal(err, 0);
		assert_string_equal(got, cases[i].out);
	}
	/* NUL shows as ␀ */
	assert_string_equal(preview("a\0b", 3, &err), "a\xe2\x90\x80"
						      "b");
	/* a sequence cut by the sample's end is dropped, not refused */
	assert_string_equal(preview("ok \xe2\x82", 5, &err), "ok ");
	assert_int_equal(err, 0);
	assert_string_equal(preview("ok \xf0\x9f\x98", 6, &err), "ok ");
	assert_int_equal(err, 0);
	/* invalid UTF-8 elsewhere: no preview at all */
	assert_string_equal(preview("bad \xff here", 10, &err), "");
	assert_int_equal(err, PT_EUNSUPPORTED);
	assert_string_equal(preview("over\xc0\xaflong", 10, &err), "");
	assert_int_equal(err, PT_EUNSUPPORTED);
	/* which types */
	assert_true(preview_mime_text("text/plain"));
	assert_true(preview_mime_text("text/x-c; charset=us-ascii"));
	assert_true(preview_mime_text("application/json"));
	assert_false(preview_mime_text("application/jsonx"));
	assert_false(preview_mime_text("text/"));
	assert_false(preview_mime_text("image/png"));
	assert_false(preview_mime_text("application/octet-stream"));
	assert_false(preview_mime_text(NULL));
	struct pt_buf b;
	pt_buf_init(&b, 1 << 16);
	pt_buf_release(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fit),
		cmocka_unit_test(test_head),
		cmocka_unit_test(test_make),
		cmocka_unit_test(test_make_sandboxed),
		cmocka_unit_test(test_preview),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
