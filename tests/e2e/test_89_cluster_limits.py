"""Limits that hold across nodes (issue 19): two partaged nodes on one
PostgreSQL, one client address talking to both directly.

- one download per address: while node a streams a file to an address,
  node b refuses that address another file (429, as a node refuses it
  itself) and another connection of the same download (503); another
  address is not concerned; once the download ends (its client closed),
  b lets the address in;
- a node killed with -9 frees its slots within its lease
  (node_lease_seconds, 3 s: a heartbeat a second, cluster.c);
- the speed cap holds in aggregate: a client that tries both nodes at once
  gets one capped stream, not two;
- tus failover (needs S3 too: the partial upload must be in a shared
  store): a node killed mid-PATCH, the upload continues on the other node
  within a few seconds, losing no more than the checkpoint (8 MiB), and
  the file's sha256 is right; the same with the real tus-js-client
  (tests/e2e/tus-client) and its default retry delays behind haproxy.

Skips without PARTAGE_TEST_PG_DSN (nodes on SQLite share nothing); the tus
tests also without PARTAGE_TEST_S3, the client test without node and
tus-js-client (scripts/install-tus-client.sh)."""

import json
import os
import shutil
import socket
import subprocess
import threading
import time
import urllib.parse

import harness
from harness import (expect, free_port, rand_bytes, sha256, track, wait_until,
                     RawConn, Server, Skip)

HERE = os.path.dirname(os.path.abspath(__file__))
START_HAPROXY = os.path.join(HERE, "..", "..", "scripts", "start-haproxy.sh")
CLIENT_DIR = os.path.join(HERE, "tus-client")
TIMEOUT = 240
K, M = 1024, 1024 * 1024
CAP = 256 * K
LEASE = 3          # node_lease_seconds, the default
CHECKPOINT = 8 * M  # tus_checkpoint_bytes, the default

# anonymous downloads: no wait, no cooldown (per node, not the point
# here), one download of one connection per address, capped
NODE_CONFIG = """\
[server]
per_ip_connections = 0
trusted_proxies = 127.0.0.1
[tier.anonymous]
wait_seconds = 0
cooldown_seconds = 0
parallel_downloads = 1
connections_per_download = 1
speed_bytes_per_second = 256K
max_upload_bytes = 256M
"""
# the tus tests download what they uploaded whole: no cap there
TUS_CONFIG = NODE_CONFIG + """\
[tier.anonymous]
speed_bytes_per_second = 0
parallel_downloads = 0
connections_per_download = 0
"""
TUS = {"Tus-Resumable": "1.0.0"}
OCTET = "application/offset+octet-stream"


def need_pg():
    if not harness.PG_DSN:
        raise Skip("two nodes need one PostgreSQL: set PARTAGE_TEST_PG_DSN")


def need_shared_blobs():
    need_pg()
    if not harness.S3_ENDPOINT:
        raise Skip("a tus upload moves between nodes through a shared blob store: set PARTAGE_TEST_S3")


class Nodes:
    """Nodes a and b on one schema (and bucket prefix on S3)."""

    def __init__(self, config=NODE_CONFIG, node_class=Server, **kw):
        self.config, self.node_class, self.kw = config, node_class, kw

    def __enter__(self):
        need_pg()
        self.a = self.b = None
        try:
            self.a = self.node_class(self.config, name="cl-a", **self.kw)
            self.b = self.node_class(self.config, name="cl-b", shared_with=self.a, **self.kw)
        except BaseException:
            self.__exit__()
            raise
        return self

    def __exit__(self, *exc):
        for s in (self.b, self.a):
            if s:
                s.close(quiet=True)


def get_from(node, path, source, headers=None, timeout=30):
    """A GET from loopback address `source`, its body read whole."""
    with RawConn(node.port, timeout=timeout, source=source) as c:
        extra = "".join("%s: %s\r\n" % kv for kv in (headers or {}).items())
        c.send(("GET %s HTTP/1.1\r\nHost: partage\r\nConnection: close\r\n%s\r\n" % (path, extra)).encode())
        return c.read_response()


def start_download(node, path, source):
    """A GET whose body is left unread: the download (and its slot) stays
    open.  Returns (RawConn, status)."""
    c = RawConn(node.port, timeout=30, source=source)
    c.send(("GET %s HTTP/1.1\r\nHost: partage\r\n\r\n" % path).encode())
    status, _reason, _hd = harness.parse_head(c.read_head())
    return c, status


