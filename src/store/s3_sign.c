/*
 * s3_sign.c — the AWS Signature Version 4 computations the S3 client
 * makes itself rather than through libcurl's CURLOPT_AWS_SIGV4: the
 * header form for the one request libcurl 7.88 signs wrong, and
 * presigned URLs (the signature in the query string).  Both share the
 * string to sign and the signing key (sigv4 below).  OpenSSL's HMAC and
 * SHA-256; nothing here blocks.
 */
#define _GNU_SOURCE
#include "s3_int.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "../util/buf.h"
#include "../util/pt.h"
#include "../util/banned.h"

/* ---- our own SigV4, for the one request libcurl 7.88 signs wrong ----
 *
 * libcurl 7.88 sorts the canonical headers as whole "name:value" lines,
 * so x-amz-copy-source-range lands before x-amz-copy-source ('-' < ':')
 * and the server, sorting by name, computes another signature.  Later
 * libcurl sorts by name.  Requests whose extra header names are prefixes
 * of one another (only UploadPartCopy with a range, above 5 GiB) are
 * signed here instead (AWS "Signature Version 4 for S3", header form,
 * UNSIGNED-PAYLOAD); everything else keeps libcurl's signer.
 */
bool s3_curl_sorts_wrong(const struct s3_req *r)
{
	size_t n = 0;
	while (n < PT_ARRAY_LEN(r->headers) && r->headers[n])
		n++;
	for (size_t i = 0; i < n; i++)
		for (size_t j = 0; j < n; j++) {
			const char *a = r->headers[i], *b = r->headers[j];
			size_t la = strcspn(a, ":"), lb = strcspn(b, ":");
			if (i != j && la < lb && !strncasecmp(a, b, la))
				return true;
		}
	return false;
}

static void hmac(const void *key, size_t kn, const char *msg,
		 unsigned char out[32])
{
	unsigned int n = 32;
	if (!HMAC(EVP_sha256(), key, (int)kn, (const unsigned char *)msg,
		  strlen(msg), out, &n))
		abort();
}

static void hexify(const unsigned char *p, size_t n, char *out)
{
	for (size_t i = 0; i < n; i++)
		snprintf(out + 2 * i, 3, "%02x", p[i]);
}

struct hdr {
	char name[64];
	const char *val;
};

static int hdr_cmp(const void *a, const void *b)
{
	const struct hdr *x = a, *y = b;
	return strcmp(x->name, y->name);
}

/* The signature of a canonical request (AWS "Signature Version 4",
 * steps 2 to 4): string to sign, signing key, HMAC.  amz is the request's
 * time as YYYYMMDDTHHMMSSZ; its first 8 characters are the scope's day.
 * Both forms share it: the Authorization header below and the presigned
 * query string of s3_presign_query(). */
static void sigv4(const char *secret, const char *region, const char *amz,
		  const char *creq, size_t creq_len, char sig[65])
{
	char day[9], hash[65];
	unsigned char k[32], md[32];

	memcpy(day, amz, 8);
	day[8] = '\0';
	SHA256((const unsigned char *)creq, creq_len, md);
	hexify(md, 32, hash);
	char *sts = xasprintf("AWS4-HMAC-SHA256\n%s\n%s/%s/s3/aws4_request\n%s",
			      amz, day, region, hash);
	char *key = xasprintf("AWS4%s", secret);
	hmac(key, strlen(key), day, k);
	hmac(k, 32, region, k);
	hmac(k, 32, "s3", k);
	hmac(k, 32, "aws4_request", k);
	hmac(k, 32, sts, md);
	hexify(md, 32, sig);
	OPENSSL_cleanse(key, strlen(key));
	OPENSSL_cleanse(k, sizeof(k));
	free(key);
	free(sts);
}

static void amz_time(int64_t now, char amz[20])
{
	struct tm tm;
	time_t t = (time_t)now;
	gmtime_r(&t, &tm);
	strftime(amz, 20, "%Y%m%dT%H%M%SZ", &tm);
}

/* Append x-amz-date and Authorization for r to h. */
struct curl_slist *s3_sign_v4(struct s3 *s, const struct s3_req *r,
			      struct curl_slist *h)
{
	char amz[20], sig[65];
	struct hdr hd[PT_ARRAY_LEN(r->headers) + 3];
	struct pt_buf creq, names;
	size_t n = 0;

	amz_time((int64_t)time(NULL), amz);
	snprintf(hd[n].name, sizeof(hd[n].name), "host");
	hd[n++].val = s->host;
	snprintf(hd[n].name, sizeof(hd[n].name), "x-amz-content-sha256");
	hd[n++].val = "UNSIGNED-PAYLOAD";
	snprintf(hd[n].name, sizeof(hd[n].name), "x-amz-date");
	hd[n++].val = amz;
	for (size_t i = 0; i < PT_ARRAY_LEN(r->headers) && r->headers[i]; i++) {
		const char *c = r->headers[i];
		size_t ln = strcspn(c, ":");
		if (ln >= sizeof(hd[n].name) || strncasecmp(c, "x-amz-", 6))
			continue; /* sent unsigned (Content-Type) */
		for (size_t j = 0; j < ln; j++)
			hd[n].name[j] = (char)(c[j] >= 'A' && c[j] <= 'Z'
						       ? c[j] + 32 : c[j]);
		hd[n].name[ln] = '\0';
		c += ln + (c[ln] == ':');
		while (*c == ' ')
			c++;
		hd[n++].val = c;
	}
	qsort(hd, n, sizeof(hd[0]), hdr_cmp);

