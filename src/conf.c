/*
 * conf.c — partaged's configuration as one table (after nginx's
 * ngx_command_t and redis's static_configs[]): each row names a key, its
 * type, where it lives in struct pt_conf, its default spelled as a config
 * file would spell it, and its bounds.  conf_init() feeds the defaults
 * through the same conf_set() as the INI file (inih), the PARTAGE_*
 * environment and the command line, so a default can never break a rule
 * that a user value must obey.  The table also writes the dump and --help.
 *
 * Every string we accept can be written back as an INI line that inih
 * reads to the same bytes (see str_why()), which is what makes
 * conf_dump() → conf_load_*() a faithful round trip.
 */
#include "conf.h"

#include <errno.h>
#include <fcntl.h>
#include <ini.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/proxy.h"
#include "util/pt.h"
#include "util/banned.h"

/*
 * inih reads lines into a buffer of 200 bytes (INI_MAX_LINE in Debian's
 * build) and silently splits longer ones, so the rest of a long line would
 * be parsed as a line of its own.  Our reader refuses a line that does not
 * fit instead, and string values are capped so that the longest dump line,
 * "s3_secret_key = " plus the value, still fits.
 */
#define CONF_MAX_VALUE 180
#define CONF_MAX_FILE (1u << 20)   /* a config file, not a data file */

enum conf_type { CONF_STR, CONF_U64, CONF_SIZE };

struct conf_opt {
	const char *section;        /* "server", "tier.free" */
	const char *name;           /* "listen" */
	enum conf_type type;
	size_t off;                 /* into struct pt_conf */
	const char *def;            /* default, spelled as in a file */
	uint64_t min, max;          /* numbers; strings: min 1 = non-empty */
	const char *const *choices; /* strings: the allowed values */
	const char *(*check)(const char *v);  /* strings: NULL or why not */
	const char *unit;           /* for --help and docs */
	const char *env_alias;      /* PARTAGE_LISTEN-like short form, or NULL */
	const char *help;
	bool pct;                   /* CONF_SIZE: "N%" of the file system too */
};

static const char *const storage_backends[] = { "fs", "s3", NULL };
static const char *const engines[] = { "libmicrohttpd", "event", NULL };
static const char *const metadata_backends[] = { "sqlite", "postgres", NULL };
static const char *const s3_redirects[] = { "stream", "presigned", NULL };
static const char *const s3_addressings[] = { "path", "virtual", NULL };

/* "HOST:PORT" with a numeric port; the server resolves the host. */
static const char *check_listen(const char *v)
{
	const char *colon = strrchr(v, ':');
	uint64_t port;

	if (!colon || colon == v)
		return "expected HOST:PORT";
	if (pt_parse_u64(colon + 1, strlen(colon + 1), &port) || port > 65535)
		return "port is not a number from 0 to 65535";
	if (v[0] == '[' && colon[-1] != ']')
		return "an IPv6 address needs brackets, as in [::1]:8080";
	return NULL;
}

static const char *check_listen_or_empty(const char *v)
{
	return *v ? check_listen(v) : NULL;
}

static const char *check_url(const char *v)
{
	if (!*v)
		return NULL;  /* derived from listen by the server */
	if (strncmp(v, "http://", 7) && strncmp(v, "https://", 8))
		return "not an http:// or https:// URL";
	if (!v[strcspn(v, ":") + 3])
		return "URL has no host";
	return NULL;
}

/* "ADDR[/BITS] ...": proxy.c parses it again at start. */
/* "", an absolute path, or tcp:HOST:PORT */
static const char *check_clamd(const char *v)
{
	if (!*v || *v == '/')
		return NULL;
	if (strncmp(v, "tcp:", 4) == 0 && strrchr(v + 4, ':') &&
	    strrchr(v + 4, ':')[1])
		return NULL;
	return "not a unix socket's absolute path or tcp:HOST:PORT";
}

static const char *check_proxies(const char *v)
{
	static _Thread_local char why[160];
	return proxy_list_parse(v, NULL, why, sizeof(why));
}

/* "ADDR[/BITS] ...": core/netguard.c parses it again at start. */
static const char *check_net_allow(const char *v)
{
	static _Thread_local char why[160];
	return proxy_list_parse(v, NULL, why, sizeof(why));
}

/* "all", or event names from the list. */
static const char *check_hook_events(const char *v)
{
	static const char *const names[] = { "upload", "download", "deleted",
					     "expired", "takedown" };
	if (!strcmp(v, "all"))
		return NULL;
	const char *p = v;
	size_t n = 0;
	while (*p) {
		size_t len = strcspn(p, " ,");
		bool known = len == 0;
		for (size_t i = 0; !known && i < PT_ARRAY_LEN(names); i++)
			known = strlen(names[i]) == len &&
				!strncmp(p, names[i], len);
		if (!known)
			return "expected all, or names from: upload download "
			       "deleted expired takedown";
		n += len;
		p += len + (p[len] ? 1 : 0);
	}
	return n ? NULL : "expected all, or at least one event name";
}

#define OFF(f) offsetof(struct pt_conf, f)
#define TOFF(t, f) offsetof(struct pt_conf, tier[t].f)

/*
 * The eleven limits every tier has; 0 is "no limit" / "forever" for each,
 * which is what premium gets (docs/configuration.md, "Tier defaults").
 */
