"""The free tier works for every client (issue 14): README downloads as
written, one download per (address, file) whatever the connections, a dead
connection frees its slot, counted by bytes delivered.

Real clients only: curl, wget, aria2c and bin/partage.  The module's server
has a short wait (WAIT seconds) and a speed cap (CAP bytes/s) so the tests
stay fast; test_readme_commands_on_the_default_config runs the README's
commands on the true default config (60 s, 100 KiB/s).

Each test downloads from loopback addresses of its own (127.0.0.N): the
server keys waits, countdowns and slots on the socket's peer address (the
test config trusts no proxy), so tests do not share a countdown."""

import json
import os
import re
import signal
import subprocess
import time
import urllib.parse

from harness import Server, bin_path, expect, rand_bytes, sha256, wait_downloads, wait_until

WAIT = 3
COOL = 2
CAP = 1024 * 1024
K, M = 1024, 1024 * 1024
CONFIG = """\
[server]
per_ip_connections = 0

[tier.anonymous]
wait_seconds = %d
speed_bytes_per_second = %d
parallel_downloads = 1
connections_per_download = 1
cooldown_seconds = %d
""" % (WAIT, CAP, COOL)

_next = [20]


def addr():
    """A loopback address no other test of this module uses."""
    _next[0] += 1
    return "127.0.0.%d" % _next[0]


def run(cmd, cwd, timeout=120):
    t0 = time.monotonic()
    p = subprocess.run(cmd, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=timeout)
    return p.returncode, time.monotonic() - t0, p.stdout.decode(errors="replace"), \
        p.stderr.decode(errors="replace")


def upload(srv, name, n):
    data = rand_bytes(n)
    o = srv.upload(name, data)
    return data, o


def check_file(path, data, what):
    assert os.path.exists(path), "%s: no file %s (dir: %r)" % (what, path, os.listdir(os.path.dirname(path)))
    got = open(path, "rb").read()
    assert len(got) == len(data) and sha256(got) == sha256(data), \
        "%s: %d bytes saved, expected the file's %d (head %r)" % (what, len(got), len(data), got[:120])


def in_time(elapsed, size, what, wait=WAIT, cap=CAP, slack=3.0):
    want = wait + size / cap
    assert want - 1.0 <= elapsed <= want + slack, \
        "%s took %.1fs, expected wait %ds + %d bytes at %d B/s = %.1fs" % (what, elapsed, wait, size, cap, want)


def downloads(srv, fid):
    r = srv.file_obj(fid)
    expect(r, 200)
    return r.json()["downloads"]


def get_ticket(srv, a, fid, tmp):
    rc, _, out, err = run(["curl", "-sS", "--interface", a, "-X", "POST", "-H", "Accept: application/json",
                           srv.url + "/api/v1/files/%s/ticket" % fid], tmp)
    return json.loads(out)["ticket"]


# ------------------------------------------- item 1: the hold, real clients

def test_curl_O_and_OJ_are_held_then_served(srv, tmp):
    # the old build answered 429 with a 119-byte text that curl -O saved
    # as the file, exit 0
    data, o = upload(srv, "report.pdf", 2 * M)
    for args, url in ((["-O"], o["download_url"]), (["-OJ"], o["url"])):
        d = os.path.join(tmp, args[0])
        os.mkdir(d)
        rc, el, out, err = run(["curl", "-sS", "--interface", addr(), "-w", "%{http_code} %{time_starttransfer}"]
                               + args + [url], d)
        assert rc == 0, "curl %s: exit %d: %s" % (args, rc, err)
        code, ttfb = out.split()
        assert code == "200", "curl %s: status %s" % (args, code)
        check_file(os.path.join(d, "report.pdf"), data, "curl " + " ".join(args))
        in_time(el, len(data), "curl " + " ".join(args))


def test_wget_and_wget_c_are_held_then_served(srv, tmp):
    data, o = upload(srv, "w.bin", 2 * M)
    for args in ([], ["-c"]):
        d = os.path.join(tmp, "w%d" % len(args))
        os.mkdir(d)
        rc, el, out, err = run(["wget", "-nv", "--bind-address=" + addr()] + args + [o["download_url"]], d)
        assert rc == 0, "wget %s: exit %d: %s" % (args, rc, err)
        check_file(os.path.join(d, "w.bin"), data, "wget " + " ".join(args))
        in_time(el, len(data), "wget " + " ".join(args))


