"""File requests and the reach of blocklist imports (issue 18): an import
takes down the copies already stored, like a content takedown; file-request
links let anyone upload into an owner's folder (curl PUT, multipart, tus,
`partage`) within their limits, without seeing what is there."""

import base64
import json
import os
import subprocess
import time

from harness import Skip, bin_path, expect, multipart, rand_bytes, sha256, Server

PW = "requests password 1"
CONFIG = """\
[abuse]
quarantine_days = 14
[tier.free]
wait_seconds = 0
speed_bytes_per_second = 0
parallel_downloads = 0
connections_per_download = 0
storage_quota_bytes = 200K
"""


def audit(srv):
    a = srv.admin("audit")
    assert a.returncode == 0, a.stderr
    return [line.split("\t") for line in a.stdout.splitlines()]


def import_list(srv, name, lines, *args):
    path = os.path.join(srv.work, name)
    with open(path, "w") as f:
        f.write("".join(l + "\n" for l in lines))
    return srv.admin("blocklist", "import", path, *args)


def test_blocklist_import_takes_down_stored_copies(srv):
    data, other = rand_bytes(3000), rand_bytes(3000)
    a = srv.upload("a.bin", data)
    b = srv.upload("b.iso", data)
    keep = srv.upload("keep.bin", other)
    for o in (a, b):
        expect(srv.get(srv.dl_path(o)), 200, what="before the import")
    im = import_list(srv, "one.txt", ["# from another instance",
                                      sha256(data).upper() + "  # a list",
                                      "ab" * 32])
    assert im.returncode == 0, im.stderr
    for o in (a, b):
        g = srv.get(srv.dl_path(o))
        assert g.status == 451, "a stored copy is still served after the import: %r" % g
        f = expect(srv.file_obj(o["id"]), 410, what="API after the import").json()
        assert "imported blocklist" in f.get("reason", ""), f
    assert "2 hashes imported, 2 links taken down" in im.stdout, im.stdout
    assert expect(srv.get(srv.dl_path(keep)), 200).body == other
    expect(srv.put("again.bin", data), 451, what="a new upload of an imported hash")
    rows = [r for r in audit(srv) if r[2] == "takedown_content" and r[3] == sha256(data)]
    assert len(rows) == 1, rows
    assert rows[0][4] == "imported blocklist", rows[0]
    assert a["id"] in rows[0][5] and b["id"] in rows[0][5], rows[0]
    # a second import of the same list finds nothing live and says so
    im = import_list(srv, "one.txt", [sha256(data)])
    assert im.returncode == 0 and "1 hashes imported, 0 links taken down" in im.stdout, im.stdout
    # restore undoes the import's takedown like any content takedown
    rs = srv.admin("restore", a["id"])
    assert rs.returncode == 0 and "2 links restored" in rs.stdout, (rs.stdout, rs.stderr)
    assert expect(srv.get(srv.dl_path(b)), 200).body == data
    # the import's own reason, on the links and in the audit entry
    data2 = rand_bytes(2000)
    c = srv.upload("c.bin", data2)
    im = import_list(srv, "two.txt", [sha256(data2)], "--reason", "hash list H-9")
    assert im.returncode == 0 and "1 links taken down" in im.stdout, (im.stdout, im.stderr)
    f = expect(srv.file_obj(c["id"]), 410).json()
    assert "hash list H-9" in f.get("reason", ""), f
    rows = [r for r in audit(srv) if r[2] == "takedown_content" and r[3] == sha256(data2)]
    assert len(rows) == 1 and rows[0][4] == "hash list H-9" and c["id"] in rows[0][5], rows


# ---- file requests ----

_seq = [0]


def user(srv, quota=None):
    _seq[0] += 1
    name = "rq%d_%s" % (_seq[0], os.urandom(3).hex())
    body = json.dumps({"name": name, "password": PW}).encode()
    expect(srv.request("POST", "/api/v1/users", body=body,
                       headers={"Content-Type": "application/json"}), 201)
    r = expect(srv.request("POST", "/api/v1/tokens", body=body,
                           headers={"Content-Type": "application/json"}), 201)
    return name, {"Authorization": "Bearer " + r.json()["token"]}


