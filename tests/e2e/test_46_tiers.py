"""Tiers: wait tickets, the download page's wait and ticket page, download
size limits, per-tier upload limits, storage quotas (PUT, chunked,
multipart, tus), premium (admin, voucher, expiry) and direct downloads,
speed caps and one-download-at-a-time per address."""

import html
import http.client
import json
import os
import re
import time
import urllib.parse

from harness import (expect, metric_sum, multipart, rand_bytes, sha256, wait_until, HTTP_TIMEOUT,
                     Resp, Server)

K = 1024
JSON = {"Accept": "application/json"}
CONFIG = """\
[tier.anonymous]
wait_seconds = 2
speed_bytes_per_second = 0
parallel_downloads = 0
max_download_bytes = 256K
max_upload_bytes = 1M
[tier.free]
wait_seconds = 3
speed_bytes_per_second = 0
parallel_downloads = 0
max_download_bytes = 0
max_upload_bytes = 200K
storage_quota_bytes = 300K
[tier.premium]
wait_seconds = 0
speed_bytes_per_second = 0
parallel_downloads = 0
max_download_bytes = 0
max_upload_bytes = 0
storage_quota_bytes = 0
"""
# the speed-cap server: 256 KiB/s and one download at a time per address
CAP = 256 * K
CAP_CONFIG = """\
[tier.anonymous]
wait_seconds = 0
speed_bytes_per_second = 256K
parallel_downloads = 1
[tier.premium]
wait_seconds = 0
speed_bytes_per_second = 0
parallel_downloads = 0
"""
PW = "tier password"
_seq = [0]


# ----------------------------------------------------------------- helpers

def req(srv, method, path, obj=None, headers=None, source=None, body=None):
    """A request (JSON body for obj), optionally from another loopback
    source address: tickets and download slots belong to an address."""
    if obj is not None:
        body = json.dumps(obj).encode()
    hdrs = dict(headers or {})
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


def new_user(srv, tier="free"):
    """A registered user (made premium by the admin command if asked);
    returns (name, Authorization headers)."""
    _seq[0] += 1
    name = "t%d_%s" % (_seq[0], os.urandom(3).hex())
    expect(req(srv, "POST", "/api/v1/users", {"name": name, "password": PW}), 201, what="register")
    r = expect(req(srv, "POST", "/api/v1/tokens", {"name": name, "password": PW}), 201, what="token")
    auth = {"Authorization": "Bearer " + r.json()["token"]}
    if tier == "premium":
        a = srv.admin("user", "set-tier", name, "premium")
        assert a.returncode == 0, "set-tier premium: %r" % a.stderr
    return name, auth


def me(srv, auth):
    return expect(req(srv, "GET", "/api/v1/me", headers=dict(auth, Accept="application/json")), 200,
                  what="GET /me").json()


def ticket(srv, fid, auth=None, source=None):
    r = req(srv, "POST", "/api/v1/files/%s/ticket" % fid, headers=dict(auth or {}, Accept="application/json"),
            source=source)
    expect(r, 200, 201, what="POST ticket for %s" % fid)
    j = r.json()
    for k in ("ticket", "wait", "ready_at", "url"):
        assert k in j, "ticket reply without %r: %r" % (k, j)
    return j


def path_of(url):
    u = urllib.parse.urlsplit(url)
    return u.path + ("?" + u.query if u.query else "")


def with_ticket(path, t):
    return path + "?ticket=" + urllib.parse.quote(t, safe="")


def sleep_until(t):
    d = t - time.time()
    if d > 0:
        time.sleep(d)


def retry_after(r):
    ra = r.header("Retry-After")
    assert ra is not None and ra.isdigit(), "429 without a numeric Retry-After: %r" % ra
    return int(ra)


def chunks(data, n=32 * K):
    return [data[i:i + n] for i in range(0, len(data), n)]


# ------------------------------------------------------------ wait tickets

