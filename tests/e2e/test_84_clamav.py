"""Virus scanning with ClamAV's clamd (issue 18): a real clamd, started
here with its own config and a one-signature database built in the test
(the EICAR test file's SHA-256 and size, no internet); every file's scan
state (pending, clean, infected, error) in its JSON and on its page;
infected files taken down like a content takedown with an audit entry; the
queue surviving a restart; and whether pending files may be downloaded."""

import atexit
import os
import shutil
import subprocess
import tempfile
import time

from harness import Skip, expect, rand_bytes, sha256, track, Server, wait_until

EICAR = b"X5O!P%@AP[4\\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*"
SIG = "Partage.Test.EICAR"
STREAM_MAX = 64 * 1024   # clamd's StreamMaxLength here: a larger file is its ERROR
NOWHERE = "/nonexistent/partage-test/clamd.sock"
CONFIG = ""
_clamd = {}


def clamd():
    """The socket of this module's clamd (started once, ~20 MB)."""
    if "sock" in _clamd:
        return _clamd["sock"]
    exe = shutil.which("clamd") or "/usr/sbin/clamd"
    if not os.access(exe, os.X_OK):
        raise Skip("clamd is not installed (apt-get install clamav-daemon)")
    d = tempfile.mkdtemp(prefix="pclamd-", dir="/tmp")  # a short socket path
    atexit.register(shutil.rmtree, d, True)
    os.mkdir(os.path.join(d, "db"))
    assert len(EICAR) == 68
    with open(os.path.join(d, "db", "partage-test.hsb"), "w") as f:
        f.write("%s:%d:%s\n" % (sha256(EICAR), len(EICAR), SIG))
    sock = os.path.join(d, "clamd.sock")
    conf = os.path.join(d, "clamd.conf")
    with open(conf, "w") as f:
        f.write("LocalSocket %s\nDatabaseDirectory %s\nForeground yes\n"
                "LogFile %s\nStreamMaxLength %d\nMaxThreads 2\n"
                % (sock, os.path.join(d, "db"), os.path.join(d, "clamd.log"), STREAM_MAX))
    p = track(subprocess.Popen([exe, "-c", conf], stdin=subprocess.DEVNULL,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
    atexit.register(lambda: p.poll() is None and p.kill())
    if not wait_until(lambda: os.path.exists(sock) or p.poll() is not None, timeout=60):
        raise AssertionError("clamd did not start in 60 s")
    assert p.poll() is None, "clamd exited: %s" % open(os.path.join(d, "clamd.log")).read()[-500:]
    _clamd["sock"] = sock
    return sock


def config(sock, pending=None):
    c = "[scan]\nclamd = %s\ntimeout_seconds = 20\n" % sock
    if pending is not None:
        c += "pending_downloads = %d\n" % pending
    return c


def scan_state(s, o):
    r = s.file_obj(o["id"])
    return r.json().get("scan") if r.status == 200 else r.status


def settle(s, o, timeout=20):
    """The file's state once it is no longer pending."""
    st = [None]

    def done():
        st[0] = scan_state(s, o)
        return st[0] != "pending"
    assert wait_until(done, timeout=timeout), "%s still pending after %d s" % (o["id"], timeout)
    return st[0]


def audit(s):
    a = s.admin("audit")
    assert a.returncode == 0, a.stderr
    return [line.split("\t") for line in a.stdout.splitlines()]


def test_clean_infected_error():
    sock = clamd()
    with Server(config(sock), name="clam") as s:
        clean = s.upload("clean.bin", rand_bytes(5000))
        assert clean.get("scan") == "pending", clean
        bad1 = s.upload("eicar.com", EICAR)
        bad2 = s.upload("renamed.txt", EICAR)
        big = s.upload("big.bin", rand_bytes(STREAM_MAX + 1000))
        assert settle(s, clean) == "clean"
        assert settle(s, big) == "error"
        # infected: taken down like a content takedown, the signature the reason
        for o in (bad1, bad2):
            assert settle(s, o) == 410, o
            f = s.file_obj(o["id"]).json()
            assert SIG in f.get("reason", "") and "malware" in f["reason"], f
            expect(s.get(s.dl_path(o)), 451, what="the direct URL of an infected file")
        rows = [r for r in audit(s) if r[2] == "takedown_content" and r[3] == sha256(EICAR)]
        assert len(rows) == 1 and rows[0][1] == "clamd" and SIG in rows[0][4], rows
        assert bad1["id"] in rows[0][5] and bad2["id"] in rows[0][5], rows
        expect(s.put("again.com", EICAR), 451, what="a re-upload of infected content")
        # the states on the pages
        assert expect(s.get(s.dl_path(clean)), 200).status == 200
        page = s.get("/" + clean["id"], {"Accept": "text/html"})
        assert b'<dd id="scan">clean</dd>' in page.body, page.body[-600:]
        page = s.get("/" + big["id"], {"Accept": "text/html"})
        assert b'<dd id="scan">error</dd>' in page.body
        # a deduplicated upload of clean bytes is clean at once
        again = s.upload("again.bin", s.get(s.dl_path(clean)).body)
        assert scan_state(s, again) == "clean"


def test_pending_downloads_and_a_restart():
    sock = clamd()
    # clamd unreachable: the files stay pending (and are retried)
    with Server(config(NOWHERE, pending=0), name="clam-pending") as s:
        data = rand_bytes(3000)
        o = s.upload("wait.bin", data)
        time.sleep(0.6)  # a look at the queue has come and gone
        assert scan_state(s, o) == "pending"
        r = expect(s.get(s.dl_path(o)), 409, what="a pending file with pending_downloads = 0")
        assert r.header("Retry-After") and "scanned" in r.text, r
        page = s.get("/" + o["id"], {"Accept": "text/html"})
        assert b'<dd id="scan">pending</dd>' in page.body
        # the queue survives a restart: with clamd back, the file is scanned
        with open(s.conf) as f:
            text = f.read()
        with open(s.conf, "w") as f:
            f.write(text.replace(NOWHERE, sock))
        s.restart()
        assert settle(s, o) == "clean"
        assert expect(s.get(s.dl_path(o)), 200).body == data
    with Server(config(NOWHERE), name="clam-default") as s:
        data = rand_bytes(2000)
        o = s.upload("free.bin", data)
        assert scan_state(s, o) == "pending"
        assert expect(s.get(s.dl_path(o)), 200, what="a pending file by default").body == data


def test_off_by_default(srv):
    o = srv.upload("plain.bin", rand_bytes(100))
    assert "scan" not in o and "scan" not in srv.file_obj(o["id"]).json(), o
    page = srv.get("/" + o["id"], {"Accept": "text/html"})
    assert b'id="scan-block" hidden' in page.body, "the page has no (hidden) scan block"
