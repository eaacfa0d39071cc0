"""Periodic work that stays flat as a cluster grows (issue 19): one elected
node runs gc and the storage gauges (a PostgreSQL advisory lock; SQLite is
one node and always elected), another takes over when it dies; the expiry
and blob queries go through the indexes of migration 13 (EXPLAIN on
PostgreSQL); gc's check of the store's listing is a statement per 100
blobs, not one per blob.

The counts of more than 65 536 links in one flush are tested by
tests/unit/test_counts.c, the expiry batches by tests/unit/test_expiry.c.

The PostgreSQL tests need PARTAGE_TEST_PG_DSN (two nodes on SQLite share
nothing); the EXPLAIN test repeats the SQL of src/store/repo_expiry.c and
repo_blobs.c: keep them in step."""

import os
import time

import harness
from harness import expect, metric_sum, rand_bytes, wait_until, Server, Skip

TIMEOUT = 60
# a gc pass every 2 s, so that who runs it shows at once
GC_FAST = """\
[server]
gc_interval_seconds = 2
"""


def need_pg():
    if not harness.PG_DSN:
        raise Skip("needs PostgreSQL (PARTAGE_TEST_PG_DSN)")


def elected(s):
    return metric_sum(s.metrics(), "partage_maintenance_elected")


def gc_passes(s):
    return metric_sum(s.metrics(), "partage_gc_passes_total") or 0


def psql(s, sql):
    """sql in the schema that holds s's metadata; the last result."""
    return harness._psql("SET search_path = %s; %s" % (harness.pg_schema(s.store_key), sql))


# -------------------------------------------------------------------- tests

def test_sqlite_node_is_elected():
    if harness.PG_DSN:
        raise Skip("the SQLite case (one node)")
    with Server(GC_FAST, name="one") as s:
        assert wait_until(lambda: elected(s) == 1, 6), \
            "partage_maintenance_elected is %r on a lone SQLite node" % elected(s)
        assert wait_until(lambda: gc_passes(s) >= 1, 6), "no gc pass on a lone node"


def test_one_node_runs_the_periodic_work_and_another_takes_over():
    need_pg()
    a = Server(GC_FAST, name="elect-a")
    try:
        b = Server(GC_FAST, name="elect-b", shared_with=a)
        try:
            nodes = (a, b)
            assert wait_until(lambda: sum(elected(n) or 0 for n in nodes) == 1, 8), \
                "partage_maintenance_elected: a %r, b %r (want one 1 and one 0)" % (
                    elected(a), elected(b))
            lead = a if elected(a) == 1 else b
            other = b if lead is a else a
            # gc passes every 2 s on the elected node only
            assert wait_until(lambda: gc_passes(lead) >= 2, 10), \
                "the elected node ran %r gc passes" % gc_passes(lead)
            assert gc_passes(other) == 0, "the other node ran %r gc passes too" % gc_passes(other)
            assert elected(other) == 0
            assert any("maintenance: elected" in l for l in lead.log_lines(400)), lead.log_tail()
            assert not any("maintenance: elected" in l for l in other.log_lines(400)), other.log_tail()
            # the elected node dies: its session ends, and so does its lock
            t0 = time.monotonic()
            lead.kill9()
            assert wait_until(lambda: elected(other) == 1, 8), \
                "no takeover %.0f s after the elected node died" % (time.monotonic() - t0)
            took = time.monotonic() - t0
            assert wait_until(lambda: gc_passes(other) >= 1, 6), "the new elected node runs no gc"
            assert any("maintenance: elected" in l for l in other.log_lines(400)), other.log_tail()
            print("takeover %.1f s after kill -9" % took)
        finally:
            b.close(quiet=True)
    finally:
        a.close(quiet=True)


