/*
 * download.c — `partage download URL_OR_ID`: the file object tells the
 * name, size, SHA-256 and direct URL; the bytes go to NAME.part, which is
 * renamed to NAME only after its SHA-256 matches, so a file of that name
 * is never a partial or corrupt one.
 *
 * Resume: a NAME.part left by an interrupted run is continued with
 *   Range: bytes=N-          (N = its size)
 *   If-Range: "<etag>"       (saved in NAME.part.etag when it began)
 * 206 appends, 200 (the representation changed) starts over.  Without a
 * saved ETag the part is only continued when there is a SHA-256 to check
 * the result against.
 *
 * Waiting: a tier that waits holds a download without a ticket until its
 * countdown ends (X-Partage-Wait: the seconds left, said on stderr).  A
 * 429 that speaks of a ticket (an older server) makes us POST
 * /api/v1/files/{id}/ticket, count its "wait" down on stderr and ask
 * again with ?ticket=; any other 429 is retried after its Retry-After.
 */
#define _GNU_SOURCE
#include "cli.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../http/disposition.h"
#include "../http/path.h"
#include "../util/banned.h"

/* Room for ".part.etag" after a name within NAME_MAX (255). */
#define DL_NAME_MAX 245
#define DL_ATTEMPTS 30
#define DL_TICKETS 5

struct dl {
	const struct cli_opts *o;
	const struct cli_target *t;
	char *path;             /* final name; NULL until known */
	char *part, *etag_path;
	char *etag;             /* validator of the bytes in the part */
	bool to_stdout;
	bool page_ok;           /* the URL may answer with its HTML page */
	int fd;
	uint64_t have;          /* bytes of the part this request continues */
	uint64_t got;           /* bytes written by this request */
	EVP_MD_CTX *md;
	int err;                /* local failure: -errno ... */
	const char *err_verb;   /* ... when doing this ("write") ... */
	const char *err_file;   /* ... to this file */
};

/* ---- names ---- */

static char *join(const char *dir, const char *name)
{
	size_t n;

	if (!dir || name[0] == '/')
		return xstrdup(name);
	n = strlen(dir);
	while (n > 1 && dir[n - 1] == '/')
		n--;
	return xasprintf("%.*s/%s", (int)n, dir, name);
}

static void set_path(struct dl *d, const char *dir, const char *name)
{
	d->path = join(dir, name);
	d->part = xasprintf("%s.part", d->path);
	d->etag_path = xasprintf("%s.part.etag", d->path);
}

/* A server-given name made safe to create in dir: one component. */
static void set_path_from_server(struct dl *d, const char *name, size_t n)
{
	char clean[DL_NAME_MAX + 1];

	disp_sanitize_name(name, n, clean, sizeof(clean));
	set_path(d, d->o->output_dir, clean);
}

/*
 * The file name in a Content-Disposition value; filename* (RFC 8187,
 * UTF-8 only) wins over filename:
 *   attachment; filename="a b.pdf"; filename*=UTF-8''a%20b.pdf
 * Returns a new string or NULL.
 */
static char *disposition_name(const char *v)
{
	char *plain = NULL, *ext = NULL;

	while (v && *v) {
		const char *p = v + strspn(v, " \t;"), *val, *end;
		size_t kn = strcspn(p, "=; \t");

		val = p + kn;
		while (*val == ' ' || *val == '\t')
			val++;
		if (*val != '=') {
			v = strchr(p, ';');
			continue;
		}
		val++;
		while (*val == ' ' || *val == '\t')
			val++;
		if (*val == '"') {
			/* quoted-string: backslash escapes one byte */
			struct pt_buf b;
			pt_buf_init(&b, 4096);
			for (end = val + 1; *end && *end != '"'; end++) {
				if (*end == '\\' && end[1])
					end++;
				pt_buf_add(&b, end, 1);
			}
			if (kn == 8 && strncasecmp(p, "filename", 8) == 0 &&
			    !plain)
				plain = pt_buf_detach(&b, NULL);
			pt_buf_release(&b);
			if (*end)
				end++;
		} else {
			end = val + strcspn(val, ";");
			if (kn == 8 && strncasecmp(p, "filename", 8) == 0 &&
			    !plain) {
				size_t n = (size_t)(end - val);
				while (n && (val[n - 1] == ' ' ||
					     val[n - 1] == '\t'))
					n--;
				plain = xstrndup(val, n);
			} else if (kn == 9 &&
				   strncasecmp(p, "filename*", 9) == 0 &&
				   !ext && strncasecmp(val, "UTF-8'", 6) == 0) {
				const char *q = strchr(val + 6, '\'');
				if (q && q < end) {
					size_t n = (size_t)(end - q - 1);
					char *out = xmalloc(n + 1);
					while (n && (q[n] == ' ' || q[n] == '\t'))
						n--;
					if (path_unescape(q + 1, n, out) >= 0)
						ext = out;
					else
						free(out);
				}
			}
		}
		v = strchr(end, ';');
	}
	if (ext) {
		free(plain);
		return ext;
	}
	return plain;
}

