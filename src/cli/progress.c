/*
 * progress.c — what the client draws on stderr while it works: the
 * progress line of an upload or a download, and the countdown of a wait.
 * Both are drawn only when stderr is a terminal (o->progress); otherwise
 * the bar draws nothing and a wait is one line, so logs and pipes stay
 * quiet.  One module for every transfer, so upload and download look and
 * measure the same.
 *
 * The rate is the bytes over a sliding window of the last WINDOW_NS (from
 * samples at least SAMPLE_NS apart), so it follows a change of speed
 * within seconds without jumping with each burst of a speed-capped server
 * that sends a second's worth at once; the ETA is what is left at that
 * rate.  The time to the first byte, and a stall longer than the window,
 * give no rate ("--:--") rather than a made-up one.
 */
#define _GNU_SOURCE
#include "cli.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "../util/banned.h"

#define WINDOW_NS 5000000000u /* the rate is over the last 5 s */
#define SAMPLE_NS 250000000u  /* rate samples at least this far apart */
#define RATE_MIN_NS 500000000u /* no rate over less than this */
#define DRAW_NS 100000000u   /* redraw at most 10 times a second */
#define LABEL_MAX 24         /* bytes of the label shown */

/* "0:07", "12:34", "1:02:03" (secs rounded to the nearest); "--:--" for
 * unknown or more than 99 h. */
static void human_time(double secs, char *out, size_t outsz)
{
	unsigned long s;

	if (!(secs >= 0) || secs > 99 * 3600.0) {
		snprintf(out, outsz, "--:--");
		return;
	}
	s = (unsigned long)(secs + 0.5);
	if (s >= 3600)
		snprintf(out, outsz, "%lu:%02lu:%02lu", s / 3600,
			 s / 60 % 60, s % 60);
	else
		snprintf(out, outsz, "%lu:%02lu", s / 60, s % 60);
}

/* Forget the samples: the window starts again at (t, at). */
static void samples_reset(struct cli_progress *p, uint64_t t, uint64_t at)
{
	p->n = 1;
	p->s_ns[0] = t;
	p->s_bytes[0] = at;
}

void cli_progress_init(struct cli_progress *p, const struct cli_opts *o,
		       const char *label, uint64_t total)
{
	memset(p, 0, sizeof(*p));
	p->label = label ? label : "";
	p->total = total;
	p->on = o->progress;
}

void cli_progress_resume(struct cli_progress *p, uint64_t at)
{
	uint64_t t = pt_mono_ns();

	/* nothing moved since the clock started, or a restart from further
	 * back: the time taken starts now */
	if (!p->n || at < p->at || at == p->start_bytes) {
		p->start_ns = t;
		p->start_bytes = at;
	}
	/* the time before this request (a wait, a reconnect) is no rate */
	samples_reset(p, t, at);
	p->at = at;
}

/* Bytes per second over the window ending at (t, p->at); < 0: none. */
static double rate(struct cli_progress *p, uint64_t t)
{
	uint64_t dt;

	/* keep as the origin the newest sample at least a window old */
	while (p->n > 1 && t - p->s_ns[1] >= WINDOW_NS) {
		memmove(p->s_ns, p->s_ns + 1, (p->n - 1) * sizeof(p->s_ns[0]));
		memmove(p->s_bytes, p->s_bytes + 1,
			(p->n - 1) * sizeof(p->s_bytes[0]));
		p->n--;
	}
	dt = t - p->s_ns[0];
	if (dt < RATE_MIN_NS || p->at < p->s_bytes[0])
		return -1;
	return (double)(p->at - p->s_bytes[0]) / ((double)dt / 1e9);
}

/*
 * One line, redrawn in place:
 *   report.pdf                42%  12.3 MiB / 29.1 MiB  3.4 MiB/s  ETA 0:05
 * and at the end, with the average rate over the whole transfer:
 *   report.pdf               100%  29.1 MiB / 29.1 MiB  3.3 MiB/s  in 0:09
 * A label is cut at a UTF-8 boundary so the line never ends mid-character.
 */
/* "12 s" below a minute, "1:05" from one: a wait's seconds left. */
static void wait_left(unsigned n, char *out, size_t outsz)
{
	if (n >= 60)
		human_time(n, out, outsz);
	else
		snprintf(out, outsz, "%u s", n);
}

