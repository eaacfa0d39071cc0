"""Two partaged nodes behind haproxy (scripts/start-haproxy.sh), sharing one
PostgreSQL schema, one S3 bucket prefix and one ticket secret, as
docs/scaling.md ("Several nodes") sets them up: upload through the balancer
and download from each node; kill -9 of a node mid-download and a resume
with Range + If-Range on the other; a tus upload begun on one node and
finished on the other; a wait ticket of one node checked by the other; the
client address behind the balancer (X-Forwarded-For from a trusted proxy)
and the per-address download limit, global through the balancer and
straight to the nodes (the slots are in PostgreSQL: test_89).

Runs only with PARTAGE_TEST_PG_DSN and PARTAGE_TEST_S3 set: nodes on
SQLite or a local disk share nothing."""

import hashlib
import http.client
import json
import os
import subprocess
import time
import urllib.parse

import harness
from harness import (expect, free_port, rand_bytes, sha256, track, wait_until,
                     RawConn, Resp, Server, Skip)

HERE = os.path.dirname(os.path.abspath(__file__))
START_HAPROXY = os.path.join(HERE, "..", "..", "scripts", "start-haproxy.sh")
TIMEOUT = 300
K, M = 1024, 1024 * 1024

# What every node has: the balancer on loopback is trusted, connections per
# address are the balancer's business, anonymous downloads two at a time
# per address (so the affinity test can tell one node from two), free
# accounts wait 3 s for a ticket.
NODE_CONFIG = """\
[server]
trusted_proxies = 127.0.0.1
per_ip_connections = 0
[tier.anonymous]
parallel_downloads = 2
[tier.free]
wait_seconds = 3
speed_bytes_per_second = 0
parallel_downloads = 0
[abuse]
login_failures_per_name = 10
"""
PW = "multinode-password-1"
SLOTS_MSG = "downloads at a time"


def need_shared_stores():
    if not (harness.PG_DSN and harness.S3_ENDPOINT):
        raise Skip("two nodes need shared stores: set PARTAGE_TEST_PG_DSN and PARTAGE_TEST_S3")


# ------------------------------------------------------------------ helpers

