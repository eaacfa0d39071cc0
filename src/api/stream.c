/*
 * stream.c — media over HTTP (issue 16): GET/HEAD /stream/{id}, the bytes
 * of an audio or video file for a player, under the tier's viewing quota;
 * and the "media" and "stream" members of the file's JSON.
 *
 * A stream is not a download.  /stream/{id} answers only for a file the
 * probe found audio or video in, has no wait, slot, cooldown or download
 * counter, and instead charges every byte it delivers to the viewer's
 * quota as media time: bytes × 8 ÷ the file's bitrate (core/media.h).
 * A response reserves the media time of its range first
 * (stream_quota_reserve), cut to what the quota has left (a shorter 206:
 * players ask again for the rest, and that request gets the 429 with
 * Retry-After), and settles when it ends, charging what was handed to the
 * connection (a player that seeks and drops a range pays for what it
 * got).  The windows live in the database on PostgreSQL, so they hold
 * across nodes, else in this node's memory (quota.c).  For a limited
 * viewer the body is paced (STREAM_LEAD_S seconds of media at once, then
 * a little faster than real time): a player's lead over what it shows
 * stays small, so when the quota ends (a shorter 206, then the 429 that
 * stops the player) little that was delivered goes unwatched.
 * Unlimited viewers get the bytes as a download does (sendfile).
 * Downloads (/{id}/{name}) keep their own rules and never
 * count here.
 *
 * When the file has a fast-start copy (remux.c: an MP4/MOV whose index
 * was at the end, rewritten with it first), /stream serves the copy, with
 * its own validators and length; downloads always serve the original.
 * A stream that sends bytes is activity for retention (counts_touch: the
 * link's last_download), never a download.
 */
#define _GNU_SOURCE
#include "download_body.h"
#include "handlers.h"
#include "pwcheck.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../http/range.h"
#include "../http/reply.h"
#include "../util/banned.h"

/* A limited viewer's stream: STREAM_LEAD_S seconds of media at once, then
 * STREAM_PACE_PCT % of real time (the file's bitrate), at least
 * STREAM_RATE_MIN bytes a second. */
#define STREAM_LEAD_S 10
#define STREAM_PACE_PCT 105
#define STREAM_RATE_MIN 4096
#define STREAM_READ (64 * 1024)

static void viewer_of(struct pt_req *r, struct media_viewer *v)
{
	struct app *app = r->ctx;
	const struct principal *who = api_who(r);
	const struct pt_tier *t = policy_tier(app->conf, who);
	v->address = r->client_ip;
	v->user_id = who->user_id;
	v->allowance_ms = (int64_t)t->stream_minutes * 60000;
	v->wait_s = (int64_t)t->stream_wait_minutes * 60;
}

static bool streamable(enum media_state st, const struct media_info *m)
{
	return st == MEDIA_DONE &&
	       (m->kind == MEDIA_VIDEO || m->kind == MEDIA_AUDIO);
}

bool api_media_get(struct app *app, const struct link *l, enum media_state *st,
		   struct media_info *m)
{
	struct db *db = app_db(app);
	*st = MEDIA_PENDING;
	memset(m, 0, sizeof(*m));
	if (!db)
		return false;
	int err = repo_media_get(db, l->sha256, st, m);
	if (err == PT_ENOTFOUND && !media_mime_probable(l->mime))
		*st = MEDIA_SKIPPED; /* it will never be probed */
	/* a Max-Downloads link delivers its bytes N times in all, counted
	 * by the download path's budget: it is never streamed */
	return streamable(*st, m) && !l->max_downloads;
}

json_t *api_media_quota_json(struct pt_req *r)
{
	struct app *app = r->ctx;
	struct media_viewer v;
	int64_t used, retry;
	viewer_of(r, &v);
	if (v.allowance_ms <= 0)
		return json_null(); /* unlimited */
	stream_quota_state(app, &v, pt_now(), &used, &retry);
	int64_t left = v.allowance_ms - used;
	return json_pack("{s:I, s:I, s:I, s:I, s:I}", "minutes",
			 (json_int_t)(v.allowance_ms / 60000), "wait_minutes",
			 (json_int_t)(v.wait_s / 60), "used_seconds",
			 (json_int_t)(used / 1000), "left_seconds",
			 (json_int_t)(left > 0 && !retry ? left / 1000 : 0),
			 "retry_after", (json_int_t)retry);
}

