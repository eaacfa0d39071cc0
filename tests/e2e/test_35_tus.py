"""tus 1.0.0 resumable uploads at /api/v1/uploads: one or more tests per line
T1-T51 of docs/conformance/tus.md (the T number is in each test's name),
plus completion (X-Partage-Id, GET /api/v1/uploads/{uid}, the download),
Upload-Metadata → name/type, CORS, a dropped connection mid-PATCH (T20) and
kill -9 of the server mid-upload.  Raw HTTP only: no tus client library.

Runs of request → expected answer are tables of cases (see cases())."""

import base64
import email.utils
import hashlib
import os
import re
import socket
import struct
import sys
import time
import urllib.parse

from harness import (expect, rand_bytes, sha256, wait_until, RawConn, Server)

CONFIG = """\
[tier.anonymous]
max_upload_bytes = 64M
"""
MAX = 64 << 20
TIMEOUT = 120

V = "1.0.0"
TUS = {"Tus-Resumable": V}
CREATE = "/api/v1/uploads"
OCTET = "application/offset+octet-stream"
EXTENSIONS = ("creation", "creation-with-upload", "creation-defer-length",
              "expiration", "checksum", "checksum-trailer", "termination",
              "concatenation")
UID_RX = re.compile(r"/api/v1/uploads/([0-9A-Za-z]{1,64})")
DIGITS = re.compile(r"(0|[1-9][0-9]*)")


# ------------------------------------------------------------------ helpers

def b64(s):
    if isinstance(s, str):
        s = s.encode("utf-8")
    return base64.b64encode(s).decode()


def meta(*pairs):
    """meta(("filename", "a.txt"), ("flag", None)) → 'filename YS50eHQ=,flag'."""
    return ",".join(k if v is None else "%s %s" % (k, b64(v)) for k, v in pairs)


def h(**kw):
    """Tus-Resumable plus headers given as Upload_Length=... (_ → -)."""
    d = dict(TUS)
    for k, v in kw.items():
        d[k.replace("_", "-")] = str(v)
    return d


def csv(v):
    return [x.strip() for x in (v or "").split(",") if x.strip()]


def has(r, what="", **want):
    """Assert r's headers, given as Upload_Offset="3" (_ → -); None: absent."""
    for k, v in want.items():
        k = k.replace("_", "-")
        assert r.header(k) == v, "%s%s %r, want %r (%r)" % (
            what + ": " if what else "", k, r.header(k), v, r.headers.items())
    return r


def upath(srv, r):
    """The path of the upload URL in a 201's Location (absolute or relative)."""
    loc = r.header("Location")
    assert loc, "201 without Location: %r %r" % (r, r.headers.items())
    u = urllib.parse.urlsplit(urllib.parse.urljoin(srv.url + CREATE, loc))
    assert UID_RX.fullmatch(u.path), "Location %r is not under %s/" % (loc, CREATE)
    return u.path


def uid_of(path):
    return path.rsplit("/", 1)[1]


def create(srv, length=None, metadata=None, extra=None, body=None, code=201):
    hd = dict(TUS)
    if length is not None:
        hd["Upload-Length"] = str(length)
    if metadata is not None:
        hd["Upload-Metadata"] = metadata
    hd.update(extra or {})
    if body is not None:
        hd.setdefault("Content-Type", OCTET)
    r = srv.request("POST", CREATE, body=body if body is not None else b"", headers=hd)
    expect(r, code, what="POST %s %r" % (CREATE, hd))
    return r


def new_upload(srv, length=None, **kw):
    r = create(srv, length, **kw)
    return upath(srv, r), r


def patch(srv, path, offset, data, extra=None):
    hd = h(Upload_Offset=offset, Content_Type=OCTET)
    hd.update(extra or {})
    if not isinstance(data, (bytes, bytearray)):
        hd.setdefault("Transfer-Encoding", "chunked")
    return srv.request("PATCH", path, body=data, headers=hd)


def patch_ok(srv, path, offset, data, extra=None):
    r = expect(patch(srv, path, offset, data, extra), 204,
               what="PATCH %s at %d (%d bytes)" % (path, offset, len(data) if isinstance(data, bytes) else -1))
    return r


def head(srv, path, extra=None):
    hd = dict(TUS)
    hd.update(extra or {})
    return srv.request("HEAD", path, headers=hd)


def head_ok(srv, path, what="HEAD", **want):
    """HEAD answered 200 or 204 with the headers in want (as has())."""
    return has(expect(head(srv, path), 200, 204, what="%s %s" % (what, path)), what, **want)


def offset_of(srv, path):
    r = expect(head(srv, path), 200, 204, what="HEAD %s" % path)
    off = r.header("Upload-Offset")
    assert off is not None and DIGITS.fullmatch(off), "HEAD Upload-Offset %r" % off
    return int(off)


def stored(srv, path):
    with open(uploads_dir_file(srv, path), "rb") as f:
        return f.read()


def file_of(srv, path):
    """GET /api/v1/uploads/{uid} of a complete upload → the file object."""
    r = expect(srv.get(path, {"Accept": "application/json"}), 200, what="GET %s (complete)" % path)
    obj = r.json()
    for k in ("id", "name", "size", "sha256", "mime", "url", "download_url"):
        assert k in obj, "GET %s: file object without %r: %r" % (path, k, obj)
    return obj


def check_download(srv, path, data, last=None):
    """The upload is complete, its file object and bytes match data."""
    obj = file_of(srv, path)
    if last is not None:
        assert last.header("X-Partage-Id") == obj["id"], \
            "final reply X-Partage-Id %r, file id %r" % (last.header("X-Partage-Id"), obj["id"])
        assert last.header("X-Partage-Url") == "%s/%s" % (srv.url, obj["id"]), \
            "X-Partage-Url %r" % last.header("X-Partage-Url")
    assert obj["size"] == len(data), "file size %r, want %d" % (obj["size"], len(data))
    assert obj["sha256"] == sha256(data), "file sha256 %r, want %s" % (obj["sha256"], sha256(data))
    g = expect(srv.get(srv.dl_path(obj)), 200, what="download %s" % obj["download_url"])
    assert sha256(g.body) == sha256(data), "downloaded bytes differ (%d bytes, want %d)" % (len(g.body), len(data))
    return obj


def raw_request(srv, method, path, headers, body=b"", chunks=None, trailers=None,
                timeout=20.0, expect_100=False):
    """One request on a raw socket.  headers: list of (name, value).  With
    chunks, the body is chunked and `trailers` (list of pairs) follow the
    last chunk.  Returns the final Resp (with .interim: the 1xx seen)."""
    with RawConn(srv.port, timeout=timeout) as c:
        head_ = "%s %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n" % (method, path, srv.port)
        head_ += "".join("%s: %s\r\n" % kv for kv in headers)
        if chunks is None and body is not None and not any(k.lower() == "content-length" for k, _ in headers):
            head_ += "Content-Length: %d\r\n" % len(body)
        c.send(head_.encode("latin-1") + b"\r\n")
        interim = []
        if expect_100:
            assert c.readable(5), "no 100 Continue nor a final reply within 5s"
            first = c.read_response(method, skip_interim=False)
            if first.status != 100:
                first.interim = interim
                return first
            interim.append(first)
        try:
            if chunks is not None:
                for ch in chunks:
                    c.send(b"%x\r\n%s\r\n" % (len(ch), ch))
                c.send(b"0\r\n" + "".join("%s: %s\r\n" % kv for kv in (trailers or [])).encode("latin-1") + b"\r\n")
            elif body:
                c.send(body)
        except (BrokenPipeError, ConnectionResetError):
            pass
        r = c.read_response(method)
        r.interim = interim
        return r


def uploads_dir_file(srv, path):
    return srv.path("uploads", uid_of(path))


def options(srv, path=CREATE, extra=None):
    return srv.request("OPTIONS", path, headers=dict(extra or {}))


def opts(srv, path=CREATE, extra=None):
    return expect(options(srv, path, extra), 200, 204, what="OPTIONS %s" % path)


def extensions(srv):
    return csv(opts(srv).header("Tus-Extension"))


# ------------------------------------------------------------- case tables
#
# A table is a list of cases: (id, method, path, headers, body, statuses,
# headers wanted), made by case() or post().  The path None is the upload
# the test made; a wanted header maps to its value, a tuple of allowed
# values, or None (absent).  cases() sends every case and runs then(r)
# after each (what must not have changed), then fails once, naming each
# case that failed and why.

NO_LOC = {"Location": None}
NO_OFFSET = {"Upload-Offset": None}


