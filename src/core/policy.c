/*
 * policy.c — tier decisions from the configuration table.
 */
#include "policy.h"

#include <string.h>

#include "../util/banned.h"

enum pt_tier_id policy_user_tier(const char *base_tier, int64_t premium_until,
				 int64_t now)
{
	if (premium_until > now)
		return PT_TIER_PREMIUM;
	if (base_tier && strcmp(base_tier, "premium") == 0)
		return PT_TIER_PREMIUM;
	return PT_TIER_FREE;
}

const struct pt_tier *policy_tier(const struct pt_conf *c,
				  const struct principal *who)
{
	return &c->tier[who ? who->tier : PT_TIER_ANONYMOUS];
}

uint64_t policy_max_size(const struct pt_conf *c, const struct principal *who)
{
	const struct pt_tier *t = policy_tier(c, who);
	/* storage.max_file_bytes is under every tier, "no limit" included */
	uint64_t limit = c->max_file_bytes;
	if (t->max_upload_bytes && t->max_upload_bytes < limit)
		limit = t->max_upload_bytes;
	return limit;
}

uint64_t policy_upload_limit(const struct pt_conf *c,
			     const struct principal *who, int64_t used_bytes,
			     bool *by_quota)
{
	const struct pt_tier *t = policy_tier(c, who);
	uint64_t limit = policy_max_size(c, who);
	*by_quota = false;
	if (who->user_id && t->storage_quota_bytes) {
		uint64_t used = used_bytes > 0 ? (uint64_t)used_bytes : 0;
		uint64_t left = used >= t->storage_quota_bytes
					? 0
					: t->storage_quota_bytes - used;
		if (left < limit) {
			limit = left;
			*by_quota = true;
		}
	}
	return limit;
}

void policy_download(const struct pt_conf *c, const struct principal *who,
		     struct download_rules *out)
{
	const struct pt_tier *t = policy_tier(c, who);
	out->wait_seconds = (int64_t)t->wait_seconds;
	out->speed = t->speed_bytes_per_second;
	out->parallel = t->parallel_downloads;
	out->connections = t->connections_per_download;
	out->cooldown = (int64_t)t->cooldown_seconds;
	out->max_bytes = t->max_download_bytes;
	out->redirect = strcmp(c->s3_redirect, "presigned") == 0 &&
			strcmp(c->storage_backend, "s3") == 0 && !out->speed &&
			!out->parallel && !out->connections &&
			!t->stream_minutes;
}

bool policy_owns(const struct principal *who, int64_t owner)
{
	if (!who || !who->user_id)
		return false;
	if (who->role && strcmp(who->role, "admin") == 0)
		return true;
	return owner != 0 && owner == who->user_id;
}
