/*
 * main.c — partaged: flags and configuration, `serve` (the signals around
 * the running server of api/serve.c: stores, HTTP server, maintenance
 * thread), and the `admin` subcommands.  A thin program on top of the
 * engine modules.
 *
 *   partaged [serve] [--config FILE] [--listen HOST:PORT] [--data DIR]
 *            [--public-url URL]
 *   partaged admin [--config FILE] [--data DIR] CMD ...
 */
#define _GNU_SOURCE
#include <errno.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <signal.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "api/api.h"
#include "conf.h"
#include "http/server.h"
#include "util/buf.h"
#include "util/pt.h"
#include "util/text.h"
#include "util/banned.h"

/* `partaged --help` prints both; `partaged admin --help` the second */
static const char usage[] =
	"usage: partaged [serve] [--config FILE] [--listen HOST:PORT] "
	"[--data DIR] [--public-url URL]\n"
	"       partaged admin [--config FILE] [--data DIR] CMD ...\n"
	"       partaged --dump-config | --help-config | --version | --help\n";
static const char admin_usage[] =
	"admin commands (partaged admin [--config FILE] [--data DIR] CMD ...):\n"
	"  fsck [--repair] [--full] [--grace SECONDS]\n"
	"                                      reconcile blobs and rows, re-hash\n"
	"                                      a sample (--full: every blob)\n"
	"  user add NAME (password on stdin)   user list\n"
	"  user set-tier NAME free|premium [--days N]\n"
	"  user set-role NAME user|rights_holder|admin\n"
	"  user disable NAME | enable NAME\n"
	"  voucher create --days N [--count K]  (prints one code per line)\n"
	"  gc [--now UNIXTIME] [--dry-run]     expire links, collect blobs\n"
	"  takedown ID... [--content] --reason TEXT [--reference REF]\n"
	"  restore ID                          undo a takedown (quarantine)\n"
	"  blocklist import FILE | export      SHA-256 per line\n"
	"  reports list | show ID | resolve ID [resolved|rejected|open]\n"
	"  audit                               the append-only audit log\n"
	"  stats                               live links and their bytes, blobs\n"
	"                                      and the bytes the store holds\n";

/* ---- configuration from file < env < flags ---- */

struct flag {
	const char *flag, *key;
};

static const struct flag flags[] = {
	{ "--listen", "server.listen" },
	{ "--data", "storage.data" },
	{ "--public-url", "server.public_url" },
};

/* Pull the config flags out of argv (anywhere), leaving the rest in
 * order.  Returns the new argc, or -1 after printing an error. */
static int load_config(struct pt_conf *c, int argc, char **argv)
{
	const char *file = getenv("PARTAGE_CONFIG");
	struct pt_buf err;
	int out = 1, rc = -1;

	pt_buf_init(&err, 4096);
	conf_init(c);
	for (int i = 1; i < argc; i++)
		if (strcmp(argv[i], "--config") == 0 && i + 1 < argc)
			file = argv[i + 1];
	if (file && *file && conf_load_file(c, file, &err)) {
		fprintf(stderr, "partaged: %s\n",
			err.n ? err.p : "cannot read the config file");
		goto done;
	}
	if (conf_load_env(c, &err)) {
		fprintf(stderr, "partaged: %s\n", err.p);
		goto done;
	}
	for (int i = 1; i < argc; i++) {
		const char *key = NULL;
		if (strcmp(argv[i], "--config") == 0 && i + 1 < argc) {
			i++;
			continue;
		}
		for (size_t k = 0; k < PT_ARRAY_LEN(flags); k++) {
			size_t n = strlen(flags[k].flag);
			if (strcmp(argv[i], flags[k].flag) == 0) {
				if (i + 1 >= argc) {
					fprintf(stderr,
						"partaged: '%s' needs a value\n",
						argv[i]);
					goto done;
				}
				key = flags[k].key;
				if (conf_set(c, key, argv[++i], &err)) {
					fprintf(stderr, "partaged: %s\n", err.p);
					goto done;
				}
			} else if (strncmp(argv[i], flags[k].flag, n) == 0 &&
				   argv[i][n] == '=') {
				key = flags[k].key;
				if (conf_set(c, key, argv[i] + n + 1, &err)) {
					fprintf(stderr, "partaged: %s\n", err.p);
					goto done;
				}
			}
		}
		if (!key)
			argv[out++] = argv[i];
	}
	argv[out] = NULL;
	rc = out;
done:
	pt_buf_release(&err);
	return rc;
}

