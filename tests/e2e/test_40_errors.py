"""Errors: status codes, one-line reasons as text / JSON / HTML by Accept, bad
names, bad ids, malformed requests; the server stays healthy."""

import os
import socket
import time

from harness import expect, rand_bytes, regular_files, sha256, RawConn

CONFIG = ""


def healthy(srv):
    expect(srv.get("/healthz"), 200, what="server health after odd requests")


def test_error_text_default(srv):
    r = expect(srv.get("/api/v1/files/ZZZZZZZZZZZZ"), 404)
    assert r.header("Content-Type", "").startswith("text/plain"), \
        "default error Content-Type %r" % r.header("Content-Type")
    lines = r.text.strip().splitlines()
    assert len(lines) == 1 and lines[0].strip(), "error body is not one line: %r" % r.body[:300]


def test_error_json(srv):
    r = expect(srv.get("/api/v1/files/ZZZZZZZZZZZZ", {"Accept": "application/json"}), 404)
    assert r.header("Content-Type", "").startswith("application/json"), r.header("Content-Type")
    j = r.json()
    assert isinstance(j.get("error"), str) and j["error"].strip(), j
    assert "\n" not in j["error"].strip()
    assert j.get("status") == 404, "JSON error status %r" % j.get("status")
    r = expect(srv.get("/ZZZZZZZZZZZZ/x.bin", {"Accept": "application/json"}), 404)
    assert r.json().get("status") == 404


def test_error_html(srv):
    r = expect(srv.get("/ZZZZZZZZZZZZ", {"Accept": "text/html,application/xhtml+xml;q=0.9,*/*;q=0.8"}), 404)
    assert r.header("Content-Type", "").startswith("text/html"), r.header("Content-Type")
    assert "<" in r.text and ("404" in r.text or "not found" in r.text.lower()), r.text[:300]


def test_error_html_no_reflected_markup(srv):
    for p in ("/%3Cscript%3Ealert(1)%3C%2Fscript%3E", "/ZZZZZZZZZZZZ/%3Cscript%3Ealert(1)%3C%2Fscript%3E.txt",
              "/api/v1/files/%3Cscript%3Ealert(1)%3C%2Fscript%3E"):
        r = srv.get(p, {"Accept": "text/html"})
        assert 400 <= r.status < 500, "GET %s: %r" % (p, r)
        assert b"<script>alert(1)" not in r.body, "GET %s reflects markup unescaped: %r" % (p, r.body[:300])


def test_unknown_and_invalid_ids(srv):
    for p in ("/ZZZZZZZZZZZZ", "/ZZZZZZZZZZZZ/a.txt", "/api/v1/files/ZZZZZZZZZZZZ",
              "/api/v1/files/short", "/api/v1/files/abc!def%21ghi", "/api/v1/files/" + "a" * 13,
              "/api/v1/files/" + "a" * 300):
        r = srv.get(p, {"Accept": "*/*"})
        assert r.status == 404, "GET %s: expected 404, got %r" % (p, r)
    # not an id at all: 404, or 405 (the path only takes PUT /{name}) with Allow
    for p in ("/no-such-thing", "/short", "/" + "a" * 13):
        r = srv.get(p, {"Accept": "*/*"})
        assert r.status in (404, 405), "GET %s: expected 404 (or 405), got %r" % (p, r)
        if r.status == 405:
            assert r.header("Allow"), "GET %s: 405 without an Allow header (RFC 9110 §15.5.6 MUST)" % p
    healthy(srv)


def test_json_410_for_deleted(srv):
    o = srv.upload("err410.bin", rand_bytes(100))
    expect(srv.delete("/" + o["id"], {"X-Delete-Token": o["delete_token"]}), 204)
    r = expect(srv.get(srv.dl_path(o), {"Accept": "application/json"}), 410)
    j = r.json()
    assert j.get("status") == 410 and j.get("error"), j
    r = expect(srv.get(srv.dl_path(o)), 410)
    assert len(r.text.strip().splitlines()) == 1, r.body[:300]


