/*
 * download.c — GET/HEAD /{id}/{name}: the bytes of a file.
 *
 * Order of work (nginx's phases): look the link up (404/410/451) →
 * password → the tier's gate (size; the wait: a ticket, or a hold until
 * the countdown of (address, file) ends, a browser to the page; a slot
 * of (address, file) within parallel_downloads and
 * connections_per_download, on every node with PostgreSQL (cluster.c);
 * the cooldown; docs/internals.md §6) → validators
 * (ETag = the SHA-256, Last-Modified = upload time) → conditionals
 * (304/412, cond.c) → Range (range.c: 206, multipart, 416) → open the
 * blob → count the download → response (a held one sends its headers at
 * once and its body after the hold).  A Max-Downloads link counts in
 * bytes: the response reserves its bytes against the link's budget
 * (repo_link_budget_take: 410 when they do not fit, or when the last copy
 * is another address's) and gives back, when it ends, what the client's
 * TCP never acknowledged (budget_end; docs/internals.md §11).  Other links
 * count a download when one client has had every byte (coverage.c), a
 * response cut short by what its client's TCP acknowledged.  A
 * whole file or a single range, neither capped nor held, goes out with
 * sendfile from the blob's fd;
 * several ranges, or a backend without a local fd, stream through a
 * content callback with pread (those bodies: download_body.c).
 *
 * On S3 with storage.s3_redirect = presigned, a request of a tier the
 * policy lets go (no speed cap, no parallel limit) ends instead, after
 * every check and the count, in a 302 to a presigned URL of the blob:
 * the store serves the bytes with our type and name (docs/scaling.md).
 * Never for a Max-Downloads link, whose budget must see the transfer.
 */
#define _GNU_SOURCE
#include "download_body.h"
#include "handlers.h"
#include "pwcheck.h"

#include <errno.h>
#include <inttypes.h>
#include <linux/sockios.h>
#include <linux/tcp.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include "../http/cond.h"
#include "../http/disposition.h"
#include "../core/bucket.h"
#include "../http/range.h"
#include "../http/reply.h"
#include "../util/buf.h"
#include "../util/banned.h"

/* Max-Downloads: what a response cut short gives back to the budget,
 * beyond the bytes the client's TCP never acknowledged, for the bytes it
 * acknowledged but may not have kept (its receive buffer when it was
 * killed; Linux lets one grow to 6 MiB by default): at most RESUME_SLACK
 * per cut, RESUME_SLACK_TOTAL (or the file's size) over the link's life.
 * A resume after a kill then finds the bytes it asks for; the link never
 * delivers more than N × size + that allowance. */
#define RESUME_SLACK (8u << 20)
#define RESUME_SLACK_TOTAL (16u << 20)

void api_add_validators(struct resp *resp, const char *etag,
			const char *lastmod)
{
	resp_header(resp, "ETag", etag);
	resp_header(resp, "Last-Modified", lastmod);
	resp_header(resp, "Accept-Ranges", "bytes");
	resp_header(resp, "Cache-Control", "private, max-age=0");
	resp_header(resp, "Vary", "Accept");
}

bool api_validate_or_reply(struct pt_req *r, const char *etag, int64_t mtime,
			   const char *lastmod, uint64_t size,
			   struct range_set *rs, enum range_result *rr,
			   const char **range_hdr, req_res *rc)
{
	struct cond_request cq = {
		.method = r->method == HTTP_HEAD ? "HEAD" : "GET",
		.if_match = req_header(r, "If-Match"),
		.if_none_match = req_header(r, "If-None-Match"),
		.if_modified_since = req_header(r, "If-Modified-Since"),
		.if_unmodified_since = req_header(r, "If-Unmodified-Since"),
		.if_range = req_header(r, "If-Range"),
	};
	const char *range = req_header(r, "Range");
	enum cond_result cr = cond_evaluate(&cq, etag, mtime, range != NULL);
	struct resp *resp;

	*rr = RANGE_IGNORE;
	*range_hdr = range;
	if (cr == COND_NOT_MODIFIED || cr == COND_PRECONDITION) {
		resp = resp_new(NULL, 0, RESP_STATIC);
		api_add_validators(resp, etag, lastmod);
		*rc = reply_queue(r, cr == COND_PRECONDITION ? 412 : 304, resp);
		return true;
	}
	/* Range is defined for GET only (RFC 9110 §14.2) */
	if (r->method == HTTP_GET && cr == COND_PROCEED)
		*rr = range_parse(range, size, rs);
	if (*rr == RANGE_UNSATISFIABLE) {
		char cr416[48];
		resp = resp_new(NULL, 0, RESP_STATIC);
		snprintf(cr416, sizeof(cr416), "bytes */%" PRIu64, size);
		resp_header(resp, "Content-Range", cr416);
		api_add_validators(resp, etag, lastmod);
		*rc = reply_queue(r, 416, resp);
		return true;
	}
	return false;
}