/* ---- serve ---- */

/* The server (serve.c) until SIGTERM or SIGINT. */
static int cmd_serve(struct pt_conf *c)
{
	struct app_server *s;
	sigset_t set;
	int sig;

	/* signals go to sigwait below, never to a worker thread */
	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &set, NULL);

	if (app_serve_start(c, &s))
		return 1;
	do
		sigwait(&set, &sig);
	while (sig == SIGHUP); /* reload comes later; never die on HUP */
	pt_log("signal %d: finishing requests in flight", sig);
	app_serve_stop(s, 30);
	pt_log("stopped");
	return 0;
}

/* ---- admin fsck ---- */

struct fsck {
	struct app *app;
	struct db *db;
	bool repair, full;
	long hashed;
	int64_t grace, now;
	long problems, repaired;
};

static int fsck_remove_cb(void *arg, const char *hex)
{
	return blob_remove(arg, hex);
}

static int fsck_disk_blob(const char *hex, uint64_t size, int64_t mtime,
			  void *arg)
{
	struct fsck *f = arg;
	if (repo_blob_known(f->db, hex) || repo_blob_live_links(f->db, hex) > 0)
		return 0;
	printf("stray blob %s (%llu bytes): no metadata refers to it\n", hex,
	       (unsigned long long)size);
	f->problems++;
	/* an upload may be between blob commit and row insert right now:
	 * leave young strays alone, and remove old ones only through gc's
	 * protocol (adopt with a row, reap under its lock), so an upload
	 * that deduplicates onto one at this moment keeps its bytes */
	if (f->repair && f->now - mtime >= f->grace) {
		bool reaped = false;
		int err = repo_blob_add(f->db, hex, size, f->now);
		if (!err)
			err = repo_blob_reap(f->db, hex, fsck_remove_cb,
					     f->app->blobs, &reaped);
		if (!err) {
			printf(reaped ? "  removed\n"
				      : "  kept: an upload claimed it\n");
			f->repaired++;
		} else {
			printf("  cannot remove: %s\n", pt_strerror(err));
		}
	} else if (f->repair) {
		printf("  kept: younger than the grace period (%llds)\n",
		       (long long)f->grace);
		f->repaired++;
	}
	return 0;
}

/* One blob in every FSCK_SAMPLE is re-hashed on a plain fsck. */
#define FSCK_SAMPLE 64

/* SHA-256 of a stored blob's bytes. */
static int rehash(struct blob_store *s, const char *hex,
		  char out[BLOB_HEX_LEN + 1])
{
	struct blob_reader *rd;
	unsigned char md[32];
	unsigned int mdlen = 0;
	size_t cap = 1 << 20;
	char *buf;
	int err = blob_reader_open(s, hex, &rd);
	if (err)
		return err;
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	buf = xmalloc(cap);
	EVP_DigestInit_ex(ctx, EVP_sha256(), NULL);
	for (uint64_t off = 0; off < blob_reader_size(rd);) {
		ssize_t k = blob_reader_pread(rd, buf, cap, off);
		if (k <= 0) {
			err = k < 0 ? (int)k : PT_ECORRUPT;
			break;
		}
		EVP_DigestUpdate(ctx, buf, (size_t)k);
		off += (uint64_t)k;
	}
	EVP_DigestFinal_ex(ctx, md, &mdlen);
	EVP_MD_CTX_free(ctx);
	free(buf);
	blob_reader_close(rd);
	if (!err)
		sodium_bin2hex(out, BLOB_HEX_LEN + 1, md, sizeof(md));
	return err;
}

