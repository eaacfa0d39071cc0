/*
 * thumbmake.c — the thumbnail maker: bytes in, a JPEG out (thumb.h).
 * libavformat demuxes (the probe's whitelist, through read and seek
 * callbacks: no open(2)), libavcodec decodes one picture — for a video
 * the first frame at or after 10 % of its duration, for an image the
 * image — libswscale scales it to fit THUMB_MAX_W × THUMB_MAX_H, and
 * libavcodec's mjpeg encoder writes the JPEG.  Everything runs on one
 * thread (thread_count 1: no clone(2) under the seccomp filter).
 *
 * The I/O callbacks are the probe's (mediaprobe.c) copied: both files are
 * small and each keeps its statics.
 */
#define _GNU_SOURCE
#include "thumb.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/imgutils.h>
#include <libavutil/log.h>
#include <libswscale/swscale.h>

#include "media.h"
#include "../util/pt.h"
#include "../util/banned.h"

#define THUMB_FORMATS                                                   \
	"mov,mp4,m4a,3gp,3g2,mj2,matroska,webm,mp3,ogg,avi,flv,mpegts," \
	"png_pipe,jpeg_pipe,gif,webp_pipe,bmp_pipe"
#define THUMB_IO_BUF 32768
/* packets of the chosen stream read after the seek before we settle for
 * the last frame decoded (a stream of undecodable packets ends here) */
#define THUMB_PACKETS_MAX 600
/* where in a video: 10 % of the duration */
#define THUMB_AT_PCT 10
/* JPEG quality: the mjpeg encoder's qscale (2 best .. 31 worst) */
#define THUMB_QSCALE 4

#if defined(__SANITIZE_ADDRESS__)
#define THUMB_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define THUMB_ASAN 1
#endif
#endif
#ifndef THUMB_ASAN
#define THUMB_ASAN 0
#endif

static bool too_big(int w, int h, uint64_t max_pixels)
{
	return w <= 0 || h <= 0 || (uint64_t)w * (uint64_t)h > max_pixels;
}

/* Decode the picture: *out a frame the caller frees.  0 or a status. */
static int decode(AVFormatContext *fc, int idx, uint64_t max_pixels,
		  AVFrame **out)
{
	AVStream *st = fc->streams[idx];
	const AVCodec *dec = avcodec_find_decoder(st->codecpar->codec_id);
	AVCodecContext *cc = NULL;
	AVPacket *pkt = av_packet_alloc();
	AVFrame *fr = av_frame_alloc(), *best = NULL;
	int err = PT_EUNSUPPORTED;
	int64_t target = AV_NOPTS_VALUE;

	if (!dec || !pkt || !fr)
		goto done;
	cc = avcodec_alloc_context3(dec);
	if (!cc || avcodec_parameters_to_context(cc, st->codecpar) < 0)
		goto done;
	cc->thread_count = 1;
	cc->max_pixels = max_pixels > INT64_MAX ? INT64_MAX
						: (int64_t)max_pixels;
	if (avcodec_open2(cc, dec, NULL) < 0)
		goto done;
	bool still = (st->disposition & AV_DISPOSITION_ATTACHED_PIC) ||
		     fc->duration <= 0;
	if (!still) {
		int64_t at = fc->duration / 100 * THUMB_AT_PCT;
		if (fc->start_time != AV_NOPTS_VALUE && fc->start_time > 0)
			at += fc->start_time;
		target = av_rescale_q(at, AV_TIME_BASE_Q, st->time_base);
		/* a failed seek: the first frames do */
		if (av_seek_frame(fc, idx, target, AVSEEK_FLAG_BACKWARD) < 0)
			target = AV_NOPTS_VALUE;
	}
	bool done = false, eof = false;
	for (int packets = 0; !done && packets < THUMB_PACKETS_MAX;) {
		int rc;
		if (!eof) {
			rc = av_read_frame(fc, pkt);
			if (rc < 0) {
				eof = true;
				rc = avcodec_send_packet(cc, NULL); /* drain */
			} else if (pkt->stream_index != idx) {
				av_packet_unref(pkt);
				continue;
			} else {
				packets++;
				rc = avcodec_send_packet(cc, pkt);
				av_packet_unref(pkt);
			}
			if (rc < 0 && rc != AVERROR(EAGAIN) && !eof)
				continue; /* a bad packet: the next one */
		}
		for (;;) {
			rc = avcodec_receive_frame(cc, fr);
			if (rc < 0)
				break;
			if (too_big(fr->width, fr->height, max_pixels)) {
				av_frame_unref(fr);
				continue;
			}
			av_frame_free(&best);
			best = av_frame_clone(fr);
			av_frame_unref(fr);
			int64_t ts = best ? best->best_effort_timestamp
					  : AV_NOPTS_VALUE;
			if (best && (target == AV_NOPTS_VALUE ||
				     ts == AV_NOPTS_VALUE || ts >= target)) {
				done = true;
				break;
			}
		}
		if (eof)
			break;
	}
	if (best) {
		*out = best;
		best = NULL;
		err = 0;
	}
done:
	av_frame_free(&best);
	av_frame_free(&fr);
	av_packet_free(&pkt);
	avcodec_free_context(&cc);
	return err;
}

