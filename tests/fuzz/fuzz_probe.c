/*
 * fuzz_probe.c — libFuzzer target for the media probe's entry point,
 * media_probe_mem (core/mediaprobe.c: bytes in, media info out, through
 * libavformat with the demuxers the probe allows), in-process; and for
 * media_info_parse, which reads the probe process's answer as untrusted
 * bytes.  Checks that whatever the probe finds, it can say: its record
 * formats and parses back to the same info, within bounds, and its
 * summary is bounded.  Seeds: tiny MP4, WebM, MP3, WAV, PNG, JPEG made by
 * ffmpeg, and a record (tests/fuzz/corpus/fuzz_probe).
 */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/media.h"
#include "util/pt.h"
#include "util/banned.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct media_info m, back;
	char rec[512], sum[160];

	/* the parser of the child's answer: any bytes */
	if (media_info_parse((const char *)data, size, &m) == 0) {
		PT_ASSERT(m.width <= MEDIA_DIM_MAX &&
			  m.height <= MEDIA_DIM_MAX);
		PT_ASSERT(strlen(m.vcodec) < MEDIA_NAME_MAX);
	}
	/* the probe */
	if (media_probe_mem(data, size, &m) != 0)
		return 0;
	PT_ASSERT(m.kind != MEDIA_NONE);
	int n = media_info_format(&m, rec, sizeof(rec));
	PT_ASSERT(n > 0);
	PT_ASSERT(media_info_parse(rec, (size_t)n, &back) == 0);
	PT_ASSERT(back.kind == m.kind && back.width == m.width &&
		  back.height == m.height &&
		  back.duration_ms == m.duration_ms &&
		  back.bitrate == m.bitrate &&
		  strcmp(back.container, m.container) == 0 &&
		  strcmp(back.vcodec, m.vcodec) == 0 &&
		  strcmp(back.acodec, m.acodec) == 0);
	media_summary(&m, sum, sizeof(sum));
	PT_ASSERT(strlen(sum) < sizeof(sum));
	return 0;
}
