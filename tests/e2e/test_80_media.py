"""Media (issue 16): the probe at upload on every route (PUT, multipart,
tus) for MP4 fast-start and moov-at-end, WebM, MP3, PNG and JPEG made by
ffmpeg here; corrupt files (truncated, random bytes behind an MP4 header)
get no media info and leave the server up; files uploaded while probing is
off are probed after a restart; the player, Open Graph tags, the embed
page and oEmbed; /stream/{id} with Range; the viewing quota with a
one-minute window (a shorter 206, then 429 + Retry-After in JSON, text
and HTML; downloads still work; premium is unlimited)."""

import base64
import http.client
import json
import os
import re
import shutil
import socket
import subprocess
import tempfile
import time
import urllib.parse

from harness import expect, rand_bytes, run_partage, wait_until, Server, Skip

JSON = {"Accept": "application/json"}
HTML = {"Accept": "text/html"}
# no fast-start copies here: /stream serves the bytes as uploaded (the
# copies are test_87_faststart's)
CONFIG = """\
[tier.anonymous]
stream_minutes = 0
[media]
remux_max_bytes = 0
"""
# the quota server: one minute of streaming, then a one-minute wait
QUOTA_CONFIG = """\
[tier.anonymous]
wait_seconds = 0
speed_bytes_per_second = 0
parallel_downloads = 0
cooldown_seconds = 0
stream_minutes = 1
stream_wait_minutes = 1
[tier.free]
wait_seconds = 0
stream_minutes = 1
stream_wait_minutes = 1
[tier.premium]
stream_minutes = 0
"""
_MEDIA = {}


def ffmpeg(*args):
    subprocess.run(["ffmpeg", "-hide_banner", "-loglevel", "error", "-y"] + list(args),
                   check=True, stdin=subprocess.DEVNULL, timeout=60)