def case(cid, method, headers, codes, body=None, want=None, path=None):
    return (cid, method, path, headers, body, codes, want or {})


def post(cid, headers, codes=(400,), body=b"", want=NO_LOC):
    """A creation POST (refused unless codes say otherwise)."""
    return case(cid, "POST", headers, codes, body, want, CREATE)


def cases(srv, table, path=None, then=None):
    bad = []
    for cid, method, p, hd, body, codes, want in table:
        try:
            r = srv.request(method, p or path, body=body, headers=hd)
            expect(r, *codes, what="%s %s" % (method, p or path))
            for k, v in want.items():
                got = r.header(k)
                assert got in v if isinstance(v, tuple) else got == v, \
                    "%s %r, want %r (%r)" % (k, got, v, r.headers.items())
            if then:
                then(r)
        except AssertionError as e:
            bad.append("[%s] %s" % (cid, e))
    assert not bad, "%d of %d cases failed (table at line %d): %s" % (
        len(bad), len(table), sys._getframe(1).f_lineno, " ".join(bad))


def stays(srv, path, off, data=None):
    """then() for cases(): the upload is still at off (and holds data)."""
    def then(r):
        assert offset_of(srv, path) == off, "the offset moved from %d to %d" % (off, offset_of(srv, path))
        if data is not None:
            assert stored(srv, path) == data, "the stored bytes changed (the chunk was not discarded)"
    return then


def empty_body(r):
    assert r.body == b"", "a body: %r %r" % (r, r.headers.items())


def gone(cid, off):
    """HEAD, PATCH at off and DELETE on an upload that is no more."""
    return [case("HEAD " + cid, "HEAD", h(), (404, 410), want=NO_OFFSET),
            case("PATCH " + cid, "PATCH", h(Upload_Offset=off, Content_Type=OCTET), (404, 410), b"y", NO_OFFSET),
            case("DELETE " + cid, "DELETE", h(), (404, 410), want=NO_OFFSET)]


# ------------------------------------------------------------- core headers

def test_t1_upload_offset_must_be_integer(srv):
    path, _ = new_upload(srv, 10)
    patch_ok(srv, path, 0, b"abc")
    cases(srv, [case("Upload-Offset %r" % bad, "PATCH", h(Upload_Offset=bad, Content_Type=OCTET), (400,), b"defg",
                     {"Upload-Offset": (None, "3")})
                for bad in ("abc", "-1", "+3", "1.5", "3e0", "0x3", " ", "3 3", "18446744073709551616")]
          + [case("no Upload-Offset", "PATCH", h(Content_Type=OCTET), (400,), b"defg")], path, stays(srv, path, 3))
    r = patch_ok(srv, path, 3, b"defg")
    assert DIGITS.fullmatch(r.header("Upload-Offset", "")), r.header("Upload-Offset")
    assert offset_of(srv, path) == 7


def test_t2_upload_length_must_be_integer(srv):
    cases(srv, [post("Upload-Length %r" % bad, h(Upload_Length=bad))
                for bad in ("abc", "-5", "1.0", "5 5", "0x10", "", "99999999999999999999999")])
    head_ok(srv, new_upload(srv, 1234)[0], Upload_Length="1234")


def test_t3_tus_version_list(srv):
    r = opts(srv)
    vs = csv(r.header("Tus-Version"))
    assert vs and vs[0] == V, "Tus-Version %r: 1.0.0 must be listed (first: only one supported)" % r.header("Tus-Version")
    assert all(re.fullmatch(r"\d+\.\d+\.\d+", v) for v in vs), r.header("Tus-Version")


def test_t4_tus_resumable_on_every_response(srv):
    path, r = new_upload(srv, 20)
    has(r, "POST 201", Tus_Resumable=V)
    has(patch_ok(srv, path, 0, b"0123456789"), "PATCH 204", Tus_Resumable=V)
    tv = {"Tus-Resumable": V}
    cases(srv, [case("HEAD 200", "HEAD", h(), (200, 204), want=tv),
                case("PATCH 409", "PATCH", h(Upload_Offset=3, Content_Type=OCTET), (409,), b"x", tv),
                case("PATCH 415", "PATCH", h(Upload_Offset=10, Content_Type="text/plain"), (415,), b"x", tv),
                post("POST 400", h(), want=tv),
                case("HEAD 404", "HEAD", h(), (404, 410), want=tv, path=CREATE + "/" + "Z" * 24),
                case("PATCH 412", "PATCH", {"Upload-Offset": "10", "Content-Type": OCTET}, (412,), b"x", tv),
                case("DELETE 204", "DELETE", h(), (204,), want=tv)], path)


def test_t5_412_on_missing_or_wrong_version(srv):
    path, _ = new_upload(srv, 10)
    patch_ok(srv, path, 0, b"abc")
    before = sorted(os.listdir(srv.path("uploads")))
    table = []
    for ver in (None, "0.2.2", "1.0", "2.0.0", "1.0.0x"):
        hv = {} if ver is None else {"Tus-Resumable": ver}
        table += [  # POST creates nothing, PATCH writes nothing, HEAD says no offset, DELETE keeps it
            post("POST, Tus-Resumable %r" % ver, dict(hv, **{"Upload-Length": "5"}), (412,)),
            case("PATCH, Tus-Resumable %r" % ver, "PATCH", dict(hv, **{"Upload-Offset": "3", "Content-Type": OCTET}),
                 (412,), b"defg"),
            case("HEAD, Tus-Resumable %r" % ver, "HEAD", hv, (412,), want=NO_OFFSET),
            case("DELETE, Tus-Resumable %r" % ver, "DELETE", hv, (412,))]

    def then(r):
        assert V in csv(r.header("Tus-Version")), "412 without Tus-Version: %r" % r.headers.items()
        stays(srv, path, 3)(r)
    cases(srv, table, path, then)
    assert sorted(os.listdir(srv.path("uploads"))) == before, "a 412 POST created an upload"
    patch_ok(srv, path, 3, b"defghij")


def test_t6_tus_extension_list(srv):
    r = opts(srv)
    ext = csv(r.header("Tus-Extension"))
    for e in EXTENSIONS:
        assert e in ext, "Tus-Extension %r lacks %s" % (r.header("Tus-Extension"), e)
    assert "concatenation-unfinished" not in ext, \
        "concatenation-unfinished is advertised but T47 (unfinished partials) is rejected"
    assert len(ext) == len(set(ext)), "duplicates in Tus-Extension %r" % ext
    assert r.header_all("Tus-Extension") and all(x.strip() for x in r.header_all("Tus-Extension"))


def test_t7_tus_max_size(srv):
    has(opts(srv), "config says %d" % MAX, Tus_Max_Size=str(MAX))


def test_t7_tus_max_size_without_tier_limit(tmp):
    # a tier without a size limit still has the server's ceiling,
    # storage.max_file_bytes (1 TiB by default): T7 "SHOULD be sent if
    # there is a hard limit", and there always is one (issue 12)
    with Server("[tier.anonymous]\nmax_upload_bytes = 0\n", name="tus-nolimit") as s:
        has(opts(s), "want the 1 TiB ceiling", Tus_Max_Size=str(1 << 40))
        path, _ = new_upload(s, MAX * 2)
        assert offset_of(s, path) == 0


def test_t8_method_override(srv):
    path, _ = new_upload(srv, 11)
    cases(srv, [
        case("POST + X-HTTP-Method-Override: PATCH", "POST", h(
            X_HTTP_Method_Override="PATCH", Upload_Offset=0, Content_Type=OCTET), (204,), b"hello",
            {"Upload-Offset": "5"}),
        case("POST + X-HTTP-Method-Override: HEAD", "POST", h(X_HTTP_Method_Override="HEAD"), (200, 204), b"",
             {"Upload-Offset": "5"})], path, empty_body)
    # the real method is ignored: a PATCH-shaped POST to the creation URL is a PATCH there (405/404), not a creation
    r = srv.request("POST", CREATE, body=b"", headers=h(X_HTTP_Method_Override="PATCH", Upload_Length=5))
    assert r.status != 201, "X-HTTP-Method-Override: PATCH was ignored (POST created an upload)"
    r = srv.request("POST", path, body=b" world", headers=h(
        X_HTTP_Method_Override="PATCH", Upload_Offset=5, Content_Type=OCTET))
    obj = check_download(srv, path, b"hello world", expect(r, 204))
    # POST + DELETE override terminates
    p2, _ = new_upload(srv, 5)
    r = srv.request("POST", p2, body=b"", headers=h(X_HTTP_Method_Override="DELETE"))
    expect(r, 204, what="POST + X-HTTP-Method-Override: DELETE")
    expect(head(srv, p2), 404, 410)
    assert obj["size"] == 11


