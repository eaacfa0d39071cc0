/*
 * fuzz_server.c — the whole server under libFuzzer: partaged's router,
 * auth phase, policy and handlers, on SQLite and the fs blob store, as
 * `partaged serve` starts them (api/serve.c), in this process and so
 * under the same ASan+UBSan build as the fuzzer.
 *
 * LLVMFuzzerInitialize starts the server on 127.0.0.1 (a port the kernel
 * picks) with a temporary data directory and small limits, and seeds a
 * little state: an account with an API token and a browser session, a
 * shared folder of it holding a file, and a resumable upload.
 * Each input is the bytes a client sends on one connection (one request,
 * or several pipelined), as recorded from the e2e suite
 * (scripts/record-fuzz-corpus.sh).  Placeholders of the length of the real
 * value stand for the seeded state, so recorded downloads, ranges and tus
 * requests reach real rows; a Content-Length stays right:
 *
 *   @ID@@@@@@@@@   (12)  the seeded file's id
 *   @DT@@@…        (43)  its delete token
 *   @FO@@@@@@@@@   (12)  the seeded folder's id
 *   @TOKEN@@…      (43)  the seeded account's API token (Bearer)
 *   @SESSION@@…    (43)  its session cookie (partage_session=…)
 *   @CSRF@@…       (43)  that session's CSRF token
 *   @UP@@@…        (24)  the seeded tus upload's id
 *
 * An input may use a seed up (delete the file or folder, log out, finish
 * the upload): after an input that named one, it is checked and made
 * again if it is gone.
 *
 * The input goes out over a loopback TCP connection from 127.0.0.1 (the
 * fuzzer's own requests, seeds and checks, come from 127.0.0.2, out of
 * the inputs' per-address limits); the reply is read to EOF.  Findings (abort with the input and the reply): a sanitizer report
 * or a crash anywhere in the server; a reply that does not start with
 * "HTTP/1.1 " and a 3-digit status; a 5xx other than 501, 503, 505 and
 * 507 (unsupported transfer coding or version, store unavailable, storage
 * full: answers to a client, not failures); and a server that stops
 * answering GET /healthz.  A connection closed without a reply is fine
 * (MHD closes on garbage it cannot answer).
 *
 * Half-close: MHD reads a request's bytes and a FIN that came with them
 * in one go and then does not notice the FIN until its timeout, so the
 * FIN goes out after the first reply byte, or after FIRST_BYTE_MS when the
 * server waits for more (an incomplete body), which makes it close.
 *
 * The engine is the configuration's default, or FUZZ_ENGINE's
 * (libmicrohttpd or event).
 *
 * The data directory is replaced every RESTART_EVERY inputs or past
 * DATA_MAX bytes, so a long run does not grow without bound; the server is
 * restarted on it (the same start-up code), and the seeds made again.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sodium.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "api/api.h"
#include "conf.h"
#include "util/buf.h"
#include "util/pt.h"
#include "util/banned.h"

#define FIRST_BYTE_MS 10
#define DEADLINE_MS 5000      /* a reply to EOF; past it: /healthz */
#define HEALTH_MS 10000       /* /healthz must answer within this */
#define REPLY_MAX (1u << 20)  /* bytes of reply kept for the checks */
#define RESTART_EVERY 2000
#define DATA_MAX (32u << 20)

static const char P_ID[] = "@ID@@@@@@@@@";
static const char P_DT[] = "@DT@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@";
static const char P_TOKEN[] = "@TOKEN@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@";
static const char P_UP[] = "@UP@@@@@@@@@@@@@@@@@@@@@";
static const char P_FO[] = "@FO@@@@@@@@@";
static const char P_SESSION[] = "@SESSION@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@";
static const char P_CSRF[] = "@CSRF@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@";
_Static_assert(sizeof(P_ID) - 1 == ID_LEN, "placeholder length");
_Static_assert(sizeof(P_DT) - 1 == TOKEN_LEN, "placeholder length");
_Static_assert(sizeof(P_TOKEN) - 1 == TOKEN_LEN, "placeholder length");
_Static_assert(sizeof(P_UP) - 1 == UPLOAD_UID_LEN, "placeholder length");
_Static_assert(sizeof(P_FO) - 1 == ID_LEN, "placeholder length");
_Static_assert(sizeof(P_SESSION) - 1 == TOKEN_LEN, "placeholder length");
_Static_assert(sizeof(P_CSRF) - 1 == TOKEN_LEN, "placeholder length");

