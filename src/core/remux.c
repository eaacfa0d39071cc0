/*
 * remux.c — fast-start copies (remux.h): the atom walk that says where an
 * MP4/MOV keeps its index, and the remux with libavformat (stream copy,
 * `movflags=+faststart`) that the sandboxed `partaged __remux` runs.
 *
 * Both ends of the remux go through custom AVIOContexts on descriptors
 * (pread/pwrite with offsets of their own), never by file name, so the
 * sandbox needs no open(2).  The muxer's faststart pass re-opens its own
 * output for reading through AVFormatContext.io_open, which here gives a
 * second reader on the same descriptor; anything else it would open is
 * refused.
 */
#define _GNU_SOURCE
#include "remux.h"

#include <errno.h>
#include <fcntl.h>
#include <seccomp.h>
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

/* ---- the atom walk ---- */

static uint32_t be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	       (uint32_t)p[2] << 8 | p[3];
}

static bool type_ok(const uint8_t *t)
{
	for (int i = 0; i < 4; i++)
		if (t[i] < 0x20 || t[i] > 0x7e)
			return false;
	return true;
}

enum mp4_layout mp4_layout(mp4_read_fn rd, void *arg, uint64_t size)
{
	uint64_t off = 0, moov = UINT64_MAX, mdat = UINT64_MAX;
	for (int n = 0; n < MP4_ATOMS_MAX && size - off >= 8; n++) {
		uint8_t h[16];
		if (rd(arg, h, 8, off) != 8 || !type_ok(h + 4))
			return MP4_BAD;
		uint64_t len = be32(h), head = 8;
		if (len == 1) { /* a 64-bit size after the type */
			if (size - off < 16 || rd(arg, h + 8, 8, off + 8) != 8)
				return MP4_BAD;
			len = (uint64_t)be32(h + 8) << 32 | be32(h + 12);
			head = 16;
		} else if (len == 0) { /* to the end of the file */
			len = size - off;
		}
		if (len < head || len > size - off)
			return MP4_BAD;
		if (memcmp(h + 4, "moov", 4) == 0 && moov == UINT64_MAX)
			moov = off;
		else if (memcmp(h + 4, "mdat", 4) == 0 && mdat == UINT64_MAX)
			mdat = off;
		if (moov != UINT64_MAX && mdat != UINT64_MAX)
			break;
		off += len;
	}
	if (moov == UINT64_MAX)
		return MP4_BAD; /* no index where we looked: nothing to move */
	return mdat == UINT64_MAX || moov < mdat ? MP4_FASTSTART
						 : MP4_MOOV_LAST;
}

struct mem {
	const uint8_t *p;
	size_t n;
};

static ssize_t mem_read(void *arg, void *buf, size_t n, uint64_t off)
{
	const struct mem *m = arg;
	if (off >= m->n)
		return 0;
	size_t k = m->n - off < n ? (size_t)(m->n - off) : n;
	memcpy(buf, m->p + off, k);
	return (ssize_t)k;
}

enum mp4_layout mp4_layout_mem(const uint8_t *p, size_t n)
{
	struct mem m = { p ? p : (const uint8_t *)"", p ? n : 0 };
	return mp4_layout(mem_read, &m, m.n);
}

uint64_t media_remux_max_out(uint64_t size)
{
	return size + size / 64 + (1u << 20);
}

/* ---- the remux ---- */

#define REMUX_IO_BUF 65536
/* the demuxers a source may use: the probe's MP4/MOV family only */
#define REMUX_FORMATS "mov,mp4,m4a,3gp,3g2,mj2"

#if defined(__SANITIZE_ADDRESS__)
#define REMUX_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define REMUX_ASAN 1
#endif
#endif
#ifndef REMUX_ASAN
#define REMUX_ASAN 0
#endif

struct fdio {
	int fd;
	int64_t off;
};

static int fdio_read(void *opaque, uint8_t *buf, int size)
{
	struct fdio *f = opaque;
	ssize_t k;
	if (size <= 0)
		return AVERROR_EOF;
	do
		k = pread(f->fd, buf, (size_t)size, f->off);
	while (k < 0 && errno == EINTR);
	if (k < 0)
		return AVERROR(EIO);
	if (k == 0)
		return AVERROR_EOF;
	f->off += k;
	return (int)k;
}

static int fdio_write(void *opaque, uint8_t *buf, int size)
{
	struct fdio *f = opaque;
	for (int at = 0; at < size;) {
		ssize_t k = pwrite(f->fd, buf + at, (size_t)(size - at),
				   f->off);
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			return AVERROR(EIO);
		at += (int)k;
		f->off += k;
	}
	return size;
}

