/*
 * conf.h — partaged's configuration: one table of every key, its type,
 * place in struct pt_conf, default and bounds (after nginx's ngx_command_t).
 * The same table loads the INI file (inih), applies PARTAGE_* environment
 * variables and command-line flags, validates, and dumps.
 *
 * Precedence: defaults < INI file < env < flags.  Keys are "section.key"
 * ("server.listen", "tier.free.wait_seconds"); env names are PARTAGE_ plus
 * the key upper-cased with '.' → '_' (PARTAGE_SERVER_LISTEN), and the three
 * short forms PARTAGE_LISTEN, PARTAGE_DATA, PARTAGE_PUBLIC_URL.
 * Sizes take plain bytes or K/M/G/T (powers of 1024); 0 means no limit.
 * storage.min_free_bytes also takes a percentage of the file system, "1%".
 */
#ifndef PT_CONF_H
#define PT_CONF_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "util/buf.h"

enum pt_tier_id { PT_TIER_ANONYMOUS = 0, PT_TIER_FREE, PT_TIER_PREMIUM,
		  PT_TIER_COUNT };

struct pt_tier {
	uint64_t max_upload_bytes;       /* 0 = unlimited */
	uint64_t max_download_bytes;
	uint64_t wait_seconds;
	uint64_t speed_bytes_per_second;
	uint64_t parallel_downloads;
	uint64_t connections_per_download;
	uint64_t cooldown_seconds;
	uint64_t retention_days;         /* inactivity; 0 = forever */
	uint64_t stream_minutes;
	uint64_t stream_wait_minutes;
	uint64_t storage_quota_bytes;
	uint64_t remote_seconds;         /* a remote upload's time; 0 = only
					  * net.fetch_timeout_seconds */
};

struct pt_conf {
	/* [server] */
	char *listen;            /* "HOST:PORT" */
	char *engine;            /* "libmicrohttpd" | "event" */
	char *public_url;        /* "" = derive from listen */
	uint64_t threads;        /* 0 = number of CPUs */
	uint64_t max_connections;
	uint64_t per_ip_connections;
	uint64_t timeout_seconds;
	char *trusted_proxies;   /* "" = none; "ADDR[/BITS] ..." */
	char *secret_file;       /* "" = DATA/secret */
	char *access_log;        /* "" = stderr, "off" = none */
	uint64_t upload_expiry_hours;
	char *cors_origins;      /* space-separated, "*" any, "" none */
	uint64_t gc_interval_seconds;
	uint64_t link_cache_ms;
	uint64_t password_hash_threads; /* 0 = max(1, CPUs / 2) */
	uint64_t password_hash_queue;
	char *health_listen;     /* "" = no health port (api/health.c) */
	uint64_t tus_checkpoint_bytes; /* a PATCH's durable offset, this often */
	/* [storage] */
	char *storage_backend;   /* "fs" | "s3" */
	uint64_t max_file_bytes; /* every upload, every tier (>= 1) */
	char *data;
	uint64_t min_free_bytes; /* 0: no threshold; may be CONF_PERCENT|N */
	uint64_t reserve_bytes;  /* DATA/reserve; 0: none */
	uint64_t small_cache_bytes; /* blobcache.h; 0: none */
	char *s3_endpoint, *s3_bucket, *s3_region, *s3_access_key, *s3_secret_key;
	char *s3_redirect;       /* "stream" | "presigned" */
	uint64_t s3_presign_seconds;
	char *s3_public_endpoint; /* "" = s3_endpoint */
	char *s3_addressing;      /* "path" | "virtual" */
	uint64_t s3_read_workers;     /* threads reading S3 blobs (ahead.h) */
	uint64_t s3_read_ahead_bytes; /* prefetched blocks, all downloads */
	/* [metadata] */
	char *metadata_backend;  /* "sqlite" | "postgres" */
	char *postgres_dsn;
	uint64_t node_lease_seconds; /* postgres: a node silent this long is
				      * gone (api/cluster.c) */
	/* [tier.*] */
	struct pt_tier tier[PT_TIER_COUNT];
	/* [rewards] */
	uint64_t points_per_download;
	uint64_t points_per_premium_day;
	/* [abuse] */
	uint64_t quarantine_days;
	uint64_t repeat_infringer_strikes;
	uint64_t unknown_ids_per_minute;
	/* wrong link passwords and failed logins (0 = no limit) */
	uint64_t link_password_failures;             /* link+address, minute */
	uint64_t link_password_failures_per_address; /* address, hour */
	uint64_t link_password_failures_per_link;    /* link, hour, new addr. */
	uint64_t login_failures;                     /* name+address, 15 min */
	uint64_t login_failures_per_address;         /* address, 15 min */
	uint64_t login_failures_per_name;            /* name, 15 min, new addr. */
	/* [net]: the server as a client (remote uploads) */
	char *net_allow;             /* "" = no special range allowed */
	uint64_t fetch_timeout_seconds;
	uint64_t fetch_workers;
	uint64_t fetch_queue;
	uint64_t fetch_redirects;
	/* [webhooks] */
	char *hook_url;              /* the instance's hook; "" = none */
	char *hook_secret;
	char *hook_events;           /* "all" or event names */
	uint64_t hook_timeout_seconds;
	uint64_t hook_retry_base_seconds;
	uint64_t hook_retry_max_seconds;
	uint64_t hook_max_attempts;
	uint64_t hook_per_account;
	/* [media] */
	uint64_t media_probe_workers;        /* 0: no probing */
	uint64_t media_probe_timeout_seconds;
	uint64_t media_probe_memory_bytes;
	uint64_t media_remux_max_bytes;     /* 0: no fast-start copies */
	uint64_t media_remux_timeout_seconds;
	uint64_t media_thumb_max_pixels;
	/* [scan] */
	char *scan_clamd;                /* "" off, "/path" or "tcp:HOST:PORT" */
	uint64_t scan_pending_downloads; /* 1: pending files may be downloaded */
	uint64_t scan_timeout_seconds;
};