def test_aria2c_is_held_then_served(srv, tmp):
    data, o = upload(srv, "a.bin", 2 * M)
    rc, el, out, err = run(["aria2c", "--interface=" + addr(), o["download_url"]], tmp)
    assert rc == 0, "aria2c: exit %d: %s" % (rc, out[-600:])
    check_file(os.path.join(tmp, "a.bin"), data, "aria2c")
    in_time(el, len(data), "aria2c")


def test_aria2c_x4_carries_on_with_one_connection(srv, tmp):
    # old build: 429 (no ticket); with a ticket its extra connections got
    # 429 and aria2c gave up.  Now the extra ones get 503 + Retry-After,
    # aria2c goes on with the first; the download counts once.
    data, o = upload(srv, "x4.bin", 3 * M)
    rc, el, out, err = run(["aria2c", "-x4", "-s4", "-k1M", "--interface=" + addr(), o["download_url"]], tmp)
    assert rc == 0, "aria2c -x4: exit %d: %s" % (rc, out[-800:])
    check_file(os.path.join(tmp, "x4.bin"), data, "aria2c -x4 -s4 -k1M")
    in_time(el, len(data), "aria2c -x4", slack=4.0)
    assert wait_downloads(srv, o["id"], 1), "aria2c -x4 was not counted"
    time.sleep(0.3)
    assert downloads(srv, o["id"]) == 1


def test_the_countdown_survives_a_reconnect(srv, tmp):
    # a client that gives up and asks again goes on with the same
    # countdown, bound to (address, file): not a new one
    data, o = upload(srv, "again.bin", 256 * K)
    a = addr()
    t0 = time.monotonic()
    rc, _, _, _ = run(["curl", "-sS", "--interface", a, "--max-time", "2", "-o", "x", o["download_url"]], tmp)
    assert rc == 28, "curl --max-time 2 during a %ds hold: exit %d" % (WAIT, rc)
    rc, _, out, err = run(["curl", "-sS", "--interface", a, "-o", "x", "-w", "%{http_code}", o["download_url"]], tmp)
    el = time.monotonic() - t0
    assert rc == 0 and out == "200", "second curl: %d %s %s" % (rc, out, err)
    check_file(os.path.join(tmp, "x"), data, "curl after a reconnect")
    # the whole took one wait, not 2 s + a new wait
    assert el < WAIT + 256 * K / CAP + 1.5, "reconnect restarted the countdown: %.1fs" % el


def test_headers_come_at_once_and_the_body_after_the_wait(srv, tmp):
    data, o = upload(srv, "h.bin", 64 * K)
    rc, el, out, err = run(["curl", "-sS", "--interface", addr(), "-o", "x", "-D", "-",
                            "-w", "\n%{time_starttransfer} %{time_total}", o["download_url"]], tmp)
    assert rc == 0, err
    head, _, times = out.rpartition("\n")
    ttfb, total = map(float, times.split())
    assert re.search(r"(?im)^x-partage-wait: [1-9]", head), "no X-Partage-Wait in %r" % head
    assert ttfb < 1.0, "status line after %.2fs: a client's connect timeout would see nothing" % ttfb
    assert total >= WAIT - 0.5, "body before the wait was over: %.2fs" % total
    check_file(os.path.join(tmp, "x"), data, "held curl")


def test_a_ticket_skips_the_hold(srv, tmp):
    data, o = upload(srv, "t.bin", 1 * M)
    a = addr()
    rc, _, out, err = run(["curl", "-sS", "--interface", a, "-X", "POST", "-H", "Accept: application/json",
                           srv.url + "/api/v1/files/%s/ticket" % o["id"]], tmp)
    ticket = json.loads(out)["ticket"]
    time.sleep(WAIT + 0.2)
    rc, el, out, err = run(["curl", "-sS", "--interface", a, "-o", "x", "-w", "%{http_code}",
                            o["download_url"] + "?ticket=" + urllib.parse.quote(ticket)], tmp)
    assert rc == 0 and out == "200", (rc, out, err)
    check_file(os.path.join(tmp, "x"), data, "curl with a ticket")
    assert el < len(data) / CAP + 1.5, "a valid ticket was held again: %.1fs" % el