# -------------------------------------------------------------------- HEAD

def test_t9_head_offset_zero_and_complete(srv):
    path, _ = new_upload(srv, 6)
    head_ok(srv, path, "fresh upload", Upload_Offset="0")
    patch_ok(srv, path, 0, b"abcdef")
    head_ok(srv, path, "HEAD on a complete upload", Upload_Offset="6", Upload_Length="6")


def test_t10_head_upload_length(srv):
    path, _ = new_upload(srv, 777)
    patch_ok(srv, path, 0, b"x" * 100)
    head_ok(srv, path, Upload_Length="777", Upload_Offset="100", Upload_Defer_Length=None)


def test_t11_head_unknown(srv):
    cases(srv, [case("HEAD %s" % p, "HEAD", h(), (404, 410, 403), want=dict(NO_OFFSET, **{"Upload-Length": None}),
                     path=p)
                for p in (CREATE + "/" + "A" * 24, CREATE + "/nope", CREATE + "/" + "9" * 64, CREATE + "/a%2Fb")])


def test_t12_head_200_or_204(srv):
    r = head(srv, new_upload(srv, 3)[0])
    assert r.status in (200, 204), r
    assert r.body == b""


def test_t13_head_no_store(srv):
    path, _ = new_upload(srv, 3)
    r = head_ok(srv, path)
    cc = [x.strip().lower() for x in (r.header("Cache-Control") or "").split(",")]
    assert "no-store" in cc, "HEAD Cache-Control %r" % r.header("Cache-Control")
    patch_ok(srv, path, 0, b"abc")
    r = head_ok(srv, path)
    assert "no-store" in (r.header("Cache-Control") or ""), "complete upload HEAD Cache-Control %r" % r.header("Cache-Control")


def test_t14_head_echoes_metadata(srv):
    for m in (meta(("filename", "report.pdf"), ("is_confidential", None)),
              meta(("filename", "été.txt"), ("filetype", "text/plain"), ("empty", ""))):
        r = expect(head(srv, new_upload(srv, 10, metadata=m)[0]), 200, 204, what="HEAD")
        # a field value has no whitespace at its ends (RFC 9110 §5.5): a
        # last key with an empty value ("empty ") may come back as "empty"
        assert r.header("Upload-Metadata") in (m, m.rstrip(" \t")), \
            "HEAD echoes what was sent: %r, want %r" % (r.header("Upload-Metadata"), m)
    head_ok(srv, new_upload(srv, 10)[0], "metadata that was never sent", Upload_Metadata=None)


def test_t15_head_defer_length(srv):
    path, r = new_upload(srv, extra={"Upload-Defer-Length": "1"})
    head_ok(srv, path, "deferred", Upload_Defer_Length="1", Upload_Length=None)
    patch_ok(srv, path, 0, b"abc")
    head_ok(srv, path, "deferred", Upload_Defer_Length="1", Upload_Offset="3")
    patch_ok(srv, path, 3, b"de", {"Upload-Length": "10"})
    head_ok(srv, path, "length declared", Upload_Defer_Length=None, Upload_Length="10")


# ------------------------------------------------------------------- PATCH

def test_t16_patch_content_type_415(srv):
    path, _ = new_upload(srv, 10)
    cases(srv, [case("Content-Type %r" % ct, "PATCH", h(Upload_Offset=0, **({"Content_Type": ct} if ct else {})),
                     (415,), b"abc")
                for ct in ("application/octet-stream", "text/plain", "application/offset+octet-streamx", None)],
          path, stays(srv, path, 0))
    # the media type is case-insensitive
    patch_ok(srv, path, 0, b"abc", {"Content-Type": "Application/Offset+Octet-Stream"})


def test_t17_offset_mismatch_409(srv):
    data = rand_bytes(3000)
    path, _ = new_upload(srv, len(data))
    patch_ok(srv, path, 0, data[:1000])
    cases(srv, [case("PATCH at %d (offset is 1000)" % off, "PATCH", h(Upload_Offset=off, Content_Type=OCTET), (409,),
                     b"Z" * 500) for off in (0, 999, 1001, 2000, 3000)],
          path, stays(srv, path, 1000, data[:1000]))
    check_download(srv, path, data, patch_ok(srv, path, 1000, data[1000:]))


def test_t18_patch_204_new_offset(srv):
    data = rand_bytes(100000)
    path, _ = new_upload(srv, len(data))
    off = 0
    for n in (1, 4095, 65536, 30368):
        r = patch_ok(srv, path, off, data[off:off + n])
        assert r.body == b""
        off += n
        has(r, "PATCH", Upload_Offset=str(off))
        assert offset_of(srv, path) == off
    check_download(srv, path, data, r)


def test_t18_empty_patch(srv):
    path, _ = new_upload(srv, 5)
    patch_ok(srv, path, 0, b"ab")
    has(patch_ok(srv, path, 2, b""), Upload_Offset="2")
    check_download(srv, path, b"abcde", patch_ok(srv, path, 2, b"cde"))


def test_t19_patch_missing_404(srv):
    cases(srv, [case("PATCH %s" % p, "PATCH", h(Upload_Offset=0, Content_Type=OCTET), (404, 410), b"abc", NO_OFFSET,
                     p) for p in (CREATE + "/" + "B" * 24, CREATE + "/x")])


def _cut_mid_body(srv, path, offset, total, data, rst=False):
    """Send a PATCH promising `total` bytes, send `data`, close the socket."""
    s = socket.create_connection(("127.0.0.1", srv.port), timeout=20)
    try:
        s.sendall(("PATCH %s HTTP/1.1\r\nHost: x\r\nTus-Resumable: 1.0.0\r\nUpload-Offset: %d\r\n"
                   "Content-Type: %s\r\nContent-Length: %d\r\n\r\n" % (path, offset, OCTET, total)).encode())
        sent = 0
        for i in range(0, len(data), 1 << 20):
            s.sendall(data[i:i + (1 << 20)])
            sent += len(data[i:i + (1 << 20)])
        time.sleep(0.3)
        if rst:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        return sent
    finally:
        s.close()


def _settled_offset(srv, path, above, timeout=10):
    def ready():
        o = offset_of(srv, path)
        if o <= above:
            return 0
        r = patch(srv, path, o, b"")
        return o if r.status == 204 and offset_of(srv, path) == o else 0
    return wait_until(ready, timeout)


def test_t20_broken_connection_keeps_bytes(srv):
    data = rand_bytes(40 << 20, seed=20)
    path, _ = new_upload(srv, len(data))
    patch_ok(srv, path, 0, data[:1 << 20])
    sent = (1 << 20) + _cut_mid_body(srv, path, 1 << 20, len(data) - (1 << 20), data[1 << 20:(21 << 20)])
    # the server notices the cut and records what it stored.  HEAD may
    # move during the body already (a checkpoint every
    # tus_checkpoint_bytes): the cut is over when an empty PATCH at the
    # offset is taken (the dead request's lease is gone) and HEAD agrees
    off = _settled_offset(srv, path, 1 << 20)
    assert off, "after a PATCH cut after %d bytes HEAD still says %d: the received bytes were dropped " \
        "(SHOULD keep as much as possible)" % (sent, offset_of(srv, path))
    assert off <= sent, "HEAD says %d but only %d bytes were ever sent" % (off, sent)
    assert stored(srv, path)[:off] == data[:off], "bytes up to the reported offset are not the bytes sent"
    # a second cut, with a RST this time
    sent2 = off + _cut_mid_body(srv, path, off, len(data) - off, data[off:off + (6 << 20)], rst=True)
    wait_until(lambda: offset_of(srv, path) > off, 10)
    off2 = offset_of(srv, path)
    assert off <= off2 <= sent2, "after the RST: offset %d not in [%d, %d]" % (off2, off, sent2)
    # resume at once (the dead request's lease must be gone) and finish
    r = wait_until(lambda: (lambda x: x if x.status != 409 else None)(patch(srv, path, off2, data[off2:])), 5)
    assert r, "PATCH at the HEAD offset %d still 409 five seconds after the connection broke" % off2
    check_download(srv, path, data, expect(r, 204, what="PATCH resuming at %d" % off2))
test_t20_broken_connection_keeps_bytes.timeout = 180


