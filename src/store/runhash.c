/*
 * runhash.c — see runhash.h.  The SHA-256 is OpenSSL's low-level one (the
 * same assembly as EVP's, SHA-NI where the CPU has it): unlike an
 * EVP_MD_CTX, its state is plain numbers that can be written out and read
 * back.  Those functions are deprecated in OpenSSL 3 for new code that has
 * no such need; they are still part of its API.
 */
#define _GNU_SOURCE
#define OPENSSL_SUPPRESS_DEPRECATED
#include "runhash.h"

#include <inttypes.h>
#include <libdeflate.h>
#include <openssl/sha.h>
#include <stdio.h>
#include <string.h>

#include "../util/pt.h"
#include "../util/banned.h"

_Static_assert(sizeof(SHA_LONG) == sizeof(uint32_t), "SHA_LONG is 32 bits");
_Static_assert(SHA_LBLOCK == 16, "SHA-256 blocks are 16 words");

static void to_ctx(const struct runhash_sha *s, SHA256_CTX *c)
{
	memset(c, 0, sizeof(*c));
	memcpy(c->h, s->h, sizeof(c->h));
	c->Nl = s->nl;
	c->Nh = s->nh;
	memcpy(c->data, s->data, sizeof(c->data));
	c->num = s->num;
	c->md_len = s->md_len;
}

static void from_ctx(const SHA256_CTX *c, struct runhash_sha *s)
{
	memcpy(s->h, c->h, sizeof(s->h));
	s->nl = c->Nl;
	s->nh = c->Nh;
	memcpy(s->data, c->data, sizeof(s->data));
	s->num = c->num;
	s->md_len = c->md_len;
}

void runhash_init(struct runhash *h)
{
	SHA256_CTX c;

	SHA256_Init(&c);
	memset(h, 0, sizeof(*h));
	from_ctx(&c, &h->sha);
}

void runhash_update(struct runhash *h, const void *p, size_t n)
{
	SHA256_CTX c;

	to_ctx(&h->sha, &c);
	SHA256_Update(&c, p, n);
	from_ctx(&c, &h->sha);
	h->crc = libdeflate_crc32(h->crc, p, n);
	h->bytes += n;
}

void runhash_final(const struct runhash *h, unsigned char sha256[32],
		   uint32_t *crc)
{
	SHA256_CTX c;

	to_ctx(&h->sha, &c);
	SHA256_Final(sha256, &c);
	if (crc)
		*crc = h->crc;
}

/* The buffered bytes of a partial block as they sit in memory. */
static const unsigned char *data_bytes(const struct runhash_sha *s)
{
	return (const unsigned char *)s->data;
}

void runhash_save(const struct runhash *h, char out[RUNHASH_TEXT_MAX])
{
	const struct runhash_sha *s = &h->sha;
	int k = snprintf(out, RUNHASH_TEXT_MAX,
			 "r1 %" PRIx64 " %08" PRIx32
			 " %08x%08x%08x%08x%08x%08x%08x%08x %08x %08x %x ",
			 h->bytes, h->crc, s->h[0], s->h[1], s->h[2], s->h[3],
			 s->h[4], s->h[5], s->h[6], s->h[7], s->nl, s->nh,
			 s->num);
	for (unsigned i = 0; i < s->num && i < 64; i++)
		k += snprintf(out + k, (size_t)(RUNHASH_TEXT_MAX - k), "%02x",
			      data_bytes(s)[i]);
	(void)k;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* n lowercase hex digits at *p into *v; advances *p. */
static int hex_u64(const char **p, size_t n, uint64_t *v)
{
	*v = 0;
	for (size_t i = 0; i < n; i++) {
		int d = hexval((*p)[i]);
		if (d < 0)
			return PT_EBADREQ;
		*v = *v << 4 | (uint64_t)d;
	}
	*p += n;
	return 0;
}

/* One field: 1..max hex digits then sep. */
static int field(const char **p, size_t max, char sep, uint64_t *v)
{
	size_t n = 0;
	while (hexval((*p)[n]) >= 0)
		n++;
	if (n == 0 || n > max || (*p)[n] != sep)
		return PT_EBADREQ;
	if (hex_u64(p, n, v))
		return PT_EBADREQ;
	(*p)++;
	return 0;
}

int runhash_load(struct runhash *h, const char *text)
{
	struct runhash t;
	const char *p = text;
	uint64_t v, num, crc;

	if (!p || strncmp(p, "r1 ", 3) != 0)
		return PT_EBADREQ;
	p += 3;
	memset(&t, 0, sizeof(t));
	if (field(&p, 16, ' ', &t.bytes) || field(&p, 8, ' ', &crc))
		return PT_EBADREQ;
	t.crc = (uint32_t)crc;
	for (int i = 0; i < 8; i++) {
		if (hex_u64(&p, 8, &v))
			return PT_EBADREQ;
		t.sha.h[i] = (uint32_t)v;
	}
	if (*p++ != ' ' || field(&p, 8, ' ', &v))
		return PT_EBADREQ;
	t.sha.nl = (uint32_t)v;
	if (field(&p, 8, ' ', &v))
		return PT_EBADREQ;
	t.sha.nh = (uint32_t)v;
	if (field(&p, 2, ' ', &num) || num >= 64)
		return PT_EBADREQ;
	t.sha.num = (unsigned)num;
	for (unsigned i = 0; i < t.sha.num; i++) {
		if (hex_u64(&p, 2, &v))
			return PT_EBADREQ;
		((unsigned char *)t.sha.data)[i] = (unsigned char)v;
	}
	if (*p != '\0')
		return PT_EBADREQ;
	/* the bit count must agree with the bytes said, and the partial
	 * block with both */
	if (((uint64_t)t.sha.nh << 32 | t.sha.nl) != t.bytes * 8 ||
	    t.bytes % 64 != t.sha.num)
		return PT_EBADREQ;
	t.sha.md_len = SHA256_DIGEST_LENGTH;
	*h = t;
	return 0;
}
