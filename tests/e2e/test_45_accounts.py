"""Accounts: registration, browser sessions (cookie + CSRF), API tokens,
/api/v1/me, password change, vouchers, failed-login limits, owned uploads,
and the `partaged admin user|voucher` commands."""

import http.client
import json
import os
import threading
import time

from harness import expect, rand_bytes, Resp, Server, HTTP_TIMEOUT

CONFIG = ""
PW = "correct horse"
_seq = [0]


def uname(prefix="u"):
    """A fresh account name (unique in this run, 3..32 allowed chars)."""
    _seq[0] += 1
    return "%s%d_%s" % (prefix, _seq[0], os.urandom(3).hex())


def jreq(srv, method, path, obj=None, headers=None, source=None, raw=None):
    """A request with a JSON body (or raw bytes), optionally from another
    loopback source address (the server keys limits on the address)."""
    body = raw if raw is not None else (json.dumps(obj).encode() if obj is not None else None)
    hdrs = {"Accept": "application/json"}
    if body is not None:
        hdrs["Content-Type"] = "application/json"
    hdrs.update(headers or {})
    if source is None:
        return srv.request(method, path, body=body, headers=hdrs)
    conn = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=HTTP_TIMEOUT,
                                      source_address=(source, 0))
    try:
        conn.request(method, path, body=body, headers=hdrs)
        resp = conn.getresponse()
        return Resp(resp.status, resp.reason, resp.msg, resp.read())
    finally:
        conn.close()


def register(srv, name, pw=PW):
    return expect(jreq(srv, "POST", "/api/v1/users", {"name": name, "password": pw}), 201,
                  what="register %r" % name)


def login(srv, name, pw=PW):
    """Log in; returns (cookie header dict, csrf)."""
    r = expect(jreq(srv, "POST", "/api/v1/sessions", {"name": name, "password": pw}), 201,
               what="login %r" % name)
    j = r.json()
    c = session_cookie(r)
    assert c, "no partage_session cookie in %r" % r.header_all("Set-Cookie")
    assert isinstance(j.get("csrf"), str) and len(j["csrf"]) >= 16, "csrf %r" % j
    return {"Cookie": "partage_session=" + c}, j["csrf"]


def session_cookie(r):
    for sc in r.header_all("Set-Cookie"):
        first = sc.split(";", 1)[0].strip()
        if first.startswith("partage_session="):
            return first.split("=", 1)[1]
    return None


def new_token(srv, name, pw=PW, headers=None):
    """POST /api/v1/tokens; returns (id, token)."""
    obj = {"name": name, "password": pw} if headers is None else {}
    r = expect(jreq(srv, "POST", "/api/v1/tokens", obj, headers), 201, what="create token")
    j = r.json()
    assert isinstance(j.get("id"), str) and j["id"], j
    assert isinstance(j.get("token"), str) and len(j["token"]) >= 32, j
    return j["id"], j["token"]


def bearer(tok):
    return {"Authorization": "Bearer " + tok}


def me(srv, headers):
    return jreq(srv, "GET", "/api/v1/me", headers=headers)


def user(srv, pw=PW, prefix="u"):
    """Register a fresh user and return (name, bearer headers)."""
    n = uname(prefix)
    register(srv, n, pw)
    return n, bearer(new_token(srv, n, pw)[1])


# ------------------------------------------------------------ registration

def test_register_rules(srv):
    n = uname("reg")
    r = register(srv, n)
    assert r.json().get("name") == n, r.json()
    r = jreq(srv, "POST", "/api/v1/users", {"name": n, "password": "another pw"})
    expect(r, 409, what="the same name again")
    for bad in ("ab", "x" * 33, "al ice", "al/ice", "al@ice", "\u00e9l\u00e9onore", "", "a\nb"):
        expect(jreq(srv, "POST", "/api/v1/users", {"name": bad, "password": PW}), 400,
               what="name %r" % bad)
    expect(jreq(srv, "POST", "/api/v1/users", {"name": uname("pw"), "password": "1234567"}), 400,
           what="a 7-character password")
    # the edges are allowed
    register(srv, "a.-" + os.urandom(3).hex(), "12345678")
    edge32 = ("Z9_.-" + os.urandom(16).hex())[:32]
    register(srv, edge32)
    register(srv, "q" + os.urandom(1).hex())  # 3 characters
    # malformed bodies
    expect(jreq(srv, "POST", "/api/v1/users", {"name": uname()}), 400, what="no password")
    expect(jreq(srv, "POST", "/api/v1/users", {"password": PW}), 400, what="no name")
    expect(jreq(srv, "POST", "/api/v1/users", raw=b"not json"), 400, what="not JSON")
    expect(jreq(srv, "POST", "/api/v1/users", raw=b'["a","b"]'), 400, what="a JSON array")
    expect(jreq(srv, "POST", "/api/v1/users", {"name": 12345, "password": PW}), 400, what="a number as name")
    expect(jreq(srv, "POST", "/api/v1/users", raw=b'{"name":"' + b"a" * 70000 + b'"}'), 413, 400,
           what="a 70 kB JSON body")