#define TIER_OPTS(sec, t, up, down, wait, speed, par, conns, cool, keep, st, \
		  stw, quota, remote)                                             \
	{ .section = sec, .name = "max_upload_bytes", .type = CONF_SIZE,      \
	  .off = TOFF(t, max_upload_bytes), .def = up, .max = UINT64_MAX,     \
	  .unit = "size",                                                     \
	  .help = "largest file this tier may upload; 0 = no tier limit "    \
		  "(storage.max_file_bytes still applies)" },                 \
	{ .section = sec, .name = "max_download_bytes", .type = CONF_SIZE,    \
	  .off = TOFF(t, max_download_bytes), .def = down, .max = UINT64_MAX, \
	  .unit = "size",                                                     \
	  .help = "largest file this tier may download; 0 = no limit" },      \
	{ .section = sec, .name = "wait_seconds", .type = CONF_U64,           \
	  .off = TOFF(t, wait_seconds), .def = wait, .max = 86400,            \
	  .unit = "seconds",                                                  \
	  .help = "wait before a download starts (the ticket's, or the "     \
		  "server holds the client); 0 = none" },                     \
	{ .section = sec, .name = "speed_bytes_per_second", .type = CONF_SIZE, \
	  .off = TOFF(t, speed_bytes_per_second), .def = speed,               \
	  .max = UINT64_MAX, .unit = "size/s",                                \
	  .help = "download speed cap in bytes per second; "              \
		  "0 = no cap" },                                             \
	{ .section = sec, .name = "parallel_downloads", .type = CONF_U64,     \
	  .off = TOFF(t, parallel_downloads), .def = par, .max = 1024,        \
	  .unit = "count",                                                    \
	  .help = "downloads at a time per IP; 0 = no limit" },               \
	{ .section = sec, .name = "connections_per_download",                 \
	  .type = CONF_U64, .off = TOFF(t, connections_per_download),         \
	  .def = conns, .max = 64, .unit = "count",                           \
	  .help = "connections one download (address, file) may use; "       \
		  "0 = no limit" },                                           \
	{ .section = sec, .name = "cooldown_seconds", .type = CONF_U64,       \
	  .off = TOFF(t, cooldown_seconds), .def = cool, .max = 86400,        \
	  .unit = "seconds",                                                  \
	  .help = "pause after a download before the next of another "       \
		  "file from the address; 0 = none" },                        \
	{ .section = sec, .name = "retention_days", .type = CONF_U64,         \
	  .off = TOFF(t, retention_days), .def = keep, .max = 36500,          \
	  .unit = "days",                                                     \
	  .help = "files expire after this many days without a download; "    \
		  "0 = keep forever" },                                       \
	{ .section = sec, .name = "stream_minutes", .type = CONF_U64,         \
	  .off = TOFF(t, stream_minutes), .def = st, .max = 10080,            \
	  .unit = "minutes",                                                  \
	  .help = "minutes of media a viewer (address, and account when "    \
		  "logged in) may stream through /stream/{id} (counted as "   \
		  "bytes delivered / the file's bitrate) before the stream "  \
		  "wait; 0 = no limit (docs/api.md, \"Streaming\")" },        \
	{ .section = sec, .name = "stream_wait_minutes", .type = CONF_U64,    \
	  .off = TOFF(t, stream_wait_minutes), .def = stw, .max = 10080,      \
	  .unit = "minutes",                                                  \
	  .help = "wait after the streaming allowance is used up: "          \
		  "/stream/{id} answers 429 with Retry-After until it ends "  \
		  "(downloads are not affected)" },                           \
	{ .section = sec, .name = "storage_quota_bytes", .type = CONF_SIZE,   \
	  .off = TOFF(t, storage_quota_bytes), .def = quota,                  \
	  .max = UINT64_MAX, .unit = "size",                                  \
	  .help = "total size of an account's files; 0 = no quota" },        \
	{ .section = sec, .name = "remote_seconds", .type = CONF_U64,         \
	  .off = TOFF(t, remote_seconds), .def = remote, .max = 604800,       \
	  .unit = "seconds",                                                  \
	  .help = "longest a remote upload (POST /api/v1/files/remote) of "  \
		  "this tier may take, connecting and redirects included; "   \
		  "0 = no tier bound (net.fetch_timeout_seconds still "       \
		  "applies)" }

/*
 * Sections must stay contiguous: conf_dump() writes a "[section]" header
 * whenever the section changes.
 */