def test_wait_ticket_flow(srv):
    data = rand_bytes(10 * K)
    o = srv.upload("wait.bin", data)
    p = srv.dl_path(o)
    # an API client (Accept: application/json) gets the ticket protocol;
    # curl, wget and aria2c are held instead (test_27, issue 14)
    r = expect(srv.get(p, JSON), 429, what="GET without a ticket")
    assert retry_after(r) == 2, "Retry-After %r, want the wait (2)" % r.header("Retry-After")
    assert "ticket" in r.text.lower(), "the 429 does not say a ticket is needed: %r" % r.text
    expect(srv.get("/" + o["id"], {"Accept": "application/json"}), 429, what="GET /{id} JSON without a ticket")
    r = expect(srv.head(p), 200, what="HEAD without a ticket")
    assert r.header("Content-Length") == str(len(data))
    expect(srv.get(with_ticket(p, ""), JSON), 429, what="an empty ticket")
    t0 = time.time()
    j = ticket(srv, o["id"])
    assert j["wait"] == 2, "ticket wait %r, want 2" % j["wait"]
    assert isinstance(j["ticket"], str) and len(j["ticket"]) >= 16, j
    assert abs(j["ready_at"] - (t0 + 2)) <= 1.5, "ready_at %r, want about now + 2 (%r)" % (j["ready_at"], t0 + 2)
    assert path_of(j["url"]) == with_ticket(p, j["ticket"]) or \
        urllib.parse.unquote(path_of(j["url"])) == p + "?ticket=" + j["ticket"], \
        "ticket url %r is not the download URL with ?ticket=" % j["url"]
    r = expect(srv.get(path_of(j["url"]), JSON), 429, what="GET with the ticket before it is ready")
    assert 1 <= retry_after(r) <= 2, "Retry-After %r, want the seconds left (1..2)" % r.header("Retry-After")
    sleep_until(j["ready_at"] + 1.05)
    r = expect(srv.get(path_of(j["url"])), 200, what="GET with the ticket once ready")
    assert r.body == data
    # the ticket also opens GET /{id} for a non-browser client
    r = expect(srv.get(with_ticket("/" + o["id"], j["ticket"]), {"Accept": "*/*"}), 200,
               what="GET /{id}?ticket= with Accept */*")
    assert r.body == data
    # tickets for unknown and deleted files
    expect(req(srv, "POST", "/api/v1/files/ZZZZZZZZZZZZ/ticket", headers={"Accept": "application/json"}), 404)
    gone = srv.upload("gone.bin", b"gone\n")
    expect(srv.delete("/" + gone["id"], {"X-Delete-Token": gone["delete_token"]}), 204)
    expect(req(srv, "POST", "/api/v1/files/%s/ticket" % gone["id"], headers={"Accept": "application/json"}), 410)


def test_ticket_refusals(srv):
    a = srv.upload("a.bin", rand_bytes(5000))
    b = srv.upload("b.bin", rand_bytes(5000))
    ja = ticket(srv, a["id"])
    jb = ticket(srv, b["id"])
    ta = ja["ticket"]
    sleep_until(max(ja["ready_at"], jb["ready_at"]) + 1.05)
    pa, pb = srv.dl_path(a), srv.dl_path(b)
    expect(srv.get(with_ticket(pb, ta)), 429, what="file a's ticket on file b")
    expect(srv.get(with_ticket("/" + b["id"], ta), {"Accept": "*/*"}), 429, what="a's ticket on GET /{b}")
    parts = ta.split(".")
    forged = ["x", "1.2.3", "AAAA", "%d.0.%s" % (int(time.time()) - 100, "A" * 43), ta[:-2],
              ta[:-1] + ("A" if ta[-1] != "A" else "B"), ta + "A"]
    if len(parts) == 3 and parts[0].isdigit() and parts[1].isdigit():
        forged += [".".join([parts[0], "0", parts[2]]),                 # no wait
                   ".".join([str(int(parts[0]) - 60), parts[1], parts[2]])]  # issued earlier
    for f in forged:
        r = expect(srv.get(with_ticket(pa, f)), 429, what="forged ticket %r" % f)
        assert r.header("Retry-After"), "429 without Retry-After for a forged ticket"
    # a ticket belongs to the address it was issued to
    expect(req(srv, "GET", with_ticket(pa, ta), source="127.0.0.2"), 429, what="the ticket from another address")
    # the real thing still works
    expect(srv.get(with_ticket(pa, ta)), 200, what="the right ticket")
    expect(srv.get(with_ticket(pb, jb["ticket"])), 200)


