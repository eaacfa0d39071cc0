/*
 * fuzz_mp4layout.c — libFuzzer target for the remux queue's atom walk,
 * mp4_layout (core/remux.c), which reads the top-level atom headers of
 * untrusted files (and of the remux process's output) to decide whether
 * a file wants a fast-start copy.  Checks that it answers one of its
 * three verdicts, and that a verdict other than MP4_BAD names a file
 * that holds a moov atom header.  Seeds: small MP4s made by ffmpeg with
 * the index first and last (tests/fuzz/corpus/fuzz_mp4layout).
 */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/remux.h"
#include "util/pt.h"
#include "util/banned.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	enum mp4_layout l = mp4_layout_mem(data, size);
	PT_ASSERT(l == MP4_BAD || l == MP4_FASTSTART || l == MP4_MOOV_LAST);
	if (l != MP4_BAD)
		PT_ASSERT(size >= 8 && memmem(data, size, "moov", 4) != NULL);
	return 0;
}
