/*
 * blob_fs.c — the local-disk blob backend.
 *
 *   DATA/blobs/ab/cd/abcd…(64 hex)     committed, immutable, fsynced
 *   DATA/tmp/                          writers in progress
 *   DATA/uploads/<uid>                 resumable (tus) uploads in progress
 *
 * A writer is an O_TMPFILE in DATA/tmp (same file system as blobs/, so the
 * final step is a link, not a copy): it has no name until commit, so a
 * killed process or client leaves nothing behind by construction.  Where
 * the file system has no O_TMPFILE we fall back to a named mkstemp file,
 * unlinked on abort and swept by cleanup at start-up.  Commit is git's
 * object protocol: fsync the data, link it into the fan-out directory
 * (EEXIST means the same content is already there: deduplicated), fsync the
 * directory.  A blob is therefore visible only once complete and durable.
 *
 * Readers of one blob share one descriptor (a table of open blobs with
 * reference counts, like nginx's open_file_cache but closed with its last
 * reader): 10 000 slow downloads of a popular file hold 10 000 sockets
 * and one file, not 20 000 descriptors.  Sharing is safe because a blob
 * never changes and every read is a pread at an explicit offset; a blob
 * unlinked by gc meanwhile is still the same bytes.
 *
 * Uploads stop above the disk's floor (reserve.h): a writer or a partial
 * asks reserve_upload_ok every RESERVE_CHECK_STEP bytes, and a writer
 * once more before its commit, and fails with -ENOSPC (507) under it, so
 * the last of the disk and the reserve are left to the metadata.
 */
#define _GNU_SOURCE
#include "blob.h"

#include <dirent.h>
#include <pthread.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "reserve.h"
#include "../util/pt.h"
#include "../util/banned.h"

/* Start writeback of every WRITEBACK_STEP bytes as they arrive, so the
 * fsync at commit has little left to do and a big upload does not stall
 * at the end. */
#define WRITEBACK_STEP (8u << 20)

#define OPEN_BUCKETS 1024 /* a power of two */

struct open_blob {
	struct open_blob *next;
	char hex[BLOB_HEX_LEN + 1];
	int fd;
	uint64_t size;
	unsigned refs;
};

struct fs_store {
	char *root, *blobs, *tmp, *uploads;
	pthread_mutex_t open_lock;
	struct open_blob *open[OPEN_BUCKETS];
};

struct fs_writer {
	struct fs_store *fs;
	int fd;
	char *tmpname; /* NULL for O_TMPFILE */
	uint64_t written, synced, checked;
};

struct fs_reader {
	struct fs_store *fs;
	struct open_blob *ob;
};

/* open(2) with O_CLOEXEC, then fstat: the fd, or a negative errno. */
static int open_stat(const char *path, int flags, struct stat *st)
{
	int fd = open(path, flags | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fstat(fd, st) < 0) {
		int err = -errno;
		close(fd);
		return err;
	}
	return fd;
}

static int fsync_dir(const char *path)
{
	int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int err = 0;
	if (fd < 0)
		return -errno;
	if (fsync(fd) < 0)
		err = -errno;
	close(fd);
	return err;
}

static int mkdir_p1(const char *path, bool *created)
{
	if (mkdir(path, 0755) == 0) {
		if (created)
			*created = true;
		return 0;
	}
	return errno == EEXIST ? 0 : -errno;
}

