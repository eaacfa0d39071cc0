/*
 * blob.c — the backend-independent half of the blob store: SHA-256 while
 * writing (OpenSSL EVP, which uses SHA-NI where the CPU has it) and the
 * CRC-32 that zips need (libdeflate, which uses PCLMULQDQ: about 0.1 s of
 * CPU per GiB where zlib's crc32 takes 0.35-0.48), sizes, and the dispatch
 * to the backend's vtable.  Backends never see a hash they
 * did not get from here, so an object's name is always its content's hash.
 *
 * Hashing costs more CPU than receiving and writing together (SHA-256 is
 * about half of a PUT's cost per byte), so past its first HASH_ASYNC_AFTER
 * bytes a writer hands the hashing to a thread of its own: the request
 * thread copies each piece into a ring of HASH_SLOTS slots and goes on to
 * write it, and the hasher takes the filled slots in order.  A full ring
 * makes the writer wait (for at most one slot's hashing), and commit joins
 * the hasher before it reads the digest, so the name is the hash of every
 * byte written, in order, as before.  At most twice as many hashers as
 * CPUs run at once; a writer beyond that, or one whose thread cannot
 * start, hashes in line.
 */
#include "blob.h"

#include <errno.h>
#include <libdeflate.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "blobcache.h"
#include "runhash.h"
#include "../util/pt.h"
#include "../util/banned.h"

#define HASH_SLOT (256 * 1024)
#define HASH_SLOTS 8
#define HASH_ASYNC_AFTER (4u << 20)

/* A writer's hasher thread and the ring it takes from (see the top). */
struct hasher {
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t filled; /* the hasher waits: a slot filled, or stop */
	pthread_cond_t freed;  /* the writer waits: a slot hashed */
	unsigned head, tail;   /* slots [tail, head) are filled (mod) */
	bool stop;             /* no more slots: finish them and exit */
	size_t len[HASH_SLOTS];
	size_t fill;           /* the writer's bytes in slot head (its own) */
	unsigned char *ring;   /* HASH_SLOTS * HASH_SLOT */
};

struct blob_writer {
	struct blob_store *store;
	void *state;
	/* md and crc belong to the hasher thread while h is running */
	EVP_MD_CTX *md;
	uint32_t crc; /* zip needs it (folders.c): cheap beside SHA-256 */
	struct hasher *h;
	bool hashed_in_line; /* no hasher: too many, or it could not start */
	uint64_t size;
	bool committed;
	char hex[BLOB_HEX_LEN + 1];
};

static atomic_int hashers_running;
static atomic_ulong hashers_started;

unsigned long blob_hash_threads_started(void)
{
	return atomic_load(&hashers_started);
}

struct blob_reader {
	struct blob_store *store;
	void *state;              /* the backend's; NULL when mem */
	struct blob_cached *mem;  /* the bytes, from the cache */
	uint64_t size;
};

void blob_store_close(struct blob_store *s)
{
	if (s)
		s->ops->close(s);
}

int blob_store_cleanup(struct blob_store *s)
{
	return s->ops->cleanup(s);
}

int blob_writer_open(struct blob_store *s, struct blob_writer **out)
{
	struct blob_writer *w = xcalloc(1, sizeof(*w));
	int err;

	w->store = s;
	w->crc = 0;
	w->md = EVP_MD_CTX_new();
	if (!w->md)
		abort(); /* allocation failure: the x* policy */
	if (!EVP_DigestInit_ex(w->md, EVP_sha256(), NULL)) {
		err = PT_EINTERNAL;
		goto fail;
	}
	err = s->ops->writer_open(s, &w->state);
	if (err)
		goto fail;
	*out = w;
	return 0;
fail:
	EVP_MD_CTX_free(w->md);
	free(w);
	return err;
}

static void hash_update(struct blob_writer *w, const void *p, size_t n)
{
	EVP_DigestUpdate(w->md, p, n);
	w->crc = libdeflate_crc32(w->crc, p, n);
}