/* Representation headers of a file: type, disposition, and the headers
 * that keep user content out of our origin (docs/api.md, downloads). */
static void add_file_headers(struct pt_req *r, struct resp *resp,
			     const struct link *l)
{
	struct pt_buf b;
	bool attach = disp_type_is_active(l->mime) ||
		      req_query(r, "download") != NULL;

	pt_buf_init(&b, 8192);
	disp_build(&b, l->name, attach);
	resp_header(resp, "Content-Disposition", b.p);
	pt_buf_release(&b);
	resp_header(resp, "X-Content-Type-Options", "nosniff");
	resp_header(resp, "Content-Security-Policy", "sandbox");
	if (l->max_downloads) {
		char n[24];
		int64_t left = l->max_downloads - l->downloads;
		snprintf(n, sizeof(n), "%lld", (long long)(left > 0 ? left : 0));
		resp_header(resp, "X-Remaining-Downloads", n);
	}
}

static void reader_close_cb(void *arg)
{
	blob_reader_close(arg);
}

/* What a download holds until its response is over. */
struct held {
	char id[ID_LEN + 1];
	bool count;  /* count the download by byte coverage */
	uint64_t slot; /* a download slot of the client address (slots.h) */
	int64_t cooldown; /* the tier's, started when this response ends */
	bool body;   /* the response queued carries some of the file's bytes */
	uint64_t size;                /* of the file */
	struct range_set ranges;      /* what this response carries */
	uint64_t sent;                /* streams: bytes handed to the engine */
	bool streamed;                /* one-piece stream: sent is exact-ish */
	/* Max-Downloads: bytes reserved against the link's budget, given
	 * back in part when the response ends (download_complete) */
	bool budget;
	struct link_budget b;
	uint64_t reserved;
	uint64_t acked0;              /* TCP bytes acknowledged at start */
	bool has_acked;
	uint64_t hdr_len;             /* bytes of the status and headers */
	/* streams: where the body starts in the connection's TCP stream,
	 * taken when the engine first pulls it (the headers are written
	 * by then: the engine sends a pulled response's headers alone, as
	 * libmicrohttpd does); 0: unknown */
	uint64_t body_at;
};

/* The bytes the peer's TCP has acknowledged on this connection so far
 * (Linux TCP_INFO, 4.2+): what a client cut short was sent, whatever the
 * body path (sendfile, memory, stream).  false when unknown. */
static bool tcp_acked(struct pt_req *r, uint64_t *out)
{
	int fd = req_socket(r);
	struct tcp_info ti;
	socklen_t len = sizeof(ti);

	memset(&ti, 0, sizeof(ti));
	if (fd < 0 || getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &len) != 0 ||
	    len < offsetof(struct tcp_info, tcpi_bytes_acked) +
			  sizeof(ti.tcpi_bytes_acked))
		return false;
	*out = ti.tcpi_bytes_acked;
	return true;
}


/* Whether the peer has closed or reset the connection (its FIN or RST is
 * in: CLOSE_WAIT, LAST_ACK, CLOSING, TIME_WAIT, CLOSE) with bytes we
 * wrote still unacknowledged: they will never be.  A client that closes
 * once it has what the server had sent (aria2c ending a segment while a
 * slow store feeds the stream, a capped stream between bursts) leaves no
 * unread data, so it sends a FIN, not a RST, and the next write still
 * succeeds: the engine then reports a response complete whose last bytes the
 * client never had. */
static bool tcp_lost(int fd)
{
	struct tcp_info ti;
	socklen_t len = sizeof(ti);
	int q;

	memset(&ti, 0, sizeof(ti));
	if (fd < 0 || getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &len) != 0)
		return false;
	/* tcpi_state (include/net/tcp_states.h): 8 CLOSE_WAIT, 7 CLOSE (a
	 * RST); 9 LAST_ACK, 11 CLOSING: our FIN is sent, and is one of
	 * SIOCOUTQ's bytes until acknowledged; 6 TIME_WAIT: all was */
	int fin = ti.tcpi_state == 9 || ti.tcpi_state == 11;
	if (ti.tcpi_state != 7 && ti.tcpi_state != 8 && !fin)
		return false;
	return ioctl(fd, SIOCOUTQ, &q) == 0 && q > fin;
}

/* End the response's reservation: a finished one delivered it all; one
 * cut short gives back what its client's TCP never acknowledged (all of
 * it but what was acknowledged when that is unknown: never too much),
 * and some resume allowance. */
