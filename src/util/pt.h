/*
 * pt.h — the few things every partage module shares: the status set, the
 * allocation policy, counted strings, the clock and logging.
 *
 * Status: functions return int; 0 is success, a negative errno passes
 * through from a system call unchanged, and the PT_E* codes below (all
 * below -4000, far from any errno) name the failures that are ours.  The
 * list is an X-macro so names, messages and HTTP statuses cannot drift;
 * pt_http_status() is the one place that maps any status to HTTP.
 *
 * Memory: allocation failure is not an error we handle, it aborts the
 * process through the x* family (the h2o/kore policy).  Code never checks
 * the result of xmalloc and friends.
 */
#ifndef PT_H
#define PT_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/*   name          code  http  message */
#define PT_STATUS_MAP(X)                                                \
	X(BADREQ,     -4001, 400, "bad request")                        \
	X(UNAUTH,     -4002, 401, "authentication required")            \
	X(FORBIDDEN,  -4003, 403, "forbidden")                          \
	X(NOTFOUND,   -4004, 404, "not found")                          \
	X(METHOD,     -4005, 405, "method not allowed")                 \
	X(CONFLICT,   -4009, 409, "conflict")                           \
	X(GONE,       -4010, 410, "gone")                               \
	X(PRECOND,    -4012, 412, "precondition failed")                \
	X(TOOBIG,     -4013, 413, "payload too large")                  \
	X(UNSUPPORTED,-4015, 415, "unsupported media type")             \
	X(RANGE,      -4016, 416, "range not satisfiable")              \
	X(LIMIT,      -4029, 429, "too many requests")                  \
	X(LEGAL,      -4051, 451, "unavailable for legal reasons")      \
	X(CHECKSUM,   -4460, 460, "checksum mismatch")                  \
	X(INTERNAL,   -4500, 500, "internal error")                     \
	X(CORRUPT,    -4501, 500, "stored data is corrupt")             \
	X(UNAVAIL,    -4503, 503, "service unavailable")                \
	X(NOSPACE,    -4507, 507, "insufficient storage")

enum pt_status {
	PT_OK = 0,
#define PT_X_ENUM(name, code, http, msg) PT_E##name = code,
	PT_STATUS_MAP(PT_X_ENUM)
#undef PT_X_ENUM
};

/* Message for a status: ours, or strerror(-err) for a negative errno. */
const char *pt_strerror(int err);
/* The HTTP status for any status (errno included); 500 when unknown. */
int pt_http_status(int err);

/* ---- allocation: never returns NULL ---- */
void *xmalloc(size_t n);
void *xcalloc(size_t nmemb, size_t n);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* ---- counted strings (not NUL-terminated unless said) ---- */
typedef struct pt_str {
	const char *p;
	size_t n;
} pt_str;
#define PT_STR(lit) ((pt_str){ (lit), sizeof(lit) - 1 })
#define PT_STR_NULL ((pt_str){ NULL, 0 })
static inline bool pt_str_eq(pt_str a, const char *lit)
{
	size_t i;
	for (i = 0; i < a.n; i++)
		if (lit[i] != a.p[i] || lit[i] == '\0')
			return false;
	return lit[i] == '\0';
}

/* FNV-1a of a string: the hash of the small in-memory tables (slots,
 * rate limits, coverage), whose keys are ids and addresses. */
static inline unsigned pt_hash_str(const char *s)
{
	unsigned h = 2166136261u;
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 16777619u;
	return h;
}

/* Parse an unsigned decimal of at most 19 digits with nothing after it.
 * Returns 0, or PT_EBADREQ on junk, sign, empty or overflow. */
int pt_parse_u64(const char *s, size_t n, uint64_t *out);
/* n bytes for people, into out: "123 B", "1.2 MiB" (powers of 1024, one
 * decimal past bytes). */
void pt_human_size(uint64_t n, char *out, size_t cap);

/* ---- clock ---- */
/* Seconds since the epoch, shifted by PARTAGE_TIME_OFFSET (tests). */
int64_t pt_now(void);
/* Monotonic nanoseconds, for durations. */
uint64_t pt_mono_ns(void);
/* Name the calling thread (at most 15 bytes are kept), as `top -H`,
 * `ps -L` and /proc/PID/task/TID/comm show it. */
void pt_thread_name(const char *name);
/* The calling thread, and the processes it starts, yield the CPU to
 * everything else (nice 19): background work that must not slow
 * requests down (the media queue). */
void pt_thread_background(void);
/* RFC 9110 IMF-fixdate of t into buf (30 bytes at least). */
void pt_http_date(int64_t t, char buf[32]);
/* Parse any of the three HTTP-date forms; returns 0 or PT_EBADREQ. */
int pt_http_date_parse(const char *s, int64_t *out);

/* ---- logging: one line to stderr, prefixed with the time; the message
 * is passed through text_escape (text.h), so it stays one line of valid
 * UTF-8 whatever client text it quotes ---- */
void pt_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* ---- assertions for programmer errors, on in every build ---- */
#define PT_ASSERT(c)                                                    \
	do {                                                            \
		if (!(c))                                               \
			pt_assert_fail(#c, __FILE__, __LINE__);         \
	} while (0)
__attribute__((noreturn)) void pt_assert_fail(const char *what,
					      const char *file, int line);

#define PT_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

#endif