static const struct conf_opt opts[] = {
	/* [server] */
	{ .section = "server", .name = "listen", .type = CONF_STR,
	  .off = OFF(listen), .def = "127.0.0.1:8080", .min = 1,
	  .check = check_listen, .unit = "HOST:PORT",
	  .env_alias = "PARTAGE_LISTEN",
	  .help = "address and port to listen on (port 0: any free port)" },
	{ .section = "server", .name = "public_url", .type = CONF_STR,
	  .off = OFF(public_url), .def = "", .check = check_url,
	  .unit = "URL", .env_alias = "PARTAGE_PUBLIC_URL",
	  .help = "base URL in links the server hands out; empty = "
		  "http://LISTEN" },
	{ .section = "server", .name = "engine", .type = CONF_STR,
	  .off = OFF(engine), .def = "event", .min = 1,
	  .choices = engines, .unit = "event or libmicrohttpd",
	  .help = "the HTTP engine: event (our own: an epoll loop per "
		  "thread, a strict HTTP/1.1 parser) or libmicrohttpd (the "
		  "engine before it, kept for one release as a fallback)" },
	{ .section = "server", .name = "threads", .type = CONF_U64,
	  .off = OFF(threads), .def = "0", .max = 1024, .unit = "count",
	  .help = "worker threads; 0 = one per CPU" },
	{ .section = "server", .name = "max_connections", .type = CONF_U64,
	  .off = OFF(max_connections), .def = "10000",
	  .max = 1000000, .unit = "count",
	  .help = "connections open at once, all clients together; 0 = no "
		  "limit but the process's file descriptors" },
	{ .section = "server", .name = "per_ip_connections", .type = CONF_U64,
	  .off = OFF(per_ip_connections), .def = "64", .max = 1000000,
	  .unit = "count",
	  .help = "connections open at once from one IP; 0 = no limit" },
	{ .section = "server", .name = "timeout_seconds", .type = CONF_U64,
	  .off = OFF(timeout_seconds), .def = "60", .max = 86400,
	  .unit = "seconds",
	  .help = "idle connection timeout (against slow clients); 0 = "
		  "never" },
	{ .section = "server", .name = "trusted_proxies", .type = CONF_STR,
	  .off = OFF(trusted_proxies), .def = "", .check = check_proxies,
	  .unit = "addresses",
	  .help = "load balancers whose X-Forwarded-For names the client "
		  "(addresses or ADDR/BITS networks, space-separated); "
		  "empty = none: the socket's peer is the client" },
	{ .section = "server", .name = "secret_file", .type = CONF_STR,
	  .off = OFF(secret_file), .def = "", .unit = "path",
	  .help = "key that signs tickets and sessions; empty = DATA/secret" },
	{ .section = "server", .name = "access_log", .type = CONF_STR,
	  .off = OFF(access_log), .def = "", .unit = "path",
	  .help = "access log file; empty = stderr, \"off\" = none" },
	/* A partial (resumable) upload holds disk space; 0 would leak it. */
	{ .section = "server", .name = "upload_expiry_hours", .type = CONF_U64,
	  .off = OFF(upload_expiry_hours), .def = "24", .min = 1, .max = 8760,
	  .unit = "hours",
	  .help = "unfinished resumable uploads are deleted after this" },
	{ .section = "server", .name = "gc_interval_seconds", .type = CONF_U64,
	  .off = OFF(gc_interval_seconds), .def = "600", .min = 1,
	  .max = 604800, .unit = "seconds",
	  .help = "how often the server expires links and collects blobs" },
	{ .section = "server", .name = "link_cache_ms", .type = CONF_U64,
	  .off = OFF(link_cache_ms), .def = "1000", .max = 60000,
	  .unit = "milliseconds",
	  .help = "how long a node serves downloads from its copy of a link's "
		  "row; changes made on this node or by `partaged admin` on "
		  "its data directory are seen at once, another node's within "
		  "this time; 0 = no copies" },
	/* Each running hash holds 64 MiB; 0 threads means the default. */
	{ .section = "server", .name = "password_hash_threads",
	  .type = CONF_U64, .off = OFF(password_hash_threads), .def = "0",
	  .max = 256, .unit = "count",
	  .help = "Argon2id password hashes run at once (logins, link "
		  "passwords, registrations), each on a thread of its own "
		  "with 64 MiB; 0 = half the CPUs, at least 1" },
	{ .section = "server", .name = "password_hash_queue",
	  .type = CONF_U64, .off = OFF(password_hash_queue), .def = "32",
	  .max = 100000, .unit = "count",
	  .help = "password hashes that may wait for a thread; beyond them "
		  "a request gets 503 with Retry-After at once" },
	{ .section = "server", .name = "health_listen", .type = CONF_STR,
	  .off = OFF(health_listen), .def = "", .check = check_listen_or_empty,
	  .unit = "HOST:PORT",
	  .help = "a second port that answers only GET /healthz (and "
		  "HEAD), from a thread of its own, so a load balancer's "
		  "checks never wait behind downloads or the database pool; "
		  "point its checks there (HAPROXY_CHECK_PORT), and keep it "
		  "on the balancer's network; empty = none" },
	{ .section = "server", .name = "tus_checkpoint_bytes",
	  .type = CONF_SIZE, .off = OFF(tus_checkpoint_bytes), .def = "8M",
	  .min = 1 << 20, .max = 1ull << 30, .unit = "bytes",
	  .help = "a long tus PATCH makes its bytes durable (sync, then "
		  "the offset in the database) this often: what a crash "
		  "or a node's failover can lose of a PATCH in flight" },
	{ .section = "server", .name = "cors_origins", .type = CONF_STR,
	  .off = OFF(cors_origins), .def = "*", .unit = "origins",
	  .help = "origins allowed to call the API from a browser, "
		  "space-separated; \"*\" = any, empty = none" },
	/* [storage] */
	{ .section = "storage", .name = "backend", .type = CONF_STR,
	  .off = OFF(storage_backend), .def = "fs", .min = 1,
	  .choices = storage_backends, .unit = "fs or s3",
	  .help = "blob store: local files or an S3 bucket" },
	{ .section = "storage", .name = "data", .type = CONF_STR,
	  .off = OFF(data), .def = "./data", .min = 1, .unit = "path",
	  .env_alias = "PARTAGE_DATA",
	  .help = "data directory (blobs for fs, the SQLite database, "
		  "the secret)" },
	/* The ceiling under every tier: max_upload_bytes = 0 means "up to
	 * this", never an 8 EiB tus upload (issue 12).  At least 1 byte; at
	 * most what a tus length (int64) can say. */
	{ .section = "storage", .name = "max_file_bytes", .type = CONF_SIZE,
	  .off = OFF(max_file_bytes), .def = "1T", .min = 1,
	  .max = INT64_MAX, .unit = "size",
	  .help = "largest file any upload may create, whatever the tier "
		  "(PUT, multipart, tus; a tier's max_upload_bytes = 0 means "
		  "up to this); advertised as Tus-Max-Size" },
	{ .section = "storage", .name = "min_free_bytes", .type = CONF_SIZE,
	  .off = OFF(min_free_bytes), .def = "1%", .max = CONF_PERCENT - 1,
	  .pct = true, .unit = "size or %",
	  .help = "refuse new uploads (507, before reading them, and as "
		  "they stream) that would leave the data directory's file "
		  "system with less free space than this (bytes, or a "
		  "percentage of its size), so the disk never fills with "
		  "uploads; 0 = off" },
	{ .section = "storage", .name = "reserve_bytes", .type = CONF_SIZE,
	  .off = OFF(reserve_bytes), .def = "64M", .max = CONF_PERCENT - 1,
	  .unit = "size",
	  .help = "space kept back in DATA/reserve, a file with real "
		  "blocks, at most 1/16 of the file system: released when "
		  "the disk is full so that deleting, takedowns and gc can "
		  "commit, never given to uploads, filled again when space "
		  "is back; 0 = none" },
	{ .section = "storage", .name = "small_cache_bytes", .type = CONF_SIZE,
	  .off = OFF(small_cache_bytes), .def = "32M", .max = 1ULL << 40,
	  .unit = "size",
	  .help = "memory for the bytes of small files (64 KiB at most) "
		  "served from local disk: a hit spares the open, stat, "
		  "read and close of the file; 0 = none" },
	{ .section = "storage", .name = "s3_endpoint", .type = CONF_STR,
	  .off = OFF(s3_endpoint), .def = "", .check = check_url,
	  .unit = "URL", .help = "S3 endpoint; empty = AWS" },
	{ .section = "storage", .name = "s3_bucket", .type = CONF_STR,
	  .off = OFF(s3_bucket), .def = "", .unit = "string",
	  .help = "S3 bucket (backend = s3)" },
	{ .section = "storage", .name = "s3_region", .type = CONF_STR,
	  .off = OFF(s3_region), .def = "us-east-1", .min = 1,
	  .unit = "string", .help = "S3 region, for request signing" },
	{ .section = "storage", .name = "s3_access_key", .type = CONF_STR,
	  .off = OFF(s3_access_key), .def = "", .unit = "string",
	  .help = "S3 access key id" },
	{ .section = "storage", .name = "s3_secret_key", .type = CONF_STR,
	  .off = OFF(s3_secret_key), .def = "", .unit = "string",
	  .help = "S3 secret key" },
	{ .section = "storage", .name = "s3_redirect", .type = CONF_STR,
	  .off = OFF(s3_redirect), .def = "stream", .min = 1,
	  .choices = s3_redirects, .unit = "stream or presigned",
	  .help = "downloads from S3: streamed through this node, or a 302 "
		  "to a short-lived presigned URL of the object store, after "
		  "every tier check, for tiers without a speed cap, "
		  "parallel-download limit or viewing quota (premium by "
		  "default)" },
	{ .section = "storage", .name = "s3_presign_seconds", .type = CONF_U64,
	  .off = OFF(s3_presign_seconds), .def = "300", .min = 1,
	  .max = 604800, .unit = "seconds",
	  .help = "lifetime of a presigned download URL (S3 allows up to "
		  "7 days)" },
	{ .section = "storage", .name = "s3_public_endpoint", .type = CONF_STR,
	  .off = OFF(s3_public_endpoint), .def = "", .check = check_url,
	  .unit = "URL",
	  .help = "endpoint that clients reach in presigned URLs (a CDN or "
		  "public name of the store, signed as the Host); empty = "
		  "s3_endpoint" },
	{ .section = "storage", .name = "s3_addressing", .type = CONF_STR,
	  .off = OFF(s3_addressing), .def = "path", .min = 1,
	  .choices = s3_addressings, .unit = "path or virtual",
	  .help = "where the bucket goes in S3 URLs: the path "
		  "(ENDPOINT/BUCKET/KEY) or the host name "
		  "(BUCKET.ENDPOINT-HOST/KEY, virtual-hosted style, as AWS "
		  "and R2 prefer), for requests and presigned URLs alike; "
		  "virtual needs a DNS-name bucket and endpoints named by "
		  "host (http://localhost:PORT on loopback)" },
	{ .section = "storage", .name = "s3_read_workers", .type = CONF_U64,
	  .off = OFF(s3_read_workers), .def = "8", .min = 1, .max = 256,
	  .unit = "count",
	  .help = "threads that read S3 blobs for downloads, off the event "
		  "loops (a slow store stalls these, not other requests). A "
		  "download waits for its block paused, costing no thread; "
		  "with all workers held by a stalled store, S3 downloads "
		  "wait in their queue while every other request is "
		  "served" },
	{ .section = "storage", .name = "s3_read_ahead_bytes",
	  .type = CONF_SIZE, .off = OFF(s3_read_ahead_bytes), .def = "64M",
	  .max = 1ull << 40, .unit = "size",
	  .help = "S3 blocks (256 KiB each) read ahead of uncapped "
		  "downloads, held at most in all; past it a block is read "
		  "when asked for; 0 = no read-ahead. Per download at most "
		  "one block is held (256 KiB, besides the engine's own send "
		  "buffer of 256 KiB), and none while a speed cap makes it "
		  "wait: a capped download reads only what its next burst "
		  "sends" },
	/* [metadata] */
	{ .section = "metadata", .name = "backend", .type = CONF_STR,
	  .off = OFF(metadata_backend), .def = "sqlite", .min = 1,
	  .choices = metadata_backends, .unit = "sqlite or postgres",
	  .help = "metadata store: SQLite in DATA or a PostgreSQL server" },
	{ .section = "metadata", .name = "postgres_dsn", .type = CONF_STR,
	  .off = OFF(postgres_dsn), .def = "", .unit = "string",
	  .help = "libpq connection string (backend = postgres)" },
	{ .section = "metadata", .name = "node_lease_seconds",
	  .type = CONF_U64, .off = OFF(node_lease_seconds), .def = "3",
	  .min = 2, .max = 60, .unit = "seconds",
	  .help = "backend = postgres: every node writes its heartbeat "
		  "once a second; one silent this long is gone, and its "
		  "download slots and tus upload leases are free for the "
		  "other nodes (docs/scaling.md)" },
	/*
	 * Megaupload's published rules (docs/configuration.md, "Tier
	 * defaults").  It never published a
	 * byte figure for its free speed cap, only that free downloads were
	 * slow; 100K/s (a 1 GiB file in about three hours) keeps the
	 * premium difference obvious while staying usable.
	 */
	TIER_OPTS("tier.anonymous", PT_TIER_ANONYMOUS,
		  "2G", "1G", "60", "100K", "1", "1", "30", "21", "72", "54", "0",
		  "300"),
	TIER_OPTS("tier.free", PT_TIER_FREE,
		  "2G", "1G", "25", "100K", "1", "2", "15", "90", "72", "54", "200G",
		  "900"),
	TIER_OPTS("tier.premium", PT_TIER_PREMIUM,
		  "0", "0", "0", "0", "0", "0", "0", "0", "0", "0", "0", "0"),
	/* [rewards]: Megaupload gave about 30 premium days for 10 000
	 * downloads of a user's files, i.e. one day per 333 downloads. */
	{ .section = "rewards", .name = "points_per_download", .type = CONF_U64,
	  .off = OFF(points_per_download), .def = "1", .max = 1000000,
	  .unit = "count",
	  .help = "points the uploader earns per completed download; "
		  "0 = rewards off" },
	/* At least 1: it is a divisor. */
	{ .section = "rewards", .name = "points_per_premium_day",
	  .type = CONF_U64, .off = OFF(points_per_premium_day), .def = "333",
	  .min = 1, .max = 1000000000, .unit = "count",
	  .help = "points exchanged for one day of premium" },
	/* [abuse] */
	{ .section = "abuse", .name = "quarantine_days", .type = CONF_U64,
	  .off = OFF(quarantine_days), .def = "14", .max = 3650,
	  .unit = "days",
	  .help = "bytes of content taken down are kept this long, so a "
		  "counter-notice can restore them" },
	{ .section = "abuse", .name = "repeat_infringer_strikes",
	  .type = CONF_U64, .off = OFF(repeat_infringer_strikes), .def = "3",
	  .max = 1000000, .unit = "count",
	  .help = "takedowns of an account's files after which it may no "
		  "longer upload; 0 = never" },
	{ .section = "abuse", .name = "unknown_ids_per_minute",
	  .type = CONF_U64, .off = OFF(unknown_ids_per_minute), .def = "120",
	  .max = 1000000, .unit = "count",
	  .help = "lookups of ids that do not exist, per address and minute, "
		  "before 429 (against enumeration): files, pages, downloads, "
		  "tickets, folders and every unknown id in a link check; "
		  "0 = no limit" },
	{ .section = "abuse", .name = "link_password_failures",
	  .type = CONF_U64, .off = OFF(link_password_failures), .def = "5",
	  .max = 1000000, .unit = "count",
	  .help = "wrong passwords for one link from one address in a "
		  "minute before 429 (the password is then not checked); "
		  "0 = no limit" },
	{ .section = "abuse", .name = "link_password_failures_per_address",
	  .type = CONF_U64, .off = OFF(link_password_failures_per_address),
	  .def = "60", .max = 1000000, .unit = "count",
	  .help = "wrong link passwords from one address in an hour, all "
		  "links together, before 429; 0 = no limit" },
	{ .section = "abuse", .name = "link_password_failures_per_link",
	  .type = CONF_U64, .off = OFF(link_password_failures_per_link),
	  .def = "300", .max = 1000000, .unit = "count",
	  .help = "wrong passwords for one link in an hour, all addresses "
		  "together, after which addresses that have not given the "
		  "right one in the last day get 429; 0 = no limit" },
	{ .section = "abuse", .name = "login_failures", .type = CONF_U64,
	  .off = OFF(login_failures), .def = "10", .max = 1000000,
	  .unit = "count",
	  .help = "failed logins for one name from one address in 15 "
		  "minutes before 429; 0 = no limit" },
	{ .section = "abuse", .name = "login_failures_per_address",
	  .type = CONF_U64, .off = OFF(login_failures_per_address),
	  .def = "30", .max = 1000000, .unit = "count",
	  .help = "failed logins from one address in 15 minutes, all names "
		  "together, before 429; 0 = no limit" },
	{ .section = "abuse", .name = "login_failures_per_name",
	  .type = CONF_U64, .off = OFF(login_failures_per_name), .def = "100",
	  .max = 1000000, .unit = "count",
	  .help = "failed logins for one name in 15 minutes, all addresses "
		  "and nodes together, after which addresses that have not "
		  "logged in to it in the last 30 days get 429 (the owner's "
		  "usual addresses still can); 0 = no limit" },
	/* [net] */
	{ .section = "net", .name = "allow", .type = CONF_STR,
	  .off = OFF(net_allow), .def = "", .check = check_net_allow,
	  .unit = "addresses",
	  .help = "networks the server may connect to although they are "
		  "private, loopback, link-local or otherwise special "
		  "(ADDR or ADDR/BITS, space-separated), for remote uploads "
		  "and webhooks; "
		  "empty = none (docs/security.md)" },
	{ .section = "net", .name = "fetch_timeout_seconds", .type = CONF_U64,
	  .off = OFF(fetch_timeout_seconds), .def = "3600", .min = 1,
	  .max = 86400, .unit = "seconds",
	  .help = "longest a remote upload may take, connecting and "
		  "redirects included" },
	{ .section = "net", .name = "fetch_workers", .type = CONF_U64,
	  .off = OFF(fetch_workers), .def = "2", .min = 1, .max = 64,
	  .unit = "count",
	  .help = "remote uploads fetched at a time (threads)" },
	{ .section = "net", .name = "fetch_queue", .type = CONF_U64,
	  .off = OFF(fetch_queue), .def = "100", .min = 1, .max = 100000,
	  .unit = "count",
	  .help = "remote uploads queued or running at once; more get "
		  "503" },
	{ .section = "net", .name = "fetch_redirects", .type = CONF_U64,
	  .off = OFF(fetch_redirects), .def = "5", .max = 20,
	  .unit = "count",
	  .help = "redirects a remote upload follows (each hop's address "
		  "checked); 0 = none" },
	/* [webhooks] */
	{ .section = "webhooks", .name = "url", .type = CONF_STR,
	  .off = OFF(hook_url), .def = "", .check = check_url,
	  .unit = "URL",
	  .help = "the instance's webhook: every account's events and the "
		  "anonymous ones are delivered here too; empty = none" },
	{ .section = "webhooks", .name = "secret", .type = CONF_STR,
	  .off = OFF(hook_secret), .def = "", .unit = "text",
	  .help = "the key that signs the instance's deliveries "
		  "(Partage-Signature); needed with webhooks.url" },
	{ .section = "webhooks", .name = "events", .type = CONF_STR,
	  .off = OFF(hook_events), .def = "all", .check = check_hook_events,
	  .unit = "names",
	  .help = "the events the instance's webhook gets: all, or some of "
		  "upload download deleted expired takedown" },
	{ .section = "webhooks", .name = "timeout_seconds", .type = CONF_U64,
	  .off = OFF(hook_timeout_seconds), .def = "10", .min = 1,
	  .max = 300, .unit = "seconds",
	  .help = "longest one delivery may take; longer is a failed "
		  "attempt" },
	{ .section = "webhooks", .name = "retry_base_seconds",
	  .type = CONF_U64, .off = OFF(hook_retry_base_seconds), .def = "30",
	  .min = 1, .max = 86400, .unit = "seconds",
	  .help = "wait after the first failed attempt; doubled after each "
		  "next one" },
	{ .section = "webhooks", .name = "retry_max_seconds", .type = CONF_U64,
	  .off = OFF(hook_retry_max_seconds), .def = "3600", .min = 1,
	  .max = 604800, .unit = "seconds",
	  .help = "the longest wait between two attempts (the doubling's "
		  "cap)" },
	{ .section = "webhooks", .name = "max_attempts", .type = CONF_U64,
	  .off = OFF(hook_max_attempts), .def = "12", .min = 1, .max = 100,
	  .unit = "count",
	  .help = "attempts before a delivery is given up (failed in the "
		  "log)" },
	{ .section = "webhooks", .name = "per_account", .type = CONF_U64,
	  .off = OFF(hook_per_account), .def = "10", .max = 1000,
	  .unit = "count",
	  .help = "webhooks one account may register; 0 = none (accounts "
		  "cannot register any)" },
	/* [media] (issue 16) */
	{ .section = "media", .name = "probe_workers", .type = CONF_U64,
	  .off = OFF(media_probe_workers), .def = "1", .max = 16,
	  .unit = "count",
	  .help = "media probes at a time, each a sandboxed process run "
		  "after the upload's response; 0 = no probing" },
	{ .section = "media", .name = "probe_timeout_seconds",
	  .type = CONF_U64, .off = OFF(media_probe_timeout_seconds),
	  .def = "10", .min = 1, .max = 600, .unit = "seconds",
	  .help = "wall-clock (and CPU) time a probe may take before it is "
		  "killed; the file then has no media info" },
	{ .section = "media", .name = "probe_memory_bytes", .type = CONF_SIZE,
	  .off = OFF(media_probe_memory_bytes), .def = "256M",
	  .min = 32 << 20, .max = 1ull << 36, .unit = "size",
	  .help = "address space of a probe process" },
	{ .section = "media", .name = "remux_max_bytes", .type = CONF_SIZE,
	  .off = OFF(media_remux_max_bytes), .def = "2G",
	  .max = 1ull << 40, .unit = "size",
	  .help = "the largest MP4/MOV with its index at the end that gets "
		  "a fast-start copy for /stream (one remux at a time per "
		  "node, a sandboxed process); 0 = no copies" },
	{ .section = "media", .name = "remux_timeout_seconds",
	  .type = CONF_U64, .off = OFF(media_remux_timeout_seconds),
	  .def = "300", .min = 1, .max = 3600, .unit = "seconds",
	  .help = "wall-clock (and CPU) time a remux may take before it is "
		  "killed; the file is then streamed as uploaded" },
	{ .section = "media", .name = "thumb_max_pixels", .type = CONF_U64,
	  .off = OFF(media_thumb_max_pixels), .def = "16000000", .min = 1,
	  .max = 1000000000, .unit = "count",
	  .help = "largest picture (width x height) a thumbnail is made of, "
		  "checked before decoding; larger images and videos get "
		  "none (the thumbnail process also has probe_memory_bytes "
		  "and probe_timeout_seconds)" },
	/* [scan]: virus scanning with ClamAV's clamd (off by default) */
	{ .section = "scan", .name = "clamd", .type = CONF_STR,
	  .off = OFF(scan_clamd), .def = "", .check = check_clamd,
	  .unit = "address",
	  .help = "clamd to scan every stored file with (INSTREAM): a unix "
		  "socket's path, or tcp:HOST:PORT; empty = no scanning" },
	{ .section = "scan", .name = "pending_downloads", .type = CONF_U64,
	  .off = OFF(scan_pending_downloads), .def = "1", .max = 1,
	  .unit = "0 or 1",
	  .help = "1: a file not scanned yet may be downloaded; 0: 409 "
		  "until its scan is done" },
	{ .section = "scan", .name = "timeout_seconds", .type = CONF_U64,
	  .off = OFF(scan_timeout_seconds), .def = "120", .min = 1,
	  .max = 3600, .unit = "seconds",
	  .help = "how long clamd may take over one step of a scan "
		  "(connecting, each chunk sent, its reply) before the "
		  "file's state is error" },
};

