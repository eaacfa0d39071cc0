"""Expiry and garbage collection: `partaged admin gc [--now T] [--dry-run]`
and the server's own maintenance pass.

Time travel: `gc --now` moves the clock of one gc pass; a download "on day
20" is made by restarting the server with PARTAGE_TIME_OFFSET on the same
data dir.  Rules under test: anonymous links expire after 21 days without
a counted download (one client got every byte; HEAD or a Range that
misses byte 0 does not count), free accounts' after 90, premium accounts'
never; Max-Days, Max-Downloads (burn after reading), deleted links,
abandoned resumable uploads, old strays; a blob file goes only with its
last live link.  Then the hard parts: uploads that deduplicate onto a blob
while gc deletes it (500 rounds, PUT and tus), onto a stray while gc
sweeps it, uploads during `gc --now` in the future, kill -9 in the middle
of a gc pass over 3000 links, a download that outlives the expiry of its
link, --dry-run (also past one batch), and the gc/storage metrics.
docs/internals.md explains the protocol these tests hold the server to."""

import hashlib
import json
import os
import re
import shutil
import socket
import sqlite3
import subprocess
import tempfile
import threading
import time
import urllib.parse

import harness
from harness import expect, metric_sum, rand_bytes, sha256, wait_until, Server

TIMEOUT = 90
DAY = 86400
PW = "correct horse battery"
OCTET = "application/offset+octet-stream"

GC_RX = re.compile(r"(\d+) links expired, (\d+) blobs removed \((\d+) bytes\), "
                   r"(\d+) uploads expired, (\d+) stray files removed")


# ------------------------------------------------------------------ helpers

def out(p):
    return p.stdout + p.stderr


def gc(s, now=None, dry=False):
    """Run `admin gc`; returns its counts as a dict (asserts exit 0)."""
    args = ["gc"]
    if now is not None:
        args += ["--now", str(int(now))]
    if dry:
        args.append("--dry-run")
    p = s.admin(*args)
    assert p.returncode == 0, "admin %s: exit %d: %s" % (" ".join(args), p.returncode, out(p))
    m = GC_RX.search(p.stdout)
    assert m, "admin %s: no counts in its output: %r" % (" ".join(args), out(p))
    st = dict(zip(("links", "blobs", "bytes", "uploads", "strays"), map(int, m.groups())))
    if dry:
        assert "dry run" in p.stdout, "gc --dry-run does not say so: %r" % p.stdout
    return st


def fsck_clean(s, what):
    p = s.admin("fsck")
    assert p.returncode == 0, "fsck %s: exit %d: %s" % (what, p.returncode, out(p))
    assert re.search(r"\b0 problems\b", p.stdout), "fsck %s: %r" % (what, out(p))


def delete(s, obj):
    expect(s.delete("/" + obj["id"], {"X-Delete-Token": obj["delete_token"]}), 204,
           what="DELETE /%s" % obj["id"])


def fetch(s, obj, what=""):
    """Download fully (a counted download); returns the body."""
    r = s.get(s.dl_path(obj))
    expect(r, 200, what=what or "GET %s" % obj["id"])
    return r.body


def is_live(s, obj):
    """The link is live by the file object (no download counted)."""
    r = s.file_obj(obj["id"])
    assert r.status in (200, 404, 410), "GET /api/v1/files/%s: %r" % (obj["id"], r)
    return r.status == 200


def assert_live(s, obj, what):
    r = s.file_obj(obj["id"])
    assert r.status == 200, "%s: link %s should be live, file object says %r" % (what, obj["id"], r)


def assert_gone(s, obj, what):
    r = s.get(s.dl_path(obj))
    assert r.status in (404, 410), "%s: link %s should be gone, GET gave %r" % (what, obj["id"], r)


def blob_on_disk(s, data):
    return os.path.exists(s.blob_path(sha256(data)))


def make_user(s, name, tier=None, days=None):
    """`admin user add` (password on stdin), optional set-tier; returns
    Authorization headers from POST /api/v1/tokens."""
    p = s.admin("user", "add", name, input=PW + "\n")
    assert p.returncode == 0, "admin user add %s: exit %d: %s" % (name, p.returncode, out(p))
    if tier:
        args = ["user", "set-tier", name, tier] + (["--days", str(days)] if days else [])
        p = s.admin(*args)
        assert p.returncode == 0, "admin %s: exit %d: %s" % (" ".join(args), p.returncode, out(p))
    r = s.request("POST", "/api/v1/tokens", body=json.dumps({"name": name, "password": PW}).encode(),
                  headers={"Content-Type": "application/json", "Accept": "application/json"})
    expect(r, 201, what="POST /api/v1/tokens for %s" % name)
    return {"Authorization": "Bearer " + r.json()["token"]}


def admin_popen(s, *args):
    """Start `partaged admin ARGS` without waiting (to kill it)."""
    e = {k: v for k, v in os.environ.items() if not k.startswith("PARTAGE_")}
    cmd = [harness.bin_path("partaged"), "admin", "--config", s.conf, "--data", s.data] + list(args)
    p = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, env=e, cwd=s.work)
    with harness._PROCS_LOCK:
        harness.PROCS.append(p)
    return p