/* write(2) all of it, through EINTR and short writes. */
static int write_full(int fd, const void *p, size_t n)
{
	const char *c = p;
	while (n > 0) {
		ssize_t k = write(fd, c, n);
		if (k < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		c += k;
		n -= (size_t)k;
	}
	return 0;
}

/* Append to a file being filled (a writer or a partial), starting
 * writeback every WRITEBACK_STEP bytes so the final fsync is short, and
 * stopping under the disk's floor (checked every RESERVE_CHECK_STEP). */
static int append(int fd, const void *p, size_t n, uint64_t *written,
		  uint64_t *synced, uint64_t *checked)
{
	if (*written - *checked >= RESERVE_CHECK_STEP) {
		if (!reserve_upload_ok(n))
			return -ENOSPC;
		*checked = *written;
	}
	int err = write_full(fd, p, n);
	if (err)
		return err;
	*written += n;
	if (*written - *synced >= WRITEBACK_STEP) {
		sync_file_range(fd, (off64_t)*synced,
				(off64_t)(*written - *synced),
				SYNC_FILE_RANGE_WRITE);
		*synced = *written;
	}
	return 0;
}

static int fs_writer_open(struct blob_store *s, void **state)
{
	struct fs_store *fs = s->impl;
	struct fs_writer *w = xcalloc(1, sizeof(*w));

	w->fs = fs;
	w->fd = open(fs->tmp, O_TMPFILE | O_RDWR | O_CLOEXEC, 0644);
	if (w->fd < 0 && (errno == EOPNOTSUPP || errno == EISDIR ||
			  errno == EINVAL)) {
		w->tmpname = xasprintf("%s/upload-XXXXXX", fs->tmp);
		w->fd = mkostemp(w->tmpname, O_CLOEXEC);
	}
	if (w->fd < 0) {
		int err = -errno;
		free(w->tmpname);
		free(w);
		return err;
	}
	*state = w;
	return 0;
}

static int fs_writer_write(void *state, const void *p, size_t n)
{
	struct fs_writer *w = state;
	return append(w->fd, p, n, &w->written, &w->synced, &w->checked);
}

static void fs_writer_abort(void *state)
{
	struct fs_writer *w = state;
	if (!w)
		return;
	if (w->fd >= 0)
		close(w->fd);
	if (w->tmpname)
		unlink(w->tmpname);
	free(w->tmpname);
	free(w);
}

/*
 * Make the file open as fd the blob `hex`: fsync its data, link it into
 * blobs/ab/cd/ (EEXIST: the content is there already), fsync the
 * directories that changed.  Linking through /proc/self/fd works for
 * O_TMPFILE files, which have no name, and for named ones alike.
 */
static int publish(struct fs_store *fs, int fd, const char *hex, bool *existed)
{
	char d1[4096], d2[4096], final[4200], proc[64];
	bool made1 = false, made2 = false;
	int err;

	*existed = false;
	snprintf(d1, sizeof(d1), "%s/%.2s", fs->blobs, hex);
	snprintf(d2, sizeof(d2), "%s/%.2s/%.2s", fs->blobs, hex, hex + 2);
	snprintf(final, sizeof(final), "%s/%s", d2, hex);
	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);

	if (fdatasync(fd) < 0)
		return -errno;
	if ((err = mkdir_p1(d1, &made1)) || (err = mkdir_p1(d2, &made2)))
		return err;
	if (linkat(AT_FDCWD, proc, AT_FDCWD, final, AT_SYMLINK_FOLLOW) < 0) {
		if (errno != EEXIST)
			return -errno;
		*existed = true;
	}
	/* the link must survive a crash before the metadata row refers to it */
	if ((err = fsync_dir(d2)))
		return err;
	if (made2 && (err = fsync_dir(d1)))
		return err;
	if (made1 && (err = fsync_dir(fs->blobs)))
		return err;
	return 0;
}

/* The fd stays open after commit: while it is, the inode lives even if
 * gc unlinks the blob's name, and writer_ensure can link it back. */
static int fs_writer_commit(void *state, const char *hex, uint64_t size,
			    bool *existed)
{
	struct fs_writer *w = state;
	/* the last bytes since the last check must leave the floor too */
	if (w->written - w->checked && !reserve_upload_ok(0))
		return -ENOSPC;
	return publish(w->fs, w->fd, hex, existed);
}

static int fs_stat(struct blob_store *s, const char *hex, uint64_t *size);

/* Copy the whole of fd `src` into a new unnamed temp file. */
static int copy_to_tmpfile(struct fs_store *fs, int src, int *out)
{
	int fd = open(fs->tmp, O_TMPFILE | O_RDWR | O_CLOEXEC, 0644);
	char buf[1 << 16];
	off_t off = 0;
	if (fd < 0)
		return -errno;
	for (;;) {
		ssize_t k = pread(src, buf, sizeof(buf), off);
		if (k == 0)
			break;
		if (k < 0) {
			if (errno == EINTR)
				continue;
			int err = -errno;
			close(fd);
			return err;
		}
		int err = write_full(fd, buf, (size_t)k);
		if (err) {
			close(fd);
			return err;
		}
		off += k;
	}
	*out = fd;
	return 0;
}

