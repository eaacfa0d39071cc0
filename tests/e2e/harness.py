"""harness.py — start the real `partaged` and talk HTTP to it.

Python 3 standard library only.  The runner (run.py) sets BIN_DIR and ROOT
before importing the test modules; every Server lives in a directory under
ROOT, and every process it starts is recorded so the runner can kill it.

    with Server("[tier.anonymous]\\nmax_upload_bytes = 1M\\n") as s:
        r = s.put("a.txt", b"hello")
        assert r.status == 201, r
        r = s.get("/" + r.header("X-Partage-Id"))

Responses are `Resp` objects: status, reason, headers (case-insensitive
http.client.HTTPMessage), body (bytes), text, json(), header(name).
"""

import atexit
import configparser
import hashlib
import http.client
import io
import json
import os
import random
import select
import signal
import socket
import subprocess
import tempfile
import threading
import time
import urllib.parse

BIN_DIR = "bin"          # set by run.py
ROOT = None              # per-run temporary directory, set by run.py
HTTP_TIMEOUT = 30.0

# Every Popen the harness started (servers and admin runs), for the runner.
PROCS = []
_PROCS_LOCK = threading.Lock()
# Servers started while the current test runs (their logs go with a FAIL).
CURRENT = []

DEFAULT_CONFIG = """\
[tier.anonymous]
wait_seconds = 0
speed_bytes_per_second = 0
parallel_downloads = 0
connections_per_download = 0
cooldown_seconds = 0
[tier.free]
cooldown_seconds = 0
"""


# PostgreSQL runs: with PARTAGE_TEST_PG_DSN set (the DSN that
# scripts/start-postgres.sh prints), every data directory gets a schema of
# its own on that server, and every server a [metadata] section naming it,
# so the whole suite runs on PostgreSQL with no test changed.
PG_DSN = os.environ.get("PARTAGE_TEST_PG_DSN", "")
_PG_SCHEMAS = set()


def _psql(sql):
    env = dict(os.environ, PGOPTIONS="-c client_min_messages=warning")
    return subprocess.run(["psql", "-X", "-q", "-At", "-v", "ON_ERROR_STOP=1", "-d", PG_DSN,
                           "-c", sql], check=True, stdout=subprocess.PIPE,
                          stdin=subprocess.DEVNULL, env=env).stdout.decode()


def pg_schema(data):
    """The schema that holds the metadata of data directory `data`."""
    return "e2e_" + hashlib.sha256(os.path.abspath(data).encode()).hexdigest()[:24]


def pg_dsn(data):
    """PG_DSN with search_path set to data's schema (created if missing)."""
    schema = pg_schema(data)
    if schema not in _PG_SCHEMAS:
        _psql("CREATE SCHEMA IF NOT EXISTS " + schema)
        _PG_SCHEMAS.add(schema)
    if "://" in PG_DSN:
        return "%s%soptions=-csearch_path%%3D%s" % (PG_DSN, "&" if "?" in PG_DSN else "?", schema)
    return "%s options=-csearch_path=%s" % (PG_DSN, schema)


def pg_metadata_config(data):
    """The [metadata] section for data directory `data` ("" without PG)."""
    if not PG_DSN:
        return ""
    return "[metadata]\nbackend = postgres\npostgres_dsn = %s\n" % pg_dsn(data)


# S3 runs: with PARTAGE_TEST_S3 set (the endpoint scripts/start-s3.sh
# prints; bucket PARTAGE_TEST_S3_BUCKET, default partage-e2e, made with
# S3_BUCKET="partage partage-e2e" scripts/start-s3.sh), every data
# directory gets a key prefix of its own in the bucket, and every server a
# [storage] section naming it.
S3_ENDPOINT = os.environ.get("PARTAGE_TEST_S3", "")

# The HTTP engine every server of the run uses (server.engine), unless a
# test's CONFIG names one: PARTAGE_TEST_ENGINE=event runs the suite on the
# event core (issue 13).
ENGINE = os.environ.get("PARTAGE_TEST_ENGINE", "")


