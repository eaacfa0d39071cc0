/*
 * reply.h — building and queueing responses.
 *
 * Every reply goes through reply_queue(), which adds the headers every
 * response carries, records the status for the log, and hands the response
 * to MHD.  Errors are one line, in the format the client asked for by
 * Accept: text (default), JSON {"error","status"[,"reason"]} or HTML.
 * All functions return an MHD_Result-compatible int (MHD_YES/MHD_NO) that
 * handlers return as is.
 */
#ifndef PT_REPLY_H
#define PT_REPLY_H

#include <jansson.h>

#include "server.h"

/* Take the response (it is destroyed here). */
int reply_queue(struct pt_req *r, int status, struct MHD_Response *resp);
int reply_text(struct pt_req *r, int status, const char *body);
int reply_html(struct pt_req *r, int status, const char *body, size_t n);
/* Steals obj. */
int reply_json(struct pt_req *r, int status, json_t *obj);
int reply_empty(struct pt_req *r, int status);
/*
 * err is a pt status (or negative errno); the HTTP status comes from
 * pt_http_status().  The message is one line: "not found: no file 'x'".
 * reason (may be NULL) goes into the JSON as "reason".
 */
int reply_error(struct pt_req *r, int err, const char *reason,
		const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* Append text to out with &<>"' escaped for HTML. */
struct pt_buf;
int html_escape(struct pt_buf *out, const char *s);

#endif
