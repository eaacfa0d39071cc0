"""Max-Downloads counted in bytes delivered (issue 12, item 3), Range
numbers past 2^64 (10a), and what a password-protected link's file object
and link-check result show before the password (10c).

A link limited to N downloads delivers its bytes N times in total: every
GET reserves the bytes it will send against N x size before it is answered
and gives back, when it ends, what its client never acknowledged.  The
client whose reservation reaches the last copy's bytes holds them: only
that address may fetch (resume) the rest of it; everyone else gets 410.

Two clients are two loopback addresses, 127.0.0.1 and 127.0.0.2 (curl
--interface, http.client source_address): the test config trusts no proxy,
so the server takes the socket's peer address as the client's."""

import hashlib
import http.client
import json
import os
import signal
import subprocess
import threading
import time

from harness import expect, rand_bytes, sha256, wait_downloads, wait_until

CONFIG = """\
[server]
per_ip_connections = 0
"""
K, M = 1024, 1024 * 1024
A, B = "127.0.0.1", "127.0.0.2"


def curl(srv, path, *args, source=A, out=None, timeout=60):
    """Run curl from `source`; returns (status, bytes written, stderr)."""
    cmd = ["curl", "-sS", "--interface", source, "-o", out or os.path.join(srv.work, "curl.out"),
           "-w", "%{http_code} %{size_download}"] + list(args) + [srv.url + path]
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=timeout)
    code, size = p.stdout.decode().split()
    return int(code), int(size), p.stderr.decode()


def get(srv, path, headers=None, source=A, method="GET"):
    c = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=30, source_address=(source, 0))
    try:
        c.request(method, path, headers=dict({"Accept": "application/json"}, **(headers or {})))
        r = c.getresponse()
        body = r.read()
        return r.status, dict((k.lower(), v) for k, v in r.getheaders()), body
    finally:
        c.close()


def file_json(srv, fid, headers=None):
    r = srv.get("/api/v1/files/" + fid, dict({"Accept": "application/json"}, **(headers or {})))
    return r.status, (r.json() if r.body else None)


def reason_of(body):
    try:
        return json.loads(body).get("reason")
    except ValueError:
        return None


# ------------------------------------------------------- item 3: the budget

def test_open_range_repeated_is_one_copy(srv, tmp):
    # `curl -r 1-` five times on Max-Downloads: 1 used to get 206 each time
    data = rand_bytes(300 * K)
    o = srv.upload("once.bin", data, {"Max-Downloads": "1"})
    p = srv.dl_path(o)
    got = []
    for src in (A, A, A, B, A):
        code, n, _ = curl(srv, p, "-r", "1-", source=src)
        got.append((code, n))
    delivered = sum(n for code, n in got if code in (200, 206))
    assert got[0] == (206, len(data) - 1), "first curl -r 1-: %r" % (got[0],)
    assert delivered <= len(data), "curl -r 1- x5 delivered %d bytes of a %d-byte file, " \
        "Max-Downloads: 1: %r" % (delivered, len(data), got)
    assert [c for c, _ in got[1:]] == [410] * 4, "repeats: %r" % got
    # the holder may still fetch the one byte it lacks; then the link is used up
    st, h, body = get(srv, p, {"Range": "bytes=0-0"})
    assert st == 206 and body == data[:1], (st, body[:20])
    r = wait_downloads(srv, o["id"], 1)
    assert r is not None and r.status == 410, "the link should be used up: %r" % r
    assert r.json().get("reason") == "expired", r.json()
    for src in (A, B):
        st, _, body = get(srv, p, {"Range": "bytes=5-9"}, source=src)
        assert st == 410 and reason_of(body) == "expired", (src, st, body[:200])


def test_second_address_gets_410_once_begun(srv):
    # A starts the only download and reads slowly; B gets 410, whatever range
    data = rand_bytes(8 * M)
    o = srv.upload("held.bin", data, {"Max-Downloads": "1"})
    p = srv.dl_path(o)
    c = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=30, source_address=(A, 0))
    c.request("GET", p)
    r = c.getresponse()
    assert r.status == 200, r.status
    first = r.read(64 * K)
    for hdrs in ({}, {"Range": "bytes=1-"}, {"Range": "bytes=4000000-4000999"},
                 {"Range": "bytes=-100"}):
        st, _, body = get(srv, p, hdrs, source=B)
        assert st == 410, "second address %r while A downloads: %d %r" % (hdrs, st, body[:200])
        assert reason_of(body) == "in-use", body[:200]
    # HEAD shows what a GET would get, without bytes (and without a 410)
    st, h, _ = get(srv, p, source=B, method="HEAD")
    assert st == 200, st
    rest = r.read()
    c.close()
    assert hashlib.sha256(first + rest).hexdigest() == sha256(data)
    r = wait_downloads(srv, o["id"], 1)
    assert r is not None and r.status == 410, r
    st, _, body = get(srv, p, {"Range": "bytes=1-"}, source=B)
    assert st == 410 and reason_of(body) == "expired", (st, body[:200])


