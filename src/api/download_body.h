/*
 * download_body.h — the response bodies of download.c (download_body.c);
 * nothing else includes it.  Each function takes the blob reader rd: the
 * response it returns owns rd (and closes it).  None blocks on a blob
 * without a local descriptor when cap->ahead is set and the engine lets
 * a pull wait for another thread (req_pull_offload: the event engine):
 * such a body is read by the ahead pool's workers (store/ahead.h) while
 * its connection waits paused; on libmicrohttpd it is pread in the pull
 * callback, on MHD's thread.  A blob with a descriptor goes by sendfile, or is pread from
 * the engine's pull callback (the page cache, as nginx reads it).
 * stream.c uses them too, for /stream's unpaced bodies.
 */
#ifndef PT_DOWNLOAD_BODY_H
#define PT_DOWNLOAD_BODY_H

#include "download.h"

#include "../http/range.h"
#include "../http/reply.h"

/* A stream's read size; also what may still sit in buffers when a stream
 * is cut short and TCP_INFO says nothing (download_complete). */
#define STREAM_BLOCK (256 * 1024)

/* Set by serve() for the response it is building: the speed cap, and
 * what to do once every byte is in the engine's hands. */
struct cap {
	uint64_t rate;
	uint64_t not_before; /* the hold (pt_mono_ns); 0: none */
	struct pt_req *r;
	struct throttle *throttle;
	uint64_t *sent;
	void (*last)(void *arg);
	void *last_arg;
	int fd;            /* the connection's socket, or -1 */
	uint64_t *body_at; /* held.body_at, or NULL */
	/* reads of a blob without a local fd (S3) go to these workers;
	 * NULL: read in place (blocking) */
	struct ahead_pool *ahead;
};

/* Bytes [off, off + len) of the blob, the body of a 200 or a 206: from
 * memory when small and not paced, with sendfile(2) when rd has an fd and
 * the body is not paced, else a stream under cap.  cap->last runs once
 * every byte is the engine's. */
struct resp *download_range_response(struct blob_reader *rd, uint64_t off,
				     uint64_t len, const struct cap *cap);
/* Whether download_range_response(rd, _, len, cap) streams the body (a
 * pulled stream whose progress is counted), rather than handing it whole
 * to the engine from memory or a file. */
bool download_range_streams(struct blob_reader *rd, uint64_t len,
			    const struct cap *cap);
/* The multipart/byteranges body of the ranges rs of rd, each part typed
 * mime; *ctype is its Content-Type (with the boundary, in r's pool) and
 * *len its length. */
struct resp *download_multipart_response(struct pt_req *r,
					 struct blob_reader *rd,
					 const struct range_set *rs,
					 const char *mime, const char **ctype,
					 const struct cap *cap, uint64_t *len);

#endif
