#!/usr/bin/env python3
"""usage: hostile_compare.py

Sends issue 14's hostile inputs to pharos (target/release/pharos, or
$PHAROS_BIN) and to the real Prometheus 2.42 and Alertmanager (Debian's
`prometheus`, `prometheus-alertmanager`, `promtool`), and prints one line
per case: what each answered (HTTP status and the start of the error, or
the exit code of a check command), so the two can be read side by side.
Inputs that would make Prometheus itself run out of memory are not sent
to it (marked "not sent"). Standard library only, like the benchmarks.
"""
import http.client
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "bench"))
import common  # noqa: E402


def post(url, path, form, timeout=60):
    data = urllib.parse.urlencode(form).encode()
    t = time.time()
    try:
        with urllib.request.urlopen(url + path, data, timeout=timeout) as r:
            body = r.read()
            return r.status, body[:90].decode(errors="replace"), time.time() - t
    except urllib.error.HTTPError as e:
        return e.code, e.read()[:120].decode(errors="replace"), time.time() - t
    except Exception as e:  # reset, timeout, refused
        return "ERR", str(e)[:90], time.time() - t


def show(case, *answers):
    print("%-48s" % case + " | ".join("%-8s %s" % (name, a) for name, a in answers))


def fmt(r):
    code, body, secs = r
    return "%s %.1fs %s" % (code, secs, body.replace("\n", " ")[:70])


def bomb(key):
    s = 'x:\n  a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n'
    prev = "a"
    for n in "bcdefghi":
        s += "  %s: &%s [%s]\n" % (n, n, ",".join(["*" + prev] * 9))
        prev = n
    return s + "%s: *i\n" % key


def check(cmd, text, timeout=20):
    with tempfile.NamedTemporaryFile("w", suffix=".yml", delete=False) as f:
        f.write(text)
    try:
        p = subprocess.run(cmd + [f.name], capture_output=True, text=True, timeout=timeout)
        out = (p.stdout + p.stderr).replace(f.name, "FILE").replace("\n", " ")
        return "exit %d %s" % (p.returncode, out[:70])
    except subprocess.TimeoutExpired:
        return "still running after %ds (killed)" % timeout


def half_open(host, port, wait):
    s = socket.create_connection((host, port))
    s.sendall(b"GET /-/healthy HTTP/1.1\r\nHost: x\r\n")
    s.settimeout(wait)
    t = time.time()
    try:
        s.recv(100)
        return "closed after %.1fs" % (time.time() - t)
    except socket.timeout:
        return "still open after %ds" % wait
    finally:
        s.close()


def big_alerts(host, port):
    body = b"[" + b",".join([b'{"labels":{"alertname":"x"}}'] * 1_200_000) + b"]"
    c = http.client.HTTPConnection(host, port, timeout=60)
    try:
        c.request("POST", "/api/v2/alerts", body, {"Content-Type": "application/json"})
        r = c.getresponse()
        return "%d %s" % (r.status, r.read()[:60].decode(errors="replace"))
    except Exception as e:
        return "ERR %s" % str(e)[:60]