static int fsck_row_blob(const char *hex, uint64_t size, void *arg)
{
	struct fsck *f = arg;
	uint64_t disk;
	int err = blob_stat(f->app->blobs, hex, &disk);

	if (err == 0 && disk == size) {
		/* right size: re-hash all (--full) or a sample, so silent
		 * corruption shows up */
		if (!f->full && randombytes_uniform(FSCK_SAMPLE) != 0)
			return 0;
		char got[BLOB_HEX_LEN + 1];
		if (rehash(f->app->blobs, hex, got) || strcmp(got, hex) == 0) {
			f->hashed++;
			return 0;
		}
		f->hashed++;
		int64_t live = repo_blob_live_links(f->db, hex);
		printf("corrupt blob %s: its bytes hash to %s, %lld live "
		       "links\n",
		       hex, got, (long long)live);
		f->problems++;
		if (f->repair) {
			if (live > 0)
				repo_blob_links_disable(f->db, hex, "damaged",
							f->now);
			bool reaped;
			if (!repo_blob_reap(f->db, hex, fsck_remove_cb,
					    f->app->blobs, &reaped) &&
			    reaped)
				printf("  disabled its links, removed it\n");
			f->repaired++;
		}
		return 0;
	}
	int64_t live = repo_blob_live_links(f->db, hex);
	if (err)
		printf("missing blob %s (%llu bytes): %lld live links\n", hex,
		       (unsigned long long)size, (long long)live);
	else
		printf("damaged blob %s: %llu bytes on disk, %llu expected, "
		       "%lld live links\n",
		       hex, (unsigned long long)disk, (unsigned long long)size,
		       (long long)live);
	f->problems++;
	if (f->repair) {
		/* links that cannot be served say so (410) instead of 500 */
		if (live > 0 &&
		    repo_blob_links_disable(f->db, hex, err ? "lost" : "damaged",
					    f->now) == 0)
			printf("  disabled its links\n");
		if (err)
			repo_blob_forget(f->db, hex);
		f->repaired++;
	}
	return 0;
}

/* An open upload's bytes up to its durable offset must be there, or the
 * client would resume onto a hole.  Repair terminates it (410): the
 * client starts over rather than build a file with bytes missing. */
static int fsck_open_upload(const char *uid, int64_t received, void *arg)
{
	struct fsck *f = arg;
	unsigned char b;
	ssize_t k = blob_partial_pread(f->app->blobs, uid, &b, 1,
				       received > 0 ? (uint64_t)received - 1
						    : 0);
	if (k == 1 || (received == 0 && k >= 0))
		return 0;
	/* completed or ended meanwhile (the server is running)? */
	struct pt_pool *pool = pt_pool_new();
	struct upload_row u;
	bool open = !repo_upload_get(f->db, pool, uid, &u) &&
		    u.state == UPLOAD_OPEN;
	pt_pool_free(pool);
	if (!open)
		return 0;
	if (k < 0 && k != -ENOENT) {
		printf("unreadable partial of upload %s: %s\n", uid,
		       pt_strerror((int)k));
		f->problems++;
		return 0;
	}
	printf("%s partial of open upload %s: offset %lld recorded\n",
	       k < 0 ? "missing" : "short", uid, (long long)received);
	f->problems++;
	if (f->repair && !repo_upload_set_state(f->db, uid,
						 UPLOAD_TERMINATED)) {
		blob_partial_remove(f->app->blobs, uid);
		printf("  terminated: its client gets 410 and starts over\n");
		f->repaired++;
	}
	return 0;
}

/* A partial whose upload is not open (ended, or no row): a crash between
 * the end of an upload and the removal of its bytes.  gc removes these
 * too; young ones may be an upload being created right now. */
static int fsck_partial(const char *uid, int64_t mtime, void *arg)
{
	struct fsck *f = arg;
	struct pt_pool *pool = pt_pool_new();
	struct upload_row u;
	int err = repo_upload_get(f->db, pool, uid, &u);
	pt_pool_free(pool);
	if (err == 0 && u.state == UPLOAD_OPEN)
		return 0;
	if (err && err != PT_ENOTFOUND)
		return 0; /* the database is the problem, not the partial */
	printf("orphan partial %s: %s\n", uid,
	       err ? "no upload refers to it"
		   : u.state == UPLOAD_DONE ? "its upload is complete"
					    : "its upload has ended");
	f->problems++;
	if (f->repair && f->now - mtime >= f->grace) {
		int rerr = blob_partial_remove(f->app->blobs, uid);
		if (rerr) {
			printf("  cannot remove: %s\n", pt_strerror(rerr));
		} else {
			printf("  removed\n");
			f->repaired++;
		}
	} else if (f->repair) {
		printf("  kept: younger than the grace period (%llds)\n",
		       (long long)f->grace);
		f->repaired++;
	}
	return 0;
}