static const char *const tier_names[PT_TIER_COUNT] = {
	[PT_TIER_ANONYMOUS] = "anonymous",
	[PT_TIER_FREE] = "free",
	[PT_TIER_PREMIUM] = "premium",
};

const char *conf_tier_name(enum pt_tier_id t)
{
	return (unsigned)t < PT_TIER_COUNT ? tier_names[t] : "unknown";
}

enum pt_tier_id conf_tier_lookup(const char *name)
{
	for (int t = 0; t < PT_TIER_COUNT; t++)
		if (!strcmp(name, tier_names[t]))
			return (enum pt_tier_id)t;
	return PT_TIER_COUNT;
}

/* ---- sizes ---- */

/*
 *   size   = digits [ unit [ "B" | "iB" ] ] | digits "B"
 *   unit   = K | M | G | T   (either case; powers of 1024)
 * No sign, no spaces, no fraction: "1.5G" is refused rather than guessed.
 */
static const char *size_parse(const char *s, uint64_t *out)
{
	uint64_t v = 0;
	unsigned shift = 0;
	const char *p = s;

	if (*p < '0' || *p > '9')
		return "not a size (bytes, or a number with K, M, G or T)";
	for (; *p >= '0' && *p <= '9'; p++) {
		unsigned d = (unsigned)(*p - '0');
		if (v > (UINT64_MAX - d) / 10)
			return "too large";
		v = v * 10 + d;
	}
	switch (*p) {
	case 'K': case 'k': shift = 10; p++; break;
	case 'M': case 'm': shift = 20; p++; break;
	case 'G': case 'g': shift = 30; p++; break;
	case 'T': case 't': shift = 40; p++; break;
	}
	if (shift && p[0] == 'i' && p[1] == 'B')
		p += 2;
	else if (p[0] == 'B')
		p++;
	if (*p)
		return "not a size (bytes, or a number with K, M, G or T)";
	if (shift && v > (UINT64_MAX >> shift))
		return "too large";
	*out = v << shift;
	return NULL;
}