def media():
    """name → bytes of the test media, made once per run with ffmpeg."""
    if _MEDIA:
        return _MEDIA
    if not shutil.which("ffmpeg"):
        raise Skip("no ffmpeg (scripts/install-deps.sh installs it)")
    d = tempfile.mkdtemp(prefix="media-")
    try:
        src = ["-f", "lavfi", "-i", "testsrc=size=320x240:rate=25", "-f", "lavfi",
               "-i", "sine=frequency=440", "-t", "4", "-c:v", "libx264", "-pix_fmt", "yuv420p",
               "-c:a", "aac"]
        ffmpeg(*src, "-movflags", "+faststart", d + "/fast.mp4")
        ffmpeg(*src, d + "/end.mp4")
        ffmpeg("-f", "lavfi", "-i", "testsrc=size=160x120:rate=10", "-f", "lavfi", "-i", "sine",
               "-t", "2", "-c:v", "libvpx", "-b:v", "100k", "-c:a", "libvorbis", d + "/clip.webm")
        ffmpeg("-f", "lavfi", "-i", "sine", "-t", "3", "-c:a", "libmp3lame", d + "/tone.mp3")
        # the quota's: 150 s of 32 kbit/s MP3 (600 KB)
        ffmpeg("-f", "lavfi", "-i", "sine", "-t", "150", "-c:a", "libmp3lame", "-b:a", "32k",
               d + "/long.mp3")
        ffmpeg("-f", "lavfi", "-i", "testsrc=size=64x48", "-frames:v", "1", d + "/still.png")
        ffmpeg("-f", "lavfi", "-i", "testsrc=size=64x48", "-frames:v", "1", d + "/still.jpg")
        for n in os.listdir(d):
            with open(os.path.join(d, n), "rb") as f:
                _MEDIA[n] = f.read()
    finally:
        shutil.rmtree(d, ignore_errors=True)
    # moov at the end really is at the end, and fast-start at the front
    end, fast = _MEDIA["end.mp4"], _MEDIA["fast.mp4"]
    assert end.find(b"moov") > end.find(b"mdat"), "end.mp4 has its moov first"
    assert fast.find(b"moov") < fast.find(b"mdat"), "fast.mp4 has its moov last"
    _MEDIA["truncated.mp4"] = end[:len(end) // 3]
    _MEDIA["random.mp4"] = fast[:32] + rand_bytes(64 * 1024, seed=16)
    return _MEDIA


def probed(srv, fid, timeout=20.0):
    """The file object once its probe has run."""
    out = {}

    def done():
        r = expect(srv.file_obj(fid), 200, what="GET file %s" % fid)
        out["o"] = r.json()
        return out["o"].get("media", {}).get("probe") not in (None, "pending")
    assert wait_until(done, timeout=timeout), "probe of %s still pending: %r" % (fid, out.get("o"))
    return out["o"]


WANT = {
    "fast.mp4": dict(kind="video", container="mov,mp4,m4a,3gp,3g2,mj2", video_codec="h264",
                     audio_codec="aac", width=320, height=240, duration=4.0),
    "end.mp4": dict(kind="video", container="mov,mp4,m4a,3gp,3g2,mj2", video_codec="h264",
                    audio_codec="aac", width=320, height=240, duration=4.0),
    "clip.webm": dict(kind="video", container="matroska,webm", video_codec="vp8",
                      audio_codec="vorbis", width=160, height=120, duration=2.0),
    "tone.mp3": dict(kind="audio", container="mp3", video_codec=None, audio_codec="mp3",
                     width=None, height=None, duration=3.0),
    "still.png": dict(kind="image", container="png_pipe", video_codec="png", audio_codec=None,
                      width=64, height=48, duration=None),
    "still.jpg": dict(kind="image", container="jpeg_pipe", video_codec="mjpeg", audio_codec=None,
                      width=64, height=48, duration=None),
}


def check_media(name, o):
    m = o.get("media")
    assert m and m.get("probe") == "done", "%s: media %r" % (name, m)
    for k, v in WANT[name].items():
        if k == "duration" and v is not None:
            assert m[k] is not None and abs(m[k] - v) < 0.2, "%s: duration %r, want ~%r" % (name, m[k], v)
        else:
            assert m.get(k) == v, "%s: %s = %r, want %r (%r)" % (name, k, m.get(k), v, m)
    if m["kind"] in ("video", "audio"):
        assert m["bitrate"] and m["bitrate"] > 0, "%s: no bitrate: %r" % (name, m)
        assert o["stream"] and o["stream"]["url"].endswith("/stream/" + o["id"]), o["stream"]
    else:
        assert o["stream"] is None, "%s: an image has a stream: %r" % (name, o["stream"])


# ------------------------------------------------------------------ probe

def test_probe_put_every_format(srv):
    files = media()
    ids = {n: srv.upload(n, files[n])["id"] for n in WANT}
    for n, fid in ids.items():
        check_media(n, probed(srv, fid))
    o = probed(srv, ids["fast.mp4"])
    assert o["media"]["summary"] == "Video \u00b7 320\u00d7240 \u00b7 0:04 \u00b7 H.264/AAC", o["media"]
    o = probed(srv, ids["tone.mp3"])
    assert o["media"]["summary"] == "Audio \u00b7 0:03 \u00b7 MP3", o["media"]


def test_cli_info_shows_media(srv, tmp):
    files = media()
    o = srv.upload("fast.mp4", files["fast.mp4"])
    probed(srv, o["id"])
    r = run_partage(srv.url, tmp, "info", o["url"])
    assert r.returncode == 0, r.stderr
    info = json.loads(r.stdout)
    check_media("fast.mp4", info)
    assert info["media"]["summary"] == "Video \u00b7 320\u00d7240 \u00b7 0:04 \u00b7 H.264/AAC", info
    assert info["stream"]["quota"] is None, "anonymous here streams without a limit: %r" % info["stream"]


def test_probe_multipart_and_tus(srv):
    files = media()
    r = expect(srv.post_files([("file", "mp.webm", files["clip.webm"], "video/webm")]), 201,
               what="multipart POST")
    fid = r.json()["files"][0]["id"]
    check_media("clip.webm", probed(srv, fid))
    data = files["still.jpg"]
    meta = "filename " + base64.b64encode(b"tus.jpg").decode()
    r = expect(srv.request("POST", "/api/v1/uploads", body=data, headers={
        "Tus-Resumable": "1.0.0", "Upload-Length": str(len(data)), "Upload-Metadata": meta,
        "Content-Type": "application/offset+octet-stream"}), 201, what="tus creation-with-upload")
    fid = r.header("X-Partage-Id")
    assert fid, "tus upload complete without X-Partage-Id: %r" % r
    check_media("still.jpg", probed(srv, fid))


def test_corrupt_files_no_media_server_up(srv):
    files = media()
    for n in ("truncated.mp4", "random.mp4"):
        o = srv.upload(n, files[n])
        got = probed(srv, o["id"])
        assert got["media"] == {"probe": "failed"}, "%s: %r" % (n, got["media"])
        assert got["stream"] is None
        r = srv.get("/stream/" + o["id"], JSON)
        assert r.status == 404 and r.json().get("reason") == "not-media", r
        # the bytes are there as uploaded
        assert expect(srv.get(srv.dl_path(o)), 200).body == files[n]
    # not media: never probed
    o = srv.upload("notes.txt", b"just text\n" * 100)
    assert probed(srv, o["id"])["media"] == {"probe": "skipped"}
    assert srv.alive(), "partaged died on a corrupt file"
    expect(srv.get("/healthz"), 200)


def test_probe_after_restart(tmp):
    """Files uploaded while nothing probes are probed at the next start:
    the queue is the database."""
    files = media()
    with Server("[media]\nprobe_workers = 0\n") as s:
        o = s.upload("late.mp4", files["end.mp4"])
        r = expect(s.file_obj(o["id"]), 200).json()
        assert r["media"] == {"probe": "pending"}, r["media"]
        s.restart(env={"PARTAGE_MEDIA_PROBE_WORKERS": "1"})
        check_media("end.mp4", probed(s, o["id"]))


# --------------------------------------------------- pages, embed, oEmbed

def test_page_player_and_open_graph(srv):
    files = media()
    o = srv.upload("fast.mp4", files["fast.mp4"])
    probed(srv, o["id"])
    page = expect(srv.get("/" + o["id"], HTML), 200).text
    assert re.search(r'<video id="player"[^>]* src="/stream/%s"' % o["id"], page), \
        re.findall(r"<video[^>]*>", page)
    assert "Video \u00b7 320\u00d7240 \u00b7 0:04 \u00b7 H.264/AAC" in page
    # in French, the kind word only (the codecs' names stay)
    fr = expect(srv.get("/" + o["id"], dict(HTML, **{"Accept-Language": "fr"})), 200).text
    assert '<p id="media-summary">Vid\u00e9o \u00b7 320\u00d7240 \u00b7 0:04 \u00b7 H.264/AAC</p>' in fr, fr
    assert '<script src="/static/player.js">' in page
    # the player's messages need nav.js's _() as soon as a range is refused
    assert page.index("/static/nav.js") < page.index("/static/player.js"), "nav.js after player.js"
    for prop, val in (("og:title", "fast.mp4"), ("og:type", "video.other"),
                      ("og:video", srv.url + "/stream/" + o["id"]), ("og:video:type", "video/mp4"),
                      ("og:video:width", "320"), ("twitter:card", "player"),
                      ("twitter:player", srv.url + "/embed/" + o["id"])):
        assert re.search(r'<meta (?:property|name)="%s" content="%s">' % (re.escape(prop), re.escape(val)),
                         page), "no %s=%s in the page head" % (prop, val)
    assert "application/json+oembed" in page
    expect(srv.get("/static/player.js"), 200)
    # audio: an <audio> element and og:audio
    a = srv.upload("tone.mp3", files["tone.mp3"])
    probed(srv, a["id"])
    page = expect(srv.get("/" + a["id"], HTML), 200).text
    assert '<audio id="player"' in page and 'property="og:audio"' in page
    # an image: its summary, no player
    i = srv.upload("still.png", files["still.png"])
    probed(srv, i["id"])
    page = expect(srv.get("/" + i["id"], HTML), 200).text
    assert "Image \u00b7 64\u00d748 \u00b7 PNG" in page and 'id="player"' not in page


def test_embed_and_oembed(srv):
    files = media()
    o = srv.upload("fast.mp4", files["fast.mp4"])
    probed(srv, o["id"])
    r = expect(srv.get("/embed/" + o["id"], HTML), 200)
    assert '<video id="player"' in r.text
    # the player's messages: the visitor's catalog and _() before player.js
    fr = expect(srv.get("/embed/" + o["id"], dict(HTML, **{"Accept-Language": "fr"})), 200).text
    assert re.search(r'<html lang="fr">.*/static/i18n-fr\.js.*/static/nav\.js.*/static/player\.js', fr, re.S), fr
    assert r.header("X-Frame-Options") is None, "the embed page cannot be framed"
    assert "frame-ancestors *" in r.header("Content-Security-Policy", "")
    url = urllib.parse.quote(srv.url + "/" + o["id"], safe="")
    j = expect(srv.get("/api/v1/oembed?url=" + url + "&format=json", JSON), 200).json()
    assert j["version"] == "1.0" and j["type"] == "video" and j["title"] == "fast.mp4", j
    assert (j["width"], j["height"]) == (320, 240), j
    assert '<iframe src="%s/embed/%s"' % (srv.url, o["id"]) in j["html"], j["html"]
    j = expect(srv.get("/api/v1/oembed?url=" + url + "&maxwidth=160", JSON), 200).json()
    assert (j["width"], j["height"]) == (160, 120), j
    expect(srv.get("/api/v1/oembed?url=" + url + "&format=xml", JSON), 415)
    expect(srv.get("/api/v1/oembed?url=http%3A%2F%2Felsewhere.example%2F" + o["id"], JSON), 404)
    t = srv.upload("t.txt", b"text")
    expect(srv.get("/embed/" + t["id"], HTML), 404)


# ---------------------------------------------------------------- streams

def test_stream_ranges(srv):
    files = media()
    data = files["end.mp4"]
    o = srv.upload("end.mp4", data)
    probed(srv, o["id"])
    r = expect(srv.get("/stream/" + o["id"], {"Range": "bytes=1000-1999"}), 206)
    assert r.body == data[1000:2000]
    assert r.header("Content-Range") == "bytes 1000-1999/%d" % len(data), r.header("Content-Range")
    assert r.header("Content-Type") == "video/mp4"
    r = expect(srv.get("/stream/" + o["id"], {"Range": "bytes=%d-" % (len(data) // 2)}), 206)
    assert r.body == data[len(data) // 2:]
    r = expect(srv.get("/stream/" + o["id"]), 200)
    assert r.body == data
    r = expect(srv.head("/stream/" + o["id"]), 200)
    assert r.header("Content-Length") == str(len(data)) and r.header("Accept-Ranges") == "bytes"
    # a Max-Downloads link is never streamed: its budget is the download
    # path's
    once = srv.upload("once.mp4", data, {"Max-Downloads": "1"})
    got = probed(srv, once["id"])
    assert got["media"]["probe"] == "done" and got["stream"] is None, got
    r = expect(srv.get("/stream/" + once["id"], dict(JSON, Range="bytes=0-")), 403)
    assert r.json()["reason"] == "max-downloads", r.json()
    # a password-protected one needs its password, as its download does
    pw = srv.upload("pw.mp4", data, {"X-Partage-Password": "stream pw"})
    expect(srv.get("/stream/" + pw["id"], {"Range": "bytes=0-9"}), 401)
    r = expect(srv.get("/stream/%s?password=stream%%20pw" % pw["id"], {"Range": "bytes=0-9"}), 206)
    assert r.body == data[:10]


def quota_new_user(s, tier="free"):
    name = "v" + os.urandom(4).hex()
    expect(s.request("POST", "/api/v1/users", json.dumps({"name": name, "password": "media password"}).encode(),
                     JSON), 201)
    r = expect(s.request("POST", "/api/v1/tokens", json.dumps({"name": name, "password": "media password"}).encode(),
                         JSON), 201)
    if tier == "premium":
        a = s.admin("user", "set-tier", name, "premium")
        assert a.returncode == 0, a.stderr
    return {"Authorization": "Bearer " + r.json()["token"]}


def test_stream_quota_one_minute(tmp):
    files = media()
    data = files["long.mp3"]
    with Server(QUOTA_CONFIG) as s:
        o = s.upload("long.mp3", data)
        m = probed(s, o["id"])["media"]
        assert m["kind"] == "audio" and abs(m["duration"] - 150) < 1, m
        q = expect(s.file_obj(o["id"]), 200).json()["stream"]["quota"]
        assert q["minutes"] == 1 and q["wait_minutes"] == 1 and q["retry_after"] == 0, q
        # a player that drops its range pays for what it got, not for
        # what the range reserved (another address: 127.0.0.3)
        sock = socket.create_connection(("127.0.0.1", s.port), source_address=("127.0.0.3", 0))
        sock.sendall(b"GET /stream/%s HTTP/1.1\r\nHost: x\r\nRange: bytes=0-\r\n\r\n" % o["id"].encode())
        got = b""
        while len(got) < 20000:
            got += sock.recv(65536)
        assert got.startswith(b"HTTP/1.1 206"), got[:100]
        sock.close()

        def used_3():
            c = http.client.HTTPConnection("127.0.0.1", s.port, timeout=10, source_address=("127.0.0.3", 0))
            c.request("GET", "/api/v1/files/" + o["id"], headers=JSON)
            q = json.loads(c.getresponse().read())["stream"]["quota"]
            c.close()
            return q
        assert wait_until(lambda: used_3()["used_seconds"] <= 30, timeout=8), \
            "a dropped range kept its whole reservation: %r" % used_3()
        # 150 s of media: ranges of 9 s each, six of them (54 s), come at
        # once (each response starts with 10 s of lead, then is paced)
        bps = m["bitrate"] // 8
        nine = bps * 9
        t0 = time.monotonic()
        for i in range(6):
            r = expect(s.get("/stream/" + o["id"], {"Range": "bytes=%d-%d" % (i * nine, (i + 1) * nine - 1)}),
                       206, what="range %d" % i)
            assert r.body == data[i * nine:(i + 1) * nine], "range %d: wrong bytes" % i
        assert time.monotonic() - t0 < 10, "the 10-second leads were paced"
        # the rest of the file asked for: cut to the ~6 s the minute has
        # left (a shorter 206), not more
        r = expect(s.get("/stream/" + o["id"], {"Range": "bytes=%d-" % (6 * nine)}), 206, what="last range")
        cr = r.header("Content-Range")
        first, last, total = map(int, re.match(r"bytes (\d+)-(\d+)/(\d+)$", cr).groups())
        assert first == 6 * nine and total == len(data), cr
        minute = m["bitrate"] * 60 // 8
        assert abs((last + 1) - minute) <= 64, "cut at %s, want ~%d bytes (60 s)" % (cr, minute)
        assert r.body == data[first:last + 1]
        # the next range: refused, with Retry-After, in every format
        r = expect(s.get("/stream/" + o["id"], dict(JSON, Range="bytes=%d-" % (last + 1))), 429,
                   what="range past the quota")
        ra = int(r.header("Retry-After"))
        assert 0 < ra <= 60, "Retry-After %r" % ra
        assert r.json()["reason"] == "stream-quota", r.json()
        r = expect(s.get("/stream/" + o["id"], {"Accept": "text/html", "Range": "bytes=0-99"}), 429)
        assert r.header("Content-Type").startswith("text/html") and "premium" in r.text
        r = expect(s.get("/stream/" + o["id"], {"Range": "bytes=0-99"}), 429)
        assert r.header("Content-Type").startswith("text/plain") and "minutes of streaming" in r.text
        # the JSON says so too
        q = expect(s.file_obj(o["id"]), 200).json()["stream"]["quota"]
        assert 0 < q["retry_after"] <= 60 and q["left_seconds"] == 0, q
        # and `partage info`
        r = run_partage(s.url, tmp, "info", o["url"])
        assert r.returncode == 0, r.stderr
        q = json.loads(r.stdout)["stream"]["quota"]
        assert 0 < q["retry_after"] <= 60 and q["minutes"] == 1, q
        # downloads keep their own rules
        r = expect(s.get(s.dl_path(o)), 200, what="download past the stream quota")
        assert r.body == data
        # a free account from the same address is refused too (the
        # address counts)
        free = quota_new_user(s)
        expect(s.get("/stream/" + o["id"], dict(free, Range="bytes=0-99")), 429, what="free account")
        # premium: unlimited, the whole file at once
        prem = quota_new_user(s, "premium")
        r = expect(s.get("/stream/" + o["id"], dict(prem, Range="bytes=0-")), 206, what="premium")
        assert r.body == data
        j = expect(s.get("/api/v1/files/" + o["id"], dict(prem, **JSON)), 200).json()
        assert j["stream"]["quota"] is None, j["stream"]
