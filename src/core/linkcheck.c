/*
 * linkcheck.c — parsing the link checker's input (see linkcheck.h).
 */
#define _GNU_SOURCE
#include "linkcheck.h"

#include <jansson.h>
#include <string.h>

#include "ids.h"
#include "../util/pt.h"
#include "../util/text.h"
#include "../util/banned.h"

static bool blank(char c)
{
	return c == ' ' || c == '\t' || c == '\r';
}

bool linkcheck_id(const char *s, size_t n, char out[ID_LEN + 1])
{
	while (n && blank(s[n - 1]))
		n--;
	while (n && blank(*s))
		s++, n--;
	if (!id_valid(s, n)) {
		/* scheme://host/ID[/name|?query], or a path /ID[...]: the
		 * first path segment */
		const char *e = s + n, *p = memmem(s, n, "://", 3);
		if (p)
			p = memchr(p + 3, '/', (size_t)(e - p - 3));
		else if (n && *s == '/')
			p = s;
		if (!p || e - p <= ID_LEN || !id_valid(p + 1, ID_LEN) ||
		    (p + 1 + ID_LEN != e && p[1 + ID_LEN] != '/' &&
		     p[1 + ID_LEN] != '?' && p[1 + ID_LEN] != '#'))
			return false;
		s = p + 1;
	}
	memcpy(out, s, ID_LEN);
	out[ID_LEN] = '\0';
	return true;
}

/* One item from s[0..n): its id, or its escaped echo. */
static void item(struct pt_pool *pool, const char *s, size_t n,
		 struct linkcheck_item *it)
{
	char id[ID_LEN + 1];
	if ((it->valid = linkcheck_id(s, n, id))) {
		it->id = pt_pstrdup(pool, id);
		return;
	}
	while (n && blank(s[n - 1]))
		n--;
	while (n && blank(*s))
		s++, n--;
	char *echo = pt_palloc(pool, LINKCHECK_ECHO_MAX);
	text_escape(echo, LINKCHECK_ECHO_MAX, s, n, 0);
	it->id = echo;
}

static int parse_json(struct pt_pool *pool, const char *body, size_t n,
		      size_t max, struct linkcheck_item **items,
		      size_t *nitems)
{
	json_t *arr = json_loadb(body, n, 0, NULL);
	int err = 0;

	if (!json_is_array(arr)) {
		err = PT_EBADREQ;
		goto done;
	}
	size_t k = json_array_size(arr);
	if (k > max) {
		err = PT_ETOOBIG;
		goto done;
	}
	struct linkcheck_item *out = pt_palloc(pool, (k ? k : 1) * sizeof(*out));
	for (size_t i = 0; i < k; i++) {
		json_t *v = json_array_get(arr, i);
		if (!json_is_string(v)) {
			err = PT_EBADREQ;
			goto done;
		}
		item(pool, json_string_value(v), json_string_length(v),
		     &out[i]);
	}
	*items = out;
	*nitems = k;
done:
	json_decref(arr);
	return err;
}

/* The lines of body[0..n) that are not blank: how many, and each made
 * an item into out[] when out is not NULL. */
static size_t text_items(struct pt_pool *pool, const char *body, size_t n,
			 struct linkcheck_item *out)
{
	size_t k = 0;

	for (size_t p = 0; p < n;) {
		const char *e = memchr(body + p, '\n', n - p);
		size_t len = e ? (size_t)(e - (body + p)) : n - p;
		size_t a = p, b = p + len;
		while (a < b && blank(body[a]))
			a++;
		if (a < b) {
			if (out)
				item(pool, body + a, b - a, &out[k]);
			k++;
		}
		p += len + 1;
	}
	return k;
}

int linkcheck_parse(struct pt_pool *pool, const char *body, size_t n,
		    size_t max, struct linkcheck_item **items, size_t *nitems)
{
	size_t i = 0;

	*items = NULL;
	*nitems = 0;
	if (!body)
		n = 0;
	while (i < n && (blank(body[i]) || body[i] == '\n'))
		i++;
	if (i < n && body[i] == '[')
		return parse_json(pool, body + i, n - i, max, items, nitems);

	/* text: count the items first, to allocate once */
	size_t cap = text_items(pool, body, n, NULL);
	if (cap > max)
		return PT_ETOOBIG;
	struct linkcheck_item *out = pt_palloc(pool, (cap ? cap : 1) *
							     sizeof(*out));
	*items = out;
	*nitems = text_items(pool, body, n, out);
	return 0;
}