static int cmd_fsck(struct pt_conf *c, int argc, char **argv)
{
	struct app app;
	struct fsck f = { .grace = 3600 };

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--repair") == 0) {
			f.repair = true;
		} else if (strcmp(argv[i], "--full") == 0) {
			f.full = true;
		} else if (strcmp(argv[i], "--grace") == 0 && i + 1 < argc) {
			uint64_t g;
			if (pt_parse_u64(argv[i + 1], strlen(argv[i + 1]), &g)) {
				fprintf(stderr, "partaged: bad --grace '%s'\n",
					argv[i + 1]);
				return 1;
			}
			f.grace = (int64_t)g;
			i++;
		} else {
			fprintf(stderr, "partaged: fsck: unknown option '%s'\n",
				argv[i]);
			return 1;
		}
	}
	if (app_open(&app, c))
		return 1;
	f.app = &app;
	f.db = app_db(&app);
	f.now = pt_now();
	if (!f.db) {
		app_close(&app);
		return 1;
	}
	repo_blob_each(f.db, fsck_row_blob, &f);
	blob_list(app.blobs, fsck_disk_blob, &f);
	repo_upload_each_open(f.db, fsck_open_upload, &f);
	blob_partial_list(app.blobs, fsck_partial, &f);
	app_close(&app);
	printf("fsck: %ld blobs re-hashed, %ld problem%s%s", f.hashed,
	       f.problems, f.problems == 1 ? "" : "s", f.repair ? "" : "\n");
	if (f.repair)
		printf(", %ld repaired\n", f.repaired);
	if (f.problems && (!f.repair || f.repaired < f.problems)) {
		fprintf(stderr, "partaged: fsck found %ld problem%s\n",
			f.problems, f.problems == 1 ? "" : "s");
		return 1;
	}
	return 0;
}

/* ---- admin output ---- */

/*
 * Admin commands print what clients wrote (report text, contacts, names,
 * takedown reasons): every such field goes out through text_escape, so
 * it is one field of one line and a terminal never gets an escape
 * sequence from it.  Backslashes are doubled: "\x1b" printed is a client's
 * ESC, "\\x1b" their four characters.
 */
static void put(const char *s, const char *after)
{
	struct pt_buf b;
	pt_buf_init(&b, 1 << 26);
	if (s)
		text_escape_buf(&b, s, strlen(s), TEXT_ESC_BACKSLASH);
	if (b.n)
		fwrite(b.p, 1, b.n, stdout);
	fputs(after, stdout);
	pt_buf_release(&b);
}

/* ---- admin user / voucher ---- */