def test_new_user_me(srv):
    n, auth = user(srv)
    expect(me(srv, {}), 401, what="GET /me without auth")
    j = expect(me(srv, auth), 200).json()
    for k in ("name", "tier", "role", "premium_until", "used_bytes", "quota_bytes", "points",
              "direct_downloads"):
        assert k in j, "/me has no %r: %r" % (k, j)
    assert j["name"] == n and j["tier"] == "free" and j["role"] == "user", j
    assert j["premium_until"] is None, j
    assert j["used_bytes"] == 0 and j["points"] == 0 and j["direct_downloads"] is False, j
    assert "csrf" not in j, "a bearer token's /me shows a csrf token: %r" % j


# ---------------------------------------------------------------- sessions

def test_session_cookie_and_csrf(srv):
    n = uname("ses")
    register(srv, n)
    r = expect(jreq(srv, "POST", "/api/v1/sessions", {"name": n, "password": PW}), 201)
    assert r.json().get("name") == n, r.json()
    sc = [h for h in r.header_all("Set-Cookie") if h.startswith("partage_session=")]
    assert len(sc) == 1, "Set-Cookie: %r" % r.header_all("Set-Cookie")
    attrs = [a.strip().lower() for a in sc[0].split(";")[1:]]
    assert "httponly" in attrs, sc
    assert "samesite=lax" in attrs, sc
    assert "path=/" in attrs, sc
    cookie, csrf = {"Cookie": sc[0].split(";")[0]}, r.json()["csrf"]
    j = expect(me(srv, cookie), 200).json()
    assert j["name"] == n and j.get("csrf") == csrf, "/me by cookie: %r" % j
    # state changes by cookie need the CSRF token
    expect(jreq(srv, "PATCH", "/api/v1/me", {"direct_downloads": True}, cookie), 403,
           what="PATCH /me by cookie without X-CSRF-Token")
    bad = dict(cookie, **{"X-CSRF-Token": csrf[:-1] + ("A" if csrf[-1] != "A" else "B")})
    expect(jreq(srv, "PATCH", "/api/v1/me", {"direct_downloads": True}, bad), 403,
           what="PATCH /me with a wrong X-CSRF-Token")
    assert expect(me(srv, cookie), 200).json()["direct_downloads"] is False, "a refused PATCH changed /me"
    good = dict(cookie, **{"X-CSRF-Token": csrf})
    expect(jreq(srv, "PATCH", "/api/v1/me", {"direct_downloads": True}, good), 200)
    assert expect(me(srv, cookie), 200).json()["direct_downloads"] is True
    # an upload by cookie is state-changing too
    expect(srv.put("csrf.txt", b"by cookie\n", cookie), 403, what="PUT by cookie without CSRF")
    o = srv.upload("csrf.txt", b"by cookie\n", good)
    # another session's CSRF token does not fit this one
    cookie2, csrf2 = login(srv, n)
    assert csrf2 != csrf and cookie2 != cookie, "two logins gave the same session"
    expect(jreq(srv, "PATCH", "/api/v1/me", {"direct_downloads": False},
                dict(cookie, **{"X-CSRF-Token": csrf2})), 403, what="the other session's CSRF token")
    # a DELETE by cookie is a state change too (the owner's delete by
    # session is in test_owned_upload_delete)
    expect(srv.delete("/" + o["id"], cookie), 403, what="DELETE by cookie without CSRF")
    # logout needs the token as well, then the cookie is dead
    expect(jreq(srv, "DELETE", "/api/v1/sessions", headers=cookie), 403, what="logout without CSRF")
    r = expect(jreq(srv, "DELETE", "/api/v1/sessions", headers=good), 204, what="logout")
    assert any(h.startswith("partage_session=") and "max-age=0" in h.lower()
               for h in r.header_all("Set-Cookie")), "logout does not clear the cookie: %r" % r.header_all("Set-Cookie")
    expect(me(srv, cookie), 401, what="/me after logout")
    expect(me(srv, cookie2), 200, what="the other session survives a logout")
    # a stale cookie does not stop anonymous use
    expect(srv.put("stale.txt", b"stale cookie\n", cookie), 201, what="PUT with a stale cookie")
    expect(srv.get("/healthz", cookie), 200)


