"""tus interop with the real npm tus-js-client on Node (tus-client/upload.mjs):
64 MiB in 4 MiB chunks, aborted at about half and resumed from the URL the
client stored; the same with parallelUploads: 4 (concatenation); the same
with the server killed (kill -9) and restarted mid-upload while the client
retries.  Every upload is then downloaded and its sha256 checked.

Needs node and scripts/install-tus-client.sh; skips without them."""

import json
import os
import shutil
import subprocess
import threading
import time
import urllib.parse

from harness import Skip, expect, rand_bytes, sha256, Server

CONFIG = """\
[tier.anonymous]
max_upload_bytes = 256M
"""
TIMEOUT = 300

HERE = os.path.dirname(os.path.abspath(__file__))
CLIENT_DIR = os.path.join(HERE, "tus-client")
SCRIPT = os.path.join(CLIENT_DIR, "upload.mjs")
SIZE = 64 << 20
CHUNK = 4 << 20
TUS = {"Tus-Resumable": "1.0.0"}

_DATA = {}


def need_client():
    node = shutil.which("node")
    if not node:
        raise Skip("node is not installed (tus-js-client interop needs Node >= 18)")
    try:
        v = subprocess.run([node, "--version"], capture_output=True, text=True, timeout=10).stdout.strip()
        major = int(v.lstrip("v").split(".")[0])
    except (OSError, ValueError, subprocess.TimeoutExpired):
        raise Skip("cannot tell the node version")
    if major < 18:
        raise Skip("node %s is too old for tus-js-client 4 (need >= 18)" % v)
    if not os.path.isfile(os.path.join(CLIENT_DIR, "node_modules", "tus-js-client", "package.json")):
        raise Skip("tus-js-client is not installed: run scripts/install-tus-client.sh")
    return node


def data_file(tmp):
    if "bytes" not in _DATA:
        _DATA["bytes"] = rand_bytes(SIZE, seed=3636)
    p = os.path.join(tmp, "input.bin")
    with open(p, "wb") as f:
        f.write(_DATA["bytes"])
    return p, _DATA["bytes"]


