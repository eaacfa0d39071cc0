/*
 * cli.h — the pieces the `partage` client's commands share: the parsed
 * command line, a thin libcurl wrapper that keeps one connection alive
 * across requests, the progress line and waiting countdown on stderr
 * (progress.c, one for uploads and downloads), and the reading of the
 * server's replies (reasons, Retry-After, file objects).
 *
 * Output rules (docs/cli.md): results go to stdout, one per line; every
 * failure is one line on stderr in the house voice ("partage: cannot open
 * 'x': No such file or directory"); progress and countdowns are drawn on
 * stderr only when it is a terminal.  The client is single-threaded and
 * every call here may block on the network.
 */
#ifndef PT_CLI_H
#define PT_CLI_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/stat.h>

#include <curl/curl.h>
#include <jansson.h>

#include "../util/buf.h"
#include "../util/pt.h"

#define CLI_DEFAULT_SERVER "http://127.0.0.1:8080"
/* Replies we keep in memory (file objects, error reasons) are small. */
#define CLI_BODY_MAX (1u << 20)

/* Exit statuses. */
enum { CLI_OK = 0, CLI_FAIL = 1, CLI_USAGE = 2 };

struct cli_creds;

struct cli_opts {
	char *server;            /* no trailing '/' */
	bool json;
	bool have_max_days, have_max_downloads;
	uint64_t max_days, max_downloads;
	const char *name;        /* upload: name to use instead of basename */
	const char *output;      /* download -o */
	const char *output_dir;  /* download --output-dir */
	const char *token;       /* delete --token */
	const char *api_token;   /* env PARTAGE_API_TOKEN: Authorization */
	const struct cli_creds *creds; /* stored logins: a token per server,
					* sent when api_token is unset */
	bool password_stdin;     /* login --password-stdin */
	const char *password;    /* --password: the link's password */
	const char *folder;      /* upload --folder: X-Partage-Folder */
	const char *parent;      /* mkdir --parent */
	bool shared;             /* mkdir --shared */
	const char *to;          /* mv --to: a folder, or "/" */
	bool recursive;          /* rm --recursive */
	bool progress;           /* stderr is a terminal */
	const char *request;     /* upload --request: a file request's URL */
	bool have_expires, have_max_files, have_max_bytes;
	uint64_t expires, max_files, max_bytes; /* request create */
};

/* One line "partage: ..." on stderr. */
void cli_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* ---- progress (progress.c) ----
 *
 * One line on stderr, redrawn in place at most 10 times a second:
 *   report.pdf                42%  12.3 MiB / 29.1 MiB  3.4 MiB/s  ETA 0:05
 * ending, when all the bytes are there, with the average rate and the time
 * taken ("in 0:09").  The rate is over a sliding window of the last 5 s,
 * so bursts and pauses move it and the ETA smoothly; no rate ("--:--")
 * before the first byte.  Drawn only when stderr is a terminal
 * (o->progress); otherwise every call is a no-op.  Never fails.
 */
struct cli_progress {
	const char *label;         /* borrowed; cut to 24 bytes when drawn */
	uint64_t total;            /* bytes in all; 0: unknown (no ETA) */
	uint64_t at;               /* bytes done */
	uint64_t start_ns, start_bytes; /* for the final average */
	uint64_t s_ns[24], s_bytes[24]; /* rate samples, oldest first */
	unsigned n;                /* samples in s_*; 0: not started */
	uint64_t draw_ns;
	uint64_t hold_until_ns;    /* the server holds the body until then
				    * (X-Partage-Wait): a countdown, not a
				    * rate; 0: not held */
	uint64_t hold_at;          /* bytes done when the hold began: one
				    * more is the body, and the hold is over
				    * (the server's clock may end it before
				    * ours does) */
	bool on;                   /* stderr is a terminal */
	bool drawn;                /* its line is open on stderr */
};

/* A bar for label (borrowed) of total bytes (0: unknown). */
void cli_progress_init(struct cli_progress *p, const struct cli_opts *o,
		       const char *label, uint64_t total);
