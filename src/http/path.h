/*
 * path.h — splitting and decoding request paths for the routing table.
 *
 *   /abcDEF123456/r%C3%A9sum%C3%A9.pdf  →  ["abcDEF123456", "résumé.pdf"]
 *
 * The path (without query string) is split at '/' into at most PATH_MAX_SEGS
 * segments, each percent-decoded into pool memory.  Rejected (PT_EBADREQ):
 * a path not starting with '/', bad percent escapes, a decoded NUL, more
 * segments than the maximum, empty segments other than a trailing one
 * ("/a//b"), and a total longer than PATH_MAX_LEN.  "/" yields zero segments;
 * "/x/" yields ["x"] with trailing_slash set.  '.' and '..' segments are
 * kept as data (routes treat them as names, never as file system paths).
 */
#ifndef PT_PATH_H
#define PT_PATH_H

#include <stdbool.h>
#include <stddef.h>

#include "../util/pool.h"
#include "../util/pt.h"

#define PATH_MAX_SEGS 8
#define PATH_MAX_LEN 8192

struct path {
	size_t n;
	bool trailing_slash;
	pt_str seg[PATH_MAX_SEGS]; /* decoded; each also NUL-terminated */
};

int path_split(struct pt_pool *pool, const char *raw, struct path *out);

/* Percent-decode s[0..n) into out (at least n+1 bytes, NUL-terminated).
 * Returns the decoded length, or -1 on a bad escape.  '+' stays '+'. */
long path_unescape(const char *s, size_t n, char *out);

/* Append s percent-encoded for use as one path segment (RFC 3986
 * unreserved kept) to out.  Returns 0 or PT_ETOOBIG. */
struct pt_buf;
int path_escape(struct pt_buf *out, const char *s);

#endif
