"""Limits on tus uploads (issue 12, items 2 and 10b), over real HTTP.

Concatenation must not amplify work: a final upload names each partial
once, a partial is consumed by the final that uses it, and the final's
length is held to the tier's size limit, the owner's quota and the disk
before a byte is copied.  And every tier has a size ceiling,
storage.max_file_bytes (1 TiB by default), on PUT, multipart and tus alike,
advertised as Tus-Max-Size; a deferred-length upload meets it (and the
quota) as it grows."""

import json
import os
import re
import threading
import time
import urllib.parse

import harness
from harness import expect, multipart, rand_bytes, sha256, Server

MIB = 1 << 20
TIB = 1 << 40
CONFIG = """\
[tier.anonymous]
max_upload_bytes = 512M
[tier.free]
max_upload_bytes = 6M
storage_quota_bytes = 10M
"""
TIMEOUT = 120

TUS = {"Tus-Resumable": "1.0.0"}
CREATE = "/api/v1/uploads"
OCTET = "application/offset+octet-stream"
PW = "correct horse battery staple"
# a refusal that copies nothing answers at once; copying 64 MiB with an
# fsync and a hash (what the old build did) takes longer than this here
FAST = 1.0

_seq = [0]


# ------------------------------------------------------------------ helpers

def h(auth=None, **kw):
    d = dict(TUS)
    d.update(auth or {})
    for k, v in kw.items():
        d[k.replace("_", "-")] = str(v)
    return d


def upath(srv, r):
    loc = r.header("Location")
    assert loc, "201 without Location: %r" % (r,)
    return urllib.parse.urlsplit(urllib.parse.urljoin(srv.url + CREATE, loc)).path


def post(srv, auth=None, body=b"", **kw):
    return srv.request("POST", CREATE, body=body, headers=h(auth, **kw))


def patch(srv, path, offset, data, auth=None, **kw):
    hd = h(auth, Upload_Offset=offset, Content_Type=OCTET, **kw)
    if not isinstance(data, (bytes, bytearray)):
        hd["Transfer-Encoding"] = "chunked"
    return srv.request("PATCH", path, body=data, headers=hd)


def partial(srv, data, auth=None):
    """A complete partial upload of data; its path."""
    r = expect(post(srv, auth, Upload_Length=len(data), Upload_Concat="partial"), 201,
               what="create a partial of %d bytes" % len(data))
    path = upath(srv, r)
    if data:
        expect(patch(srv, path, 0, data, auth), 204, what="PATCH the partial %s" % path)
    return path


def final(srv, paths, auth=None):
    """POST the final of paths; (response, seconds it took)."""
    t = time.monotonic()
    r = post(srv, auth, Upload_Concat="final;" + " ".join(paths))
    return r, time.monotonic() - t


def stored_bytes(srv):
    """Bytes in the data directory's blob, upload and temp areas."""
    total = 0
    for sub in ("blobs", "uploads", "tmp"):
        for dp, _dn, fn in os.walk(os.path.join(srv.data, sub)):
            for f in fn:
                try:
                    total += os.path.getsize(os.path.join(dp, f))
                except OSError:
                    pass
    return total


def local_disk():
    """Whether partials and blobs live in the data directory (not S3)."""
    return not harness.S3_ENDPOINT


def download(srv, r):
    """The bytes of the file a completed upload (its 201 or 204) made."""
    fid = r.header("X-Partage-Id")
    assert fid, "no X-Partage-Id on %r" % (r,)
    obj = expect(srv.get("/api/v1/files/" + fid, {"Accept": "application/json"}), 200).json()
    return expect(srv.get(srv.dl_path(obj)), 200).body


def new_user(srv, tier="free"):
    _seq[0] += 1
    name = "l%d_%s" % (_seq[0], os.urandom(3).hex())
    js = {"Content-Type": "application/json"}
    body = json.dumps({"name": name, "password": PW}).encode()
    expect(srv.request("POST", "/api/v1/users", body=body, headers=js), 201, what="register")
    r = expect(srv.request("POST", "/api/v1/tokens", body=body, headers=js), 201, what="token")
    if tier == "premium":
        a = srv.admin("user", "set-tier", name, "premium")
        assert a.returncode == 0, "set-tier premium: %r" % a.stderr
    return {"Authorization": "Bearer " + r.json()["token"]}


def expect_100_or_final(srv, method, path, headers):
    """Send a head with Expect: 100-continue and no body; the first answer
    (100, or a final status refusing the body)."""
    with srv.raw_conn(timeout=10) as c:
        head = "%s %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n" % (method, path, srv.port)
        head += "".join("%s: %s\r\n" % kv for kv in headers) + "Expect: 100-continue\r\n\r\n"
        c.send(head.encode("latin-1"))
        assert c.readable(5), "no 100 Continue nor a final reply within 5s"
        return c.read_response(method, skip_interim=False)