def test_t21_patch_past_length(srv):
    path, _ = new_upload(srv, 10)
    patch_ok(srv, path, 0, b"abcd")
    cases(srv, [  # refused before the body when Content-Length says too much, or on the way when chunked
        case("PATCH of 10 bytes at 4 of 10", "PATCH", h(Upload_Offset=4, Content_Type=OCTET), (400, 413), b"0123456789"),
        case("chunked PATCH past Upload-Length", "PATCH", h(Upload_Offset=4, Content_Type=OCTET,
                                                            Transfer_Encoding="chunked"), (400, 413),
             iter([b"012", b"345", b"6789"]))], path, stays(srv, path, 4, b"abcd"))
    check_download(srv, path, b"abcdefghij", patch_ok(srv, path, 4, b"efghij"))
    # a complete upload takes no more bytes.  The final PATCH again, as a
    # client whose answer was lost sends it: at the old offset it learns
    # where the upload is (409 + offset); an empty PATCH at the end is a
    # no-op that says "complete" (as tusd).
    cases(srv, [case("PATCH after completion", "PATCH", h(Upload_Offset=10, Content_Type=OCTET),
                     (400, 403, 404, 409, 410, 413), b"k"),
                case("stale PATCH after completion", "PATCH", h(Upload_Offset=4, Content_Type=OCTET), (409,),
                     b"efghij", {"Upload-Offset": "10"})], path, stays(srv, path, 10))
    r = expect(patch(srv, path, 10, b""), 204, what="empty PATCH at the end of a complete upload")
    check_download(srv, path, b"abcdefghij", has(r, Upload_Offset="10"))


def test_t22_chunked_patch(srv):
    data = rand_bytes(300000)
    path, _ = new_upload(srv, len(data))
    chunks = [data[i:min(i + 7000, 200000)] for i in range(0, 200000, 7000)]
    r = expect(patch(srv, path, 0, iter(chunks)), 204, what="chunked PATCH (no Content-Length)")
    has(r, Upload_Offset="200000")
    # raw, without even a Content-Length header, with odd chunk sizes
    r = raw_request(srv, "PATCH", path, [("Tus-Resumable", V), ("Upload-Offset", "200000"),
                                         ("Content-Type", OCTET), ("Transfer-Encoding", "chunked")],
                    chunks=[data[200000:200001], data[200001:250000], data[250000:]])
    has(expect(r, 204, what="raw chunked PATCH"), Upload_Offset=str(len(data)))
    check_download(srv, path, data, r)


def test_patch_concurrent_same_upload_conflicts(srv):
    # a second PATCH while one is still streaming must not interleave bytes
    data = rand_bytes(2 << 20)
    path, _ = new_upload(srv, len(data))
    c = RawConn(srv.port, timeout=20)
    try:
        c.send(("PATCH %s HTTP/1.1\r\nHost: x\r\nTus-Resumable: 1.0.0\r\nUpload-Offset: 0\r\n"
                "Content-Type: %s\r\nContent-Length: %d\r\n\r\n" % (path, OCTET, len(data))).encode())
        c.send(data[:1 << 20])
        time.sleep(0.3)
        expect(patch(srv, path, 0, b"X" * 100), 409, 423, what="second PATCH while the first is streaming")
        c.send(data[1 << 20:])
        first = c.read_response("PATCH")
    finally:
        c.close()
    check_download(srv, path, data, expect(first, 204, what="the first PATCH"))


# ----------------------------------------------------------------- OPTIONS

def test_t23_options(srv):
    path, _ = new_upload(srv, 5)
    for p in (CREATE, path):
        r = opts(srv, p)
        assert V in csv(r.header("Tus-Version")), "OPTIONS %s: Tus-Version %r" % (p, r.header("Tus-Version"))
        assert r.header("Tus-Extension"), "OPTIONS %s without Tus-Extension" % p
        has(r, "OPTIONS " + p, Tus_Max_Size=str(MAX))
        assert "sha1" in csv(r.header("Tus-Checksum-Algorithm")), \
            "OPTIONS %s: Tus-Checksum-Algorithm %r" % (p, r.header("Tus-Checksum-Algorithm"))


def test_t24_options_ignores_tus_resumable(srv):
    def then(r):
        assert V in csv(r.header("Tus-Version")), r.header("Tus-Version")
    cases(srv, [case("OPTIONS, Tus-Resumable %r" % v, "OPTIONS", {} if v is None else {"Tus-Resumable": v}, (200, 204),
                     path=CREATE) for v in (None, "1.0.0", "0.2.2", "garbage")], then=then)


# ---------------------------------------------------------------- creation

def test_t25_creation_advertised(srv):
    assert "creation" in extensions(srv)


def test_t26_post_needs_length_or_defer(srv):
    cases(srv, [post("neither Upload-Length nor Upload-Defer-Length", h(), want={})]
          + [post("Upload-Defer-Length %r" % d, h(Upload_Defer_Length=d)) for d in ("0", "2", "true", "yes", "", "01")]
          + [post("Upload-Defer-Length 1", h(Upload_Defer_Length="1"), (201,), want={}),
             post("Upload-Length and Upload-Defer-Length together", h(Upload_Defer_Length="1", Upload_Length=5),
                  want={})])


def test_t27_201_location_offset_zero(srv):
    t0 = time.time()
    r = create(srv, 100)
    loc = r.header("Location")
    assert loc.startswith(srv.url + CREATE + "/") or loc.startswith(CREATE + "/"), "Location %r" % loc
    path = upath(srv, r)
    assert offset_of(srv, path) == 0
    # each creation is its own upload
    assert upath(srv, create(srv, 100)) != path
    # the new upload's id is unguessable enough: 24 alphanumerics
    assert len(uid_of(path)) >= 16, uid_of(path)
    assert time.time() - t0 < 10


def test_t28_zero_length_complete_at_once(srv):
    r = create(srv, 0, metadata=meta(("filename", "empty.txt")))
    path = upath(srv, r)
    head_ok(srv, path, Upload_Offset="0", Upload_Length="0")
    assert check_download(srv, path, b"", r)["name"] == "empty.txt"
    expect(patch(srv, path, 0, b"x"), 400, 403, 409, 413, what="PATCH on a complete empty upload")


def test_t29_length_over_max_413(srv):
    path, _ = new_upload(srv, extra={"Upload-Defer-Length": "1"})
    cases(srv, [post("Upload-Length %d > Tus-Max-Size %d" % (MAX + 1, MAX), h(Upload_Length=MAX + 1), (413,)),
                post("Upload-Length %d = Tus-Max-Size" % MAX, h(Upload_Length=MAX), (201,), want={}),
                # deferred length past the limit: refused when it is declared
                case("PATCH declaring Upload-Length %d > max" % (MAX + 1), "PATCH",
                     h(Upload_Offset=0, Content_Type=OCTET, Upload_Length=MAX + 1), (413,), b"abc", path=path)])
    assert offset_of(srv, path) == 0


def test_t30_metadata_parsing(srv):
    good = [
        "filename d29ybGRfZG9taW5hdGlvbl9wbGFuLnBkZg==,is_confidential",
        "a YQ==",
        "a YQ==,b Yg==,c",
        "k ",  # empty value with its space
        "key_with-odd.chars%$ YWJj",
    ]
    bad = [
        "filename !!!!",        # not base64
        "filename YWJj=",       # bad padding
        "a YQ==,a Yg==",        # duplicate key
        ",a YQ==",              # empty key
        "a YQ==,",              # empty pair at the end
        "a YQ== Yg==",          # two values
        "a\tYQ==",              # key with a control byte
        "a YQ==,,b Yg==",
    ]
    cases(srv, [post("valid Upload-Metadata %r" % m, h(Upload_Length=1, Upload_Metadata=m), (201,), want={})
                for m in good]
          + [post("malformed Upload-Metadata %r" % m, h(Upload_Length=1, Upload_Metadata=m)) for m in bad])


