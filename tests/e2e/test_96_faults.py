"""Fault injection: the metadata store or the object store goes away under
a running partaged, and comes back.

Run only with PARTAGE_TEST_FAULTS=1: these tests stop and start services,
so they never use the suite's shared PostgreSQL or S3 (other test runs may
be using those).  Each test starts a private PostgreSQL (and Swift) with
scripts/start-postgres.sh / start-s3.sh in the run's temporary directory,
on ports of their own (PARTAGE_FAULTS_PGPORT, default 25472;
PARTAGE_FAULTS_S3_PORT, default 28130, which takes that port and the next
three), and stops and deletes them at the end, also on failure.

test_pg_outage: uploads, downloads, file-object GETs and tus PATCHes from
a few threads while PostgreSQL is stopped (pg_ctl -m fast, then again
with -m immediate) for a few seconds: requests that need the database get
503 with a reason and Retry-After, never a 500, never a hang or a dropped
connection; /healthz says 503; partaged stays up and serves again, without
a restart, within seconds of the database's return.  Afterwards every
upload that got a 201 is there with the right bytes, none that got an
error is, every tus upload resumes from a consistent offset, and
`partaged admin fsck --full` finds the store clean.

test_s3_outage: a 64 MiB PUT (a multipart upload to S3) and tus PATCHes
while Swift is stopped: a clean 503 with a reason, no link row, no blob
object, no tmp object; when Swift is back, no multipart upload is left in
the bucket once the node has cleaned up (`partaged admin gc` included),
the tus upload resumes and completes, and a new 64 MiB upload works."""

import datetime
import hashlib
import hmac
import http.client
import os
import random
import re
import subprocess
import threading
import time
import urllib.parse

import harness
from harness import Server, Skip, expect, rand_bytes, sha256, wait_until

TIMEOUT = 150

HERE = os.path.dirname(os.path.abspath(__file__))
SCRIPTS = os.path.join(os.path.dirname(os.path.dirname(HERE)), "scripts")
PGBIN = "/usr/lib/postgresql/15/bin"
PG_PORT = int(os.environ.get("PARTAGE_FAULTS_PGPORT", "25472"))
S3_PORT = int(os.environ.get("PARTAGE_FAULTS_S3_PORT", "28130"))
BUCKET = "partage-faults"

TUS = {"Tus-Resumable": "1.0.0"}
OCTET = "application/offset+octet-stream"
# no request may take longer than this, outage or not
BOUND = 12.0


def enabled():
    if os.environ.get("PARTAGE_TEST_FAULTS") != "1":
        raise Skip("fault injection stops and starts a private PostgreSQL and Swift: "
                   "set PARTAGE_TEST_FAULTS=1 to run it")
    # the postgres and swift users must reach their directories in ROOT
    os.chmod(harness.ROOT, 0o711)


def run(cmd, env=None, timeout=120):
    p = subprocess.run(cmd, env=dict(os.environ, **(env or {})), stdin=subprocess.DEVNULL,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=timeout)
    return p.returncode, p.stdout.decode(errors="replace"), p.stderr.decode(errors="replace")


# ------------------------------------------------------------ private services