/* The last path segment of a URL, percent-decoded; a new string. */
static char *url_name(const char *url)
{
	size_t end = strcspn(url, "?#"), start = end;
	char *out;

	while (start > 0 && url[start - 1] != '/')
		start--;
	out = xmalloc(end - start + 1);
	if (path_unescape(url + start, end - start, out) < 0) {
		free(out);
		return xstrndup(url + start, end - start);
	}
	return out;
}

/* ---- the part file and its validator ---- */

static char *read_etag(const char *path)
{
	char buf[512];
	ssize_t n;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return NULL;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return NULL;
	while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == ' '))
		n--;
	return n ? xstrndup(buf, (size_t)n) : NULL;
}

static int write_all(int fd, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return -errno;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* Remember the response's ETag beside the part, or forget a stale one.
 * Only a strong tag may go in If-Range (RFC 9110 §13.1.5). */
static void save_etag(struct dl *d, struct cli_http *h)
{
	char *tag = cli_http_header(h, "ETag");
	int fd;

	free(d->etag);
	d->etag = NULL;
	if (!tag || tag[0] != '"') {
		free(tag);
		unlink(d->etag_path);
		return;
	}
	d->etag = tag;
	fd = open(d->etag_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
		  0666);
	/* without it a later run restarts instead of resuming: not fatal */
	if (fd >= 0) {
		if (write_all(fd, tag, strlen(tag)) ||
		    write_all(fd, "\n", 1))
			unlink(d->etag_path);
		close(fd);
	}
}

static int fail_file(struct dl *d, int err, const char *verb,
		     const char *file)
{
	d->err = err;
	d->err_verb = verb;
	d->err_file = file;
	return err;
}

/* Hash the first d->have bytes already in the part. */
static int hash_prefix(struct dl *d)
{
	char buf[65536];
	uint64_t left = d->have;
	int fd = open(d->part, O_RDONLY | O_CLOEXEC), err = 0;

	if (fd < 0)
		return fail_file(d, -errno, "read", d->part);
	while (left > 0) {
		ssize_t r = read(fd, buf, left < sizeof(buf) ?
				 (size_t)left : sizeof(buf));
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			err = fail_file(d, r < 0 ? -errno : -EIO, "read",
					d->part);
			break;
		}
		EVP_DigestUpdate(d->md, buf, (size_t)r);
		left -= (uint64_t)r;
	}
	close(fd);
	return err;
}

/* "bytes 1000-1999/5000" → first byte 1000. */
static int content_range_first(const char *v, uint64_t *first)
{
	size_t n;

	if (!v || strncasecmp(v, "bytes ", 6) != 0)
		return PT_EBADREQ;
	v += 6;
	n = strcspn(v, "-");
	return pt_parse_u64(v, n, first);
}

