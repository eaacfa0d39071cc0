"""Content-Disposition (RFC 6266, RFC 8187; docs/conformance/http-downloads.md D1-D6;
docs/conformance/curl.md K5)
and the active-content policy."""

import re
import subprocess
import urllib.parse

from harness import expect, quote, RawConn

CONFIG = ""

ATTR_CHARS = set(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789!#$&+-.^_`|~")


def parse_cd(v):
    """'attachment; filename="a b"; filename*=UTF-8''x' → ('attachment', [(k, v), ...])."""
    assert v, "no Content-Disposition"
    assert "\r" not in v and "\n" not in v, "CR/LF in Content-Disposition %r" % v
    i = 0
    m = re.match(r"\s*([A-Za-z0-9!#$%&'*+.^_`|~-]+)\s*", v)
    assert m, "bad disposition type in %r" % v
    typ = m.group(1).lower()
    i = m.end()
    params = []
    while i < len(v):
        assert v[i] == ";", "expected ';' at %d in %r" % (i, v)
        i += 1
        m = re.compile(r"\s*([A-Za-z0-9!#$%&'*+.^_`|~-]+)\s*=\s*").match(v, i)
        assert m, "bad parameter at %d in %r" % (i, v)
        key = m.group(1).lower()
        i = m.end()
        if i < len(v) and v[i] == '"':
            j = i + 1
            val = ""
            while True:
                assert j < len(v), "unterminated quoted-string in %r" % v
                c = v[j]
                if c == "\\":
                    val += v[j + 1]
                    j += 2
                    continue
                if c == '"':
                    j += 1
                    break
                val += c
                j += 1
            params.append((key, val, True))
            i = j
        else:
            m = re.compile(r"[^;\s]*").match(v, i)
            params.append((key, m.group(0), False))
            i = m.end()
        m = re.compile(r"\s*").match(v, i)
        i = m.end()
    keys = [k for k, _, _ in params]
    assert len(keys) == len(set(keys)), "D5: a parameter appears twice in %r" % v
    return typ, params


def ext_value(name):
    """The exact RFC 8187 encoding for filename* (every non-attr-char escaped)."""
    return "UTF-8''" + "".join(chr(b) if b in ATTR_CHARS else "%%%02X" % b for b in name.encode("utf-8"))


def check_ext(value, name):
    """filename* value equals the exact RFC 8187 encoding (hex case-insensitive)."""
    m = re.fullmatch(r"(?i:utf-8)'[A-Za-z0-9-]*'(.*)", value)
    assert m, "filename* %r does not start with UTF-8''" % value
    enc = m.group(1)
    for c in enc:
        assert c == "%" or c.isalnum() or ord(c) in ATTR_CHARS, "D4: %r must be percent-encoded in %r" % (c, value)
    assert urllib.parse.unquote_to_bytes(enc) == name.encode("utf-8"), \
        "filename* decodes to %r, not %r" % (urllib.parse.unquote_to_bytes(enc), name)
    assert enc.upper() == ext_value(name)[7:].upper(), "filename*=%r, want %r" % (value, ext_value(name))


def check_fallback(fb):
    # D5: ASCII, no controls, no quote/backslash/slash, no %XX
    assert all(0x20 <= ord(c) < 0x7f for c in fb), "D5: fallback filename %r is not printable ASCII" % fb
    for c in '"\\/':
        assert c not in fb, "D5: fallback filename %r contains %r" % (fb, c)
    assert not re.search(r"%[0-9A-Fa-f]{2}", fb), "D2: fallback filename %r contains a %%XX sequence" % fb


def download_cd(srv, name, data=b"plain text content\n"):
    o = srv.upload(name, data)
    r = expect(srv.get(srv.dl_path(o)), 200)
    return o, r, parse_cd(r.header("Content-Disposition"))


def test_ascii_name_inline(srv):
    # D1/D2: safe type inline, quoted filename
    o, r, (typ, params) = download_cd(srv, "report 2024.txt")
    assert typ == "inline", "text/plain should be inline, got %r" % typ
    assert params[0][0] == "filename", params
    assert params[0][1] == "report 2024.txt" and params[0][2], \
        "D2: expected filename=\"report 2024.txt\" (quoted), got %r" % (params,)
    for k, v, _ in params:
        if k == "filename*":
            check_ext(v, "report 2024.txt")


def test_utf8_name_k5(srv):
    # K5 / D3: résumé €.pdf → filename first, then filename*=UTF-8''r%C3%A9sum%C3%A9%20%E2%82%AC.pdf
    name = "résumé €.pdf"
    o, r, (typ, params) = download_cd(srv, name)
    assert o["name"] == name
    assert o["download_url"].endswith("/" + quote(name)), "K5: download_url not path-escaped: %r" % o["download_url"]
    keys = [k for k, _, _ in params]
    assert keys[:2] == ["filename", "filename*"], "D3: want filename then filename*, got %r" % keys
    check_fallback(params[0][1])
    assert params[1][1].upper() == "UTF-8''R%C3%A9SUM%C3%A9%20%E2%82%AC.PDF".upper(), params[1][1]
    check_ext(params[1][1], name)
    # the same through the share URL
    r2 = expect(srv.get("/" + o["id"]), 200)
    assert r2.header("Content-Disposition") == r.header("Content-Disposition")


def test_euro_rates(srv):
    # D3 example from RFC 6266
    o, r, (typ, params) = download_cd(srv, "€ rates")
    d = dict((k, v) for k, v, _ in params)
    check_ext(d["filename*"], "€ rates")
    check_fallback(d["filename"])
    assert "rates" in d["filename"], "fallback %r lost the ASCII part" % d["filename"]


def test_rfc8187_test_vector(srv):
    # D4: every byte that is not an attr-char is percent-encoded, attr-chars are kept
    name = "é a'b*c%d(e)f,g;h\"i!#$&+-.^_`|~z.txt"
    o, r, (typ, params) = download_cd(srv, name)
    d = dict((k, v) for k, v, _ in params)
    stored = o["name"]
    assert "filename*" in d, "non-ASCII name without filename*: %r" % r.header("Content-Disposition")
    check_ext(d["filename*"], stored)
    assert stored == name, "name changed on upload: %r" % stored
    check_fallback(d["filename"])


def test_fallback_sanitised(srv):
    # D5: quotes, backslashes, controls, path components, %XX never in filename=
    for name in ('quo"te.txt', "a%41b.txt", "tab\tname.txt", "dir\\sub\\file.txt"):
        o = srv.put(name, b"sanitise me\n", {"Accept": "application/json"})
        if o.status == 400:
            continue  # refusing the name is fine too
        expect(o, 201, what="PUT %r" % name)
        obj = o.json()
        r = expect(srv.get(srv.dl_path(obj)), 200)
        typ, params = parse_cd(r.header("Content-Disposition"))
        d = dict((k, v) for k, v, _ in params)
        check_fallback(d["filename"])
        if "filename*" in d:
            check_ext(d["filename*"], obj["name"])
        assert "\t" not in obj["name"], "control byte kept in the stored name %r" % obj["name"]
        assert "/" not in obj["name"] and "\\" not in obj["name"], "path kept in %r" % obj["name"]


def test_active_types_attachment(srv):
    # D6 + design: HTML, SVG, XML, JS are attachments; nosniff and CSP sandbox
    cases = [
        ("page.html", b"<!DOCTYPE html><html><head><title>x</title></head><body><script>alert(1)</script></body></html>\n"),
        ("trick.txt", b"<!DOCTYPE html><html><body><script>alert(1)</script></body></html>\n"),
        ("image.svg", b'<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><script>alert(1)</script></svg>\n'),
        ("doc.xml", b'<?xml version="1.0"?>\n<root><a>1</a></root>\n'),
        ("app.js", b"#!/usr/bin/env node\nconsole.log(document.cookie);\n"),
    ]
    for name, data in cases:
        o, r, (typ, params) = download_cd(srv, name, data)
        assert typ == "attachment", "%s served as %r (mime %s): must be attachment" % (name, typ, o["mime"])
        assert r.header("X-Content-Type-Options", "").lower() == "nosniff"
        assert r.header("Content-Security-Policy", "").lower().startswith("sandbox")


def test_safe_types_inline(srv):
    png = bytes.fromhex("89504e470d0a1a0a0000000d4948445200000001000000010806000000"
                        "1f15c4890000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082")
    for name, data in (("pic.png", png), ("readme.txt", b"hello\n")):
        o, r, (typ, params) = download_cd(srv, name, data)
        assert typ == "inline", "%s (%s) should be inline, got %r" % (name, o["mime"], typ)


def test_crlf_name_no_header_injection(srv):
    # a CR/LF in the name never reaches a header
    with RawConn(srv.port) as c:
        c.send(b"PUT /evil%0D%0AX-Injected:%201%0D%0A.txt HTTP/1.1\r\nHost: x\r\nAccept: application/json\r\n"
               b"Content-Length: 4\r\n\r\nevil")
        r = c.read_response("PUT")
    if r.status == 400:
        return
    expect(r, 201)
    obj = r.json()
    assert "\r" not in obj["name"] and "\n" not in obj["name"], "CR/LF stored in the name %r" % obj["name"]
    with RawConn(srv.port) as c:
        c.send(("GET /%s HTTP/1.1\r\nHost: x\r\n\r\n" % obj["id"]).encode())
        g = c.read_response()
    assert g.status == 200
    assert g.header("X-Injected") is None and b"\r\nX-Injected" not in g.raw_head, \
        "header injection through the file name: %r" % g.raw_head
    parse_cd(g.header("Content-Disposition"))


def test_curl_remote_header_name(srv, tmp):
    # curl -OJ saves under the Content-Disposition name
    o = srv.upload("saved by curl.txt", b"curl -OJ\n")
    out = subprocess.run(["curl", "-sS", "-f", "-O", "-J", srv.url + "/" + o["id"]],
                         capture_output=True, cwd=tmp, timeout=30)
    assert out.returncode == 0, out.stderr
    import os
    assert os.listdir(tmp) == ["saved by curl.txt"], "curl -OJ saved %r" % os.listdir(tmp)