def test_a_browser_without_ticket_lands_on_the_page(srv, tmp):
    data, o = upload(srv, "b.bin", 10 * K)
    rc, _, out, err = run(["curl", "-sS", "--interface", addr(), "-o", "/dev/null", "-H",
                           "Accept: text/html,application/xhtml+xml,*/*;q=0.8",
                           "-w", "%{http_code} %{redirect_url}", o["download_url"]], tmp)
    code, loc = out.split()
    assert code == "303" and loc.endswith("/" + o["id"]), "browser without ticket: %s" % out


def test_the_page_direct_link_works_for_curl(srv, tmp):
    # the page's "Direct link for curl, wget and aria2c" answered 429
    data, o = upload(srv, "p.bin", 256 * K)
    a = addr()
    r = srv.get("/" + o["id"], {"Accept": "text/html"})
    expect(r, 200)
    m = re.search(r'<code id="direct">([^<]+)</code>', r.text)
    assert m, "no direct link on the page"
    url = m.group(1).replace("&amp;", "&")
    rules = re.search(r'<span id="tier-rules">([^<]*)</span>', r.text)
    assert rules and "waits %d s" % WAIT in rules.group(1) and "%d s apart" % COOL in rules.group(1), \
        "the page does not say the direct link's rules: %r" % (rules and rules.group(1))
    rc, el, out, err = run(["curl", "-sS", "--interface", a, "-O", url], tmp)
    assert rc == 0, err
    check_file(os.path.join(tmp, "p.bin"), data, "curl -O of the page's direct link")
    in_time(el, len(data), "curl -O direct link")


def test_a_folder_zip_is_held_then_served(srv, tmp):
    # the zip path (folders.c) has the same hold
    jh = {"Content-Type": "application/json", "Accept": "application/json"}
    body = json.dumps({"name": "h11_" + os.urandom(3).hex(), "password": "long enough pw"}).encode()
    expect(srv.request("POST", "/api/v1/users", body=body, headers=jh), 201)
    auth = {"Authorization": "Bearer " + expect(srv.request("POST", "/api/v1/tokens", body=body, headers=jh),
                                                201).json()["token"]}
    f = expect(srv.request("POST", "/api/v1/folders", body=json.dumps({"name": "Holiday", "shared": True}).encode(),
                           headers=dict(auth, **jh)), 201).json()
    data = rand_bytes(512 * K)
    srv.upload("a.bin", data, dict(auth, **{"X-Partage-Folder": f["id"]}))
    rc, el, out, err = run(["curl", "-sS", "--interface", addr(), "-C", "-", "-O", "-w", "%{http_code}",
                            srv.url + "/folder/%s/Holiday.zip" % f["id"]], tmp)
    assert rc == 0 and out == "200", (rc, out, err)
    p = subprocess.run(["unzip", "-p", os.path.join(tmp, "Holiday.zip"), "Holiday/a.bin"], capture_output=True)
    assert p.returncode == 0 and sha256(p.stdout) == sha256(data), "the zip: %s" % p.stderr[-300:]
    in_time(el, 512 * K, "curl -O of a folder's zip")


# ------------------------------- items 2-4: one download, refusals, resume