static int die(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int die(const char *fmt, ...)
{
	va_list ap;
	fputs("partaged: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return 1;
}

/* The password for `user add`: the first line of stdin. */
static char *read_password(void)
{
	char *line = NULL;
	size_t cap = 0;
	ssize_t n = getline(&line, &cap, stdin);
	if (n <= 0) {
		free(line);
		return NULL;
	}
	while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
		line[--n] = '\0';
	return line;
}

static int print_user(const struct user *u, void *arg)
{
	int64_t now = pt_now();
	enum pt_tier_id t = policy_user_tier(u->tier, u->premium_until, now);
	char until[32] = "-";
	if (u->premium_until > now)
		pt_http_date(u->premium_until, until);
	put(u->name, "\t");
	printf("%s\t", conf_tier_name(t));
	put(u->role, "\t");
	printf("%s\tpremium until: %s\n", u->disabled ? "disabled" : "active",
	       until);
	return 0;
}

static int cmd_user(struct app *app, int argc, char **argv)
{
	struct pt_pool *pool = pt_pool_new();
	struct db *db = app_db(app);
	struct user u;
	const char *why;
	int err, rc = 1;

	if (argc < 2) {
		rc = die("usage: user add|set-tier|set-role|list|disable ...");
		goto done;
	}
	const char *sub = argv[1];
	if (strcmp(sub, "list") == 0) {
		rc = repo_users_each(db, pool, print_user, NULL) ? 1 : 0;
		goto done;
	}
	if (argc < 3) {
		rc = die("usage: user %s NAME ...", sub);
		goto done;
	}
	const char *name = argv[2];
	if (strcmp(sub, "add") == 0) {
		char *pw = read_password();
		if (!pw) {
			rc = die("user add: give the password on stdin");
			goto done;
		}
		if (account_check_name(name, &why) ||
		    account_check_password(pw, &why)) {
			free(pw);
			rc = die("user add: %s", why);
			goto done;
		}
		memset(&u, 0, sizeof(u));
		randombytes_buf(&u.id, sizeof(u.id));
		u.id &= INT64_MAX;
		u.name = (char *)name;
		u.pwhash = account_hash_password(pool, pw);
		free(pw);
		u.tier = "free";
		u.role = "user";
		u.created = pt_now();
		err = u.pwhash ? repo_user_create(db, &u) : PT_EINTERNAL;
		if (err == PT_ECONFLICT)
			rc = die("user add: the name '%s' is taken", name);
		else if (err)
			rc = die("user add: %s", pt_strerror(err));
		else
			rc = 0;
		goto done;
	}
	if (repo_user_by_name(db, pool, name, &u)) {
		rc = die("no user '%s'", name);
		goto done;
	}
	/* one column (or one conditional statement) per change, never the
	 * row read above written back: a voucher redeemed meanwhile stays */
	const char *detail;
	if (strcmp(sub, "set-tier") == 0 && argc >= 4) {
		enum pt_tier_id t = conf_tier_lookup(argv[3]);
		if (t != PT_TIER_FREE && t != PT_TIER_PREMIUM) {
			rc = die("set-tier: a user's tier is free or premium");
			goto done;
		}
		if (argc >= 6 && strcmp(argv[4], "--days") == 0) {
			uint64_t days;
			int64_t until = 0;
			if (argc != 6 || t != PT_TIER_PREMIUM ||
			    pt_parse_u64(argv[5], strlen(argv[5]), &days) ||
			    days == 0 || days > 36500) {
				rc = die("set-tier: --days N (1..36500) goes "
					 "with premium");
				goto done;
			}
			/* premium for N days from now (or from the current
			 * end); the base tier stays what it was */
			err = repo_user_premium_extend(db, u.id, pt_now(),
						       (int64_t)days, &until);
			detail = pt_psprintf(pool, "premium_until=%lld",
					     (long long)until);
		} else if (argc != 4) {
			rc = die("usage: user set-tier NAME TIER [--days N]");
			goto done;
		} else {
			err = repo_user_set_tier(db, u.id, conf_tier_name(t));
			detail = pt_psprintf(pool, "tier=%s%s",
					     conf_tier_name(t),
					     t == PT_TIER_FREE
						     ? " premium_until=0"
						     : "");
		}
	} else if (strcmp(sub, "set-role") == 0 && argc == 4) {
		if (strcmp(argv[3], "user") && strcmp(argv[3], "rights_holder") &&
		    strcmp(argv[3], "admin")) {
			rc = die("set-role: user, rights_holder or admin");
			goto done;
		}
		err = repo_user_set_role(db, u.id, argv[3]);
		detail = pt_psprintf(pool, "role=%s", argv[3]);
	} else if (strcmp(sub, "disable") == 0 && argc == 3) {
		/* disabled first, then the sessions: a login in between
		 * cannot make a token for a disabled account */
		err = repo_user_set_disabled(db, u.id, true);
		if (!err)
			err = repo_user_tokens_revoke(db, u.id);
		detail = "disabled=1";
	} else if (strcmp(sub, "enable") == 0 && argc == 3) {
		err = repo_user_set_disabled(db, u.id, false);
		detail = "disabled=0";
	} else {
		rc = die("unknown or incomplete: user %s", sub);
		goto done;
	}
	if (err) {
		rc = die("user %s: %s", sub, pt_strerror(err));
	} else {
		repo_audit(db, "admin", pt_psprintf(pool, "user_%s", sub),
			   u.name, "", detail, pt_now());
		rc = 0;
	}
done:
	pt_pool_free(pool);
	return rc;
}

static int cmd_voucher(struct app *app, int argc, char **argv)
{
	uint64_t days = 0, count = 1;
	struct db *db = app_db(app);

	if (argc < 2 || strcmp(argv[1], "create") != 0)
		return die("usage: voucher create --days N [--count K]");
	for (int i = 2; i < argc; i++) {
		uint64_t *dst = !strcmp(argv[i], "--days")    ? &days
				: !strcmp(argv[i], "--count") ? &count
							      : NULL;
		if (!dst || i + 1 >= argc ||
		    pt_parse_u64(argv[i + 1], strlen(argv[i + 1]), dst))
			return die("usage: voucher create --days N [--count K]");
		i++;
	}
	if (days == 0 || days > 36500 || count == 0 || count > 100000)
		return die("voucher create: --days 1..36500, --count 1..100000");
	for (uint64_t i = 0; i < count; i++) {
		char code[TOKEN_LEN + 1], hash[TOKEN_HASH_LEN + 1];
		account_voucher_new(code, hash);
		int err = repo_voucher_create(db, hash, (int64_t)days, pt_now());
		if (err)
			return die("voucher create: %s", pt_strerror(err));
		printf("%s\n", code);
	}
	return 0;
}

static int cmd_gc(struct app *app, int argc, char **argv)
{
	int64_t now = pt_now();
	bool dry = false;
	struct gc_stats st;

	for (int i = 1; i < argc; i++) {
		uint64_t t;
		if (strcmp(argv[i], "--dry-run") == 0)
			dry = true;
		else if (strcmp(argv[i], "--now") == 0 && i + 1 < argc &&
			 !pt_parse_u64(argv[i + 1], strlen(argv[i + 1]), &t))
			now = (int64_t)t, i++;
		else
			return die("usage: gc [--now UNIXTIME] [--dry-run]");
	}
	int err = gc_run(app, now, dry, &st);
	if (err)
		return die("gc: %s", pt_strerror(err));
	printf("gc%s: %lld links expired, %lld blobs removed (%lld bytes), "
	       "%lld uploads expired, %lld stray files removed\n",
	       dry ? " (dry run, nothing changed)" : "",
	       (long long)st.expired_links, (long long)st.reaped_blobs,
	       (long long)st.reaped_bytes, (long long)st.expired_uploads,
	       (long long)st.stray_removed);
	return 0;
}

/* ---- admin: abuse ---- */

/* The command's transaction found the disk full, SQLite rolled it back
 * whole, and the reserve was released since (db_retryable): it may run
 * once more.  Statements outside a transaction are run again by the
 * driver itself (db_sqlite.c). */
static bool again_after_full(struct app *app, int err)
{
	struct db *db = app_db(app);
	return err == -ENOSPC && db && db_retryable(db);
}

static int cmd_takedown(struct app *app, int argc, char **argv)
{
	const char *reason = NULL, *ref = "";
	bool content = false;
	const char *ids[64];
	size_t n = 0;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--content"))
			content = true;
		else if (!strcmp(argv[i], "--reason") && i + 1 < argc)
			reason = argv[++i];
		else if (!strcmp(argv[i], "--reference") && i + 1 < argc)
			ref = argv[++i];
		else if (argv[i][0] != '-' && n < PT_ARRAY_LEN(ids))
			ids[n++] = argv[i];
		else
			return die("usage: takedown ID... [--content] --reason "
				   "TEXT [--reference REF]");
	}
	if (!n || !reason || !*reason)
		return die("usage: takedown ID... [--content] --reason TEXT "
			   "[--reference REF]");
	struct pt_pool *pool = pt_pool_new();
	char **affected;
	size_t na;
	int err = abuse_takedown(app, "admin", ids, n, content, reason, ref,
				 pool, &affected, &na);
	if (again_after_full(app, err))
		err = abuse_takedown(app, "admin", ids, n, content, reason, ref,
				     pool, &affected, &na);
	if (!err) {
		for (size_t i = 0; i < na; i++)
			printf("%s\n", affected[i]);
		if (na == 0)
			err = PT_ENOTFOUND;
	}
	pt_pool_free(pool);
	if (err == PT_ENOTFOUND)
		return die("takedown: no live link among the ids given");
	if (err)
		return die("takedown: %s", pt_strerror(err));
	return 0;
}

static int cmd_restore(struct app *app, int argc, char **argv)
{
	int64_t n = 0;
	if (argc != 2)
		return die("usage: restore ID");
	int err = abuse_restore(app, "admin", argv[1], &n);
	if (again_after_full(app, err))
		err = abuse_restore(app, "admin", argv[1], &n);
	if (err == PT_ENOTFOUND)
		return die("restore: no link '%s'", argv[1]);
	if (err == PT_ECONFLICT)
		return die("restore: '%s' was not taken down", argv[1]);
	if (err == PT_EGONE)
		return die("restore: the quarantine of '%s' is over, its bytes "
			   "are gone",
			   argv[1]);
	if (err)
		return die("restore: %s", pt_strerror(err));
	printf("%lld links restored\n", (long long)n);
	return 0;
}

static int print_audit(const struct audit_row *a, void *arg)
{
	char d[32];
	pt_http_date(a->at, d);
	printf("%s\t", d);
	put(a->actor, "\t");
	put(a->action, "\t");
	put(a->target, "\t");
	put(a->reason, "\t");
	put(a->detail, "\n");
	return 0;
}

/* One "name value" line each, for people and scripts alike; the same
 * figures as the partage_*_total gauges of /metrics. */
static int cmd_stats(struct app *app, int argc, char **argv)
{
	struct repo_stats st;
	int err = repo_stats(app_db(app), &st);
	if (err) {
		fprintf(stderr, "partaged: cannot read the statistics: %s\n",
			pt_strerror(err));
		return 1;
	}
	printf("live_links %lld\nlive_bytes %lld\nblobs %lld\n"
	       "stored_bytes %lld\n",
	       (long long)st.live_links, (long long)st.logical_bytes,
	       (long long)st.blobs, (long long)st.stored_bytes);
	return 0;
}

static int cmd_audit(struct app *app, int argc, char **argv)
{
	return repo_audit_each(app_db(app), 0, print_audit, NULL) ? 1 : 0;
}

static int print_report(const struct report_row *r, void *arg)
{
	char d[32];
	pt_http_date(r->created, d);
	put(r->id, "\t");
	printf("%s\t", d);
	put(r->state, "\t");
	put(r->link_id, "\t");
	put(r->category, "\t");
	put(r->ip, "\t");
	put(r->contact, "\t");
	put(r->body, "\n");
	return 0;
}

struct report_pick {
	const char *id;
	bool found;
};

static int show_report(const struct report_row *r, void *arg)
{
	struct report_pick *p = arg;
	if (strcmp(r->id, p->id) != 0)
		return 0;
	char d[32];
	pt_http_date(r->created, d);
	fputs("id: ", stdout);
	put(r->id, "\ncreated: ");
	printf("%s\nstate: ", d);
	put(r->state, "\nlink: ");
	put(r->link_id, "\ncategory: ");
	put(r->category, "\nfrom: ");
	put(r->ip, "\ncontact: ");
	put(r->contact, "\ntext: ");
	put(r->body, "\n");
	p->found = true;
	return 1;
}

static int cmd_reports(struct app *app, int argc, char **argv)
{
	struct db *db = app_db(app);
	if (argc == 2 && !strcmp(argv[1], "list"))
		return repo_reports_each(db, print_report, NULL) ? 1 : 0;
	if (argc == 3 && !strcmp(argv[1], "show")) {
		struct report_pick p = { argv[2], false };
		repo_reports_each(db, show_report, &p);
		return p.found ? 0 : die("no report '%s'", argv[2]);
	}
	if ((argc == 3 || argc == 4) && !strcmp(argv[1], "resolve")) {
		const char *state = argc == 4 ? argv[3] : "resolved";
		if (strcmp(state, "resolved") && strcmp(state, "rejected") &&
		    strcmp(state, "open"))
			return die("resolve: the state is resolved, rejected "
				   "or open");
		int err = repo_report_resolve(db, argv[2], state);
		if (err == PT_ENOTFOUND)
			return die("no report '%s'", argv[2]);
		if (err)
			return die("resolve: %s", pt_strerror(err));
		repo_audit(db, "admin", "report_resolve", argv[2], state, "",
			   pt_now());
		return 0;
	}
	return die("usage: reports list | show ID | resolve ID "
		   "[resolved|rejected|open]");
}

static int print_block(const char *hex, const char *reason, void *arg)
{
	printf("%s  # ", hex);
	put(reason, "\n");
	return 0;
}

/* One lowercase SHA-256 hex per line, '#' starts a comment: the format
 * operators exchange between instances. */
static int cmd_blocklist(struct app *app, int argc, char **argv)
{
	struct db *db = app_db(app);
	if (argc == 2 && !strcmp(argv[1], "export")) {
		printf("# partage blocklist: one SHA-256 per line\n");
		return repo_blocklist_each(db, print_block, NULL) ? 1 : 0;
	}
	if (argc != 3 || strcmp(argv[1], "import") != 0)
		return die("usage: blocklist import FILE | export");
	FILE *f = strcmp(argv[2], "-") ? fopen(argv[2], "re") : stdin;
	if (!f)
		return die("cannot open '%s': %s", argv[2], strerror(errno));
	char *line = NULL;
	size_t cap = 0, lineno = 0, added = 0;
	int rc = 0;
	while (getline(&line, &cap, f) > 0) {
		lineno++;
		char *p = line, *e;
		while (*p == ' ' || *p == '\t')
			p++;
		if ((e = strchr(p, '#')))
			*e = '\0';
		e = p + strlen(p);
		while (e > p && (e[-1] == ' ' || e[-1] == '\t' ||
				 e[-1] == '\n' || e[-1] == '\r'))
			*--e = '\0';
		if (!*p)
			continue;
		for (char *c = p; *c; c++)
			if (*c >= 'A' && *c <= 'F')
				*c = (char)(*c - 'A' + 'a');
		if (!blob_hex_valid(p)) {
			rc = die("%s:%zu: not a SHA-256: '%s'", argv[2], lineno,
				 p);
			break;
		}
		if (repo_block(db, p, "imported blocklist", pt_now(), 0, "")) {
			rc = die("blocklist import: cannot store '%s'", p);
			break;
		}
		added++;
	}
	free(line);
	if (f != stdin)
		fclose(f);
	if (!rc) {
		char detail[48];
		snprintf(detail, sizeof(detail), "%zu hashes", added);
		repo_audit(db, "admin", "blocklist_import", argv[2], "", detail,
			   pt_now());
		printf("%zu hashes imported\n", added);
	}
	return rc;
}

static int with_app(struct pt_conf *c, int argc, char **argv,
		    int (*fn)(struct app *app, int argc, char **argv))
{
	struct app app;
	if (app_open(&app, c))
		return 1;
	if (!app_db(&app)) {
		app_close(&app);
		return 1;
	}
	int rc = fn(&app, argc, argv);
	app_close(&app);
	return rc;
}

static bool is_help(const char *arg)
{
	return strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0 ||
	       strcmp(arg, "help") == 0;
}

/* `admin`, `admin --help`, `admin CMD ... --help`: the list of commands,
 * without opening the store.  Returns the exit status, or -1 when argv is
 * a command to run. */
static int admin_help(int argc, char **argv)
{
	if (argc < 2) {
		fputs("partaged: admin needs a command\n", stderr);
		fputs(admin_usage, stderr);
		return 1;
	}
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--") == 0)
			break;
		if (is_help(argv[i]) && (i == 1 || argv[i][0] == '-')) {
			fputs(admin_usage, stdout);
			return 0;
		}
	}
	return -1;
}

