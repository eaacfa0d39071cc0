/*
 * reserve.h — the disk space partage keeps back for itself, so that a
 * full disk never stops deleting.
 *
 * Deleting a link, a takedown or gc write to the metadata before they free
 * anything, and SQLite needs free space for that write (its WAL grows by
 * a frame per page changed): on a disk filled to the last byte — by
 * uploads, or by any other program on the same file system — the commit
 * fails with SQLITE_FULL and nothing can be deleted any more.  Two
 * defences, both on the data directory's file system:
 *
 *   - a floor for uploads: an upload is refused (507) when it would
 *     leave less than storage.min_free_bytes free (bytes, or a percentage
 *     of the file system), checked before its body and every
 *     RESERVE_CHECK_STEP bytes as it is written;
 *   - the reserve: DATA/reserve, a file whose blocks are really allocated
 *     (posix_fallocate), of storage.reserve_bytes but never more than
 *     1/16 of the file system (a test's tiny disk keeps room for files).
 *     A metadata write that finds less than a little headroom free, or
 *     that fails with ENOSPC, empties it (truncate to 0) and goes on in
 *     the space it gave back; the file is filled again once there is room
 *     for it and the floor (at start-up, by the maintenance pass, and by
 *     the next upload that asks).
 *
 * Uploads never use the reserve: while it is released (in part or in
 * whole), the missing part is added to their floor.  The file is shared
 * by every process on the data directory (the server, `partaged admin`):
 * what it holds is read from its blocks (st_blocks), never remembered.
 *
 * A process has one data directory, so it has at most one reserve:
 * reserve_open registers it, and the SQLite driver and the fs blob store
 * reach it through the functions below that take no reserve; they do
 * nothing when there is none (PostgreSQL and S3 only, tests).
 * Everything here may block on the file system; all of it is thread-safe.
 */
#ifndef PT_RESERVE_H
#define PT_RESERVE_H

#include <stdbool.h>
#include <stdint.h>

/* How often a streaming upload checks the floor. */
#define RESERVE_CHECK_STEP (1u << 20)

struct reserve;

/* The reserve of directory dir: reserve_bytes wanted (0 = none), the
 * upload floor min_free (a pt_conf value: bytes or CONF_PERCENT|N).
 * Fills the file if there is room (a failure to is logged, not an error:
 * it is tried again later), and registers it for this process (unless
 * one is already).  Returns 0 or a negative errno (dir cannot be read). */
int reserve_open(const char *dir, uint64_t reserve_bytes, uint64_t min_free,
		 struct reserve **out);
/* Unregisters it; the file stays. */
void reserve_close(struct reserve *r);

/* Fill the file to its size when the disk has room for it above the
 * floor: 0 (full size, or no reserve), or -ENOSPC (not yet: no room), or
 * another negative errno. */
int reserve_fill(struct reserve *r);

/* Whether an upload of len more bytes (0: the next bytes of one that
 * streams) leaves the floor free: min_free plus what the reserve misses.
 * True when no reserve is registered or the file system cannot be read
 * (the write itself then tells). */
bool reserve_upload_ok(uint64_t len);

/* Before a metadata write: release the reserve when less than the
 * headroom a commit needs is free. */
void reserve_before_write(void);
/* A metadata write failed for lack of space: release the reserve.
 * Returns true when that freed space (the write may well succeed if done
 * again), false when there was nothing left to release. */
bool reserve_release(void);

#endif
