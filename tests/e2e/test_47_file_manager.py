"""The file manager of an account: GET /api/v1/me/files (paged, sortable)
and renaming with PATCH /api/v1/files/{id} (owner only)."""

import json
import os

from harness import expect, rand_bytes

PW = "manager password"


def login(srv):
    name = "fm_" + os.urandom(3).hex()
    body = json.dumps({"name": name, "password": PW}).encode()
    h = {"Content-Type": "application/json"}
    expect(srv.request("POST", "/api/v1/users", body=body, headers=h), 201)
    t = expect(srv.request("POST", "/api/v1/tokens", body=body, headers=h), 201).json()["token"]
    return {"Authorization": "Bearer " + t}


def test_list_sort_page(srv):
    auth = login(srv)
    sizes = {"b.bin": 300, "a.bin": 100, "c.bin": 200}
    ids = {n: srv.upload(n, rand_bytes(sz), auth)["id"] for n, sz in sizes.items()}
    srv.upload("anon.bin", rand_bytes(50))  # not this account's
    r = expect(srv.get("/api/v1/me/files?sort=name&order=asc", auth), 200).json()
    assert [f["name"] for f in r["files"]] == ["a.bin", "b.bin", "c.bin"], r
    assert r["total"] == 3
    r = expect(srv.get("/api/v1/me/files?sort=size&order=desc", auth), 200).json()
    assert [f["size"] for f in r["files"]] == [300, 200, 100]
    r = expect(srv.get("/api/v1/me/files?sort=name&per_page=2&page=2", auth), 200).json()
    assert [f["name"] for f in r["files"]] == ["c.bin"] and r["total"] == 3, r
    # newest first by default (uploads in one second tie: by id then)
    r = expect(srv.get("/api/v1/me/files", auth), 200).json()
    created = [f["created"] for f in r["files"]]
    assert created == sorted(created, reverse=True) and len(created) == 3, r
    assert set(f["id"] for f in r["files"]) == set(ids.values())
    # deleted files leave the list
    o = r["files"][0]
    expect(srv.delete("/" + o["id"], auth), 204)
    r = expect(srv.get("/api/v1/me/files", auth), 200).json()
    assert r["total"] == 2
    for bad in ("sort=evil", "order=sideways", "page=0", "per_page=5000"):
        expect(srv.get("/api/v1/me/files?" + bad, auth), 400, what=bad)
    expect(srv.get("/api/v1/me/files"), 401)


def test_rename_owner_only(srv):
    auth, other = login(srv), login(srv)
    o = srv.upload("old name.txt", b"rename me\n", auth)
    body = json.dumps({"name": "new/../name\r\n.txt"}).encode()
    r = expect(srv.request("PATCH", "/api/v1/files/" + o["id"], body=body,
                           headers=dict(auth, **{"Content-Type": "application/json"})), 200)
    j = r.json()
    assert j["name"] == "name.txt" or ("/" not in j["name"] and "\r" not in j["name"]), j
    assert expect(srv.file_obj(o["id"]), 200).json()["name"] == j["name"]
    g = expect(srv.get(srv.dl_path(j)), 200)
    assert b"\r" not in g.header("Content-Disposition", "").encode()
    expect(srv.request("PATCH", "/api/v1/files/" + o["id"], body=body,
                       headers=dict(other, **{"Content-Type": "application/json"})), 403)
    expect(srv.request("PATCH", "/api/v1/files/" + o["id"], body=b'{"name": 5}',
                       headers=dict(auth, **{"Content-Type": "application/json"})), 400)