def engine_config():
    return "[server]\nengine = %s\n" % ENGINE if ENGINE else ""


def s3_storage_config(data):
    """The [storage] section for data directory `data` ("" without S3)."""
    if not S3_ENDPOINT:
        return ""
    prefix = hashlib.sha256(os.path.abspath(data).encode()).hexdigest()[:16]
    return ("[storage]\nbackend = s3\ns3_endpoint = %s\ns3_bucket = %s/%s\n"
            "s3_access_key = %s\ns3_secret_key = %s\n" % (
                S3_ENDPOINT, os.environ.get("PARTAGE_TEST_S3_BUCKET", "partage-e2e"),
                prefix, os.environ.get("PARTAGE_TEST_S3_KEY", "test:tester"),
                os.environ.get("PARTAGE_TEST_S3_SECRET", "testing")))


@atexit.register
def _pg_drop_schemas():
    for schema in sorted(_PG_SCHEMAS):
        try:
            _psql("DROP SCHEMA IF EXISTS %s CASCADE" % schema)
        except (OSError, subprocess.CalledProcessError):
            pass


def track(proc):
    """Record a process the runner must kill if a test leaves it running
    (every server and admin run; a test's own helpers such as haproxy)."""
    with _PROCS_LOCK:
        PROCS.append(proc)
    return proc


class Skip(Exception):
    """Raise to skip a test with a reason."""


class Timeout(Exception):
    """Raised by the runner's alarm when a test runs too long."""


def bin_path(name="partaged"):
    return os.path.join(os.path.abspath(BIN_DIR), name)


def run_partage(url, cfg, *args, input=b"", server=True):
    """The partage client with its config and state under cfg and none of
    the tester's PARTAGE_* variables; --server url unless server is False.
    stdin is input (never a terminal)."""
    exe = bin_path("partage")
    if not os.access(exe, os.X_OK):
        raise Skip("%s is not built" % exe)
    env = {k: v for k, v in os.environ.items() if not k.startswith("PARTAGE_")}
    env["XDG_CONFIG_HOME"] = cfg
    env["XDG_STATE_HOME"] = cfg
    cmd = [exe] + (["--server", url] if server else []) + list(args)
    return subprocess.run(cmd, input=input, env=env, capture_output=True, timeout=60)


def sha256(b):
    return hashlib.sha256(b).hexdigest()


def rand_bytes(n, seed=None):
    """n pseudo-random bytes (fast; os.urandom for small n)."""
    if seed is None:
        return os.urandom(n)
    return random.Random(seed).randbytes(n)


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def quote(name):
    """Percent-escape a file name as one path segment."""
    return urllib.parse.quote(name, safe="")


def mkdtemp(prefix):
    return tempfile.mkdtemp(prefix=prefix, dir=ROOT)


def merge_config(base, extra):
    """INI text `extra` merged over INI text `base` (later keys win)."""
    cp = configparser.ConfigParser(interpolation=None, strict=False)
    cp.optionxform = str
    cp.read_string(base)
    cp.read_string(extra or "")
    out = io.StringIO()
    cp.write(out)
    return out.getvalue()


def regular_files(top):
    """All regular files under top, as paths relative to top."""
    out = []
    for dp, _dn, fn in os.walk(top):
        for f in fn:
            p = os.path.join(dp, f)
            if os.path.isfile(p) and not os.path.islink(p):
                out.append(os.path.relpath(p, top))
    return sorted(out)


def wait_until(pred, timeout=5.0, interval=0.05):
    """Poll pred() until it is truthy or timeout; returns the last value."""
    end = time.monotonic() + timeout
    while True:
        v = pred()
        if v or time.monotonic() >= end:
            return v
        time.sleep(interval)


# ---------------------------------------------------------------- responses

