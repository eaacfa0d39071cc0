"""Uploads: PUT /{name} (text and JSON replies, chunked, Expect), POST
/api/v1/files multipart, the file object, dedup, the storage layout."""

import os
import re
import subprocess
import time
import urllib.parse

import harness
from harness import (expect, quote, rand_bytes, sha256, share_id, wait_until,
                     RawConn)

CONFIG = ""

TOKEN_RX = re.compile(r"[A-Za-z0-9_-]{43}")
ID_RX = re.compile(r"[0-9A-Za-z]{12}")
FILE_KEYS = ("id", "name", "size", "sha256", "mime", "url", "download_url",
             "created", "expires", "downloads", "max_downloads")


def check_file_object(srv, obj, name, data, t0=None, t1=None, upload_reply=True):
    for k in FILE_KEYS:
        assert k in obj, "file object has no %r: %r" % (k, obj)
    assert isinstance(obj["id"], str) and ID_RX.fullmatch(obj["id"]), obj["id"]
    assert obj["name"] == name, "name %r != %r" % (obj["name"], name)
    assert obj["size"] == len(data) and isinstance(obj["size"], int), obj["size"]
    assert obj["sha256"] == sha256(data), "sha256 %r != %r" % (obj["sha256"], sha256(data))
    assert isinstance(obj["mime"], str) and "/" in obj["mime"], obj["mime"]
    assert obj["url"] == "%s/%s" % (srv.url, obj["id"]), "url %r" % obj["url"]
    assert obj["download_url"] == "%s/%s/%s" % (srv.url, obj["id"], quote(name)) or \
        urllib.parse.unquote(obj["download_url"]) == "%s/%s/%s" % (srv.url, obj["id"], name), \
        "download_url %r is not <public_url>/<id>/<escaped name>" % obj["download_url"]
    dl_path = urllib.parse.urlsplit(obj["download_url"]).path
    assert all(c not in dl_path for c in " \"<>\\^`{|}") and all(ord(c) < 128 for c in dl_path), \
        "download_url is not percent-escaped: %r" % obj["download_url"]
    assert isinstance(obj["created"], int), obj["created"]
    if t0 is not None:
        assert t0 - 1 <= obj["created"] <= t1 + 1, "created %r not in [%r, %r]" % (obj["created"], t0, t1)
    assert isinstance(obj["downloads"], int), obj["downloads"]
    if upload_reply:
        assert isinstance(obj.get("delete_token"), str) and TOKEN_RX.fullmatch(obj["delete_token"]), \
            "delete_token is not 43 chars of base64url: %r" % obj.get("delete_token")
    else:
        assert "delete_token" not in obj, "delete_token leaked outside the upload reply: %r" % obj


def test_put_text_reply(srv):
    data = b"hello partage\n" * 10
    r = srv.put("hello.txt", data)
    fid = share_id(srv, r)
    ct = r.header("Content-Type", "")
    assert ct.split(";")[0].strip().lower() == "text/plain", "Content-Type %r" % ct
    assert r.header("Location") == "%s/%s" % (srv.url, fid), "Location %r" % r.header("Location")
    assert r.header("X-Partage-Id") == fid, "X-Partage-Id %r, body id %r" % (r.header("X-Partage-Id"), fid)
    tok = r.header("X-Delete-Token", "")
    assert TOKEN_RX.fullmatch(tok), "X-Delete-Token %r is not 43 chars of base64url" % tok
    g = expect(srv.get("/%s/hello.txt" % fid), 200)
    assert g.body == data


def test_put_json_file_object(srv):
    data = rand_bytes(3000)
    t0 = int(time.time())
    r = srv.put("data file.bin", data, {"Accept": "application/json"})
    t1 = int(time.time())
    expect(r, 201)
    assert r.header("Content-Type", "").startswith("application/json"), r.header("Content-Type")
    obj = r.json()
    check_file_object(srv, obj, "data file.bin", data, t0, t1)
    # no Max-Days: an anonymous upload expires after 21 days without a
    # download (the tier's retention, issue 6), and the object says when
    assert isinstance(obj["expires"], int) and abs(obj["expires"] - (obj["created"] + 21 * 86400)) <= 2, \
        "expires without Max-Days: %r (created %r, anonymous retention 21 days)" % (obj["expires"], obj["created"])
    assert obj["max_downloads"] is None, "max_downloads without Max-Downloads: %r" % obj["max_downloads"]
    assert obj["downloads"] == 0
    assert r.header("X-Partage-Id") == obj["id"]
    assert r.header("X-Delete-Token") == obj["delete_token"]
    g = expect(srv.get(srv.dl_path(obj)), 200)
    assert g.body == data