def one_byte(node, path, source):
    """Status of a one-byte range GET from source (the gate, not the bytes)."""
    return get_from(node, path, source, {"Range": "bytes=0-0"}).status


def two_files(n):
    """Two 4 MiB files, downloadable from both nodes: on a local disk
    (no S3) each node needs the bytes in its own store, so they are
    uploaded to both (one blob row, a copy on each disk)."""
    objs = []
    for i in (1, 2):
        data = rand_bytes(4 * M, seed=890 + i)
        objs.append(n.a.upload("cl-%d.bin" % i, data))
        if not harness.S3_ENDPOINT:
            n.b.upload("cl-%d.bin" % i, data)
    return objs, [n.a.dl_path(o) for o in objs]


# ------------------------------------------------- one download per address

def test_second_node_refuses_while_first_streams():
    with Nodes() as n:
        (o1, _o2), (p1, p2) = two_files(n)
        src = "127.0.0.2"
        conn, status = start_download(n.a, p1, src)
        try:
            assert status == 200, "GET on node a: %s" % status
            conn.read_exact(64 * K)  # it streams
            r = get_from(n.b, p2, src)
            assert r.status == 429, "another file from the same address on node b: %s %r (want 429: " \
                "one download at a time on this tier, node a has it)" % (r.status, r.body[:200])
            assert r.header("Retry-After"), r.headers.items()
            assert o1["id"].encode() in r.body, "the refusal should name the download in progress: %r" % r.body
            r = get_from(n.b, p1, src)
            assert r.status == 503, "a second connection of the download on node b: %s (want 503)" % r.status
            assert r.header("Retry-After"), r.headers.items()
            # another address is not concerned
            assert one_byte(n.b, p2, "127.0.0.3") == 206
        finally:
            conn.close()  # the download ends: its client goes
        t0 = time.monotonic()
        assert wait_until(lambda: one_byte(n.b, p2, src) == 206, 5, 0.1), \
            "node b still refuses the address 5 s after its download on node a ended"
        print("  b lets the address in %.2f s after its download on a ended" % (time.monotonic() - t0))


def test_killed_node_frees_its_slots_within_the_lease():
    with Nodes() as n:
        (_o1, _o2), (p1, p2) = two_files(n)
        src = "127.0.0.4"
        conn, status = start_download(n.a, p1, src)
        try:
            assert status == 200
            conn.read_exact(64 * K)
            assert one_byte(n.b, p2, src) == 429, "node b does not see node a's download"
            n.a.kill9()
            t0 = time.monotonic()
        finally:
            conn.close()
        assert wait_until(lambda: one_byte(n.b, p2, src) == 206, LEASE + 5, 0.1), \
            "node b still refuses the address %d s after node a was killed" % (LEASE + 5)
        took = time.monotonic() - t0
        print("  node a killed: b lets its address in after %.2f s (lease %d s)" % (took, LEASE))
        assert took <= LEASE + 2, "node a's slot outlived it by %.2f s (lease %d s)" % (took, LEASE)


def test_hung_node_frees_its_slots_after_the_lease():
    """A node that stops (SIGSTOP: hung, or cut off from the database
    with its session still open) keeps its slots for the lease, no more."""
    import signal
    with Nodes() as n:
        (_o1, _o2), (p1, p2) = two_files(n)
        src = "127.0.0.6"
        conn, status = start_download(n.a, p1, src)
        stopped = False
        try:
            assert status == 200
            conn.read_exact(64 * K)
            assert one_byte(n.b, p2, src) == 429, "node b does not see node a's download"
            n.a.proc.send_signal(signal.SIGSTOP)
            stopped = True
            t0 = time.monotonic()
            assert wait_until(lambda: one_byte(n.b, p2, src) == 206, LEASE + 5, 0.1), \
                "node b still refuses the address %d s after node a stopped" % (LEASE + 5)
            took = time.monotonic() - t0
            print("  node a stopped: b lets its address in after %.2f s (lease %d s)" % (took, LEASE))
            assert 1 <= took <= LEASE + 1.5, \
                "node a's slot ended %.2f s after it stopped (lease %d s, a heartbeat a second)" % (
                    took, LEASE)
        finally:
            if stopped:
                n.a.proc.send_signal(signal.SIGCONT)
            conn.close()


