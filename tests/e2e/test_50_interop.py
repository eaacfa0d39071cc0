"""Real clients: curl (-T file, -T - chunked, -F, Max-Downloads), wget (-c
resume, --content-disposition), aria2c (-x4 -s4 segmented download)."""

import hashlib
import http.client
import os
import re
import shutil
import subprocess
import threading

import harness
from harness import Skip, expect, metric_sum, rand_bytes, sha256

CONFIG = """\
[server]
per_ip_connections = 0
"""
MIB = 1024 * 1024


def need(tool):
    if shutil.which(tool) is None:
        raise Skip("%s is not installed (scripts/install-deps.sh installs it)" % tool)


def write(path, data):
    with open(path, "wb") as fh:
        fh.write(data)


def file_sha(path):
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for b in iter(lambda: fh.read(1 << 20), b""):
            h.update(b)
    return h.hexdigest()


def run(cmd, cwd=None, input=None, timeout=60):
    return subprocess.run(cmd, cwd=cwd, input=input, capture_output=True, timeout=timeout)


def test_curl_T_stdin_chunked(srv, tmp):
    # K2: cat a.txt | curl -T - http://h/a.txt (chunked, no Content-Length)
    need("curl")
    data = rand_bytes(2 * MIB + 17)
    out = run(["curl", "-sS", "-T", "-", "-w", "\n%{http_code}", srv.url + "/stdin.bin"], input=data)
    body, _, code = out.stdout.rpartition(b"\n")
    assert code == b"201", "curl -T - → %r %r" % (code, out.stderr)
    m = re.fullmatch(re.escape(srv.url.encode()) + rb"/([0-9A-Za-z]{12})\n", body)
    assert m, "curl -T - body %r" % body
    obj = expect(srv.file_obj(m.group(1).decode()), 200).json()
    assert obj["name"] == "stdin.bin" and obj["size"] == len(data) and obj["sha256"] == sha256(data), obj
    got = run(["curl", "-sS", "-f", m.group(0).strip().decode()])
    assert got.returncode == 0 and sha256(got.stdout) == sha256(data), "curl SHARE_URL bytes differ"


def test_curl_T_json_and_form(srv, tmp):
    need("curl")
    p = os.path.join(tmp, "form file.txt")
    write(p, b"multipart through curl -F\n")
    out = run(["curl", "-sS", "-f", "-H", "Accept: application/json", "-T", p, srv.url + "/"])
    assert out.returncode == 0, out.stderr
    import json
    obj = json.loads(out.stdout)
    assert obj["name"] == "form file.txt" and obj["delete_token"], obj
    out = run(["curl", "-sS", "-f", "-H", "Accept: application/json", "-F", "file=@" + p,
               "-F", "file=@" + p + ";filename=second.txt", srv.url + "/api/v1/files"])
    assert out.returncode == 0, out.stderr
    files = json.loads(out.stdout)["files"]
    assert [f["name"] for f in files] == ["form file.txt", "second.txt"], files
    assert files[0]["sha256"] == files[1]["sha256"] == file_sha(p)


def test_curl_max_downloads(srv, tmp):
    need("curl")
    p = os.path.join(tmp, "once.txt")
    write(p, b"read me once\n")
    out = run(["curl", "-sS", "-f", "-H", "Max-Downloads: 1", "-T", p, srv.url + "/"])
    assert out.returncode == 0, out.stderr
    share = out.stdout.decode().strip()
    first = run(["curl", "-sS", "-f", share])
    assert first.returncode == 0 and first.stdout == b"read me once\n", first
    fid = share.rsplit("/", 1)[1]
    from harness import wait_downloads
    wait_downloads(srv, fid, 1)
    second = run(["curl", "-sS", "-o", "/dev/null", "-w", "%{http_code}", share])
    assert second.stdout == b"410", "second download after Max-Downloads: 1 → %r" % second.stdout


