/*
 * fuzz_cond.c — libFuzzer target for cond_evaluate and
 * cond_etag_list_match.  Input: one flag byte (bit 0: a Range header is
 * present; bits 1–2: Last-Modified around Sun, 06 Nov 1994 08:49:37 GMT),
 * then newline-separated fields: method, If-Match, If-None-Match,
 * If-Modified-Since, If-Unmodified-Since, If-Range, our ETag (an empty
 * field is an absent header).  Checks the rules that must hold whatever
 * the headers say: 304 only for GET/HEAD, If-Range only acts on a GET with
 * a Range, 304 and 412 take precedence over If-Range, no conditional
 * header means proceed, and a strong match implies a weak one.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http/cond.h"
#include "util/pt.h"
#include "util/banned.h"

#define NFIELDS 7

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *buf, *f[NFIELDS] = { 0 }, *p;
	struct cond_request req, bare;
	const char *etag;
	bool has_range, get;
	int64_t lm;
	enum cond_result r, r0;

	if (size == 0)
		return 0;
	has_range = data[0] & 1;
	lm = INT64_C(784111777) + ((data[0] >> 1) & 3) - 1;
	buf = malloc(size);
	memcpy(buf, data + 1, size - 1);
	buf[size - 1] = '\0';
	p = buf;
	for (int i = 0; i < NFIELDS && p; i++) {
		char *nl = strchr(p, '\n');
		if (nl)
			*nl = '\0';
		f[i] = *p ? p : NULL;
		p = nl ? nl + 1 : NULL;
	}
	req = (struct cond_request){ f[0], f[1], f[2], f[3], f[4], f[5] };
	etag = f[6] ? f[6] : "\"abc\"";
	get = !req.method || strcmp(req.method, "GET") == 0;

	r = cond_evaluate(&req, etag, lm, has_range);
	PT_ASSERT(r == COND_PROCEED || r == COND_IGNORE_RANGE ||
		  r == COND_NOT_MODIFIED || r == COND_PRECONDITION);
	if (r == COND_NOT_MODIFIED)
		PT_ASSERT(get || strcmp(req.method, "HEAD") == 0);
	if (r == COND_IGNORE_RANGE)
		PT_ASSERT(get && has_range && req.if_range);
	PT_ASSERT(cond_evaluate(&req, etag, lm, false) != COND_IGNORE_RANGE);

	/* If-Range can only turn a PROCEED into IGNORE_RANGE (R23) */
	bare = req;
	bare.if_range = NULL;
	r0 = cond_evaluate(&bare, etag, lm, has_range);
	PT_ASSERT(r0 != COND_IGNORE_RANGE);
	PT_ASSERT(r == r0 || (r0 == COND_PROCEED && r == COND_IGNORE_RANGE));

	/* no precondition header at all: always proceed */
	bare.if_match = bare.if_none_match = NULL;
	bare.if_modified_since = bare.if_unmodified_since = NULL;
	PT_ASSERT(cond_evaluate(&bare, etag, lm, has_range) == COND_PROCEED);

	/* strong match implies weak match; a strong match needs a strong
	 * tag of ours (unless "*") */
	for (int i = 1; i <= 2; i++) {
		if (!f[i])
			continue;
		bool strong = cond_etag_list_match(f[i], etag, false);
		bool weak = cond_etag_list_match(f[i], etag, true);
		PT_ASSERT(!strong || weak);
		if (strong && strncmp(etag, "W/", 2) == 0)
			PT_ASSERT(strchr(f[i], '*'));
	}
	free(buf);
	return 0;
}
