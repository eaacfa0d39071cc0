"""The `partage` client as a file manager for the logged-in user: ls (top,
a folder, --json, every page of /api/v1/me/files), mv of files and folders
(and the refused cycle), rename, rm (files without a delete token, folders
with and without --recursive), share/unshare, delete without --token, and
the one-line error when not logged in."""

import json
import os
import re
import subprocess

from harness import Skip, bin_path, expect, run_partage

CONFIG = """
[tier.anonymous]
wait_seconds = 0
speed_bytes_per_second = 0
parallel_downloads = 0
[tier.free]
wait_seconds = 0
speed_bytes_per_second = 0
parallel_downloads = 0
"""
PW = "correct horse battery"
JSON = {"Content-Type": "application/json", "Accept": "application/json"}


def cli(srv, cfg, *args, server=True):
    return run_partage(srv.url, cfg, *args, server=server)


def ok(r, what):
    assert r.returncode == 0, "%s: exit %d, stderr %r" % (what, r.returncode, r.stderr[:300])
    return r.stdout.decode()


def fails(r, what, code=1):
    """The exit status is code and stderr one line in the house voice (a
    usage error adds the usage line)."""
    err = r.stderr.decode()
    assert r.returncode == code, "%s: exit %d, want %d (stderr %r)" % (what, r.returncode, code, err)
    assert err.startswith("partage: ") and err.count("\n") == (1 if code == 1 else 2), \
        "%s: stderr %r" % (what, err)
    return err


def account(srv, tmp):
    """A new user logged in with `partage login`: (cfg dir, bearer headers)."""
    os.makedirs(tmp, exist_ok=True)
    cfg = os.path.join(tmp, "cfg")
    name = "mg_" + os.urandom(3).hex()
    expect(srv.request("POST", "/api/v1/users",
                       body=json.dumps({"name": name, "password": PW}).encode(), headers=JSON),
           201, what="register")
    exe = bin_path("partage")
    if not os.access(exe, os.X_OK):
        raise Skip("%s is not built" % exe)
    env = {k: v for k, v in os.environ.items() if not k.startswith("PARTAGE_")}
    env["XDG_CONFIG_HOME"] = cfg
    r = subprocess.run([exe, "--server", srv.url, "login", name, "--password-stdin"],
                       input=(PW + "\n").encode(), env=env, capture_output=True, timeout=60)
    assert r.returncode == 0, r.stderr
    with open(os.path.join(cfg, "partage", "credentials")) as fh:
        tok = [l.split() for l in fh if l.strip() and not l.startswith("#")][0][2]
    return cfg, {"Authorization": "Bearer " + tok}


def api(srv, auth, method, path, obj=None, code=None):
    r = srv.request(method, path, body=json.dumps(obj).encode() if obj is not None else None,
                    headers=dict(auth, **JSON))
    if code:
        expect(r, code, what="%s %s" % (method, path))
    return r.json() if r.body and r.header("Content-Type", "").startswith("application/json") else r


def folder(srv, auth, name, parent=None, shared=False):
    o = {"name": name, "shared": shared}
    if parent:
        o["parent"] = parent
    return api(srv, auth, "POST", "/api/v1/folders", o, 201)


def put(srv, auth, name, data, folder_id=None):
    h = dict(auth)
    if folder_id:
        h["X-Partage-Folder"] = folder_id
    return srv.upload(name, data, h)


def lines(out):
    """ls output split into its columns (separated by two spaces or more)."""
    return [re.split(r"\s{2,}", l.strip()) for l in out.splitlines()]