def test_file_object_api_has_no_token(srv):
    data = b"api object\n"
    t0 = int(time.time())
    up = srv.upload("api.txt", data)
    t1 = int(time.time())
    r = expect(srv.file_obj(up["id"]), 200)
    assert r.header("Content-Type", "").startswith("application/json"), r.header("Content-Type")
    obj = r.json()
    check_file_object(srv, obj, "api.txt", data, t0, t1, upload_reply=False)
    for k in ("id", "name", "size", "sha256", "mime", "url", "download_url", "created"):
        assert obj[k] == up[k], "file object %s=%r differs from the upload reply %r" % (k, obj[k], up[k])
    # the API answers JSON to curl's default Accept too
    r = expect(srv.get("/api/v1/files/" + up["id"], {"Accept": "*/*"}), 200)
    assert r.header("Content-Type", "").startswith("application/json"), r.header("Content-Type")
    assert r.json()["id"] == up["id"]


def test_curl_T_appends_basename(srv, tmp):
    # K1: curl -T a.txt http://h/ → PUT /a.txt; body is the share URL; GET on it gives the bytes
    p = os.path.join(tmp, "a.txt")
    data = b"curl upload K1\n" + rand_bytes(100).hex().encode()
    with open(p, "wb") as f:
        f.write(data)
    out = subprocess.run(["curl", "-sS", "-T", p, "-w", "\n%{http_code}", srv.url + "/"],
                         capture_output=True, timeout=30)
    body, _, code = out.stdout.rpartition(b"\n")
    assert code == b"201", "curl -T: status %r, stderr %r" % (code, out.stderr)
    m = re.fullmatch(re.escape(srv.url.encode()) + rb"/([0-9A-Za-z]{12})\n", body)
    assert m, "curl -T body %r is not the share URL" % body
    share = m.group(0).strip().decode()
    obj = expect(srv.file_obj(m.group(1).decode()), 200).json()
    assert obj["name"] == "a.txt", "curl -T URL/ should upload as a.txt, got %r" % obj["name"]
    got = subprocess.run(["curl", "-sS", "-f", share], capture_output=True, timeout=30)
    assert got.returncode == 0, got.stderr
    assert got.stdout == data, "curl SHARE_URL did not return the uploaded bytes"


def test_share_url_default_accept_gives_bytes(srv):
    data = rand_bytes(5000)
    fid = share_id(srv, srv.put("blob.bin", data))
    for hdrs in ({"Accept": "*/*"}, {}):
        r = expect(srv.get("/" + fid, hdrs), 200, what="GET /{id} %r" % hdrs)
        assert r.body == data, "GET /{id} with %r did not return the bytes" % hdrs
        assert r.header("ETag") == '"%s"' % sha256(data), r.header("ETag")
        assert "accept" in (r.header("Vary") or "").lower(), \
            "GET /{id} negotiates HTML vs bytes on Accept but has no Vary: Accept (%r)" % r.header("Vary")
    r = expect(srv.get("/" + fid, {"Range": "bytes=10-19"}), 206, what="Range on the share URL")
    assert r.body == data[10:20] and r.header("Content-Range") == "bytes 10-19/5000"
    h = expect(srv.head("/" + fid), 200)
    assert h.body == b"" and h.header("Content-Length") == "5000"


