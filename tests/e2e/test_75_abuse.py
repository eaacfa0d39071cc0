"""Abuse handling (issue 5): takedowns by link and by content, the hash
blocklist refusing re-uploads by PUT, multipart and tus (451, nothing
stored), quarantine and restore, roles, the append-only audit log,
blocklist exchange between instances, reports, the link checker,
transparency counts, repeat infringers and the unknown-id limit."""

import json
import os
import time

from harness import expect, multipart, rand_bytes, sha256, Server

PW = "abuse password 1"
CONFIG = """\
[abuse]
quarantine_days = 14
repeat_infringer_strikes = 2
unknown_ids_per_minute = 1000
"""
_seq = [0]


def user(srv, role=None):
    _seq[0] += 1
    name = "a%d_%s" % (_seq[0], os.urandom(3).hex())
    body = json.dumps({"name": name, "password": PW}).encode()
    expect(srv.request("POST", "/api/v1/users", body=body,
                       headers={"Content-Type": "application/json"}), 201)
    r = expect(srv.request("POST", "/api/v1/tokens", body=body,
                           headers={"Content-Type": "application/json"}), 201)
    if role:
        a = srv.admin("user", "set-role", name, role)
        assert a.returncode == 0, a.stderr
    return name, {"Authorization": "Bearer " + r.json()["token"]}


def takedown(srv, auth, ids, scope, reason="copyright notice", ref="N-1"):
    body = json.dumps({"ids": ids, "scope": scope, "reason": reason,
                       "reference": ref}).encode()
    return srv.request("POST", "/api/v1/takedowns", body=body,
                       headers=dict(auth, **{"Content-Type": "application/json"}))


def tus_upload(srv, data):
    """A whole tus upload; returns the final response."""
    h = {"Tus-Resumable": "1.0.0", "Upload-Length": str(len(data))}
    r = expect(srv.request("POST", "/api/v1/uploads", headers=h), 201, what="tus create")
    loc = r.header("Location")
    path = loc[loc.index("/api/"):]
    return srv.request("PATCH", path, body=data, headers={
        "Tus-Resumable": "1.0.0", "Upload-Offset": "0",
        "Content-Type": "application/offset+octet-stream"})


def audit(srv):
    a = srv.admin("audit")
    assert a.returncode == 0, a.stderr
    return [line.split("\t") for line in a.stdout.splitlines()]


def test_content_takedown_everywhere_and_restore(srv):
    data = rand_bytes(3000)
    _, uauth = user(srv)
    holder, hauth = user(srv, "rights_holder")
    a = srv.upload("one.bin", data)
    b = srv.upload("two.bin", data, uauth)
    c = srv.upload("three.iso", data)
    other = srv.upload("other.bin", rand_bytes(3000))
    blob = srv.blob_path(sha256(data))
    assert os.path.exists(blob)

    r = expect(takedown(srv, hauth, [a["url"]], "content", ref="DMCA-7"), 201, what="content takedown")
    assert sorted(r.json()["affected"]) == sorted([a["id"], b["id"], c["id"]]), r.json()
    for o in (a, b, c):
        g = srv.get(srv.dl_path(o))
        assert g.status == 451, "direct URL of %s after a content takedown: %r" % (o["id"], g)
        f = expect(srv.file_obj(o["id"]), 410, what="API after a takedown").json()
        assert "DMCA-7" in f.get("reason", ""), f
        p = srv.get("/" + o["id"], {"Accept": "text/html"})
        assert p.status == 410 and b"DMCA-7" in p.body, "page after a takedown: %r" % p
    expect(srv.get(srv.dl_path(other)), 200, what="unrelated file")

    # re-uploads are refused with 451 and leave nothing: no new link, no new file
    files_before = srv.blob_files()
    r = srv.put("again.bin", data)
    expect(r, 451, what="PUT of blocked content")
    body, ctype = multipart([("file", "again2.bin", data, None)])
    expect(srv.request("POST", "/api/v1/files", body=body,
                       headers={"Content-Type": ctype, "Accept": "application/json"}), 451,
           what="multipart of blocked content")
    expect(tus_upload(srv, data), 451, what="tus upload of blocked content")
    assert srv.blob_files() == files_before, "a refused upload stored something"

    # the bytes stay through the quarantine; restore brings every link back
    assert os.path.exists(blob), "content removed before its quarantine"
    g = srv.admin("gc")
    assert g.returncode == 0 and os.path.exists(blob), "gc removed quarantined content"
    rs = srv.admin("restore", b["id"])
    assert rs.returncode == 0 and "3 links restored" in rs.stdout, (rs.stdout, rs.stderr)
    for o in (a, b, c):
        assert expect(srv.get(srv.dl_path(o)), 200).body == data
    expect(srv.put("again3.bin", data), 201, what="upload after the block was lifted")

    acts = [row[2] for row in audit(srv)]
    for want in ("takedown_content", "refuse_upload", "restore"):
        assert want in acts, "no %s row in the audit log: %r" % (want, acts)
    assert acts.count("refuse_upload") >= 3


