/*
 * s3.h — a small S3 client on libcurl: exactly what the s3 blob backend
 * needs (object PUT/GET/HEAD/DELETE, copies, multipart upload, listings),
 * path-style URLs (ENDPOINT/BUCKET/KEY) or virtual-hosted-style ones
 * (the bucket in the host name: BUCKET.ENDPOINT-HOST/KEY, what AWS, R2
 * and most stores prefer), Signature V4 by libcurl itself
 * (CURLOPT_AWS_SIGV4, libcurl >= 7.75) with payloads sent as
 * UNSIGNED-PAYLOAD, which AWS, Ceph RGW, MinIO and Swift's s3api accept.
 *
 * A `struct s3` is shared by every thread: it holds the settings and a
 * pool of curl easy handles, each keeping its own keep-alive connections,
 * so consecutive requests of a thread reuse a connection.  Every function
 * may block on the network.  Idempotent requests are retried (three tries,
 * short back-off) on a transport error or a 500/502/503/504, so a
 * restarting proxy does not fail an upload.
 *
 * Files: s3.c (requests), s3_sign.c (presigned URLs and our own SigV4),
 * s3_xml.c (parsing answers), sharing s3_int.h.
 *
 * Statuses: 0 for a 2xx; -ENOENT for 404, PT_ERANGE for 416, -EACCES for
 * 403, PT_ECONFLICT for 409, PT_EUNAVAIL when the store cannot be reached
 * or still answers 500/502/503/504 after the retries (HTTP 503 to our
 * clients: try again later), -EIO for anything else (the S3 error code is
 * logged once).
 */
#ifndef PT_S3_H
#define PT_S3_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "../util/buf.h"

struct s3;

struct s3_conf {
	const char *endpoint; /* http(s)://host[:port][/prefix], no bucket;
			       * NULL or "": https://s3.REGION.amazonaws.com */
	const char *bucket;
	const char *region;   /* us-east-1 for Swift and most others */
	const char *access_key, *secret_key;
	/* presigned URLs: the endpoint clients reach (a CDN or a public
	 * name) when it is not the node's; NULL or "": endpoint */
	const char *public_endpoint;
	/* virtual-hosted-style: requests go to BUCKET.HOST of the endpoint
	 * (and presigned URLs to BUCKET.HOST of the public endpoint), with
	 * the key alone as the path; false: path style, HOST/BUCKET/KEY.
	 * Needs a bucket that is a DNS name and endpoints named by host
	 * name, not by IP address (http://localhost:PORT for a store on
	 * loopback: libcurl and browsers resolve BUCKET.localhost there). */
	bool virtual_host;
};

/* Why c cannot make a client (a static sentence for the log), or NULL. */
const char *s3_conf_problem(const struct s3_conf *c);
/* Copies what it needs from c.  0, or PT_EBADREQ when s3_conf_problem()
 * finds something. */
int s3_new(const struct s3_conf *c, struct s3 **out);
void s3_free(struct s3 *s);

/* One request.  key NULL means the bucket itself.  query is the canonical
 * query string: names sorted, every name with '=' (uploads=), values
 * encoded with s3_uri_encode() — SigV4 signs it as given. */
struct s3_req {
	const char *method; /* GET PUT HEAD DELETE POST */
	const char *key;
	const char *query;
	const char *headers[6]; /* extra "Name: value", NULL-ended */
	const void *body;       /* PUT/POST body */
	size_t body_len;
	struct pt_buf *out;     /* response body (GET/POST) or NULL */
	/* results */
	long status;
	uint64_t length;        /* Content-Length (HEAD) */
	int64_t mtime;          /* Last-Modified, -1 when absent */
	char etag[80];          /* with its quotes, as S3 sends it */
};
int s3_request(struct s3 *s, struct s3_req *r);

/* Percent-encode for a query value or a copy source (RFC 3986 unreserved
 * kept; '/' kept when keep_slash).  The caller frees. */
