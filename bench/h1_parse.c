/*
 * h1_parse.c — micro-benchmark of the HTTP/1.1 parser (src/http/h1.c):
 * ns per request head for a curl GET and a browser GET (12 fields), whole
 * in one buffer (the fast path) and fed one byte at a time (the worst
 * split), and the chunked decoder's cost per 64 KiB chunk.  Best of
 * five rounds of N iterations each (argv[1], default 1000000).
 *
 *   make build/bench/h1_parse && build/bench/h1_parse [N]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "http/h1.h"
#include "util/banned.h"

static const char curl_get[] = "GET /f/Zx81kQ2 HTTP/1.1\r\n"
			       "Host: localhost:8080\r\n"
			       "User-Agent: curl/7.88.1\r\n"
			       "Accept: */*\r\n\r\n";

static const char browser_get[] =
	"GET /f/Zx81kQ2?x=1 HTTP/1.1\r\n"
	"Host: files.example.org\r\n"
	"User-Agent: Mozilla/5.0 (X11; Linux x86_64; rv:120.0) "
	"Gecko/20100101 Firefox/120.0\r\n"
	"Accept: text/html,application/xhtml+xml,application/xml;"
	"q=0.9,image/avif,image/webp,*/*;q=0.8\r\n"
	"Accept-Language: fr,fr-FR;q=0.8,en-US;q=0.5,en;q=0.3\r\n"
	"Accept-Encoding: gzip, deflate, br\r\n"
	"Connection: keep-alive\r\n"
	"Cookie: partage_session=abcdefabcdefabcdefabcdefabcdefab\r\n"
	"Upgrade-Insecure-Requests: 1\r\n"
	"Sec-Fetch-Dest: document\r\n"
	"Sec-Fetch-Mode: navigate\r\n"
	"Sec-Fetch-Site: none\r\n"
	"Sec-Fetch-User: ?1\r\n\r\n";

static volatile size_t sink;

static double now(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec * 1e9 + (double)t.tv_nsec;
}

/* best ns per request of 5 rounds of n parses; bytewise: one byte a call */
static double bench_head(const char *req, size_t n, int bytewise)
{
	size_t len = strlen(req);
	double best = 1e30;

	for (int round = 0; round < 5; round++) {
		double t0 = now();
		for (size_t i = 0; i < n; i++) {
			struct h1_header h[32];
			struct h1_request r;
			enum h1_result rc = H1_AGAIN;
			h1_request_init(&r, h, 32, 8192);
			if (bytewise)
				for (size_t k = 1; k <= len && rc == H1_AGAIN;
				     k++)
					rc = h1_request_parse(&r, req, k);
			else
				rc = h1_request_parse(&r, req, len);
			if (rc != H1_DONE) {
				fprintf(stderr, "h1_parse: not parsed: %d %s\n",
					rc, r.reason ? r.reason : "");
				exit(1);
			}
			sink += r.head_len + r.nheaders;
		}
		double ns = (now() - t0) / (double)n;
		if (ns < best)
			best = ns;
	}
	return best;
}

/* ns of framing work per chunk: a body of 64 KiB chunks held in one
 * buffer (the data itself is not touched: it comes out as slices) */
static double bench_chunked(void)
{
	const size_t chunk = 65536, nchunks = 256;
	size_t cap = nchunks * (chunk + 16) + 16, n = 0;
	char *body = malloc(cap);
	double best = 1e30;

	for (size_t i = 0; i < nchunks; i++) {
		n += (size_t)snprintf(body + n, cap - n, "%zx\r\n", chunk);
		memset(body + n, 'x', chunk);
		n += chunk;
		memcpy(body + n, "\r\n", 2);
		n += 2;
	}
	memcpy(body + n, "0\r\n\r\n", 5);
	n += 5;
	for (int round = 0; round < 5; round++) {
		struct h1_chunked c;
		size_t pos = 0, used;
		struct h1_span d;
		enum h1_result rc;
		double t0 = now();
		h1_chunked_init(&c, NULL, 0, 4096, 4096);
		while ((rc = h1_chunked_next(&c, body + pos, n - pos, &used,
					     &d)) == H1_DATA) {
			sink += (unsigned char)body[pos + d.off];
			pos += used;
		}
		if (rc != H1_DONE || c.total != chunk * nchunks) {
			fprintf(stderr, "h1_parse: chunked: %d\n", rc);
			exit(1);
		}
		double ns = now() - t0;
		if (ns < best)
			best = ns;
	}
	free(body);
	return best / (double)nchunks;
}

int main(int argc, char **argv)
{
	size_t n = argc > 1 ? strtoull(argv[1], NULL, 10) : 1000000;

	if (n == 0)
		n = 1;
	printf("curl GET    (%3zu bytes, 3 fields):  %6.1f ns/request, "
	       "one byte a call %7.1f ns\n",
	       strlen(curl_get), bench_head(curl_get, n, 0),
	       bench_head(curl_get, n / 10 + 1, 1));
	printf("browser GET (%3zu bytes, 12 fields): %6.1f ns/request, "
	       "one byte a call %7.1f ns\n",
	       strlen(browser_get), bench_head(browser_get, n, 0),
	       bench_head(browser_get, n / 10 + 1, 1));
	printf("chunked body, 64 KiB chunks: %.1f ns per chunk\n",
	       bench_chunked());
	return 0;
}
