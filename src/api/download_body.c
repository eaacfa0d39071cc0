/*
 * download_body.c — the bodies of download responses: the whole file or
 * one range (from memory when small, sendfile(2) from the blob's fd, else
 * a stream that preads the blob), multipart/byteranges, and the speed cap
 * and hold (speed_cap, download.h) that a streamed body keeps to.  A
 * stream records its progress and where its body starts in the
 * connection's TCP stream (tcp_written) for download.c's counting.
 *
 * A blob without a local descriptor (S3) is read off the engine's
 * thread: the stream reads through an ahead (store/ahead.h), pausing its
 * connection until a worker has the block and wakes it.  What the speed
 * cap granted before such a pause is kept (`granted`) for the call after
 * it, so the wait for the store never costs a burst twice.
 */
#define _GNU_SOURCE
#include "download_body.h"

#include <inttypes.h>
#include <linux/sockios.h>
#include <linux/tcp.h>
#include <netinet/in.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

#include "../core/bucket.h"
#include "../store/ahead.h"
#include "../util/banned.h"

/* During a hold, one byte of the body every HOLD_KEEPALIVE_NS: a client
 * that ends a transfer silent for 60 s (aria2c --timeout) stays, and the
 * file is not given away (3 bytes in the anonymous tier's minute). */
#define HOLD_KEEPALIVE_NS (20ull * 1000000000u)
#define SMALL_BODY (64 * 1024)

/* Body of a multipart/byteranges or streamed response: a list of pieces,
 * each literal text or a byte range of the blob. */
struct piece {
	const char *text; /* NULL: bytes [off, off+len) of the blob */
	uint64_t off, len;
};

struct stream {
	struct blob_reader *reader; /* NULL when ahead has it */
	struct ahead *ahead;        /* reads off the engine's thread, or NULL */
	struct pt_req *r;           /* paused while ahead reads */
	bool paced;                 /* capped or held: read what is granted */
	size_t granted;             /* bytes the cap let go, not yet sent */
	struct piece *pieces;
	size_t npieces;
	uint64_t total;
	struct speed_cap cap;
	uint64_t *sent; /* the request's progress (held.sent), or NULL */
	/* called once, when the last byte is handed to the engine */
	void (*last)(void *arg);
	void *last_arg;
	int fd;            /* the connection's socket, or -1 */
	uint64_t *body_at; /* held.body_at, set at the first call, or NULL */
};

void speed_cap_init(struct speed_cap *c, uint64_t rate, uint64_t not_before,
		    struct pt_req *r, struct throttle *throttle)
{
	memset(c, 0, sizeof(*c));
	if (!rate && !not_before)
		return;
	c->not_before = not_before;
	c->keep_at = pt_mono_ns() + HOLD_KEEPALIVE_NS;
	c->r = r;
	c->throttle = throttle;
	if (!rate) {
		bucket_init(&c->bucket, 0, 0, pt_mono_ns());
		return;
	}
	/* a second of data per wake-up (nginx's limit_rate also sends once
	 * a second): few wake-ups and few, large writes */
	uint64_t burst = rate > 16384 ? rate : 16384;
	bucket_init(&c->bucket, rate, burst, pt_mono_ns());
}

/* No longer paused: out of the gauge. */
static void cap_woken(struct speed_cap *c)
{
	if (c->timed) {
		c->timed = false;
		throttle_count(c->throttle, -1);
	}
}

/* Nothing may go before `when`: pause until then on the engine's own
 * timers (no thread, no lock), or else the throttle thread's.  0, or -1
 * when the throttle is stopping (end the response). */
static int cap_pause(struct speed_cap *c, uint64_t when)
{
	if (req_pause_until(c->r, when)) {
		if (!c->timed) {
			c->timed = true;
			throttle_count(c->throttle, 1);
		}
		return 0;
	}
	req_pause(c->r);
	return throttle_resume_at(c->throttle, c->r, when) ? 0 : -1;
}

void speed_cap_end(struct speed_cap *c)
{
	cap_woken(c);
}

