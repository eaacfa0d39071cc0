"""`partage login` / `partage logout`: an API token made with the account's
password and kept in $XDG_CONFIG_HOME/partage/credentials (0600, per
server), used by the other commands when PARTAGE_API_TOKEN is unset, and
revoked on the server by logout or by a new login that replaces it."""

import json
import os
import stat
import subprocess

from harness import Skip, bin_path, expect, rand_bytes, run_partage

PW = "correct horse battery"


def cli(srv, cfg, *args, input=None, server=True):
    # stdin is never a terminal here: the password comes from it
    return run_partage(srv.url, cfg, *args, input=input if input is not None else b"", server=server)


def jreq(srv, method, path, obj=None, headers=None):
    hdrs = {"Accept": "application/json", "Content-Type": "application/json"}
    hdrs.update(headers or {})
    body = json.dumps(obj).encode() if obj is not None else None
    return srv.request(method, path, body=body, headers=hdrs)


def creds(cfg):
    path = os.path.join(cfg, "partage", "credentials")
    with open(path) as fh:
        lines = [l.split() for l in fh if l.strip() and not l.startswith("#")]
    return path, lines


def bearer(tok):
    return {"Authorization": "Bearer " + tok}


def test_cli_login_upload_logout(srv, tmp):
    cfg = os.path.join(tmp, "cfg")  # does not exist yet: login creates it
    name = "cli_%s" % os.urandom(3).hex()
    expect(jreq(srv, "POST", "/api/v1/users", {"name": name, "password": PW}), 201,
           what="register")

    # a wrong password: exit 1, one line, nothing stored
    r = cli(srv, cfg, "login", name, "--password-stdin", input=b"wrong\n")
    assert r.returncode == 1, r
    assert r.stderr.decode().startswith("partage: cannot log in to '%s' as '%s': " % (srv.url, name)), r.stderr
    assert not os.path.exists(os.path.join(cfg, "partage", "credentials"))
    # no user name and no terminal to ask on: usage
    assert cli(srv, cfg, "login", input=PW.encode()).returncode == 2

    r = cli(srv, cfg, "login", name, "--password-stdin", input=(PW + "\n").encode())
    assert r.returncode == 0, r.stderr
    path, lines = creds(cfg)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600, oct(os.stat(path).st_mode)
    assert stat.S_IMODE(os.stat(os.path.dirname(path)).st_mode) == 0o700
    assert len(lines) == 1 and lines[0][0] == srv.url, lines
    tid, tok = lines[0][1], lines[0][2]
    me = expect(srv.get("/api/v1/me", headers=bearer(tok)), 200).json()
    assert me["name"] == name, me

    # upload with no PARTAGE_API_TOKEN: the stored token makes it the user's
    src = os.path.join(tmp, "mine.bin")
    with open(src, "wb") as fh:
        fh.write(rand_bytes(70000))
    r = cli(srv, cfg, "upload", src, "--json")
    assert r.returncode == 0, r.stderr
    fid = json.loads(r.stdout)["id"]
    files = expect(srv.get("/api/v1/me/files", headers=bearer(tok)), 200).json()["files"]
    assert fid in [f["id"] for f in files], files
    # and the same from a share URL of that server (the token follows the URL)
    r = cli(srv, cfg, "info", "%s/%s" % (srv.url, fid), server=False)
    assert r.returncode == 0, r.stderr

    # a second login (password from a non-terminal stdin, no flag) replaces
    # the first and revokes its token
    r = cli(srv, cfg, "login", name, input=PW.encode())
    assert r.returncode == 0, r.stderr
    _, lines = creds(cfg)
    assert len(lines) == 1 and lines[0][1] != tid, lines
    expect(srv.get("/api/v1/me", headers=bearer(tok)), 401, what="replaced token")
    tok = lines[0][2]
    expect(srv.get("/api/v1/me", headers=bearer(tok)), 200)

    # logout: revoked on the server, gone from the file
    r = cli(srv, cfg, "logout")
    assert r.returncode == 0, r.stderr
    _, lines = creds(cfg)
    assert lines == [], lines
    expect(srv.get("/api/v1/me", headers=bearer(tok)), 401, what="token after logout")
    # anonymous again: uploads still work, without a token
    r = cli(srv, cfg, "upload", src)
    assert r.returncode == 0, r.stderr
    r = cli(srv, cfg, "logout")
    assert r.returncode == 1 and r.stderr.decode() == "partage: not logged in to '%s'\n" % srv.url, r