ACT = "(CASE WHEN last_download > created THEN last_download ELSE created END)"
IDS = ",".join("'x%d'" % i for i in range(1, 101))
# (the index each statement must use, the statement) — src/store/repo_expiry.c
# and repo_blobs.c with their parameters written in
PLANS = [
    ("links_expires",
     "SELECT id FROM links WHERE state = 0 AND expires > 0 AND expires <= 5000000 "
     "ORDER BY expires LIMIT 1000"),
    ("links_used_up",
     "SELECT id FROM links WHERE state = 0 AND max_downloads > 0 AND "
     "downloads >= max_downloads ORDER BY id LIMIT 1000"),
    ("links_idle_anon",
     "SELECT id FROM links WHERE state = 0 AND owner_id = 0 AND " + ACT + " <= 3000000 "
     "ORDER BY " + ACT + ", id LIMIT 1000"),
    ("links_idle_owned",
     "SELECT id, " + ACT + " FROM links WHERE state = 0 AND owner_id <> 0 AND " + ACT
     + " <= 3000000 AND " + ACT + " >= 1000 AND (" + ACT + " > 1000 OR id > 'x5') "
     "ORDER BY " + ACT + ", id LIMIT 1000"),
    ("links_pkey",
     "UPDATE links SET state = 2, reason = 'expired', changed = 5000000 WHERE id IN ("
     + IDS + ") AND +state = 0 AND +owner_id <> 0 AND +" + ACT + " <= (SELECT CASE WHEN "
     "u.tier = 'premium' OR u.premium_until > 5000000 THEN CAST(0 AS BIGINT) ELSE "
     "CAST(3000000 AS BIGINT) END FROM users u WHERE u.id = links.owner_id)"),
    ("links_pkey",
     "UPDATE links SET state = 2, reason = 'expired', changed = 5000000 WHERE id IN ("
     + IDS + ") AND +state = 0 AND +expires > 0 AND +expires <= 5000000"),
    ("links_gone",
     "SELECT changed, id, sha256 FROM links WHERE state <> 0 AND (changed, id) > (4000000, '') "
     "ORDER BY changed, id LIMIT 100"),
    ("blobs_pkey",
     "SELECT sha256 FROM blobs WHERE sha256 > 'ab' ORDER BY sha256 LIMIT 100"),
    ("links_sha256",
     "SELECT b.sha256 FROM blobs b WHERE NOT EXISTS (SELECT 1 FROM links l WHERE "
     "l.sha256 = b.sha256 AND l.state = 0) AND NOT EXISTS (SELECT 1 FROM links l JOIN "
     "takedowns t ON t.id = l.takedown_id WHERE l.sha256 = b.sha256 AND l.state = 3 AND "
     "t.state = 0 AND t.purge_after > 5000000) AND b.sha256 IN ("
     + ",".join("md5('%d') || md5('%d')" % (i, i) for i in range(100)) + ")"),
]


def test_explain_uses_the_indexes():
    need_pg()
    with Server(name="explain") as s:
        # a table of some size, mostly live, recent links, so that a plan
        # that reads it all costs what it would in production
        psql(s, "INSERT INTO links(id, sha256, name, mime, size, created, delete_hash, "
                "owner_id, state, changed, expires, max_downloads, downloads) "
                "SELECT 'x' || g, md5(g::text) || md5(g::text), 'f', 'text/plain', 1, "
                "4900000 + g % 1000, 'h' || g, CASE WHEN g % 3 = 0 THEN g ELSE 0 END, "
                "CASE WHEN g % 50 = 0 THEN 1 ELSE 0 END, 4900000, "
                "CASE WHEN g % 7 = 0 THEN 6000000 ELSE 0 END, "
                "CASE WHEN g % 11 = 0 THEN 5 ELSE 0 END, 0 "
                "FROM generate_series(1, 30000) g; "
                "INSERT INTO blobs(sha256, size, created) SELECT md5(g::text) || md5(g::text), 1, 1 "
                "FROM generate_series(1, 30000) g; ANALYZE links; ANALYZE blobs")
        bad = []
        for index, sql in PLANS:
            plan = psql(s, "EXPLAIN " + sql)
            if index not in plan:
                bad.append("%s not used by %s\n%s" % (index, sql[:90], plan))
        assert not bad, "\n".join(bad)


def test_gc_checks_the_listing_in_batches():
    """gc compares the store's listing with the rows: on main, one query
    per blob (946 for 946); now one per 100."""
    need_pg()
    with Server(name="strays") as s:
        n = 120
        for i in range(n):
            expect(s.put("f%d.bin" % i, rand_bytes(64) + b"%d" % i), 201)

        def blob_scans():
            return int(psql(s, "SELECT pg_stat_clear_snapshot(); SELECT COALESCE(idx_scan, 0) + "
                               "COALESCE(seq_scan, 0) FROM pg_stat_user_tables WHERE "
                               "relname = 'blobs' AND schemaname = current_schema()").split()[-1])
        before = blob_scans()
        # past the strays' grace (an hour), so every listed file is checked
        p = s.admin("gc", "--now", str(int(time.time()) + 7200))
        assert p.returncode == 0, p.stdout + p.stderr
        # the admin process has exited: its statistics are flushed
        assert wait_until(lambda: blob_scans() > before, 5), "no scan of blobs seen"
        time.sleep(0.5)
        scans = blob_scans() - before
        print("gc over %d blobs: %d scans of the blobs table" % (n, scans))
        assert scans < 30, "gc scanned the blobs table %d times for %d blobs" % (scans, n)