static void budget_end(struct pt_req *r, struct held *h, bool ok)
{
	struct app *app = r->ctx;
	uint64_t charged = h->reserved, slack = 0, now;

	if (!ok && h->has_acked && tcp_acked(r, &now) && now >= h->acked0) {
		/* headers included: the estimate can only be high */
		if (now - h->acked0 < charged)
			charged = now - h->acked0;
		slack = charged < RESUME_SLACK ? charged : RESUME_SLACK;
	}
	struct db *db = app_db(app);
	int err = db ? repo_link_budget_give(db, h->id, &h->b, h->reserved,
					     h->reserved - charged, slack)
		     : PT_EUNAVAIL;
	if (err) /* the reservation stays charged: never too many bytes */
		pt_log("download: cannot end the reservation of %llu bytes "
		       "of '%s': %s",
		       (unsigned long long)h->reserved, h->id,
		       pt_strerror(err));
	h->budget = false;
	/* a whole copy delivered: the "download" webhook event (other
	 * links' downloads are told by the counters' flush, counts.c) */
	struct link l;
	if (ok && !err && h->b.size > 0 &&
	    h->reserved == (uint64_t)h->b.size && db &&
	    !repo_link_get(db, r->pool, h->id, &l))
		hooks_emit_link(app, db, "download", &l,
				json_pack("{s:i}", "downloads", 1));
}

/* The last byte is in the engine's hands: the client may have it before it
 * reports the response complete, and its next download (a download
 * manager's queue) must find the parallel slot free. */
static void held_last_byte(void *arg)
{
	struct pt_req *r = arg;
	struct held *h = r->state;
	api_download_unhold(r, &h->slot);
}

void api_download_unhold(struct pt_req *r, uint64_t *slot)
{
	struct app *app = r->ctx;
	if (*slot) {
		cluster_slot_drop(app, *slot);
		slots_release(app->slots, r->client_ip, *slot);
		*slot = 0;
	}
}

/* A download counts when one client has received every byte of the file,
 * across any number of responses (coverage.c).  A response that finished
 * delivered its ranges, unless its peer had gone with bytes in flight
 * (tcp_lost).  One cut short delivered, of its one range, what
 * the client's TCP acknowledged of the body: on a stream, exactly the
 * acknowledged bytes past body_at; on sendfile and memory, the
 * acknowledged bytes less the status line and headers (header_bytes: a
 * little high, so never past what arrived).  Where TCP_INFO says
 * nothing, a stream's progress less what may still sit in buffers. */
static void download_complete(struct pt_req *r, bool ok)
{
	struct held *h = r->state;
	int64_t now = pt_now();

	api_download_unhold(r, &h->slot);
	if (h->body && r->method == HTTP_GET)
		api_download_ended(r, h->id, h->cooldown);
	if (ok && h->body && (h->count || h->budget) && tcp_lost(req_socket(r)))
		ok = false; /* its last bytes went to a peer that had gone */
	if (h->budget)
		budget_end(r, h, ok);
	if (!h->count)
		return;
	if (ok) {
		for (size_t i = 0; i < h->ranges.n; i++)
			api_download_cover(r, h->id, h->size,
					   h->ranges.r[i].first,
					   h->ranges.r[i].last, now);
		return;
	}
	if (h->ranges.n != 1)
		return; /* multipart: where its ranges were cut is unknown */
	uint64_t first = h->ranges.r[0].first, got = 0, acked;
	uint64_t len = h->ranges.r[0].last - first + 1;
	if (h->body_at && tcp_acked(r, &acked)) {
		/* exact: a stream whose client stops where the server had
		 * got to (the store slower than the client: S3) leaves no gap
		 * the size of the header estimate's error */
		got = acked > h->body_at ? acked - h->body_at : 0;
		if (got > h->sent)
			got = h->sent;
	} else if (h->has_acked && tcp_acked(r, &acked) &&
		   acked >= h->acked0) {
		/* the head's exact size when the engine says it (the event
		 * engine does), else the estimate, which is a little high */
		uint64_t head = r->head_bytes ? r->head_bytes : h->hdr_len;
		got = acked - h->acked0;
		got = got > head ? got - head : 0;
		if (h->streamed && got > h->sent) /* never past the body */
			got = h->sent;
	} else if (h->streamed && h->sent > STREAM_BLOCK) {
		got = h->sent - STREAM_BLOCK;
	}
	if (got > len)
		got = len;
	if (got)
		api_download_cover(r, h->id, h->size, first, first + got - 1,
				   now);
}

void api_download_ended(struct pt_req *r, const char *id, int64_t cooldown)
{
	struct app *app = r->ctx;
	slots_cooldown_start(app->slots, r->client_ip, id, pt_now(), cooldown);
}

