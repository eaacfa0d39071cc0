"""Thumbnails and text previews (issue 16): the media queue makes a JPEG
thumbnail of every probed video and image (MP4 fast-start and moov-at-end,
WebM, PNG, JPEG made by ffmpeg here), served at /thumb/{id} with an ETag
(304 on If-None-Match) and shown in the file's JSON (thumbnail_url), the
file page (the video's poster, the image), og:image / twitter:image,
oEmbed and folder pages; a corrupt file, a decompression bomb and audio
get none and the server stays up; a password-protected link's thumbnail
wants the password, a deleted link's is gone; gc removes the derived blob
with its source; text files get an escaped preview on their page."""

import json
import re
import shutil
import struct
import urllib.parse
import zlib

from harness import expect, rand_bytes, run_partage, wait_until, Server, Skip
from test_80_media import ffmpeg, media, probed, quota_new_user

JSON = {"Accept": "application/json"}
HTML = {"Accept": "text/html"}
CONFIG = """\
[tier.anonymous]
wait_seconds = 0
stream_minutes = 0
"""
_BIG = {}


def big_png():
    """A 1000×500 PNG (made once): larger than the 640 box."""
    if not _BIG:
        if not shutil.which("ffmpeg"):
            raise Skip("no ffmpeg (scripts/install-deps.sh installs it)")
        import tempfile
        import os
        d = tempfile.mkdtemp(prefix="thumbs-")
        try:
            ffmpeg("-f", "lavfi", "-i", "testsrc=size=1000x500", "-frames:v", "1", d + "/big.png")
            with open(d + "/big.png", "rb") as f:
                _BIG["big.png"] = f.read()
        finally:
            shutil.rmtree(d, ignore_errors=True)
    return _BIG["big.png"]


def png_bomb(w, h):
    """A PNG whose header says w × h, with a few bytes of pixels."""
    def chunk(t, d):
        return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d) & 0xffffffff)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)) +
            chunk(b"IDAT", zlib.compress(b"\0" * 4096)) + chunk(b"IEND", b""))


def jpeg_size(b):
    """(width, height) from a JPEG's SOF marker; asserts the magic."""
    assert b[:3] == b"\xff\xd8\xff", "not a JPEG: %r" % b[:8]
    assert b[-2:] == b"\xff\xd9", "a JPEG without its end: %r" % b[-8:]
    i = 2
    while i + 9 < len(b):
        assert b[i] == 0xff, "bad marker at %d" % i
        m = b[i + 1]
        n = struct.unpack(">H", b[i + 2:i + 4])[0]
        if m in (0xc0, 0xc1, 0xc2, 0xc3):
            h, w = struct.unpack(">HH", b[i + 5:i + 9])
            return w, h
        i += 2 + n
    raise AssertionError("no SOF marker in the JPEG")


def thumbed(srv, fid, query="", timeout=30.0):
    """The file object once the thumbnailer has been at it (or its probe
    found no picture)."""
    out = {}

    def done():
        r = expect(srv.get("/api/v1/files/%s%s" % (fid, query), JSON), 200, what="GET file %s" % fid)
        o = out["o"] = r.json()
        m = o.get("media", {})
        if m.get("probe") in (None, "pending"):
            return False
        return m.get("probe") != "done" or m.get("kind") == "audio" or \
            m.get("thumbnail") in ("done", "failed")
    assert wait_until(done, timeout=timeout), "thumbnail of %s still pending: %r" % (fid, out.get("o"))
    return out["o"]


def get_thumb(srv, o, query="", headers=None):
    r = expect(srv.get("/thumb/%s%s" % (o["id"], query), headers), 200, what="GET /thumb/%s" % o["id"])
    assert r.header("Content-Type") == "image/jpeg", r.headers.items()
    return r


# -------------------------------------------------------------- thumbnails