/* The thumbnailer's word on l's blob: "pending", "done" or "failed"
 * (thumbnail_url, in the file object, is where a done one is). */
static const char *thumb_state_name(struct app *app, const struct link *l)
{
	struct db *db = app_db(app);
	struct thumb_row t;
	if (!db || repo_thumb_get(db, l->sha256, &t))
		return "pending";
	return t.state == THUMB_DONE ? "done" : "failed";
}

void api_media_json(struct pt_req *r, const struct link *l, json_t *o)
{
	struct app *app = r->ctx;
	enum media_state st;
	struct media_info m;
	bool stream = api_media_get(app, l, &st, &m);
	json_t *mo = json_pack("{s:s}", "probe", media_state_name(st));
	if (st == MEDIA_DONE) {
		char sum[160];
		media_summary(&m, sum, sizeof(sum));
		json_object_set_new(mo, "kind",
				    json_string(media_kind_name(m.kind)));
		json_object_set_new(mo, "container", json_string(m.container));
		json_object_set_new(mo, "video_codec",
				    *m.vcodec ? json_string(m.vcodec)
					      : json_null());
		json_object_set_new(mo, "audio_codec",
				    *m.acodec ? json_string(m.acodec)
					      : json_null());
		json_object_set_new(mo, "duration",
				    m.duration_ms
					    ? json_real((double)m.duration_ms /
							1000.0)
					    : json_null());
		json_object_set_new(mo, "width",
				    m.width ? json_integer(m.width)
					    : json_null());
		json_object_set_new(mo, "height",
				    m.height ? json_integer(m.height)
					     : json_null());
		json_object_set_new(mo, "bitrate",
				    m.bitrate ? json_integer(m.bitrate)
					      : json_null());
		json_object_set_new(mo, "summary", json_string(sum));
		if (m.kind == MEDIA_VIDEO || m.kind == MEDIA_IMAGE) {
			const char *ts = thumb_state_name(app, l);
			json_object_set_new(mo, "thumbnail", json_string(ts));
			/* the same answer as the file object's, which was
			 * read a moment before (the thumbnail may have come
			 * meanwhile) */
			if (strcmp(ts, "done") == 0)
				json_object_set_new(
					o, "thumbnail_url",
					json_string(pt_psprintf(r->pool,
								"%s/thumb/%s",
								app->public_url,
								l->id)));
		}
	}
	json_object_set_new(o, "media", mo);
	if (!stream) {
		json_object_set_new(o, "stream", json_null());
		return;
	}
	json_object_set_new(o, "stream",
			    json_pack("{s:s+, s:s+, s:o, s:s}", "url",
				      app->public_url,
				      pt_psprintf(r->pool, "/stream/%s", l->id),
				      "embed_url", app->public_url,
				      pt_psprintf(r->pool, "/embed/%s", l->id),
				      "quota", api_media_quota_json(r),
				      "fast_start",
				      api_remux_state(app, l, &m)));
}

/* ---- GET /stream/{id} ---- */

struct streaming {
	struct media_viewer v;
	int64_t reserved_ms, bitrate;
	uint64_t sent; /* bytes handed to the engine (paced streams) */
	uint64_t len;
	bool paced;
	bool shared; /* the reservation is in the database (quota.c) */
};

static void stream_complete(struct pt_req *r, bool ok)
{
	struct app *app = r->ctx;
	struct streaming *s = r->state;
	if (!s->reserved_ms)
		return;
	uint64_t got = ok || !s->paced ? s->len : s->sent;
	/* all of it: what was reserved (bytes of a cut range round down) */
	int64_t ms = got >= s->len ? s->reserved_ms
				   : media_ms_of_bytes(got, s->bitrate);
	stream_quota_settle(app, &s->v, s->shared, s->reserved_ms, ms,
			    pt_now());
	s->reserved_ms = 0;
}

/* The paced body of a limited viewer's stream: bytes [off, off + len) of
 * the blob through a token bucket that starts full. */
struct paced {
	struct blob_reader *rd; /* NULL when ahead has it */
	struct ahead *ahead;    /* S3: reads off the engine's thread */
	size_t granted;         /* taken from the bucket, not yet sent */
	uint64_t off;
	uint64_t *sent;
	struct bucket b;
	struct pt_req *r;
	struct throttle *throttle;
};

/* As speed_cap_take, but the bucket holds the lead while a refill is a
 * second's worth: after the lead, the player gets a second of media each
 * second (and a dropped connection is seen within one). */