def test_share_page_html(srv):
    name = "<b>a&b<b> page.txt"
    data = b"x" * 1234
    obj = srv.upload(name, data)
    r = expect(srv.get("/" + obj["id"], {"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"}), 200)
    assert r.header("Content-Type", "").startswith("text/html"), r.header("Content-Type")
    page = r.text
    assert "<b>a&b" not in page, "the page shows the file name unescaped (XSS)"
    assert "&lt;b&gt;a&amp;b" in page or "&#60;b&#62;a&#38;b" in page or "&lt;b>a&amp;b" in page, \
        "the page does not show the (escaped) name"
    assert "1234" in page or re.search(r"1[.,]2\d*\s*K", page), "the page does not show the size"
    # a quote in the name cannot break out of an attribute
    o2 = srv.upload('q" onmouseover="alert(1) x.txt', b"attr\n")
    p2 = expect(srv.get("/" + o2["id"], {"Accept": "text/html"}), 200).text
    assert '" onmouseover="alert(1)' not in p2, "the file name breaks out of an HTML attribute"
    dl = "/%s/%s" % (obj["id"], quote(name))
    assert dl in page or dl.replace("&", "&amp;") in page or srv.dl_path(obj) in page, \
        "the page has no link to the download URL %s" % dl
    # GET /{id} is negotiated on Accept (page or bytes): caches need Vary
    assert "accept" in (r.header("Vary") or "").lower(), \
        "the share page (GET /{id}, Accept: text/html) has no Vary: Accept (the bytes variant has one)"


def test_chunked_put(srv):
    # K2: body without Content-Length (chunked)
    data = rand_bytes(300000)
    chunks = [data[i:i + 7000] for i in range(0, len(data), 7000)]
    r = srv.put("chunked.bin", iter(chunks), {"Accept": "application/json"})
    expect(r, 201)
    obj = r.json()
    assert obj["size"] == len(data) and obj["sha256"] == sha256(data), obj
    assert expect(srv.get(srv.dl_path(obj)), 200).body == data


def test_expect_100_continue_accepted(srv):
    data = rand_bytes(200000)
    with srv.raw_conn() as c:
        c.send(("PUT /expect.bin HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n"
                "Expect: 100-continue\r\nAccept: application/json\r\n\r\n" % len(data)).encode())
        assert c.readable(5), "no 100 Continue (nor a final reply) within 5s"
        first = c.read_response("PUT", skip_interim=False)
        assert first.status == 100, "expected 100 Continue before the body, got %r" % first
        c.send(data)
        r = c.read_response("PUT")
    expect(r, 201)
    assert r.json()["sha256"] == sha256(data)


def test_two_uploads_one_connection(srv):
    import http.client
    conn = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=10)
    try:
        ids = []
        for i in range(3):
            conn.request("PUT", "/ka%d.txt" % i, body=b"keepalive %d\n" % i)
            resp = conn.getresponse()
            body = resp.read()
            assert resp.status == 201, (resp.status, body)
            ids.append(body.decode().strip().rsplit("/", 1)[1])
        assert len(set(ids)) == 3
    finally:
        conn.close()


def test_multipart_post(srv):
    a, b = rand_bytes(10000), b"second file\n"
    r = srv.post_files([("file", "one.bin", a, "application/octet-stream"),
                        ("file", "two.txt", b, "text/plain")])
    expect(r, 201)
    files = r.json().get("files")
    assert isinstance(files, list) and len(files) == 2, r.body[:300]
    for obj, name, data in ((files[0], "one.bin", a), (files[1], "two.txt", b)):
        check_file_object(srv, obj, name, data)
        assert expect(srv.get(srv.dl_path(obj)), 200).body == data
    assert files[0]["id"] != files[1]["id"]


def test_multipart_default_accept_is_json(srv):
    # docs/api.md: POST /api/v1/files → 201 {"files":[file...]}, with no Accept or
    # User-Agent condition; here exactly what `curl -F file=@d.txt` sends
    body, ctype = __import__("harness").multipart([("file", "d.txt", b"default accept\n", "text/plain")])
    for ua in ("Mozilla/5.0", "curl/7.88.1"):
        r = expect(srv.request("POST", "/api/v1/files", body=body,
                               headers={"Content-Type": ctype, "Accept": "*/*", "User-Agent": ua}), 201)
        assert r.header("Content-Type", "").startswith("application/json"), \
            "POST /api/v1/files (Accept: */*, User-Agent: %s) replied %r %r; docs/api.md says {\"files\":[...]}" % (
                ua, r.header("Content-Type"), r.body[:100])
        assert r.json()["files"][0]["name"] == "d.txt"


def test_multipart_without_file_part(srv):
    r = srv.post_files([("other", None, b"not a file", None)])
    assert 400 <= r.status < 500, "multipart with no 'file' part: expected 4xx, got %r" % r