ssize_t speed_cap_take(struct speed_cap *c, uint64_t left, size_t max)
{
	if (!c->throttle)
		return (ssize_t)max;
	cap_woken(c);
	/* Send in bursts: wait until `need` bytes may go (a second's worth,
	 * at most 1 MiB, or what is left), then hand the engine full buffers while
	 * they last.  Taking whatever trickled in since the last call would
	 * send a few dozen bytes per write, thousands of times a second. */
	uint64_t now = pt_mono_ns();
	if (c->not_before) {
		/* the hold: the status line and headers are out (a client's
		 * read timeout, not its connect timeout, applies), the body
		 * starts when the countdown ends, at the tier's speed from
		 * an empty bucket */
		if (now < c->not_before) {
			if (now >= c->keep_at && left > 1) {
				/* one byte, so that a client's read timeout
				 * (aria2c: 60 s) does not end a long hold */
				c->keep_at = now + HOLD_KEEPALIVE_NS;
				return 1;
			}
			uint64_t at = c->keep_at < c->not_before ? c->keep_at
								 : c->not_before;
			return cap_pause(c, at);
		}
		c->not_before = 0;
		if (c->bucket.rate)
			bucket_init(&c->bucket, c->bucket.rate,
				    c->bucket.burst, now);
	}
	uint64_t need = c->bucket.burst < (1u << 20) ? c->bucket.burst : 1u << 20;
	if (left < need)
		need = left;
	uint64_t want = left < max ? left : max;
	uint64_t enough = need < want ? need : want;
	if (bucket_wait_ns(&c->bucket, enough, now) == 0)
		return (ssize_t)bucket_take(&c->bucket, want, now);
	/* the connection pauses until the burst is there */
	return cap_pause(c, now + bucket_wait_ns(&c->bucket, need, now));
}

/* The bytes written into socket fd so far, the peer's acknowledged ones
 * (TCP_INFO) and those still queued (SIOCOUTQ): where the next byte
 * written will sit in the connection's stream.  Read until no ACK came
 * in between; else the high side (a later body start: never over-count).
 * false when unknown. */
static bool tcp_written(int fd, uint64_t *out)
{
	for (int i = 0; i < 4; i++) {
		struct tcp_info ti;
		socklen_t len = sizeof(ti);
		uint64_t a1;
		int q;

		memset(&ti, 0, sizeof(ti));
		if (fd < 0 ||
		    getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &len) != 0 ||
		    len < offsetof(struct tcp_info, tcpi_bytes_acked) +
				  sizeof(ti.tcpi_bytes_acked) ||
		    ioctl(fd, SIOCOUTQ, &q) != 0 || q < 0)
			return false;
		a1 = ti.tcpi_bytes_acked;
		len = sizeof(ti);
		if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &len) != 0)
			return false;
		*out = ti.tcpi_bytes_acked + (uint64_t)q;
		if (ti.tcpi_bytes_acked == a1)
			return true;
	}
	return true;
}

static ssize_t stream_cb(void *cls, uint64_t pos, char *buf, size_t max)
{
	struct stream *s = cls;
	uint64_t at = 0;

	if (s->body_at && !*s->body_at && pos == 0 &&
	    !tcp_written(s->fd, s->body_at))
		*s->body_at = 0;
	if (pos < s->total) {
		if (!s->granted) {
			ssize_t n = speed_cap_take(&s->cap, s->total - pos,
						   max);
			if (n <= 0)
				return n ? RESP_PULL_ERROR : 0;
			s->granted = (size_t)n;
		}
		if (s->granted < max)
			max = s->granted;
	}

	/* find the piece that holds `pos` (few pieces: a linear walk) */
	for (size_t i = 0; i < s->npieces; i++) {
		struct piece *p = &s->pieces[i];
		if (pos >= at + p->len) {
			at += p->len;
			continue;
		}
		uint64_t in = pos - at, left = p->len - in;
		size_t n = left < max ? (size_t)left : max;
		ssize_t k = (ssize_t)n;
		if (p->text) {
			memcpy(buf, p->text + in, n);
		} else {
			if (s->ahead) {
				/* paced: only what the cap let go, so no block
				 * waits in memory for the next burst */
				uint64_t from = p->off + in;
				k = ahead_read(s->ahead, buf, n, from,
					       s->paced ? from + n
							: p->off + p->len);
				if (k == 0) { /* a worker reads it: wait */
					req_pause(s->r);
					return 0;
				}
			} else {
				k = blob_reader_pread(s->reader, buf, n,
						      p->off + in);
			}
			if (k <= 0) /* the blob shrank or failed: never pad */
				return RESP_PULL_ERROR;
			if (s->sent)
				*s->sent = pos + (uint64_t)k;
		}
		s->granted = (size_t)k < s->granted ? s->granted - (size_t)k
						    : 0;
		if (s->last && pos + (uint64_t)k >= s->total) {
			s->last(s->last_arg);
			s->last = NULL;
		}
		return k;
	}
	return RESP_PULL_END;
}

/* A worker has read what the stream waits for (any thread). */
static void stream_wake(void *arg)
{
	req_wake(arg);
}

static void stream_free(void *cls)
{
	struct stream *s = cls;
	speed_cap_end(&s->cap);
	if (s->ahead)
		ahead_free(s->ahead); /* closes the reader, now or later */
	else
		blob_reader_close(s->reader);
	free(s->pieces);
	free(s);
}

