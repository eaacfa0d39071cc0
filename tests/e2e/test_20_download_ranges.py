"""Downloads: the bytes, HEAD, Range (RFC 9110 §14, docs/conformance/http-downloads.md R9-R21,
R25), multipart/byteranges, security headers."""

import io
import http.client
import re
import subprocess

from harness import expect, rand_bytes, sha256, RawConn

CONFIG = ""

N = 10000
DATA = rand_bytes(N, seed=2020)
_cache = {}


def f(srv):
    """The module's 10000-byte file: (download path, etag)."""
    if srv.url not in _cache:
        o = srv.upload("ranges.bin", DATA)
        _cache[srv.url] = (srv.dl_path(o), '"%s"' % sha256(DATA), o)
    return _cache[srv.url]


def rng(srv, spec, extra=None, method="GET"):
    path, _, _ = f(srv)
    h = {"Range": spec}
    h.update(extra or {})
    return srv.request(method, path, headers=h)


def parse_multipart(r):
    ct = r.header("Content-Type", "")
    m = re.match(r'\s*multipart/byteranges\s*;\s*boundary=("?)([^";]+)\1\s*$', ct, re.I)
    assert m, "not multipart/byteranges with a boundary: %r" % ct
    assert m.group(1) == "", "the boundary is quoted (R17: breaks clients): %r" % ct
    b = m.group(2).encode()
    body = r.body
    assert body.rstrip(b"\r\n").endswith(b"--" + b + b"--"), "multipart body does not end with --boundary--"
    parts = []
    segs = body.split(b"--" + b)
    # segs[0] is the preamble, the last is "--" + epilogue
    assert segs[-1].startswith(b"--"), "no closing delimiter"
    for seg in segs[1:-1]:
        assert seg.startswith(b"\r\n"), "part does not start with CRLF after the delimiter"
        head, sep, content = seg[2:].partition(b"\r\n\r\n")
        assert sep, "part without a header block"
        assert content.endswith(b"\r\n"), "part content not followed by CRLF"
        content = content[:-2]
        hdrs = http.client.parse_headers(io.BytesIO(head + b"\r\n\r\n"))
        cr = hdrs.get("Content-Range", "")
        mm = re.fullmatch(r"bytes (\d+)-(\d+)/(\d+)", cr.strip())
        assert mm, "part Content-Range %r" % cr
        first, last, total = map(int, mm.groups())
        parts.append((first, last, total, hdrs, content))
    return parts


def single(r, first, last, total=N):
    expect(r, 206)
    assert not r.header("Content-Type", "").lower().startswith("multipart/"), \
        "a single range must not be multipart (R18)"
    assert r.header("Content-Range") == "bytes %d-%d/%d" % (first, last, total), \
        "Content-Range %r, want bytes %d-%d/%d" % (r.header("Content-Range"), first, last, total)
    assert r.header("Content-Length") == str(last - first + 1), r.header("Content-Length")
    assert r.body == DATA[first:last + 1], "206 body is not the requested bytes"


def test_get_headers(srv):
    path, etag, o = f(srv)
    r = expect(srv.get(path), 200)
    assert r.body == DATA
    assert r.header("Content-Length") == str(N)
    assert r.header("Accept-Ranges") == "bytes", "R9: Accept-Ranges %r" % r.header("Accept-Ranges")
    assert r.header("ETag") == etag, "R1: ETag %r, want %r" % (r.header("ETag"), etag)
    assert "\\" not in r.header("ETag")
    assert r.header("Last-Modified"), "R1: no Last-Modified"
    assert r.header("X-Content-Type-Options", "").lower() == "nosniff"
    assert r.header("Content-Security-Policy", "").strip().lower().startswith("sandbox"), \
        "Content-Security-Policy %r" % r.header("Content-Security-Policy")
    assert r.header("Content-Disposition"), "no Content-Disposition"


def test_head_same_headers_no_body(srv):
    path, etag, _ = f(srv)
    g = expect(srv.get(path), 200)
    h = expect(srv.head(path), 200)
    assert h.body == b""
    for k in ("Content-Length", "Content-Type", "ETag", "Last-Modified", "Accept-Ranges",
              "Content-Disposition", "X-Content-Type-Options", "Content-Security-Policy"):
        assert h.header(k) == g.header(k), "HEAD %s=%r but GET %r" % (k, h.header(k), g.header(k))
    # and really no body on the wire: a second request on the same connection works
    with RawConn(srv.port) as c:
        c.send(("HEAD %s HTTP/1.1\r\nHost: x\r\n\r\nGET /healthz HTTP/1.1\r\nHost: x\r\n\r\n" % path).encode())
        r1 = c.read_response("HEAD")
        assert r1.status == 200, r1
        if (r1.header("Connection") or "").lower() == "close":
            rest = c.read_to_close()
            assert rest == b"", "bytes after a HEAD reply: %r" % rest[:100]
        else:
            r2 = c.read_response("GET")
            assert r2.status == 200 and r2.body.strip() != b"", \
                "the request after a HEAD was not answered right: %r" % r2


