"""Virtual-hosted-style S3 addressing (storage.s3_addressing = virtual,
issue 19): the bucket goes in the host name (BUCKET.ENDPOINT-HOST/KEY), as
AWS, R2 and most stores prefer, for the node's own requests and for the
presigned URLs it redirects clients to.

On loopback the endpoint is named localhost (the store is told to take
BUCKET.localhost as the bucket: s3api's storage_domain in start-s3.sh,
rgw_dns_name in start-ceph.sh); libcurl, curl and browsers resolve
BUCKET.localhost to loopback themselves.  partaged reaches the store
through a proxy of the test's own, which shows the Host and target of
every request it makes: the bucket in the host, never in the path.  The
S3 checks need the store (PARTAGE_TEST_S3); the refusal of settings
virtual hosting cannot address always runs."""

import re
import socket
import subprocess
import threading
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


class HeadProxy:
    """127.0.0.1:<port> → the store, keeping what clients send to it, so
    the test sees the Host and target of every request partaged makes."""

    def __init__(self, target_port):
        self.target = target_port
        self.sent = []  # one bytearray per connection
        self.lock = threading.Lock()
        self.ls = socket.socket()
        self.ls.bind(("127.0.0.1", 0))
        self.ls.listen(64)
        self.port = self.ls.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                c, _ = self.ls.accept()
            except OSError:
                return
            threading.Thread(target=self._conn, args=(c,), daemon=True).start()

    @staticmethod
    def _pump(src, dst, keep):
        try:
            while True:
                b = src.recv(65536)
                if not b:
                    break
                if keep is not None:
                    keep += b
                dst.sendall(b)
        except OSError:
            pass
        for s in (dst, src):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def _conn(self, c):
        try:
            u = socket.create_connection(("127.0.0.1", self.target), timeout=30)
        except OSError:
            c.close()
            return
        keep = bytearray()
        with self.lock:
            self.sent.append(keep)
        threading.Thread(target=self._pump, args=(u, c, None), daemon=True).start()
        self._pump(c, u, keep)

    def requests(self):
        """(method, target, host) of every request seen so far."""
        out = []
        with self.lock:
            for b in self.sent:
                for m in re.finditer(rb"(?:^|\r\n\r\n|\n)(GET|PUT|POST|HEAD|DELETE) (\S+) HTTP/1\.1\r\n"
                                     rb"((?:[^\r\n]+\r\n)*?)\r\n", bytes(b)):
                    host = re.search(rb"(?im)^host: *([^\r\n]+)", m.group(3))
                    out.append((m.group(1).decode(), m.group(2).decode(),
                                host.group(1).decode() if host else ""))
        return out

    def close(self):
        self.ls.close()


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
    store = urllib.parse.urlsplit(localhost_endpoint())
    # partaged talks to the store through a proxy that shows its requests
    proxy = HeadProxy(store.port or 80)
    ep = "%s://localhost:%d%s" % (store.scheme, proxy.port, store.path)
    try:
        run_virtual(ep, proxy)
    finally:
        proxy.close()


def run_virtual(ep, proxy):
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
        # every request partaged made named the bucket in the host name,
        # none in the path
        reqs = proxy.requests()
        kinds = {m for m, _, _ in reqs}
        assert len(reqs) >= 8 and {"HEAD", "PUT", "POST", "GET"} <= kinds, reqs
        for m, target, host in reqs:
            assert host == want_host, "%s %s sent to Host %r, not %r" % (m, target, host, want_host)
            assert not re.match(r"/%s(/|\?|$)" % re.escape(bucket), target), \
                "%s %s: the bucket in the path" % (m, target)
