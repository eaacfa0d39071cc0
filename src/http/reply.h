/*
 * reply.h — building and queueing responses.
 *
 * Every reply goes through reply_queue(), which adds the headers every
 * response carries, records the status for the log, and hands the response
 * to MHD.  Errors are one line, in the format the client asked for by
 * Accept: text (default), JSON {"error","status"[,"reason"]} or HTML.
 * All functions return an MHD_Result-compatible int (MHD_YES/MHD_NO) that
 * handlers return as is.
 *
 * No byte a client sends can make a reply fail: an error's message and
 * reason are escaped (util/text.h) into one line of valid UTF-8 before
 * any encoder sees them, and cut to REPLY_MSG_MAX on a character
 * boundary; a JSON body that cannot be encoded (a handler that packed
 * invalid UTF-8, a NULL from json_pack) is answered 500 and logged, never
 * an abort.  Handlers put client or stored text into JSON with
 * reply_jtext, which cannot fail.
 */
#ifndef PT_REPLY_H
#define PT_REPLY_H

#include <jansson.h>

#include "server.h"

/* Take the response (it is destroyed here). */
int reply_queue(struct pt_req *r, int status, struct MHD_Response *resp);
int reply_text(struct pt_req *r, int status, const char *body);
int reply_html(struct pt_req *r, int status, const char *body, size_t n);
/* Steals obj.  obj NULL (a json_pack that failed) or a body jansson
 * cannot encode: a 500 with a fixed JSON body, and a log line. */
int reply_json(struct pt_req *r, int status, json_t *obj);
/* A JSON string of any bytes: s itself when it is valid UTF-8, else its
 * text_escape form ("\xff" for a stray byte).  Never NULL; "" for NULL. */
json_t *reply_jtext(const char *s);
int reply_empty(struct pt_req *r, int status);
/*
 * err is a pt status (or negative errno); the HTTP status comes from
 * pt_http_status().  The message is one line: "not found: no file 'x'".
 * reason (may be NULL) goes into the JSON as "reason".
 */
int reply_error(struct pt_req *r, int err, const char *reason,
		const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* Longest error message and reason kept, in bytes with the NUL. */
#define REPLY_MSG_MAX 512
#define REPLY_REASON_MAX 256

enum reply_format { REPLY_TEXT, REPLY_JSON, REPLY_HTML };
struct pt_buf;
/*
 * The body of an error reply in format f, appended to out: message and
 * reason (NULL: none) may be any bytes, they are escaped and cut first.
 * The text body is the message and "\n"; JSON is one line plus "\n";
 * HTML a small page.  Pure (reply_error's body, and the fuzz target's).
 * Returns 0, or PT_ETOOBIG past out's ceiling (64 KiB is plenty).
 */
int reply_error_body(struct pt_buf *out, enum reply_format f, int status,
		     const char *message, const char *reason);

/* Append text to out with &<>"' escaped for HTML; bytes that are not
 * valid UTF-8 and control characters other than TAB, CR and LF become
 * U+FFFD, so a page stays valid whatever it quotes. */
int html_escape(struct pt_buf *out, const char *s);

#endif
