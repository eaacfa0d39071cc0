#!/usr/bin/env python3
"""What a smaller tus checkpoint costs (issue 19): one 256 MiB upload in a
single PATCH (sent with sendfile from a file in page cache), against one
partaged per [server] tus_checkpoint_bytes value, on a local disk and, with
S3=URL, on an S3 store (scripts/start-s3.sh, bucket "partage").  Prints
the median seconds from the PATCH's first byte to its 204, and the
server's CPU seconds, for each checkpoint.

    bench/tus_checkpoint.py [--bin bin] [--mib 256] [--runs 3]
        [--checkpoints 8M,64M]

Runs in a temp dir, cleans up after itself."""

import argparse
import http.client
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def cpu_seconds(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def one_upload(port, path, size):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
    c.request("POST", "/api/v1/uploads", headers={"Tus-Resumable": "1.0.0", "Upload-Length": str(size)})
    r = c.getresponse()
    r.read()
    assert r.status == 201, r.status
    loc = r.getheader("Location").split("://", 1)[1].split("/", 1)[1]
    s = socket.create_connection(("127.0.0.1", port))
    s.sendall(("PATCH /%s HTTP/1.1\r\nHost: x\r\nTus-Resumable: 1.0.0\r\nUpload-Offset: 0\r\n"
               "Content-Type: application/offset+octet-stream\r\nContent-Length: %d\r\n\r\n"
               % (loc, size)).encode())
    t0 = time.monotonic()
    with open(path, "rb") as f:
        off = 0
        while off < size:
            off += os.sendfile(s.fileno(), f.fileno(), off, size - off)
    head = b""
    while b"\r\n\r\n" not in head:
        chunk = s.recv(4096)
        if not chunk:
            break
        head += chunk
    took = time.monotonic() - t0
    s.close()
    assert b" 204 " in head.split(b"\r\n")[0], head[:200]
    return took


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", default="bin")
    ap.add_argument("--mib", type=int, default=256)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--checkpoints", default="8M,64M")
    a = ap.parse_args()
    size = a.mib << 20
    s3 = os.environ.get("S3", "")
    work = tempfile.mkdtemp(prefix="tus-ckpt-")
    try:
        src = os.path.join(work, "input.bin")
        with open(src, "wb") as f:
            for _ in range(a.mib):
                f.write(os.urandom(1 << 20))
        stores = [("fs", "")]
        if s3:
            stores.append(("s3", "[storage]\nbackend = s3\ns3_endpoint = %s\ns3_bucket = partage/ckpt%d\n"
                                 "s3_access_key = test:tester\ns3_secret_key = testing\n" % (s3, os.getpid())))
        for store, storage in stores:
            for ck in a.checkpoints.split(","):
                data = os.path.join(work, "data-%s-%s" % (store, ck))
                conf = os.path.join(work, "c.conf")
                with open(conf, "w") as f:
                    f.write("[server]\ntus_checkpoint_bytes = %s\n[tier.anonymous]\nmax_upload_bytes = 2G\n%s"
                            % (ck, storage))
                port = free_port()
                log = open(os.path.join(work, "log"), "ab")
                p = subprocess.Popen([os.path.join(a.bin, "partaged"), "--config", conf, "--listen",
                                      "127.0.0.1:%d" % port, "--data", data],
                                     stdout=log, stderr=log)
                try:
                    for _ in range(100):
                        try:
                            c = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
                            c.request("GET", "/healthz")
                            if c.getresponse().status == 200:
                                break
                        except OSError:
                            pass
                        time.sleep(0.1)
                    times, cpus = [], []
                    for i in range(a.runs):
                        with open(src, "r+b") as f:  # no dedup between runs
                            f.write(os.urandom(16))
                        c0 = cpu_seconds(p.pid)
                        times.append(one_upload(port, src, size))
                        cpus.append(cpu_seconds(p.pid) - c0)
                    print("%-3s checkpoint %-4s  %d MiB: %.2f s median (%s), server CPU %.2f s median"
                          % (store, ck, a.mib, statistics.median(times),
                             " ".join("%.2f" % t for t in times), statistics.median(cpus)))
                    sys.stdout.flush()
                finally:
                    p.terminate()
                    p.wait(30)
                    shutil.rmtree(data, ignore_errors=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
