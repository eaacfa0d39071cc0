#!/usr/bin/env bash
# bench/media.sh — what the media queue (issue 16) costs per upload, and
# whether uploads slow down while it works.
#
#   1. probe and thumbnail, per file: `partaged __probe` and `partaged
#      __thumb` (the sandboxed processes the queue runs) on an MP4
#      (1280×720, H.264, MEDIA_SECONDS long), a JPEG and a PNG (1920×1080)
#      made by ffmpeg: median wall ms and CPU ms (user + sys of the child)
#      of MEDIA_RUNS runs each;
#   2. upload throughput: MEDIA_PUTS PUTs of 1 MiB (distinct content),
#      MEDIA_CONNS at a time with curl, against a partaged with
#        - media.probe_workers = 0 (no queue),
#        - probe_workers = 1 and no backlog (each upload is probed: random
#          bytes, application/octet-stream),
#        - probe_workers = 1 and a backlog of MEDIA_BACKLOG MP4s uploaded
#          just before (probed and thumbnailed while the PUTs run);
#      PUT/s and MiB/s of each, and how many of the backlog the queue had
#      done when the PUTs ended.
#
# Knobs: MEDIA_RUNS=5 MEDIA_SECONDS=10 MEDIA_PUTS=200 MEDIA_CONNS=4
# MEDIA_BACKLOG=20, PARTAGED=bin/partaged, BENCH_RESULTS=bench/results;
# MEDIA_SMALL=1 is a smoke test (tiny files, few runs: checks that the
# script works, measures nothing).  Run it on a quiet machine.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
PARTAGED=${PARTAGED:-$root/bin/partaged}
results=${BENCH_RESULTS:-$root/bench/results}
export MEDIA_RUNS=${MEDIA_RUNS:-5} MEDIA_SECONDS=${MEDIA_SECONDS:-10}
export MEDIA_PUTS=${MEDIA_PUTS:-200} MEDIA_CONNS=${MEDIA_CONNS:-4}
export MEDIA_BACKLOG=${MEDIA_BACKLOG:-20} MEDIA_SMALL=${MEDIA_SMALL:-0}
for c in ffmpeg curl python3; do
	command -v "$c" >/dev/null || { echo "media.sh: needs $c (scripts/install-deps.sh)" >&2; exit 1; }
