/*
 * form.c — multipart/form-data bodies through libmicrohttpd's post
 * processor (the engine's own, which reads the boundary from the
 * connection's Content-Type).
 */
#include "form.h"

#include <microhttpd.h>
#include <stdlib.h>

#include "server.h"
#include "../util/pt.h"
#include "../util/banned.h"

struct form {
	struct MHD_PostProcessor *pp;
	form_part_fn fn;
	void *cls;
};

static enum MHD_Result part_cb(void *cls, enum MHD_ValueKind kind,
			       const char *key, const char *filename,
			       const char *content_type,
			       const char *transfer_encoding, const char *data,
			       uint64_t off, size_t size)
{
	struct form *f = cls;
	(void)kind;
	(void)content_type;
	(void)transfer_encoding;
	return f->fn(f->cls, key, filename, data, off, size) ? MHD_YES
							     : MHD_NO;
}

struct form *form_new(struct pt_req *r, size_t buffer, form_part_fn fn,
		      void *cls)
{
	struct form *f = xcalloc(1, sizeof(*f));
	f->fn = fn;
	f->cls = cls;
	/* only a real connection has MHD's headers to read */
	if (r->conn)
		f->pp = MHD_create_post_processor(r->conn, buffer, part_cb, f);
	if (!f->pp) {
		free(f);
		return NULL;
	}
	return f;
}

int form_feed(struct form *f, const char *data, size_t n)
{
	return MHD_post_process(f->pp, data, n) == MHD_YES ? 0 : -1;
}

void form_free(struct form *f)
{
	if (!f)
		return;
	MHD_destroy_post_processor(f->pp);
	free(f);
}