def test_login_failures(srv):
    n = uname("lf")
    register(srv, n)
    expect(jreq(srv, "POST", "/api/v1/sessions", {"name": n, "password": PW + "x"}), 401, what="wrong password")
    expect(jreq(srv, "POST", "/api/v1/sessions", {"name": uname("nobody"), "password": PW}), 401,
           what="unknown name")
    expect(jreq(srv, "POST", "/api/v1/sessions", {"name": n}), 400, what="no password")
    r = jreq(srv, "POST", "/api/v1/sessions", {"name": n, "password": PW + "x"})
    assert session_cookie(r) is None, "a failed login set a cookie"
    login(srv, n)  # and a success resets the per-name count


# ------------------------------------------------------------------ tokens

def test_tokens(srv):
    n = uname("tok")
    register(srv, n)
    expect(jreq(srv, "POST", "/api/v1/tokens", {"name": n, "password": "wrong password"}), 401,
           what="token with a wrong password")
    tid, tok = new_token(srv, n)
    assert expect(me(srv, bearer(tok)), 200).json()["name"] == n
    # a token makes another token without a password
    tid2, tok2 = new_token(srv, n, headers=bearer(tok))
    assert tok2 != tok and tid2 != tid
    # and so does a session, with its CSRF token
    cookie, csrf = login(srv, n)
    expect(jreq(srv, "POST", "/api/v1/tokens", {}, cookie), 403, what="token by cookie without CSRF")
    tid3, tok3 = new_token(srv, n, headers=dict(cookie, **{"X-CSRF-Token": csrf}))
    # revocation
    expect(jreq(srv, "DELETE", "/api/v1/tokens/" + tid), 401, what="revoke without auth")
    other, oauth = user(srv)
    expect(jreq(srv, "DELETE", "/api/v1/tokens/" + tid, headers=oauth), 404, 403,
           what="revoking another user's token")
    expect(me(srv, bearer(tok)), 200, what="the token after another user tried to revoke it")
    expect(jreq(srv, "DELETE", "/api/v1/tokens/" + tid, headers=bearer(tok2)), 204, what="revoke")
    expect(me(srv, bearer(tok)), 401, what="/me with a revoked token")
    expect(srv.put("rev.txt", b"x\n", bearer(tok)), 401, what="PUT with a revoked token")
    expect(jreq(srv, "DELETE", "/api/v1/tokens/" + tid, headers=bearer(tok2)), 404, what="revoke twice")
    expect(me(srv, bearer(tok2)), 200)
    expect(me(srv, bearer(tok3)), 200)
    # a token revokes itself
    expect(jreq(srv, "DELETE", "/api/v1/tokens/" + tid3, headers=bearer(tok3)), 204)
    expect(me(srv, bearer(tok3)), 401)
    # malformed credentials
    expect(me(srv, bearer("A" * 43)), 401, what="an unknown token")
    expect(me(srv, bearer("")), 401, what="an empty token")
    expect(me(srv, {"Authorization": "Basic " + "YTpi"}), 401, what="Basic auth")
    expect(srv.put("bad.txt", b"x\n", bearer("A" * 43)), 401, what="PUT with an unknown token")