def test_single_range_forms(srv):
    single(rng(srv, "bytes=0-499"), 0, 499)            # R15
    single(rng(srv, "bytes=9000-"), 9000, N - 1)         # open-ended
    single(rng(srv, "bytes=-1000"), N - 1000, N - 1)     # suffix
    single(rng(srv, "bytes=5-5"), 5, 5)                  # one byte
    single(rng(srv, "bytes=9999-9999"), 9999, 9999)      # last byte


def test_range_clamping(srv):
    single(rng(srv, "bytes=9500-20000"), 9500, N - 1)    # R13 last >= length clamped
    single(rng(srv, "bytes=-20000"), 0, N - 1)           # R13 suffix longer than the file
    single(rng(srv, "bytes=0-9223372036854775807"), 0, N - 1)  # 19 digits, fits in 64 bits


def test_206_carries_representation_headers(srv):
    # R16
    path, etag, _ = f(srv)
    g = expect(srv.get(path), 200)
    r = expect(rng(srv, "bytes=100-199"), 206)
    for k in ("ETag", "Content-Type", "Last-Modified", "Cache-Control", "Expires", "Vary",
              "Content-Location", "X-Content-Type-Options", "Content-Security-Policy",
              "Content-Disposition", "Accept-Ranges"):
        if g.header(k) is not None:
            assert r.header(k) == g.header(k), "206 %s=%r but 200 has %r" % (k, r.header(k), g.header(k))
    assert r.header("Date"), "206 without Date"


def test_multipart_byteranges(srv):
    # R12 (whitespace), R17 (format, order), with ranges far apart (> 80 bytes)
    r = rng(srv, "bytes= 0-999, 4500-5499, -1000")
    expect(r, 206)
    assert r.header("Content-Range") is None, "R17: top-level Content-Range on a multipart reply"
    parts = parse_multipart(r)
    want = [(0, 999), (4500, 5499), (9000, 9999)]
    assert [(p[0], p[1]) for p in parts] == want, "parts %r, want %r" % ([(p[0], p[1]) for p in parts], want)
    g = srv.get(f(srv)[0])
    for first, last, total, hdrs, content in parts:
        assert total == N
        assert content == DATA[first:last + 1], "part %d-%d has wrong bytes" % (first, last)
        assert hdrs.get("Content-Type") == g.header("Content-Type"), \
            "part Content-Type %r, representation %r" % (hdrs.get("Content-Type"), g.header("Content-Type"))
    assert r.header("Content-Length") is None or int(r.header("Content-Length")) == len(r.body)


def test_multipart_request_order(srv):
    r = expect(rng(srv, "bytes=8000-8099,100-199,3000-3009"), 206)
    parts = parse_multipart(r)
    assert [(p[0], p[1]) for p in parts] == [(8000, 8099), (100, 199), (3000, 3009)], \
        "R17: parts must come in request order: %r" % [(p[0], p[1]) for p in parts]
    for p in parts:
        assert p[4] == DATA[p[0]:p[1] + 1]


def test_overlapping_ranges_coalesced(srv):
    # R18/R19: overlapping or near ranges merge; one range left → 206 single
    # or a one-part multipart, with the right bytes either way
    for spec, (a, b) in (("bytes=0-99,50-149", (0, 149)), ("bytes=0-99,120-199", (0, 199)),
                         ("bytes=500-599,500-599", (500, 599))):
        r = expect(rng(srv, spec), 206, what=spec)
        if r.header("Content-Type", "").startswith("multipart/"):
            parts = parse_multipart(r)
            assert [(p[0], p[1]) for p in parts] == [(a, b)], "%s → %r" % (spec, [(p[0], p[1]) for p in parts])
            assert parts[0][4] == DATA[a:b + 1]
        else:
            single(r, a, b)


def test_partly_unsatisfiable_set(srv):
    # unsatisfiable members are dropped; a single survivor is not multipart-required
    r = expect(rng(srv, "bytes=20000-20100,0-9"), 206)
    if r.header("Content-Type", "").startswith("multipart/"):
        parts = parse_multipart(r)
        assert [(p[0], p[1]) for p in parts] == [(0, 9)]
    else:
        single(r, 0, 9)
    r = expect(rng(srv, "bytes=0-9,20000-,5000-5009"), 206)
    parts = parse_multipart(r)
    assert [(p[0], p[1]) for p in parts] == [(0, 9), (5000, 5009)], [(p[0], p[1]) for p in parts]


def test_too_many_ranges_full_200(srv):
    # R19 policy: more than 16 ranges → the whole file
    spec = "bytes=" + ",".join("%d-%d" % (i * 500, i * 500 + 9) for i in range(17))
    r = expect(rng(srv, spec), 200, what="17 ranges")
    assert r.body == DATA
    spec16 = "bytes=" + ",".join("%d-%d" % (i * 500, i * 500 + 9) for i in range(16))
    r = expect(rng(srv, spec16), 206, what="16 ranges")
    assert len(parse_multipart(r)) == 16


