/*
 * media.h — what a file is as media (issue 16): the media info a probe
 * finds (container, duration, codecs, dimensions, bitrate), the line
 * format the sandboxed probe process sends it back in, its one-line human
 * summary, and the viewing quota's arithmetic (media time delivered).
 *
 * The probe itself (mediaprobe.c) parses untrusted bytes with libavformat;
 * it runs in a separate process (media_probe_child: rlimits, seccomp) and
 * writes one media_info_format() record to its stdout, which the server
 * reads back with media_info_parse().  The parser trusts nothing in it:
 * names are kept to [a-z0-9_,.-], numbers to their bounds, unknown keys
 * refused.  Everything here except the probe is pure and thread-safe.
 */
#ifndef PT_MEDIA_H
#define PT_MEDIA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum media_kind { MEDIA_NONE = 0, MEDIA_VIDEO, MEDIA_AUDIO, MEDIA_IMAGE };

/* The probe state of a blob, as stored (repo_media_*). */
enum media_state {
	MEDIA_PENDING = 0, /* not probed yet (no row) */
	MEDIA_DONE = 1,	   /* probed: info below */
	MEDIA_FAILED = 2,  /* the probe died, timed out or found nothing */
	MEDIA_SKIPPED = 3, /* not a media type: never probed */
};

#define MEDIA_NAME_MAX 48 /* container and codec names, with the NUL */
/* Upper bounds a record may carry; past them it is refused. */
#define MEDIA_DIM_MAX 65535u
#define MEDIA_DURATION_MAX_MS (1000LL * 86400 * 366)
#define MEDIA_BITRATE_MAX 2000000000LL

struct media_info {
	enum media_kind kind;
	char container[MEDIA_NAME_MAX]; /* libavformat's name: "mov,mp4,…" */
	char vcodec[MEDIA_NAME_MAX];	/* "" none */
	char acodec[MEDIA_NAME_MAX];	/* "" none */
	int64_t duration_ms;		/* 0 unknown (images) */
	uint32_t width, height;		/* 0 unknown */
	int64_t bitrate;		/* bits per second, 0 unknown */
};

/* "video", "audio", "image", "none"; and back (-1 unknown). */
const char *media_kind_name(enum media_kind k);
int media_kind_parse(const char *s);
/* "pending", "done", "failed", "skipped" */
const char *media_state_name(enum media_state s);

/* Is a MIME type worth probing (video/, audio/, image/, application/ogg,
 * and octet-stream, which libmagic says of much media)? */
bool media_mime_probable(const char *mime);

/* One record, "key=value\n" lines, into buf[0..n): bytes written without
 * the NUL, or -1 when it does not fit. */
int media_info_format(const struct media_info *m, char *buf, size_t n);
/* Parse a record of media_info_format (untrusted: the probe process's
 * bytes).  0, or PT_EBADREQ for anything else (unknown key, bad name or
 * number, no kind). */
int media_info_parse(const char *buf, size_t n, struct media_info *m);

/* A codec's display name: "h264" -> "H.264", "aac" -> "AAC"; unknown
 * names as they are.  Static strings or `name`. */
const char *media_codec_display(const char *name);
/* The human summary, "Video · 1280×720 · 0:42 · H.264/AAC" (UTF-8), into
 * buf[0..n) (cut if short). */
void media_summary(const struct media_info *m, char *buf, size_t n);
/* "0:42", "1:02:03" */
void media_duration_text(int64_t ms, char *buf, size_t n);

/*
 * The viewing quota: media time delivered = bytes × 8 ÷ bitrate.  The
 * bitrate of a file is the probe's, else size × 8 ÷ duration; files with
 * neither count at MEDIA_BITRATE_FALLBACK (a bitrate too high would make
 * unknown files free to stream).  Returns milliseconds, saturated.
 */
#define MEDIA_BITRATE_FALLBACK 1000000LL /* 1 Mbit/s */
int64_t media_bitrate_of(const struct media_info *m, uint64_t size);
int64_t media_ms_of_bytes(uint64_t bytes, int64_t bitrate);

/*
 * A viewer's quota window: ms of media delivered since `start`.  A new
 * window starts at the first delivery after the previous one ended
 * (start + allowance reached, then wait).  Pure: the table around it is
 * the caller's (api/media.c).
 *
 *   allowed:  allowance (ms) > 0; 0 means unlimited (always allowed)
 *   when used >= allowance, refused until blocked_until = the moment the
 *   allowance ran out + wait; then the window resets.
 */
struct media_quota {
	int64_t used_ms;       /* delivered in this window */
	int64_t start;	       /* when the window began (s) */
	int64_t blocked_until; /* 0: not blocked (s) */
};
/* Whether a range may start at now; *retry_after (s) when not.  Ends a
 * window whose wait is over, or that nobody used up within allowance +
 * wait (a viewer who watched a little and came back later starts
 * afresh). */
bool media_quota_allows(struct media_quota *q, int64_t allowance_ms,
			int64_t wait_s, int64_t now, int64_t *retry_after);
/* Count ms delivered at now; starts the wait (wait_s) when the allowance
 * is reached. */
void media_quota_add(struct media_quota *q, int64_t ms, int64_t allowance_ms,
		     int64_t wait_s, int64_t now);

/* ---- the probe (mediaprobe.c, libavformat) ---- */

/* Probe bytes in memory, in-process (the fuzzer's entry point): 0 with
 * *m, PT_EUNSUPPORTED when libavformat finds no media in them.  Quiet;
 * may use a lot of CPU and memory on hostile input: the server runs it
 * only through media_probe_child. */
int media_probe_mem(const uint8_t *p, size_t n, struct media_info *m);
/* The same on an open file descriptor (read and lseek only). */
int media_probe_fd(int fd, struct media_info *m);
/*
 * `partaged __probe`: the sandboxed probe process.  Reads the media from
 * fd 0 (a regular file), writes one record to fd 1, exits 0 (found), 2
 * (no media) or dies.  Before it parses a byte it closes every other
 * descriptor and sets its limits from the environment
 * (PARTAGE_PROBE_AS_MB, PARTAGE_PROBE_CPU_S): address space, CPU, no new
 * files, no core, no processes; then seccomp allows only read/lseek/
 * fstat on fd 0, write on fd 1, memory management and exit.
 */
/* Bytes for libavformat's custom I/O (avio_alloc_context's read and
 * seek, opaque = the struct): memory (p) or a regular file read with
 * pread (p NULL, fd), size bytes, the position at off.  Shared by the
 * probe and the thumbnailer (mediaprobe.c). */
struct media_src {
	const uint8_t *p;
	int fd;
	int64_t size, off;
};
int media_src_read(void *opaque, uint8_t *buf, int size);
int64_t media_src_seek(void *opaque, int64_t off, int whence);

#define MEDIA_PROBE_COMMAND "__probe"
/* The probe's seccomp filter, for the calling thread and its children,
 * irreversibly: any other system call kills the process (SIGSYS).  0 or
 * -1.  media_probe_child's; exported for its unit test. */
int media_sandbox_enter(void);
int media_probe_child(void);

#endif