/* Limits small enough that no input costs much; no waits or speed caps
 * (they would make every download slow, not find more).  Every input comes
 * from 127.0.0.1: no per-address connection or unknown-id limit, which
 * connections left behind by slow inputs would otherwise trip for all the
 * inputs after them. */
static const char *const settings[][2] = {
	{ "server.listen", "127.0.0.1:0" },
	{ "server.threads", "2" },
	{ "server.access_log", "off" },
	{ "server.timeout_seconds", "2" },
	{ "server.per_ip_connections", "0" },
	{ "server.gc_interval_seconds", "30" },
	{ "server.upload_expiry_hours", "1" },
	{ "abuse.unknown_ids_per_minute", "0" },
	{ "tier.anonymous.max_upload_bytes", "64K" },
	{ "tier.anonymous.wait_seconds", "0" },
	{ "tier.anonymous.speed_bytes_per_second", "0" },
	{ "tier.anonymous.parallel_downloads", "0" },
	{ "tier.free.max_upload_bytes", "64K" },
	{ "tier.free.wait_seconds", "0" },
	{ "tier.free.speed_bytes_per_second", "0" },
	{ "tier.free.parallel_downloads", "0" },
	{ "tier.free.storage_quota_bytes", "1M" },
	{ "tier.premium.max_upload_bytes", "64K" },
	{ "tier.premium.storage_quota_bytes", "1M" },
	/* the probe re-executes /proc/self/exe, which is this fuzzer here:
	 * off (fuzz_probe fuzzes the probe in-process) */
	{ "media.probe_workers", "0" },
};

static struct {
	struct pt_conf conf;
	struct app_server *srv;
	unsigned port;
	char dir[64];
	unsigned long runs, users;
	char id[ID_LEN + 1], dt[TOKEN_LEN + 1];
	char token[TOKEN_LEN + 1], up[UPLOAD_UID_LEN + 1];
	char folder[ID_LEN + 1], session[TOKEN_LEN + 1], csrf[TOKEN_LEN + 1];
	char user[32];
} F;

/* which seeds an input named */
enum { S_FILE = 1, S_FOLDER = 2, S_TOKEN = 4, S_SESSION = 8, S_UP = 16 };

struct reply {
	char *p;
	size_t n;
	bool eof;   /* read to the end (else the deadline passed) */
};

static uint64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/* UBSan reports are findings: stop at the first even in a build that
 * lets them recover (without -fno-sanitize-recover). */
const char *__ubsan_default_options(void);
const char *__ubsan_default_options(void)
{
	return "halt_on_error=1:print_stacktrace=1";
}

static void rm_data(void);

static void die(const char *what)
{
	fprintf(stderr, "fuzz_server: %s\n", what);
	rm_data();
	abort();
}

/* Send req on a new connection from 127.0.0.1 (inputs) or 127.0.0.2 (the
 * fuzzer's own requests: the per-address limits that inputs run into,
 * failed logins above all, must not refuse the seeds), and read the reply
 * to EOF or until deadline_ms.  The reply is NUL-terminated; free rep->p. */
