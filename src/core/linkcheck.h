/*
 * linkcheck.h — the link checker's input (POST /api/v1/check), parsed.
 *
 * A link site sends the links it shows, as text (one a line) or as a JSON
 * array of strings, and gets one result per link, in input order.  The
 * parser is what keeps that promise: every non-blank text line and every
 * array element becomes exactly one item, whatever its bytes (not UTF-8,
 * NUL, control characters, not a link at all), so results[i] is always
 * about input item i.
 *
 *   text   items split on LF; a trailing CR and spaces/tabs at both ends
 *          are trimmed; lines left empty are skipped (no result)
 *   JSON   '[' first (after whitespace): a JSON array of strings, each
 *          one item (an empty string too); anything else in it is 400
 *
 * An item holds a link id when it is a bare id or a URL whose first path
 * segment is one (scheme://host/ID, /ID/name, /ID?query).  Pure apart
 * from pool memory, thread-safe.
 */
#ifndef PT_LINKCHECK_H
#define PT_LINKCHECK_H

#include <stdbool.h>
#include <stddef.h>

#include "ids.h"
#include "../util/pool.h"

/* Longest echo of an item that holds no id, in bytes with the NUL. */
#define LINKCHECK_ECHO_MAX 256

struct linkcheck_item {
	/* valid: the id (ID_LEN characters); else the item as given, made
	 * one line of valid UTF-8 (text_escape) and cut to
	 * LINKCHECK_ECHO_MAX - 1 bytes: fit to echo in JSON */
	const char *id;
	bool valid;
};

/* The link id in s[0..n) (spaces and tabs around ignored): a bare id, or
 * a URL or path whose first segment is one.  true with out filled. */
bool linkcheck_id(const char *s, size_t n, char out[ID_LEN + 1]);

/*
 * Parse body[0..n) (any bytes).  Returns 0 with *items (pool memory) and
 * *nitems; PT_EBADREQ for a body that starts like JSON and is not an
 * array of strings; PT_ETOOBIG for more than max items.
 */
int linkcheck_parse(struct pt_pool *pool, const char *body, size_t n,
		    size_t max, struct linkcheck_item **items, size_t *nitems);

#endif
