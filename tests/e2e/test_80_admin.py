"""partaged admin: fsck (clean, missing blob, stray blob, --repair), gc,
takedown by content (K7), exit codes."""

import os
import time
import urllib.parse

import harness
from harness import expect, rand_bytes, sha256, wait_until, Server

TIMEOUT = 120


def out(p):
    return (p.stdout + p.stderr)


def test_fsck_clean():
    with Server("", name="fsck-clean") as s:
        for i in range(3):
            s.upload("f%d.bin" % i, rand_bytes(1000 + i))
        p = s.admin("fsck")
        assert p.returncode == 0, "fsck on a clean store: exit %d: %s" % (p.returncode, out(p))
        # also while the server is stopped
        s.stop()
        p = s.admin("fsck")
        assert p.returncode == 0, "fsck on a clean store (server stopped): exit %d: %s" % (p.returncode, out(p))


def test_fsck_missing_blob():
    with Server("", name="fsck-missing") as s:
        data = rand_bytes(5000)
        o = s.upload("gone.bin", data)
        keep_data = rand_bytes(5000)
        keep = s.upload("keep.bin", keep_data)
        os.unlink(s.blob_path(sha256(data)))
        p = s.admin("fsck")
        assert p.returncode == 1, "fsck with a missing blob: exit %d (want 1): %s" % (p.returncode, out(p))
        rep = out(p)
        assert sha256(data) in rep or o["id"] in rep, "fsck does not name the missing blob or link: %r" % rep
        assert keep["id"] not in rep and sha256(keep_data) not in rep, "fsck reports a healthy file: %r" % rep
        # the server never serves a link whose blob is missing as a 200
        g = s.get(s.dl_path(o))
        assert g.status >= 400, "link with a missing blob served as %r" % g
        p = s.admin("fsck", "--repair")
        assert p.returncode == 0, "fsck --repair: exit %d: %s" % (p.returncode, out(p))
        p = s.admin("fsck")
        assert p.returncode == 0, "fsck after --repair: exit %d: %s" % (p.returncode, out(p))
        g = s.get(s.dl_path(o))
        assert g.status in (404, 410), "link with a missing blob after repair: %r" % g
        assert expect(s.get(s.dl_path(keep)), 200).body == keep_data


def test_fsck_stray_blob():
    with Server("", name="fsck-stray") as s:
        s.upload("real.bin", rand_bytes(100))
        stray = rand_bytes(4321)
        h = sha256(stray)
        path = s.blob_path(h)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as fh:
            fh.write(stray)
        p = s.admin("fsck")
        assert p.returncode == 1, "fsck with a stray blob: exit %d (want 1): %s" % (p.returncode, out(p))
        assert h in out(p), "fsck does not name the stray blob %s: %r" % (h, out(p))
        # a young stray blob may be an upload between rename and row insert, so
        # repair may keep it for a grace period: make it two hours old
        old = time.time() - 7200
        os.utime(path, (old, old))
        p = s.admin("fsck", "--repair")
        assert p.returncode == 0, "fsck --repair: exit %d: %s" % (p.returncode, out(p))
        assert not os.path.exists(path), "fsck --repair left the stray blob"
        p = s.admin("fsck")
        assert p.returncode == 0, "fsck after --repair: exit %d: %s" % (p.returncode, out(p))


def _tus_upload(s, length, data):
    h = {"Tus-Resumable": "1.0.0"}
    r = expect(s.request("POST", "/api/v1/uploads", body=b"", headers=dict(h, **{"Upload-Length": str(length)})), 201)
    path = urllib.parse.urlsplit(r.header("Location")).path
    expect(s.request("PATCH", path, body=data, headers=dict(h, **{
        "Upload-Offset": "0", "Content-Type": "application/offset+octet-stream"})), 204)
    return path, s.path("uploads", path.rsplit("/", 1)[1])