def test_unsatisfiable_416(srv):
    # R20
    for spec in ("bytes=10000-10999", "bytes=20000-", "bytes=10000-10000,20000-20001", "bytes=-0"):
        r = expect(rng(srv, spec), 416, what=spec)
        assert r.header("Content-Range") == "bytes */%d" % N, "416 Content-Range %r" % r.header("Content-Range")
        assert not r.header("Content-Type", "").startswith("multipart/"), "a 416 must not be multipart"


def test_invalid_range_ignored(srv):
    # R11 unknown unit, R12 last < first, R21 garbage
    for spec in ("items=0-5", "bytes=500-100", "bytes=abc", "bytes=", "bytes=--5", "bytes=1-2-3",
                 "0-100", "bytes=0x10-0x20"):
        r = rng(srv, spec)
        assert r.status == 200, "Range %r: expected 200 (ignored), got %r" % (spec, r)
        assert r.body == DATA, "Range %r: 200 without the whole file" % spec
    # numbers past 2^64 are numbers (issue 12, 10a): a huge last byte or
    # suffix is "to the end", a huge first byte unsatisfiable
    for spec in ("bytes=0-99999999999999999999999", "bytes=-18446744073709551617"):
        r = expect(rng(srv, spec), 206, what=spec)
        assert r.body == DATA and r.header("Content-Range") == "bytes 0-%d/%d" % (N - 1, N)
    expect(rng(srv, "bytes=18446744073709551616-"), 416, what="a first byte past 2^64")


def test_head_ignores_range(srv):
    # R10: Range is only defined for GET
    r = rng(srv, "bytes=0-9", method="HEAD")
    expect(r, 200, what="HEAD with Range")
    assert r.header("Content-Length") == str(N)
    assert r.header("Content-Range") is None


def test_empty_file_ranges(srv):
    # R14: nothing but a non-zero suffix is satisfiable on an empty file; the
    # server may also ignore Range on empty files (200)
    o = srv.upload("empty-range.bin", b"")
    r = srv.get(srv.dl_path(o), {"Range": "bytes=0-0"})
    assert r.status in (416, 200), "bytes=0-0 on an empty file: %r" % r
    if r.status == 416:
        assert r.header("Content-Range") == "bytes */0", r.header("Content-Range")
    assert r.body == b"" or r.status == 416
    r = srv.get(srv.dl_path(o), {"Range": "bytes=-5"})
    assert r.status in (200, 206, 416) and (r.status == 416 or r.body == b""), r


def test_resume_with_if_range(srv):
    # R25: read half, drop the connection, ask for the rest with If-Range
    path, etag, _ = f(srv)
    with RawConn(srv.port) as c:
        c.send(("GET %s HTTP/1.1\r\nHost: x\r\n\r\n" % path).encode())
        head = c.read_head()
        assert head.startswith(b"HTTP/1.1 200"), head[:40]
        half = c.read_exact(N // 2)
    assert half == DATA[:N // 2]
    r = expect(rng(srv, "bytes=%d-" % (N // 2), {"If-Range": etag}), 206)
    assert half + r.body == DATA, "resumed download differs"
    r = expect(rng(srv, "bytes=%d-" % (N // 2), {"If-Range": '"%s"' % ("0" * 64)}), 200,
               what="If-Range with a changed ETag")
    assert r.body == DATA


def test_large_file_ranges(srv):
    # ranges deep inside a multi-megabyte file (sendfile offsets)
    big = rand_bytes(5 * 1024 * 1024 + 123, seed=77)
    o = srv.upload("big-range.bin", big)
    p = srv.dl_path(o)
    for a, b in ((0, 0), (1 << 20, (1 << 20) + 65535), (len(big) - 100, len(big) - 1)):
        r = expect(srv.get(p, {"Range": "bytes=%d-%d" % (a, b)}), 206)
        assert r.header("Content-Range") == "bytes %d-%d/%d" % (a, b, len(big))
        assert r.body == big[a:b + 1]
    r = expect(srv.get(p, {"Range": "bytes=4000000-"}), 206)
    assert r.body == big[4000000:]


def test_curl_range_and_resume(srv, tmp):
    import os
    path, etag, _ = f(srv)
    out = subprocess.run(["curl", "-sS", "-f", "-r", "100-199", srv.url + path],
                         capture_output=True, timeout=30)
    assert out.returncode == 0 and out.stdout == DATA[100:200], (out.returncode, out.stderr)
    part = os.path.join(tmp, "part.bin")
    with open(part, "wb") as fh:
        fh.write(DATA[:3333])
    out = subprocess.run(["curl", "-sS", "-f", "-C", "-", "-o", part, srv.url + path],
                         capture_output=True, timeout=30)
    assert out.returncode == 0, out.stderr
    with open(part, "rb") as fh:
        assert fh.read() == DATA, "curl -C - did not resume to the same bytes"


def test_unknown_file_download_404(srv):
    r = srv.get("/ZZZZZZZZZZZZ/nothing.bin")
    expect(r, 404)
    r = srv.get("/ZZZZZZZZZZZZ/nothing.bin", {"Range": "bytes=0-1"})
    expect(r, 404, what="Range on an unknown file")
