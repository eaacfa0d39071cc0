"""Hostile text (issue 12, items 1, 7, 9, 10d): bytes that are not UTF-8,
NUL, control characters and escape sequences, raw or percent-encoded, in
paths, ids, names and bodies.  The server never dies of them, every reply
is valid UTF-8 in the format asked for, cut on a character boundary;
logs and the admin's terminal get no raw control byte; the link checker
answers every input line in order and charges unknown ids to the same
per-address budget as every other lookup."""

import json
import os
import re

from harness import expect, rand_bytes, wait_until, Server

PW = "hostile password 1"
CONFIG = """\
[abuse]
unknown_ids_per_minute = 100000
"""

ACCEPTS = {
    "json": "application/json",
    "html": "text/html,application/xhtml+xml;q=0.9,*/*;q=0.8",
    "text": "text/plain",
}

# control characters a reply or a log line must never carry raw: C0 but
# TAB/LF/CR, DEL, and C1 (as characters: their UTF-8 is \xc2\x80..\x9f)
RAW_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\x80-\x9f]")


def healthy(srv, what):
    assert srv.alive(), "partaged died after %s; log: %s" % (what, srv.log_tail(12))
    expect(srv.get("/healthz"), 200, what="health after " + what)


def raw_request(srv, method, path, accept, extra=b"", body=b""):
    head = (method.encode() + b" " + path + b" HTTP/1.1\r\nHost: x\r\nAccept: "
            + accept.encode() + b"\r\nConnection: close\r\n" + extra)
    if body or method in ("PUT", "POST"):
        head += b"Content-Length: %d\r\n" % len(body)
    try:
        return srv.raw(head + b"\r\n" + body, method)
    except ConnectionError as e:
        raise AssertionError("%s %r (Accept %s): no reply (%s); server alive: %s; log: %s"
                             % (method, path, accept, e, srv.alive(), srv.log_tail(6)))


def check_error_body(r, fmt, what):
    """A 4xx whose body is valid UTF-8, one line, in the format asked for."""
    assert 400 <= r.status < 500, "%s: expected a 4xx, got %r" % (what, r)
    if not r.body:
        return
    try:
        text = r.body.decode("utf-8")
    except UnicodeDecodeError as e:
        raise AssertionError("%s: body is not valid UTF-8 (%s): %r" % (what, e, r.body[:300]))
    ctype = r.header("Content-Type", "")
    if fmt == "json" and ctype.startswith("application/json"):
        j = json.loads(text)
        assert j.get("status") == r.status, (what, j)
        assert "\n" not in j["error"] and not RAW_CONTROL.search(j["error"]), (what, j)
        assert len(j["error"].encode()) <= 511, (what, len(j["error"].encode()))
    elif fmt == "html" and ctype.startswith("text/html"):
        # the page's own scripts (/static/*.js) aside, no script tag
        own = re.sub(r'<script src="/static/[a-z0-9-]+\.js"></script>', "", text)
        assert "<script" not in own.lower() or "&lt;script" in own, (what, text[:300])
        assert not RAW_CONTROL.search(text), (what, text[:300])
    elif ctype.startswith("text/plain"):
        assert text.count("\n") <= 1 and not RAW_CONTROL.search(text), (what, text[:300])
        assert len(text.encode()) <= 512, (what, len(text.encode()))


# paths as sent on the wire: raw bytes and percent-encoded ones
HOSTILE_PATHS = [
    b"/x/\xff", b"/a/b/c/\xff", b"/\xff", b"/\xff\xfe/y", b"/api/v1/files/\xff",
    b"/api/v1/files/%ff", b"/api/v1/files/%c3%28", b"/x/%c0%af", b"/x/\xc0\xaf",
    b"/x/\xed\xa0\x80", b"/x/%00", b"/x/a%00b", b"/x/\x1b[31mred\x08\x7f",
    b"/x/\xc2\x9b2J", b"/folder/%ff", b"/folder/\xff/x.zip", b"/static/\xff",
    b"/ZZZZZZZZZZZZ/%ff", b"/ZZZZZZZZZZZZ/\xf0\x9f\x98", b"/api/v1/uploads/\xff",
    b"/api/v1/folders/%ff",
]


def test_hostile_paths_every_format(srv):
    for path in HOSTILE_PATHS:
        for method in ("GET", "HEAD", "DELETE"):
            for fmt, accept in ACCEPTS.items():
                what = "%s %r Accept %s" % (method, path, fmt)
                r = raw_request(srv, method, path, accept)
                check_error_body(r, fmt, what)
        healthy(srv, "requests for %r" % path)


def test_put_hostile_names(srv):
    for path in (b"/%ff", b"/\xff", b"/%c3%28.txt", b"/a%00b", b"/%e2%82", b"/\xf0\x9f\x98.bin"):
        for fmt, accept in ACCEPTS.items():
            r = raw_request(srv, "PUT", path, accept, body=b"data")
            what = "PUT %r Accept %s" % (path, fmt)
            if r.status == 201:
                # a name that is cleaned rather than refused: the reply is still text
                r.body.decode("utf-8")
                continue
            check_error_body(r, fmt, what)
    healthy(srv, "PUTs with hostile names")