/*
 * gc removed the blob after our commit: put the bytes back.  Our own
 * O_TMPFILE, if it was never linked (the commit found the blob there),
 * can be linked now; one that was linked and then unlinked cannot (the
 * kernel allows linking an unnamed file only while it was born unnamed),
 * so its still-open bytes are copied into a fresh temp file.
 */
static int fs_writer_ensure(void *state, const char *hex)
{
	struct fs_writer *w = state;
	struct blob_store s = { NULL, w->fs };
	bool existed;
	int err, fd = -1;

	if (fs_stat(&s, hex, NULL) == 0)
		return 0;
	err = publish(w->fs, w->fd, hex, &existed);
	if (err != -ENOENT)
		return err;
	if ((err = copy_to_tmpfile(w->fs, w->fd, &fd)))
		return err;
	err = publish(w->fs, fd, hex, &existed);
	close(fd);
	return err;
}

static struct open_blob **open_slot(struct fs_store *fs, const char *hex)
{
	struct open_blob **p = &fs->open[pt_hash_str(hex) & (OPEN_BUCKETS - 1)];
	while (*p && strcmp((*p)->hex, hex) != 0)
		p = &(*p)->next;
	return p;
}

static int fs_reader_open(struct blob_store *s, const char *hex, void **state,
			  uint64_t *size)
{
	struct fs_store *fs = s->impl;
	char path[4096];
	struct stat st = { 0 };
	struct open_blob *ob;
	int fd;

	if (strlen(hex) != BLOB_HEX_LEN)
		return -ENOENT;
	pthread_mutex_lock(&fs->open_lock);
	if ((ob = *open_slot(fs, hex)))
		ob->refs++;
	pthread_mutex_unlock(&fs->open_lock);
	if (!ob) {
		snprintf(path, sizeof(path), "%s/%.2s/%.2s/%s", fs->blobs, hex,
			 hex + 2, hex);
		if ((fd = open_stat(path, O_RDONLY, &st)) < 0)
			return fd;
		pthread_mutex_lock(&fs->open_lock);
		struct open_blob **slot = open_slot(fs, hex);
		if ((ob = *slot)) { /* another reader opened it meanwhile */
			ob->refs++;
		} else {
			ob = xcalloc(1, sizeof(*ob));
			memcpy(ob->hex, hex, sizeof(ob->hex));
			ob->fd = fd;
			ob->size = (uint64_t)st.st_size;
			ob->refs = 1;
			*slot = ob;
			fd = -1;
		}
		pthread_mutex_unlock(&fs->open_lock);
		if (fd >= 0)
			close(fd);
	}
	struct fs_reader *r = xmalloc(sizeof(*r));
	r->fs = fs;
	r->ob = ob;
	*state = r;
	*size = ob->size;
	return 0;
}

static int fs_reader_fd(void *state)
{
	return ((struct fs_reader *)state)->ob->fd;
}

/* The descriptor is shared: the caller gets one of its own (or -1 when
 * the process is out of descriptors: stream instead). */
static int fs_reader_take_fd(void *state)
{
	struct fs_reader *r = state;
	return fcntl(r->ob->fd, F_DUPFD_CLOEXEC, 0);
}

static ssize_t fs_reader_pread(void *state, void *p, size_t n, uint64_t off)
{
	struct fs_reader *r = state;
	ssize_t k;
	do
		k = pread(r->ob->fd, p, n, (off_t)off);
	while (k < 0 && errno == EINTR);
	return k < 0 ? -errno : k;
}

static void fs_reader_close(void *state)
{
	struct fs_reader *r = state;
	struct fs_store *fs = r->fs;
	struct open_blob *ob = r->ob;
	bool last;

	pthread_mutex_lock(&fs->open_lock);
	last = --ob->refs == 0;
	if (last)
		*open_slot(fs, ob->hex) = ob->next;
	pthread_mutex_unlock(&fs->open_lock);
	if (last) {
		close(ob->fd);
		free(ob);
	}
	free(r);
}

