/*
 * s3.c — the S3 client under the s3 blob backend: request building and
 * signing (libcurl's SigV4), a pool of keep-alive easy handles, retries,
 * a streaming ranged GET driven by a private curl multi handle.  The
 * signatures libcurl does not make (presigned URLs, and the one request
 * libcurl 7.88 signs wrong) are in s3_sign.c, the parsing of S3's
 * answers (XML, dates) in s3_xml.c; s3_int.h is what they share.
 *
 * Why libcurl's SigV4 and not Debian's libs3: libs3 signs with the old
 * SigV2, which AWS is retiring and which Swift and RGW treat as legacy;
 * libcurl (already a dependency) signs SigV4 itself since 7.75 and only
 * needs the three precautions below, all against real servers:
 *   - x-amz-content-sha256 is ours to send (UNSIGNED-PAYLOAD: the body is
 *     not hashed twice, and streamed bodies could not be hashed first);
 *   - the query string is signed as given, so it must already be
 *     canonical: names sorted, "uploads=" with its '=', values encoded;
 *   - the access key may contain ':' (Swift's "account:user"), so user
 *     and secret go separately (CURLOPT_USERNAME / CURLOPT_PASSWORD).
 */
#define _GNU_SOURCE
#include "s3_int.h"

#include <curl/curl.h>
#include <errno.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "../util/pt.h"
#include "../util/banned.h"

#define TRIES 3
/* Error bodies kept for the log line (the <Code> is what matters). */
#define ERRBODY_MAX 4096
/* A read buffer of this size lets a streaming GET hand the download path
 * its 256 KiB blocks in few callbacks. */
#define STREAM_BUFSZ (256L * 1024)


static pthread_once_t curl_once = PTHREAD_ONCE_INIT;

static void curl_init_once(void)
{
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		abort(); /* only fails on allocation: the x* policy */
}

/* "http://host:port/prefix/" → endpoint without the trailing '/', the
 * Host curl sends for it, and the URI prefix ("" or "/prefix").  vhost
 * (virtual-hosted style): "bkt." goes in front of the host in both. */
static void endpoint_split(const char *url, const char *vhost,
			   char **endpoint, char **host, char **path)
{
	size_t n = strlen(url);
	while (n > 0 && url[n - 1] == '/')
		n--;
	const char *h = strstr(url, "://");
	size_t scheme = h && (size_t)(h - url) + 3 <= n ? (size_t)(h - url) + 3
							 : 0;
	*endpoint = xasprintf("%.*s%s%s%.*s", (int)scheme, url,
			      vhost ? vhost : "", vhost ? "." : "",
			      (int)(n - scheme), url + scheme);
	h = *endpoint + scheme;
	const char *slash = strchr(h, '/');
	*host = slash ? xstrndup(h, (size_t)(slash - h)) : xstrdup(h);
	*path = xstrdup(slash ? slash : "");
}

/* Whether the host of url ("scheme://host[:port][/…]") is an IP address:
 * "[v6]", or only digits and dots. */
static bool host_is_ip(const char *url)
{
	const char *h = strstr(url, "://");
	h = h ? h + 3 : url;
	if (*h == '[')
		return true;
	size_t n = strcspn(h, ":/");
	return n > 0 && strspn(h, "0123456789.") == n;
}

/* A bucket name that can be a host name's first labels: 3 to 63 of
 * a-z 0-9 . -, a letter or digit at both ends (AWS's rules, which also
 * bar "..", and an IP-like name) */
static bool bucket_dns_ok(const char *b)
{
	size_t n = strlen(b);
	if (n < 3 || n > 63 || strspn(b, "abcdefghijklmnopqrstuvwxyz"
					 "0123456789.-") != n)
		return false;
	if (b[0] == '.' || b[0] == '-' || b[n - 1] == '.' || b[n - 1] == '-')
		return false;
	if (strstr(b, "..") || strstr(b, ".-") || strstr(b, "-."))
		return false;
	return strspn(b, "0123456789.") != n;
}

