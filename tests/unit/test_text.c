/*
 * test_text.c — unit tests for src/util/text.c (escaping any bytes into
 * one line of valid UTF-8) and the error bodies of src/http/reply.c that
 * are built from it.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "http/reply.h"
#include "util/buf.h"
#include "util/pt.h"
#include "util/text.h"
#include "util/utf8.h"

/* Valid UTF-8 with no C0, DEL, C1, line separator or bidi control. */
static void assert_clean(const char *s, size_t n)
{
	assert_null(utf8_check(s, n, UTF8_NAME, NULL));
	for (size_t i = 0; i < n;) {
		uint32_t c;
		size_t l = utf8_decode((const unsigned char *)s + i, n - i, &c);
		assert_true(l > 0);
		assert_false(c == 0x2028 || c == 0x2029 || c == 0x200e ||
			     c == 0x200f || (c >= 0x202a && c <= 0x202e) ||
			     (c >= 0x2066 && c <= 0x2069));
		i += l;
	}
}

static void test_escape_table(void **state)
{
	static const struct {
		const char *in;
		size_t n;
		unsigned flags;
		const char *out;
	} cases[] = {
		{ "plain text", 10, 0, "plain text" },
		{ "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80", 14, 0,
		  "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80" },
		{ "\xff", 1, 0, "\\xff" },
		{ "a\xc3(", 3, 0, "a\\xc3(" },            /* cut sequence */
		{ "\xc0\xaf", 2, 0, "\\xc0\\xaf" },       /* overlong '/' */
		{ "\xed\xa0\x80", 3, 0, "\\xed\\xa0\\x80" }, /* surrogate */
		{ "\xf4\x90\x80\x80", 4, 0, "\\xf4\\x90\\x80\\x80" }, /* > U+10FFFF */
		{ "\xf0\x9f\x98", 3, 0, "\\xf0\\x9f\\x98" }, /* 4-byte, cut */
		{ "a\0b", 3, 0, "a\\x00b" },
		{ "l1\nl2\r\t", 7, 0, "l1\\x0al2\\x0d\\x09" },
		{ "\x1b[2J\x7f", 5, 0, "\\x1b[2J\\x7f" },
		{ "\xc2\x85\xc2\x9b", 4, 0, "\\u0085\\u009b" },  /* C1 */
		{ "\xe2\x80\xae" "exe", 6, 0, "\\u202eexe" },    /* RLO */
		{ "\xe2\x80\xa8", 3, 0, "\\u2028" },
		{ "\xe2\x81\xa6", 3, 0, "\\u2066" },
		{ "a\\b\"c", 5, 0, "a\\b\"c" },
		{ "a\\b\"c", 5, TEXT_ESC_BACKSLASH, "a\\\\b\"c" },
		{ "a\\b\"c", 5, TEXT_ESC_BACKSLASH | TEXT_ESC_QUOTE,
		  "a\\\\b\\\"c" },
		{ "", 0, 0, "" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char out[128];
		size_t n = text_escape(out, sizeof(out), cases[i].in,
				       cases[i].n, cases[i].flags);
		assert_string_equal(out, cases[i].out);
		assert_int_equal(n, strlen(cases[i].out));
		assert_clean(out, n);
		/* the buffer form says the same */
		struct pt_buf b;
		pt_buf_init(&b, 1024);
		assert_int_equal(text_escape_buf(&b, cases[i].in, cases[i].n,
						 cases[i].flags),
				 0);
		assert_int_equal(b.n, n);
		assert_memory_equal(b.p ? b.p : "", out, n);
		pt_buf_release(&b);
		assert_int_equal(text_is_clean(cases[i].in, cases[i].n,
					       cases[i].flags),
				 strlen(cases[i].out) == cases[i].n &&
					 memcmp(cases[i].out, cases[i].in,
						cases[i].n) == 0);
	}
	assert_int_equal(text_escape((char[4]){ 0 }, 4, NULL, 5, 0), 0);
}

/* Every output size against 4-byte characters, escapes and ASCII: the
 * result fits, is clean, is a prefix of the whole escape, and is marked
 * when it was cut. */
static void test_escape_cut(void **state)
{
	static const char in[] = "ab\xf0\x9f\x98\x80\xff\x1b" "c\xe2\x82\xac"
				 "\xf0\x9f\x98\x80\xf0\x9f\x98\x80z";
	const size_t mark = sizeof(TEXT_CUT_MARK) - 1;
	char whole[256];
	size_t wn = text_escape(whole, sizeof(whole), in, sizeof(in) - 1, 0);
	assert_string_equal(whole, "ab\xf0\x9f\x98\x80\\xff\\x1b"
				   "c\xe2\x82\xac\xf0\x9f\x98\x80\xf0\x9f"
				   "\x98\x80z");
	for (size_t cap = 1; cap <= wn + 2; cap++) {
		char out[256];
		memset(out, 'X', sizeof(out));
		size_t n = text_escape(out, cap, in, sizeof(in) - 1, 0);
		assert_true(n <= cap - 1);
		assert_int_equal(out[n], '\0');
		assert_int_equal(out[cap], 'X'); /* nothing past cap... */
		assert_clean(out, n);
		if (cap > wn) {
			assert_int_equal(n, wn);
			assert_string_equal(out, whole);
			continue;
		}
		/* cut: a prefix of the whole, then the mark if it fits */
		if (cap - 1 >= mark) {
			assert_true(n >= mark);
			assert_memory_equal(out + n - mark, TEXT_CUT_MARK, mark);
			n -= mark;
		}
		assert_memory_equal(out, whole, n);
		/* ...and the cut is between two units of the whole */
		size_t pos = 0, u;
		while (pos < n) {
			/* units of the whole escape: an escape or a char */
			if (whole[pos] == '\\')
				u = 4;
			else
				u = utf8_decode((const unsigned char *)whole +
							pos,
						wn - pos, &(uint32_t){ 0 });
			pos += u;
		}
		assert_int_equal(pos, n);
	}
}

static void test_error_bodies(void **state)
{
	static const char *const msgs[] = {
		"not found: '/x/\xff'",
		"bad request: '\x1b[31m\nFAKE 200\r\n'",
		"a\xc3",
		"\xf0\x9f\x98",
		"<script>alert(1)</script> & \"q\" \xe2\x80\xae",
		"",
	};
	char longmsg[3000];
	size_t k = 0;
	while (k + 4 < sizeof(longmsg) - 1) {
		memcpy(longmsg + k, "\xf0\x9f\x98\x80", 4);
		k += 4;
	}
	longmsg[k] = '\0';
	for (size_t i = 0; i <= sizeof(msgs) / sizeof(msgs[0]); i++) {
		const char *m = i < sizeof(msgs) / sizeof(msgs[0]) ? msgs[i]
								    : longmsg;
		for (int f = REPLY_TEXT; f <= REPLY_HTML; f++) {
			struct pt_buf b;
			pt_buf_init(&b, 1 << 16);
			assert_int_equal(reply_error_body(&b, f, 404, m,
							  i % 2 ? "\xff" : NULL),
					 0);
			assert_non_null(b.p);
			assert_null(utf8_check(b.p, b.n, UTF8_NO_NUL, NULL));
			assert_int_equal(b.p[b.n - 1], '\n');
			/* one line */
			assert_ptr_equal(memchr(b.p, '\n', b.n), b.p + b.n - 1);
			assert_ptr_equal(memchr(b.p, '\r', b.n), NULL);
			if (f == REPLY_TEXT) {
				assert_true(b.n <= REPLY_MSG_MAX);
				assert_clean(b.p, b.n - 1);
			} else if (f == REPLY_JSON) {
				json_error_t e;
				json_t *o = json_loadb(b.p, b.n, 0, &e);
				assert_non_null(o);
				const char *s = json_string_value(
					json_object_get(o, "error"));
				assert_non_null(s);
				assert_true(strlen(s) <= REPLY_MSG_MAX - 1);
				assert_clean(s, strlen(s));
				assert_int_equal(json_integer_value(
							 json_object_get(o, "status")),
						 404);
				if (i % 2)
					assert_string_equal(
						json_string_value(json_object_get(
							o, "reason")),
						"\\xff");
				json_decref(o);
			} else {
				assert_null(strstr(b.p, "<script>"));
				assert_clean(b.p, b.n - 1);
			}
			pt_buf_release(&b);
		}
	}
	/* the long message is cut after a whole character, then marked */
	struct pt_buf b;
	pt_buf_init(&b, 1 << 16);
	reply_error_body(&b, REPLY_TEXT, 400, longmsg, NULL);
	assert_true(b.n >= 4);
	assert_memory_equal(b.p + b.n - 4, TEXT_CUT_MARK "\n", 4);
	assert_int_equal((b.n - 4) % 4, 0);
	pt_buf_release(&b);
}

static void test_jtext(void **state)
{
	json_t *j = reply_jtext("caf\xc3\xa9");
	assert_string_equal(json_string_value(j), "caf\xc3\xa9");
	json_decref(j);
	j = reply_jtext("a\xff\x1b");
	assert_non_null(j);
	assert_string_equal(json_string_value(j), "a\\xff\\x1b");
	json_decref(j);
	j = reply_jtext(NULL);
	assert_string_equal(json_string_value(j), "");
	json_decref(j);
	/* valid text is kept as is, controls and all: JSON escapes them */
	j = reply_jtext("a\nb");
	assert_string_equal(json_string_value(j), "a\nb");
	json_decref(j);
}

/* pt_log's line is escaped too: one line, no raw control byte. */
static void test_log_line(void **state)
{
	char path[] = "/tmp/test_text_log.XXXXXX";
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	fflush(stderr);
	int saved = dup(2);
	assert_true(dup2(fd, 2) == 2);
	pt_log("client said '%s'", "a\x1b[2J\nFAKE line\r\xff\xc2\x9b");
	fflush(stderr);
	dup2(saved, 2);
	close(saved);
	char buf[512];
	ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);
	close(fd);
	unlink(path);
	assert_true(n > 0);
	buf[n] = '\0';
	assert_non_null(strstr(buf, "client said 'a\\x1b[2J\\x0aFAKE "
				    "line\\x0d\\xff\\u009b'\n"));
	assert_ptr_equal(strchr(buf, '\n'), buf + n - 1);
	assert_clean(buf, (size_t)n - 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_escape_table),
		cmocka_unit_test(test_escape_cut),
		cmocka_unit_test(test_error_bodies),
		cmocka_unit_test(test_jtext),
		cmocka_unit_test(test_log_line),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