class Resp:
    def __init__(self, status, reason, headers, body, raw_head=b""):
        self.status = status
        self.reason = reason
        self.headers = headers
        self.body = body
        self.raw_head = raw_head

    @property
    def text(self):
        return self.body.decode("utf-8", "replace")

    def json(self):
        try:
            return json.loads(self.body)
        except ValueError as e:
            raise AssertionError("reply is not JSON (%s): %r" % (e, self.body[:200]))

    def header(self, name, default=None):
        return self.headers.get(name, default)

    def header_all(self, name):
        return self.headers.get_all(name) or []

    def __repr__(self):
        return "<HTTP %s %s %r>" % (self.status, self.reason, self.body[:160])


def parse_head(raw):
    """Parse 'HTTP/1.1 200 OK\\r\\nK: V\\r\\n...' into (status, reason, HTTPMessage)."""
    lines = raw.split(b"\r\n")
    parts = lines[0].decode("latin-1").split(" ", 2)
    if len(parts) < 2 or not parts[0].startswith("HTTP/"):
        raise AssertionError("bad status line %r" % lines[0])
    status = int(parts[1])
    reason = parts[2] if len(parts) > 2 else ""
    hdr_bytes = b"\r\n".join(lines[1:]) + b"\r\n\r\n"
    headers = http.client.parse_headers(io.BytesIO(hdr_bytes))
    return status, reason, headers


class RawConn:
    """A raw HTTP/1.1 connection for requests http.client refuses to send."""

    def __init__(self, port, timeout=10.0, source=None):
        """source: a loopback address to connect from (127.0.0.2...), for
        tests of what belongs to a client address."""
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout,
                                             source_address=(source, 0) if source else None)
        self.buf = b""

    def send(self, data):
        self.sock.sendall(data)

    def _fill(self):
        chunk = self.sock.recv(65536)
        if not chunk:
            return False
        self.buf += chunk
        return True

    def readable(self, timeout):
        if self.buf:
            return True
        r, _, _ = select.select([self.sock], [], [], timeout)
        return bool(r)

    def read_head(self):
        while b"\r\n\r\n" not in self.buf:
            if not self._fill():
                raise ConnectionError("connection closed before a full reply head (got %r)" % self.buf[:200])
        head, self.buf = self.buf.split(b"\r\n\r\n", 1)
        return head

    def read_exact(self, n):
        while len(self.buf) < n:
            if not self._fill():
                raise ConnectionError("connection closed in the body (%d of %d bytes)" % (len(self.buf), n))
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def read_line(self):
        while b"\r\n" not in self.buf:
            if not self._fill():
                raise ConnectionError("connection closed in a chunk header")
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def read_to_close(self):
        while self._fill():
            pass
        out, self.buf = self.buf, b""
        return out

    def read_response(self, method="GET", skip_interim=True):
        """Read one response (skipping 1xx unless skip_interim is False)."""
        while True:
            head = self.read_head()
            status, reason, headers = parse_head(head)
            if 100 <= status < 200 and skip_interim:
                continue
            break
        if method == "HEAD" or status in (204, 304) or 100 <= status < 200:
            body = b""
        elif (headers.get("Transfer-Encoding") or "").lower().endswith("chunked"):
            body = b""
            while True:
                size = int(self.read_line().split(b";")[0].strip(), 16)
                if size == 0:
                    while self.read_line() != b"":
                        pass
                    break
                body += self.read_exact(size)
                self.read_exact(2)
        elif headers.get("Content-Length") is not None:
            body = self.read_exact(int(headers.get("Content-Length")))
        else:
            body = self.read_to_close()
        return Resp(status, reason, headers, body, head)

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *a):
        self.close()


def multipart(parts, boundary=None):
    """parts: list of (field, filename or None, bytes, content_type or None).
    Returns (body, content_type header)."""
    boundary = boundary or "----partage-e2e-%016x" % random.getrandbits(64)
    out = io.BytesIO()
    for field, filename, data, ctype in parts:
        out.write(b"--" + boundary.encode() + b"\r\n")
        disp = 'form-data; name="%s"' % field
        if filename is not None:
            disp += '; filename="%s"' % filename
        out.write(("Content-Disposition: " + disp + "\r\n").encode("utf-8"))
        if ctype:
            out.write(("Content-Type: " + ctype + "\r\n").encode())
        out.write(b"\r\n")
        out.write(data)
        out.write(b"\r\n")
    out.write(b"--" + boundary.encode() + b"--\r\n")
    return out.getvalue(), "multipart/form-data; boundary=" + boundary


