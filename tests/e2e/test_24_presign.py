"""Presigned redirects on S3 (storage.s3_redirect = presigned): a GET of
the bytes by a tier without a speed cap or a parallel limit is a 302 to a
short-lived presigned URL of the object store, after every check the
node makes (takedown, password, size limit, ticket, Max-Downloads).
Following it (curl -L, urllib, the partage CLI) gives the right bytes,
name and type, Range included; the store refuses the URL once expired.
Capped tiers, conditional and multi-range requests and HEAD are served
by the node.  Needs the S3 store (PARTAGE_TEST_S3); the one check that
does not, that fs refuses the setting, always runs."""

import json
import os
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request

from harness import (S3_ENDPOINT, Skip, Server, ServerError, bin_path, expect,
                     metric_sum, rand_bytes, sha256, wait_downloads)

K = 1024
PW = "presign password"
# premium: no cap (redirected); free: waits 1 s, no cap, no parallel
# limit, no viewing quota (redirected after its ticket) but 64 KiB at
# most; anonymous: capped (streamed)
CONFIG = """\
[storage]
s3_redirect = presigned
s3_presign_seconds = 120
[tier.anonymous]
wait_seconds = 0
speed_bytes_per_second = 4M
parallel_downloads = 2
[tier.free]
wait_seconds = 1
speed_bytes_per_second = 0
parallel_downloads = 0
# a tier that limits a download's connections is never redirected to the
# store (the store would not count them): none here, so free is
connections_per_download = 0
cooldown_seconds = 0
stream_minutes = 0
max_download_bytes = 64K
[tier.premium]
wait_seconds = 0
"""
_seq = [0]


def s3_server(extra=""):
    if not S3_ENDPOINT:
        raise Skip("needs the S3 store (PARTAGE_TEST_S3)")
    return Server(CONFIG + extra, name="presign")


def req(srv, method, path, obj=None, headers=None):
    body = json.dumps(obj).encode() if obj is not None else None
    return srv.request(method, path, body=body, headers=dict(headers or {}))


def new_user(srv, tier):
    _seq[0] += 1
    name = "p%d_%s" % (_seq[0], os.urandom(3).hex())
    expect(req(srv, "POST", "/api/v1/users", {"name": name, "password": PW}), 201)
    r = expect(req(srv, "POST", "/api/v1/tokens", {"name": name, "password": PW}), 201)
    token = r.json()["token"]
    if tier == "premium":
        a = srv.admin("user", "set-tier", name, "premium")
        assert a.returncode == 0, "set-tier premium: %r" % a.stderr
    return token, {"Authorization": "Bearer " + token}


def fetch(url, headers=None):
    """GET an absolute URL (the store's) without following anything."""
    rq = urllib.request.Request(url, headers=dict(headers or {}))
    try:
        with urllib.request.urlopen(rq, timeout=20) as r:
            return r.status, r.headers, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.headers, e.read()


def redirect(srv, path, headers, what):
    r = expect(srv.get(path, headers), 302, what=what)
    loc = r.header("Location")
    assert loc, "302 without Location"
    assert loc.startswith(S3_ENDPOINT.rstrip("/") + "/"), \
        "Location is not on the object store %s: %s" % (S3_ENDPOINT, loc)
    q = urllib.parse.parse_qs(urllib.parse.urlsplit(loc).query)
    for k in ("X-Amz-Algorithm", "X-Amz-Credential", "X-Amz-Date", "X-Amz-Expires",
              "X-Amz-SignedHeaders", "X-Amz-Signature"):
        assert k in q, "presigned URL without %s: %s" % (k, loc)
    assert q["X-Amz-SignedHeaders"] == ["host"] and q["X-Amz-Algorithm"] == ["AWS4-HMAC-SHA256"]
    assert "no-store" in (r.header("Cache-Control") or ""), "a redirect to an expiring URL is cacheable"
    assert not r.body, "302 with a body"
    return loc, q


def test_fs_refuses_presigned():
    # (on S3 runs the harness's [storage] is merged under this: fs wins)
    with Server("[storage]\nbackend = fs\ns3_redirect = presigned\n", start=False,
                name="presign-fs") as s:
        try:
            s.start(timeout=5)
        except ServerError:
            pass
        else:
            raise AssertionError("partaged started with s3_redirect = presigned on fs")
        log = open(s.log_path, errors="replace").read()
        assert "s3_redirect = presigned needs storage.backend = s3" in log, log[-500:]