def test_thumbnail_every_format(srv):
    files = media()
    want = {"fast.mp4": (320, 240), "end.mp4": (320, 240), "clip.webm": (160, 120),
            "still.png": (64, 48), "still.jpg": (64, 48), "big.png": (640, 320)}
    blobs = dict(files, **{"big.png": big_png()})
    objs = {n: srv.upload(n, blobs[n]) for n in want}
    for n, o in objs.items():
        got = thumbed(srv, o["id"])
        assert got["media"]["thumbnail"] == "done", "%s: %r" % (n, got["media"])
        assert got["thumbnail_url"] == "%s/thumb/%s" % (srv.url, o["id"]), got
        r = get_thumb(srv, o)
        assert jpeg_size(r.body) == want[n], "%s: thumbnail %r, want %r" % (n, jpeg_size(r.body), want[n])
        assert re.fullmatch(r'"[0-9a-f]{64}"', r.header("ETag") or ""), r.header("ETag")
        assert r.header("Cache-Control") == "public, max-age=3600", r.header("Cache-Control")
        h = expect(srv.head("/thumb/" + o["id"]), 200)
        assert h.header("Content-Length") == str(len(r.body)) and not h.body
    # moov first or last, the same frame
    a = get_thumb(srv, objs["fast.mp4"]).body
    b = get_thumb(srv, objs["end.mp4"]).body
    assert a == b, "moov-first and moov-last thumbnails differ"
    # audio: no picture, no thumbnail
    t = srv.upload("tone.mp3", files["tone.mp3"])
    got = thumbed(srv, t["id"])
    assert got["thumbnail_url"] is None and "thumbnail" not in got["media"], got
    r = expect(srv.get("/thumb/" + t["id"], JSON), 404)
    assert r.json()["reason"] == "no-thumbnail", r.json()


def test_cli_info_shows_thumbnail_url(srv, tmp):
    o = srv.upload("still.png", media()["still.png"])
    thumbed(srv, o["id"])
    r = run_partage(srv.url, tmp, "info", o["url"])
    assert r.returncode == 0, r.stderr
    out = r.stdout.decode() if isinstance(r.stdout, bytes) else r.stdout
    line = '"thumbnail_url": "%s/thumb/%s"' % (srv.url, o["id"])
    assert any(x.strip().rstrip(",") == line for x in out.splitlines()), out


def test_thumbnail_conditional(srv):
    o = srv.upload("still.jpg", media()["still.jpg"])
    thumbed(srv, o["id"])
    r = get_thumb(srv, o)
    etag = r.header("ETag")
    r2 = expect(srv.get("/thumb/" + o["id"], {"If-None-Match": etag}), 304)
    assert not r2.body and r2.header("ETag") == etag, r2
    expect(srv.get("/thumb/" + o["id"], {"If-None-Match": '"' + "0" * 64 + '"'}), 200)


def test_corrupt_and_bomb_no_thumbnail_server_up(srv):
    files = media()
    for n in ("truncated.mp4", "random.mp4"):
        o = srv.upload(n, files[n])
        got = thumbed(srv, o["id"])
        assert got["media"]["probe"] == "failed" and got["thumbnail_url"] is None, got
    # a PNG whose pixels are junk: probed (its header is fine), no thumbnail
    png = files["still.png"]
    at = png.index(b"IDAT") + 8
    bad = png[:at] + rand_bytes(len(png) - at - 12, seed=86) + png[-12:]
    o = srv.upload("junk.png", bad)
    got = thumbed(srv, o["id"])
    assert got["thumbnail_url"] is None, got
    # a bomb: 20000 × 20000 declared, refused before decoding
    o = srv.upload("bomb.png", png_bomb(20000, 20000))
    got = thumbed(srv, o["id"])
    assert got["thumbnail_url"] is None, got
    if got["media"]["probe"] == "done":
        assert got["media"]["thumbnail"] == "failed", got["media"]
    expect(srv.get("/thumb/" + o["id"], JSON), 404)
    assert srv.alive(), "partaged died on a corrupt file"
    expect(srv.get("/healthz"), 200)
    # and the queue goes on
    o = srv.upload("after.jpg", files["still.jpg"] + b"\0")
    assert thumbed(srv, o["id"])["media"]["thumbnail"] == "done"


