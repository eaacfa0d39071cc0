/*
 * cond.h — conditional requests (RFC 9110 §13) for downloads: entity-tag
 * comparison and the evaluation order of §13.2.2.
 *
 * The caller has a representation with a strong ETag (quoted, e.g.
 * "\"<sha256hex>\"") and a Last-Modified time, and the request's headers.
 * cond_evaluate() returns what to do before any Range processing.
 * Pure, thread-safe.
 */
#ifndef PT_COND_H
#define PT_COND_H

#include <stdbool.h>
#include <stdint.h>

struct cond_request {
	const char *method;            /* "GET", "HEAD", ... */
	const char *if_match;          /* header values or NULL */
	const char *if_none_match;
	const char *if_modified_since;
	const char *if_unmodified_since;
	const char *if_range;
};

enum cond_result {
	COND_PROCEED = 0,   /* 200/206 as usual, honour Range */
	COND_IGNORE_RANGE,  /* If-Range failed: full 200, ignore Range */
	COND_NOT_MODIFIED,  /* 304 */
	COND_PRECONDITION   /* 412 */
};

/* etag is the full quoted strong tag; last_modified in epoch seconds.
 * has_range tells whether a Range header is present (If-Range only
 * applies then). */
enum cond_result cond_evaluate(const struct cond_request *req,
			       const char *etag, int64_t last_modified,
			       bool has_range);

/* Does the comma-separated entity-tag list `list` ("*" allowed) contain a
 * match for `etag`?  weak selects weak comparison (§8.8.3.2). */
bool cond_etag_list_match(const char *list, const char *etag, bool weak);

#endif