static void draw(struct cli_progress *p, uint64_t t)
{
	char label[LABEL_MAX + 8], done[32], all[32], speed[32], eta[32];
	size_t n = strlen(p->label);
	double r = rate(p, t);
	bool finished = p->total && p->at >= p->total;

	if (p->hold_until_ns > t) {
		wait_left((unsigned)((p->hold_until_ns - t + 999999999u) /
				     1000000000u),
			  eta, sizeof(eta));
		fprintf(stderr, "\rpartage: free download starts in %s\033[K",
			eta);
		fflush(stderr);
		p->draw_ns = t;
		p->drawn = true;
		return;
	}

	if (n > LABEL_MAX) {
		n = LABEL_MAX;
		while (n > 0 && ((unsigned char)p->label[n] & 0xc0) == 0x80)
			n--;
	}
	snprintf(label, sizeof(label), "%.*s", (int)n, p->label);
	pt_human_size(p->at, done, sizeof(done));
	if (finished) {
		/* the average over the whole transfer, and its time */
		double secs = (double)(t - p->start_ns) / 1e9;
		r = secs >= 0.05 ? (double)(p->at - p->start_bytes) / secs : -1;
		snprintf(eta, sizeof(eta), "in ");
		human_time(secs, eta + 3, sizeof(eta) - 3);
	} else {
		snprintf(eta, sizeof(eta), "ETA ");
		human_time(p->total && r > 0
				   ? (double)(p->total - p->at) / r : -1,
			   eta + 4, sizeof(eta) - 4);
	}
	pt_human_size(r > 0 ? (uint64_t)r : 0, speed, sizeof(speed));
	if (p->total) {
		pt_human_size(p->total, all, sizeof(all));
		fprintf(stderr, "\r%-24s %3u%%  %s / %s  %s/s  %s\033[K", label,
			(unsigned)(finished ? 100 : p->at * 100 / p->total),
			done, all, speed, eta);
	} else {
		fprintf(stderr, "\r%-24s       %s  %s/s\033[K", label, done,
			speed);
	}
	fflush(stderr);
	p->draw_ns = t;
	p->drawn = true;
}

void cli_progress_update(struct cli_progress *p, uint64_t at, uint64_t total,
			 bool force)
{
	uint64_t t;

	if (!p->on)
		return;
	t = pt_mono_ns();
	if (total)
		p->total = total;
	if (p->hold_until_ns && (t >= p->hold_until_ns || at > p->hold_at)) {
		/* the hold is over (its time, or the body has begun): its
		 * time is no rate, and the time taken starts now */
		p->hold_until_ns = 0;
		p->n = 0;
	}
	if (!p->n || at < p->at)
		cli_progress_resume(p, at);
	p->at = at;
	if (at == p->s_bytes[0] && p->n == 1) {
		/* no byte yet (or a stall as long as the window): waiting
		 * for the first one is not a rate */
		p->s_ns[0] = t;
	} else if (t - p->s_ns[p->n - 1] >= SAMPLE_NS) {
		if (p->n == PT_ARRAY_LEN(p->s_ns)) {
			memmove(p->s_ns, p->s_ns + 1,
				(p->n - 1) * sizeof(p->s_ns[0]));
			memmove(p->s_bytes, p->s_bytes + 1,
				(p->n - 1) * sizeof(p->s_bytes[0]));
			p->n--;
		}
		p->s_ns[p->n] = t;
		p->s_bytes[p->n] = at;
		p->n++;
	}
	if (force || !p->drawn || t - p->draw_ns >= DRAW_NS)
		draw(p, t);
}

void cli_progress_hold(struct cli_progress *p, unsigned secs, uint64_t at)
{
	if (!p->on || !secs)
		return;
	p->hold_at = at;
	p->hold_until_ns = pt_mono_ns() + (uint64_t)secs * 1000000000u;
	draw(p, pt_mono_ns());
}

void cli_progress_end(struct cli_progress *p)
{
	if (p->drawn)
		fputc('\n', stderr);
	p->drawn = false;
}

/* ---- waiting ---- */

void cli_wait(const struct cli_opts *o, unsigned secs, const char *why)
{
	char left[32];

	if (!o->progress)
		fprintf(stderr, "partage: %s in %u s\n", why, secs);
	for (unsigned n = secs; n > 0; n--) {
		struct timespec ts = { 1, 0 };
		if (o->progress) {
			wait_left(n, left, sizeof(left));
			fprintf(stderr, "\rpartage: %s in %s\033[K", why, left);
			fflush(stderr);
		}
		while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
			;
	}
	if (o->progress)
		fputs("\r\033[K", stderr);
}
