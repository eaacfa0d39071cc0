"""Delete tokens (K3), Max-Downloads / Max-Days (K4), upload size limit (K6,
Expect: 100-continue, chunked), 410 reasons."""

import os
import subprocess
import time

from harness import (expect, live_links, multipart, rand_bytes, sha256, wait_downloads,
                     wait_until, Server)

CONFIG = """\
[tier.anonymous]
max_upload_bytes = 1M
"""
MIB = 1024 * 1024


def gone_reason(srv, fid, reason):
    r = expect(srv.file_obj(fid), 410, what="file object")
    j = r.json()
    assert isinstance(j.get("error"), str) and j["error"], "410 without an error text: %r" % j
    assert j.get("reason") == reason, "410 reason %r, want %r" % (j.get("reason"), reason)


# ------------------------------------------------------------------ delete

def test_delete_with_token(srv):
    # K3
    data = rand_bytes(2000)
    o = srv.upload("del.bin", data)
    expect(srv.get(srv.dl_path(o)), 200)
    r = srv.delete("/" + o["id"], {"X-Delete-Token": o["delete_token"]})
    expect(r, 204, what="DELETE with the right token")
    assert r.body == b""
    expect(srv.get(srv.dl_path(o)), 410, what="GET after delete")
    expect(srv.head(srv.dl_path(o)), 410, what="HEAD after delete")
    expect(srv.get("/" + o["id"]), 410, what="GET /{id} after delete")
    gone_reason(srv, o["id"], "deleted")


def test_delete_wrong_or_missing_token(srv):
    o = srv.upload("keep.bin", rand_bytes(500))
    other = srv.upload("other.bin", rand_bytes(500))
    expect(srv.delete("/" + o["id"], {"X-Delete-Token": "A" * 43}), 403, what="wrong token")
    expect(srv.delete("/" + o["id"], {"X-Delete-Token": other["delete_token"]}), 403,
           what="another file's token")
    expect(srv.delete("/" + o["id"], {"X-Delete-Token": ""}), 401, 403, what="empty token")
    expect(srv.delete("/" + o["id"]), 401, 403, what="no token")
    expect(srv.delete("/" + o["id"], {"X-Delete-Token": o["delete_token"][:-1]}), 403, what="truncated token")
    expect(srv.get(srv.dl_path(o)), 200, what="the file survives failed deletes")
    expect(srv.file_obj(o["id"]), 200)


def test_delete_unknown_and_twice(srv):
    expect(srv.delete("/ZZZZZZZZZZZZ", {"X-Delete-Token": "A" * 43}), 404, 403, what="DELETE unknown id")
    o = srv.upload("twice.bin", rand_bytes(300))
    expect(srv.delete("/" + o["id"], {"X-Delete-Token": o["delete_token"]}), 204)
    r = srv.delete("/" + o["id"], {"X-Delete-Token": o["delete_token"]})
    assert r.status in (404, 410, 204), "second DELETE: %r" % r


def test_delete_one_of_two_dedup_links(srv):
    # deleting one link leaves the other link to the same content working
    data = rand_bytes(3000)
    a = srv.upload("a.bin", data)
    b = srv.upload("b.bin", data)
    expect(srv.delete("/" + a["id"], {"X-Delete-Token": a["delete_token"]}), 204)
    expect(srv.get(srv.dl_path(a)), 410)
    assert expect(srv.get(srv.dl_path(b)), 200).body == data
    assert os.path.isfile(srv.blob_path(sha256(data))), "the shared blob was removed"


def test_curl_delete(srv):
    r = srv.put("curl-del.txt", b"curl -X DELETE\n")
    expect(r, 201)
    fid, tok = r.header("X-Partage-Id"), r.header("X-Delete-Token")
    out = subprocess.run(["curl", "-sS", "-o", "/dev/null", "-w", "%{http_code}", "-X", "DELETE",
                          "-H", "X-Delete-Token: " + tok, srv.url + "/" + fid],
                         capture_output=True, timeout=30)
    assert out.stdout == b"204", "curl -X DELETE: %r %r" % (out.stdout, out.stderr)
    expect(srv.get("/" + fid), 410)


# ----------------------------------------------------------- Max-Downloads

def test_max_downloads_one(srv):
    # K4: first GET 200, second 410 (reason expired)
    data = rand_bytes(1000)
    o = srv.upload("once.bin", data, {"Max-Downloads": "1"})
    assert o["max_downloads"] == 1, "max_downloads %r" % o["max_downloads"]
    # HEAD, the file object, a 304 and a 416 do not count
    expect(srv.head(srv.dl_path(o)), 200)
    expect(srv.file_obj(o["id"]), 200)
    expect(srv.get(srv.dl_path(o), {"If-None-Match": '"%s"' % sha256(data)}), 304)
    expect(srv.get(srv.dl_path(o), {"Range": "bytes=5000-"}), 416)
    time.sleep(0.2)
    assert expect(srv.file_obj(o["id"]), 200).json()["downloads"] == 0, "HEAD/304/416 counted as downloads"
    assert expect(srv.get(srv.dl_path(o)), 200).body == data
    assert wait_downloads(srv, o["id"], 1), "the download was never counted"
    expect(srv.get(srv.dl_path(o)), 410, what="second GET with Max-Downloads: 1")
    expect(srv.get("/" + o["id"]), 410, what="GET /{id} once used up")
    gone_reason(srv, o["id"], "expired")