const char *s3_conf_problem(const struct s3_conf *c)
{
	if (!c->bucket || !*c->bucket || !c->region || !*c->region ||
	    !c->access_key || !c->secret_key)
		return "s3_bucket, s3_region and the keys are needed";
	if (!c->virtual_host)
		return NULL;
	if (!bucket_dns_ok(c->bucket))
		return "s3_addressing = virtual needs a bucket name that is a "
		       "DNS name (3 to 63 of a-z 0-9 . -)";
	if ((c->endpoint && *c->endpoint && host_is_ip(c->endpoint)) ||
	    (c->public_endpoint && *c->public_endpoint &&
	     host_is_ip(c->public_endpoint)))
		return "s3_addressing = virtual puts the bucket in the host "
		       "name: the endpoints need a host name, not an IP "
		       "address (http://localhost:PORT for a local store)";
	return NULL;
}

int s3_new(const struct s3_conf *c, struct s3 **out)
{
	struct s3 *s;
	char *ep;

	if (s3_conf_problem(c))
		return PT_EBADREQ;
	pthread_once(&curl_once, curl_init_once);
	s = xcalloc(1, sizeof(*s));
	/* no endpoint: AWS itself, in the region's own endpoint */
	ep = c->endpoint && *c->endpoint
		     ? xstrdup(c->endpoint)
		     : xasprintf("https://s3.%s.amazonaws.com", c->region);
	const char *vh = c->virtual_host ? c->bucket : NULL;
	s->virtual_host = c->virtual_host;
	endpoint_split(ep, vh, &s->endpoint, &s->host, &s->path);
	endpoint_split(c->public_endpoint && *c->public_endpoint
			       ? c->public_endpoint : ep, vh,
		       &s->pub_endpoint, &s->pub_host, &s->pub_path);
	free(ep);
	s->bucket = xstrdup(c->bucket);
	s->sigv4 = xasprintf("aws:amz:%s:s3", c->region);
	s->ak = xstrdup(c->access_key);
	s->sk = xstrdup(c->secret_key);
	s->region = xstrdup(c->region);
	pthread_mutex_init(&s->mu, NULL);
	*out = s;
	return 0;
}

void s3_free(struct s3 *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < s->npool; i++)
		curl_easy_cleanup(s->pool[i]);
	pthread_mutex_destroy(&s->mu);
	free(s->endpoint);
	free(s->bucket);
	free(s->sigv4);
	free(s->ak);
	free(s->sk);
	free(s->region);
	free(s->host);
	free(s->path);
	free(s->pub_endpoint);
	free(s->pub_host);
	free(s->pub_path);
	free(s);
}

/* ---- the handle pool: a handle keeps its connections between uses ---- */

static CURL *handle_get(struct s3 *s)
{
	CURL *c = NULL;
	pthread_mutex_lock(&s->mu);
	if (s->npool)
		c = s->pool[--s->npool];
	pthread_mutex_unlock(&s->mu);
	if (!c && !(c = curl_easy_init()))
		abort();
	return c;
}

static void handle_put(struct s3 *s, CURL *c)
{
	curl_easy_reset(c); /* options go, connections and DNS cache stay */
	pthread_mutex_lock(&s->mu);
	if (s->npool < POOL_MAX) {
		s->pool[s->npool++] = c;
		c = NULL;
	}
	pthread_mutex_unlock(&s->mu);
	if (c)
		curl_easy_cleanup(c);
}

static void setup(struct s3 *s, CURL *c, const char *url, bool curl_signs)
{
	curl_easy_setopt(c, CURLOPT_URL, url);
	if (curl_signs) {
		curl_easy_setopt(c, CURLOPT_AWS_SIGV4, s->sigv4);
		curl_easy_setopt(c, CURLOPT_USERNAME, s->ak);
		curl_easy_setopt(c, CURLOPT_PASSWORD, s->sk);
	}
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, 10L);
	/* no total timeout (a server-side copy of GiBs takes a while), but a
	 * connection that moves nothing for 5 minutes is dead */
	curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1L);
	curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, 300L);
	curl_easy_setopt(c, CURLOPT_TCP_KEEPALIVE, 1L);
	curl_easy_setopt(c, CURLOPT_BUFFERSIZE, STREAM_BUFSZ);
}