def test_link_state_password_and_deleted(srv):
    png = media()["still.png"]
    o = srv.upload("secret.png", png, {"X-Partage-Password": "thumb pw"})
    got = thumbed(srv, o["id"], "?password=thumb%20pw")
    assert got["thumbnail_url"] == "%s/thumb/%s" % (srv.url, o["id"]), got
    # without the password: nothing (nor in the JSON)
    expect(srv.get("/thumb/" + o["id"], JSON), 401)
    expect(srv.get("/thumb/%s?password=wrong" % o["id"], JSON), 401)
    j = expect(srv.get("/api/v1/files/" + o["id"], JSON), 200).json()
    assert "thumbnail_url" not in j, j
    r = get_thumb(srv, o, "?password=thumb%20pw")
    assert jpeg_size(r.body) == (64, 48)
    assert r.header("Cache-Control").startswith("private"), r.header("Cache-Control")
    # its page shows no og:image to whoever has not the password
    page = expect(srv.get("/" + o["id"], HTML), 401).text
    assert "og:image" not in page and "/thumb/" not in page, "a protected page shows its thumbnail"
    # a deleted link: gone
    d = srv.upload("gone.png", png)
    thumbed(srv, d["id"])
    expect(srv.delete("/" + d["id"], {"X-Delete-Token": d["delete_token"]}), 204)
    expect(srv.get("/thumb/" + d["id"], JSON), 410)


# ---------------------------------------------------------------- pages

def test_pages_poster_og_oembed_folder(srv):
    files = media()
    v = srv.upload("fast.mp4", files["fast.mp4"])
    i = srv.upload("still.png", files["still.png"])
    for o in (v, i):
        thumbed(srv, o["id"])
    page = expect(srv.get("/" + v["id"], HTML), 200).text
    assert re.search(r'<video id="player"[^>]* poster="/thumb/%s"' % v["id"], page), \
        re.findall(r"<video[^>]*>", page)
    turl = "%s/thumb/%s" % (srv.url, v["id"])
    for prop, val in (("og:image", turl), ("og:image:width", "320"), ("og:image:height", "240"),
                      ("twitter:image", turl)):
        assert re.search(r'<meta (?:property|name)="%s" content="%s">' % (re.escape(prop), re.escape(val)),
                         page), "no %s=%s in the page head" % (prop, val)
    page = expect(srv.get("/" + i["id"], HTML), 200).text
    assert re.search(r'<img id="thumb" src="/thumb/%s" width="64" height="48"' % i["id"], page), page
    assert 'name="twitter:card" content="summary_large_image"' in page
    url = urllib.parse.quote(srv.url + "/" + v["id"], safe="")
    j = expect(srv.get("/api/v1/oembed?url=" + url, JSON), 200).json()
    assert j["thumbnail_url"] == turl and (j["thumbnail_width"], j["thumbnail_height"]) == (320, 240), j
    # a folder page: a card per file with its thumbnail
    auth = quota_new_user(srv)
    f = expect(srv.request("POST", "/api/v1/folders", body=json.dumps({"name": "pics", "shared": True}).encode(),
                           headers=dict(JSON, **auth)), 201).json()
    fo = srv.upload("in.png", files["still.png"], dict(auth, **{"X-Partage-Folder": f["id"]}))
    thumbed(srv, fo["id"])
    page = expect(srv.get("/folder/" + f["id"], HTML), 200).text
    assert re.search(r'<img class=thumb src="/thumb/%s" width=\d+ height=\d+' % fo["id"], page), page
    # /api/v1/me/files lists it with its thumbnail_url
    mine = expect(srv.get("/api/v1/me/files?folder=" + f["id"], dict(JSON, **auth)), 200).json()
    got = [x for x in mine["files"] if x["id"] == fo["id"]]
    assert got and got[0]["thumbnail_url"] == "%s/thumb/%s" % (srv.url, fo["id"]), mine


