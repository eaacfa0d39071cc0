"""Fast-start copies and streams as activity (issue 16 follow-ups).

ffmpeg makes an MP4 with its index (moov) at the end and one with it
first.  After the probe and the remux queue have run, /stream of the
moov-at-end file serves a fast-start copy (its top-level atoms parsed
here: moov before mdat; ffprobe finds the same streams and duration), with
its own ETag and length, Range, If-Range and If-None-Match right on it;
the download serves the original byte for byte; a fast-start original is
left alone.  A damaged moov-at-end file gets no copy and the server stays
up.  kill -9 while the remux is half-way leaves no copy behind, and the
remux runs again after the restart.  gc keeps the copy while its source lives and removes both with the
last link.  With PostgreSQL (and S3: two nodes), the viewing quota holds for
a viewer whose ranges go to two nodes.  A stream keeps a link alive for retention, as a download does,
without counting as a download."""

import json
import os
import re
import shutil
import signal
import struct
import subprocess
import tempfile
import time

import harness
from harness import expect, sha256, wait_until, Server, Skip

JSON = {"Accept": "application/json"}
CONFIG = """\
[tier.anonymous]
stream_minutes = 0
"""
DAY = 86400
GC_RX = re.compile(r"(\d+) links expired, (\d+) blobs removed \((\d+) bytes\), "
                   r"(\d+) uploads expired, (\d+) stray files removed")
_MEDIA = {}


def ffmpeg(*args):
    subprocess.run(["ffmpeg", "-hide_banner", "-loglevel", "error", "-y"] + list(args),
                   check=True, stdin=subprocess.DEVNULL, timeout=60)


def media():
    """name → bytes, made once: moov at the end (two contents) and first."""
    if _MEDIA:
        return _MEDIA
    if not shutil.which("ffmpeg") or not shutil.which("ffprobe"):
        raise Skip("no ffmpeg/ffprobe (scripts/install-deps.sh installs them)")
    d = tempfile.mkdtemp(prefix="faststart-")
    try:
        def clip(name, secs, freq, *extra):
            ffmpeg("-f", "lavfi", "-i", "testsrc=size=160x120:rate=25", "-f", "lavfi",
                   "-i", "sine=frequency=%d" % freq, "-t", str(secs), "-c:v", "libx264",
                   "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-c:a", "aac",
                   *extra, os.path.join(d, name))
        clip("end.mp4", 4, 440)
        clip("gc.mp4", 3, 550)
        clip("damaged.mp4", 3, 660)
        clip("fast.mp4", 4, 770, "-movflags", "+faststart")
        # the quota's: 150 s of 32 kbit/s MP3
        ffmpeg("-f", "lavfi", "-i", "sine", "-t", "150", "-c:a", "libmp3lame", "-b:a", "32k",
               os.path.join(d, "long.mp3"))
        for n in os.listdir(d):
            with open(os.path.join(d, n), "rb") as f:
                _MEDIA[n] = f.read()
    finally:
        shutil.rmtree(d, ignore_errors=True)
    for n in ("end.mp4", "gc.mp4", "damaged.mp4"):
        assert order(_MEDIA[n]) == "moov-last", "%s: %r" % (n, layout(_MEDIA[n]))
    assert order(_MEDIA["fast.mp4"]) == "moov-first", layout(_MEDIA["fast.mp4"])
    # the damaged one: its index intact, its samples' offsets (stco)
    # pointing past the end of the file
    b = bytearray(_MEDIA["damaged.mp4"])
    at = 0
    while True:
        at = b.find(b"stco", at)
        if at < 0:
            break
        n = struct.unpack(">I", b[at + 8:at + 12])[0]
        for i in range(n):
            struct.pack_into(">I", b, at + 12 + 4 * i, 0x7ffffff0)
        at += 4
    _MEDIA["damaged.mp4"] = bytes(b)
    return _MEDIA


