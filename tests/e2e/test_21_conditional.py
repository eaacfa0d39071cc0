"""Conditional requests (RFC 9110 §13; docs/conformance/http-downloads.md R1-R8, R22, R23)."""

import email.utils
import time

from harness import expect, rand_bytes, sha256

CONFIG = ""

DATA = rand_bytes(4096, seed=2121)
_cache = {}


def f(srv):
    """(download path, etag, last-modified epoch, Last-Modified text)."""
    if srv.url not in _cache:
        o = srv.upload("cond.bin", DATA)
        p = srv.dl_path(o)
        g = expect(srv.get(p), 200)
        lm_text = g.header("Last-Modified")
        assert lm_text, "no Last-Modified"
        lm = int(email.utils.parsedate_to_datetime(lm_text).timestamp())
        _cache[srv.url] = (p, '"%s"' % sha256(DATA), lm, lm_text, o)
    return _cache[srv.url]


def hdate(t):
    return email.utils.formatdate(t, usegmt=True)


def get(srv, hdrs, method="GET"):
    return srv.request(method, f(srv)[0], headers=hdrs)


def test_validators(srv):
    # R1: strong ETag of the sha256, Last-Modified = upload time
    p, etag, lm, lm_text, o = f(srv)
    assert lm == o["created"], "Last-Modified %s (%d) is not the upload time %d" % (lm_text, lm, o["created"])
    for m in ("GET", "HEAD"):
        r = expect(srv.request(m, p), 200)
        assert r.header("ETag") == etag, "%s ETag %r" % (m, r.header("ETag"))
        assert not r.header("ETag").startswith("W/"), "ETag should be strong"
        assert r.header("Last-Modified") == lm_text


def test_if_none_match(srv):
    # R3: weak comparison, '*', lists; 304 on GET and HEAD
    p, etag, lm, _, _ = f(srv)
    for v in (etag, "W/" + etag, "*", '"nope", ' + etag, '"a","b",%s' % etag):
        for m in ("GET", "HEAD"):
            r = get(srv, {"If-None-Match": v}, m)
            assert r.status == 304, "%s If-None-Match %r: expected 304, got %r" % (m, v, r)
    r = expect(get(srv, {"If-None-Match": '"nope"'}), 200, what="If-None-Match other tag")
    assert r.body == DATA
    r = expect(get(srv, {"If-None-Match": '"%s"' % sha256(b"other")}), 200)


def test_304_headers(srv):
    # R8: a 304 carries what a 200 would among ETag, Date, Vary, Content-Location,
    # Cache-Control, Expires; it has no body
    p, etag, _, _, _ = f(srv)
    g = expect(srv.get(p), 200)
    r = expect(get(srv, {"If-None-Match": etag}), 304)
    assert r.body == b"", "304 with a body"
    assert r.header("ETag") == etag, "304 ETag %r" % r.header("ETag")
    assert r.header("Date"), "304 without Date"
    for k in ("Vary", "Content-Location", "Cache-Control", "Expires"):
        if g.header(k) is not None:
            assert r.header(k) == g.header(k), "304 %s=%r, 200 has %r" % (k, r.header(k), g.header(k))


def test_if_modified_since(srv):
    # R4
    p, etag, lm, lm_text, _ = f(srv)
    expect(get(srv, {"If-Modified-Since": lm_text}), 304, what="IMS == Last-Modified")
    expect(get(srv, {"If-Modified-Since": lm_text}, "HEAD"), 304, what="HEAD IMS == Last-Modified")
    r = expect(get(srv, {"If-Modified-Since": hdate(lm - 3600)}), 200, what="IMS an hour before")
    assert r.body == DATA
    # ignored when If-None-Match is present
    expect(get(srv, {"If-None-Match": '"other"', "If-Modified-Since": lm_text}), 200,
           what="IMS must be ignored when If-None-Match is present")
    # ignored when invalid
    for bad in ("not a date", lm_text + ", " + lm_text, "2024-01-01T00:00:00Z"):
        expect(get(srv, {"If-Modified-Since": bad}), 200, what="invalid IMS %r" % bad)


def test_if_match(srv):
    # R5: strong comparison
    p, etag, _, _, _ = f(srv)
    for v in (etag, "*", '"x", ' + etag):
        r = expect(get(srv, {"If-Match": v}), 200, what="If-Match %r" % v)
        assert r.body == DATA
    for v in ('"nope"', "W/" + etag):
        expect(get(srv, {"If-Match": v}), 412, what="If-Match %r (strong comparison)" % v)
    expect(get(srv, {"If-Match": '"nope"'}, "HEAD"), 412, what="HEAD If-Match mismatch")


