#!/usr/bin/env python3
"""/healthz under download load (issue 19): one partaged with `threads = 2`
and its blobs on S3, N clients downloading a file over and over as fast as
they can, and a prober per port asking GET /healthz every 50 ms on a new
connection: the main port, and (when the binary has it) the health port
([server] health_listen); and a prober that downloads a 4 KiB file (also
on S3) on a new connection every 50 ms.  Prints p50, p99 and the worst
answer time of each.

    S3=http://127.0.0.1:28290 bench/health_load.py [--bin bin] [--clients 64]
        [--seconds 10] [--size-mib 16]

S3 is a store scripts/start-s3.sh started (bucket "partage", Swift's test
keys).  Runs in a temp dir, cleans up after itself."""

import argparse
import http.client
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def get(port, path, timeout=30):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        c.request("GET", path)
        r = c.getresponse()
        n = 0
        while True:
            b = r.read(1 << 16)
            if not b:
                break
            n += len(b)
        return r.status, n
    finally:
        c.close()


def pct(v, p):
    v = sorted(v)
    return v[min(len(v) - 1, int(len(v) * p))] if v else float("nan")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", default="bin")
    ap.add_argument("--clients", type=int, default=64)
    ap.add_argument("--seconds", type=float, default=10)
    ap.add_argument("--size-mib", type=int, default=16)
    a = ap.parse_args()
    s3 = os.environ.get("S3")
    if not s3:
        sys.exit("set S3=http://HOST:PORT (scripts/start-s3.sh)")
    work = tempfile.mkdtemp(prefix="health-load-")
    port, hport = free_port(), free_port()
    has_health = b"health_listen" in subprocess.run(
        [os.path.join(a.bin, "partaged"), "--help-config"], capture_output=True).stdout
    conf = os.path.join(work, "partage.conf")
    with open(conf, "w") as f:
        f.write("[server]\nthreads = 2\nper_ip_connections = 0\nmax_connections = 4096\n"
                "access_log = off\n")
        if has_health:
            f.write("health_listen = 127.0.0.1:%d\n" % hport)
        f.write("[tier.anonymous]\nwait_seconds = 0\nspeed_bytes_per_second = 0\n"
                "parallel_downloads = 0\nconnections_per_download = 0\ncooldown_seconds = 0\n")
        f.write("[storage]\nbackend = s3\ns3_endpoint = %s\ns3_bucket = partage/health-%d\n"
                "s3_access_key = test:tester\ns3_secret_key = testing\n" % (s3, os.getpid()))
    log = open(os.path.join(work, "log"), "wb")
    proc = subprocess.Popen([os.path.join(a.bin, "partaged"), "--config", conf, "--listen",
                             "127.0.0.1:%d" % port, "--data", os.path.join(work, "data")],
                            stdout=log, stderr=subprocess.STDOUT)
    try:
        for _ in range(200):
            try:
                if get(port, "/healthz", 1)[0] == 200:
                    break
            except OSError:
                pass
            time.sleep(0.05)
        body = os.urandom(a.size_mib << 20)
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        c.request("PUT", "/load.bin", body=body)
        r = c.getresponse()
        url = r.read().decode().strip()
        assert r.status == 201, (r.status, url)
        path = "/" + url.split("/", 3)[3]
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        c.request("PUT", "/small.bin", body=os.urandom(4096))
        r = c.getresponse()
        surl = r.read().decode().strip()
        assert r.status == 201, (r.status, surl)
        spath = "/" + surl.split("/", 3)[3]
        stop = time.monotonic() + a.seconds
        done = [0]
        lock = threading.Lock()

        def client():
            while time.monotonic() < stop:
                try:
                    st, n = get(port, path, 60)
                    with lock:
                        done[0] += n
                except OSError:
                    time.sleep(0.05)

        lat = {"main": [], "health": [], "4k": []}
        fails = {"main": 0, "health": 0, "4k": 0}

        def prober(name, p, what="/healthz"):
            time.sleep(0.5)  # the downloads first
            while time.monotonic() < stop:
                t0 = time.monotonic()
                try:
                    st, _ = get(p, what, 30)
                    if st != 200:
                        fails[name] += 1
                except OSError:
                    fails[name] += 1
                lat[name].append(time.monotonic() - t0)
                time.sleep(0.05)

        ts = [threading.Thread(target=client) for _ in range(a.clients)]
        ts.append(threading.Thread(target=prober, args=("main", port)))
        ts.append(threading.Thread(target=prober, args=("4k", port, spath)))
        if has_health:
            ts.append(threading.Thread(target=prober, args=("health", hport)))
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        print("%s: %d downloads of %d MiB from S3 on a 2-thread node, %.0f s, %.0f MiB/s"
              % (a.bin, a.clients, a.size_mib, a.seconds, done[0] / a.seconds / (1 << 20)))
        for name, v in lat.items():
            if not v:
                continue
            what = "4 KiB GET on the main port" if name == "4k" else \
                "/healthz on the %-6s port" % name
            print("  %-27s: %4d checks, p50 %7.1f ms, p99 %7.1f ms, "
                  "max %7.1f ms, %d failed" % (what, len(v), pct(v, .5) * 1e3, pct(v, .99) * 1e3,
                                              max(v) * 1e3, fails[name]))
    finally:
        proc.terminate()
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