def test_speed_cap_holds_in_aggregate():
    """A client that asks both nodes at once, for two files, again and
    again for T seconds: it gets one capped stream's worth of bytes."""
    T = 5.0
    with Nodes() as n:
        (_o1, _o2), (p1, p2) = two_files(n)
        src = "127.0.0.5"
        got = [0, 0]
        refused = [0, 0]
        end = time.monotonic() + T

        def pull(i, node, path):
            while time.monotonic() < end:
                try:
                    c = RawConn(node.port, timeout=T + 5, source=src)
                except OSError:
                    continue
                try:
                    c.send(("GET %s HTTP/1.1\r\nHost: partage\r\n\r\n" % path).encode())
                    status, _r, _h = harness.parse_head(c.read_head())
                    if status != 200:
                        refused[i] += 1
                        time.sleep(0.1)
                        continue
                    got[i] += len(c.buf)
                    c.buf = b""
                    c.sock.settimeout(0.2)
                    while time.monotonic() < end:
                        try:
                            chunk = c.sock.recv(65536)
                        except socket.timeout:
                            continue
                        if not chunk:
                            break
                        got[i] += len(chunk)
                finally:
                    c.close()

        ts = [threading.Thread(target=pull, args=(0, n.a, p1)),
              threading.Thread(target=pull, args=(1, n.b, p2))]
        for t in ts:
            t.start()
        for t in ts:
            t.join(T + 15)
        total = sum(got)
        print("  %.0f s, both nodes: %d + %d bytes (refused %d + %d), cap %d B/s" % (
            T, got[0], got[1], refused[0], refused[1], CAP))
        # one stream: its first second's burst, then the cap
        assert total <= CAP * (T + 2), \
            "the address got %d bytes in %.0f s from two nodes (a %d, b %d): more than one " \
            "capped stream (%d B/s)" % (total, T, got[0], got[1], CAP)
        assert total >= CAP * (T - 2), "the address got only %d bytes in %.0f s" % (total, T)


# ---------------------------------------------------------------- tus failover

def tus_req(node, method, path, body=None, timeout=120, **hd):
    h = dict(TUS)
    h.update({k.replace("_", "-"): str(v) for k, v in hd.items()})
    return node.request(method, path, body=body, headers=h, timeout=timeout)


def offset_on(node, path):
    r = tus_req(node, "HEAD", path, timeout=10)
    return int(r.header("Upload-Offset")) if r.status in (200, 204) else -1