class PrivatePG:
    """A PostgreSQL cluster of this test alone (scripts/start-postgres.sh)."""

    def __init__(self, name):
        self.dir = os.path.join(harness.ROOT, name)
        self.dsn = None

    def start(self):
        # durable: with synchronous_commit off (the test default), an
        # immediate stop loses commits that were already acknowledged
        rc, out, err = run([os.path.join(SCRIPTS, "start-postgres.sh"), self.dir],
                           env={"PGPORT": str(PG_PORT), "PARTAGE_PG_DURABLE": "1"})
        assert rc == 0, "start-postgres.sh on port %d failed: %s" % (PG_PORT, err[-600:])
        self.dsn = out.strip().splitlines()[-1]
        return self.dsn

    def as_owner(self):
        if os.geteuid() != 0:
            return []
        owner = subprocess.check_output(["stat", "-c", "%U", self.dir]).decode().strip()
        return ["setpriv", "--reuid=" + owner, "--regid=" + owner, "--init-groups", "--"]

    def stop(self, mode):
        """pg_ctl stop -m fast|immediate: clients are cut off at once."""
        rc, _out, err = run(self.as_owner() + [os.path.join(PGBIN, "pg_ctl"), "stop", "-D", self.dir,
                                               "-m", mode, "-w", "-t", "30"])
        assert rc == 0, "pg_ctl stop -m %s: %s" % (mode, err[-400:])

    def psql(self, sql):
        rc, out, err = run([os.path.join(PGBIN, "psql"), "-X", "-q", "-At", "-F", "\t",
                            "-v", "ON_ERROR_STOP=1", "-d", self.dsn, "-c", sql], timeout=30)
        assert rc == 0, "psql %r: %s" % (sql, err[-400:])
        return [l.split("\t") for l in out.splitlines() if l]

    def close(self):
        if os.path.isdir(self.dir):
            run([os.path.join(SCRIPTS, "stop-postgres.sh"), self.dir, "--purge"])


class PrivateS3:
    """A single-node Swift with s3api of this test alone (scripts/start-s3.sh),
    and just enough of a signed S3 client to look into its bucket."""

    def __init__(self, name):
        self.dir = os.path.join(harness.ROOT, name)
        self.endpoint = "http://127.0.0.1:%d" % S3_PORT

    def start(self):
        t0 = time.monotonic()
        rc, _out, err = run([os.path.join(SCRIPTS, "start-s3.sh"), self.dir],
                            env={"S3_PORT": str(S3_PORT), "S3_BUCKET": BUCKET})
        assert rc == 0, "start-s3.sh on port %d failed: %s" % (S3_PORT, err[-600:])
        return time.monotonic() - t0

    def stop(self):
        rc, _out, err = run([os.path.join(SCRIPTS, "stop-s3.sh"), self.dir])
        assert rc == 0, "stop-s3.sh: %s" % err[-400:]

    def close(self):
        if os.path.isdir(self.dir):
            run([os.path.join(SCRIPTS, "stop-s3.sh"), "--purge", self.dir])

    def request(self, method, key="", query=None):
        """One SigV4-signed request (UNSIGNED-PAYLOAD) on the bucket or a key
        of it; returns (status, body)."""
        ak, sk, region = "test:tester", "testing", "us-east-1"
        t = datetime.datetime.now(datetime.timezone.utc)
        amz, day = t.strftime("%Y%m%dT%H%M%SZ"), t.strftime("%Y%m%d")
        path = "/" + BUCKET + ("/" + urllib.parse.quote(key, safe="/") if key else "")
        q = "&".join("%s=%s" % (urllib.parse.quote(k, safe=""), urllib.parse.quote(v, safe=""))
                     for k, v in sorted((query or {}).items()))
        h = {"host": "127.0.0.1:%d" % S3_PORT, "x-amz-content-sha256": "UNSIGNED-PAYLOAD",
             "x-amz-date": amz}
        names = ";".join(sorted(h))
        creq = "\n".join([method, path, q, "".join("%s:%s\n" % (k, h[k]) for k in sorted(h)),
                          names, "UNSIGNED-PAYLOAD"])
        scope = "%s/%s/s3/aws4_request" % (day, region)
        sts = "\n".join(["AWS4-HMAC-SHA256", amz, scope, hashlib.sha256(creq.encode()).hexdigest()])
        k = ("AWS4" + sk).encode()
        for m in (day, region, "s3", "aws4_request"):
            k = hmac.new(k, m.encode(), hashlib.sha256).digest()
        sig = hmac.new(k, sts.encode(), hashlib.sha256).hexdigest()
        h["Authorization"] = ("AWS4-HMAC-SHA256 Credential=%s/%s, SignedHeaders=%s, Signature=%s"
                              % (ak, scope, names, sig))
        c = http.client.HTTPConnection("127.0.0.1", S3_PORT, timeout=20)
        try:
            c.request(method, path + ("?" + q if q else ""), headers=h)
            r = c.getresponse()
            return r.status, r.read().decode(errors="replace")
        finally:
            c.close()

    def multipart_uploads(self):
        """(key, upload id) of every multipart upload in progress in the bucket
        (ListMultipartUploads, one page: a test makes few)."""
        st, body = self.request("GET", query={"uploads": ""})
        assert st == 200, "ListMultipartUploads: HTTP %d %s" % (st, body[:300])
        return re.findall(r"<Upload>.*?<Key>(.*?)</Key>.*?<UploadId>(.*?)</UploadId>", body, re.S)

    def keys(self, prefix):
        st, body = self.request("GET", query={"list-type": "2", "prefix": prefix})
        assert st == 200, "ListObjectsV2 %s: HTTP %d %s" % (prefix, st, body[:300])
        return re.findall(r"<Key>(.*?)</Key>", body)

    def exists(self, key):
        st, body = self.request("HEAD", key)
        assert st in (200, 404), "HEAD %s: HTTP %d %s" % (key, st, body[:200])
        return st == 200


