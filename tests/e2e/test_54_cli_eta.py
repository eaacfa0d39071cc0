"""The `partage` client's progress line on a terminal: a download from a
speed-capped tier shows the bytes, a smoothed rate and an ETA that counts
down, and ends with the whole size; without a terminal nothing is drawn.
The client runs under a pseudo-terminal (its stderr is a tty).  Also what
tells people how to use it: `partaged admin --help`, the tiers' limits
(GET /api/v1/tiers, the table on /) and the folder page's curl command,
run as written with the real curl."""

import html
import json
import os
import shlex
import zipfile
import pty
import re
import select
import subprocess
import time

import harness
from harness import Skip, bin_path, expect, rand_bytes, sha256

K = 1024
SPEED = 200 * K
# anonymous downloads at 200 KiB/s, no wait, so a 1000 KiB file takes ~4 s
# (the first second's worth comes at once)
CONFIG = """\
[tier.anonymous]
wait_seconds = 0
speed_bytes_per_second = 200K
parallel_downloads = 0
max_download_bytes = 0
"""
SIZE = 1000 * K


def partage_cmd(srv, *args):
    exe = bin_path("partage")
    if not os.access(exe, os.X_OK):
        raise Skip("%s is not built" % exe)
    env = {k: v for k, v in os.environ.items() if not k.startswith("PARTAGE_")}
    env["XDG_STATE_HOME"] = os.path.join(harness.ROOT, "cli-state")
    env["XDG_CONFIG_HOME"] = os.path.join(harness.ROOT, "cli-config")
    env["TERM"] = "xterm"
    return [exe, "--server", srv.url] + list(args), env


def run_in_pty(cmd, env, timeout=40):
    """cmd with its stderr on a pseudo-terminal: (exit status, stdout,
    [(seconds since start, bytes read from the terminal)])."""
    master, slave = pty.openpty()
    t0 = time.monotonic()
    p = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                         stderr=slave, env=env)
    os.close(slave)
    chunks = []
    try:
        while True:
            if time.monotonic() - t0 > timeout:
                p.kill()
                raise AssertionError("partage still running after %ds" % timeout)
            r, _, _ = select.select([master], [], [], 0.2)
            if r:
                try:
                    b = os.read(master, 4096)
                except OSError:  # EIO: the child closed the terminal
                    b = b""
                if not b:
                    break
                chunks.append((time.monotonic() - t0, b))
            elif p.poll() is not None:
                break
        out = p.stdout.read()
        rc = p.wait(10)
    finally:
        os.close(master)
        if p.poll() is None:
            p.kill()
    return rc, out, chunks


def frames(chunks):
    """The progress line's successive states: the terminal's text split at
    carriage returns and newlines, escape sequences dropped."""
    text = b"".join(b for _t, b in chunks).decode("utf-8", "replace")
    text = re.sub(r"\x1b\[[0-9;]*[A-Za-z]", "", text)
    return [f.strip() for f in re.split(r"[\r\n]", text) if f.strip()]


def eta_secs(frame):
    m = re.search(r"ETA (?:(\d+):)?(\d+):(\d\d)\b", frame)
    if not m:
        return None
    h, mi, s = m.groups()
    return int(h or 0) * 3600 + int(mi) * 60 + int(s)


def test_download_shows_a_decreasing_eta(srv, tmp):
    data = rand_bytes(SIZE)
    obj = srv.upload("capped.bin", data)
    out = os.path.join(tmp, "out")
    os.mkdir(out)
    cmd, env = partage_cmd(srv, "download", obj["id"], "--output-dir", out)
    t = time.monotonic()
    rc, stdout, chunks = run_in_pty(cmd, env)
    took = time.monotonic() - t
    fr = frames(chunks)
    assert rc == 0, "exit %d, terminal said %r" % (rc, fr[-5:])
    path = os.path.join(out, "capped.bin")
    assert stdout.decode() == path + "\n", stdout
    with open(path, "rb") as fh:
        assert sha256(fh.read()) == sha256(data), "the downloaded bytes differ"
    assert took >= 2.5, "the capped download took %.1fs: the cap is not in force" % took

    bars = [f for f in fr if f.startswith("capped.bin")]
    assert bars, "no progress line on the terminal: %r" % fr[:10]
    etas = [eta_secs(f) for f in bars]
    etas = [e for e in etas if e is not None]
    assert len(etas) >= 3, "no ETA in the progress lines: %r" % bars[:10]
    assert len(set(etas)) >= 2, "the ETA never changes: %r" % etas
    assert etas[0] > etas[-1], "the ETA does not count down: %r" % etas
    # an honest estimate: the first one is within the download's length
    assert etas[0] <= took + 3, "first ETA %ds for a %.1fs download" % (etas[0], took)
    rises = sum(1 for a, b in zip(etas, etas[1:]) if b > a)
    falls = sum(1 for a, b in zip(etas, etas[1:]) if b < a)
    assert falls > rises, "the ETA rises more often than it falls: %r" % etas
    # a rate is shown, near the cap once it settles
    rates = [re.search(r"([\d.]+) (B|KiB|MiB)/s", f) for f in bars]
    assert all(rates), "a progress line without a rate: %r" % bars
    # the bytes: the size so far of the whole, ending with all of it
    assert re.search(r"/ 1000\.0 KiB", bars[0]), bars[0]
    last = bars[-1]
    assert re.search(r"100%\s+1000\.0 KiB / 1000\.0 KiB", last), \
        "the last progress line is not the whole file: %r" % last
    # no line on the terminal beyond the bar for a plain download
    assert all(f.startswith("capped.bin") for f in fr), fr


