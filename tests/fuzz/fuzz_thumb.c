/*
 * fuzz_thumb.c — libFuzzer target for the thumbnail maker's entry point,
 * thumb_make_mem (core/thumbmake.c: bytes in, a JPEG out, through
 * libavformat, libavcodec and libswscale), in-process; and for
 * thumb_head_parse, which reads the thumbnail process's answer as
 * untrusted bytes.  Checks that whatever it makes is one JPEG that fits
 * the bounds.  Seeds: the probe's tiny MP4, WebM, PNG and JPEG, and a
 * header (tests/fuzz/corpus/fuzz_thumb).
 */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/thumb.h"
#include "util/pt.h"
#include "util/banned.h"

/* small: a fuzzer's input is small, and a bomb must be refused early */
#define FUZZ_MAX_PIXELS (4096u * 4096u)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t out[THUMB_OUT_MAX];
	uint32_t w, h;
	size_t len, head;

	if (thumb_head_parse((const char *)data, size, &w, &h, &len, &head) ==
	    0)
		PT_ASSERT(w >= 1 && w <= THUMB_MAX_W && h >= 1 &&
			  h <= THUMB_MAX_H && len <= THUMB_OUT_MAX &&
			  head <= size);
	if (thumb_make_mem(data, size, FUZZ_MAX_PIXELS, out, sizeof(out), &len,
			   &w, &h) != 0)
		return 0;
	PT_ASSERT(w >= 1 && w <= THUMB_MAX_W && h >= 1 && h <= THUMB_MAX_H);
	PT_ASSERT(len <= sizeof(out) && thumb_jpeg_ok(out, len));
	return 0;
}