def test_quarantine_ends_and_bytes_go():
    with Server(CONFIG, name="quarantine") as s:
        data = rand_bytes(2000)
        o = s.upload("q.bin", data)
        t = s.admin("takedown", o["id"], "--content", "--reason", "court order")
        assert t.returncode == 0 and o["id"] in t.stdout, (t.stdout, t.stderr)
        blob = s.blob_path(sha256(data))
        g = s.admin("gc", "--now", str(int(time.time()) + 13 * 86400))
        assert g.returncode == 0 and os.path.exists(blob), "bytes gone inside the quarantine"
        g = s.admin("gc", "--now", str(int(time.time()) + 15 * 86400))
        assert g.returncode == 0, g.stderr
        assert not os.path.exists(blob), "bytes kept past the quarantine"
        # still refused, and a restore is now impossible
        expect(s.put("back.bin", data), 451)
        r = s.admin("restore", o["id"])
        assert r.returncode == 1 and len(r.stderr.strip().splitlines()) == 1, (r.stdout, r.stderr)


def test_link_takedown_leaves_other_links(srv):
    data = rand_bytes(2500)
    _, hauth = user(srv, "rights_holder")
    a = srv.upload("l1.bin", data)
    b = srv.upload("l2.bin", data)
    r = expect(takedown(srv, hauth, [a["id"]], "link"), 201)
    assert r.json()["affected"] == [a["id"]], r.json()
    expect(srv.get(srv.dl_path(a)), 451)
    assert expect(srv.get(srv.dl_path(b)), 200).body == data
    # a link takedown blocks nothing
    expect(srv.put("l3.bin", data), 201)


def test_roles(srv):
    o = srv.upload("r.bin", rand_bytes(500))
    _, uauth = user(srv)
    expect(takedown(srv, uauth, [o["id"]], "content"), 403, what="an ordinary user's takedown")
    expect(takedown(srv, {}, [o["id"]], "content"), 403, what="an anonymous takedown")
    _, admin = user(srv, "admin")
    expect(takedown(srv, admin, [o["id"]], "link"), 201, what="an admin's takedown")
    _, hauth = user(srv, "rights_holder")
    expect(takedown(srv, hauth, [], "link"), 400, what="no ids")
    expect(takedown(srv, hauth, [o["id"]], "everything"), 400, what="a bad scope")
    # there is no restore API: restoring is the admins' (CLI), not the
    # rights holders'
    r = srv.request("POST", "/api/v1/restores", body=b"{}", headers=hauth)
    assert r.status in (404, 405), r


def test_blocklist_exchange():
    data = rand_bytes(4000)
    with Server(CONFIG, name="bl-a") as s1, Server(CONFIG, name="bl-b") as s2:
        o = s1.upload("x.bin", data)
        expect(s1.request("GET", s1.dl_path(o)), 200)
        t = s1.admin("takedown", o["id"], "--content", "--reason", "csam hash list")
        assert t.returncode == 0, t.stderr
        ex = s1.admin("blocklist", "export")
        assert ex.returncode == 0 and sha256(data) in ex.stdout, ex.stdout
        path = os.path.join(s2.work, "list.txt")
        with open(path, "w") as f:
            f.write(ex.stdout)
        im = s2.admin("blocklist", "import", path)
        assert im.returncode == 0 and "1 hashes imported" in im.stdout, (im.stdout, im.stderr)
        expect(s2.put("x.bin", data), 451, what="import then upload on the second instance")
        assert s2.blob_files() == [], "the refused upload left a blob"
        with open(path, "w") as f:
            f.write("# comment\nnot-a-hash\n")
        bad = s2.admin("blocklist", "import", path)
        assert bad.returncode == 1 and "not a SHA-256" in bad.stderr, bad.stderr