def req(port, method, path, body=None, headers=None, source=None, timeout=60.0):
    """One request on a new connection, from loopback address `source`."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout,
                                      source_address=(source, 0) if source else None)
    try:
        conn.request(method, path, body=body, headers=dict(headers or {}))
        resp = conn.getresponse()
        return Resp(resp.status, resp.reason, resp.msg, resp.read())
    finally:
        conn.close()


class Balancer:
    """haproxy in the foreground, started by scripts/start-haproxy.sh and
    tracked by the harness like every process a test starts."""

    def __init__(self, nodes):
        self.dir = harness.mkdtemp("haproxy-")
        self.port = free_port()
        self.log_path = os.path.join(self.dir, "haproxy.log")
        env = dict(os.environ, HAPROXY_CHECK_INTERVAL="1s", HAPROXY_PER_IP_CONNECTIONS="64")
        with open(self.log_path, "ab") as log:
            self.proc = track(subprocess.Popen(
                ["bash", START_HAPROXY, "--foreground", self.dir, str(self.port)]
                + ["127.0.0.1:%d" % n.port for n in nodes],
                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, env=env))
        # a fresh machine installs haproxy first
        if not wait_until(self._ready, timeout=180, interval=0.1):
            self.close()
            raise AssertionError("haproxy did not answer GET /healthz with 200: %s" % self.log_tail())

    def _ready(self):
        if self.proc.poll() is not None:
            raise AssertionError("haproxy exited with %s: %s" % (self.proc.returncode, self.log_tail()))
        try:
            return req(self.port, "GET", "/healthz", timeout=2).status == 200
        except OSError:
            return False

    def log_tail(self, n=8):
        try:
            with open(self.log_path, "rb") as f:
                return " | ".join(f.read().decode("utf-8", "replace").splitlines()[-n:])
        except OSError:
            return "(no log)"

    def close(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


class Cluster:
    """Nodes a and b on the same stores, and haproxy in front of both."""

    def __enter__(self):
        need_shared_stores()
        self.a = self.b = self.lb = None
        try:
            self.a = Server(NODE_CONFIG, name="node-a")
            self.b = Server(NODE_CONFIG, name="node-b", shared_with=self.a)
            self.lb = Balancer([self.a, self.b])
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def __exit__(self, *exc):
        if self.lb:
            self.lb.close()
        for s in (self.b, self.a):
            if s:
                s.close(quiet=True)


def upload_via(port, name, data, headers=None, source=None):
    hd = {"Accept": "application/json", "Content-Length": str(len(data))}
    hd.update(headers or {})
    r = expect(req(port, "PUT", "/" + urllib.parse.quote(name, safe=""), body=data, headers=hd,
                    source=source, timeout=180), 201, what="PUT %s" % name)
    return r.json()


def dl_path(obj):
    return urllib.parse.urlsplit(obj["download_url"]).path


def start_download(port, path, source=None, headers=None):
    """A GET on a raw connection whose body is left unread: it holds the
    download (and its slot) open.  Returns (RawConn, status, headers)."""
    c = RawConn(port, timeout=30, source=source)
    extra = "".join("%s: %s\r\n" % kv for kv in (headers or {}).items())
    c.send(("GET %s HTTP/1.1\r\nHost: partage\r\n%s\r\n" % (path, extra)).encode())
    status, _reason, hd = harness.parse_head(c.read_head())
    return c, status, hd


def new_user(srv):
    name = "mn_%s" % os.urandom(4).hex()
    body = json.dumps({"name": name, "password": PW}).encode()
    expect(req(srv.port, "POST", "/api/v1/users", body, {"Content-Type": "application/json"}), 201,
           what="register")
    r = expect(req(srv.port, "POST", "/api/v1/tokens", body, {"Content-Type": "application/json"}), 201,
               what="token")
    return {"Authorization": "Bearer " + r.json()["token"]}


def ticket(port, fid, headers=None, source=None):
    r = expect(req(port, "POST", "/api/v1/files/%s/ticket" % fid, b"",
                    dict(headers or {}, Accept="application/json"), source=source),
               200, 201, what="POST ticket")
    return r.json()


def with_ticket(path, t):
    return path + "?ticket=" + urllib.parse.quote(t, safe="")


# -------------------------------------------------------------------- tests

def test_upload_via_balancer_download_from_each_node():
    with Cluster() as c:
        data = rand_bytes(3 * M + 17)
        o = upload_via(c.lb.port, "both.bin", data)
        assert o["sha256"] == sha256(data), o
        etags = []
        for node in (c.a, c.b):
            r = expect(node.get(dl_path(o)), 200, what="GET on %s" % node.url)
            assert r.body == data, "node %s served other bytes (%d of %d)" % (node.url, len(r.body), len(data))
            etags.append(r.header("ETag"))
        assert etags[0] == etags[1] == '"%s"' % o["sha256"], "ETags %r, want the sha256" % etags
        # the file object, by id, on each node
        for node in (c.a, c.b):
            j = expect(node.file_obj(o["id"]), 200).json()
            assert j["sha256"] == o["sha256"] and j["size"] == len(data), j


def test_kill9_mid_download_resume_on_other_node():
    with Cluster() as c:
        size = 40 * M + 333
        data = rand_bytes(size, seed=95)
        want = sha256(data)
        o = upload_via(c.lb.port, "big.bin", data)
        assert o["sha256"] == want, o
        conn, status, hd = start_download(c.a.port, dl_path(o))
        try:
            assert status == 200, "GET on node a: %s" % status
            assert int(hd["Content-Length"]) == size, hd.items()
            etag = hd["ETag"]
            first = conn.read_exact(9 * M + 5)   # part of it, then a dies
            c.a.kill9()
            assert not c.a.alive()
        finally:
            conn.close()
        n = len(first)
        # resume on b: a range request, valid only if the file is the same
        with RawConn(c.b.port, timeout=60) as rc:
            rc.send(("GET %s HTTP/1.1\r\nHost: partage\r\nRange: bytes=%d-\r\nIf-Range: %s\r\n\r\n"
                     % (dl_path(o), n, etag)).encode())
            r = rc.read_response()
        expect(r, 206, what="resume on node b")
        assert r.header("ETag") == etag, "ETag %r on b, %r on a" % (r.header("ETag"), etag)
        assert r.header("Content-Range") == "bytes %d-%d/%d" % (n, size - 1, size), r.header("Content-Range")
        assert hashlib.sha256(first + r.body).hexdigest() == want, "the resumed bytes do not match"
        # a stale validator gets the whole file, not a wrong tail
        r = c.b.get(dl_path(o), {"Range": "bytes=%d-" % n, "If-Range": '"%s"' % ("0" * 64)})
        expect(r, 200, what="If-Range with another ETag")
        assert len(r.body) == size
        # and through the balancer, whichever node it picks for us now
        m = 20 * M
        r = expect(req(c.lb.port, "GET", dl_path(o), headers={"Range": "bytes=%d-" % m, "If-Range": etag},
                        timeout=120), 206, what="resume through the balancer with node a dead")
        assert hashlib.sha256(data[:m] + r.body).hexdigest() == want


def tus(port, method, path, body=None, **hd):
    h = {"Tus-Resumable": "1.0.0"}
    h.update({k.replace("_", "-"): str(v) for k, v in hd.items()})
    return req(port, method, path, body=body, headers=h, timeout=120)


def test_tus_upload_begun_on_a_finished_on_b():
    with Cluster() as c:
        data = rand_bytes(10 * M + 77, seed=7)
        r = expect(tus(c.a.port, "POST", "/api/v1/uploads", Upload_Length=len(data),
                       Upload_Metadata="filename bXVsdGkuYmlu"), 201, what="create on a")
        path = urllib.parse.urlsplit(urllib.parse.urljoin(c.a.url + "/api/v1/uploads",
                                                          r.header("Location"))).path
        cut = 9 * M + 123   # past a full 8 MiB segment, into the next
        r = expect(tus(c.a.port, "PATCH", path, data[:cut], Upload_Offset=0,
                       Content_Type="application/offset+octet-stream"), 204, what="PATCH on a")
        assert r.header("Upload-Offset") == str(cut), r.headers.items()
        r = expect(tus(c.b.port, "HEAD", path), 200, 204, what="HEAD on b")
        assert r.header("Upload-Offset") == str(cut), "b sees offset %r, a wrote %d" % (
            r.header("Upload-Offset"), cut)
        assert r.header("Upload-Length") == str(len(data)), r.headers.items()
        r = expect(tus(c.b.port, "PATCH", path, data[cut:], Upload_Offset=cut,
                       Content_Type="application/offset+octet-stream"), 204, what="PATCH on b")
        assert r.header("Upload-Offset") == str(len(data)), r.headers.items()
        o = expect(req(c.b.port, "GET", path, headers={"Accept": "application/json"}), 200,
                   what="GET the finished upload on b").json()
        assert o["sha256"] == sha256(data) and o["size"] == len(data), o
        # a, where it began, knows it is complete
        r = expect(tus(c.a.port, "HEAD", path), 200, 204, what="HEAD on a after b finished it")
        assert r.header("Upload-Offset") == str(len(data)), r.headers.items()
        for node in (c.a, c.b):
            r = expect(node.get(dl_path(o)), 200, what="download on %s" % node.url)
            assert sha256(r.body) == sha256(data)


def test_ticket_of_one_node_checked_by_the_other():
    with Cluster() as c:
        data = rand_bytes(64 * K + 1)
        o = upload_via(c.a.port, "t.bin", data)
        # free tier: waits 3 s; an API client (Accept: application/json)
        # gets the ticket protocol's 429 where others are held
        auth = dict(new_user(c.a), Accept="application/json")
        p = dl_path(o)
        r = expect(req(c.b.port, "GET", p, headers=auth), 429, what="no ticket on b")
        j = ticket(c.a.port, o["id"], auth)
        assert j["wait"] == 3, j
        r = expect(req(c.b.port, "GET", with_ticket(p, j["ticket"]), headers=auth), 429,
                   what="a's ticket on b before the wait is over")
        ra = r.header("Retry-After")
        assert ra and ra.isdigit() and 1 <= int(ra) <= 3, "Retry-After %r" % ra
        assert "valid in" in r.text, r.text
        time.sleep(max(0.0, j["ready_at"] - time.time()) + 0.2)
        r = expect(req(c.b.port, "GET", with_ticket(p, j["ticket"]), headers=auth), 200,
                   what="a's ticket on b after the wait")
        assert r.body == data

        # behind the balancer a ticket belongs to the client's address, not
        # to the balancer's: X-Forwarded-For from the trusted proxy counts
        j = ticket(c.lb.port, o["id"], auth, source="127.0.0.2")
        time.sleep(max(0.0, j["ready_at"] - time.time()) + 0.2)
        url = with_ticket(p, j["ticket"])
        r = expect(req(c.lb.port, "GET", url, headers=auth, source="127.0.0.3"), 429,
                   what="127.0.0.2's ticket used from 127.0.0.3")
        assert "invalid" in r.text, r.text
        # a client cannot borrow an address by sending the header itself
        r = expect(req(c.lb.port, "GET", url, headers=dict(auth, **{"X-Forwarded-For": "127.0.0.2"}),
                        source="127.0.0.3"), 429, what="a spoofed X-Forwarded-For")
        # nor does a node believe a peer that is not a trusted proxy
        r = expect(req(c.b.port, "GET", url, headers=dict(auth, **{"X-Forwarded-For": "127.0.0.2"}),
                        source="127.0.0.3"), 429, what="X-Forwarded-For from an untrusted peer")
        r = expect(req(c.lb.port, "GET", url, headers=auth, source="127.0.0.2"), 200,
                   what="127.0.0.2's ticket from 127.0.0.2 through the balancer")
        assert r.body == data


def test_parallel_downloads_per_address_across_the_balancer():
    with Cluster() as c:
        data = rand_bytes(32 * M, seed=3)
        # one download is one (address, file): three files make three
        ps = [dl_path(upload_via(c.lb.port, "par%d.bin" % i, data[:32 * M - i]))
              for i in range(3)]
        p = ps[2]
        held = []
        try:
            # two downloads from one address, held open through the balancer
            for i in range(2):
                conn, status, _ = start_download(c.lb.port, ps[i], source="127.0.0.2")
                held.append(conn)
                assert status == 200, "download %d through the balancer: %s" % (i + 1, status)
                conn.read_exact(64 * K)
            # a third from the same address meets the limit: affinity sent
            # all three to one node (round robin would put it on the other)
            r = expect(req(c.lb.port, "GET", p, source="127.0.0.2"), 429,
                       what="a third download from 127.0.0.2")
            assert SLOTS_MSG in r.text, r.text
            assert r.header("Retry-After"), r.headers.items()
            r = expect(req(c.lb.port, "GET", p, source="127.0.0.2",
                            headers={"X-Forwarded-For": "198.51.100.9"}), 429,
                       what="a third download claiming another address")
            # another address has slots of its own
            conn, status, _ = start_download(c.lb.port, p, source="127.0.0.3")
            conn.close()
            assert status == 200, "a download from 127.0.0.3: %s" % status
            # one finished: its slot is free again
            held.pop().close()

            def third():
                r = req(c.lb.port, "GET", p, source="127.0.0.2", headers={"Range": "bytes=0-99"})
                return r if r.status == 206 else None
            r = wait_until(third, timeout=10, interval=0.1)
            assert r and r.body == data[:100], "the slot of a closed download was not released: %r" % r
        finally:
            for conn in held:
                conn.close()

        # directly on the nodes the count is the cluster's too (the slots
        # are in PostgreSQL: test_89): two held on a, and b refuses the
        # same address a third
        held = []
        try:
            for i in range(2):
                conn, status, _ = start_download(c.a.port, ps[i])
                held.append(conn)
                assert status == 200, status
            r = expect(req(c.a.port, "GET", p), 429, what="a third on node a")
            r = req(c.b.port, "GET", p, headers={"Range": "bytes=0-99"})
            expect(r, 429, what="a third from the same address on node b")
        finally:
            for conn in held:
                conn.close()


def test_failed_logins_per_name_shared_by_the_nodes():
    """The per-name budget of failed logins lives in the database: 10
    wrong passwords (login_failures_per_name = 10 here) spread over both
    nodes and many addresses use it up for both nodes (N nodes must not
    give N × 10 guesses) for addresses that have not logged in to it."""
    with Cluster() as c:
        name = "mn_%s" % os.urandom(4).hex()
        body = json.dumps({"name": name, "password": PW}).encode()
        js = {"Content-Type": "application/json"}
        expect(req(c.a.port, "POST", "/api/v1/users", body, js), 201, what="register")
        for i in range(10):
            node = (c.a, c.b)[i % 2]
            wrong = json.dumps({"name": name, "password": "guess %d" % i}).encode()
            expect(req(node.port, "POST", "/api/v1/sessions", wrong, js, source="127.0.0.%d" % (20 + i)),
                   401, what="wrong password %d on node %s" % (i + 1, "ab"[i % 2]))
        for node, src in ((c.a, "127.0.0.40"), (c.b, "127.0.0.41")):
            r = expect(req(node.port, "POST", "/api/v1/sessions", body, js, source=src), 429,
                       what="the right password after 10 failures over both nodes")
            ra = r.header("Retry-After")
            assert ra and ra.isdigit() and 0 < int(ra) <= 900, "Retry-After %r" % ra


def test_a_change_on_one_node_reaches_the_others_cached_copy():
    """Nodes serve downloads from a copy of the link's row for at most
    server.link_cache_ms (1 s by default): a delete on A is seen by A at
    once and by B, which served the file a moment before, within that."""
    with Cluster() as c:
        o = upload_via(c.a.port, "cached.bin", rand_bytes(5000))
        p = dl_path(o)
        for node in (c.a, c.b, c.b):
            expect(req(node.port, "GET", p), 200, what="download before the delete")
        expect(req(c.a.port, "DELETE", "/" + o["id"], headers={"X-Delete-Token": o["delete_token"]}), 204)
        t0 = time.monotonic()
        expect(req(c.a.port, "GET", p), 404, 410, what="on the node that deleted it")
        ok = wait_until(lambda: req(c.b.port, "GET", p).status in (404, 410), 5, 0.05)
        took = time.monotonic() - t0
        assert ok and took < 1.6, "node B served a deleted file for %.2fs (link_cache_ms 1000)" % took
