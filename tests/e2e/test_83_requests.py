"""File requests and the reach of blocklist imports (issue 18): an import
takes down the copies already stored, like a content takedown; file-request
links let anyone upload into an owner's folder (curl PUT, multipart, tus,
`partage`) within their limits, without seeing what is there."""

import json
import os

from harness import expect, rand_bytes, sha256, Server

PW = "requests password 1"
CONFIG = """\
[abuse]
quarantine_days = 14
"""


def audit(srv):
    a = srv.admin("audit")
    assert a.returncode == 0, a.stderr
    return [line.split("\t") for line in a.stdout.splitlines()]


def import_list(srv, name, lines, *args):
    path = os.path.join(srv.work, name)
    with open(path, "w") as f:
        f.write("".join(l + "\n" for l in lines))
    return srv.admin("blocklist", "import", path, *args)


def test_blocklist_import_takes_down_stored_copies(srv):
    data, other = rand_bytes(3000), rand_bytes(3000)
    a = srv.upload("a.bin", data)
    b = srv.upload("b.iso", data)
    keep = srv.upload("keep.bin", other)
    for o in (a, b):
        expect(srv.get(srv.dl_path(o)), 200, what="before the import")
    im = import_list(srv, "one.txt", ["# from another instance",
                                      sha256(data).upper() + "  # a list",
                                      "ab" * 32])
    assert im.returncode == 0, im.stderr
    for o in (a, b):
        g = srv.get(srv.dl_path(o))
        assert g.status == 451, "a stored copy is still served after the import: %r" % g
        f = expect(srv.file_obj(o["id"]), 410, what="API after the import").json()
        assert "imported blocklist" in f.get("reason", ""), f
    assert "2 hashes imported, 2 links taken down" in im.stdout, im.stdout
    assert expect(srv.get(srv.dl_path(keep)), 200).body == other
    expect(srv.put("again.bin", data), 451, what="a new upload of an imported hash")
    rows = [r for r in audit(srv) if r[2] == "takedown_content" and r[3] == sha256(data)]
    assert len(rows) == 1, rows
    assert rows[0][4] == "imported blocklist", rows[0]
    assert a["id"] in rows[0][5] and b["id"] in rows[0][5], rows[0]
    # a second import of the same list finds nothing live and says so
    im = import_list(srv, "one.txt", [sha256(data)])
    assert im.returncode == 0 and "1 hashes imported, 0 links taken down" in im.stdout, im.stdout
    # restore undoes the import's takedown like any content takedown
    rs = srv.admin("restore", a["id"])
    assert rs.returncode == 0 and "2 links restored" in rs.stdout, (rs.stdout, rs.stderr)
    assert expect(srv.get(srv.dl_path(b)), 200).body == data
    # the import's own reason, on the links and in the audit entry
    data2 = rand_bytes(2000)
    c = srv.upload("c.bin", data2)
    im = import_list(srv, "two.txt", [sha256(data2)], "--reason", "hash list H-9")
    assert im.returncode == 0 and "1 links taken down" in im.stdout, (im.stdout, im.stderr)
    f = expect(srv.file_obj(c["id"]), 410).json()
    assert "hash list H-9" in f.get("reason", ""), f
    rows = [r for r in audit(srv) if r[2] == "takedown_content" and r[3] == sha256(data2)]
    assert len(rows) == 1 and rows[0][4] == "hash list H-9" and c["id"] in rows[0][5], rows