# ----------------------------------------------------- item 2: concatenation

def test_same_partial_16_times_refused(srv):
    """The issue's attack: one partial named 16 times made the server copy,
    fsync and hash 16 times its bytes.  Now 400 at once, nothing written,
    and the partial is left usable."""
    data = rand_bytes(4 * MIB, seed=37)
    p = partial(srv, data)
    before = stored_bytes(srv)
    r, took = final(srv, [p] * 16)
    expect(r, 400, what="a final naming one partial 16 times")
    assert r.header("Location") is None
    assert "twice" in r.text or "once" in r.text, r.text
    assert took < FAST, "the refusal took %.2fs: work was done before it" % took
    if local_disk():
        grew = stored_bytes(srv) - before
        assert grew <= 0, "the data directory grew by %d bytes for a refused final" % grew
    # twice, and in other URL spellings of the same upload: still one partial
    uid = p.rsplit("/", 1)[1]
    for lst in ([p, p], [p, srv.url + p], [p, "/files/" + uid]):
        expect(final(srv, lst)[0], 400, what="final %r" % lst)
    # the refusals consumed nothing: the partial makes its one final
    r, _ = final(srv, [p])
    expect(r, 201, what="the partial alone, after the refusals")
    assert sha256(download(srv, r)) == sha256(data)


def test_partial_used_by_two_finals_refused(srv):
    a, b, c = rand_bytes(3000, seed=1), rand_bytes(5000, seed=2), rand_bytes(700, seed=3)
    pa, pb, pc = partial(srv, a), partial(srv, b), partial(srv, c)
    r, _ = final(srv, [pa, pb])
    expect(r, 201, what="first final of a and b")
    assert download(srv, r) == a + b
    # a is used up: a second final naming it is refused, whatever else it names
    for lst in ([pa], [pc, pa], [pb]):
        r2, _ = final(srv, lst)
        expect(r2, 410, what="a second final naming a used partial %r" % lst)
        assert r2.header("Location") is None
        assert "used" in r2.text, "410 without a clear reason: %r" % r2.text
    # the used partial is gone for every tus request, its bytes removed
    expect(srv.request("HEAD", pa, headers=TUS), 410, what="HEAD on a used partial")
    expect(patch(srv, pa, len(a), b""), 410, what="PATCH on a used partial")
    if local_disk():
        for p in (pa, pb):
            f = srv.path("uploads", p.rsplit("/", 1)[1])
            assert not os.path.exists(f), "a used partial's bytes stay: %s" % f
    # c was named only in refused finals: still whole and usable
    hr = expect(srv.request("HEAD", pc, headers=TUS), 200, 204)
    assert hr.header("Upload-Offset") == str(len(c))
    r, _ = final(srv, [pc])
    expect(r, 201, what="final of c after the refusals that named it")
    assert download(srv, r) == c


def test_failed_final_consumes_nothing(srv):
    """A final that fails after taking its partials (its content is on the
    blocklist: 451 at the commit) leaves no file and no copy, and gives the
    partials back: they still make one final, and only one."""
    x, y = rand_bytes(2000, seed=21), rand_bytes(3000, seed=22)
    o = srv.upload("blocked.bin", x + y)
    t = srv.admin("takedown", o["id"], "--content", "--reason", "court order")
    assert t.returncode == 0, t.stderr
    px, py = partial(srv, x), partial(srv, y)
    before = set(os.listdir(srv.path("uploads"))) if local_disk() else set()
    r, _ = final(srv, [px, py])
    expect(r, 451, what="a final whose bytes are blocked")
    if local_disk():
        after = set(os.listdir(srv.path("uploads")))
        assert after == before, "the failed final changed uploads/: +%r -%r" % (
            sorted(after - before), sorted(before - after))
    for p, d in ((px, x), (py, y)):
        hr = expect(srv.request("HEAD", p, headers=TUS), 200, 204, what="HEAD %s after the failed final" % p)
        assert hr.header("Upload-Offset") == str(len(d))
    r, _ = final(srv, [py, px])
    expect(r, 201, what="the partials in another order, after the failed final")
    assert download(srv, r) == y + x
    expect(final(srv, [py, px])[0], 410, what="the same final again")


