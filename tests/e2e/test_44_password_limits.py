"""Password guessing: wrong link passwords limited per link and address,
per address and per link (sparing addresses that gave the right one);
failed logins limited per name and address and per address, never per
name alone, so a guesser cannot lock the owner out; and every Argon2id
hash in a bounded queue (503 at once beyond it) that never holds the
threads that serve other requests."""

import http.client
import json
import os
import threading
import time
import urllib.parse

from harness import expect, rand_bytes, Resp, Server, HTTP_TIMEOUT

CONFIG = ""
LINK_PW = "open sesame 44"
PW = "correct horse 44"
_seq = [0]


def uname(prefix="u"):
    _seq[0] += 1
    return "%s%d_%s" % (prefix, _seq[0], os.urandom(3).hex())


def req(srv, method, path, body=None, headers=None, source="127.0.0.1", timeout=HTTP_TIMEOUT):
    """One request on a new connection from a loopback source address (the
    server keys its limits on the client's address)."""
    conn = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=timeout,
                                      source_address=(source, 0))
    try:
        hdrs = dict(headers or {})
        if body is not None:
            hdrs.setdefault("Content-Length", str(len(body)))
        conn.request(method, path, body=body, headers=hdrs)
        resp = conn.getresponse()
        return Resp(resp.status, resp.reason, resp.msg, resp.read())
    finally:
        conn.close()


def jpost(srv, path, obj, source="127.0.0.1"):
    return req(srv, "POST", path, json.dumps(obj).encode(),
               {"Content-Type": "application/json", "Accept": "application/json"}, source)


def locked_link(srv, data=None, pw=LINK_PW):
    data = data if data is not None else rand_bytes(3000)
    obj = srv.upload("locked.bin", data, {"X-Partage-Password": pw})
    return obj, data


def with_pw(path, pw):
    return path + "?password=" + urllib.parse.quote(pw, safe="")


def retry_after(r):
    ra = r.header("Retry-After")
    assert ra and ra.isdigit() and int(ra) >= 1, "429 without a Retry-After: %r" % (r.headers,)
    return int(ra)


def one_line(r):
    assert r.text.strip() and "\n" not in r.text.strip(), "not a one-line reason: %r" % r.body[:300]


# ------------------------------------------------------- link passwords

def test_link_password_guesses_limited_per_address(srv):
    """100 wrong passwords then the right one from one address: 429, and
    the password is not even checked; the right one from another address
    still downloads (only failures count, per address)."""
    obj, data = locked_link(srv)
    p = srv.dl_path(obj)
    t0 = time.monotonic()
    statuses = []
    for i in range(100):
        r = req(srv, "GET", with_pw(p, "wrong %d" % i), source="127.0.0.2")
        statuses.append(r.status)
        if i >= 5:
            assert r.status == 429, "wrong password %d from one address: %r (want 429 after 5)" % (i + 1, r)
    assert statuses[:5] == [401] * 5, statuses[:5]
    r = req(srv, "GET", with_pw(p, LINK_PW), source="127.0.0.2")
    expect(r, 429, what="the right password after 100 wrong ones from the same address")
    assert retry_after(r) <= 60
    one_line(r)
    assert "wrong passwords" in r.text, r.text
    # the header form of the curl path is the same attempt
    r = req(srv, "GET", p, headers={"X-Partage-Password": LINK_PW}, source="127.0.0.2")
    expect(r, 429, what="X-Partage-Password from the limited address")
    # 95 refusals without Argon2id are quick (generous: a shared machine)
    assert time.monotonic() - t0 < 30, "100 guesses took %.1f s" % (time.monotonic() - t0)
    # other addresses: the right password works, a wrong one is a 401
    g = expect(req(srv, "GET", with_pw(p, LINK_PW), source="127.0.0.3"), 200,
               what="the right password from another address")
    assert g.body == data
    g = expect(req(srv, "GET", p, headers={"X-Partage-Password": LINK_PW}, source="127.0.0.1"), 200)
    assert g.body == data
    expect(req(srv, "GET", with_pw(p, "nope"), source="127.0.0.3"), 401, what="a wrong one elsewhere")


