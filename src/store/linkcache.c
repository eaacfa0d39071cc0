/*
 * linkcache.c — copies of link rows for the download path (linkcache.h).
 *
 * Direct-mapped: a link id hashes to one slot, and a newer row takes the
 * slot of an older one.  Slots are guarded by a few striped mutexes, so
 * two threads serving different links rarely meet.  A slot's strings live
 * in one allocation of their own, replaced whole.
 */
#define _GNU_SOURCE
#include "linkcache.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "reserve.h"
#include "../util/pool.h"
#include "../util/pt.h"
#include "../util/banned.h"

#define STRIPES 64

struct slot {
	bool used;
	uint64_t gen;
	uint64_t born_ns;
	struct link l; /* its strings point into strs */
	char *strs;
};

struct linkcache {
	uint64_t *gen;   /* shared mapping, or &own */
	uint64_t own;
	bool mapped;
	uint64_t ttl_ns;
	size_t mask;     /* slots - 1 */
	struct slot *slots;
	pthread_mutex_t locks[STRIPES];
};

/*
 * The counter file: 8 bytes, mapped by every process of the data dir.
 * Its block must exist before it is mapped: a store through a shared
 * mapping into a page the file system has no block for (a sparse file
 * extended with ftruncate, on a full disk) is a SIGBUS that kills the
 * process, not an error it can report.  So a new file is written whole
 * in a temp file and linked into place (no process maps it half-made),
 * and an existing one gets its block from posix_fallocate (written, if
 * it never was), which fails cleanly with ENOSPC; then the reserve is
 * released and it is tried once more.
 */
static int gen_create(const char *path)
{
	static const uint64_t zero;
	char *tmp = xasprintf("%s.XXXXXX", path);
	int err = 0, fd = mkostemp(tmp, O_CLOEXEC);

	if (fd < 0) {
		err = -errno;
		goto done;
	}
	errno = 0;
	if (fchmod(fd, 0644) < 0 ||
	    pwrite(fd, &zero, sizeof(zero), 0) != (ssize_t)sizeof(zero) ||
	    fdatasync(fd) < 0 || (link(tmp, path) < 0 && errno != EEXIST))
		err = errno ? -errno : -EIO;
	close(fd);
	unlink(tmp);
done:
	free(tmp);
	return err;
}

/* Give fd's first 8 bytes a block of their own, written. */
static int gen_allocate(int fd)
{
	struct stat st;
	uint64_t v = 0;
	int err;

	if (fstat(fd, &st) < 0)
		return -errno;
	if ((err = -posix_fallocate(fd, 0, sizeof(uint64_t))))
		return err;
	if (st.st_blocks > 0)
		return 0;
	/* never written (a sparse file of an older partaged): write its
	 * bytes back, so the block is a written one, not an unwritten
	 * extent that a store through the mapping must still convert */
	if (pread(fd, &v, sizeof(v), 0) < 0 ||
	    pwrite(fd, &v, sizeof(v), 0) != (ssize_t)sizeof(v) ||
	    fdatasync(fd) < 0)
		return errno ? -errno : -EIO;
	return 0;
}

static int gen_open(const char *path, int *out)
{
	int err, fd = open(path, O_RDWR | O_CLOEXEC);

	if (fd < 0 && errno == ENOENT) {
		errno = 0;
		if ((err = gen_create(path)))
			return err;
		fd = open(path, O_RDWR | O_CLOEXEC);
	}
	if (fd < 0)
		return -errno;
	errno = 0;
	if ((err = gen_allocate(fd))) {
		close(fd);
		return err;
	}
	*out = fd;
	return 0;
}

static int map_gen(const char *path, uint64_t **out)
{
	int fd = -1;
	int err = gen_open(path, &fd);

	if ((err == -ENOSPC || err == -EDQUOT) && reserve_release())
		err = gen_open(path, &fd);
	if (err)
		return err;
	void *p = mmap(NULL, sizeof(uint64_t), PROT_READ | PROT_WRITE,
		       MAP_SHARED, fd, 0);
	if (p == MAP_FAILED)
		err = -errno;
	else
		*out = p;
	close(fd);
	return err;
}