bool api_download_cover(struct pt_req *r, const char *id, uint64_t size,
			uint64_t first, uint64_t last, int64_t now)
{
	struct app *app = r->ctx;
	if (!coverage_add(app->coverage, id, r->client_ip, size, first, last,
			  now))
		return false;
	metrics_add(app->metrics, M_DOWNLOADS, 1);
	counts_bump(app->counts, id, now);
	return true;
}

/* The wait of a GET: false when a valid ticket lets it go or it is to be
 * held (*hold; *early: the seconds until its ticket is valid, or -1), or
 * true with the reply in *rc (an API client's 429, a browser's 303 to the
 * page, a bad ticket's 429). */
static bool gate_wait_or_reply(struct pt_req *r, const char *kind,
			       const char *id,
			       const struct download_rules *rules, bool *hold,
			       int64_t *early, req_res *rc)
{
	struct app *app = r->ctx;
	int64_t now = pt_now(), retry = rules->wait_seconds;
	const char *ra;
	const char *t = req_query(r, "ticket");
	if (!t)
		t = req_header(r, "X-Partage-Ticket");
	enum ticket_status ts =
		ticket_verify(app->secret, t, id, r->client_ip, now, &retry);
	*hold = false;
	*early = -1;
	if (ts == TICKET_OK)
		return false;
	bool browser = req_accepts(r, "text/html");
	bool api = !browser && req_accepts(r, "application/json");
	if (api && (ts == TICKET_MISSING || ts == TICKET_EARLY)) {
		/* an API client asked for JSON: the ticket protocol, to
		 * follow on its own (docs/api.md), not a hold */
		ra = req_retry_after(r, ts == TICKET_EARLY
						? retry
						: rules->wait_seconds);
		if (ts == TICKET_EARLY)
			*rc = reply_error(r, PT_ELIMIT, NULL,
					  "too many requests: the ticket is "
					  "valid in %s seconds",
					  ra);
		else
			*rc = reply_error(r, PT_ELIMIT, NULL,
					  "too many requests: this download "
					  "needs a ticket: POST "
					  "/api/v1/%s/%s/ticket, wait %s "
					  "seconds, then add ?ticket=TICKET "
					  "(or ask without Accept: "
					  "application/json to be held)",
					  kind, id, ra);
		return true;
	}
	if (ts == TICKET_INVALID || ts == TICKET_EXPIRED) {
		req_retry_after(r, rules->wait_seconds);
		*rc = reply_error(r, PT_ELIMIT, NULL,
				  "too many requests: invalid or expired "
				  "ticket for '%s': get a new one on the "
				  "page, or ask without one and wait",
				  id);
		return true;
	}
	if (ts == TICKET_MISSING && browser) {
		/* a person: the page has the countdown and the button */
		struct resp *resp = resp_new(NULL, 0, RESP_STATIC);
		resp_header(
			resp, "Location",
			pt_psprintf(r->pool, "%s/%s%s", app->public_url,
				    strcmp(kind, "folders") == 0 ? "folder/"
								 : "",
				    id));
		resp_header(resp, "Cache-Control", "no-store");
		*rc = reply_queue(r, 303, resp);
		return true;
	}
	*hold = true;
	if (ts == TICKET_EARLY)
		*early = retry;
	return false;
}

bool api_download_gate_or_reply(struct pt_req *r, const char *kind,
				const char *id, uint64_t size,
				const struct download_rules *rules,
				struct download_pass *p, req_res *rc)
{
	struct app *app = r->ctx;
	char ra[24], other[SLOTS_ID_MAX] = "";
	bool hold = false;
	int64_t early = -1, now = pt_now(), ready = now;