int conf_parse_size(const char *s, uint64_t *out)
{
	return size_parse(s, out) ? PT_EBADREQ : 0;
}

uint64_t conf_space(uint64_t v, uint64_t fs_size)
{
	if (!(v & CONF_PERCENT))
		return v;
	v &= ~CONF_PERCENT;
	/* no overflow: a file system is far below 2^57 bytes */
	return fs_size / 100 * v + fs_size % 100 * v / 100;
}

/* The shortest exact spelling: 2147483648 → "2G", 1000 → "1000". */
static void size_format(uint64_t v, char out[24])
{
	static const char units[] = "TGMK";
	static const unsigned shifts[] = { 40, 30, 20, 10 };

	for (int i = 0; v && i < 4; i++) {
		if (!(v & ((UINT64_C(1) << shifts[i]) - 1))) {
			snprintf(out, 24, "%llu%c",
				 (unsigned long long)(v >> shifts[i]),
				 units[i]);
			return;
		}
	}
	snprintf(out, 24, "%llu", (unsigned long long)v);
}

/* ---- the table ---- */

static void opt_key(const struct conf_opt *o, char out[64])
{
	snprintf(out, 64, "%s.%s", o->section, o->name);
}

static char **opt_str(struct pt_conf *c, const struct conf_opt *o)
{
	return (char **)(void *)((char *)c + o->off);
}

