/*
 * test_remux.c — unit tests for the fast-start remux (src/core/remux.c):
 * the top-level atom walk (moov first, moov last, 64-bit and to-the-end
 * sizes, every way a header can lie), the output bound, the remux itself
 * in-process on a QuickTime file muxed here with its index at the end,
 * and the seccomp filter of the remux process.
 */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <libavformat/avformat.h>

#include "core/media.h"
#include "core/remux.h"
#include "util/pt.h"

/* ---- building atom runs ---- */

struct run {
	uint8_t b[1 << 16];
	size_t n;
};

static void put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

/* an atom of `type` with `body` bytes of zeros (size as given when
 * size_field is not ~0) */
static void atom(struct run *r, const char *type, uint32_t body,
		 uint32_t size_field)
{
	put32(r->b + r->n, size_field != ~0u ? size_field : 8 + body);
	memcpy(r->b + r->n + 4, type, 4);
	memset(r->b + r->n + 8, 0, body);
	r->n += 8 + body;
}

static void atom64(struct run *r, const char *type, uint32_t body)
{
	put32(r->b + r->n, 1);
	memcpy(r->b + r->n + 4, type, 4);
	put32(r->b + r->n + 8, 0);
	put32(r->b + r->n + 12, 16 + body);
	memset(r->b + r->n + 16, 0, body);
	r->n += 16 + body;
}

static void test_layout(void **state)
{
	struct run *r = calloc(1, sizeof(*r));

	/* ffmpeg's default: ftyp, free, mdat, moov */
	r->n = 0;
	atom(r, "ftyp", 16, ~0u);
	atom(r, "free", 0, ~0u);
	atom(r, "mdat", 1000, ~0u);
	atom(r, "moov", 200, ~0u);
	assert_int_equal(mp4_layout_mem(r->b, r->n), MP4_MOOV_LAST);
	/* +faststart: moov before mdat */
	r->n = 0;
	atom(r, "ftyp", 16, ~0u);
	atom(r, "moov", 200, ~0u);
	atom(r, "mdat", 1000, ~0u);
	assert_int_equal(mp4_layout_mem(r->b, r->n), MP4_FASTSTART);
	/* a moov and no mdat (all in fragments or nothing): first */
	r->n = 0;
	atom(r, "ftyp", 16, ~0u);
	atom(r, "moov", 200, ~0u);
	atom(r, "moof", 20, ~0u);
	assert_int_equal(mp4_layout_mem(r->b, r->n), MP4_FASTSTART);
	/* a 64-bit mdat, then the moov */
	r->n = 0;
	atom(r, "ftyp", 16, ~0u);
	atom64(r, "mdat", 3000);
	atom(r, "moov", 100, ~0u);
	assert_int_equal(mp4_layout_mem(r->b, r->n), MP4_MOOV_LAST);
	/* QuickTime: wide, mdat, moov with no ftyp */
	r->n = 0;
	atom(r, "wide", 0, ~0u);
	atom(r, "mdat", 500, ~0u);
	atom(r, "moov", 100, ~0u);
	assert_int_equal(mp4_layout_mem(r->b, r->n), MP4_MOOV_LAST);
	/* size 0: to the end of the file (the last atom) */
	r->n = 0;
	atom(r, "ftyp", 16, ~0u);
	atom(r, "moov", 100, ~0u);
	atom(r, "mdat", 500, 0);
	assert_int_equal(mp4_layout_mem(r->b, r->n), MP4_FASTSTART);
	/* an mdat to the end hides what follows: no moov found */
	r->n = 0;
	atom(r, "ftyp", 16, ~0u);
	atom(r, "mdat", 500, 0);
	atom(r, "moov", 100, ~0u);
	assert_int_equal(mp4_layout_mem(r->b, r->n), MP4_BAD);
	/* fewer than 8 bytes left over at the end are ignored */
	r->n = 0;
	atom(r, "ftyp", 16, ~0u);
	atom(r, "mdat", 50, ~0u);
	atom(r, "moov", 50, ~0u);
	r->n += 5;
	assert_int_equal(mp4_layout_mem(r->b, r->n), MP4_MOOV_LAST);
	free(r);
}

