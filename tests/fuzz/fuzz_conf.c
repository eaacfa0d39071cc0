/*
 * fuzz_conf.c — libFuzzer target for the INI loader.  Any input either
 * fails with a one-line message or loads; a loaded config must dump to an
 * INI text that loads again to the same struct and dumps to the same text
 * (the round trip `partaged config dump` relies on).
 */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf.h"
#include "util/buf.h"
#include "util/pt.h"
#include "util/banned.h"

static char *dump(const struct pt_conf *c)
{
	char *text = NULL;
	size_t n = 0;
	FILE *f = open_memstream(&text, &n);

	if (!f)
		abort();
	conf_dump(c, f);
	if (fclose(f))
		abort();
	return text;
}

static void same(const struct pt_conf *a, const struct pt_conf *b)
{
	const char *const sa[] = {
		a->listen, a->public_url, a->secret_file, a->access_log,
		a->storage_backend, a->data, a->s3_endpoint, a->s3_bucket,
		a->s3_region, a->s3_access_key, a->s3_secret_key,
		a->metadata_backend, a->postgres_dsn,
	};
	const char *const sb[] = {
		b->listen, b->public_url, b->secret_file, b->access_log,
		b->storage_backend, b->data, b->s3_endpoint, b->s3_bucket,
		b->s3_region, b->s3_access_key, b->s3_secret_key,
		b->metadata_backend, b->postgres_dsn,
	};

	for (size_t i = 0; i < PT_ARRAY_LEN(sa); i++)
		PT_ASSERT(!strcmp(sa[i], sb[i]));
	PT_ASSERT(a->threads == b->threads);
	PT_ASSERT(a->max_connections == b->max_connections);
	PT_ASSERT(a->per_ip_connections == b->per_ip_connections);
	PT_ASSERT(a->timeout_seconds == b->timeout_seconds);
	PT_ASSERT(a->upload_expiry_hours == b->upload_expiry_hours);
	/* struct pt_tier is nine uint64_t: no padding to differ */
	PT_ASSERT(!memcmp(a->tier, b->tier, sizeof(a->tier)));
	PT_ASSERT(a->points_per_download == b->points_per_download);
	PT_ASSERT(a->points_per_premium_day == b->points_per_premium_day);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct pt_conf c, back;
	struct pt_buf err;
	char *text = xstrndup((const char *)data, size), *d1, *d2;
	uint64_t v;

	pt_buf_init(&err, 4096);
	(void)conf_parse_size(text, &v);
	conf_init(&c);
	if (conf_load_string(&c, text, &err)) {
		/* one line, never empty */
		PT_ASSERT(err.n > 0 && !memchr(err.p, '\n', err.n));
	} else {
		d1 = dump(&c);
		conf_init(&back);
		if (conf_load_string(&back, d1, &err)) {
			fprintf(stderr, "dump does not load: %s\n%s", err.p,
				d1);
			abort();
		}
		same(&c, &back);
		d2 = dump(&back);
		PT_ASSERT(!strcmp(d1, d2));
		free(d2);
		free(d1);
		conf_release(&back);
	}
	conf_release(&c);
	pt_buf_release(&err);
	free(text);
	return 0;
}