def test_two_finals_at_once_one_wins(srv):
    """Two finals racing for one partial: exactly one file is made."""
    data = rand_bytes(24 * MIB, seed=99)
    p = partial(srv, data)
    out = [None, None]

    def go(i):
        out[i] = final(srv, [p])[0]

    ts = [threading.Thread(target=go, args=(i,)) for i in range(2)]
    for t in ts:
        t.start()
    for t in ts:
        t.join(60)
    codes = sorted(x.status for x in out)
    assert codes.count(201) == 1, "two finals of one partial: %r (want one 201)" % codes
    other = [x for x in out if x.status != 201][0]
    assert other.status in (409, 410), "the loser got %r: %s" % (other.status, other.text)
    win = [x for x in out if x.status == 201][0]
    assert sha256(download(srv, win)) == sha256(data)


def test_final_over_tier_limit_refused_before_copy(srv):
    """free: 6 MiB per file.  Two 4 MiB partials, each allowed, make an
    8 MiB final: 413 with Tus-Max-Size, before any copy, and the partials
    are not consumed by the refusal."""
    auth = new_user(srv)
    a, b = rand_bytes(4 * MIB, seed=5), rand_bytes(4 * MIB, seed=6)
    pa, pb = partial(srv, a, auth), partial(srv, b, auth)
    before = stored_bytes(srv)
    r, took = final(srv, [pa, pb], auth)
    expect(r, 413, what="an 8 MiB final for a 6 MiB tier")
    assert r.header("Tus-Max-Size") == str(6 * MIB), \
        "413 for a final without Tus-Max-Size %s: %r" % (6 * MIB, r.header("Tus-Max-Size"))
    assert str(8 * MIB) in r.text, "the reason does not name the final's length: %r" % r.text
    assert r.header("Location") is None
    assert took < FAST, "the refusal took %.2fs" % took
    if local_disk():
        grew = stored_bytes(srv) - before
        assert grew <= 0, "the data directory grew by %d bytes for a refused final" % grew
    # not consumed by the refusal: a makes a final, once
    r, _ = final(srv, [pa], auth)
    expect(r, 201, what="final of a alone after the refused one")
    assert sha256(download(srv, r)) == sha256(a)
    expect(final(srv, [pa], auth)[0], 410, what="a again")
    hr = expect(srv.request("HEAD", pb, headers=TUS), 200, 204)
    assert hr.header("Upload-Offset") == str(len(b))


def test_quota_counted_for_account_final_and_growth(srv):
    """free: 10 MiB of storage.  With 5 MiB stored, a 6 MiB final (within
    the 6 MiB size limit) is over the quota: 507 before any copy.  The same
    quota stops a deferred-length upload as it grows, whoever sends it."""
    auth = new_user(srv)
    expect(srv.put("stored.bin", rand_bytes(5 * MIB, seed=7), auth), 201)
    a, b = rand_bytes(3 * MIB, seed=8), rand_bytes(3 * MIB, seed=9)
    pa, pb = partial(srv, a, auth), partial(srv, b, auth)
    before = stored_bytes(srv)
    r, took = final(srv, [pa, pb], auth)
    expect(r, 507, what="a 6 MiB final with 5 MiB of quota left")
    assert "quota" in r.text, r.text
    assert took < FAST, "the refusal took %.2fs" % took
    if local_disk():
        grew = stored_bytes(srv) - before
        assert grew <= 0, "the data directory grew by %d bytes for a refused final" % grew
    r, _ = final(srv, [pa], auth)
    expect(r, 201, what="a 3 MiB final within the quota")
    # 8 MiB stored now: b (3 MiB) no longer fits, as a final
    expect(final(srv, [pb], auth)[0], 507, what="a 3 MiB final with 2 MiB left")
    # ...nor as the growth of a deferred-length upload (the old build
    # stored it all and only refused at the end, if ever)
    r = expect(post(srv, auth, Upload_Defer_Length=1), 201)
    d = upath(srv, r)
    grow = patch(srv, d, 0, iter([rand_bytes(MIB, seed=i) for i in range(3)]), auth)
    expect(grow, 507, what="3 MiB into a deferred upload with 2 MiB of quota left")
    hr = expect(srv.request("HEAD", d, headers=TUS), 200, 204)
    assert hr.header("Upload-Offset") == "0", "refused bytes kept: offset %r" % hr.header("Upload-Offset")
    # the limit is the owner's: an anonymous PATCH (512 MiB tier) gets no more
    expect(patch(srv, d, 0, iter([rand_bytes(MIB, seed=i) for i in range(3)])), 507,
           what="anonymous PATCH growing the account's deferred upload")
    expect(patch(srv, d, 0, b"", Upload_Length=3 * MIB), 507,
           what="Upload-Length past the owner's quota, set by an anonymous PATCH")


# ------------------------------------------------------- item 10b: ceiling