def test_tus_kill9_mid_patch_resumes_on_other_node():
    need_shared_blobs()
    with Nodes(TUS_CONFIG) as n:
        size = 48 * M + 99
        data = rand_bytes(size, seed=89)
        r = expect(tus_req(n.a, "POST", "/api/v1/uploads", Upload_Length=size,
                           Upload_Metadata="filename Y2x1c3Rlci5iaW4="), 201, what="create on a")
        path = urllib.parse.urlsplit(r.header("Location")).path
        sent = 20 * M
        conn = RawConn(n.a.port, timeout=60)
        try:
            conn.send(("PATCH %s HTTP/1.1\r\nHost: partage\r\nTus-Resumable: 1.0.0\r\n"
                       "Upload-Offset: 0\r\nContent-Type: %s\r\nContent-Length: %d\r\n\r\n"
                       % (path, OCTET, size)).encode())
            conn.send(data[:sent])
            # the checkpoints (every 8 MiB) reach the database while the
            # PATCH is still open (within 20 s: long before the request's
            # idle timeout, 60 s, would end it and record what it has)
            assert wait_until(lambda: offset_on(n.b, path) >= 2 * CHECKPOINT, 20, 0.2), \
                "node b sees offset %d after a PATCH of %d MiB on a: no checkpoint every %d MiB" % (
                    offset_on(n.b, path), sent // M, CHECKPOINT // M)
            n.a.kill9()
            t0 = time.monotonic()
        finally:
            conn.close()
        off = offset_on(n.b, path)
        lost = sent - off
        print("  sent %d MiB to a, durable %d (lost %.1f MiB, checkpoint %d MiB)" % (
            sent // M, off, lost / M, CHECKPOINT // M))
        assert 0 <= lost <= CHECKPOINT, "lost %d bytes of the PATCH, more than the checkpoint" % lost
        # b takes the upload as soon as a's heartbeat is old enough: an
        # empty PATCH claims the lease (and gives it back) or gets 409
        tries = []
        while True:
            r = tus_req(n.b, "PATCH", path, b"", Upload_Offset=off, Content_Type=OCTET)
            tries.append(r.status)
            if r.status != 409 or time.monotonic() - t0 > 15:
                break
            time.sleep(0.1)
        took = time.monotonic() - t0
        print("  b took the upload over %.2f s after a was killed (%d PATCHes: %s)" % (
            took, len(tries), sorted(set(tries))))
        expect(r, 204, what="empty PATCH on b after a was killed")
        assert took <= LEASE + 2, "node b got the upload %.1f s after node a died (lease %d s)" % (took, LEASE)
        r = expect(tus_req(n.b, "PATCH", path, data[off:], Upload_Offset=off, Content_Type=OCTET), 204,
                   what="the rest on b")
        assert r.header("Upload-Offset") == str(size), r.headers.items()
        fid = r.header("X-Partage-Id")
        assert fid, r.headers.items()
        obj = expect(n.b.file_obj(fid), 200).json()
        assert obj["size"] == size and obj["sha256"] == sha256(data), obj
        body = expect(n.b.get(n.b.dl_path(obj), timeout=120), 200).body
        assert sha256(body) == sha256(data), "the downloaded bytes differ"


def test_tus_lease_of_killed_node_taken_within_seconds():
    """The lease alone: a PATCH held open on a (no checkpoint reached),
    a killed: b writes the upload from its durable offset (0) seconds
    later, not after the dead PATCH's lease (timeout + 30 s)."""
    need_shared_blobs()
    with Nodes(TUS_CONFIG) as n:
        size = 4 * M
        data = rand_bytes(size, seed=8900)
        r = expect(tus_req(n.a, "POST", "/api/v1/uploads", Upload_Length=size), 201, what="create on a")
        path = urllib.parse.urlsplit(r.header("Location")).path
        conn = RawConn(n.a.port, timeout=60)
        try:
            conn.send(("PATCH %s HTTP/1.1\r\nHost: partage\r\nTus-Resumable: 1.0.0\r\n"
                       "Upload-Offset: 0\r\nContent-Type: %s\r\nContent-Length: %d\r\n\r\n"
                       % (path, OCTET, size)).encode())
            conn.send(data[:M])
            # a holds the lease (its PATCH claimed it): b is refused
            uid = path.rsplit("/", 1)[1]
            assert wait_until(lambda: harness._psql(
                "SET search_path = %s; SELECT lease > 0 FROM uploads WHERE uid = '%s'"
                % (harness.pg_schema(n.a.store_key), uid)).strip() == "t", 10, 0.05), \
                "node a's PATCH did not claim the upload"
            r = tus_req(n.b, "PATCH", path, b"", Upload_Offset=0, Content_Type=OCTET)
            assert r.status == 409, "node b could PATCH an upload node a is writing: %d" % r.status
            n.a.kill9()
            t0 = time.monotonic()
        finally:
            conn.close()
        while True:
            r = tus_req(n.b, "PATCH", path, data, Upload_Offset=0, Content_Type=OCTET)
            if r.status != 409 or time.monotonic() - t0 > 15:
                break
            time.sleep(0.1)
        took = time.monotonic() - t0
        print("  b wrote the upload %.2f s after a was killed" % took)
        expect(r, 204, what="PATCH on b after a was killed")
        assert took <= LEASE + 2, "node b got the upload %.1f s after node a died (lease %d s)" % (took, LEASE)
        obj = expect(n.b.file_obj(r.header("X-Partage-Id")), 200).json()
        assert obj["sha256"] == sha256(data), obj


def test_tus_node_cut_from_its_heartbeat_stops_writing():
    """A node whose heartbeat cannot get through (here: the nodes table
    locked for 6 s) may be taken for dead by the others after the lease:
    its PATCHes stop first (503), change nothing more, and the upload goes
    on from its durable offset once the node is back."""
    need_pg()
    with Server(TUS_CONFIG, name="cl-fence") as a:
        size = 64 * M
        data = rand_bytes(size, seed=8901)
        r = expect(tus_req(a, "POST", "/api/v1/uploads", Upload_Length=size), 201, what="create")
        path = urllib.parse.urlsplit(r.header("Location")).path
        conn = RawConn(a.port, timeout=30)
        conn.send(("PATCH %s HTTP/1.1\r\nHost: partage\r\nTus-Resumable: 1.0.0\r\n"
                   "Upload-Offset: 0\r\nContent-Type: %s\r\nContent-Length: %d\r\n\r\n"
                   % (path, OCTET, size)).encode())
        sent = [0]
        stop = threading.Event()

        def feed():  # about 5 MiB/s, so that the PATCH lasts
            try:
                while sent[0] < size and not stop.is_set():
                    conn.send(data[sent[0]:sent[0] + 256 * K])
                    sent[0] += 256 * K
                    time.sleep(0.05)
            except OSError:
                pass
        t = threading.Thread(target=feed, daemon=True)
        t.start()
        locker = None
        try:
            assert wait_until(lambda: sent[0] >= 12 * M, 20, 0.05)
            schema = harness.pg_schema(a.store_key)
            locker = subprocess.Popen(
                ["psql", "-X", "-q", "-d", harness.PG_DSN, "-c",
                 "BEGIN; LOCK TABLE %s.nodes IN ACCESS EXCLUSIVE MODE; SELECT pg_sleep(6); COMMIT;" % schema],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            # the node stops recording checkpoints within the lease (the
            # bytes go on coming at 5 MiB/s: a checkpoint every 1.6 s)
            time.sleep(LEASE + 0.5)
            x1 = offset_on(a, path)
            time.sleep(2.0)
            x2 = offset_on(a, path)
            print("  heartbeat blocked: durable offset %.1f MiB after %.1f s, %.1f MiB 2 s later; "
                  "%.1f MiB sent" % (x1 / M, LEASE + 0.5, x2 / M, sent[0] / M))
            assert x1 == x2, "the node went on recording its PATCH without a heartbeat: %d then %d" % (x1, x2)
            # the engine takes the rest of the body, then answers
            resp = conn.read_response()
            assert resp.status == 503, "the PATCH of a node without its heartbeat: %d %r" % (
                resp.status, resp.body[:200])
        finally:
            stop.set()
            conn.close()
            if locker:
                locker.wait(20)
        off = offset_on(a, path)
        assert off == x1 and 0 < off < size, "durable offset %d after the stop, %d while blocked" % (off, x1)
        r = expect(tus_req(a, "PATCH", path, data[off:], Upload_Offset=off, Content_Type=OCTET), 204,
                   what="the rest, once the heartbeat is back")
        obj = expect(a.file_obj(r.header("X-Partage-Id")), 200).json()
        assert obj["sha256"] == sha256(data), obj
        body = expect(a.get(a.dl_path(obj), timeout=120), 200).body
        assert sha256(body) == sha256(data), "the stored bytes differ"


class LbNode(Server):
    """A node whose public URL is the balancer's (tus Location headers
    point there, so a client can fail over)."""

    def __init__(self, config, lb_url=None, **kw):
        self.lb_url = lb_url
        super().__init__(config, **kw)

    @property
    def url(self):
        return self.lb_url if self.lb_url and self.port else "http://127.0.0.1:%d" % (self.port or 0)


def start_balancer(port, nodes):
    d = harness.mkdtemp("haproxy-")
    log_path = os.path.join(d, "haproxy.log")
    env = dict(os.environ, HAPROXY_CHECK_INTERVAL="1s", HAPROXY_PER_IP_CONNECTIONS="0")
    with open(log_path, "ab") as log:
        proc = track(subprocess.Popen(
            ["bash", START_HAPROXY, "--foreground", d, str(port)] + ["127.0.0.1:%d" % x.port for x in nodes],
            stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, env=env))

    def ready():
        if proc.poll() is not None:
            raise AssertionError("haproxy exited with %s" % proc.returncode)
        try:
            with RawConn(port, timeout=2) as c:
                c.send(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                return c.read_response().status == 200
        except OSError:
            return False
    if not wait_until(ready, 120, 0.1):
        proc.kill()
        raise AssertionError("haproxy did not answer /healthz")
    return proc


def test_tus_js_client_fails_over_to_other_node(tmp):
    need_shared_blobs()
    node = shutil.which("node")
    if not node or not os.path.isfile(os.path.join(CLIENT_DIR, "node_modules", "tus-js-client", "package.json")):
        raise Skip("tus-js-client is not installed: run scripts/install-tus-client.sh")
    if not shutil.which("haproxy"):
        raise Skip("haproxy is not installed (scripts/start-haproxy.sh --install)")
    lb_port = free_port()
    lb_url = "http://127.0.0.1:%d" % lb_port
    size = 64 * M + 5
    data = rand_bytes(size, seed=8989)
    src = os.path.join(tmp, "input.bin")
    with open(src, "wb") as f:
        f.write(data)
    with Nodes(TUS_CONFIG, node_class=LbNode, lb_url=lb_url) as n:
        lb = start_balancer(lb_port, [n.a, n.b])
        proc = None
        try:
            # one PATCH for the whole file: what survives a kill is the
            # checkpoints, not the client's chunks
            proc = subprocess.Popen(
                [node, os.path.join(CLIENT_DIR, "upload.mjs"), "--endpoint", lb_url + "/api/v1/uploads",
                 "--file", src, "--store", os.path.join(tmp, "urls.json"), "--chunk-size", str(size)],
                cwd=CLIENT_DIR, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
            events, lock = [], threading.Lock()

            def read():
                for line in proc.stdout:
                    try:
                        ev = json.loads(line)
                    except ValueError:
                        continue
                    with lock:
                        events.append(ev)
            t = threading.Thread(target=read, daemon=True)
            t.start()

            def durable():
                # the upload's durable offset and the node writing it
                # (the lease holder), as the database has them
                row = harness._psql("SET search_path = %s; SELECT received, holder FROM uploads "
                                    "WHERE state = 0" % harness.pg_schema(n.a.store_key)).strip()
                if "|" not in row:
                    return 0, ""
                off, holder = row.split("|", 1)
                return int(off), holder
            # two checkpoints in (the client's own progress counts what
            # sits in its socket buffers, not what the node has)
            assert wait_until(lambda: durable()[0] >= 2 * CHECKPOINT, 90, 0.1), \
                "the durable offset stays at %d: %r" % (durable()[0], events[-5:])
            at_kill, holder = durable()
            victim = n.a if holder.endswith(":%d" % n.a.port) else n.b
            assert holder.endswith(":%d" % victim.port), "lease holder %r" % holder
            victim.kill9()
            t0 = time.monotonic()
            rc = proc.wait(120)
            took = time.monotonic() - t0
            t.join(5)
            err = proc.stderr.read()[-400:]
            with lock:
                evs = list(events)
            statuses = [(e["method"], e["status"], e.get("offset")) for e in evs if e.get("event") == "response"]
            print("  killed the writing node at %.1f MiB durable; done %.1f s later; responses %s" % (
                at_kill / M, took, statuses[-8:]))
            assert rc == 0 and any(e.get("event") == "success" for e in evs), \
                "tus-js-client gave up (exit %s) after the node was killed: %s %r" % (rc, statuses[-8:], err)
            heads = [int(o) for m, s, o in statuses if m == "HEAD" and s in (200, 204) and o]
            assert heads, "the client never asked HEAD after the kill: %s" % statuses
            resumed = heads[0]
            print("  resumed at %.1f MiB (%.1f MiB durable before the kill)" % (resumed / M, at_kill / M))
            assert resumed >= at_kill, "resumed at %d, below the durable %d" % (resumed, at_kill)
            fid = [e for e in evs if e.get("event") == "success"][0]["id"]
            alive = n.b if victim is n.a else n.a
            obj = expect(alive.file_obj(fid), 200).json()
            assert obj["size"] == size and obj["sha256"] == sha256(data), obj
            body = expect(alive.get(alive.dl_path(obj), timeout=120), 200).body
            assert sha256(body) == sha256(data), "the downloaded bytes differ"
        finally:
            if proc and proc.poll() is None:
                proc.kill()
                proc.wait()
            lb.terminate()
            try:
                lb.wait(10)
            except subprocess.TimeoutExpired:
                lb.kill()