/* A new request continues the bar at byte at: the time since the last
 * sample (a wait, a reconnect) does not count in the rate; a restart from
 * fewer bytes forgets the rate. */
void cli_progress_resume(struct cli_progress *p, uint64_t at);
/* at bytes done, of total (0: unchanged); redrawn when due, or now when
 * force. */
void cli_progress_update(struct cli_progress *p, uint64_t at, uint64_t total,
			 bool force);
/* The server holds the body secs more seconds (a free tier's wait), the
 * bar standing at byte at: the line counts them down ("partage: free
 * download starts in 12 s") in place of the bar until then or until a
 * byte past at arrives, and the rate starts when it ends. */
void cli_progress_hold(struct cli_progress *p, unsigned secs, uint64_t at);
/* End the line (a newline) if one is open. */
void cli_progress_end(struct cli_progress *p);
/* Sleep secs seconds, saying "partage: WHY in 12 s" (or "in 1:05") on
 * stderr: a countdown on a terminal, one line otherwise. */
void cli_wait(const struct cli_opts *o, unsigned secs, const char *why);

/* ---- HTTP ---- */

struct cli_http;
/* Called once the final response's headers are in (not for 1xx or a
 * redirect being followed), and for each piece of its body when the
 * status is 2xx.  Return 0, or a negative status to abort the transfer
 * (cli_http_perform then returns it). */
typedef int (*cli_headers_cb)(struct cli_http *h);
typedef int (*cli_body_cb)(struct cli_http *h, const char *p, size_t n);

struct cli_http {
	/* request, filled by the caller */
	const char *method;        /* NULL: GET */
	const char *url;
	struct curl_slist *headers;
	int in_fd;                 /* request body from this fd; -1: none */
	int64_t in_size;           /* -1: unknown length, sent chunked */
	const char *in_data;       /* or a body in memory (in_fd -1) */
	size_t in_len;
	bool follow;               /* follow redirects */
	struct cli_progress *bar;  /* the caller's progress line (it may
				    * span requests: retries, tus PATCHes);
				    * NULL: none */
	uint64_t progress_base;    /* bytes already on disk (resume) or
				    * already sent (a tus PATCH) */
	uint64_t progress_total;   /* upload: the whole file's size when
				    * this request sends one piece; 0 */
	bool progress_more;        /* more requests continue this bar: do
				    * not end its line */
	cli_headers_cb on_headers;
	cli_body_cb on_body;       /* NULL: 2xx bodies go to `body` too */
	void *arg;

	/* response */
	long status;               /* 0 until a status line arrived */
	struct pt_buf hdrs;        /* "name: value\n" of the last response */
	struct pt_buf body;        /* non-streamed body, up to CLI_BODY_MAX */
	char errbuf[CURL_ERROR_SIZE];

	/* private */
	int cb_err;
	bool final, auth_added;
	uint64_t in_sent;          /* bytes read from in_fd */
};