def sql(s, q):
    """One query on s's metadata, either engine: the rows as lists of str."""
    if harness.PG_DSN:
        out = psql(s, q).strip()
        return [l.split("|") for l in out.splitlines()] if out else []
    import sqlite3
    con = sqlite3.connect(s.path("partage.db"), timeout=10)
    try:
        rows = con.execute(q).fetchall()
        con.commit()
        return [[str(v) for v in r] for r in rows]
    finally:
        con.close()


def figures(s):
    p = s.admin("stats")
    assert p.returncode == 0, p.stdout + p.stderr
    return dict((k, int(v)) for k, v in (l.split() for l in p.stdout.splitlines()))


def counted(s):
    (n, b), = sql(s, "SELECT COUNT(*), COALESCE(SUM(size), 0) FROM links WHERE state = 0")
    (bn, bb), = sql(s, "SELECT COUNT(*), COALESCE(SUM(size), 0) FROM blobs")
    return {"live_links": int(n), "live_bytes": int(b), "blobs": int(bn), "stored_bytes": int(bb)}


def test_statistics_kept_with_every_change_and_recounted():
    """The gauges come from counters the triggers keep in the transaction
    of each change (no COUNT over the tables); `admin stats --recount`
    (and the elected node, a few shards a minute) puts a wrong one right."""
    with Server(name="stats") as s:
        objs = []
        for i in range(40):
            data = rand_bytes(100 + i) if i % 4 else b"same bytes for dedup"
            objs.append(s.upload("s%d.bin" % i, data))
        for o in objs[:5]:
            expect(s.delete("/" + o["id"], {"X-Delete-Token": o["delete_token"]}), 204)
        t = s.admin("takedown", objs[6]["id"], "--reason", "test")
        assert t.returncode == 0, t.stdout + t.stderr
        p = s.admin("gc")
        assert p.returncode == 0, p.stdout + p.stderr
        want = counted(s)
        assert want["live_links"] == 34 and want["blobs"] > 20, want
        assert figures(s) == want, "counters %r, tables %r" % (figures(s), want)
        # a counter goes wrong (a hand edit, a bug): the recount finds it
        sql(s, "UPDATE stats SET n = n + 5, bytes = bytes + 7 WHERE kind = 'links' AND "
               "shard = (SELECT MIN(shard) FROM stats WHERE kind = 'links' AND n > 0)")
        sql(s, "UPDATE stats SET n = n - 1 WHERE kind = 'blobs' AND "
               "shard = (SELECT MIN(shard) FROM stats WHERE kind = 'blobs' AND n > 0)")
        assert figures(s) != want
        r = s.admin("stats", "--recount")
        assert r.returncode == 0, r.stdout + r.stderr
        assert "recounted: 2 counters were wrong" in r.stdout, r.stdout
        assert figures(s) == want, "after --recount: %r, tables %r" % (figures(s), want)
        r = s.admin("stats", "--recount")
        assert "recounted: 0 counters were wrong" in r.stdout, r.stdout


# ------------------------------------------------ health that never queues

def raw_get(port, method="GET", path="/healthz", timeout=5):
    import http.client
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        c.request(method, path)
        r = c.getresponse()
        return r.status, dict((k.lower(), v) for k, v in r.getheaders()), r.read()
    finally:
        c.close()


def health_server(name, extra=""):
    hport = harness.free_port()
    s = Server("[server]\nhealth_listen = 127.0.0.1:%d\n%s" % (hport, extra), name=name)
    return s, hport


def test_health_port_answers_alone():
    import socket
    s, hport = health_server("health")
    with s:
        st, hd, body = raw_get(hport)
        assert (st, body) == (200, b"ok\n"), (st, hd, body)
        assert hd.get("connection") == "close" and hd.get("cache-control") == "no-store", hd
        st, hd, body = raw_get(hport, "HEAD")
        assert st == 200 and body == b"" and hd.get("content-length") == "3", (st, hd, body)
        st, _, body = raw_get(hport, path="/metrics")
        assert st == 404, (st, body)
        # clients that connect and say nothing take no check's place
        idle = []
        try:
            for _ in range(80):
                c = socket.create_connection(("127.0.0.1", hport), timeout=5)
                idle.append(c)
            t0 = time.monotonic()
            st, _, body = raw_get(hport)
            took = time.monotonic() - t0
            assert st == 200 and took < 1, "a check behind 80 idle connections: %s in %.2f s" % (
                st, took)
        finally:
            for c in idle:
                c.close()
        # the main port's /healthz reads the same checker
        assert expect(s.get("/healthz"), 200).body == b"ok\n"