def test_cli_ls(srv, tmp):
    cfg, auth = account(srv, tmp)
    top = folder(srv, auth, "Vacances d'\u00e9t\u00e9 2026", shared=True)
    sub = folder(srv, auth, "inner b", parent=top["id"])
    other_top = folder(srv, auth, "B private")
    f1 = put(srv, auth, "r\u00e9sum\u00e9 final.txt", b"hello")
    f2 = put(srv, auth, "big one.bin", b"x" * 3000)
    inside = put(srv, auth, "in the folder.txt", b"12345678", top["id"])

    rows = lines(ok(cli(srv, cfg, "ls"), "ls"))
    # folders first (by name), then files (by name); nothing from inside
    assert rows == [
        [other_top["id"], "folder", "B private/"],
        [top["id"], "folder", "Vacances d'\u00e9t\u00e9 2026/", "shared"],
        [f2["id"], "2.9 KiB", "0", "big one.bin"],
        [f1["id"], "5 B", "0", "r\u00e9sum\u00e9 final.txt"],
    ], rows

    j = json.loads(ok(cli(srv, cfg, "ls", "--json"), "ls --json"))
    assert [f["id"] for f in j["folders"]] == [other_top["id"], top["id"]], j
    assert [f["id"] for f in j["files"]] == [f2["id"], f1["id"]], j
    # the API's own objects (a list leaves out the single file's "media"
    # and "stream", docs/api.md)
    one = api(srv, auth, "GET", "/api/v1/files/" + f1["id"], code=200)
    one.pop("media", None)
    one.pop("stream", None)
    assert j["files"][1] == one, {k: (j["files"][1].get(k), one.get(k))
                                  for k in set(one) | set(j["files"][1]) if j["files"][1].get(k) != one.get(k)}
    assert j["folders"][1]["url"] == top["url"] and j["folders"][1]["shared"] is True, j

    # in a folder, by id and by its link
    want = [[sub["id"], "folder", "inner b/"], [inside["id"], "8 B", "0", "in the folder.txt"]]
    assert lines(ok(cli(srv, cfg, "ls", top["id"]), "ls ID")) == want
    assert lines(ok(cli(srv, cfg, "ls", top["url"], server=False), "ls URL")) == want
    j = json.loads(ok(cli(srv, cfg, "ls", top["id"], "--json"), "ls ID --json"))
    assert [f["id"] for f in j["folders"]] == [sub["id"]], j
    assert [f["id"] for f in j["files"]] == [inside["id"]], j
    assert json.loads(ok(cli(srv, cfg, "ls", sub["id"], "--json"), "ls empty")) == \
        {"folders": [], "files": []}
    # "/" is the top
    assert lines(ok(cli(srv, cfg, "ls", "/"), "ls /")) == rows

    # not a folder, someone else's folder, bad arguments
    err = fails(cli(srv, cfg, "ls", f1["url"], server=False), "ls FILE_URL")
    assert "not a folder" in err, err
    _, auth2 = account(srv, os.path.join(tmp, "other"))
    theirs = folder(srv, auth2, "theirs", shared=True)
    err = fails(cli(srv, cfg, "ls", theirs["id"]), "ls THEIRS")
    assert "no folder" in err and "(HTTP 404)" in err, err
    fails(cli(srv, cfg, "ls", "a", "b"), "ls two", code=2)
    fails(cli(srv, cfg, "ls", "--recursive"), "ls --recursive", code=2)


def test_cli_ls_follows_pages(srv, tmp):
    cfg, auth = account(srv, tmp)
    box = folder(srv, auth, "many")
    page = api(srv, auth, "GET", "/api/v1/me/files?folder=" + box["id"], code=200)
    n = page["per_page"] + 3  # the API's page size, and a few more
    ids = sorted(put(srv, auth, "f%03d.txt" % i, b"%d" % i, box["id"])["id"] for i in range(n))
    page = api(srv, auth, "GET", "/api/v1/me/files?folder=" + box["id"], code=200)
    assert page["total"] == n and len(page["files"]) < n, "one page holds them all: %r" % page

    j = json.loads(ok(cli(srv, cfg, "ls", box["id"], "--json"), "ls --json"))
    assert sorted(f["id"] for f in j["files"]) == ids, len(j["files"])
    rows = lines(ok(cli(srv, cfg, "ls", box["id"]), "ls"))
    assert [r[3] for r in rows] == ["f%03d.txt" % i for i in range(n)], rows
    # and at the top level, where they are not
    assert lines(ok(cli(srv, cfg, "ls"), "ls top")) == [[box["id"], "folder", "many/"]]