def test_bad_names(srv):
    # %00 → 400 (a NUL never makes it into a name); slashes, "..", CR/LF: 400 or a
    # sanitised name; either way nothing is written outside DATA
    outside_before = set(regular_files(os.path.dirname(srv.data)))
    r = srv.raw(b"PUT /a%00b.txt HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nnul", "PUT")
    expect(r, 400, what="PUT /a%00b.txt")
    for raw_name in ("..%2F..%2Fescape.txt", "%2E%2E", "..", "a%2Fb.txt", "%2Fetc%2Fpasswd",
                     "x%0D%0Ay.txt", "%2E", "...", "sp%20ace%20.txt", "%5C..%5Cwin.txt"):
        r = srv.raw(("PUT /%s HTTP/1.1\r\nHost: x\r\nAccept: application/json\r\nContent-Length: 5\r\n\r\nhello"
                     % raw_name).encode(), "PUT")
        if r.status == 400:
            continue
        expect(r, 201, what="PUT /%s" % raw_name)
        name = r.json()["name"]
        assert "/" not in name and "\\" not in name, "PUT /%s stored name %r with a path" % (raw_name, name)
        assert name not in ("", ".", ".."), "PUT /%s stored name %r" % (raw_name, name)
        assert "\r" not in name and "\n" not in name and "\0" not in name, name
        g = expect(srv.get(srv.dl_path(r.json())), 200)
        assert g.body == b"hello"
    outside_after = set(regular_files(os.path.dirname(srv.data)))
    new = [p for p in outside_after - outside_before if not p.startswith("data" + os.sep)
           and p != "partaged.log"]
    assert not new, "files written outside DATA: %r" % new
    for p in regular_files(srv.data):
        base = os.path.basename(p)
        assert "escape" not in base and "passwd" not in base and "win.txt" not in base, \
            "a file named after the upload name in DATA: %r" % p
    healthy(srv)


def test_long_name(srv):
    name = "n" * 4096 + ".txt"
    r = srv.put(name, b"long name\n", {"Accept": "application/json"})
    if r.status != 400:
        expect(r, 201, what="4 KiB name")
        stored = r.json()["name"]
        assert len(stored.encode()) <= 255, "stored name is %d bytes (max 255)" % len(stored.encode())
        g = expect(srv.get(srv.dl_path(r.json())), 200)
        cd = g.header("Content-Disposition", "")
        assert "\r" not in cd and "\n" not in cd
        assert g.body == b"long name\n"
    # a long multi-byte name is cut at a UTF-8 boundary
    r = srv.put("é" * 300 + ".txt", b"utf8 long\n", {"Accept": "application/json"})
    if r.status != 400:
        expect(r, 201)
        stored = r.json()["name"]
        assert len(stored.encode("utf-8")) <= 255, "stored name too long: %d bytes" % len(stored.encode())
        stored.encode("utf-8")  # valid UTF-8 round-trip through JSON
        assert "\ufffd" not in stored, "a UTF-8 sequence was cut in the middle"
    healthy(srv)


def test_put_without_name(srv):
    r = srv.raw(b"PUT / HTTP/1.1\r\nHost: x\r\nAccept: application/json\r\nContent-Length: 3\r\n\r\nabc", "PUT")
    if r.status == 201:
        assert r.json()["name"], "empty name stored"
    else:
        expect(r, 400, what="PUT / with no name")
    healthy(srv)


def test_unsupported_methods(srv):
    o = srv.upload("methods.bin", b"methods\n")
    for m, p in (("PATCH", srv.dl_path(o)), ("POST", srv.dl_path(o)), ("PUT", srv.dl_path(o)),
                 ("DELETE", srv.dl_path(o)), ("PROPFIND", "/"), ("POST", "/healthz")):
        r = srv.request(m, p, body=b"" if m in ("POST", "PUT", "PATCH") else None)
        assert r.status in (400, 401, 403, 404, 405, 501), "%s %s: %r" % (m, p, r)
        if r.status == 405:
            assert r.header("Allow"), "%s %s: 405 without an Allow header (RFC 9110 §15.5.6 MUST)" % (m, p)
    expect(srv.get(srv.dl_path(o)), 200, what="file after odd methods")


def test_malformed_requests(srv):
    for raw in (b"GARBAGE\r\n\r\n", b"GET\r\n\r\n", b"GET / HTTP/9.9\r\nHost: x\r\n\r\n",
                b"GET / HTTP/1.1\r\nHost: x\r\nContent-Length: -5\r\n\r\n",
                b"PUT /te.txt HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n",
                b"GET / HTTP/1.1\r\nBad Header\r\n\r\n"):
        try:
            with RawConn(srv.port, timeout=5) as c:
                c.send(raw)
                r = c.read_response()
            assert 400 <= r.status < 600 and r.status != 500, "%r → %r" % (raw[:40], r)
        except (ConnectionError, socket.timeout):
            pass  # closing the connection on garbage is fine
        healthy(srv)