def layout(data):
    """The top-level atoms' types, in order (sizes checked)."""
    out, off = [], 0
    while off + 8 <= len(data):
        size, typ = struct.unpack(">I4s", data[off:off + 8])
        if size == 1:
            size = struct.unpack(">Q", data[off + 8:off + 16])[0]
        elif size == 0:
            size = len(data) - off
        assert 8 <= size <= len(data) - off, "atom %r at %d: size %d of %d" % (typ, off, size, len(data))
        out.append(typ.decode("latin-1"))
        off += size
    assert off == len(data), "atoms end at %d of %d" % (off, len(data))
    return out


def order(data):
    a = layout(data)
    return "moov-first" if a.index("moov") < a.index("mdat") else "moov-last"


def ffprobe(data):
    """(duration in s, [(codec_type, codec_name), ...]) of the bytes."""
    with tempfile.NamedTemporaryFile(suffix=".mp4") as f:
        f.write(data)
        f.flush()
        p = subprocess.run(["ffprobe", "-v", "error", "-print_format", "json", "-show_format",
                            "-show_streams", f.name], capture_output=True, timeout=30)
    assert p.returncode == 0, "ffprobe: %s" % p.stderr.decode(errors="replace")
    j = json.loads(p.stdout)
    return float(j["format"]["duration"]), [(s["codec_type"], s["codec_name"]) for s in j["streams"]]


def settled(srv, fid, timeout=30.0):
    """The file object once its probe and remux verdicts are in."""
    got = {}

    def done():
        o = expect(srv.file_obj(fid), 200).json()
        got["o"] = o
        if o["media"]["probe"] == "pending":
            return False
        return o["stream"] is None or o["stream"].get("fast_start") != "pending"
    assert wait_until(done, timeout=timeout, interval=0.1), \
        "probe/remux of %s still pending: %r" % (fid, got.get("o"))
    return got["o"]


def gc(s, *args):
    p = s.admin("gc", *args)
    assert p.returncode == 0, "admin gc: %s" % (p.stdout + p.stderr)
    m = GC_RX.search(p.stdout)
    assert m, p.stdout
    return dict(zip(("links", "blobs", "bytes", "uploads", "strays"), map(int, m.groups())))


# ------------------------------------------------------------ the copy

