#!/usr/bin/env python3
"""usage: ingest_bench.py [--with-vm] [--pin] [--series 100000] [--per-request 2000] [--senders 2]
                          [--warmup 10] [--duration 30] [--reps 1] [--only pharos|prometheus]

Remote-write ingest, pharos vs Prometheus 2.42 (Debian `prometheus`, started
with --web.enable-remote-write-receiver) and, with --with-vm, VictoriaMetrics
(Debian `victoria-metrics`), one after the other in one run on
the same load: the rw_load generator (tests/src/bin/rw_load.rs) sends
node_exporter-like samples for SERIES active series, PER_REQUEST samples per
request from SENDERS threads. After WARMUP seconds (every series created),
the server's CPU time (utime+stime from /proc) is read over DURATION seconds.

Prints per system: accepted samples/s, CPU seconds per million samples,
resident memory (VmRSS) at the end and per active series (RSS growth from the
idle server, divided by SERIES); then pharos/Prometheus ratios. Budgets
(DESIGN.md): ingest CPU/sample <= 0.5x, memory per series <= 0.5x.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common  # noqa: E402


def server_cmd(name, port, data):
    if name == "pharos":
        # No host collector: its current-time samples would make the
        # benchmark's 2023 timestamps older than retention.
        cmd = [common.pharos_bin(), "--web.listen-address=127.0.0.1:%d" % port,
               "--storage.path=" + data, "--log.level=warn", "--collector.host=false", "--collector.self=false"]
    elif name == "victoriametrics":
        cmd = [common.need("victoria-metrics", "victoria-metrics"), "-storageDataPath=" + data,
               "-httpListenAddr=127.0.0.1:%d" % port, "-retentionPeriod=100y", "-loggerLevel=ERROR"]
    else:
        cfg = os.path.join(common.WORK, "ingest", "prometheus.yml")
        with open(cfg, "w") as f:
            f.write("global: {}\n")
        cmd = [common.need("prometheus", "prometheus"), "--config.file=" + cfg,
               "--storage.tsdb.path=" + data, "--web.listen-address=127.0.0.1:%d" % port,
               "--web.enable-remote-write-receiver", "--storage.tsdb.retention.time=100y",
               "--log.level=warn"]
    return cmd


def run_one(name, a):
    port = common.free_port()
    url = "http://127.0.0.1:%d" % port
    data = common.fresh_dir("ingest", name)
    log = os.path.join(common.WORK, "ingest", name + ".log")
    cmd = server_cmd(name, port, data)
    if a.pin:
        cmd = ["taskset", "-c", "1"] + cmd
    p = common.start(cmd, url, log)
    time.sleep(1)
    rss_idle, _ = common.rss_bytes(p.pid)
    gen = subprocess.Popen((["taskset", "-c", "0"] if a.pin else []) + [common.tool_bin("rw_load"), "--url", url + "/api/v1/write",
                            "--series", str(a.series), "--per-request", str(a.per_request),
                            "--senders", str(a.senders), "--warmup", str(a.warmup),
                            "--duration", str(a.duration)], stdout=subprocess.PIPE, text=True)
    cpu0 = cpu1 = None
    result = None
    for line in gen.stdout:
        ev = json.loads(line)
        if ev["event"] == "measure_start":
            cpu0 = common.cpu_seconds(p.pid)
        elif ev["event"] == "measure_end":
            cpu1 = common.cpu_seconds(p.pid)
        elif ev["event"] == "result":
            result = ev
    gen.wait()
    rss, hwm = common.rss_bytes(p.pid)
    common.stop(p)
    acc = result["samples_accepted"]
    if acc == 0 or result["failed_requests"]:
        print("warning: %s: %d failed requests" % (name, result["failed_requests"]), file=sys.stderr)
    return {
        "name": name,
        "samples_per_second": result["samples_per_second"],
        "cpu_s_per_million": (cpu1 - cpu0) / acc * 1e6 if acc else float("nan"),
        "rss_bytes": rss, "rss_hwm_bytes": hwm,
        "rss_per_series": (rss - rss_idle) / a.series,
        "failed_requests": result["failed_requests"],
    }


def memory_one(name, a):
    """RSS growth per series after exactly a.memory_rounds samples per series."""
    port = common.free_port()
    url = "http://127.0.0.1:%d" % port
    data = common.fresh_dir("ingest", name + "-mem")
    log = os.path.join(common.WORK, "ingest", name + "-mem.log")
    cmd = server_cmd(name, port, data)
    p = common.start(cmd, url, log)
    time.sleep(1)
    rss_idle, _ = common.rss_bytes(p.pid)
    out = subprocess.run([common.tool_bin("rw_load"), "--url", url + "/api/v1/write",
                          "--series", str(a.series), "--per-request", str(a.per_request),
                          "--senders", str(a.senders), "--rounds", str(a.memory_rounds)],
                         stdout=subprocess.PIPE, text=True, check=True).stdout
    result = [json.loads(l) for l in out.splitlines() if '"result"' in l][0]
    time.sleep(2)
    rss, _ = common.rss_bytes(p.pid)
    common.stop(p)
    return {"name": name, "rounds": a.memory_rounds, "accepted": result["samples_accepted"],
            "rss_bytes": rss, "rss_per_series": (rss - rss_idle) / a.series}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--series", type=int, default=100_000)
    ap.add_argument("--per-request", type=int, default=2000)
    ap.add_argument("--senders", type=int, default=2)
    ap.add_argument("--warmup", type=int, default=10)
    ap.add_argument("--duration", type=int, default=30)
    ap.add_argument("--reps", type=int, default=1)
    ap.add_argument("--only", choices=["pharos", "prometheus", "victoriametrics"])
    ap.add_argument("--with-vm", action="store_true", help="also run VictoriaMetrics (Debian victoria-metrics)")
    ap.add_argument("--memory-rounds", type=int, default=40,
                    help="memory phase: samples per series sent before RSS is read (0 skips it)")
    ap.add_argument("--pin", action="store_true",
                    help="server on CPU 1, load generator on CPU 0 (taskset), so the rate measures a server on one core")
    a = ap.parse_args()
    names = [a.only] if a.only else ["prometheus", "pharos"] + (["victoriametrics"] if a.with_vm else [])
    runs = {n: [] for n in names}
    for _ in range(a.reps):
        for n in names:
            r = run_one(n, a)
            runs[n].append(r)
            print(json.dumps(r))
    med = {n: {k: statistics.median(r[k] for r in rs) for k in
               ("samples_per_second", "cpu_s_per_million", "rss_bytes", "rss_per_series")}
           for n, rs in runs.items()}
    print("\n%-12s %14s %16s %12s %14s" % ("", "samples/s", "CPU s/M samples", "RSS MiB", "B/series"))
    for n, m in med.items():
        print("%-12s %14.0f %16.3f %12.1f %14.0f" % (n, m["samples_per_second"], m["cpu_s_per_million"],
                                                  m["rss_bytes"] / 2**20, m["rss_per_series"]))
    if "pharos" in med and "prometheus" in med:
        ph, pr = med["pharos"], med["prometheus"]
        print("ratios pharos/prometheus: rate %.2fx, CPU per sample %.2fx (budget <= 0.5), memory per series %.2fx (budget <= 0.5)"
              % (ph["samples_per_second"] / pr["samples_per_second"],
                 ph["cpu_s_per_million"] / pr["cpu_s_per_million"],
                 ph["rss_per_series"] / pr["rss_per_series"]))
    if a.memory_rounds:
        mem = {n: memory_one(n, a) for n in names}
        print("\nmemory after exactly %d samples per series (%d series):" % (a.memory_rounds, a.series))
        for n, m in mem.items():
            print("%-16s RSS %7.1f MiB, %6.0f bytes per series" % (n, m["rss_bytes"] / 2**20, m["rss_per_series"]))
            print(json.dumps(m))
        if "pharos" in mem and "prometheus" in mem:
            print("ratio pharos/prometheus memory per series: %.2fx (budget <= 0.5)"
                  % (mem["pharos"]["rss_per_series"] / mem["prometheus"]["rss_per_series"]))
        if "pharos" in mem and "victoriametrics" in mem:
            print("ratio pharos/victoriametrics memory per series: %.2fx"
                  % (mem["pharos"]["rss_per_series"] / mem["victoriametrics"]["rss_per_series"]))
    if "pharos" in med and "victoriametrics" in med:
        ph, vm = med["pharos"], med["victoriametrics"]
        print("ratios pharos/victoriametrics: rate %.2fx, CPU per sample %.2fx, memory per series %.2fx"
              % (ph["samples_per_second"] / vm["samples_per_second"],
                 ph["cpu_s_per_million"] / vm["cpu_s_per_million"],
                 ph["rss_per_series"] / vm["rss_per_series"]))


if __name__ == "__main__":
    main()
