"""Downloads counted by bytes delivered when responses are cut short
(issue 14), on either storage backend: on a local-disk run an uncapped
body goes by sendfile, on an S3 run (PARTAGE_TEST_S3) it is streamed from
the store; a capped body is streamed on both.

A response cut short delivered what the client's TCP acknowledged of its
body.  The capped tests cut a response exactly where the server stopped
writing (the speed cap sends a second's worth, then waits a second): the
count must then be exact to the byte, neither a byte short (a gap that
keeps a complete download from counting: aria2c's cut-short connections
on S3 counted 0 one run in three) nor a byte over (a download truncated
for real must not count)."""

import socket
import struct
import time

from harness import RawConn, Server, expect, rand_bytes, wait_until

K, M = 1024, 1024 * 1024
CONFIG = "[server]\nper_ip_connections = 0\n"

# one second's worth of the cap is one burst: the first burst goes out
# about a second after the request, the next a second later
RATE = 256 * K
CAPPED = """\
[server]
per_ip_connections = 0

[tier.anonymous]
speed_bytes_per_second = %d
""" % RATE


def counted(s):
    """Downloads counted so far: /metrics has them at once (the file
    object's count is written every few seconds)."""
    return int(s.metrics().get(("partage_downloads_total", frozenset()), 0))


def wait_counted(s, n):
    return wait_until(lambda: counted(s) >= n, timeout=5)


def request(path, rng=None):
    h = "GET %s HTTP/1.1\r\nHost: t\r\n" % path
    if rng:
        h += "Range: bytes=%s\r\n" % rng
    return (h + "\r\n").encode()


def cut(s, path, src, n, rng=None, conn=None, data=None, off=0, reset=False):
    """GET path (Range rng) from address src, read the head and n bytes of
    the body, close (reset: with a RST, as a killed client does).  Returns
    the status."""
    c = conn or RawConn(s.port, timeout=20, source=src)
    try:
        c.send(request(path, rng))
        head = c.read_head()
        status = int(head.split(b" ", 2)[1])
        body = c.read_exact(n)
        if data is not None:
            assert body == data[off:off + n], "the first %d bytes differ" % n
        if reset:
            c.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        return status
    finally:
        c.close()


def fetch(s, path, src, rng, data, off):
    """GET path with Range rng from src, to the end; checks the bytes."""
    with RawConn(s.port, timeout=30, source=src) as c:
        c.send(request(path, rng))
        r = c.read_response()
    expect(r, 206)
    assert r.body == data[off:off + len(r.body)], "bytes from %d differ" % off
    return r


def ended(s, path, n):
    """Wait until the access log shows n responses for path: a cut-short
    one's coverage is recorded when the server sees its end."""
    return wait_until(lambda: open(s.log_path, errors="replace").read().count('"GET %s"' % path) >= n,
                      timeout=10)


def test_capped_cut_at_the_burst_counts_to_the_byte(tmp):
    # The server has written exactly the head and one burst when the
    # client closes: the acknowledged body is RATE bytes, no more, no less.
    with Server(CAPPED, name="capped") as s:
        data = rand_bytes(2 * RATE, seed=70)
        o = s.upload("c.bin", data)
        path = s.dl_path(o)
        src = "127.0.7.1"
        assert cut(s, path, src, RATE, data=data) == 200
        assert ended(s, path, 1), "the cut-short response did not end"
        assert counted(s) == 0, "a response cut after %d of %d bytes counted as a download" % (RATE, len(data))
        # all but the byte at RATE: one byte missing, nothing counted
        fetch(s, path, src, "%d-" % (RATE + 1), data, RATE + 1)
        time.sleep(0.3)
        assert counted(s) == 0, "counted with byte %d never sent" % RATE
        # that byte: the client has every byte, once
        r = fetch(s, path, src, "%d-%d" % (RATE, RATE), data, RATE)
        assert len(r.body) == 1
        assert wait_counted(s, 1), \
            "a download cut where the server had got to was not counted: the first response's " \
            "count fell short of %d bytes" % RATE
        time.sleep(0.3)
        assert counted(s) == 1


