/*
 * pt.c — status messages, the allocation policy, the clock, HTTP dates and
 * logging shared by every partage module.
 */
#define _GNU_SOURCE
#include "pt.h"

#include <errno.h>
#include <pthread.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "text.h"
#include "banned.h"

const char *pt_strerror(int err)
{
	switch (err) {
	case PT_OK:
		return "success";
#define PT_X_MSG(name, code, http, msg)                                 \
	case code:                                                      \
		return msg;
		PT_STATUS_MAP(PT_X_MSG)
#undef PT_X_MSG
	}
	if (err < 0 && err > -4000)
		return strerror(-err);
	return "unknown error";
}

int pt_http_status(int err)
{
	switch (err) {
	case PT_OK:
		return 200;
#define PT_X_HTTP(name, code, http, msg)                                \
	case code:                                                      \
		return http;
		PT_STATUS_MAP(PT_X_HTTP)
#undef PT_X_HTTP
	case -ENOSPC:
	case -EDQUOT:
		return 507;
	case -ENOENT:
		return 404;
	case -EACCES:
	case -EPERM:
		return 403;
	case -EFBIG:
		return 413;
	case -EINVAL:
	case -ENAMETOOLONG:
		return 400;
	case -EAGAIN:
	case -EBUSY:
		return 503;
	}
	return 500;
}

static __attribute__((noreturn)) void oom(size_t n)
{
	fprintf(stderr, "partage: out of memory allocating %zu bytes\n", n);
	abort();
}

void *xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);
	if (!p)
		oom(n);
	return p;
}

void *xcalloc(size_t nmemb, size_t n)
{
	void *p = calloc(nmemb ? nmemb : 1, n ? n : 1);
	if (!p)
		oom(nmemb * n);
	return p;
}

void *xrealloc(void *p, size_t n)
{
	p = realloc(p, n ? n : 1);
	if (!p)
		oom(n);
	return p;
}

char *xstrdup(const char *s)
{
	return xstrndup(s, strlen(s));
}

char *xstrndup(const char *s, size_t n)
{
	char *p = xmalloc(n + 1);
	memcpy(p, s, n);
	p[n] = '\0';
	return p;
}

char *xasprintf(const char *fmt, ...)
{
	va_list ap;
	char *p;
	va_start(ap, fmt);
	if (vasprintf(&p, fmt, ap) < 0)
		oom(strlen(fmt));
	va_end(ap);
	return p;
}

int pt_parse_u64(const char *s, size_t n, uint64_t *out)
{
	uint64_t v = 0;
	if (n == 0 || n > 19)
		return PT_EBADREQ;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return PT_EBADREQ;
		v = v * 10 + (uint64_t)(s[i] - '0');
	}
	*out = v;
	return 0;
}

static int64_t time_offset(void)
{
	static int64_t off;
	static int done;
	if (!__atomic_load_n(&done, __ATOMIC_ACQUIRE)) {
		const char *e = getenv("PARTAGE_TIME_OFFSET");
		int64_t v = 0;
		if (e && *e) {
			char *end;
			errno = 0;
			long long l = strtoll(e, &end, 10);
			if (!errno && *end == '\0')
				v = l;
		}
		off = v;
		__atomic_store_n(&done, 1, __ATOMIC_RELEASE);
	}
	return off;
}

int64_t pt_now(void)
{
	return (int64_t)time(NULL) + time_offset();
}

void pt_thread_name(const char *name)
{
	char n[16];

	snprintf(n, sizeof(n), "%s", name);
	pthread_setname_np(pthread_self(), n);
}

void pt_thread_background(void)
{
	/* Linux: a thread's nice value is its own, and children inherit it */
	(void)setpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid), 19);
}

uint64_t pt_mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

void pt_http_date(int64_t t, char buf[32])
{
	struct tm tm;
	time_t tt = (time_t)t;
	gmtime_r(&tt, &tm);
	strftime(buf, 32, "%a, %d %b %Y %H:%M:%S GMT", &tm);
}

int pt_http_date_parse(const char *s, int64_t *out)
{
	/* IMF-fixdate, obsolete RFC 850, and asctime (RFC 9110 §5.6.7). */
	static const char *const fmts[] = {
		"%a, %d %b %Y %H:%M:%S GMT",
		"%A, %d-%b-%y %H:%M:%S GMT",
		"%a %b %e %H:%M:%S %Y",
	};
	for (size_t i = 0; i < PT_ARRAY_LEN(fmts); i++) {
		struct tm tm;
		memset(&tm, 0, sizeof(tm));
		const char *end = strptime(s, fmts[i], &tm);
		if (end && *end == '\0') {
			*out = (int64_t)timegm(&tm);
			return 0;
		}
	}
	return PT_EBADREQ;
}

void pt_log(const char *fmt, ...)
{
	/* twice the line kept: text_escape reads at most sizeof(safe) - 1
	 * bytes, so vsnprintf's cut (maybe inside a character) is never
	 * seen, and a long line is cut between characters */
	char line[4096], safe[2048], when[32];
	struct timespec ts;
	struct tm tm;
	va_list ap;
	int n;

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	/* messages quote client text (names, paths, reasons): one line of
	 * valid UTF-8 whatever it holds, so nobody can forge a log line or
	 * send the reader's terminal an escape sequence */
	text_escape(safe, sizeof(safe), line, strlen(line), 0);
	/* one write() so concurrent lines from worker threads never mix */
	fprintf(stderr, "%s %s\n", when, safe);
}

void pt_assert_fail(const char *what, const char *file, int line)
{
	fprintf(stderr, "partage: assertion failed: %s (%s:%d)\n", what, file,
		line);
	abort();
}

void pt_human_size(uint64_t n, char *out, size_t cap)
{
	static const char *const units[] = { "B", "KiB", "MiB", "GiB", "TiB" };
	double v = (double)n;
	size_t u = 0;

	while (v >= 1024 && u + 1 < PT_ARRAY_LEN(units)) {
		v /= 1024;
		u++;
	}
	if (u == 0)
		snprintf(out, cap, "%llu B", (unsigned long long)n);
	else
		snprintf(out, cap, "%.1f %s", v, units[u]);
}