done
[ -x "$PARTAGED" ] || { echo "media.sh: no $PARTAGED (make)" >&2; exit 1; }
tmp=$(mktemp -d "${TMPDIR:-/tmp}/partage-media.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
cp "$PARTAGED" "$tmp/partaged"
mkdir -p "$results"
out="$results/media-$(date +%Y%m%d-%H%M%S).md"
python3 - "$tmp" "$out" <<'EOF'
import os, resource, socket, statistics, subprocess, sys, tempfile, threading, time
import http.client, json

tmp, out = sys.argv[1], sys.argv[2]
exe = os.path.join(tmp, "partaged")
small = os.environ["MEDIA_SMALL"] == "1"
runs = 2 if small else int(os.environ["MEDIA_RUNS"])
secs = 1 if small else int(os.environ["MEDIA_SECONDS"])
puts = 10 if small else int(os.environ["MEDIA_PUTS"])
conns = int(os.environ["MEDIA_CONNS"])
backlog = 2 if small else int(os.environ["MEDIA_BACKLOG"])
size = (640, 360) if small else (1280, 720)
still = (160, 90) if small else (1920, 1080)
lines = []

def say(s=""):
    print(s, flush=True)
    lines.append(s)

def ff(*a):
    subprocess.run(["ffmpeg", "-hide_banner", "-loglevel", "error", "-y"] + list(a), check=True,
                   stdin=subprocess.DEVNULL)

mp4, jpg, png = (os.path.join(tmp, n) for n in ("v.mp4", "s.jpg", "s.png"))
ff("-f", "lavfi", "-i", "testsrc=size=%dx%d:rate=25" % size, "-f", "lavfi", "-i", "sine",
   "-t", str(secs), "-c:v", "libx264", "-pix_fmt", "yuv420p", "-c:a", "aac", "-movflags", "+faststart", mp4)
ff("-f", "lavfi", "-i", "testsrc=size=%dx%d" % still, "-frames:v", "1", jpg)
ff("-f", "lavfi", "-i", "testsrc=size=%dx%d" % still, "-frames:v", "1", png)

def child(cmd, path):
    """wall ms, cpu ms of one sandboxed child on path"""
    env = {"PARTAGE_PROBE_AS_MB": "256", "PARTAGE_PROBE_CPU_S": "10",
           "PARTAGE_THUMB_MAX_PIXELS": "16000000"}
    with open(path, "rb") as f:
        t0 = time.monotonic()
        p = subprocess.Popen([exe, cmd], stdin=f, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env)
        p.stdout.read()
        _, status, ru = os.wait4(p.pid, 0)
        wall = (time.monotonic() - t0) * 1000
    assert os.waitstatus_to_exitcode(status) == 0, "%s %s: exit %r" % (cmd, path, status)
    return wall, (ru.ru_utime + ru.ru_stime) * 1000

say("# bench/media.sh — %s, %d CPUs%s" % (time.strftime("%F %T UTC", time.gmtime()), os.cpu_count(),
                                          " (MEDIA_SMALL: a smoke test, not a measure)" if small else ""))
say()
say("## Probe and thumbnail per file (median of %d)" % runs)
say()
say("| file | bytes | probe wall ms | probe CPU ms | thumbnail wall ms | thumbnail CPU ms |")
say("|---|---|---|---|---|---|")
for name, path in (("MP4 %dx%d %d s" % (size + (secs,)), mp4), ("JPEG %dx%d" % still, jpg),
                   ("PNG %dx%d" % still, png)):
    row = [name, str(os.path.getsize(path))]
    for cmd in ("__probe", "__thumb"):
        got = [child(cmd, path) for _ in range(runs)]
        row += ["%.1f" % statistics.median(g[0] for g in got), "%.1f" % statistics.median(g[1] for g in got)]
    say("| " + " | ".join(row) + " |")

def free_port():
    s = socket.socket(); s.bind(("127.0.0.1", 0)); p = s.getsockname()[1]; s.close(); return p

def server(workers):
    d = tempfile.mkdtemp(dir=tmp)
    port = free_port()
    with open(d + "/p.ini", "w") as f:
        f.write("[server]\naccess_log = off\n[media]\nprobe_workers = %d\n" % workers +
                "[tier.anonymous]\nwait_seconds = 0\nspeed_bytes_per_second = 0\n")
    p = subprocess.Popen([exe, "--config", d + "/p.ini", "--listen", "127.0.0.1:%d" % port,
                          "--data", d + "/data"], stdout=subprocess.DEVNULL, stderr=open(d + "/log", "w"))
    for _ in range(100):
        try:
            socket.create_connection(("127.0.0.1", port), 0.2).close()
            return p, port
        except OSError:
            time.sleep(0.1)
    raise SystemExit("partaged did not start: " + open(d + "/log").read()[-2000:])

def put(port, name, body):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    c.request("PUT", "/" + name, body, {"Accept": "application/json"})
    r = c.getresponse()
    data = r.read()
    c.close()
    assert r.status == 201, (r.status, data[:200])
    return json.loads(data)["id"]

def puts_rate(port):
    bodies = [os.urandom(1 << 20) for _ in range(puts)]
    it = iter(range(puts))
    lock = threading.Lock()
    def work():
        while True:
            with lock:
                i = next(it, None)
            if i is None:
                return
            put(port, "b%d.bin" % i, bodies[i])
    t0 = time.monotonic()
    th = [threading.Thread(target=work) for _ in range(conns)]
    for t in th: t.start()
    for t in th: t.join()
    dt = time.monotonic() - t0
    return puts / dt, puts / dt

def done(port, ids):
    n = 0
    for i in ids:
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        c.request("GET", "/api/v1/files/" + i, headers={"Accept": "application/json"})
        m = json.loads(c.getresponse().read()).get("media", {})
        c.close()
        n += m.get("thumbnail") in ("done", "failed")
    return n

say()
say("## 1 MiB PUTs while the queue works (%d PUTs, %d at a time)" % (puts, conns))
say()
say("| queue | PUT/s | MiB/s | backlog done at the end |")
say("|---|---|---|---|")
mp4_bytes = open(mp4, "rb").read()
for label, workers, nback in (("off (probe_workers = 0)", 0, 0), ("on, no backlog", 1, 0),
                              ("on, backlog of %d MP4s" % backlog, 1, backlog)):
    p, port = server(workers)
    try:
        ids = [put(port, "v%d.mp4" % i, mp4_bytes + os.urandom(16)) for i in range(nback)]
        rate, mib = puts_rate(port)
        left = "%d of %d" % (done(port, ids), nback) if nback else "-"
        say("| %s | %.1f | %.1f | %s |" % (label, rate, mib, left))
    finally:
        p.terminate()
        p.wait(30)
open(out, "w").write("\n".join(lines) + "\n")
print("media.sh: wrote " + out)
EOF