# ----------------------------------------------------------------- checks

def check_503(r, what, head=False):
    """A 503 as an outage should look: a reason in the body (a HEAD reply
    has none), Retry-After."""
    assert r.status == 503, "%s: expected 503, got %r" % (what, r)
    assert head or r.body.strip(), "%s: 503 without a reason" % what
    ra = r.header("Retry-After")
    assert ra and ra.isdigit() and 0 < int(ra) <= 3600, "%s: 503 with Retry-After %r" % (what, ra)


class Traffic:
    """Requests from several threads, every outcome recorded as
    (start, end, kind, status or exception text, Resp or None)."""

    def __init__(self, srv, seeds):
        self.srv = srv
        self.seeds = seeds  # [(file object, bytes)] uploaded before the fault
        self.log = []
        self.lock = threading.Lock()
        self.halt = threading.Event()
        self.puts = {}      # name -> (bytes, status, id or None)
        self.tus = []       # [path, bytes, acknowledged offset, done, busy, stale]
        self.threads = [threading.Thread(target=self.loop, args=(f,), daemon=True)
                        for f in (self.put, self.download, self.fileobj, self.tus_step, self.tus_step)]
        self.n = 0

    def call(self, kind, method, path, body=None, headers=None):
        t0 = time.monotonic()
        try:
            r = self.srv.request(method, path, body=body, headers=headers, timeout=BOUND + 8)
            res = r.status
        except Exception as e:  # noqa: BLE001 — a dropped connection is a finding
            r, res = None, "%s: %s" % (type(e).__name__, e)
        with self.lock:
            self.log.append((t0, time.monotonic(), kind, res, r))
        return r

    def loop(self, fn):
        rnd = random.Random(threading.get_ident())
        while not self.halt.is_set():
            try:
                fn(rnd)
            except Exception as e:  # noqa: BLE001 — reported by check_outcomes
                with self.lock:
                    t = time.monotonic()
                    self.log.append((t, t, fn.__name__, "%s: %s" % (type(e).__name__, e), None))
            time.sleep(0.02)

    def put(self, rnd):
        with self.lock:
            self.n += 1
            name = "fault-%05d.bin" % self.n
        data = rand_bytes(rnd.randrange(1, 200000))
        r = self.call("put", "PUT", "/" + name, data, {"Accept": "application/json"})
        fid = r.json().get("id") if r is not None and r.status == 201 else None
        with self.lock:
            self.puts[name] = (data, r.status if r is not None else None, fid)

    def download(self, rnd):
        obj, data = rnd.choice(self.seeds)
        r = self.call("download", "GET", self.srv.dl_path(obj))
        if r is not None and r.status == 200 and r.body != data:
            raise AssertionError("download of %s: wrong bytes" % obj["id"])

    def fileobj(self, rnd):
        obj, _ = rnd.choice(self.seeds)
        self.call("fileobj", "GET", "/api/v1/files/" + obj["id"], headers={"Accept": "application/json"})
        self.call("healthz", "GET", "/healthz")

    def tus_step(self, rnd):
        with self.lock:
            open_ = [u for u in self.tus if not u[3] and not u[4]]
            u = open_[0] if open_ else None
            if u:
                u[4] = True  # busy: one thread per upload
        if u is None:
            data = rand_bytes(rnd.randrange(100000, 400000))
            r = self.call("tus_create", "POST", "/api/v1/uploads", b"",
                          dict(TUS, **{"Upload-Length": str(len(data))}))
            if r is not None and r.status == 201:
                path = urllib.parse.urlsplit(r.header("Location")).path
                with self.lock:
                    self.tus.append([path, data, 0, False, False, False])
            return
        path, data, off = u[0], u[1], u[2]
        if u[5]:
            # After a failed PATCH a tus client asks where the upload is
            # (tus-js-client resumes with HEAD): a 503 may have come after
            # the bytes, or the completion, committed.
            r = self.call("tus_head", "HEAD", path, None, TUS)
            with self.lock:
                if r is not None and r.status in (200, 204):
                    u[2] = int(r.header("Upload-Offset"))
                    u[3] = u[2] == len(data)
                    u[5] = False
                elif r is not None and r.status != 503:
                    u[3] = True  # something else: checked at the end
                u[4] = False
            return
        chunk = data[off:off + 65536]
        r = self.call("tus_patch", "PATCH", path, chunk,
                      dict(TUS, **{"Upload-Offset": str(off), "Content-Type": OCTET}))
        with self.lock:
            if r is not None and r.status == 204:
                u[2] = off + len(chunk)
                u[3] = u[2] == len(data)
            elif r is None or r.status == 503:
                u[5] = True
            else:
                u[3] = True  # something else: checked at the end
            u[4] = False

    def __enter__(self):
        for t in self.threads:
            t.start()
        return self

    def __exit__(self, *a):
        self.halt.set()
        for t in self.threads:
            t.join(BOUND + 10)

    def since(self, t):
        with self.lock:
            return [e for e in self.log if e[0] >= t]

    def between(self, t0, t1):
        with self.lock:
            return [e for e in self.log if e[0] >= t0 and e[0] < t1]


