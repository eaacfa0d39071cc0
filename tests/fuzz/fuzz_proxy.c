/*
 * fuzz_proxy.c — libFuzzer target for the trusted-proxy list and the
 * X-Forwarded-For walk.  Input: the trusted list, a newline, the socket
 * peer, a newline, the header value.  Checks: a list that parses gives at
 * most PROXY_MAX_NETS networks; the client address is always a valid,
 * canonical address when the peer is one (written back, it reads as
 * itself); it differs from the peer only when the peer is trusted; and an
 * untrusted peer's header is never used.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "util/proxy.h"
#include "util/pt.h"
#include "util/banned.h"

static char *field(const uint8_t **p, const uint8_t *end)
{
	const uint8_t *nl = memchr(*p, '\n', (size_t)(end - *p));
	const uint8_t *e = nl ? nl : end;
	size_t n = (size_t)(e - *p);
	char *s = malloc(n + 1);
	memcpy(s, *p, n);
	s[n] = '\0';
	*p = nl ? nl + 1 : end;
	return s;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *p = data, *end = data + size;
	char *list = field(&p, end), *peer = field(&p, end);
	char *xff = field(&p, end);
	struct proxy_list l;
	char why[160], out[PROXY_ADDR_MAX], canon[PROXY_ADDR_MAX],
		again[PROXY_ADDR_MAX];

	if (proxy_list_parse(list, &l, why, sizeof(why))) {
		PT_ASSERT(why[0] != '\0');
		goto done;
	}
	PT_ASSERT(l.n <= PROXY_MAX_NETS);
	proxy_client_address(&l, peer, xff, out, sizeof(out));
	PT_ASSERT(strlen(out) < PROXY_ADDR_MAX);
	/* the peer alone, canonical: what a request without the header gets */
	proxy_client_address(&l, peer, NULL, canon, sizeof(canon));
	if (strcmp(out, canon) != 0)
		PT_ASSERT(proxy_list_match(&l, peer));
	if (!proxy_list_match(&l, peer))
		PT_ASSERT(strcmp(out, canon) == 0);
	/* a valid result reads back as itself */
	if (proxy_list_match(&l, peer) || strcmp(out, canon) != 0) {
		struct proxy_list none = { 0 };
		proxy_client_address(&none, out, NULL, again, sizeof(again));
		PT_ASSERT(strcmp(again, out) == 0);
	}
done:
	free(list);
	free(peer);
	free(xff);
	return 0;
}