def test_premium_redirect_bytes_name_type():
    with s3_server() as srv:
        _, prem = new_user(srv, "premium")
        data = rand_bytes(300 * K + 17)
        o = srv.upload("rapport annuel é.txt", data, {"Content-Type": "text/plain"})
        path = srv.dl_path(o)
        loc, q = redirect(srv, path, prem, "premium GET on S3")
        assert q["X-Amz-Expires"] == ["120"], q["X-Amz-Expires"]
        # the store serves it with our name and type, no key needed
        st, h, body = fetch(loc)
        assert st == 200 and body == data, "store answered %s, %d bytes" % (st, len(body))
        # capped anonymous: streamed by the node; the same name and type
        s = expect(srv.get(path), 200, what="capped anonymous GET")
        assert s.header("Location") is None and s.body == data
        assert h["Content-Disposition"] == s.header("Content-Disposition"), \
            (h["Content-Disposition"], s.header("Content-Disposition"))
        assert h["Content-Type"] == s.header("Content-Type"), (h["Content-Type"], s.header("Content-Type"))
        assert "filename*=UTF-8''rapport%20annuel%20%C3%A9.txt" in h["Content-Disposition"]
        # Range through the redirect: the node checks it, the store serves it
        loc, _ = redirect(srv, path, dict(prem, Range="bytes=1000-1999"), "premium ranged GET")
        st, h, body = fetch(loc, {"Range": "bytes=1000-1999"})
        assert st == 206 and body == data[1000:2000], (st, len(body))
        assert h["Content-Range"] == "bytes 1000-1999/%d" % len(data)
        expect(srv.get(path, dict(prem, Range="bytes=%d-" % (len(data) + 5))), 416,
               what="unsatisfiable range, answered by the node")
        # ?download=1: attachment, as on the node
        loc, _ = redirect(srv, path + "?download=1", prem, "premium ?download=1")
        st, h, _ = fetch(loc)
        assert h["Content-Disposition"].startswith("attachment"), h["Content-Disposition"]
        # served by the node: HEAD, conditionals, several ranges
        expect(srv.head(path, prem), 200, what="HEAD")
        et = s.header("ETag")
        expect(srv.get(path, dict(prem, **{"If-None-Match": et})), 304, what="If-None-Match")
        r = expect(srv.get(path, dict(prem, **{"If-Range": et, "Range": "bytes=0-9"})), 206,
                   what="If-Range on the node")
        assert r.body == data[:10]
        r = expect(srv.get(path, dict(prem, Range="bytes=0-1,100000-100001")), 206, what="multi-range on the node")
        assert r.header("Content-Type").startswith("multipart/byteranges")
        m = srv.metrics()
        assert metric_sum(m, "partage_presigned_redirects_total") == 3, \
            metric_sum(m, "partage_presigned_redirects_total")


def test_redirect_counts_download():
    with s3_server() as srv:
        _, prem = new_user(srv, "premium")
        data = rand_bytes(50 * K)
        o = srv.upload("counted.bin", data)
        loc, _ = redirect(srv, srv.dl_path(o), prem, "premium GET")
        r = wait_downloads(srv, o["id"], 1)
        assert r and r.status == 200 and r.json()["downloads"] == 1, r
        # a Max-Downloads link is streamed by the node, which must see
        # the bytes a cut-short transfer delivered (issue 12): no redirect
        o = srv.upload("once.bin", data, {"Max-Downloads": "1"})
        r = expect(srv.get(srv.dl_path(o), prem), 200, what="Max-Downloads 1, first")
        assert r.body == data
        expect(srv.get(srv.dl_path(o), prem), 410, what="Max-Downloads 1, second")