/* Scale src to fit and encode it as JPEG into out[0..cap). */
static int encode(const AVFrame *src, uint8_t *out, size_t cap, size_t *len,
		  uint32_t *w, uint32_t *h)
{
	const AVCodec *enc = avcodec_find_encoder(AV_CODEC_ID_MJPEG);
	AVCodecContext *cc = NULL;
	struct SwsContext *sws = NULL;
	AVFrame *dst = av_frame_alloc();
	AVPacket *pkt = av_packet_alloc();
	uint32_t ow, oh;
	int err = PT_EINTERNAL;

	if (!enc || !dst || !pkt ||
	    !thumb_fit((uint32_t)src->width, (uint32_t)src->height, THUMB_MAX_W,
		       THUMB_MAX_H, &ow, &oh))
		goto done;
	dst->format = AV_PIX_FMT_YUVJ420P;
	dst->width = (int)ow;
	dst->height = (int)oh;
	if (av_frame_get_buffer(dst, 0) < 0)
		goto done;
	sws = sws_getContext(src->width, src->height, src->format, (int)ow,
			     (int)oh, AV_PIX_FMT_YUVJ420P, SWS_BICUBIC, NULL,
			     NULL, NULL);
	if (!sws) {
		err = PT_EUNSUPPORTED; /* a pixel format it cannot convert */
		goto done;
	}
	if (sws_scale(sws, (const uint8_t *const *)src->data, src->linesize, 0,
		      src->height, dst->data, dst->linesize) <= 0)
		goto done;
	cc = avcodec_alloc_context3(enc);
	if (!cc)
		goto done;
	cc->width = (int)ow;
	cc->height = (int)oh;
	cc->pix_fmt = AV_PIX_FMT_YUVJ420P;
	cc->time_base = (AVRational){ 1, 25 };
	cc->thread_count = 1;
	cc->flags |= AV_CODEC_FLAG_QSCALE;
	cc->global_quality = FF_QP2LAMBDA * THUMB_QSCALE;
	if (avcodec_open2(cc, enc, NULL) < 0)
		goto done;
	dst->quality = cc->global_quality;
	dst->pts = 0;
	if (avcodec_send_frame(cc, dst) < 0 ||
	    avcodec_send_frame(cc, NULL) < 0 ||
	    avcodec_receive_packet(cc, pkt) < 0)
		goto done;
	if ((size_t)pkt->size > cap) {
		err = PT_ETOOBIG;
		goto done;
	}
	memcpy(out, pkt->data, (size_t)pkt->size);
	*len = (size_t)pkt->size;
	*w = ow;
	*h = oh;
	err = thumb_jpeg_ok(out, *len) ? 0 : PT_EINTERNAL;
done:
	av_packet_free(&pkt);
	av_frame_free(&dst);
	sws_freeContext(sws);
	avcodec_free_context(&cc);
	return err;
}