def test_t31_metadata_sanitised(srv):
    evil = "evil\r\nX-Injected: 1\r\n.txt"
    m = meta(("filename", evil), ("filetype", "text/plain\r\nX-Injected: 2"))
    path, r = new_upload(srv, 5, metadata=m)
    obj = check_download(srv, path, b"hello", patch_ok(srv, path, 0, b"hello"))
    assert "\r" not in obj["name"] and "\n" not in obj["name"], "file name keeps CR/LF: %r" % obj["name"]
    assert "evil" in obj["name"], "file name %r lost its printable part" % obj["name"]
    assert "X-Injected" not in (obj["mime"] or "") and "\n" not in obj["mime"], "mime %r" % obj["mime"]
    # on the wire: the download's Content-Disposition has no raw CR/LF
    raw = srv.raw(("GET %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n" % srv.dl_path(obj)).encode())
    assert raw.status == 200, raw
    assert b"X-Injected" not in raw.raw_head.split(b"Content-Disposition")[0] and \
        raw.header("X-Injected") is None, "header smuggled through the file name: %r" % raw.raw_head
    for ln in raw.raw_head.split(b"\r\n"):
        assert not ln.lower().startswith(b"x-injected"), raw.raw_head
    # HEAD echoes the metadata as sent: base64, so it is safe as is
    head_ok(srv, path, Upload_Metadata=m)
    # a path in the name keeps only the last component
    for name, want in (("../../etc/passwd", "passwd"), ("C:\\Users\\me\\photo.jpg", "photo.jpg"),
                       ("/abs/dir/x.bin", "x.bin")):
        path, _ = new_upload(srv, 3, metadata=meta(("filename", name)))
        obj = check_download(srv, path, b"abc", patch_ok(srv, path, 0, b"abc"))
        assert obj["name"] == want, "filename %r became %r, want %r" % (name, obj["name"], want)


def test_t32_defer_length(srv):
    assert "creation-defer-length" in extensions(srv)
    data = rand_bytes(5000)
    path, r = new_upload(srv, extra={"Upload-Defer-Length": "1"})
    patch_ok(srv, path, 0, data[:2000])
    patch_ok(srv, path, 2000, data[2000:3000])
    # the length may not be below what is already there
    cases(srv, [case("Upload-Length below the offset", "PATCH",
                     h(Upload_Offset=3000, Content_Type=OCTET, Upload_Length=2999), (400,), data[3000:4000])],
          path, stays(srv, path, 3000))
    r = patch_ok(srv, path, 3000, data[3000:4000], {"Upload-Length": str(len(data))})
    assert r.header("X-Partage-Id") is None, "incomplete upload already has a file"
    # once set it cannot change
    cases(srv, [case("Upload-Length changed to %s" % other, "PATCH",
                     h(Upload_Offset=4000, Content_Type=OCTET, Upload_Length=other), (400,), data[4000:])
                for other in ("4999", "6000", "0")], path, stays(srv, path, 4000))
    head_ok(srv, path, Upload_Length=str(len(data)))
    # the same value again is fine
    check_download(srv, path, data, patch_ok(srv, path, 4000, data[4000:], {"Upload-Length": str(len(data))}))


def test_t32_defer_length_zero(srv):
    path, _ = new_upload(srv, extra={"Upload-Defer-Length": "1"})
    check_download(srv, path, b"", patch_ok(srv, path, 0, b"", {"Upload-Length": "0"}))


# ---------------------------------------------------- creation-with-upload

def test_t33_creation_with_upload_with_creation(srv):
    ext = extensions(srv)
    assert "creation-with-upload" in ext and "creation" in ext, ext


def test_t34_creation_with_upload(srv):
    data = rand_bytes(50000)
    r = has(create(srv, len(data), body=data[:20000]), "creation-with-upload", Upload_Offset="20000")
    path = upath(srv, r)
    assert offset_of(srv, path) == 20000
    check_download(srv, path, data, patch_ok(srv, path, 20000, data[20000:]))
    # the whole file in the POST: complete, the 201 names the file
    small = b"all in one POST\n"
    r = has(create(srv, len(small), body=small, metadata=meta(("filename", "one.txt"))), Upload_Offset=str(len(small)))
    assert check_download(srv, upath(srv, r), small, r)["name"] == "one.txt"
    cases(srv, [
        post("chunked creation-with-upload", h(Upload_Length=10, Content_Type=OCTET, Transfer_Encoding="chunked"),
             (201,), iter([b"abc", b"def"]), {"Upload-Offset": "6"}),
        post("deferred length with a body", h(Upload_Defer_Length=1, Content_Type=OCTET), (201,), b"xyz",
             {"Upload-Offset": "3"}),
        post("creation body with Content-Type text/plain", h(Upload_Length=10, Content_Type="text/plain"), (400, 415),
             b"abc", {}),
        post("creation body longer than Upload-Length", h(Upload_Length=10, Content_Type=OCTET), (400, 413),
             b"0123456789AB", {})])


def test_t35_expect_100_continue(srv):
    data = rand_bytes(100000)
    hd = [("Tus-Resumable", V), ("Upload-Length", str(len(data))), ("Content-Type", OCTET),
          ("Expect", "100-continue"), ("Content-Length", "40000")]
    r = raw_request(srv, "POST", CREATE, hd, body=data[:40000], expect_100=True)
    assert r.interim and r.interim[0].status == 100, "POST with Expect: no 100 Continue before the body (%r)" % r
    expect(r, 201)
    path = upath(srv, r)
    assert offset_of(srv, path) == 40000
    hd = [("Tus-Resumable", V), ("Upload-Offset", "40000"), ("Content-Type", OCTET),
          ("Expect", "100-continue"), ("Content-Length", str(len(data) - 40000))]
    r = raw_request(srv, "PATCH", path, hd, body=data[40000:], expect_100=True)
    assert r.interim and r.interim[0].status == 100, "PATCH with Expect: no 100 Continue (%r)" % r
    expect(r, 204)
    check_download(srv, path, data, r)
    # an error is the final answer instead of 100
    p2, _ = new_upload(srv, 1000)
    for hd2, code in (([("Tus-Resumable", V), ("Upload-Offset", "5")], 409),
                      ([("Upload-Offset", "0")], 412),
                      ([("Tus-Resumable", V), ("Upload-Offset", "0"), ("Content-Length", "5000")], 413),
                      ):
        hd2 = hd2 + [("Content-Type", OCTET), ("Expect", "100-continue")]
        if not any(k == "Content-Length" for k, _ in hd2):
            hd2.append(("Content-Length", "500"))
        with RawConn(srv.port) as c:
            c.send(("PATCH %s HTTP/1.1\r\nHost: x\r\n" % p2 + "".join("%s: %s\r\n" % kv for kv in hd2)
                    + "\r\n").encode())
            assert c.readable(5), "no answer to a bad PATCH with Expect"
            first = c.read_response("PATCH", skip_interim=False)
        assert first.status in (code, 400) if code == 413 else first.status == code, \
            "bad PATCH with Expect (%r): first reply %r, want the final %d (no 100)" % (hd2, first, code)
    assert offset_of(srv, p2) == 0


# -------------------------------------------------------------- expiration

def test_t36_expiration_advertised(srv):
    assert "expiration" in extensions(srv)


def _date(v, what):
    assert v, "%s without Upload-Expires" % what
    assert re.fullmatch(r"(Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d\d (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) "
                        r"\d{4} \d\d:\d\d:\d\d GMT", v), "%s Upload-Expires %r is not an IMF-fixdate" % (what, v)
    return email.utils.parsedate_to_datetime(v).timestamp()


def test_t37_upload_expires(srv):
    now = time.time()
    r = create(srv, 10)
    t = _date(r.header("Upload-Expires"), "POST 201")
    # default upload_expiry_hours = 24
    assert now + 23 * 3600 < t < now + 25 * 3600, "Upload-Expires %r is not ~24h ahead" % r.header("Upload-Expires")
    path = upath(srv, r)
    _date(patch_ok(srv, path, 0, b"abc").header("Upload-Expires"), "PATCH 204")
    r = patch_ok(srv, path, 3, b"def", {"Upload-Checksum": "sha1 " + b64(hashlib.sha1(b"def").digest())})
    _date(r.header("Upload-Expires"), "PATCH 204 with a checksum")
    _date(head_ok(srv, path).header("Upload-Expires"), "HEAD")
    _date(create(srv, 5, body=b"ab").header("Upload-Expires"), "creation-with-upload 201")


def test_t38_expired_upload_gone(tmp):
    s = Server("[server]\nupload_expiry_hours = 1\n", name="tus-expire")
    try:
        path, r = new_upload(s, 100)
        t = _date(r.header("Upload-Expires"), "POST")
        assert time.time() + 3000 < t < time.time() + 3700, "upload_expiry_hours = 1 but Upload-Expires %r" % r.header("Upload-Expires")
        patch_ok(s, path, 0, b"x" * 40)
        done_path, done_r = new_upload(s, 3)
        fid = patch_ok(s, done_path, 0, b"abc").header("X-Partage-Id")
        s.stop()
        s.start(env={"PARTAGE_TIME_OFFSET": "7200"})
        cases(s, gone("on an upload expired 1h ago", 40), path)
        # its bytes go (maintenance), the completed file stays
        assert wait_until(lambda: not os.path.exists(uploads_dir_file(s, path)), 15), \
            "the expired upload's bytes are still in %s" % uploads_dir_file(s, path)
        obj = expect(s.file_obj(fid), 200, what="file of a completed upload after upload expiry").json()
        assert obj["size"] == 3
    finally:
        s.close(quiet=True)


