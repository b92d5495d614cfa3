#!/usr/bin/env python3
"""usage: scrape_bench.py [--targets 50] [--series 1000] [--interval 1s] [--warmup 20]
                          [--duration 120] [--pin] [--together] [--reps 1]
                          [--only pharos|prometheus]

Scraping, pharos vs Prometheus 2.42 (Debian `prometheus`), one after the
other in one run on the same targets: scrape_targets
(tests/src/bin/scrape_targets.rs) serves TARGETS distinct targets on as many
ports, each with SERIES node_exporter-like series in Prometheus text format
whose values change on every scrape; it runs throughout. Each system gets the
same prometheus.yml (one job "bench", every target, scrape_interval =
scrape_timeout = INTERVAL), a fresh data directory, WARMUP seconds to settle,
then DURATION seconds during which its CPU time (utime+stime from /proc) is
read. --pin puts the scraper on CPU 1 and the targets on CPU 0 (taskset).
--together runs both systems at once, both on CPU 1 with --pin, over the
same window: on a shared machine whose speed drifts between windows the
drift then hits both alike and cancels out of the ratio.

Samples scraped in the window are counted the same way for both systems: the
raw samples of scrape_samples_scraped{job="bench"} with timestamps in the
window, summed (pharos: /api/v1/export; Prometheus: /api/v1/query of a range
selector, which returns raw samples), read after the window so the queries
do not count. These are target samples only; each scrape also appends 5
report series (up, scrape_duration_seconds, ...) that are not counted. The
targets server's own count of samples served in the window is a cross-check.
Every target must be up (/api/v1/targets) and scraped about DURATION /
INTERVAL times in the window.

Prints per system: CPU seconds per 1000 samples scraped, CPU cores used,
resident memory (VmRSS) at the end and peak (VmHWM), the busiest threads;
then pharos/Prometheus ratios. Budget (issue): scrape CPU <= 0.5x Prometheus.
"""
import argparse
import json
import math
import os
import re
import statistics
import subprocess
import sys
import time
import urllib.parse
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common  # noqa: E402

JOB = "bench"


def duration_s(text):
    m = re.fullmatch(r"(\d+(?:\.\d+)?)(ms|s|m)", text)
    if not m:
        sys.exit("--interval: expected e.g. 1s, 500ms, 15s")
    return float(m.group(1)) * {"ms": 0.001, "s": 1, "m": 60}[m.group(2)]


def targets_bin():
    """scrape_targets, compiled with rustc alone: it uses only std, so it does
    not wait for (or break with) the rest of the workspace."""
    src = os.path.join(common.ROOT, "tests", "src", "bin", "scrape_targets.rs")
    out = os.path.join(common.WORK, "scrape", "scrape_targets")
    if not os.path.exists(out) or os.path.getmtime(out) < os.path.getmtime(src):
        subprocess.run([common.need("rustc", "rustc"), "-O", "--edition", "2021", "-o", out, src], check=True)
    return out


def write_config(path, ports, interval):
    targets = ", ".join("'127.0.0.1:%d'" % p for p in ports)
    with open(path, "w") as f:
        f.write("global:\n  scrape_interval: %s\n  scrape_timeout: %s\n  evaluation_interval: 1m\n"
                "scrape_configs:\n  - job_name: %s\n    static_configs:\n      - targets: [%s]\n"
                % (interval, interval, JOB, targets))


def server_cmd(name, port, data, cfg):
    if name == "pharos":
        return [common.pharos_bin(), "--config.file=" + cfg, "--web.listen-address=127.0.0.1:%d" % port,
                "--storage.path=" + data, "--log.level=warn", "--collector.host=false", "--collector.self=false"]
    return [common.need("prometheus", "prometheus"), "--config.file=" + cfg, "--storage.tsdb.path=" + data,
            "--web.listen-address=127.0.0.1:%d" % port, "--log.level=warn"]