char *s3_uri_path(const struct s3 *s, bool pub, const char *key)
{
	const char *prefix = pub ? s->pub_path : s->path;
	if (s->virtual_host)
		return xasprintf("%s/%s", prefix, key ? key : "");
	return xasprintf("%s/%s%s%s", prefix, s->bucket, key ? "/" : "",
			 key ? key : "");
}

/* The request's URL: the endpoint (with "bkt." in its host when virtual
 * hosted), the canonical URI after the endpoint's own prefix, the query. */
static char *url_of(struct s3 *s, const char *key, const char *query)
{
	char *path = s3_uri_path(s, false, key);
	char *url = xasprintf("%s%s%s%s", s->endpoint,
			      path + strlen(s->path), query && *query ? "?" : "",
			      query ? query : "");
	free(path);
	return url;
}

char *s3_uri_encode(const char *v, bool keep_slash)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t n = strlen(v);
	char *out = xmalloc(3 * n + 1), *o = out;

	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)v[i];
		if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
		    (c >= '0' && c <= '9') || c == '-' || c == '_' ||
		    c == '.' || c == '~' || (c == '/' && keep_slash)) {
			*o++ = (char)c;
		} else {
			*o++ = '%';
			*o++ = hex[c >> 4];
			*o++ = hex[c & 15];
		}
	}
	*o = '\0';
	return out;
}

/* ---- one request ---- */

struct io {
	struct s3_req *r;
	const char *body;
	size_t body_off;
	struct pt_buf err; /* body of an error answer when r->out is NULL */
};

static size_t read_cb(char *p, size_t size, size_t nmemb, void *arg)
{
	struct io *io = arg;
	size_t n = size * nmemb, left = io->r->body_len - io->body_off;
	if (n > left)
		n = left;
	memcpy(p, io->body + io->body_off, n);
	io->body_off += n;
	return n;
}

static size_t write_cb(char *p, size_t size, size_t nmemb, void *arg)
{
	struct io *io = arg;
	size_t n = size * nmemb;
	if (io->r->out) {
		if (pt_buf_add(io->r->out, p, n))
			return 0; /* too big for what we expect: abort */
	} else {
		pt_buf_add(&io->err, p, n); /* the first ERRBODY_MAX bytes */
	}
	return n;
}

static bool header_is(const char *h, size_t n, const char *name, size_t *vlen,
		      const char **val)
{
	size_t k = strlen(name);
	if (n <= k + 1 || strncasecmp(h, name, k) || h[k] != ':')
		return false;
	h += k + 1;
	n -= k + 1;
	while (n && (*h == ' ' || *h == '\t'))
		h++, n--;
	while (n && (h[n - 1] == '\r' || h[n - 1] == '\n' || h[n - 1] == ' '))
		n--;
	*val = h;
	*vlen = n;
	return true;
}

static size_t header_cb(char *p, size_t size, size_t nmemb, void *arg)
{
	struct io *io = arg;
	size_t n = size * nmemb, vn;
	const char *v;
	char tmp[64];

	if (header_is(p, n, "ETag", &vn, &v)) {
		if (vn >= sizeof(io->r->etag))
			vn = sizeof(io->r->etag) - 1;
		memcpy(io->r->etag, v, vn);
		io->r->etag[vn] = '\0';
	} else if (header_is(p, n, "Content-Length", &vn, &v) &&
		   vn < sizeof(tmp)) {
		uint64_t len;
		if (!pt_parse_u64(v, vn, &len))
			io->r->length = len;
	} else if (header_is(p, n, "Last-Modified", &vn, &v) &&
		   vn < sizeof(tmp)) {
		int64_t t;
		memcpy(tmp, v, vn);
		tmp[vn] = '\0';
		if (!pt_http_date_parse(tmp, &t))
			io->r->mtime = t;
	}
	return n;
}

static int status_of(long http)
{
	if (http >= 200 && http < 300)
		return 0;
	switch (http) {
	case 403:
		return -EACCES;
	case 404:
		return -ENOENT;
	case 409:
		return PT_ECONFLICT;
	case 416:
		return PT_ERANGE;
	case 500: /* retried first (transient), then: the store is failing */
	case 502: /* a gateway in front of the store (haproxy before RGW…) */
	case 503:
	case 504: /* that no backend answers */
		return PT_EUNAVAIL;
	default:
		return -EIO;
	}
}