def check_outcomes(entries, what):
    """Success or a well-formed 503, nothing else (no 500, no 409 from a
    lease the outage left behind), no exception, no request past the bound."""
    for t0, t1, kind, res, r in entries:
        assert not isinstance(res, str), "%s: %s request failed: %s" % (what, kind, res)
        assert t1 - t0 <= BOUND, "%s: a %s request took %.1fs" % (what, kind, t1 - t0)
        assert res in (200, 201, 204, 503), "%s: %s got %r" % (what, kind, r)
        if res == 503:
            check_503(r, "%s: %s" % (what, kind), head=kind == "tus_head")


# ---------------------------------------------------------- PostgreSQL

def test_pg_outage():
    enabled()
    pg = PrivatePG("faults-pg")
    srv = None
    try:
        dsn = pg.start()
        srv = Server("[metadata]\nbackend = postgres\npostgres_dsn = %s\n"
                     "[storage]\nbackend = fs\n"
                     "[tier.anonymous]\nmax_upload_bytes = 64M\n" % dsn, name="faults-pg")
        seeds = []
        for i in range(6):
            data = rand_bytes(50000 + i * 3000)
            seeds.append((srv.upload("seed-%d.bin" % i, data), data))
        recovery = {}
        with Traffic(srv, seeds) as tr:
            time.sleep(1.5)
            for mode in ("fast", "immediate"):
                t_stop = time.monotonic()
                pg.stop(mode)
                t_down = time.monotonic()
                time.sleep(3)
                out = tr.between(t_down + 0.5, time.monotonic())
                st = [e[3] for e in out]
                assert 503 in st, "PostgreSQL stopped (-m %s) for 2.5 s, no request got 503: %s" % (
                    mode, sorted(set(map(str, st))))
                assert srv.alive(), "partaged died when PostgreSQL stopped (-m %s): %s" % (mode, srv.log_tail())
                h = srv.get("/healthz", timeout=BOUND)
                check_503(h, "GET /healthz with PostgreSQL stopped")
                pg.start()
                t_up = time.monotonic()
                ok = wait_until(lambda: srv.get("/healthz", timeout=BOUND).status == 200, 10, 0.1)
                assert ok, "/healthz not 200 within 10 s of PostgreSQL's return (-m %s)" % mode
                t_ok = time.monotonic()
                recovery[mode] = t_ok - t_up
                time.sleep(3)
                # every thread has reconnected (one attempt a second at most)
                after = [e for e in tr.since(t_ok + 1.5) if e[0] < time.monotonic()]
                assert after, "no traffic after the recovery"
                bad = [(e[2], e[3]) for e in after if e[3] not in (200, 201, 204)]
                assert not bad, "after PostgreSQL came back (-m %s): %s" % (mode, bad[:10])
                check_outcomes(tr.between(t_stop - 1, time.monotonic()), "outage -m %s" % mode)
            check_outcomes(tr.since(0), "whole run")
        assert srv.alive(), "partaged died: %s" % srv.log_tail()
        n503 = sum(1 for e in tr.log if e[3] == 503)
        # what an operator sees: the 503s counted, the outage logged
        m = harness.metric_sum(srv.metrics(), "partage_requests_total", status="503") or 0
        assert m >= n503, "partage_requests_total{status=503} is %d, clients saw %d" % (m, n503)
        log = srv.log_tail(100000)
        assert "answering 503 until it is back" in log and "connected to postgres again" in log, \
            "the outage is not in the log: %s" % srv.log_tail(10)
        print("     pg outage: %d requests, %d 503s, healthz back after %s" % (
            len(tr.log), n503, ", ".join("%.2fs (-m %s)" % (v, k) for k, v in recovery.items())))

        # uploads: a 201 is there with its bytes, an error is not there
        rows = {name: (lid, sha, int(size))
                for lid, name, sha, size in pg.psql("SELECT id, name, sha256, size FROM links")}
        ambiguous = srv.log_tail(100000).count("may or may not have committed")
        surprises = []
        for name, (data, status, fid) in sorted(tr.puts.items()):
            if status == 201:
                assert name in rows, "upload %s got 201 (id %s) but has no link row; log: %s" % (
                    name, fid, [l for l in srv.log_tail(100000).split(" | ") if fid in l or "db:" in l][-12:])
                assert rows[name] == (fid, sha256(data), len(data)), "link row of %s: %r" % (name, rows[name])
                g = expect(srv.get(srv.dl_path(expect(srv.file_obj(fid), 200).json())), 200)
                assert g.body == data, "download of %s (%s): wrong bytes" % (name, fid)
            elif name in rows:
                surprises.append((name, status))
        assert len(surprises) <= ambiguous, (
            "uploads that got an error are visible: %s (log lines of a COMMIT cut off: %d)" % (
                surprises, ambiguous))
        assert sum(1 for v in tr.puts.values() if v[1] == 201) >= 5, "too few uploads went through"

        # tus: every upload resumes from a consistent offset and completes
        for path, data, acked, _done, _busy, _stale in tr.tus:
            r = srv.request("HEAD", path, headers=TUS)
            if r.status == 404 or r.status == 410:
                raise AssertionError("tus upload %s vanished: %r" % (path, r))
            expect(r, 200, 204, what="HEAD %s" % path)
            off = int(r.header("Upload-Offset"))
            assert acked <= off <= len(data), "tus %s: offset %d, acknowledged %d, length %d" % (
                path, off, acked, len(data))
            if off < len(data):
                expect(srv.request("PATCH", path, body=data[off:],
                                   headers=dict(TUS, **{"Upload-Offset": str(off), "Content-Type": OCTET})),
                       204, what="PATCH %s from %d" % (path, off))
            obj = expect(srv.get(path, {"Accept": "application/json"}), 200).json()
            assert obj["sha256"] == sha256(data) and obj["size"] == len(data), "tus %s: %r" % (path, obj)

        # Every row points at good bytes.  An upload that failed for want of
        # its row leaves its blob behind (the blob is committed first, and
        # removing it safely takes the database): fsck names those strays,
        # they are exactly the failed uploads', and gc takes them once they
        # are an hour old.
        p = srv.admin("fsck", "--full", timeout=120)
        failed = {sha256(d) for d, st, _ in tr.puts.values() if st != 201}
        failed |= {sha256(u[1]) for u in tr.tus}
        problems = [l for l in p.stdout.splitlines() if not l.startswith("fsck: ")]
        strays = set()
        for l in problems:
            m = re.fullmatch(r"stray blob ([0-9a-f]{64}) \(\d+ bytes\): no metadata refers to it", l)
            assert m, "fsck --full after the outages: %s" % l
            strays.add(m.group(1))
        assert strays <= failed, "stray blobs that no failed upload explains: %s" % sorted(strays - failed)
        # Once a node knows the database is down it refuses uploads before
        # their bodies, so only those in flight when it went down (one PUT
        # and two tus threads, two outages) can leave bytes behind.
        assert len(strays) <= 6, "%d stray blobs: uploads are stored while the database is known to be down" % len(strays)
        assert p.returncode == (1 if strays else 0), "fsck --full: exit %d: %s" % (
            p.returncode, (p.stderr + p.stdout)[-600:])
        p = srv.admin("gc", "--now", str(int(time.time()) + 7200), timeout=120)
        assert p.returncode == 0, "gc: %s" % (p.stdout + p.stderr)
        p = srv.admin("fsck", "--full", timeout=120)
        assert p.returncode == 0, "fsck --full after gc: exit %d: %s" % (
            p.returncode, (p.stderr + p.stdout)[:1500])
        print("     pg outage: %d stray blobs of failed uploads, gone after gc" % len(strays))
        srv.close()
        srv = None
    finally:
        if srv is not None:
            srv.close(quiet=True)
        pg.close()


