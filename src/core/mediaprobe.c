/*
 * mediaprobe.c — the probe: bytes in, media info out, with libavformat
 * (media.h).  media_probe_mem/fd run it in-process (the fuzzer, the
 * child); media_probe_child is the sandboxed process `partaged __probe`
 * that the server's probe queue (api/media.c) runs on each new file.
 *
 * libavformat reads through a custom AVIOContext (read and seek
 * callbacks), never by file name, so the sandbox needs no open(2).  Only
 * the demuxers of media a browser or a file host meets are allowed
 * (format_whitelist): the rest of the library's parsers never see the
 * bytes.
 */
#define _GNU_SOURCE
#include "media.h"

#include <errno.h>
#include <fcntl.h>
#include <seccomp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <libavformat/avformat.h>
#include <libavutil/log.h>

#include "../util/pt.h"
#include "../util/banned.h"

/* the demuxers the probe may use; everything else is refused unread */
#define PROBE_FORMATS                                                         \
	"mov,mp4,m4a,3gp,3g2,mj2,matroska,webm,mp3,ogg,wav,flac,aac,avi,flv," \
	"mpegts,png_pipe,jpeg_pipe,gif,webp_pipe,bmp_pipe"
#define PROBE_IO_BUF 32768

/* AddressSanitizer builds (make SAN=1, CI's ASan run): its shadow memory
 * needs terabytes of address space, so RLIMIT_AS stays off, and its
 * reports go to stderr (/dev/null in the server), so write(2) is allowed
 * there too.  Production builds have both limits. */
#if defined(__SANITIZE_ADDRESS__)
#define PROBE_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define PROBE_ASAN 1
#endif
#endif
#ifndef PROBE_ASAN
#define PROBE_ASAN 0
#endif

int media_src_read(void *opaque, uint8_t *buf, int size)
{
	struct media_src *s = opaque;
	if (size <= 0)
		return AVERROR_EOF;
	if (s->p) {
		if (s->off >= s->size)
			return AVERROR_EOF;
		int64_t k = s->size - s->off < size ? s->size - s->off : size;
		memcpy(buf, s->p + s->off, (size_t)k);
		s->off += k;
		return (int)k;
	}
	ssize_t k;
	do
		k = pread(s->fd, buf, (size_t)size, s->off);
	while (k < 0 && errno == EINTR);
	if (k < 0)
		return AVERROR(EIO);
	if (k == 0)
		return AVERROR_EOF;
	s->off += k;
	return (int)k;
}

int64_t media_src_seek(void *opaque, int64_t off, int whence)
{
	struct media_src *s = opaque;
	if (whence & AVSEEK_SIZE)
		return s->size;
	whence &= ~AVSEEK_FORCE;
	int64_t base = whence == SEEK_SET   ? 0
		       : whence == SEEK_CUR ? s->off
		       : whence == SEEK_END ? s->size
					    : -1;
	if (base < 0 || off > INT64_MAX - base || base + off < 0)
		return AVERROR(EINVAL);
	s->off = base + off;
	return s->off;
}

static void copy_name(char *dst, const char *src)
{
	size_t n = 0;
	/* keep to what media_info_parse accepts */
	for (; src && src[n] && n < MEDIA_NAME_MAX - 1; n++) {
		char c = src[n];
		if (c >= 'A' && c <= 'Z')
			c = (char)(c - 'A' + 'a');
		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		      c == '_' || c == ',' || c == '.' || c == '-'))
			c = '_';
		dst[n] = c;
	}
	dst[n] = '\0';
}

static bool is_image_format(const char *name)
{
	size_t n = strlen(name);
	return (n > 5 && strcmp(name + n - 5, "_pipe") == 0) ||
	       strcmp(name, "gif") == 0;
}

static int probe(struct media_src *s, struct media_info *m)
{
	AVFormatContext *fc = NULL;
	AVIOContext *io = NULL;
	AVDictionary *opt = NULL;
	uint8_t *iobuf = NULL;
	int err = PT_EUNSUPPORTED;

	memset(m, 0, sizeof(*m));
	av_log_set_level(AV_LOG_QUIET);
	iobuf = av_malloc(PROBE_IO_BUF);
	if (!iobuf)
		goto done;
	io = avio_alloc_context(iobuf, PROBE_IO_BUF, 0, s, media_src_read, NULL,
				media_src_seek);
	if (!io) {
		av_free(iobuf);
		goto done;
	}
	fc = avformat_alloc_context();
	if (!fc)
		goto done;
	fc->pb = io;
	fc->flags |= AVFMT_FLAG_CUSTOM_IO;
	av_dict_set(&opt, "format_whitelist", PROBE_FORMATS, 0);
	av_dict_set(&opt, "probesize", "5000000", 0);
	av_dict_set(&opt, "analyzeduration", "5000000", 0);
	if (avformat_open_input(&fc, NULL, NULL, &opt) < 0) {
		fc = NULL; /* freed by avformat_open_input */
		goto done;
	}
	fc->max_analyze_duration = 5 * AV_TIME_BASE;
	if (avformat_find_stream_info(fc, NULL) < 0)
		goto done;
	copy_name(m->container, fc->iformat ? fc->iformat->name : "");
	bool image = fc->iformat && is_image_format(fc->iformat->name);
	for (unsigned i = 0; i < fc->nb_streams; i++) {
		const AVStream *st = fc->streams[i];
		const AVCodecParameters *cp = st->codecpar;
		if (cp->codec_type == AVMEDIA_TYPE_VIDEO && !*m->vcodec) {
			if ((st->disposition & AV_DISPOSITION_ATTACHED_PIC) &&
			    !image)
				continue; /* an MP3's cover */
			copy_name(m->vcodec, avcodec_get_name(cp->codec_id));
			if (cp->width > 0 && cp->height > 0 &&
			    (unsigned)cp->width <= MEDIA_DIM_MAX &&
			    (unsigned)cp->height <= MEDIA_DIM_MAX) {
				m->width = (uint32_t)cp->width;
				m->height = (uint32_t)cp->height;
			}
		} else if (cp->codec_type == AVMEDIA_TYPE_AUDIO &&
			   !*m->acodec) {
			copy_name(m->acodec, avcodec_get_name(cp->codec_id));
		}
	}
	if (image && *m->vcodec)
		m->kind = MEDIA_IMAGE;
	else if (*m->vcodec)
		m->kind = MEDIA_VIDEO;
	else if (*m->acodec)
		m->kind = MEDIA_AUDIO;
	else
		goto done;
	if (m->kind != MEDIA_IMAGE && fc->duration > 0 &&
	    fc->duration / 1000 <= MEDIA_DURATION_MAX_MS)
		m->duration_ms = fc->duration / 1000;
	if (m->kind != MEDIA_IMAGE && fc->bit_rate > 0 &&
	    fc->bit_rate <= MEDIA_BITRATE_MAX)
		m->bitrate = fc->bit_rate;
	err = 0;
done:
	av_dict_free(&opt);
	if (fc)
		avformat_close_input(&fc);
	if (io) {
		av_freep(&io->buffer);
		avio_context_free(&io);
	}
	return err;
}