def test_text_preview_escaped(srv):
    text = b"<script>alert('x')</script> & \x1b[31mred\r\n\xe2\x80\xaeevil\n" + b"line\n" * 2000
    o = srv.upload("evil.txt", text)
    page = expect(srv.get("/" + o["id"], HTML), 200).text
    m = re.search(r'<pre id="text-preview"[^>]*>(.*?)</pre>', page, re.S)
    assert m, "no text preview on the page"
    pre = m.group(1)
    assert pre.startswith("&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; \u241b[31mred\n\ufffdevil\n"), pre[:200]
    assert "<script>alert" not in page
    assert len(pre.encode()) < 6000 and pre.endswith("\u2026"), len(pre)
    # not UTF-8: no preview
    o = srv.upload("latin.txt", "caf\u00e9 cr\u00e8me\n".encode("latin-1") * 10)
    page = expect(srv.get("/" + o["id"], HTML), 200).text
    assert 'id="text-preview"' not in page
    # not text: no preview
    o = srv.upload("b.bin", rand_bytes(5000, seed=3))
    assert 'id="text-preview"' not in expect(srv.get("/" + o["id"], HTML), 200).text


# ------------------------------------------------------------------- gc

def test_gc_removes_thumbnail_with_source(tmp):
    with Server(CONFIG) as s:
        o = s.upload("gc.png", big_png())
        thumbed(s, o["id"])
        th = get_thumb(s, o).header("ETag").strip('"')
        src = o["sha256"]
        try:
            src_path, th_path = s.blob_path(src), s.blob_path(th)
        except Skip:
            src_path = th_path = None
        import os
        if th_path:
            assert os.path.exists(th_path) and os.path.exists(src_path)
        # a gc pass while the source lives keeps the thumbnail
        p = s.admin("gc")
        assert p.returncode == 0, p.stdout + p.stderr
        get_thumb(s, o)
        if th_path:
            assert os.path.exists(th_path), "gc reaped a thumbnail whose source lives"
        p = s.admin("fsck", "--full")
        assert p.returncode == 0 and re.search(r"\b0 problems\b", p.stdout), p.stdout + p.stderr
        expect(s.delete("/" + o["id"], {"X-Delete-Token": o["delete_token"]}), 204)
        p = s.admin("gc")
        assert p.returncode == 0, p.stdout + p.stderr
        if th_path:
            assert not os.path.exists(src_path), "gc left the source"
            assert not os.path.exists(th_path), "gc left the thumbnail of a reaped source"
        # whatever the backend: no blob row is left that nothing names (a
        # thumbnail outliving its source would be one)
        p = s.admin("gc", "--dry-run")
        m = re.search(r"(\d+) blobs removed", p.stdout)
        assert p.returncode == 0 and m and m.group(1) == "0", p.stdout + p.stderr
        p = s.admin("fsck")
        assert p.returncode == 0 and re.search(r"\b0 problems\b", p.stdout), p.stdout + p.stderr
        # the same bytes again: a new thumbnail
        o2 = s.upload("again.png", big_png())
        assert thumbed(s, o2["id"])["media"]["thumbnail"] == "done"
        get_thumb(s, o2)


def test_scan_pending_holds_thumbnail_and_preview(tmp):
    """With scan.pending_downloads = 0 a file not yet scanned shows neither
    its thumbnail nor its text (its bytes are held back: 409)."""
    nowhere = "/nonexistent/partage-test/clamd.sock"  # never scanned
    with Server(CONFIG + "[scan]\nclamd = %s\npending_downloads = 0\n" % nowhere) as s:
        o = s.upload("held.png", media()["still.png"])
        got = thumbed(s, o["id"])
        assert got["scan"] == "pending" and got["media"]["thumbnail"] == "done", got
        r = expect(s.get("/thumb/" + o["id"], JSON), 409)
        assert r.header("Retry-After"), r
        t = s.upload("held.txt", b"secret words\n")
        page = expect(s.get("/" + t["id"], HTML), 200).text
        assert 'id="text-preview"' not in page and "secret words" not in page