static bool transient(CURLcode rc, long http)
{
	if (rc == CURLE_OK)
		return http == 500 || http == 502 || http == 503 || http == 504;
	return rc == CURLE_COULDNT_CONNECT || rc == CURLE_SEND_ERROR ||
	       rc == CURLE_RECV_ERROR || rc == CURLE_GOT_NOTHING ||
	       rc == CURLE_OPERATION_TIMEDOUT || rc == CURLE_PARTIAL_FILE;
}

char *s3_content_md5(const void *p, size_t n)
{
	unsigned char d[EVP_MAX_MD_SIZE];
	unsigned int dl = 0;
	unsigned char b64[4 * ((EVP_MAX_MD_SIZE + 2) / 3) + 1];

	if (!EVP_Digest(n ? p : "", n, d, &dl, EVP_md5(), NULL))
		abort(); /* MD5 missing from libcrypto: nothing works */
	EVP_EncodeBlock(b64, d, (int)dl);
	return xasprintf("Content-MD5: %s", (char *)b64);
}

/* Whether a PUT is a server-side copy (it carries no body). */
static bool is_copy(const struct s3_req *r)
{
	for (size_t i = 0; i < PT_ARRAY_LEN(r->headers) && r->headers[i]; i++)
		if (!strncasecmp(r->headers[i], "x-amz-copy-source", 17))
			return true;
	return false;
}

int s3_request(struct s3 *s, struct s3_req *r)
{
	struct io io = { .r = r, .body = r->body ? r->body : "" };
	struct curl_slist *h = NULL;
	char *url = url_of(s, r->key, r->query);
	bool post = strcmp(r->method, "POST") == 0;
	bool put = strcmp(r->method, "PUT") == 0;
	bool has_ctype = false, self_sign = s3_curl_sorts_wrong(r);
	CURLcode rc = CURLE_OK;
	CURL *c = handle_get(s);
	int err = 0;

	pt_buf_init(&io.err, ERRBODY_MAX);
	h = curl_slist_append(h, "x-amz-content-sha256: UNSIGNED-PAYLOAD");
	/* No "Expect:" to suppress 100-continue: libcurl 7.88 signs that
	 * empty header without sending it, and the signature fails (403).
	 * The 100-continue round trip costs one RTT per part. */
	for (size_t i = 0; i < PT_ARRAY_LEN(r->headers) && r->headers[i]; i++) {
		h = curl_slist_append(h, r->headers[i]);
		if (!strncasecmp(r->headers[i], "Content-Type:", 13))
			has_ctype = true;
	}
	/* SigV4 in libcurl signs Content-Type: give POSTs an explicit one
	 * rather than curl's form default */
	if ((post || put) && !has_ctype)
		h = curl_slist_append(h,
				      "Content-Type: application/octet-stream");
	/* every body says its MD5: buckets with Object Lock refuse a PUT
	 * (object or part) without a checksum, DeleteObjects wants it, and
	 * the store checks the bytes it got; every store knows Content-MD5
	 * (the x-amz-checksum-* headers are younger) */
	if ((put && !is_copy(r)) || (post && r->body_len)) {
		char *md5 = s3_content_md5(r->body, r->body_len);
		h = curl_slist_append(h, md5);
		free(md5);
	}
	if (self_sign)
		h = s3_sign_v4(s, r, h);
	if (!h)
		abort();

	for (int attempt = 0; attempt < TRIES; attempt++) {
		if (attempt) {
			/* back off 0.1 s, then 0.4 s */
			usleep(100000u << (2 * (attempt - 1)));
			curl_easy_reset(c);
		}
		io.body_off = 0;
		pt_buf_reset(&io.err);
		if (r->out)
			pt_buf_reset(r->out);
		r->status = 0;
		r->length = 0;
		r->mtime = -1;
		r->etag[0] = '\0';
		setup(s, c, url, !self_sign);
		curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
		curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, write_cb);
		curl_easy_setopt(c, CURLOPT_WRITEDATA, &io);
		curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, header_cb);
		curl_easy_setopt(c, CURLOPT_HEADERDATA, &io);
		if (put) {
			curl_easy_setopt(c, CURLOPT_UPLOAD, 1L);
			curl_easy_setopt(c, CURLOPT_READFUNCTION, read_cb);
			curl_easy_setopt(c, CURLOPT_READDATA, &io);
			curl_easy_setopt(c, CURLOPT_INFILESIZE_LARGE,
					 (curl_off_t)r->body_len);
		} else if (post) {
			curl_easy_setopt(c, CURLOPT_POST, 1L);
			curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE,
					 (curl_off_t)r->body_len);
			curl_easy_setopt(c, CURLOPT_POSTFIELDS,
					 r->body ? r->body : "");
		} else if (strcmp(r->method, "HEAD") == 0) {
			curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
		} else if (strcmp(r->method, "GET") != 0) {
			curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, r->method);
		}
		rc = curl_easy_perform(c);
		if (rc == CURLE_OK)
			curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE,
					  &r->status);
		if (!transient(rc, r->status))
			break;
	}
	if (rc != CURLE_OK) {
		pt_log("s3: %s '%s': %s", r->method, r->key ? r->key : "/",
		       curl_easy_strerror(rc));
		err = rc == CURLE_WRITE_ERROR ? PT_ETOOBIG : PT_EUNAVAIL;
		goto done;
	}
	err = status_of(r->status);
	/* CompleteMultipartUpload and copies may fail after a 200 */
	if (!err && r->out && r->out->n && (post || put) &&
	    memmem(r->out->p, r->out->n < 512 ? r->out->n : 512, "<Error>", 7))
		err = -EIO;
	if (err && err != -ENOENT && err != PT_ERANGE &&
	    err != PT_ECONFLICT) {
		const char *pos = r->out ? r->out->p : io.err.p;
		char *code = pos ? s3_xml_next(pos, NULL, "Code", &pos) : NULL;
		pt_log("s3: %s '%s%s%s': HTTP %ld %s", r->method,
		       r->key ? r->key : "/", r->query ? "?" : "",
		       r->query ? r->query : "", r->status, code ? code : "");
		free(code);
	}
