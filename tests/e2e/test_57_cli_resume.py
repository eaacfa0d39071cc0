"""`partage upload` through tus: a regular file goes up in checksummed
PATCH chunks; a connection cut mid-upload is retried within the run from
the offset the server kept (HEAD), never from 0; a client killed with -9
is resumed by the next run from the state file ("resuming at N of M
bytes"); an upload the server no longer has (terminated) starts over;
stdin stays a PUT; --password goes in the tus creation.

A small TCP proxy (a thread per direction) sits between the client and
partaged, whose public URL is the proxy's, so the upload URLs the server
hands out lead through it too.  It counts and records the bytes the
client sends, can slow them down and can cut the connection once after N
bytes."""

import base64
import json
import os
import re
import socket
import stat
import subprocess
import threading
import time
import urllib.parse

import harness
from harness import Server, Skip, bin_path, expect, live_links, rand_bytes, sha256, track, wait_until

MIB = 1024 * 1024
CHUNK = MIB
TIMEOUT = 120


class Proxy:
    def __init__(self):
        self.lsock = socket.socket()
        self.lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.lsock.bind(("127.0.0.1", 0))
        self.lsock.listen(16)
        self.port = self.lsock.getsockname()[1]
        self.target = None          # the server's port
        self.lock = threading.Lock()
        self.upstream = 0           # client → server bytes, all connections
        self.cut_after = None       # cut once when upstream passes this
        self.cuts = 0
        self.rate = None            # client → server bytes per second
        self.conns = []             # what the client sent, per connection
        self.open = []
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def url(self):
        return "http://127.0.0.1:%d" % self.port

    def _accept(self):
        while True:
            try:
                c, _ = self.lsock.accept()
            except OSError:
                return
            try:
                s = socket.create_connection(("127.0.0.1", self.target))
            except OSError:
                c.close()
                continue
            buf = bytearray()
            with self.lock:
                self.conns.append(buf)
                self.open += [c, s]
            threading.Thread(target=self._up, args=(c, s, buf), daemon=True).start()
            threading.Thread(target=self._down, args=(s, c), daemon=True).start()

    @staticmethod
    def _kill(*socks):
        for x in socks:
            try:
                x.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            x.close()

    def _up(self, c, s, buf):
        try:
            while True:
                data = c.recv(16384)
                if not data:
                    s.shutdown(socket.SHUT_WR)
                    return
                cut = False
                with self.lock:
                    if self.cut_after is not None and self.upstream + len(data) > self.cut_after:
                        data = data[:self.cut_after - self.upstream]
                        self.cut_after = None
                        self.cuts += 1
                        cut = True
                    self.upstream += len(data)
                    buf += data
                    rate = self.rate
                s.sendall(data)
                if cut:
                    self._kill(c, s)
                    return
                if rate:
                    time.sleep(len(data) / rate)
        except OSError:
            self._kill(c, s)

    def _down(self, s, c):
        try:
            while True:
                data = s.recv(65536)
                if not data:
                    c.shutdown(socket.SHUT_WR)
                    return
                c.sendall(data)
        except OSError:
            self._kill(c, s)

    def requests(self):
        """(method, path, Upload-Offset or None) of each request the client
        sent, in order (connections in the order they were opened)."""
        out = []
        with self.lock:
            conns = [bytes(b) for b in self.conns]
        for data in conns:
            for m in re.finditer(rb"(POST|PATCH|HEAD|GET|PUT|DELETE) (\S+) HTTP/1\.1\r\n(.*?)\r\n\r\n",
                                 data, re.S):
                off = re.search(rb"(?im)^Upload-Offset: *(\d+)", m.group(3))
                out.append((m.group(1).decode(), m.group(2).decode(),
                            int(off.group(1)) if off else None))
        return out

    def close(self):
        self.lsock.close()
        with self.lock:
            socks = list(self.open)
        self._kill(*socks)


