/*
 * test_disposition.c — Content-Disposition values and file-name cleaning
 * against tables of edge cases: the RFC 6266 fallback and RFC 8187
 * encoding (D2–D5, with the exact attr-char set as a vector), hostile
 * names (paths, CR/LF, quotes, "%XX", bidi overrides, bad UTF-8), the
 * 255-byte cut at a character boundary, and the active-type policy (D6).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "http/disposition.h"
#include "util/banned.h"

struct build_row {
	const char *name;
	const char *in;
	bool attachment;
	const char *want;
};

#define A "attachment; filename="

static const struct build_row build_rows[] = {
	{ "plain", "report.pdf", true, A "\"report.pdf\"" },
	{ "inline", "a.txt", false, "inline; filename=\"a.txt\"" },
	{ "spaces stay quoted", "my file.txt", true, A "\"my file.txt\"" },
	{ "separators stay quoted", "a;b,c=d.txt", true,
	  A "\"a;b,c=d.txt\"" },
	{ "header example", "r\xc3\xa9sum\xc3\xa9 \xe2\x82\xac.pdf", true,
	  A "\"resume EUR.pdf\"; "
	    "filename*=UTF-8''r%C3%A9sum%C3%A9%20%E2%82%AC.pdf" },
	{ "D3 example", "\xe2\x82\xac rates", true,
	  A "\"EUR rates\"; filename*=UTF-8''%E2%82%AC%20rates" },
	{ "D4 attr-char vector",
	  "\xc3\xa9 '*%(),;\"<>=?@[]{}:!#$&+-.^_`|~Az09", true,
	  A "\"e '*%(),;'<>=?@[]{}:!#$&+-.^_`|~Az09\"; filename*=UTF-8''"
	    "%C3%A9%20%27%2A%25%28%29%2C%3B%22%3C%3E%3D%3F%40%5B%5D%7B%7D%3A"
	    "!#$&+-.^_`|~Az09" },
	{ "quote replaced", "say \"hi\".txt", true,
	  A "\"say 'hi'.txt\"; filename*=UTF-8''say%20%22hi%22.txt" },
	{ "unix path", "../../etc/passwd", true, A "\"passwd\"" },
	{ "windows path", "C:\\Users\\x\\doc.txt", true, A "\"doc.txt\"" },
	{ "CR LF injection", "a\r\nSet-Cookie: x=1", true,
	  A "\"aSet-Cookie: x=1\"" },
	{ "percent escape in fallback", "%41.txt", true,
	  A "\"_41.txt\"; filename*=UTF-8''%2541.txt" },
	{ "lone percent kept", "100%.txt", true, A "\"100%.txt\"" },
	{ "percent then non-hex", "%zz%4", true, A "\"%zz%4\"" },
	{ "empty", "", true, A "\"file\"" },
	{ "NULL", NULL, true, A "\"file\"" },
	{ "dot-dot", "..", true, A "\"file\"" },
	{ "dots and spaces", " . .. ", true, A "\"file\"" },
	{ "hidden file", ".bashrc", true, A "\"bashrc\"" },
	{ "trailing dot and space", "name. ", true, A "\"name\"" },
	{ "invalid UTF-8 dropped", "a\xff\xfe" "b.txt", true, A "\"ab.txt\"" },
	{ "overlong dropped", "a\xc0\xaf" "b", true, A "\"ab\"" },
	{ "bidi override dropped", "evil\xe2\x80\xaegpj.exe", true,
	  A "\"evilgpj.exe\"" },
	{ "C1 control dropped", "a\xc2\x85" "b", true, A "\"ab\"" },
	{ "tab dropped", "Tab\there", true, A "\"Tabhere\"" },
	{ "CJK", "\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e.txt", true,
	  A "\"___.txt\"; filename*=UTF-8''%E6%97%A5%E6%9C%AC%E8%AA%9E.txt" },
	{ "emoji", "\xf0\x9f\x98\x80.png", true,
	  A "\"_.png\"; filename*=UTF-8''%F0%9F%98%80.png" },
	{ "transliteration", "\xc3\x86ther \xc3\x9f \xc5\x92uvre", true,
	  A "\"AEther ss OEuvre\"; "
	    "filename*=UTF-8''%C3%86ther%20%C3%9F%20%C5%92uvre" },
	{ "no-break space", "a\xc2\xa0" "b", true,
	  A "\"a b\"; filename*=UTF-8''a%C2%A0b" },
};

struct sanitize_row {
	const char *name;
	const char *in;
	size_t n; /* 0: strlen(in) */
	size_t outsz;
	const char *want;
};

