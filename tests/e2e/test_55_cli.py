"""The `partage` client against the real server: upload (file, stdin
chunked, --json), download with its SHA-256 check, resume from a partial
FILE.part (If-Range with the saved ETag, a stale ETag restarts), info,
delete, and the exit statuses 0/1/2 with one line on stderr."""

import json
import os
import re
import subprocess

import harness
from harness import Skip, bin_path, expect, rand_bytes, sha256

MIB = 1024 * 1024


def cli(srv, *args, input=None, cwd=None):
    exe = bin_path("partage")
    if not os.access(exe, os.X_OK):
        raise Skip("%s is not built" % exe)
    env = {k: v for k, v in os.environ.items() if not k.startswith("PARTAGE_")}
    # unfinished uploads are kept there, not in the real home
    env["XDG_STATE_HOME"] = os.path.join(harness.ROOT, "cli-state")
    cmd = [exe] + (["--server", srv.url] if srv else []) + list(args)
    return subprocess.run(cmd, input=input, cwd=cwd, env=env, capture_output=True, timeout=60)


def ok(r, what):
    assert r.returncode == 0, "%s: exit %d, stderr %r" % (what, r.returncode, r.stderr[:300])
    return r


def one_error_line(r, code=1):
    assert r.returncode == code, "exit %d, want %d (stderr %r)" % (r.returncode, code, r.stderr[:300])
    err = r.stderr.decode()
    first = err.splitlines()[0] if err else ""
    assert first.startswith("partage: "), "stderr is not in the house voice: %r" % err
    return first


def write(path, data):
    with open(path, "wb") as fh:
        fh.write(data)


def read(path):
    with open(path, "rb") as fh:
        return fh.read()


def upload(srv, path):
    r = ok(cli(srv, "upload", path), "upload")
    url = r.stdout.decode()
    assert re.fullmatch(re.escape(srv.url) + r"/[0-9A-Za-z]{12}\n", url), "upload printed %r" % url
    m = re.search(r"^delete token: (\S+)$", r.stderr.decode(), re.M)
    assert m, "no 'delete token: ...' on stderr: %r" % r.stderr
    return url.strip(), m.group(1)


def test_cli_upload_download(srv, tmp):
    data = rand_bytes(3 * MIB + 5)
    name = "résumé €.bin"
    src = os.path.join(tmp, name)
    write(src, data)
    url, _tok = upload(srv, src)
    obj = expect(srv.file_obj(url.rsplit("/", 1)[1]), 200).json()
    assert obj["name"] == name and obj["sha256"] == sha256(data), obj

    out = os.path.join(tmp, "out")
    os.mkdir(out)
    r = ok(cli(srv, "download", url, "--output-dir", out), "download")
    assert r.stdout.decode() == os.path.join(out, name) + "\n", r.stdout
    assert sha256(read(os.path.join(out, name))) == sha256(data)
    assert sorted(os.listdir(out)) == [name], "left behind: %r" % os.listdir(out)

    # by id, to stdout
    r = ok(cli(srv, "download", obj["id"], "-o", "-"), "download -o -")
    assert sha256(r.stdout) == sha256(data)


def test_cli_stdin_and_json(srv, tmp):
    data = rand_bytes(MIB + 3)
    r = ok(cli(srv, "upload", "-", "--name", "piped.bin", "--json", "--max-days", "3",
               input=data), "upload - --json")
    obj = json.loads(r.stdout)
    assert obj["name"] == "piped.bin" and obj["size"] == len(data), obj
    assert obj["sha256"] == sha256(data) and obj.get("delete_token"), obj
    assert obj.get("expires"), "Max-Days did not set expires: %r" % obj
    r = ok(cli(srv, "info", obj["url"]), "info")
    info = json.loads(r.stdout)
    assert info["id"] == obj["id"] and "delete_token" not in info, info


def test_cli_resume(srv, tmp):
    data = rand_bytes(3 * MIB, seed=55)
    src = os.path.join(tmp, "big.bin")
    write(src, data)
    url, _tok = upload(srv, src)
    fid = url.rsplit("/", 1)[1]
    obj = expect(srv.file_obj(fid), 200).json()
    etag = expect(srv.head(srv.dl_path(obj)), 200).header("ETag")
    assert etag and etag.startswith('"'), "no strong ETag: %r" % etag
    dst = os.path.join(tmp, "got.bin")

    # a good prefix with its ETag: continued, and the result checks out
    write(dst + ".part", data[:MIB + 7])
    write(dst + ".part.etag", (etag + "\n").encode())
    ok(cli(srv, "download", fid, "-o", dst), "resume")
    assert read(dst) == data
    assert not os.path.exists(dst + ".part") and not os.path.exists(dst + ".part.etag")

    # a corrupt prefix with the right ETag is continued too (206), so the
    # SHA-256 check must catch it, keep no file and drop the bad part
    os.unlink(dst)
    write(dst + ".part", b"\0" * MIB)
    write(dst + ".part.etag", (etag + "\n").encode())
    line = one_error_line(cli(srv, "download", fid, "-o", dst))
    assert "checksum mismatch" in line, line
    assert not os.path.exists(dst) and not os.path.exists(dst + ".part")
    ok(cli(srv, "download", fid, "-o", dst), "download after a mismatch")
    assert read(dst) == data

    # a stale ETag: If-Range fails, the server sends it all (200), restart
    os.unlink(dst)
    write(dst + ".part", b"\0" * MIB)
    write(dst + ".part.etag", b'"0000"\n')
    ok(cli(srv, "download", fid, "-o", dst), "download with a stale ETag")
    assert read(dst) == data


def test_cli_delete(srv, tmp):
    src = os.path.join(tmp, "del.txt")
    write(src, b"delete me\n")
    url, tok = upload(srv, src)
    line = one_error_line(cli(srv, "delete", url, "--token", "wrong"))
    assert "403" in line, line
    ok(cli(srv, "delete", url, "--token", tok), "delete")
    one_error_line(cli(srv, "info", url))
    r = cli(srv, "download", url, "--output-dir", tmp)
    one_error_line(r)
    assert sorted(os.listdir(tmp)) == ["del.txt"], os.listdir(tmp)


def test_cli_errors_and_usage(srv, tmp):
    line = one_error_line(cli(srv, "upload", os.path.join(tmp, "missing")))
    assert line == "partage: cannot open '%s': No such file or directory" % os.path.join(tmp, "missing"), line
    one_error_line(cli(srv, "info", "AAAAAAAAAAAA"))
    one_error_line(cli(srv, "info", "not-an-id"))
    one_error_line(cli(None, "--server", "http://127.0.0.1:1", "info", "AAAAAAAAAAAA"))
    # --token is optional (a login may delete instead): the server decides
    one_error_line(cli(srv, "delete", "AAAAAAAAAAAA"))
    for args in ([], ["frobnicate"], ["delete"], ["upload"],
                 ["upload", "x", "--max-days", "soon"], ["info", "AAAAAAAAAAAA", "-o", "x"]):
        one_error_line(cli(srv, *args), code=2)
    r = ok(cli(None, "--help"), "--help")
    assert b"upload" in r.stdout and b"download" in r.stdout