static int64_t fdio_seek(void *opaque, int64_t off, int whence)
{
	struct fdio *f = opaque;
	struct stat sb;
	if (fstat(f->fd, &sb) < 0)
		return AVERROR(EIO);
	if (whence & AVSEEK_SIZE)
		return sb.st_size;
	whence &= ~AVSEEK_FORCE;
	int64_t base = whence == SEEK_SET   ? 0
		       : whence == SEEK_CUR ? f->off
		       : whence == SEEK_END ? sb.st_size
					    : -1;
	if (base < 0 || off > INT64_MAX - base || base + off < 0)
		return AVERROR(EINVAL);
	f->off = base + off;
	return f->off;
}

static AVIOContext *fdio_open(int fd, bool write)
{
	struct fdio *f = av_mallocz(sizeof(*f));
	uint8_t *buf = av_malloc(REMUX_IO_BUF);
	AVIOContext *io = NULL;
	if (f && buf) {
		f->fd = fd;
		io = avio_alloc_context(buf, REMUX_IO_BUF, write, f, fdio_read,
					write ? fdio_write : NULL, fdio_seek);
	}
	if (!io) {
		av_free(buf);
		av_free(f);
	}
	return io;
}

static void fdio_close(AVIOContext **io)
{
	if (!*io)
		return;
	av_free((*io)->opaque);
	av_freep(&(*io)->buffer);
	avio_context_free(io);
}

/* The muxer's second pass (faststart) reads back its output: fd out */
static int out_io_open(struct AVFormatContext *s, AVIOContext **pb,
		       const char *url, int flags, AVDictionary **options)
{
	(void)url;
	(void)options;
	if (flags & AVIO_FLAG_WRITE)
		return AVERROR(EPERM);
	*pb = fdio_open(*(const int *)s->opaque, false);
	return *pb ? 0 : AVERROR(ENOMEM);
}

static int out_io_close2(struct AVFormatContext *s, AVIOContext *pb)
{
	(void)s;
	fdio_close(&pb);
	return 0;
}

int media_remux_fd(int in, int out)
{
	AVFormatContext *ic = NULL, *oc = NULL;
	AVIOContext *iio = NULL, *oio = NULL;
	AVDictionary *opt = NULL;
	AVPacket *pkt = NULL;
	int *map = NULL;
	int64_t *got = NULL;
	int err = PT_EUNSUPPORTED, outfd = out;

	av_log_set_level(AV_LOG_QUIET);
	if (!(iio = fdio_open(in, false)) || !(oio = fdio_open(out, true)))
		goto done;
	if (!(ic = avformat_alloc_context()))
		goto done;
	ic->pb = iio;
	ic->flags |= AVFMT_FLAG_CUSTOM_IO;
	av_dict_set(&opt, "format_whitelist", REMUX_FORMATS, 0);
	if (avformat_open_input(&ic, NULL, NULL, &opt) < 0) {
		ic = NULL; /* freed by avformat_open_input */
		goto done;
	}
	av_dict_free(&opt);
	if (avformat_find_stream_info(ic, NULL) < 0)
		goto done;
	/* QuickTime stays QuickTime (the mp4 muxer refuses some of its
	 * codecs); the rest is MP4 */
	const AVDictionaryEntry *brand = av_dict_get(ic->metadata,
						     "major_brand", NULL, 0);
	const char *fmt = brand && strncmp(brand->value, "qt", 2) == 0 ? "mov"
								       : "mp4";
	if (avformat_alloc_output_context2(&oc, NULL, fmt, NULL) < 0 || !oc)
		goto done;
	oc->pb = oio;
	oc->opaque = &outfd;
	oc->io_open = out_io_open;
	oc->io_close2 = out_io_close2;
	av_dict_copy(&oc->metadata, ic->metadata, 0);
	map = av_calloc(ic->nb_streams ? ic->nb_streams : 1, sizeof(*map));
	got = av_calloc(ic->nb_streams ? ic->nb_streams : 1, sizeof(*got));
	if (!map || !got)
		goto done;
	unsigned copied = 0;
	for (unsigned i = 0; i < ic->nb_streams; i++) {
		const AVStream *ist = ic->streams[i];
		enum AVMediaType t = ist->codecpar->codec_type;
		map[i] = -1;
		if (t != AVMEDIA_TYPE_VIDEO && t != AVMEDIA_TYPE_AUDIO &&
		    t != AVMEDIA_TYPE_SUBTITLE)
			continue; /* data (timecode), attachments */
		if (ist->disposition & AV_DISPOSITION_ATTACHED_PIC)
			continue;
		AVStream *ost = avformat_new_stream(oc, NULL);
		if (!ost ||
		    avcodec_parameters_copy(ost->codecpar, ist->codecpar) < 0)
			goto done;
		ost->codecpar->codec_tag = 0;
		ost->time_base = ist->time_base;
		ost->disposition = ist->disposition;
		av_dict_copy(&ost->metadata, ist->metadata, 0);
		map[i] = (int)copied++;
	}
	if (!copied)
		goto done;
	av_dict_set(&opt, "movflags", "+faststart", 0);
	if (avformat_write_header(oc, &opt) < 0)
		goto done;
	if (!(pkt = av_packet_alloc()))
		goto done;
	int rc;
	while ((rc = av_read_frame(ic, pkt)) >= 0) {
		unsigned si = (unsigned)pkt->stream_index;
		if (si >= ic->nb_streams || map[si] < 0) {
			av_packet_unref(pkt);
			continue;
		}
		got[si]++;
		AVStream *ost = oc->streams[map[si]];
		av_packet_rescale_ts(pkt, ic->streams[si]->time_base,
				     ost->time_base);
		pkt->stream_index = map[si];
		pkt->pos = -1;
		if (av_interleaved_write_frame(oc, pkt) < 0)
			goto done;
	}
	if (rc != AVERROR_EOF)
		goto done; /* a sample past the end, a read error */
	/* every sample of the index was there: a damaged file that the
	 * demuxer ends early gets no copy */
	for (unsigned i = 0; i < ic->nb_streams; i++)
		if (map[i] >= 0 &&
		    got[i] != avformat_index_get_entries_count(ic->streams[i]))
			goto done;
	if (av_write_trailer(oc) < 0)
		goto done;
	avio_flush(oio);
	if (oio->error < 0)
		goto done;
	err = 0;
done:
	/* a muxer stopped half-way is freed without its trailer */
	av_packet_free(&pkt);
	av_free(map);
	av_free(got);
	av_dict_free(&opt);
	if (ic)
		avformat_close_input(&ic);
	if (oc)
		avformat_free_context(oc);
	fdio_close(&iio);
	fdio_close(&oio);
	return err;
}