class ProxiedServer(Server):
    """partaged whose public URL is the proxy's."""

    def __init__(self, proxy, **kw):
        self.proxy = proxy
        super().__init__(**kw)
        proxy.target = self.port

    @property
    def url(self):
        return self.proxy.url


def cli_env(tmp):
    env = {k: v for k, v in os.environ.items() if not k.startswith("PARTAGE_")}
    env["XDG_STATE_HOME"] = os.path.join(tmp, "state")
    env["XDG_CONFIG_HOME"] = os.path.join(tmp, "config")
    env["PARTAGE_UPLOAD_CHUNK"] = str(CHUNK)
    env["PARTAGE_RETRY_MAX_WAIT"] = "1"
    return env


def cli_cmd(url, *args):
    exe = bin_path("partage")
    if not os.access(exe, os.X_OK):
        raise Skip("%s is not built" % exe)
    return [exe, "--server", url] + list(args)


def cli(url, tmp, *args, input=None):
    return subprocess.run(cli_cmd(url, *args), input=input, env=cli_env(tmp),
                          capture_output=True, timeout=90)


def ok(r, what):
    assert r.returncode == 0, "%s: exit %d, stderr %r" % (what, r.returncode, r.stderr[-600:])
    return r


def write(path, data):
    with open(path, "wb") as fh:
        fh.write(data)


def state_entries(tmp):
    path = os.path.join(tmp, "state", "partage", "uploads.json")
    if not os.path.exists(path):
        return []
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600, oct(os.stat(path).st_mode)
    with open(path) as fh:
        return json.load(fh)["uploads"]


def one_link(r, base):
    out = r.stdout.decode()
    assert re.fullmatch(re.escape(base) + r"/[0-9A-Za-z]{12}\n", out), "stdout %r" % out
    m = re.search(r"^delete token: (\S+)$", r.stderr.decode(), re.M)
    assert m, "no delete token on stderr: %r" % r.stderr
    return out.strip().rsplit("/", 1)[1], m.group(1)


def check_bytes(srv, fid, data):
    obj = expect(srv.file_obj(fid), 200).json()
    assert obj["size"] == len(data) and obj["sha256"] == sha256(data), obj
    r = expect(srv.get(srv.dl_path(obj)), 200)
    assert sha256(r.body) == sha256(data), "downloaded bytes differ"
    return obj


def patches(proxy):
    return [off for m, p, off in proxy.requests() if m == "PATCH"]