def test_fsck_resumable_uploads():
    """fsck checks DATA/uploads: an open upload whose bytes are missing or
    shorter than its recorded offset, and partials no open upload owns."""
    with Server("", name="fsck-uploads") as s:
        good, good_file = _tus_upload(s, 10000, rand_bytes(3000))
        lost, lost_file = _tus_upload(s, 10000, rand_bytes(3000))
        short, short_file = _tus_upload(s, 10000, rand_bytes(3000))
        p = s.admin("fsck")
        assert p.returncode == 0, "fsck with three healthy open uploads: exit %d: %s" % (p.returncode, out(p))
        os.unlink(lost_file)
        os.truncate(short_file, 1000)
        orphan = s.path("uploads", "A" * 24)
        with open(orphan, "wb") as fh:
            fh.write(b"left behind")
        p = s.admin("fsck")
        rep = out(p)
        assert p.returncode == 1, "fsck with damaged uploads: exit %d (want 1): %s" % (p.returncode, rep)
        lost_uid, short_uid, good_uid = (x.rsplit("/", 1)[1] for x in (lost, short, good))
        assert "missing partial of open upload %s" % lost_uid in rep, rep
        assert "short partial of open upload %s" % short_uid in rep, rep
        assert "orphan partial %s: no upload refers to it" % ("A" * 24) in rep, rep
        assert good_uid not in rep, "fsck reports a healthy upload: %r" % rep
        # a young orphan may be an upload being created: kept, until old
        p = s.admin("fsck", "--repair")
        assert os.path.exists(orphan), "fsck --repair removed a young orphan partial: %s" % out(p)
        old = time.time() - 7200
        os.utime(orphan, (old, old))
        p = s.admin("fsck", "--repair")
        assert not os.path.exists(orphan), "fsck --repair kept an old orphan partial: %s" % out(p)
        p = s.admin("fsck")
        assert p.returncode == 0, "fsck after --repair: exit %d: %s" % (p.returncode, out(p))
        # the damaged ones are ended (the client starts over), the good one goes on
        for path in (lost, short):
            r = s.request("HEAD", path, headers={"Tus-Resumable": "1.0.0"})
            assert r.status in (404, 410), "HEAD of a repaired damaged upload: %r" % r
        r = expect(s.request("HEAD", good, headers={"Tus-Resumable": "1.0.0"}), 200, 204)
        assert r.header("Upload-Offset") == "3000", r.headers.items()


def test_gc_removes_unreferenced_blob():
    with Server("", name="gc") as s:
        solo = rand_bytes(3000)
        shared = rand_bytes(3000)
        a = s.upload("solo.bin", solo)
        b1 = s.upload("s1.bin", shared)
        b2 = s.upload("s2.bin", shared)
        expect(s.delete("/" + a["id"], {"X-Delete-Token": a["delete_token"]}), 204)
        expect(s.delete("/" + b1["id"], {"X-Delete-Token": b1["delete_token"]}), 204)
        p = s.admin("gc")
        assert p.returncode == 0, "gc: exit %d: %s" % (p.returncode, out(p))
        assert wait_until(lambda: not os.path.exists(s.blob_path(sha256(solo))), 3), \
            "gc kept the blob of a deleted file"
        assert os.path.exists(s.blob_path(sha256(shared))), "gc removed a blob another link uses"
        assert expect(s.get(s.dl_path(b2)), 200).body == shared
        p = s.admin("fsck")
        assert p.returncode == 0, "fsck after gc: exit %d: %s" % (p.returncode, out(p))


def test_gc_now_expires():
    with Server("", name="gc-now") as s:
        data = rand_bytes(2000)
        o = s.upload("short.bin", data, {"Max-Days": "1"})
        p = s.admin("gc", "--now", str(int(time.time()) + 3 * 86400))
        assert p.returncode == 0, "gc --now: exit %d: %s" % (p.returncode, out(p))
        expect(s.get(s.dl_path(o)), 410, what="file past Max-Days after gc --now")
        assert not os.path.exists(s.blob_path(sha256(data))), "gc --now kept the expired file's blob"


