/*
 * fuzz_linkcheck.c — libFuzzer target for linkcheck_parse (core/
 * linkcheck.c), the link checker's input.  The input is a request body.
 * Checks the promise that results match input items: text gives exactly
 * one item per line holding something other than spaces, tabs and CRs
 * (counted here independently), a JSON array one per element, in order;
 * more than the maximum is PT_ETOOBIG, never a cut.  Every item is an id
 * (id_valid, found in its line) or an echo that is clean (valid UTF-8,
 * no control, separator or bidi control) and bounded.
 */
#define _GNU_SOURCE
#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/ids.h"
#include "core/linkcheck.h"
#include "util/pool.h"
#include "util/pt.h"
#include "util/text.h"
#include "util/utf8.h"
#include "util/banned.h"

#define MAX 64

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *body = (const char *)data;
	struct pt_pool *pool = pt_pool_new();
	struct linkcheck_item *it = NULL;
	size_t n = 0, i = 0;
	int err = linkcheck_parse(pool, body, size, MAX, &it, &n);

	while (i < size && strchr(" \t\r\n", body[i]) && body[i])
		i++;
	bool json = i < size && body[i] == '[';
	size_t want = 0;
	if (json) {
		json_t *a = json_loadb(body + i, size - i, 0, NULL);
		bool strings = json_is_array(a);
		for (size_t k = 0; strings && k < json_array_size(a); k++)
			strings = json_is_string(json_array_get(a, k));
		if (!strings)
			PT_ASSERT(err == PT_EBADREQ || err == PT_ETOOBIG);
		else if (json_array_size(a) > MAX)
			PT_ASSERT(err == PT_ETOOBIG);
		else
			PT_ASSERT(err == 0 && n == json_array_size(a));
		json_decref(a);
	} else {
		/* lines with content, counted independently */
		bool content = false;
		for (size_t k = 0; k <= size; k++) {
			if (k == size || body[k] == '\n') {
				want += content;
				content = false;
			} else if (body[k] != ' ' && body[k] != '\t' &&
				   body[k] != '\r') {
				content = true;
			}
		}
		PT_ASSERT(want > MAX ? err == PT_ETOOBIG
				     : err == 0 && n == want);
	}
	for (size_t k = 0; !err && k < n; k++) {
		size_t len = strlen(it[k].id);
		if (it[k].valid) {
			PT_ASSERT(len == ID_LEN && id_valid(it[k].id, len));
			if (!json)
				PT_ASSERT(memmem(body, size, it[k].id, len));
		} else {
			PT_ASSERT(len < LINKCHECK_ECHO_MAX);
			PT_ASSERT(utf8_check(it[k].id, len, UTF8_NAME, NULL) ==
				  NULL);
			PT_ASSERT(text_is_clean(it[k].id, len, 0));
		}
	}
	pt_pool_free(pool);
	return 0;
}