# ---------------------------------------------------------------- recording

# Corpus recording for the whole-server fuzzer: with PARTAGE_RECORD_DIR
# set, every Server listens behind a small TCP proxy on its public port,
# which writes what each client connection sent (NNNNNN.req) and what it
# got back (NNNNNN.rep) into that directory.  scripts/record-fuzz-corpus.sh
# turns them into tests/fuzz/corpus/fuzz_server.  Tests that look at the
# client's address do not hold behind the proxy: recording is for making a
# corpus, not for judging the tests.
RECORD_DIR = os.environ.get("PARTAGE_RECORD_DIR", "")
_RECORD_SEQ = [0]
_RECORD_LOCK = threading.Lock()


class RecordingProxy:
    """127.0.0.1:port → 127.0.0.1:target, recording each connection."""

    def __init__(self, port):
        self.target = None
        self.lsock = socket.socket()
        self.lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.lsock.bind(("127.0.0.1", port))
        self.lsock.listen(128)
        self.port = self.lsock.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                c, _ = self.lsock.accept()
            except OSError:
                return
            threading.Thread(target=self._conn, args=(c,), daemon=True).start()

    @staticmethod
    def _pump(src, dst, out):
        try:
            while True:
                b = src.recv(65536)
                if not b:
                    break
                out.append(b)
                dst.sendall(b)
        except OSError:
            pass
        try:
            dst.shutdown(socket.SHUT_WR)
        except OSError:
            pass

    def _conn(self, c):
        req, rep = [], []
        try:
            u = socket.create_connection(("127.0.0.1", self.target), timeout=HTTP_TIMEOUT)
        except OSError:
            c.close()
            return
        t = threading.Thread(target=self._pump, args=(u, c, rep), daemon=True)
        t.start()
        self._pump(c, u, req)
        t.join(HTTP_TIMEOUT)
        c.close()
        u.close()
        if not req:
            return
        with _RECORD_LOCK:
            _RECORD_SEQ[0] += 1
            n = _RECORD_SEQ[0]
        base = os.path.join(RECORD_DIR, "%d-%06d" % (os.getpid(), n))
        for ext, parts in ((".req", req), (".rep", rep)):
            with open(base + ext, "wb") as f:
                f.write(b"".join(parts))

    def close(self):
        self.lsock.close()


# ------------------------------------------------------------------- server

class ServerError(Exception):
    pass