static void test_layout_lies(void **state)
{
	struct run *r = calloc(1, sizeof(*r));

	assert_int_equal(mp4_layout_mem(NULL, 0), MP4_BAD);
	assert_int_equal(mp4_layout_mem((const uint8_t *)"abc", 3), MP4_BAD);
	/* no moov at all */
	r->n = 0;
	atom(r, "ftyp", 16, ~0u);
	atom(r, "mdat", 100, ~0u);
	assert_int_equal(mp4_layout_mem(r->b, r->n), MP4_BAD);
	/* a size past the end of the file (truncated) */
	r->n = 0;
	atom(r, "ftyp", 16, ~0u);
	atom(r, "mdat", 100, 100000);
	atom(r, "moov", 10, ~0u);
	assert_int_equal(mp4_layout_mem(r->b, r->n), MP4_BAD);
	/* a size smaller than its header (would loop or go back) */
	for (uint32_t bad = 2; bad < 8; bad++) {
		r->n = 0;
		atom(r, "ftyp", 16, ~0u);
		atom(r, "mdat", 16, bad);
		atom(r, "moov", 16, ~0u);
		assert_int_equal(mp4_layout_mem(r->b, r->n), MP4_BAD);
	}
	/* a 64-bit size below 16, or cut off */
	r->n = 0;
	atom(r, "ftyp", 16, ~0u);
	atom64(r, "mdat", 0);
	put32(r->b + r->n - 4, 8);
	atom(r, "moov", 16, ~0u);
	assert_int_equal(mp4_layout_mem(r->b, r->n), MP4_BAD);
	r->n = 0;
	atom(r, "ftyp", 16, ~0u);
	put32(r->b + r->n, 1);
	memcpy(r->b + r->n + 4, "mdat", 4);
	r->n += 12; /* 4 bytes of the 8 of its size */
	assert_int_equal(mp4_layout_mem(r->b, r->n), MP4_BAD);
	/* a 64-bit size of 2^63: past the file */
	r->n = 0;
	atom(r, "ftyp", 16, ~0u);
	atom64(r, "mdat", 10);
	put32(r->b + r->n - 10 - 8, 0x80000000u);
	atom(r, "moov", 16, ~0u);
	assert_int_equal(mp4_layout_mem(r->b, r->n), MP4_BAD);
	/* a type that is not text: not a run of atoms */
	r->n = 0;
	atom(r, "ftyp", 16, ~0u);
	atom(r, "md\x01t", 10, ~0u);
	atom(r, "moov", 16, ~0u);
	assert_int_equal(mp4_layout_mem(r->b, r->n), MP4_BAD);
	/* more atoms than the walk looks at before the moov */
	r->n = 0;
	atom(r, "ftyp", 0, ~0u);
	for (int i = 0; i < MP4_ATOMS_MAX; i++)
		atom(r, "free", 0, ~0u);
	atom(r, "moov", 0, ~0u);
	assert_int_equal(mp4_layout_mem(r->b, r->n), MP4_BAD);
	free(r);
}

static void test_max_out(void **state)
{
	assert_int_equal(media_remux_max_out(0), 1u << 20);
	assert_int_equal(media_remux_max_out(64u << 20),
			 (65u << 20) + (1u << 20));
	assert_true(media_remux_max_out(1000) > 1000);
}

/* ---- the remux, in-process ---- */

/* A QuickTime file of 2 s of silence (pcm_s16le, 8 kHz mono, 20 packets
 * of 0.1 s), muxed with the index at the end as ffmpeg writes it by
 * default, into an unnamed temporary file. */