static int cmd_admin(struct pt_conf *c, int argc, char **argv)
{
	int help = admin_help(argc, argv);

	if (help >= 0)
		return help;
	if (strcmp(argv[1], "fsck") == 0)
		return cmd_fsck(c, argc - 1, argv + 1);
	if (strcmp(argv[1], "user") == 0)
		return with_app(c, argc - 1, argv + 1, cmd_user);
	if (strcmp(argv[1], "voucher") == 0)
		return with_app(c, argc - 1, argv + 1, cmd_voucher);
	if (strcmp(argv[1], "gc") == 0)
		return with_app(c, argc - 1, argv + 1, cmd_gc);
	if (strcmp(argv[1], "takedown") == 0)
		return with_app(c, argc - 1, argv + 1, cmd_takedown);
	if (strcmp(argv[1], "restore") == 0)
		return with_app(c, argc - 1, argv + 1, cmd_restore);
	if (strcmp(argv[1], "audit") == 0)
		return with_app(c, argc - 1, argv + 1, cmd_audit);
	if (strcmp(argv[1], "stats") == 0)
		return with_app(c, argc - 1, argv + 1, cmd_stats);
	if (strcmp(argv[1], "reports") == 0)
		return with_app(c, argc - 1, argv + 1, cmd_reports);
	if (strcmp(argv[1], "blocklist") == 0)
		return with_app(c, argc - 1, argv + 1, cmd_blocklist);
	fprintf(stderr, "partaged: unknown admin command '%s' "
			"(partaged admin --help lists them)\n", argv[1]);
	return 1;
}

