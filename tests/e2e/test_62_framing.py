"""Strict HTTP/1.1 framing (RFC 9112) on the event engine (issue 13): every
head libmicrohttpd let through in a way a request could be smuggled, or
never answered, gets its refusal (400; 501 for a coding we do not know)
and the connection is closed, so the bytes after the head can never run as
a request of their own.  The body of each PUT below holds a whole second
request: it must not be answered, and nothing may be stored."""

import socket
import urllib.parse

from harness import RawConn, expect, parse_head

CONFIG = """
[server]
engine = event
"""

# What a smuggler puts in the body: a request of its own.
SMUGGLED = b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"

CASES = [
    # (id, head lines after the request line, statuses allowed)
    ("space before colon", [b"Host: x", b"Content-Length : %d" % len(SMUGGLED)], (400,)),
    ("tab before colon in TE", [b"Host: x", b"Transfer-Encoding\t: chunked"], (400,)),
    ("obs-fold content-length", [b"Host: x", b"Content-Length:", b" %d" % len(SMUGGLED)], (400,)),
    ("nul in content-length", [b"Host: x", b"Content-Length: 0\x00%d" % len(SMUGGLED)], (400,)),
    ("empty header name", [b"Host: x", b": nothing", b"Content-Length: 0"], (400,)),
    ("te identity", [b"Host: x", b"Transfer-Encoding: identity"], (400, 501)),
    ("te chunked then identity", [b"Host: x", b"Transfer-Encoding: chunked, identity"], (400, 501)),
    ("te gzip then chunked", [b"Host: x", b"Transfer-Encoding: gzip, chunked"], (400, 501)),
    ("two te lines", [b"Host: x", b"Transfer-Encoding: gzip", b"Transfer-Encoding: chunked"], (400, 501)),
    ("te and content-length", [b"Host: x", b"Transfer-Encoding: chunked",
                               b"Content-Length: %d" % len(SMUGGLED)], (400,)),
    ("content-length 2^64-1", [b"Host: x", b"Content-Length: 18446744073709551615"], (400,)),
    ("content-length twice, different", [b"Host: x", b"Content-Length: 0",
                                         b"Content-Length: %d" % len(SMUGGLED)], (400,)),
    ("no host in HTTP/1.1", [b"Content-Length: %d" % len(SMUGGLED)], (400,)),
    ("two hosts", [b"Host: x", b"Host: y", b"Content-Length: %d" % len(SMUGGLED)], (400,)),
    ("nul in a value", [b"Host: x", b"X-A: a\x00b", b"Content-Length: %d" % len(SMUGGLED)], (400,)),
    ("bare cr in a value", [b"Host: x", b"X-A: a\rb", b"Content-Length: %d" % len(SMUGGLED)], (400,)),
]


def refused(srv, head, allowed, what, version=b"HTTP/1.1"):
    """Send head + SMUGGLED; one refusal comes back, then the close."""
    with RawConn(srv.port, timeout=5.0) as c:
        c.send(b"PUT /smuggle.txt " + version + b"\r\n" + head + b"\r\n\r\n" + SMUGGLED)
        try:
            r = c.read_response("PUT")
        except (ConnectionError, socket.timeout) as e:
            raise AssertionError("%s: no answer (%s)" % (what, e))
        assert r.status in allowed, "%s: expected %s, got %d %r" % (what, allowed, r.status, r.body[:200])
        assert r.header("Connection", "").lower() == "close", \
            "%s: the refusal does not say Connection: close: %r" % (what, r.raw_head[:300])
        try:
            rest = c.read_to_close()
        except (ConnectionError, socket.timeout) as e:
            raise AssertionError("%s: the connection stays open after the refusal (%s)" % (what, e))
        assert b"HTTP/1.1" not in rest, "%s: the body ran as a request: %r" % (what, rest[:300])
        return r


def test_each_smuggling_head_is_refused_and_closed(srv):
    failed = []
    for what, lines, allowed in CASES:
        try:
            refused(srv, b"\r\n".join(lines), allowed, what)
        except AssertionError as e:
            failed.append(str(e))
    assert not failed, "%d of %d cases failed:\n  %s" % (len(failed), len(CASES), "\n  ".join(failed))
    # nothing was stored under the name any case used
    r = srv.get("/api/v1/me/files", {"Accept": "application/json"})
    assert r.status in (401, 200)
    expect(srv.get("/healthz"), 200, what="health after the framing cases")


def test_http10_chunked_is_refused(srv):
    refused(srv, b"Host: x\r\nTransfer-Encoding: chunked", (400,), "HTTP/1.0 + chunked",
            version=b"HTTP/1.0")


def test_bad_heads_of_every_status(srv):
    # too long a target: 414; too large a head: 431; HTTP/2.0 in a
    # request line: 505 (each closed)
    for what, raw, status in (
            ("long target", b"GET /" + b"a" * 40000 + b" HTTP/1.1\r\nHost: x\r\n\r\n", 414),
            ("large head", b"GET / HTTP/1.1\r\nHost: x\r\nX-A: " + b"b" * 40000 + b"\r\n\r\n", 431),
            ("version 2.0", b"GET / HTTP/2.0\r\nHost: x\r\n\r\n", 505),
            ("bare LF", b"GET / HTTP/1.1\nHost: x\n\n", 400)):
        with RawConn(srv.port, timeout=5.0) as c:
            c.send(raw)
            r = c.read_response()
            assert r.status == status, "%s: expected %d, got %r" % (what, status, r)
            assert c.read_to_close() == b"", "%s: bytes after the refusal" % what


def test_pipelined_requests_each_answered_in_order(srv):
    with RawConn(srv.port, timeout=5.0) as c:
        c.send(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"
               b"HEAD /healthz HTTP/1.1\r\nHost: x\r\n\r\n"
               b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        a = c.read_response()
        b = c.read_response("HEAD")
        d = c.read_response()
        assert (a.status, b.status, d.status) == (200, 200, 200), (a, b, d)
        assert a.body == b"ok\n" and b.body == b"" and d.body == b"ok\n"
        assert c.read_to_close() == b""


def test_chunked_upload_with_a_trailer_and_100_continue(srv):
    body = b"hello chunked world\n" * 1000
    with RawConn(srv.port, timeout=10.0) as c:
        c.send(b"PUT /c.txt HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
               b"Expect: 100-continue\r\n\r\n")
        head = c.read_head()
        status, _, _ = parse_head(head)
        assert status == 100, "expected 100 Continue first, got %r" % head[:100]
        for i in range(0, len(body), 7000):
            piece = body[i:i + 7000]
            c.send(b"%x;ext=1\r\n" % len(piece) + piece + b"\r\n")
        c.send(b"0\r\nX-Trailer: t\r\n\r\n")
        r = c.read_response("PUT")
        assert r.status == 201, r
        url = r.body.decode().strip()
    got = expect(srv.get(urllib.parse.urlsplit(url).path), 200)
    assert got.body == body, "the chunked upload came back as %d bytes" % len(got.body)
