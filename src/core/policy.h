/*
 * policy.h — the tier rules, in one place that every handler asks.
 *
 * Who is asking is resolved once per request (struct principal, by the
 * auth phase); what that person may do with an upload or a download is
 * decided here from the configured tiers ([tier.anonymous], [tier.free],
 * [tier.premium]) and nothing else.  Handlers do not compare tiers.
 */
#ifndef PT_POLICY_H
#define PT_POLICY_H

#include <stdbool.h>
#include <stdint.h>

#include "../conf.h"

struct principal {
	int64_t user_id;          /* 0: anonymous */
	const char *name;         /* NULL when anonymous */
	enum pt_tier_id tier;
	const char *role;         /* "user", "rights_holder", "admin" */
	int64_t premium_until;
	bool direct_downloads;
	bool by_session;          /* cookie: state changes need CSRF */
	const char *csrf;         /* the session's CSRF token */
	const char *token_id;     /* the session's or API token's id */
	const char *pwhash;       /* the password hash when authenticated:
				   * a token it makes needs it unchanged */
};

/* The tier a user is in at `now`: premium while premium_until is ahead or
 * the base tier says so; anonymous for no user. */
enum pt_tier_id policy_user_tier(const char *base_tier, int64_t premium_until,
				 int64_t now);
const struct pt_tier *policy_tier(const struct pt_conf *c,
				  const struct principal *who);

/* Largest upload this principal may send: the tier's max_upload_bytes
 * (0 there: no tier limit) under the server's storage.max_file_bytes, and
 * the storage quota left (used_bytes is what the user stores now) when
 * that is less.  Never "unlimited": at most max_file_bytes (>= 1).
 * *by_quota tells that the quota, not a size limit, set it (so the
 * refusal is 507, not 413). */
uint64_t policy_upload_limit(const struct pt_conf *c,
			     const struct principal *who, int64_t used_bytes,
			     bool *by_quota);
/* The size limit alone, without the quota: what Tus-Max-Size says. */
uint64_t policy_max_size(const struct pt_conf *c, const struct principal *who);

struct download_rules {
	int64_t wait_seconds;       /* 0: no ticket needed */
	uint64_t speed;             /* bytes/s; 0: uncapped */
	uint64_t parallel;          /* per address; 0: unlimited */
	uint64_t connections;       /* per download; 0: unlimited */
	int64_t cooldown;           /* seconds between downloads; 0: none */
	uint64_t max_bytes;         /* largest file; 0: any */
	/* the bytes may come from a presigned URL of the object store
	 * (storage.s3_redirect = presigned) once every check above passed.
	 * Only for tiers with no speed cap, no parallel or connection limit, no
	 * viewing quota (stream_minutes): they last as long as the
	 * transfer, which the node no longer sees. */
	bool redirect;
};
void policy_download(const struct pt_conf *c, const struct principal *who,
		     struct download_rules *out);

/* May `who` see and manage the link owned by owner? (owner, admins) */
bool policy_owns(const struct principal *who, int64_t owner);

#endif
