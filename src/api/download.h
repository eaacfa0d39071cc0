/*
 * download.h — the download service (download.c, download_body.c) that the
 * bytes of files and of folder zips (folders.c) share: the tier's gate
 * (wait, hold, slots, cooldown), speed caps, validators and conditionals,
 * and counting by bytes delivered.
 */
#ifndef PT_DOWNLOAD_H
#define PT_DOWNLOAD_H

#include "app.h"

/* download.c (speed_cap_*: download_body.c), shared with folder zips
 * (folders.c) */
/* A streamed response's speed cap: a token bucket, and req_pause/req_wake
 * by the throttle thread while it is empty; and the hold of a ticketless
 * download: no byte before not_before.  rate 0: no cap. */
struct speed_cap {
	struct bucket bucket;
	uint64_t not_before;       /* pt_mono_ns(); 0: no hold */
	uint64_t keep_at;          /* the hold's next keep-alive byte */
	struct pt_req *r;
	struct throttle *throttle; /* NULL: no cap, no hold */
	bool timed;                /* paused on the engine's timers (counted
				    * in the throttle's gauge) */
};
void speed_cap_init(struct speed_cap *c, uint64_t rate, uint64_t not_before,
		    struct pt_req *r, struct throttle *throttle);
/* In a pull callback (reply.h) with `left` bytes still to send: how many
 * of max it may produce now (> 0); 0 after pausing the request until
 * tokens are back or the hold is over (the callback returns 0); -1 when it could
 * not be scheduled (end the response with an error).  Never blocks. */
ssize_t speed_cap_take(struct speed_cap *c, uint64_t left, size_t max);
/* The stream is over (its free callback). */
void speed_cap_end(struct speed_cap *c);
/* What the gate grants a download. */
struct download_pass {
	uint64_t slot;       /* slots.h token; 0: none held */
	uint64_t not_before; /* the hold: pt_mono_ns() before which no byte
			      * of the body goes; 0: none */
	int64_t cooldown;    /* the tier's cooldown_seconds: start it when
			      * the response ends (api_download_ended) */
};
/* The tier's gate in front of the bytes of `id` (kind "files" or
 * "folders", for the ticket and page URLs): the size limit (403), the
 * wait (GET only: a valid ticket passes; a browser without one is sent
 * to the page, 303; any other client is held: p->not_before is when its
 * countdown, bound to (address, id), ends, and the response must send no
 * byte of the body before), the parallel downloads of the address (429)
 * and the connections of this download (503).  p->slot is set when a
 * slot is taken: release it with api_download_unhold.  Returns false,
 * or true with the refusal's result in *rc. */
struct download_rules;
bool api_download_gate_or_reply(struct pt_req *r, const char *kind,
				const char *id, uint64_t size,
				const struct download_rules *rules,
				struct download_pass *p, req_res *rc);
/* Release the slot the gate took, if any, and clear it: when the last
 * byte is in the engine's hands, when the answer carries no bytes (304, 416, an
 * error), or when the response ends. */
void api_download_unhold(struct pt_req *r, uint64_t *slot);
/* A GET's response with bytes of id ended: the address's next download
 * of another id waits `cooldown` seconds (slots.h). */
void api_download_ended(struct pt_req *r, const char *id, int64_t cooldown);
/* ETag, Last-Modified, Accept-Ranges, Cache-Control and Vary: Accept of
 * a downloadable representation. */
void api_add_validators(struct resp *resp, const char *etag,
			const char *lastmod);
/* Conditionals (cond.c) and Range (range.c) of a GET or HEAD of a
 * representation of `size` bytes with these validators: true with
 * the 304/412/416 reply's result in *rc, or false with *rr RANGE_IGNORE or
 * RANGE_OK (*rs filled) and *range_hdr the request's Range (or NULL). */
bool api_validate_or_reply(struct pt_req *r, const char *etag, int64_t mtime,
			   const char *lastmod, uint64_t size,
			   struct range_set *rs, enum range_result *rr,
			   const char **range_hdr, req_res *rc);
/* Bytes [first, last] of file id (size bytes) reached the request's
 * client: true when that completed a counted download (coverage.c),
 * which is then in the metrics and the link's counter. */
bool api_download_cover(struct pt_req *r, const char *id, uint64_t size,
			uint64_t first, uint64_t last, int64_t now);

#endif