def _killed_then_resumed(srv, tmp, tool, size=48 * M):
    # larger than the socket buffers of both ends, so the client dies while
    # the server is still sending (see docs/api.md, Max-Downloads)
    data = rand_bytes(size)
    o = srv.upload("resume-%s.bin" % tool, data, {"Max-Downloads": "1"})
    p = srv.dl_path(o)
    out = os.path.join(tmp, "out-" + tool)
    if tool == "curl":
        cmd = ["curl", "-sS", "--interface", A, "--limit-rate", "4M", "-o", out, srv.url + p]
    else:
        cmd = ["wget", "-q", "--bind-address", A, "--limit-rate=4m", "-O", out, srv.url + p]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        ok = wait_until(lambda: os.path.exists(out) and os.path.getsize(out) >= 4 * M, 20)
        assert ok, "%s never got 4 MiB" % tool
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    half = os.path.getsize(out)
    assert half < len(data), "%s finished before it was killed" % tool
    time.sleep(0.5)  # the server sees the reset and gives back what was not delivered
    # someone else cannot take what is left
    st, _, body = get(srv, p, {"Range": "bytes=%d-" % half}, source=B)
    assert st == 410 and reason_of(body) == "in-use", (st, body[:200])
    if tool == "curl":
        cmd = ["curl", "-sS", "--interface", A, "-C", "-", "-o", out, "-w", "%{http_code}",
               srv.url + p]
    else:
        cmd = ["wget", "-q", "--bind-address", A, "-c", "-O", out, srv.url + p]
    res = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60)
    assert res.returncode == 0, "%s resume: rc %d %r %r" % (tool, res.returncode, res.stdout,
                                                           res.stderr)
    if tool == "curl":
        assert res.stdout == b"206", res.stdout
    with open(out, "rb") as f:
        got = f.read()
    assert len(got) == len(data) and hashlib.sha256(got).hexdigest() == sha256(data), \
        "%s: killed at %d bytes, resumed to %d bytes, sha256 %s" % (
            tool, half, len(got), "ok" if got == data else "wrong")
    r = wait_downloads(srv, o["id"], 1)
    assert r is not None and r.status == 410, r
    for src in (A, B):
        st, _, _ = get(srv, p, {"Range": "bytes=1-"}, source=src)
        assert st == 410, (src, st)


def test_killed_download_resumes_with_curl(srv, tmp):
    _killed_then_resumed(srv, tmp, "curl")


def test_killed_download_resumes_with_wget(srv, tmp):
    _killed_then_resumed(srv, tmp, "wget")


def test_killed_capped_download_resumes(tmp):
    # the speed-capped body path (a content callback, suspended between
    # bursts) gives back what was not delivered too
    from harness import Server
    with Server(CONFIG + "[tier.anonymous]\nspeed_bytes_per_second = 8M\n",
                name="capped") as s:
        _killed_then_resumed(s, tmp, "curl", size=40 * M)


def test_two_downloads_are_two_copies(srv):
    data = rand_bytes(200 * K)
    o = srv.upload("twice.bin", data, {"Max-Downloads": "2"})
    p = srv.dl_path(o)
    # ranges count: most of a copy from A, in two pieces
    st, h, b1 = get(srv, p, {"Range": "bytes=1-99999"})
    assert st == 206 and b1 == data[1:100000]
    assert h.get("x-remaining-downloads") == "1", h.get("x-remaining-downloads")
    st, _, b2 = get(srv, p, {"Range": "bytes=100000-"})
    assert st == 206 and b2 == data[100000:]
    # a full copy from B: the budget's last copy, which B now holds
    st, h, body = get(srv, p, source=B)
    assert st == 200 and body == data, st
    assert h.get("x-remaining-downloads") == "0", h.get("x-remaining-downloads")
    # one byte is left in the budget (A's byte 0), and it is B's
    st, _, body = get(srv, p, source=A)
    assert st == 410, "a third full copy: %d" % st
    st, _, body = get(srv, p, {"Range": "bytes=0-0"}, source=A)
    assert st == 410 and reason_of(body) == "in-use", (st, body[:200])
    st, _, body = get(srv, p, {"Range": "bytes=0-0"}, source=B)
    assert st == 206 and body == data[:1], st
    r = wait_downloads(srv, o["id"], 2)
    assert r is not None and r.status == 410, r

    # two plain full copies, then nothing
    o = srv.upload("twice2.bin", data, {"Max-Downloads": "2"})
    p = srv.dl_path(o)
    assert get(srv, p, source=A)[2] == data
    r = wait_downloads(srv, o["id"], 1)
    assert r is not None and r.status == 200 and r.json()["downloads"] == 1, r
    assert get(srv, p, source=B)[2] == data
    for src in (A, B):
        for hdrs in ({}, {"Range": "bytes=1-"}, {"Range": "bytes=-1"}):
            st, _, _ = get(srv, p, hdrs, source=src)
            assert st == 410, (src, hdrs, st)


