"""Disk full: the data dir on an 8 MiB tmpfs; an upload that does not fit gets
507, leaves no temp file, and the server keeps serving earlier files."""

import os
import subprocess

import harness
from harness import Skip, expect, mkdtemp, rand_bytes, sha256, wait_until, Server

TIMEOUT = 120
MIB = 1024 * 1024


def chunks(data, n=65536):
    return (data[i:i + n] for i in range(0, len(data), n))


def _root_cmd():
    """[] as root, ["sudo", "-n"] when passwordless sudo works, else None."""
    import shutil
    if os.geteuid() == 0:
        return []
    if shutil.which("sudo") and subprocess.run(["sudo", "-n", "true"], capture_output=True).returncode == 0:
        return ["sudo", "-n"]
    return None


def mount_tmpfs(size="8m"):
    d = mkdtemp("tmpfs-")
    pre = _root_cmd()
    if pre is None:
        raise Skip("mounting a tmpfs needs root or passwordless sudo (uid %d); disk-full not tested" % os.geteuid())
    p = subprocess.run(pre + ["mount", "-t", "tmpfs", "-o", "size=%s,mode=1777" % size, "tmpfs", d],
                       capture_output=True, text=True)
    if p.returncode != 0:
        raise Skip("cannot mount a tmpfs (%s); disk-full behaviour not tested" % (p.stderr.strip() or p.returncode))
    return d


def umount(d):
    pre = _root_cmd() or []
    subprocess.run(pre + ["umount", d], capture_output=True)
    if os.path.ismount(d):
        subprocess.run(pre + ["umount", "-l", d], capture_output=True)


def test_disk_full_507():
    if harness.S3_ENDPOINT:
        raise harness.Skip('blobs are in the S3 store, not on the small local disk')
    d = mount_tmpfs()
    srv = None
    try:
        data_dir = os.path.join(d, "data")
        srv = Server("", data=data_dir, name="diskfull")
        early = rand_bytes(1 * MIB)
        o = srv.upload("early.bin", early)

        # Content-Length bigger than the free space
        big = rand_bytes(12 * MIB)
        r, _ = srv.send_upload("/big.bin", ["Content-Length: %d" % len(big), "Accept: application/json"],
                               chunks(big))
        expect(r, 507, what="12 MiB PUT on an 8 MiB disk")
        assert len(r.text.strip().splitlines()) == 1, "507 reason is not one line: %r" % r.body[:200]
        assert wait_until(lambda: srv.tmp_files() == [], 3), "temp file left after 507: %r" % srv.tmp_files()
        assert not os.path.exists(srv.blob_path(sha256(big)))

        # chunked (the size is unknown until the disk fills)
        body = [b"%x\r\n%s\r\n" % (len(c), c) for c in chunks(big, 32768)] + [b"0\r\n\r\n"]
        r, _ = srv.send_upload("/big-chunked.bin", ["Transfer-Encoding: chunked"], body)
        expect(r, 507, what="chunked 12 MiB PUT on an 8 MiB disk")
        assert wait_until(lambda: srv.tmp_files() == [], 3), "temp file left after 507: %r" % srv.tmp_files()

        # the server still serves and accepts what fits
        expect(srv.get("/healthz"), 200)
        g = expect(srv.get(srv.dl_path(o)), 200, what="earlier file after disk full")
        assert g.body == early
        small = rand_bytes(100 * 1024)
        o2 = srv.upload("after.bin", small)
        assert expect(srv.get(srv.dl_path(o2)), 200).body == small
        expect(srv.file_obj(o["id"]), 200)
        rc = srv.stop()
        assert rc == 0, "partaged exited %r after SIGTERM" % rc
    finally:
        if srv is not None:
            srv.close(quiet=True)
        umount(d)