def jpost(srv, path, obj, auth):
    return srv.request("POST", path, body=json.dumps(obj).encode(),
                       headers=dict(auth, **{"Content-Type": "application/json",
                                             "Accept": "application/json"}))


def folder(srv, auth, name="inbox"):
    return expect(jpost(srv, "/api/v1/folders", {"name": name}, auth), 201).json()["id"]


def new_request(srv, auth, **kw):
    fid = kw.pop("folder", None) or folder(srv, auth)
    kw["folder"] = fid
    r = expect(jpost(srv, "/api/v1/requests", kw, auth), 201, what="create a file request")
    return r.json()


def my_files(srv, auth, fid):
    r = expect(srv.get("/api/v1/me/files?folder=" + fid, dict(auth, Accept="application/json")), 200)
    return r.json()["files"]


def rput(srv, rq, name, data, headers=None):
    h = {"Accept": "application/json"}
    h.update(headers or {})
    return srv.request("PUT", "/r/%s/%s" % (rq["id"], name), body=data, headers=h)


def test_request_put_and_multipart_land_in_the_owners_folder(srv):
    _, auth = user(srv)
    rq = new_request(srv, auth)
    assert rq["url"].endswith("/r/" + rq["id"]) and rq["state"] == "open", rq
    a, b, c = rand_bytes(1000), rand_bytes(2000), rand_bytes(3000)
    r = expect(rput(srv, rq, "a.bin", a), 201, what="PUT into a request")
    got = r.json()
    assert got["request"] == rq["id"] and got["files"][0]["name"] == "a.bin", got
    assert got["files"][0]["sha256"] == sha256(a), got
    # the uploader is not told the link: no id, URL or delete token
    for h in ("Location", "X-Partage-Id", "X-Delete-Token"):
        assert r.header(h) is None, (h, r.header(h))
    assert "download_url" not in r.text and "delete_token" not in r.text, r.text
    body, ctype = multipart([("file", "b.bin", b, None), ("file", "c.txt", c, None)])
    r = expect(srv.request("POST", "/api/v1/requests/%s/files" % rq["id"], body=body,
                           headers={"Content-Type": ctype, "Accept": "application/json"}),
               201, what="multipart into a request")
    assert [f["name"] for f in r.json()["files"]] == ["b.bin", "c.txt"], r.json()
    # curl -T FILE URL/ (text answer)
    r = expect(srv.request("PUT", "/r/%s/d.bin" % rq["id"], body=b"dd"), 201)
    assert "received 'd.bin'" in r.text and rq["id"] not in r.text.replace("/r/", ""), r.text
    # the owner sees them in their folder, and can download them
    files = my_files(srv, auth, rq["folder"]["id"])
    assert sorted(f["name"] for f in files) == ["a.bin", "b.bin", "c.txt", "d.bin"], files
    assert all(f["folder"] == rq["folder"]["id"] for f in files), files
    fa = [f for f in files if f["name"] == "a.bin"][0]
    assert expect(srv.get(srv.dl_path(fa), auth), 200).body == a
    # the request counts what came in
    info = expect(srv.get("/api/v1/requests/" + rq["id"], {"Accept": "application/json"}), 200).json()
    assert info["files"] == 4 and info["bytes"] == 1000 + 2000 + 3000 + 2, info
    lst = expect(srv.get("/api/v1/requests", dict(auth, Accept="application/json")), 200).json()
    assert [x["id"] for x in lst["requests"]] == [rq["id"]], lst


def tus_create(srv, rq_id, data, headers=None, meta_request=False):
    meta = "filename " + base64.b64encode(b"t.bin").decode()
    h = {"Tus-Resumable": "1.0.0", "Upload-Length": str(len(data))}
    if meta_request:
        meta += ",request " + base64.b64encode(rq_id.encode()).decode()
    else:
        h["X-Partage-Request"] = rq_id
    h["Upload-Metadata"] = meta
    h.update(headers or {})
    return srv.request("POST", "/api/v1/uploads", headers=h)