def test_token_labels_and_last_use(srv):
    n = uname("lbl")
    register(srv, n)
    t0 = int(time.time())
    r = expect(jreq(srv, "POST", "/api/v1/tokens", {"name": n, "password": PW, "label": "ci deploy"}), 201)
    tid, tok = r.json()["id"], r.json()["token"]
    assert r.json().get("label") == "ci deploy", r.json()
    tid2, tok2 = new_token(srv, n)

    def listed():
        j = expect(jreq(srv, "GET", "/api/v1/tokens", headers=bearer(tok2)), 200).json()
        return {t["id"]: t for t in j["tokens"]}

    ts = listed()
    assert ts[tid]["label"] == "ci deploy" and ts[tid2]["label"] == "", ts
    assert ts[tid]["last_used"] is None, "a token never used has a last use: %r" % ts[tid]
    # the list call itself was a use of tok2
    assert t0 <= ts[tid2]["last_used"] <= time.time() + 1, ts[tid2]
    expect(me(srv, bearer(tok)), 200)
    ts = listed()
    assert t0 <= ts[tid]["last_used"] <= time.time() + 1, "after a use: %r" % ts[tid]
    # labels: text up to 100 bytes, UTF-8 kept as is; anything else is a 400
    # that makes no token
    for label in ("x" * 100, "clé de sauvegarde \U0001f511"):
        r = expect(jreq(srv, "POST", "/api/v1/tokens", {"label": label}, bearer(tok2)), 201,
                   what="label %r" % label)
        assert listed()[r.json()["id"]]["label"] == label
    before = len(listed())
    for bad in ("x" * 101, "tab\there", "line\nbreak", 42, ["a"]):
        r = expect(jreq(srv, "POST", "/api/v1/tokens", {"label": bad}, bearer(tok2)), 400,
                   what="label %r" % (bad,))
        assert "label" in r.json().get("error", ""), r.json()
    assert len(listed()) == before, "a refused label made a token"


def test_me_patch_and_auth_required(srv):
    _n, auth = user(srv)
    for body in ({}, {"direct_downloads": "yes"}, {"direct_downloads": 1}):
        expect(jreq(srv, "PATCH", "/api/v1/me", body, auth), 400, what="PATCH /me %r" % body)
    r = expect(jreq(srv, "PATCH", "/api/v1/me", {"direct_downloads": True}, auth), 200)
    assert r.json().get("direct_downloads") is True, r.json()
    assert expect(me(srv, auth), 200).json()["direct_downloads"] is True
    expect(jreq(srv, "PATCH", "/api/v1/me", {"direct_downloads": False}, auth), 200)
    assert expect(me(srv, auth), 200).json()["direct_downloads"] is False
    for m, p, b in (("PATCH", "/api/v1/me", {"direct_downloads": True}),
                    ("POST", "/api/v1/me/password", {"old": PW, "new": "x" * 10}),
                    ("POST", "/api/v1/me/redeem", {"code": "x" * 43}),
                    ("DELETE", "/api/v1/tokens/abc", None)):
        expect(jreq(srv, m, p, b), 401, what="%s %s without auth" % (m, p))


def test_password_change_revokes_everything(srv):
    n = uname("pwc")
    register(srv, n)
    _tid, tok = new_token(srv, n)
    _tid2, tok2 = new_token(srv, n)
    cookie, csrf = login(srv, n)
    auth = bearer(tok)
    expect(jreq(srv, "POST", "/api/v1/me/password", {"old": "not the password", "new": "brand new pw"}, auth),
           401, 403, what="wrong old password")
    expect(jreq(srv, "POST", "/api/v1/me/password", {"old": PW, "new": "short"}, auth), 400,
           what="a short new password")
    expect(jreq(srv, "POST", "/api/v1/me/password", {"old": PW}, auth), 400, what="no new password")
    expect(me(srv, auth), 200, what="the token after refused changes")
    r = jreq(srv, "POST", "/api/v1/me/password", {"old": PW, "new": "brand new pw"}, auth)
    expect(r, 204, what="password change")
    expect(me(srv, auth), 401, what="the token used for the change")
    expect(me(srv, bearer(tok2)), 401, what="another token after a password change")
    expect(me(srv, cookie), 401, what="a session after a password change")
    expect(jreq(srv, "POST", "/api/v1/sessions", {"name": n, "password": PW}), 401, what="the old password")
    login(srv, n, "brand new pw")
    new_token(srv, n, "brand new pw")


# ---------------------------------------------------------------- vouchers