def test_max_downloads_counts_bytes(srv):
    # issue 12: a link limited to N downloads delivers its bytes N times,
    # counted in bytes, whichever ranges carry them (test_26 has the rest)
    data = rand_bytes(5000)
    o = srv.upload("twice.bin", data, {"Max-Downloads": "2"})
    p = srv.dl_path(o)
    for _ in range(3):
        r = expect(srv.get(p, {"Range": "bytes=100-199"}), 206)
        assert r.body == data[100:200]
    time.sleep(0.2)
    j = expect(srv.file_obj(o["id"]), 200).json()
    assert j["downloads"] == 0, "300 of 10000 bytes counted as a download: %r" % j["downloads"]
    # the rest of a first copy
    expect(srv.get(p, {"Range": "bytes=0-4699"}), 206)
    assert wait_downloads(srv, o["id"], 1)
    assert expect(srv.file_obj(o["id"]), 200).json()["downloads"] == 1
    # 100 bytes of the second copy; then a full GET does not fit
    expect(srv.get(p, {"Range": "bytes=0-99"}), 206)
    expect(srv.get("/" + o["id"]), 410, what="a full copy with 4900 bytes left")
    assert expect(srv.get(p, {"Range": "bytes=100-"}), 206).body == data[100:]
    assert wait_downloads(srv, o["id"], 2)
    expect(srv.get(p), 410, what="third download with Max-Downloads: 2")
    expect(srv.get(p, {"Range": "bytes=100-199"}), 410, what="range after the downloads are used up")


def _get_from(srv, path, source):
    """A GET from another loopback address (each is another client)."""
    import http.client
    c = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=10,
                                   source_address=(source, 0))
    try:
        c.request("GET", path)
        r = c.getresponse()
        return r.status, r.read()
    finally:
        c.close()


def test_download_counter(srv):
    # issue 4: a download counts when one client has every byte, at most
    # once per file, client address and day: three clients count three,
    # the same client again counts nothing more
    data = rand_bytes(100)
    o = srv.upload("count.bin", data)
    for i in range(3):
        st, body = _get_from(srv, srv.dl_path(o), "127.0.0.%d" % (2 + i))
        assert st == 200 and body == data
    for i in range(3):
        expect(srv.get(srv.dl_path(o)), 200)
    ok = wait_downloads(srv, o["id"], 4)
    time.sleep(2.5)  # a batch more, so an over-count would show
    j = srv.file_obj(o["id"]).json()
    assert ok and j["downloads"] == 4, \
        "downloads is %r after complete GETs by 4 clients (one of them 3 times)" % j["downloads"]


def test_invalid_limit_headers(srv):
    before = srv.blob_files()
    for h, v in (("Max-Downloads", "abc"), ("Max-Downloads", "-1"), ("Max-Downloads", "1.5"),
                 ("Max-Downloads", "99999999999999999999999"), ("Max-Days", "x"), ("Max-Days", "-3"),
                 ("Max-Days", "2d")):
        r = srv.put("limits.txt", b"bad header value %s\n" % v.encode(), {h: v})
        expect(r, 400, what="%s: %s" % (h, v))
    assert srv.blob_files() == before, "a rejected upload left a blob"


# ---------------------------------------------------------------- Max-Days

def test_max_days_expiry():
    # K4: Max-Days: 1, then a server whose clock is 2 days ahead → 410 expired;
    # half a day ahead → still there
    with Server("", name="maxdays") as s:
        data = rand_bytes(1000)
        o = s.upload("days.bin", data, {"Max-Days": "1"})
        assert isinstance(o["expires"], int), "expires %r with Max-Days: 1" % o["expires"]
        assert abs(o["expires"] - (o["created"] + 86400)) <= 2, \
            "expires %r is not created + 1 day (%r)" % (o["expires"], o["created"] + 86400)
        keep = s.upload("keep.bin", rand_bytes(1000))
        s.restart(env={"PARTAGE_TIME_OFFSET": str(43200)})
        expect(s.get(s.dl_path(o)), 200, what="half a day later")
        s.restart(env={"PARTAGE_TIME_OFFSET": str(2 * 86400)})
        expect(s.get(s.dl_path(o)), 410, what="two days later")
        gone_reason(s, o["id"], "expired")
        expect(s.get(s.dl_path(keep)), 200, what="a file without Max-Days two days later")


# -------------------------------------------------------------- size limit

