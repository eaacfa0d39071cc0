/*
 * form.c — multipart/form-data bodies (RFC 7578, RFC 2046 §5.1), parsed
 * as they stream in, whatever the engine.
 *
 * The body is read as if it began with CRLF, so every boundary, the first
 * included, is the delimiter "CRLF--BOUNDARY".  Bytes are copied through a
 * work buffer: what is left at the end of a piece (a part's headers not
 * complete yet, or bytes that may begin a delimiter) waits there for the
 * next piece, so a part's data goes to the callback as soon as it cannot
 * be the start of a delimiter.  A part's headers are at most FORM_HEAD_MAX
 * bytes; of them only Content-Disposition's name and filename are used.
 */
#define _GNU_SOURCE
#include "form.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "server.h"
#include "../util/pt.h"
#include "../util/banned.h"

#define FORM_BOUNDARY_MAX 70  /* RFC 2046 §5.1.1 */
#define FORM_HEAD_MAX 8192    /* one part's header lines */
#define FORM_NAME_MAX 1024    /* a name or a filename */

enum fstate { F_PREAMBLE, F_AFTER_DELIM, F_HEADERS, F_DATA, F_DONE, F_ERROR };

struct form {
	form_part_fn fn;
	void *cls;
	enum fstate state;
	char delim[FORM_BOUNDARY_MAX + 4]; /* CRLF "--" boundary */
	size_t dlen;
	/* work: bytes carried over from the last piece, then the new ones */
	char *work;
	size_t wcap, wlen;
	/* the part being read */
	char head[FORM_HEAD_MAX + 4];
	size_t hlen;
	char name[FORM_NAME_MAX + 1], filename[FORM_NAME_MAX + 1];
	bool has_name, has_filename;
	uint64_t off; /* bytes of its data handed over */
};

/* The boundary parameter of a multipart/form-data Content-Type, quoted or
 * not, into out.  false when there is none or it breaks RFC 2046. */
static bool boundary_of(const char *ct, char *out, size_t max)
{
	if (!ct || strncasecmp(ct, "multipart/form-data", 19) != 0)
		return false;
	for (const char *p = ct + 19; (p = strchr(p, ';'));) {
		p++;
		while (*p == ' ' || *p == '\t')
			p++;
		if (strncasecmp(p, "boundary=", 9) != 0)
			continue;
		p += 9;
		size_t n = 0;
		if (*p == '"') {
			for (p++; *p && *p != '"'; p++) {
				if (*p == '\\' && p[1])
					p++;
				if (n >= max)
					return false;
				out[n++] = *p;
			}
			if (*p != '"')
				return false;
		} else {
			for (; *p && *p != ';' && *p != ' ' && *p != '\t';
			     p++) {
				if (n >= max)
					return false;
				out[n++] = *p;
			}
		}
		out[n] = '\0';
		/* bchars: no control characters; not ending in a space */
		for (size_t i = 0; i < n; i++)
			if ((unsigned char)out[i] < 0x20 || out[i] == 0x7f)
				return false;
		return n > 0 && out[n - 1] != ' ';
	}
	return false;
}

struct form *form_new(struct pt_req *r, size_t buffer, form_part_fn fn,
		      void *cls)
{
	char b[FORM_BOUNDARY_MAX + 1];
	if (!boundary_of(req_header(r, "Content-Type"), b, FORM_BOUNDARY_MAX))
		return NULL;
	struct form *f = xcalloc(1, sizeof(*f));
	f->fn = fn;
	f->cls = cls;
	f->dlen = (size_t)snprintf(f->delim, sizeof(f->delim), "\r\n--%s", b);
	f->wcap = buffer > 4096 ? buffer : 4096;
	f->work = xmalloc(f->wcap);
	/* the body as if it began with CRLF: the first boundary is a
	 * delimiter like the others */
	memcpy(f->work, "\r\n", 2);
	f->wlen = 2;
	f->state = F_PREAMBLE;
	return f;
}

/* A quoted-string or token parameter value at p into out. */
static void param_value(const char *p, char *out, size_t max)
{
	size_t n = 0;
	if (*p == '"') {
		for (p++; *p && *p != '"'; p++) {
			if (*p == '\\' && (p[1] == '"' || p[1] == '\\'))
				p++;
			if (n < max)
				out[n++] = *p;
		}
	} else {
		for (; *p && *p != ';' && *p != ' ' && *p != '\t'; p++)
			if (n < max)
				out[n++] = *p;
	}
	out[n] = '\0';
}

/* Content-Disposition: form-data; name="..."; filename="..." */
static void disposition(struct form *f, const char *v)
{
	for (const char *p = v; (p = strchr(p, ';'));) {
		p++;
		while (*p == ' ' || *p == '\t')
			p++;
		if (strncasecmp(p, "name=", 5) == 0) {
			param_value(p + 5, f->name, FORM_NAME_MAX);
			f->has_name = true;
		} else if (strncasecmp(p, "filename=", 9) == 0) {
			param_value(p + 9, f->filename, FORM_NAME_MAX);
			f->has_filename = true;
		}
	}
}