def test_vouchers(srv):
    r = srv.admin("voucher", "create", "--days", "3", "--count", "3")
    assert r.returncode == 0, "voucher create: %d %r" % (r.returncode, r.stderr)
    codes = r.stdout.split()
    assert len(codes) == 3 and len(set(codes)) == 3, "want 3 distinct codes, one a line: %r" % r.stdout
    assert r.stdout.endswith("\n") and len(r.stdout.splitlines()) == 3, r.stdout
    n, auth = user(srv)
    expect(jreq(srv, "POST", "/api/v1/me/redeem", {"code": codes[0]}), 401, what="redeem without auth")
    expect(jreq(srv, "POST", "/api/v1/me/redeem", {"code": "A" * 43}, auth), 404, what="an unknown code")
    expect(jreq(srv, "POST", "/api/v1/me/redeem", {}, auth), 400, what="no code")
    t0 = int(time.time())
    j = expect(jreq(srv, "POST", "/api/v1/me/redeem", {"code": codes[0]}, auth), 200).json()
    assert j.get("days") == 3 and j.get("tier") == "premium", j
    assert abs(j["premium_until"] - (t0 + 3 * 86400)) <= 5, "premium_until %r, want now + 3 days" % j
    m = expect(me(srv, auth), 200).json()
    assert m["tier"] == "premium" and m["premium_until"] == j["premium_until"], m
    expect(jreq(srv, "POST", "/api/v1/me/redeem", {"code": codes[0]}, auth), 404, what="the same code twice")
    _n2, auth2 = user(srv)
    expect(jreq(srv, "POST", "/api/v1/me/redeem", {"code": codes[0]}, auth2), 404,
           what="a used code by another user")
    assert expect(me(srv, auth2), 200).json()["tier"] == "free"
    # a second voucher adds its days to the first
    j2 = expect(jreq(srv, "POST", "/api/v1/me/redeem", {"code": codes[1]}, auth), 200).json()
    assert abs(j2["premium_until"] - (t0 + 6 * 86400)) <= 5, "two 3-day vouchers: %r, want now + 6 days" % j2
    # bad arguments
    for args in (["voucher", "create"], ["voucher", "create", "--days", "0"],
                 ["voucher", "create", "--days", "x"], ["voucher", "create", "--days", "2", "--count", "0"],
                 ["voucher", "make", "--days", "2"]):
        r = srv.admin(*args)
        assert r.returncode == 1, "admin %s: exit %d (want 1)" % (" ".join(args), r.returncode)
        assert r.stderr.strip() and r.stdout == "", "admin %s: stdout %r stderr %r" % (" ".join(args), r.stdout, r.stderr)


def test_voucher_redeemed_once_under_concurrency(srv):
    code = srv.admin("voucher", "create", "--days", "5").stdout.strip()
    users = [user(srv)[1] for _ in range(6)]
    statuses = []
    lock = threading.Lock()
    go = threading.Event()

    def redeem(auth):
        go.wait()
        st = jreq(srv, "POST", "/api/v1/me/redeem", {"code": code}, auth).status
        with lock:
            statuses.append(st)
    ts = [threading.Thread(target=redeem, args=(a,), daemon=True) for a in users]
    for t in ts:
        t.start()
    go.set()
    for t in ts:
        t.join(30)
    assert sorted(statuses) == [200] + [404] * 5, "6 users redeeming one code at once: %r" % sorted(statuses)
    assert sum(expect(me(srv, a), 200).json()["tier"] == "premium" for a in users) == 1


# ----------------------------------------------------------- login limits

def test_failed_login_limit_per_address_and_name():
    # own server: these limits are per process and would spoil the others
    with Server("", name="loginlimit") as s:
        victim, bystander = uname("victim"), uname("by")
        register(s, victim)
        register(s, bystander)
        # per name and address: 10 failures from one address...
        for i in range(10):
            expect(jreq(s, "POST", "/api/v1/sessions", {"name": victim, "password": "guess %d" % i},
                        source="127.0.0.2"), 401, what="failed login %d" % (i + 1))
        # ...then that name is refused from that address, even the right password
        r = jreq(s, "POST", "/api/v1/sessions", {"name": victim, "password": PW}, source="127.0.0.2")
        expect(r, 429, what="the right password for %s after 10 failures from its address" % victim)
        ra = r.header("Retry-After")
        assert ra and ra.isdigit() and 0 < int(ra) <= 900, "Retry-After %r" % ra
        assert session_cookie(r) is None
        expect(jreq(s, "POST", "/api/v1/tokens", {"name": victim, "password": PW}, source="127.0.0.2"),
               429, what="a token for a blocked name and address")
        # ...but not from elsewhere: the guesser cannot lock the owner out
        expect(jreq(s, "POST", "/api/v1/sessions", {"name": victim, "password": PW}, source="127.0.0.3"),
               201, what="the owner from another address")
        login_from = jreq(s, "POST", "/api/v1/sessions", {"name": bystander, "password": PW}, source="127.0.0.3")
        expect(login_from, 201, what="another name from another address")
        # per address: 30 failures on 30 different names
        for i in range(30):
            expect(jreq(s, "POST", "/api/v1/sessions", {"name": uname("spray"), "password": PW},
                        source="127.0.0.4"), 401)
        r = jreq(s, "POST", "/api/v1/sessions", {"name": bystander, "password": PW}, source="127.0.0.4")
        expect(r, 429, what="a good login from an address with 30 failures")
        assert (r.header("Retry-After") or "").isdigit(), r.headers
        expect(jreq(s, "POST", "/api/v1/sessions", {"name": bystander, "password": PW}, source="127.0.0.5"),
               201, what="the same login from another address")


