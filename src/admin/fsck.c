/*
 * fsck.c — `partaged admin fsck [--repair] [--full] [--grace SECONDS]`:
 * the consistency check of the metadata store against the blob store.
 * Blob rows against blob files (missing, damaged, corrupt: a sample
 * re-hashed, every blob with --full; stray files), open resumable uploads
 * against their partials (missing or short), and partials no open upload
 * owns.  --repair disables the links that cannot be served (410 instead of
 * 500), terminates uploads that would resume onto a hole, and removes
 * what no row owns once it is older than the grace period, since a
 * running server may be between a commit and its row (docs/operations.md).
 * Safe while the server runs: removals go through gc's protocol (blob.h).
 */
#define _GNU_SOURCE
#include "admin.h"

#include <errno.h>
#include <openssl/evp.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../util/banned.h"

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
		    repo_blob_links_disable(f->db, hex,
					    err ? "lost" : "damaged",
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
	if (f->repair &&
	    !repo_upload_set_state(f->db, uid, UPLOAD_TERMINATED)) {
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
	       err			? "no upload refers to it"
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

int admin_fsck(const struct pt_conf *c, int argc, char **argv)
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
			if (pt_parse_u64(argv[i + 1], strlen(argv[i + 1]),
					 &g)) {
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