def tus_send(srv, loc, data):
    path = loc[loc.index("/api/"):]
    return srv.request("PATCH", path, body=data, headers={
        "Tus-Resumable": "1.0.0", "Upload-Offset": "0",
        "Content-Type": "application/offset+octet-stream"}), path


def test_request_tus_hides_the_link(srv):
    _, auth = user(srv)
    rq = new_request(srv, auth, max_files=3)
    for by_meta in (False, True):
        data = rand_bytes(1500)
        c = expect(tus_create(srv, rq["id"], data, meta_request=by_meta), 201, what="tus creation")
        p, path = tus_send(srv, c.header("Location"), data)
        expect(p, 204, what="tus PATCH")
        assert p.header("X-Partage-Id") is None and p.header("X-Partage-Url") is None, p
        g = expect(srv.get(path, {"Accept": "application/json"}), 200).json()
        assert g == {"request": rq["id"], "name": "t.bin", "size": 1500,
                     "sha256": sha256(data)}, g
        h = srv.request("HEAD", path, headers={"Tus-Resumable": "1.0.0"})
        assert h.header("X-Partage-Id") is None, h
    files = my_files(srv, auth, rq["folder"]["id"])
    assert len(files) == 2 and all(f["size"] == 1500 for f in files), files
    # the third place is taken by a creation, the fourth is refused at once
    data = rand_bytes(10)
    expect(tus_create(srv, rq["id"], data), 201)
    expect(rput(srv, rq, "x.bin", b"x"), 201)
    expect(tus_create(srv, rq["id"], data), 403, what="tus creation into a full request")
    # two creations pass the gate of a request with one place left: the
    # second is refused when it completes, and its file goes nowhere
    rq = new_request(srv, auth, max_files=1)
    data = rand_bytes(500)
    c1 = expect(tus_create(srv, rq["id"], data), 201)
    c2 = expect(tus_create(srv, rq["id"], data), 201)
    expect(tus_send(srv, c1.header("Location"), data)[0], 204)
    r, _ = tus_send(srv, c2.header("Location"), data)
    expect(r, 403, what="the completion past max_files")
    assert len(my_files(srv, auth, rq["folder"]["id"])) == 1


def test_request_limits(srv):
    _, auth = user(srv)
    # files: 403 once full
    rq = new_request(srv, auth, max_files=2)
    expect(rput(srv, rq, "1.bin", b"1"), 201)
    body, ctype = multipart([("file", "2.bin", b"2", None), ("file", "3.bin", b"3", None)])
    r = srv.request("POST", "/api/v1/requests/%s/files" % rq["id"], body=body,
                    headers={"Content-Type": ctype, "Accept": "application/json"})
    expect(r, 403, what="two files into a request with one place left")
    assert "no more files" in r.json()["error"], r.json()
    # refused whole: the place the first of the two took is given back
    expect(rput(srv, rq, "2.bin", b"2"), 201, what="the last place")
    r = expect(rput(srv, rq, "3.bin", b"3"), 403, what="a full request")
    assert "takes at most 2 files" in r.json()["error"], r.json()
    assert len(my_files(srv, auth, rq["folder"]["id"])) == 2
    # bytes: 413, before the body when the length is known, and at the end
    rq = new_request(srv, auth, max_bytes=3000)
    expect(rput(srv, rq, "a.bin", rand_bytes(2000)), 201)
    r = expect(rput(srv, rq, "b.bin", rand_bytes(1001)), 413, what="over the request's bytes")
    assert "1000 more bytes" in r.json()["error"], r.json()
    r = srv.request("PUT", "/r/%s/c.bin" % rq["id"], body=iter([rand_bytes(700), rand_bytes(700)]),
                    headers={"Accept": "application/json", "Transfer-Encoding": "chunked"})
    expect(r, 413, what="a chunked upload over the request's bytes")
    expect(rput(srv, rq, "d.bin", rand_bytes(1000)), 201, what="exactly what is left")
    expect(tus_create(srv, rq["id"], b"x"), 413, what="tus creation past the bytes")
    # the owner's quota (200K): 507 whatever the request allows
    rq = new_request(srv, auth)
    expect(rput(srv, rq, "big1.bin", rand_bytes(150 * 1024)), 201)
    expect(rput(srv, rq, "big2.bin", rand_bytes(60 * 1024)), 507, what="over the owner's quota")
    # expired: 410
    rq = new_request(srv, auth, max_days=1)
    expect(rput(srv, rq, "e.bin", b"e"), 201)
    # closed: 410 (and not the owner's to close: 404)
    _, other = user(srv)
    expect(srv.request("DELETE", "/api/v1/requests/" + rq["id"], headers=other), 404)
    expect(srv.request("DELETE", "/api/v1/requests/" + rq["id"], headers=auth), 204)
    r = expect(rput(srv, rq, "f.bin", b"f"), 410, what="PUT into a closed request")
    assert "closed" in r.json()["error"], r.json()
    expect(tus_create(srv, rq["id"], b"x"), 410, what="tus into a closed request")
    page = srv.get("/r/" + rq["id"], {"Accept": "text/html"})
    assert page.status == 410 and b"closed" in page.body, page
    # unknown: 404
    expect(srv.request("PUT", "/r/AAAAAAAAAAAA/x.bin", body=b"x"), 404)
    # bad creations: 400, 404, 401
    expect(jpost(srv, "/api/v1/requests", {"folder": rq["folder"]["id"], "max_files": -1}, auth), 400)
    expect(jpost(srv, "/api/v1/requests", {"folder": "AAAAAAAAAAAA"}, auth), 404)
    expect(jpost(srv, "/api/v1/requests", {"folder": rq["folder"]["id"]}, {}), 401)
    fid_other = folder(srv, other)
    expect(jpost(srv, "/api/v1/requests", {"folder": fid_other}, auth), 404,
           what="a request into someone else's folder")


