"""Uploader rewards end to end, and the account from the `partage` client:
downloads by aria2c -x8 and by another address each count once and credit
the uploader points_per_download; `partage account` shows tier, storage
and points; `partage convert DAYS` spends points on premium days (refused
when short); `partage redeem CODE` turns a voucher into premium days, once;
not logged in is one line and exit 1."""

import json
import os
import re
import subprocess
import time

from harness import expect, rand_bytes, run_partage, sha256, wait_downloads, Server

CONFIG = """
[tier.anonymous]
wait_seconds = 0
speed_bytes_per_second = 0
parallel_downloads = 0
[tier.free]
wait_seconds = 0
speed_bytes_per_second = 0
parallel_downloads = 0
[rewards]
points_per_download = 5
points_per_premium_day = 10
"""
PW = "reward password 1"
JSON = {"Content-Type": "application/json", "Accept": "application/json"}


def partage(srv, cfg, *args, stdin=b""):
    return run_partage(srv.url, cfg, *args, input=stdin)


def ok(r, what):
    assert r.returncode == 0, "%s: exit %d, stderr %r" % (what, r.returncode, r.stderr[:300])
    return r.stdout.decode()


def fails(r, what):
    err = r.stderr.decode()
    assert r.returncode == 1 and err.startswith("partage: ") and err.count("\n") == 1, \
        "%s: exit %d, stderr %r" % (what, r.returncode, err)
    return err


def curl_from(url, source):
    """The body of a GET sent from the loopback address source."""
    p = subprocess.run(["curl", "-sf", "--interface", source, url], capture_output=True, timeout=60)
    assert p.returncode == 0, "curl from %s: exit %d %r" % (source, p.returncode, p.stderr)
    return p.stdout


def test_rewards_and_the_account_from_the_cli(tmp):
    with Server(CONFIG, name="cli-account") as srv:
        cfg = os.path.join(tmp, "cfg")
        name = "rw_" + os.urandom(3).hex()
        expect(srv.request("POST", "/api/v1/users",
                           body=json.dumps({"name": name, "password": PW}).encode(), headers=JSON), 201)
        fails(partage(srv, cfg, "account"), "account before login")
        ok(partage(srv, cfg, "login", name, "--password-stdin", stdin=(PW + "\n").encode()), "login")

        # the uploader's file, downloaded by aria2c with 8 connections
        # (one download), then once more from another address
        src = os.path.join(tmp, "reward.bin")
        data = rand_bytes(3 << 20)
        with open(src, "wb") as fh:
            fh.write(data)
        out = ok(partage(srv, cfg, "upload", src, "--json"), "upload")
        fid = json.loads(out)["id"]
        obj = expect(srv.file_obj(fid), 200).json()
        dl = os.path.join(tmp, "dl")
        os.makedirs(dl)
        p = subprocess.run(["aria2c", "-x8", "-s8", "-k1M", "--min-split-size=1M", "-q",
                            "--allow-overwrite=true", "-d", dl, "-o", "got.bin",
                            srv.url + srv.dl_path(obj)], capture_output=True, timeout=120)
        assert p.returncode == 0, p.stderr
        with open(os.path.join(dl, "got.bin"), "rb") as fh:
            assert sha256(fh.read()) == sha256(data)
        assert wait_downloads(srv, fid, 1), "aria2c -x8 did not count as one download"
        assert curl_from(srv.url + srv.dl_path(obj), "127.0.0.2") == data
        assert wait_downloads(srv, fid, 2), "a download from another address did not count"
        # counted once per address and day: the same client again adds nothing
        assert curl_from(srv.url + srv.dl_path(obj), "127.0.0.2") == data

        out = ok(partage(srv, cfg, "account"), "account")
        assert re.search(r"^name\s+%s$" % name, out, re.M), out
        assert re.search(r"^tier\s+free$", out, re.M), out
        assert re.search(r"^storage\s+3\.0 MiB of ", out, re.M), out
        assert re.search(r"^points\s+10 \(10 per premium day", out, re.M), out
        j = json.loads(ok(partage(srv, cfg, "account", "--json"), "account --json"))
        assert j["account"]["points"] == 10 and j["account"]["used_bytes"] == len(data), j
        files = {f["id"]: f for f in j["rewards"]["files"]}
        assert files[fid]["downloads"] == 2 and files[fid]["points"] == 10, j["rewards"]

        # points into premium days; refused when short
        out = ok(partage(srv, cfg, "convert", "1"), "convert 1")
        assert out.startswith("1 premium day: premium until ") and "points left: 0" in out, out
        err = fails(partage(srv, cfg, "convert", "1"), "convert without points")
        assert "409" in err, err
        r = partage(srv, cfg, "convert", "zero")
        assert r.returncode == 2, r

        # a voucher, once
        p = srv.admin("voucher", "create", "--days", "7")
        assert p.returncode == 0, p.stderr
        code = p.stdout.strip()
        out = ok(partage(srv, cfg, "redeem", code), "redeem")
        assert out.startswith("7 premium days: premium until "), out
        fails(partage(srv, cfg, "redeem", code), "the same voucher twice")
        out = ok(partage(srv, cfg, "account"), "account after premium")
        assert re.search(r"^tier\s+premium \(premium until \d{4}-\d\d-\d\d \d\d:\d\d UTC\)$", out, re.M), out
        until = json.loads(ok(partage(srv, cfg, "account", "--json"), "json"))["account"]["premium_until"]
        days = (until - time.time()) / 86400
        assert 7.9 < days <= 8.01, "1 day of points and a 7-day voucher give %.2f days" % days
