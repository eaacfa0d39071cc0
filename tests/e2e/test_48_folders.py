"""Folders (/api/v1/folders, the page /folder/{id}) and a folder as one
stored zip: valid for Info-ZIP and Python's zipfile, a Content-Length known
in advance, resumable with Range + If-Range (curl -C -, aria2c -x4), tier
rules on the whole zip, and downloads counted per file."""

import io
import json
import os
import socket
import subprocess
import time
import zipfile

import harness
from harness import Server, expect, rand_bytes, sha256, wait_downloads, wait_until

PW = "folder password"
# the owner (free tier) downloads at once, at full speed
FREE = """
[tier.free]
wait_seconds = 0
speed_bytes_per_second = 0
parallel_downloads = 0
"""
CONFIG = harness.DEFAULT_CONFIG + FREE
JSON = {"Content-Type": "application/json"}


def login(srv):
    name = "fo_" + os.urandom(3).hex()
    body = json.dumps({"name": name, "password": PW}).encode()
    expect(srv.request("POST", "/api/v1/users", body=body, headers=JSON), 201)
    t = expect(srv.request("POST", "/api/v1/tokens", body=body, headers=JSON), 201).json()["token"]
    return {"Authorization": "Bearer " + t}


def mkdir(srv, auth, name, parent=None, shared=None, code=201):
    o = {"name": name}
    if parent is not None:
        o["parent"] = parent
    if shared is not None:
        o["shared"] = shared
    r = expect(srv.request("POST", "/api/v1/folders", body=json.dumps(o).encode(),
                           headers=dict(auth, **JSON)), code)
    return r.json() if code == 201 else r


def patch(srv, path, auth, obj, code=200):
    return expect(srv.request("PATCH", path, body=json.dumps(obj).encode(),
                              headers=dict(auth, **JSON)), code, what="PATCH %s %r" % (path, obj))


def put_in(srv, auth, folder, name, data, headers=None):
    h = dict(auth, **{"X-Partage-Folder": folder})
    h.update(headers or {})
    return srv.upload(name, data, h)


def zip_path(f):
    return "/folder/%s/%s.zip" % (f["id"], "x")


def unzip_t(data, tmp):
    p = os.path.join(tmp, "t.zip")
    with open(p, "wb") as fh:
        fh.write(data)
    r = subprocess.run(["unzip", "-t", p], capture_output=True, text=True)
    assert r.returncode == 0, "unzip -t: %s %s" % (r.stdout[-600:], r.stderr[-300:])
    return r.stdout


def test_folder_crud_and_visibility(srv):
    auth, other = login(srv), login(srv)
    top = mkdir(srv, auth, "Top")
    assert top["parent"] is None and top["shared"] is False and top["url"].endswith("/folder/" + top["id"])
    sub = mkdir(srv, auth, "Sub", parent=top["id"])
    assert sub["parent"] == top["id"]
    lst = expect(srv.get("/api/v1/folders", auth), 200).json()["folders"]
    assert {f["id"] for f in lst} == {top["id"], sub["id"]}
    lst = expect(srv.get("/api/v1/folders?parent=" + top["id"], auth), 200).json()["folders"]
    assert [f["id"] for f in lst] == [sub["id"]]
    # private: nobody else sees it, not even that it exists
    for who in ({}, other):
        expect(srv.get("/api/v1/folders/" + top["id"], who), 404)
        expect(srv.get(zip_path(top), who), 404)
        expect(srv.get("/folder/" + top["id"], dict(who, Accept="text/html")), 404)
    patch(srv, "/api/v1/folders/" + sub["id"], other, {"name": "x"}, 404)
    # shared: the folder and what is inside it, read-only for others
    patch(srv, "/api/v1/folders/" + top["id"], auth, {"shared": True})
    expect(srv.get("/api/v1/folders/" + top["id"]), 200)
    expect(srv.get("/api/v1/folders/" + sub["id"]), 200)
    patch(srv, "/api/v1/folders/" + sub["id"], other, {"name": "x"}, 403)
    expect(srv.request("DELETE", "/api/v1/folders/" + sub["id"], headers=other), 403)
    # rename, move, cycles
    j = patch(srv, "/api/v1/folders/" + sub["id"], auth, {"name": "Renamed/../evil"}).json()
    assert "/" not in j["name"] and j["name"], j
    patch(srv, "/api/v1/folders/" + top["id"], auth, {"parent": sub["id"]}, 409)
    patch(srv, "/api/v1/folders/" + top["id"], auth, {"parent": top["id"]}, 409)
    patch(srv, "/api/v1/folders/" + sub["id"], auth, {"parent": None})
    assert expect(srv.get("/api/v1/folders/" + sub["id"], auth), 200).json()["parent"] is None
    theirs = mkdir(srv, other, "Theirs")
    patch(srv, "/api/v1/folders/" + sub["id"], auth, {"parent": theirs["id"]}, 404)
    mkdir(srv, auth, "orphan", parent=theirs["id"], code=404)
    # bad requests
    for bad in (b"{}", b'{"name": ""}', b'{"name": 5}', b"[1]", b"not json",
                b'{"name": "a", "parent": 7}', b'{"name": "a", "shared": "yes"}'):
        expect(srv.request("POST", "/api/v1/folders", body=bad, headers=dict(auth, **JSON)), 400, what=bad)
    patch(srv, "/api/v1/folders/" + sub["id"], auth, {}, 400)
    expect(srv.request("POST", "/api/v1/folders", body=b'{"name": "a"}', headers=JSON), 401)
    expect(srv.get("/api/v1/folders"), 401)
    expect(srv.get("/api/v1/folders/AAAAAAAAAAAA", auth), 404)