# ---------------------------------------------------------------- S3

def stream_put(srv, name, data, at, action, chunk=1 << 20):
    """PUT name with data on a raw socket, calling action() once `at` bytes
    are sent; returns (Resp, seconds from action's end to the reply)."""
    c = srv.raw_conn(timeout=60)
    t_act = None
    try:
        c.send(("PUT /%s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nContent-Length: %d\r\n"
                "Accept: application/json\r\n\r\n" % (name, srv.port, len(data))).encode())
        off = 0
        while off < len(data):
            if t_act is None and off >= at:
                action()
                t_act = time.monotonic()
            if c.readable(0):
                break  # answered early
            try:
                c.send(data[off:off + chunk])
            except (BrokenPipeError, ConnectionResetError):
                break
            off += chunk
        r = c.read_response("PUT")
        return r, time.monotonic() - (t_act or time.monotonic())
    finally:
        c.close()


def test_s3_outage():
    enabled()
    pg = PrivatePG("faults-s3pg")
    s3 = PrivateS3("faults-s3")
    srv = None
    try:
        dsn = pg.start()
        t_start = s3.start()
        srv = Server("[metadata]\nbackend = postgres\npostgres_dsn = %s\n"
                     "[storage]\nbackend = s3\ns3_endpoint = %s\ns3_bucket = %s\n"
                     "s3_access_key = test:tester\ns3_secret_key = testing\n"
                     "[tier.anonymous]\nmax_upload_bytes = 256M\n" % (dsn, s3.endpoint, BUCKET),
                     name="faults-s3")
        small = rand_bytes(100000)
        keep = srv.upload("before.bin", small)

        # a tus upload with one full segment stored before the outage
        tdata = rand_bytes(20 << 20)
        r = expect(srv.request("POST", "/api/v1/uploads", body=b"",
                               headers=dict(TUS, **{"Upload-Length": str(len(tdata))})), 201)
        tpath = urllib.parse.urlsplit(r.header("Location")).path
        expect(srv.request("PATCH", tpath, body=tdata[:10 << 20],
                           headers=dict(TUS, **{"Upload-Offset": "0", "Content-Type": OCTET})), 204)

        # 64 MiB PUT: Swift stops after 24 MiB, while parts are in flight
        big = rand_bytes(64 << 20)
        t0 = time.monotonic()
        r, after = stream_put(srv, "big.bin", big, 24 << 20, s3.stop)
        print("     s3 outage: PUT answered %r %.1fs after Swift stopped (%.1fs in all)" % (
            r.status, after, time.monotonic() - t0))
        check_503(r, "64 MiB PUT with Swift stopped")
        assert after <= BOUND + 5, "the PUT's answer took %.1fs after the outage began" % after
        assert srv.alive(), "partaged died: %s" % srv.log_tail()

        # the tus upload: the rest fails cleanly, and so does its HEAD or not
        r = srv.request("PATCH", tpath, body=tdata[10 << 20:],
                        headers=dict(TUS, **{"Upload-Offset": str(10 << 20), "Content-Type": OCTET}),
                        timeout=BOUND + 8)
        check_503(r, "tus PATCH with Swift stopped")
        # reads of stored files fail cleanly too
        r = srv.get(srv.dl_path(keep), timeout=BOUND + 8)
        check_503(r, "download with Swift stopped")
        # nothing half-visible: the one link is the one from before
        rows = pg.psql("SELECT id, sha256 FROM links")
        assert rows == [[keep["id"], keep["sha256"]]], "link rows after the failed uploads: %r" % rows
        expect(srv.get(tpath, {"Accept": "application/json"}), 409,
               what="GET of the unfinished tus upload")

        t_back = s3.start()
        print("     multipart uploads right after the restart: %r" % s3.multipart_uploads())
        print("     Swift start %.1fs, restart %.1fs" % (t_start, t_back))
        assert not s3.exists("blobs/%s/%s/%s" % (sha256(big)[:2], sha256(big)[2:4], sha256(big))), \
            "the failed PUT's blob is in the bucket"
        p = srv.admin("gc", timeout=120)
        assert p.returncode == 0, "admin gc: exit %d: %s" % (p.returncode, (p.stdout + p.stderr)[-600:])
        t_gc = time.monotonic()
        left = wait_until(lambda: not s3.multipart_uploads(), 15, 0.5)
        assert left, "multipart uploads left in the bucket 15 s after Swift's return: %r; log: %s" % (
            s3.multipart_uploads(), srv.log_tail(8))
        print("     s3 outage: multipart uploads gone %.1fs after gc" % (time.monotonic() - t_gc))
        # the listing may lag; the log says what happened to each upload
        log = srv.log_tail(100000)
        for key in re.findall(r"cannot abort the upload of '([^']+)'", log):
            assert "aborted the upload of '%s'" % key in log, \
                "the multipart upload of %s was never aborted: %s" % (key, srv.log_tail(10))
        assert not s3.keys("tmp/"), "tmp/ objects left: %r" % s3.keys("tmp/")

        # the tus upload resumes where its stored bytes end, and completes
        r = expect(srv.request("HEAD", tpath, headers=TUS), 200, 204)
        off = int(r.header("Upload-Offset"))
        assert off == 10 << 20, "tus offset after the outage: %d (10 MiB were acknowledged)" % off
        expect(srv.request("PATCH", tpath, body=tdata[off:],
                           headers=dict(TUS, **{"Upload-Offset": str(off), "Content-Type": OCTET})), 204)
        obj = expect(srv.get(tpath, {"Accept": "application/json"}), 200).json()
        assert obj["sha256"] == sha256(tdata), "tus file after the outage: %r" % obj

        # and a new big upload works, bytes and all
        o = srv.upload("after.bin", big)
        assert o["sha256"] == sha256(big)
        g = expect(srv.get(srv.dl_path(o), timeout=60), 200)
        assert sha256(g.body) == sha256(big), "the 64 MiB file reads back wrong"
        assert expect(srv.get(srv.dl_path(keep)), 200).body == small
        assert not s3.multipart_uploads(), "multipart uploads after a good upload: %r" % s3.multipart_uploads()
        srv.close()
        srv = None
    finally:
        if srv is not None:
            srv.close(quiet=True)
        s3.close()
        pg.close()