static int make_moov_last(void)
{
	char path[] = "/tmp/test_remux-XXXXXX";
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	AVFormatContext *oc = NULL;
	assert_true(avformat_alloc_output_context2(&oc, NULL, "mov", NULL) >=
		    0);
	AVStream *st = avformat_new_stream(oc, NULL);
	assert_non_null(st);
	st->codecpar->codec_type = AVMEDIA_TYPE_AUDIO;
	st->codecpar->codec_id = AV_CODEC_ID_PCM_S16LE;
	st->codecpar->sample_rate = 8000;
	av_channel_layout_default(&st->codecpar->ch_layout, 1);
	st->codecpar->bits_per_coded_sample = 16;
	st->codecpar->block_align = 2;
	st->time_base = (AVRational){ 1, 8000 };
	AVIOContext *pb = NULL;
	assert_true(avio_open(&pb, path, AVIO_FLAG_WRITE) >= 0);
	oc->pb = pb;
	assert_true(avformat_write_header(oc, NULL) >= 0);
	AVPacket *pkt = av_packet_alloc();
	for (int i = 0; i < 20; i++) {
		assert_true(av_new_packet(pkt, 1600) >= 0);
		memset(pkt->data, i, 1600);
		pkt->stream_index = 0;
		pkt->pts = pkt->dts = av_rescale_q(i * 800,
						   (AVRational){ 1, 8000 },
						   st->time_base);
		pkt->duration = av_rescale_q(800, (AVRational){ 1, 8000 },
					     st->time_base);
		assert_true(av_interleaved_write_frame(oc, pkt) >= 0);
	}
	av_packet_free(&pkt);
	assert_true(av_write_trailer(oc) >= 0);
	avio_closep(&oc->pb);
	avformat_free_context(oc);
	unlink(path);
	return fd;
}

static enum mp4_layout fd_layout(int fd)
{
	struct stat sb;
	assert_int_equal(fstat(fd, &sb), 0);
	uint8_t *b = malloc((size_t)sb.st_size);
	assert_int_equal(pread(fd, b, (size_t)sb.st_size, 0), sb.st_size);
	enum mp4_layout l = mp4_layout_mem(b, (size_t)sb.st_size);
	free(b);
	return l;
}

static int tmpfile_fd(void)
{
	char path[] = "/tmp/test_remux-XXXXXX";
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	unlink(path);
	return fd;
}

static void test_remux_in_process(void **state)
{
	int in = make_moov_last(), out = tmpfile_fd();
	struct stat a, b;
	assert_int_equal(fd_layout(in), MP4_MOOV_LAST);
	assert_int_equal(media_remux_fd(in, out), 0);
	assert_int_equal(fd_layout(out), MP4_FASTSTART);
	assert_int_equal(fstat(in, &a), 0);
	assert_int_equal(fstat(out, &b), 0);
	assert_true((uint64_t)b.st_size <=
		    media_remux_max_out((uint64_t)a.st_size));
	/* the same media: the probe finds 2 s of PCM in both */
	struct media_info mi, mo;
	assert_int_equal(media_probe_fd(in, &mi), 0);
	assert_int_equal(media_probe_fd(out, &mo), 0);
	assert_string_equal(mo.acodec, "pcm_s16le");
	assert_int_equal(mo.duration_ms, mi.duration_ms);
	assert_int_equal(mo.duration_ms, 2000);
	/* the samples are the same bytes: 20 × 1600 of them, in order */
	uint8_t *ob = malloc((size_t)b.st_size);
	assert_int_equal(pread(out, ob, (size_t)b.st_size, 0), b.st_size);
	uint8_t want[1600 * 2];
	memset(want, 9, 1600);
	memset(want + 1600, 10, 1600);
	assert_non_null(memmem(ob, (size_t)b.st_size, want, sizeof(want)));
	free(ob);
	close(in);
	close(out);
}