# ---------------------------------------------------------------- checksum

def ck(algo, data):
    """An Upload-Checksum value: 'sha1 <base64 digest of data>'."""
    return "%s %s" % (algo, b64(hashlib.new(algo, data).digest()))


def test_t39_checksum_advertised(srv):
    r = opts(srv)
    assert "checksum" in csv(r.header("Tus-Extension"))
    algos = csv(r.header("Tus-Checksum-Algorithm"))
    assert "sha1" in algos, "Tus-Checksum-Algorithm %r lacks sha1" % algos
    assert all(re.fullmatch(r"[a-z0-9-]+", a) for a in algos), "algorithm names not lowercase: %r" % algos
    assert set(algos) >= {"sha1", "sha256", "md5"}, algos


def test_t40_checksum_covers_this_patch_only(srv):
    data = rand_bytes(30000)
    path, _ = new_upload(srv, len(data))
    patch_ok(srv, path, 0, data[:10000])
    has(patch_ok(srv, path, 10000, data[10000:20000], {"Upload-Checksum": ck("sha1", data[10000:20000])}),
        Upload_Offset="20000")
    # the digest of everything so far is not this chunk's digest
    r = patch(srv, path, 20000, data[20000:], {"Upload-Checksum": ck("sha1", data)})
    expect(r, 460, what="digest of the whole file on one PATCH")
    check_download(srv, path, data, patch_ok(srv, path, 20000, data[20000:],
                                             {"Upload-Checksum": ck("sha256", data[20000:])}))


def test_t41_checksum_unsupported_and_mismatch(srv):
    data = rand_bytes(20000)
    path, _ = new_upload(srv, len(data))
    patch_ok(srv, path, 0, data[:5000])
    chunk = data[5000:15000]
    cases(srv, [case("Upload-Checksum %r" % c, "PATCH", h(Upload_Offset=5000, Content_Type=OCTET, Upload_Checksum=c),
                     (code,), chunk)
                for c, code in (("crc32 AAAAAA==", 400), (ck("sha512", chunk), 400),
                                ("SHA1 " + b64(hashlib.sha1(chunk).digest()), 400),
                                ("sha1", 400), ("sha1 !!!!", 400),
                                (ck("sha1", b"other"), 460), (ck("md5", b"other"), 460),
                                (ck("sha256", chunk[:-1]), 460),
                                ("sha256 " + b64(hashlib.sha1(chunk).digest()), 460))],
          path, stays(srv, path, 5000, data[:5000]))
    patch_ok(srv, path, 5000, chunk, {"Upload-Checksum": ck("md5", chunk)})
    check_download(srv, path, data, patch_ok(srv, path, 15000, data[15000:],
                                             {"Upload-Checksum": ck("sha1", data[15000:])}))


def test_t42_sha1_vector(srv):
    assert b64(hashlib.sha1(b"hello world").digest()) == "Kq5sNclPz7QV2+lfQIuc6R7oRu0="
    path, _ = new_upload(srv, 11)
    r = patch(srv, path, 0, b"hello world", {"Upload-Checksum": "sha1 Kq5sNclPz7QV2+lfQIuc6R7oRu0="})
    check_download(srv, path, b"hello world", has(expect(r, 204, what="T42 vector"), Upload_Offset="11"))
    # a wrong digest (the vector with one character changed; still canonical
    # base64): 460, offset unchanged, nothing kept
    path, _ = new_upload(srv, 11)

    def then(r):
        assert offset_of(srv, path) == 0
        assert os.path.getsize(uploads_dir_file(srv, path)) == 0, "a 460 chunk stays on disk"
    cases(srv, [case("T42 wrong digest %s" % wrong, "PATCH", h(Upload_Offset=0, Content_Type=OCTET,
                                                                Upload_Checksum="sha1 " + wrong), (460,), b"hello world")
                for wrong in ("Kq5sNclPz7QV2+lfQIuc6R7oRu4=", b64(hashlib.sha1(b"hello worlD").digest()))], path, then)
    expect(patch(srv, path, 0, b"hello world", {"Upload-Checksum": "sha1 Kq5sNclPz7QV2+lfQIuc6R7oRu0="}), 204)


def test_t41_digest_not_base64(srv):
    # bytes outside the base64 alphabet are malformed (400), not read as '/'
    chunk = next(c for c in (b"chunk %d" % i for i in range(1000))
                 if "/" in b64(hashlib.sha1(c).digest()))
    path, _ = new_upload(srv, len(chunk))
    bad = ck("sha1", chunk).encode().replace(b"/", b"\xff")
    r = patch(srv, path, 0, chunk, {"Upload-Checksum": bad})
    expect(r, 400, what="Upload-Checksum %r (0xff where the digest has '/')" % bad)
    assert offset_of(srv, path) == 0, "a digest with non-base64 bytes was accepted"
    check_download(srv, path, chunk, patch_ok(srv, path, 0, chunk, {"Upload-Checksum": ck("sha1", chunk)}))


def test_t30_metadata_value_not_base64(srv):
    name = next(n for n in ("f\u00ff\u00bf%d.txt" % i for i in range(1000)) if "/" in b64(n))
    bad = ("filename " + b64(name)).encode().replace(b"/", b"\x80")
    r = srv.request("POST", CREATE, body=b"", headers=dict(TUS, **{"Upload-Length": "1", "Upload-Metadata": bad}))
    expect(r, 400, what="Upload-Metadata %r (0x80 where the base64 has '/')" % bad)


def _trailer_patch(srv, path, offset, chunks, trailer):
    hd = [("Tus-Resumable", V), ("Upload-Offset", str(offset)), ("Content-Type", OCTET),
          ("Transfer-Encoding", "chunked"), ("Trailer", "Upload-Checksum")]
    return raw_request(srv, "PATCH", path, hd, chunks=chunks,
                       trailers=[("Upload-Checksum", trailer)] if trailer is not None else [])


def test_t43_checksum_trailer(srv):
    assert "checksum-trailer" in extensions(srv)
    data = rand_bytes(200000)
    path, _ = new_upload(srv, len(data))
    a = data[:80000]
    r = _trailer_patch(srv, path, 0, [a[i:i + 9999] for i in range(0, len(a), 9999)], ck("sha1", a))
    has(expect(r, 204, what="chunked PATCH with a correct sha1 trailer"), Upload_Offset="80000")
    b = data[80000:150000]
    for tr, code in ((ck("sha1", a), 460),          # mismatch
                     (ck("sha256", b[1:]), 460),
                     ("crc32 AAAAAA==", 400),       # unsupported
                     ("sha1", 400),                 # malformed
                     (None, 400)):                  # announced, never sent
        r = _trailer_patch(srv, path, 80000, [b[:30000], b[30000:]], tr)
        expect(r, code, what="trailer %r" % tr)
        assert offset_of(srv, path) == 80000, "trailer %r (%d): offset moved to %d" % (tr, code, offset_of(srv, path))
        assert stored(srv, path) == a, "trailer %r: the chunk was not discarded" % tr
    expect(_trailer_patch(srv, path, 80000, [b], ck("sha256", b)), 204, what="sha256 trailer")
    c = data[150000:]
    r = expect(_trailer_patch(srv, path, 150000, [c[:1], c[1:]], ck("md5", c)), 204, what="md5 trailer")
    check_download(srv, path, data, r)


# ------------------------------------------------------------- termination

def test_t44_termination(srv):
    assert "termination" in extensions(srv)
    path, _ = new_upload(srv, 100)
    patch_ok(srv, path, 0, b"x" * 30)
    assert os.path.exists(uploads_dir_file(srv, path))
    expect(srv.request("DELETE", path, headers=h()), 204, what="DELETE unfinished upload")
    cases(srv, gone("after termination", 30) + [case("GET after termination", "GET", {}, (404, 410), want=NO_OFFSET)],
          path)
    assert not os.path.exists(uploads_dir_file(srv, path)), "a terminated upload's bytes stay on disk"
    # a finished upload can be terminated too
    path, _ = new_upload(srv, 3)
    patch_ok(srv, path, 0, b"abc")
    expect(srv.request("DELETE", path, headers=h()), 204, what="DELETE finished upload")
    expect(head(srv, path), 404, 410)
    # unknown
    expect(srv.request("DELETE", CREATE + "/" + "C" * 24, headers=h()), 404, 410)