static int on_headers(struct cli_http *h)
{
	struct dl *d = h->arg;
	int flags = O_WRONLY | O_CREAT | O_CLOEXEC;

	if (h->status != 200 && h->status != 206)
		return 0;
	if (d->page_ok && h->status == 200) {
		/* a server that ignores Accept sends the download page */
		char *ct = cli_http_header(h, "Content-Type");
		char *cd = cli_http_header(h, "Content-Disposition");
		bool page = ct && strncasecmp(ct, "text/html", 9) == 0 && !cd;
		free(ct);
		if (!d->path && !d->to_stdout) {
			char *name = cd ? disposition_name(cd) : NULL;
			if (!name)
				name = url_name(h->url);
			set_path_from_server(d, name, strlen(name));
			free(name);
		}
		free(cd);
		if (page)
			return PT_EUNSUPPORTED;
	}
	if (h->status == 206) {
		char *cr = cli_http_header(h, "Content-Range");
		uint64_t first = UINT64_MAX;
		content_range_first(cr, &first);
		free(cr);
		if (first != d->have)
			return PT_ERANGE;
	} else {
		d->have = 0;
	}
	h->progress_base = d->have;
	char *held = cli_http_header(h, "X-Partage-Wait");
	if (held) { /* the server holds the body until the tier's wait ends */
		uint64_t secs;
		if (!pt_parse_u64(held, strlen(held), &secs) && secs &&
		    h->bar && h->bar->on)
			cli_progress_hold(h->bar,
					  (unsigned)(secs < 86400 ? secs
							: 86400),
					  h->progress_base);
		else
			fprintf(stderr, "partage: free download starts in %s s\n",
				held);
		free(held);
	}
	d->got = 0;
	EVP_DigestInit_ex(d->md, EVP_sha256(), NULL);
	if (d->to_stdout) {
		d->fd = STDOUT_FILENO;
		return 0;
	}
	if (d->have > 0 && hash_prefix(d))
		return d->err;
	save_etag(d, h);
	flags |= d->have > 0 ? O_APPEND : O_TRUNC;
	d->fd = open(d->part, flags, 0666);
	if (d->fd < 0)
		return fail_file(d, -errno, "open", d->part);
	if (d->have > 0 && d->o->progress)
		fprintf(stderr, "partage: resuming '%s' at byte %llu\n",
			d->path, (unsigned long long)d->have);
	return 0;
}

static int on_body(struct cli_http *h, const char *p, size_t n)
{
	struct dl *d = h->arg;
	int err = write_all(d->fd, p, n);

	if (err)
		return fail_file(d, err, "write",
				 d->to_stdout ? "stdout" : d->part);
	EVP_DigestUpdate(d->md, p, n);
	d->got += n;
	return 0;
}

/* ---- the wait ticket ---- */

/*
 * POST /api/v1/files/{id}/ticket → {"ticket","wait","ready_at"}.
 * Returns 0 with *ticket and *wait, PT_ELIMIT with *wait from the reply's
 * Retry-After (no ticket for now), or another status with msg set.
 */
static int ticket_get(struct dl *d, char **ticket, unsigned *wait,
		      struct pt_buf *msg)
{
	char *url = xasprintf("%s/api/v1/%s/%s/ticket", d->t->base, d->t->kind,
			      d->t->id);
	struct cli_http h;
	json_t *j = NULL;
	double w;
	int err;

	cli_http_init(&h, "POST", url);
	cli_http_add_header(&h, "Accept: application/json");
	err = cli_http_perform(&h, d->o);
	if (err) {
		cli_http_strerror(&h, err, msg);
		goto fail;
	}
	if (h.status == 429) {
		*wait = cli_http_retry_after(&h, 5);
		err = PT_ELIMIT;
		goto fail;
	}
	j = cli_http_json(&h);
	if (h.status / 100 != 2 || !cli_json_str(j, "ticket")) {
		cli_http_reason(&h, msg);
		err = PT_EUNAVAIL;
		goto fail;
	}
	*ticket = xstrdup(cli_json_str(j, "ticket"));
	w = json_number_value(json_object_get(j, "wait"));
	/* rounded up: arriving early only earns another 429 */
	*wait = w > 3600 ? 3600 : w > 0 ? (unsigned)w + ((unsigned)w < w) : 0;
fail:
	json_decref(j);
	cli_http_release(&h);
	free(url);
	return err;
}

static char *with_ticket(const char *url, const char *ticket)
{
	struct pt_buf b;

	if (!ticket)
		return xstrdup(url);
	pt_buf_init(&b, 64 * 1024);
	pt_buf_addf(&b, "%s%cticket=", url, strchr(url, '?') ? '&' : '?');
	path_escape(&b, ticket);
	return pt_buf_detach(&b, NULL);
}

/* ---- the whole download ---- */

static void hex(const unsigned char *p, size_t n, char *out)
{
	static const char digits[] = "0123456789abcdef";

	for (size_t i = 0; i < n; i++) {
		out[2 * i] = digits[p[i] >> 4];
		out[2 * i + 1] = digits[p[i] & 15];
	}
	out[2 * n] = '\0';
}

