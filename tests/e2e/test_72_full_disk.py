"""A 100 % full disk (issue 12, item 5): the data dir on a 32 MiB tmpfs,
filled to the last byte by a file the test writes AFTER the uploads, as
another program would.  Deleting, taking down, gc and the other admin
commands must still work (the data dir's reserve file gives its blocks to
the metadata), nothing the server or `partaged admin` maps may lack its
blocks (SIGBUS, exit 135), uploads get 507 and leave nothing, and once the
filler is gone the reserve is back and uploads work again.  The free-space
floor (storage.min_free_bytes plus the reserve) keeps uploads off the last
of the disk in the first place."""

import errno
import os
import subprocess

import harness
from harness import expect, mkdtemp, rand_bytes, sha256, wait_until, Server

TIMEOUT = 240
KIB = 1024
MIB = 1024 * 1024
DISK = "32m"


def _mount(size=DISK):
    if harness.S3_ENDPOINT:
        raise harness.Skip("blobs are in the S3 store, not on the small local disk")
    if harness.PG_DSN:
        raise harness.Skip("the metadata is in PostgreSQL, not on the small local disk")
    if os.geteuid() != 0:
        raise harness.Skip("mounting a tmpfs needs root (uid %d); full disk not tested" % os.geteuid())
    d = mkdtemp("tmpfs-")
    p = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=%s,mode=1777" % size, "tmpfs", d],
                       capture_output=True, text=True)
    if p.returncode != 0:
        raise harness.Skip("cannot mount a tmpfs (%s); full disk not tested" % (p.stderr.strip() or p.returncode))
    return d


def _umount(d):
    subprocess.run(["umount", d], capture_output=True)
    if os.path.ismount(d):
        subprocess.run(["umount", "-l", d], capture_output=True)


def free_bytes(d):
    v = os.statvfs(d)
    return v.f_bavail * v.f_frsize


def fill(d):
    """Write a file until the disk has not one byte left; returns its path."""
    path = os.path.join(d, "filler")
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    try:
        for n in (MIB, 64 * KIB, 4 * KIB, 512, 1):
            block = b"\xa5" * n
            while True:
                try:
                    if os.write(fd, block) == 0:
                        break
                except OSError as e:
                    if e.errno != errno.ENOSPC:
                        raise
                    break
    finally:
        os.close(fd)
    assert free_bytes(d) == 0, "the filler left %d bytes free" % free_bytes(d)
    return path


def out(p):
    return "exit %d, stdout %r, stderr %r" % (p.returncode, p.stdout[-400:], p.stderr[-400:])


def admin_ok(s, *args, env=None):
    p = s.admin(*args, env=env)
    assert p.returncode == 0, "`partaged admin %s` on a full disk: %s%s" % (
        " ".join(args), out(p), " (SIGBUS)" if p.returncode in (135, -7) else "")
    return p


def alive(s, what):
    assert s.alive(), "partaged died %s (exit %r); log: %s" % (what, s.proc.poll(), s.log_tail(12))


def reserve_bytes(s):
    try:
        return os.stat(s.path("reserve")).st_blocks * 512
    except FileNotFoundError:
        return 0


def upload_many(s, n, size, prefix):
    return [(o, data) for o, data in
            ((s.upload("%s-%02d.bin" % (prefix, i), d), d)
             for i, d in ((i, rand_bytes(size)) for i in range(n)))]


class Disk:
    """A server whose data dir is on its own small tmpfs."""

    def __init__(self, name, config="", env=None):
        self.d = _mount()
        self.s = None
        try:
            self.s = Server(config, data=os.path.join(self.d, "data"), name=name, env=env)
        except BaseException:
            _umount(self.d)
            raise

    def __enter__(self):
        return self

    def __exit__(self, *a):
        if self.s is not None:
            self.s.close(quiet=True)
        _umount(self.d)


