/*
 * quota.c — where the viewing quota lives (issue 16): in the database
 * when the metadata is PostgreSQL (several nodes may serve one viewer:
 * table stream_quota, repo_quota.c), in the node's memory otherwise
 * (SQLite is one node: media.c's table).
 *
 * The rules are the memory table's (media.c, core/media.h): a /stream
 * response reserves the media time of its range in the viewer's entries
 * (address, and account when logged in), cut to what is left, and gives
 * back what it did not deliver when it ends.  On PostgreSQL each of those
 * is one short transaction that locks the viewer's rows (an upsert), so
 * two nodes serving ranges of one player at once draw on one allowance,
 * and a reservation in flight on one node is seen by the other.  If the
 * database fails, the node falls back to its memory table for that
 * response (the quota then holds per node, as before).  A node that dies
 * with reservations in flight leaves them counted until the window ends
 * (allowance + wait at most): a viewer may lose time, never gain it.
 */
#include "app.h"

#include <stdio.h>
#include <string.h>

#include "../util/banned.h"

#define KEY_MAX 72
/* Retry-After when the quota is taken by responses still in flight (as
 * media.c's MEDIA_INFLIGHT_RETRY) */
#define INFLIGHT_RETRY 2

static bool shared_db(struct app *app, struct db **db)
{
	*db = app_db(app);
	return *db && strcmp(db_backend(*db), "postgres") == 0;
}

static int keys_of(const struct media_viewer *v, char keys[2][KEY_MAX],
		   const char *p[2])
{
	int n = 0;
	snprintf(keys[n], KEY_MAX, "a:%s", v->address);
	p[n] = keys[n];
	n++;
	if (v->user_id) {
		snprintf(keys[n], KEY_MAX, "u:%lld", (long long)v->user_id);
		p[n] = keys[n];
		n++;
	}
	return n;
}

struct reserve {
	const struct media_viewer *v;
	int64_t want, now, grant, retry;
};

/* media_quota_reserve's rule on the windows read under their locks */
static void reserve_fn(struct media_quota *q, int n, void *arg)
{
	struct reserve *a = arg;
	int64_t grant = a->want;
	a->retry = 0;
	for (int i = 0; i < n; i++) {
		int64_t ra;
		if (!media_quota_allows(&q[i], a->v->allowance_ms, a->v->wait_s,
					a->now, &ra)) {
			if (ra > a->retry)
				a->retry = ra;
			grant = 0;
			continue;
		}
		int64_t left = a->v->allowance_ms - q[i].used_ms;
		if (left <= 0) {
			if (INFLIGHT_RETRY > a->retry)
				a->retry = INFLIGHT_RETRY;
			grant = 0;
		} else if (left < grant) {
			grant = left;
		}
	}
	if (grant > 0)
		for (int i = 0; i < n; i++) {
			if (!q[i].start)
				q[i].start = a->now;
			q[i].used_ms += grant;
		}
	a->grant = grant;
}

int64_t stream_quota_reserve(struct app *app, const struct media_viewer *v,
			     int64_t want_ms, int64_t now, int64_t *retry_after,
			     bool *shared)
{
	struct db *db;
	*shared = false;
	*retry_after = 0;
	if (v->allowance_ms <= 0)
		return want_ms; /* unlimited */
	if (shared_db(app, &db)) {
		char keys[2][KEY_MAX];
		const char *p[2];
		int n = keys_of(v, keys, p);
		struct reserve a = { v, want_ms, now, 0, 0 };
		int err = repo_quota_update(db, p, n, now, reserve_fn, &a);
		if (!err) {
			*shared = true;
			*retry_after = a.retry;
			return a.grant;
		}
		pt_log("stream: the shared quota is unavailable (%s): this "
		       "node's own",
		       pt_strerror(err));
	}
	return media_quota_reserve(app->quotas, v, want_ms, now, retry_after);
}

struct settle {
	const struct media_viewer *v;
	int64_t reserved, delivered, now;
};

static void settle_fn(struct media_quota *q, int n, void *arg)
{
	struct settle *a = arg;
	for (int i = 0; i < n; i++) {
		q[i].used_ms -= a->reserved;
		if (q[i].used_ms < 0)
			q[i].used_ms = 0;
		media_quota_add(&q[i], a->delivered, a->v->allowance_ms,
				a->v->wait_s, a->now);
	}
}

void stream_quota_settle(struct app *app, const struct media_viewer *v,
			 bool shared, int64_t reserved_ms, int64_t delivered_ms,
			 int64_t now)
{
	struct db *db;
	if (v->allowance_ms <= 0)
		return;
	if (!shared) {
		media_quota_settle(app->quotas, v, reserved_ms, delivered_ms,
				   now);
		return;
	}
	if (delivered_ms > reserved_ms)
		delivered_ms = reserved_ms;
	char keys[2][KEY_MAX];
	const char *p[2];
	int n = keys_of(v, keys, p);
	struct settle a = { v, reserved_ms, delivered_ms, now };
	int err = shared_db(app, &db)
			  ? repo_quota_update(db, p, n, now, settle_fn, &a)
			  : PT_EUNAVAIL;
	if (err) /* the reservation stays counted: time lost, not gained */
		pt_log("stream: cannot settle a shared quota: %s",
		       pt_strerror(err));
}

void stream_quota_state(struct app *app, const struct media_viewer *v,
			int64_t now, int64_t *used_ms, int64_t *retry_after)
{
	struct db *db;
	*used_ms = 0;
	*retry_after = 0;
	if (v->allowance_ms <= 0)
		return;
	if (shared_db(app, &db)) {
		char keys[2][KEY_MAX];
		const char *p[2];
		struct media_quota q[2];
		int n = keys_of(v, keys, p);
		if (!repo_quota_get(db, p, n, q)) {
			for (int i = 0; i < n; i++) {
				int64_t ra;
				if (!media_quota_allows(&q[i], v->allowance_ms,
							v->wait_s, now, &ra) &&
				    ra > *retry_after)
					*retry_after = ra;
				if (q[i].used_ms > *used_ms)
					*used_ms = q[i].used_ms;
			}
			return;
		}
	}
	media_quota_state(app->quotas, v, now, used_ms, retry_after);
}