	p->slot = 0;
	p->not_before = 0;
	p->cooldown = rules->cooldown;
	if (rules->max_bytes && size > rules->max_bytes) {
		*rc = reply_error(r, PT_EFORBIDDEN, NULL,
				  "forbidden: files over %llu bytes need a "
				  "premium account",
				  (unsigned long long)rules->max_bytes);
		return true;
	}
	if (r->method != HTTP_GET)
		return false; /* HEAD shows what a GET would get, freely */
	if (rules->wait_seconds &&
	    gate_wait_or_reply(r, kind, id, rules, &hold, &early, rc))
		return true;
	/* the slot before the countdown: a download refused here has not
	 * begun its wait (a queued request waits its turn, then its wait) */
	struct slots_claim c = { r->client_ip, id, req_socket(r),
				 rules->parallel, rules->connections };
	enum slots_result sr = slots_acquire(app->slots, &c, &p->slot, other);
	if (sr == SLOTS_OK && p->slot) {
		/* the same limits over every node (cluster.c) */
		int cr = cluster_slot_take(app, r->client_ip, id, p->slot,
					   rules->parallel, rules->connections,
					   other, sizeof(other));
		if (cr != REPO_SLOT_OK) {
			slots_release(app->slots, r->client_ip, p->slot);
			p->slot = 0;
			sr = cr == REPO_SLOT_PARALLEL ? SLOTS_PARALLEL
						      : SLOTS_CONNECTIONS;
		}
	}
	switch (sr) {
	case SLOTS_OK:
		break;
	case SLOTS_CONNECTIONS:
		/* an extra connection of a download: download managers go
		 * on with the ones they have (aria2c -x4 does) */
		req_retry_after(r, 10);
		*rc = reply_error(r, PT_EUNAVAIL, NULL,
				  "service unavailable: this download "
				  "already has its %llu connection%s on this "
				  "tier: go on with %s, or get premium",
				  (unsigned long long)rules->connections,
				  rules->connections == 1 ? "" : "s",
				  rules->connections == 1 ? "it" : "them");
		return true;
	case SLOTS_PARALLEL:
		req_retry_after(r, 10);
		*rc = reply_error(r, PT_ELIMIT, NULL,
				  "too many requests: this address is "
				  "downloading '%s'; %llu download%s at a time "
				  "on this tier: retry when it ends, or get "
				  "premium",
				  other, (unsigned long long)rules->parallel,
				  rules->parallel == 1 ? "" : "s");
		return true;
	default:
		req_retry_after(r, 10);
		*rc = reply_error(r, PT_EUNAVAIL, NULL,
				  "service unavailable: too many downloads "
				  "going on: retry in 10 seconds");
		return true;
	}
	if (hold) {
		/* the countdown of this address and id, which the first
		 * request started, or a ticket that is valid sooner */
		ready = slots_countdown(app->slots, r->client_ip, id, now,
					rules->wait_seconds);
		if (early >= 0 && (!ready || now + early < ready))
			ready = now + early;
		if (!ready) { /* no room to remember a countdown: say when */
			api_download_unhold(r, &p->slot);
			*rc = reply_error(r, PT_ELIMIT, NULL,
					  "too many requests: this download "
					  "needs a ticket: POST "
					  "/api/v1/%s/%s/ticket, wait %s "
					  "seconds, then add ?ticket=TICKET",
					  kind, id,
					  req_retry_after(r,
							  rules->wait_seconds));
			return true;
		}
	}
	int64_t cool = rules->cooldown ? slots_cooldown_until(
						 app->slots, r->client_ip, id,
						 now)
				       : 0;
	if (cool > now && !req_accepts(r, "text/html") &&
	    req_accepts(r, "application/json")) {
		api_download_unhold(r, &p->slot);
		*rc = reply_error(r, PT_ELIMIT, NULL,
				  "too many requests: downloads from one "
				  "address are %lld seconds apart on this "
				  "tier: the next may start in %s seconds, "
				  "or get premium",
				  (long long)rules->cooldown,
				  req_retry_after(r, cool - now));
		return true;
	}
	if (cool > ready)
		ready = cool;
	if (ready > now) {
		p->not_before = pt_mono_ns() +
				(uint64_t)(ready - now) * 1000000000ull;
		snprintf(ra, sizeof(ra), "%lld", (long long)(ready - now));
		req_reply_header(r, "X-Partage-Wait", ra);
	}
	return false;
}

/* A request the store can answer as we would: GET, at most one range
 * as sent (the client repeats its Range header to the store, which may
 * not merge or support several; ours may have merged them), and no
 * conditional header — those name our ETag (the SHA-256) and the link's
 * date, which the store's own validators (MD5, blob date) would
 * contradict, so they are answered here, by streaming. */
static bool redirectable(struct pt_req *r, const char *range_hdr,
			 enum range_result rr, const struct range_set *rs)
{
	static const char *const conds[] = { "If-Match", "If-None-Match",
					     "If-Modified-Since",
					     "If-Unmodified-Since",
					     "If-Range" };
	if (r->method != HTTP_GET || (rr == RANGE_OK && rs->n > 1) ||
	    (range_hdr && strchr(range_hdr, ',')))
		return false;
	for (size_t i = 0; i < PT_ARRAY_LEN(conds); i++)
		if (req_header(r, conds[i]))
			return false;
	return true;
}

/* 302 to a presigned URL of the blob: the store or a CDN carries the
 * bytes, with the name and type we would send.  The response is over as
 * soon as the redirect is sent, so download_complete counts the ranges
 * of this request then: the node cannot see the transfer (docs/api.md). */