def test_concurrent_gets_deliver_one_copy(srv):
    # 8 threads at once on Max-Downloads: 1: full GETs, then open ranges
    data = rand_bytes(2 * M)
    for hdrs in ({}, {"Range": "bytes=1-"}):
        o = srv.upload("race.bin", data + os.urandom(8), {"Max-Downloads": "1"})
        size = o["size"]
        p = srv.dl_path(o)
        res, go = [], threading.Barrier(8)

        def one(i):
            go.wait()
            try:
                res.append(get(srv, p, hdrs, source=(A, B)[i % 2]))
            except Exception as e:  # noqa: BLE001
                res.append((0, {}, repr(e).encode()))
        ts = [threading.Thread(target=one, args=(i,), daemon=True) for i in range(8)]
        for t in ts:
            t.start()
        for t in ts:
            t.join(60)
        codes = sorted(st for st, _, _ in res)
        delivered = sum(len(b) for st, _, b in res if st in (200, 206))
        assert delivered <= size, "8 concurrent GETs %r delivered %d bytes of a %d-byte file: " \
            "%r" % (hdrs, delivered, size, codes)
        assert codes.count(410) == 7 and len(codes) == 8, "%r: %r" % (hdrs, codes)


def test_no_bytes_no_charge(srv):
    # HEAD, 304, 412 and 416 deliver nothing and take nothing
    data = rand_bytes(50 * K)
    o = srv.upload("free.bin", data, {"Max-Downloads": "1"})
    p = srv.dl_path(o)
    etag = '"%s"' % sha256(data)
    for src in (A, B):
        assert get(srv, p, source=src, method="HEAD")[0] == 200
        assert get(srv, p, {"If-None-Match": etag}, source=src)[0] == 304
        assert get(srv, p, {"If-Match": '"0000"'}, source=src)[0] == 412
        assert get(srv, p, {"Range": "bytes=999999-"}, source=src)[0] == 416
    # multipart: two ranges reserve their bytes only
    st, h, body = get(srv, p, {"Range": "bytes=0-9,40000-40099"}, source=B)
    assert st == 206 and h["content-type"].startswith("multipart/byteranges"), (st, h)
    st, h, body = get(srv, p, {"Range": "bytes=10-39999,40100-"}, source=B)
    assert st == 206 and h["content-type"].startswith("multipart/byteranges"), (st, h)
    # every byte went out once: nothing is left, for anyone
    for src in (A, B):
        st, _, body = get(srv, p, {"Range": "bytes=0-0"}, source=src)
        assert st == 410, (src, st, body[:200])
    r = wait_downloads(srv, o["id"], 1)
    assert r is not None and r.status == 410, r
    # an empty file: each GET is one download
    o = srv.upload("empty.bin", b"", {"Max-Downloads": "2"})
    p = srv.dl_path(o)
    assert get(srv, p, source=A)[:1] == (200,)
    assert get(srv, p, source=B)[:1] == (200,)
    assert get(srv, p, source=A)[0] == 410


def test_page_and_json_show_downloads_left(srv):
    data = rand_bytes(100 * K)
    o = srv.upload("left.bin", data, {"Max-Downloads": "3"})
    p = srv.dl_path(o)
    assert get(srv, p, {"Range": "bytes=1-"})[0] == 206
    time.sleep(0.2)
    st, j = file_json(srv, o["id"])
    assert st == 200 and j["downloads"] == 0 and j["max_downloads"] == 3, j
    assert get(srv, p, {"Range": "bytes=0-0"})[0] == 206
    assert wait_downloads(srv, o["id"], 1)
    r = srv.get("/" + o["id"], {"Accept": "text/html"})
    assert r.status == 200 and "1 of 3" in r.text, r.text[:500]


# ------------------------------------------------------- 10a: huge numbers

def test_range_numbers_past_2_64(srv):
    data = rand_bytes(1000)
    o = srv.upload("r.bin", data)
    p = srv.dl_path(o)
    for rng in ("bytes=18446744073709551615-", "bytes=18446744073709551616-",
                "bytes=99999999999999999999999999-"):
        st, h, body = get(srv, p, {"Range": rng})
        assert st == 416 and h.get("content-range") == "bytes */1000", (rng, st, h)
    for rng, want in (("bytes=-18446744073709551616", data),
                      ("bytes=10-99999999999999999999999", data[10:]),
                      ("bytes=00000000000000000000000010-0000000000000000000000000019",
                       data[10:20])):
        st, h, body = get(srv, p, {"Range": rng})
        assert st == 206 and body == want, (rng, st, len(body))
    st, _, body = get(srv, p, {"Range": "bytes=99999999999999999999999-99999999999999999999998"})
    assert st == 200 and body == data, "last < first is an invalid range: %d" % st
    code, n, _ = curl(srv, p, "-r", "18446744073709551615-")
    assert code == 416 and n == 0, (code, n)


