"""The pages' QR codes and file-type icons (issue 17, web3).

GET /qr/{id} draws the QR code of a live file's own link (PUBLIC_URL/ID)
as SVG: the content type and the headers of an image that runs nothing,
a real QR code (three finder patterns, the version its link's length
needs), nothing for text that is not one of our links (unknown, malformed
or deleted ids; no query that names a URL), and cached (public, an ETag,
304 on If-None-Match).  The file page shows the code; the file and folder
pages show the type icon of each file with its kind as text, in the
page's language, from one sprite in the page."""

import io
import json
import re
import xml.etree.ElementTree as ET
import zipfile

import harness
from harness import expect

HTML = {"Accept": "text/html"}
JSON = {"Accept": "application/json"}
SVG_NS = "{http://www.w3.org/2000/svg}"


def qr_matrix(svg):
    """The module matrix an SVG of /qr draws: (side, set of dark (x, y))."""
    root = ET.fromstring(svg)
    assert root.tag == SVG_NS + "svg", root.tag
    vb = root.get("viewBox").split()
    assert vb[:2] == ["0", "0"] and vb[2] == vb[3], vb
    side = int(vb[2]) - 8  # the quiet zone: 4 modules each side
    path = root.find(SVG_NS + "path")
    dark = set()
    runs = re.findall(r"M(\d+),(\d+)h(\d+)v1h-(\d+)z", path.get("d"))
    assert "".join("M%s,%sh%sv1h-%sz" % r for r in runs) == path.get("d"), "a path of runs only"
    for x, y, n, n2 in runs:
        assert n == n2
        for i in range(int(n)):
            dark.add((int(x) - 4 + i, int(y) - 4))
    assert all(0 <= x < side and 0 <= y < side for x, y in dark), "nothing drawn in the quiet zone"
    return side, dark


def finder_at(dark, x0, y0):
    """The 7x7 finder pattern: a dark ring, a light ring, a dark 3x3."""
    for y in range(7):
        for x in range(7):
            ring = max(abs(x - 3), abs(y - 3))
            if ((x0 + x, y0 + y) in dark) != (ring != 2):
                return False
    return True


def test_qr_is_an_svg_of_the_file_link(srv):
    f = srv.upload("qr-me.txt", b"scan me\n")
    r = expect(srv.get("/qr/" + f["id"]), 200)
    assert r.header("Content-Type") == "image/svg+xml", r.header("Content-Type")
    assert r.header("X-Content-Type-Options") == "nosniff"
    assert "default-src 'none'" in (r.header("Content-Security-Policy") or ""), r.header("Content-Security-Policy")
    side, dark = qr_matrix(r.body)
    # the link's length sets the version (byte mode, level M): 17 + 4v
    n = len(f["url"].encode())
    caps = [14, 26, 42, 62, 84, 106, 122, 152, 180, 213]  # versions 1..10, level M, bytes
    version = next(v for v, c in enumerate(caps, 1) if n <= c)
    assert side == 17 + 4 * version, (f["url"], side, version)
    for x0, y0 in [(0, 0), (side - 7, 0), (0, side - 7)]:
        assert finder_at(dark, x0, y0), "no finder pattern at (%d, %d)" % (x0, y0)
    # another file, another code
    g = srv.upload("qr-other.txt", b"other\n")
    assert qr_matrix(expect(srv.get("/qr/" + g["id"]), 200).body)[1] != dark


def test_qr_refuses_what_is_not_one_of_our_links(srv):
    f = srv.upload("qr-gone.txt", b"bye\n")
    for path in ["/qr/AAAAAAAAAAAA", "/qr/short", "/qr/" + f["id"] + "x", "/qr",
                 "/qr?u=https%3A%2F%2Fevil.example%2F", "/qr/?u=https%3A%2F%2Fevil.example%2F",
                 "/qr/https%3A%2F%2Fevil.example"]:
        r = srv.get(path, JSON)
        assert r.status in (400, 404, 405), (path, r)
        assert not (r.header("Content-Type") or "").startswith("image/"), (path, r)
    r = srv.get("/qr/AAAAAAAAAAAA", JSON)
    assert r.json()["error"].startswith("not found"), r
    expect(srv.request("DELETE", "/" + f["id"], headers={"X-Delete-Token": f["delete_token"]}), 200, 204)
    assert srv.get("/qr/" + f["id"], JSON).status == 410
    # a query never changes what is drawn: always the file's own link
    fid = srv.upload("qr-q.txt", b"q\n")["id"]
    plain = expect(srv.get("/qr/" + fid), 200).body
    assert expect(srv.get("/qr/%s?u=https://evil.example/&text=hello" % fid), 200).body == plain


