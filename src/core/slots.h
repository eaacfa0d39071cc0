/*
 * slots.h — counting concurrent downloads per client address, for the
 * tiers' parallel_downloads limit.  A bounded, thread-safe table: an
 * address's entry exists only while it holds slots, and a full table
 * refuses rather than grows (SLOTS_MAX addresses at once).
 */
#ifndef PT_SLOTS_H
#define PT_SLOTS_H

#include <stdbool.h>
#include <stdint.h>

#define SLOTS_MAX 65536

struct slots;

struct slots *slots_new(void);
void slots_free(struct slots *s);
/* Take one slot for ip if it holds fewer than limit (0: no limit, always
 * true and nothing counted).  Every true must be matched by a release. */
bool slots_acquire(struct slots *s, const char *ip, uint64_t limit);
void slots_release(struct slots *s, const char *ip);
/* Slots ip holds now. */
uint64_t slots_held(struct slots *s, const char *ip);

#endif