/* ---- the sandboxed process ---- */

static uint64_t env_u64(const char *name, uint64_t def)
{
	const char *v = getenv(name);
	uint64_t x;
	return v && pt_parse_u64(v, strlen(v), &x) == 0 ? x : def;
}

/* Deny all but what the remux needs once its descriptors are there:
 * reading the source (0), reading and writing the output (1), memory
 * (never executable) and exit. */
int media_remux_sandbox_enter(void)
{
	scmp_filter_ctx f = seccomp_init(SCMP_ACT_KILL_PROCESS);
	int rc = -1;
	if (!f)
		return -1;
#define ALLOW(call, ...)                                                       \
	if (seccomp_rule_add(f, SCMP_ACT_ALLOW, SCMP_SYS(call), __VA_ARGS__) < \
	    0)                                                                 \
	goto done
	for (int fd = 0; fd <= 1; fd++) {
		ALLOW(read, 1, SCMP_A0(SCMP_CMP_EQ, fd));
		ALLOW(pread64, 1, SCMP_A0(SCMP_CMP_EQ, fd));
		ALLOW(lseek, 1, SCMP_A0(SCMP_CMP_EQ, fd));
		ALLOW(fstat, 1, SCMP_A0(SCMP_CMP_EQ, fd));
		ALLOW(newfstatat, 1, SCMP_A0(SCMP_CMP_EQ, fd));
	}
	ALLOW(write, 1, SCMP_A0(SCMP_CMP_EQ, 1));
	ALLOW(pwrite64, 1, SCMP_A0(SCMP_CMP_EQ, 1));
	if (REMUX_ASAN) {
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

int media_remux_child(void)
{
	close_range(3, ~0U, 0);
	uint64_t as_mb = env_u64("PARTAGE_REMUX_AS_MB", 256);
	uint64_t cpu_s = env_u64("PARTAGE_REMUX_CPU_S", 60);
	uint64_t fsize = env_u64("PARTAGE_REMUX_FSIZE", 0);
	struct stat sb;
	if (fstat(0, &sb) < 0 || !S_ISREG(sb.st_mode) || fstat(1, &sb) < 0 ||
	    !S_ISREG(sb.st_mode) || sb.st_size != 0 || !fsize)
		_exit(2);
	if (!REMUX_ASAN)
		limit(RLIMIT_AS, (rlim_t)as_mb << 20);
	limit(RLIMIT_CPU, (rlim_t)(cpu_s ? cpu_s : 1));
	limit(RLIMIT_CORE, 0);
	limit(RLIMIT_FSIZE, (rlim_t)fsize);
	limit(RLIMIT_NOFILE, 3);
	limit(RLIMIT_NPROC, 0);
	av_log_set_level(AV_LOG_QUIET);
	if (media_remux_sandbox_enter() < 0)
		_exit(3);
	_exit(media_remux_fd(0, 1) == 0 ? 0 : 2);
}