static void *hasher_main(void *arg)
{
	struct blob_writer *w = arg;
	struct hasher *h = w->h;

	pt_thread_name("hasher");
	pthread_mutex_lock(&h->mu);
	for (;;) {
		while (h->tail == h->head && !h->stop)
			pthread_cond_wait(&h->filled, &h->mu);
		if (h->tail == h->head)
			break; /* stopped, and every slot is hashed */
		unsigned i = h->tail % HASH_SLOTS;
		size_t n = h->len[i];
		pthread_mutex_unlock(&h->mu);
		hash_update(w, h->ring + (size_t)i * HASH_SLOT, n);
		pthread_mutex_lock(&h->mu);
		h->tail++;
		pthread_cond_signal(&h->freed);
	}
	pthread_mutex_unlock(&h->mu);
	return NULL;
}

/* Free a hasher whose thread has ended (or never started) and give its
 * place back. */
static void hasher_free(struct hasher *h)
{
	pthread_cond_destroy(&h->freed);
	pthread_cond_destroy(&h->filled);
	pthread_mutex_destroy(&h->mu);
	free(h->ring);
	free(h);
	atomic_fetch_sub(&hashers_running, 1);
}

/* Start w's hasher; false (hash in line from now on) when too many run or
 * the thread cannot start. */
static bool hasher_start(struct blob_writer *w)
{
	static atomic_long cpus;
	long n = atomic_load(&cpus);
	if (!n) {
		n = sysconf(_SC_NPROCESSORS_ONLN) > 0
			    ? sysconf(_SC_NPROCESSORS_ONLN)
			    : 1;
		atomic_store(&cpus, n);
	}
	if (atomic_fetch_add(&hashers_running, 1) >= 2 * n) {
		atomic_fetch_sub(&hashers_running, 1);
		return false;
	}
	struct hasher *h = xcalloc(1, sizeof(*h));
	h->ring = xmalloc((size_t)HASH_SLOTS * HASH_SLOT);
	pthread_mutex_init(&h->mu, NULL);
	pthread_cond_init(&h->filled, NULL);
	pthread_cond_init(&h->freed, NULL);
	w->h = h;
	if (pthread_create(&h->thread, NULL, hasher_main, w) != 0) {
		w->h = NULL;
		hasher_free(h);
		return false;
	}
	atomic_fetch_add(&hashers_started, 1);
	return true;
}

/* Hand slot head (h->fill bytes) to the hasher. */
static void hasher_publish(struct hasher *h)
{
	pthread_mutex_lock(&h->mu);
	h->len[h->head % HASH_SLOTS] = h->fill;
	h->head++;
	pthread_cond_signal(&h->filled);
	pthread_mutex_unlock(&h->mu);
	h->fill = 0;
}

static void hasher_feed(struct hasher *h, const unsigned char *p, size_t n)
{
	while (n > 0) {
		if (h->fill == 0) {
			/* a new slot: wait until the hasher has freed one */
			pthread_mutex_lock(&h->mu);
			while (h->head - h->tail == HASH_SLOTS)
				pthread_cond_wait(&h->freed, &h->mu);
			pthread_mutex_unlock(&h->mu);
		}
		size_t k = HASH_SLOT - h->fill;
		if (k > n)
			k = n;
		memcpy(h->ring + (size_t)(h->head % HASH_SLOTS) * HASH_SLOT +
			       h->fill,
		       p, k);
		h->fill += k;
		p += k;
		n -= k;
		if (h->fill == HASH_SLOT)
			hasher_publish(h);
	}
}

/* Wait until every byte fed is hashed and end the thread: md and crc are
 * the writer's again. */
static void hasher_finish(struct blob_writer *w)
{
	struct hasher *h = w->h;
	if (!h)
		return;
	if (h->fill > 0)
		hasher_publish(h);
	pthread_mutex_lock(&h->mu);
	h->stop = true;
	pthread_cond_signal(&h->filled);
	pthread_mutex_unlock(&h->mu);
	pthread_join(h->thread, NULL);
	hasher_free(h);
	w->h = NULL;
}