static ssize_t paced_pull(void *cls, uint64_t pos, char *buf, size_t max,
			  uint64_t len)
{
	struct paced *p = cls;
	if (pos >= len)
		return RESP_PULL_END;
	uint64_t now = pt_mono_ns(), left = len - pos;
	uint64_t want = left < max ? left : max;
	uint64_t need = p->b.rate < want ? p->b.rate : want;
	if (!p->granted) {
		if (bucket_wait_ns(&p->b, need, now) > 0) {
			req_pause(p->r);
			if (!throttle_resume_at(
				    p->throttle, p->r,
				    now + bucket_wait_ns(&p->b, need, now)))
				return RESP_PULL_ERROR;
			return 0;
		}
		p->granted = (size_t)bucket_take(&p->b, want, now);
	}
	size_t n = p->granted < want ? p->granted : (size_t)want;
	ssize_t k;
	if (p->ahead) {
		/* off the engine's thread (download_body.c's stream): only
		 * what the bucket let go, kept across the wait */
		uint64_t from = p->off + pos;
		k = ahead_read(p->ahead, buf, n, from, from + n);
		if (k == 0) {
			req_pause(p->r);
			return 0;
		}
	} else {
		k = blob_reader_pread(p->rd, buf, n, p->off + pos);
	}
	if (k <= 0) /* the blob shrank or failed: never pad */
		return RESP_PULL_ERROR;
	p->granted = (size_t)k < p->granted ? p->granted - (size_t)k : 0;
	*p->sent = pos + (uint64_t)k;
	return k;
}

struct paced_resp {
	struct paced p;
	uint64_t len;
};

static ssize_t paced_cb(void *cls, uint64_t pos, char *buf, size_t max)
{
	struct paced_resp *pr = cls;
	return paced_pull(&pr->p, pos, buf, max, pr->len);
}

static void paced_free(void *cls)
{
	struct paced_resp *pr = cls;
	if (pr->p.ahead)
		ahead_free(pr->p.ahead); /* closes the reader */
	else
		blob_reader_close(pr->p.rd);
	free(pr);
}

static void paced_wake(void *arg)
{
	req_wake(arg);
}

static struct resp *paced_response(struct pt_req *r, struct blob_reader *rd,
				   uint64_t off, uint64_t len, int64_t bitrate,
				   uint64_t *sent)
{
	struct app *app = r->ctx;
	struct paced_resp *pr = xcalloc(1, sizeof(*pr));
	uint64_t bps = (uint64_t)bitrate / 8;
	uint64_t rate = bps * STREAM_PACE_PCT / 100;
	uint64_t lead = bps * STREAM_LEAD_S;
	if (rate < STREAM_RATE_MIN)
		rate = STREAM_RATE_MIN;
	if (lead < STREAM_READ)
		lead = STREAM_READ;
	pr->p.rd = rd;
	if (app->ahead && req_pull_offload(r) && blob_reader_fd(rd) < 0) {
		pr->p.ahead = ahead_new(app->ahead, rd, paced_wake, r);
		pr->p.rd = NULL;
	}
	pr->p.off = off;
	pr->p.sent = sent;
	pr->len = len;
	pr->p.r = r;
	pr->p.throttle = app->throttle;
	/* the lead: a bucket of STREAM_LEAD_S seconds, full at the start */
	bucket_init(&pr->p.b, rate, lead, pt_mono_ns());
	pr->p.b.tokens = lead * 1024;
	return resp_stream(len, STREAM_READ, paced_cb, pr, paced_free);
}

