/*
 * pool.h — a per-request arena with cleanup handlers (after nginx pools).
 *
 * Everything a request allocates comes from its pool and goes away in one
 * pt_pool_free(), which first runs the cleanup handlers in reverse order of
 * registration.  Resources that outlive a failed request by accident (a temp
 * file of an aborted upload, an open fd) are released by construction: the
 * code that acquires them registers their release at once, and the code
 * that hands them on (a committed blob) disarms its handler.
 * Not thread-safe: a pool belongs to one request at a time.
 */
#ifndef PT_POOL_H
#define PT_POOL_H

#include <stddef.h>

struct pt_pool;
typedef void (*pt_cleanup_cb)(void *arg);

struct pt_pool *pt_pool_new(void);
/* Run cleanups (last registered first), then free every allocation. */
void pt_pool_free(struct pt_pool *pool);
void *pt_palloc(struct pt_pool *pool, size_t n);  /* zeroed, 16-aligned */
char *pt_pstrdup(struct pt_pool *pool, const char *s);
char *pt_pstrndup(struct pt_pool *pool, const char *s, size_t n);
char *pt_psprintf(struct pt_pool *pool, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* Register cb(arg) to run at pt_pool_free; returns a handle for disarm. */
void *pt_pool_cleanup_add(struct pt_pool *pool, pt_cleanup_cb cb, void *arg);
/* The handler will not run (its resource has been handed on). */
void pt_pool_cleanup_disarm(void *handle);

#endif