def scraped_samples(name, url, t0, t1):
    """{instance: [scrape_samples_scraped values with t0 < timestamp <= t1]}."""
    sel = 'scrape_samples_scraped{job="%s"}' % JOB
    out = {}
    if name == "pharos":
        q = urllib.parse.urlencode({"match[]": sel, "start": "%.3f" % t0, "end": "%.3f" % t1})
        with urllib.request.urlopen(url + "/api/v1/export?" + q, timeout=60) as r:
            for line in r.read().decode().splitlines():
                s = json.loads(line)
                vals = [v for ts, v in zip(s["timestamps"], s["values"])
                        if t0 * 1000 < ts <= t1 * 1000 and isinstance(v, (int, float))]
                out.setdefault(s["metric"]["instance"], []).extend(vals)
    else:
        q = urllib.parse.urlencode({"query": "%s[%dms]" % (sel, math.ceil((t1 - t0) * 1000)), "time": "%.3f" % t1})
        res = common.get_json(url + "/api/v1/query?" + q, timeout=60)
        for s in res["data"]["result"]:
            vals = [float(v) for ts, v in s["values"] if t0 < float(ts) <= t1 and v not in ("NaN",)]
            out.setdefault(s["metric"]["instance"], []).extend(vals)
    return out


def targets_health(url):
    res = common.get_json(url + "/api/v1/targets")
    act = [t for t in res["data"]["activeTargets"] if t.get("labels", {}).get("job") == JOB]
    up = sum(1 for t in act if t.get("health") == "up")
    errors = sorted({t.get("lastError") for t in act if t.get("lastError")})
    return len(act), up, errors


def start_system(name, a, ports):
    port = common.free_port()
    url = "http://127.0.0.1:%d" % port
    data = common.fresh_dir("scrape", name)
    cfg = os.path.join(common.WORK, "scrape", name + ".yml")
    write_config(cfg, ports, a.interval)
    cmd = server_cmd(name, port, data, cfg)
    if a.pin:
        cmd = ["taskset", "-c", "1"] + cmd
    p = common.start(cmd, url, os.path.join(common.WORK, "scrape", name + ".log"))
    return {"name": name, "p": p, "url": url}


