"""Remote uploads (issue 18): POST /api/v1/files/remote {"url": ...} makes
partaged fetch the URL itself, in the background, through the outbound
address guard.  An HTTP server in this test (Python's http.server on
127.0.0.1, which the module's config allows with net.allow) serves the
bytes: the file gets them exactly, progress shows while it arrives, the
tier's size bound and the time bound stop a transfer, a redirect to a
refused address is refused; a server without the allow refuses 127.0.0.1,
169.254.169.254, [::1] and [::ffff:127.0.0.1] with a clear error.

Webhooks (issue 18): an HTTP receiver in this test gets signed deliveries
(the test checks the HMAC) for an upload and a counted download; a
receiver that fails twice gets the event on the third attempt although
partaged is killed and started again in between; the delivery log shows
every attempt; the instance's hook from the config gets anonymous
events; refused addresses are refused at registration."""

import hashlib
import hmac
import http.server
import json
import os
import subprocess
import threading
import time
import urllib.parse

import harness
from harness import expect, rand_bytes, sha256, wait_until

LIMIT = 1024 * 1024
INSTANCE_SECRET = "instance secret 82"
CONFIG = """\
[tier.anonymous]
max_upload_bytes = 1M
remote_seconds = 2
[tier.free]
storage_quota_bytes = 500K
remote_seconds = 3
[net]
allow = 127.0.0.1/32
fetch_timeout_seconds = 60
fetch_workers = 2
[webhooks]
url = %(hook)s
secret = %(secret)s
events = upload, deleted
retry_base_seconds = 1
retry_max_seconds = 2
timeout_seconds = 2
"""
NOALLOW = """\
[net]
fetch_timeout_seconds = 2
"""

DATA = rand_bytes(300 * 1024 + 17, seed=82)
BLOCKED = rand_bytes(4096, seed=84)
BIG = rand_bytes(LIMIT + 1, seed=83)
HALF = len(DATA) // 2