char *s3_uri_encode(const char *v, bool keep_slash);
/* "Content-MD5: <base64>" of n bytes at p (malloc'd): s3_request sends it
 * with every body (object and part PUTs, POSTs), which buckets with
 * Object Lock require. */
char *s3_content_md5(const void *p, size_t n);

/*
 * Presigned URLs (SigV4 in the query string, AWS "Authenticating
 * Requests: Using Query Parameters"): anyone holding the URL may make
 * that one request until `expires` seconds after `now`, without keys.
 * Only `host` is signed and the payload is UNSIGNED-PAYLOAD, so a client
 * may add any header (Range).  The signing code is the one the header
 * form uses.
 *
 * s3_presign_query() is the bare algorithm: the whole query string
 * (sorted, X-Amz-Signature last) for method on host and path (the
 * canonical URI, already encoded), with `query` ("name=value&…", names
 * and values encoded with s3_uri_encode, any order, may be NULL) signed
 * along.  The caller frees.  Never fails, never blocks.
 */
struct s3_presign {
	const char *method, *host, *path, *query;
	const char *access_key, *secret_key, *region;
	int64_t now;      /* Unix time of signing (X-Amz-Date) */
	uint64_t expires; /* seconds, 1 to 604800 for AWS */
};
char *s3_presign_query(const struct s3_presign *p);
/* The presigned GET URL of key on the public endpoint (s3_conf), in the
 * client's addressing style (the bucket in the path or in the host), with
 * the extra parameters of `query` (response-content-type=…).
 * now is the real clock: the store checks the signature against its own.
 * The caller frees. */
char *s3_presign_url(struct s3 *s, const char *key, const char *query,
		     int64_t now, uint64_t expires);

/* A streaming GET of [off, end) of key (end UINT64_MAX: to the object's
 * end): bytes come as the caller asks for them, with no buffering of the
 * object, over one connection.  open returns -ENOENT, PT_ERANGE (off past
 * the end) or another status from the response head. */
struct s3_stream;
int s3_stream_open(struct s3 *s, const char *key, uint64_t off, uint64_t end,
		   struct s3_stream **out);
/* Up to n bytes (fewer only at the end); 0 at the end; <0 on error. */
ssize_t s3_stream_read(struct s3_stream *st, void *p, size_t n);
void s3_stream_close(struct s3_stream *st);

/* XML answers: the text of the next <tag>…</tag> at or after *pos in xml
 * (entities decoded, caller frees), *pos moved past it; NULL when none.
 * `end`, when not NULL, bounds the search (one <Contents> element). */
char *s3_xml_next(const char *xml, const char *end, const char *tag,
		  const char **pos);
/* The same search, without copying or decoding: the raw content of the
 * element (a pointer into xml, *len bytes).  For an element whose
 * children are read next (Contents, Upload): read them with s3_xml_next
 * bounded by the span, so that each text is decoded exactly once (a key
 * "&lt;/Key&gt;" must not close the element it is in). */
const char *s3_xml_span(const char *xml, const char *end, const char *tag,
			const char **pos, size_t *len);
/* For each <elem>…</elem> of xml in order (a listing's Contents or
 * Upload), the decoded texts of its children fields[0..nf) (NULL when
 * absent; nf at most S3_XML_FIELDS) to cb, freed when it returns.  Stops
 * at the first non-zero result of cb and returns it, else 0.  xml NULL:
 * 0. */
#define S3_XML_FIELDS 8
int s3_xml_each(const char *xml, const char *elem,
		const char *const *fields, size_t nf,
		int (*cb)(char **vals, void *arg), void *arg);
/* ISO 8601 "2026-01-02T03:04:05.000Z" to Unix time (UTC; what follows
 * the seconds is not read); -1 on junk: anything but digits in the
 * fields, or a month, day, hour, minute or second out of range. */
int64_t s3_time_parse(const char *iso);

#endif
