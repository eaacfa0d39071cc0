/*
 * fuzz_path.c — libFuzzer target for path_split, path_unescape and
 * path_escape.  The input is a raw request path.  Checks that an accepted
 * path yields a bounded number of non-empty, NUL-terminated segments with
 * no NUL inside, that escaping those segments and splitting the result
 * gives the same segments back (the URLs we build route to what they
 * name), and that escape → unescape is the identity on any string.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http/path.h"
#include "util/buf.h"
#include "util/pool.h"
#include "util/pt.h"
#include "util/banned.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct pt_pool *pool = pt_pool_new();
	struct path p, q;
	struct pt_buf b;
	char *raw, *dec;
	long dn;
	int rc;

	raw = malloc(size + 1);
	memcpy(raw, data, size);
	raw[size] = '\0';

	/* unescape on the exact bytes: output is at most size + 1 */
	dec = malloc(size + 1);
	dn = path_unescape((const char *)data, size, dec);
	PT_ASSERT(dn >= -1 && dn <= (long)size);
	if (dn >= 0)
		PT_ASSERT(dec[dn] == '\0');
	free(dec);

	/* escape → unescape is the identity, and only unreserved or %XX */
	pt_buf_init(&b, 1 << 20);
	PT_ASSERT(path_escape(&b, raw) == 0);
	for (size_t i = 0; i < b.n; i++)
		PT_ASSERT(b.p[i] == '%' || strchr("-._~", b.p[i]) ||
			  (b.p[i] >= '0' && b.p[i] <= '9') ||
			  (b.p[i] >= 'A' && b.p[i] <= 'Z') ||
			  (b.p[i] >= 'a' && b.p[i] <= 'z'));
	dec = malloc(b.n + 1);
	dn = path_unescape(b.p ? b.p : "", b.n, dec);
	PT_ASSERT(dn == (long)strlen(raw) && memcmp(dec, raw, (size_t)dn) == 0);
	free(dec);
	pt_buf_release(&b);

	rc = path_split(pool, raw, &p);
	PT_ASSERT(rc == 0 || rc == PT_EBADREQ);
	if (rc != 0) {
		PT_ASSERT(p.n == 0);
		goto out;
	}
	PT_ASSERT(p.n <= PATH_MAX_SEGS);
	PT_ASSERT(!p.trailing_slash || p.n > 0);
	for (size_t i = 0; i < p.n; i++) {
		PT_ASSERT(p.seg[i].n > 0);
		PT_ASSERT(p.seg[i].p[p.seg[i].n] == '\0');
		PT_ASSERT(strlen(p.seg[i].p) == p.seg[i].n);
	}

	/* rebuild the path from its segments; it splits to the same */
	pt_buf_init(&b, 1 << 20);
	for (size_t i = 0; i < p.n; i++) {
		PT_ASSERT(pt_buf_adds(&b, "/") == 0);
		PT_ASSERT(path_escape(&b, p.seg[i].p) == 0);
	}
	PT_ASSERT(pt_buf_adds(&b, p.trailing_slash || p.n == 0 ? "/" : "") ==
		  0);
	if (b.n <= PATH_MAX_LEN) {
		PT_ASSERT(path_split(pool, b.p, &q) == 0);
		PT_ASSERT(q.n == p.n && q.trailing_slash == p.trailing_slash);
		for (size_t i = 0; i < p.n; i++)
			PT_ASSERT(q.seg[i].n == p.seg[i].n &&
				  memcmp(q.seg[i].p, p.seg[i].p,
					 p.seg[i].n) == 0);
	}
	pt_buf_release(&b);
out:
	free(raw);
	pt_pool_free(pool);
	return 0;
}