def test_parallel_limit_names_the_other_download(srv, tmp):
    a = addr()
    d1, o1 = upload(srv, "one.bin", 2 * M)
    d2, o2 = upload(srv, "two.bin", 10 * K)
    p = subprocess.Popen(["curl", "-sS", "--interface", a, "-o", "one", o1["download_url"]], cwd=tmp)
    try:
        time.sleep(0.5)
        rc, _, out, err = run(["curl", "-sS", "--interface", a, "-D", "-", o2["download_url"]], tmp)
        assert re.match(r"HTTP/1.1 429", out), out[:300]
        assert re.search(r"(?im)^retry-after: \d+", out), out[:500]
        body = out.split("\r\n\r\n", 1)[1]
        assert o1["id"] in body and "premium" in body and body.count("\n") <= 1, body
        # an extra connection of the same download: 503 + Retry-After
        rc, _, out, err = run(["curl", "-sS", "--interface", a, "-D", "-", "-o", "/dev/null",
                               o1["download_url"]], tmp)
        assert re.match(r"HTTP/1.1 503", out) and re.search(r"(?im)^retry-after: \d+", out), out[:400]
        assert p.wait(timeout=30) == 0
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    check_file(os.path.join(tmp, "one"), d1, "the first download")


def test_a_resume_right_after_a_drop_works(srv, tmp):
    # the dead connection held the slot: the resume got 429 once
    data, o = upload(srv, "r.bin", 4 * M)
    a = addr()
    out = os.path.join(tmp, "r.bin")
    p = subprocess.Popen(["curl", "-sS", "--interface", a, "-o", out, o["download_url"]], cwd=tmp,
                         stderr=subprocess.DEVNULL)
    assert wait_until(lambda: os.path.exists(out) and os.path.getsize(out) > 1 * M, timeout=WAIT + 5), \
        "no bytes after the wait"
    p.send_signal(signal.SIGKILL)
    p.wait()
    part = os.path.getsize(out)
    assert 0 < part < len(data)
    rc, el, so, err = run(["curl", "-sS", "--interface", a, "-C", "-", "-o", out, "-w", "%{http_code}",
                           o["download_url"]], tmp)
    assert rc == 0 and so == "206", "curl -C - right after a kill: exit %d, status %s: %s" % (rc, so, err)
    check_file(out, data, "curl -C - after a drop")


def test_a_ticket_resume_right_after_a_kill_works(srv, tmp):
    # with a ticket: the killed curl's connection sat suspended by the
    # speed cap, libmicrohttpd had not seen it go, and the resume got 429
    data, o = upload(srv, "rt.bin", 4 * M)
    a = addr()
    url = o["download_url"] + "?ticket=" + urllib.parse.quote(get_ticket(srv, a, o["id"], tmp))
    time.sleep(WAIT + 0.2)
    out = os.path.join(tmp, "rt.bin")
    for attempt in range(3):
        p = subprocess.Popen(["curl", "-sS", "--interface", a, "-C", "-", "-o", out, url], cwd=tmp,
                             stderr=subprocess.DEVNULL)
        have = os.path.getsize(out) if os.path.exists(out) else 0
        assert wait_until(lambda: os.path.exists(out) and os.path.getsize(out) > have + 256 * K, timeout=5)
        p.send_signal(signal.SIGKILL)
        p.wait()
        rc, el, so, err = run(["curl", "-sS", "--interface", a, "-r", "0-0", "-o", "/dev/null", "-w", "%{http_code}",
                               url], tmp)
        assert so == "206", "a request right after the kill (attempt %d): %s %s" % (attempt, so, err)
    rc, el, so, err = run(["curl", "-sS", "--interface", a, "-C", "-", "-o", out, "-w", "%{http_code}", url], tmp)
    assert rc == 0 and so == "206", (rc, so, err)
    check_file(out, data, "curl -C - after three kills")


def test_a_dropped_hold_frees_the_slot_for_another_file(srv, tmp):
    a = addr()
    d1, o1 = upload(srv, "drop1.bin", 100 * K)
    d2, o2 = upload(srv, "drop2.bin", 100 * K)
    p = subprocess.Popen(["curl", "-sS", "--interface", a, "-o", "/dev/null", o1["download_url"]], cwd=tmp)
    time.sleep(0.5)
    p.send_signal(signal.SIGKILL)
    p.wait()
    rc, el, out, err = run(["curl", "-sS", "--interface", a, "-o", "x", "-w", "%{http_code}",
                            o2["download_url"]], tmp)
    assert rc == 0 and out == "200", "another file after a dropped hold: %d %s %s" % (rc, out, err)
    check_file(os.path.join(tmp, "x"), d2, "curl after a dropped hold")