static const struct sanitize_row sanitize_rows[] = {
	{ "embedded NUL", "a\0b", 3, 256, "ab" },
	{ "only NUL", "\0", 1, 256, "file" },
	{ "length bounds the input", "abcdef", 3, 256, "abc" },
	{ "trailing directory", "dir/", 0, 256, "file" },
	{ "mixed separators", "a/b\\c", 0, 256, "c" },
	{ "surrogate dropped", "a\xed\xa0\x80" "b", 0, 256, "ab" },
	{ "above U+10FFFF dropped", "a\xf4\x90\x80\x80" "b", 0, 256, "ab" },
	{ "truncated sequence dropped", "ab\xe2\x82", 0, 256, "ab" },
	{ "stray continuation dropped", "\x80" "ab", 0, 256, "ab" },
	{ "DEL dropped", "a\x7f" "b", 0, 256, "ab" },
	{ "line separator dropped", "a\xe2\x80\xa8" "b", 0, 256, "ab" },
	{ "small buffer cuts", "abcdefgh", 0, 6, "abcde" },
	{ "cut then trim", "abcd. xyz", 0, 6, "abcd" },
	{ "cut at boundary", "\xc3\xa9x", 0, 3, "\xc3\xa9" },
	{ "no room for a character", "\xc3\xa9x", 0, 2, "f" },
	{ "default cut short", "", 0, 4, "fil" },
	{ "one-byte buffer", "abc", 0, 1, "" },
};

/* 300 × 'a' → 255 × 'a'; 128 × "é" (256 bytes) → 127 × "é" */
static void test_long_ascii(void **state)
{
	char in[301], out[512], want[256];

	(void)state;
	memset(in, 'a', 300);
	in[300] = '\0';
	memset(want, 'a', 255);
	want[255] = '\0';
	assert_int_equal(disp_sanitize_name(in, 300, out, sizeof(out)), 255);
	assert_string_equal(out, want);
}

static void test_long_utf8(void **state)
{
	char in[257], out[512], want[255];

	(void)state;
	for (int i = 0; i < 128; i++)
		memcpy(in + 2 * i, "\xc3\xa9", 2);
	in[256] = '\0';
	memcpy(want, in, 254);
	want[254] = '\0';
	assert_int_equal(disp_sanitize_name(in, 256, out, sizeof(out)), 254);
	assert_string_equal(out, want);
}

static void test_zero_outsz(void **state)
{
	char out[1] = { 'x' };

	(void)state;
	assert_int_equal(disp_sanitize_name("abc", 3, out, 0), 0);
	assert_int_equal(out[0], 'x');
}

static void test_build_too_big(void **state)
{
	struct pt_buf b;

	(void)state;
	pt_buf_init(&b, 20);
	assert_int_equal(pt_buf_adds(&b, "X: "), 0);
	assert_int_equal(disp_build(&b, "a-rather-long-name.txt", true),
			 PT_ETOOBIG);
	assert_int_equal(b.n, 3);
	assert_string_equal(b.p, "X: ");
	pt_buf_release(&b);
}

static void test_build_appends(void **state)
{
	struct pt_buf b;

	(void)state;
	pt_buf_init(&b, 4096);
	assert_int_equal(pt_buf_adds(&b, "Content-Disposition: "), 0);
	assert_int_equal(disp_build(&b, "x", false), 0);
	assert_string_equal(b.p, "Content-Disposition: inline; filename=\"x\"");
	pt_buf_release(&b);
}

/* the longest possible value fits: 255 bytes, all percent-encoded */
static void test_build_longest(void **state)
{
	char in[301];
	struct pt_buf b;

	(void)state;
	for (int i = 0; i < 100; i++)
		memcpy(in + 3 * i, "\xe2\x82\xac", 3);
	in[300] = '\0';
	pt_buf_init(&b, 1 << 16);
	assert_int_equal(disp_build(&b, in, true), 0);
	/* 85 × "€" = 255 bytes; fallback 85 × "EUR"; 255 × "%XX" */
	assert_int_equal(b.n, strlen(A "\"\"; filename*=UTF-8''") + 255 +
				      255 * 3);
	pt_buf_release(&b);
}