class Server:
    """A partaged process on 127.0.0.1:<random port> with its own data dir."""

    def __init__(self, config="", data=None, env=None, start=True, port=None,
                 name="srv", shared_with=None):
        """shared_with: another Server whose stores this one shares, as a
        second node would: the same PostgreSQL schema, S3 prefix and ticket
        secret (its own data directory for the rest)."""
        if ROOT is None:
            raise ServerError("harness.ROOT is not set (run tests through run.py)")
        self.work = mkdtemp(name + "-")
        self.conf = os.path.join(self.work, "partage.conf")
        self.data = data or os.path.join(self.work, "data")
        # the data directory whose schema and bucket prefix hold our state
        self.store_key = shared_with.store_key if shared_with else self.data
        shared = ""
        if shared_with:
            shared = "[server]\nsecret_file = %s\n" % shared_with.secret_path()
        self.config_text = merge_config(DEFAULT_CONFIG + engine_config() + pg_metadata_config(self.store_key)
                                        + s3_storage_config(self.store_key) + shared, config)
        with open(self.conf, "w") as f:
            f.write(self.config_text)
        self.env = dict(env or {})
        self.port = port
        self.fixed_port = port is not None
        self.proc = None
        self.rec_proxy = None  # RecordingProxy with PARTAGE_RECORD_DIR
        self.log_path = os.path.join(self.work, "partaged.log")
        self.starts = 0
        if start:
            self.start()

    # -- lifecycle
    @property
    def url(self):
        return "http://127.0.0.1:%d" % self.port

    def start(self, env=None, timeout=10.0):
        exe = bin_path("partaged")
        if not os.path.isfile(exe) or not os.access(exe, os.X_OK):
            raise ServerError("%s not found or not executable (run make)" % exe)
        if env is not None:
            self.env = dict(env)
        for attempt in range(4):
            if self.port is None:
                self.port = free_port()
            e = dict(os.environ)
            for k in list(e):
                if k.startswith("PARTAGE_"):
                    del e[k]
            e.update(self.env)
            listen = self.port
            if RECORD_DIR:
                if self.rec_proxy is None or self.rec_proxy.port != self.port:
                    if self.rec_proxy:
                        self.rec_proxy.close()
                    self.rec_proxy = RecordingProxy(self.port)
                # the same inner port across restarts: it is part of the
                # node's name, which its upload leases carry
                if self.rec_proxy.target is None:
                    self.rec_proxy.target = free_port()
                listen = self.rec_proxy.target
            logf = open(self.log_path, "ab")
            logf.write(("\n==== start %d port %d env %r\n" % (self.starts, self.port, self.env)).encode())
            logf.flush()
            cmd = [exe, "--config", self.conf, "--listen", "127.0.0.1:%d" % listen,
                   "--data", self.data, "--public-url", self.url]
            self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=logf,
                                         stderr=subprocess.STDOUT, env=e, cwd=self.work)
            logf.close()
            track(self.proc)
            if self not in CURRENT:
                CURRENT.append(self)
            self.starts += 1
            end = time.monotonic() + timeout
            while time.monotonic() < end:
                if self.proc.poll() is not None:
                    break
                try:
                    r = self.request("GET", "/healthz", timeout=1.0)
                    if r.status == 200:
                        return self
                except (OSError, http.client.HTTPException):
                    pass
                time.sleep(0.05)
            rc = self.proc.poll()
            if rc is None:
                self.kill9()
                raise ServerError("no 200 on GET /healthz within %.0fs; log: %s" % (timeout, self.log_tail()))
            tail = self.log_tail(3).lower()
            if "address" in tail and "use" in tail and not self.fixed_port:
                self.port = None  # port race (or TIME_WAIT on restart): another port
                continue
            raise ServerError("partaged exited with %s at start; log: %s" % (rc, self.log_tail()))
        raise ServerError("could not start partaged: %s" % self.log_tail())

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def stop(self, timeout=45.0):
        """SIGTERM and wait; returns the exit code (None if it was not running)."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                stacks = self.thread_stacks()
                self.proc.kill()
                self.proc.wait()
                raise ServerError("partaged did not exit within %.0fs of SIGTERM; its threads:\n%s"
                                  % (timeout, stacks))
        return self.proc.returncode

    def thread_stacks(self):
        """Each thread's name and the functions of ours on its stack (gdb),
        innermost first, for a server that hangs; the whole of gdb's
        output goes to hung-stacks-PID.txt in the test root.  "" without
        gdb."""
        import re
        try:
            r = subprocess.run(["gdb", "-p", str(self.proc.pid), "-batch", "-nx",
                                "-ex", "thread apply all bt 16"],
                               capture_output=True, timeout=60)
        except (OSError, subprocess.TimeoutExpired):
            return ""
        out = r.stdout.decode("utf-8", "replace")
        with open(os.path.join(ROOT, "hung-stacks-%d.txt" % self.proc.pid), "w") as f:
            f.write(out)
        threads, cur = [], None
        for line in out.splitlines():
            m = re.match(r'Thread \d+ .*"([^"]*)"', line)
            if m:
                cur = [m.group(1), None]
                threads.append(cur)
            elif cur is not None and line.startswith("#"):
                f = re.search(r" in (\w+) \(.* at (src/[\w/.]+):(\d+)", line)
                if f:
                    cur.append("%s@%s:%s" % f.groups())
                elif cur[1] is None:
                    g = re.search(r" in (\w+) \(", line)
                    cur[1] = g.group(1) if g else "?"
        # threads idle in a wait of their own (a condition, epoll) last:
        # the one that hangs the exit comes first
        idle = ("nap@", "worker@", "checker@", "blob_s3_worker@", "loop_run@", "deliverer@",
                "scan_thread@", "responder@", "run@src/http/throttle")
        threads.sort(key=lambda t: any(f.startswith(idle) for f in t[2:3]))
        return "; ".join("%s: %s" % (t[0], " < ".join(t[2:5]) or t[1] or "-") for t in threads)

    def kill9(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def restart(self, env=None, same_port=True):
        self.stop()
        if not same_port:
            self.port = None
        return self.start(env=env)

    def close(self, quiet=False):
        """Stop the server (SIGTERM); with quiet, a failure to stop is not
        raised (used while another exception propagates)."""
        was_alive = self.alive()
        try:
            rc = self.stop()
            if was_alive and rc != 0 and not quiet:
                e = ServerError("partaged exited with %s on SIGTERM (want 0)" % rc)
                e.log = self.log_lines(25)  # run.py prints them, one a line
                raise e
        except ServerError:
            if not quiet:
                raise
        finally:
            self.kill9()
            if self.rec_proxy:
                self.rec_proxy.close()
                self.rec_proxy = None

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        self.close(quiet=exc_type is not None)

    def log_lines(self, n=8):
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode("utf-8", "replace").splitlines()[-n:]
        except OSError:
            return ["(no log)"]

    def log_tail(self, n=8):
        return " | ".join(self.log_lines(n))

    def secret_path(self):
        """The ticket secret this server uses (made at its first start)."""
        cp = configparser.ConfigParser(interpolation=None, strict=False)
        cp.read_string(self.config_text)
        return cp.get("server", "secret_file", fallback="") or os.path.join(self.data, "secret")

    # -- paths in the data dir
    def path(self, *parts):
        # blobs and partial uploads are in the bucket on S3 runs: a test
        # that looks for them on disk does not apply there
        if S3_ENDPOINT and parts and parts[0] in ("blobs", "uploads"):
            raise Skip("inspects the local blob store (this run stores blobs in S3)")
        return os.path.join(self.data, *parts)

    def blob_path(self, hexsum):
        return self.path("blobs", hexsum[0:2], hexsum[2:4], hexsum)

    def blob_files(self):
        return regular_files(self.path("blobs")) if os.path.isdir(self.path("blobs")) else []

    def tmp_files(self):
        return regular_files(self.path("tmp")) if os.path.isdir(self.path("tmp")) else []

    # -- HTTP
    def request(self, method, path, body=None, headers=None, timeout=None):
        conn = http.client.HTTPConnection("127.0.0.1", self.port,
                                          timeout=timeout or HTTP_TIMEOUT)
        try:
            conn.putrequest(method, path, skip_accept_encoding=True)
            hdrs = dict(headers or {})
            if body is not None and not any(k.lower() in ("content-length", "transfer-encoding") for k in hdrs):
                if isinstance(body, (bytes, bytearray)):
                    hdrs["Content-Length"] = str(len(body))
            for k, v in hdrs.items():
                conn.putheader(k, v)
            conn.endheaders()
            if body is not None:
                try:
                    if isinstance(body, (bytes, bytearray)):
                        conn.send(body)
                    else:  # iterable of chunks → chunked encoding
                        for chunk in body:
                            if chunk:
                                conn.send(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                        conn.send(b"0\r\n\r\n")
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the server answered early (413...); read that answer
            resp = conn.getresponse()
            data = resp.read()
            return Resp(resp.status, resp.reason, resp.msg, data)
        finally:
            conn.close()

    def get(self, path, headers=None, **kw):
        return self.request("GET", path, headers=headers, **kw)

    def head(self, path, headers=None, **kw):
        return self.request("HEAD", path, headers=headers, **kw)

    def delete(self, path, headers=None, **kw):
        return self.request("DELETE", path, headers=headers, **kw)

    def put(self, name, data, headers=None, **kw):
        """PUT /<escaped name> with bytes (or an iterable of chunks → chunked)."""
        hdrs = dict(headers or {})
        if not isinstance(data, (bytes, bytearray)):
            hdrs.setdefault("Transfer-Encoding", "chunked")
        return self.request("PUT", "/" + quote(name), body=data, headers=hdrs, **kw)

    def upload(self, name, data, headers=None):
        """PUT with Accept: application/json; asserts 201 and returns the file object."""
        hdrs = {"Accept": "application/json"}
        hdrs.update(headers or {})
        r = self.put(name, data, hdrs)
        assert r.status == 201, "PUT /%s: expected 201, got %r" % (name, r)
        obj = r.json()
        assert isinstance(obj, dict) and "id" in obj, "PUT reply is not a file object: %r" % r.body[:300]
        return obj

    def post_files(self, parts, headers=None):
        body, ctype = multipart(parts)
        hdrs = {"Content-Type": ctype, "Accept": "application/json"}
        hdrs.update(headers or {})
        return self.request("POST", "/api/v1/files", body=body, headers=hdrs)

    def file_obj(self, fid):
        return self.get("/api/v1/files/" + fid, {"Accept": "application/json"})

    def media_settled(self, ids, timeout=20.0):
        """Wait until the media probe has given its verdict on each file
        (it writes in the background after an upload, changing the file
        object and the database); asserts it did within timeout."""
        def done():
            for i in ids:
                r = self.file_obj(i)
                if r.status == 200 and r.json().get("media", {}).get("probe") == "pending":
                    return False
            return True
        assert wait_until(done, timeout), "media probes still pending after %ss" % timeout

    def dl_path(self, obj):
        """The path part of a file object's download_url."""
        return urllib.parse.urlsplit(obj["download_url"]).path

    def raw(self, data, method="GET", timeout=10.0):
        """Send raw bytes on a new connection and read one response."""
        with RawConn(self.port, timeout=timeout) as c:
            c.send(data)
            return c.read_response(method)

    def raw_conn(self, timeout=10.0):
        return RawConn(self.port, timeout=timeout)

    def send_upload(self, path, head_lines, body_chunks, timeout=20.0, method="PUT"):
        """Send a request head then body chunks on a raw socket, stopping as
        soon as the server answers early (413, 507...).  Returns (Resp,
        bytes_sent_of_body)."""
        c = RawConn(self.port, timeout=timeout)
        try:
            c.send(("%s %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n" % (method, path, self.port)).encode()
                   + "".join(h + "\r\n" for h in head_lines).encode("latin-1") + b"\r\n")
            sent = 0
            for chunk in body_chunks:
                if c.readable(0):
                    break
                try:
                    c.send(chunk)
                except (BrokenPipeError, ConnectionResetError):
                    break
                sent += len(chunk)
            try:
                return c.read_response("PUT"), sent
            except ConnectionResetError:
                if c.buf:
                    return c.read_response("PUT"), sent
                raise
        finally:
            c.close()

    # -- admin
    def admin(self, *args, input=None, env=None, timeout=60):
        e = dict(os.environ)
        for k in list(e):
            if k.startswith("PARTAGE_"):
                del e[k]
        e.update(env or {})
        cmd = [bin_path("partaged"), "admin", "--config", self.conf, "--data", self.data] + list(args)
        p = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, env=e, cwd=self.work)
        track(p)
        try:
            out, err = p.communicate(input.encode() if isinstance(input, str) else input, timeout=timeout)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
            raise AssertionError("partaged admin %s hung for %ss" % (" ".join(args), timeout))
        return subprocess.CompletedProcess(cmd, p.returncode, out.decode("utf-8", "replace"),
                                           err.decode("utf-8", "replace"))

    # -- metrics
    def metrics(self):
        r = self.get("/metrics")
        assert r.status == 200, "GET /metrics: %r" % r
        return parse_prometheus(r.text)