static uint64_t *opt_u64(struct pt_conf *c, const struct conf_opt *o)
{
	return (uint64_t *)(void *)((char *)c + o->off);
}

static const struct conf_opt *opt_find(const char *section, const char *name)
{
	for (size_t i = 0; i < PT_ARRAY_LEN(opts); i++)
		if (!strcmp(opts[i].section, section) &&
		    !strcmp(opts[i].name, name))
			return &opts[i];
	return NULL;
}

static bool section_known(const char *section)
{
	for (size_t i = 0; i < PT_ARRAY_LEN(opts); i++)
		if (!strcmp(opts[i].section, section))
			return true;
	return false;
}

/* Start a fresh one-line message in err (which may be NULL). */
static void err_set(struct pt_buf *err, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void err_set(struct pt_buf *err, const char *fmt, ...)
{
	char line[512];
	va_list ap;

	if (!err)
		return;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	pt_buf_reset(err);
	pt_buf_adds(err, line);
}

/* A value as it may be shown in a one-line message: no control bytes,
 * at most 60 bytes of it. */
static void quote_value(const char *v, char out[72])
{
	size_t i;

	for (i = 0; i < 60 && v[i]; i++)
		out[i] = (unsigned char)v[i] < 0x20 || v[i] == 0x7f ? '?'
								 : v[i];
	out[i] = '\0';
	if (v[i])
		memcpy(out + i, "...", 4);
}

/*
 * Why a string cannot be a value, or NULL.  The first rules are inih's,
 * not ours: it trims spaces, ends a line at a newline, treats " ;" as the
 * start of a comment and splits long lines, so such a value would not read
 * back from conf_dump()'s output.
 */
static const char *str_why(const struct conf_opt *o, const char *v,
			   char why[160])
{
	size_t n = strlen(v);

	if (n > CONF_MAX_VALUE)
		return "longer than 180 bytes";
	for (size_t i = 0; i < n; i++) {
		if ((unsigned char)v[i] < 0x20 || v[i] == 0x7f)
			return "contains a control character";
		if (v[i] == ';' && (i == 0 || v[i - 1] == ' '))
			return "';' at the start or after a space begins "
			       "a comment";
	}
	if (n && (v[0] == ' ' || v[n - 1] == ' '))
		return "begins or ends with a space";
	if (o->min && !n)
		return "must not be empty";
	if (o->choices) {
		size_t len = 0;
		for (const char *const *ch = o->choices; *ch; ch++) {
			if (!strcmp(v, *ch))
				return NULL;
			len += (size_t)snprintf(why + len, 160 - len, "%s%s",
						len ? ", " : "must be one of ",
						*ch);
		}
		return why;
	}
	return o->check ? o->check(v) : NULL;
}

static int opt_set(struct pt_conf *c, const struct conf_opt *o,
		   const char *v, struct pt_buf *err)
{
	char why_buf[160], key[64], shown[72], lim[24];
	const char *why = NULL;
	uint64_t n;

	if (o->type == CONF_STR) {
		why = str_why(o, v, why_buf);
		if (!why) {
			char **s = opt_str(c, o);
			free(*s);
			*s = xstrdup(v);
			return 0;
		}
	} else if (o->pct && *v && v[strlen(v) - 1] == '%') {
		/* "N%": a share of the file system, resolved where it is
		 * used (conf_space) */
		if (pt_parse_u64(v, strlen(v) - 1, &n) || n > 100)
			why = "not a percentage from 0% to 100%";
		if (!why) {
			*opt_u64(c, o) = CONF_PERCENT | n;
			return 0;
		}
	} else {
		if (o->type == CONF_SIZE)
			why = size_parse(v, &n);
		else if (pt_parse_u64(v, strlen(v), &n))
			why = "not a number";
		if (!why && (n < o->min || n > o->max)) {
			uint64_t b = n < o->min ? o->min : o->max;
			if (o->type == CONF_SIZE)
				size_format(b, lim);
			else
				snprintf(lim, sizeof(lim), "%llu",
					 (unsigned long long)b);
			snprintf(why_buf, sizeof(why_buf), "must be at %s %s",
				 n < o->min ? "least" : "most", lim);
			why = why_buf;
		}
		if (!why) {
			*opt_u64(c, o) = n;
			return 0;
		}
	}
	opt_key(o, key);
	quote_value(v, shown);
	err_set(err, "bad value '%s' for '%s': %s", shown, key, why);
	return PT_EBADREQ;
}

void conf_init(struct pt_conf *c)
{
	memset(c, 0, sizeof(*c));
	for (size_t i = 0; i < PT_ARRAY_LEN(opts); i++) {
		int r = opt_set(c, &opts[i], opts[i].def, NULL);
		PT_ASSERT(r == 0);  /* a default breaks its own rule */
	}
}

void conf_release(struct pt_conf *c)
{
	for (size_t i = 0; i < PT_ARRAY_LEN(opts); i++) {
		if (opts[i].type == CONF_STR) {
			char **s = opt_str(c, &opts[i]);
			free(*s);
			*s = NULL;
		}
	}
}

int conf_set(struct pt_conf *c, const char *key, const char *value,
	     struct pt_buf *err)
{
	const char *dot = strrchr(key, '.');
	char section[64], shown[72];
	const struct conf_opt *o = NULL;

	if (dot && (size_t)(dot - key) < sizeof(section)) {
		memcpy(section, key, (size_t)(dot - key));
		section[dot - key] = '\0';
		o = opt_find(section, dot + 1);
	}
	if (!o) {
		quote_value(key, shown);
		err_set(err, "unknown key '%s'", shown);
		return PT_EBADREQ;
	}
	return opt_set(c, o, value, err);
}

/* ---- INI ---- */

struct ini_state {
	struct pt_conf *c;
	const char *pos;          /* next line of the text */
	unsigned lineno;          /* of the line inih is handling */
	bool too_long;
	int max_line;             /* longest line inih can take whole */
	unsigned err_line;        /* first error from the handler, or 0 */
	struct pt_buf msg;
};

/*
 * fgets() for inih over a string, counting lines so the handler knows
 * where it is (Debian's inih is built without INI_HANDLER_LINENO).  A line
 * that does not fit in inih's buffer ends the parse rather than being
 * split.  num - 2, not num - 1: a full buffer without '\n' would make
 * inih try to grow it and ask us for the rest of a line we never split.
 */
static char *ini_read(char *str, int num, void *stream)
{
	struct ini_state *st = stream;
	const char *nl;
	size_t len;

	if (!*st->pos || st->too_long)
		return NULL;
	nl = strchr(st->pos, '\n');
	len = nl ? (size_t)(nl - st->pos) + 1 : strlen(st->pos);
	st->lineno++;
	st->max_line = num - 3;  /* not counting the '\n' */
	if (num < 2 || len > (size_t)num - 2) {
		st->too_long = true;
		return NULL;
	}
	memcpy(str, st->pos, len);
	str[len] = '\0';
	st->pos += len;
	return str;
}

static int ini_on_value(void *user, const char *section, const char *name,
		       const char *value)
{
	struct ini_state *st = user;
	const struct conf_opt *o;
	char shown[72];

	if (st->err_line)
		return 1;  /* the first error only; apply nothing after it */
	o = opt_find(section, name);
	if (o && !opt_set(st->c, o, value, &st->msg))
		return 1;
	if (!o) {
		quote_value(name, shown);
		if (!*section)
			err_set(&st->msg, "key '%s' is not in a [section]",
				shown);
		else if (!section_known(section))
			err_set(&st->msg, "unknown key '%s' in [%.60s] "
				"(unknown section)", shown, section);
		else
			err_set(&st->msg, "unknown key '%s' in [%s]", shown,
				section);
	}
	st->err_line = st->lineno;
	return 0;
}

static int ini_load(struct pt_conf *c, const char *text, const char *file,
		    struct pt_buf *err)
{
	struct ini_state st = { .c = c, .pos = text };
	int r, ret = PT_EBADREQ;

	pt_buf_init(&st.msg, 4096);
	r = ini_parse_stream(ini_read, &st, ini_on_value, &st);
	PT_ASSERT(r != -2);  /* inih's malloc failed: out of memory */
	if (r > 0 && (!st.err_line || (unsigned)r < st.err_line))
		err_set(err, "%s:%d: syntax error (expected [section] or "
			"key = value)", file, r);
	else if (st.err_line)
		err_set(err, "%s:%u: %s", file, st.err_line, st.msg.p);
	else if (st.too_long)
		err_set(err, "%s:%u: line too long (more than %d bytes)",
			file, st.lineno, st.max_line);
	else
		ret = 0;
	pt_buf_release(&st.msg);
	return ret;
}

int conf_load_string(struct pt_conf *c, const char *text, struct pt_buf *err)
{
	return ini_load(c, text, "<string>", err);
}

int conf_load_file(struct pt_conf *c, const char *path, struct pt_buf *err)
{
	struct pt_buf text;
	char chunk[8192];
	int fd, ret;
	ssize_t n;

	pt_buf_init(&text, CONF_MAX_FILE);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		ret = -errno;
		goto fail_errno;
	}
	while ((n = read(fd, chunk, sizeof(chunk))) != 0) {
		if (n < 0) {
			if (errno == EINTR)
				continue;
			ret = -errno;
			close(fd);
			goto fail_errno;
		}
		if (memchr(chunk, '\0', (size_t)n)) {
			err_set(err, "%s: not a text file (contains a NUL "
				"byte)", path);
			ret = PT_EBADREQ;
			close(fd);
			goto out;
		}
		if (pt_buf_add(&text, chunk, (size_t)n)) {
			err_set(err, "%s: larger than %u bytes", path,
				CONF_MAX_FILE);
			ret = PT_EBADREQ;
			close(fd);
			goto out;
		}
	}
	close(fd);
	ret = ini_load(c, text.p ? text.p : "", path, err);
	goto out;
fail_errno:
	err_set(err, "cannot read '%s': %s", path, strerror(-ret));
out:
	pt_buf_release(&text);
	return ret;
}