def test_capped_reset_at_the_burst_counts_to_the_byte(tmp):
    # The same cut by a killed client (RST): the server's next write
    # fails, the response ends cut short; its count is what the client's
    # TCP acknowledged of the body, not that less an estimate of the head
    # (which left a gap of 65 bytes: aria2c on S3 counted 0 one run in 3)
    with Server(CAPPED, name="capped3") as s:
        data = rand_bytes(2 * RATE, seed=74)
        o = s.upload("r.bin", data)
        path = s.dl_path(o)
        src = "127.0.7.3"
        assert cut(s, path, src, RATE, rng="0-", data=data, reset=True) == 206
        assert ended(s, path, 1), "the cut-short response did not end"
        fetch(s, path, src, "%d-" % (RATE + 1), data, RATE + 1)
        time.sleep(0.3)
        assert counted(s) == 0, "counted with byte %d never sent" % RATE
        fetch(s, path, src, "%d-%d" % (RATE, RATE), data, RATE)
        assert wait_counted(s, 1), \
            "a download cut by a reset where the server had got to was not counted: the first " \
            "response's count fell short of the %d bytes the client acknowledged" % RATE
        time.sleep(0.3)
        assert counted(s) == 1


def test_capped_cut_on_a_kept_alive_connection_counts_to_the_byte(tmp):
    # The second response of a connection, cut at its first burst: the
    # bytes of the first response and of the head are not the body's.
    with Server(CAPPED, name="capped2") as s:
        data = rand_bytes(2 * RATE + 1000, seed=71)
        o = s.upload("k.bin", data)
        path = s.dl_path(o)
        src = "127.0.7.2"
        c = RawConn(s.port, timeout=20, source=src)
        c.send(request(path, "0-999"))
        r = c.read_response()
        expect(r, 206)
        assert r.body == data[:1000]
        assert cut(s, path, src, RATE, rng="1000-", conn=c, data=data, off=1000) == 206
        assert ended(s, path, 2), "the cut-short response did not end"
        fetch(s, path, src, "%d-" % (1000 + RATE + 1), data, 1000 + RATE + 1)
        time.sleep(0.3)
        assert counted(s) == 0, "counted with byte %d never sent" % (1000 + RATE)
        fetch(s, path, src, "%d-%d" % (1000 + RATE, 1000 + RATE), data, 1000 + RATE)
        assert wait_counted(s, 1), "the cut-short second response of a connection fell short"
        time.sleep(0.3)
        assert counted(s) == 1


def test_cut_then_rest_counts_once_at_any_offset(srv, tmp):
    # uncapped: sendfile on disk, the store's stream on S3; a client that
    # reads n bytes, drops the connection and fetches the rest has had
    # the file once, whatever n (block boundaries of the stream or not)
    data = rand_bytes(8 * M, seed=72)
    o = srv.upload("o.bin", data)
    path = srv.dl_path(o)
    c0 = counted(srv)
    for i, n in enumerate([256 * K, M, 3 * M + 12345, 4 * M, 6 * M - 1]):
        src = "127.0.7.%d" % (10 + i)
        assert cut(srv, path, src, n, rng="0-" if i % 2 else None, data=data) in (200, 206)
        fetch(srv, path, src, "%d-" % n, data, n)
        assert wait_counted(srv, c0 + i + 1), "cut at %d then the rest: not counted" % n
    time.sleep(0.3)
    assert counted(srv) == c0 + 5


def test_truncated_download_is_not_counted(srv, tmp):
    # a client that stops early and never fetches the middle has not had
    # the file; when it does fetch the middle, it has
    data = rand_bytes(24 * M, seed=73)
    o = srv.upload("t.bin", data)
    path = srv.dl_path(o)
    src = "127.0.7.30"
    c0 = counted(srv)
    cut(srv, path, src, M, data=data)
    fetch(srv, path, src, "%d-" % (16 * M), data, 16 * M)
    assert ended(srv, path, 2)
    time.sleep(0.3)
    assert counted(srv) == c0, "a download missing bytes %d-%d was counted" % (M, 16 * M - 1)
    fetch(srv, path, src, "%d-%d" % (M, 16 * M - 1), data, M)
    assert wait_counted(srv, c0 + 1), "the middle fetched: not counted"
    time.sleep(0.3)
    assert counted(srv) == c0 + 1