def test_link_checker_1000(srv):
    alive = [srv.upload("c%d.bin" % i, rand_bytes(64 + i)) for i in range(20)]
    removed = [srv.upload("d%d.bin" % i, rand_bytes(32 + i)) for i in range(10)]
    for o in removed:
        expect(srv.delete("/" + o["id"], {"X-Delete-Token": o["delete_token"]}), 204)
    lines, want = [], []
    for i in range(1000):
        k = i % 3
        if k == 0:
            o = alive[i % len(alive)]
            lines.append(o["url"] if i % 2 else o["id"])
            want.append((o["id"], "alive", o["name"], o["size"]))
        elif k == 1:
            o = removed[i % len(removed)]
            lines.append(o["download_url"])
            want.append((o["id"], "removed", o["name"], o["size"]))
        else:
            fake = "Zz%010d" % i
            lines.append(fake)
            want.append((fake, "unknown", None, None))
    t0 = time.monotonic()
    r = expect(srv.request("POST", "/api/v1/check", body="\n".join(lines).encode(),
                           headers={"Content-Type": "text/plain"}), 200)
    took = time.monotonic() - t0
    res = r.json()["results"]
    assert len(res) == 1000
    for got, (fid, status, name, size) in zip(res, want):
        assert got["id"] == fid and got["status"] == status, (got, fid, status)
        if status == "unknown":
            assert set(got) == {"id", "status"}, "an unknown id leaks %r" % got
        else:
            assert got["name"] == name and got["size"] == size, got
        if status == "removed":
            assert got.get("reason") == "deleted", got
    # the same as a JSON array
    r = expect(srv.request("POST", "/api/v1/check", body=json.dumps(lines[:10]).encode(),
                           headers={"Content-Type": "application/json"}), 200)
    assert [g["status"] for g in r.json()["results"]] == [w[1] for w in want[:10]]
    expect(srv.request("POST", "/api/v1/check", body="\n".join(lines + ["x"]).encode()), 413)
    print("link checker: 1000 ids in %.1f ms (end to end, loaded test machine)" % (took * 1000))


def test_reports_and_transparency(srv):
    o = srv.upload("rep.bin", rand_bytes(100))
    before = expect(srv.get("/api/v1/transparency"), 200).json()
    body = json.dumps({"url": o["url"], "category": "copyright", "text": "my song",
                       "contact": "label@example.org"}).encode()
    r = expect(srv.request("POST", "/api/v1/reports", body=body,
                           headers={"Content-Type": "application/json"}), 201)
    rid = r.json()["id"]
    bad = json.dumps({"id": o["id"], "category": "dislike"}).encode()
    expect(srv.request("POST", "/api/v1/reports", body=bad,
                       headers={"Content-Type": "application/json"}), 400)
    ls = srv.admin("reports", "list")
    assert ls.returncode == 0 and rid in ls.stdout and o["id"] in ls.stdout, ls.stdout
    after = expect(srv.get("/api/v1/transparency"), 200).json()
    assert after["reports"] == before["reports"] + 1, (before, after)
    assert after["months"] and after["months"][-1]["reports"] >= 1


def test_repeat_infringer_cannot_upload(srv):
    name, uauth = user(srv)
    _, hauth = user(srv, "rights_holder")
    for i in range(2):
        o = srv.upload("inf%d.bin" % i, rand_bytes(700 + i), uauth)
        expect(takedown(srv, hauth, [o["id"]], "link"), 201)
    r = srv.put("more.bin", rand_bytes(100), uauth)
    expect(r, 403, what="upload by an account with 2 strikes (threshold 2)")
    assert b"takedown" in r.body
    # anonymous uploads are not that account's
    expect(srv.put("anon.bin", rand_bytes(100)), 201)


def test_unknown_id_rate_limit():
    with Server("[abuse]\nunknown_ids_per_minute = 5\n", name="enum") as s:
        codes = [s.get("/api/v1/files/Zz%010d" % i).status for i in range(8)]
        assert codes[:5] == [404] * 5 and 429 in codes[5:], codes
        o = s.upload("known.bin", rand_bytes(10))
        expect(s.get("/api/v1/files/" + o["id"]), 200, what="a known id while limited")


def test_tus_creation_with_whole_file_checksum_refused_early(srv):
    import base64
    import hashlib
    data = rand_bytes(1500)
    o = srv.upload("early.bin", data)
    t = srv.admin("takedown", o["id"], "--content", "--reason", "notice")
    assert t.returncode == 0, t.stderr
    digest = base64.b64encode(hashlib.sha256(data).digest()).decode()
    r = srv.request("POST", "/api/v1/uploads", body=data, headers={
        "Tus-Resumable": "1.0.0", "Upload-Length": str(len(data)),
        "Content-Type": "application/offset+octet-stream",
        "Upload-Checksum": "sha256 " + digest})
    expect(r, 451, what="tus creation-with-upload of blocked content with its sha256")


def test_reports_show_and_resolve(srv):
    o = srv.upload("res.bin", rand_bytes(80))
    body = json.dumps({"id": o["id"], "category": "malware", "text": "trojan"}).encode()
    rid = expect(srv.request("POST", "/api/v1/reports", body=body,
                             headers={"Content-Type": "application/json"}), 201).json()["id"]
    sh = srv.admin("reports", "show", rid)
    assert sh.returncode == 0 and "state: open" in sh.stdout and "trojan" in sh.stdout, sh.stdout
    rs = srv.admin("reports", "resolve", rid, "rejected")
    assert rs.returncode == 0, rs.stderr
    sh = srv.admin("reports", "show", rid)
    assert "state: rejected" in sh.stdout, sh.stdout
    bad = srv.admin("reports", "resolve", "nope")
    assert bad.returncode == 1 and len(bad.stderr.strip().splitlines()) == 1
    assert "report_resolve" in [row[2] for row in audit(srv)]
