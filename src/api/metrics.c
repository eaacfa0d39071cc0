/*
 * metrics.c — counters for GET /metrics (Prometheus text format 0.0.4).
 *
 * Lock-free: relaxed atomic adds on fixed arrays indexed by route and by a
 * small table of statuses, so counting costs a few instructions per
 * request and never contends.
 */
#include "handlers.h"

#include <stdio.h>
#include <stdlib.h>

#include "../http/reply.h"
#include "../util/buf.h"
#include "../util/banned.h"

static const int statuses[] = { 200, 201, 204, 206, 302, 304, 400, 401,
				403, 404, 405, 409, 410, 412, 413, 415,
				416, 429, 451, 500, 503, 507, 0 /* other */ };
#define NSTATUS PT_ARRAY_LEN(statuses)

struct metrics {
	unsigned nroutes; /* + 1 for "none" */
	uint64_t gc_expired, gc_blobs, gc_bytes, gc_passes;
	int64_t live_links, logical_bytes, blobs, stored_bytes;
	int64_t elected;
	uint64_t *req;    /* [(nroutes + 1) * NSTATUS] */
	uint64_t bytes_in, bytes_out;
	int64_t active;
	uint64_t c[M_COUNTERS];
};

struct metrics *metrics_new(unsigned nroutes)
{
	struct metrics *m = xcalloc(1, sizeof(*m));
	m->nroutes = nroutes;
	m->req = xcalloc((nroutes + 1) * NSTATUS, sizeof(uint64_t));
	return m;
}

void metrics_free(struct metrics *m)
{
	if (!m)
		return;
	free(m->req);
	free(m);
}

static size_t status_index(int status)
{
	for (size_t i = 0; i < NSTATUS - 1; i++)
		if (statuses[i] == status)
			return i;
	return NSTATUS - 1;
}

void metrics_request(struct metrics *m, int route, int status,
		     uint64_t bytes_in, uint64_t bytes_out)
{
	unsigned ri = route < 0 || (unsigned)route >= m->nroutes
			      ? m->nroutes
			      : (unsigned)route;
	__atomic_add_fetch(&m->req[ri * NSTATUS + status_index(status)], 1,
			   __ATOMIC_RELAXED);
	__atomic_add_fetch(&m->bytes_in, bytes_in, __ATOMIC_RELAXED);
	__atomic_add_fetch(&m->bytes_out, bytes_out, __ATOMIC_RELAXED);
}

void metrics_connection(struct metrics *m, int delta)
{
	__atomic_add_fetch(&m->active, delta, __ATOMIC_RELAXED);
}

void metrics_add(struct metrics *m, enum metric_counter c, uint64_t n)
{
	__atomic_add_fetch(&m->c[c], n, __ATOMIC_RELAXED);
}

void metrics_gc(struct metrics *m, const struct gc_stats *st)
{
	__atomic_add_fetch(&m->gc_passes, 1, __ATOMIC_RELAXED);
	__atomic_add_fetch(&m->gc_expired, (uint64_t)st->expired_links,
			   __ATOMIC_RELAXED);
	__atomic_add_fetch(&m->gc_blobs, (uint64_t)st->reaped_blobs,
			   __ATOMIC_RELAXED);
	__atomic_add_fetch(&m->gc_bytes, (uint64_t)st->reaped_bytes,
			   __ATOMIC_RELAXED);
}

void metrics_elected(struct metrics *m, bool elected)
{
	__atomic_store_n(&m->elected, elected ? 1 : 0, __ATOMIC_RELAXED);
}

void metrics_store(struct metrics *m, const struct repo_stats *st)
{
	__atomic_store_n(&m->live_links, st->live_links, __ATOMIC_RELAXED);
	__atomic_store_n(&m->logical_bytes, st->logical_bytes,
			 __ATOMIC_RELAXED);
	__atomic_store_n(&m->blobs, st->blobs, __ATOMIC_RELAXED);
	__atomic_store_n(&m->stored_bytes, st->stored_bytes, __ATOMIC_RELAXED);
}

static uint64_t load(const uint64_t *p)
{
	return __atomic_load_n(p, __ATOMIC_RELAXED);
}