def test_move_upload_into_and_delete(srv):
    auth, other = login(srv), login(srv)
    f = mkdir(srv, auth, "Inbox")
    g = mkdir(srv, auth, "Inner", parent=f["id"])
    a = srv.upload("a.txt", b"a\n", auth)
    assert a["folder"] is None
    j = patch(srv, "/api/v1/files/" + a["id"], auth, {"folder": f["id"]}).json()
    assert j["folder"] == f["id"] and expect(srv.file_obj(a["id"]), 200).json()["folder"] == f["id"]
    patch(srv, "/api/v1/files/" + a["id"], other, {"folder": f["id"]}, 403)
    theirs = mkdir(srv, other, "Theirs")
    patch(srv, "/api/v1/files/" + a["id"], auth, {"folder": theirs["id"]}, 404)
    patch(srv, "/api/v1/files/" + a["id"], auth, {"folder": 3}, 400)
    # uploads straight into a folder: PUT header, multipart ?folder=, tus metadata
    b = put_in(srv, auth, g["id"], "b.txt", b"b\n")
    assert b["folder"] == g["id"], b
    from harness import multipart
    body, ct = multipart([("file", "c.txt", b"c\n", None)])
    r = expect(srv.request("POST", "/api/v1/files?folder=" + g["id"], body=body,
                           headers=dict(auth, **{"Content-Type": ct, "Accept": "application/json"})), 201)
    c = r.json()["files"][0]
    assert c["folder"] == g["id"]
    import base64
    meta = "filename %s,folder %s" % (base64.b64encode(b"d.txt").decode(),
                                      base64.b64encode(g["id"].encode()).decode())
    r = expect(srv.request("POST", "/api/v1/uploads", body=b"d\n", headers=dict(auth, **{
        "Tus-Resumable": "1.0.0", "Upload-Length": "2", "Upload-Metadata": meta,
        "Content-Type": "application/offset+octet-stream"})), 201)
    d_id = r.header("X-Partage-Id") or r.header("Location").rsplit("/", 1)[-1]
    names = {x["name"]: x for x in expect(srv.get("/api/v1/folders/" + g["id"], auth), 200).json()["files"]}
    assert set(names) == {"b.txt", "c.txt", "d.txt"}, (names, d_id)
    # refused: anonymous, someone else's folder, not an id
    expect(srv.put("x.txt", b"x", {"X-Partage-Folder": g["id"]}), 401)
    expect(srv.put("x.txt", b"x", dict(other, **{"X-Partage-Folder": g["id"]})), 404)
    expect(srv.put("x.txt", b"x", dict(auth, **{"X-Partage-Folder": "../etc"})), 404)
    # delete: not empty → 409; recursive takes the folders and files below
    expect(srv.request("DELETE", "/api/v1/folders/" + f["id"], headers=auth), 409)
    empty = mkdir(srv, auth, "Empty")
    expect(srv.request("DELETE", "/api/v1/folders/" + empty["id"], headers=auth), 204)
    expect(srv.get("/api/v1/folders/" + empty["id"], auth), 404)
    expect(srv.request("DELETE", "/api/v1/folders/" + f["id"] + "?recursive=1", headers=auth), 204)
    for fid in (f["id"], g["id"]):
        expect(srv.get("/api/v1/folders/" + fid, auth), 404)
    for x in (a, b, c):
        expect(srv.file_obj(x["id"]), 410)
    kept = srv.upload("kept.txt", b"k\n", auth)
    expect(srv.file_obj(kept["id"]), 200)