static int fs_stat(struct blob_store *s, const char *hex, uint64_t *size)
{
	struct fs_store *fs = s->impl;
	char path[4096];
	struct stat st;
	snprintf(path, sizeof(path), "%s/%.2s/%.2s/%s", fs->blobs, hex,
		 hex + 2, hex);
	if (stat(path, &st) < 0)
		return -errno;
	if (size)
		*size = (uint64_t)st.st_size;
	return 0;
}

static int fs_remove(struct blob_store *s, const char *hex)
{
	struct fs_store *fs = s->impl;
	char dir[4096], path[4200];
	snprintf(dir, sizeof(dir), "%s/%.2s/%.2s", fs->blobs, hex, hex + 2);
	snprintf(path, sizeof(path), "%s/%s", dir, hex);
	if (unlink(path) < 0)
		return -errno;
	return fsync_dir(dir);
}

static bool is_hex(const char *s, size_t n)
{
	if (strlen(s) != n)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= '0' && s[i] <= '9') ||
		      (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	return true;
}

/* blobs/ab/cd/<hex>: walk the two fan-out levels, skipping anything that
 * does not have the shape of a blob (fsck reports those separately). */
static int fs_list(struct blob_store *s,
		   int (*cb)(const char *hex, uint64_t size, int64_t mtime, void *arg),
		   void *arg)
{
	struct fs_store *fs = s->impl;
	DIR *d1 = opendir(fs->blobs);
	struct dirent *e1, *e2, *e3;
	int stop = 0;

	if (!d1)
		return -errno;
	while (!stop && (e1 = readdir(d1))) {
		if (!is_hex(e1->d_name, 2))
			continue;
		char p1[4096];
		snprintf(p1, sizeof(p1), "%s/%s", fs->blobs, e1->d_name);
		DIR *d2 = opendir(p1);
		if (!d2)
			continue;
		while (!stop && (e2 = readdir(d2))) {
			if (!is_hex(e2->d_name, 2))
				continue;
			char p2[4400];
			snprintf(p2, sizeof(p2), "%s/%s", p1, e2->d_name);
			DIR *d3 = opendir(p2);
			if (!d3)
				continue;
			while (!stop && (e3 = readdir(d3))) {
				struct stat st;
				if (!is_hex(e3->d_name, 64) ||
				    memcmp(e3->d_name, e1->d_name, 2) ||
				    memcmp(e3->d_name + 2, e2->d_name, 2))
					continue;
				if (fstatat(dirfd(d3), e3->d_name, &st, 0) < 0 ||
				    !S_ISREG(st.st_mode))
					continue;
				stop = cb(e3->d_name, (uint64_t)st.st_size,
					  (int64_t)st.st_mtime, arg);
			}
			closedir(d3);
		}
		closedir(d2);
	}
	closedir(d1);
	return stop < 0 ? stop : 0;
}

static int fs_cleanup(struct blob_store *s)
{
	struct fs_store *fs = s->impl;
	DIR *d = opendir(fs->tmp);
	struct dirent *e;
	int n = 0;

	if (!d)
		return -errno;
	while ((e = readdir(d))) {
		if (e->d_name[0] == '.')
			continue;
		if (unlinkat(dirfd(d), e->d_name, 0) == 0)
			n++;
	}
	closedir(d);
	return n;
}


/* ---- partial uploads: DATA/uploads/<uid> ---- */

struct fs_partial {
	int fd;
	uint64_t written, synced, checked;
};

static void partial_path(struct fs_store *fs, const char *uid, char *out,
			 size_t n)
{
	snprintf(out, n, "%s/%s", fs->uploads, uid);
}

static int fs_partial_create(struct blob_store *s, const char *uid)
{
	struct fs_store *fs = s->impl;
	char path[4200];
	int fd;

	partial_path(fs, uid, path, sizeof(path));
	fd = open(path, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0644);
	if (fd < 0)
		return -errno;
	close(fd);
	return fsync_dir(fs->uploads);
}

