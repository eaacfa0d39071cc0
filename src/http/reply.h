/*
 * reply.h — building and queueing responses.
 *
 * A response (struct resp) is plain data: a status given when it is
 * queued, headers, and one body source: bytes in memory, a range of a
 * file (sent with sendfile), or a stream of unknown or known length pulled
 * from a callback.  Every reply goes through reply_queue(), which adds the
 * headers every response carries, records the status for the log, and
 * hands the response to the engine (server.h's req_ops).  Errors are one
 * line, in the format the client asked for by Accept: text (default),
 * JSON {"error","status"[,"reason"]} or HTML.  All reply functions return
 * REQ_OK or REQ_CLOSE (server.h), which handlers return as is.
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
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "server.h"

/* What a body is made of. */
enum resp_mem {
	RESP_STATIC, /* lives longer than any response (a constant) */
	RESP_COPY,   /* copied now */
	RESP_FREE,   /* malloc'd; the response frees it */
};
/* A body of n bytes at data (NULL when n is 0). */
struct resp *resp_new(const void *data, size_t n, enum resp_mem mem);
/* Bytes [off, off + len) of fd, sent with sendfile(2); the response owns
 * fd and closes it. */
struct resp *resp_file(int fd, uint64_t off, uint64_t len);

/*
 * A body pulled from a callback: pull(cls, pos, buf, max) puts up to max
 * bytes of the body from offset pos into buf and returns how many (> 0),
 * or 0 after req_pause (server.h: it is called again after req_wake), or
 * RESP_PULL_END (a body of unknown size is over), or RESP_PULL_ERROR (the
 * connection is cut: the body can never be completed).  done(cls) runs
 * once when the response is freed, sent or not.  size is the body's
 * length, or RESP_SIZE_UNKNOWN (sent chunked).  block is the largest max
 * the engine asks for.
 */
typedef ssize_t (*resp_pull_fn)(void *cls, uint64_t pos, char *buf,
				size_t max);
#define RESP_PULL_END ((ssize_t)-1)
#define RESP_PULL_ERROR ((ssize_t)-2)
#define RESP_SIZE_UNKNOWN UINT64_MAX
struct resp *resp_stream(uint64_t size, size_t block, resp_pull_fn pull,
			 void *cls, void (*done)(void *cls));

/* Add a header (both strings are copied).  Headers go out in order. */
void resp_header(struct resp *resp, const char *name, const char *value);
/* The bytes its headers take on the wire ("Name: value" CRLF each). */
uint64_t resp_header_bytes(const struct resp *resp);
/* Free a response that is not queued, and release its body (free the
 * memory, close the file, run done). */
void resp_free(struct resp *resp);

/* The body of a response, for the engine (server.c) and tests. */
enum resp_kind { RESP_MEM, RESP_FILE, RESP_PULL };
struct resp_hdr {
	struct resp_hdr *next;
	char *value;
	char name[];
};
struct resp {
	enum resp_kind kind;
	struct resp_hdr *headers, **tail;
	uint64_t header_bytes;
	/* RESP_MEM */
	const void *data;
	size_t n;
	bool owned; /* free(data) with the response */
	/* RESP_FILE */
	int fd;
	uint64_t off, len;
	/* RESP_PULL */
	uint64_t size;
	size_t block;
	resp_pull_fn pull;
	void *cls;
	void (*done)(void *cls);
};

/* Add the common headers and hand resp to the engine; takes resp. */
req_res reply_queue(struct pt_req *r, int status, struct resp *resp);
req_res reply_text(struct pt_req *r, int status, const char *body);
req_res reply_html(struct pt_req *r, int status, const char *body, size_t n);
/* Steals obj.  obj NULL (a json_pack that failed) or a body jansson
 * cannot encode: a 500 with a fixed JSON body, and a log line. */
req_res reply_json(struct pt_req *r, int status, json_t *obj);
/* A JSON string of any bytes: s itself when it is valid UTF-8, else its
 * text_escape form ("\xff" for a stray byte).  Never NULL; "" for NULL. */
json_t *reply_jtext(const char *s);
req_res reply_empty(struct pt_req *r, int status);
/*
 * err is a pt status (or negative errno); the HTTP status comes from
 * pt_http_status().  The message is one line: "not found: no file 'x'".
 * reason (may be NULL) goes into the JSON as "reason".
 */
req_res reply_error(struct pt_req *r, int err, const char *reason,
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

/* The page a browser gets for an error, when set (the API layer sets it
 * at start: translated pages, src/api/pages.c): called by reply_error for
 * REPLY_HTML with the status and the message as made (any bytes: the
 * hook escapes them).  NULL: reply_error_body's small English page. */
typedef req_res (*reply_html_error_fn)(struct pt_req *r, int status,
				       const char *message);
extern reply_html_error_fn reply_html_error_hook;

#endif
