"""Capped downloads wait on the event engine's own timers (issue 13): a
download that has used its second's worth pauses on its connection's
timer in its loop's wheel, with no thread of its own and no throttle
thread, and still keeps its speed.  On the libmicrohttpd engine the
throttle thread does it (started by the first wait).

Forty capped downloads from distinct addresses at once: the server's
thread count does not grow while they wait, /metrics counts them as
throttled, each gets its promised rate, and the gauge is back to 0 after."""

import os
import socket
import time

import harness
from harness import Skip, expect, metric_sum, rand_bytes, sha256, wait_until

K = 1024
RATE = 64 * K
N = 40
CONFIG = """\
[server]
per_ip_connections = 0
[tier.anonymous]
wait_seconds = 0
speed_bytes_per_second = 64K
parallel_downloads = 0
max_download_bytes = 0
cooldown_seconds = 0
"""
SIZE = 4 * RATE  # a first second's burst, then three seconds at the cap


def threads(srv):
    """The names of the server's threads, sorted."""
    names = []
    for tid in os.listdir("/proc/%d/task" % srv.proc.pid):
        try:
            with open("/proc/%d/task/%s/comm" % (srv.proc.pid, tid)) as f:
                names.append(f.read().strip())
        except OSError:
            pass  # ended meanwhile
    return sorted(names)


def no_throttle_thread(names):
    """Every thread is one partaged names (the main thread keeps the
    program's name), and none is the throttle's."""
    assert "throttle" not in names, "a throttle thread runs: %r" % names
    assert names.count("partaged") == 1, "unnamed threads: %r" % names


def open_download(srv, path, source):
    s = socket.create_connection(("127.0.0.1", srv.port), timeout=20,
                                 source_address=(source, 0))
    s.sendall(b"GET %s HTTP/1.1\r\nHost: x\r\n\r\n" % path.encode())
    return s


def read_response(s):
    buf = b""
    while b"\r\n\r\n" not in buf:
        b = s.recv(65536)
        assert b, "closed before the head"
        buf += b
    head, body = buf.split(b"\r\n\r\n", 1)
    assert head.startswith(b"HTTP/1.1 200"), head[:100]
    length = int([l.split(b":", 1)[1] for l in head.split(b"\r\n")
                  if l.lower().startswith(b"content-length:")][0])
    return body, length


def test_forty_capped_downloads_wait_on_loop_timers():
    if harness.os.environ.get("PARTAGE_TEST_ENGINE", "event") not in ("", "event"):
        raise Skip("the event engine's timers")
    with harness.Server(CONFIG, name="captimers") as srv:
        data = rand_bytes(SIZE, seed=64)
        obj = srv.upload("capped.bin", data)
        path = srv.dl_path(obj)
        before = threads(srv)
        no_throttle_thread(before)
        t0 = time.monotonic()
        socks = [open_download(srv, path, "127.0.1.%d" % (i + 1)) for i in range(N)]
        try:
            heads = [read_response(s) for s in socks]
            bodies = [bytearray(b) for b, _ in heads]
            # every download has had its first burst and is waiting for
            # the next: counted, and no thread was started for them
            assert wait_until(lambda: (metric_sum(srv.metrics(), "partage_throttled_downloads") or 0) >= N // 2, 5), \
                "capped downloads not counted as throttled: %r" % \
                metric_sum(srv.metrics(), "partage_throttled_downloads")
            during = threads(srv)
            no_throttle_thread(during)
            assert during == before, "threads %r -> %r while capped downloads wait" % (before, during)
            for s in socks:
                s.settimeout(30)
            done = [None] * N
            while None in done:
                for i, s in enumerate(socks):
                    if done[i] is not None:
                        continue
                    s.setblocking(False)
                    try:
                        b = s.recv(1 << 20)
                    except BlockingIOError:
                        continue
                    finally:
                        s.setblocking(True)
                    bodies[i] += b
                    if len(bodies[i]) >= SIZE or not b:
                        done[i] = time.monotonic() - t0
                time.sleep(0.02)
                assert time.monotonic() - t0 < 30, "capped downloads still running after 30 s"
        finally:
            for s in socks:
                s.close()
        for i in range(N):
            assert sha256(bytes(bodies[i])) == sha256(data), "download %d: %d bytes" % (i, len(bodies[i]))
        # a second's worth at once, then the cap: about 3 s for the rest,
        # never much faster (the timers must not wake early) and not
        # much slower on a loaded machine
        assert min(done) >= 2.7, "a capped download finished in %.2f s" % min(done)
        assert sorted(done)[N // 2] <= 6.0, "median %.2f s for 3 s of capped data" % sorted(done)[N // 2]
        no_throttle_thread(threads(srv))
        assert wait_until(lambda: metric_sum(srv.metrics(), "partage_throttled_downloads") == 0, 5)