/* Where the bytes go, and how much of them a previous run left. */
static void plan_output(struct dl *d, const json_t *obj)
{
	const char *name = cli_json_str(obj, "name");
	const char *sha = cli_json_str(obj, "sha256");
	json_t *size = json_object_get(obj, "size");
	struct stat st;

	if (d->o->output && strcmp(d->o->output, "-") == 0) {
		d->to_stdout = true;
		return;
	}
	if (d->o->output)
		set_path(d, d->o->output_dir, d->o->output);
	else if (name)
		set_path_from_server(d, name, strlen(name));
	if (!d->part || stat(d->part, &st) < 0 || !S_ISREG(st.st_mode))
		return;
	d->etag = read_etag(d->etag_path);
	if (st.st_size > 0 && (d->etag || sha))
		d->have = (uint64_t)st.st_size;
	/* longer than the file: not ours to continue */
	if (json_is_integer(size) &&
	    d->have > (uint64_t)json_integer_value(size))
		d->have = 0;
}

static bool has_header(const struct cli_http *h, const char *name)
{
	char *v = cli_http_header(h, name);

	free(v);
	return v != NULL;
}

/* GET the bytes into the part, through retries, waits and restarts.
 * Returns 0, a local failure (d->err set), or a status with msg set. */
static int fetch(struct dl *d, const char *url, struct pt_buf *msg)
{
	char *ticket = NULL, *u = NULL;
	unsigned tickets = 0, wait = 0;
	const char *label;
	struct cli_http h;
	struct cli_progress bar; /* one line over every attempt */
	int err = 0;

	cli_progress_init(&bar, d->o, NULL, 0);
	cli_http_init(&h, "GET", NULL);
	for (int attempt = 0;; attempt++) {
		if (attempt == DL_ATTEMPTS) {
			pt_buf_reset(msg);
			pt_buf_adds(msg, "gave up after too many retries");
			err = PT_ELIMIT;
			goto fail;
		}
		cli_http_release(&h);
		free(u);
		u = with_ticket(url, ticket);
		cli_http_init(&h, "GET", u);
		h.follow = true;
		label = d->path ? strrchr(d->path, '/') : NULL;
		bar.label = label ? label + 1 : d->path ? d->path : d->t->id;
		h.bar = &bar;
		h.progress_base = d->have;
		h.on_headers = on_headers;
		h.on_body = on_body;
		h.arg = d;
		/* not text/html: the share URL then serves the bytes */
		cli_http_add_header(&h, "Accept: */*");
		if (d->have > 0) {
			cli_http_add_header(&h, "Range: bytes=%llu-",
					    (unsigned long long)d->have);
			if (d->etag)
				cli_http_add_header(&h, "If-Range: %s",
						    d->etag);
		}
		err = cli_http_perform(&h, d->o);
		if (d->fd >= 0 && d->fd != STDOUT_FILENO)
			close(d->fd);
		d->fd = -1;
		if (err == PT_ERANGE && !d->err) {
			/* the server continued elsewhere: start over */
			d->have = 0;
			continue;
		}
		if (err == PT_EUNSUPPORTED && !d->err) {
			pt_buf_reset(msg);
			pt_buf_adds(msg, "the server sent a web page, not "
					 "the file");
			goto fail;
		}
		if (err) {
			if (!d->err)
				cli_http_strerror(&h, err, msg);
			goto fail;
		}
		if (h.status == 200 || h.status == 206)
			break;
		if (h.status == 416 && d->have > 0) {
			d->have = 0;
			continue;
		}
		if (h.status != 429) {
			cli_http_reason(&h, msg);
			err = PT_EUNAVAIL;
			goto fail;
		}
		/* 429: the tier's wait, or a busy slot */
		if (h.body.p && strcasestr(h.body.p, "ticket") &&
		    (!ticket || !has_header(&h, "Retry-After"))) {
			if (tickets++ == DL_TICKETS) {
				cli_http_reason(&h, msg);
				err = PT_ELIMIT;
				goto fail;
			}
			free(ticket);
			ticket = NULL;
			err = ticket_get(d, &ticket, &wait, msg);
			if (err && err != PT_ELIMIT)
				goto fail;
			if (wait)
				cli_wait(d->o, wait, ticket ?
					 "free download starts" :
					 "no download ticket yet, retrying");
		} else {
			cli_http_reason(&h, msg);
			pt_buf_adds(msg, "; retrying");
			cli_wait(d->o, cli_http_retry_after(&h, 10), msg->p);
		}
	}
fail:
	cli_http_release(&h);
	free(ticket);
	free(u);
	return err;
}