/* A fresh request: zeroed, in_fd -1, in_size -1. */
void cli_http_init(struct cli_http *h, const char *method, const char *url);
/* Free headers and buffers; h may be reused after cli_http_init. */
void cli_http_release(struct cli_http *h);
/* Add "Name: value" (formatted) to the request headers. */
void cli_http_add_header(struct cli_http *h, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/*
 * Run the request.  Returns 0 when a response arrived (any status, in
 * h->status), a callback's negative status when one aborted, or
 * PT_EUNAVAIL for a transport failure with curl's message in h->errbuf.
 */
int cli_http_perform(struct cli_http *h, const struct cli_opts *o);
/* Value of response header `name` (trimmed; caller frees), or NULL. */
char *cli_http_header(const struct cli_http *h, const char *name);
/* "reason (HTTP 404)" for an unsuccessful reply, from its text or JSON
 * body, into out (replaced).  Never empty. */
void cli_http_reason(const struct cli_http *h, struct pt_buf *out);
/* Seconds the reply's Retry-After asks for (1..3600), or dflt. */
unsigned cli_http_retry_after(const struct cli_http *h, unsigned dflt);
/* The body parsed as a JSON object (caller decrefs), or NULL. */
json_t *cli_http_json(const struct cli_http *h);
/* Describe a failed cli_http_perform() result in out. */
void cli_http_strerror(const struct cli_http *h, int err, struct pt_buf *out);
/* Curl's connection cache and global state, at exit. */
void cli_http_cleanup(void);

/* ---- targets ---- */

/* A file named on the command line by id, share URL or direct URL. */
struct cli_target {
	char *base;              /* server URL without trailing '/' */
	char id[13];
	char *direct;            /* the URL given when it names the bytes
				  * (/{id}/{name}), else NULL */
	const char *kind;        /* "files", or "folders" for a folder's
				  * link (/folder/{id}[/{name}.zip]) */
};

/* Parse ID_OR_URL.  Returns 0, or PT_EBADREQ (not an id nor a URL with
 * an id in its path). */
int cli_target_parse(const char *arg, const struct cli_opts *o,
		     struct cli_target *t);
void cli_target_release(struct cli_target *t);
/*
 * GET /api/v1/{kind}/{id}: 0 and the object in *out, or a negative status
 * with a one-line message in msg: PT_EUNSUPPORTED when the reply is not
 * JSON at all (not a partage API), the status of the HTTP error (e.g.
 * PT_ENOTFOUND, PT_EGONE) for a JSON error, or a transport failure.
 */
int cli_file_object(const struct cli_opts *o, const struct cli_target *t,
		    json_t **out, struct pt_buf *msg);
/* Resolve ref (absolute or relative) against base; caller frees. */
char *cli_url_resolve(const char *base, const char *ref);
/* A string member of a JSON object, or NULL. */
const char *cli_json_str(const json_t *obj, const char *key);
/* obj as one line of compact JSON on stdout (--json output). */
void cli_print_json(const json_t *obj);
/* POST url with req (a JSON object) to make a KIND ("folder",
 * "request"), and print it: the reply itself with --json, else its "url"
 * on stdout and "KIND id: ID" on stderr.  0, or -1 after one line on
 * stderr, "cannot WHAT: reason" (WHAT made from fmt, as cli_api_do),
 * also for a reply without a "url" ("the reply is not a KIND"). */
int cli_api_make(const struct cli_opts *o, const char *url,
		 const json_t *req, const char *kind, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));
/* Run an upload's request h (the bytes of file): 0, or an error said on
 * stderr ("cannot read FILE" for the file's own errors, "cannot upload
 * FILE" for the transfer's) and -1; msg is scratch. */
int cli_upload_perform(struct cli_http *h, const struct cli_opts *o,
		       const char *file, struct pt_buf *msg);

/* ---- stored logins (login.c) ----
 *
 * $XDG_CONFIG_HOME/partage/credentials (else ~/.config/partage/…), mode
 * 0600, one line per server: "SERVER_URL TOKEN_ID TOKEN".  Written whole
 * to a temp file and renamed, so a crash leaves the old or the new file.
 */
struct cli_cred {
	char *server, *id, *token;
};
struct cli_creds {
	struct cli_cred *v;
	size_t n;
};

/* Read the file into c (empty when it does not exist).  Returns 0, or a
 * negative status after saying why on stderr. */
int cli_creds_load(struct cli_creds *c);
void cli_creds_release(struct cli_creds *c);
/* The login whose server URL is the longest prefix of url (at a '/', '?'
 * or the end), or NULL. */
const struct cli_cred *cli_creds_find(const struct cli_creds *c,
				      const char *url);

/* ---- unfinished uploads (state.c) ----
 *
 * $XDG_STATE_HOME/partage/uploads.json (else ~/.local/state/partage/…),
 * mode 0600: which tus upload URL (and delete token) holds the bytes of
 * which local file, so another run can resume it.  Each call locks the
 * file (flock) for its read-modify-write and replaces it atomically.
 * Errors are said on stderr; the caller goes on without resume.
 */
struct cli_resume_key {
	const char *server;      /* o->server */
	const char *path;        /* absolute, resolved */
	uint64_t size;
	int64_t mtime_ns;
	uint64_t dev, ino;
	/* hex SHA-256 of what the upload is created with (name, folder,
	 * limits, password, login): a digest, so no secret is written */
	char options[65];
};