def test_health_port_under_s3_downloads():
    """A 2-thread node streaming 24 downloads from S3 at full speed: its
    health port answers at once (the main port, whose threads are all
    streaming, may take seconds: bench/health_load.py measures both)."""
    if not harness.S3_ENDPOINT:
        raise Skip("needs S3 (PARTAGE_TEST_S3)")
    import threading
    s, hport = health_server("health-load", "threads = 2\n")
    with s:
        o = s.upload("load.bin", rand_bytes(4 << 20))
        path = s.dl_path(o)
        stop = time.monotonic() + 4
        lat, errors = [], []

        def client():
            import http.client
            while time.monotonic() < stop:
                c = http.client.HTTPConnection("127.0.0.1", s.port, timeout=30)
                try:
                    c.request("GET", path)
                    r = c.getresponse()
                    # read until the end or the end of the test, not longer
                    while time.monotonic() < stop and r.read(1 << 16):
                        pass
                except Exception as e:  # noqa: BLE001 — counted, not fatal
                    errors.append(e)
                finally:
                    c.close()

        ts = [threading.Thread(target=client) for _ in range(24)]
        for t in ts:
            t.start()
        time.sleep(0.5)
        while time.monotonic() < stop:
            t0 = time.monotonic()
            st, _, _ = raw_get(hport)
            lat.append(time.monotonic() - t0)
            assert st == 200, st
            time.sleep(0.05)
        for t in ts:
            t.join()
        lat.sort()
        p99 = lat[min(len(lat) - 1, int(len(lat) * 0.99))]
        print("health port under 24 S3 downloads: %d checks, p99 %.1f ms, max %.1f ms"
              % (len(lat), p99 * 1e3, lat[-1] * 1e3))
        assert p99 < 0.5, "health port p99 %.0f ms under load" % (p99 * 1e3)


START_HAPROXY = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..",
                             "scripts", "start-haproxy.sh")


def test_haproxy_printed_config_starts_by_hand():
    """`start-haproxy.sh --print-config`, started as printed with no node
    up: it starts (no maxconn it cannot hold), checks time out, and the
    all-down 503 carries Retry-After."""
    import shutil
    import subprocess
    path = shutil.which("haproxy") or ("/usr/sbin/haproxy" if os.path.exists("/usr/sbin/haproxy")
                                        else None)
    if not path:
        raise Skip("haproxy is not installed (scripts/start-haproxy.sh --install)")
    d = harness.mkdtemp("haproxy-byhand-")
    port, dead = harness.free_port(), harness.free_port()
    cfg = subprocess.run(["bash", START_HAPROXY, "--print-config", d, str(port),
                          "127.0.0.1:%d" % dead], capture_output=True, text=True,
                         env=dict(os.environ, HAPROXY_CHECK_PORT=str(dead)))
    assert cfg.returncode == 0, cfg.stderr
    text = cfg.stdout
    assert "timeout check " in text, text
    assert "maxconn" not in text, "a fixed maxconn fails where the descriptor limit is lower"
    assert "port %d" % dead in text, "HAPROXY_CHECK_PORT is not in the server lines"
    with open(os.path.join(d, "haproxy.cfg"), "w") as f:
        f.write(text)
    # as an operator would: haproxy -f FILE, nothing else
    with open(os.path.join(d, "log"), "wb") as log:
        p = harness.track(subprocess.Popen([path, "-db", "-f", os.path.join(d, "haproxy.cfg")],
                                           stdout=log, stderr=subprocess.STDOUT,
                                           stdin=subprocess.DEVNULL))
    try:
        def up():
            if p.poll() is not None:
                with open(os.path.join(d, "log"), "rb") as f:
                    raise AssertionError("haproxy exited %s: %s" % (p.returncode, f.read()[-600:]))
            try:
                return raw_get(port, path="/", timeout=2)
            except OSError:
                return None
        r = None
        assert wait_until(lambda: up() is not None, 10), "haproxy did not listen"
        r = up()
        st, hd, body = r
        assert st == 503, (st, hd, body)
        assert hd.get("retry-after", "").isdigit(), "no Retry-After in haproxy's 503: %r" % hd
        assert b"service unavailable" in body, body
    finally:
        p.terminate()
        p.wait(10)