def test_ticket_survives_restart_and_expires():
    # tickets are signed with the key in DATA: a restart keeps them good;
    # a day later one is stale
    with Server(CONFIG, name="ticketclock") as s:
        o = s.upload("clock.bin", rand_bytes(3000))
        j = ticket(s, o["id"])
        sleep_until(j["ready_at"] + 1.05)
        s.restart()
        expect(s.get(path_of(j["url"])), 200, what="the ticket after a restart")
        s.restart(env={"PARTAGE_TIME_OFFSET": str(86400 + 60)})
        r = expect(s.get(path_of(j["url"])), 429, what="the ticket a day later")
        assert "ticket" in r.text.lower(), r.text


def test_page_wait_and_html_ticket(srv):
    data = rand_bytes(4000)
    o = srv.upload("page.bin", data)
    r = expect(srv.get("/" + o["id"], {"Accept": "text/html"}), 200, what="the file page")
    assert r.header("Content-Type", "").startswith("text/html"), r.header("Content-Type")
    box = re.search(r'<[^>]*\bid="download-box"[^>]*>', r.text)
    assert box, "no #download-box on the page"
    m = re.search(r'data-wait="(\d+)"', box.group(0))
    assert m and m.group(1) == "2", "#download-box data-wait: %r" % box.group(0)
    assert "/api/v1/files/%s/ticket" % o["id"] in r.text, "the page has no ticket URL"
    # a free user's page says its own wait; premium waits 0
    _n, free = new_user(srv)
    page = expect(srv.get("/" + o["id"], dict(free, Accept="text/html")), 200).text
    assert re.search(r'id="download-box"[^>]*data-wait="3"|data-wait="3"[^>]*id="download-box"', page), \
        "free user's page: %r" % re.findall(r'<[^>]*download-box[^>]*>', page)
    _n, prem = new_user(srv, "premium")
    page = expect(srv.get("/" + o["id"], dict(prem, Accept="text/html")), 200).text
    assert re.search(r'data-wait="0"', page), "premium page: %r" % re.findall(r'<[^>]*download-box[^>]*>', page)
    # the no-JavaScript ticket: an HTML page that goes to the URL at once
    # (no timed refresh, WCAG 2.2.1): a browser's early GET is held by
    # the server until the wait is over, an API client's gets 429
    r = req(srv, "POST", "/api/v1/files/%s/ticket" % o["id"],
            headers={"Accept": "text/html", "Content-Type": "application/x-www-form-urlencoded"}, body=b"")
    expect(r, 200, what="POST ticket with Accept: text/html")
    assert r.header("Content-Type", "").startswith("text/html"), r.header("Content-Type")
    m = re.search(r'<meta\s+http-equiv="?refresh"?\s+content="(\d+);\s*url=([^"]+)"', r.text, re.I)
    assert m, "no meta refresh in the ticket page: %r" % r.text[:400]
    assert m.group(1) == "0", "refresh after %r s, want 0 (the server holds the wait)" % m.group(1)
    url = html.unescape(m.group(2))
    assert "ticket=" in url and urllib.parse.urlsplit(url).path == srv.dl_path(o), url
    t_issued = time.time()
    expect(srv.get(path_of(url), JSON), 429, what="the refresh URL right away, from an API client")
    t0 = time.time()
    r = srv.get(path_of(url), {"Accept": "text/html"})
    assert r.status == 200 and r.body == data and time.time() - t0 >= 1.5, \
        "a browser's early GET: %r after %.2f s (the server holds it until the wait is over)" % (r, time.time() - t0)
    sleep_until(t_issued + 2.05)
    r = wait_until(lambda: (lambda x: x if x.status == 200 else None)(srv.get(path_of(url))), 1.5, 0.2)
    assert r and r.body == data, "the refresh URL after the wait: %r" % srv.get(path_of(url))


