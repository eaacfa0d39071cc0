/*
 * h1.h — the strict HTTP/1.1 request parser (RFC 9112, RFC 9110): request
 * heads and chunked bodies.  Pure code: no I/O, no allocation, no global
 * state, thread-safe; the caller owns every buffer.
 *
 * Results are spans (offset, length) into the caller's buffer, never
 * pointers and never copies, so the caller may move or grow its buffer
 * between calls as long as the bytes already passed keep their offsets.
 *
 * Request head
 * ------------
 *
 *   request   = *( CRLF ) request-line *( field-line CRLF ) CRLF
 *   request-line = method SP request-target SP HTTP-version CRLF
 *   field-line   = field-name ":" OWS field-value OWS
 *
 * h1_request_parse() is fed the buffer as it grows (any split, one byte at a
 * time included) and answers H1_AGAIN (need more bytes), H1_DONE (the head
 * is r->head_len bytes; the body or the next pipelined request starts
 * there) or H1_ERROR (r->status and r->reason; the connection must be
 * closed after the reply).  It works line by line: every line is checked
 * once, when its LF arrives, and a head that is whole in the first buffer
 * is parsed in one pass (memchr per line, one table lookup per byte).  The
 * verdict depends only on the bytes, not on how they were split: the fuzz
 * target (tests/fuzz/fuzz_h1.c) compares a one-shot parse with a
 * byte-by-byte one.
 *
 * What is refused (the connection is closed after the reply):
 *
 *   400  anything malformed.  Lines end in CRLF only: a bare LF or a bare
 *        CR anywhere in the head is refused (RFC 9112 §2.2 lets a recipient
 *        accept a bare LF; a strict server does not, so a proxy in front
 *        that reads lines differently cannot smuggle a request past us).
 *        Empty lines (CRLF) before the request line are skipped (§2.2);
 *        they count against max_head.  The request line is exactly three
 *        parts separated by one SP each.  The method is a token.  The
 *        target is origin-form ("/path?query"), absolute-form
 *        ("http://authority/path?query", scheme http or https in any
 *        case, no userinfo; the authority becomes the host, §3.2.2) or
 *        asterisk-form ("*", OPTIONS only); authority-form (CONNECT) is
 *        refused.  Target bytes are VCHAR or obs-text (0x80-0xFF), never
 *        '#'; percent-escapes are left to path.c.  The version is
 *        "HTTP/" DIGIT "." DIGIT (case-sensitive).
 *        A field name is a non-empty token followed at once by ':'
 *        (no whitespace before the colon, §5.1); a line that starts with
 *        SP or HTAB (obs-fold, §5.2) is refused; field values hold VCHAR,
 *        obs-text, SP and HTAB only (no NUL, CR or other CTL, no DEL).
 *        Content-Length: 1*DIGIT up to 2^63 - 1, no sign, no spaces
 *        inside; repeats (extra lines or a comma list, RFC 9110 §8.6)
 *        are merged when every value is the same number, refused
 *        otherwise.  Content-Length together with Transfer-Encoding
 *        (§6.1: we are not a proxy).  Transfer-Encoding whose final coding
 *        is not chunked, chunked listed twice, an empty list, or any
 *        Transfer-Encoding in an HTTP/1.0 request (§6.1).  In HTTP/1.1 a
 *        missing Host; in any version more than one Host line, or a Host
 *        value that is not uri-host [ ":" port ] (§3.2).
 *   414  the request line does not end within max_head bytes.
 *   431  the head does not end within max_head bytes, or has more than
 *        max_headers field lines.
 *   501  Transfer-Encoding with a coding other than chunked (when chunked
 *        is final and once, so the framing itself is sound; §6.1).
 *   505  a major version other than 1.  HTTP/1.2..1.9 are read as 1.1
 *        (RFC 9110 §6.2).
 *
 * The reason strings are short static English phrases for the reply body
 * ("whitespace before ':' in a header name").
 *
 * Keep-alive: HTTP/1.1 unless "Connection: close"; HTTP/1.0 only with
 * "Connection: keep-alive" (and no close).  Expect: 100-continue sets
 * expect_continue (ignored in HTTP/1.0, RFC 9110 §10.1.1).  A request with
 * neither Content-Length nor Transfer-Encoding has no body (§6.3).
 *
 * Chunked body
 * ------------
 *
 *   chunked-body = *chunk last-chunk trailer-section CRLF
 *   chunk        = chunk-size [ chunk-ext ] CRLF chunk-data CRLF
 *   chunk-ext    = *( BWS ";" BWS ext-name [ BWS "=" BWS ext-val ] )
 *   last-chunk   = 1*("0") [ chunk-ext ] CRLF
 *
 * h1_chunked_next() yields the data of the body as slices of the caller's
 * buffer (no copy): the caller writes each slice where it goes and calls
 * again with the bytes after *used.  Chunk sizes are hex with an overflow
 * check (at most 2^63 - 1 per chunk; the caller caps the total); chunk
 * extensions are skipped, but the whole size line (digits, extensions,
 * CRLF) must fit in max_line bytes, and may hold no CTL but HTAB.  Each
 * chunk's data must be followed by exactly CRLF.  Trailer fields follow
 * the head's field rules (tus sends Upload-Checksum there) and are exposed
 * as spans; Content-Length, Transfer-Encoding and Host are refused in a
 * trailer.  Errors: 400 malformed, 431 trailer section over max_trailer
 * bytes or max_trailers fields.
 *
 * Use, on one connection (errors: reply r.status with r.reason, close):
 *
 *   h1_request_init(&r, slots, H1_HEADERS_DEFAULT, H1_HEAD_DEFAULT);
 *   while ((rc = h1_request_parse(&r, in, in_len)) == H1_AGAIN)
 *           in_len += read(fd, in + in_len, cap - in_len);
 *   body = in + r.head_len;          (route, then read the body:)
 *   H1_BODY_FIXED: the next r.content_length bytes;
 *   H1_BODY_CHUNKED: h1_chunked_init(&c, tslots, ...); then
 *           rc = h1_chunked_next(&c, body, avail, &used, &d);
 *           H1_DATA: write body + d.off, d.len; body += used;
 *           H1_AGAIN: body += used; keep body[0 .. avail - used), read;
 *           H1_DONE: trailers in tslots over body; body += used;
 *   the next pipelined request starts at body; keep-alive if r.keep_alive.
 */