# ------------------------------------------------- item 5: the cooldown

def test_cooldown_between_downloads(srv, tmp):
    a = addr()
    d1, o1 = upload(srv, "c1.bin", 100 * K)
    d2, o2 = upload(srv, "c2.bin", 100 * K)
    t1, t2 = get_ticket(srv, a, o1["id"], tmp), get_ticket(srv, a, o2["id"], tmp)
    time.sleep(WAIT + 0.2)
    u1 = o1["download_url"] + "?ticket=" + urllib.parse.quote(t1)
    u2 = o2["download_url"] + "?ticket=" + urllib.parse.quote(t2)
    rc, el, out, err = run(["curl", "-sS", "--interface", a, "-o", "1", "-w", "%{http_code}", u1], tmp)
    assert rc == 0 and out == "200" and el < 1.0, (rc, out, el, err)
    # an API client is told how long, in one line, with Retry-After
    rc, _, out, err = run(["curl", "-sS", "--interface", a, "-H", "Accept: application/json", "-D", "-", u2], tmp)
    assert re.match(r"HTTP/1.1 429", out), out[:300]
    m = re.search(r"(?im)^retry-after: (\d+)", out)
    assert m and 1 <= int(m.group(1)) <= COOL, out[:400]
    assert "apart" in out and "premium" in out, out
    # curl is held until the cooldown is over, then served
    rc, el, out, err = run(["curl", "-sS", "--interface", a, "-o", "2", "-D", "h", "-w", "%{http_code}", u2], tmp)
    assert rc == 0 and out == "200", (rc, out, err)
    assert re.search(r"(?im)^x-partage-wait: [1-9]", open(os.path.join(tmp, "h")).read())
    assert el >= 0.8, "the next file started %.2fs after the last ended, cooldown %ds" % (el, COOL)
    check_file(os.path.join(tmp, "2"), d2, "the next file after the cooldown")
    # the same file again (a resume) does not wait
    rc, el, out, err = run(["curl", "-sS", "--interface", a, "-r", "1000-", "-o", "3", "-w", "%{http_code}", u2], tmp)
    assert rc == 0 and out == "206" and el < 0.8, (rc, out, el)


# ------------------------------------------- item 6: counted by bytes sent

OPEN = "[server]\nper_ip_connections = 0\n"


def test_cut_short_sendfile_counts_once(tmp):
    # { curl DL | head -c 16M; curl -r 16M- DL; } had the right SHA-256
    # and counted 0 on the sendfile path (no wait, no cap)
    with Server(OPEN, name="open") as s:
        data = rand_bytes(64 * M, seed=27)
        o = s.upload("big.bin", data)
        dl = s.url + s.dl_path(o)
        sh = '{ curl -s "$DL" | head -c 16777216; curl -s -r 16777216- "$DL"; } | sha256sum'
        p = subprocess.run(["sh", "-c", sh], env=dict(os.environ, DL=dl), capture_output=True, timeout=60)
        assert p.stdout.decode().split()[0] == sha256(data), "bytes differ"
        r = wait_downloads(s, o["id"], 1)
        assert r, "the two-part download was not counted (downloads %d)" % downloads(s, o["id"])
        time.sleep(0.3)
        assert downloads(s, o["id"]) == 1


def test_aria2c_split_counts_once_per_run(tmp):
    # aria2c -x4 -s4 -k1M counted 0 in 3 of 3 runs
    with Server(OPEN, name="open2") as s:
        data = rand_bytes(32 * M, seed=28)
        o = s.upload("s.bin", data)
        for i in range(3):
            d = os.path.join(tmp, str(i))
            os.mkdir(d)
            rc, _, out, err = run(["aria2c", "-q", "-x4", "-s4", "-k1M", "--interface=127.0.1.%d" % (i + 1),
                                   s.url + s.dl_path(o)], d)
            assert rc == 0, out + err
            check_file(os.path.join(d, "s.bin"), data, "aria2c run %d" % i)
            assert wait_downloads(s, o["id"], i + 1), \
                "aria2c run %d not counted (downloads %d)" % (i, downloads(s, o["id"]))
        time.sleep(0.3)
        assert downloads(s, o["id"]) == 3