static void exchange(const void *req, size_t n, struct reply *rep,
		     unsigned deadline_ms, bool own)
{
	struct sockaddr_in sa = { .sin_family = AF_INET,
				  .sin_port = htons((uint16_t)F.port),
				  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	struct sockaddr_in me = { .sin_family = AF_INET,
				  .sin_addr.s_addr = htonl(INADDR_LOOPBACK + 1) };
	uint64_t t0 = now_ms(), end = t0 + deadline_ms, fin_at = 0;
	size_t sent = 0, cap = 4096;
	bool fin = false, writing = true;
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	memset(rep, 0, sizeof(*rep));
	rep->p = xmalloc(cap);
	if (fd < 0 || (own && bind(fd, (struct sockaddr *)&me, sizeof(me))) ||
	    connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		die("cannot connect to the server");
	fcntl(fd, F_SETFL, O_NONBLOCK);
	for (;;) {
		uint64_t t = now_ms();
		if (t >= end)
			break;
		if (!writing && !fin && (rep->n || t >= fin_at)) {
			shutdown(fd, SHUT_WR);
			fin = true;
		}
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		if (writing)
			pfd.events |= POLLOUT;
		uint64_t wait = end - t;
		if (!writing && !fin && fin_at - t < wait)
			wait = fin_at > t ? fin_at - t : 0;
		if (poll(&pfd, 1, (int)wait) < 0 && errno != EINTR)
			die("poll failed");
		if (writing && (pfd.revents & (POLLOUT | POLLERR | POLLHUP))) {
			ssize_t k = sent < n ? send(fd, (const char *)req + sent,
						   n - sent, MSG_NOSIGNAL)
					     : 0;
			if (k > 0)
				sent += (size_t)k;
			else if (k < 0 && errno != EAGAIN && errno != EINTR)
				sent = n; /* the server closed: read its reply */
			if (sent == n) {
				writing = false;
				fin_at = now_ms() + FIRST_BYTE_MS;
			}
		}
		if (pfd.revents & (POLLIN | POLLERR | POLLHUP)) {
			char buf[16384];
			ssize_t k = recv(fd, buf, sizeof(buf), 0);
			if (k == 0 || (k < 0 && errno != EAGAIN && errno != EINTR)) {
				rep->eof = true;
				break;
			}
			if (k > 0 && rep->n < REPLY_MAX) {
				size_t take = (size_t)k;
				if (take > REPLY_MAX - rep->n)
					take = REPLY_MAX - rep->n;
				while (rep->n + take + 1 > cap)
					rep->p = xrealloc(rep->p, cap *= 2);
				memcpy(rep->p + rep->n, buf, take);
				rep->n += take;
			}
		}
	}
	rep->p[rep->n] = '\0';
	close(fd);
}

static int status_of(const struct reply *rep)
{
	const char *p = rep->p;
	if (rep->n < 12 || strncmp(p, "HTTP/1.1 ", 9) != 0 || !is_digit(p[9]) ||
	    !is_digit(p[10]) || !is_digit(p[11]))
		return 0;
	return (p[9] - '0') * 100 + (p[10] - '0') * 10 + (p[11] - '0');
}

/* One HTTP exchange of the fuzzer's own (seeds, checks): the status (0:
 * none) and the reply in *rep.  A 503 (the password-hashing queue full of
 * the inputs' logins, say) is asked again, for up to about 5 s. */
static int ask(const char *req, struct reply *rep)
{
	int st;
	for (int i = 0;; i++) {
		exchange(req, strlen(req), rep, HEALTH_MS, true);
		st = status_of(rep);
		if (st != 503 || i == 50)
			return st;
		free(rep->p);
		usleep(100 * 1000);
	}
}

/* The value of header `name` (with ": ") or of JSON "key":" in rep, copied
 * into out (len bytes exactly), or die. */
static void pick(const struct reply *rep, const char *after, char *out,
		 size_t len, const char *what)
{
	const char *p = strstr(rep->p, after);
	if (!p || strlen(p + strlen(after)) < len) {
		fprintf(stderr, "fuzz_server: no %s in: %.400s\n", what, rep->p);
		rm_data();
		abort();
	}
	memcpy(out, p + strlen(after), len);
	out[len] = '\0';
}

static void seed_file(void)
{
	struct pt_buf b;
	struct reply rep;

	pt_buf_init(&b, 1 << 16);
	pt_buf_addf(&b, "PUT /seed.txt HTTP/1.1\r\nHost: fuzz\r\n"
			"Authorization: Bearer %s\r\nX-Partage-Folder: %s\r\n"
			"Content-Length: 4096\r\n\r\n",
		    F.token, F.folder);
	for (int i = 0; i < 4096 / 64; i++)
		pt_buf_addf(&b, "%063d\n", i);
	exchange(b.p, b.n, &rep, HEALTH_MS, true);
	if (status_of(&rep) != 201)
		die("cannot upload the seed file");
	pick(&rep, "\r\nX-Partage-Id: ", F.id, ID_LEN, "file id");
	pick(&rep, "\r\nX-Delete-Token: ", F.dt, TOKEN_LEN, "delete token");
	free(rep.p);
	pt_buf_release(&b);
}

/* POST path with a JSON body (and credentials): the status, reply in rep */
static int post_json(const char *path, const char *auth, const char *body,
		     struct reply *rep)
{
	char req[1024];
	snprintf(req, sizeof(req),
		 "POST %s HTTP/1.1\r\nHost: fuzz\r\n%s"
		 "Accept: application/json\r\n"
		 "Content-Type: application/json\r\nContent-Length: %zu\r\n"
		 "\r\n%s",
		 path, auth, strlen(body), body);
	return ask(req, rep);
}

static char *credentials(void)
{
	return xasprintf("{\"name\":\"%s\",\"password\":\"fuzz-password\"}",
			 F.user);
}

/* A browser session of the account: 0, or -1 when the login fails (the
 * password was changed: make a new account). */
static int seed_session(void)
{
	struct reply rep;
	char *body = credentials();
	int st = post_json("/api/v1/sessions", "", body, &rep);
	free(body);
	if (st == 200 || st == 201) {
		pick(&rep, "partage_session=", F.session, TOKEN_LEN, "session");
		pick(&rep, "\"csrf\":\"", F.csrf, TOKEN_LEN, "csrf token");
	}
	free(rep.p);
	return st == 200 || st == 201 ? 0 : -1;
}

static void seed_folder(void)
{
	struct reply rep;
	char *auth = xasprintf("Authorization: Bearer %s\r\n", F.token);
	if (post_json("/api/v1/folders", auth,
		      "{\"name\":\"seed\",\"shared\":true}", &rep) != 201)
		die("cannot create the seed folder");
	pick(&rep, "\"id\":\"", F.folder, ID_LEN, "folder id");
	free(rep.p);
	free(auth);
}

/* A new account (a fresh name: an input may have changed the password),
 * its token, session, folder and file. */
static void seed_account(void)
{
	struct reply rep;
	char *body;

	snprintf(F.user, sizeof(F.user), "fuzz%lu", ++F.users);
	body = credentials();
	if (post_json("/api/v1/users", "", body, &rep) != 201)
		die("cannot register the seed account");
	free(rep.p);
	if (post_json("/api/v1/tokens", "", body, &rep) != 201)
		die("cannot make the seed token");
	pick(&rep, "\"token\":\"", F.token, TOKEN_LEN, "token");
	free(rep.p);
	free(body);
	if (seed_session())
		die("cannot log the seed account in");
	seed_folder();
	seed_file();
}

static void seed_upload(void)
{
	struct reply rep;
	if (ask("POST /api/v1/uploads HTTP/1.1\r\nHost: fuzz\r\n"
		"Tus-Resumable: 1.0.0\r\nUpload-Length: 8192\r\n"
		"Content-Length: 0\r\n\r\n",
		&rep) != 201)
		die("cannot create the seed upload");
	pick(&rep, "/api/v1/uploads/", F.up, UPLOAD_UID_LEN, "upload id");
	free(rep.p);
}

static int rm_cb(const char *path, const struct stat *st, int type,
		 struct FTW *ftw)
{
	(void)st, (void)type, (void)ftw;
	remove(path);
	return 0;
}

static uint64_t data_bytes;
static int du_cb(const char *path, const struct stat *st, int type,
		 struct FTW *ftw)
{
	(void)path, (void)ftw;
	if (type == FTW_F)
		data_bytes += (uint64_t)st->st_blocks * 512;
	return 0;
}

static void rm_data(void)
{
	if (*F.dir)
		nftw(F.dir, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
}

static void stop(void)
{
	if (!F.srv)
		return;
	app_serve_stop(F.srv, 2);
	F.srv = NULL;
	rm_data();
}

static void start(void)
{
	const char *tmp = getenv("TMPDIR");
	struct pt_buf err;

	snprintf(F.dir, sizeof(F.dir), "%.40s/partage-fuzz-XXXXXX",
		 tmp && *tmp && strlen(tmp) <= 40 ? tmp : "/tmp");
	if (!mkdtemp(F.dir))
		die("cannot make a data directory");
	pt_buf_init(&err, 4096);
	if (conf_set(&F.conf, "storage.data", F.dir, &err))
		die("cannot set storage.data");
	pt_buf_release(&err);
	if (app_serve_start(&F.conf, &F.srv))
		die("the server does not start");
	F.port = app_serve_port(F.srv);
	if (!F.port)
		die("the server's port is unknown");
	seed_account();
	seed_upload();
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	struct pt_buf err;

	(void)argc, (void)argv;
	signal(SIGPIPE, SIG_IGN);
	if (sodium_init() < 0)
		die("cannot initialise libsodium");
	pt_buf_init(&err, 4096);
	conf_init(&F.conf);
	for (size_t i = 0; i < PT_ARRAY_LEN(settings); i++)
		if (conf_set(&F.conf, settings[i][0], settings[i][1], &err)) {
			fprintf(stderr, "fuzz_server: %s\n", err.p);
			abort();
		}
	/* FUZZ_ENGINE=libmicrohttpd|event: the engine under test (the
	 * default's otherwise) */
	const char *engine = getenv("FUZZ_ENGINE");
	if (engine && conf_set(&F.conf, "server.engine", engine, &err)) {
		fprintf(stderr, "fuzz_server: %s\n", err.p);
		abort();
	}
	pt_buf_release(&err);
	start();
	atexit(stop);
	return 0;
}

/* Put the seeded values in place of their placeholders (same lengths). */
static void substitute(uint8_t *p, size_t n, const char *ph, const char *v,
		       unsigned *named, unsigned flag)
{
	size_t len = strlen(ph);
	uint8_t *end = p + n, *q = p;
	while ((q = memmem(q, (size_t)(end - q), ph, len))) {
		memcpy(q, v, len);
		q += len;
		*named |= flag;
	}
}

static void report(const char *why, const uint8_t *in, size_t n,
		   const struct reply *rep)
{
	fprintf(stderr, "fuzz_server: %s\n--- request (%zu bytes) ---\n", why,
		n);
	for (size_t i = 0; i < n && i < 4096; i++) {
		if (in[i] == '\n' || (in[i] >= 0x20 && in[i] < 0x7f))
			fputc(in[i], stderr);
		else
			fprintf(stderr, "\\x%02x", in[i]);
	}
	fprintf(stderr, "\n--- reply (%zu bytes) ---\n%.2000s\n", rep->n,
		rep->p);
	rm_data();
	abort();
}

/* 5xx that are answers, not failures */
static bool allowed_5xx(int status)
{
	return status == 501 || status == 503 || status == 505 ||
	       status == 507;
}

/* Walk the replies: each status line well-formed while the framing can be
 * followed (a HEAD's Content-Length has no body after it: after that the
 * walk stops rather than guess), no 5xx but the allowed ones. */
static void check(const uint8_t *in, size_t n, const struct reply *rep)
{
	const char *p = rep->p, *end = rep->p + rep->n;
	bool first = true;

	while (p < end) {
		if (end - p < 13 || strncmp(p, "HTTP/1.1 ", 9) != 0 ||
		    !is_digit(p[9]) || !is_digit(p[10]) || !is_digit(p[11]) ||
		    p[12] != ' ') {
			if (first)
				report("a reply that is not HTTP/1.1 NNN", in,
				       n, rep);
			return;
		}
		int status = (p[9] - '0') * 100 + (p[10] - '0') * 10 +
			     (p[11] - '0');
		if (status >= 500 && !allowed_5xx(status))
			report("a 5xx reply to a client's request", in, n, rep);
		first = false;
		const char *head_end = memmem(p, (size_t)(end - p), "\r\n\r\n", 4);
		if (!head_end)
			return;
		const char *body = head_end + 4;
		if (status < 200) {
			p = body;
			continue;
		}
		const char *cl = memmem(p, (size_t)(head_end - p),
					"\r\nContent-Length: ", 18);
		if (!cl)
			return; /* chunked or to EOF: the last we can follow */
		uint64_t len;
		const char *v = cl + 18, *e = v;
		while (e < head_end && is_digit(*e))
			e++;
		if (pt_parse_u64(v, (size_t)(e - v), &len) ||
		    len > (uint64_t)(end - body))
			return;
		p = body + len;
	}
}

/* Is GET/HEAD path with these headers answered 200? */
static bool alive(const char *method, const char *path, const char *hdr)
{
	struct reply rep;
	char *req = xasprintf("%s %s HTTP/1.1\r\nHost: fuzz\r\n%s\r\n", method,
			      path, hdr);
	bool ok = ask(req, &rep) == 200;
	free(rep.p);
	free(req);
	return ok;
}

/* The seeds an input named, checked and made again if it used them up. */
static void reseed(unsigned named)
{
	char path[128], hdr[160];

	if (named & (S_TOKEN | S_SESSION | S_FOLDER)) {
		snprintf(hdr, sizeof(hdr), "Authorization: Bearer %s\r\n",
			 F.token);
		if (!alive("GET", "/api/v1/me", hdr)) {
			seed_account();
			goto upload;
		}
	}
	if (named & S_SESSION) {
		snprintf(hdr, sizeof(hdr), "Cookie: partage_session=%s\r\n",
			 F.session);
		if (!alive("GET", "/api/v1/me", hdr) && seed_session()) {
			seed_account();
			goto upload;
		}
	}
	if (named & (S_FOLDER | S_FILE)) {
		snprintf(path, sizeof(path), "/api/v1/folders/%s", F.folder);
		snprintf(hdr, sizeof(hdr), "Authorization: Bearer %s\r\n",
			 F.token);
		if (!alive("GET", path, hdr)) {
			seed_folder();
			seed_file();
		}
	}
	if (named & S_FILE) {
		snprintf(path, sizeof(path), "/%s", F.id);
		if (!alive("HEAD", path, ""))
			seed_file();
	}
upload:
	if (named & S_UP) {
		snprintf(path, sizeof(path), "/api/v1/uploads/%s", F.up);
		if (!alive("HEAD", path, "Tus-Resumable: 1.0.0\r\n"))
			seed_upload();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t *in = xmalloc(size + 1);
	unsigned named = 0;
	struct reply rep;

	memcpy(in, data, size);
	substitute(in, size, P_ID, F.id, &named, S_FILE);
	substitute(in, size, P_DT, F.dt, &named, S_FILE);
	substitute(in, size, P_FO, F.folder, &named, S_FOLDER);
	substitute(in, size, P_TOKEN, F.token, &named, S_TOKEN);
	substitute(in, size, P_SESSION, F.session, &named, S_SESSION);
	substitute(in, size, P_CSRF, F.csrf, &named, S_SESSION);
	substitute(in, size, P_UP, F.up, &named, S_UP);
	exchange(in, size, &rep, DEADLINE_MS, false);
	check(data, size, &rep);
	if (!rep.eof) {
		struct reply h;
		if (ask("GET /healthz HTTP/1.1\r\nHost: fuzz\r\n"
			"Connection: close\r\n\r\n", &h) != 200)
			report("the server stopped answering /healthz", data,
			       size, &rep);
		free(h.p);
	}
	free(rep.p);
	free(in);
	reseed(named);

	if (++F.runs % 100 == 0) {
		data_bytes = 0;
		nftw(F.dir, du_cb, 16, FTW_PHYS);
		if (F.runs % RESTART_EVERY == 0 || data_bytes > DATA_MAX) {
			stop();
			start();
		}
	}
	return 0;
}