#ifndef PT_H1_H
#define PT_H1_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A piece of the caller's buffer: buf + off, len bytes. */
struct h1_span {
	uint32_t off, len;
};

struct h1_header {
	struct h1_span name;  /* a token, case as sent */
	struct h1_span value; /* OWS trimmed on both sides; may be empty */
};

enum h1_result {
	H1_AGAIN = 0, /* need more bytes: call again with the grown buffer */
	H1_DONE,      /* complete: see head_len / *used */
	H1_DATA,      /* (chunked only) a slice of body data */
	H1_ERROR      /* status and reason say why; close after replying */
};

enum h1_body {
	H1_BODY_NONE = 0, /* no Content-Length, no Transfer-Encoding */
	H1_BODY_FIXED,	  /* content_length bytes (may be 0) */
	H1_BODY_CHUNKED	  /* decode with h1_chunked_next() */
};

/*
 * Suggested limits for the server (not used by this module): a head of
 * 32 KiB (libmicrohttpd's 64 KiB per connection in server.c leaves about
 * that for the head today; nginx allows 4 lines of 8 KiB), 100 fields
 * (Apache's LimitRequestFields), a chunk-size line of 4 KiB, extensions
 * included, and a trailer section of 8 KiB in at most 16 fields.
 */
#define H1_HEAD_DEFAULT (32u * 1024)
#define H1_HEADERS_DEFAULT 100u
#define H1_CHUNK_LINE_DEFAULT 4096u
#define H1_TRAILER_DEFAULT (8u * 1024)
#define H1_TRAILERS_DEFAULT 16u

/* The largest head max_head may allow (spans are 32-bit). */
#define H1_MAX_HEAD_LIMIT (1u << 30)

struct h1_request {
	/* --- set by h1_request_init(), read-only afterwards --- */
	struct h1_header *headers; /* the caller's array, max_headers long */
	size_t max_headers;	   /* more field lines: 431 */
	size_t max_head;	   /* more head bytes: 414 or 431 */