done:
	curl_slist_free_all(h);
	pt_buf_release(&io.err);
	free(url);
	handle_put(s, c);
	return err;
}

/* ---- streaming GET ----
 *
 * curl pushes bytes at us; the reader pulls.  The bridge is a private
 * multi handle that is only driven while a read waits for bytes: the
 * write callback copies straight into the caller's buffer and keeps the
 * excess of its last chunk (at most one curl buffer) for the next read.
 * While nobody reads, TCP flow control holds the server back: the object
 * is never buffered here.
 */
struct s3_stream {
	struct s3 *s;
	CURL *c;
	CURLM *m;
	struct curl_slist *h;
	char *url;
	char *dst;
	size_t want, got;
	char *spill;
	size_t spill_n, spill_off, spill_cap;
	bool head_done, done;
	int err;
};

static size_t stream_header_cb(char *p, size_t size, size_t nmemb, void *arg)
{
	struct s3_stream *st = arg;
	size_t n = size * nmemb;
	long http = 0;

	if (n > 2 || (p[0] != '\r' && p[0] != '\n'))
		return n;
	/* end of a header block: skip interim 1xx answers */
	curl_easy_getinfo(st->c, CURLINFO_RESPONSE_CODE, &http);
	if (http >= 100 && http < 200)
		return n;
	st->head_done = true;
	if (http != 200 && http != 206) {
		st->err = status_of(http);
		if (!st->err)
			st->err = -EIO;
		return 0; /* abort the transfer */
	}
	return n;
}