def test_empty_file(srv):
    obj = srv.upload("empty.txt", b"")
    assert obj["size"] == 0 and obj["sha256"] == sha256(b""), obj
    r = expect(srv.get(srv.dl_path(obj)), 200)
    assert r.body == b"" and r.header("Content-Length") == "0", (r.headers.items())


def test_large_upload_download_integrity(srv):
    data = rand_bytes(6 * 1024 * 1024, seed=10)
    obj = srv.upload("large.bin", data)
    assert obj["sha256"] == sha256(data) and obj["size"] == len(data)
    r = expect(srv.get(srv.dl_path(obj)), 200)
    assert r.header("Content-Length") == str(len(data))
    assert sha256(r.body) == sha256(data), "downloaded bytes differ"


def test_dedup_one_blob(srv):
    data = rand_bytes(40000)
    before = set(srv.blob_files())
    a = srv.upload("one.bin", data)
    b = srv.upload("two.bin", data)
    assert a["id"] != b["id"], "same bytes twice must give two links"
    assert a["delete_token"] != b["delete_token"]
    new = set(srv.blob_files()) - before
    h = sha256(data)
    assert new == {os.path.join(h[0:2], h[2:4], h)}, \
        "expected exactly one new blob blobs/%s/%s/%s, got %r" % (h[0:2], h[2:4], h, sorted(new))
    with open(srv.blob_path(h), "rb") as f:
        assert f.read() == data, "blob content differs from the upload"
    for o in (a, b):
        assert expect(srv.get(srv.dl_path(o)), 200).body == data


def test_storage_layout(srv):
    data = rand_bytes(1000)
    srv.upload("layout.bin", data)
    assert os.path.isfile(srv.blob_path(sha256(data))), "no blob at DATA/blobs/ab/cd/<sha256>"
    if not harness.PG_DSN:  # on PostgreSQL the metadata is elsewhere
        assert os.path.isfile(srv.path("partage.db")), "no SQLite database at DATA/partage.db"
    assert os.path.isdir(srv.path("tmp")), "no DATA/tmp directory"
    assert wait_until(lambda: srv.tmp_files() == [], 2), "temp files left after a finished upload: %r" % srv.tmp_files()


def test_mime_sniffing(srv):
    png = bytes.fromhex("89504e470d0a1a0a0000000d4948445200000001000000010806000000"
                        "1f15c4890000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082")
    o = srv.upload("picture.dat", png)
    assert o["mime"] == "image/png", "PNG sniffed as %r" % o["mime"]
    r = expect(srv.get(srv.dl_path(o)), 200)
    assert r.header("Content-Type") == "image/png", r.header("Content-Type")
    o = srv.upload("notes.bin", b"just some plain text\nsecond line\n")
    r = expect(srv.get(srv.dl_path(o)), 200)
    ct = r.header("Content-Type", "")
    assert ct.startswith("text/plain") and "charset=" in ct, "text served as %r" % ct


def test_name_in_url_not_checked(srv):
    data = b"the id is the key\n"
    o = srv.upload("real-name.txt", data)
    r = expect(srv.get("/%s/some-other-name.html" % o["id"]), 200)
    assert r.body == data
    # the stored name and sniffed type are served, not what the URL says
    cd = r.header("Content-Disposition", "")
    assert 'filename="real-name.txt"' in cd, "Content-Disposition %r does not use the stored name" % cd
    assert r.header("Content-Type", "").startswith("text/plain"), r.header("Content-Type")


def test_content_range_on_put_rejected(srv):
    # R24: partial PUT is not supported → 400, nothing stored
    before = srv.blob_files()
    r = srv.put("partial.bin", b"x" * 100, {"Content-Range": "bytes 0-99/200"})
    expect(r, 400, what="PUT with Content-Range")
    assert srv.blob_files() == before, "a blob was stored by a rejected partial PUT"


def test_head_after_upload(srv):
    data = rand_bytes(777)
    o = srv.upload("head.bin", data)
    r = expect(srv.head(srv.dl_path(o)), 200)
    assert r.body == b""
    assert r.header("Content-Length") == "777", r.header("Content-Length")
    assert r.header("ETag") == '"%s"' % sha256(data)