/* 0 and the entry's upload URL and delete token (caller frees);
 * PT_ECONFLICT and the same when the entry is for this file but was made
 * with other options; PT_ENOTFOUND when there is none, or another negative
 * status when the state cannot be read. */
int cli_state_get(const struct cli_resume_key *k, char **url, char **token);
/* Record (replace) the entry for k.  Returns 0 or a negative status. */
int cli_state_put(const struct cli_resume_key *k, const char *url,
		  const char *token);
/* Forget the entry for k (none is fine).  Returns 0 or a negative status. */
int cli_state_remove(const struct cli_resume_key *k);

/* ---- resumable upload (tus.c) ---- */

/*
 * Upload the regular file open on fd (st its fstat) as `name` through the
 * server's tus endpoint, resuming a recorded upload of the same file, and
 * print its link (or file object) and delete token as a PUT does.
 * Returns 0; -1 after saying why on stderr; or PT_EUNSUPPORTED, with
 * nothing said, when the server has no tus endpoint (send a PUT).
 */
int cli_tus_upload(const struct cli_opts *o, const char *file, int fd,
		   const struct stat *st, const char *name);

/* ---- commands ---- */
int cli_upload(const struct cli_opts *o, int argc, char **argv);
/* webhooks.c: list, add URL [EVENT...], rm ID..., log ID */
int cli_webhooks(const struct cli_opts *o, int argc, char **argv);
/* remote.c: the server fetches each URL (a remote upload) */
int cli_remote(const struct cli_opts *o, int argc, char **argv);
int cli_download(const struct cli_opts *o, int argc, char **argv);
int cli_login(const struct cli_opts *o, int argc, char **argv);
int cli_logout(const struct cli_opts *o);
/* manage.c: the logged-in user's files and folders */
int cli_ls(const struct cli_opts *o, int argc, char **argv);
int cli_mv(const struct cli_opts *o, int argc, char **argv);
int cli_rename(const struct cli_opts *o, const char *item, const char *name);
int cli_rm(const struct cli_opts *o, int argc, char **argv);
int cli_share(const struct cli_opts *o, const char *folder, bool share);

/*
 * METHOD url with body (a JSON object, or NULL for none).  Returns 0 when
 * the server answered 2xx, its JSON object in *rep when rep is not NULL
 * (NULL for an empty reply); or -1 with a one-line reason in msg ("reason
 * (HTTP 409)", or curl's message) and the status in *status (0: no reply).
 */
int cli_api_call(const struct cli_opts *o, const char *method,
		 const char *url, const json_t *body, json_t **rep,
		 long *status, struct pt_buf *msg);
/* cli_api_call for a command that stops at a failure: 0 as above, or -1
 * after one line on stderr, "cannot WHAT: reason", WHAT made from fmt
 * ("close file request '%s'", id). */
int cli_api_do(const struct cli_opts *o, const char *method, const char *url,
	       const json_t *body, json_t **rep, const char *fmt, ...)
	__attribute__((format(printf, 6, 7)));

/* request.c: `partage request create FOLDER | list | delete ID...` (the
 * owner's file requests, POST/GET/DELETE /api/v1/requests), and one
 * file sent to a request (`upload --request URL`: PUT URL/NAME, with
 * --password as the request's password).  0 or CLI_FAIL after the
 * reason on stderr. */
int cli_request(const struct cli_opts *o, int argc, char **argv);
int cli_request_upload(const struct cli_opts *o, const char *file, int fd,
		       const char *name, int64_t size);

/* account.c: the account (GET /api/v1/me, rewards), a voucher, points
 * into premium days. */
int cli_account(const struct cli_opts *o);
int cli_redeem(const struct cli_opts *o, const char *code);
/* tokens: list; tokens new [LABEL]: make one, the secret on stdout;
 * tokens revoke ID...: end them. */
int cli_tokens(const struct cli_opts *o, int argc, char **argv);
int cli_convert(const struct cli_opts *o, const char *days);

#endif
