/*
 * thumb.h — thumbnails and posters (issue 16): one JPEG per image or
 * video blob, made from a frame near 10 % of a video or from the image
 * itself, scaled to fit THUMB_MAX_W × THUMB_MAX_H (never enlarged).  One
 * size serves the file page's poster, folder pages' cards, /files and
 * og:image: 640 is what chat unfurls show and a card scales down well.
 *
 * The maker (thumbmake.c) decodes untrusted bytes with libavcodec and
 * scales with libswscale; like the probe it runs in a separate process
 * (`partaged __thumb`, thumb_child: rlimits, the probe's seccomp filter),
 * which writes one record to its stdout: a header line (thumb_head_format)
 * and the JPEG.  The server reads the header back with thumb_head_parse,
 * which trusts nothing in it, and checks the JPEG's markers before it
 * stores a byte.  A source whose declared size is past max_pixels is
 * refused before a frame is decoded (the decoder is bounded by the same
 * number: AVCodecContext.max_pixels), so a decompression bomb costs
 * nothing but its header.  Everything here but the maker is pure.
 */
#ifndef PT_THUMB_H
#define PT_THUMB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define THUMB_MAX_W 640u
#define THUMB_MAX_H 640u
/* the largest JPEG a thumbnail may be (640×640 at our quality is far
 * below: ~60 KiB) */
#define THUMB_OUT_MAX (512u << 10)
/* the header line, with its '\n' */
#define THUMB_HEAD_MAX 64

/* Scale w × h to fit max_w × max_h, aspect kept, never enlarged, at
 * least 1 × 1; sizes of 0 give 0 × 0 (false). */
bool thumb_fit(uint32_t w, uint32_t h, uint32_t max_w, uint32_t max_h,
	       uint32_t *ow, uint32_t *oh);

/* "jpeg W H LEN\n" into buf[0..n): bytes written, or -1. */
int thumb_head_format(uint32_t w, uint32_t h, size_t len, char *buf, size_t n);
/* Parse the header at the start of buf[0..n) (untrusted): 0 with the
 * dimensions (1..THUMB_MAX_*), the JPEG's length (1..THUMB_OUT_MAX) and
 * the header's own length in *head; PT_EBADREQ for anything else
 * (-EAGAIN: no complete line yet). */
int thumb_head_parse(const char *buf, size_t n, uint32_t *w, uint32_t *h,
		     size_t *len, size_t *head);
/* Whether p[0..n) looks like one whole JPEG (SOI … EOI). */
bool thumb_jpeg_ok(const uint8_t *p, size_t n);

/* ---- the maker (thumbmake.c: libavcodec, libswscale) ---- */

/* Make the thumbnail of the media in p[0..n) (the fuzzer's entry) or on
 * fd (read/pread/fstat only): 0 with the JPEG in out[0..*len) and its
 * size in *w, *h; PT_EUNSUPPORTED when there is no picture in it,
 * PT_ETOOBIG when the picture is larger than max_pixels (before
 * decoding), PT_EINTERNAL when the encoder fails.  Quiet; may use a lot
 * of CPU on hostile input: the server runs it only through thumb_child. */
int thumb_make_mem(const uint8_t *p, size_t n, uint64_t max_pixels,
		   uint8_t *out, size_t cap, size_t *len, uint32_t *w,
		   uint32_t *h);
int thumb_make_fd(int fd, uint64_t max_pixels, uint8_t *out, size_t cap,
		  size_t *len, uint32_t *w, uint32_t *h);
/*
 * `partaged __thumb`: the sandboxed thumbnail process, as the probe's
 * (media.h: media_probe_child): the source on fd 0, the record on fd 1,
 * limits from the environment (PARTAGE_PROBE_AS_MB, PARTAGE_PROBE_CPU_S,
 * PARTAGE_THUMB_MAX_PIXELS), then media_sandbox_enter.  Exits 0 (a
 * record written), 2 (no picture, too large) or dies.
 */
#define THUMB_COMMAND "__thumb"
int thumb_child(void);

#endif