def test_free_and_premium_waits(srv):
    data = rand_bytes(6000)
    o = srv.upload("fp.bin", data)
    p = srv.dl_path(o)
    _n, free = new_user(srv)
    r = expect(srv.get(p, dict(free, **JSON)), 429, what="free user without a ticket")
    assert retry_after(r) == 3, "free tier Retry-After %r, want 3" % r.header("Retry-After")
    j = ticket(srv, o["id"], free)
    assert j["wait"] == 3, "free user's ticket wait %r, want 3" % j["wait"]
    # premium: no ticket
    _n, prem = new_user(srv, "premium")
    r = expect(srv.get(p, prem), 200, what="premium without a ticket")
    assert r.body == data
    assert ticket(srv, o["id"], prem)["wait"] == 0, "premium ticket wait is not 0"
    expect(srv.get("/" + o["id"], dict(prem, Accept="*/*")), 200, what="premium GET /{id}")
    # a voucher makes a free user premium at once
    code = srv.admin("voucher", "create", "--days", "1").stdout.strip()
    _n, vip = new_user(srv)
    expect(srv.get(p, dict(vip, **JSON)), 429)
    expect(req(srv, "POST", "/api/v1/me/redeem", {"code": code}, dict(vip, Accept="application/json")), 200)
    assert me(srv, vip)["tier"] == "premium"
    expect(srv.get(p, vip), 200, what="after redeeming a voucher")
    # the free user's ticket works once its wait is over
    sleep_until(j["ready_at"] + 1.05)
    expect(srv.get(path_of(j["url"]), free), 200, what="the free user's ticket once ready")


def test_premium_expires():
    with Server(CONFIG, name="premexp") as s:
        name, auth = new_user(s)
        a = s.admin("user", "set-tier", name, "premium", "--days", "1")
        assert a.returncode == 0, a.stderr
        o = s.upload("p.bin", rand_bytes(3000))
        expect(s.get(s.dl_path(o), auth), 200, what="premium for a day")
        s.restart(env={"PARTAGE_TIME_OFFSET": str(2 * 86400)})
        j = me(s, auth)
        assert j["tier"] == "free" and j["premium_until"] is None, "two days after 1 premium day: %r" % j
        expect(s.get(s.dl_path(o), dict(auth, **JSON)), 429, what="an expired premium user without a ticket")


def test_max_download_bytes(srv):
    big = rand_bytes(300 * K)
    edge = rand_bytes(256 * K)
    ob = srv.upload("big.bin", big)
    oe = srv.upload("edge.bin", edge)
    jb, je = ticket(srv, ob["id"]), ticket(srv, oe["id"])
    r = expect(srv.get(srv.dl_path(ob)), 403, what="300K over a 256K download limit, no ticket")
    assert "premium" in r.text.lower() or "bytes" in r.text.lower(), r.text
    expect(srv.head(srv.dl_path(ob)), 403, what="HEAD of a file over the limit")
    sleep_until(max(jb["ready_at"], je["ready_at"]) + 1.05)
    expect(srv.get(path_of(jb["url"])), 403, what="300K over the limit with a ticket")
    r = expect(srv.get(path_of(je["url"])), 200, what="exactly the limit with a ticket")
    assert r.body == edge
    _n, prem = new_user(srv, "premium")
    r = expect(srv.get(srv.dl_path(ob), prem), 200, what="premium, 300K")
    assert r.body == big
    _n, free = new_user(srv)  # the free tier has no download limit here
    expect(srv.get(srv.dl_path(ob), dict(free, **JSON)), 429, what="free user, 300K, no ticket (not 403)")


# ------------------------------------------------------------ upload limits

def test_max_upload_per_tier(srv):
    over = rand_bytes(1 * K * K + 1)
    r, _ = srv.send_upload("/over.bin", ["Content-Length: %d" % len(over)], chunks(over))
    expect(r, 413, what="anonymous, 1M + 1")
    _n, prem = new_user(srv, "premium")
    o = srv.upload("over.bin", over, prem)
    assert o["size"] == len(over)
    _n, free = new_user(srv)
    data = rand_bytes(210 * K)
    r, _ = srv.send_upload("/free-over.bin", ["Content-Length: %d" % len(data), "Authorization: " + free["Authorization"]],
                           chunks(data))
    expect(r, 413, what="free user, 210K over the 200K upload limit (quota left 300K)")
    assert me(srv, free)["used_bytes"] == 0