def _user(srv):
    name = "h_%s" % os.urandom(4).hex()
    body = json.dumps({"name": name, "password": PW}).encode()
    expect(srv.request("POST", "/api/v1/users", body=body,
                       headers={"Content-Type": "application/json"}), 201)
    r = expect(srv.request("POST", "/api/v1/tokens", body=body,
                           headers={"Content-Type": "application/json"}), 201)
    return "Bearer " + r.json()["token"]


def test_logged_in_hostile_ids(srv):
    """DELETE /api/v1/tokens/%ff: a pure-ASCII request line whose decoded
    segment is echoed in the message."""
    auth = _user(srv)
    extra = b"Authorization: " + auth.encode() + b"\r\n"
    for seg in (b"%ff", b"%c3%28", b"%ed%a0%80", b"%f0%9f%98", b"%1b%5b2J", b"%00", b"\xff",
                b"%c2%85x"):
        for fmt, accept in ACCEPTS.items():
            what = "DELETE /api/v1/tokens/%r Accept %s" % (seg, fmt)
            r = raw_request(srv, "DELETE", b"/api/v1/tokens/" + seg, accept, extra)
            check_error_body(r, fmt, what)
        r = raw_request(srv, "GET", b"/api/v1/files/" + seg, "application/json", extra)
        check_error_body(r, "json", "GET /api/v1/files/%r" % seg)
        # a query value: 404 no such folder (%00 reads as "no folder": 200)
        r = raw_request(srv, "GET", b"/api/v1/me/files?folder=" + seg, "application/json", extra)
        if r.status != 200:
            check_error_body(r, "json", "GET /api/v1/me/files?folder=%r" % seg)
        r.body.decode("utf-8")
    healthy(srv, "a logged-in user's hostile ids")


def test_message_cut_on_a_character_boundary(srv):
    """A message cut to its length limit never cuts a UTF-8 sequence: every
    alignment of 4-byte characters against the limit."""
    for pad in (1, 2, 3, 0):
        path = b"/x/" + b"a" * pad + "\U0001F600".encode() * 200
        for fmt in ("json", "text", "html"):
            r = raw_request(srv, "GET", path, ACCEPTS[fmt])
            what = "GET /x/%s+200 emoji Accept %s" % ("a" * pad, fmt)
            expect(r, 404, what=what)
            check_error_body(r, fmt, what)
            if fmt == "json":
                msg = r.json()["error"]
                assert "\U0001F600" in msg and msg.endswith("\u2026"), (what, msg[-20:])
    healthy(srv, "long messages")


# ---------------------------------------------------------------- checker

def check(srv, body, **hdr):
    return srv.request("POST", "/api/v1/check", body=body, headers=hdr or None)


def test_check_answers_every_line_in_order(srv):
    o = srv.upload("alive.bin", rand_bytes(50))
    lines = [
        o["id"].encode(),
        b"\xff\xfe",
        b"abc\x00def",
        b"\x1b[31mred\x07",
        o["url"].encode(),
        b"   ",                       # blank after trimming: no result
        b"Zz0000000000",
        b"%ff",
        "caf\u00e9 \u202egnp.exe".encode(),
        b"\xc0\xaf",
        b"\xf0\x9f\x98",
        b"http://x/" + o["id"].encode() + b"/\xff\xfe",
        b"",                          # empty: no result
        b"last",
    ]
    r = expect(check(srv, b"\n".join(lines)), 200)
    res = r.json()["results"]
    want = ["alive", "unknown", "unknown", "unknown", "alive", "unknown", "unknown",
            "unknown", "unknown", "unknown", "alive", "unknown"]
    assert [x["status"] for x in res] == want, \
        "results do not match the input lines: %r" % [(x["id"], x["status"]) for x in res]
    assert res[0]["id"] == o["id"] and res[4]["id"] == o["id"] and res[10]["id"] == o["id"]
    assert res[5]["id"] == "Zz0000000000" and res[-1]["id"] == "last"
    for x in res:
        assert not RAW_CONTROL.search(x["id"]) and "\u202e" not in x["id"], x
    assert res[1]["id"] == "\\xff\\xfe" and res[2]["id"] == "abc\\x00def", res[1:3]
    # CRLF lines are the same lines
    r = expect(check(srv, b"\r\n".join([o["id"].encode(), b"\xff", b"x"]) + b"\r\n"), 200)
    assert [x["status"] for x in r.json()["results"]] == ["alive", "unknown", "unknown"], r.json()
    # a JSON array: every element a result, in order; anything but strings is 400
    arr = [o["id"], "", "\u0085\u2028x", "Zz0000000001", o["download_url"]]
    r = expect(check(srv, json.dumps(arr).encode(), **{"Content-Type": "application/json"}), 200)
    assert [x["status"] for x in r.json()["results"]] == \
        ["alive", "unknown", "unknown", "unknown", "alive"], r.json()
    expect(check(srv, json.dumps([o["id"], 5]).encode()), 400)
    expect(check(srv, b"[\"\xff\"]"), 400)
    healthy(srv, "hostile link checks")