def test_conflicting_content_length(srv):
    # RFC 9112 §6.3: differing Content-Length values are an unrecoverable error
    # (400), not a guess (request smuggling behind a proxy)
    before = srv.blob_files()
    try:
        with RawConn(srv.port, timeout=5) as c:
            c.send(b"PUT /cl.txt HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!")
            r = c.read_response()
        assert r.status == 400, "two different Content-Length values → %r" % r
    except (ConnectionError, socket.timeout):
        pass  # closing the connection is fine too
    assert srv.blob_files() == before, "an upload with conflicting Content-Length was stored"
    healthy(srv)


def test_transfer_encoding_and_content_length(srv):
    # RFC 9112 §6.1: reject, or use the chunked framing alone — and close the
    # connection after the response either way
    with RawConn(srv.port, timeout=5) as c:
        c.send(b"PUT /tecl.txt HTTP/1.1\r\nHost: x\r\nAccept: application/json\r\nContent-Length: 3\r\n"
               b"Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n")
        r = c.read_response()
        assert r.status in (400, 201), "TE + CL → %r" % r
        if r.status == 201:
            assert r.json()["size"] == 5, "TE + CL: the body was framed by Content-Length: %r" % r.json()
        c.sock.settimeout(2)
        try:
            rest = c.read_to_close()
        except socket.timeout:
            raise AssertionError("the connection stays open after a request with both "
                                 "Transfer-Encoding and Content-Length (RFC 9112 §6.1 MUST close)")
        assert rest == b"", rest[:100]
    healthy(srv)


def test_huge_headers(srv):
    # bounded header size: a 200 KiB header gets a 4xx (or a closed connection), not a crash
    try:
        with RawConn(srv.port, timeout=10) as c:
            c.send(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * (1024 * 1024) + b"\r\n\r\n")
            r = c.read_response()
        assert 400 <= r.status < 500, "1 MiB header: %r" % r
    except (ConnectionError, socket.timeout, BrokenPipeError):
        pass
    healthy(srv)


def test_long_url(srv):
    r = srv.get("/" + "a" * 20000)
    assert r.status in (400, 404, 414, 431), "20 KB URL: %r" % r
    healthy(srv)


def test_path_traversal_get(srv):
    for p in (b"/../../../../etc/passwd", b"/%2e%2e/%2e%2e/etc/passwd", b"/..%2f..%2fetc%2fpasswd",
              b"/blobs/", b"/partage.db", b"/data/partage.db", b"/tmp/"):
        r = srv.raw(b"GET " + p + b" HTTP/1.1\r\nHost: x\r\n\r\n")
        assert r.status in (400, 404, 405), "GET %r: %r" % (p, r)
        assert b"root:" not in r.body and b"SQLite format" not in r.body
    healthy(srv)


def test_slowloris_does_not_block_others(srv):
    # a client that sends half a header does not stop other requests
    socks = []
    try:
        for _ in range(5):
            s = socket.create_connection(("127.0.0.1", srv.port), timeout=5)
            s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ")
            socks.append(s)
        t = time.monotonic()
        healthy(srv)
        o = srv.upload("during-slow.txt", b"still working\n")
        expect(srv.get(srv.dl_path(o)), 200)
        assert time.monotonic() - t < 5, "requests were slow while idle connections were open"
    finally:
        for s in socks:
            s.close()


def test_keepalive_after_error(srv):
    # an error reply keeps the connection usable (or closes it cleanly)
    with RawConn(srv.port) as c:
        c.send(b"GET /api/v1/files/ZZZZZZZZZZZZ HTTP/1.1\r\nHost: x\r\n\r\n"
               b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        r1 = c.read_response()
        assert r1.status == 404, r1
        if (r1.header("Connection") or "").lower() != "close":
            r2 = c.read_response()
            assert r2.status == 200, r2


def test_upload_then_download_many_small(srv):
    # a burst of uploads and downloads, all consistent
    items = []
    for i in range(30):
        d = rand_bytes(i * 37 + 1)
        items.append((srv.upload("small-%d.bin" % i, d), d))
    for o, d in items:
        r = expect(srv.get(srv.dl_path(o)), 200)
        assert r.body == d and r.header("ETag") == '"%s"' % sha256(d)
    assert len({o["id"] for o, _ in items}) == 30