def test_link_password_form_limited_like_the_curl_path(srv):
    """The download page's password form (?password= with Accept:
    text/html) counts against the same budget and answers 429 past it."""
    obj, data = locked_link(srv)
    page = "/" + obj["id"]
    html = {"Accept": "text/html"}
    for i in range(5):
        r = req(srv, "GET", with_pw(page, "bad %d" % i), headers=html, source="127.0.0.4")
        expect(r, 401, what="wrong password %d in the form" % (i + 1))
        assert b"<form" in r.body or b"<html" in r.body.lower(), r.body[:200]
    r = req(srv, "GET", with_pw(page, LINK_PW), headers=html, source="127.0.0.4")
    expect(r, 429, what="the right password in the form after 5 wrong ones")
    retry_after(r)
    # one budget for both paths: the curl path from that address is limited too
    expect(req(srv, "GET", with_pw(srv.dl_path(obj), LINK_PW), source="127.0.0.4"), 429,
           what="the curl path after 5 wrong ones in the form")
    r = req(srv, "GET", with_pw(page, LINK_PW), headers=html, source="127.0.0.5")
    expect(r, 200, what="the form's right password from another address")
    assert obj["id"].encode() in r.body


def test_link_password_limits_per_link_and_per_address():
    """Per link across addresses: guessers on many addresses use it up,
    after which only addresses that gave the right password lately may
    try; per address across links."""
    cfg = ("[abuse]\nlink_password_failures = 100\nlink_password_failures_per_link = 4\n"
           "link_password_failures_per_address = 6\n")
    with Server(cfg, name="linkpw-wide") as s:
        obj, data = locked_link(s)
        p = s.dl_path(obj)
        # an audience member who already has the password
        expect(req(s, "GET", with_pw(p, LINK_PW), source="127.0.0.9"), 200)
        for i in range(4):
            expect(req(s, "GET", with_pw(p, "g%d" % i), source="127.0.0.%d" % (10 + i)), 401)
        r = expect(req(s, "GET", with_pw(p, "g4"), source="127.0.0.14"), 429,
                   what="a fifth guesser after 4 failures on the link")
        retry_after(r)
        expect(req(s, "GET", with_pw(p, LINK_PW), source="127.0.0.15"), 429,
               what="a new address, even with the right password, while the link is under attack")
        g = expect(req(s, "GET", with_pw(p, LINK_PW), source="127.0.0.9"), 200,
                   what="the address that gave the right password before")
        assert g.body == data
        # per address: 6 wrong passwords over 6 links, then a 7th link
        links = [locked_link(s)[0] for _ in range(7)]
        for o in links[:6]:
            expect(req(s, "GET", with_pw(s.dl_path(o), "x"), source="127.0.0.20"), 401)
        r = expect(req(s, "GET", with_pw(s.dl_path(links[6]), LINK_PW), source="127.0.0.20"), 429,
                   what="a 7th link from an address with 6 wrong passwords")
        retry_after(r)
        expect(req(s, "GET", with_pw(s.dl_path(links[6]), LINK_PW), source="127.0.0.21"), 200)


# --------------------------------------------------------------- logins

def test_login_guesses_do_not_lock_the_owner_out(srv):
    name = uname("ann")
    expect(jpost(srv, "/api/v1/users", {"name": name, "password": PW}), 201)
    for i in range(12):
        r = jpost(srv, "/api/v1/sessions", {"name": name, "password": "guess %d" % i}, source="127.0.0.2")
        expect(r, 401 if i < 10 else 429, what="failed login %d from the attacker" % (i + 1))
    r = expect(jpost(srv, "/api/v1/sessions", {"name": name, "password": PW}, source="127.0.0.2"), 429,
               what="the right password from the attacker's address")
    assert 0 < retry_after(r) <= 900
    expect(jpost(srv, "/api/v1/sessions", {"name": name, "password": PW}, source="127.0.0.1"), 201,
           what="the owner's right password from their own address while the attacker is refused")
    expect(jpost(srv, "/api/v1/tokens", {"name": name, "password": PW}, source="127.0.0.6"), 201,
           what="a token by password from a third address")


def test_login_distributed_guessing_spares_known_addresses():
    """Guessing one name from many addresses: past the per-name budget only
    addresses that logged in to it lately may still try."""
    with Server("[abuse]\nlogin_failures_per_name = 3\n", name="login-wide") as s:
        name = uname("bob")
        expect(jpost(s, "/api/v1/users", {"name": name, "password": PW}), 201)
        expect(jpost(s, "/api/v1/sessions", {"name": name, "password": PW}, source="127.0.0.1"), 201)
        for i in range(3):
            expect(jpost(s, "/api/v1/sessions", {"name": name, "password": "g%d" % i},
                         source="127.0.0.%d" % (30 + i)), 401)
        r = expect(jpost(s, "/api/v1/sessions", {"name": name, "password": "g3"}, source="127.0.0.33"), 429,
                   what="a 4th guessing address")
        retry_after(r)
        expect(jpost(s, "/api/v1/sessions", {"name": name, "password": PW}, source="127.0.0.34"), 429,
               what="a new address while the name is under attack")
        expect(jpost(s, "/api/v1/sessions", {"name": name, "password": PW}, source="127.0.0.1"), 201,
               what="the owner's usual address")