int main(int argc, char **argv)
{
	struct pt_conf conf;
	int rc;

	if (sodium_init() < 0) {
		fprintf(stderr, "partaged: cannot initialise libsodium\n");
		return 1;
	}
	argc = load_config(&conf, argc, argv);
	if (argc < 0)
		return 1;
	if (argc >= 2 && is_help(argv[1])) {
		fputs(usage, stdout);
		fputs(admin_usage, stdout);
		rc = 0;
	} else if (argc >= 2 && strcmp(argv[1], "--version") == 0) {
		puts("partaged 0.1");
		rc = 0;
	} else if (argc >= 2 && strcmp(argv[1], "--dump-config") == 0) {
		conf_dump(&conf, stdout);
		rc = 0;
	} else if (argc >= 2 && strcmp(argv[1], "--help-config") == 0) {
		conf_help(stdout);
		rc = 0;
	} else if (argc >= 2 && strcmp(argv[1], "admin") == 0) {
		rc = cmd_admin(&conf, argc - 1, argv + 1);
	} else if (argc == 1 || (argc == 2 && strcmp(argv[1], "serve") == 0)) {
		rc = cmd_serve(&conf);
	} else {
		fprintf(stderr, "partaged: unknown argument '%s'\n%s", argv[1],
			usage);
		rc = 2; /* a usage error, as the client's */
	}
	conf_release(&conf);
	return rc;
}