def test_wget_continue(srv, tmp):
    # wget -c resumes a half download with a Range request (206)
    need("wget")
    data = rand_bytes(3 * MIB + 5, seed=50)
    o = srv.upload("resume.bin", data)
    dest = os.path.join(tmp, "resume.bin")
    write(dest, data[:len(data) // 2])
    out = run(["wget", "-c", "-S", "--no-verbose", "-O", dest, o["download_url"]], cwd=tmp)
    assert out.returncode == 0, "wget -c failed: %r" % out.stderr[-500:]
    err = out.stderr.decode("utf-8", "replace")
    assert re.search(r"HTTP/1\.[01] 206", err), "wget -c did not get a 206: %s" % err[-400:]
    assert file_sha(dest) == sha256(data), "wget -c produced different bytes"


def test_wget_content_disposition(srv, tmp):
    need("wget")
    data = b"saved under its real name\n"
    o = srv.upload("real name.txt", data)
    out = run(["wget", "-q", "--content-disposition", srv.url + "/" + o["id"]], cwd=tmp)
    assert out.returncode == 0, out.stderr
    assert os.listdir(tmp) == ["real name.txt"], "wget --content-disposition saved %r" % os.listdir(tmp)
    with open(os.path.join(tmp, "real name.txt"), "rb") as fh:
        assert fh.read() == data


def test_aria2c_segmented(srv, tmp):
    # aria2c -x4 -s4: four connections, ranged segments, sha256 verified by aria2c and by us.
    # aria2c opens its other connections once the first one's headers are in; on
    # loopback an unthrottled 8 MiB body can be done before then (a CI run on S3 saw
    # one 206), so aria2c's own limit keeps the download going for about 2 s.
    need("aria2c")
    data = rand_bytes(8 * MIB + 333, seed=51)
    o = srv.upload("aria.bin", data)
    h = sha256(data)
    m0 = srv.metrics()
    out = run(["aria2c", "-x4", "-s4", "-k1M", "--min-split-size=1M", "--checksum=sha-256=" + h,
               "--allow-overwrite=true", "--auto-file-renaming=false", "--file-allocation=none",
               "--max-download-limit=4M",
               "--console-log-level=warn", "--summary-interval=0", "--show-console-readout=false",
               "-d", tmp, "-o", "aria.bin", o["download_url"]], timeout=120)
    assert out.returncode == 0, "aria2c exit %d: %r" % (out.returncode, (out.stdout + out.stderr)[-600:])
    assert file_sha(os.path.join(tmp, "aria.bin")) == h
    m1 = srv.metrics()
    n206 = (metric_sum(m1, "partage_requests_total", status="206") or 0) - \
        (metric_sum(m0, "partage_requests_total", status="206") or 0)
    assert n206 >= 2, "aria2c -s4 made %d ranged (206) requests; the download was not segmented" % n206


def test_aria2c_share_url(srv, tmp):
    need("aria2c")
    data = rand_bytes(300000)
    o = srv.upload("page.bin", data)
    out = run(["aria2c", "-x2", "-s2", "--allow-overwrite=true", "--console-log-level=warn",
               "--summary-interval=0", "-d", tmp, "-o", "p.bin", o["url"]], timeout=60)
    assert out.returncode == 0, (out.stdout + out.stderr)[-600:]
    assert file_sha(os.path.join(tmp, "p.bin")) == sha256(data)


def test_parallel_downloads(srv):
    # 8 clients at once on one file, all get the full bytes
    data = rand_bytes(4 * MIB, seed=52)
    o = srv.upload("par.bin", data)
    want = sha256(data)
    errors = []

    def one():
        try:
            r = srv.get(srv.dl_path(o))
            if r.status != 200 or sha256(r.body) != want:
                errors.append("status %d, %d bytes" % (r.status, len(r.body)))
        except Exception as e:  # noqa: BLE001
            errors.append(repr(e))
    ts = [threading.Thread(target=one, daemon=True) for _ in range(8)]
    for t in ts:
        t.start()
    for t in ts:
        t.join(60)
    assert not errors, "parallel downloads failed: %r" % errors


def rss_kib(pid):
    with open("/proc/%d/status" % pid) as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def test_streaming_memory_bounded(srv):
    if harness.S3_ENDPOINT:
        raise harness.Skip('on S3 an upload buffers up to three 8 MiB parts in flight by design (bounded, not streamed to disk)')
    # C1: a 64 MiB chunked upload and its download are streamed, not buffered
    chunk = rand_bytes(1 << 20)
    n = 64
    h = hashlib.sha256()
    for i in range(n):
        h.update(b"%08d" % i + chunk[8:])
    want = h.hexdigest()
    before = rss_kib(srv.proc.pid)
    obj = srv.upload("big-stream.bin", (b"%08d" % i + chunk[8:] for i in range(n)))
    assert obj["sha256"] == want and obj["size"] == n << 20, obj
    conn = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=60)
    try:
        conn.request("GET", srv.dl_path(obj))
        resp = conn.getresponse()
        assert resp.status == 200
        got = hashlib.sha256()
        peak = 0
        while True:
            b = resp.read(1 << 20)
            if not b:
                break
            got.update(b)
            peak = max(peak, rss_kib(srv.proc.pid))
    finally:
        conn.close()
    assert got.hexdigest() == want, "64 MiB download differs"
    after = max(peak, rss_kib(srv.proc.pid))
    assert after - before < 32 * 1024, \
        "partaged RSS grew by %d MiB for a 64 MiB upload/download (not streamed?)" % ((after - before) // 1024)
