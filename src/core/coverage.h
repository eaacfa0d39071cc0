/*
 * coverage.h — which bytes of a file one client has received, so that a
 * download counts once when every byte has gone out, across any number of
 * range requests and resumes (aria2c with 8 connections = 1 download; a
 * refresh loop fetching byte 0 a thousand times = 0).
 *
 * A bounded, thread-safe table keyed by (file id, client address, day):
 * each entry keeps the union of the delivered ranges as a short sorted
 * list of disjoint intervals.  When the union covers [0, size) the entry
 * reports the download once and remembers it for the rest of the day, so
 * one client and file count at most once a day.  Entries idle for a day
 * are evicted; a full table evicts the stalest entry.
 */
#ifndef PT_COVERAGE_H
#define PT_COVERAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define COVERAGE_MAX 100000
#define COVERAGE_SPANS 32

struct coverage;

struct coverage *coverage_new(size_t max_entries);
void coverage_free(struct coverage *c);
/*
 * Record that bytes [first, last] of the file `id` (size bytes) reached
 * `client` at `now` (seconds).  Returns true exactly once per (id, client,
 * day): when this range completes the file.
 */
bool coverage_add(struct coverage *c, const char *id, const char *client,
		  uint64_t size, uint64_t first, uint64_t last, int64_t now);

#endif