int blob_writer_write(struct blob_writer *w, const void *p, size_t n)
{
	int err;
	if (n == 0)
		return 0;
	if (!w->h && !w->hashed_in_line && w->size >= HASH_ASYNC_AFTER)
		w->hashed_in_line = !hasher_start(w);
	/* the hasher (or this thread) hashes exactly the bytes written */
	if (w->h)
		hasher_feed(w->h, p, n);
	else
		hash_update(w, p, n);
	err = w->store->ops->writer_write(w->state, p, n);
	if (err)
		return err;
	w->size += n;
	return 0;
}

void blob_writer_expect(struct blob_writer *w, uint64_t max)
{
	if (!w->size && w->store->ops->writer_expect)
		w->store->ops->writer_expect(w->state, max);
}

uint64_t blob_writer_size(const struct blob_writer *w)
{
	return w->size;
}

uint32_t blob_writer_crc32(const struct blob_writer *w)
{
	PT_ASSERT(!w->h); /* after blob_writer_commit */
	return w->crc;
}

static void writer_free(struct blob_writer *w)
{
	hasher_finish(w);
	EVP_MD_CTX_free(w->md);
	free(w);
}

/* A SHA-256 as the name of its blob. */
static void blob_hex(const unsigned char md[32], char hex[BLOB_HEX_LEN + 1])
{
	static const char digits[] = "0123456789abcdef";

	for (unsigned i = 0; i < 32; i++) {
		hex[2 * i] = digits[md[i] >> 4];
		hex[2 * i + 1] = digits[md[i] & 15];
	}
	hex[BLOB_HEX_LEN] = '\0';
}

int blob_writer_commit(struct blob_writer *w, char hex[BLOB_HEX_LEN + 1],
		       bool *existed)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;

	PT_ASSERT(!w->committed);
	hasher_finish(w);
	if (!EVP_DigestFinal_ex(w->md, md, &mdlen) || mdlen != 32)
		return PT_EINTERNAL;
	blob_hex(md, hex);
	int err = w->store->ops->writer_commit(w->state, hex, w->size, existed);
	if (!err) {
		w->committed = true;
		memcpy(w->hex, hex, sizeof(w->hex));
	}
	return err;
}

int blob_writer_ensure(struct blob_writer *w)
{
	PT_ASSERT(w->committed);
	return w->store->ops->writer_ensure(w->state, w->hex);
}

void blob_writer_abort(struct blob_writer *w)
{
	if (!w)
		return;
	w->store->ops->writer_abort(w->state);
	writer_free(w);
}

int blob_reader_open(struct blob_store *s, const char *hex,
		     struct blob_reader **out)
{
	struct blob_reader *r;
	void *state;
	uint64_t size;
	int err;

	if (!blob_hex_valid(hex))
		return -ENOENT;
	err = s->ops->reader_open(s, hex, &state, &size);
	if (err)
		return err;
	r = xmalloc(sizeof(*r));
	r->store = s;
	r->state = state;
	r->mem = NULL;
	r->size = size;
	*out = r;
	return 0;
}

/* From the cache, or opened and, when small and local (an fd: reading it
 * whole costs what serving it would), read into the cache. */
int blob_reader_open_cached(struct blob_store *s, struct blob_cache *c,
			    const char *hex, struct blob_reader **out)
{
	struct blob_cached *e = c ? blob_cache_get(c, hex) : NULL;
	if (!e) {
		int err = blob_reader_open(s, hex, out);
		struct blob_reader *r = *out;
		if (err || !c || r->size > blob_cache_max_entry(c) ||
		    blob_reader_fd(r) < 0)
			return err;
		unsigned char *buf = xmalloc(r->size ? r->size : 1);
		ssize_t k = blob_reader_pread(r, buf, r->size, 0);
		if (k == (ssize_t)r->size)
			e = blob_cache_put(c, hex, buf, r->size);
		free(buf);
		if (!e) /* short read (the size check reports it) or no room */
			return 0;
		s->ops->reader_close(r->state);
		r->state = NULL;
		r->mem = e;
		return 0;
	}
	struct blob_reader *r = xmalloc(sizeof(*r));
	r->store = s;
	r->state = NULL;
	r->mem = e;
	r->size = blob_cached_size(e);
	*out = r;
	return 0;
}

uint64_t blob_reader_size(const struct blob_reader *r)
{
	return r->size;
}

bool blob_reader_cached(const struct blob_reader *r)
{
	return r->mem != NULL;
}