int linkcache_new(const char *genfile, uint64_t ttl_ms, size_t slots,
		  struct linkcache **out)
{
	struct linkcache *c = xcalloc(1, sizeof(*c));
	size_t n = 1;
	int err;

	while (n < slots)
		n <<= 1;
	c->gen = &c->own;
	if (genfile) {
		if ((err = map_gen(genfile, &c->gen))) {
			free(c);
			return err;
		}
		c->mapped = true;
	}
	c->ttl_ns = ttl_ms * 1000000ull;
	c->mask = n - 1;
	c->slots = xcalloc(n, sizeof(*c->slots));
	for (int i = 0; i < STRIPES; i++)
		pthread_mutex_init(&c->locks[i], NULL);
	*out = c;
	return 0;
}

void linkcache_free(struct linkcache *c)
{
	if (!c)
		return;
	for (size_t i = 0; i <= c->mask; i++)
		free(c->slots[i].strs);
	for (int i = 0; i < STRIPES; i++)
		pthread_mutex_destroy(&c->locks[i]);
	if (c->mapped)
		munmap(c->gen, sizeof(uint64_t));
	free(c->slots);
	free(c);
}

uint64_t linkcache_gen(const struct linkcache *c)
{
	return __atomic_load_n(c->gen, __ATOMIC_ACQUIRE);
}

void linkcache_bump(struct linkcache *c)
{
	__atomic_add_fetch(c->gen, 1, __ATOMIC_ACQ_REL);
}

/* FNV-1a of the id. */
static size_t slot_of(const struct linkcache *c, const char *id)
{
	uint64_t h = 14695981039346656037ull;
	for (; *id; id++)
		h = (h ^ (unsigned char)*id) * 1099511628211ull;
	return (size_t)(h ^ (h >> 32)) & c->mask;
}

static pthread_mutex_t *lock_of(struct linkcache *c, size_t i)
{
	return &c->locks[i % STRIPES];
}

bool linkcache_get(struct linkcache *c, const char *id, struct pt_pool *pool,
		   struct link *l)
{
	size_t i = slot_of(c, id);
	struct slot *s = &c->slots[i];
	uint64_t gen = linkcache_gen(c), now = pt_mono_ns();
	bool hit;

	pthread_mutex_lock(lock_of(c, i));
	hit = s->used && s->gen == gen && now - s->born_ns < c->ttl_ns &&
	      strcmp(s->l.id, id) == 0;
	if (hit) {
		*l = s->l;
		l->name = pt_pstrdup(pool, s->l.name);
		l->mime = pt_pstrdup(pool, s->l.mime);
		l->reason = pt_pstrdup(pool, s->l.reason);
		l->password_hash = pt_pstrdup(pool, s->l.password_hash);
	}
	pthread_mutex_unlock(lock_of(c, i));
	return hit;
}

/* Copy s into the block at *p, advancing it; "" for NULL. */
static char *put_str(char **p, const char *s)
{
	size_t n = s ? strlen(s) : 0;
	char *at = *p;
	if (n)
		memcpy(at, s, n);
	at[n] = '\0';
	*p += n + 1;
	return at;
}

void linkcache_put(struct linkcache *c, const struct link *l, uint64_t gen)
{
	if (l->state != LINK_LIVE || l->max_downloads || !c->ttl_ns)
		return;
	const char *strs[] = { l->name, l->mime, l->reason,
			       l->password_hash };
	size_t need = 0;
	for (size_t k = 0; k < PT_ARRAY_LEN(strs); k++)
		need += (strs[k] ? strlen(strs[k]) : 0) + 1;
	char *block = xmalloc(need), *p = block;
	struct link copy = *l;
	copy.name = put_str(&p, l->name);
	copy.mime = put_str(&p, l->mime);
	copy.reason = put_str(&p, l->reason);
	copy.password_hash = put_str(&p, l->password_hash);

	size_t i = slot_of(c, l->id);
	struct slot *s = &c->slots[i];
	pthread_mutex_lock(lock_of(c, i));
	char *old = s->strs;
	s->used = true;
	s->gen = gen;
	s->born_ns = pt_mono_ns();
	s->l = copy;
	s->strs = block;
	pthread_mutex_unlock(lock_of(c, i));
	free(old);
}