def test_cli_upload_through_tus(tmp):
    proxy = Proxy()
    try:
        with ProxiedServer(proxy, name="tus") as srv:
            data = rand_bytes(3 * MIB + 5)
            src = os.path.join(tmp, "résumé €.bin")
            write(src, data)
            r = ok(cli(srv.url, tmp, "upload", src, "--max-days", "2", "--max-downloads", "4"),
                   "upload")
            fid, tok = one_link(r, srv.url)
            assert r.stderr.decode().count("\n") == 1, "stderr is more than the token: %r" % r.stderr
            obj = check_bytes(srv, fid, data)
            assert obj["name"] == "résumé €.bin", obj
            assert obj["max_downloads"] == 4 and obj["expires"], obj
            assert obj["expires"] - obj["created"] <= 2 * 86400 + 5, obj
            reqs = proxy.requests()
            assert [m for m, _, _ in reqs if m != "PATCH"] == ["POST", "GET"], reqs
            assert patches(proxy) == [0, MIB, 2 * MIB, 3 * MIB], reqs
            assert all(p.startswith("/api/v1/uploads") for _, p, _ in reqs), reqs
            log = open(srv.log_path, "rb").read().decode("utf-8", "replace")
            assert re.search(r'"PATCH /api/v1/uploads/\w+" 204', log), "no PATCH in the log"
            assert state_entries(tmp) == [], "state left after success"
            # the delete token is the file's
            expect(srv.delete("/" + fid, {"X-Delete-Token": tok}), 204)

            # --json: the file object with its delete_token, one line
            r = ok(cli(srv.url, tmp, "upload", src, "--json", "--name", "j.bin"), "--json")
            o = json.loads(r.stdout)
            assert r.stdout.count(b"\n") == 1 and o["name"] == "j.bin" and o["delete_token"], o
            assert o["sha256"] == sha256(data), o

            # an empty file is complete at creation
            write(os.path.join(tmp, "empty"), b"")
            r = ok(cli(srv.url, tmp, "upload", os.path.join(tmp, "empty")), "empty")
            fid, _ = one_link(r, srv.url)
            check_bytes(srv, fid, b"")

            # stdin stays a PUT; a link password goes in the tus creation
            n = len(proxy.requests())
            r = ok(cli(srv.url, tmp, "upload", "-", "--name", "piped.bin", input=data), "stdin")
            fid, _ = one_link(r, srv.url)
            check_bytes(srv, fid, data)
            assert [m for m, _, _ in proxy.requests()[n:]] == ["PUT"], proxy.requests()[n:]
            n = len(proxy.requests())
            r = ok(cli(srv.url, tmp, "upload", src, "--password", "pw123456 é"), "password")
            fid, _ = one_link(r, srv.url)
            fo = srv.file_obj(fid).json()
            assert fo["password_protected"] is True, fo
            assert "PUT" not in [m for m, _, _ in proxy.requests()[n:]], proxy.requests()[n:]
            expect(srv.get(srv.dl_path(fo)), 401, what="the CLI's password link without it")
            g = expect(srv.get(srv.dl_path(fo) + "?password=" + urllib.parse.quote("pw123456 é")), 200)
            assert g.body == open(src, "rb").read()

            # the server checks the new metadata keys
            for bad in (b"0", b"x", b"-1"):
                meta = "filename %s,max_days %s" % (base64.b64encode(b"a").decode(),
                                                    base64.b64encode(bad).decode())
                expect(srv.request("POST", "/api/v1/uploads",
                                   headers={"Tus-Resumable": "1.0.0", "Upload-Length": "1",
                                            "Upload-Metadata": meta}), 400, what=bad)
    finally:
        proxy.close()


def test_cli_retries_within_a_run(tmp):
    proxy = Proxy()
    try:
        with ProxiedServer(proxy, name="cut") as srv:
            data = rand_bytes(4 * MIB + 3)
            src = os.path.join(tmp, "cut.bin")
            write(src, data)
            proxy.cut_after = 2 * MIB + MIB // 2  # in the third PATCH
            r = ok(cli(srv.url, tmp, "upload", src), "upload through a cut")
            assert proxy.cuts == 1
            err = r.stderr.decode()
            assert re.search(r"^partage: upload of '.*cut\.bin' interrupted \(.*\), retrying in \d s$",
                             err, re.M), err
            fid, _ = one_link(r, srv.url)
            check_bytes(srv, fid, data)
            reqs = proxy.requests()
            offs = patches(proxy)
            # 0, 1M, 2M (cut), then HEAD and 2M again: never 0 twice
            # 0, 1M, 2M (cut), then HEAD and 2M again (after a 409 while
            # the server still holds the cut PATCH's lease): never 0 again
            assert offs[:3] == [0, MIB, 2 * MIB] and offs[-2:] == [3 * MIB, 4 * MIB], reqs
            assert set(offs[3:-2]) == {2 * MIB}, reqs
            methods = [m for m, _, _ in reqs]
            assert "HEAD" in methods[methods.index("PATCH") + 3:], reqs
            assert len(live_links(srv)) == 1, live_links(srv)
            assert state_entries(tmp) == []
            # partaged may still hold the cut PATCH (a FIN right after the
            # data goes unnoticed until its timeout): skip the 30 s drain
            srv.kill9()
    finally:
        proxy.close()