def test_limit_exact_and_over(srv):
    ok = rand_bytes(MIB)
    expect(srv.put("exact.bin", ok), 201, what="PUT of exactly max_upload_bytes")
    r, _ = srv.send_upload("/over.bin", ["Content-Length: %d" % (MIB + 1)], chunks(rand_bytes(MIB + 1)))
    expect(r, 413, what="PUT of max_upload_bytes + 1")


def chunks(data, n=65536):
    return (data[i:i + n] for i in range(0, len(data), n))


def test_put_2mib_413(srv):
    before = srv.blob_files()
    data = rand_bytes(2 * MIB)
    r, sent = srv.send_upload("/big.bin", ["Content-Length: %d" % len(data)], chunks(data))
    expect(r, 413, what="PUT 2 MiB over a 1M limit")
    assert len(r.text.strip().splitlines()) == 1, "413 reason is not one line: %r" % r.body[:300]
    assert srv.blob_files() == before
    assert wait_until(lambda: srv.tmp_files() == [], 3), "temp file left: %r" % srv.tmp_files()


def test_expect_100_continue_413_before_body(srv):
    # K6: the 413 comes before the body is sent
    with srv.raw_conn() as c:
        c.send(b"PUT /huge.bin HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\nExpect: 100-continue\r\n\r\n" % (2 * MIB))
        assert c.readable(5), "no reply within 5s to headers with Expect: 100-continue"
        r = c.read_response("PUT", skip_interim=False)
    assert r.status == 413, "expected 413 before the body, got %s %r" % (r.status, r.body[:100])


def test_curl_upload_over_limit(srv, tmp):
    p = os.path.join(tmp, "big.bin")
    with open(p, "wb") as fh:
        fh.write(rand_bytes(3 * MIB))
    t = time.monotonic()
    out = subprocess.run(["curl", "-sS", "-o", "/dev/null", "-w", "%{http_code}", "-T", p, srv.url + "/"],
                         capture_output=True, timeout=30)
    assert out.stdout == b"413", "curl -T of 3 MiB over a 1M limit: %r %r" % (out.stdout, out.stderr)
    assert time.monotonic() - t < 10


def test_chunked_over_limit_nothing_stored(srv):
    before = srv.blob_files()
    links = live_links(srv)
    data = rand_bytes(2 * MIB)
    body = (b"%x\r\n%s\r\n" % (len(c), c) for c in chunks(data, 32768))
    r, sent = srv.send_upload("/chunked-big.bin", ["Transfer-Encoding: chunked"],
                              list(body) + [b"0\r\n\r\n"])
    expect(r, 413, what="chunked upload over the limit")
    assert srv.blob_files() == before, "a blob was stored"
    assert not os.path.exists(srv.blob_path(sha256(data)))
    assert wait_until(lambda: srv.tmp_files() == [], 3), "temp file left: %r" % srv.tmp_files()
    assert live_links(srv) == links, "a link was created by a refused upload"
    expect(srv.get("/healthz"), 200)


def test_multipart_over_limit(srv):
    body, ctype = multipart([("file", "big.bin", rand_bytes(2 * MIB), "application/octet-stream")])
    r, _ = srv.send_upload("/api/v1/files", ["Content-Type: " + ctype, "Content-Length: %d" % len(body),
                                             "Accept: application/json"], chunks(body), method="POST")
    expect(r, 413, what="multipart upload over the limit")
    assert wait_until(lambda: srv.tmp_files() == [], 3), "temp file left: %r" % srv.tmp_files()


def test_max_downloads_concurrent(srv):
    # Max-Downloads: 1 means one download, also when 6 clients start at once
    import threading
    data = rand_bytes(900 * 1024)
    o = srv.upload("race.bin", data, {"Max-Downloads": "1"})
    statuses, errors = [], []
    go = threading.Event()

    def one():
        go.wait()
        try:
            r = srv.get(srv.dl_path(o))
            statuses.append(r.status)
            if r.status == 200 and r.body != data:
                errors.append("200 with %d wrong bytes" % len(r.body))
        except Exception as e:  # noqa: BLE001
            errors.append(repr(e))
    ts = [threading.Thread(target=one, daemon=True) for _ in range(6)]
    for t in ts:
        t.start()
    go.set()
    for t in ts:
        t.join(30)
    assert not errors, errors
    assert statuses.count(200) == 1 and statuses.count(410) == 5, \
        "6 concurrent GETs of a Max-Downloads: 1 file → %r (want one 200, five 410)" % sorted(statuses)


def test_gone_page_html(srv):
    o = srv.upload("page-gone.txt", b"x\n", {"Max-Downloads": "1"})
    expect(srv.get(srv.dl_path(o)), 200)
    wait_downloads(srv, o["id"], 1)
    r = expect(srv.get("/" + o["id"], {"Accept": "text/html"}), 410)
    assert r.header("Content-Type", "").startswith("text/html"), r.header("Content-Type")
    r = expect(srv.get("/" + o["id"], {"Accept": "application/json"}), 410)
    assert r.json().get("status") == 410