def test_if_unmodified_since(srv):
    # R6
    p, etag, lm, lm_text, _ = f(srv)
    expect(get(srv, {"If-Unmodified-Since": hdate(lm - 3600)}), 412, what="IUS before Last-Modified")
    expect(get(srv, {"If-Unmodified-Since": lm_text}), 200, what="IUS == Last-Modified")
    expect(get(srv, {"If-Unmodified-Since": hdate(lm + 86400)}), 200, what="IUS after Last-Modified")
    expect(get(srv, {"If-Match": etag, "If-Unmodified-Since": hdate(lm - 3600)}), 200,
           what="IUS must be ignored when If-Match is present")


def test_evaluation_order(srv):
    # R7: If-Match before If-None-Match; If-Unmodified-Since before If-None-Match
    p, etag, lm, lm_text, _ = f(srv)
    expect(get(srv, {"If-Match": '"nope"', "If-None-Match": etag}), 412, what="If-Match false + INM true")
    expect(get(srv, {"If-Unmodified-Since": hdate(lm - 3600), "If-None-Match": etag}), 412,
           what="IUS false + INM true")
    expect(get(srv, {"If-Match": etag, "If-None-Match": etag}), 304, what="If-Match true + INM false")


def test_conditionals_ignored_on_404(srv):
    # R7: requests that would get 404 ignore the conditionals
    for h in ({"If-None-Match": "*"}, {"If-Match": '"x"'}, {"If-Modified-Since": hdate(time.time() + 86400)}):
        expect(srv.get("/ZZZZZZZZZZZZ/none.bin", h), 404, what="unknown file with %r" % h)


def test_if_range(srv):
    # R22
    p, etag, lm, lm_text, _ = f(srv)
    r = expect(get(srv, {"Range": "bytes=0-99", "If-Range": etag}), 206, what="If-Range matching ETag")
    assert r.body == DATA[:100]
    r = expect(get(srv, {"Range": "bytes=0-99", "If-Range": '"other"'}), 200, what="If-Range other ETag")
    assert r.body == DATA
    r = expect(get(srv, {"Range": "bytes=0-99", "If-Range": "W/" + etag}), 200,
               what="If-Range weak tag (always false)")
    assert r.body == DATA
    # a date must be strong: wait until Last-Modified is at least a second old
    while time.time() < lm + 2:
        time.sleep(0.1)
    r = expect(get(srv, {"Range": "bytes=0-99", "If-Range": lm_text}), 206, what="If-Range == Last-Modified")
    assert r.body == DATA[:100]
    r = expect(get(srv, {"Range": "bytes=0-99", "If-Range": hdate(lm + 1)}), 200,
               what="If-Range date not exactly Last-Modified")
    r = expect(get(srv, {"Range": "bytes=0-99", "If-Range": hdate(lm - 1)}), 200,
               what="If-Range date before Last-Modified")
    # without Range, If-Range is ignored
    r = expect(get(srv, {"If-Range": '"other"'}), 200)
    assert r.body == DATA and r.header("Content-Range") is None


def test_304_wins_over_range(srv):
    # R23
    p, etag, _, _, _ = f(srv)
    r = expect(get(srv, {"Range": "bytes=0-99", "If-None-Match": etag}), 304)
    assert r.body == b""
    expect(get(srv, {"Range": "bytes=0-99", "If-Match": '"nope"'}), 412)


def test_conditional_delete_if_match(srv):
    # R5/R3: on other methods a false precondition → 412; here DELETE on a
    # file the client owns (delete token) with a wrong If-Match / If-None-Match: *
    data = rand_bytes(100)
    o = srv.upload("cond-del.bin", data)
    tok = {"X-Delete-Token": o["delete_token"]}
    r = srv.delete("/" + o["id"], dict(tok, **{"If-Match": '"%s"' % ("0" * 64)}))
    expect(r, 412, what="DELETE with a false If-Match")
    r = srv.delete("/" + o["id"], dict(tok, **{"If-None-Match": "*"}))
    expect(r, 412, what="DELETE with If-None-Match: * on an existing file")
    expect(srv.get(srv.dl_path(o)), 200, what="the file survives failed conditional DELETEs")
    expect(srv.delete("/" + o["id"], dict(tok, **{"If-Match": '"%s"' % sha256(data)})), 204,
           what="DELETE with a true If-Match")
