/*
 * blob_s3_read.c — readers of the s3 blob backend, and stat.  No local
 * fd: pread() serves sequential reads from one streaming GET (a download
 * is one or two GETs), asks for exactly the bytes of a read at an
 * unexpected offset, and reopens a broken stream once (the notes on
 * reading in blob_s3.c).
 */
#define _GNU_SOURCE
#include "blob_s3_int.h"

#include <errno.h>
#include <stdlib.h>

#include "../util/pt.h"
#include "../util/banned.h"

struct s3_reader {
	struct s3_store *st;
	char key[KEY_MAX];
	uint64_t size;
	struct s3_stream *stream;
	uint64_t pos;  /* where the open stream is */
	uint64_t end;  /* where it stops (UINT64_MAX: object end) */
	uint64_t next; /* where the last read ended */
};

/* ---- readers ---- */

int blob_s3_reader_open(struct blob_store *s, const char *hex, void **state,
			uint64_t *size)
{
	struct s3_reader *r = xcalloc(1, sizeof(*r));
	int err;

	r->st = s->impl;
	blob_s3_key(r->st, hex, r->key);
	if ((err = blob_s3_obj_head(r->st, r->key, &r->size))) {
		free(r);
		return err;
	}
	r->next = UINT64_MAX;
	*state = r;
	*size = r->size;
	return 0;
}

int blob_s3_reader_fd(void *state)
{
	return -1;
}

ssize_t blob_s3_reader_pread(void *state, void *p, size_t n, uint64_t off)
{
	struct s3_reader *r = state;
	bool retried = false;

	if (off >= r->size || n == 0)
		return 0;
	if (n > r->size - off)
		n = (size_t)(r->size - off);
	for (;;) {
		ssize_t k;
		int err;

		if (!r->stream || r->pos != off) {
			s3_stream_close(r->stream);
			r->stream = NULL;
			/* sequential: stream to the end; else just this */
			r->end = off == r->next ? UINT64_MAX : off + n;
			if ((err = s3_stream_open(r->st->s3, r->key, off,
						  r->end, &r->stream))) {
				if (retried || err == -ENOENT)
					return err;
				retried = true;
				continue;
			}
			r->pos = off;
		}
		k = s3_stream_read(r->stream, p, n);
		if (k > 0) {
			r->pos += (uint64_t)k;
			r->next = r->pos;
			return k;
		}
		s3_stream_close(r->stream);
		r->stream = NULL;
		if (k == 0 && r->end != UINT64_MAX && off >= r->end) {
			r->next = off; /* window done: go on to the end */
			continue;
		}
		if (retried)
			/* k == 0: shorter than HEAD said */
			return k < 0 ? k : PT_ECORRUPT;
		retried = true;
		r->next = off;
	}
}

void blob_s3_reader_close(void *state)
{
	struct s3_reader *r = state;
	s3_stream_close(r->stream);
	free(r);
}

int blob_s3_stat(struct blob_store *s, const char *hex, uint64_t *size)
{
	char key[KEY_MAX];
	blob_s3_key(s->impl, hex, key);
	return blob_s3_obj_head(s->impl, key, size);
}
