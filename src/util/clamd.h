/*
 * clamd.h — a small client of ClamAV's clamd: one INSTREAM scan over its
 * unix or TCP socket, and the parser of its one-line reply.  No partage
 * knowledge: the bytes come from a read callback.
 *
 * The wire (clamd(8), "z" commands end in NUL):
 *   -> "zINSTREAM\0"
 *   -> <u32 big-endian length><bytes> ... repeated, then <u32 0>
 *   <- "stream: OK\0"                        clean
 *   <- "stream: Eicar-Test-Signature FOUND\0" infected (the name)
 *   <- "INSTREAM size limit exceeded. ERROR\0", "... ERROR\0"  error
 */
#ifndef PT_CLAMD_H
#define PT_CLAMD_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

enum clamd_verdict { CLAMD_CLEAN, CLAMD_INFECTED, CLAMD_ERROR };

#define CLAMD_REPLY_MAX 1024
#define CLAMD_CHUNK (64 * 1024)

struct clamd_result {
	enum clamd_verdict verdict;
	/* infected: the signature's name; error: clamd's message or ours
	 * (printable ASCII, cut to fit) */
	char what[256];
};

/* Parse one reply of n bytes (NUL or newline terminated, or not).
 * Never fails: a reply that is not one of the forms above is CLAMD_ERROR
 * with "unexpected reply from clamd".  Never blocks. */
void clamd_reply_parse(const char *buf, size_t n, struct clamd_result *out);

/* Scan `size` bytes read with read(arg, buf, n, offset) (returns the
 * bytes read, 0 at the end, or a negative errno) through clamd at addr
 * ("/path" of a unix socket, or "tcp:HOST:PORT"), every socket operation
 * bounded by timeout_ms.  0 with the verdict in *out (a clamd ERROR
 * reply is a verdict), or a negative errno when clamd could not be
 * reached or the exchange failed (*out then says what, as CLAMD_ERROR);
 * -ECANCELED as soon as cancel_fd (-1: none) is readable (a stop).
 * Blocks. */
int clamd_scan(const char *addr, int timeout_ms, int cancel_fd,
	       ssize_t (*read)(void *arg, void *buf, size_t n, uint64_t off),
	       void *arg, uint64_t size, struct clamd_result *out);

#endif