def test_request_expiry():
    with Server(CONFIG, name="rq-expiry") as s:
        _, auth = user(s)
        rq = new_request(s, auth, max_days=1)
        assert rq["expires"] > time.time() + 86000, rq
        expect(rput(s, rq, "e.bin", b"e"), 201)
        s.restart(env={"PARTAGE_TIME_OFFSET": str(2 * 86400)})
        r = expect(rput(s, rq, "f.bin", b"f"), 410, what="PUT into an expired request")
        assert "expired" in r.json()["error"], r.json()
        expect(tus_create(s, rq["id"], b"x"), 410, what="tus into an expired request")
        page = s.get("/r/" + rq["id"], {"Accept": "text/html"})
        assert page.status == 410 and b"expired" in page.body, page
        info = expect(s.get("/api/v1/requests/" + rq["id"], {"Accept": "application/json"}), 200)
        assert info.json()["state"] == "expired", info.json()


def test_request_password(srv):
    _, auth = user(srv)
    rq = new_request(srv, auth, password="open sesame")
    assert rq["password"] is True, rq
    r = expect(rput(srv, rq, "a.bin", b"a"), 403, what="no password")
    assert "needs its password" in r.json()["error"], r.json()
    r = expect(rput(srv, rq, "a.bin", b"a", {"X-Partage-Request-Password": "wrong"}), 403,
               what="a wrong password")
    assert "wrong password" in r.json()["error"], r.json()
    expect(rput(srv, rq, "a.bin", b"a", {"X-Partage-Request-Password": "open sesame"}), 201)
    expect(tus_create(srv, rq["id"], b"x"), 403, what="tus without the password")
    expect(tus_create(srv, rq["id"], b"x", {"X-Partage-Request-Password": "open sesame"}), 201)


