/*
 * s3_xml.c — the parsing of S3's answers for the S3 client (s3.h): the
 * text of an XML element (entities decoded), an element's raw span, each
 * element of a listing with its fields, and ISO 8601 dates.  S3's XML is
 * flat and machine-written, so a search for <tag>…</tag> is all it takes;
 * everything is bounded by the answer's length (fuzz_s3xml).  No state,
 * never blocks.
 */
#define _GNU_SOURCE
#include "s3.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../util/pt.h"
#include "../util/banned.h"

/* ---- answers ---- */

static void xml_decode(char *s)
{
	static const struct {
		const char *ent;
		char c;
	} ents[] = { { "&amp;", '&' }, { "&lt;", '<' }, { "&gt;", '>' },
		     { "&quot;", '"' }, { "&apos;", '\'' } };
	char *o = s;
	while (*s) {
		if (*s == '&') {
			size_t i = 0;
			while (i < PT_ARRAY_LEN(ents) &&
			       strncmp(s, ents[i].ent, strlen(ents[i].ent)))
				i++;
			if (i < PT_ARRAY_LEN(ents)) {
				*o++ = ents[i].c;
				s += strlen(ents[i].ent);
				continue;
			}
		}
		*o++ = *s++;
	}
	*o = '\0';
}

const char *s3_xml_span(const char *xml, const char *end, const char *tag,
			const char **pos, size_t *len)
{
	char open[64], close[64];
	const char *p = *pos ? *pos : xml, *a, *b;
	size_t on, cn;

	if (!end)
		end = p + strlen(p);
	if (p >= end)
		return NULL;
	on = (size_t)snprintf(open, sizeof(open), "<%s>", tag);
	cn = (size_t)snprintf(close, sizeof(close), "</%s>", tag);
	if (!(a = memmem(p, (size_t)(end - p), open, on)))
		return NULL;
	a += on;
	if (!(b = memmem(a, (size_t)(end - a), close, cn)))
		return NULL;
	*pos = b + cn;
	*len = (size_t)(b - a);
	return a;
}

char *s3_xml_next(const char *xml, const char *end, const char *tag,
		  const char **pos)
{
	size_t n;
	const char *a = s3_xml_span(xml, end, tag, pos, &n);
	if (!a)
		return NULL;
	char *v = xstrndup(a, n);
	xml_decode(v);
	return v;
}

int s3_xml_each(const char *xml, const char *elem,
		const char *const *fields, size_t nf,
		int (*cb)(char **vals, void *arg), void *arg)
{
	const char *pos = NULL, *c;
	char *vals[S3_XML_FIELDS];
	size_t n;
	int stop = 0;

	PT_ASSERT(nf <= S3_XML_FIELDS);
	while (!stop && xml && (c = s3_xml_span(xml, NULL, elem, &pos, &n))) {
		for (size_t i = 0; i < nf; i++) {
			const char *p = NULL;
			vals[i] = s3_xml_next(c, c + n, fields[i], &p);
		}
		stop = cb(vals, arg);
		for (size_t i = 0; i < nf; i++)
			free(vals[i]);
	}
	return stop;
}

static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
	/* Howard Hinnant's algorithm: no timegm, no TZ */
	y -= m <= 2;
	int64_t era = (y >= 0 ? y : y - 399) / 400;
	unsigned yoe = (unsigned)(y - era * 400);
	unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + (int64_t)doe - 719468;
}

/* n decimal digits at s, or -1 */
static int digits(const char *s, size_t n)
{
	int v = 0;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	return v;
}

int64_t s3_time_parse(const char *iso)
{
	/* YYYY-MM-DDTHH:MM:SS, digits only (sscanf's %u took signs and
	 * spaces), fields in range; the fraction and zone after are not
	 * read (S3 says .000Z) */
	int y, mo, d, h, mi, s;
	if (!iso || strnlen(iso, 19) < 19 || iso[4] != '-' || iso[7] != '-' ||
	    iso[10] != 'T' || iso[13] != ':' || iso[16] != ':')
		return -1;
	y = digits(iso, 4);
	mo = digits(iso + 5, 2);
	d = digits(iso + 8, 2);
	h = digits(iso + 11, 2);
	mi = digits(iso + 14, 2);
	s = digits(iso + 17, 2);
	if (y < 0 || mo < 1 || mo > 12 || d < 1 || d > 31 || h < 0 || h > 23 ||
	    mi < 0 || mi > 59 || s < 0 || s > 60)
		return -1;
	return days_from_civil(y, (unsigned)mo, (unsigned)d) * 86400 +
	       h * 3600 + mi * 60 + s;
}