def test_check_body_is_not_cut_silently(srv):
    # 1000 lines of 300 bytes: past the body limit, refused whole rather
    # than answered for the lines that fitted
    body = b"\n".join(b"Zz%010d" % i + b"/" + b"n" * 286 for i in range(1000))
    assert len(body) > 256 * 1024
    r = check(srv, body)
    assert r.status == 413 or (r.status == 200 and len(r.json()["results"]) == 1000), \
        "a %d-byte check: %r" % (len(body), r)


def test_check_charges_the_unknown_id_budget():
    with Server("[abuse]\nunknown_ids_per_minute = 5\n", name="budget") as s:
        o = s.upload("known.bin", rand_bytes(10))
        lines = [o["id"]] + ["Zz%010d" % i for i in range(8)] + [o["id"]]
        r = expect(check(s, "\n".join(lines).encode()), 200)
        st = [x["status"] for x in r.json()["results"]]
        assert st == ["alive"] + ["unknown"] * 5 + ["unchecked"] * 4, \
            "10 lines with 8 unknown ids and a budget of 5: %r" % st
        assert int(r.header("Retry-After", "0")) > 0, r.headers
        assert r.json().get("retry_after", 0) > 0, r.json()
        unchecked = r.json()["results"][6:]
        assert all(set(x) == {"id", "status"} for x in unchecked), unchecked
        # the budget is spent for every route
        r = expect(s.get("/api/v1/files/Zz0000009999"), 429, what="a lookup after the check")
        assert r.header("Retry-After"), r.headers
        r = expect(check(s, b"Zz0000009998\n" + o["id"].encode()), 429,
                   what="a check whose first id is unknown, budget spent")
        assert r.header("Retry-After"), r.headers
        # known ids cost nothing and still answer
        r = expect(check(s, o["id"].encode()), 200)
        assert r.json()["results"][0]["status"] == "alive"
        expect(s.get("/api/v1/files/" + o["id"]), 200)


def test_direct_lookups_charge_the_checker_budget():
    with Server("[abuse]\nunknown_ids_per_minute = 5\n", name="budget2") as s:
        codes = [s.get("/api/v1/folders/Zz%010d" % i).status for i in range(3)]
        codes += [s.get("/folder/Zz%010d" % i).status for i in range(3, 5)]
        assert codes == [404] * 5, codes
        expect(s.get("/api/v1/folders/Zz0000000099"), 429, what="the 6th unknown folder")
        r = expect(check(s, b"Zz0000000100"), 429, what="a check after 5 unknown folders")
        assert r.header("Retry-After")


# ------------------------------------------------------------ logs, terminal

def test_admin_reports_list_has_no_raw_controls(srv):
    o = srv.upload("reported.bin", rand_bytes(40))
    text = "line one\nFAKE\treport\x1b[2J\x1b]0;pwned\x07 \u009b31m \u202eevil\r\\x1b"
    body = json.dumps({"id": o["id"], "category": "abuse", "text": text,
                       "contact": "\x1b[31mred@example.org\n"}).encode()
    r = expect(srv.request("POST", "/api/v1/reports", body=body,
                           headers={"Content-Type": "application/json"}), 201)
    rid = r.json()["id"]
    for args in (("reports", "list"), ("reports", "show", rid), ("audit",)):
        a = srv.admin(*args)
        assert a.returncode == 0, (args, a.stderr)
        out = a.stdout
        assert not RAW_CONTROL.search(out.replace("\t", "").replace("\n", "")), \
            "partaged admin %s prints raw control bytes: %r" % (" ".join(args), out[-400:])
        assert "\u202e" not in out and "\r" not in out, out[-400:]
        if args[1:2] == ("list",):
            line = [l for l in out.splitlines() if l.startswith(rid)]
            assert len(line) == 1, "the report is not one line: %r" % out[-600:]
            assert len(line[0].split("\t")) == 8, line
            assert "\\x1b[2J" in line[0] and "\\\\x1b" in line[0], line[0]
        if args[1:2] == ("show",):
            assert len(out.splitlines()) == 8, out


def test_access_log_has_no_raw_controls(srv):
    marker = os.urandom(4).hex().encode()
    path = b"/x/" + marker + b"\x1b[2J\x08\x7f\x0b\xff\"q\xc2\x9b"
    r = raw_request(srv, "GET", path, "text/plain")
    check_error_body(r, "text", "GET with control bytes")
    def logged():
        with open(srv.log_path, "rb") as f:
            return [l for l in f.read().split(b"\n") if marker in l]
    # the access log line is written when the response is done, which may
    # be just after the client has read it
    lines = wait_until(logged)
    assert lines, "no log line for the request"
    for l in lines:
        text = l.decode("utf-8")  # valid UTF-8
        assert not RAW_CONTROL.search(text), "raw control bytes in the log: %r" % l
        assert "\\x1b[2J" in text and '\\"q' in text, text