static int fs_partial_open(struct blob_store *s, const char *uid,
			   uint64_t offset, void **state)
{
	struct fs_store *fs = s->impl;
	char path[4200];
	struct stat st = { 0 };
	int fd;

	partial_path(fs, uid, path, sizeof(path));
	if ((fd = open_stat(path, O_RDWR, &st)) < 0)
		return fd;
	if ((uint64_t)st.st_size < offset) {
		/* shorter than its durable offset: the bytes are gone */
		close(fd);
		return PT_ECORRUPT;
	}
	/* bytes past the durable offset were never acknowledged */
	if ((uint64_t)st.st_size > offset && ftruncate(fd, (off_t)offset) < 0) {
		int err = -errno;
		close(fd);
		return err;
	}
	if (lseek(fd, (off_t)offset, SEEK_SET) < 0) {
		int err = -errno;
		close(fd);
		return err;
	}
	struct fs_partial *p = xcalloc(1, sizeof(*p));
	p->fd = fd;
	p->written = p->synced = p->checked = offset;
	*state = p;
	return 0;
}

static int fs_partial_write(void *state, const void *data, size_t n)
{
	struct fs_partial *p = state;
	return append(p->fd, data, n, &p->written, &p->synced, &p->checked);
}

static int fs_partial_sync(void *state)
{
	struct fs_partial *p = state;
	return fdatasync(p->fd) < 0 ? -errno : 0;
}

static int fs_partial_truncate(void *state, uint64_t offset)
{
	struct fs_partial *p = state;
	if (ftruncate(p->fd, (off_t)offset) < 0 ||
	    lseek(p->fd, (off_t)offset, SEEK_SET) < 0)
		return -errno;
	p->written = offset;
	if (p->synced > offset)
		p->synced = offset;
	if (p->checked > offset)
		p->checked = offset;
	return 0;
}

static void fs_partial_close(void *state)
{
	struct fs_partial *p = state;
	close(p->fd);
	free(p);
}

static ssize_t fs_partial_pread(struct blob_store *s, const char *uid,
				void *buf, size_t n, uint64_t off)
{
	struct fs_store *fs = s->impl;
	char path[4200];
	ssize_t k;
	int fd;

	partial_path(fs, uid, path, sizeof(path));
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	do
		k = pread(fd, buf, n, (off_t)off);
	while (k < 0 && errno == EINTR);
	if (k < 0)
		k = -errno;
	close(fd);
	return k;
}

static int fs_partial_link(struct blob_store *s, const char *uid,
			   const char *hex, bool *existed)
{
	struct fs_store *fs = s->impl;
	char path[4200];
	int fd, err;

	partial_path(fs, uid, path, sizeof(path));
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	/* the partial stays until the caller has recorded the blob and
	 * removes it: a crash in between leaves a retry that still works */
	err = publish(fs, fd, hex, existed);
	close(fd);
	return err;
}

/* Copy src into dst at its end, in the kernel where it can (reflink or
 * server-side copy with copy_file_range), else through a buffer. */
