"""What the web account pages need from the server: the pages /login,
/files and /account (a browser without a session is sent to the login page,
other clients get 401), the files of one folder or of the top level
(GET /api/v1/me/files?folder=), and the list of a user's API tokens
(GET /api/v1/tokens).  The pages themselves are tested in tests/browser."""

import json
import os

from harness import expect

PW = "pages password"
JSON = {"Content-Type": "application/json"}
HTML = {"Accept": "text/html"}


def register(srv):
    name = "pg_" + os.urandom(3).hex()
    body = json.dumps({"name": name, "password": PW}).encode()
    expect(srv.request("POST", "/api/v1/users", body=body, headers=JSON), 201)
    return name, body


def bearer(srv, body):
    t = expect(srv.request("POST", "/api/v1/tokens", body=body, headers=JSON), 201).json()
    return t, {"Authorization": "Bearer " + t["token"]}


def session(srv, body):
    r = expect(srv.request("POST", "/api/v1/sessions", body=body, headers=JSON), 201)
    cookie = r.header("Set-Cookie").split(";")[0]
    return {"Cookie": cookie, "X-CSRF-Token": r.json()["csrf"]}


def test_pages_need_a_session(srv):
    r = expect(srv.get("/login", HTML), 200)
    assert r.header("Content-Type").startswith("text/html")
    csp = r.header("Content-Security-Policy", "")
    assert "default-src 'self'" in csp and "frame-ancestors 'none'" in csp, csp
    assert b'id="login-form"' in r.body and b'id="register-form"' in r.body
    for path, nxt in (("/files", "%2Ffiles"), ("/account", "%2Faccount"),
                      ("/files?folder=AbCdEfGhIjKl", "%2Ffiles%3Ffolder%3DAbCdEfGhIjKl")):
        r = expect(srv.get(path, HTML), 302, what=path)
        assert r.header("Location") == "/login?next=" + nxt, r.header("Location")
        assert r.header("Cache-Control") == "no-store"
        # not a browser: the plain 401
        expect(srv.get(path, {"Accept": "application/json"}), 401, what=path)
    # a folder id that is not one is not carried along
    r = expect(srv.get("/files?folder=../../evil", HTML), 302)
    assert r.header("Location") == "/login?next=%2Ffiles"
    # a stale session cookie is no session
    r = expect(srv.get("/files", dict(HTML, Cookie="partage_session=stale")), 302)
    _, body = register(srv)
    s = session(srv, body)
    for path in ("/files", "/account", "/login"):
        r = expect(srv.get(path, dict(HTML, Cookie=s["Cookie"])), 200, what=path)
        assert r.header("Cache-Control") == "private, no-cache", path
        assert b"/static/nav.js" in r.body
    # the assets the pages load
    for asset in ("nav.js", "login.js", "files.js", "account.js"):
        r = expect(srv.get("/static/" + asset), 200, what=asset)
        assert r.header("Content-Type").startswith("text/javascript")


def test_files_of_one_folder(srv):
    _, body = register(srv)
    _, auth = bearer(srv, body)
    _, obody = register(srv)
    _, other = bearer(srv, obody)
    f = expect(srv.request("POST", "/api/v1/folders", body=b'{"name": "box"}',
                           headers=dict(auth, **JSON)), 201).json()
    g = expect(srv.request("POST", "/api/v1/folders", body=b'{"name": "theirs"}',
                           headers=dict(other, **JSON)), 201).json()
    top = [srv.upload("top%d.txt" % i, b"top %d\n" % i, auth)["id"] for i in range(3)]
    inside = [srv.upload("in%d.txt" % i, b"in %d\n" % i, dict(auth, **{"X-Partage-Folder": f["id"]}))["id"]
              for i in range(2)]
    r = expect(srv.get("/api/v1/me/files?folder=&sort=name&order=asc", auth), 200).json()
    assert [x["id"] for x in r["files"]] == top and r["total"] == 3, r
    r = expect(srv.get("/api/v1/me/files?folder=%s&sort=name&order=asc" % f["id"], auth), 200).json()
    assert [x["id"] for x in r["files"]] == inside and r["total"] == 2, r
    assert all(x["folder"] == f["id"] for x in r["files"]), r
    r = expect(srv.get("/api/v1/me/files?folder=%s&per_page=1&page=2&sort=name" % f["id"], auth), 200).json()
    assert [x["id"] for x in r["files"]] == inside[1:] and r["total"] == 2, r
    # without ?folder: every file, as before
    assert expect(srv.get("/api/v1/me/files", auth), 200).json()["total"] == 5
    # a move to the top level shows at once
    expect(srv.request("PATCH", "/api/v1/files/" + inside[0], body=b'{"folder": null}',
                       headers=dict(auth, **JSON)), 200)
    r = expect(srv.get("/api/v1/me/files?folder=", auth), 200).json()
    assert r["total"] == 4 and inside[0] in [x["id"] for x in r["files"]], r
    # someone else's folder, an unknown one and a malformed id: 404
    for bad in (g["id"], "AAAAAAAAAAAA", "x'; DROP"):
        expect(srv.get("/api/v1/me/files?folder=" + bad.replace(" ", "%20"), auth), 404, what=bad)