/* The part's header lines are in f->head (NUL-terminated, without the
 * blank line): take its name and filename. */
static void part_headers(struct form *f)
{
	f->has_name = f->has_filename = false;
	f->name[0] = f->filename[0] = '\0';
	f->off = 0;
	for (char *line = f->head; line && *line;) {
		char *end = strstr(line, "\r\n");
		if (end)
			*end = '\0';
		if (strncasecmp(line, "Content-Disposition:", 20) == 0) {
			const char *v = line + 20;
			while (*v == ' ' || *v == '\t')
				v++;
			disposition(f, v);
		}
		line = end ? end + 2 : NULL;
	}
}

static bool emit(struct form *f, const char *p, size_t n)
{
	if (!f->has_name)
		return true; /* a part without a name is nobody's */
	bool ok = f->fn(f->cls, f->name, f->has_filename ? f->filename : NULL,
			p, f->off, n);
	f->off += n;
	return ok;
}

/* Parse f->work[0 .. wlen); returns the bytes consumed (the rest waits
 * for more), or -1 on a malformed body or a stop from the callback. */
static ssize_t parse(struct form *f)
{
	const char *w = f->work;
	size_t pos = 0, len = f->wlen;

	for (;;) {
		switch (f->state) {
		case F_PREAMBLE:
		case F_DATA: {
			const char *d = memmem(w + pos, len - pos, f->delim,
					       f->dlen);
			if (d) {
				size_t at = (size_t)(d - w);
				if (f->state == F_DATA) {
					/* an empty part is still a part */
					if ((at > pos || f->off == 0) &&
					    !emit(f, w + pos, at - pos))
						return -1;
				}
				pos = at + f->dlen;
				f->state = F_AFTER_DELIM;
				continue;
			}
			/* keep what may begin a delimiter */
			size_t keep = f->dlen - 1;
			size_t safe = len - pos > keep ? len - keep : pos;
			if (f->state == F_DATA && safe > pos &&
			    !emit(f, w + pos, safe - pos))
				return -1;
			return (ssize_t)safe;
		}
		case F_AFTER_DELIM: {
			/* "--": the end; else optional LWSP, then CRLF */
			if (pos + 2 > len)
				return (ssize_t)pos; /* two bytes tell */
			if (w[pos] == '-' && w[pos + 1] == '-') {
				f->state = F_DONE;
				return (ssize_t)len;
			}
			size_t p = pos;
			while (p < len && (w[p] == ' ' || w[p] == '\t'))
				p++;
			if (p + 2 > len)
				return p - pos > 256 ? -1 : (ssize_t)pos;
			if (w[p] != '\r' || w[p + 1] != '\n')
				return -1;
			pos = p + 2;
			f->hlen = 0;
			f->state = F_HEADERS;
			continue;
		}
		case F_HEADERS: {
			/* the headers end at a blank line; none at all is a
			 * blank line at once */
			if (len - pos >= 2 && f->hlen == 0 && w[pos] == '\r' &&
			    w[pos + 1] == '\n') {
				f->head[0] = '\0';
				pos += 2;
				part_headers(f);
				f->state = F_DATA;
				continue;
			}
			const char *e = memmem(w + pos, len - pos, "\r\n\r\n", 4);
			size_t n = e ? (size_t)(e - (w + pos)) + 2 : len - pos;
			if (f->hlen + n > FORM_HEAD_MAX)
				return -1;
			if (!e) {
				/* wait for the rest; at most 3 bytes of the
				 * blank line may be here already */
				size_t take = n > 3 ? n - 3 : 0;
				memcpy(f->head + f->hlen, w + pos, take);
				f->hlen += take;
				return (ssize_t)(pos + take);
			}
			memcpy(f->head + f->hlen, w + pos, n);
			f->hlen += n;
			f->head[f->hlen] = '\0';
			pos += n + 2;
			part_headers(f);
			f->state = F_DATA;
			continue;
		}
		case F_DONE:
			return (ssize_t)len; /* the epilogue is dropped */
		case F_ERROR:
			return -1;
		}
	}
}

int form_feed(struct form *f, const char *data, size_t n)
{
	while (n || f->wlen) {
		size_t room = f->wcap - f->wlen;
		size_t take = n < room ? n : room;
		memcpy(f->work + f->wlen, data, take);
		f->wlen += take;
		data += take;
		n -= take;
		ssize_t used = parse(f);
		if (used < 0) {
			f->state = F_ERROR;
			return -1;
		}
		memmove(f->work, f->work + used, f->wlen - (size_t)used);
		f->wlen -= (size_t)used;
		if (!n)
			break;
		if (used == 0 && f->wlen == f->wcap)
			return -1; /* cannot happen: kept bytes are few */
	}
	return 0;
}

void form_free(struct form *f)
{
	if (!f)
		return;
	free(f->work);
	free(f);
}
