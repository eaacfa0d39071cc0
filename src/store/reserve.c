/*
 * reserve.c — the data directory's reserve file and the upload floor
 * (reserve.h).
 *
 * Every decision starts from a fresh look at the disk (statvfs, and the
 * reserve file's st_blocks), because other processes change both: the
 * server and `partaged admin` share the file, and any program may fill
 * the file system.  The sizes, for a file system of S bytes:
 *
 *   target    min(reserve_bytes, S / 16), in whole pages
 *   missing   target - the blocks the file holds
 *   headroom  min(target / 8, 1 MiB): what a metadata write wants free
 *             before it starts, else the reserve is released first
 *   floor     min_free + missing: what an upload must leave free
 *
 * The file is filled only when free >= missing + min_free + headroom, so
 * filling it never takes the headroom back from the metadata, and an
 * upload is taken only when the reserve is whole or could be made so.
 */
#define _GNU_SOURCE
#include "reserve.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "../conf.h"
#include "../util/pt.h"
#include "../util/banned.h"

#define PAGE 4096u
#define HEADROOM_MAX (1u << 20)

struct reserve {
	char *dir, *path;
	uint64_t want, min_free;
	pthread_mutex_t lock; /* one fill or release at a time here */
};

struct space {
	uint64_t size, free, target, held, missing, min_free, headroom;
};

static struct reserve *current;

static struct reserve *registered(void)
{
	return __atomic_load_n(&current, __ATOMIC_ACQUIRE);
}

static int measure(struct reserve *r, struct space *sp)
{
	struct statvfs v;
	struct stat st;

	memset(sp, 0, sizeof(*sp));
	if (statvfs(r->dir, &v) < 0)
		return -errno;
	sp->size = (uint64_t)v.f_blocks * v.f_frsize;
	sp->free = (uint64_t)v.f_bavail * v.f_frsize;
	sp->target = r->want < sp->size / 16 ? r->want : sp->size / 16;
	sp->target -= sp->target % PAGE;
	if (stat(r->path, &st) == 0)
		sp->held = (uint64_t)st.st_blocks * 512;
	sp->missing = sp->held < sp->target ? sp->target - sp->held : 0;
	sp->min_free = conf_space(r->min_free, sp->size);
	sp->headroom = sp->target / 8 < HEADROOM_MAX ? sp->target / 8
						      : HEADROOM_MAX;
	return 0;
}

/* Room to fill the missing part and still have the floor and headroom. */
static bool room_to_fill(const struct space *sp)
{
	uint64_t need = sp->missing + sp->min_free + sp->headroom;
	return sp->free >= need;
}

/* With r->lock held. */
static int fill_locked(struct reserve *r)
{
	struct space sp;
	struct stat st;
	int fd, err;

	if ((err = measure(r, &sp)))
		return err;
	if (!sp.missing)
		return 0;
	if (!room_to_fill(&sp))
		return -ENOSPC;
	fd = open(r->path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	off_t before = fstat(fd, &st) == 0 ? st.st_size : 0;
	/* real blocks, not a sparse size: they are what a full disk gets */
	err = -posix_fallocate(fd, 0, (off_t)sp.target);
	if (!err && fdatasync(fd) < 0)
		err = -errno;
	if (err && ftruncate(fd, before) < 0) {
		/* blocks a failed fallocate kept are given back at the next
		 * release; nothing to do about it now */
	}
	close(fd);
	if (!err && sp.held == 0)
		pt_log("reserve: '%s' holds %llu bytes for the metadata "
		       "of a full disk",
		       r->path, (unsigned long long)sp.target);
	return err;
}

int reserve_fill(struct reserve *r)
{
	if (!r)
		return 0;
	pthread_mutex_lock(&r->lock);
	int err = fill_locked(r);
	pthread_mutex_unlock(&r->lock);
	return err;
}

int reserve_open(const char *dir, uint64_t reserve_bytes, uint64_t min_free,
		 struct reserve **out)
{
	struct reserve *r = xcalloc(1, sizeof(*r));
	struct space sp;
	int err;

	r->dir = xstrdup(dir);
	r->path = xasprintf("%s/reserve", dir);
	r->want = reserve_bytes;
	r->min_free = min_free;
	pthread_mutex_init(&r->lock, NULL);
	if ((err = measure(r, &sp))) {
		pt_log("reserve: cannot read the file system of '%s': %s", dir,
		       pt_strerror(err));
		reserve_close(r);
		return err;
	}
	if (sp.target < sp.held) {
		/* reserve_bytes was lowered (or is 0): give the rest back */
		if (truncate(r->path, (off_t)sp.target) < 0)
			pt_log("reserve: cannot shrink '%s': %s", r->path,
			       strerror(errno));
	}
	err = reserve_fill(r);
	if (err == -ENOSPC)
		pt_log("reserve: no room for '%s' (%llu bytes) yet: uploads "
		       "wait until there is",
		       r->path, (unsigned long long)sp.target);
	else if (err)
		pt_log("reserve: cannot fill '%s': %s", r->path,
		       pt_strerror(err));
	struct reserve *none = NULL;
	__atomic_compare_exchange_n(&current, &none, r, false,
				    __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE);
	*out = r;
	return 0;
}

void reserve_close(struct reserve *r)
{
	if (!r)
		return;
	if (registered() == r)
		__atomic_store_n(&current, NULL, __ATOMIC_RELEASE);
	pthread_mutex_destroy(&r->lock);
	free(r->dir);
	free(r->path);
	free(r);
}

bool reserve_upload_ok(uint64_t len)
{
	struct reserve *r = registered();
	struct space sp;

	if (!r || (!r->min_free && !r->want) || measure(r, &sp))
		return true;
	if (sp.missing && room_to_fill(&sp)) {
		/* the reserve comes back before an upload takes its room */
		if (reserve_fill(r) == 0 && measure(r, &sp))
			return true;
	}
	uint64_t floor = sp.min_free + sp.missing;
	return sp.free >= floor && sp.free - floor >= len;
}

void reserve_before_write(void)
{
	struct reserve *r = registered();
	struct statvfs v;

	if (!r || !r->want || statvfs(r->dir, &v) < 0)
		return;
	uint64_t size = (uint64_t)v.f_blocks * v.f_frsize;
	uint64_t target = r->want < size / 16 ? r->want : size / 16;
	uint64_t headroom = target / 8 < HEADROOM_MAX ? target / 8
						      : HEADROOM_MAX;
	if ((uint64_t)v.f_bavail * v.f_frsize < headroom)
		reserve_release();
}

bool reserve_release(void)
{
	struct reserve *r = registered();
	struct stat st;
	bool freed = false;

	if (!r)
		return false;
	pthread_mutex_lock(&r->lock);
	if (stat(r->path, &st) == 0 && st.st_blocks > 0) {
		if (truncate(r->path, 0) == 0) {
			freed = true;
			pt_log("reserve: the disk of '%s' is full: released "
			       "%llu bytes for the metadata; uploads are "
			       "refused until there is room for them again",
			       r->dir, (unsigned long long)st.st_blocks * 512);
		} else {
			pt_log("reserve: cannot release '%s': %s", r->path,
			       strerror(errno));
		}
	}
	pthread_mutex_unlock(&r->lock);
	return freed;
}
