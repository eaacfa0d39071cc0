/*
 * fuzz_s3xml.c — libFuzzer target for what partage reads from an S3
 * store's XML answers (store/s3_xml.c): s3_xml_next (error codes, UploadId,
 * ETag, IsTruncated…), s3_xml_each (the Contents of ListObjectsV2, the
 * Upload of ListMultipartUploads) and s3_time_parse.  The first byte
 * picks the mode:
 *   0  the rest is an answer as the store sent it: each element's fields
 *      are NUL-free text no longer than the answer, a listing yields at
 *      most as many items as it has <Contents> tags, and every date is
 *      within years 0000..9999;
 *   1  the rest is a list of keys (split at '\n'): an answer is written
 *      with them escaped as S3 escapes them, between junk the input
 *      chooses, and s3_xml_each gives back exactly those keys, sizes and
 *      dates, in order; s3_xml_next reads the truncation marker;
 *   2  the rest is a date: s3_time_parse accepts it only in the form
 *      YYYY-MM-DDTHH:MM:SS (anything after), with the fields in range,
 *      and agrees with timegm; the date printed back parses to itself.
 */
#define _GNU_SOURCE
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "store/s3.h"
#include "util/buf.h"
#include "util/pt.h"
#include "util/banned.h"

#define MAX_KEYS 32

struct seen {
	size_t n, cap_len;
	char *keys[MAX_KEYS];
	char *sizes[MAX_KEYS];
	int64_t times[MAX_KEYS];
};

static int collect(char **v, void *arg)
{
	struct seen *s = arg;
	for (int i = 0; i < 3; i++)
		if (v[i])
			PT_ASSERT(strlen(v[i]) <= s->cap_len);
	/* before 1970 is negative; years are 4 digits */
	int64_t t = s3_time_parse(v[2]);
	PT_ASSERT(t >= -62167219200 && t < 253402300800 + 86400);
	if (s->n < MAX_KEYS) {
		s->keys[s->n] = v[0] ? xstrdup(v[0]) : NULL;
		s->sizes[s->n] = v[1] ? xstrdup(v[1]) : NULL;
		s->times[s->n] = t;
	}
	s->n++;
	return 0;
}

static void seen_free(struct seen *s)
{
	for (size_t i = 0; i < s->n && i < MAX_KEYS; i++) {
		free(s->keys[i]);
		free(s->sizes[i]);
	}
}

static size_t count(const char *hay, const char *needle)
{
	size_t n = 0;
	for (const char *p = hay; (p = strstr(p, needle)); p += strlen(needle))
		n++;
	return n;
}

static const char *const fields[] = { "Key", "Size", "LastModified" };

static void raw_answer(const char *xml, size_t len)
{
	struct seen s = { .cap_len = len };
	const char *pos = NULL;
	char *v;

	PT_ASSERT(s3_xml_each(xml, "Contents", fields, 3, collect, &s) == 0);
	PT_ASSERT(s.n <= count(xml, "<Contents>"));
	seen_free(&s);
	while ((v = s3_xml_next(xml, NULL, "Code", &pos))) {
		PT_ASSERT(strlen(v) <= len);
		PT_ASSERT(pos > xml && pos <= xml + len);
		free(v);
	}
}

static void escape(struct pt_buf *b, const char *s)
{
	for (; *s; s++) {
		const char *e = NULL;
		switch (*s) {
		case '&': e = "&amp;"; break;
		case '<': e = "&lt;"; break;
		case '>': e = "&gt;"; break;
		case '"': e = "&quot;"; break;
		case '\'': e = "&apos;"; break;
		}
		if (e)
			PT_ASSERT(!pt_buf_add(b, e, strlen(e)));
		else
			PT_ASSERT(!pt_buf_add(b, s, 1));
	}
}

static void add(struct pt_buf *b, const char *s)
{
	PT_ASSERT(!pt_buf_add(b, s, strlen(s)));
}