def parse_prometheus(text):
    """{(name, frozenset(labels.items())): float} of every sample line."""
    import re
    out = {}
    rx = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{([^}]*)\})?\s+(\S+)(\s+\d+)?$')
    lrx = re.compile(r'\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*=\s*"((?:[^"\\]|\\.)*)"\s*,?')
    for line in text.splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        m = rx.match(line)
        if not m:
            raise AssertionError("bad Prometheus sample line: %r" % line)
        labels = {}
        if m.group(3):
            pos = 0
            s = m.group(3)
            while pos < len(s):
                lm = lrx.match(s, pos)
                if not lm or lm.end() == pos:
                    raise AssertionError("bad labels in %r" % line)
                labels[lm.group(1)] = lm.group(2)
                pos = lm.end()
        v = m.group(4)
        out[(m.group(1), frozenset(labels.items()))] = float(v)
    return out


def metric_sum(samples, name, **labels):
    """Sum of the samples of `name` whose labels include `labels`."""
    tot = 0.0
    found = False
    for (n, ls), v in samples.items():
        if n != name:
            continue
        d = dict(ls)
        if all(d.get(k) == v2 for k, v2 in labels.items()):
            tot += v
            found = True
    return tot if found else None


def kill_all():
    """Kill every process the harness started that still runs."""
    with _PROCS_LOCK:
        procs = list(PROCS)
    for p in procs:
        if p.poll() is None:
            try:
                p.kill()
            except OSError:
                pass
    for p in procs:
        try:
            p.wait(5)
        except subprocess.TimeoutExpired:
            pass