def build_tree(srv, auth):
    top = mkdir(srv, auth, "Photos 2026", shared=True)
    day = mkdir(srv, auth, "jour 1 \u00e9t\u00e9", parent=top["id"])
    files = {
        "Photos 2026/readme.txt": b"hello\n",
        "Photos 2026/empty.bin": b"",
        "Photos 2026/jour 1 \u00e9t\u00e9/r\u00e9sum\u00e9 \u65e5\u672c.bin": rand_bytes(3 << 20, seed=1),
        "Photos 2026/jour 1 \u00e9t\u00e9/a.txt": b"first a\n",
        "Photos 2026/jour 1 \u00e9t\u00e9/a (2).txt": b"second a\n",
    }
    put_in(srv, auth, top["id"], "readme.txt", files["Photos 2026/readme.txt"])
    put_in(srv, auth, top["id"], "empty.bin", b"")
    put_in(srv, auth, day["id"], "r\u00e9sum\u00e9 \u65e5\u672c.bin",
           files["Photos 2026/jour 1 \u00e9t\u00e9/r\u00e9sum\u00e9 \u65e5\u672c.bin"])
    # two files of one name: the second becomes "a (2).txt" in the zip
    put_in(srv, auth, day["id"], "a.txt", b"first a\n")
    time.sleep(0.01)
    put_in(srv, auth, day["id"], "a.txt", b"second a\n")
    # left out: a password, a download limit
    put_in(srv, auth, day["id"], "secret.txt", b"s", {"X-Partage-Password": "pw"})
    put_in(srv, auth, day["id"], "once.txt", b"o", {"Max-Downloads": "1"})
    return top, day, files


def check_zip(data, files):
    z = zipfile.ZipFile(io.BytesIO(data))
    assert z.testzip() is None
    got = {i.filename: z.read(i) for i in z.infolist() if not i.is_dir()}
    assert set(got) == set(files), sorted(got)
    a = [got["Photos 2026/jour 1 \u00e9t\u00e9/a.txt"], got["Photos 2026/jour 1 \u00e9t\u00e9/a (2).txt"]]
    assert sorted(a) == sorted([b"first a\n", b"second a\n"]), a
    for name, content in files.items():
        if not name.endswith(("/a.txt", "/a (2).txt")):  # which is which: by id
            assert got[name] == content, name
    dirs = {i.filename for i in z.infolist() if i.is_dir()}
    assert dirs == {"Photos 2026/", "Photos 2026/jour 1 \u00e9t\u00e9/"}, dirs
    assert all(i.compress_type == zipfile.ZIP_STORED for i in z.infolist())