# ------------------------------------------------------- 10c: password

def test_password_file_object_hides_details(srv):
    data = rand_bytes(3000)
    o = srv.upload("secret-plans.pdf", data, {"X-Partage-Password": "hunter2-long"})
    fid = o["id"]
    st, j = file_json(srv, fid)
    assert st == 200, st
    assert j.get("password_protected") is True, j
    blob = json.dumps(j)
    for leak in ("secret-plans", sha256(data), "size", "mime", "downloads", "created"):
        assert leak not in blob, "the file object without the password shows %r: %r" % (leak, j)
    assert set(j) <= {"id", "url", "download_url", "password_protected"}, j
    # its download_url asks for the password, and takes it
    assert srv.get(srv.dl_path(j)).status == 401
    assert srv.get(srv.dl_path(j) + "?password=hunter2-long").body == data
    # with the password: everything
    st, j = file_json(srv, fid, {"X-Partage-Password": "hunter2-long"})
    assert st == 200 and j["name"] == "secret-plans.pdf" and j["sha256"] == sha256(data), j
    r = srv.get("/api/v1/files/%s?password=hunter2-long" % fid, {"Accept": "application/json"})
    assert r.status == 200 and r.json()["size"] == 3000, r
    # a wrong one: 401, as for the bytes
    st, j = file_json(srv, fid, {"X-Partage-Password": "wrong-password"})
    assert st == 401 and "secret-plans" not in json.dumps(j), (st, j)
    # the link checker says alive, and no more
    r = expect(srv.request("POST", "/api/v1/check", body=fid.encode(),
                           headers={"Content-Type": "text/plain"}), 200)
    res = r.json()["results"][0]
    assert res["status"] == "alive" and "name" not in res and "size" not in res, res
    # removed: the reason, still no name
    expect(srv.delete("/" + fid, {"X-Delete-Token": o["delete_token"]}), 204)
    r = expect(srv.request("POST", "/api/v1/check", body=fid.encode(),
                           headers={"Content-Type": "text/plain"}), 200)
    res = r.json()["results"][0]
    assert res["status"] == "removed" and "name" not in res and res.get("reason") == "deleted", res
    # a link without password keeps its details
    o2 = srv.upload("open.txt", b"hello\n")
    st, j = file_json(srv, o2["id"])
    assert j["name"] == "open.txt" and j["size"] == 6, j


# ------------------------------------------------------- two nodes

def test_two_nodes_share_one_budget(srv):
    """Two partaged on one PostgreSQL schema (and, for the bytes, one data
    directory): the budget is the link row's, so open ranges sent to both
    nodes at once still deliver one copy.  Runs only on PostgreSQL."""
    import harness
    from harness import Server, Skip
    if not harness.PG_DSN:
        raise Skip("needs PostgreSQL (PARTAGE_TEST_PG_DSN)")
    node2 = Server(CONFIG, data=srv.data, shared_with=srv, name="node2")
    try:
        data = rand_bytes(1 * M)
        o = srv.upload("two-nodes.bin", data, {"Max-Downloads": "1"})
        p = srv.dl_path(o)
        res, go = [], threading.Barrier(8)

        def one(i):
            node = (srv, node2)[i % 2]
            go.wait()
            res.append(get(node, p, {"Range": "bytes=1-"}, source=(A, B)[(i // 2) % 2]))
        ts = [threading.Thread(target=one, args=(i,), daemon=True) for i in range(8)]
        for t in ts:
            t.start()
        for t in ts:
            t.join(60)
        codes = sorted(st for st, _, _ in res)
        delivered = sum(len(b) for st, _, b in res if st == 206)
        assert codes.count(206) == 1 and codes.count(410) == 7, codes
        assert delivered == len(data) - 1, delivered
        # the holder finishes on the other node; then nothing for anyone
        winner = [h for st, h, _ in res if st == 206]
        assert winner
        for node in (srv, node2):
            st, _, _ = get(node, p, {"Range": "bytes=0-0"}, source=B)
            st2, _, _ = get(node, p, {"Range": "bytes=0-0"}, source=A)
            assert sorted((st, st2)) in ([206, 410], [410, 410]), (st, st2)
        r = wait_downloads(node2, o["id"], 1)
        assert r is not None and r.status == 410, r
    finally:
        node2.close()