def test_qr_is_cached(srv):
    f = srv.upload("qr-cache.txt", b"cache\n")
    r1 = expect(srv.get("/qr/" + f["id"]), 200)
    cc = r1.header("Cache-Control") or ""
    assert "public" in cc and re.search(r"max-age=\d{4,}", cc), cc
    etag = r1.header("ETag")
    assert etag and etag.startswith('"') and etag.endswith('"'), etag
    r2 = expect(srv.get("/qr/" + f["id"]), 200)
    assert r2.header("ETag") == etag and r2.body == r1.body
    r3 = srv.get("/qr/" + f["id"], {"If-None-Match": etag})
    assert r3.status == 304 and r3.body == b"", r3
    assert r3.header("ETag") == etag and "public" in (r3.header("Cache-Control") or "")
    assert srv.get("/qr/" + f["id"], {"If-None-Match": '"other"'}).status == 200
    g = srv.upload("qr-cache2.txt", b"cache2\n")
    assert expect(srv.get("/qr/" + g["id"]), 200).header("ETag") != etag


def icon(label, kind):
    return '<svg class="icon" role="img" aria-label="%s"><use href="#i-%s"/></svg>' % (label, kind)


def zip_bytes():
    b = io.BytesIO()
    with zipfile.ZipFile(b, "w") as z:
        z.writestr("a.txt", "a" * 100)
    return b.getvalue()


PNG = bytes.fromhex("89504e470d0a1a0a0000000d4948445200000001000000010806000000"
                    "1f15c4890000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082")


def test_file_page_shows_its_qr_code_and_type_icon(srv):
    cases = [("notes.txt", b"just text\n" * 20, "Text", "Texte", "text"),
             ("r.pdf", b"%PDF-1.4\n" + b"x" * 500, "PDF document", "Document PDF", "document"),
             ("a.zip", zip_bytes(), "Archive", "Archive", "archive"),
             ("p.png", PNG, "Image", "Image", "image"),
             ("blob.bin", bytes([0x8f, 0x12, 0xa3, 0x00, 0x7e, 0x99]) * 200, "File", "Fichier", "file")]
    for name, data, en, fr, kind in cases:
        f = srv.upload(name, data)
        for lang, label in [("en", en), ("fr", fr)]:
            t = expect(srv.get("/" + f["id"], dict(HTML, **{"Accept-Language": lang})), 200).text
            assert icon(label, kind) in t, (name, lang, f.get("mime"), re.findall(r'<svg class="icon"[^>]*>', t))
            assert '<symbol id="i-%s"' % kind in t, "the sprite is in the page"
            assert re.search(r'<img src="/qr/%s" width="144" height="144" alt="[^"]+">' % f["id"], t), t
        fr_page = srv.get("/" + f["id"], dict(HTML, **{"Accept-Language": "fr"})).text
        assert 'alt="Code QR du lien de cette page"' in fr_page


def test_folder_page_shows_type_icons(srv):
    body = json.dumps({"name": "icons_%d" % id(srv), "password": "correct horse battery"}).encode()
    jh = {"Content-Type": "application/json", "Accept": "application/json"}
    expect(srv.request("POST", "/api/v1/users", body=body, headers=jh), 201)
    auth = dict(jh, Authorization="Bearer " + expect(srv.request(
        "POST", "/api/v1/tokens", body=body, headers=jh), 201).json()["token"])
    top = expect(srv.request("POST", "/api/v1/folders", body=json.dumps(
        {"name": "Vacances", "shared": True}).encode(), headers=auth), 201).json()
    expect(srv.request("POST", "/api/v1/folders", body=json.dumps(
        {"name": "Photos", "parent": top["id"], "shared": True}).encode(), headers=auth), 201)
    hdr = {"Authorization": auth["Authorization"], "Accept": "application/json"}
    expect(srv.request("PUT", "/carnet.txt?folder=" + top["id"], body=b"Jour 1\n" * 10, headers=hdr), 201)
    expect(srv.request("PUT", "/photos.zip?folder=" + top["id"], body=zip_bytes(), headers=hdr), 201)
    t = expect(srv.get("/folder/" + top["id"], dict(HTML, **{"Accept-Language": "fr"})), 200).text
    assert re.search(r'<li class=folder>%s<a href="/folder/\w+">Photos/</a>' % re.escape(icon("Dossier", "folder")), t), t
    assert re.search(r'<li class=file>%s<a href="/\w+">carnet.txt</a>' % re.escape(icon("Texte", "text")), t), t
    assert re.search(r'<li class=file>%s<a href="/\w+">photos.zip</a>' % re.escape(icon("Archive", "archive")), t), t
    assert '<symbol id="i-folder"' in t