def test_checks_before_redirect():
    with s3_server() as srv:
        _, prem = new_user(srv, "premium")
        _, free = new_user(srv, "free")
        small = rand_bytes(10 * K)
        # password: refused without, redirected with
        o = srv.upload("secret.bin", small, {"X-Partage-Password": "open sesame"})
        r = srv.get(srv.dl_path(o), prem)
        assert r.status in (401, 403) and r.header("Location") is None, r
        loc, _ = redirect(srv, srv.dl_path(o), dict(prem, **{"X-Partage-Password": "open sesame"}),
                          "password given")
        assert fetch(loc)[2] == small
        # free: the wait ticket first, then the redirect
        o = srv.upload("wait.bin", small)
        # (an API client: without Accept: application/json the server
        # holds the download through the wait instead)
        r = expect(srv.get(srv.dl_path(o), dict(free, Accept="application/json")), 429,
                   what="free without a ticket")
        assert r.header("Location") is None
        t = expect(req(srv, "POST", "/api/v1/files/%s/ticket" % o["id"],
                       headers=dict(free, Accept="application/json")), 200, 201).json()
        time.sleep(t["wait"] + 0.3)
        loc, _ = redirect(srv, srv.dl_path(o) + "?ticket=" + t["ticket"], free, "free with its ticket")
        assert fetch(loc)[2] == small
        # free: files over its 64 KiB are refused, not redirected
        big = srv.upload("big.bin", rand_bytes(100 * K))
        r = expect(srv.get(srv.dl_path(big), free), 403, what="free over max_download_bytes")
        assert r.header("Location") is None
        # taken down: 451, never a URL to the bytes
        o = srv.upload("taken.bin", rand_bytes(20 * K))
        a = srv.admin("takedown", o["id"], "--reason", "court order")
        assert a.returncode == 0, a.stderr
        r = srv.get(srv.dl_path(o), prem)
        assert r.status in (410, 451) and r.header("Location") is None, r


def test_curl_follows(tmp):
    with s3_server() as srv:
        token, prem = new_user(srv, "premium")
        data = rand_bytes(200 * K + 3)
        o = srv.upload("curl report.txt", data)
        url = srv.url + srv.dl_path(o)
        hdr = ["-H", "Authorization: Bearer " + token]
        # -OJ: the name comes from the store's Content-Disposition
        p = subprocess.run(["curl", "-sS", "-f", "-L", "-O", "-J"] + hdr + [url], cwd=tmp,
                           capture_output=True, timeout=30)
        assert p.returncode == 0, p.stderr
        with open(os.path.join(tmp, "curl report.txt"), "rb") as f:
            assert f.read() == data
        p = subprocess.run(["curl", "-sS", "-f", "-L", "-r", "4096-8191"] + hdr + [url],
                           capture_output=True, timeout=30)
        assert p.returncode == 0 and p.stdout == data[4096:8192], (p.returncode, p.stderr, len(p.stdout))


def test_cli_follows(tmp):
    with s3_server() as srv:
        token, _ = new_user(srv, "premium")
        data = rand_bytes(1024 * K + 9)
        o = srv.upload("cli é.bin", data)
        env = {k: v for k, v in os.environ.items() if not k.startswith("PARTAGE_")}
        env["PARTAGE_API_TOKEN"] = token
        p = subprocess.run([bin_path("partage"), "--server", srv.url, "download", o["id"]], cwd=tmp,
                           env=env, capture_output=True, timeout=60)
        assert p.returncode == 0, p.stderr
        with open(os.path.join(tmp, "cli é.bin"), "rb") as f:
            assert sha256(f.read()) == sha256(data)
        m = srv.metrics()
        assert metric_sum(m, "partage_presigned_redirects_total") >= 1, "the CLI was not redirected"


def test_expired_url_refused():
    with s3_server("[storage]\ns3_presign_seconds = 1\n") as srv:
        _, prem = new_user(srv, "premium")
        data = rand_bytes(5 * K)
        o = srv.upload("short.bin", data)
        loc, q = redirect(srv, srv.dl_path(o), prem, "premium GET")
        assert q["X-Amz-Expires"] == ["1"]
        time.sleep(2.5)
        st, _, body = fetch(loc)
        assert st == 403, "the store served an expired URL: %s %r" % (st, body[:200])
        # a fresh redirect works again
        loc, _ = redirect(srv, srv.dl_path(o), prem, "premium GET again")
        assert fetch(loc)[2] == data


def test_public_endpoint_signed_as_host():
    if not S3_ENDPOINT or "127.0.0.1" not in S3_ENDPOINT:
        raise Skip("needs the S3 store on 127.0.0.1 (PARTAGE_TEST_S3)")
    public = S3_ENDPOINT.replace("127.0.0.1", "localhost")
    with s3_server("[storage]\ns3_public_endpoint = %s\n" % public) as srv:
        _, prem = new_user(srv, "premium")
        data = rand_bytes(5 * K)
        o = srv.upload("public.bin", data)
        r = expect(srv.get(srv.dl_path(o), prem), 302)
        loc = r.header("Location")
        assert loc.startswith(public.rstrip("/") + "/"), loc
        st, _, body = fetch(loc)
        assert st == 200 and body == data, st
        # signed for "localhost:PORT": the same URL on another Host fails
        st, _, _ = fetch(loc.replace("localhost", "127.0.0.1", 1))
        assert st == 403, st
