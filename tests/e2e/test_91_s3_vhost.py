"""Virtual-hosted-style S3 addressing (storage.s3_addressing = virtual,
issue 19): the bucket goes in the host name (BUCKET.ENDPOINT-HOST/KEY), as
AWS, R2 and most stores prefer, for the node's own requests and for the
presigned URLs it redirects clients to.

On loopback the endpoint is named localhost (the store is told to take
BUCKET.localhost as the bucket: s3api's storage_domain in start-s3.sh,
rgw_dns_name in start-ceph.sh); libcurl, curl and browsers resolve
BUCKET.localhost to loopback themselves.  The S3 checks need the store
(PARTAGE_TEST_S3); the refusal of settings virtual hosting cannot
address always runs."""

import re
import subprocess
import urllib.parse

from harness import (S3_ENDPOINT, Skip, Server, ServerError, expect,
                     rand_bytes, sha256)

K, M = 1024, 1024 * 1024
PW = "vhost password"


def localhost_endpoint():
    if not S3_ENDPOINT:
        raise Skip("needs the S3 store (PARTAGE_TEST_S3)")
    return re.sub(r"^(\w+://)127\.0\.0\.1\b", r"\1localhost", S3_ENDPOINT)


def refused(config, words):
    """partaged does not start with config; its log says words."""
    with Server(config, start=False, name="vhost-bad") as s:
        try:
            s.start(timeout=5)
        except ServerError:
            pass
        else:
            raise AssertionError("partaged started with %r" % config)
        log = open(s.log_path, errors="replace").read()
        assert words in log, "log does not say %r: %s" % (words, log[-600:])


def test_91_virtual_refuses_what_it_cannot_address():
    # an IP address cannot take the bucket in front of it
    refused("[storage]\nbackend = s3\ns3_endpoint = http://127.0.0.1:9\n"
            "s3_bucket = bkt\ns3_access_key = a\ns3_secret_key = b\n"
            "s3_addressing = virtual\n",
            "the endpoints need a host name, not an IP address")
    # nor can a bucket that is no DNS name go in a host name
    refused("[storage]\nbackend = s3\ns3_endpoint = http://localhost:9\n"
            "s3_bucket = Bad_Bucket\ns3_access_key = a\ns3_secret_key = b\n"
            "s3_addressing = virtual\n",
            "needs a bucket name that is a DNS name")
    # a value that is neither
    refused("[storage]\ns3_addressing = vhost\n", "s3_addressing")


def curl_get(url, rng=None):
    """GET url with the curl CLI (it resolves BUCKET.localhost): status,
    body."""
    cmd = ["curl", "-sS", "-o", "-", "-w", "\n%{http_code}", "--max-time", "30", url]
    if rng:
        cmd[1:1] = ["-r", rng]
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60)
    assert p.returncode == 0, "curl %s: %s" % (url, p.stderr.decode(errors="replace"))
    body, _, code = p.stdout.rpartition(b"\n")
    return int(code), body


def test_91_virtual_host_upload_download_presigned():
    ep = localhost_endpoint()
    cfg = """\
[storage]
s3_endpoint = %s
s3_addressing = virtual
s3_redirect = presigned
s3_presign_seconds = 60
[tier.anonymous]
# capped: streamed by the node, not redirected
speed_bytes_per_second = 256M
""" % ep
    with Server(cfg, name="vhost") as srv:
        bucket = re.search(r"^s3_bucket = ([^/\n]+)", srv.config_text, re.M).group(1)
        small = rand_bytes(300 * K + 17)
        big = rand_bytes(20 * M + 5)  # multipart: three parts
        o1 = srv.upload("small vhost.bin", small)
        o2 = srv.upload("big vhost.bin", big)
        assert o1["sha256"] == sha256(small) and o2["sha256"] == sha256(big), (o1, o2)
        # streamed by the node from the bucket's host name
        r = expect(srv.get(srv.dl_path(o2)), 200, what="anonymous GET, streamed")
        assert r.body == big, "streamed bytes differ"
        r = expect(srv.get(srv.dl_path(o2), {"Range": "bytes=%d-%d" % (9 * M, 17 * M)}), 206,
                   what="ranged GET across parts")
        assert r.body == big[9 * M:17 * M + 1]
        # premium: a 302 to the bucket's own host name, signed for it
        expect(srv.request("POST", "/api/v1/users",
                           body=b'{"name": "vhuser", "password": "%s"}' % PW.encode()), 201)
        tok = expect(srv.request("POST", "/api/v1/tokens",
                                 body=b'{"name": "vhuser", "password": "%s"}' % PW.encode()), 201).json()["token"]
        a = srv.admin("user", "set-tier", "vhuser", "premium")
        assert a.returncode == 0, a.stderr
        prem = {"Authorization": "Bearer " + tok}
        for o, data in ((o1, small), (o2, big)):
            r = expect(srv.get(srv.dl_path(o), prem), 302, what="premium GET")
            loc = r.header("Location")
            u = urllib.parse.urlsplit(loc)
            want_host = "%s.%s" % (bucket, urllib.parse.urlsplit(ep).netloc)
            assert u.netloc == want_host, "Location on %s, not %s: %s" % (u.netloc, want_host, loc)
            assert not u.path.startswith("/%s/" % bucket), "bucket still in the path: " + loc
            st, body = curl_get(loc)
            assert st == 200 and body == data, "store answered %d, %d bytes" % (st, len(body))
        st, body = curl_get(loc, "1000-1999")
        assert st == 206 and body == big[1000:2000], (st, len(body))