/* Fill with the built-in defaults (docs/configuration.md: Megaupload's
 * rules). */
void conf_init(struct pt_conf *c);
void conf_release(struct pt_conf *c);

/*
 * Set one key from text.  Returns 0, or PT_EBADREQ with a one-line
 * message in err (e.g. "bad value 'x' for 'tier.free.wait_seconds':
 * not a number") for an unknown key or a bad value.
 */
int conf_set(struct pt_conf *c, const char *key, const char *value,
	     struct pt_buf *err);
/* Load an INI file.  Returns 0, -errno when it cannot be read, or
 * PT_EBADREQ with "FILE:LINE: message" in err. */
int conf_load_file(struct pt_conf *c, const char *path, struct pt_buf *err);
/* Same for an INI text in memory (fuzzing, tests). */
int conf_load_string(struct pt_conf *c, const char *text, struct pt_buf *err);
/* Apply PARTAGE_* variables from environ. */
int conf_load_env(struct pt_conf *c, struct pt_buf *err);
/* Write every key as INI ("[section]" then "key = value"). */
void conf_dump(const struct pt_conf *c, FILE *out);
/* Every key with its type, default, meaning and env name (--help). */
void conf_help(FILE *out);

/* "10", "64K", "1.5G"? no: integers only, optional K/M/G/T (1024-based),
 * optional trailing "B"/"iB" ("64KiB").  Returns 0 or PT_EBADREQ (junk,
 * overflow). */
int conf_parse_size(const char *s, uint64_t *out);

/* A size key that also takes "N%" (storage.min_free_bytes) holds
 * CONF_PERCENT | N for a percentage of the file system. */
#define CONF_PERCENT (UINT64_C(1) << 63)
/* Such a value in bytes, for a file system of fs_size bytes. */
uint64_t conf_space(uint64_t v, uint64_t fs_size);

const char *conf_tier_name(enum pt_tier_id t);
/* PT_TIER_COUNT when unknown */
enum pt_tier_id conf_tier_lookup(const char *name);

#endif
