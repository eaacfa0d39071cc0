/*
 * fuzz_reply.c — libFuzzer target for reply_error_body (http/reply.c),
 * the body of every error reply, made from a message and a reason that
 * may hold any bytes a client sent.  The first byte picks the status and
 * whether there is a reason; the rest is split at the first 0xfe into
 * message and reason.  Checks, in the three formats: one line of valid
 * UTF-8 ending in "\n"; text: the message clean (no control, separator
 * or bidi control) and at most REPLY_MSG_MAX bytes; JSON: parses, with
 * "error" clean and bounded, "status" right and "reason" when given;
 * HTML: the message in <p class=error> with no markup of its own.
 */
#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http/reply.h"
#include "util/buf.h"
#include "util/pt.h"
#include "util/utf8.h"
#include "util/banned.h"

static void assert_clean(const char *s, size_t n)
{
	PT_ASSERT(utf8_check(s, n, UTF8_NAME, NULL) == NULL);
	for (size_t i = 0; i < n;) {
		uint32_t c;
		size_t l = utf8_decode((const unsigned char *)s + i, n - i, &c);
		PT_ASSERT(l > 0);
		PT_ASSERT(!(c == 0x200e || c == 0x200f || c == 0x2028 ||
			    c == 0x2029 || (c >= 0x202a && c <= 0x202e) ||
			    (c >= 0x2066 && c <= 0x2069)));
		i += l;
	}
}

static void one_line(const struct pt_buf *b)
{
	PT_ASSERT(b->n > 0 && b->p[b->n - 1] == '\n');
	PT_ASSERT(memchr(b->p, '\n', b->n) == b->p + b->n - 1);
	PT_ASSERT(utf8_check(b->p, b->n, UTF8_NO_NUL, NULL) == NULL);
	PT_ASSERT(!memchr(b->p, '\r', b->n));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size == 0)
		return 0;
	int status = 400 + data[0] % 64;
	bool has_reason = data[0] & 64;
	const uint8_t *sep = memchr(data + 1, 0xfe, size - 1);
	size_t mn = sep ? (size_t)(sep - data - 1) : size - 1;
	char *msg = malloc(mn + 1);
	memcpy(msg, data + 1, mn);
	msg[mn] = '\0';
	const char *reason = NULL;
	char *rbuf = NULL;
	if (has_reason) {
		size_t rn = sep ? size - 1 - mn - 1 : 0;
		rbuf = malloc(rn + 1);
		if (rn)
			memcpy(rbuf, sep + 1, rn);
		rbuf[rn] = '\0';
		reason = rbuf;
	}

	for (int f = REPLY_TEXT; f <= REPLY_HTML; f++) {
		struct pt_buf b;
		pt_buf_init(&b, 1 << 16);
		PT_ASSERT(reply_error_body(&b, f, status, msg, reason) == 0);
		one_line(&b);
		if (f == REPLY_TEXT) {
			PT_ASSERT(b.n <= REPLY_MSG_MAX);
			assert_clean(b.p, b.n - 1);
		} else if (f == REPLY_JSON) {
			json_t *o = json_loadb(b.p, b.n, 0, NULL);
			PT_ASSERT(json_is_object(o));
			const char *e = json_string_value(json_object_get(o, "error"));
			PT_ASSERT(e && strlen(e) <= REPLY_MSG_MAX - 1);
			assert_clean(e, strlen(e));
			PT_ASSERT(json_integer_value(json_object_get(o, "status")) ==
				  status);
			json_t *r = json_object_get(o, "reason");
			PT_ASSERT(has_reason == (r != NULL));
			if (r) {
				const char *rs = json_string_value(r);
				PT_ASSERT(rs && strlen(rs) <= REPLY_REASON_MAX - 1);
				assert_clean(rs, strlen(rs));
			}
			json_decref(o);
		} else {
			const char *p = strstr(b.p, "<p class=error>");
			PT_ASSERT(p);
			p += strlen("<p class=error>");
			const char *e = strstr(p, "</p>");
			PT_ASSERT(e);
			for (const char *q = p; q < e; q++)
				PT_ASSERT(*q != '<' && *q != '>' && *q != '"' &&
					  *q != '\'');
			assert_clean(p, (size_t)(e - p));
		}
		pt_buf_release(&b);
	}
	free(msg);
	free(rbuf);
	return 0;
}