def test_failed_login_limit_holds_under_concurrency():
    # 24 wrong guesses at once from 24 addresses must not get more than
    # the per-name budget (10 here) of password checks (threads and
    # password_hash_threads: several checks really run at the same time)
    with Server("[server]\nthreads = 12\npassword_hash_threads = 4\n[abuse]\nlogin_failures_per_name = 10\n",
                name="loginrace") as s:
        victim = uname("race")
        register(s, victim)
        statuses = []
        lock = threading.Lock()
        go = threading.Event()

        def guess(i):
            go.wait()
            try:
                r = jreq(s, "POST", "/api/v1/sessions", {"name": victim, "password": "guess %d" % i},
                         source="127.0.0.%d" % (10 + i))
                st = r.status
            except Exception as e:  # noqa: BLE001
                st = repr(e)
            with lock:
                statuses.append(st)
        ts = [threading.Thread(target=guess, args=(i,), daemon=True) for i in range(24)]
        for t in ts:
            t.start()
        go.set()
        for t in ts:
            t.join(60)
        assert len(statuses) == 24 and all(st in (401, 429) for st in statuses), sorted(map(str, statuses))
        assert statuses.count(401) <= 10, \
            "24 concurrent wrong passwords for one name: %d were checked (401), want at most 10 " \
            "(the rest 429)" % statuses.count(401)


# ---------------------------------------------------------- owned uploads

def test_owned_upload_delete(srv):
    n, auth = user(srv)
    _o, oauth = user(srv)
    data = rand_bytes(3000)
    # the delete token still works on an owned file
    o2 = srv.upload("owned2.bin", data, auth)
    expect(srv.delete("/" + o2["id"], {"X-Delete-Token": o2["delete_token"]}), 204,
           what="DELETE of an owned file with X-Delete-Token")
    # an anonymous upload has no owner
    o3 = srv.upload("anon.bin", data)
    expect(srv.delete("/" + o3["id"], auth), 401, 403, what="a user deleting an anonymous upload")
    expect(srv.get(srv.dl_path(o3)), 200)
    # docs/api.md: DELETE /{id} "with X-Delete-Token or the owner's auth → 204"
    o = srv.upload("owned.bin", data, auth)
    expect(srv.delete("/" + o["id"], oauth), 401, 403, what="DELETE by another user")
    expect(srv.delete("/" + o["id"]), 401, 403, what="DELETE without anything")
    expect(srv.get(srv.dl_path(o)), 200, what="the file after refused deletes")
    expect(srv.delete("/" + o["id"], auth), 204, what="DELETE by the owner's token")
    expect(srv.get(srv.dl_path(o)), 410)
    cookie, csrf = login(srv, n)
    o4 = srv.upload("owned4.bin", data, auth)
    expect(srv.delete("/" + o4["id"], cookie), 403, what="owner DELETE by cookie without CSRF")
    expect(srv.delete("/" + o4["id"], dict(cookie, **{"X-CSRF-Token": csrf})), 204,
           what="owner DELETE by cookie with CSRF")
    expect(srv.get(srv.dl_path(o4)), 410)


# ------------------------------------------------------------------ admin