static void test_remux_refuses(void **state)
{
	/* junk, a truncated source (its samples are not all there), an
	 * output already written to is not the child's business here */
	int in = tmpfile_fd(), out = tmpfile_fd();
	assert_int_equal(write(in, "not a movie at all", 18), 18);
	assert_int_equal(media_remux_fd(in, out), PT_EUNSUPPORTED);
	close(in);
	close(out);

	int full = make_moov_last();
	struct stat sb;
	assert_int_equal(fstat(full, &sb), 0);
	uint8_t *b = malloc((size_t)sb.st_size);
	assert_int_equal(pread(full, b, (size_t)sb.st_size, 0), sb.st_size);
	/* the samples' offsets (stco) pushed past the end of the file: the
	 * index is intact, the samples are not there */
	uint8_t *stco = memmem(b, (size_t)sb.st_size, "stco", 4);
	assert_non_null(stco);
	uint32_t n = (uint32_t)stco[8] << 24 | (uint32_t)stco[9] << 16 |
		     (uint32_t)stco[10] << 8 | stco[11];
	for (uint32_t i = 0; i < n; i++)
		put32(stco + 12 + 4 * i, 0x7ffffff0u);
	in = tmpfile_fd();
	out = tmpfile_fd();
	assert_int_equal(pwrite(in, b, (size_t)sb.st_size, 0), sb.st_size);
	assert_int_equal(media_remux_fd(in, out), PT_EUNSUPPORTED);
	free(b);
	close(full);
	close(in);
	close(out);
}

/* ---- the sandbox ---- */

static int sandboxed(void (*fn)(void))
{
	pid_t pid = fork();
	if (pid == 0) {
		if (media_remux_sandbox_enter() < 0)
			_exit(99);
		fn();
		_exit(0);
	}
	int st;
	waitpid(pid, &st, 0);
	return WIFSIGNALED(st) ? -WTERMSIG(st) : WEXITSTATUS(st);
}

static void try_open(void)
{
	int fd = open("/etc/passwd", O_RDONLY);
	_exit(fd >= 0 ? 1 : 2);
}

static void try_fork(void)
{
	pid_t p = fork();
	_exit(p >= 0 ? 1 : 2);
}

static void try_pwrite0(void)
{
	ssize_t k = pwrite(0, "x", 1, 0); /* the source is read-only */
	_exit(k == 1 ? 1 : 2);
}

static void try_ftruncate1(void)
{
	int rc = ftruncate(1, 0);
	_exit(rc == 0 ? 1 : 2);
}

static int saved_out = -1;

static void try_allowed(void)
{
	char c[4];
	ssize_t k = pread(0, c, sizeof(c), 0);
	(void)k;
	if (pwrite(1, "abcd", 4, 0) != 4 || pread(1, c, 4, 0) != 4)
		_exit(5);
	struct stat sb;
	if (fstat(1, &sb) < 0 || sb.st_size != 4)
		_exit(6);
	void *p = xmalloc(8 << 20);
	memset(p, 1, 8 << 20);
	free(p);
}

static void test_sandbox(void **state)
{
	/* fd 1 a file of our own for the allowed I/O */
	int out = tmpfile_fd();
	fflush(stdout);
	saved_out = dup(1);
	dup2(out, 1);
	int allowed = sandboxed(try_allowed);
	int pw0 = sandboxed(try_pwrite0);
	int tr1 = sandboxed(try_ftruncate1);
	dup2(saved_out, 1);
	close(saved_out);
	close(out);
	assert_int_equal(allowed, 0);
	assert_int_equal(pw0, -SIGSYS);
	assert_int_equal(tr1, -SIGSYS);
	assert_int_equal(sandboxed(try_open), -SIGSYS);
	assert_int_equal(sandboxed(try_fork), -SIGSYS);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_layout),
		cmocka_unit_test(test_layout_lies),
		cmocka_unit_test(test_max_out),
		cmocka_unit_test(test_remux_in_process),
		cmocka_unit_test(test_remux_refuses),
		cmocka_unit_test(test_sandbox),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