/* ---- environment ---- */

/* "tier.free" + "wait_seconds" → "PARTAGE_TIER_FREE_WAIT_SECONDS" */
static void opt_env(const struct conf_opt *o, char out[96])
{
	size_t n = (size_t)snprintf(out, 96, "PARTAGE_%s_%s", o->section,
				    o->name);
	for (size_t i = 0; i < n && i < 95; i++)
		out[i] = out[i] == '.' ? '_'
		       : out[i] >= 'a' && out[i] <= 'z' ? (char)(out[i] - 32)
		       : out[i];
}

/*
 * Looked up key by key rather than by walking environ, so PARTAGE_*
 * variables meant for others (PARTAGE_TIME_OFFSET, PARTAGE_CONFIG) are
 * simply never asked for.  The short form first, so that the full name
 * wins when both are set.
 */
int conf_load_env(struct pt_conf *c, struct pt_buf *err)
{
	char env[96];

	for (size_t i = 0; i < PT_ARRAY_LEN(opts); i++) {
		const struct conf_opt *o = &opts[i];
		const char *names[2] = { o->env_alias, env };

		opt_env(o, env);
		for (int k = 0; k < 2; k++) {
			const char *v = names[k] ? getenv(names[k]) : NULL;
			if (!v || !opt_set(c, o, v, err))
				continue;
			if (err) {
				char *msg = pt_buf_detach(err, NULL);
				err_set(err, "%s: %s", names[k], msg);
				free(msg);
			}
			return PT_EBADREQ;
		}
	}
	return 0;
}