def test_no_progress_without_a_terminal(srv, tmp):
    data = rand_bytes(300 * K)
    obj = srv.upload("quiet.bin", data)
    cmd, env = partage_cmd(srv, "download", obj["id"], "-o", "-")
    r = subprocess.run(cmd, env=env, capture_output=True, timeout=40)
    assert r.returncode == 0, r.stderr
    assert sha256(r.stdout) == sha256(data)
    assert b"\r" not in r.stderr and b"ETA" not in r.stderr, \
        "progress drawn on a non-terminal: %r" % r.stderr[:200]


WAIT_CONFIG = """\
[tier.anonymous]
wait_seconds = 3
speed_bytes_per_second = 0
parallel_downloads = 0
max_download_bytes = 0
"""


def test_wait_counts_down_then_the_bar(tmp):
    """A waiting tier: the wait the server holds the download for counts down
    (3 s, 2 s, 1 s on one line), then the progress line."""
    with harness.Server(WAIT_CONFIG, name="etawait") as s:
        data = rand_bytes(64 * K)
        obj = s.upload("waited.bin", data)
        out = os.path.join(tmp, "w")
        os.mkdir(out)
        cmd, env = partage_cmd(s, "download", obj["id"], "--output-dir", out)
        rc, stdout, chunks = run_in_pty(cmd, env)
        fr = frames(chunks)
        assert rc == 0, "exit %d, terminal said %r" % (rc, fr[-5:])
        with open(os.path.join(out, "waited.bin"), "rb") as fh:
            assert sha256(fh.read()) == sha256(data)
        left = [int(m.group(1)) for f in fr
                for m in [re.search(r"^partage: free download starts in (\d+) s$", f)] if m]
        assert len(left) >= 2 and left == sorted(left, reverse=True) and left[-1] == 1, \
            "no live countdown: %r" % fr
        # the countdown is redrawn in place, not one line per second
        text = b"".join(b for _t, b in chunks)
        assert text.count(b"\n") <= 2, "the countdown scrolls: %r" % text[:300]
        assert fr[-1].startswith("waited.bin") and "100%" in fr[-1], fr[-3:]

ADMIN_CMDS = ("fsck", "user add", "user set-tier", "voucher create", "gc", "takedown",
              "restore", "blocklist", "reports", "audit")


def test_partaged_help_lists_the_admin_commands(tmp):
    exe = bin_path("partaged")
    if not os.access(exe, os.X_OK):
        raise Skip("%s is not built" % exe)
    data = os.path.join(tmp, "data")

    def run(*args):
        env = {k: v for k, v in os.environ.items() if not k.startswith("PARTAGE_")}
        return subprocess.run([exe, "--data", data] + list(args), env=env, cwd=tmp,
                              capture_output=True, timeout=20)

    def lists_commands(text, what):
        missing = [c for c in ADMIN_CMDS if not re.search(r"^\s+%s\b" % c, text, re.M)]
        assert not missing, "%s does not list %r: %r" % (what, missing, text[:400])

    for args in (["admin", "--help"], ["admin", "-h"], ["admin", "help"],
                 ["admin", "user", "--help"], ["admin", "gc", "--help"]):
        r = run(*args)
        assert r.returncode == 0, "%s: exit %d, stderr %r" % (args, r.returncode, r.stderr[:200])
        assert r.stderr == b"", "%s: stderr %r" % (args, r.stderr[:200])
        lists_commands(r.stdout.decode(), " ".join(args))
    for args in (["--help"], ["-h"]):
        r = run(*args)
        assert r.returncode == 0, "%s: exit %d, %r" % (args, r.returncode, r.stderr[:200])
        out = r.stdout.decode()
        assert out.startswith("usage: partaged"), out[:200]
        lists_commands(out, " ".join(args))
    # help opens no store: nothing created under --data
    assert not os.path.exists(data), "help created %r" % os.listdir(data)
    # no command: the list on stderr, exit 1
    r = run("admin")
    assert r.returncode == 1 and r.stdout == b"", (r.returncode, r.stdout[:200])
    err = r.stderr.decode()
    assert err.startswith("partaged: "), err[:200]
    lists_commands(err, "admin")
    # an unknown command: one line on stderr, exit 1, pointing at the help
    r = run("admin", "frobnicate")
    err = r.stderr.decode()
    assert r.returncode == 1 and len(err.splitlines()) == 1, (r.returncode, err)
    assert "'frobnicate'" in err and "--help" in err, err
    # an unknown argument to partaged: a usage error
    r = run("--frobnicate")
    assert r.returncode == 2 and "usage: partaged" in r.stderr.decode(), (r.returncode, r.stderr)