def test_full_disk_every_delete_succeeds():
    with Disk("full-delete") as k:
        s = k.s
        files = upload_many(s, 32, 128 * KIB, "del")
        keep, keep_data = upload_many(s, 1, 64 * KIB, "keep")[0]
        fill(k.d)
        statuses = [s.delete("/" + o["id"], {"X-Delete-Token": o["delete_token"]}).status
                    for o, _ in files]
        assert statuses == [204] * 32, "DELETE on a full disk: %d of 32 got 204: %r" % (
            statuses.count(204), statuses)
        alive(s, "after the deletes")
        for o, _ in files[:4]:
            expect(s.get(s.dl_path(o)), 410, what="a deleted file")
        assert expect(s.get(s.dl_path(keep)), 200, what="a kept file on a full disk").body == keep_data
        # the reserve went to the metadata, not to the next upload
        expect(s.put("late.bin", b"x" * 1000), 507, what="an upload while the reserve is released")
        # gc's blob deletions give the space back
        p = admin_ok(s, "gc")
        assert "32 blobs removed" in p.stdout, "gc after 32 deletes: %s" % out(p)
        for o, data in files:
            assert not os.path.exists(s.blob_path(sha256(data))), "gc left a deleted file's blob"
        alive(s, "after gc")
        assert expect(s.get(s.dl_path(keep)), 200).body == keep_data


def test_full_disk_admin_commands_work():
    with Disk("full-admin") as k:
        s = k.s
        p = s.admin("user", "add", "fullbob", input="correct horse battery\n")
        assert p.returncode == 0, out(p)
        files = upload_many(s, 6, 256 * KIB, "adm")
        fill(k.d)
        # the first change to a link since the server started: on a
        # data dir whose counter page has no block, this was SIGBUS
        gone, gone_data = files[0]
        admin_ok(s, "takedown", gone["id"], "--reason", "full disk test")
        alive(s, "after `admin takedown`")
        expect(s.get(s.dl_path(gone)), 451, what="a link taken down on a full disk")
        other, other_data = files[1]
        assert expect(s.get(s.dl_path(other)), 200, what="a download after the takedown").body == other_data
        admin_ok(s, "restore", gone["id"])
        assert expect(s.get(s.dl_path(gone)), 200, what="a restored link").body == gone_data
        admin_ok(s, "takedown", files[2][0]["id"], files[3][0]["id"], "--content",
                 "--reason", "full disk test", "--reference", "R-1")
        admin_ok(s, "user", "disable", "fullbob")
        admin_ok(s, "user", "enable", "fullbob")
        admin_ok(s, "reports", "list")
        admin_ok(s, "gc")
        # deleted links' blobs: gc removes them on the full disk
        for o, _ in files[4:]:
            expect(s.delete("/" + o["id"], {"X-Delete-Token": o["delete_token"]}), 204,
                   what="DELETE after admin commands on a full disk")
        p = admin_ok(s, "gc")
        assert "2 blobs removed" in p.stdout, "gc: %s" % out(p)
        for o, data in files[4:]:
            assert not os.path.exists(s.blob_path(sha256(data)))
        alive(s, "after admin commands on a full disk")
        assert expect(s.get(s.dl_path(other)), 200).body == other_data
        assert expect(s.get(s.dl_path(gone)), 200).body == gone_data
        rc = s.stop()
        assert rc == 0, "partaged exited %r after SIGTERM; log: %s" % (rc, s.log_tail(12))


def test_full_disk_uploads_refused_then_back():
    with Disk("full-upload") as k:
        s = k.s
        before = upload_many(s, 3, 128 * KIB, "pre")
        filler = fill(k.d)
        blobs = sorted(s.blob_files())
        for name, body, hdrs in (("cl.bin", rand_bytes(200 * KIB), {}),
                                 ("chunked.bin", iter([rand_bytes(64 * KIB)] * 4), {}),
                                 ("tiny.bin", b"x", {})):
            r = s.put(name, body, hdrs)
            expect(r, 507, what="PUT %s on a full disk" % name)
        expect(s.request("POST", "/api/v1/uploads", headers={
            "Tus-Resumable": "1.0.0", "Upload-Length": "10"}), 507, what="tus creation on a full disk")
        assert wait_until(lambda: s.tmp_files() == [], 3), "temp files after 507: %r" % s.tmp_files()
        assert sorted(s.blob_files()) == blobs, "a refused upload left a blob"
        assert os.listdir(s.path("uploads")) == [], "a refused tus upload left a partial"
        alive(s, "after refused uploads")
        o, data = before[0]
        assert expect(s.get(s.dl_path(o)), 200).body == data
        # space is back: the reserve first, then uploads again
        os.unlink(filler)
        assert wait_until(lambda: reserve_bytes(s) >= MIB, 10), \
            "the reserve is not back %d s after the disk was freed (%d bytes)" % (10, reserve_bytes(s))
        after = rand_bytes(300 * KIB)
        o2 = s.upload("after.bin", after)
        assert expect(s.get(s.dl_path(o2)), 200).body == after