def tus_put(s, data, headers=None):
    """One-request tus upload (creation-with-upload); returns a file-object
    like dict with id and delete_token."""
    hd = {"Tus-Resumable": "1.0.0", "Upload-Length": str(len(data)), "Content-Type": OCTET}
    hd.update(headers or {})
    r = s.request("POST", "/api/v1/uploads", body=data, headers=hd)
    expect(r, 201, what="tus creation-with-upload")
    fid, tok = r.header("X-Partage-Id"), r.header("X-Delete-Token")
    assert fid and tok, "completed tus upload without X-Partage-Id/X-Delete-Token: %r" % r.headers.items()
    fo = expect(s.file_obj(fid), 200, what="file object of tus upload %s" % fid).json()
    fo["delete_token"] = tok
    return fo


# ------------------------------------------------------------ retention rules

def test_anonymous_21_days_download_on_day_20_resets():
    with Server("", name="gc-anon") as s:
        t0 = int(time.time())
        idle = s.upload("idle.bin", rand_bytes(3001))
        dl_data = rand_bytes(3002)
        dl = s.upload("dl.bin", dl_data)
        touched_data = rand_bytes(3003)
        touched = s.upload("touched.bin", touched_data)

        st = gc(s, now=t0 + 20 * DAY + 23 * 3600)
        assert st["links"] == 0, "gc on day 20.9 expired anonymous links: %r" % st
        for o in (idle, dl, touched):
            assert_live(s, o, "day 20.9")

        # day 20: a full download of dl; only a HEAD and a Range from byte
        # 1 of touched (neither is a counted download)
        s.restart(env={"PARTAGE_TIME_OFFSET": str(20 * DAY)})
        assert fetch(s, dl, "GET on day 20") == dl_data
        expect(s.head(s.dl_path(touched)), 200, what="HEAD on day 20")
        r = expect(s.get(s.dl_path(touched), {"Range": "bytes=1-"}), 206, what="Range 1- on day 20")
        assert r.body == touched_data[1:]
        # the batched counter reaches the database within a few seconds
        r = wait_until(lambda: s.file_obj(dl["id"]).json().get("downloads", 0) >= 1, 6)
        assert r, "the day-20 download was never counted: %r" % s.file_obj(dl["id"]).body
        # the server keeps running (no SIGTERM flush): last_download is stored

        st = gc(s, now=t0 + 22 * DAY)
        assert st["links"] == 2, "gc on day 22: want idle + touched expired, got %r" % st
        assert_gone(s, idle, "day 22, never downloaded")
        assert_gone(s, touched, "day 22, only HEAD/Range 1- on day 20")
        assert_live(s, dl, "day 22, downloaded on day 20")
        assert fetch(s, dl) == dl_data  # (server clock is day 20 + now)
        assert not blob_on_disk(s, touched_data), "blob of an expired link still on disk"
        assert blob_on_disk(s, dl_data), "blob of a live link removed"

        # 21 days after the day-20 downloads it goes too
        st = gc(s, now=t0 + 40 * DAY)
        assert st["links"] == 0 and is_live(s, dl), "downloaded on day 20, expired by day 40: %r" % st
        st = gc(s, now=t0 + 20 * DAY + 21 * DAY + 3600)
        assert st["links"] == 1 and st["blobs"] == 1, "day 41: %r" % st
        assert_gone(s, dl, "day 41, last download day 20")
        assert not blob_on_disk(s, dl_data), "blob of the expired link still on disk"
        fsck_clean(s, "after the retention passes")


def test_free_90_days_premium_never():
    with Server("", name="gc-tiers") as s:
        free_h = make_user(s, "alice65")
        prem_h = make_user(s, "bob65", "premium")
        lapse_h = make_user(s, "carol65", "premium", days=200)
        t0 = int(time.time())
        anon_d, free_d, prem_d, lapse_d = (rand_bytes(2000 + i) for i in range(4))
        anon = s.upload("anon.bin", anon_d)
        free = s.upload("free.bin", free_d, free_h)
        prem = s.upload("prem.bin", prem_d, prem_h)
        lapse = s.upload("lapse.bin", lapse_d, lapse_h)

        st = gc(s, now=t0 + 89 * DAY)
        assert st["links"] == 1, "day 89: only the anonymous link expires: %r" % st
        assert_gone(s, anon, "anonymous on day 89")
        for o in (free, prem, lapse):
            assert_live(s, o, "day 89")

        st = gc(s, now=t0 + 90 * DAY + 3600)
        assert st["links"] == 1, "day 90: the free account's link expires: %r" % st
        assert_gone(s, free, "free account, day 90, never downloaded")
        assert not blob_on_disk(s, free_d)
        assert_live(s, prem, "premium, day 90")
        assert_live(s, lapse, "premium until day 200, day 90")

        st = gc(s, now=t0 + 150 * DAY)
        assert st["links"] == 0, "day 150: premium (until day 200) expired: %r" % st

        # premium for good: never; premium that lapsed on day 200: free rules
        st = gc(s, now=t0 + 3650 * DAY)
        assert st["links"] == 1, "day 3650: %r" % st
        assert_live(s, prem, "premium, ten years without a download")
        assert fetch(s, prem) == prem_d
        assert_gone(s, lapse, "premium lapsed on day 200, day 3650")
        assert blob_on_disk(s, prem_d) and not blob_on_disk(s, lapse_d)
        fsck_clean(s, "after the tier passes")


