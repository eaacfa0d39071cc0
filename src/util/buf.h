/*
 * buf.h — a growable byte buffer with a ceiling (after curl's dynbuf).
 *
 * The buffer is always NUL-terminated after its n bytes, so text built in it
 * can be passed to C string functions.  Appending past `max` fails with
 * PT_ETOOBIG and leaves the contents as they were; memory never runs out
 * (x* policy).  A zeroed struct with max set by pt_buf_init is empty.
 */
#ifndef PT_BUF_H
#define PT_BUF_H

#include <stddef.h>

#include "pt.h"

struct pt_buf {
	char *p;
	size_t n, cap, max;
};

void pt_buf_init(struct pt_buf *b, size_t max);
void pt_buf_release(struct pt_buf *b);
void pt_buf_reset(struct pt_buf *b);
/* Take the bytes (caller frees); the buffer is empty afterwards. */
char *pt_buf_detach(struct pt_buf *b, size_t *len);
/* 0, or PT_ETOOBIG when n would exceed max. */
int pt_buf_add(struct pt_buf *b, const void *p, size_t n);
int pt_buf_adds(struct pt_buf *b, const char *s);
int pt_buf_addf(struct pt_buf *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

#endif
