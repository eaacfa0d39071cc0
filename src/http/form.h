/*
 * form.h — multipart/form-data request bodies, streamed.
 *
 * A form is fed the body as it arrives (form_feed) and hands each part's
 * bytes to a callback as they come: a field's value or a file's content
 * may arrive in several calls, with off the position of data within the
 * part.  Nothing is buffered beyond one read; a file part of any size
 * costs the buffer given to form_new.
 */
#ifndef PT_FORM_H
#define PT_FORM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct pt_req;
struct form;

/* A piece of part `name`: filename is NULL for a plain field.  Return
 * false to stop (form_feed then fails). */
typedef bool (*form_part_fn)(void *cls, const char *name,
			     const char *filename, const char *data,
			     uint64_t off, size_t n);

/* A form for r's body (its Content-Type must be multipart/form-data with
 * a boundary), reading through a buffer of `buffer` bytes; NULL when the
 * Content-Type is not one.  Free it with form_free, also from a pool
 * cleanup. */
struct form *form_new(struct pt_req *r, size_t buffer, form_part_fn fn,
		      void *cls);
/* Feed n bytes of the body.  0, or -1 when the body is malformed or the
 * callback stopped. */
int form_feed(struct form *f, const char *data, size_t n);
/* Free; buffered data may still reach the callback. */
void form_free(struct form *f);

#endif