# ------------------------------- the README's commands, true default config

# conf.c's defaults for [tier.anonymous] (the harness's DEFAULT_CONFIG opens
# the tier up for other tests; this puts make run's values back)
DEFAULTS = """\
[tier.anonymous]
wait_seconds = 60
speed_bytes_per_second = 100K
parallel_downloads = 1
connections_per_download = 1
cooldown_seconds = 30
"""


def test_readme_commands_on_the_default_config(tmp):
    """Every README download command, as written, each from an address of
    its own at once: the right bytes after 60 s + size / 100 KiB/s."""
    with Server(DEFAULTS, name="default") as s:
        data = rand_bytes(200 * K, seed=14)
        o = s.upload("report.pdf", data)
        dl, share = o["download_url"], o["url"]
        cmds = [
            ("curl -O URL/report.pdf", ["curl", "-sS", "-O", dl], "127.0.0.41"),
            ("curl -OJ URL", ["curl", "-sS", "-OJ", share], "127.0.0.42"),
            ("curl -C - -O URL/report.pdf", ["curl", "-sS", "-C", "-", "-O", dl], "127.0.0.43"),
            ("wget URL", ["wget", "-nv", dl], "127.0.0.44"),
            ("wget -c URL", ["wget", "-nv", "-c", dl], "127.0.0.45"),
            ("aria2c URL", ["aria2c", dl], "127.0.0.46"),
            ("aria2c -x4 -s4 URL", ["aria2c", "-x4", "-s4", dl], "127.0.0.47"),
        ]
        procs = []
        t0 = time.monotonic()
        for what, cmd, a in cmds:
            d = os.path.join(tmp, a)
            os.mkdir(d)
            bind = {"curl": ["--interface", a], "wget": ["--bind-address=" + a],
                    "aria2c": ["--interface=" + a]}[cmd[0]]
            procs.append((what, d, subprocess.Popen(cmd[:1] + bind + cmd[1:], cwd=d, stdout=subprocess.PIPE,
                                                    stderr=subprocess.STDOUT)))
        cli = os.path.join(tmp, "cli")
        os.mkdir(cli)
        env = {k: v for k, v in os.environ.items() if not k.startswith("PARTAGE_")}
        env.update(XDG_CONFIG_HOME=cli, XDG_STATE_HOME=cli)
        p = subprocess.run([bin_path("partage"), "download", share, "--output-dir", cli], env=env,
                           capture_output=True, timeout=150)
        cli_time = time.monotonic() - t0
        assert p.returncode == 0, "partage download: %s" % p.stderr.decode()[-400:]
        check_file(os.path.join(cli, "report.pdf"), data, "partage download")
        timings = ["partage download URL %.1fs" % cli_time]
        for what, d, pr in procs:
            out = pr.communicate(timeout=120)[0].decode(errors="replace")
            el = time.monotonic() - t0
            assert pr.returncode == 0, "%s: exit %d: %s" % (what, pr.returncode, out[-600:])
            check_file(os.path.join(d, "report.pdf"), data, what)
            timings.append("%s %.1fs" % (what, el))
        want = 60 + len(data) / (100 * K)
        # every one within wait + size / cap (+ a margin for the slowest
        # start); none before the wait
        for t in timings:
            sec = float(t.rsplit(" ", 1)[1][:-1])
            assert want - 1.5 <= sec <= want + 6, "%s: expected ~%.0fs (%s)" % (t, want, timings)
        # one request each: no client timed out during the hold and retried
        # (aria2c --timeout is 60 s; the hold sends a byte every 20 s)
        log = open(s.log_path, encoding="utf-8", errors="replace").read()
        for what, cmd, a in cmds:
            n = len(re.findall(r" %s \"GET /" % re.escape(a), log))
            assert n == 1, "%s made %d requests (a timeout during the hold?)" % (what, n)
        print("timings: " + "; ".join(timings))


test_readme_commands_on_the_default_config.timeout = 200