def test_admin_users(srv):
    n = uname("adm")
    r = srv.admin("user", "add", n, input=PW + "\n")
    assert r.returncode == 0, "user add: %d %r" % (r.returncode, r.stderr)
    cookie, _ = login(srv, n)
    _tid, tok = new_token(srv, n)
    auth = bearer(tok)
    r = srv.admin("user", "add", n, input="other password\n")
    assert r.returncode == 1 and r.stderr.strip(), "user add of a taken name: %d %r" % (r.returncode, r.stderr)
    assert len(r.stderr.strip().splitlines()) == 1, "not one line on stderr: %r" % r.stderr
    for name, pw in (("ab", PW), ("bad name", PW), (uname("shortpw"), "short")):
        r = srv.admin("user", "add", name, input=pw + "\n")
        assert r.returncode == 1, "user add %r/%r: exit %d" % (name, pw, r.returncode)
    r = srv.admin("user", "add", uname("nopw"), input="")
    assert r.returncode == 1, "user add without a password on stdin: exit %d" % r.returncode
    # list
    r = srv.admin("user", "list")
    assert r.returncode == 0, r.stderr
    rows = [l for l in r.stdout.splitlines() if l.split("\t")[0] == n]
    assert len(rows) == 1 and "free" in rows[0].split("\t"), "user list row for %s: %r" % (n, r.stdout[-500:])
    # tiers, while the server runs
    t0 = int(time.time())
    r = srv.admin("user", "set-tier", n, "premium", "--days", "2")
    assert r.returncode == 0, r.stderr
    j = expect(me(srv, auth), 200).json()
    assert j["tier"] == "premium", "after set-tier premium --days 2: %r" % j
    assert isinstance(j["premium_until"], int) and abs(j["premium_until"] - (t0 + 2 * 86400)) <= 5, j
    rows = [l for l in srv.admin("user", "list").stdout.splitlines() if l.split("\t")[0] == n]
    assert rows and "premium" in rows[0].split("\t"), rows
    r = srv.admin("user", "set-tier", n, "free")
    assert r.returncode == 0, r.stderr
    j = expect(me(srv, auth), 200).json()
    assert j["tier"] == "free" and j["premium_until"] is None, "after set-tier free: %r" % j
    r = srv.admin("user", "set-tier", n, "premium")
    assert r.returncode == 0, r.stderr
    assert expect(me(srv, auth), 200).json()["tier"] == "premium", "set-tier premium without --days"
    for args in (("set-tier", n, "anonymous"), ("set-tier", n, "gold"), ("set-tier", n, "free", "--days", "3"),
                 ("set-tier", n, "premium", "--days", "0"), ("set-tier", uname("ghost"), "premium"),
                 ("set-role", n, "god"), ("set-role", uname("ghost"), "admin"), ("frobnicate", n)):
        r = srv.admin("user", *args)
        assert r.returncode == 1 and r.stderr.strip(), "admin user %s: exit %d (want 1 and a reason)" % (
            " ".join(args), r.returncode)
    # roles
    for role in ("rights_holder", "admin", "user"):
        r = srv.admin("user", "set-role", n, role)
        assert r.returncode == 0, r.stderr
        assert expect(me(srv, auth), 200).json()["role"] == role, "role after set-role %s" % role
    # disable: tokens and sessions stop working, logins are refused
    r = srv.admin("user", "disable", n)
    assert r.returncode == 0, r.stderr
    expect(me(srv, auth), 401, 403, what="a disabled user's token")
    expect(me(srv, cookie), 401, 403, what="a disabled user's session")
    expect(srv.put("dis.txt", b"x\n", auth), 401, 403, what="PUT by a disabled user's token")
    r = jreq(srv, "POST", "/api/v1/sessions", {"name": n, "password": PW})
    expect(r, 401, 403, what="login of a disabled user")
    assert session_cookie(r) is None
    expect(jreq(srv, "POST", "/api/v1/tokens", {"name": n, "password": PW}), 401, 403,
           what="a token for a disabled user")
    rows = [l for l in srv.admin("user", "list").stdout.splitlines() if l.split("\t")[0] == n]
    assert rows and "disabled" in rows[0], rows


def test_admin_added_user_equals_registered(srv):
    # a user made by the admin command and one registered over HTTP are alike
    a, b = uname("cli"), uname("web")
    assert srv.admin("user", "add", a, input=PW + "\n").returncode == 0
    register(srv, b)
    expect(jreq(srv, "POST", "/api/v1/users", {"name": a, "password": PW}), 409,
           what="registering a name the admin added")
    assert srv.admin("user", "add", b, input=PW + "\n").returncode == 1, "admin add of a registered name"
    ja = expect(me(srv, bearer(new_token(srv, a)[1])), 200).json()
    jb = expect(me(srv, bearer(new_token(srv, b)[1])), 200).json()
    ja.pop("name"), jb.pop("name")
    assert ja == jb, "admin-added %r vs registered %r" % (ja, jb)