	/* --- results, valid after H1_DONE --- */
	struct h1_span method; /* token, case-sensitive (RFC 9110 §9.1) */
	struct h1_span target; /* the request-target as sent */
	struct h1_span path;   /* origin-form path; len 0 means "/" (only
				  * an absolute-form target without a path) */
	struct h1_span query;  /* after '?', without it (has_query) */
	struct h1_span host;   /* absolute-form authority, else the Host
				  * value (may be empty); see has_host */
	unsigned version;      /* 10 or 11 */
	size_t nheaders;       /* headers[0 .. nheaders - 1] */
	size_t head_len;       /* bytes of the head, CRLFCRLF included */
	enum h1_body body;
	uint64_t content_length; /* with H1_BODY_FIXED */
	bool keep_alive;
	bool expect_continue; /* Expect: 100-continue (HTTP/1.1) */
	bool has_query;
	bool has_host;	    /* a Host line or an absolute-form target */
	bool absolute_form; /* target was http(s)://authority... */
	bool asterisk_form; /* target was "*" (OPTIONS) */

	/* --- after H1_ERROR --- */
	int status;	    /* 400, 414, 431, 501 or 505 */
	const char *reason; /* static, one short line */

	/* --- private: parse state --- */
	unsigned state;
	size_t line; /* start of the current line */
	size_t scan; /* bytes already searched for LF */
	unsigned flags;
	unsigned te_codings, te_chunked;
	bool te_last_chunked, te_unknown;
};

/*
 * Prepare r for a new request: headers is an array of max_headers entries
 * that the results will point into; max_head bounds the whole head
 * (leading empty lines, request line, fields, final CRLF) and is clamped
 * to H1_MAX_HEAD_LIMIT.  Call again for each pipelined request.
 */
void h1_request_init(struct h1_request *r, struct h1_header *headers,
		     size_t max_headers, size_t max_head);

/*
 * Parse the head in buf[0 .. len).  Call with the same bytes at the same
 * offsets plus whatever arrived (len never shrinks); every call resumes
 * where the previous one stopped, so feeding n bytes one at a time costs
 * O(n).  Returns H1_AGAIN, H1_DONE (results filled; r->head_len is where
 * the body starts) or H1_ERROR (r->status, r->reason).  After H1_DONE or
 * H1_ERROR further calls return the same result.  Never blocks.
 */
enum h1_result h1_request_parse(struct h1_request *r, const char *buf,
				size_t len);

/*
 * The first of headers[0 .. n) named name (ASCII case-insensitive), or
 * NULL.  buf is the buffer the spans point into.
 */
const struct h1_header *h1_header_find(const struct h1_header *headers,
				       size_t n, const char *buf,
				       const char *name);

/* Whether span s of buf is exactly lit (case-sensitive). */
bool h1_span_eq(const char *buf, struct h1_span s, const char *lit);

struct h1_chunked {
	/* --- set by h1_chunked_init(), read-only afterwards --- */
	struct h1_header *trailers; /* the caller's array (may be NULL) */
	size_t max_trailers;	    /* more trailer fields: 431 */
	size_t max_trailer;	    /* more trailer bytes: 431 */
	size_t max_line;	    /* longer chunk-size line: 400 */

	/* --- results --- */
	size_t ntrailers; /* after H1_DONE, trailers[0 .. n) */
	uint64_t total;	  /* data bytes yielded so far */
	int status;	  /* after H1_ERROR: 400 or 431 */
	const char *reason;

	/* --- private --- */
	unsigned state;
	uint64_t left; /* data bytes left in this chunk */
	size_t line;   /* bytes of the current size line */
	size_t scan;   /* trailer bytes already searched */
};

/*
 * Prepare c for one chunked body.  trailers (max_trailers entries) may be
 * NULL with max_trailers 0: then any trailer field is a 431.
 */
void h1_chunked_init(struct h1_chunked *c, struct h1_header *trailers,
		     size_t max_trailers, size_t max_trailer, size_t max_line);

/*
 * Decode from buf[0 .. len), the bytes that follow what earlier calls
 * consumed.  Sets *used to the bytes consumed from buf and returns:
 *   H1_DATA   data is a slice of body bytes inside buf (*used ends it);
 *             call again with buf + *used;
 *   H1_AGAIN  need more: pass buf[*used .. len) again, followed by new
 *             bytes (*used < len only inside the trailer section, which
 *             must be whole in one buffer, at most max_trailer bytes);
 *   H1_DONE   the body ended at buf + *used (what follows is the next
 *             request); trailer spans are offsets into this call's buf;
 *   H1_ERROR  c->status and c->reason; close after replying.
 * Never blocks.  After H1_DONE or H1_ERROR it returns the same again
 * (with *used 0).  At most 2^32 - 1 bytes of buf are looked at per call.
 */
enum h1_result h1_chunked_next(struct h1_chunked *c, const char *buf,
			       size_t len, size_t *used, struct h1_span *data);

#endif