# ------------------------------------------------------------------ asserts

def expect(r, *codes, what=""):
    """Assert r.status is one of codes; the message shows the reply."""
    assert r.status in codes, "%sexpected %s, got %s %s body=%r" % (
        (what + ": ") if what else "", "/".join(map(str, codes)), r.status, r.reason, r.body[:200])
    return r


def share_id(srv, r):
    """Check a PUT 201 text reply and return the id in it."""
    import re
    expect(r, 201, what="PUT")
    m = re.fullmatch(re.escape(srv.url) + r"/([0-9A-Za-z]{12})\n", r.text)
    assert m, "PUT body is not '<public_url>/<12-char id>\\n': %r" % r.body[:200]
    return m.group(1)


def wait_downloads(srv, fid, n, timeout=5.0):
    """Wait until the file object says downloads >= n or the link is gone (410)."""
    def ok():
        r = srv.file_obj(fid)
        if r.status == 410:
            return r
        if r.status == 200 and r.json().get("downloads", 0) >= n:
            return r
        return None
    return wait_until(ok, timeout)


def db_ids(db_path):
    """Every 12-char [0-9A-Za-z] text value in the SQLite database: a
    schema-agnostic superset of the link ids."""
    import re
    import sqlite3
    ids = set()
    if PG_DSN:
        schema = pg_schema(os.path.dirname(db_path))
        cols = _psql("SELECT table_name || '.' || column_name FROM information_schema.columns "
                     "WHERE table_schema = '%s' AND data_type = 'text'" % schema).split()
        for c in cols:
            t, col = c.split(".")
            for v in _psql('SELECT "%s" FROM %s."%s"' % (col, schema, t)).splitlines():
                if re.fullmatch(r"[0-9A-Za-z]{12}", v):
                    ids.add(v)
        return ids
    if not os.path.exists(db_path):
        return ids
    con = sqlite3.connect("file:%s?mode=ro" % db_path, uri=True, timeout=10)
    try:
        tables = [r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        for t in tables:
            for row in con.execute('SELECT * FROM "%s"' % t.replace('"', '""')):
                for v in row:
                    if isinstance(v, str) and re.fullmatch(r"[0-9A-Za-z]{12}", v):
                        ids.add(v)
    finally:
        con.close()
    return ids


def live_links(srv):
    """Ids the server answers 200 for on GET /api/v1/files/{id}."""
    return {i for i in db_ids(srv.path("partage.db")) if srv.file_obj(i).status == 200}