static req_res redirect_reply(struct pt_req *r, const struct link *l)
{
	struct app *app = r->ctx;
	struct pt_buf disp;
	char *url = NULL;
	bool attach = disp_type_is_active(l->mime) ||
		      req_query(r, "download") != NULL;

	pt_buf_init(&disp, 8192);
	disp_build(&disp, l->name, attach);
	struct blob_presign ps = {
		.content_type = l->mime,
		.content_disposition = disp.p,
		.seconds = app->conf->s3_presign_seconds,
		/* the store checks the expiry on its own clock, not on
		 * pt_now(), which PARTAGE_TIME_OFFSET shifts */
		.now = (int64_t)time(NULL),
	};
	int err = blob_presign(app->blobs, l->sha256, &ps, &url);
	pt_buf_release(&disp);
	if (err)
		return reply_error(r, err, NULL,
				   "internal error: no presigned URL for '%s'",
				   l->id);
	struct resp *resp = resp_new(NULL, 0, RESP_STATIC);
	resp_header(resp, "Location", url);
	/* the URL expires: no cache may keep the redirect */
	resp_header(resp, "Cache-Control", "no-store");
	resp_header(resp, "Vary", "Accept");
	free(url);
	metrics_add(app->metrics, M_PRESIGNED, 1);
	return reply_queue(r, 302, resp);
}

/* A GET of a Max-Downloads link, before it is answered: reserve the
 * bytes it will send against the link's budget (repo.h), or answer 410.
 * An empty file has no bytes to count: each GET of it is one download. */
static bool budget_begin_or_reply(struct pt_req *r, struct link *l,
				  struct held *h, enum range_result rr,
				  const struct range_set *rs, req_res *rc)
{
	struct app *app = r->ctx;
	struct db *db = app_db(app);
	int64_t size = (int64_t)l->size, sent = 0;
	int err;

	if (!db) {
		*rc = reply_error(r, PT_EUNAVAIL, NULL,
				  "service unavailable: try again");
		return true;
	}
	if (size == 0) {
		err = repo_link_take_download(db, l->id, pt_now());
		if (!err)
			l->downloads++;
		goto out;
	}
	h->b.size = size;
	h->b.total = l->max_downloads > INT64_MAX / size
			     ? INT64_MAX
			     : l->max_downloads * size;
	h->b.last_from = h->b.total == INT64_MAX ? INT64_MAX - size
						 : h->b.total - size;
	h->b.slack = size < RESUME_SLACK_TOTAL ? size : RESUME_SLACK_TOTAL;
	h->reserved = 0;
	if (rr == RANGE_OK)
		for (size_t i = 0; i < rs->n; i++)
			h->reserved += rs->r[i].last - rs->r[i].first + 1;
	else
		h->reserved = l->size;
	err = repo_link_budget_take(db, l->id, &h->b, h->reserved,
				    r->client_ip, pt_now(), &sent);
	if (!err) {
		h->budget = true;
		h->has_acked = tcp_acked(r, &h->acked0);
		/* X-Remaining-Downloads: the copies nobody has begun */
		l->downloads = sent / size + (sent % size != 0);
	}
out:
	if (err == PT_ECONFLICT)
		*rc = reply_error(r, PT_EGONE, "in-use",
				  "gone: the last download of '%s' is another "
				  "address's",
				  l->id);
	else if (err == PT_EGONE)
		*rc = reply_error(r, PT_EGONE, "expired",
				  "gone: '%s' has delivered its %lld "
				  "download%s",
				  l->id, (long long)l->max_downloads,
				  l->max_downloads == 1 ? "" : "s");
	else if (err)
		*rc = reply_error(r, err, NULL,
				  "service unavailable: try again");
	return err != 0;
}

/* The bytes of the status line and headers of resp as they will go out,
 * a little high (what the engine adds itself is estimated): what a cut-short
 * response's TCP count holds besides the body. */
static uint64_t header_bytes(struct pt_req *r, struct resp *resp)
{
	uint64_t n = 160; /* status line, Date, Content-Length, Connection */
	n += resp_header_bytes(resp);
	for (struct reply_header *x = r->extra; x; x = x->next)
		n += strlen(x->name) + strlen(x->value) + 4;
	return n + 16; /* "Server: partage" */
}

/*
 * Opening a blob that may block (S3: a HEAD) happens on the ahead pool's
 * threads, not on the event loop: the handler queues the open, suspends
 * (req_suspend), and runs again from the start when the worker resumes
 * it; that run finds the reader (or the error) in r->async_io.  The
 * reader belongs to the request's pool until a response takes it, so a
 * client gone meanwhile, or a refusal by the gate, closes it.
 */
struct blob_open {
	struct ahead_task task;
	struct pt_req *r;
	struct blob_store *blobs;
	char hex[BLOB_HEX_LEN + 1];
	struct blob_reader *rd;
	int err;
	bool done;
};