class Client:
    """One run of upload.mjs; events are read as they come."""

    def __init__(self, node, srv, path, store, parallel=1, abort_at=None, resume=False):
        cmd = [node, SCRIPT, "--endpoint", srv.url + "/api/v1/uploads", "--file", path,
               "--store", store, "--chunk-size", str(CHUNK), "--parallel", str(parallel)]
        if abort_at is not None:
            cmd += ["--abort-at", str(abort_at)]
        if resume:
            cmd.append("--resume")
        self.events = []
        self.stderr = b""
        self.cond = threading.Condition()
        self.proc = subprocess.Popen(cmd, cwd=CLIENT_DIR, stdin=subprocess.DEVNULL,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self.t_out = threading.Thread(target=self._read, daemon=True)
        self.t_err = threading.Thread(target=self._read_err, daemon=True)
        self.t_out.start()
        self.t_err.start()

    def _read(self):
        for line in self.proc.stdout:
            try:
                ev = json.loads(line)
            except ValueError:
                ev = {"event": "junk", "line": line.decode("utf-8", "replace")}
            with self.cond:
                self.events.append(ev)
                self.cond.notify_all()

    def _read_err(self):
        self.stderr = self.proc.stderr.read()

    def progress(self):
        with self.cond:
            ps = [e["bytes"] for e in self.events if e.get("event") == "progress"]
        return max(ps) if ps else 0

    def wait_progress(self, n, timeout=60):
        end = time.monotonic() + timeout
        with self.cond:
            while time.monotonic() < end and self.proc.poll() is None:
                if any(e.get("event") == "progress" and e["bytes"] >= n for e in self.events):
                    return True
                self.cond.wait(0.2)
        return any(e.get("event") == "progress" and e["bytes"] >= n for e in self.events)

    def finish(self, timeout=180):
        try:
            rc = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise AssertionError("tus-js-client did not finish within %ss; last events %s" % (
                timeout, self.events[-5:]))
        self.t_out.join(5)
        self.t_err.join(5)
        return rc

    def of(self, kind):
        return [e for e in self.events if e.get("event") == kind]

    def describe(self):
        bad = [e for e in self.of("response") if e["status"] >= 300]
        return "events: %s; non-2xx: %s; stderr: %r" % (
            [e for e in self.events if e.get("event") != "progress"][-6:], bad[:6], self.stderr[-400:])

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


def check_file(srv, success, data):
    ev = success
    assert ev.get("id"), "the last response had no X-Partage-Id: %r" % ev
    assert ev.get("partageUrl") == "%s/%s" % (srv.url, ev["id"]), ev
    upath = urllib.parse.urlsplit(ev["url"]).path
    obj = expect(srv.get(upath, {"Accept": "application/json"}), 200, what="GET %s" % upath).json()
    assert obj["id"] == ev["id"], (obj, ev)
    assert obj["size"] == len(data) and obj["sha256"] == sha256(data), \
        "file object size %r sha256 %r, want %d %s" % (obj["size"], obj["sha256"], len(data), sha256(data))
    assert obj["name"] == "tus-js-client.bin", obj["name"]
    r = expect(srv.get(srv.dl_path(obj)), 200)
    assert len(r.body) == len(data) and sha256(r.body) == sha256(data), "downloaded bytes differ"


def abort_and_resume(srv, tmp, parallel):
    node = need_client()
    path, data = data_file(tmp)
    store = os.path.join(tmp, "tus-urls.json")
    a = Client(node, srv, path, store, parallel=parallel, abort_at=SIZE // 2)
    rc = a.finish()
    assert rc == 3 and a.of("aborted"), "first run: expected an abort at half (exit 3), got %s; %s" % (rc, a.describe())
    assert not a.of("success"), "the upload finished before the abort"
    with open(store) as f:
        stored = json.load(f)
    assert stored, "tus-js-client stored no upload URL in %s" % store
    entry = list(stored.values())[0]
    if parallel == 1:
        url = entry.get("uploadUrl")
        assert url and url.startswith(srv.url + "/api/v1/uploads/"), entry
        hr = srv.request("HEAD", urllib.parse.urlsplit(url).path, headers=TUS)
        expect(hr, 200, 204)
        off = int(hr.header("Upload-Offset"))
        assert 0 < off < SIZE, "offset after the abort at half: %d" % off
    else:
        urls = entry.get("parallelUploadUrls") or []
        assert len(urls) == parallel, "stored partial URLs %r" % entry
        offs = []
        for u in urls:
            hr = expect(srv.request("HEAD", urllib.parse.urlsplit(u).path, headers=TUS), 200, 204)
            assert hr.header("Upload-Concat") == "partial", hr.headers.items()
            offs.append(int(hr.header("Upload-Offset")))
        assert 0 < sum(offs) < SIZE, "partial offsets after the abort: %r" % offs
    b = Client(node, srv, path, store, parallel=parallel, resume=True)
    rc = b.finish()
    assert rc == 0 and b.of("success"), "resume run failed (exit %s); %s" % (rc, b.describe())
    posts = [e for e in b.of("response") if e["method"] == "POST"]
    if parallel == 1:
        assert not posts, "the resumed upload was created anew (POST %r) instead of resumed" % posts
        assert b.of("success")[0]["url"] == url, "resumed into another upload URL"
        first_patch = [e for e in b.of("response") if e["method"] == "PATCH"][0]
        assert int(first_patch["offset"]) > off, first_patch
    else:
        assert len(posts) == 1 and posts[0]["status"] == 201, \
            "resume with parallel uploads should only POST the final upload: %r" % posts
    check_file(srv, b.of("success")[0], data)


def test_tus_js_client_abort_resume(srv, tmp):
    abort_and_resume(srv, tmp, 1)


def test_tus_js_client_parallel_abort_resume(srv, tmp):
    abort_and_resume(srv, tmp, 4)


def kill9_resume(tmp, parallel):
    node = need_client()
    path, data = data_file(tmp)
    store = os.path.join(tmp, "tus-urls.json")
    s = Server(CONFIG, name="tusjs-kill9-%d" % parallel)
    c = None
    try:
        c = Client(node, s, path, store, parallel=parallel)
        assert c.wait_progress(SIZE * 2 // 5), "no progress to 40%%; %s" % c.describe()
        s.kill9()
        time.sleep(0.3)
        s.start()  # same port, same data dir
        rc = c.finish()
        assert rc == 0 and c.of("success"), \
            "tus-js-client did not finish after the server was killed and restarted (exit %s); %s" % (
                rc, c.describe())
        check_file(s, c.of("success")[0], data)
        sizes = sorted(e["offset"] for e in c.of("response") if e["method"] == "HEAD")
        assert sizes, "the client never asked HEAD for the offset after the restart: %s" % c.describe()
    finally:
        if c:
            c.kill()
        s.close(quiet=True)


def test_tus_js_client_kill9_resume(tmp):
    kill9_resume(tmp, 1)


def test_tus_js_client_parallel_kill9_resume(tmp):
    kill9_resume(tmp, 4)