def test_zip_valid_resumable(srv, tmp):
    auth = login(srv)
    top, day, files = build_tree(srv, auth)
    info = expect(srv.get("/api/v1/folders/" + top["id"]), 200).json()
    assert info["zip"]["files"] == 5 and info["zip"]["left_out"] == 2, info["zip"]
    r = expect(srv.get(zip_path(top)), 200)
    assert r.header("Content-Type") == "application/zip"
    assert int(r.header("Content-Length")) == len(r.body) == info["zip"]["size"]
    assert "Photos%202026.zip" in r.header("Content-Disposition") or "Photos 2026.zip" in r.header("Content-Disposition")
    etag = r.header("ETag")
    assert etag and not etag.startswith("W/"), etag
    check_zip(r.body, files)
    out = unzip_t(r.body, tmp)
    assert "No errors detected" in out, out
    whole = r.body
    # curl (Accept */*) on the folder URL gets the same zip; HEAD agrees
    r2 = expect(srv.get("/folder/" + top["id"]), 200)
    assert r2.body == whole and r2.header("ETag") == etag
    h = expect(srv.head(zip_path(top)), 200)
    assert h.header("ETag") == etag and int(h.header("Content-Length")) == len(whole)
    # every slice is the same bytes: ranges across headers, data, central directory
    n = len(whole)
    for a, b in ((0, 0), (0, 99), (1000, 2_000_000), (n - 200, n - 1), (30, n - 1)):
        r = expect(srv.get(zip_path(top), {"Range": "bytes=%d-%d" % (a, b), "If-Range": etag}), 206)
        assert r.body == whole[a:b + 1], (a, b)
        assert r.header("Content-Range") == "bytes %d-%d/%d" % (a, b, n)
    expect(srv.get(zip_path(top), {"Range": "bytes=%d-" % n}), 416)
    expect(srv.get(zip_path(top), {"If-None-Match": etag}), 304)
    # curl -C - resumes a cut download into the identical file
    part = os.path.join(tmp, "part.zip")
    with open(part, "wb") as fh:
        fh.write(whole[:1234567])
    subprocess.run(["curl", "-sS", "-f", "-C", "-", "-o", part, srv.url + zip_path(top)], check=True)
    with open(part, "rb") as fh:
        assert fh.read() == whole
    # aria2c over 4 connections
    subprocess.run(["aria2c", "-q", "-x4", "-s4", "-k1M", "--min-split-size=1M", "-d", tmp, "-o", "ar.zip",
                    srv.url + zip_path(top)], check=True, timeout=60)
    with open(os.path.join(tmp, "ar.zip"), "rb") as fh:
        assert sha256(fh.read()) == sha256(whole)
    # the folder changes: the ETag changes, If-Range gets the whole new zip
    put_in(srv, auth, day["id"], "late.txt", b"late\n")
    r = expect(srv.get(zip_path(top), {"Range": "bytes=100-", "If-Range": etag}), 200)
    assert r.header("ETag") != etag and len(r.body) > len(whole)
    unzip_t(r.body, tmp)
    # a subfolder zips on its own
    r = expect(srv.get(zip_path(day)), 200)
    names = zipfile.ZipFile(io.BytesIO(r.body)).namelist()
    assert names[0] == "jour 1 \u00e9t\u00e9/" and "jour 1 \u00e9t\u00e9/late.txt" in names, names


def db_exec(srv, sql):
    if harness.PG_DSN:
        harness._psql("SET search_path TO %s; %s" % (harness.pg_schema(srv.data), sql))
        return
    import sqlite3
    con = sqlite3.connect(srv.path("partage.db"), timeout=10)
    try:
        con.execute(sql)
        con.commit()
    finally:
        con.close()


def test_zip_crc_unknown_is_computed(srv, tmp):
    # blobs stored before zips existed have no CRC-32: the first zip reads
    # them once, and the archive is still right
    auth = login(srv)
    f = mkdir(srv, auth, "Old files")
    data = rand_bytes(700_000, seed=7)
    o = put_in(srv, auth, f["id"], "old.bin", data)
    db_exec(srv, "UPDATE blobs SET crc32 = -1 WHERE sha256 = '%s'" % o["sha256"])
    r = expect(srv.get(zip_path(f), auth), 200)
    unzip_t(r.body, tmp)
    assert zipfile.ZipFile(io.BytesIO(r.body)).read("Old files/old.bin") == data
    assert expect(srv.get(zip_path(f), auth), 200).body == r.body


