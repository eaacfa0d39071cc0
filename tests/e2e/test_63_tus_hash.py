"""A resumable upload is hashed as its bytes arrive (issue 13): each
durable offset is saved with the running SHA-256 and CRC-32 of the bytes
before it (uploads.hash_state), so completing the upload names the blob
without reading it back.  Every way a PATCH can end — a checkpoint, a
checksum that fails, a server restart between PATCHes, a row from before
the state existed — must still give the file the SHA-256 of its bytes."""

import base64
import hashlib
import os

import harness
from harness import expect, rand_bytes, sha256

CONFIG = """\
[tier.anonymous]
max_upload_bytes = 64M
"""
V = {"Tus-Resumable": "1.0.0"}
OCTET = "application/offset+octet-stream"


def create(srv, length=None, body=None):
    h = dict(V)
    if length is None:
        h["Upload-Defer-Length"] = "1"
    else:
        h["Upload-Length"] = str(length)
    if body is not None:
        h["Content-Type"] = OCTET
    r = srv.request("POST", "/api/v1/uploads", body=body, headers=h)
    expect(r, 201)
    return r.header("Location").rsplit("/", 1)[1], r


def patch(srv, uid, off, data, **extra):
    h = dict(V, **{"Upload-Offset": str(off), "Content-Type": OCTET})
    h.update({k.replace("_", "-"): v for k, v in extra.items()})
    return srv.request("PATCH", "/api/v1/uploads/" + uid, body=data, headers=h)


def db_value(srv, sql):
    if harness.PG_DSN:
        return harness._psql("SET search_path TO %s; %s" % (harness.pg_schema(srv.data), sql)).strip()
    import sqlite3
    con = sqlite3.connect(srv.path("partage.db"), timeout=10)
    try:
        row = con.execute(sql).fetchone()
        con.commit()
        return row[0] if row else None
    finally:
        con.close()


def state_bytes(srv, uid):
    """The byte count the saved hash state covers (None: no state)."""
    v = db_value(srv, "SELECT hash_state FROM uploads WHERE uid = '%s'" % uid)
    if not v:
        return None
    f = v.split(" ")
    assert f[0] == "r1", v
    return int(f[1], 16)


def finished(srv, r, data):
    """The last PATCH's answer names a file with data's SHA-256."""
    expect(r, 204)
    fid = r.header("X-Partage-Id")
    assert fid, r.headers.items()
    obj = expect(srv.file_obj(fid), 200).json()
    assert obj["sha256"] == sha256(data), (obj["sha256"], sha256(data))
    body = expect(srv.get(srv.dl_path(obj)), 200).body
    assert sha256(body) == sha256(data)
    return obj


def test_state_saved_at_each_offset(srv):
    data = rand_bytes(3 * 70_000 + 17, seed=63)
    uid, _ = create(srv, len(data))
    off = 0
    for n in (70_000, 70_000, 70_000):
        expect(patch(srv, uid, off, data[off:off + n]), 204)
        off += n
        assert state_bytes(srv, uid) == off, (state_bytes(srv, uid), off)
    finished(srv, patch(srv, uid, off, data[off:]), data)


def test_failed_checksum_keeps_the_state_of_the_offset(srv):
    data = rand_bytes(200_001, seed=64)
    uid, _ = create(srv, len(data))
    expect(patch(srv, uid, 0, data[:100_000]), 204)
    good = base64.b64encode(hashlib.sha1(data[100_000:]).digest()).decode()
    bad = base64.b64encode(hashlib.sha1(b"other").digest()).decode()
    r = patch(srv, uid, 100_000, data[100_000:], Upload_Checksum="sha1 " + bad)
    assert r.status == 460, r
    assert state_bytes(srv, uid) == 100_000
    finished(srv, patch(srv, uid, 100_000, data[100_000:], Upload_Checksum="sha1 " + good), data)


def test_restart_between_patches(srv):
    data = rand_bytes(150_000, seed=65)
    uid, _ = create(srv, len(data))
    expect(patch(srv, uid, 0, data[:50_001]), 204)
    srv.restart()
    assert state_bytes(srv, uid) == 50_001
    expect(patch(srv, uid, 50_001, data[50_001:100_000]), 204)
    finished(srv, patch(srv, uid, 100_000, data[100_000:]), data)


def test_row_without_state_reads_back(srv):
    # an upload begun before the state existed (or whose state is damaged)
    # is hashed from what is stored when it completes
    data = rand_bytes(120_000, seed=66)
    for junk in ("", "r1 zz", "r1 ea60 0 0"):
        uid, _ = create(srv, len(data))
        expect(patch(srv, uid, 0, data[:60_000]), 204)
        db_value(srv, "UPDATE uploads SET hash_state = '%s' WHERE uid = '%s'" % (junk, uid))
        r = patch(srv, uid, 60_000, data[60_000:])
        finished(srv, r, data)


def test_creation_with_upload_and_deferred_length(srv):
    data = rand_bytes(90_000, seed=67)
    uid, r = create(srv, None, body=data[:30_000])
    assert r.header("Upload-Offset") == "30000", r.headers.items()
    assert state_bytes(srv, uid) == 30_000
    expect(patch(srv, uid, 30_000, data[30_000:60_000]), 204)
    finished(srv, patch(srv, uid, 60_000, data[60_000:], Upload_Length=str(len(data))), data)


def test_a_dropped_patch_keeps_what_was_synced(srv):
    # the client goes away mid-body: the bytes stored are kept with their
    # state, and the next PATCH goes on from there
    data = rand_bytes(400_000, seed=68)
    uid, _ = create(srv, len(data))
    with srv.raw_conn() as c:
        c.send(b"PATCH /api/v1/uploads/%s HTTP/1.1\r\nHost: x\r\nTus-Resumable: 1.0.0\r\n"
               b"Upload-Offset: 0\r\nContent-Type: %s\r\nContent-Length: %d\r\n\r\n"
               % (uid.encode(), OCTET.encode(), len(data)) + data[:123_457])

    def settled():
        r = srv.head("/api/v1/uploads/" + uid, V)
        return r.status == 200 and int(r.header("Upload-Offset")) > 0 and \
            state_bytes(srv, uid) == int(r.header("Upload-Offset")) and \
            int(r.header("Upload-Offset"))
    off = harness.wait_until(settled, timeout=30)
    assert off, "the dropped PATCH's bytes were not kept"
    finished(srv, patch(srv, uid, off, data[off:]), data)