def kill_midway(srv, proxy, tmp, src, at):
    """Run the upload slowly and kill -9 it once `at` bytes went through."""
    proxy.rate = 2 * MIB
    start = proxy.upstream
    p = track(subprocess.Popen(cli_cmd(srv.url, "upload", src), env=cli_env(tmp),
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE))
    try:
        assert wait_until(lambda: proxy.upstream - start >= at or p.poll() is not None, 30), \
            "the upload did not get to %d bytes" % at
        assert p.poll() is None, "the upload ended before the kill: %r" % (p.communicate(),)
    finally:
        p.kill()
        p.communicate()
        proxy.rate = None
    # what the client had written before it died still drains through
    last = [-1]

    def settled():
        n, last[0] = last[0], proxy.upstream
        return n == last[0]
    wait_until(settled, 10, interval=0.3)
    entries = state_entries(tmp)
    assert len(entries) == 1 and entries[0]["path"] == os.path.realpath(src), entries
    return entries[0]


def test_cli_resumes_across_runs(tmp):
    proxy = Proxy()
    try:
        with ProxiedServer(proxy, name="kill") as srv:
            data = rand_bytes(6 * MIB + 7)
            src = os.path.join(tmp, "big.bin")
            write(src, data)
            entry = kill_midway(srv, proxy, tmp, src, 3 * MIB + MIB // 2)
            assert entry["url"].startswith(srv.url + "/api/v1/uploads/"), entry
            head = expect(srv.head(entry["url"][len(srv.url):], {"Tus-Resumable": "1.0.0"}), 200)
            kept = int(head.header("Upload-Offset"))
            assert 0 < kept < len(data) and kept % CHUNK == 0, kept

            start = proxy.upstream
            r = ok(cli(srv.url, tmp, "upload", src), "resume")
            m = re.search(r"^partage: upload of '.*big\.bin' resuming at (\d+) of (\d+) bytes$",
                          r.stderr.decode(), re.M)
            assert m, "no 'resuming at' on stderr: %r" % r.stderr
            assert int(m.group(1)) == kept and int(m.group(2)) == len(data), m.group(0)
            fid, _ = one_link(r, srv.url)
            check_bytes(srv, fid, data)
            # only what was missing went up again
            assert proxy.upstream - start < len(data) - kept + 64 * 1024, proxy.upstream - start
            assert len(live_links(srv)) == 1, live_links(srv)
            assert state_entries(tmp) == []

            # a changed file is a new upload, not a resume of the old one
            entry = kill_midway(srv, proxy, tmp, src, 2 * MIB)
            with open(src, "r+b") as fh:
                fh.write(b"X")
            data2 = b"X" + data[1:]
            os.utime(src, ns=(time.time_ns(), time.time_ns() + 10**9))
            r = ok(cli(srv.url, tmp, "upload", src), "changed file")
            assert b"resuming" not in r.stderr, r.stderr
            fid, _ = one_link(r, srv.url)
            check_bytes(srv, fid, data2)
    finally:
        proxy.close()


def test_cli_expired_upload_starts_over(tmp):
    proxy = Proxy()
    try:
        with ProxiedServer(proxy, name="gone") as srv:
            data = rand_bytes(5 * MIB + 1)
            src = os.path.join(tmp, "gone.bin")
            write(src, data)
            entry = kill_midway(srv, proxy, tmp, src, 2 * MIB + MIB // 2)
            path = entry["url"][len(srv.url):]
            expect(srv.delete(path, {"Tus-Resumable": "1.0.0"}), 204, what="terminate")

            start = len(proxy.requests())
            r = ok(cli(srv.url, tmp, "upload", src), "after termination")
            err = r.stderr.decode()
            assert "resuming at" not in err, err
            assert re.search(r"^partage: upload of '.*gone\.bin' is gone from the server \(.*\), "
                             r"starting over$", err, re.M), err
            fid, _ = one_link(r, srv.url)
            check_bytes(srv, fid, data)
            # HEAD (410), a new upload from 0
            reqs = proxy.requests()[start:]
            assert [m for m, _, _ in reqs[:2]] == ["HEAD", "POST"], reqs
            assert patches(proxy)[-6:] == [i * MIB for i in range(6)], reqs
            assert len(live_links(srv)) == 1, live_links(srv)
            assert state_entries(tmp) == []
    finally:
        proxy.close()


def test_cli_other_options_start_over(tmp):
    """Options are fixed when an upload is created: a second run with other
    ones (here --max-days and --name) must not finish the old upload
    under the old options. It says so, terminates the old upload and
    sends the file anew; the state file keeps only a digest of the options
    (never a password)."""
    proxy = Proxy()
    try:
        with ProxiedServer(proxy, name="opts") as srv:
            data = rand_bytes(5 * MIB + 3)
            src = os.path.join(tmp, "opts.bin")
            write(src, data)
            entry = kill_midway(srv, proxy, tmp, src, 2 * MIB)
            assert re.fullmatch(r"[0-9a-f]{64}", entry.get("options", "")), entry
            old = entry["url"][len(srv.url):]
            t0 = time.time()
            r = ok(cli(srv.url, tmp, "upload", src, "--max-days", "2", "--name", "renamed.bin"),
                   "other options")
            err = r.stderr.decode()
            assert "resuming at" not in err, err
            assert re.search(r"^partage: '.*opts\.bin' was partly uploaded with other options .*"
                             r"starting over$", err, re.M), err
            fid, _ = one_link(r, srv.url)
            obj = check_bytes(srv, fid, data)
            assert obj["name"] == "renamed.bin", obj
            assert obj["expires"] and abs(obj["expires"] - (t0 + 2 * 86400)) < 120, obj
            h = srv.head(old, {"Tus-Resumable": "1.0.0"})
            assert h.status in (404, 410), "the old upload was not terminated: %r" % h
            assert len(live_links(srv)) == 1, live_links(srv)
            assert state_entries(tmp) == []
            # the same options again do resume
            entry = kill_midway(srv, proxy, tmp, src, 2 * MIB)
            r = ok(cli(srv.url, tmp, "upload", src), "same options")
            assert "resuming at" in r.stderr.decode(), r.stderr
    finally:
        proxy.close()


def test_cli_state_shared_by_processes(tmp):
    """Several partage processes at once: each records and removes its own
    entry under the lock, none is lost, and each resumes."""
    proxy = Proxy()
    try:
        with ProxiedServer(proxy, name="many") as srv:
            files = {}
            for i in range(4):
                files[os.path.join(tmp, "f%d.bin" % i)] = rand_bytes(3 * MIB + i)
            for path, data in files.items():
                write(path, data)
            proxy.rate = 2 * MIB
            procs = [track(subprocess.Popen(cli_cmd(srv.url, "upload", path), env=cli_env(tmp),
                                            stdout=subprocess.PIPE, stderr=subprocess.PIPE))
                     for path in files]
            try:
                assert wait_until(lambda: proxy.upstream >= 4 * (MIB + MIB // 2), 30)
                assert all(p.poll() is None for p in procs), "an upload ended before the kill"
            finally:
                for p in procs:
                    p.kill()
                    p.communicate()
                proxy.rate = None
            entries = state_entries(tmp)
            assert sorted(e["path"] for e in entries) == sorted(map(os.path.realpath, files)), entries

            procs = [subprocess.Popen(cli_cmd(srv.url, "upload", path), env=cli_env(tmp),
                                      stdout=subprocess.PIPE, stderr=subprocess.PIPE)
                     for path in files]
            for p, (path, data) in zip(procs, files.items()):
                out, err = p.communicate(timeout=90)
                r = subprocess.CompletedProcess(p.args, p.returncode, out, err)
                ok(r, "resume of %s" % path)
                assert b"resuming at" in err, err
                fid, _ = one_link(r, srv.url)
                check_bytes(srv, fid, data)
            assert state_entries(tmp) == []
            srv.kill9()  # killed PATCHes may still be held (see above)
    finally:
        proxy.close()