def test_token_list(srv):
    _, body = register(srv)
    t1, auth = bearer(srv, body)
    t2, _ = bearer(srv, body)
    s = session(srv, body)
    lst = expect(srv.get("/api/v1/tokens", auth), 200).json()["tokens"]
    # API tokens only, never a session, never a secret
    assert sorted(x["id"] for x in lst) == sorted([t1["id"], t2["id"]]), lst
    assert all(set(x) == {"id", "label", "created", "last_used"} and x["created"] > 0
               for x in lst), lst
    assert t1["token"] not in json.dumps(lst)
    # with the browser session too (a GET: no CSRF token needed)
    lst2 = expect(srv.get("/api/v1/tokens", {"Cookie": s["Cookie"]}), 200).json()["tokens"]
    assert lst2 == lst
    expect(srv.delete("/api/v1/tokens/" + t2["id"], s), 204)
    lst = expect(srv.get("/api/v1/tokens", auth), 200).json()["tokens"]
    assert [x["id"] for x in lst] == [t1["id"]], lst
    # another user sees only theirs
    _, obody = register(srv)
    _, other = bearer(srv, obody)
    assert [x["id"] for x in expect(srv.get("/api/v1/tokens", other), 200).json()["tokens"]] != [t1["id"]]
    expect(srv.get("/api/v1/tokens"), 401)


def test_plain_form_of_a_logged_in_browser(srv):
    """The upload form without JavaScript cannot send X-CSRF-Token; for
    that one route (multipart POST /api/v1/files) a browser's Origin naming
    this site stands in for it.  Another origin, no Origin, or any other
    write of the session still needs the token."""
    import harness
    _name, body = register(srv)
    s = session(srv, body)
    cookie = {"Cookie": s["Cookie"]}
    data = os.urandom(3000)
    form, ctype = harness.multipart([("max_downloads", None, b"4", None),
                                     ("file", "form.bin", data, "application/octet-stream")])
    hd = dict(cookie, **{"Content-Type": ctype, "Accept": "application/json"})
    expect(srv.request("POST", "/api/v1/files", body=form, headers=hd), 403, what="a cookie without token or Origin")
    expect(srv.request("POST", "/api/v1/files", body=form, headers=dict(hd, Origin="http://evil.example")), 403,
           what="a cross-site form")
    expect(srv.request("POST", "/api/v1/files", body=form, headers=dict(hd, Origin="null")), 403,
           what="an opaque origin")
    expect(srv.request("POST", "/api/v1/files", body=form,
                       headers=dict(hd, Origin="null", **{"Sec-Fetch-Site": "cross-site"})), 403,
           what="a cross-site form (Fetch metadata)")
    expect(srv.request("POST", "/api/v1/files", body=form,
                       headers=dict(hd, Origin="http://evil.example", **{"Sec-Fetch-Site": "same-origin"})), 403,
           what="a foreign Origin whatever Sec-Fetch-Site says")
    # what Chromium sends for a form of our page (Referrer-Policy: no-referrer)
    expect(srv.request("POST", "/api/v1/files", body=form,
                       headers=dict(hd, Origin="null", **{"Sec-Fetch-Site": "same-origin"})), 201,
           what="our page's form as Chromium sends it")
    r = expect(srv.request("POST", "/api/v1/files", body=form, headers=dict(hd, Origin=srv.url)), 201,
               what="our own page's form")
    f = r.json()["files"][0]
    assert f["max_downloads"] == 4, f
    form2, ctype2 = harness.multipart([("max_downloads", None, b"", None),
                                       ("file", "blank.bin", data, "application/octet-stream")])
    r = expect(srv.request("POST", "/api/v1/files", body=form2, headers=dict(
        hd, Origin=srv.url, **{"Content-Type": ctype2})), 201, what="a form with the limit left blank")
    assert r.json()["files"][0]["max_downloads"] is None, r.json()
    form3, ctype3 = harness.multipart([("max_days", None, b"0", None),
                                       ("file", "zero.bin", data, "application/octet-stream")])
    expect(srv.request("POST", "/api/v1/files", body=form3, headers=dict(
        hd, Origin=srv.url, **{"Content-Type": ctype3})), 400, what="max_days 0 in a form")
    mine = expect(srv.get("/api/v1/me/files", headers=dict(s, Accept="application/json")), 200).json()
    assert f["id"] in [x["id"] for x in mine["files"]], "the form's file is not the account's: %r" % mine
    # the JSON API still wants the token, Origin or not
    expect(srv.request("POST", "/api/v1/folders", body=b'{"name":"x"}',
                       headers=dict(cookie, Origin=srv.url, **JSON)), 403, what="a JSON write with only Origin")
