/*
 * clamd.c — one INSTREAM scan with ClamAV's clamd, and its reply parser
 * (the wire is drawn in clamd.h).  The connection is made per scan: clamd
 * closes an INSTREAM session after its reply anyway.
 */
#define _GNU_SOURCE
#include "clamd.h"

#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "pt.h"
#include "banned.h"

/* Copy printable ASCII of s[0..n) into dst (cap bytes), others as '?'. */
static void copy_text(char *dst, size_t cap, const char *s, size_t n)
{
	size_t o = 0;
	for (size_t i = 0; i < n && o + 1 < cap; i++) {
		unsigned char c = (unsigned char)s[i];
		dst[o++] = c >= 0x20 && c < 0x7f ? (char)c : '?';
	}
	dst[o] = '\0';
}

static bool ends_with(const char *s, size_t n, const char *tail)
{
	size_t t = strlen(tail);
	return n >= t && memcmp(s + n - t, tail, t) == 0;
}

void clamd_reply_parse(const char *buf, size_t n, struct clamd_result *out)
{
	/* the reply ends at its first NUL or newline */
	for (size_t i = 0; i < n; i++)
		if (buf[i] == '\0' || buf[i] == '\n') {
			n = i;
			break;
		}
	while (n && (buf[n - 1] == ' ' || buf[n - 1] == '\r'))
		n--;
	/* "stream: " (or "1: stream: " from an IDSESSION): what follows */
	const char *p = NULL;
	size_t k = 0;
	const char *s = memmem(buf, n, "stream: ", 8);
	if (s) {
		p = s + 8;
		k = n - (size_t)(p - buf);
	}
	if (p && k == 2 && memcmp(p, "OK", 2) == 0) {
		out->verdict = CLAMD_CLEAN;
		out->what[0] = '\0';
		return;
	}
	if (p && k > 6 && ends_with(p, k, " FOUND")) {
		out->verdict = CLAMD_INFECTED;
		copy_text(out->what, sizeof(out->what), p, k - 6);
		return;
	}
	out->verdict = CLAMD_ERROR;
	if (ends_with(buf, n, " ERROR") && n > 6) {
		copy_text(out->what, sizeof(out->what), buf, n - 6);
		return;
	}
	snprintf(out->what, sizeof(out->what), "unexpected reply from clamd");
}

/* Wait for ev on fd, or for cancel_fd (-1: none) to be readable. */
static int wait_fd(int fd, short ev, int timeout_ms, int cancel_fd)
{
	struct pollfd pfd[2] = { { .fd = fd, .events = ev },
				 { .fd = cancel_fd, .events = POLLIN } };
	int rc;
	do
		rc = poll(pfd, cancel_fd >= 0 ? 2 : 1, timeout_ms);
	while (rc < 0 && errno == EINTR);
	if (rc < 0)
		return -errno;
	if (cancel_fd >= 0 && pfd[1].revents)
		return -ECANCELED;
	return rc == 0 ? -ETIMEDOUT : 0;
}

