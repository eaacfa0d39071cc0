"""/healthz and /metrics (Prometheus text format): the counters move."""

import re
import socket
import time

from harness import expect, metric_sum, parse_prometheus, rand_bytes, wait_until

CONFIG = ""

NAMES = ("partage_requests_total", "partage_bytes_in_total", "partage_bytes_out_total",
         "partage_uploads_total", "partage_downloads_total", "partage_dedup_hits_total",
         "partage_active_connections")


def test_healthz(srv):
    r = expect(srv.get("/healthz"), 200)
    assert len(r.body) < 1000
    expect(srv.head("/healthz"), 200)


def test_metrics_format(srv):
    r = expect(srv.get("/metrics"), 200)
    ct = r.header("Content-Type", "")
    assert ct.startswith("text/plain"), "metrics Content-Type %r" % ct
    samples = parse_prometheus(r.text)  # every sample line parses
    types = dict(re.findall(r"^# TYPE (\S+) (\S+)$", r.text, re.M))
    for n in NAMES:
        assert any(k[0] == n for k in samples), "no %s in /metrics" % n
        assert n in types, "no # TYPE line for %s" % n
    for n in NAMES[:-1]:
        assert types[n] == "counter", "%s has TYPE %s" % (n, types[n])
    assert types["partage_active_connections"] == "gauge"
    req_labels = [dict(k[1]) for k in samples if k[0] == "partage_requests_total"]
    assert req_labels and all("route" in d and "status" in d for d in req_labels), req_labels[:3]


def test_counters_move(srv):
    m0 = srv.metrics()
    data = rand_bytes(50000)
    o = srv.upload("m.bin", data)
    g = expect(srv.get(srv.dl_path(o)), 200)
    assert g.body == data
    srv.upload("m2.bin", data)  # a dedup hit
    srv.get("/api/v1/files/ZZZZZZZZZZZZ")  # a 404

    def moved():
        m1 = srv.metrics()
        d = lambda n, **kw: (metric_sum(m1, n, **kw) or 0) - (metric_sum(m0, n, **kw) or 0)  # noqa: E731
        # counters are updated when a request completes, which may be just
        # after the client has its reply: wait until they all settle
        return m1 if (d("partage_uploads_total") >= 2 and d("partage_downloads_total") >= 1
                      and d("partage_bytes_in_total") >= 2 * len(data)
                      and d("partage_bytes_out_total") >= len(data)
                      and d("partage_dedup_hits_total") >= 1
                      and d("partage_requests_total", status="201") >= 2
                      and d("partage_requests_total", status="404") >= 1) else None
    m1 = wait_until(moved, 3) or srv.metrics()

    def delta(n, **kw):
        return (metric_sum(m1, n, **kw) or 0) - (metric_sum(m0, n, **kw) or 0)
    assert delta("partage_uploads_total") == 2, "uploads_total moved by %r" % delta("partage_uploads_total")
    assert delta("partage_downloads_total") >= 1
    assert delta("partage_dedup_hits_total") == 1, "dedup_hits moved by %r" % delta("partage_dedup_hits_total")
    assert delta("partage_bytes_in_total") >= 2 * len(data), "bytes_in moved by %r" % delta("partage_bytes_in_total")
    assert delta("partage_bytes_out_total") >= len(data), "bytes_out moved by %r" % delta("partage_bytes_out_total")
    assert delta("partage_requests_total", status="201") >= 2, "no requests_total{status=\"201\"} movement"
    assert delta("partage_requests_total", status="404") >= 1, "no requests_total{status=\"404\"} movement"
    assert delta("partage_requests_total") >= 5
    # route labels are route names, not raw paths (bounded cardinality)
    for (n, ls), v in m1.items():
        for k, lv in ls:
            assert o["id"] not in lv, "metric %s has the file id in label %s=%r" % (n, k, lv)
    for (n, ls), v in m1.items():
        if n.endswith("_total"):
            assert v >= m0.get((n, ls), 0), "counter %s%r went down" % (n, dict(ls))


def test_active_connections_gauge(srv):
    gauge = lambda: metric_sum(srv.metrics(), "partage_active_connections")  # noqa: E731
    assert gauge() >= 1, "active_connections is 0 while a /metrics request is open"
    socks = []
    try:
        for _ in range(3):
            s = socket.create_connection(("127.0.0.1", srv.port), timeout=5)
            s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")  # unfinished request
            socks.append(s)
        # three open connections plus the one asking
        up = wait_until(lambda: (lambda v: v if v >= 4 else None)(gauge()), 3)
        assert up, "active_connections %r with 3 open connections and the /metrics one" % gauge()
    finally:
        for s in socks:
            s.close()
    down = wait_until(lambda: gauge() <= up - 3, 3)
    assert down, "active_connections did not come down after closing 3 connections (%r, was %r)" % (gauge(), up)


def test_bytes_out_counts_sent_bytes(srv):
    # a 10-byte range of a 2 MiB file adds about 10 bytes, not 2 MiB
    o = srv.upload("bo.bin", rand_bytes(2 * 1024 * 1024))
    m0 = srv.metrics()
    r = expect(srv.get(srv.dl_path(o), {"Range": "bytes=0-9"}), 206)
    assert len(r.body) == 10
    time.sleep(0.2)
    m1 = srv.metrics()
    d = metric_sum(m1, "partage_bytes_out_total") - metric_sum(m0, "partage_bytes_out_total")
    assert 10 <= d < 64 * 1024, "bytes_out moved by %d for a 10-byte range (plus a /metrics reply)" % d