static void blob_open_task(struct ahead_task *t, bool cancelled)
{
	struct blob_open *o = (struct blob_open *)t;
	if (cancelled)
		o->err = PT_EUNAVAIL; /* the server is stopping */
	else
		o->err = blob_reader_open(o->blobs, o->hex, &o->rd);
	__atomic_store_n(&o->done, true, __ATOMIC_RELEASE);
	req_resume(o->r); /* the request's post: the loop runs it again */
}

static void blob_open_cleanup(void *arg)
{
	struct blob_open *o = arg;
	blob_reader_close(o->rd);
	o->rd = NULL;
}

/* Open l's blob off the loop when it may block and the engine can wait:
 * true with *rc when the request is suspended for it (return *rc); false
 * with *o the finished open (NULL: open in place, as before). */
static bool blob_open_or_suspend(struct pt_req *r, const struct link *l,
				 struct blob_open **o, req_res *rc)
{
	struct app *app = r->ctx;
	*o = r->async_io;
	if (*o)
		return false; /* the run after the open */
	if (!app->ahead || !blob_store_may_block(app->blobs) ||
	    !req_pull_offload(r) || !req_can_suspend(r))
		return false;
	struct blob_open *x = pt_palloc(r->pool, sizeof(*x));
	memset(x, 0, sizeof(*x));
	x->task.fn = blob_open_task;
	x->r = r;
	x->blobs = app->blobs;
	memcpy(x->hex, l->sha256, sizeof(x->hex));
	x->hex[BLOB_HEX_LEN] = '\0';
	pt_pool_cleanup_add(r->pool, blob_open_cleanup, x);
	*rc = req_suspend(r);
	if (!req_res_ok(*rc))
		return false; /* cannot wait here: open in place */
	r->async_io = x;
	if (ahead_pool_run(app->ahead, &x->task)) {
		/* the server is stopping: nothing will resume it */
		x->err = PT_EUNAVAIL;
		x->done = true;
		req_resume(r);
	}
	return true;
}