def test_uploaders_cannot_list_or_download(srv):
    _, auth = user(srv)
    fid = folder(srv, auth)
    rq = new_request(srv, auth, folder=fid)
    data = rand_bytes(800)
    r = expect(rput(srv, rq, "secret.bin", data), 201).json()
    # nothing an uploader can reach names the file's link
    info = srv.get("/api/v1/requests/" + rq["id"], {"Accept": "application/json"})
    page = srv.get("/r/" + rq["id"], {"Accept": "text/html"})
    expect(page, 200)
    assert b"secret.bin" not in info.body and b"secret.bin" not in page.body
    owner_files = my_files(srv, auth, fid)
    lid = owner_files[0]["id"]
    for resp in (info, page, srv.request("PUT", "/r/%s/x.bin" % rq["id"], body=b"x")):
        assert lid.encode() not in resp.body, resp
    assert "id" not in r["files"][0] and "url" not in r["files"][0], r
    # nor the folder's id (a shared folder's page would list it)
    assert "id" not in info.json()["folder"] and fid.encode() not in page.body, info.json()
    # the folder is not shared: its listing is the owner's
    expect(srv.get("/api/v1/folders/" + fid, {"Accept": "application/json"}), 404,
           what="the folder's listing for an uploader")
    expect(srv.get("/api/v1/requests", {"Accept": "application/json"}), 401)
    # the page is the upload page pointed at the request: folder name, limits
    assert b'data-request="%s"' % rq["id"].encode() in page.body, page.body[:400]
    assert b"inbox" in page.body and b"/static/upload.js" in page.body


def partage(srv, tmp, token, *args):
    exe = bin_path("partage")
    if not os.access(exe, os.X_OK):
        raise Skip("%s is not built" % exe)
    env = {k: v for k, v in os.environ.items() if not k.startswith("PARTAGE_")}
    env["XDG_CONFIG_HOME"] = env["XDG_STATE_HOME"] = tmp
    if token:
        env["PARTAGE_API_TOKEN"] = token
    return subprocess.run([exe, "--server", srv.url] + list(args), env=env,
                          capture_output=True, timeout=60)


def test_request_cli(srv, tmp):
    _, auth = user(srv)
    token = auth["Authorization"].split()[1]
    fid = folder(srv, auth, "from the cli")
    r = partage(srv, tmp, token, "request", "create", fid, "--password", "pw 1",
                "--expires", "3", "--max-files", "2", "--max-bytes", "5000")
    assert r.returncode == 0, r.stderr
    url = r.stdout.decode().strip()
    rid = url.rsplit("/", 1)[1]
    assert url == srv.url + "/r/" + rid, url
    info = expect(srv.get("/api/v1/requests/" + rid, {"Accept": "application/json"}), 200).json()
    assert (info["max_files"], info["max_bytes"], info["password"]) == (2, 5000, True), info
    assert info["folder"]["name"] == "from the cli", info
    # anyone sends a file with `partage upload --request URL` (no login)
    path = os.path.join(tmp, "photo.jpg")
    data = rand_bytes(1234)
    with open(path, "wb") as f:
        f.write(data)
    r = partage(srv, tmp, None, "upload", "--request", url, "--password", "pw 1", path)
    assert r.returncode == 0 and "received 'photo.jpg' (1234 bytes)" in r.stdout.decode(), r
    r = partage(srv, tmp, None, "upload", "--request", url, path)
    assert r.returncode == 1 and b"needs its password" in r.stderr, r
    files = my_files(srv, auth, fid)
    assert [(f["name"], f["size"]) for f in files] == [("photo.jpg", 1234)], files
    r = partage(srv, tmp, token, "request", "list")
    line = r.stdout.decode().strip()
    assert r.returncode == 0 and line == "%s open 1/2 1234/5000 from the cli %s" % (rid, url), line
    r = partage(srv, tmp, token, "request", "delete", rid)
    assert r.returncode == 0, r.stderr
    r = partage(srv, tmp, None, "upload", "--request", url, "--password", "pw 1", path)
    assert r.returncode == 1 and b"closed" in r.stderr, r
    r = partage(srv, tmp, token, "request", "list", "--json")
    assert json.loads(r.stdout)["requests"][0]["state"] == "closed", r.stdout
    r = partage(srv, tmp, token, "request", "create", srv.url + "/folder/" + fid, "--json")
    assert r.returncode == 0 and json.loads(r.stdout)["folder"]["id"] == fid, r
    r = partage(srv, tmp, token, "request", "create", "no such folder")
    assert r.returncode == 1 and b"not a folder id" in r.stderr, r
    r = partage(srv, tmp, token, "request", "frobnicate")
    assert r.returncode == 2, r