# ----------------------------------------------------------- concatenation

def _partial(srv, data, metadata=None):
    path, r = new_upload(srv, len(data), metadata=metadata, extra={"Upload-Concat": "partial"})
    if data:
        r = patch_ok(srv, path, 0, data)
        assert r.header("X-Partage-Id") is None, "a complete partial upload became a file"
    return path


def final(srv, *parts, **kw):
    """POST a final upload of the partials (paths or URLs); its path and 201."""
    return new_upload(srv, extra={"Upload-Concat": "final;" + " ".join(parts)}, **kw)


def test_t45_partial_uploads(srv):
    assert "concatenation" in extensions(srv)
    head_ok(srv, _partial(srv, b""), "HEAD on a partial", Upload_Concat="partial", Upload_Offset="0")
    p2 = _partial(srv, b"abc")
    head_ok(srv, p2, Upload_Offset="3", Upload_Concat="partial")
    expect(srv.get(p2), 409, 404, what="GET on a complete partial (no file of its own)")
    cases(srv, [post("Upload-Concat %r" % bad, h(Upload_Concat=bad, Upload_Length=3))
                for bad in ("partiall", "final", "final;", "final; ", "whatever", "final;/api/v1/uploads/a-b")])


def test_t46_final_upload(srv):
    a, b, c = rand_bytes(1000), rand_bytes(2000), rand_bytes(3)
    pa, pb, pc = _partial(srv, a), _partial(srv, b), _partial(srv, c)
    fpath, r = final(srv, pb, srv.url + pa, pc)
    want = b + a + c
    head_ok(srv, fpath, "final (the sum)", Upload_Length=str(len(want)))
    check_download(srv, fpath, want, r)
    # The spec allows a partial twice in a list and in several finals; we
    # do not (issue 12: that let a few bytes make the server copy many):
    # a partial appears once in a list and is consumed by its final.
    pa2, pc2 = _partial(srv, a), _partial(srv, c)
    cases(srv, [post("a partial twice in one final", h(Upload_Concat="final;%s %s %s" % (pa2, pa2, pc2)), want={}),
                post("a partial already used by a final", h(Upload_Concat="final;%s %s" % (pa, pc2)), (410,), want={})])
    fpath, r = final(srv, pc2, pa2)
    check_download(srv, fpath, c + a, r)
    pa = _partial(srv, a)
    # a final with Upload-Length; a final naming a non-partial or unknown upload
    plain, _ = new_upload(srv, 3)
    patch_ok(srv, plain, 0, b"abc")
    cases(srv, [post("final upload with Upload-Length", h(Upload_Concat="final;%s" % pa, Upload_Length=1000), want={})]
          + [post("final naming %s" % lst, h(Upload_Concat="final;%s %s" % (pa, lst)), (400, 404, 409, 410), want={})
             for lst in (plain, CREATE + "/" + "D" * 24)])


def test_t46_final_list_is_space_separated(srv):
    # "final;a,b" is not a list of two: it must not become a final of b alone
    pa, pb = _partial(srv, b"hello"), _partial(srv, b" world")
    cases(srv, [post("Upload-Concat %r" % fin, h(Upload_Concat=fin))
                for fin in ("final;%s,%s" % (pa, pb), "final;%s\t%s" % (pa, pb))])


def test_t47_unfinished_partial_rejected(srv):
    pa = _partial(srv, b"hello")
    pb, _ = new_upload(srv, 6, extra={"Upload-Concat": "partial"})
    patch_ok(srv, pb, 0, b" wo")
    # a deferred-length partial is unfinished too
    pd, _ = new_upload(srv, extra={"Upload-Concat": "partial", "Upload-Defer-Length": "1"})
    patch_ok(srv, pd, 0, b"xyz")
    cases(srv, [post("final with an unfinished partial (no concatenation-unfinished)",
                     h(Upload_Concat="final;%s %s" % (pa, pb))),
                post("final with a deferred-length partial", h(Upload_Concat="final;%s" % pd), want={})])
    patch_ok(srv, pb, 3, b"rld")
    fpath, r = final(srv, pa, pb)
    check_download(srv, fpath, b"hello world", r)


def test_t48_patch_final_403(srv):
    fpath, _ = final(srv, _partial(srv, b"abc"))
    cases(srv, [case("PATCH on a final upload at %d" % off, "PATCH", h(Upload_Offset=off, Content_Type=OCTET), (403,),
                     b"zzz") for off in (0, 3)], fpath)
    head_ok(srv, fpath, Upload_Offset="3", Upload_Length="3")
    check_download(srv, fpath, b"abc")


def test_t49_head_final_and_partial(srv):
    pa, pb = _partial(srv, b"12345"), _partial(srv, b"678")
    fin = "final;%s%s %s" % (srv.url, pa, pb)
    fpath = upath(srv, create(srv, extra={"Upload-Concat": fin}))
    head_ok(srv, fpath, "HEAD final", Upload_Concat=fin, Upload_Offset="8", Upload_Length="8")
    # a partial used by a final is gone (consumed: "The Server MAY delete
    # partial uploads after concatenation"); T11: no Upload-Offset then
    has(expect(head(srv, pb), 410), Upload_Offset=None)
    head_ok(srv, _partial(srv, b"678"), Upload_Concat="partial", Upload_Offset="3")


def test_t50_partial_metadata_not_carried(srv):
    pa = _partial(srv, b"abc", metadata=meta(("filename", "part-a.txt")))
    pb = _partial(srv, b"def", metadata=meta(("filename", "part-b.txt")))
    fpath, r = final(srv, pa, pb, metadata=meta(("filename", "whole.txt")))
    obj = check_download(srv, fpath, b"abcdef", r)
    assert obj["name"] == "whole.txt", "final file name %r, want the final POST's whole.txt" % obj["name"]
    # partials are consumed by their final: new ones for the second
    pa = _partial(srv, b"abc", metadata=meta(("filename", "part-a.txt")))
    pb = _partial(srv, b"def", metadata=meta(("filename", "part-b.txt")))
    fpath, r = final(srv, pa, pb)
    obj = check_download(srv, fpath, b"abcdef", r)
    assert obj["name"] not in ("part-a.txt", "part-b.txt"), "partial metadata carried over: %r" % obj["name"]
    head_ok(srv, fpath, Upload_Metadata=None)


def test_t51_concat_vector(srv):
    for form in ("final;%s %s",
                 "final;{url}%s {url}%s",
                 "final;/files/{a} /files/{b}"):
        # each final consumes its partials: new ones for each form
        pa, pb = _partial(srv, b"hello"), _partial(srv, b" world")
        fin = form.format(url=srv.url, a=uid_of(pa), b=uid_of(pb))
        if "%s" in fin:
            fin = fin % (pa, pb)
        r = create(srv, extra={"Upload-Concat": fin})
        head_ok(srv, upath(srv, r), Upload_Length="11", Upload_Offset="11")
        check_download(srv, upath(srv, r), b"hello world", r)


# ------------------------------------------------------ partage specifics

def test_plain_tus_complete_flow(srv):
    data = rand_bytes(3 * 1024 * 1024 + 17, seed=35)
    m = meta(("filename", "résumé final.bin"), ("filetype", "application/x-test"))
    path, r = new_upload(srv, len(data), metadata=m)
    # incomplete: GET says 409 with the offset
    g = srv.get(path, {"Accept": "application/json"})
    expect(g, 409, what="GET on an incomplete upload")
    off = 0
    for n in (1 << 20, 1 << 20, 1 << 20, 17):
        r = patch_ok(srv, path, off, data[off:off + n])
        off += n
        if off < len(data):
            assert r.header("X-Partage-Id") is None, "incomplete upload has X-Partage-Id"
            g = expect(srv.get(path), 409, what="GET at %d of %d" % (off, len(data)))
            assert g.json().get("offset") == off, g.body
    obj = check_download(srv, path, data, r)
    assert obj["name"] == "résumé final.bin", "name %r" % obj["name"]
    assert obj["mime"] == "application/x-test", "filetype metadata → mime %r" % obj["mime"]
    d = expect(srv.get(srv.dl_path(obj)), 200)
    assert d.header("Content-Type", "").startswith("application/x-test"), d.header("Content-Type")
    # HEAD of the finished upload points at the file
    head_ok(srv, path, X_Partage_Id=obj["id"])
    # the same bytes again are deduplicated into one blob
    blobs = [b for b in srv.blob_files() if os.path.basename(b) == sha256(data)]
    assert len(blobs) == 1, blobs
    assert wait_until(lambda: not os.path.exists(uploads_dir_file(srv, path)), 3), \
        "the partial stays in DATA/uploads after completion"