int media_probe_mem(const uint8_t *p, size_t n, struct media_info *m)
{
	struct media_src s = { .p = p ? p : (const uint8_t *)"",
			       .fd = -1,
			       .size = (int64_t)n };
	return probe(&s, m);
}

int media_probe_fd(int fd, struct media_info *m)
{
	struct stat sb;
	if (fstat(fd, &sb) < 0 || !S_ISREG(sb.st_mode))
		return PT_EBADREQ;
	struct media_src s = { .fd = fd, .size = sb.st_size };
	return probe(&s, m);
}

static uint64_t env_u64(const char *name, uint64_t def)
{
	const char *v = getenv(name);
	uint64_t x;
	return v && pt_parse_u64(v, strlen(v), &x) == 0 ? x : def;
}

/* Deny all but what the probe needs once its file is open.  Memory may
 * be mapped but never executable. */
int media_sandbox_enter(void)
{
	scmp_filter_ctx f = seccomp_init(SCMP_ACT_KILL_PROCESS);
	int rc = -1;
	if (!f)
		return -1;
#define ALLOW(call, ...)                                                       \
	if (seccomp_rule_add(f, SCMP_ACT_ALLOW, SCMP_SYS(call), __VA_ARGS__) < \
	    0)                                                                 \
	goto done
	ALLOW(read, 1, SCMP_A0(SCMP_CMP_EQ, 0));
	ALLOW(pread64, 1, SCMP_A0(SCMP_CMP_EQ, 0));
	ALLOW(lseek, 1, SCMP_A0(SCMP_CMP_EQ, 0));
	ALLOW(fstat, 1, SCMP_A0(SCMP_CMP_EQ, 0));
	ALLOW(newfstatat, 0);
	ALLOW(write, 1, SCMP_A0(SCMP_CMP_EQ, 1));
	if (PROBE_ASAN) {
		ALLOW(write, 1, SCMP_A0(SCMP_CMP_EQ, 2));
		ALLOW(sigaltstack, 0); /* at _exit */
	}
	ALLOW(mmap, 1, SCMP_A2(SCMP_CMP_MASKED_EQ, PROT_EXEC, 0));
	ALLOW(mprotect, 1, SCMP_A2(SCMP_CMP_MASKED_EQ, PROT_EXEC, 0));
	ALLOW(munmap, 0);
	ALLOW(mremap, 0);
	ALLOW(brk, 0);
	ALLOW(madvise, 0);
	ALLOW(futex, 0);
	ALLOW(clock_gettime, 0);
	ALLOW(getrandom, 0);
	ALLOW(rt_sigreturn, 0);
	ALLOW(exit, 0);
	ALLOW(exit_group, 0);
#undef ALLOW
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		goto done;
	rc = seccomp_load(f) < 0 ? -1 : 0;
done:
	seccomp_release(f);
	return rc;
}

static void limit(int res, rlim_t v)
{
	struct rlimit rl = { v, v };
	setrlimit(res, &rl);
}

int media_probe_child(void)
{
	/* nothing of the parent's but the file (0), the answer (1) and
	 * stderr (2) */
	close_range(3, ~0U, 0);
	uint64_t as_mb = env_u64("PARTAGE_PROBE_AS_MB", 256);
	uint64_t cpu_s = env_u64("PARTAGE_PROBE_CPU_S", 10);
	if (!PROBE_ASAN)
		limit(RLIMIT_AS, (rlim_t)as_mb << 20);
	limit(RLIMIT_CPU, (rlim_t)(cpu_s ? cpu_s : 1));
	limit(RLIMIT_CORE, 0);
	limit(RLIMIT_FSIZE, 0);
	limit(RLIMIT_NOFILE, 3);
	limit(RLIMIT_NPROC, 0);
	/* the library's lazy set-up before the filter: the log level */
	av_log_set_level(AV_LOG_QUIET);
	if (media_sandbox_enter() < 0)
		_exit(3);
	struct media_info m;
	char out[512];
	int err = media_probe_fd(0, &m);
	if (err)
		_exit(2);
	int n = media_info_format(&m, out, sizeof(out));
	if (n < 0)
		_exit(2);
	for (int at = 0; at < n;) {
		ssize_t k = write(1, out + at, (size_t)(n - at));
		if (k <= 0)
			_exit(4);
		at += (int)k;
	}
	_exit(0);
}
