/*
 * tusparse.c — tus header parsers (see tusparse.h for the grammar).
 */
#include "tusparse.h"

#include <sodium.h>
#include <string.h>

#include "../util/pt.h"
#include "../util/banned.h"

static bool key_char(unsigned char c)
{
	return c > 0x20 && c < 0x7f && c != ',';
}

/* Standard base64 with padding, checked by hand: libsodium's decoder
 * (1.0.18) lets some bytes outside the alphabet through. */
static bool b64_valid(const char *s, size_t n)
{
	size_t pad = 0;
	if (n % 4)
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == '=') {
			pad++;
			continue;
		}
		if (pad || !((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
			     (c >= '0' && c <= '9') || c == '+' || c == '/'))
			return false;
	}
	return pad <= 2;
}

static int b64_decode(struct pt_pool *pool, const char *s, size_t n,
		      char **out, size_t *len)
{
	size_t cap = n / 4 * 3 + 3, got = 0;
	const char *end = NULL;
	char *buf = pt_palloc(pool, cap + 1);
	if (!b64_valid(s, n))
		return PT_EBADREQ; /* tus says padded base64 */
	if (n && sodium_base642bin((unsigned char *)buf, cap, s, n, NULL, &got,
				   &end, sodium_base64_VARIANT_ORIGINAL) != 0)
		return PT_EBADREQ;
	if (n && end != s + n)
		return PT_EBADREQ;
	buf[got] = '\0';
	*out = buf;
	*len = got;
	return 0;
}

int tus_metadata_parse(struct pt_pool *pool, const char *hdr,
		       struct tus_meta *out)
{
	const char *p = hdr;
	out->n = 0;
	while (*p == ' ')
		p++;
	if (!*p)
		return 0;
	for (;;) {
		const char *k = p;
		while (key_char((unsigned char)*p))
			p++;
		size_t klen = (size_t)(p - k);
		if (klen == 0 || out->n == TUS_META_MAX)
			return PT_EBADREQ;
		char *key = pt_pstrndup(pool, k, klen);
		for (size_t i = 0; i < out->n; i++)
			if (strcmp(out->kv[i].key, key) == 0)
				return PT_EBADREQ; /* keys MUST be unique */
		char *val = pt_pstrdup(pool, "");
		size_t vlen = 0;
		if (*p == ' ') {
			p++;
			const char *v = p;
			while (*p && *p != ',' && *p != ' ')
				p++;
			if (b64_decode(pool, v, (size_t)(p - v), &val, &vlen))
				return PT_EBADREQ;
		}
		out->kv[out->n].key = key;
		out->kv[out->n].value = val;
		out->kv[out->n].len = vlen;
		out->n++;
		while (*p == ' ')
			p++;
		if (!*p)
			return 0;
		if (*p != ',')
			return PT_EBADREQ;
		p++;
		while (*p == ' ')
			p++;
	}
}

const char *tus_metadata_get(const struct tus_meta *m, const char *key,
			     size_t *len)
{
	for (size_t i = 0; i < m->n; i++) {
		if (strcmp(m->kv[i].key, key) == 0) {
			if (len)
				*len = m->kv[i].len;
			return m->kv[i].value;
		}
	}
	return NULL;
}

char *tus_metadata_without(struct pt_pool *pool, const char *hdr,
			   const char *key)
{
	size_t klen = strlen(key), n = 0;
	char *out = pt_palloc(pool, strlen(hdr) + 1);

	for (const char *p = hdr; *p;) {
		const char *end = strchr(p, ',');
		size_t len = end ? (size_t)(end - p) : strlen(p);
		const char *k = p;
		size_t plen = len;
		while (plen && *k == ' ') { /* "a x, b y": spaces after commas */
			k++;
			plen--;
		}
		bool drop = plen >= klen && memcmp(k, key, klen) == 0 &&
			    (plen == klen || k[klen] == ' ');
		if (!drop && plen) {
			if (n)
				out[n++] = ',';
			memcpy(out + n, k, plen);
			n += plen;
		}
		p += len + (end ? 1 : 0);
	}
	out[n] = '\0';
	return out;
}

int tus_concat_parse(struct pt_pool *pool, const char *hdr, bool *partial,
		     char **uids, size_t *n)
{
	*n = 0;
	*partial = false;
	if (strcmp(hdr, "partial") == 0) {
		*partial = true;
		return 0;
	}
	if (strncmp(hdr, "final;", 6) != 0)
		return PT_EBADREQ;
	const char *p = hdr + 6;
	while (*p) {
		while (*p == ' ')
			p++;
		if (!*p)
			break;
		const char *u = p;
		while (*p && *p != ' ')
			p++;
		size_t ulen = (size_t)(p - u);
		/* space-separated, and URLs have no commas here: "a,b" is
		 * a malformed list, not one URL */
		for (size_t i = 0; i < ulen; i++)
			if (u[i] == ',' || (unsigned char)u[i] < 0x21 ||
			    u[i] == 0x7f)
				return PT_EBADREQ;
		/* the id is the last path segment; drop a query if any */
		const char *q = memchr(u, '?', ulen);
		if (q)
			ulen = (size_t)(q - u);
		while (ulen && u[ulen - 1] == '/')
			ulen--;
		const char *seg = u + ulen;
		while (seg > u && seg[-1] != '/')
			seg--;
		size_t slen = (size_t)(u + ulen - seg);
		if (slen == 0 || slen > 64)
			return PT_EBADREQ;
		if (*n == TUS_CONCAT_MAX)
			return PT_ELIMIT;
		for (size_t i = 0; i < slen; i++) {
			char c = seg[i];
			if (!((c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') ||
			      (c >= 'a' && c <= 'z')))
				return PT_EBADREQ;
		}
		uids[(*n)++] = pt_pstrndup(pool, seg, slen);
	}
	return *n ? 0 : PT_EBADREQ;
}

int tus_checksum_parse(const char *hdr, char algo[16], unsigned char *digest,
		       size_t *dlen)
{
	const char *sp = strchr(hdr, ' ');
	size_t alen, blen;
	const char *end = NULL;

	if (!sp)
		return PT_EBADREQ;
	alen = (size_t)(sp - hdr);
	if (alen == 0 || alen > 15)
		return PT_EBADREQ;
	for (size_t i = 0; i < alen; i++) {
		char c = hdr[i];
		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		      c == '-'))
			return PT_EBADREQ;
		algo[i] = c;
	}
	algo[alen] = '\0';
	sp++;
	blen = strlen(sp);
	if (blen == 0 || blen > 88 || !b64_valid(sp, blen))
		return PT_EBADREQ;
	if (sodium_base642bin(digest, 64, sp, blen, NULL, dlen, &end,
			      sodium_base64_VARIANT_ORIGINAL) != 0 ||
	    end != sp + blen)
		return PT_EBADREQ;
	return 0;
}