static int copy_all(int dst, int src)
{
	char buf[1 << 16];
	for (;;) {
		ssize_t k = copy_file_range(src, NULL, dst, NULL, 1 << 30, 0);
		if (k == 0)
			return 0;
		if (k > 0)
			continue;
		if (errno == EINTR)
			continue;
		if (errno != EXDEV && errno != ENOSYS && errno != EINVAL &&
		    errno != EOPNOTSUPP)
			return -errno;
		break; /* not supported here: plain copy from where we are */
	}
	for (;;) {
		ssize_t k = read(src, buf, sizeof(buf));
		if (k == 0)
			return 0;
		if (k < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		int err = write_full(dst, buf, (size_t)k);
		if (err)
			return err;
	}
}

static int fs_partial_concat(struct blob_store *s, const char *dst,
			     const char *const *src, size_t n)
{
	struct fs_store *fs = s->impl;
	char path[4200];
	int out, err = 0;

	partial_path(fs, dst, path, sizeof(path));
	out = open(path, O_WRONLY | O_TRUNC | O_CLOEXEC);
	if (out < 0)
		return -errno;
	for (size_t i = 0; i < n && !err; i++) {
		char sp[4200];
		partial_path(fs, src[i], sp, sizeof(sp));
		int in = open(sp, O_RDONLY | O_CLOEXEC);
		if (in < 0) {
			err = -errno;
			break;
		}
		err = copy_all(out, in);
		close(in);
	}
	if (!err && fdatasync(out) < 0)
		err = -errno;
	close(out);
	return err;
}

static int fs_partial_remove(struct blob_store *s, const char *uid)
{
	struct fs_store *fs = s->impl;
	char path[4200];
	partial_path(fs, uid, path, sizeof(path));
	if (unlink(path) < 0 && errno != ENOENT)
		return -errno;
	return 0;
}

static int fs_partial_list(struct blob_store *s,
			   int (*cb)(const char *uid, int64_t mtime, void *arg),
			   void *arg)
{
	struct fs_store *fs = s->impl;
	DIR *d = opendir(fs->uploads);
	struct dirent *e;
	int stop = 0;
	if (!d)
		return -errno;
	while (!stop && (e = readdir(d))) {
		struct stat st;
		if (e->d_name[0] == '.' ||
		    fstatat(dirfd(d), e->d_name, &st, 0) < 0 ||
		    !S_ISREG(st.st_mode))
			continue;
		stop = cb(e->d_name, (int64_t)st.st_mtime, arg);
	}
	closedir(d);
	return stop < 0 ? stop : 0;
}

static void fs_close(struct blob_store *s)
{
	struct fs_store *fs = s->impl;
	free(fs->root);
	free(fs->blobs);
	free(fs->tmp);
	free(fs->uploads);
	pthread_mutex_destroy(&fs->open_lock);
	free(fs);
	free(s);
}

static const struct blob_ops fs_ops = {
	.name = "fs",
	.writer_open = fs_writer_open,
	.writer_write = fs_writer_write,
	.writer_commit = fs_writer_commit,
	.writer_ensure = fs_writer_ensure,
	.writer_abort = fs_writer_abort,
	.reader_open = fs_reader_open,
	.reader_fd = fs_reader_fd,
	.reader_take_fd = fs_reader_take_fd,
	.reader_pread = fs_reader_pread,
	.reader_close = fs_reader_close,
	.stat = fs_stat,
	.remove = fs_remove,
	.list = fs_list,
	.cleanup = fs_cleanup,
	.close = fs_close,
	.partial_create = fs_partial_create,
	.partial_open = fs_partial_open,
	.partial_write = fs_partial_write,
	.partial_sync = fs_partial_sync,
	.partial_truncate = fs_partial_truncate,
	.partial_close = fs_partial_close,
	.partial_pread = fs_partial_pread,
	.partial_link = fs_partial_link,
	.partial_concat = fs_partial_concat,
	.partial_remove = fs_partial_remove,
	.partial_list = fs_partial_list,
};

int blob_fs_open(const char *dir, struct blob_store **out)
{
	struct fs_store *fs;
	struct blob_store *s;
	int err;

	if ((err = mkdir_p1(dir, NULL)))
		return err;
	fs = xcalloc(1, sizeof(*fs));
	pthread_mutex_init(&fs->open_lock, NULL);
	fs->root = xstrdup(dir);
	fs->blobs = xasprintf("%s/blobs", dir);
	fs->tmp = xasprintf("%s/tmp", dir);
	fs->uploads = xasprintf("%s/uploads", dir);
	if ((err = mkdir_p1(fs->blobs, NULL)) ||
	    (err = mkdir_p1(fs->tmp, NULL)) ||
	    (err = mkdir_p1(fs->uploads, NULL))) {
		free(fs->root);
		free(fs->blobs);
		free(fs->tmp);
		free(fs->uploads);
		pthread_mutex_destroy(&fs->open_lock);
		free(fs);
		return err;
	}
	s = xmalloc(sizeof(*s));
	s->ops = &fs_ops;
	s->impl = fs;
	*out = s;
	return 0;
}