def test_cli_mv_rename(srv, tmp):
    cfg, auth = account(srv, tmp)
    a = folder(srv, auth, "A")
    b = folder(srv, auth, "B", parent=a["id"])
    c = folder(srv, auth, "C")
    f = put(srv, auth, "one.txt", b"one")
    g = put(srv, auth, "two.txt", b"two")

    def where(fid):
        return api(srv, auth, "GET", "/api/v1/files/" + fid, code=200).get("folder")

    def parent(fo):
        return api(srv, auth, "GET", "/api/v1/folders/" + fo["id"], code=200).get("parent")

    # files by share URL and by direct URL into a folder (by its link), and back by id
    ok(cli(srv, cfg, "mv", f["url"], g["download_url"], "--to", c["url"], server=False), "mv files")
    assert where(f["id"]) == c["id"] and where(g["id"]) == c["id"]
    ok(cli(srv, cfg, "mv", f["id"], "--to", "/"), "mv to /")
    assert where(f["id"]) is None and where(g["id"]) == c["id"]

    # a folder: by link, and by bare id (no such file: taken as a folder)
    ok(cli(srv, cfg, "mv", c["url"], "--to", b["id"], server=False), "mv folder link")
    assert parent(c) == b["id"]
    ok(cli(srv, cfg, "mv", c["id"], "--to", "/"), "mv folder id")
    assert parent(c) is None
    ok(cli(srv, cfg, "mv", c["id"], "--to", b["id"]), "mv folder id")

    # a cycle is refused with the server's reason; the other items still move
    r = cli(srv, cfg, "mv", a["id"], f["id"], "--to", c["id"])
    err = fails(r, "mv into itself")
    assert re.fullmatch(r"partage: cannot move '%s': conflict: .*inside it \(HTTP 409\)\n" % a["id"],
                        err), err
    assert parent(a) is None and where(f["id"]) == c["id"]
    # an unknown destination, an unknown item, a bad --to, no --to
    err = fails(cli(srv, cfg, "mv", g["id"], "--to", "ZZZZZZZZZZZZ"), "mv to nowhere")
    assert "no folder 'ZZZZZZZZZZZZ'" in err and "(HTTP 404)" in err, err
    err = fails(cli(srv, cfg, "mv", "ZZZZZZZZZZZZ", "--to", "/"), "mv nothing")
    assert "(HTTP 404)" in err, err
    err = fails(cli(srv, cfg, "mv", g["id"], "--to", g["url"]), "mv --to FILE")
    assert "--to takes a folder" in err, err
    fails(cli(srv, cfg, "mv", g["id"]), "mv without --to", code=2)
    # someone else's file: 403 with the reason
    _, auth2 = account(srv, os.path.join(tmp, "other"))
    theirs = put(srv, auth2, "theirs.txt", b"not yours")
    err = fails(cli(srv, cfg, "mv", theirs["id"], "--to", "/"), "mv theirs")
    assert "only the uploader" in err and "(HTTP 403)" in err, err

    # rename a file and a folder (UTF-8, spaces)
    ok(cli(srv, cfg, "rename", g["url"], "deux \u00e9l\u00e8ves.txt", server=False), "rename file")
    assert api(srv, auth, "GET", "/api/v1/files/" + g["id"], code=200)["name"] == \
        "deux \u00e9l\u00e8ves.txt"
    ok(cli(srv, cfg, "rename", b["id"], "B renamed \u2713"), "rename folder")
    assert api(srv, auth, "GET", "/api/v1/folders/" + b["id"], code=200)["name"] == \
        "B renamed \u2713"
    fails(cli(srv, cfg, "rename", b["id"]), "rename one arg", code=2)