static int make(struct media_src *s, uint64_t max_pixels, uint8_t *out,
		size_t cap, size_t *len, uint32_t *w, uint32_t *h)
{
	AVFormatContext *fc = NULL;
	AVIOContext *io = NULL;
	AVDictionary *opt = NULL;
	AVFrame *fr = NULL;
	AVDictionary **opts = NULL;
	unsigned n_opts = 0;
	uint8_t *iobuf = NULL;
	int err = PT_EUNSUPPORTED;

	*len = 0;
	*w = *h = 0;
	av_log_set_level(AV_LOG_QUIET);
	iobuf = av_malloc(THUMB_IO_BUF);
	if (!iobuf)
		goto done;
	io = avio_alloc_context(iobuf, THUMB_IO_BUF, 0, s, media_src_read, NULL,
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
	av_dict_set(&opt, "format_whitelist", THUMB_FORMATS, 0);
	av_dict_set(&opt, "probesize", "5000000", 0);
	av_dict_set(&opt, "analyzeduration", "5000000", 0);
	if (avformat_open_input(&fc, NULL, NULL, &opt) < 0) {
		fc = NULL;
		goto done;
	}
	fc->max_analyze_duration = 5 * AV_TIME_BASE;
	/* the decoders find_stream_info may run get the bound too */
	char px[24];
	snprintf(px, sizeof(px), "%llu", (unsigned long long)max_pixels);
	n_opts = fc->nb_streams;
	if (n_opts) {
		opts = av_calloc(n_opts, sizeof(*opts));
		if (!opts)
			goto done;
	}
	for (unsigned i = 0; i < n_opts; i++) {
		av_dict_set(&opts[i], "max_pixels", px, 0);
		av_dict_set(&opts[i], "threads", "1", 0);
	}
	if (avformat_find_stream_info(fc, opts) < 0)
		goto done;
	int idx = av_find_best_stream(fc, AVMEDIA_TYPE_VIDEO, -1, -1, NULL, 0);
	if (idx < 0)
		goto done;
	const AVCodecParameters *cp = fc->streams[idx]->codecpar;
	/* the bomb check, before a frame of it is decoded here (a size
	 * find_stream_info could not decode is unknown: refused too) */
	if (too_big(cp->width, cp->height, max_pixels)) {
		err = cp->width > 0 && cp->height > 0 ? PT_ETOOBIG
						      : PT_EUNSUPPORTED;
		goto done;
	}
	if ((err = decode(fc, idx, max_pixels, &fr)))
		goto done;
	err = encode(fr, out, cap, len, w, h);
done:
	for (unsigned i = 0; i < n_opts && opts; i++)
		av_dict_free(&opts[i]);
	av_freep(&opts);
	av_frame_free(&fr);
	av_dict_free(&opt);
	if (fc)
		avformat_close_input(&fc);
	if (io) {
		av_freep(&io->buffer);
		avio_context_free(&io);
	}
	return err;
}

int thumb_make_mem(const uint8_t *p, size_t n, uint64_t max_pixels,
		   uint8_t *out, size_t cap, size_t *len, uint32_t *w,
		   uint32_t *h)
{
	struct media_src s = { .p = p ? p : (const uint8_t *)"",
			       .fd = -1,
			       .size = (int64_t)n };
	return make(&s, max_pixels, out, cap, len, w, h);
}

int thumb_make_fd(int fd, uint64_t max_pixels, uint8_t *out, size_t cap,
		  size_t *len, uint32_t *w, uint32_t *h)
{
	struct stat sb;
	if (fstat(fd, &sb) < 0 || !S_ISREG(sb.st_mode))
		return PT_EBADREQ;
	struct media_src s = { .fd = fd, .size = sb.st_size };
	return make(&s, max_pixels, out, cap, len, w, h);
}

static uint64_t env_u64(const char *name, uint64_t def)
{
	const char *v = getenv(name);
	uint64_t x;
	return v && pt_parse_u64(v, strlen(v), &x) == 0 ? x : def;
}

static void limit(int res, rlim_t v)
{
	struct rlimit rl = { v, v };
	setrlimit(res, &rl);
}

static void write_all(const void *p, size_t n)
{
	const uint8_t *b = p;
	for (size_t at = 0; at < n;) {
		ssize_t k = write(1, b + at, n - at);
		if (k <= 0)
			_exit(4);
		at += (size_t)k;
	}
}

int thumb_child(void)
{
	close_range(3, ~0U, 0);
	uint64_t as_mb = env_u64("PARTAGE_PROBE_AS_MB", 256);
	uint64_t cpu_s = env_u64("PARTAGE_PROBE_CPU_S", 10);
	uint64_t max_px = env_u64("PARTAGE_THUMB_MAX_PIXELS", 16000000);
	if (!THUMB_ASAN)
		limit(RLIMIT_AS, (rlim_t)as_mb << 20);
	limit(RLIMIT_CPU, (rlim_t)(cpu_s ? cpu_s : 1));
	limit(RLIMIT_CORE, 0);
	limit(RLIMIT_FSIZE, 0);
	limit(RLIMIT_NOFILE, 3);
	limit(RLIMIT_NPROC, 0);
	av_log_set_level(AV_LOG_QUIET);
	/* the output buffer before the filter: plain memory either way */
	uint8_t *out = malloc(THUMB_OUT_MAX);
	if (!out || media_sandbox_enter() < 0)
		_exit(3);
	size_t len;
	uint32_t w, h;
	char head[THUMB_HEAD_MAX];
	if (thumb_make_fd(0, max_px, out, THUMB_OUT_MAX, &len, &w, &h))
		_exit(2);
	int k = thumb_head_format(w, h, len, head, sizeof(head));
	if (k < 0)
		_exit(2);
	write_all(head, (size_t)k);
	write_all(out, len);
	_exit(0);
}
