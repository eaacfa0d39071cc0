/*
 * remux.h — fast-start copies of MP4/MOV files (issue 16): where a file
 * keeps its index, and the sandboxed process that rewrites it with the
 * index first, without transcoding.
 *
 * An MP4 (ISO BMFF) or QuickTime file is a run of top-level atoms (boxes):
 * a 4-byte big-endian size, a 4-byte type, and for size 1 a 64-bit size
 * after the type (size 0: to the end of the file).  A player can start as
 * soon as it has the index (`moov`); when the index sits after the media
 * data (`mdat`), as many encoders write it, a browser must fetch the end
 * of the file first.  mp4_layout() walks the top-level atoms (headers
 * only, at most MP4_ATOMS_MAX of them) and says which comes first; it
 * reads through a callback, so it works on any blob store and on the
 * remux's own output.  It parses untrusted bytes: every size is checked
 * against the file's, and it never reads more than 16 bytes at a time.
 *
 * The remux (media_remux_fd) is libavformat's demuxer and muxer with
 * stream copy and the muxer's `movflags=+faststart`: audio, video and
 * subtitle streams are copied packet by packet, and it fails unless every
 * sample of the source's index was read (a damaged file gets no copy).
 * The server runs it only as `partaged __remux` (media_remux_child): the
 * source on fd 0, the output on fd 1 (a read-write regular file), limits
 * from the environment, a seccomp filter allowing only I/O on those two
 * descriptors, memory management and exit.
 */
#ifndef PT_REMUX_H
#define PT_REMUX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

enum mp4_layout {
	MP4_BAD = -1,	   /* not a run of atoms, or no moov: no copy */
	MP4_FASTSTART = 0, /* moov before mdat (or no mdat): nothing to do */
	MP4_MOOV_LAST = 1, /* moov after mdat: worth a fast-start copy */
};

#define MP4_ATOMS_MAX 4096

/* Like pread(2): bytes read (short only at the end), or < 0. */
typedef ssize_t (*mp4_read_fn)(void *arg, void *buf, size_t n, uint64_t off);

/* The layout of the file of `size` bytes read through rd. */
enum mp4_layout mp4_layout(mp4_read_fn rd, void *arg, uint64_t size);
/* The same on bytes in memory (unit tests, the fuzzer). */
enum mp4_layout mp4_layout_mem(const uint8_t *p, size_t n);

/* The largest copy accepted of a source of `size` bytes: the source plus
 * 1/64 and 1 MiB (a fast-start copy is about as big as its source: the
 * same samples, the index moved, free atoms dropped). */
uint64_t media_remux_max_out(uint64_t size);

/*
 * Remux the MP4/MOV on descriptor in (read, pread, fstat) into out
 * (pread, pwrite, fstat: written from offset 0), in-process.  0 when out
 * holds a fast-start copy; PT_EUNSUPPORTED when the source cannot be
 * copied (not MP4/MOV, a codec the muxer refuses, a damaged index or
 * sample).  May use much CPU and memory on hostile input: the server runs
 * it only through media_remux_child.
 */
int media_remux_fd(int in, int out);

/*
 * `partaged __remux`: the sandboxed remux process.  Before it parses a
 * byte it closes every descriptor but 0, 1 and 2 and sets its limits
 * from the environment (PARTAGE_REMUX_AS_MB address space,
 * PARTAGE_REMUX_CPU_S CPU seconds, PARTAGE_REMUX_FSIZE the largest
 * output: past it the kernel stops it with SIGXFSZ), no core, no new
 * files or processes; then media_remux_sandbox_enter.  Exits 0 (a copy
 * on fd 1), 2 (no copy), 3 (no sandbox) or dies.
 */
#define MEDIA_REMUX_COMMAND "__remux"
int media_remux_sandbox_enter(void);
int media_remux_child(void);

#endif