req_res api_metrics(struct pt_req *r)
{
	struct app *app = r->ctx;
	struct metrics *m = app->metrics;
	struct pt_buf b;
	static const struct { const char *name, *help; } names[M_COUNTERS] = {
		[M_UPLOADS] = { "partage_uploads_total",
				"Files received and committed." },
		[M_UPLOAD_BYTES] = { "partage_upload_bytes_total",
				     "Bytes of committed uploads." },
		[M_DOWNLOADS] = { "partage_downloads_total",
				  "Downloads that delivered byte 0 and finished." },
		[M_DEDUP_HITS] = { "partage_dedup_hits_total",
				   "Uploads whose content was already stored." },
		[M_PRESIGNED] = { "partage_presigned_redirects_total",
				  "Downloads redirected to a presigned URL of "
				  "the object store." },
	};

	pt_buf_init(&b, 1 << 22);
	pt_buf_adds(&b, "# HELP partage_requests_total HTTP requests by route "
			"and status.\n# TYPE partage_requests_total counter\n");
	for (unsigned ri = 0; ri <= m->nroutes; ri++) {
		const char *route =
			ri < m->nroutes ? api_routes[ri].name : "none";
		for (size_t si = 0; si < NSTATUS; si++) {
			uint64_t v = load(&m->req[ri * NSTATUS + si]);
			if (!v)
				continue;
			if (statuses[si])
				pt_buf_addf(&b,
					    "partage_requests_total{route=\"%s\","
					    "status=\"%d\"} %llu\n",
					    route, statuses[si],
					    (unsigned long long)v);
			else
				pt_buf_addf(&b,
					    "partage_requests_total{route=\"%s\","
					    "status=\"other\"} %llu\n",
					    route, (unsigned long long)v);
		}
	}
	pt_buf_addf(&b,
		    "# HELP partage_bytes_in_total Request body bytes received.\n"
		    "# TYPE partage_bytes_in_total counter\n"
		    "partage_bytes_in_total %llu\n"
		    "# HELP partage_bytes_out_total Response body bytes queued.\n"
		    "# TYPE partage_bytes_out_total counter\n"
		    "partage_bytes_out_total %llu\n"
		    "# HELP partage_active_connections Open client connections.\n"
		    "# TYPE partage_active_connections gauge\n"
		    "partage_active_connections %lld\n"
		    "# HELP partage_throttled_downloads Capped downloads "
		    "suspended until their next burst.\n"
		    "# TYPE partage_throttled_downloads gauge\n"
		    "partage_throttled_downloads %llu\n",
		    (unsigned long long)load(&m->bytes_in),
		    (unsigned long long)load(&m->bytes_out),
		    (long long)__atomic_load_n(&m->active, __ATOMIC_RELAXED),
		    (unsigned long long)throttle_waiting(app->throttle));
	static const struct { const char *name, *help, *type; } gc[] = {
		{ "partage_gc_passes_total", "Garbage-collection passes.",
		  "counter" },
		{ "partage_gc_expired_links_total",
		  "Links expired by gc (limits and retention).", "counter" },
		{ "partage_gc_reclaimed_blobs_total",
		  "Blobs deleted because no live link named them.", "counter" },
		{ "partage_gc_reclaimed_bytes_total", "Bytes those blobs held.",
		  "counter" },
		{ "partage_live_links", "Links that can be downloaded.", "gauge" },
		{ "partage_logical_bytes",
		  "Bytes of all live links (what users see).", "gauge" },
		{ "partage_blobs", "Distinct contents stored.", "gauge" },
		{ "partage_stored_bytes",
		  "Bytes stored (logical/stored is the dedup ratio).", "gauge" },
		{ "partage_maintenance_elected",
		  "1 on the one node that runs gc and the storage gauges.",
		  "gauge" },
	};
	long long gv[] = {
		(long long)load(&m->gc_passes),
		(long long)load(&m->gc_expired),
		(long long)load(&m->gc_blobs),
		(long long)load(&m->gc_bytes),
		(long long)__atomic_load_n(&m->live_links, __ATOMIC_RELAXED),
		(long long)__atomic_load_n(&m->logical_bytes, __ATOMIC_RELAXED),
		(long long)__atomic_load_n(&m->blobs, __ATOMIC_RELAXED),
		(long long)__atomic_load_n(&m->stored_bytes, __ATOMIC_RELAXED),
		(long long)__atomic_load_n(&m->elected, __ATOMIC_RELAXED),
	};
	for (size_t i = 0; i < PT_ARRAY_LEN(gc); i++)
		pt_buf_addf(&b, "# HELP %s %s\n# TYPE %s %s\n%s %lld\n",
			    gc[i].name, gc[i].help, gc[i].name, gc[i].type,
			    gc[i].name, gv[i]);
	for (int c = 0; c < M_COUNTERS; c++)
		pt_buf_addf(&b, "# HELP %s %s\n# TYPE %s counter\n%s %llu\n",
			    names[c].name, names[c].help, names[c].name,
			    names[c].name, (unsigned long long)load(&m->c[c]));
	struct resp *resp = resp_new(b.p, b.n, RESP_COPY);
	pt_buf_release(&b);
	resp_header(resp, "Content-Type",
		    "text/plain; version=0.0.4; charset=utf-8");
	return reply_queue(r, 200, resp);
}