def main():
    work = tempfile.mkdtemp(prefix="hostile-")
    pharos = common.pharos_bin()
    prom = common.need("prometheus", "prometheus")
    am = common.need("prometheus-alertmanager", "prometheus-alertmanager")
    pp, qp, ap = common.free_port(), common.free_port(), common.free_port()
    prom_cfg = os.path.join(work, "prometheus.yml")
    with open(prom_cfg, "w") as f:
        f.write("scrape_configs:\n- job_name: x\n  basic_auth: {username: u, password: flowpass}\n"
                "  static_configs: [{targets: ['127.0.0.1:1']}]\n"
                "remote_write:\n- url: https://w:pw@example.invalid/write?token=tok\n")
    am_cfg = os.path.join(work, "alertmanager.yml")
    with open(am_cfg, "w") as f:
        f.write("route: {receiver: r}\nreceivers:\n- name: r\n  webhook_configs:\n"
                "  - url: http://127.0.0.1:1/hook\n    http_config: {basic_auth: {username: u, password: flowpass}}\n")
    P = "http://127.0.0.1:%d" % pp
    Q = "http://127.0.0.1:%d" % qp
    A = "http://127.0.0.1:%d" % ap
    procs = [
        common.start([pharos, "--web.listen-address=127.0.0.1:%d" % pp, "--storage.path=" + work + "/pharos",
                      "--config.file=" + prom_cfg, "--alertmanager.config.file=" + am_cfg,
                      "--collector.host=false", "--query.max-samples=1000000", "--web.read-timeout=5s"],
                     P, work + "/pharos.log"),
        common.start([prom, "--web.listen-address=127.0.0.1:%d" % qp, "--storage.tsdb.path=" + work + "/prom",
                      "--config.file=" + prom_cfg, "--query.max-samples=1000000", "--web.read-timeout=5s"],
                     Q, work + "/prom.log"),
        common.start([am, "--web.listen-address=127.0.0.1:%d" % ap, "--storage.path=" + work + "/am",
                      "--config.file=" + am_cfg, "--cluster.listen-address="], A, work + "/am.log"),
    ]
    try:
        deep = {
            "3000 nested parentheses": "(" * 3000 + "1" + ")" * 3000,
            "sum( nested 1000 deep": "sum(" * 1000 + "up" + ")" * 1000,
            "2000-term 1+1+...": "+".join(["1"] * 2000),
            "100000-term 1+1+...": "+".join(["1"] * 100000),
        }
        for name, q in deep.items():
            for path in ["/api/v1/query", "/api/v1/format_query"]:
                show("%s %s" % (path.split("/")[-1], name),
                     ("pharos", fmt(post(P, path, {"query": q}))),
                     ("prom", fmt(post(Q, path, {"query": q}))))
        for q in ["count_over_time(vector(1)[1d:1ms])", "count_over_time(vector(1)[10y:1ms])"]:
            show(q + " (max-samples 1e6)", ("pharos", fmt(post(P, "/api/v1/query", {"query": q}))),
                 ("prom", fmt(post(Q, "/api/v1/query", {"query": q}))))
        for what, key, prom_cmd in [("config", "scrape_configs", ["promtool", "check", "config"]),
                                    ("rules", "groups", ["promtool", "check", "rules"]),
                                    ("alertmanager", "receivers", ["amtool", "check-config"])]:
            show("check %s: alias bomb" % what, ("pharos", check([pharos, "check", what], bomb(key))),
                 ("anchor", check(prom_cmd, bomb(key))))
        for path in ["/-/quit", "/-/reload"]:
            show("POST %s (no --web.enable-lifecycle)" % path, ("pharos", fmt(post(P, path, {}))),
                 ("prom", fmt(post(Q, path, {}))))
        show("half-sent request, read timeout 5s", ("pharos", half_open("127.0.0.1", pp, 15)),
             ("prom", half_open("127.0.0.1", qp, 15)))
        show("34 MB POST /api/v2/alerts", ("pharos", big_alerts("127.0.0.1", pp)),
             ("am", big_alerts("127.0.0.1", ap)))
        def secrets(base, path):
            try:
                with urllib.request.urlopen(base + path, timeout=10) as r:
                    text = r.read().decode()
            except Exception as e:
                return "ERR %s" % e
            leaked = [s for s in ["flowpass", "pw@", "token=tok"] if s in text]
            return "leaks %s" % leaked if leaked else "no secret shown"
        show("/api/v1/status/config secrets", ("pharos", secrets(P, "/api/v1/status/config")),
             ("prom", secrets(Q, "/api/v1/status/config")))
        show("/api/v2/status flow-style secrets", ("pharos", secrets(P, "/api/v2/status")),
             ("am", secrets(A, "/api/v2/status")))
    finally:
        for p in procs:
            common.stop(p)


if __name__ == "__main__":
    main()