static struct resp *stream_response(struct blob_reader *rd,
				    struct piece *pieces, size_t n,
				    const struct cap *cap)
{
	struct stream *s = xcalloc(1, sizeof(*s));
	if (cap) {
		speed_cap_init(&s->cap, cap->rate, cap->not_before, cap->r,
			       cap->throttle);
		s->sent = cap->sent;
		s->last = cap->last;
		s->last_arg = cap->last_arg;
		s->fd = cap->fd;
		s->body_at = cap->body_at;
		s->r = cap->r;
		s->paced = cap->rate || cap->not_before;
	}
	s->reader = rd;
	if (cap && cap->ahead && req_pull_offload(cap->r) &&
	    blob_reader_fd(rd) < 0) {
		s->ahead = ahead_new(cap->ahead, rd, stream_wake, cap->r);
		s->reader = NULL;
	}
	s->pieces = pieces;
	s->npieces = n;
	for (size_t i = 0; i < n; i++)
		s->total += pieces[i].len;
	return resp_stream(s->total, STREAM_BLOCK, stream_cb, s, stream_free);
}

/* The whole blob or one range of it: sendfile when there is an fd. */
/* A small body not paced goes whole from memory, read here: from a
 * local file or the cache, not from a store that may block when the
 * engine can have it read off its thread (ahead.h), by the stream. */
static bool from_memory(struct blob_reader *rd, uint64_t len, bool paced,
			const struct cap *cap)
{
	return len > 0 && len <= SMALL_BODY && !paced &&
	       (blob_reader_fd(rd) >= 0 || blob_reader_cached(rd) ||
		!cap->ahead || !req_pull_offload(cap->r));
}

bool download_range_streams(struct blob_reader *rd, uint64_t len,
			    const struct cap *cap)
{
	bool paced = cap->rate || cap->not_before;
	return !from_memory(rd, len, paced, cap) &&
	       (blob_reader_fd(rd) < 0 || paced);
}

struct resp *download_range_response(struct blob_reader *rd, uint64_t off,
				     uint64_t len, const struct cap *cap)
{
	int fd = blob_reader_fd(rd);
	bool paced = cap->rate || cap->not_before;
	if (from_memory(rd, len, paced, cap)) {
		/* small: from memory, so headers and body leave in one
		 * write instead of a send and a sendfile */
		char *buf = xmalloc(len);
		ssize_t k = blob_reader_pread(rd, buf, len, off);
		if (k == (ssize_t)len) {
			blob_reader_close(rd);
			struct resp *resp = resp_new(buf, len, RESP_FREE);
			if (cap->last) /* all of it is the engine's now */
				cap->last(cap->last_arg);
			return resp;
		}
		free(buf); /* short read: let the stream path fail it */
	}
	if (fd >= 0 && len > 0 && !paced &&
	    (fd = blob_reader_take_fd(rd)) >= 0) {
		blob_reader_close(rd);
		/* the response owns fd now and sends it with sendfile(2) */
		return resp_file(fd, off, len);
	}
	struct piece *p = xcalloc(1, sizeof(*p));
	p->off = off;
	p->len = len;
	return stream_response(rd, p, 1, cap);
}

/* multipart/byteranges (RFC 9110 §14.6):
 *
 *   --BOUNDARY CRLF
 *   Content-Type: TYPE CRLF
 *   Content-Range: bytes FIRST-LAST/LENGTH CRLF
 *   CRLF
 *   <bytes> CRLF
 *   ...
 *   --BOUNDARY-- CRLF
 */
struct resp *download_multipart_response(struct pt_req *r,
					 struct blob_reader *rd,
					 const struct range_set *rs,
					 const char *mime, const char **ctype,
					 const struct cap *cap, uint64_t *len)
{
	char boundary[33];
	unsigned char rnd[16];
	uint64_t size = blob_reader_size(rd);
	struct piece *p = xcalloc(2 * rs->n + 1, sizeof(*p));
	size_t np = 0;

	randombytes_buf(rnd, sizeof(rnd));
	sodium_bin2hex(boundary, sizeof(boundary), rnd, sizeof(rnd));
	for (size_t i = 0; i < rs->n; i++) {
		const char *h = pt_psprintf(
			r->pool,
			"%s--%s\r\nContent-Type: %s\r\nContent-Range: bytes "
			"%" PRIu64 "-%" PRIu64 "/%" PRIu64 "\r\n\r\n",
			i ? "\r\n" : "", boundary, mime, rs->r[i].first,
			rs->r[i].last, size);
		p[np++] = (struct piece){ h, 0, strlen(h) };
		p[np++] = (struct piece){ NULL, rs->r[i].first,
					  rs->r[i].last - rs->r[i].first + 1 };
	}
	const char *tail = pt_psprintf(r->pool, "\r\n--%s--\r\n", boundary);
	p[np++] = (struct piece){ tail, 0, strlen(tail) };
	*ctype = pt_psprintf(r->pool, "multipart/byteranges; boundary=%s",
			     boundary);
	*len = 0;
	for (size_t i = 0; i < np; i++)
		*len += p[i].len;
	return stream_response(rd, p, np, cap);
}