def test_uploads_stop_above_the_reserve():
    with Disk("floor") as k:
        s = k.s
        keep = rand_bytes(64 * KIB)
        o = s.upload("keep.bin", keep)
        free = free_bytes(k.d)
        # fits on the disk, but would leave less than the floor
        size = free - 256 * KIB
        assert size > MIB, "free space %d" % free
        r = s.put("big.bin", b"\0" * size, {"Accept": "application/json"})
        expect(r, 507, what="a %d-byte PUT with %d bytes free" % (size, free))
        assert wait_until(lambda: s.tmp_files() == [], 3), "temp files after 507: %r" % s.tmp_files()
        # the same without a length: stopped while it streams
        # all of `size` (not rounded down to whole chunks: that could leave
        # more than the floor free, and the upload would rightly pass)
        chunks = [b"\0" * (256 * KIB)] * (size // (256 * KIB))
        if size % (256 * KIB):
            chunks.append(b"\0" * (size % (256 * KIB)))
        r, _ = s.send_upload("/big-chunked.bin", ["Transfer-Encoding: chunked"],
                             (b"%x\r\n%s\r\n" % (len(c), c) for c in chunks + [b""]))
        expect(r, 507, what="a chunked PUT of %d bytes with %d bytes free" % (size, free))
        assert wait_until(lambda: s.tmp_files() == [], 3), "temp files after 507: %r" % s.tmp_files()
        assert wait_until(lambda: free_bytes(k.d) >= free - 64 * KIB, 5), \
            "the refused uploads did not give their space back: %d free, %d before" % (free_bytes(k.d), free)
        assert expect(s.get(s.dl_path(o)), 200).body == keep
        small = rand_bytes(100 * KIB)
        o2 = s.upload("small.bin", small)
        assert expect(s.get(s.dl_path(o2)), 200).body == small


def test_full_disk_commit_bigger_than_the_headroom():
    # a takedown of 1000 links is one transaction whose WAL frames need
    # more than the little space left: its COMMIT fails on the full disk,
    # SQLite rolls it back, the reserve is released and it runs again
    # (in the environment: a build without the key runs as before)
    env = {"PARTAGE_STORAGE_RESERVE_BYTES": "1M"}
    with Disk("full-bigtx", env=env) as k:
        s = k.s
        data = b"one content, many links\n"
        objs = [s.upload("same-%04d.txt" % i, data) for i in range(1000)]
        other = rand_bytes(4096)
        o2 = s.upload("other.bin", other)
        s.stop()  # the WAL goes with the last connection: it must grow again
        filler = fill(k.d)
        # more than the headroom (1/8 of the reserve) and the WAL index
        # take, less than the commit needs
        os.truncate(filler, os.path.getsize(filler) - 200 * KIB)
        p = admin_ok(s, "takedown", objs[0]["id"], "--content", "--reason", "full disk test", env=env)
        assert len(p.stdout.split()) == 1000, "takedown took down %d links of 1000" % len(p.stdout.split())
        s.start()
        for o in objs[:: 97]:
            expect(s.get(s.dl_path(o)), 451, what="a link of content taken down on a full disk")
        assert expect(s.get(s.dl_path(o2)), 200).body == other
        alive(s, "after a takedown of 1000 links on a full disk")