def test_storage_quota(srv):
    name, auth = new_user(srv)
    au = "Authorization: " + auth["Authorization"]
    j = me(srv, auth)
    assert j["quota_bytes"] == 300 * K and j["used_bytes"] == 0, j
    first = srv.upload("q1.bin", rand_bytes(150 * K), auth)
    assert me(srv, auth)["used_bytes"] == 150 * K
    before = srv.blob_files()
    over = rand_bytes(160 * K)
    # PUT with Content-Length: refused before the body (no 100 Continue)
    with srv.raw_conn() as c:
        c.send(("PUT /q-over.bin HTTP/1.1\r\nHost: x\r\n%s\r\nContent-Length: %d\r\n"
                "Expect: 100-continue\r\n\r\n" % (au, len(over))).encode())
        assert c.readable(5), "no reply to a PUT head over the quota"
        r = c.read_response("PUT", skip_interim=False)
    expect(r, 507, what="PUT head with Content-Length over the quota")
    assert "quota" in r.text.lower(), r.text
    r, _ = srv.send_upload("/q-over.bin", ["Content-Length: %d" % len(over), au], chunks(over))
    expect(r, 507, what="PUT with Content-Length over the quota")
    # chunked: refused during the body
    body = [b"%x\r\n%s\r\n" % (len(c), c) for c in chunks(over, 16 * K)] + [b"0\r\n\r\n"]
    r, _ = srv.send_upload("/q-chunked.bin", ["Transfer-Encoding: chunked", au], body)
    expect(r, 507, what="chunked PUT over the quota")
    # multipart
    mbody, ctype = multipart([("file", "q-multi.bin", over, "application/octet-stream")])
    r, _ = srv.send_upload("/api/v1/files", ["Content-Type: " + ctype, "Content-Length: %d" % len(mbody),
                                             "Accept: application/json", au], chunks(mbody), method="POST")
    expect(r, 507, what="multipart over the quota")
    # tus creation with Upload-Length
    r = srv.request("POST", "/api/v1/uploads", body=b"",
                    headers=dict(auth, **{"Tus-Resumable": "1.0.0", "Upload-Length": str(len(over))}))
    expect(r, 507, what="tus creation with Upload-Length over the quota")
    # nothing was stored
    assert srv.blob_files() == before, "a refused upload left a blob"
    assert not os.path.exists(srv.blob_path(sha256(over)))
    assert wait_until(lambda: srv.tmp_files() == [], 3), "temp files left: %r" % srv.tmp_files()
    assert me(srv, auth)["used_bytes"] == 150 * K, "a refused upload counted"
    # up to the quota exactly, then not one byte more
    srv.upload("q2.bin", rand_bytes(100 * K), auth)
    r, _ = srv.send_upload("/q3.bin", ["Content-Length: %d" % (50 * K + 1), au], chunks(rand_bytes(50 * K + 1)))
    expect(r, 507, what="1 byte over what the quota leaves")
    srv.upload("q3.bin", rand_bytes(50 * K), auth)
    assert me(srv, auth)["used_bytes"] == 300 * K
    expect(srv.put("one.bin", b"x", auth), 507, what="1 byte on a full quota")
    # anonymous uploads do not count against anybody
    srv.upload("anon.bin", rand_bytes(50 * K))
    # deleting a file frees its bytes
    expect(srv.delete("/" + first["id"], {"X-Delete-Token": first["delete_token"]}), 204)
    assert me(srv, auth)["used_bytes"] == 150 * K, "deleting 150K did not free it"
    o = srv.upload("q-over.bin", over[:150 * K], auth)
    assert me(srv, auth)["used_bytes"] == 300 * K
    assert expect(srv.file_obj(o["id"]), 200).json()["size"] == 150 * K


def test_quota_multipart_files_together(srv):
    _n, auth = new_user(srv)
    srv.upload("base.bin", rand_bytes(150 * K), auth)
    parts = [("file", "m1.bin", rand_bytes(100 * K), None), ("file", "m2.bin", rand_bytes(100 * K), None)]
    r = srv.post_files(parts, auth)
    expect(r, 507, what="two 100K parts with 150K of quota left")
    assert me(srv, auth)["used_bytes"] == 150 * K, "part of a refused multipart upload counted"
    r = expect(srv.post_files(parts[:1] + [("file", "m3.bin", rand_bytes(50 * K), None)], auth), 201,
               what="100K + 50K parts with 150K left")
    assert len(r.json()["files"]) == 2
    assert me(srv, auth)["used_bytes"] == 300 * K