def test_max_days_and_max_downloads():
    with Server("", name="gc-limits") as s:
        t0 = int(time.time())
        burn_d, two_d, md_d = rand_bytes(1500), rand_bytes(1501), rand_bytes(1502)
        burn = s.upload("burn.bin", burn_d, {"Max-Downloads": "1"})
        two = s.upload("two.bin", two_d, {"Max-Downloads": "2"})
        md = s.upload("md.bin", md_d, {"Max-Days": "2"})

        st = gc(s)
        assert st["links"] == 0 and st["blobs"] == 0, "gc before any download: %r" % st
        assert fetch(s, burn) == burn_d
        assert fetch(s, two) == two_d
        expect(s.get(s.dl_path(burn)), 410, what="second GET of a burn-after-read link")
        st = gc(s)
        assert st["links"] == 1 and st["blobs"] == 1, "gc after the burn: %r" % st
        assert not blob_on_disk(s, burn_d), "burnt link's blob still on disk"
        assert blob_on_disk(s, two_d), "Max-Downloads 2 with 1 download: blob removed"
        assert fetch(s, two) == two_d
        st = gc(s)
        assert st["links"] == 1 and not blob_on_disk(s, two_d), "Max-Downloads 2 after 2: %r" % st

        st = gc(s, now=t0 + DAY + 3600)
        assert st["links"] == 0 and is_live(s, md), "Max-Days 2 expired on day 1: %r" % st
        st = gc(s, now=t0 + 2 * DAY + 60)
        assert st["links"] == 1 and st["blobs"] == 1, "Max-Days 2 on day 2: %r" % st
        assert_gone(s, md, "Max-Days 2 after gc on day 2")
        assert not blob_on_disk(s, md_d)
        fsck_clean(s, "after the limit passes")


def test_blob_goes_only_with_its_last_link():
    with Server("", name="gc-last") as s:
        t0 = int(time.time())
        shared = rand_bytes(4000)
        h = sha256(shared)
        short = s.upload("short.bin", shared, {"Max-Days": "1"})
        burn = s.upload("burn.bin", shared, {"Max-Downloads": "1"})
        dele = s.upload("del.bin", shared)
        plain = s.upload("plain.bin", shared)
        assert s.blob_files().count(os.path.join(h[:2], h[2:4], h)) == 1, "dedup: one file per content"

        st = gc(s, now=t0 + 2 * DAY)
        assert st["links"] == 1 and st["blobs"] == 0, "Max-Days link of a shared blob: %r" % st
        assert_gone(s, short, "Max-Days 1 on day 2")
        assert os.path.exists(s.blob_path(h)), "blob removed while 3 links still use it"
        fetch(s, burn)
        delete(s, dele)
        st = gc(s)
        assert st["links"] == 1 and st["blobs"] == 0, "burnt + deleted links of a shared blob: %r" % st
        assert os.path.exists(s.blob_path(h)), "blob removed while a link still uses it"
        assert fetch(s, plain) == shared
        delete(s, plain)
        st = gc(s)
        assert st["blobs"] == 1 and st["bytes"] == len(shared), "the last link deleted: %r" % st
        assert not os.path.exists(s.blob_path(h)), "the last link is gone but the blob stays"

        # stray files (no row): an hour-old one goes, a young one stays
        old, young = rand_bytes(777), rand_bytes(778)
        for d in (old, young):
            p = s.blob_path(sha256(d))
            os.makedirs(os.path.dirname(p), exist_ok=True)
            with open(p, "wb") as f:
                f.write(d)
        t = time.time() - 7200
        os.utime(s.blob_path(sha256(old)), (t, t))
        st = gc(s)
        assert st["strays"] == 1, "one stray older than the grace: %r" % st
        assert not blob_on_disk(s, old) and blob_on_disk(s, young), "stray handling: old %s, young %s" % (
            blob_on_disk(s, old), blob_on_disk(s, young))