	pt_buf_init(&creq, 1 << 16);
	pt_buf_init(&names, 1 << 12);
	char *uri = s3_uri_path(s, false, r->key);
	pt_buf_addf(&creq, "%s\n%s\n%s\n", r->method, uri,
		    r->query ? r->query : "");
	free(uri);
	for (size_t i = 0; i < n; i++) {
		pt_buf_addf(&creq, "%s:%s\n", hd[i].name, hd[i].val);
		pt_buf_addf(&names, "%s%s", i ? ";" : "", hd[i].name);
	}
	pt_buf_addf(&creq, "\n%s\nUNSIGNED-PAYLOAD", names.p);
	sigv4(s->sk, s->region, amz, creq.p, creq.n, sig);
	char *auth = xasprintf("Authorization: AWS4-HMAC-SHA256 Credential=%s/%.8s/"
			       "%s/s3/aws4_request, SignedHeaders=%s, "
			       "Signature=%s", s->ak, amz, s->region, names.p,
			       sig);
	char *date = xasprintf("x-amz-date: %s", amz);
	h = curl_slist_append(h, date);
	h = curl_slist_append(h, auth);
	free(date);
	free(auth);
	pt_buf_release(&creq);
	pt_buf_release(&names);
	return h;
}

/* ---- presigned URLs (AWS "Authenticating Requests: Using Query
 * Parameters"): the same canonical request, with the credential, date,
 * lifetime and signed headers moved into the query, only `host` signed
 * and UNSIGNED-PAYLOAD as the payload hash:
 *
 *   GET\n/bucket/key\n          (virtual-hosted style: GET\n/key\n, host
 *                              bucket.HOST)
 *   X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AK%2FDAY%2FREGION
 *   %2Fs3%2Faws4_request&X-Amz-Date=…&X-Amz-Expires=300&X-Amz-Signed
 *   Headers=host&response-content-type=…\n
 *   host:HOST\n\nhost\nUNSIGNED-PAYLOAD
 */

struct qparam {
	char *name, *value; /* both already encoded */
};

static int qparam_cmp(const void *a, const void *b)
{
	const struct qparam *x = a, *y = b;
	int c = strcmp(x->name, y->name);
	return c ? c : strcmp(x->value, y->value);
}

char *s3_presign_query(const struct s3_presign *p)
{
	struct qparam *q = xcalloc(8, sizeof(*q));
	size_t n = 0, cap = 8;
	char amz[20], sig[65];
	struct pt_buf creq, out;
	const char *e = p->query ? p->query : "";

	amz_time(p->now, amz);
	char *cred = xasprintf("%s/%.8s/%s/s3/aws4_request", p->access_key,
			       amz, p->region);
	q[n++] = (struct qparam){ xstrdup("X-Amz-Algorithm"),
				  xstrdup("AWS4-HMAC-SHA256") };
	q[n++] = (struct qparam){ xstrdup("X-Amz-Credential"),
				  s3_uri_encode(cred, false) };
	q[n++] = (struct qparam){ xstrdup("X-Amz-Date"), xstrdup(amz) };
	q[n++] = (struct qparam){ xstrdup("X-Amz-Expires"),
				  xasprintf("%llu",
					    (unsigned long long)p->expires) };
	q[n++] = (struct qparam){ xstrdup("X-Amz-SignedHeaders"),
				  xstrdup("host") };
	/* the caller's parameters, "a=1&b=2", in the canonical order too */
	while (*e) {
		size_t len = strcspn(e, "&"), eq = strcspn(e, "=");
		if (eq > len)
			eq = len;
		if (n == cap)
			q = xrealloc(q, (cap *= 2) * sizeof(*q));
		if (len)
			q[n++] = (struct qparam){
				xstrndup(e, eq),
				xstrndup(e + eq + (eq < len), len - eq - (eq < len))
			};
		e += len + (e[len] == '&');
	}
	qsort(q, n, sizeof(q[0]), qparam_cmp);

	pt_buf_init(&out, 1 << 16);
	for (size_t i = 0; i < n; i++)
		pt_buf_addf(&out, "%s%s=%s", i ? "&" : "", q[i].name, q[i].value);
	pt_buf_init(&creq, 1 << 17);
	pt_buf_addf(&creq, "%s\n%s\n%s\nhost:%s\n\nhost\nUNSIGNED-PAYLOAD",
		    p->method, p->path, out.p, p->host);
	sigv4(p->secret_key, p->region, amz, creq.p, creq.n, sig);
	pt_buf_addf(&out, "&X-Amz-Signature=%s", sig);
	char *res = xstrdup(out.p);

	for (size_t i = 0; i < n; i++) {
		free(q[i].name);
		free(q[i].value);
	}
	free(q);
	free(cred);
	pt_buf_release(&creq);
	pt_buf_release(&out);
	return res;
}

char *s3_presign_url(struct s3 *s, const char *key, const char *query,
		     int64_t now, uint64_t expires)
{
	char *ekey = s3_uri_encode(key, true);
	char *path = s3_uri_path(s, true, ekey);
	struct s3_presign p = {
		.method = "GET", .host = s->pub_host, .path = path,
		.query = query, .access_key = s->ak, .secret_key = s->sk,
		.region = s->region, .now = now, .expires = expires,
	};
	char *q = s3_presign_query(&p);
	/* pub_endpoint ends with pub_path, which path starts with */
	char *url = xasprintf("%s%s?%s", s->pub_endpoint,
			      path + strlen(s->pub_path), q);
	free(q);
	free(path);
	free(ekey);
	return url;
}