def test_quota_concurrent_uploads(srv):
    # three 150K uploads at once with 300K of quota: at most two may land
    _n, auth = new_user(srv)
    au = "Authorization: " + auth["Authorization"]
    datas = [rand_bytes(150 * K) for _ in range(3)]
    conns = [srv.raw_conn(timeout=20) for _ in datas]
    try:
        for i, (c, d) in enumerate(zip(conns, datas)):
            c.send(("PUT /par%d.bin HTTP/1.1\r\nHost: x\r\n%s\r\nContent-Length: %d\r\n\r\n"
                    % (i, au, len(d))).encode())
        time.sleep(0.3)  # every head is in before any body
        statuses = []
        for c, d in zip(conns, datas):
            try:
                for ch in chunks(d):
                    if c.readable(0):
                        break
                    c.send(ch)
            except (BrokenPipeError, ConnectionResetError):
                pass
        for c in conns:
            statuses.append(c.read_response("PUT").status)
    finally:
        for c in conns:
            c.close()
    assert all(st in (201, 507) for st in statuses), statuses
    used = me(srv, auth)["used_bytes"]
    assert used <= 300 * K and statuses.count(201) <= 2, \
        "3 concurrent 150K uploads on a 300K quota: %r, used_bytes %d > quota %d" % (statuses, used, 300 * K)


def test_quota_tus_upload_counts(srv):
    _n, auth = new_user(srv)
    data = rand_bytes(40 * K)
    tus = dict(auth, **{"Tus-Resumable": "1.0.0"})
    r = expect(srv.request("POST", "/api/v1/uploads", body=b"", headers=dict(tus, **{"Upload-Length": str(len(data))})),
               201, what="tus creation")
    path = urllib.parse.urlsplit(urllib.parse.urljoin(srv.url + "/api/v1/uploads", r.header("Location"))).path
    expect(srv.request("PATCH", path, body=data,
                       headers=dict(tus, **{"Upload-Offset": "0", "Content-Type": "application/offset+octet-stream"})),
           204, what="tus PATCH")
    obj = expect(srv.get(path, {"Accept": "application/json"}), 200).json()
    assert obj["size"] == len(data)
    assert me(srv, auth)["used_bytes"] == len(data), "a tus upload by a user does not count in used_bytes"


def test_used_bytes_counts_only_live_links():
    # a link that is gone (expired, downloads used up) is not the user's
    # storage any more
    conf = CONFIG.replace("wait_seconds = 3", "wait_seconds = 0")
    with Server(conf, name="liveonly") as s:
        _n, auth = new_user(s)
        once = s.upload("once.bin", rand_bytes(10 * K), dict(auth, **{"Max-Downloads": "1"}))
        days = s.upload("days.bin", rand_bytes(20 * K), dict(auth, **{"Max-Days": "1"}))
        s.upload("keep.bin", rand_bytes(30 * K), auth)
        assert me(s, auth)["used_bytes"] == 60 * K
        expect(s.get(s.dl_path(once), auth), 200)
        expect(wait_until(lambda: (lambda r: r if r.status == 410 else None)(s.get(s.dl_path(once), auth)), 3)
               or s.get(s.dl_path(once), auth), 410, what="the used-up link")
        bad = []
        used = me(s, auth)["used_bytes"]
        if used != 50 * K:
            bad.append("used_bytes %d after a Max-Downloads: 1 link was used up, want %d" % (used, 50 * K))
        s.restart(env={"PARTAGE_TIME_OFFSET": str(2 * 86400)})
        expect(s.get(s.dl_path(days), auth), 410, what="a Max-Days: 1 link two days later")
        used = me(s, auth)["used_bytes"]
        if used != 30 * K:
            bad.append("used_bytes %d two days after a Max-Days: 1 upload, want %d" % (used, 30 * K))
        assert not bad, "; ".join(bad)


# --------------------------------------------------------- direct downloads