class _Origin(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    release = threading.Event()  # /held: the second half waits for it

    def log_message(self, *a):
        pass

    def _send(self, status, body, headers=()):
        self.send_response(status)
        for k, v in headers:
            self.send_header(k, v)
        if body is not None:
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if body:
            self.wfile.write(body)

    hits = {}       # path -> [(headers, body, status answered)]
    fail_first = {}  # path -> how many POSTs to fail with 500
    lock = threading.Lock()

    def do_POST(self):
        n = int(self.headers.get("Content-Length", "0"))
        body = self.rfile.read(n)
        with self.lock:
            seen = self.hits.setdefault(self.path, [])
            status = 500 if len(seen) < self.fail_first.get(self.path, 0) else 200
            seen.append((dict(self.headers), body, status))
        self._send(status, b"")

    def do_GET(self):
        p = self.path
        if p == "/files/data.bin":
            self._send(200, DATA)
        elif p == "/blocked.bin":
            self._send(200, BLOCKED)
        elif p == "/big.bin":
            self._send(200, BIG)
        elif p == "/big-chunked.bin":
            # no Content-Length: only the bytes received can stop it
            self.send_response(200)
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            for i in range(0, len(BIG), 65536):
                c = BIG[i:i + 65536]
                try:
                    self.wfile.write(b"%x\r\n%s\r\n" % (len(c), c))
                except OSError:
                    return
            self.wfile.write(b"0\r\n\r\n")
        elif p == "/held.bin":
            self.send_response(200)
            self.send_header("Content-Length", str(len(DATA)))
            self.end_headers()
            self.wfile.write(DATA[:HALF])
            self.wfile.flush()
            self.release.wait(10)
            self.wfile.write(DATA[HALF:])
        elif p == "/slow.bin":
            self.send_response(200)
            self.send_header("Content-Length", "1000")
            self.end_headers()
            try:
                for _ in range(100):
                    self.wfile.write(b"x")
                    self.wfile.flush()
                    time.sleep(0.1)
            except OSError:
                pass
        elif p.startswith("/redirect?to="):
            self._send(302, b"", [("Location", p[len("/redirect?to="):])])
        elif p == "/missing":
            self._send(404, b"no\n")
        else:
            self._send(404, b"")


_ORIGIN = {}


class _Quiet(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        pass  # partaged hanging up on a refused body is the point


def origin():
    """The test's HTTP server (started once): its base URL."""
    if "url" not in _ORIGIN:
        s = _Quiet(("127.0.0.1", 0), _Origin)
        threading.Thread(target=s.serve_forever, daemon=True).start()
        _ORIGIN["srv"] = s
        _ORIGIN["url"] = "http://127.0.0.1:%d" % s.server_address[1]
    return _ORIGIN["url"]


CONFIG = CONFIG % {"hook": origin() + "/instance", "secret": INSTANCE_SECRET}


def remote(srv, url, headers=None, **extra):
    body = dict(extra, url=url)
    return srv.request("POST", "/api/v1/files/remote", body=json.dumps(body).encode(),
                       headers=dict(headers or {}, **{"Content-Type": "application/json",
                                                      "Accept": "application/json"}))


def job(srv, r):
    expect(r, 202, what="POST /api/v1/files/remote")
    j = r.json()
    assert len(j["id"]) == 24 and j["state"] in ("queued", "fetching"), j
    assert j["url"] == "%s/api/v1/files/remote/%s" % (srv.url, j["id"]), j
    assert r.header("Location") == j["url"], r.header("Location")
    return j


def poll(srv, jid, timeout=10.0):
    """The job once it is done or failed."""
    out = {}

    def finished():
        g = expect(srv.get("/api/v1/files/remote/%s" % jid, headers={"Accept": "application/json"}), 200)
        out["j"] = g.json()
        return out["j"]["state"] in ("done", "failed")
    assert wait_until(finished, timeout=timeout, interval=0.05), \
        "job %s not finished within %ss: %r" % (jid, timeout, out.get("j"))
    return out["j"]


def test_fetch_exact_bytes(srv):
    r = remote(srv, origin() + "/files/data.bin")
    j = job(srv, r)
    tok = j["delete_token"]
    assert len(tok) == 43, j
    d = poll(srv, j["id"])
    assert d["state"] == "done", d
    f = d["file"]
    assert f["sha256"] == sha256(DATA) and f["size"] == len(DATA), f
    assert f["name"] == "data.bin", f
    assert d["bytes"] == len(DATA) and d["total"] == len(DATA) and d["error"] is None, d
    assert "delete_token" not in json.dumps(d), "the job's GET hands out the delete token: %r" % d
    g = expect(srv.get("/%s/data.bin" % f["id"]), 200)
    assert hashlib.sha256(g.body).hexdigest() == sha256(DATA)
    # the delete token of the POST's reply deletes it, like any upload's
    dr = srv.request("DELETE", "/%s" % f["id"], headers={"X-Delete-Token": tok})
    expect(dr, 200, 204, what="DELETE with the remote upload's token")
    expect(srv.get("/%s/data.bin" % f["id"]), 404, 410)


def test_fetch_name_and_redirect_allowed(srv):
    r = remote(srv, origin() + "/redirect?to=/files/data.bin", name="given.bin", max_downloads=3)
    d = poll(srv, job(srv, r)["id"])
    assert d["state"] == "done", d
    assert d["file"]["name"] == "given.bin" and d["file"]["max_downloads"] == 3, d
    assert d["file"]["sha256"] == sha256(DATA), d


def test_progress_visible(srv):
    _Origin.release.clear()
    j = job(srv, remote(srv, origin() + "/held.bin"))
    seen = {}

    def half():
        g = srv.get("/api/v1/files/remote/%s" % j["id"], headers={"Accept": "application/json"}).json()
        seen["j"] = g
        return g["state"] == "fetching" and g["bytes"] >= HALF
    try:
        assert wait_until(half, timeout=10), "no progress seen: %r" % seen.get("j")
    finally:
        _Origin.release.set()
    assert seen["j"]["total"] == len(DATA) and seen["j"]["bytes"] < len(DATA), seen
    d = poll(srv, j["id"])
    assert d["state"] == "done" and d["file"]["sha256"] == sha256(DATA), d


def test_too_big_by_tier(srv):
    for path in ("/big.bin", "/big-chunked.bin"):
        d = poll(srv, job(srv, remote(srv, origin() + path))["id"])
        assert d["state"] == "failed" and d["status"] == 413, (path, d)
        assert "exceeds the upload limit of %d bytes" % LIMIT in d["error"], (path, d)
        assert d["file"] is None, d


def test_time_bound(srv):
    # by tier (remote_seconds), under the server's ceiling (60 s here)
    t0 = time.monotonic()
    d = poll(srv, job(srv, remote(srv, origin() + "/slow.bin"))["id"], timeout=15)
    took = time.monotonic() - t0
    assert d["state"] == "failed" and d["status"] == 504, d
    assert "longer than 2 seconds" in d["error"], d
    assert took < 6, "the 2 s bound took %.1f s" % took
    auth = new_user(srv)
    t0 = time.monotonic()
    d = poll(srv, job(srv, remote(srv, origin() + "/slow.bin", headers=auth))["id"], timeout=15)
    took = time.monotonic() - t0
    assert d["state"] == "failed" and d["status"] == 504 and "longer than 3 seconds" in d["error"], d
    assert 2.5 < took < 8, "the free tier's 3 s bound took %.1f s" % took


def test_redirect_to_refused_address(srv):
    port = _ORIGIN["srv"].server_address[1]
    for to, addr, why in (("http://169.254.169.254/latest/meta-data/", "169.254.169.254", "cloud metadata"),
                          ("http://127.0.0.2:%d/files/data.bin" % port, "127.0.0.2", "loopback"),
                          ("http://[::1]:%d/files/data.bin" % port, "::1", "loopback")):
        d = poll(srv, job(srv, remote(srv, origin() + "/redirect?to=" + to))["id"])
        assert d["state"] == "failed" and d["status"] == 403, (to, d)
        assert "refused address %s (%s)" % (addr, why) in d["error"], (to, d)


def test_bad_requests(srv):
    for body, code in ((b"{}", 400), (b"not json", 400), (b'{"url": 5}', 400),
                       (json.dumps({"url": "ftp://example.com/x"}).encode(), 400),
                       (json.dumps({"url": "file:///etc/passwd"}).encode(), 400),
                       (json.dumps({"url": "http://u:p@example.com/"}).encode(), 400),
                       (json.dumps({"url": "http://example.com/a b"}).encode(), 400),
                       (json.dumps({"url": origin() + "/x", "max_days": 0}).encode(), 400)):
        r = srv.request("POST", "/api/v1/files/remote", body=body,
                        headers={"Content-Type": "application/json", "Accept": "application/json"})
        expect(r, code, what=body.decode())
        assert r.json()["error"], r.body
    expect(srv.get("/api/v1/files/remote/%s" % ("x" * 24)), 404)
    d = poll(srv, job(srv, remote(srv, origin() + "/missing"))["id"])
    assert d["state"] == "failed" and d["status"] == 502 and "answered 404" in d["error"], d


def test_refused_without_allow():
    with harness.Server(NOALLOW, name="noallow") as s:
        for url, addr, why in (("http://127.0.0.1:1/x", "127.0.0.1", "loopback"),
                               ("http://169.254.169.254/latest/meta-data/", "169.254.169.254",
                                "cloud metadata"),
                               ("http://[::1]:1/x", "[::1]", "loopback"),
                               ("http://[::ffff:127.0.0.1]:1/x", "[::ffff:127.0.0.1]", "loopback"),
                               ("http://[::ffff:a9fe:a9fe]/", "[::ffff:a9fe:a9fe]", "cloud metadata")):
            r = remote(s, url)
            expect(r, 403, what=url)
            e = r.json()["error"]
            assert "refused address %s (%s)" % (addr, why) in e, (url, e)
        # a name that resolves to the loopback: refused at connect time
        d = poll(s, job(s, remote(s, origin().replace("127.0.0.1", "localhost") + "/files/data.bin"))["id"])
        assert d["state"] == "failed" and d["status"] == 403, d
        assert "refused address" in d["error"] and "(loopback)" in d["error"], d


def test_cli_remote(srv, tmp):
    r = harness.run_partage(srv.url, tmp, "remote", origin() + "/files/data.bin")
    assert r.returncode == 0, r
    out = r.stdout.decode()
    fid = out.strip().splitlines()[-1].rsplit("/", 1)[-1]
    g = expect(srv.get("/%s/data.bin" % fid), 200)
    assert g.body == DATA
    assert "delete token: " in r.stderr.decode(), r.stderr
    # a refused fetch: exit 1 and the server's reason
    r = harness.run_partage(srv.url, tmp, "remote", origin() + "/big.bin")
    assert r.returncode == 1, r
    assert "exceeds the upload limit" in r.stderr.decode(), r.stderr


def test_upload_page_has_the_url_field(srv):
    page = expect(srv.get("/", headers={"Accept": "text/html"}), 200).text
    assert 'id="remote-url"' in page and "/static/remote.js" in page, page[:2000]
    js = expect(srv.get("/static/remote.js"), 200)
    assert b"/api/v1/files/remote" in js.body and "javascript" in js.header("Content-Type", "")


def new_user(srv, name=None):
    name = name or "r%s" % os.urandom(4).hex()
    js = {"Content-Type": "application/json"}
    body = json.dumps({"name": name, "password": "remote password 1"}).encode()
    expect(srv.request("POST", "/api/v1/users", body=body, headers=js), 201, what="register")
    r = expect(srv.request("POST", "/api/v1/tokens", body=body, headers=js), 201, what="token")
    return {"Authorization": "Bearer " + r.json()["token"]}


def test_owner_and_quota(srv):
    auth = new_user(srv)
    hdrs = dict(auth, **{"Content-Type": "application/json", "Accept": "application/json"})
    r = srv.request("POST", "/api/v1/files/remote",
                    body=json.dumps({"url": origin() + "/files/data.bin"}).encode(), headers=hdrs)
    d = poll(srv, job(srv, r)["id"])
    assert d["state"] == "done", d
    mine = expect(srv.get("/api/v1/me/files", headers=auth), 200).json()
    ids = [f["id"] for f in mine.get("files", mine if isinstance(mine, list) else [])]
    assert d["file"]["id"] in ids, "the fetched file is not the account's: %r" % mine
    # 300 KiB of a 500 KiB quota used: the same again does not fit (507)
    r = srv.request("POST", "/api/v1/files/remote",
                    body=json.dumps({"url": origin() + "/files/data.bin"}).encode(), headers=hdrs)
    d = poll(srv, job(srv, r)["id"])
    assert d["state"] == "failed" and d["status"] == 507, d
    assert "quota" in d["error"], d


def test_blocklist(srv, tmp):
    path = os.path.join(tmp, "block.txt")
    with open(path, "w") as f:
        f.write(sha256(BLOCKED) + "\n")
    a = srv.admin("blocklist", "import", path)
    assert a.returncode == 0, a.stderr
    d = poll(srv, job(srv, remote(srv, origin() + "/blocked.bin"))["id"])
    assert d["state"] == "failed" and d["status"] == 451, d
    assert "removed" in d["error"] and d["file"] is None, d


# ---- webhooks ----

def hits(path):
    with _Origin.lock:
        return list(_Origin.hits.get(path, []))


def check_signature(headers, body, secret):
    sig = headers.get("Partage-Signature", "")
    parts = dict(p.split("=", 1) for p in sig.split(",") if "=" in p)
    assert "t" in parts and "v1" in parts, "Partage-Signature %r" % sig
    assert abs(int(parts["t"]) - time.time()) < 60, sig
    want = hmac.new(secret.encode(), parts["t"].encode() + b"." + body, hashlib.sha256).hexdigest()
    assert hmac.compare_digest(want, parts["v1"]), "bad signature %r for %r" % (sig, body[:200])
    return json.loads(body)


def add_hook(srv, auth, path, events=None, code=201):
    body = {"url": origin() + path}
    if events is not None:
        body["events"] = events
    r = srv.request("POST", "/api/v1/webhooks", body=json.dumps(body).encode(),
                    headers=dict(auth, **{"Content-Type": "application/json", "Accept": "application/json"}))
    expect(r, code, what="POST /api/v1/webhooks %r" % body)
    return r.json()


def events_at(path, event, n=1, timeout=10):
    out = {}

    def enough():
        got = [h for h in hits(path) if h[0].get("Partage-Event") == event]
        out["h"] = got
        return len(got) >= n
    assert wait_until(enough, timeout=timeout, interval=0.05), \
        "%d %r event(s) at %s within %ss; got %r" % (n, event, path, timeout,
                                                   [(h[0].get("Partage-Event"), h[2]) for h in hits(path)])
    return out["h"]


def test_webhook_signed_upload_and_download(srv):
    auth = new_user(srv)
    hook = add_hook(srv, auth, "/hook/a", ["upload", "download"])
    assert hook["secret"].startswith("whsec_") and hook["events"] == ["upload", "download"], hook
    listed = expect(srv.get("/api/v1/webhooks", headers=auth), 200).json()["webhooks"]
    assert [h["id"] for h in listed] == [hook["id"]] and "secret" not in listed[0], listed
    data = rand_bytes(5000, seed=85)
    r = expect(srv.put("hooked.bin", data, headers=dict(auth, Accept="application/json")), 201)
    fid = r.json()["id"]
    (hdrs, body, _), = events_at("/hook/a", "upload")
    ev = check_signature(hdrs, body, hook["secret"])
    assert ev["event"] == "upload" and ev["file"]["id"] == fid, ev
    assert ev["file"]["sha256"] == sha256(data) and hdrs.get("Content-Type") == "application/json", ev
    assert hdrs.get("Partage-Delivery", "").startswith(ev["id"] + "."), hdrs
    expect(srv.get("/%s/hooked.bin" % fid), 200)
    (hdrs, body, _), = events_at("/hook/a", "download")
    ev = check_signature(hdrs, body, hook["secret"])
    assert ev["event"] == "download" and ev["file"]["id"] == fid and ev["downloads"] == 1, ev
    # a Max-Downloads link (counted by its byte budget, not the
    # counters): its whole copy is a download too
    once = expect(srv.put("once.bin", b"burn after reading\n",
                          headers=dict(auth, **{"Accept": "application/json", "Max-Downloads": "1"})), 201)
    oid = once.json()["id"]
    expect(srv.get("/%s/once.bin" % oid), 200)
    got = events_at("/hook/a", "download", n=2)
    ev = check_signature(got[1][0], got[1][1], hook["secret"])
    assert ev["file"]["id"] == oid and ev["downloads"] == 1, ev
    # deleted is not among this hook's events: nothing more arrives
    expect(srv.request("DELETE", "/%s" % fid, headers=auth), 204)
    time.sleep(0.5)
    assert [h[0]["Partage-Event"] for h in hits("/hook/a")] == ["upload", "download", "upload", "download"], \
        hits("/hook/a")


def test_webhook_retry_survives_restart(srv):
    auth = new_user(srv)
    _Origin.fail_first["/hook/flaky"] = 2
    hook = add_hook(srv, auth, "/hook/flaky", ["upload"])
    r = expect(srv.put("flaky.bin", b"flaky\n", headers=dict(auth, Accept="application/json")), 201)
    fid = r.json()["id"]
    events_at("/hook/flaky", "upload", n=2)

    def log():
        r = expect(srv.get("/api/v1/webhooks/%s/deliveries" % hook["id"], headers=auth), 200)
        return r.json()["deliveries"]
    # the second attempt logged (a kill between the receiver's answer and
    # the log would make the attempt happen again: at least once)
    assert wait_until(lambda: log() and log()[0]["attempts"] == 2, timeout=5), log()
    d = log()[0]
    assert d["state"] == "pending" and d["next_at"] and d["last_status"] == 500, d
    # the third attempt is due a few seconds later: kill the server
    # meanwhile, and the outbox row must survive it
    srv.kill9()
    srv.start()
    got = events_at("/hook/flaky", "upload", n=3, timeout=15)
    assert [h[2] for h in got[:3]] == [500, 500, 200], [h[2] for h in got]
    bodies = {h[1] for h in got}
    assert len(bodies) == 1, "a retry must send the same body"
    ev = check_signature(got[2][0], got[2][1], hook["secret"])
    assert ev["file"]["id"] == fid, ev
    assert len({h[0]["Partage-Delivery"] for h in got}) == 1, "one delivery id for its attempts"

    def delivered():
        log = expect(srv.get("/api/v1/webhooks/%s/deliveries" % hook["id"], headers=auth), 200).json()
        d = log["deliveries"]
        return len(d) == 1 and d[0]["state"] == "delivered" and d[0]
    assert wait_until(delivered, timeout=5), "the delivery log never says delivered"
    d = delivered()
    assert d["attempts"] == 3 and d["event"] == "upload" and d["last_status"] == 200, d
    assert [a["status"] for a in d["log"]] == [500, 500, 200], d["log"]
    assert "answered 500" in d["log"][0]["error"] and d["log"][2]["error"] == "", d["log"]
    assert d["next_at"] is None, d


def test_webhook_sent_at_once_and_retried_when_due(srv):
    """The deliverer is kicked by the event (no poll to wait for) and
    wakes for its own retry when it is due (retry_base_seconds = 1), not
    at its slow poll of the outbox (5 s)."""
    auth = new_user(srv)
    _Origin.fail_first["/hook/timing"] = 1
    add_hook(srv, auth, "/hook/timing", ["upload"])
    t0 = time.monotonic()
    expect(srv.put("timing.bin", b"timing\n", headers=dict(auth, Accept="application/json")), 201)
    events_at("/hook/timing", "upload", n=1, timeout=5)
    first = time.monotonic() - t0
    got = events_at("/hook/timing", "upload", n=2, timeout=10)
    second = time.monotonic() - t0
    assert [h[2] for h in got] == [500, 200], [h[2] for h in got]
    assert first < 1.5, "the first attempt came %.2f s after the upload" % first
    # due 1 s after the failed attempt (a second's rounding either side)
    assert second - first < 3.5, "the retry came %.2f s after the first attempt" % (second - first)


def test_instance_webhook(srv):
    data = rand_bytes(3000, seed=86)
    r = expect(srv.put("anon.bin", data, headers={"Accept": "application/json"}), 201)
    fid = r.json()["id"]

    def mine():
        return [h for h in hits("/instance") if json.loads(h[1])["file"]["id"] == fid]
    assert wait_until(mine, timeout=10), "the instance's hook got nothing for %s" % fid
    (hdrs, body, _), = mine()
    ev = check_signature(hdrs, body, INSTANCE_SECRET)
    assert ev["event"] == "upload" and ev["file"]["sha256"] == sha256(data), ev


def test_webhooks_api_refusals(srv):
    auth = new_user(srv)
    hdrs = dict(auth, **{"Content-Type": "application/json", "Accept": "application/json"})
    for body, code in (({"url": "http://169.254.169.254/hook"}, 403),
                       ({"url": "http://127.0.0.2:%d/x" % _ORIGIN["srv"].server_address[1]}, 403),
                       ({"url": "http://[::ffff:10.0.0.1]/x"}, 403),
                       ({"url": "ftp://example.com/x"}, 400),
                       ({"url": origin() + "/x", "events": ["nope"]}, 400),
                       ({"url": origin() + "/x", "events": []}, 400),
                       ({}, 400)):
        r = srv.request("POST", "/api/v1/webhooks", body=json.dumps(body).encode(), headers=hdrs)
        expect(r, code, what=repr(body))
        if code == 403:
            assert "refused address" in r.json()["error"], r.body
    r = srv.request("POST", "/api/v1/webhooks", body=json.dumps({"url": origin() + "/x"}).encode(),
                    headers={"Content-Type": "application/json"})
    expect(r, 401, what="anonymous")
    hook = add_hook(srv, auth, "/hook/gone")
    assert hook["events"] == ["all"], hook
    other = new_user(srv)
    expect(srv.request("DELETE", "/api/v1/webhooks/%s" % hook["id"], headers=other), 404)
    expect(srv.get("/api/v1/webhooks/%s/deliveries" % hook["id"], headers=other), 404)
    expect(srv.request("DELETE", "/api/v1/webhooks/%s" % hook["id"], headers=auth), 204)
    expect(srv.request("DELETE", "/api/v1/webhooks/%s" % hook["id"], headers=auth), 404)
    assert expect(srv.get("/api/v1/webhooks", headers=auth), 200).json()["webhooks"] == []


def test_webhook_deleted_expired_takedown(srv):
    auth = new_user(srv)
    hook = add_hook(srv, auth, "/hook/life", ["deleted", "expired"])
    put = lambda name, seed: expect(srv.put(name, rand_bytes(100, seed=seed),
                                            headers=dict(auth, **{"Accept": "application/json",
                                                                  "Max-Days": "1"})), 201).json()["id"]
    gone = put("gone.bin", 87)
    old = put("old.bin", 88)
    expect(srv.request("DELETE", "/%s" % gone, headers=auth), 204)
    (h, body, _), = events_at("/hook/life", "deleted")
    assert check_signature(h, body, hook["secret"])["file"]["id"] == gone
    # a gc pass two days on expires the other (partaged admin gc, another
    # process: its event goes through the outbox to the server's deliverer)
    a = srv.admin("gc", "--now", str(int(time.time()) + 2 * 86400))
    assert a.returncode == 0, a.stderr
    (h, body, _), = events_at("/hook/life", "expired")
    assert check_signature(h, body, hook["secret"])["file"]["id"] == old
    # a takedown: the hook that takes every event hears of it, reason and all
    every = add_hook(srv, auth, "/hook/every")
    bad = put("bad.bin", 89)
    t = srv.admin("takedown", bad, "--reason", "court order 82")
    assert t.returncode == 0, t.stderr
    (h, body, _), = events_at("/hook/every", "takedown")
    ev = check_signature(h, body, every["secret"])
    assert ev["file"]["id"] == bad and ev["reason"] == "court order 82", ev
    assert [x[0]["Partage-Event"] for x in hits("/hook/life")] == ["deleted", "expired"], \
        "the hook without takedown got one"


def test_cli_webhooks(srv, tmp):
    name = "c%s" % os.urandom(4).hex()
    auth = new_user(srv, name)
    r = harness.run_partage(srv.url, tmp, "login", name, "--password-stdin",
                            input=b"remote password 1\n")
    assert r.returncode == 0, r.stderr
    r = harness.run_partage(srv.url, tmp, "webhooks", "add", origin() + "/hook/cli", "upload")
    assert r.returncode == 0, r.stderr
    secret = r.stdout.decode().strip()
    assert secret.startswith("whsec_"), r.stdout
    hid = r.stderr.decode().split()[1].rstrip(":")
    r = harness.run_partage(srv.url, tmp, "webhooks")
    assert r.returncode == 0 and hid in r.stdout.decode() and "/hook/cli" in r.stdout.decode(), r
    expect(srv.put("cli.bin", b"cli\n", headers=dict(auth, Accept="application/json")), 201)
    (h, body, _), = events_at("/hook/cli", "upload")
    check_signature(h, body, secret)

    def logged():
        r = harness.run_partage(srv.url, tmp, "webhooks", "log", hid)
        return r.returncode == 0 and "delivered" in r.stdout.decode() and r
    r = wait_until(logged, timeout=5)
    assert r, "partage webhooks log never shows the delivery"
    out = r.stdout.decode()
    assert "upload" in out and "1 attempt" in out and "  200  ok" in out, out
    r = harness.run_partage(srv.url, tmp, "webhooks", "rm", hid)
    assert r.returncode == 0, r.stderr
    r = harness.run_partage(srv.url, tmp, "webhooks", "log", hid)
    assert r.returncode == 1 and "not found" in r.stderr.decode(), r


def test_account_page_has_the_webhooks_block(srv):
    name = "p%s" % os.urandom(4).hex()
    new_user(srv, name)
    js = {"Content-Type": "application/json"}
    r = expect(srv.request("POST", "/api/v1/sessions",
                           body=json.dumps({"name": name, "password": "remote password 1"}).encode(),
                           headers=js), 200, 201)
    cookie = "; ".join(c.split(";")[0] for c in r.header_all("Set-Cookie"))
    page = expect(srv.get("/account", headers={"Cookie": cookie, "Accept": "text/html"}), 200).text
    assert 'id="hook-form"' in page and "/static/webhooks.js" in page, page[:3000]
    js = expect(srv.get("/static/webhooks.js"), 200)
    assert b"/api/v1/webhooks" in js.body


def test_webhook_for_a_tus_upload(srv):
    # most uploads (the page, `partage`) are tus: their completion is an
    # upload event too, signed the same
    auth = new_user(srv)
    hook = add_hook(srv, auth, "/hook/tus", ["upload"])
    data = rand_bytes(70_000, seed=86)
    tus = {"Tus-Resumable": "1.0.0"}
    r = expect(srv.request("POST", "/api/v1/uploads", body=data[:30_000],
                           headers=dict(auth, **tus, **{"Upload-Length": str(len(data)),
                                                        "Content-Type": "application/offset+octet-stream"})), 201)
    path = urllib.parse.urlsplit(urllib.parse.urljoin(srv.url + "/api/v1/uploads", r.header("Location"))).path
    r = expect(srv.request("PATCH", path, body=data[30_000:],
                           headers=dict(auth, **tus, **{"Upload-Offset": "30000",
                                                        "Content-Type": "application/offset+octet-stream"})), 204)
    fid = r.header("X-Partage-Id")
    (hdrs, body, _), = events_at("/hook/tus", "upload")
    ev = check_signature(hdrs, body, hook["secret"])
    assert ev["event"] == "upload" and ev["file"]["id"] == fid and ev["file"]["sha256"] == sha256(data), ev