def measure(names, a, ports, stats_url):
    """Starts the systems in `names` (one, or all of them together), measures
    them over one window and returns a result per system."""
    systems = [start_system(n, a, ports) for n in names]
    time.sleep(a.warmup)
    pids = [s["p"].pid for s in systems]
    cpu0, th0 = [common.cpu_seconds(p) for p in pids], [common.thread_cpu(p) for p in pids]
    served0 = common.get_json(stats_url)
    t0 = time.time()
    rss_max = [0] * len(systems)
    while time.time() < t0 + a.duration:
        time.sleep(min(1.0, max(0.0, t0 + a.duration - time.time())))
        rss_max = [max(m, common.rss_bytes(p)[0]) for m, p in zip(rss_max, pids)]
    cpu1, th1 = [common.cpu_seconds(p) for p in pids], [common.thread_cpu(p) for p in pids]
    served1 = common.get_json(stats_url)
    t1 = time.time()
    rss = [common.rss_bytes(p) for p in pids]
    for s in systems:
        if s["p"].poll() is not None:
            sys.exit("%s died during the run" % s["name"])
    # Queries after the window: their cost is not measured. Wait one
    # interval so the last scrape of the window is stored.
    time.sleep(a.interval_s + 0.5)
    # Every system scrapes every target once per interval, so each was
    # served an equal share.
    served = (served1["samples"] - served0["samples"]) / len(systems)
    results = []
    for i, s in enumerate(systems):
        name = s["name"]
        per_target = scraped_samples(name, s["url"], t0, t1)
        n_targets, n_up, errors = targets_health(s["url"])
        common.stop(s["p"])
        samples = sum(sum(v) for v in per_target.values())
        scrapes = [len(v) for v in per_target.values()]
        expected = (t1 - t0) / a.interval_s
        ok = (n_targets == len(ports) and n_up == len(ports) and len(per_target) == len(ports)
              and min(scrapes or [0]) >= 0.9 * expected - 1)
        if not ok:
            print("warning: %s: %d/%d targets up, %d with samples, scrapes per target %s (expected ~%.0f), errors %s"
                  % (name, n_up, n_targets, len(per_target), (min(scrapes or [0]), max(scrapes or [0])), expected,
                     errors[:3]), file=sys.stderr)
        cpu = cpu1[i] - cpu0[i]
        results.append({
            "name": name, "together": len(systems) > 1, "window_s": round(t1 - t0, 2), "cpu_s": round(cpu, 3),
            "cores": round(cpu / (t1 - t0), 4), "samples_scraped": int(samples), "samples_served": int(served),
            "cpu_s_per_1000_samples": cpu / samples * 1000 if samples else float("nan"),
            "scrapes_per_target_min": min(scrapes or [0]), "scrapes_per_target_max": max(scrapes or [0]),
            "expected_scrapes": round(expected, 1), "targets": n_targets, "targets_up": n_up, "all_up": ok,
            "rss_bytes": rss[i][0], "rss_max_sampled_bytes": rss_max[i], "rss_hwm_bytes": rss[i][1],
            "threads": [(n, round(c, 2), k) for n, c, k in common.thread_cpu_delta(th0[i], th1[i])[:6]],
        })
    return results


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--targets", type=int, default=50)
    ap.add_argument("--series", type=int, default=1000, help="series per target")
    ap.add_argument("--interval", default="1s", help="scrape_interval (and scrape_timeout), e.g. 1s, 500ms, 15s")
    ap.add_argument("--warmup", type=int, default=20, help="seconds from /-/ready to the measured window (Prometheus starts scraping ~5 s after ready)")
    ap.add_argument("--duration", type=int, default=120, help="seconds measured, per system")
    ap.add_argument("--reps", type=int, default=1)
    ap.add_argument("--only", choices=["pharos", "prometheus"])
    ap.add_argument("--pin", action="store_true",
                    help="scraper on CPU 1, targets on CPU 0 (taskset), the same core for both scrapers")
    ap.add_argument("--together", action="store_true",
                    help="run both systems at the same time over the same window (drift of the machine's "
                         "speed between windows cancels out of the ratio)")
    a = ap.parse_args()
    a.interval_s = duration_s(a.interval)
    names = [a.only] if a.only else ["prometheus", "pharos"]
    if "pharos" in names:
        common.pharos_bin()  # build before the targets run, not while they are served
    os.makedirs(os.path.join(common.WORK, "scrape"), exist_ok=True)
    tcmd = [targets_bin(), "--targets", str(a.targets), "--series", str(a.series),
            "--max-seconds", str(a.reps * (1 if a.together else len(names)) * (a.warmup + a.duration + 120) + 300)]
    if a.pin:
        tcmd = ["taskset", "-c", "0"] + tcmd
    tp = subprocess.Popen(tcmd, stdout=subprocess.PIPE, text=True)
    try:
        ready = json.loads(tp.stdout.readline())
        ports = ready["ports"]
        stats_url = "http://127.0.0.1:%d/stats" % ports[0]
        print("targets: %d x %d series, %d bytes per scrape (%.1f bytes per sample line), interval %s"
              % (a.targets, a.series, ready["body_bytes"], ready["line_bytes"], a.interval))
        t_cpu0 = common.cpu_seconds(tp.pid)
        runs = {n: [] for n in names}
        for _ in range(a.reps):
            for group in ([names] if a.together else [[n] for n in names]):
                for r in measure(group, a, ports, stats_url):
                    runs[r["name"]].append(r)
                    print(json.dumps(r), flush=True)
        t_cpu = common.cpu_seconds(tp.pid) - t_cpu0
        served = common.get_json(stats_url)["samples"]
    finally:
        common.stop(tp)
    med = {n: {k: statistics.median(r[k] for r in rs) for k in
               ("cpu_s_per_1000_samples", "cores", "samples_scraped", "rss_bytes", "rss_hwm_bytes")}
           for n, rs in runs.items()}
    print("\ntargets server: %.2f CPU s for %d samples served (%.4f s per 1000)"
          % (t_cpu, served, t_cpu / served * 1000 if served else float("nan")))
    print("\n%-12s %16s %18s %10s %14s %14s %8s" % ("", "samples scraped", "CPU s/1000 samples", "cores",
                                                    "RSS end MiB", "RSS peak MiB", "all up"))
    for n, m in med.items():
        print("%-12s %16d %18.5f %10.3f %14.1f %14.1f %8s"
              % (n, m["samples_scraped"], m["cpu_s_per_1000_samples"], m["cores"], m["rss_bytes"] / 2**20,
                 m["rss_hwm_bytes"] / 2**20, all(r["all_up"] for r in runs[n])))
    if "pharos" in med and "prometheus" in med:
        ph, pr = med["pharos"], med["prometheus"]
        cpu_ratio = ph["cpu_s_per_1000_samples"] / pr["cpu_s_per_1000_samples"]
        print("ratios pharos/prometheus: CPU per sample %.2fx (budget <= 0.5: %s), RSS end %.2fx, RSS peak %.2fx"
              % (cpu_ratio, "ok" if cpu_ratio <= 0.5 else "OVER", ph["rss_bytes"] / pr["rss_bytes"],
                 ph["rss_hwm_bytes"] / pr["rss_hwm_bytes"]))


if __name__ == "__main__":
    main()
