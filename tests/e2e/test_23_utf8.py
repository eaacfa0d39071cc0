"""Text that is not UTF-8 is refused where it enters (400 with the reason),
on every backend alike (PostgreSQL would refuse it, SQLite would store
it): file names of a PUT, of a multipart part, of tus Upload-Metadata,
renames and JSON bodies.  Control characters in names are removed, not
refused (tus T31: sanitised, never echoed raw).  A valid name
with accents and CJK round-trips through the upload, the file object,
Content-Disposition (filename*) and the share page."""

import base64
import html
import json
import urllib.parse

from harness import expect, multipart

NAME = "résumé 日本.txt"
TUS = {"Tus-Resumable": "1.0.0"}


def put_raw(srv, segment, data=b"hello\n"):
    """PUT with a path segment given as raw bytes (percent-escaped here)."""
    path = "/" + urllib.parse.quote_from_bytes(segment, safe="")
    return srv.request("PUT", path, body=data, headers={"Accept": "application/json"})


def test_put_latin1_name_refused(srv):
    r = expect(put_raw(srv, "résumé.txt".encode("latin-1")), 400, what="PUT Latin-1 name")
    assert "the file name is not valid UTF-8 (byte 1)" in r.text, r.text
    for bad, why in ((b"over\xc0\xaflong.txt", "not valid UTF-8"),
                     (b"surrogate\xed\xa0\x80.txt", "not valid UTF-8"),
                     (b"big\xf4\x90\x80\x80.txt", "not valid UTF-8"),
                     (b"cut\xe6\x97", "not valid UTF-8")):
        r = expect(put_raw(srv, bad), 400, what="PUT %r" % bad)
        assert why in r.text, (bad, r.text)
        assert len(r.text.strip().splitlines()) == 1, r.text
    r = expect(put_raw(srv, b"tab\there\r\n.txt"), 201, what="PUT with control characters")
    assert r.json()["name"] == "tabhere.txt", r.json()


def test_utf8_name_round_trip(srv):
    o = srv.upload(NAME, b"bonjour\n")
    assert o["name"] == NAME, o
    assert expect(srv.file_obj(o["id"]), 200).json()["name"] == NAME
    r = expect(srv.get(srv.dl_path(o)), 200)
    cd = r.header("Content-Disposition")
    want = "filename*=UTF-8''" + urllib.parse.quote(NAME.encode("utf-8"), safe="")
    assert want.lower() in cd.lower(), cd
    assert r.body == b"bonjour\n"
    page = expect(srv.get("/" + o["id"], {"Accept": "text/html"}), 200)
    assert page.header("Content-Type", "").startswith("text/html")
    assert html.escape(NAME) in page.body.decode("utf-8"), page.body[:2000]


def test_multipart_filename(srv):
    body, ctype = multipart([("file", "x", b"data", None)])
    # the part's filename as raw Latin-1 bytes
    body = body.replace(b'filename="x"', b'filename="caf\xe9.txt"')
    r = srv.request("POST", "/api/v1/files", body=body,
                    headers={"Content-Type": ctype, "Accept": "application/json"})
    expect(r, 400, what="multipart with a Latin-1 filename")
    assert "the file name is not valid UTF-8 (byte 3)" in r.text, r.text
    r = expect(srv.post_files([("file", NAME, b"data", None)]), 201)
    assert r.json()["files"][0]["name"] == NAME, r.json()


def test_tus_metadata_filename(srv):
    def create(fname):
        meta = "filename " + base64.b64encode(fname).decode()
        return srv.request("POST", "/api/v1/uploads", body=b"",
                           headers=dict(TUS, **{"Upload-Length": "4", "Upload-Metadata": meta}))
    r = expect(create("été.bin".encode("latin-1")), 400, what="tus Latin-1 filename")
    assert "the filename in Upload-Metadata is not valid UTF-8" in r.text, r.text
    expect(create(b"a\nb.bin"), 201, what="tus filename with LF (sanitised)")
    loc = expect(create(NAME.encode()), 201).header("Location")
    path = urllib.parse.urlsplit(loc).path
    r = expect(srv.request("PATCH", path, body=b"abcd",
                           headers=dict(TUS, **{"Upload-Offset": "0",
                                                "Content-Type": "application/offset+octet-stream"})), 204)
    fid = r.header("X-Partage-Id")
    assert fid, "the completing PATCH names no file"
    assert expect(srv.file_obj(fid), 200).json()["name"] == NAME


def test_json_body_not_utf8(srv):
    r = srv.request("POST", "/api/v1/users", body=b'{"name": "caf\xe9", "password": "xxxxxxxxxx"}',
                    headers={"Content-Type": "application/json", "Accept": "application/json"})
    expect(r, 400, what="JSON body in Latin-1")
    assert "the JSON body is not valid UTF-8 (byte 13)" in json.loads(r.body)["error"], r.body
    r = srv.request("POST", "/api/v1/reports",
                    body=b'{"link": "x", "category": "other", "text": "\xff"}',
                    headers={"Content-Type": "application/json", "Accept": "application/json"})
    expect(r, 400, what="report in bad UTF-8")
    assert "not valid UTF-8" in r.text, r.text
