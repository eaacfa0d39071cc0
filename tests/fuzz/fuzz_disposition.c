/*
 * fuzz_disposition.c — libFuzzer target for disp_sanitize_name, disp_build
 * and disp_type_is_active.  The first byte picks the disposition type and
 * the output size, the rest is the client's file name.  Checks that a
 * sanitised name is bounded, valid UTF-8 without controls, separators or
 * dangling dots, and stable when sanitised again; and that the header value
 * parses back: a quoted filename with no CR, LF, NUL, '"', '\' or "%XX",
 * then optionally filename* made only of attr-chars and %XX that decodes to
 * exactly the sanitised name.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http/disposition.h"
#include "util/buf.h"
#include "util/pt.h"
#include "util/banned.h"

static bool is_hex(char c, bool upper_only)
{
	return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'F') ||
	       (!upper_only && c >= 'a' && c <= 'f');
}

static int hexval(char c)
{
	return c <= '9' ? c - '0' : c - 'A' + 10;
}

static bool is_attr_char(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
	       (c >= '0' && c <= '9') ||
	       (c != '\0' && strchr("!#$&+-.^_`|~", c) != NULL);
}

/* well-formed UTF-8 with no C0/C1 control and no DEL */
static void check_utf8(const unsigned char *s, size_t n)
{
	for (size_t i = 0; i < n;) {
		unsigned c = s[i], len, cp;
		if (c < 0x80)
			len = 1, cp = c;
		else if (c >= 0xc2 && c <= 0xdf)
			len = 2, cp = c & 0x1f;
		else if (c >= 0xe0 && c <= 0xef)
			len = 3, cp = c & 0x0f;
		else if (c >= 0xf0 && c <= 0xf4)
			len = 4, cp = c & 0x07;
		else
			PT_ASSERT(!"bad lead byte");
		PT_ASSERT(i + len <= n);
		for (unsigned k = 1; k < len; k++) {
			PT_ASSERT((s[i + k] & 0xc0) == 0x80);
			cp = cp << 6 | (s[i + k] & 0x3f);
		}
		PT_ASSERT(len == 1 || cp >= (len == 2   ? 0x80u
					     : len == 3 ? 0x800u
							: 0x10000u));
		PT_ASSERT(cp <= 0x10ffff && (cp < 0xd800 || cp > 0xdfff));
		PT_ASSERT(cp >= 0x20 && (cp < 0x7f || cp > 0x9f));
		i += len;
	}
}

static void check_sanitized(const char *out, size_t len, size_t outsz)
{
	PT_ASSERT(len < outsz && len <= 255);
	PT_ASSERT(strlen(out) == len);
	PT_ASSERT(!memchr(out, '/', len) && !memchr(out, '\\', len));
	check_utf8((const unsigned char *)out, len);
	if (outsz >= 2)
		PT_ASSERT(len >= 1);
	if (len) {
		PT_ASSERT(out[0] != ' ' && out[0] != '.');
		PT_ASSERT(out[len - 1] != ' ' && out[len - 1] != '.');
	}
}

static void check_header(const char *v, size_t vn, bool attachment,
			 const char *clean, size_t cn)
{
	const char *pre = attachment ? "attachment; filename=\""
				     : "inline; filename=\"";
	static const char star[] = "; filename*=UTF-8''";
	const char *p = v + strlen(pre), *fb, *end = v + vn;
	size_t fn;
	char dec[256];
	size_t dn = 0;

	PT_ASSERT(strlen(v) == vn); /* no NUL inside */
	PT_ASSERT(strncmp(v, pre, strlen(pre)) == 0);
	fb = p;
	while (p < end && *p != '"') {
		/* printable ASCII only: no CR, LF, controls, '\' */
		PT_ASSERT(*p >= 0x20 && *p < 0x7f && *p != '\\');
		if (*p == '%' && p + 2 < end)
			PT_ASSERT(!is_hex(p[1], false) ||
				  !is_hex(p[2], false));
		p++;
	}
	PT_ASSERT(p < end && *p == '"');
	fn = (size_t)(p - fb);
	p++;
	if (p == end) {
		/* no filename*: the fallback is the name itself */
		PT_ASSERT(fn == cn && memcmp(fb, clean, cn) == 0);
		return;
	}
	PT_ASSERT((size_t)(end - p) >= sizeof(star) - 1);
	PT_ASSERT(memcmp(p, star, sizeof(star) - 1) == 0);
	PT_ASSERT(!(fn == cn && memcmp(fb, clean, cn) == 0));
	for (p += sizeof(star) - 1; p < end; p++) {
		PT_ASSERT(dn < sizeof(dec));
		if (*p == '%') {
			PT_ASSERT(p + 2 < end);
			PT_ASSERT(is_hex(p[1], true) && is_hex(p[2], true));
			dec[dn++] = (char)(hexval(p[1]) << 4 | hexval(p[2]));
			p += 2;
		} else {
			PT_ASSERT(is_attr_char((unsigned char)*p));
			dec[dn++] = *p;
		}
	}
	PT_ASSERT(dn == cn && memcmp(dec, clean, cn) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	bool attachment;
	size_t outsz, len, cn;
	char *out, *name, clean[256], again[256];
	struct pt_buf b;

	if (size == 0)
		return 0;
	attachment = data[0] & 1;
	outsz = data[0] >> 1;
	if (outsz == 0 || outsz > 100)
		outsz = 256;
	data++;
	size--;

	/* exactly outsz bytes, so ASan sees any write past the end */
	out = malloc(outsz);
	len = disp_sanitize_name((const char *)data, size, out, outsz);
	check_sanitized(out, len, outsz);
	if (len > 0) { /* "" (a 1-byte buffer) would become "file" */
		PT_ASSERT(disp_sanitize_name(out, len, again, sizeof(again)) ==
			  len);
		PT_ASSERT(memcmp(again, out, len + 1) == 0);
	}
	free(out);

	name = malloc(size + 1);
	memcpy(name, data, size);
	name[size] = '\0';
	cn = disp_sanitize_name(name, strlen(name), clean, sizeof(clean));
	check_sanitized(clean, cn, sizeof(clean));

	pt_buf_init(&b, 4096);
	PT_ASSERT(disp_build(&b, name, attachment) == 0);
	check_header(b.p, b.n, attachment, clean, cn);
	pt_buf_release(&b);

	(void)disp_type_is_active(name);
	free(name);
	return 0;
}