def test_cli_stored_token_stays_with_its_server(srv, tmp):
    """A login for one server is not sent to another, and a broken
    credentials file is an error, not silently ignored."""
    cfg = os.path.join(tmp, "cfg")
    os.makedirs(os.path.join(cfg, "partage"), mode=0o700)
    path = os.path.join(cfg, "partage", "credentials")
    # a token for another server (this one would refuse it: 401)
    with open(path, "w") as fh:
        fh.write("http://127.0.0.1:1 AAAAAAAAAAAA not-a-real-token\n")
    os.chmod(path, 0o600)
    src = os.path.join(tmp, "x.bin")
    with open(src, "wb") as fh:
        fh.write(b"hello")
    r = cli(srv, cfg, "upload", src)
    assert r.returncode == 0, r.stderr
    # nor to a server whose URL merely starts with that one's
    with open(path, "w") as fh:
        fh.write("%s AAAAAAAAAAAA not-a-real-token\n" % srv.url[:-1])
    r = cli(srv, cfg, "upload", src)
    assert r.returncode == 0, r.stderr
    # the same line for this server: sent, and refused
    with open(path, "w") as fh:
        fh.write("%s AAAAAAAAAAAA not-a-real-token\n" % srv.url)
    r = cli(srv, cfg, "upload", src)
    assert r.returncode == 1 and "HTTP 401" in r.stderr.decode(), r
    with open(path, "w") as fh:
        fh.write("http://127.0.0.1:1 only-two-fields\n")
    r = cli(srv, cfg, "upload", src)
    assert r.returncode == 1, r
    assert "line 1 is not 'SERVER TOKEN_ID TOKEN'" in r.stderr.decode(), r.stderr


def test_cli_tokens(srv, tmp):
    # `partage tokens`: the login's own token is listed with its label and a
    # last use; `tokens new LABEL` prints a working secret alone on stdout;
    # `tokens revoke ID` ends it
    import socket
    cfg = os.path.join(tmp, "cfg")
    name = "ctk_%s" % os.urandom(3).hex()
    expect(jreq(srv, "POST", "/api/v1/users", {"name": name, "password": PW}), 201)
    assert cli(srv, cfg, "tokens").returncode == 1, "tokens without a login"
    r = cli(srv, cfg, "login", name, "--password-stdin", input=(PW + "\n").encode())
    assert r.returncode == 0, r.stderr
    tid = creds(cfg)[1][0][1]

    r = cli(srv, cfg, "tokens", "--json")
    assert r.returncode == 0, r.stderr
    ts = json.loads(r.stdout)["tokens"]
    assert [t["id"] for t in ts] == [tid], ts
    assert ts[0]["label"] == "partage on " + socket.gethostname()[:63], ts
    assert isinstance(ts[0]["last_used"], int), "the listing used the token: %r" % ts

    r = cli(srv, cfg, "tokens", "new", "deploy key")
    assert r.returncode == 0, r.stderr
    secret = r.stdout.decode().strip()
    assert len(secret) >= 32 and "\n" not in secret, r.stdout
    me = expect(srv.get("/api/v1/me", headers=bearer(secret)), 200).json()
    assert me["name"] == name
    r = cli(srv, cfg, "tokens")
    lines = r.stdout.decode().splitlines()
    assert r.returncode == 0 and len(lines) == 2, r
    new = [l for l in lines if l.endswith("  deploy key")]
    assert len(new) == 1 and " used " in new[0], lines
    new_id = new[0].split()[0]

    r = cli(srv, cfg, "tokens", "revoke", new_id, "ZZZZZZZZZZZZ")
    assert r.returncode == 1, "one of the two ids is unknown: %r" % r
    assert "revoked the token %s" % new_id in r.stderr.decode(), r.stderr
    assert "cannot revoke the token ZZZZZZZZZZZZ" in r.stderr.decode(), r.stderr
    expect(srv.get("/api/v1/me", headers=bearer(secret)), 401, what="the revoked token")
    for bad in (["tokens", "new", "a", "b"], ["tokens", "revoke"], ["tokens", "drop"]):
        assert cli(srv, cfg, *bad).returncode == 2, bad