def test_cli_rm_and_delete(srv, tmp):
    cfg, auth = account(srv, tmp)
    f = put(srv, auth, "gone.txt", b"bye")
    ok(cli(srv, cfg, "rm", f["download_url"], server=False), "rm file")
    expect(srv.get("/" + f["id"]), 404, 410, what="removed file")
    err = fails(cli(srv, cfg, "rm", f["id"]), "rm again")
    assert "(HTTP 410)" in err, err

    full = folder(srv, auth, "full of things")
    inner = folder(srv, auth, "deeper", parent=full["id"])
    kept = put(srv, auth, "kept.txt", b"kept", inner["id"])
    err = fails(cli(srv, cfg, "rm", full["id"]), "rm non-empty")
    assert "not empty" in err and "(HTTP 409)" in err, err
    api(srv, auth, "GET", "/api/v1/folders/" + full["id"], code=200)
    ok(cli(srv, cfg, "rm", full["url"], "--recursive", server=False), "rm --recursive")
    expect(srv.get("/api/v1/folders/" + full["id"], auth), 404)
    expect(srv.get("/api/v1/folders/" + inner["id"], auth), 404)
    expect(srv.get("/" + kept["id"]), 404, 410, what="file of a removed folder")
    empty = folder(srv, auth, "empty")
    ok(cli(srv, cfg, "rm", empty["id"]), "rm empty folder")
    expect(srv.get("/api/v1/folders/" + empty["id"], auth), 404)

    # delete: no --token needed from the owner's login
    up = ok(cli(srv, cfg, "upload", "-", "--name", "d.txt", "--json"), "upload")
    obj = json.loads(up)
    ok(cli(srv, cfg, "delete", obj["url"], server=False), "delete without --token")
    expect(srv.get("/" + obj["id"]), 410, what="deleted file")
    # ... but anonymous uploads still need it: the server's 401 reason
    anon = srv.upload("anon.txt", b"anonymous")
    err = fails(cli(srv, os.path.join(tmp, "nobody"), "delete", anon["id"]), "delete anon")
    assert "authentication required" in err and "(HTTP 401)" in err, err
    ok(cli(srv, os.path.join(tmp, "nobody"), "delete", anon["id"], "--token",
           anon["delete_token"]), "delete --token")
    expect(srv.get("/" + anon["id"]), 410)


def test_cli_share_unshare(srv, tmp):
    cfg, auth = account(srv, tmp)
    fo = folder(srv, auth, "to share")
    put(srv, auth, "pic.txt", b"a picture", fo["id"])
    expect(srv.get("/folder/" + fo["id"]), 404, what="private folder")
    link = ok(cli(srv, cfg, "share", fo["id"]), "share").strip()
    assert link == fo["url"], link
    page = expect(srv.get(link[len(srv.url):], {"Accept": "text/html"}), 200, what="shared page")
    assert b"pic.txt" in page.body
    z = expect(srv.get(link[len(srv.url):]), 200, what="shared zip")
    assert z.body[:4] == b"PK\x03\x04", z.body[:20]
    # the anonymous curl of the brief
    r = subprocess.run(["curl", "-sS", "-o", os.devnull, "-w", "%{http_code}", link],
                       capture_output=True, timeout=30)
    assert r.stdout == b"200", r
    assert ok(cli(srv, cfg, "unshare", fo["url"], server=False), "unshare") == ""
    expect(srv.get("/folder/" + fo["id"]), 404, what="unshared folder")
    expect(srv.get("/folder/" + fo["id"], {"Accept": "text/html"}), 404)
    err = fails(cli(srv, cfg, "share", "https://x.invalid/AbCdEf123456"), "share a file link")
    assert "not a folder" in err, err
    fails(cli(srv, cfg, "share"), "share nothing", code=2)


def test_cli_not_logged_in(srv, tmp):
    nobody = os.path.join(tmp, "nobody")
    for args in (["ls"], ["ls", "AbCdEf123456", "--json"], ["mv", "AbCdEf123456", "--to", "/"],
                 ["rename", "AbCdEf123456", "x"], ["rm", "AbCdEf123456"],
                 ["share", "AbCdEf123456"], ["unshare", "AbCdEf123456"]):
        r = cli(srv, nobody, *args)
        err = fails(r, " ".join(args))
        assert err == "partage: not logged in to '%s': run 'partage login' or set " \
            "PARTAGE_API_TOKEN\n" % srv.url, err
        assert r.stdout == b"", r.stdout
    # a stored token the server no longer accepts: its 401 reason
    cfg, auth = account(srv, tmp)
    expect(srv.request("POST", "/api/v1/me/password",
                       body=json.dumps({"old": PW, "new": PW + "!"}).encode(),
                       headers=dict(auth, **JSON)), 204)
    err = fails(cli(srv, cfg, "ls"), "ls revoked")
    assert "(HTTP 401)" in err, err