static void round_trip(char *text)
{
	char *keys[MAX_KEYS];
	size_t n = 0;
	struct pt_buf b;
	char tmp[64];

	for (char *p = text; n < MAX_KEYS;) {
		char *nl = strchr(p, '\n');
		keys[n++] = p;
		if (!nl)
			break;
		*nl = '\0';
		p = nl + 1;
	}
	pt_buf_init(&b, 1 << 20);
	add(&b, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<ListBucketResult "
		"xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><Name>b</Name>"
		"<IsTruncated>true</IsTruncated>");
	for (size_t i = 0; i < n; i++) {
		struct tm tm;
		time_t t = (time_t)(i * 86400 * 397 + i * 3671);
		gmtime_r(&t, &tm);
		strftime(tmp, sizeof(tmp), "%Y-%m-%dT%H:%M:%S.000Z", &tm);
		add(&b, "<Contents><Key>");
		escape(&b, keys[i]);
		add(&b, "</Key><LastModified>");
		add(&b, tmp);
		add(&b, "</LastModified><ETag>&quot;0&quot;</ETag><Size>");
		snprintf(tmp, sizeof(tmp), "%zu", i * 1000003);
		add(&b, tmp);
		add(&b, "</Size><StorageClass>STANDARD</StorageClass></Contents>");
	}
	add(&b, "<NextContinuationToken>");
	escape(&b, keys[0]);
	add(&b, "</NextContinuationToken></ListBucketResult>");

	struct seen s = { .cap_len = b.n };
	PT_ASSERT(s3_xml_each(b.p, "Contents", fields, 3, collect, &s) == 0);
	PT_ASSERT(s.n == n);
	for (size_t i = 0; i < n; i++) {
		PT_ASSERT(s.keys[i] && strcmp(s.keys[i], keys[i]) == 0);
		snprintf(tmp, sizeof(tmp), "%zu", i * 1000003);
		PT_ASSERT(s.sizes[i] && strcmp(s.sizes[i], tmp) == 0);
		PT_ASSERT(s.times[i] == (int64_t)(i * 86400 * 397 + i * 3671));
	}
	seen_free(&s);
	const char *pos = NULL;
	char *v = s3_xml_next(b.p, NULL, "IsTruncated", &pos);
	PT_ASSERT(v && strcmp(v, "true") == 0);
	free(v);
	pos = NULL;
	v = s3_xml_next(b.p, NULL, "NextContinuationToken", &pos);
	PT_ASSERT(v && strcmp(v, keys[0]) == 0);
	free(v);
	pt_buf_release(&b);
}

static bool digits(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (s[i] < '0' || s[i] > '9')
			return false;
	return true;
}

static int num(const char *s, size_t n)
{
	int v = 0;
	for (size_t i = 0; i < n; i++)
		v = v * 10 + (s[i] - '0');
	return v;
}

static void date(const char *s)
{
	int64_t t = s3_time_parse(s);
	if (t == -1)
		return;
	/* YYYY-MM-DDTHH:MM:SS */
	PT_ASSERT(strlen(s) >= 19 && digits(s, 4) && s[4] == '-' &&
		  digits(s + 5, 2) && s[7] == '-' && digits(s + 8, 2) &&
		  s[10] == 'T' && digits(s + 11, 2) && s[13] == ':' &&
		  digits(s + 14, 2) && s[16] == ':' && digits(s + 17, 2));
	struct tm tm = { 0 };
	tm.tm_year = num(s, 4) - 1900;
	tm.tm_mon = num(s + 5, 2) - 1;
	tm.tm_mday = num(s + 8, 2);
	tm.tm_hour = num(s + 11, 2);
	tm.tm_min = num(s + 14, 2);
	tm.tm_sec = num(s + 17, 2);
	PT_ASSERT(tm.tm_mon >= 0 && tm.tm_mon <= 11 && tm.tm_mday >= 1 &&
		  tm.tm_mday <= 31 && tm.tm_hour <= 23 && tm.tm_min <= 59 &&
		  tm.tm_sec <= 60);
	PT_ASSERT(t == (int64_t)timegm(&tm));
	if (t >= 0) {
		char back[64];
		time_t tt = (time_t)t;
		struct tm g;
		gmtime_r(&tt, &g);
		strftime(back, sizeof(back), "%Y-%m-%dT%H:%M:%SZ", &g);
		PT_ASSERT(s3_time_parse(back) == t);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size == 0)
		return 0;
	char *s = malloc(size);
	memcpy(s, data + 1, size - 1);
	s[size - 1] = '\0';
	switch (data[0] % 3) {
	case 0:
		raw_answer(s, strlen(s));
		break;
	case 1:
		round_trip(s);
		break;
	default:
		date(s);
		break;
	}
	free(s);
	return 0;
}