int blob_reader_fd(struct blob_reader *r)
{
	return r->mem ? -1 : r->store->ops->reader_fd(r->state);
}

int blob_reader_take_fd(struct blob_reader *r)
{
	return r->mem ? -1 : r->store->ops->reader_take_fd(r->state);
}

ssize_t blob_reader_pread(struct blob_reader *r, void *p, size_t n,
			  uint64_t off)
{
	if (!r->mem)
		return r->store->ops->reader_pread(r->state, p, n, off);
	if (off >= r->size)
		return 0;
	if (n > r->size - off)
		n = (size_t)(r->size - off);
	memcpy(p, blob_cached_bytes(r->mem) + off, n);
	return (ssize_t)n;
}

void blob_reader_close(struct blob_reader *r)
{
	if (!r)
		return;
	if (r->mem)
		blob_cache_unref(r->mem);
	else
		r->store->ops->reader_close(r->state);
	free(r);
}

int blob_stat(struct blob_store *s, const char *hex, uint64_t *size)
{
	if (!blob_hex_valid(hex))
		return -ENOENT;
	return s->ops->stat(s, hex, size);
}

int blob_presign(struct blob_store *s, const char *hex,
		 const struct blob_presign *p, char **url)
{
	if (!blob_hex_valid(hex))
		return -ENOENT;
	if (!s->ops->presign)
		return -ENOTSUP;
	return s->ops->presign(s, hex, p, url);
}

int blob_remove(struct blob_store *s, const char *hex)
{
	if (!blob_hex_valid(hex))
		return -ENOENT;
	return s->ops->remove(s, hex);
}

int blob_list(struct blob_store *s,
	      int (*cb)(const char *hex, uint64_t size, int64_t mtime, void *arg), void *arg)
{
	return s->ops->list(s, cb, arg);
}

bool blob_store_may_block(const struct blob_store *s)
{
	return s && strcmp(s->ops->name, "fs") != 0;
}

bool blob_hex_valid(const char *hex)
{
	size_t i;
	if (!hex)
		return false;
	for (i = 0; i < BLOB_HEX_LEN; i++)
		if (!((hex[i] >= '0' && hex[i] <= '9') ||
		      (hex[i] >= 'a' && hex[i] <= 'f')))
			return false;
	return hex[i] == '\0';
}

/* ---- partial uploads ---- */

struct blob_partial {
	struct blob_store *store;
	void *state;
	uint64_t size;
};

static bool uid_valid(const char *uid)
{
	size_t n = 0;
	for (; uid[n]; n++)
		if (!((uid[n] >= '0' && uid[n] <= '9') ||
		      (uid[n] >= 'A' && uid[n] <= 'Z') ||
		      (uid[n] >= 'a' && uid[n] <= 'z')))
			return false;
	return n > 0 && n <= 64;
}

int blob_partial_create(struct blob_store *s, const char *uid)
{
	if (!uid_valid(uid))
		return PT_EBADREQ;
	return s->ops->partial_create(s, uid);
}

int blob_partial_open(struct blob_store *s, const char *uid, uint64_t offset,
		      struct blob_partial **out)
{
	void *state;
	int err;
	if (!uid_valid(uid))
		return PT_EBADREQ;
	if ((err = s->ops->partial_open(s, uid, offset, &state)))
		return err;
	struct blob_partial *p = xmalloc(sizeof(*p));
	p->store = s;
	p->state = state;
	p->size = offset;
	*out = p;
	return 0;
}

int blob_partial_write(struct blob_partial *p, const void *data, size_t n)
{
	int err = p->store->ops->partial_write(p->state, data, n);
	if (!err)
		p->size += n;
	return err;
}

uint64_t blob_partial_size(const struct blob_partial *p)
{
	return p->size;
}

int blob_partial_sync(struct blob_partial *p)
{
	return p->store->ops->partial_sync(p->state);
}

int blob_partial_truncate(struct blob_partial *p, uint64_t offset)
{
	int err = p->store->ops->partial_truncate(p->state, offset);
	if (!err)
		p->size = offset;
	return err;
}

