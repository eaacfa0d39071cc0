"""The free-space threshold (issue 6): below storage.min_free_bytes new
uploads are refused with 507 before their bodies are read, by every upload
path, while downloads and stored files are not affected."""

import os

import harness
from harness import expect, multipart, rand_bytes, Server


def test_min_free_bytes_refuses_uploads_keeps_downloads():
    if harness.S3_ENDPOINT:
        raise harness.Skip("the free-space threshold is for the fs backend's disk")
    data = rand_bytes(5000)
    with Server("", name="free-ok") as s:
        o = s.upload("before.bin", data)
        data_dir = s.data
        s.stop()
        # more free space than any disk has: every upload is "too close"
        with Server("[storage]\nmin_free_bytes = 1000000T\n", data=data_dir, name="free-low") as t:
            r = t.put("after.bin", rand_bytes(100))
            expect(r, 507, what="PUT below the free-space threshold")
            body, ctype = multipart([("file", "m.bin", b"x" * 10, None)])
            expect(t.request("POST", "/api/v1/files", body=body,
                             headers={"Content-Type": ctype}), 507, what="multipart")
            expect(t.request("POST", "/api/v1/uploads", headers={
                "Tus-Resumable": "1.0.0", "Upload-Length": "10"}), 507, what="tus creation")
            # a refusal before the body: a 100-continue client never sends it
            with t.raw_conn() as c:
                c.send(b"PUT /big.bin HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000\r\n"
                       b"Expect: 100-continue\r\n\r\n")
                resp = c.read_response("PUT")
                assert resp.status == 507, resp
            assert expect(t.get(t.dl_path(o)), 200).body == data
            expect(t.file_obj(o["id"]), 200)
