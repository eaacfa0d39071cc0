/*
 * thumb.c — the thumbnail's size and the record the thumbnail process
 * sends back (thumb.h).  Pure; the maker is thumbmake.c.
 */
#include "thumb.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "../util/pt.h"
#include "../util/banned.h"

bool thumb_fit(uint32_t w, uint32_t h, uint32_t max_w, uint32_t max_h,
	       uint32_t *ow, uint32_t *oh)
{
	*ow = *oh = 0;
	if (!w || !h || !max_w || !max_h)
		return false;
	uint64_t W = w, H = h;
	if (W > max_w) { /* width first: H × max_w ÷ W, rounded */
		H = (H * max_w + W / 2) / W;
		W = max_w;
	}
	if (H > max_h) {
		W = (W * max_h + H / 2) / H;
		H = max_h;
	}
	*ow = W ? (uint32_t)W : 1;
	*oh = H ? (uint32_t)H : 1;
	return true;
}

int thumb_head_format(uint32_t w, uint32_t h, size_t len, char *buf, size_t n)
{
	int k = snprintf(buf, n, "jpeg %u %u %zu\n", w, h, len);
	return k < 0 || (size_t)k >= n ? -1 : k;
}

/* a decimal number of 1..max, up to the separator sep */
static bool num(const char **p, const char *end, char sep, uint64_t max,
		uint64_t *out)
{
	uint64_t x = 0;
	const char *s = *p;
	if (s >= end || *s < '1' || *s > '9')
		return false; /* no sign, no leading zero, not empty */
	for (; s < end && *s >= '0' && *s <= '9'; s++) {
		x = x * 10 + (uint64_t)(*s - '0');
		if (x > max)
			return false;
	}
	if (s >= end || *s != sep)
		return false;
	*out = x;
	*p = s + 1;
	return true;
}

int thumb_head_parse(const char *buf, size_t n, uint32_t *w, uint32_t *h,
		     size_t *len, size_t *head)
{
	const char *nl = memchr(buf, '\n',
				n < THUMB_HEAD_MAX ? n : THUMB_HEAD_MAX);
	uint64_t W, H, L;
	if (!nl)
		return n < THUMB_HEAD_MAX ? -EAGAIN : PT_EBADREQ;
	const char *p = buf, *end = nl + 1;
	if ((size_t)(end - p) < 5 || memcmp(p, "jpeg ", 5) != 0)
		return PT_EBADREQ;
	p += 5;
	if (!num(&p, end, ' ', THUMB_MAX_W, &W) ||
	    !num(&p, end, ' ', THUMB_MAX_H, &H) ||
	    !num(&p, end, '\n', THUMB_OUT_MAX, &L) || p != end)
		return PT_EBADREQ;
	*w = (uint32_t)W;
	*h = (uint32_t)H;
	*len = (size_t)L;
	*head = (size_t)(end - buf);
	return 0;
}

bool thumb_jpeg_ok(const uint8_t *p, size_t n)
{
	return n >= 4 && p[0] == 0xff && p[1] == 0xd8 && p[2] == 0xff &&
	       p[n - 2] == 0xff && p[n - 1] == 0xd9;
}