def test_takedown_content():
    # K7: a takedown by content disables every link to that content, and a
    # re-upload of the same bytes is refused with 451
    with Server("", name="takedown") as s:
        data = rand_bytes(2500)
        a = s.upload("a.bin", data)
        b = s.upload("b.bin", data)
        other = s.upload("other.bin", rand_bytes(2500))
        p = s.admin("takedown", a["id"], "--content", "--reason", "e2e test")
        assert p.returncode == 0, "takedown --content: exit %d: %s" % (p.returncode, out(p))
        for o in (a, b):
            r = s.get(s.dl_path(o))
            assert r.status in (410, 451), "link %s after a content takedown: %r" % (o["id"], r)
        expect(s.get(s.dl_path(other)), 200, what="unrelated file after a takedown")
        r = s.put("again.bin", data)
        expect(r, 451, what="re-upload of taken-down content")


def test_cached_links_follow_changes():
    """Downloads serve a copy of the link's row (server.link_cache_ms), yet
    a change by the server itself or by `partaged admin` on its data dir
    is seen by the very next request; a change behind its back (another
    node, here a direct SQL UPDATE) within link_cache_ms."""
    with Server("[server]\nlink_cache_ms = 700\n", name="linkcache") as s:
        objs = [s.upload("c%d.bin" % i, rand_bytes(3000 + i)) for i in range(4)]
        gone, deleted, expired, behind = objs

        def warm(o):
            for _ in range(3):
                expect(s.get(s.dl_path(o)), 200, what="download of %s" % o["id"])
        for o in objs:
            warm(o)
        p = s.admin("takedown", gone["id"], "--reason", "cache test")
        assert p.returncode == 0, out(p)
        expect(s.get(s.dl_path(gone)), 451, what="a cached link right after `admin takedown`")
        expect(s.delete("/" + deleted["id"], {"X-Delete-Token": deleted["delete_token"]}), 204)
        expect(s.get(s.dl_path(deleted)), 404, 410, what="a cached link right after DELETE")
        p = s.admin("restore", gone["id"])
        assert p.returncode == 0, out(p)
        expect(s.get(s.dl_path(gone)), 200, what="a restored link")
        # gc with a clock 60 days ahead expires the anonymous uploads
        warm(expired)
        p = s.admin("gc", "--now", str(int(time.time()) + 60 * 86400))
        assert p.returncode == 0, out(p)
        expect(s.get(s.dl_path(expired)), 410, what="a cached link right after `admin gc` expired it")
    with Server("[server]\nlink_cache_ms = 700\n", name="linkcache-behind") as s:
        behind = s.upload("behind.bin", rand_bytes(3000))
        for _ in range(3):
            expect(s.get(s.dl_path(behind)), 200)
        if harness.PG_DSN:
            harness._psql("UPDATE %s.links SET state = 1, reason = 'deleted' WHERE id = '%s'" % (
                harness.pg_schema(s.data), behind["id"]))
        else:
            import sqlite3
            con = sqlite3.connect(s.path("partage.db"), timeout=10)
            con.execute("UPDATE links SET state = 1, reason = 'deleted' WHERE id = ?", (behind["id"],))
            con.commit()
            con.close()
        t0 = time.monotonic()
        ok = wait_until(lambda: s.get(s.dl_path(behind)).status == 410, 5, 0.05)
        took = time.monotonic() - t0
        assert ok and took < 1.5, "a change behind the cache's back seen after %.2fs (link_cache_ms 700)" % took


def test_admin_stats():
    # the design's `partaged admin stats`: links and bytes users see, blobs
    # and bytes the store holds (two links to one content are one blob)
    with Server("", name="stats") as s:
        data = rand_bytes(3000)
        s.upload("a.bin", data)
        s.upload("b.bin", data)
        s.upload("c.bin", rand_bytes(1000))
        p = s.admin("stats")
        assert p.returncode == 0, "admin stats: exit %d: %s" % (p.returncode, out(p))
        got = dict(l.split() for l in p.stdout.splitlines())
        want = {"live_links": "3", "live_bytes": "7000", "blobs": "2", "stored_bytes": "4000"}
        assert got == want, "admin stats: %r, want %r" % (got, want)


def test_admin_unknown_command():
    with Server("", name="admin-bad", start=False) as s:
        p = s.admin("no-such-command")
        assert p.returncode == 1, "unknown admin command: exit %d" % p.returncode
        err = p.stderr.strip()
        assert err and len(err.splitlines()) == 1, "want one line on stderr, got %r" % p.stderr