/* ---- output ---- */

static void opt_value(const struct pt_conf *c, const struct conf_opt *o,
		      char out[24], const char **s)
{
	uint64_t v;

	if (o->type == CONF_STR) {
		*s = *opt_str((struct pt_conf *)c, o);
		return;
	}
	v = *opt_u64((struct pt_conf *)c, o);
	if (o->pct && (v & CONF_PERCENT))
		snprintf(out, 24, "%llu%%",
			 (unsigned long long)(v & ~CONF_PERCENT));
	else if (o->type == CONF_SIZE)
		size_format(v, out);
	else
		snprintf(out, 24, "%llu", (unsigned long long)v);
	*s = out;
}

void conf_dump(const struct pt_conf *c, FILE *out)
{
	const char *section = NULL, *v;
	char num[24];

	fputs("# partage configuration (sizes in bytes or K/M/G/T, "
	      "0 = no limit)\n", out);
	for (size_t i = 0; i < PT_ARRAY_LEN(opts); i++) {
		const struct conf_opt *o = &opts[i];

		if (!section || strcmp(section, o->section)) {
			section = o->section;
			fprintf(out, "\n[%s]\n", section);
		}
		opt_value(c, o, num, &v);
		if (!v)
			v = "";  /* a struct that never saw conf_init() */
		/* "key =" for empty: inih reads "", and no trailing space */
		fprintf(out, "%s =%s%s\n", o->name, *v ? " " : "", v);
	}
}

void conf_help(FILE *out)
{
	char key[64], env[96];

	fputs("Configuration keys (INI [section] key = value; env "
	      "PARTAGE_SECTION_KEY):\n", out);
	for (size_t i = 0; i < PT_ARRAY_LEN(opts); i++) {
		const struct conf_opt *o = &opts[i];

		opt_key(o, key);
		opt_env(o, env);
		fprintf(out, "  %-38s %-12s default '%s'\n      %s\n"
			"      env %s%s%s\n", key, o->unit, o->def, o->help,
			env, o->env_alias ? " or " : "",
			o->env_alias ? o->env_alias : "");
	}
}
