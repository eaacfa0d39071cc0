/*
 * linkcache.h — the download path's copies of link rows.
 *
 * A link served many times a second need not be read from the database
 * for every request: the SQLite read transaction (its locks on the -shm
 * file) or the PostgreSQL round trip cost more than the rest of a small
 * download.  The cache keeps a copy of a live link's row for at most
 * `ttl_ms`, and drops every copy at once when the generation moves.
 *
 * The generation is a counter in a small file of the data directory,
 * mapped shared, so the server and `partaged admin` working on the same
 * data directory see each other's changes at once: db_pool_on_change
 * bumps it after every commit that changed a link (delete, rename, move,
 * takedown, restore, expiry).  A change made by another node is seen when
 * the copies' ttl ends.  The file has a real, written block before it is
 * mapped (a store into a page without one is a SIGBUS on a full disk):
 * a failure to give it one is an error of linkcache_new.
 *
 * A reader takes the generation before it reads the row, and files the
 * row under that generation: a change that commits in between bumps the
 * generation after its commit, so the copy of the old row is never used.
 *
 * Only what can be served from a copy is put: live links without a
 * download budget (Max-Downloads takes its download in the database).
 * Thread-safe.
 */
#ifndef PT_LINKCACHE_H
#define PT_LINKCACHE_H

#include <stdbool.h>
#include <stdint.h>

#include "repo.h"

struct linkcache;

/* A cache of up to `slots` rows (rounded up to a power of two) kept for
 * ttl_ms.  genfile: the shared generation counter (created if missing),
 * or NULL for one of this process only.  Returns 0 or a negative status:
 * the file cannot be made, given its block (-ENOSPC even after the
 * reserve was released, reserve.h) or mapped.  May block (disk). */
int linkcache_new(const char *genfile, uint64_t ttl_ms, size_t slots,
		  struct linkcache **out);
void linkcache_free(struct linkcache *c);
/* The current generation: take it before reading a row to put. */
uint64_t linkcache_gen(const struct linkcache *c);
/* Drop every copy (a link changed); also for other processes. */
void linkcache_bump(struct linkcache *c);
/* Fill *l (strings in pool) from a fresh copy of id's row: true, or false
 * when there is none (absent, older than ttl, or of an old generation). */
bool linkcache_get(struct linkcache *c, const char *id, struct pt_pool *pool,
		   struct link *l);
/* Keep a copy of l, read under generation gen, if it may be served from
 * a copy (live, no download budget). */
void linkcache_put(struct linkcache *c, const struct link *l, uint64_t gen);

#endif
