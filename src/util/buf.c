/*
 * buf.c — growable buffers with a maximum size.
 */
#include "buf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "banned.h"

void pt_buf_init(struct pt_buf *b, size_t max)
{
	b->p = NULL;
	b->n = b->cap = 0;
	b->max = max;
}

void pt_buf_release(struct pt_buf *b)
{
	free(b->p);
	pt_buf_init(b, b->max);
}

void pt_buf_reset(struct pt_buf *b)
{
	b->n = 0;
	if (b->p)
		b->p[0] = '\0';
}

char *pt_buf_detach(struct pt_buf *b, size_t *len)
{
	char *p = b->p ? b->p : xstrdup("");
	if (len)
		*len = b->n;
	pt_buf_init(b, b->max);
	return p;
}

static int grow(struct pt_buf *b, size_t extra)
{
	size_t need;
	if (extra > b->max || b->n > b->max - extra)
		return PT_ETOOBIG;
	need = b->n + extra + 1;
	if (need > b->cap) {
		size_t cap = b->cap ? b->cap : 64;
		while (cap < need)
			cap *= 2;
		b->p = xrealloc(b->p, cap);
		b->cap = cap;
	}
	return 0;
}

int pt_buf_add(struct pt_buf *b, const void *p, size_t n)
{
	int err = grow(b, n);
	if (err)
		return err;
	if (n)
		memcpy(b->p + b->n, p, n);
	b->n += n;
	b->p[b->n] = '\0';
	return 0;
}

int pt_buf_adds(struct pt_buf *b, const char *s)
{
	return pt_buf_add(b, s, strlen(s));
}

int pt_buf_addf(struct pt_buf *b, const char *fmt, ...)
{
	va_list ap;
	int n, err;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0)
		return PT_EINTERNAL;
	err = grow(b, (size_t)n);
	if (err)
		return err;
	va_start(ap, fmt);
	vsnprintf(b->p + b->n, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->n += (size_t)n;
	return 0;
}