# ---------------------------------------------------------- hash queue

def test_hash_queue_refuses_beyond_its_bound_and_other_requests_go_on():
    cfg = ("[server]\nthreads = 2\npassword_hash_threads = 1\npassword_hash_queue = 1\n"
           "[abuse]\nlink_password_failures = 0\nlink_password_failures_per_address = 0\n"
           "link_password_failures_per_link = 0\n")
    with Server(cfg, name="hashq") as s:
        obj, _ = locked_link(s)
        p = s.dl_path(obj)
        small = s.upload("small.txt", b"hello")
        sp = s.dl_path(small)
        results = []
        lock = threading.Lock()
        go = threading.Event()
        stop = time.monotonic() + 3.0

        def guesser(k):
            go.wait()
            while time.monotonic() < stop:
                t = time.monotonic()
                try:
                    r = req(s, "GET", with_pw(p, "wrong %d" % k), source="127.0.0.%d" % (50 + k))
                    st, ra = r.status, r.header("Retry-After")
                except Exception as e:  # noqa: BLE001
                    st, ra = repr(e), None
                with lock:
                    results.append((st, time.monotonic() - t, ra))
        ts = [threading.Thread(target=guesser, args=(k,), daemon=True) for k in range(8)]
        for t in ts:
            t.start()
        go.set()
        time.sleep(0.5)
        gets = []
        while time.monotonic() < stop - 0.3:
            t = time.monotonic()
            r = req(s, "GET", sp)
            gets.append(time.monotonic() - t)
            assert r.status == 200 and r.body == b"hello", r
            time.sleep(0.1)
        for t in ts:
            t.join(60)
        codes = [st for st, _, _ in results]
        assert all(c in (401, 503) for c in codes), sorted(set(map(str, codes)))
        busy = [(d, ra) for st, d, ra in results if st == 503]
        assert busy, "8 clients guessing at once with 1 hashing thread and 1 place in the queue: no 503 " \
                     "(%d answers, all waited for a hash)" % len(codes)
        assert all(ra and ra.isdigit() for _, ra in busy), "503 without Retry-After"
        assert codes.count(401) >= 2, "no password was checked at all: %r" % codes[:20]
        slow = max(d for d, _ in busy)
        assert slow < 2.0, "a 503 took %.2f s: it waited instead of being refused at once" % slow
        assert gets and max(gets) < 2.0, "a small GET took %.2f s during the guessing" % max(gets)


def test_ipv6_clients_are_limited_by_their_64():
    """One IPv6 subscriber has a whole /64: its addresses share one
    budget (here named by a trusted proxy's X-Forwarded-For)."""
    with Server("[server]\ntrusted_proxies = 127.0.0.1\n", name="linkpw-v6") as s:
        obj, data = locked_link(s)
        p = s.dl_path(obj)
        for i in range(5):
            xff = {"X-Forwarded-For": "2001:db8:44:1::%x" % (i + 1)}
            expect(req(s, "GET", with_pw(p, "w%d" % i), headers=xff), 401)
        r = req(s, "GET", with_pw(p, LINK_PW), headers={"X-Forwarded-For": "2001:db8:44:1:ffff::9"})
        expect(r, 429, what="a 6th address of the same /64 after 5 wrong passwords")
        retry_after(r)
        g = expect(req(s, "GET", with_pw(p, LINK_PW), headers={"X-Forwarded-For": "2001:db8:44:2::1"}), 200,
                   what="another /64")
        assert g.body == data
        # logins too: 10 failures over 10 addresses of one /64
        name = uname("v6")
        expect(jpost(s, "/api/v1/users", {"name": name, "password": PW}), 201)
        for i in range(10):
            r = req(s, "POST", "/api/v1/sessions", json.dumps({"name": name, "password": "g%d" % i}).encode(),
                    {"Content-Type": "application/json", "X-Forwarded-For": "2001:db8:45:1::%x" % (i + 1)})
            expect(r, 401)
        r = req(s, "POST", "/api/v1/sessions", json.dumps({"name": name, "password": PW}).encode(),
                {"Content-Type": "application/json", "X-Forwarded-For": "2001:db8:45:1::abc"})
        expect(r, 429, what="an 11th address of the same /64")
        r = req(s, "POST", "/api/v1/sessions", json.dumps({"name": name, "password": PW}).encode(),
                {"Content-Type": "application/json", "X-Forwarded-For": "2001:db8:45:7::1"})
        expect(r, 201, what="the owner from another /64")