/* A folder downloads as its zip: the file object of that zip, from the
 * folder object (no SHA-256: the ETag guards a resume). */
static void folder_as_file(json_t **obj)
{
	const char *name = cli_json_str(*obj, "name");
	const char *url = cli_json_str(*obj, "zip_url");
	json_t *zip = json_object_get(*obj, "zip");
	json_t *size = zip ? json_object_get(zip, "size") : NULL;
	json_t *f = json_object();

	if (name) {
		char *zname = xasprintf("%s.zip", name);
		json_object_set_new(f, "name", json_string(zname));
		free(zname);
	}
	if (url)
		json_object_set_new(f, "download_url", json_string(url));
	if (json_is_integer(size))
		json_object_set(f, "size", size);
	json_decref(*obj);
	*obj = f;
}

static int download_one(const struct cli_opts *o, const char *arg)
{
	struct dl d = { .o = o, .fd = -1 };
	struct cli_target t = { 0 };
	struct pt_buf msg;
	json_t *obj = NULL, *size;
	char *url = NULL;
	const char *sha;
	unsigned char md[EVP_MAX_MD_SIZE];
	char got[2 * EVP_MAX_MD_SIZE + 1];
	unsigned mdlen = 0;
	int err, ret = -1;

	pt_buf_init(&msg, 4096);
	d.md = EVP_MD_CTX_new();
	PT_ASSERT(d.md);
	if (cli_target_parse(arg, o, &t)) {
		cli_err("not a partage id or link: '%s'", arg);
		goto fail;
	}
	d.t = &t;

	err = cli_file_object(o, &t, &obj, &msg);
	if (err && err != PT_EUNSUPPORTED) {
		cli_err("cannot download '%s': %s", arg, msg.p);
		goto fail;
	}
	if (obj && strcmp(t.kind, "folders") == 0)
		folder_as_file(&obj);
	plan_output(&d, obj);
	sha = cli_json_str(obj, "sha256");
	size = json_object_get(obj, "size");
	if (cli_json_str(obj, "download_url")) {
		url = cli_url_resolve(t.base, cli_json_str(obj, "download_url"));
	} else {
		/* not a partage API: ask the link itself for the bytes */
		url = t.direct ? xstrdup(t.direct) :
		      xasprintf("%s/%s", t.base, t.id);
		d.page_ok = true;
	}

	if (d.have > 0 && json_is_integer(size) &&
	    d.have == (uint64_t)json_integer_value(size)) {
		/* a complete part that an earlier run did not rename */
		EVP_DigestInit_ex(d.md, EVP_sha256(), NULL);
		err = hash_prefix(&d);
	} else {
		err = fetch(&d, url, &msg);
	}
	if (err && d.err) {
		cli_err("cannot %s '%s': %s", d.err_verb, d.err_file,
			pt_strerror(d.err));
		goto fail;
	}
	if (err) {
		cli_err("cannot download '%s': %s", arg, msg.p);
		goto fail;
	}

	EVP_DigestFinal_ex(d.md, md, &mdlen);
	hex(md, mdlen, got);
	if (sha && strcasecmp(sha, got) != 0) {
		/* a corrupt part must not be resumed either */
		if (d.part) {
			unlink(d.part);
			unlink(d.etag_path);
		}
		cli_err("checksum mismatch for '%s': expected %s, got %s",
			d.path ? d.path : "stdout", sha, got);
		goto fail;
	}
	if (d.to_stdout) {
		if (fflush(stdout) != 0) {
			cli_err("cannot write to stdout: %s", strerror(errno));
			goto fail;
		}
	} else {
		if (rename(d.part, d.path) < 0) {
			cli_err("cannot rename '%s' to '%s': %s", d.part,
				d.path, strerror(errno));
			goto fail;
		}
		unlink(d.etag_path);
		puts(d.path);
	}
	ret = 0;
fail:
	cli_target_release(&t);
	json_decref(obj);
	free(url);
	free(d.path);
	free(d.part);
	free(d.etag_path);
	free(d.etag);
	EVP_MD_CTX_free(d.md);
	pt_buf_release(&msg);
	return ret;
}

int cli_download(const struct cli_opts *o, int argc, char **argv)
{
	int ret = CLI_OK;

	for (int i = 0; i < argc; i++)
		if (download_one(o, argv[i]))
			ret = CLI_FAIL;
	return ret;
}
