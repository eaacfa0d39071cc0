/*
 * fuzz_multipart.c — libFuzzer target for partage's side of a multipart
 * upload (api/upload.c; libmicrohttpd's post processor splits the body
 * into parts and hands them to post_iter, which is where this code runs).
 * The first byte picks the mode:
 *   0  the rest is a part's filename, through what post_iter does with it:
 *      api_form_filename, the UTF-8 check, disp_sanitize_name.  Checks:
 *      the unescaped name is no longer than the raw one, keeps every CR,
 *      LF and '"' byte it had and gets one '"' per "%22", unescaping again
 *      changes nothing; the stored name is non-empty UTF-8 without control
 *      characters or '/', at most 255 bytes, neither "." nor "..".
 *   1  byte 1 is a mask of where to cut, the rest (up to 40 bytes) a
 *      max_days / max_downloads field's value, handed over in those
 *      chunks as MHD might: api_form_count_add refuses it exactly when it
 *      is 24 bytes or more, and api_form_count_value then gives what
 *      api_count_parse gives for the whole value (blank: nothing set).
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "api/api.h"
#include "http/disposition.h"
#include "util/pool.h"
#include "util/pt.h"
#include "util/utf8.h"
#include "util/banned.h"

static size_t count_byte(const char *s, char c)
{
	size_t n = 0;
	for (; *s; s++)
		n += *s == c;
	return n;
}

static size_t count_esc(const char *s, const char *esc)
{
	size_t n = 0, len = strlen(s);
	for (size_t i = 0; i + 2 < len; i++)
		if (!strncasecmp(s + i, esc, 3))
			n++;
	return n;
}

static void filename(struct pt_pool *pool, const char *raw)
{
	char *name = api_form_filename(pool, raw);
	size_t n = strlen(name);

	PT_ASSERT(n <= strlen(raw));
	PT_ASSERT(count_byte(name, '\r') == count_byte(raw, '\r'));
	PT_ASSERT(count_byte(name, '\n') == count_byte(raw, '\n'));
	/* "%22" sequences never overlap ('%' is not '2'): each one is a '"' */
	PT_ASSERT(count_byte(name, '"') ==
		  count_byte(raw, '"') + count_esc(raw, "%22"));
	PT_ASSERT(count_esc(name, "%22") == 0 && count_esc(name, "%0d") == 0 &&
		  count_esc(name, "%0a") == 0);
	PT_ASSERT(strcmp(api_form_filename(pool, name), name) == 0);

	/* post_iter refuses a name that is not UTF-8; the rest is cleaned */
	if (utf8_check(name, n, 0, NULL))
		return;
	char clean[256];
	size_t k = disp_sanitize_name(name, n, clean, sizeof(clean));
	PT_ASSERT(k == strlen(clean) && k >= 1 && k <= 255);
	PT_ASSERT(utf8_check(clean, k, UTF8_NAME, NULL) == NULL);
	PT_ASSERT(!strchr(clean, '/') && !strchr(clean, '\\'));
	PT_ASSERT(strcmp(clean, ".") != 0 && strcmp(clean, "..") != 0);
}

static void count_field(uint8_t mask, const char *v, size_t n)
{
	struct form_count f;
	int64_t got = -5, whole = -5;
	int add_err = 0;
	size_t start = 0;

	memset(&f, 0, sizeof(f));
	for (size_t i = 1; i <= n; i++) {
		/* cut after byte i-1 when the mask says so, and at the end */
		if (i < n && !(mask & (1u << (i % 8))))
			continue;
		if (api_form_count_add(&f, start, v + start, i - start)) {
			add_err = 1;
			break;
		}
		start = i;
	}
	PT_ASSERT(add_err == (n >= sizeof(f.v)));
	if (add_err)
		return;
	int rc = api_form_count_value(&f, &got);
	int rw = n ? api_count_parse(v, n, &whole) : 0;
	PT_ASSERT(rc == rw);
	if (!n)
		PT_ASSERT(got == -5);
	else if (!rc) {
		PT_ASSERT(got == whole);
		PT_ASSERT(got >= 1 && got <= 1000000000);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 2)
		return 0;
	struct pt_pool *pool = pt_pool_new();
	char *s = malloc(size);
	memcpy(s, data + 1, size - 1);
	s[size - 1] = '\0';
	if (data[0] & 1) {
		/* a field's value has no NUL (MHD stops at none, but the
		 * count code reads it as a string) */
		size_t n = strlen(s + 1);
		if (n <= 40)
			count_field((uint8_t)s[0], s + 1, n);
	} else {
		filename(pool, s);
	}
	free(s);
	pt_pool_free(pool);
	return 0;
}