static size_t stream_write_cb(char *p, size_t size, size_t nmemb, void *arg)
{
	struct s3_stream *st = arg;
	size_t n = size * nmemb, k = 0;

	if (st->dst && st->got < st->want) {
		k = st->want - st->got;
		if (k > n)
			k = n;
		memcpy(st->dst + st->got, p, k);
		st->got += k;
	}
	if (k < n) {
		size_t rest = n - k;
		if (st->spill_off == st->spill_n)
			st->spill_off = st->spill_n = 0;
		if (st->spill_n + rest > st->spill_cap) {
			st->spill_cap = st->spill_n + rest;
			st->spill = xrealloc(st->spill, st->spill_cap);
		}
		memcpy(st->spill + st->spill_n, p + k, rest);
		st->spill_n += rest;
	}
	return n;
}

/* Drive the transfer until `until` holds or it ends. */
static void stream_pump(struct s3_stream *st, bool (*until)(struct s3_stream *))
{
	while (!st->done && !until(st)) {
		int running = 0, left;
		CURLMsg *msg;

		curl_multi_perform(st->m, &running);
		while ((msg = curl_multi_info_read(st->m, &left))) {
			if (msg->msg != CURLMSG_DONE)
				continue;
			st->done = true;
			if (msg->data.result != CURLE_OK && !st->err) {
				pt_log("s3: GET '%s': %s", st->url,
				       curl_easy_strerror(msg->data.result));
				st->err = PT_EUNAVAIL;
			}
		}
		if (!running)
			st->done = true;
		if (!st->done && !until(st))
			curl_multi_poll(st->m, NULL, 0, 1000, NULL);
	}
}

static bool head_known(struct s3_stream *st)
{
	return st->head_done;
}

static bool filled(struct s3_stream *st)
{
	return st->got == st->want;
}

int s3_stream_open(struct s3 *s, const char *key, uint64_t off, uint64_t end,
		   struct s3_stream **out)
{
	struct s3_stream *st = xcalloc(1, sizeof(*st));
	char range[80];
	int err;

	st->s = s;
	st->c = handle_get(s);
	if (!(st->m = curl_multi_init()))
		abort();
	st->url = url_of(s, key, NULL);
	if (end == UINT64_MAX)
		snprintf(range, sizeof(range), "Range: bytes=%llu-",
			 (unsigned long long)off);
	else
		snprintf(range, sizeof(range), "Range: bytes=%llu-%llu",
			 (unsigned long long)off, (unsigned long long)end - 1);
	st->h = curl_slist_append(st->h,
				  "x-amz-content-sha256: UNSIGNED-PAYLOAD");
	st->h = curl_slist_append(st->h, range);
	if (!st->h)
		abort();
	setup(s, st->c, st->url, true);
	curl_easy_setopt(st->c, CURLOPT_HTTPHEADER, st->h);
	curl_easy_setopt(st->c, CURLOPT_WRITEFUNCTION, stream_write_cb);
	curl_easy_setopt(st->c, CURLOPT_WRITEDATA, st);
	curl_easy_setopt(st->c, CURLOPT_HEADERFUNCTION, stream_header_cb);
	curl_easy_setopt(st->c, CURLOPT_HEADERDATA, st);
	curl_multi_add_handle(st->m, st->c);
	/* the status line decides between a stream and an error */
	stream_pump(st, head_known);
	if (st->err || !st->head_done) {
		err = st->err ? st->err : PT_EUNAVAIL;
		s3_stream_close(st);
		return err;
	}
	*out = st;
	return 0;
}

ssize_t s3_stream_read(struct s3_stream *st, void *p, size_t n)
{
	size_t got = 0;

	if (st->spill_off < st->spill_n) {
		got = st->spill_n - st->spill_off;
		if (got > n)
			got = n;
		memcpy(p, st->spill + st->spill_off, got);
		st->spill_off += got;
	}
	if (got < n && !st->done && !st->err) {
		st->dst = p;
		st->want = n;
		st->got = got;
		stream_pump(st, filled);
		got = st->got;
		st->dst = NULL;
	}
	if (got > 0)
		return (ssize_t)got;
	return st->err;
}

void s3_stream_close(struct s3_stream *st)
{
	if (!st)
		return;
	curl_multi_remove_handle(st->m, st->c);
	curl_multi_cleanup(st->m);
	handle_put(st->s, st->c);
	curl_slist_free_all(st->h);
	free(st->url);
	free(st->spill);
	free(st);
}