def test_premium_direct_downloads(srv):
    data = rand_bytes(7000)
    o = srv.upload("direct.bin", data)
    _n, prem = new_user(srv, "premium")
    h = dict(prem, Accept="text/html")
    expect(srv.get("/" + o["id"], h), 200, what="premium without direct downloads: the page")
    expect(req(srv, "PATCH", "/api/v1/me", {"direct_downloads": True}, prem), 200)
    r = expect(srv.get("/" + o["id"], h), 302, what="premium with direct downloads")
    loc = r.header("Location")
    assert loc and urllib.parse.urlsplit(loc).path == srv.dl_path(o), "Location %r, want %s" % (loc, o["download_url"])
    assert expect(srv.get(path_of(loc), prem), 200).body == data
    r = expect(srv.get("/" + o["id"], {"Accept": "text/html"}), 200, what="anonymous: the page")
    assert "download-box" in r.text
    _n, free = new_user(srv)
    expect(req(srv, "PATCH", "/api/v1/me", {"direct_downloads": True}, free), 200)
    expect(srv.get("/" + o["id"], dict(free, Accept="text/html")), 200, what="free user with direct downloads: the page")
    expect(srv.get("/ZZZZZZZZZZZZ", h), 404, what="direct downloads, unknown id")


# ------------------------------------------------ speed cap, parallel slots

class Stream:
    """A GET read at the client's pace on a raw socket."""

    def __init__(self, srv, path, source=None, headers=()):
        import socket
        self.sock = socket.socket()
        self.sock.settimeout(20)
        if source:
            self.sock.bind((source, 0))
        self.sock.connect(("127.0.0.1", srv.port))
        self.sock.sendall(("GET %s HTTP/1.1\r\nHost: x\r\n%s\r\n" % (
            path, "".join(h + "\r\n" for h in headers))).encode())
        buf = b""
        while b"\r\n\r\n" not in buf:
            c = self.sock.recv(65536)
            if not c:
                raise ConnectionError("closed before the reply head: %r" % buf)
            buf += c
        head, self.body = buf.split(b"\r\n\r\n", 1)
        self.status = int(head.split()[1])
        m = re.search(rb"(?im)^content-length:\s*(\d+)", head)
        self.length = int(m.group(1)) if m else None
        self.marks = [(time.monotonic(), len(self.body))]

    def read(self, upto):
        while len(self.body) < upto:
            c = self.sock.recv(65536)
            if not c:
                break
            self.body += c
            self.marks.append((time.monotonic(), len(self.body)))
        return self.body

    def close(self):
        self.sock.close()


def test_speed_cap_and_one_download_per_address():
    with Server(CAP_CONFIG, name="cap") as s:
        big = rand_bytes(1280 * K)
        small = rand_bytes(4 * K)
        ob, osm = s.upload("big.bin", big), s.upload("small.bin", small)
        _n, prem = new_user(s, "premium")
        t = time.monotonic()
        r = expect(s.get(s.dl_path(ob), prem), 200)
        assert r.body == big and time.monotonic() - t < 2.0, \
            "premium (no cap) took %.1fs for 1.25 MiB" % (time.monotonic() - t)
        a = Stream(s, s.dl_path(ob))
        try:
            assert a.status == 200 and a.length == len(big), (a.status, a.length)
            # while it runs: a second GET from this address is refused...
            r = expect(s.get(s.dl_path(osm)), 429, what="a second download from one address")
            assert retry_after(r) > 0
            assert "at a time" in r.text or "download" in r.text, r.text
            # ...HEAD is not a download, other addresses and premium go on
            expect(s.head(s.dl_path(osm)), 200, what="HEAD during a download")
            r = expect(req(s, "GET", s.dl_path(osm), source="127.0.0.2"), 200, what="another address")
            assert r.body == small
            expect(s.get(s.dl_path(osm), prem), 200, what="premium from the same address")
            # /metrics shows it suspended between its bursts (most of
            # the time): sampled between reads
            waiting = []
            while len(a.body) < len(big):
                n = len(a.body)
                a.read(min(n + 64 * K, len(big)))
                if len(a.body) == n:
                    break
                waiting.append(metric_sum(s.metrics(), "partage_throttled_downloads"))
            body = a.body
        finally:
            a.close()
        assert waiting and None not in waiting, "no partage_throttled_downloads in /metrics: %r" % waiting
        assert max(waiting) >= 1, "partage_throttled_downloads never above 0: %r" % waiting
        assert wait_until(lambda: metric_sum(s.metrics(), "partage_throttled_downloads") == 0, 3), \
            "partage_throttled_downloads stays above 0 after the download"
        assert body == big, "capped download: %d bytes, %s" % (len(body), "same" if body == big[:len(body)] else "wrong")
        # speed: after the first 256 KiB (the initial burst), over >= 3 s
        t0 = next(tm for tm, n in a.marks if n >= CAP)
        n0 = next(n for tm, n in a.marks if n >= CAP)
        t1, n1 = a.marks[-1]
        assert t1 - t0 >= 3.0, "the capped part took %.2fs, want >= 3 s (at 256K/s)" % (t1 - t0)
        rate = (n1 - n0) / (t1 - t0)
        assert 0.8 * CAP <= rate <= 1.2 * CAP, "measured %.0f B/s, cap %d (±20%%)" % (rate, CAP)
        total = a.marks[-1][0] - a.marks[0][0]
        assert total >= (len(big) - CAP) / CAP * 0.8, "1.25 MiB in %.2fs at a 256K cap" % total
        # the slot is free again once the download is over
        r = wait_until(lambda: (lambda x: x if x.status == 200 else None)(s.get(s.dl_path(osm))), 3)
        assert r and r.body == small, "no download after the first ended: %r" % s.get(s.dl_path(osm))