struct active_row {
	const char *mime;
	bool want;
};

static const struct active_row active_rows[] = {
	{ "text/html", true },
	{ "TEXT/HTML", true },
	{ "text/html; charset=utf-8", true },
	{ " text/html ", true },
	{ "text/html ;charset=utf-8", true },
	{ "application/xhtml+xml", true },
	{ "image/svg+xml", true },
	{ "image/SVG+XML", true },
	{ "text/xml", true },
	{ "application/xml", true },
	{ "application/rss+xml", true },
	{ "text/xsl", true },
	{ "text/javascript", true },
	{ "application/javascript", true },
	{ "application/x-javascript", true },
	{ "application/ecmascript", true },
	{ "application/x-shockwave-flash", true },
	{ "multipart/x-mixed-replace; boundary=x", true },
	{ NULL, true },
	{ "", true },
	{ "garbage", true },
	{ "text/", true },
	{ "/html", true },
	{ "text/plain", false },
	{ "text/plain; charset=utf-8", false },
	{ "text/css", false },
	{ "text/htmlx", false },
	{ "image/png", false },
	{ "image/jpeg", false },
	{ "video/mp4", false },
	{ "audio/ogg", false },
	{ "application/pdf", false },
	{ "application/json", false },
	{ "application/octet-stream", false },
	{ "application/zip", false },
};

static void run_build(void **state)
{
	const struct build_row *r = *state;
	struct pt_buf b;

	pt_buf_init(&b, 4096);
	assert_int_equal(disp_build(&b, r->in, r->attachment), 0);
	assert_string_equal(b.p, r->want);
	pt_buf_release(&b);
}

static void run_sanitize(void **state)
{
	const struct sanitize_row *r = *state;
	char out[512];
	size_t n = r->n ? r->n : strlen(r->in);
	size_t got = disp_sanitize_name(r->in, n, out, r->outsz);

	assert_string_equal(out, r->want);
	assert_int_equal(got, strlen(r->want));
}

static void run_active(void **state)
{
	const struct active_row *r = *state;

	assert_int_equal(disp_type_is_active(r->mime), r->want);
}

int main(void)
{
	static const struct CMUnitTest fixed[] = {
		cmocka_unit_test(test_long_ascii),
		cmocka_unit_test(test_long_utf8),
		cmocka_unit_test(test_zero_outsz),
		cmocka_unit_test(test_build_too_big),
		cmocka_unit_test(test_build_appends),
		cmocka_unit_test(test_build_longest),
	};
	size_t nf = sizeof(fixed) / sizeof(fixed[0]);
	size_t nb = sizeof(build_rows) / sizeof(build_rows[0]);
	size_t ns = sizeof(sanitize_rows) / sizeof(sanitize_rows[0]);
	size_t na = sizeof(active_rows) / sizeof(active_rows[0]);
	struct CMUnitTest *t = calloc(nf + nb + ns + na, sizeof(*t));
	size_t k = 0;
	int rc;

	for (size_t i = 0; i < nf; i++)
		t[k++] = fixed[i];
	for (size_t i = 0; i < nb; i++)
		t[k++] = (struct CMUnitTest){
			.name = build_rows[i].name,
			.test_func = run_build,
			.initial_state = (void *)&build_rows[i],
		};
	for (size_t i = 0; i < ns; i++)
		t[k++] = (struct CMUnitTest){
			.name = sanitize_rows[i].name,
			.test_func = run_sanitize,
			.initial_state = (void *)&sanitize_rows[i],
		};
	for (size_t i = 0; i < na; i++)
		t[k++] = (struct CMUnitTest){
			.name = active_rows[i].mime ? active_rows[i].mime
						    : "(null type)",
			.test_func = run_active,
			.initial_state = (void *)&active_rows[i],
		};
	rc = _cmocka_run_group_tests("disposition", t, k, NULL, NULL);
	free(t);
	return rc;
}