def test_stream_serves_fast_start_copy(srv):
    files = media()
    data = files["end.mp4"]
    o = srv.upload("end.mp4", data)
    got = settled(srv, o["id"])
    assert got["media"]["probe"] == "done", got
    path = "/stream/" + o["id"]
    r = expect(srv.get(path), 200, what="GET " + path)
    copy = r.body
    assert order(copy) == "moov-first", "the stream's atoms: %r" % layout(copy)
    assert copy != data
    assert got["stream"].get("fast_start") == "done", got["stream"]
    assert r.header("ETag") == '"%s"' % sha256(copy), (r.header("ETag"), sha256(copy))
    assert r.header("Content-Length") == str(len(copy))
    assert r.header("Content-Type") == "video/mp4"
    assert abs(len(copy) - len(data)) <= len(data) // 64 + (1 << 20)
    # the same media: streams and duration
    d0, s0 = ffprobe(data)
    d1, s1 = ffprobe(copy)
    assert s1 == s0, "streams %r, the original's %r" % (s1, s0)
    assert abs(d1 - d0) < 0.05, "duration %r, the original's %r" % (d1, d0)
    # the download is the original, byte for byte
    dl = expect(srv.get(srv.dl_path(o)), 200, what="download")
    assert sha256(dl.body) == sha256(data), "the download is not the original"
    # Range, suffix, If-Range, If-None-Match and HEAD on the copy
    r = expect(srv.get(path, {"Range": "bytes=100-199"}), 206)
    assert r.body == copy[100:200]
    assert r.header("Content-Range") == "bytes 100-199/%d" % len(copy), r.header("Content-Range")
    r = expect(srv.get(path, {"Range": "bytes=-500"}), 206)
    assert r.body == copy[-500:]
    r = expect(srv.get(path, {"Range": "bytes=%d-" % (len(copy) // 2)}), 206)
    assert r.body == copy[len(copy) // 2:]
    etag = '"%s"' % sha256(copy)
    r = expect(srv.get(path, {"Range": "bytes=0-9", "If-Range": etag}), 206)
    assert r.body == copy[:10]
    # a range of the original's bytes is not a range of these
    r = expect(srv.get(path, {"Range": "bytes=0-9", "If-Range": '"%s"' % sha256(data)}), 200)
    assert r.body == copy
    expect(srv.get(path, {"If-None-Match": etag}), 304)
    r = expect(srv.head(path), 200)
    assert r.header("Content-Length") == str(len(copy)) and r.header("ETag") == etag
    expect(srv.get(path, {"Range": "bytes=%d-" % len(copy)}), 416)


def test_fast_start_original_left_alone(srv):
    files = media()
    data = files["fast.mp4"]
    o = srv.upload("fast.mp4", data)
    got = settled(srv, o["id"])
    r = expect(srv.get("/stream/" + o["id"]), 200)
    assert r.body == data and r.header("ETag") == '"%s"' % sha256(data)
    assert got["stream"].get("fast_start") == "not-needed", got["stream"]


def test_damaged_file_no_copy_server_up(srv):
    files = media()
    data = files["damaged.mp4"]
    o = srv.upload("damaged.mp4", data)
    got = settled(srv, o["id"])
    # the index is whole, so the probe finds the media; the samples are
    # not there, so the remux refuses it
    assert got["media"]["probe"] == "done", got["media"]
    r = expect(srv.get("/stream/" + o["id"], {"Range": "bytes=0-99"}), 206)
    assert r.body == data[:100] and r.header("ETag") == '"%s"' % sha256(data)
    assert got["stream"].get("fast_start") == "failed", got["stream"]
    assert srv.alive(), "partaged died on a damaged file"
    expect(srv.get("/healthz"), 200)
    # an atom whose size runs past the end: no copy either
    bad = bytearray(files["end.mp4"])
    mdat = bytes(bad).find(b"mdat") - 4
    struct.pack_into(">I", bad, mdat, len(bad) * 2)
    bad[-1] ^= 0x55  # new content
    o = srv.upload("runs-over.mp4", bytes(bad))
    got = settled(srv, o["id"])
    assert got["stream"] is None or got["stream"].get("fast_start") in ("failed", "not-needed"), got
    assert srv.alive(), "partaged died on an atom that runs over"


def test_gc_keeps_copy_with_source_then_removes_both():
    files = media()
    data = files["gc.mp4"]
    with Server(CONFIG, name="faststart-gc") as s:
        o = s.upload("gc.mp4", data)
        got = settled(s, o["id"])
        copy = expect(s.get("/stream/" + o["id"]), 200).body
        assert order(copy) == "moov-first", "the stream's atoms: %r" % layout(copy)
        assert got["stream"].get("fast_start") == "done", got["stream"]
        st = gc(s)
        assert st["blobs"] == 0, "gc removed blobs while the link lives: %r" % st
        r = expect(s.get("/stream/" + o["id"]), 200)
        assert r.body == copy, "the copy changed after gc"
        expect(s.delete("/" + o["id"], {"X-Delete-Token": o["delete_token"]}), 204)
        st = gc(s)
        assert st["blobs"] == 2 and st["bytes"] == len(data) + len(copy), \
            "gc after the delete: %r (want the source and its copy: %d + %d bytes)" % (st, len(data), len(copy))
        try:
            for h in (sha256(data), sha256(copy)):
                assert not os.path.exists(s.blob_path(h)), "blob %s still on disk" % h
        except Skip:
            pass  # S3: the counts above say it
        st = gc(s)
        assert st["blobs"] == 0, st
        p = s.admin("fsck")
        assert p.returncode == 0 and re.search(r"\b0 problems\b", p.stdout), p.stdout + p.stderr


def remux_child(pid):
    """The pid of partaged's `__remux` child, or None."""
    try:
        tasks = os.listdir("/proc/%d/task" % pid)
    except OSError:
        return None
    for t in tasks:
        try:
            with open("/proc/%d/task/%s/children" % (pid, t)) as f:
                kids = f.read().split()
        except OSError:
            continue
        for k in kids:
            try:
                with open("/proc/%s/cmdline" % k, "rb") as f:
                    if b"__remux" in f.read():
                        return int(k)
            except OSError:
                pass
    return None


def test_crash_mid_remux_leaves_no_half_copy():
    """kill -9 of partaged while its remux child is half-way (held there
    with SIGSTOP): nothing of the copy is served or left behind; after the
    restart the remux runs again and /stream serves a whole copy."""
    if not os.path.exists("/proc/self/task/%d/children" % os.getpid()):
        raise Skip("no /proc/PID/task/TID/children on this kernel")
    d = tempfile.mkdtemp(prefix="faststart-big-")
    try:
        # big enough (~30 MB) that its remux takes a while; mpeg4 is cheap
        # to encode
        ffmpeg("-f", "lavfi", "-i", "testsrc=size=640x480:rate=25", "-t", "12", "-c:v", "mpeg4",
               "-q:v", "1", os.path.join(d, "big.mp4"))
        with open(os.path.join(d, "big.mp4"), "rb") as f:
            data = f.read()
    finally:
        shutil.rmtree(d, ignore_errors=True)
    assert order(data) == "moov-last"
    with Server(CONFIG, name="faststart-crash") as s:
        pid = s.proc.pid
        o = s.upload("big.mp4", data)
        child, t0 = None, time.monotonic()
        while child is None and time.monotonic() - t0 < 30:
            child = remux_child(pid)
        assert child, "never saw the remux process of partaged %d" % pid
        os.kill(child, signal.SIGSTOP)  # half-way, as a crash leaves it
        s.kill9()
        os.kill(child, signal.SIGKILL)
        # what the crash left: no copy anywhere
        try:
            assert [os.path.basename(f) for f in s.blob_files()] == [sha256(data)], \
                "blob files after the crash: %r" % s.blob_files()
            assert not s.tmp_files(), "temporary files after the crash: %r" % s.tmp_files()
        except Skip:
            pass  # S3: nothing local to look at
        s.start()
        # the original until the remux has run again (or already the
        # whole copy)
        r = expect(s.get("/stream/" + o["id"], {"Range": "bytes=0-15"}), 206)
        if r.header("ETag") == '"%s"' % sha256(data):
            assert r.body == data[:16]
        got = settled(s, o["id"], timeout=60)
        assert got["stream"]["fast_start"] == "done", got["stream"]
        copy = expect(s.get("/stream/" + o["id"]), 200).body
        assert order(copy) == "moov-first", layout(copy)
        d0, s0 = ffprobe(data)
        d1, s1 = ffprobe(copy)
        assert s1 == s0 and abs(d1 - d0) < 0.05, (d0, s0, d1, s1)
        assert sha256(expect(s.get(s.dl_path(o)), 200).body) == sha256(data)
        p = s.admin("fsck")
        assert p.returncode == 0 and re.search(r"\b0 problems\b", p.stdout), p.stdout + p.stderr


# ------------------------------------------------- streams as activity

def test_stream_keeps_link_alive_not_a_download():
    files = media()
    with Server(CONFIG, name="faststart-retention") as s:
        t0 = int(time.time())
        streamed = s.upload("streamed.mp4", files["fast.mp4"])
        idle = s.upload("idle.mp4", files["end.mp4"])
        s.media_settled([streamed["id"], idle["id"]])
        # day 20: a range of one of them is streamed (a range that misses
        # byte 0: a stream counts all the same)
        s.restart(env={"PARTAGE_TIME_OFFSET": str(20 * DAY)})
        r = expect(s.get("/stream/" + streamed["id"], {"Range": "bytes=1000-1999"}), 206)
        assert len(r.body) == 1000
        time.sleep(3)  # the counters' flush (every 2 s)
        o = expect(s.file_obj(streamed["id"]), 200).json()
        assert o.get("downloads", 0) == 0, "a stream counted as a download: %r" % o
        st = gc(s, "--now", str(t0 + 22 * DAY))
        assert st["links"] == 1, "gc on day 22: want only the idle link expired, got %r" % st
        expect(s.file_obj(streamed["id"]), 200, what="the link streamed on day 20, on day 22")
        r = s.file_obj(idle["id"])
        assert r.status in (404, 410), "the idle link outlived its retention: %r" % r
        # and 21 days after the stream it goes too
        st = gc(s, "--now", str(t0 + 20 * DAY + 21 * DAY + 3600))
        assert st["links"] == 1, st


def test_stream_does_not_spend_max_downloads(srv):
    """A Max-Downloads link is never streamed, so a player cannot spend
    (or dodge) its budget: the download after the refused streams is the
    one allowed."""
    data = media()["fast.mp4"] + b"\0"  # content of its own
    o = srv.upload("once.mp4", data, {"Max-Downloads": "1"})
    srv.media_settled([o["id"]])
    for rng in ("bytes=0-", "bytes=100-199"):
        r = expect(srv.get("/stream/" + o["id"], dict(JSON, Range=rng)), 403)
        assert r.json()["reason"] == "max-downloads", r.json()
    time.sleep(2.5)  # a counter flush, were anything counted
    assert expect(srv.file_obj(o["id"]), 200).json()["downloads"] == 0
    assert expect(srv.get(srv.dl_path(o)), 200).body == data
    assert srv.get(srv.dl_path(o)).status in (404, 410)


# ------------------------------------------------ the quota across nodes

QUOTA_CONFIG = """\
[tier.anonymous]
wait_seconds = 0
speed_bytes_per_second = 0
parallel_downloads = 0
cooldown_seconds = 0
stream_minutes = 1
stream_wait_minutes = 1
"""


def test_quota_holds_across_two_nodes():
    """A player whose ranges alternate between two nodes of one PostgreSQL
    gets one minute in all, not one per node; then both refuse."""
    if not (harness.PG_DSN and harness.S3_ENDPOINT):
        raise Skip("two nodes need shared stores: set PARTAGE_TEST_PG_DSN and PARTAGE_TEST_S3")
    data = media()["long.mp3"]
    with Server(QUOTA_CONFIG, name="quota-a") as a, \
            Server(QUOTA_CONFIG, name="quota-b", shared_with=a) as b:
        o = a.upload("long.mp3", data)
        a.media_settled([o["id"]])
        m = expect(b.file_obj(o["id"]), 200).json()["media"]
        assert m["kind"] == "audio" and m["bitrate"], m
        bps = m["bitrate"] // 8
        nine = bps * 9
        granted, refused = 0, None
        for i in range(14):
            node = (a, b)[i % 2]
            r = node.get("/stream/" + o["id"], {"Range": "bytes=%d-%d" % (i * nine, (i + 1) * nine - 1)})
            if r.status == 429:
                refused = (i, node)
                break
            assert r.status == 206, "range %d on node %s: %r" % (i, "ab"[i % 2], r)
            assert r.body == data[i * nine:i * nine + len(r.body)], "range %d: wrong bytes" % i
            granted += len(r.body)
        secs = granted / bps
        assert refused, "14 ranges of 9 s (%.0f s in all) over two nodes and no 429: the quota is per node" % secs
        assert 55 <= secs <= 61, "the two nodes granted %.1f s of a 1-minute quota" % secs
        ra = int(refused[1].get("/stream/" + o["id"], {"Range": "bytes=0-99"}).header("Retry-After") or 0)
        other = b if refused[1] is a else a
        r = other.get("/stream/" + o["id"], {"Range": "bytes=0-99"})
        assert r.status == 429 and int(r.header("Retry-After")) > 0, "the other node: %r" % r
        assert ra > 0
        q = expect(other.file_obj(o["id"]), 200).json()["stream"]["quota"]
        assert q["retry_after"] > 0 and q["left_seconds"] == 0, q