void blob_partial_close(struct blob_partial *p)
{
	if (!p)
		return;
	p->store->ops->partial_close(p->state);
	free(p);
}

int blob_partial_commit(struct blob_store *s, const char *uid, uint64_t size,
			const struct runhash *known,
			char hex[BLOB_HEX_LEN + 1], bool *existed,
			uint32_t *crc)
{
	uint32_t c = 0;
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	size_t bufsz = 1 << 20;
	char *buf;
	uint64_t off = 0;
	EVP_MD_CTX *ctx;
	int err = 0;

	if (!uid_valid(uid))
		return PT_EBADREQ;
	if (known && known->bytes == size) {
		/* hashed as it was written, each byte as it went to the
		 * partial that is durable now: the same bytes */
		runhash_final(known, md, &c);
		goto link;
	}
	ctx = EVP_MD_CTX_new();
	buf = xmalloc(bufsz);
	if (!ctx)
		abort();
	EVP_DigestInit_ex(ctx, EVP_sha256(), NULL);
	/* the hash is taken from what is stored, not from what was sent:
	 * the name of a blob is always the hash of its bytes */
	while (off < size) {
		size_t want = size - off < bufsz ? (size_t)(size - off) : bufsz;
		ssize_t k = s->ops->partial_pread(s, uid, buf, want, off);
		if (k < 0) {
			err = (int)k;
			break;
		}
		if (k == 0) {
			err = PT_ECORRUPT; /* shorter than its durable offset */
			break;
		}
		EVP_DigestUpdate(ctx, buf, (size_t)k);
		c = libdeflate_crc32(c, buf, (size_t)k);
		off += (uint64_t)k;
	}
	if (!err)
		EVP_DigestFinal_ex(ctx, md, &mdlen);
	EVP_MD_CTX_free(ctx);
	free(buf);
	if (err)
		return err;
link:
	blob_hex(md, hex);
	if (crc)
		*crc = c;
	return s->ops->partial_link(s, uid, hex, existed);
}

int blob_partial_relink(struct blob_store *s, const char *uid,
			const char *hex)
{
	bool existed;
	if (!uid_valid(uid) || !blob_hex_valid(hex))
		return PT_EBADREQ;
	return s->ops->partial_link(s, uid, hex, &existed);
}

int blob_partial_concat(struct blob_store *s, const char *dst,
			const char *const *src, size_t n)
{
	if (!uid_valid(dst))
		return PT_EBADREQ;
	for (size_t i = 0; i < n; i++)
		if (!uid_valid(src[i]))
			return PT_EBADREQ;
	return s->ops->partial_concat(s, dst, src, n);
}

int blob_partial_remove(struct blob_store *s, const char *uid)
{
	if (!uid_valid(uid))
		return PT_EBADREQ;
	return s->ops->partial_remove(s, uid);
}

ssize_t blob_partial_pread(struct blob_store *s, const char *uid, void *buf,
			   size_t n, uint64_t off)
{
	if (!uid_valid(uid))
		return PT_EBADREQ;
	return s->ops->partial_pread(s, uid, buf, n, off);
}

int blob_partial_list(struct blob_store *s,
		      int (*cb)(const char *uid, int64_t mtime, void *arg),
		      void *arg)
{
	if (!s->ops->partial_list)
		return 0;
	return s->ops->partial_list(s, cb, arg);
}

int blob_crc32(struct blob_store *s, const char *hex, uint32_t *crc)
{
	struct blob_reader *r;
	size_t bufsz = 1 << 20;
	uint64_t off = 0, size;
	uint32_t c = 0;
	int err = blob_reader_open(s, hex, &r);
	if (err)
		return err;
	size = blob_reader_size(r);
	char *buf = xmalloc(bufsz);
	while (off < size) {
		size_t want = size - off < bufsz ? (size_t)(size - off) : bufsz;
		ssize_t k = blob_reader_pread(r, buf, want, off);
		if (k <= 0) {
			err = k < 0 ? (int)k : PT_ECORRUPT;
			break;
		}
		c = libdeflate_crc32(c, buf, (size_t)k);
		off += (uint64_t)k;
	}
	free(buf);
	blob_reader_close(r);
	if (!err)
		*crc = c;
	return err;
}
