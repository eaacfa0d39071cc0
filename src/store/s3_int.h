/*
 * s3_int.h — the inside of the S3 client (s3.h), shared by its files and
 * by nothing else:
 *
 *   s3.c       settings, the handle pool, one request (with retries), the
 *              streaming GET
 *   s3_sign.c  the SigV4 signatures libcurl does not make: the header form
 *              for the one request libcurl 7.88 signs wrong, and presigned
 *              URLs
 *   s3_xml.c   the parsing of S3's answers: XML texts and listings, dates
 */
#ifndef PT_S3_INT_H
#define PT_S3_INT_H

#include <curl/curl.h>
#include <pthread.h>
#include <stdbool.h>

#include "s3.h"

#define POOL_MAX 32

struct s3 {
	/* endpoint and host: with the bucket in front when virtual_host
	 * (http://bkt.host:port, bkt.host:port); path: the endpoint's URI
	 * prefix ("" or "/prefix") */
	char *endpoint, *bucket, *sigv4, *ak, *sk;
	char *region, *host, *path; /* for s3_sign_v4: Host and URI prefix */
	/* what clients reach for presigned URLs (the endpoint by default) */
	char *pub_endpoint, *pub_host, *pub_path;
	bool virtual_host;
	pthread_mutex_t mu;
	CURL *pool[POOL_MAX];
	size_t npool;
};

/* The canonical URI of key (already encoded; NULL: the bucket itself)
 * on the node's endpoint, or on the public one when pub: prefix/bkt/key
 * path style, prefix/key (prefix/ for the bucket) virtual-hosted style.
 * The caller frees. */
char *s3_uri_path(const struct s3 *s, bool pub, const char *key);

/* Whether libcurl 7.88 would sign r wrong (two extra headers whose names
 * are prefixes of one another): then s3_sign_v4 signs it.  Never blocks. */
bool s3_curl_sorts_wrong(const struct s3_req *r);
/* Append x-amz-date and Authorization for r, signed now, to h (libcurl's
 * list: NULL starts one); returns the list.  Never blocks. */
struct curl_slist *s3_sign_v4(struct s3 *s, const struct s3_req *r,
			      struct curl_slist *h);

#endif