JSON = {"Content-Type": "application/json"}


def test_tiers_endpoint_and_home_page_table(srv):
    r = expect(srv.get("/api/v1/tiers"), 200)
    tiers = {t["name"]: t for t in r.json()["tiers"]}
    assert sorted(tiers) == ["anonymous", "free", "premium"], r.json()
    # this module's config for anonymous, the defaults (src/conf.c) for the rest
    a, f, p = tiers["anonymous"], tiers["free"], tiers["premium"]
    assert a["wait_seconds"] == 0 and a["speed_bytes_per_second"] == SPEED, a
    assert a["parallel_downloads"] == 0 and a["max_download_bytes"] == 0, a
    assert a["max_upload_bytes"] == 2 << 30 and a["retention_days"] == 21, a
    assert f == {"name": "free", "wait_seconds": 25, "speed_bytes_per_second": 100 * K,
                 "parallel_downloads": 1, "connections_per_download": 2,
                 "cooldown_seconds": 0, "max_upload_bytes": 2 << 30,
                 "max_download_bytes": 1 << 30, "retention_days": 90,
                 "storage_quota_bytes": 200 << 30, "stream_minutes": 72,
                 "stream_wait_minutes": 54}, f
    assert all(v == 0 for k, v in p.items() if k != "name"), p
    # the home page shows the same, from the running config
    page = expect(srv.get("/", {"Accept": "text/html"}), 200).text
    m = re.search(r'<table id="tiers">(.*?)</table>', page, re.S)
    assert m, "no tiers table on /: %r" % page[:300]
    rows = {}
    for tr in re.findall(r"<tr>(.*?)</tr>", m.group(1), re.S):
        cells = [html.unescape(c) for c in re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", tr)]
        rows[cells[0]] = cells[1:]
    assert rows[""] == ["anonymous", "free", "premium"], rows
    assert rows["Download speed"] == ["200 KiB/s", "100 KiB/s", "no cap"], rows
    assert rows["Wait before a download"] == ["none", "25 s", "none"], rows
    assert rows["Largest download"] == ["no limit", "1 GiB", "no limit"], rows
    assert rows["Storage"] == ["no account", "200 GiB", "no limit"], rows
    assert rows["Files kept"][2] == "forever" and "90 days" in rows["Files kept"][1], rows
    assert rows["Streaming"][1] == "72 min, then a 54 min wait", rows
    assert rows["Connections per download"][1:] == ["2", "no limit"], rows
    assert rows["Wait between downloads"] == ["none", "none", "none"], rows  # the harness's
    # a tier without an upload limit still has storage.max_file_bytes
    assert rows["Largest upload"][1:] == ["2 GiB", "1 TiB"], rows


def test_folder_page_curl_command_works_as_written(srv, tmp):
    pw = "long enough pw"
    body = json.dumps({"name": "eta_" + os.urandom(3).hex(), "password": pw}).encode()
    expect(srv.request("POST", "/api/v1/users", body=body, headers=JSON), 201)
    tok = expect(srv.request("POST", "/api/v1/tokens", body=body, headers=JSON), 201).json()["token"]
    auth = {"Authorization": "Bearer " + tok}
    f = expect(srv.request("POST", "/api/v1/folders", headers=dict(auth, **JSON),
                           body=json.dumps({"name": "Holiday", "shared": True}).encode()),
               201).json()
    data = rand_bytes(40 * K)
    srv.upload("a.jpg", data, dict(auth, **{"X-Partage-Folder": f["id"]}))
    page = expect(srv.get("/folder/" + f["id"], {"Accept": "text/html"}), 200).text
    cmds = [html.unescape(c) for c in re.findall(r"<code>(curl [^<]*)</code>", page)]
    assert cmds, "no curl command on the folder page"
    argv = shlex.split(cmds[0])
    assert "-C" in argv, "the page's command does not resume: %r" % cmds[0]

    def run():
        return subprocess.run(argv, cwd=tmp, capture_output=True, timeout=30)

    r = run()
    assert r.returncode == 0, "%r: exit %d, %r" % (cmds[0], r.returncode, r.stderr)
    names = os.listdir(tmp)
    assert names == ["Holiday.zip"], names
    path = os.path.join(tmp, "Holiday.zip")
    with open(path, "rb") as fh:
        whole = fh.read()
    # cut short and run again: it resumes to the same zip
    with open(path, "r+b") as fh:
        fh.truncate(len(whole) // 3)
    r = run()
    assert r.returncode == 0, "%r (resume): exit %d, %r" % (cmds[0], r.returncode, r.stderr)
    with open(path, "rb") as fh:
        assert fh.read() == whole, "the resumed zip differs"
    with zipfile.ZipFile(path) as z:
        assert z.read("Holiday/a.jpg") == data