def test_back_to_back_downloads_from_one_address():
    """One download at a time per address must not refuse the next
    download of a client whose last one has all its bytes: a download
    manager fetching a queue one file after the other, each on a new
    connection, the moment the previous body is complete."""
    with Server(CAP_CONFIG, name="capseq") as s:
        small = rand_bytes(2 * K)
        o = s.upload("seq.bin", small)
        mid = s.upload("mid.bin", rand_bytes(20 * K))
        for i in range(40):
            for obj, n in ((o, 2 * K), (mid, 20 * K)):
                r = s.get(s.dl_path(obj))
                assert r.status == 200 and len(r.body) == n, \
                    "download %d of %s right after the previous one: %r" % (i, obj["name"], r)


def test_slot_released_on_disconnect():
    with Server(CAP_CONFIG, name="capdisc") as s:
        big = rand_bytes(2 * K * K)
        small = rand_bytes(2 * K)
        ob, osm = s.upload("big.bin", big), s.upload("small.bin", small)
        once = s.upload("once.bin", b"once\n", {"Max-Downloads": "1"})
        empty = s.upload("empty.bin", b"")
        expect(s.get(s.dl_path(once)), 200)
        # answers without a body (an empty file's 200 too) hold no slot
        # afterwards, not even for the moment between the client's last
        # byte and MHD's completion report (a race: repeated so that a slot
        # released only then shows)
        for _ in range(25):
            for p, h, code in ((s.dl_path(ob), {"If-None-Match": '"%s"' % sha256(big)}, 304),
                               (s.dl_path(ob), {"Range": "bytes=%d-" % (4 * K * K)}, 416),
                               (s.dl_path(once), {}, 410),
                               (s.dl_path(empty), {}, 200)):
                expect(s.get(p, h), code)
                expect(s.get(s.dl_path(osm)), 200, what="a download after a %d (%s)" % (code, p))
        for rnd in range(2):
            a = Stream(s, s.dl_path(ob))
            assert a.status == 200
            a.read(64 * K)
            expect(s.get(s.dl_path(osm)), 429, what="round %d: second download while the first runs" % rnd)
            a.close()  # mid-way
            t = time.monotonic()
            r = wait_until(lambda: (lambda x: x if x.status == 200 else None)(s.get(s.dl_path(osm))), 5, 0.1)
            assert r and r.body == small, "round %d: the slot was not released within 5 s of a disconnect: %r" % (
                rnd, s.get(s.dl_path(osm)))
            assert time.monotonic() - t < 5
        # a range download holds and releases a slot too
        a = Stream(s, s.dl_path(ob), headers=["Range: bytes=0-%d" % (K * K - 1)])
        assert a.status == 206, a.status
        expect(s.get(s.dl_path(osm)), 429, what="download while a range download runs")
        a.close()
        assert wait_until(lambda: s.get(s.dl_path(osm)).status == 200, 5, 0.1), "slot of a range GET not released"