def test_abandoned_resumable_upload_expires():
    with Server("[server]\nupload_expiry_hours = 2\n", name="gc-tus") as s:
        t0 = int(time.time())
        hd = {"Tus-Resumable": "1.0.0"}
        r = expect(s.request("POST", "/api/v1/uploads", body=b"",
                             headers=dict(hd, **{"Upload-Length": "1000"})), 201, what="tus create")
        path = urllib.parse.urlsplit(urllib.parse.urljoin(s.url + "/api/v1/uploads",
                                                          r.header("Location"))).path
        uid = path.rsplit("/", 1)[1]
        expect(s.request("PATCH", path, body=b"x" * 400,
                         headers=dict(hd, **{"Upload-Offset": "0", "Content-Type": OCTET})), 204,
               what="PATCH 400 bytes")
        partial = s.path("uploads", uid)
        assert os.path.exists(partial), "no partial file at %s" % partial
        done = tus_put(s, rand_bytes(900))  # a complete one: its link is not an upload

        st = gc(s, now=t0 + 3600)
        assert st["uploads"] == 0 and os.path.exists(partial), "hour 1 of 2: %r" % st
        expect(s.request("HEAD", path, headers=hd), 200, 204, what="HEAD after gc on hour 1")
        st = gc(s, now=t0 + 2 * 3600 + 60, dry=True)
        assert st["uploads"] == 1 and os.path.exists(partial), "dry run on hour 2: %r" % st
        st = gc(s, now=t0 + 2 * 3600 + 60)
        assert st["uploads"] == 1, "hour 2: the abandoned upload expires: %r" % st
        assert not os.path.exists(partial), "expired upload kept its bytes"
        r = s.request("HEAD", path, headers=hd)
        assert r.status in (404, 410), "HEAD of an expired upload: %r" % r
        r = s.request("PATCH", path, body=b"y" * 10,
                      headers=dict(hd, **{"Upload-Offset": "400", "Content-Type": OCTET}))
        assert r.status in (404, 410), "PATCH of an expired upload: %r" % r
        assert_live(s, done, "completed tus upload after the upload gc")


# ---------------------------------------------------------------- dry run