req_res api_stream(struct pt_req *r)
{
	struct app *app = r->ctx;
	struct link l;
	struct media_info m;
	enum media_state st;
	req_res rc;
	char etag[BLOB_HEX_LEN + 3], lastmod[32];

	if (api_link_lookup_or_reply(r, r->arg[0].p, &l, &rc, true))
		return rc;
	if (api_link_password_or_reply(r, &l, &rc))
		return rc;
	if (!api_media_get(app, &l, &st, &m)) {
		if (l.max_downloads)
			return reply_error(r, PT_EFORBIDDEN, "max-downloads",
					   "forbidden: '%s' may be downloaded "
					   "%lld times and is not streamed: "
					   "download it at %s/%s",
					   l.id, (long long)l.max_downloads,
					   app->public_url, l.id);
		if (st == MEDIA_PENDING) {
			req_retry_after(r, 5);
			return reply_error(r, PT_EUNAVAIL, "probing",
					   "service unavailable: '%s' is "
					   "still being examined: retry in 5 "
					   "seconds",
					   l.id);
		}
		return reply_error(r, PT_ENOTFOUND, "not-media",
				   "not found: '%s' is not audio or video "
				   "that can be streamed: download it at "
				   "%s/%s",
				   l.id, app->public_url, l.id);
	}
	/* the fast-start copy when there is one (remux.c): its own bytes,
	 * validators and length; else the original */
	struct blob_reader *rd = NULL;
	char copy[BLOB_HEX_LEN + 1];
	const char *hex = l.sha256;
	uint64_t size = l.size;
	int64_t mtime = l.created;
	if (api_remux_open(app, &l, &rd, copy, &size, &mtime))
		hex = copy;
	struct streaming *s = pt_palloc(r->pool, sizeof(*s));
	memset(s, 0, sizeof(*s));
	r->state = s;
	r->on_complete = stream_complete;
	viewer_of(r, &s->v);
	s->bitrate = media_bitrate_of(&m, l.size);

	snprintf(etag, sizeof(etag), "\"%s\"", hex);
	pt_http_date(mtime, lastmod);
	struct range_set rs;
	enum range_result rr;
	const char *range_hdr;
	if (api_validate_or_reply(r, etag, mtime, lastmod, size, &rs, &rr,
				  &range_hdr, &rc)) {
		if (rd)
			blob_reader_close(rd);
		return rc;
	}
	uint64_t first = 0, len = size;
	if (rr == RANGE_OK) { /* several ranges: the first (players ask one) */
		first = rs.r[0].first;
		len = rs.r[0].last - first + 1;
	}
	bool partial = rr == RANGE_OK;
	if (r->method == HTTP_GET && len && s->v.allowance_ms > 0) {
		int64_t retry;
		int64_t want = media_ms_of_bytes(len, s->bitrate);
		if (want <= 0)
			want = 1;
		int64_t grant = stream_quota_reserve(app, &s->v, want, pt_now(),
						     &retry, &s->shared);
		if (grant <= 0) {
			if (rd)
				blob_reader_close(rd);
			const char *ra = req_retry_after(r, retry);
			return reply_error(
				r, PT_ELIMIT, "stream-quota",
				"too many requests: %llu minutes of streaming "
				"used on this tier; more in %s seconds, or "
				"get premium (downloads are not affected)",
				(unsigned long long)(s->v.allowance_ms / 60000),
				ra);
		}
		s->reserved_ms = grant;
		if (grant < want) {
			/* what the quota has left: a shorter 206 */
			uint64_t b = (uint64_t)grant * (uint64_t)s->bitrate /
				     8000;
			if (b == 0)
				b = 1;
			if (b < len)
				len = b;
			partial = true;
		}
		s->paced = true;
	}
	s->len = len;

	int err = rd ? 0 : blob_reader_open(app->blobs, l.sha256, &rd);
	if (err) {
		pt_log("stream: blob %s of link %s cannot be opened: %s",
		       l.sha256, l.id, pt_strerror(err));
		return reply_error(r, PT_EINTERNAL, NULL,
				   "internal error: the stored bytes of '%s' "
				   "are unavailable",
				   l.id);
	}
	/* from here the response owns the reader */
	struct resp *resp;
	if (s->paced && len) {
		resp = paced_response(r, rd, first, len, s->bitrate, &s->sent);
	} else {
		/* unlimited: as a download without caps (sendfile) */
		struct cap cap = { 0,	 0,    r,    app->throttle,
				   NULL, NULL, NULL, req_socket(r),
				   NULL, app->ahead };
		s->paced = false;
		resp = download_range_response(rd, first, len, &cap);
	}
	if (partial) {
		char cr[80];
		snprintf(cr, sizeof(cr),
			 "bytes %" PRIu64 "-%" PRIu64 "/%" PRIu64, first,
			 first + len - 1, size);
		resp_header(resp, "Content-Range", cr);
	}
	resp_header(resp, "Content-Type", l.mime);
	api_add_validators(resp, etag, lastmod);
	r->bytes_out = r->method == HTTP_HEAD ? 0 : len;
	/* a stream is activity, as a download is (retention: gc), but not a
	 * download: no count, no Max-Downloads budget (a link with one is
	 * never streamed) */
	if (r->method == HTTP_GET && len)
		counts_touch(app->counts, l.id, pt_now());
	return reply_queue(r, partial ? 206 : 200, resp);
}