def test_zip_counts_each_file_once(srv, tmp):
    auth = login(srv)
    f = mkdir(srv, auth, "Counted", shared=True)
    a = put_in(srv, auth, f["id"], "a.bin", rand_bytes(2 << 20, seed=3))
    b = put_in(srv, auth, f["id"], "b.bin", rand_bytes(2 << 20, seed=4))
    whole = expect(srv.get(zip_path(f)), 200).body
    n = len(whole)
    # two halves, two connections: every byte once → one download each
    expect(srv.get(zip_path(f), {"Range": "bytes=0-%d" % (n // 2)}), 206)
    expect(srv.get(zip_path(f), {"Range": "bytes=%d-" % (n // 2 + 1)}), 206)
    for x in (a, b):
        r = wait_downloads(srv, x["id"], 1, 10)
        assert r and r.json()["downloads"] == 1, (x["name"], r)
    # the same client again the same day: still one
    expect(srv.get(zip_path(f)), 200)
    time.sleep(1.5)
    for x in (a, b):
        assert expect(srv.file_obj(x["id"]), 200).json()["downloads"] == 1


TIERS = """
[tier.anonymous]
wait_seconds = 2
speed_bytes_per_second = 0
parallel_downloads = 0
max_download_bytes = 10M
""" + FREE


def test_zip_tier_rules(tmp):
    with Server(TIERS) as s:
        auth = login(s)
        f = mkdir(s, auth, "Rules", shared=True)
        put_in(s, auth, f["id"], "x.bin", rand_bytes(1 << 20, seed=5))
        # the owner (free tier, no wait) downloads at once
        expect(s.get(zip_path(f), auth), 200)
        # anonymous: a ticket for the folder, then the wait
        r = expect(s.get(zip_path(f), {"Accept": "application/json"}), 429)
        assert r.header("Retry-After") == "2", r
        assert "/api/v1/folders/%s/ticket" % f["id"] in r.text, r.text
        t = expect(s.request("POST", "/api/v1/folders/%s/ticket" % f["id"],
                             headers={"Accept": "application/json"}), 200).json()
        assert t["wait"] == 2 and "/folder/%s/" % f["id"] in t["url"], t
        path = t["url"][len(s.url):]
        r = expect(s.get(path, {"Accept": "application/json"}), 429)
        assert int(r.header("Retry-After")) in (1, 2)
        time.sleep(2.2)
        r = expect(s.get(path), 200)
        zipfile.ZipFile(io.BytesIO(r.body)).testzip()
        # a file's ticket is not a folder's
        fid = expect(s.get("/api/v1/folders/" + f["id"]), 200).json()["files"][0]["id"]
        ft = expect(s.request("POST", "/api/v1/files/%s/ticket" % fid,
                              headers={"Accept": "application/json"}), 200).json()["ticket"]
        time.sleep(2.1)
        r = expect(s.get(zip_path(f) + "?ticket=" + ft), 429)
        assert "invalid or expired" in r.text, r.text
        # the size limit is the zip's
        put_in(s, auth, f["id"], "big.bin", rand_bytes(10 << 20, seed=6))
        t = expect(s.request("POST", "/api/v1/folders/%s/ticket" % f["id"],
                             headers={"Accept": "application/json"}), 200).json()
        time.sleep(2.1)
        r = expect(s.get(t["url"][len(s.url):]), 403)
        assert "premium" in r.text


SLOT = """
[tier.anonymous]
wait_seconds = 0
speed_bytes_per_second = 256K
parallel_downloads = 1
""" + FREE


def test_zip_parallel_slot(tmp):
    # a zip download holds the address's one slot while it runs; answers
    # without the bytes (304, 416) hold none, not even until MHD reports
    # them complete
    with Server(SLOT) as s:
        auth = login(s)
        f = mkdir(s, auth, "Slot", shared=True)
        put_in(s, auth, f["id"], "x.bin", rand_bytes(1 << 20, seed=9))
        small = s.upload("small.txt", b"small\n")
        r = expect(s.get(zip_path(f), auth), 200)
        etag, total = r.header("ETag"), len(r.body)
        for _ in range(25):
            for h, code in (({"If-None-Match": etag}, 304),
                            ({"Range": "bytes=%d-" % (total + 10)}, 416)):
                expect(s.get(zip_path(f), h), code)
                expect(s.get(s.dl_path(small)), 200, what="a download after a zip's %d" % code)
        sock = socket.create_connection(("127.0.0.1", s.port), timeout=20)
        try:
            sock.sendall(("GET %s HTTP/1.1\r\nHost: x\r\n\r\n" % zip_path(f)).encode())
            head = b""
            while b"\r\n\r\n" not in head:
                c = sock.recv(65536)
                assert c, head
                head += c
            assert head.split()[1] == b"200", head
            expect(s.get(s.dl_path(small)), 429, what="a download while the zip runs")
        finally:
            sock.close()
        assert wait_until(lambda: s.get(s.dl_path(small)).status == 200, 5, 0.1), \
            "the zip's slot was not released within 5 s of a disconnect"


def test_folder_page(srv):
    auth = login(srv)
    top, day, files = build_tree(srv, auth)
    r = expect(srv.get("/folder/" + top["id"], {"Accept": "text/html"}), 200)
    page = r.text
    assert "<h1 id=\"name\">Photos 2026</h1>" in page
    assert "/folder/%s" % day["id"] in page and "readme.txt" in page
    assert "5 files" in page and "not in the zip" in page
    assert top["zip_url"].replace("&", "&amp;") in page
    assert "/api/v1/folders/%s/ticket" % top["id"] in page
    # names are escaped
    evil = mkdir(srv, auth, "<img src=x onerror=alert(1)>", parent=top["id"])
    page = expect(srv.get("/folder/" + top["id"], {"Accept": "text/html"}), 200).text
    assert "<img src=x" not in page and "&lt;img src=x" in page, evil


def test_cli_downloads_a_folder(tmp):
    # `partage download FOLDER_URL`: the ticket wait, then the zip; a cut
    # download resumes into the same bytes
    with Server(TIERS) as s:
        auth = login(s)
        f = mkdir(s, auth, "For the CLI", shared=True)
        put_in(s, auth, f["id"], "one.bin", rand_bytes(1 << 20, seed=8))
        put_in(s, auth, f["id"], "two.txt", b"two\n")
        whole = expect(s.get(zip_path(f), auth), 200).body
        env = {k: v for k, v in os.environ.items() if not k.startswith("PARTAGE_")}
        env["HOME"] = tmp
        env["XDG_CONFIG_HOME"] = tmp
        cli = harness.bin_path("partage")
        r = subprocess.run([cli, "download", s.url + "/folder/" + f["id"], "--output-dir", tmp],
                           capture_output=True, text=True, env=env, timeout=60)
        assert r.returncode == 0, r.stderr
        out = os.path.join(tmp, "For the CLI.zip")
        assert r.stdout.strip() == out, r.stdout
        with open(out, "rb") as fh:
            assert fh.read() == whole
        assert "free download starts" in r.stderr or "wait" in r.stderr.lower(), r.stderr
        # the zip link itself, resumed from a part an earlier run left
        os.unlink(out)
        with open(out + ".part", "wb") as fh:
            fh.write(whole[:300000])
        etag = expect(s.head(zip_path(f)), 200).header("ETag")
        with open(out + ".part.etag", "w") as fh:
            fh.write(etag + "\n")
        r = subprocess.run([cli, "download", f["zip_url"], "--output-dir", tmp],
                           capture_output=True, text=True, env=env, timeout=60)
        assert r.returncode == 0, r.stderr
        with open(out, "rb") as fh:
            assert fh.read() == whole


def test_cli_makes_folders_and_uploads_into_them(srv, tmp):
    auth = login(srv)
    env = {k: v for k, v in os.environ.items() if not k.startswith("PARTAGE_")}
    env.update(HOME=tmp, XDG_CONFIG_HOME=tmp, PARTAGE_API_TOKEN=auth["Authorization"].split()[1])
    cli = harness.bin_path("partage")

    def run(*args):
        return subprocess.run([cli, "--server", srv.url] + list(args), capture_output=True,
                              text=True, env=env, timeout=60)
    r = run("mkdir", "Made by the CLI", "--shared", "--json")
    assert r.returncode == 0, r.stderr
    top = json.loads(r.stdout)
    assert top["name"] == "Made by the CLI" and top["shared"] is True, top
    r = run("mkdir", "inner", "--parent", top["id"])
    assert r.returncode == 0 and r.stdout.strip().endswith("/folder/" + r.stderr.split()[-1]), (r.stdout, r.stderr)
    inner = r.stderr.split()[-1]
    p = os.path.join(tmp, "x.txt")
    with open(p, "wb") as fh:
        fh.write(b"from the cli\n")
    r = run("upload", p, "--folder", inner, "--json")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["folder"] == inner
    z = zipfile.ZipFile(io.BytesIO(expect(srv.get(zip_path(top)), 200).body))
    assert z.read("Made by the CLI/inner/x.txt") == b"from the cli\n"
    # refused: not an id, someone else's folder, anonymous
    r = run("upload", p, "--folder", "../../x")
    assert r.returncode == 2 and "folder id" in r.stderr, r.stderr
    other = login(srv)
    theirs = mkdir(srv, other, "theirs")
    r = run("upload", p, "--folder", theirs["id"])
    assert r.returncode == 1 and "no folder" in r.stderr, r.stderr
    del env["PARTAGE_API_TOKEN"]
    r = run("mkdir", "anon")
    assert r.returncode == 1 and "authentication required" in r.stderr, r.stderr
