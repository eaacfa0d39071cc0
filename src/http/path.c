/*
 * path.c — turns the raw request path into decoded segments for the
 * routing table, and escapes names back into URLs.  Decoding happens once,
 * here, after splitting: "%2F" inside a segment stays part of that
 * segment's data and can never create a new path level, and routes never
 * see an escape.  Anything ambiguous (bad escapes, NUL, "//", controls) is
 * refused rather than repaired, so two different raw paths can never reach
 * the same handler with different meanings.
 */
#include "path.h"

#include <string.h>

#include "../util/buf.h"
#include "../util/banned.h"

/*
 * RFC 3986 §3.3, as the origin-form of a request-target (RFC 9112 §3.2.1):
 *
 *   /abcDEF123456/r%C3%A9sum%C3%A9.pdf?dl=1
 *   ^seg 0        ^seg 1, decoded     ^query: not ours, cut off
 *
 *   path        = 1*( "/" segment )
 *   segment     = *pchar
 *   pct-encoded = "%" HEXDIG HEXDIG
 */

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c |= 0x20;
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

long path_unescape(const char *s, size_t n, char *out)
{
	size_t len = 0;

	for (size_t i = 0; i < n; i++) {
		if (s[i] != '%') {
			out[len++] = s[i];
			continue;
		}
		if (n - i < 3)
			return -1;
		int hi = hexval(s[i + 1]), lo = hexval(s[i + 2]);
		if (hi < 0 || lo < 0)
			return -1;
		out[len++] = (char)(hi << 4 | lo);
		i += 2;
	}
	out[len] = '\0';
	return (long)len;
}

static int split(struct pt_pool *pool, const char *raw, struct path *out)
{
	const char *p, *end;
	size_t len;

	if (!raw || raw[0] != '/')
		return PT_EBADREQ;

	/* the query string, when the caller left it on, is not path */
	end = strchr(raw, '?');
	len = end ? (size_t)(end - raw) : strlen(raw);
	if (len > PATH_MAX_LEN)
		return PT_EBADREQ;
	end = raw + len;

	/* raw controls and spaces cannot be in a valid request-target */
	for (p = raw; p < end; p++)
		if ((unsigned char)*p <= 0x20 || *p == 0x7f)
			return PT_EBADREQ;

	p = raw + 1;
	while (p < end) {
		const char *slash = memchr(p, '/', (size_t)(end - p));
		const char *segend = slash ? slash : end;
		size_t segn = (size_t)(segend - p);
		char *dec;
		long dn;

		if (segn == 0)
			return PT_EBADREQ; /* "/a//b", "//" */
		if (out->n == PATH_MAX_SEGS)
			return PT_EBADREQ;
		dec = pt_palloc(pool, segn + 1);
		dn = path_unescape(p, segn, dec);
		if (dn < 0 || memchr(dec, '\0', (size_t)dn))
			return PT_EBADREQ;
		out->seg[out->n++] = (pt_str){ dec, (size_t)dn };
		if (!slash)
			break;
		p = slash + 1;
		if (p == end)
			out->trailing_slash = true; /* "/x/" */
	}
	return 0;
}

int path_split(struct pt_pool *pool, const char *raw, struct path *out)
{
	int err;

	out->n = 0;
	out->trailing_slash = false;
	/* a rejected path yields no segments, not the ones before the error */
	if ((err = split(pool, raw, out))) {
		out->n = 0;
		out->trailing_slash = false;
	}
	return err;
}

/* RFC 3986 §2.3: unreserved = ALPHA / DIGIT / "-" / "." / "_" / "~" */
static bool is_unreserved(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
	       (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' ||
	       c == '~';
}

/*
 * Everything else is escaped, including sub-delims that RFC 3986 would
 * allow in a segment: a name is data, and "%2F", "%3F" and "%23" keep it
 * one segment whatever it contains.  "." and ".." cannot be made safe by
 * escaping (URL parsers treat "%2E" as a dot too); sanitised names never
 * are "." or "..".
 */
int path_escape(struct pt_buf *out, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t n0 = out->n;
	char chunk[96];
	size_t cn = 0;
	int err;

	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (cn + 3 > sizeof(chunk)) {
			if ((err = pt_buf_add(out, chunk, cn)))
				goto fail;
			cn = 0;
		}
		if (is_unreserved(*p)) {
			chunk[cn++] = (char)*p;
		} else {
			chunk[cn++] = '%';
			chunk[cn++] = hex[*p >> 4];
			chunk[cn++] = hex[*p & 15];
		}
	}
	if ((err = pt_buf_add(out, chunk, cn)))
		goto fail;
	return 0;
fail:
	/* leave the buffer as it was, like a single failed pt_buf_add */
	out->n = n0;
	if (out->p)
		out->p[n0] = '\0';
	return err;
}