def test_raw_http10_upload(srv):
    # an HTTP/1.0 client with Content-Length and no Host still gets its link
    data = b"http/1.0 upload\n"
    with RawConn(srv.port) as c:
        c.send(b"PUT /old.txt HTTP/1.0\r\nContent-Length: %d\r\n\r\n%s" % (len(data), data))
        r = c.read_response("PUT")
    fid = share_id(srv, r)
    assert expect(srv.get("/%s/old.txt" % fid), 200).body == data


def test_multipart_boundary_lookalikes(srv):
    # content full of CRLF and "--" + boundary-like text must come back byte-exact
    import random as _r
    boundary = "----partage-e2e-%016x" % _r.getrandbits(64)
    tricky = (b"\r\n--" + boundary[:-1].encode() + b"\r\n--\r\n" + b"--" + boundary.encode()[:10]) * 300
    tricky += rand_bytes(3 * 1024 * 1024 + 7)
    from harness import multipart
    body, ctype = multipart([("file", "tricky.bin", tricky, "application/octet-stream")], boundary=boundary)
    r = srv.request("POST", "/api/v1/files", body=body,
                    headers={"Content-Type": ctype, "Accept": "application/json"})
    expect(r, 201)
    obj = r.json()["files"][0]
    assert obj["size"] == len(tricky) and obj["sha256"] == sha256(tricky), \
        "multipart parse changed the bytes (%d vs %d)" % (obj["size"], len(tricky))
    assert expect(srv.get(srv.dl_path(obj)), 200).body == tricky


def test_multipart_filename_path_and_utf8(srv):
    r = srv.post_files([("file", "C:\\fakepath\\photo.txt", b"old IE path\n", "text/plain"),
                        ("file", "été.txt", b"utf-8 name\n", "text/plain")])
    expect(r, 201)
    names = [f["name"] for f in r.json()["files"]]
    assert names == ["photo.txt", "été.txt"], "multipart names %r" % names


def test_aborted_upload_leaves_nothing(srv):
    # the client promises 1 MiB, sends 100 KiB and goes away: no blob, no link
    data = rand_bytes(100 * 1024)
    before = srv.blob_files()
    with RawConn(srv.port) as c:
        c.send(b"PUT /aborted.bin HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % (1 << 20))
        c.send(data)
        time.sleep(0.2)
    time.sleep(0.3)
    assert srv.blob_files() == before, "an aborted upload left a blob"
    assert wait_until(lambda: srv.tmp_files() == [], 3), "an aborted upload left %r" % srv.tmp_files()
    expect(srv.get("/healthz"), 200)


def test_concurrent_identical_uploads(srv):
    # ten clients upload the same bytes at once: ten links, one blob, all intact
    import threading
    data = rand_bytes(700000)
    h = sha256(data)
    results, errors = [], []

    def one(i):
        try:
            results.append(srv.upload("same-%d.bin" % i, data))
        except Exception as e:  # noqa: BLE001
            errors.append(repr(e))
    ts = [threading.Thread(target=one, args=(i,), daemon=True) for i in range(10)]
    for t in ts:
        t.start()
    for t in ts:
        t.join(60)
    assert not errors, errors[:3]
    assert len({o["id"] for o in results}) == 10
    blobs = [b for b in srv.blob_files() if os.path.basename(b) == h]
    assert blobs == [os.path.join(h[0:2], h[2:4], h)], "blobs for one content: %r" % blobs
    for o in results:
        assert o["sha256"] == h
        assert sha256(expect(srv.get(srv.dl_path(o)), 200).body) == h


def test_put_names_like_routes(srv):
    # curl -T metrics URL/ uploads a file named "metrics": PUT /{name} takes any
    # name, also those of GET routes or a 12-character id
    for n in ("metrics", "healthz", "api", "index.html", "favicon.ico", "abcdefABCDEF"):
        data = b"a file named " + n.encode() + b"\n"
        o = srv.upload(n, data)
        assert o["name"] == n, (n, o["name"])
        assert expect(srv.get(srv.dl_path(o)), 200).body == data
    expect(srv.get("/healthz"), 200)
    assert srv.get("/metrics").text.startswith("#") or "partage_" in srv.get("/metrics").text