def db_dump(s):
    """Every row of every table, sorted (schema-agnostic)."""
    if harness.PG_DSN:
        raise harness.Skip("compares the SQLite file row by row (this run uses PostgreSQL)")
    con = sqlite3.connect("file:%s?mode=ro" % s.path("partage.db"), uri=True, timeout=10)
    try:
        tables = sorted(r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='table'"))
        return {t: sorted(map(repr, con.execute('SELECT * FROM "%s"' % t))) for t in tables}
    finally:
        con.close()


def test_dry_run_changes_nothing():
    with Server("", name="gc-dry") as s:
        t0 = int(time.time())
        old = [s.upload("o%d.bin" % i, rand_bytes(1000 + i)) for i in range(3)]
        gone = [s.upload("d%d.bin" % i, rand_bytes(2000 + i)) for i in range(2)]
        for o in gone:
            delete(s, o)
        # one upload made "on day 10": still young on day 25
        s.restart(env={"PARTAGE_TIME_OFFSET": str(10 * DAY)})
        fresh = s.upload("fresh.bin", rand_bytes(5000))
        # the media probe writes its verdict in the background after an
        # upload: wait for it, so only gc could change the database
        s.media_settled([o["id"] for o in old + [fresh]])
        files = s.blob_files()
        rows = db_dump(s)
        want = {"links": 3, "blobs": 5, "bytes": sum(1000 + i for i in range(3)) + 2000 + 2001,
                "uploads": 0, "strays": 0}
        now = t0 + 25 * DAY
        for _ in range(2):
            st = gc(s, now=now, dry=True)
            assert st == want, "gc --dry-run on day 25: want %r, got %r" % (want, st)
        assert s.blob_files() == files, "gc --dry-run removed files"
        assert db_dump(s) == rows, "gc --dry-run changed the database"
        for o in old + [fresh]:
            assert_live(s, o, "after gc --dry-run")
        st = gc(s, now=now)
        assert st == want, "the real pass after the dry runs: want %r, got %r" % (want, st)
        for o in old:
            assert_gone(s, o, "after the real pass")
        assert_live(s, fresh, "after the real pass")
        assert len(s.blob_files()) == 1


def test_dry_run_counts_past_one_batch():
    # more unreferenced blobs than gc handles per batch: the dry run must
    # report what the real pass will do
    with Server("", name="gc-dry-many") as s:
        t0 = int(time.time())
        n = 0
        total = 0
        for b in range(10):
            parts = []
            for i in range(60):
                d = ("%d.%d " % (b, i)).encode() * 5
                total += len(d)
                parts.append(("file", "f%d_%d.txt" % (b, i), d, "application/octet-stream"))
            r = expect(s.post_files(parts), 201, what="multipart POST of 60 files")
            n += len(r.json()["files"])
        assert n == 600
        dry = gc(s, now=t0 + 22 * DAY, dry=True)
        assert len(s.blob_files()) == 600, "gc --dry-run removed blob files"
        real = gc(s, now=t0 + 22 * DAY)
        assert real == {"links": 600, "blobs": 600, "bytes": total, "uploads": 0, "strays": 0}, \
            "gc on day 22 of 600 anonymous links: %r" % real
        assert dry == real, "gc --dry-run reported %r, the real pass did %r" % (dry, real)
        assert s.blob_files() == [], "blobs left after the real pass: %d" % len(s.blob_files())


# ------------------------------------------------------------- concurrency

def test_race_dedup_upload_vs_gc():
    """Rounds of: upload the same bytes (PUT, every 5th by tus), check,
    delete the link (the blob is unreferenced until the next upload
    deduplicates onto it) — while two threads loop `admin gc` and the
    server's own gc runs every interval."""
    rounds = 500
    with Server("[server]\ngc_interval_seconds = 1\n", name="gc-race") as s:
        data = rand_bytes(3000, seed=65)
        h = sha256(data)
        stop = threading.Event()
        errors, reaped, passes = [], [0], [0]

        def gc_loop():
            while not stop.is_set():
                p = s.admin("gc")
                m = GC_RX.search(p.stdout)
                if p.returncode != 0 or not m:
                    errors.append("admin gc: exit %d: %s" % (p.returncode, out(p)[:300]))
                    return
                reaped[0] += int(m.group(2))
                passes[0] += 1

        threads = [threading.Thread(target=gc_loop, daemon=True) for _ in range(2)]
        for t in threads:
            t.start()
        t_start = time.monotonic()
        last = None
        try:
            for i in range(rounds):
                if i % 5 == 4:
                    o = tus_put(s, data)
                else:
                    r = s.put("same.bin", data, {"Accept": "application/json"})
                    assert r.status == 201, "round %d: PUT during gc: %r (log: %s)" % (i, r, s.log_tail(3))
                    o = r.json()
                # acknowledged: the bytes must be there and stay there
                assert os.path.exists(s.blob_path(h)), \
                    "round %d: upload %s acknowledged but its blob is not on disk" % (i, o["id"])
                g = s.get(s.dl_path(o))
                assert g.status == 200 and sha256(g.body) == h, \
                    "round %d: acknowledged upload %s: GET %r sha256 %s" % (i, o["id"], g, sha256(g.body))
                if i < rounds - 1:
                    delete(s, o)
                last = o
                assert not errors, errors[0]
        finally:
            stop.set()
            for t in threads:
                t.join(60)
        took = time.monotonic() - t_start
        assert not errors, errors[0]
        assert fetch(s, last) == data, "the last, undeleted upload"
        server_reaped = metric_sum(s.metrics(), "partage_gc_reclaimed_blobs_total") or 0
        dedup = metric_sum(s.metrics(), "partage_dedup_hits_total") or 0
        # a race test that never raced proves nothing
        assert reaped[0] + server_reaped >= 20, \
            "gc reaped the shared blob only %d+%d times in %d rounds (%d admin passes, %.1fs)" % (
                reaped[0], server_reaped, rounds, passes[0], took)
        assert dedup >= 20, "only %d uploads deduplicated onto a present blob" % dedup
        fsck_clean(s, "after the race")
        if os.environ.get("E2E_VERBOSE"):
            print("     race: %d rounds in %.1fs, %d admin gc passes, blob reaped %d+%d times, %d dedup hits" % (
                rounds, took, passes[0], reaped[0], server_reaped, dedup))


class GcLoop:
    """Threads that run `admin ARGS` back to back until stopped; sums the
    counts of the passes."""

    def __init__(self, s, args, threads=2):
        self.s, self.args = s, list(args)
        self.stop_ev = threading.Event()
        self.errors, self.passes = [], 0
        self.tot = dict.fromkeys(("links", "blobs", "bytes", "uploads", "strays"), 0)
        self.lock = threading.Lock()
        self.threads = [threading.Thread(target=self.run, daemon=True) for _ in range(threads)]
        for t in self.threads:
            t.start()

    def run(self):
        while not self.stop_ev.is_set():
            p = self.s.admin(*self.args)
            if self.args[0] == "fsck":
                # exit 1 is fine (a young stray it kept, a problem it saw)
                if p.returncode not in (0, 1) or "fsck:" not in p.stdout:
                    self.errors.append("admin %s: exit %d: %s" % (" ".join(self.args), p.returncode,
                                                                 out(p)[:300]))
                    return
                with self.lock:
                    self.passes += 1
                    self.tot["strays"] += len(re.findall(r"(?m)^\s+removed$", p.stdout))
                continue
            m = GC_RX.search(p.stdout)
            if p.returncode != 0 or not m:
                self.errors.append("admin %s: exit %d: %s" % (" ".join(self.args), p.returncode, out(p)[:300]))
                return
            with self.lock:
                self.passes += 1
                for k, v in zip(("links", "blobs", "bytes", "uploads", "strays"), map(int, m.groups())):
                    self.tot[k] += v

    def stop(self):
        self.stop_ev.set()
        for t in self.threads:
            t.join(60)


def put_onto_stray(s, data):
    """PUT data, and just before its last byte is sent plant an hour-old
    blob file of the same content with no row (what a crash between a
    blob's commit and its row leaves behind): the upload deduplicates onto
    a stray that gc is entitled to sweep."""
    with s.raw_conn(timeout=30) as c:
        c.send(("PUT /stray.bin HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: %d\r\n"
                "Accept: application/json\r\n\r\n" % len(data)).encode() + data[:-1])
        p = s.blob_path(sha256(data))
        os.makedirs(os.path.dirname(p), exist_ok=True)
        with open(p + ".planting", "wb") as f:
            f.write(data)
        t = time.time() - 7200
        os.utime(p + ".planting", (t, t))
        os.rename(p + ".planting", p)
        # the stray stays rowless a little while: a sweep that checks
        # its candidates in batches (100 a statement) must be able to
        # meet it, or the race is never run
        time.sleep(0.01)
        c.send(data[-1:])
        return c.read_response("PUT")


def test_stray_sweep_vs_dedup_upload():
    """gc removes hour-old blob files that no row names (strays).  An upload
    that deduplicates onto such a file while gc sweeps it must still end
    with its bytes on disk."""
    _stray_race(["gc"], "gc's stray sweep", 12)


def test_fsck_repair_vs_dedup_upload():
    """The same race against `fsck --repair`, which removes strays past its
    grace period and is documented as safe while the server runs."""
    _stray_race(["fsck", "--repair"], "fsck --repair", 8)


def _stray_race(args, who, budget):
    with Server("", name="gc-stray-race") as s:
        loop = GcLoop(s, args)
        rounds, done, lost = 300, 0, []
        t_end = time.monotonic() + budget
        try:
            for i in range(rounds):
                if time.monotonic() > t_end:
                    break
                data = rand_bytes(2000)
                r = put_onto_stray(s, data)
                assert r.status == 201, "round %d: PUT onto a stray during gc: %r" % (i, r)
                o = r.json()
                done += 1
                if not os.path.exists(s.blob_path(sha256(data))):
                    g = s.get(s.dl_path(o))
                    lost.append("%s (GET %d)" % (o["id"], g.status))
                assert not loop.errors, loop.errors[0]
        finally:
            loop.stop()
        assert not loop.errors, loop.errors[0]
        dedup = metric_sum(s.metrics(), "partage_dedup_hits_total") or 0
        assert not lost, ("%d of %d acknowledged uploads lost their blob to %s "
                          "(%d strays swept, %d dedup hits): %s" % (
                              len(lost), done, who, loop.tot["strays"], dedup, ", ".join(lost[:5])))
        assert loop.tot["strays"] >= 1 and dedup >= 20, \
            "the race was not exercised: %d strays swept, %d uploads deduplicated, %d rounds" % (
                loop.tot["strays"], dedup, done)
        fsck_clean(s, "after the stray race")


def test_gc_now_in_the_future_spares_uploads_in_flight():
    """Time travel is for expiry: `gc --now` days ahead, run while new
    content is being uploaded, must neither fail nor lose those uploads,
    whatever it makes of the fresh blob files it finds (to a clock five
    days ahead they look like old strays)."""
    with Server("[tier.anonymous]\nretention_days = 0\n", name="gc-now-race") as s:
        loop = GcLoop(s, ["gc", "--now", str(int(time.time()) + 5 * DAY)])
        bad, lost, done = [], [], 0
        # at least 8 s and 10 gc passes (a slow build, ASan, makes fewer
        # passes in the same time: upload for as long as they take), at
        # most 40 s
        t0 = time.monotonic()
        try:
            while True:
                t = time.monotonic() - t0
                if (t > 8 and loop.passes >= 10) or t > 40:
                    break
                data = rand_bytes(2000)
                r = s.put("new.bin", data, {"Accept": "application/json"})
                done += 1
                if r.status != 201:
                    bad.append(repr(r))
                elif not os.path.exists(s.blob_path(sha256(data))):
                    lost.append(r.json()["id"])
                assert not loop.errors, loop.errors[0]
        finally:
            loop.stop()
        assert not loop.errors, loop.errors[0]
        assert not bad and not lost, ("uploads during `gc --now +5 days`: %d of %d failed (%s), "
                                      "%d acknowledged but their blob removed (%s)" % (
                                          len(bad), done, "; ".join(bad[:2]), len(lost), ", ".join(lost[:3])))
        assert loop.passes >= 10, "only %d gc passes ran during the uploads" % loop.passes
        fsck_clean(s, "after uploads during gc --now")


def test_kill9_during_gc_pass():
    if harness.S3_ENDPOINT:
        raise harness.Skip("3000 links against Swift do not fit the test's time on this machine; the protocol is the same on fs")
    """3000 anonymous links expire (gc --now 30 days ahead) while 150
    premium links, half of them sharing content with the expiring ones,
    must survive; the gc process is killed -9 mid-pass, twice."""
    # kill -9 is not a power cut: the page cache survives it, so the data
    # dir may live in RAM (/dev/shm), which makes 3000 links cheap to create
    shm = None
    if os.path.isdir("/dev/shm") and os.access("/dev/shm", os.W_OK):
        shm = tempfile.mkdtemp(prefix="partage-e2e-gc-", dir="/dev/shm")
    try:
        _kill9_during_gc_pass(os.path.join(shm, "data") if shm else None)
    finally:
        if shm:
            shutil.rmtree(shm, ignore_errors=True)


def _kill9_during_gc_pass(data_dir):
    with Server("", name="gc-kill", data=data_dir) as s:
        keep_h = make_user(s, "keeper65", "premium")
        t0 = int(time.time())
        contents = [("%05d anonymous content\n" % i).encode() * 3 for i in range(3000)]
        errs = []

        def post(batches):
            try:
                for b in batches:
                    parts = [("file", "a%d.txt" % i, contents[i], "text/plain")
                             for i in range(b * 60, b * 60 + 60)]
                    r = s.post_files(parts)
                    if r.status != 201 or len(r.json()["files"]) != 60:
                        errs.append("multipart POST %d: %r" % (b, r))
            except Exception as e:  # noqa: BLE001
                errs.append(repr(e))

        ts = [threading.Thread(target=post, args=(range(k, 50, 4),)) for k in range(4)]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        assert not errs, errs[0]
        keep = []
        for i in range(150):
            d = contents[i * 20] if i < 75 else ("%05d premium content\n" % i).encode() * 3
            keep.append((s.upload("k%d.txt" % i, d, keep_h), d))
        want_left = sorted({sha256(d) for _o, d in keep})
        total = len(s.blob_files())
        assert total == 3000 + 75, "blob files before gc: %d" % total

        def check_live(what):
            for o, d in keep:
                g = s.get(s.dl_path(o))
                assert g.status == 200 and g.body == d, "%s: premium link %s: %r" % (what, o["id"], g)

        future = str(t0 + 30 * DAY)
        seen_mid = False
        before = total
        for k in range(2):
            # kill as soon as the pass is seen deleting blobs (a fixed
            # delay missed that window on a loaded machine with PostgreSQL,
            # where expiring 3000 links comes first)
            p = admin_popen(s, "gc", "--now", future)
            t_start = time.monotonic()
            while p.poll() is None and len(s.blob_files()) >= before and time.monotonic() - t_start < 30:
                time.sleep(0.002)
            delay = time.monotonic() - t_start
            finished = p.poll() is not None
            p.kill()
            p.communicate()
            if finished and k > 0:
                # the second pass had less left to do and beat the kill:
                # nothing to recover from, the checks below still hold
                check_live("after a gc pass that finished before its kill")
                continue
            assert not finished, "gc finished within %.1fs: the kill -9 did not land in the pass" % delay
            left = len(s.blob_files())
            before = left
            seen_mid = seen_mid or len(want_left) < left < total
            check_live("after kill -9 of gc at %.1fs (%d blob files left)" % (delay, left))
            if os.environ.get("E2E_VERBOSE"):
                print("     kill -9 of gc #%d after %.1fs: %d of %d blob files left" % (k + 1, delay, left, total))
            if k == 0:
                # fsck --repair completes what the killed pass left
                p2 = s.admin("fsck", "--repair")
                assert p2.returncode == 0, "fsck --repair after a killed gc: exit %d: %s" % (p2.returncode, out(p2))
                fsck_clean(s, "after a killed gc and fsck --repair")
                check_live("after fsck --repair")
        assert seen_mid, "no kill landed while gc was deleting blobs (%d files before)" % total

        st = gc(s, now=t0 + 30 * DAY)
        assert st["strays"] == 0, "gc after the kills: %r" % st
        fsck_clean(s, "after the kills and a complete gc pass")
        check_live("after the complete gc pass")
        left = sorted(os.path.basename(f) for f in s.blob_files())
        assert left == want_left, "blob files after gc: %d, want the %d of the live links" % (
            len(left), len(want_left))
        assert s.tmp_files() == [], "temporary files left: %r" % s.tmp_files()[:5]
        assert gc(s, now=t0 + 30 * DAY) == {"links": 0, "blobs": 0, "bytes": 0, "uploads": 0, "strays": 0}


def _slow_get(s, path):
    """GET on a socket with a small receive buffer; returns (sock, content
    length, first bytes of the body)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8192)
    sock.settimeout(30)
    sock.connect(("127.0.0.1", s.port))
    sock.sendall(("GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n" % path).encode())
    buf = b""
    while b"\r\n\r\n" not in buf:
        c = sock.recv(4096)
        assert c, "connection closed before the reply head"
        buf += c
    head, body = buf.split(b"\r\n\r\n", 1)
    status, _reason, hdrs = harness.parse_head(head)
    assert status == 200, "slow GET %s: %d %r" % (path, status, head[:200])
    n = int(hdrs.get("Content-Length"))
    while len(body) < 65536:
        c = sock.recv(4096)
        assert c, "connection closed early"
        body += c
    return sock, n, body


def _finish(sock, n, body):
    md = hashlib.sha256(body)
    got = len(body)
    try:
        while got < n:
            c = sock.recv(65536)
            if not c:
                break
            md.update(c)
            got += len(c)
    finally:
        sock.close()
    return got, md.hexdigest()


def test_download_in_progress_survives_expiry():
    with Server("", name="gc-slowdl") as s:
        t0 = int(time.time())
        size = 24 << 20
        data = rand_bytes(size, seed=6501)
        h = sha256(data)
        o = s.upload("big.bin", data, {"Max-Days": "1"})
        sock, n, body = _slow_get(s, s.dl_path(o))
        try:
            assert n == size
            st = gc(s, now=t0 + 2 * DAY)
            assert st["links"] == 1 and st["blobs"] == 1, "gc on day 2 of a Max-Days 1 link: %r" % st
            assert not os.path.exists(s.blob_path(h)), "the expired link's blob is still on disk"
            expect(s.get(s.dl_path(o)), 410, what="a new GET after expiry")
            time.sleep(0.3)
        finally:
            got, hx = _finish(sock, n, body)
        assert got == size and hx == h, "download in progress at expiry: %d of %d bytes, sha256 %s" % (
            got, size, "ok" if hx == h else "WRONG")

        # burn after reading: the one download is in progress while gc
        # runs; the link is used up only once its bytes were delivered
        # (issue 12: a cut download may still resume), so gc keeps it
        # until then and collects it after
        data2 = rand_bytes(size, seed=6502)
        h2 = sha256(data2)
        o2 = s.upload("burn.bin", data2, {"Max-Downloads": "1"})
        sock, n, body = _slow_get(s, s.dl_path(o2))
        try:
            st = gc(s)
            assert st["links"] == 0 and st["blobs"] == 0, "gc during the burn download: %r" % st
            assert os.path.exists(s.blob_path(h2))
        finally:
            got, hx = _finish(sock, n, body)
        assert got == size and hx == h2, "burn-after-read download during gc: %d of %d bytes, sha256 %s" % (
            got, size, "ok" if hx == h2 else "WRONG")
        assert wait_until(lambda: s.file_obj(o2["id"]).status == 410, 5), "the burn link outlived its download"
        st = gc(s)
        assert st["links"] == 1 and st["blobs"] == 1, "gc after the burn download: %r" % st
        assert not os.path.exists(s.blob_path(h2))


# ---------------------------------------------------------------- metrics

def test_metrics_gc_counters_and_storage_gauges():
    with Server("[server]\ngc_interval_seconds = 1\n", name="gc-metrics") as s:
        x, y, z, b = rand_bytes(1111), rand_bytes(2222), rand_bytes(3333), rand_bytes(4444)
        s.upload("x1.bin", x)
        s.upload("x2.bin", x)
        s.upload("y.bin", y)
        zo = s.upload("z.bin", z)
        bo = s.upload("b.bin", b, {"Max-Downloads": "1"})
        m0 = s.metrics()
        for name in ("partage_gc_passes_total", "partage_gc_expired_links_total",
                     "partage_gc_reclaimed_blobs_total", "partage_gc_reclaimed_bytes_total",
                     "partage_live_links", "partage_blobs", "partage_stored_bytes",
                     "partage_logical_bytes"):
            assert metric_sum(m0, name) is not None, "/metrics has no %s" % name
        text = s.get("/metrics").text
        for name, kind in (("partage_gc_passes_total", "counter"), ("partage_live_links", "gauge"),
                           ("partage_stored_bytes", "gauge")):
            assert "# TYPE %s %s" % (name, kind) in text, "%s is not a %s" % (name, kind)
        expired0 = metric_sum(m0, "partage_gc_expired_links_total")
        blobs0 = metric_sum(m0, "partage_gc_reclaimed_blobs_total")
        bytes0 = metric_sum(m0, "partage_gc_reclaimed_bytes_total")
        delete(s, zo)
        fetch(s, bo)  # burnt
        want = {"partage_live_links": 3, "partage_blobs": 2,
                "partage_stored_bytes": 1111 + 2222, "partage_logical_bytes": 2 * 1111 + 2222}

        def settled():
            m = s.metrics()
            return m if all(metric_sum(m, k) == v for k, v in want.items()) and \
                metric_sum(m, "partage_gc_reclaimed_blobs_total") >= blobs0 + 2 else None
        m = wait_until(settled, 12, 0.25)
        m = m or s.metrics()
        got = {k: metric_sum(m, k) for k in list(want) + ["partage_gc_reclaimed_blobs_total",
                                                           "partage_gc_passes_total"]}
        assert m and all(got[k] == v for k, v in want.items()), \
            "gauges after the server's gc passes: want %r, got %r" % (want, got)
        assert got["partage_gc_reclaimed_blobs_total"] - blobs0 == 2, "reclaimed blobs: %r" % got
        assert metric_sum(m, "partage_gc_reclaimed_bytes_total") - bytes0 == 3333 + 4444, \
            "reclaimed bytes: %r" % metric_sum(m, "partage_gc_reclaimed_bytes_total")
        assert metric_sum(m, "partage_gc_expired_links_total") - expired0 == 1, \
            "expired links (the burnt one): %r" % metric_sum(m, "partage_gc_expired_links_total")
        assert got["partage_gc_passes_total"] >= 1
        p1 = got["partage_gc_passes_total"]
        assert wait_until(lambda: metric_sum(s.metrics(), "partage_gc_passes_total") > p1, 6), \
            "gc_interval_seconds = 1 but no further gc pass within 6s"