static int send_all(int fd, const void *p, size_t n, int timeout_ms,
		    int cancel_fd)
{
	const char *c = p;
	while (n) {
		int err = wait_fd(fd, POLLOUT, timeout_ms, cancel_fd);
		if (err)
			return err;
		ssize_t w = send(fd, c, n, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (w < 0 && (errno == EAGAIN || errno == EINTR))
			continue;
		if (w < 0)
			return -errno;
		c += w;
		n -= (size_t)w;
	}
	return 0;
}

static int connect_to(const char *addr, int timeout_ms)
{
	int fd = -1, err;
	if (addr[0] == '/') {
		struct sockaddr_un sa = { .sun_family = AF_UNIX };
		if (strlen(addr) >= sizeof(sa.sun_path))
			return -ENAMETOOLONG;
		memcpy(sa.sun_path, addr, strlen(addr) + 1);
		fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd < 0)
			return -errno;
		if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
			err = -errno;
			close(fd);
			return err;
		}
		return fd;
	}
	if (strncmp(addr, "tcp:", 4) != 0)
		return -EINVAL;
	char host[256];
	const char *port = strrchr(addr + 4, ':');
	if (!port || (size_t)(port - addr - 4) >= sizeof(host))
		return -EINVAL;
	memcpy(host, addr + 4, (size_t)(port - addr - 4));
	host[port - addr - 4] = '\0';
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *ai;
	if (getaddrinfo(host, port + 1, &hints, &ai) != 0)
		return -EHOSTUNREACH;
	fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK,
		    0);
	if (fd < 0) {
		err = -errno;
		freeaddrinfo(ai);
		return err;
	}
	if (connect(fd, ai->ai_addr, ai->ai_addrlen) < 0 &&
	    errno != EINPROGRESS) {
		err = -errno;
		goto fail;
	}
	freeaddrinfo(ai);
	ai = NULL;
	if ((err = wait_fd(fd, POLLOUT, timeout_ms, -1)))
		goto fail;
	int so = 0;
	socklen_t sl = sizeof(so);
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &so, &sl) < 0 || so) {
		err = so ? -so : -errno;
		goto fail;
	}
	return fd;
fail:
	if (ai)
		freeaddrinfo(ai);
	close(fd);
	return err;
}

int clamd_scan(const char *addr, int timeout_ms, int cancel_fd,
	       ssize_t (*read)(void *arg, void *buf, size_t n, uint64_t off),
	       void *arg, uint64_t size, struct clamd_result *out)
{
	char *buf = xmalloc(4 + CLAMD_CHUNK);
	char reply[CLAMD_REPLY_MAX];
	size_t got = 0;
	uint64_t off = 0;
	int fd, err;

	out->verdict = CLAMD_ERROR;
	fd = connect_to(addr, timeout_ms);
	if (fd < 0) {
		err = fd;
		snprintf(out->what, sizeof(out->what), "cannot reach clamd: %s",
			 strerror(-err));
		free(buf);
		return err;
	}
	if ((err = send_all(fd, "zINSTREAM", 10, timeout_ms, cancel_fd)))
		goto io;
	while (off < size) {
		size_t want = size - off < CLAMD_CHUNK ? (size_t)(size - off)
						       : CLAMD_CHUNK;
		ssize_t r = read(arg, buf + 4, want, off);
		if (r <= 0) {
			err = r < 0 ? (int)r : -EIO;
			snprintf(out->what, sizeof(out->what),
				 "cannot read the file: %s", strerror(-err));
			goto done;
		}
		uint32_t be = htobe32((uint32_t)r);
		memcpy(buf, &be, 4);
		if ((err = send_all(fd, buf, 4 + (size_t)r, timeout_ms,
				    cancel_fd))) {
			if (err == -ECANCELED)
				goto io;
			/* clamd may have answered early (size limit): read it */
			break;
		}
		off += (uint64_t)r;
	}
	/* a failed send does not end it: clamd may have answered early
	 * (its size limit), and its reply says why */
	if (!err && (err = send_all(fd, "\0\0\0\0", 4, timeout_ms,
				    cancel_fd)) == -ECANCELED)
		goto io;
	/* the reply: up to NUL, newline or the end of the connection */
	for (;;) {
		int w = wait_fd(fd, POLLIN, timeout_ms, cancel_fd);
		if (w) {
			err = w;
			goto io;
		}
		ssize_t r = recv(fd, reply + got, sizeof(reply) - 1 - got,
				 MSG_DONTWAIT);
		if (r < 0 && (errno == EAGAIN || errno == EINTR))
			continue;
		if (r < 0) {
			err = -errno;
			goto io;
		}
		got += (size_t)r;
		if (r == 0 || memchr(reply, '\0', got) ||
		    memchr(reply, '\n', got) || got == sizeof(reply) - 1)
			break;
	}
	if (!got) {
		err = -ECONNRESET;
		goto io;
	}
	clamd_reply_parse(reply, got, out);
	err = 0;
	goto done;
io:
	snprintf(out->what, sizeof(out->what), "clamd: %s", strerror(-err));
done:
	close(fd);
	free(buf);
	return err;
}