def test_tus_max_size_in_options(srv):
    r = expect(srv.request("OPTIONS", CREATE), 200, 204)
    assert r.header("Tus-Max-Size") == str(512 * MIB), r.headers.items()
    r = expect(srv.request("OPTIONS", CREATE, headers=new_user(srv)), 200, 204)
    assert r.header("Tus-Max-Size") == str(6 * MIB), r.headers.items()
    # premium has no tier limit, but the server's ceiling (1 TiB default)
    r = expect(srv.request("OPTIONS", CREATE, headers=new_user(srv, "premium")), 200, 204)
    assert r.header("Tus-Max-Size") == str(TIB), \
        "premium OPTIONS: Tus-Max-Size %r, want the 1 TiB ceiling" % r.header("Tus-Max-Size")


def test_premium_ceiling_on_tus_and_put(srv):
    prem = new_user(srv, "premium")
    for n in (2 ** 63 - 1, 7 * 2 ** 60, TIB + 1):
        r = post(srv, prem, Upload_Length=n)
        expect(r, 413, what="premium tus upload of %d bytes" % n)
        assert r.header("Tus-Max-Size") == str(TIB), r.headers.items()
        assert r.header("Location") is None
    # exactly the ceiling is not over it (nothing is written at creation;
    # a disk with less than 1 TiB free may still say 507: not for good)
    r = post(srv, prem, Upload_Length=TIB)
    expect(r, 201, 507, what="premium tus upload of 1 TiB")
    if r.status == 201:
        expect(srv.request("DELETE", upath(srv, r), headers=h(prem)), 204)
    # a deferred length meets it when set, and when a body would pass it
    d = upath(srv, expect(post(srv, prem, Upload_Defer_Length=1), 201))
    expect(patch(srv, d, 0, b"", prem, Upload_Length=2 ** 63 - 1), 413,
           what="premium Upload-Length 2^63-1 in a PATCH")
    r = expect_100_or_final(srv, "PATCH", d, list(h(prem, Upload_Offset=0, Content_Type=OCTET,
                                                    Content_Length=TIB + 1).items()))
    assert r.status == 413, "PATCH of 1 TiB + 1 into a deferred premium upload: %r" % r.status
    # PUT: refused before the body
    hd = list(prem.items()) + [("Content-Length", str(TIB + 1))]
    r = expect_100_or_final(srv, "PUT", "/huge.bin", hd)
    assert r.status == 413, "premium PUT of 1 TiB + 1: %r (want 413 before the body)" % r.status


CEILING_CONFIG = """\
[storage]
max_file_bytes = 1M
[tier.anonymous]
max_upload_bytes = 0
[tier.free]
max_upload_bytes = 8M
"""


def test_configured_ceiling_every_route():
    """storage.max_file_bytes = 1M with an anonymous tier that has no limit
    and a free tier whose limit is above it: 1 MiB + 1 is refused on PUT,
    multipart, tus creation, tus growth and a tus final."""
    with Server(CEILING_CONFIG, name="ceiling") as s:
        ok, big = rand_bytes(MIB, seed=10), rand_bytes(MIB + 1, seed=11)
        r = expect(s.request("OPTIONS", CREATE), 200, 204)
        assert r.header("Tus-Max-Size") == str(MIB), r.headers.items()
        free = new_user(s)
        r = expect(s.request("OPTIONS", CREATE, headers=free), 200, 204)
        assert r.header("Tus-Max-Size") == str(MIB), "free (8M) under a 1M ceiling: %r" % r.header("Tus-Max-Size")
        for auth in ({}, free):
            expect(s.put("ok.bin", ok, auth), 201, what="PUT of exactly the ceiling")
            expect(s.put("big.bin", big, auth), 413, what="PUT of ceiling + 1")
            body, ctype = multipart([("file", "big.bin", big, None)])
            expect(s.request("POST", "/api/v1/files", body=body, headers=dict(auth, **{"Content-Type": ctype})),
                   413, what="multipart of ceiling + 1")
            r = post(s, auth, Upload_Length=MIB + 1)
            expect(r, 413, what="tus creation of ceiling + 1")
            assert r.header("Tus-Max-Size") == str(MIB)
            d = upath(s, expect(post(s, auth, Upload_Defer_Length=1), 201))
            r = patch(s, d, 0, iter([big[:MIB // 2], big[MIB // 2:]]), auth)
            expect(r, 413, what="deferred tus upload growing past the ceiling")
            hr = expect(s.request("HEAD", d, headers=TUS), 200, 204)
            assert hr.header("Upload-Offset") == "0", hr.headers.items()
            pa, pb = partial(s, ok[:600000], auth), partial(s, ok[:600000], auth)
            r, took = final(s, [pa, pb], auth)
            expect(r, 413, what="a 1.2 MB final under a 1 MiB ceiling")
            assert took < FAST