static req_res serve_held(struct pt_req *r, const char *id, struct held *h)
{
	struct app *app = r->ctx;
	struct link l;
	struct blob_reader *rd = NULL;
	struct range_set rs;
	enum range_result rr = RANGE_IGNORE;
	char etag[BLOB_HEX_LEN + 3], lastmod[32];
	void *rd_cleanup = NULL;
	req_res rc;
	int err;

	/* every tier check comes before the bytes, and before a redirect:
	 * takedowns (410/451), password, size limit, ticket, parallel */
	if (api_link_lookup_or_reply(r, id, &l, &rc, true))
		return rc;
	if (api_link_password_or_reply(r, &l, &rc) ||
	    scan_download_or_reply(r, &l, &rc))
		return rc;
	struct download_rules rules;
	struct download_pass pass;
	policy_download(app->conf, api_who(r), &rules);
	/* the blob is opened first, off the loop (a HEAD on S3), unless the
	 * answer may well be a redirect to the store (no open then) */
	struct blob_open *opened = NULL;
	if ((!rules.redirect || l.max_downloads) &&
	    blob_open_or_suspend(r, &l, &opened, &rc))
		return rc;
	memcpy(h->id, l.id, sizeof(h->id));
	bool gated = api_download_gate_or_reply(r, "files", l.id, l.size,
						&rules, &pass, &rc);
	h->slot = pass.slot;
	h->cooldown = pass.cooldown;
	if (gated)
		return rc;
	snprintf(etag, sizeof(etag), "\"%s\"", l.sha256);
	pt_http_date(l.created, lastmod);

	const char *range_hdr;
	if (api_validate_or_reply(r, etag, l.created, lastmod, l.size, &rs, &rr,
				  &range_hdr, &rc))
		return rc;
	/* a Max-Downloads link is streamed here: its budget must see what
	 * a cut-short transfer delivered */
	bool redirect = rules.redirect && !l.max_downloads &&
			!pass.not_before && /* a hold is ours to keep */
			redirectable(r, range_hdr, rr, &rs);
	if (!redirect) {
		if (opened) { /* done off the loop: the reader is ours now */
			err = opened->err;
			rd = opened->rd;
			opened->rd = NULL;
		} else {
			err = blob_reader_open_cached(app->blobs,
						      app->blobcache, l.sha256,
						      &rd);
		}
		if (err) {
			pt_log("download: blob %s of link %s cannot be "
			       "opened: %s",
			       l.sha256, l.id, pt_strerror(err));
			return reply_error(
				r, err == -ENOENT ? PT_EINTERNAL : err, NULL,
				"internal error: the stored bytes of '%s' "
				"are unavailable",
				l.id);
		}
		/* the pool closes the reader unless a response takes it */
		rd_cleanup = pt_pool_cleanup_add(r->pool, reader_close_cb, rd);
		uint64_t bsize = blob_reader_size(rd);
		if (bsize != l.size) {
			pt_log("download: blob %s is %llu bytes, expected %llu",
			       l.sha256, (unsigned long long)bsize,
			       (unsigned long long)l.size);
			return reply_error(r, PT_ECORRUPT, NULL,
					   "internal error: stored data of "
					   "'%s' is damaged",
					   l.id);
		}
	}
	uint64_t size = l.size;

	if (r->method == HTTP_GET && l.max_downloads) {
		/* Max-Downloads: counted by the link's byte budget */
		if (budget_begin_or_reply(r, &l, h, rr, &rs, &rc))
			return rc;
	} else if (r->method == HTTP_GET) {
		/* counted by coverage, whatever the first byte: ranges from
		 * several connections add up (aria2c -x8 is one download) */
		h->count = true;
		h->has_acked = tcp_acked(r, &h->acked0);
	}
	h->size = size;
	if (rr == RANGE_OK)
		h->ranges = rs;
	else if (size)
		h->ranges = (struct range_set){ 1, { { 0, size - 1 } } };
	if (redirect)
		return redirect_reply(r, &l);
	struct cap cap = { r->method == HTTP_GET ? rules.speed : 0,
			   pass.not_before, r, app->throttle, &h->sent,
			   h->slot ? held_last_byte : NULL, r, req_socket(r),
			   h->count ? &h->body_at : NULL, app->ahead };

	/* from here a response owns the reader: drop it from the pool */
	struct resp *resp;
	int status = 200;
	const char *ctype = l.mime;
	uint64_t body_len = size;
	pt_pool_cleanup_disarm(rd_cleanup);
	if (rr == RANGE_OK && rs.n > 1) {
		resp = download_multipart_response(r, rd, &rs, l.mime, &ctype,
						   &cap, &body_len);
		status = 206;
	} else if (rr == RANGE_OK) {
		char cr206[80];
		snprintf(cr206, sizeof(cr206),
			 "bytes %" PRIu64 "-%" PRIu64 "/%" PRIu64, rs.r[0].first,
			 rs.r[0].last, size);
		body_len = rs.r[0].last - rs.r[0].first + 1;
		h->streamed = download_range_streams(rd, body_len, &cap);
		resp = download_range_response(rd, rs.r[0].first, body_len, &cap);
		resp_header(resp, "Content-Range", cr206);
		status = 206;
	} else {
		h->streamed = download_range_streams(rd, size, &cap);
		resp = download_range_response(rd, 0, size, &cap);
	}
	resp_header(resp, "Content-Type", ctype);
	api_add_validators(resp, etag, lastmod);
	add_file_headers(r, resp, &l);
	r->bytes_out = r->method == HTTP_HEAD ? 0 : body_len;
	h->body = body_len > 0; /* an empty file's 200 has none to wait for */
	h->hdr_len = header_bytes(r, resp);
	return reply_queue(r, status, resp);
}

static req_res serve(struct pt_req *r, const char *id)
{
	struct held *h = pt_palloc(r->pool, sizeof(*h));
	r->state = h;
	r->on_complete = download_complete;
	req_res rc = serve_held(r, id, h);
	/* an answer without bytes (304, 416, 410, a redirect, an error, an
	 * empty file) frees the slot now: the client may have it all and ask again
	 * before the engine reports this response complete */
	if (!h->body)
		api_download_unhold(r, &h->slot);
	return rc;
}

req_res api_download(struct pt_req *r)
{
	return serve(r, r->arg[0].p);
}

req_res api_share(struct pt_req *r)
{
	/* browsers get the page; curl, wget and friends (Accept: any) the
	 * bytes, so `curl SHARE_URL` downloads like on other curl hosts */
	const struct principal *who = api_who(r);
	/* one URL, two representations: caches must key on Accept */
	req_reply_header(r, "Vary", "Accept");
	if (req_accepts(r, "text/html")) {
		/* premium "direct downloads": the page link goes straight to
		 * the bytes */
		if (who->tier == PT_TIER_PREMIUM && who->direct_downloads) {
			struct app *app = r->ctx;
			struct link l;
			req_res rc;
			if (api_link_lookup_or_reply(r, r->arg[0].p, &l, &rc,
						     false))
				return rc;
			struct resp *resp = resp_new(NULL, 0, RESP_STATIC);
			resp_header(
				resp, "Location",
				api_download_url(app, r->pool, &l));
			return reply_queue(r, 302, resp);
		}
		return api_page(r);
	}
	return serve(r, r->arg[0].p);
}