def test_metadata_type_ignored_when_malformed(srv):
    png = bytes.fromhex("89504e470d0a1a0a0000000d4948445200000001000000010806000000"
                        "1f15c4890000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082")
    for ft in ("not a type", "text/html; x", "a/b/c", None):
        pairs = [("filename", "pic.dat")] + ([("filetype", ft)] if ft else [])
        path, _ = new_upload(srv, len(png), metadata=meta(*pairs))
        obj = check_download(srv, path, png, patch_ok(srv, path, 0, png))
        assert obj["mime"] == "image/png", "filetype %r: mime %r, want the sniffed image/png" % (ft, obj["mime"])


def test_get_upload_unknown_404(srv):
    expect(srv.get(CREATE + "/" + "E" * 24), 404, 410)


def test_cors(srv):
    origin = "https://app.example"
    path, r = new_upload(srv, 5, extra={"Origin": origin})
    for what, resp in (("POST", r), ("PATCH", patch_ok(srv, path, 0, b"abc", {"Origin": origin})),
                       ("HEAD", expect(head(srv, path, {"Origin": origin}), 200, 204)),
                       ("PATCH 409", expect(patch(srv, path, 0, b"x", {"Origin": origin}), 409))):
        assert resp.header("Access-Control-Allow-Origin") in (origin, "*"), \
            "%s: Access-Control-Allow-Origin %r" % (what, resp.header("Access-Control-Allow-Origin"))
        exp = [x.lower() for x in csv(resp.header("Access-Control-Expose-Headers"))]
        for hname in ("location", "upload-offset", "upload-length", "tus-resumable", "upload-metadata",
                      "upload-expires", "x-partage-id"):
            assert hname in exp, "%s: Access-Control-Expose-Headers %r lacks %s" % (
                what, resp.header("Access-Control-Expose-Headers"), hname)
    # preflight
    r = opts(srv, path, {"Origin": origin, "Access-Control-Request-Method": "PATCH",
                         "Access-Control-Request-Headers": "tus-resumable, upload-offset, content-type"})
    assert r.header("Access-Control-Allow-Origin") in (origin, "*")
    meths = [x.upper() for x in csv(r.header("Access-Control-Allow-Methods"))]
    for m in ("POST", "PATCH", "HEAD", "DELETE"):
        assert m in meths, "preflight Allow-Methods %r lacks %s" % (meths, m)
    allow_h = [x.lower() for x in csv(r.header("Access-Control-Allow-Headers"))]
    for hname in ("tus-resumable", "upload-offset", "upload-length", "upload-metadata", "content-type",
                  "upload-checksum", "upload-concat", "x-http-method-override"):
        assert hname in allow_h, "preflight Allow-Headers %r lacks %s" % (allow_h, hname)
    # no Origin: no CORS headers
    head_ok(srv, path, Access_Control_Allow_Origin=None)


def test_cors_restricted_origins(tmp):
    with Server("[server]\ncors_origins = https://good.example https://also.example\n", name="tus-cors") as s:
        r = expect(options(s, CREATE, {"Origin": "https://good.example", "Access-Control-Request-Method": "POST"}), 200, 204)
        assert r.header("Access-Control-Allow-Origin") == "https://good.example", r.headers.items()
        r = create(s, 5, extra={"Origin": "https://evil.example"})
        assert r.header("Access-Control-Allow-Origin") is None, "a foreign origin got %r" % r.header("Access-Control-Allow-Origin")
        r = create(s, 5, extra={"Origin": "https://also.example"})
        assert r.header("Access-Control-Allow-Origin") == "https://also.example"


def test_kill9_mid_upload_resume(tmp):
    data = rand_bytes(24 << 20, seed=99)
    s = Server(CONFIG, name="tus-kill9")
    try:
        path, _ = new_upload(s, len(data), metadata=meta(("filename", "crash.bin")))
        off = 0
        for _ in range(4):  # several acknowledged PATCHes
            patch_ok(s, path, off, data[off:off + (2 << 20)])
            off += 2 << 20
        acked = off
        # a PATCH in flight when the server dies
        c = RawConn(s.port, timeout=20)
        c.send(("PATCH %s HTTP/1.1\r\nHost: x\r\nTus-Resumable: 1.0.0\r\nUpload-Offset: %d\r\n"
                "Content-Type: %s\r\nContent-Length: %d\r\n\r\n" % (path, off, OCTET, len(data) - off)).encode())
        c.send(data[off:off + (5 << 20)])
        sent = off + (5 << 20)
        time.sleep(0.3)
        s.kill9()
        c.close()
        port = s.port
        s.start()
        assert s.port == port
        got = offset_of(s, path)
        assert acked <= got <= sent, "after kill -9: HEAD offset %d, acknowledged %d, sent %d" % (got, acked, sent)
        disk = stored(s, path)
        assert len(disk) >= got, "HEAD says %d but only %d bytes are on disk" % (got, len(disk))
        assert disk[:got] == data[:got], "bytes before the reported offset are not the bytes sent"
        # resume right away, as a client would
        t0 = time.monotonic()
        r = patch(s, path, got, data[got:])
        assert r.status != 409, "PATCH at the HEAD offset right after the restart: 409 %r (the dead process's " \
            "lease still blocks the upload; a client gives up long before it ends)" % r.body[:160]
        expect(r, 204)
        assert time.monotonic() - t0 < 60
        obj = check_download(s, path, data, r)
        assert obj["name"] == "crash.bin"
    finally:
        s.close(quiet=True)
test_kill9_mid_upload_resume.timeout = 180


def test_client_that_closes_right_after_its_last_bytes(srv):
    """A killed client leaves its last bytes and its FIN in the socket at
    once; the server must notice the end of the stream (libmicrohttpd
    alone waits for the connection timeout, 30 s): the bytes that came are
    kept and the upload is free for the client's next PATCH within about
    two seconds, not after the timeout."""
    data = rand_bytes(3 << 20, seed=7)
    path, _ = new_upload(srv, len(data))
    for sent in (900000, 2 << 20):
        off = offset_of(srv, path)
        c = RawConn(srv.port, timeout=20)
        c.send(("PATCH %s HTTP/1.1\r\nHost: x\r\nTus-Resumable: 1.0.0\r\nUpload-Offset: %d\r\n"
                "Content-Type: %s\r\nContent-Length: %d\r\n\r\n" % (path, off, OCTET, len(data) - off)).encode()
               + data[off:sent])
        c.sock.shutdown(socket.SHUT_WR)
        c.close()
        t0 = time.monotonic()
        ok = wait_until(lambda: offset_of(srv, path) == sent, 10, 0.1)
        took = time.monotonic() - t0
        assert ok and took < 4, "bytes up to %d were sent before a close: HEAD says %d after %.1fs" % (
            sent, offset_of(srv, path), took)
    r = patch_ok(srv, path, 2 << 20, data[2 << 20:])
    check_download(srv, path, data, r)


def test_link_password_at_creation(srv):
    """A link password given at creation (metadata "password", or the
    X-Partage-Password header as on PUT) protects the file, and is never
    echoed: HEAD's Upload-Metadata is what was sent without it."""
    for how in ("metadata", "header"):
        data = rand_bytes(5000)
        # UTF-8 travels in metadata (base64); a header is ASCII here
        pw = "s3cret pw é" if how == "metadata" else "s3cret pw header"
        md = meta(("filename", "locked.bin"), ("password", pw)) if how == "metadata" \
            else meta(("filename", "locked.bin"))
        extra = {"X-Partage-Password": pw} if how == "header" else None
        path, _ = new_upload(srv, len(data), metadata=md, extra=extra)
        echoed = head_ok(srv, path).header("Upload-Metadata") or ""
        assert "password" not in echoed and b64(pw) not in echoed, "HEAD echoes the password: %r" % echoed
        assert echoed == meta(("filename", "locked.bin")), echoed
        r = patch_ok(srv, path, 0, data)
        obj = file_of(srv, path)
        assert obj["password_protected"] is True, obj
        expect(srv.get(srv.dl_path(obj)), 401, what="a password link without the password (%s)" % how)
        g = expect(srv.get(srv.dl_path(obj) + "?password=" + urllib.parse.quote(pw)), 200,
                   what="with the password (%s)" % how)
        assert g.body == data
    # an empty password is refused before anything is made
    create(srv, 10, metadata=meta(("password", "")), code=400)
    create(srv, 10, extra={"X-Partage-Password": "x" * 1025}, code=400)
