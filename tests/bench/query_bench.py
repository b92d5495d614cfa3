#!/usr/bin/env python3
"""usage: query_bench.py [--reps 10] [--pin] [--step 60] [--only q01,q05] [--kinds instant,range]
                         [--end UNIX_S] [--fresh] [--hold SECONDS]

PromQL query latency, pharos vs Prometheus 2.42 (Debian `prometheus`), both
serving the same data in one run. Budget (DESIGN.md): pharos median <=
Prometheus median on every query of the set.

Data: gen_openmetrics.py (this folder; node_exporter-like, seeded; not the
numpy generator of ../shared/tools/bench, but the same families, labels and
sizes, so the query set applies unchanged), 1 000 series x 24 h at 15 s =
5 760 000 samples, ending at END = the current minute
(or --end; a file generated in the last 6 h is reused unless --fresh).
promtool aligns blocks to multiples of 54 h: when the 24 h would straddle
such a boundary END moves back to it (at most 24 h), so Prometheus
gets a single block and does no compaction while it is timed. The file is
kept under WORK/data/ and reused for the same END.

Loading: `promtool tsdb create-blocks-from openmetrics --max-block-duration=54h`
into a fresh Prometheus data directory, `pharos import openmetrics` into a
fresh pharos one. Both servers then run side by side on 127.0.0.1 with a
configuration that scrapes nothing (`scrape_configs: []`; pharos also with
its host collector and self-scrape off), Prometheus with 100y retention,
pharos with its default (counted from the newest sample).

Queries: the set of ../shared/tools/bench/query_bench.py, on which the
Prometheus and VictoriaMetrics baselines of DESIGN.md were measured, copied
so that numbers compare. Each runs as an instant query (/api/v1/query at END)
and as a 24 h range query (/api/v1/query_range END-24h..END, step 60 s: what
Grafana asks for a 24 h panel ~1 400 px wide), POSTed form-encoded, a new
connection per request, latency = client wall time until the whole body is
read.

Before timing, both systems must agree: the same count({__name__=~".+"}),
and, for every query, the same series with the same timestamps and values
within 1e-6 relative (1e-9 absolute); mismatches are printed loudly and the
query is still timed. Then one warm-up pass, then REPS passes; within each
pass every query runs once on each system, back to back, the system going
first alternating from pass to pass. Prints per query the median and min
latency of each system and the pharos/Prometheus ratio of medians, the
median of the per-pass ratios ("paired": steadier when other work runs on
the machine, since both systems of a pass see the same moment), and whether
the budget holds. --pin runs both servers on CPU 1 and this client
on CPU 0 (taskset / sched_setaffinity). --hold keeps both servers up that
many seconds after the timed passes (URLs and PIDs printed) for perf or
curl; SIGTERM ends it early and still stops both servers.
Results (JSON) go to WORK/query/result.json.

Expected differences from Prometheus 2.42, which pharos does not share on
purpose (it follows today's Prometheus): q02/q13 range differ at the first
4 steps (series start: 2.51 changed where rate's extrapolation is limited
by the zero point, prometheus/prometheus#13725); q09 range differs where
the inner point exactly 1 h back is the maximum (Prometheus 3's left-open
windows drop it, 2.42's closed ones keep it).
"""
import argparse
import json
import math
import os
import re
import signal
import statistics
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common  # noqa: E402

# Copied from ../shared/tools/bench/query_bench.py (the baseline set).
QUERIES = [
    ("q01_sum_rate_cpu", 'sum by (instance) (rate(node_cpu_seconds_total{mode!="idle"}[5m]))'),
    ("q02_hist_quantile",
     'histogram_quantile(0.9, sum by (le, instance) (rate(http_request_duration_seconds_bucket[5m])))'),
    ("q03_topk", "topk(3, rate(node_network_receive_bytes_total[5m]))"),
    ("q04_avg_over_time", "avg_over_time(node_load1[1h])"),
    ("q05_label_replace", 'label_replace(node_load5, "host", "$1", "instance", "([^:]+):.*")'),
    ("q06_group_left",
     "rate(node_network_transmit_bytes_total[5m]) * on(instance) group_left(nodename, release) "
     "node_uname_info"),
    ("q07_count_by",
     "count by (instance) (node_filesystem_avail_bytes / node_filesystem_size_bytes < 0.5)"),
    ("q08_quantile_over_time", "quantile_over_time(0.95, node_load1[30m])"),
    ("q09_subquery", "max_over_time(rate(node_context_switches_total[5m])[1h:1m])"),
    ("q10_cpu_util", '100 * (1 - avg by (instance) (rate(node_cpu_seconds_total{mode="idle"}[5m])))'),
    ("q11_mem_ratio", "node_memory_MemAvailable_bytes / node_memory_MemTotal_bytes"),
    ("q12_increase", "sum by (device) (increase(node_disk_read_bytes_total[1h]))"),
    ("q13_hist_avg",
     "sum(rate(http_request_duration_seconds_sum[5m])) / sum(rate(http_request_duration_seconds_count[5m]))"),
    ("q14_regex_irate", 'irate(node_disk_io_time_seconds_total{device=~"sd.*"}[5m])'),
]
SERIES, HOURS, INTERVAL = 1000, 24, 15
BLOCK_S = 54 * 3600
SYSTEMS = ("pharos", "prometheus")


def pick_end(end, hours):
    """END (whole minute) such that [END - hours, END) fits one 54h-aligned block."""
    end = end - end % 60
    start = end - int(hours * 3600)
    if start // BLOCK_S != (end - 1) // BLOCK_S:
        end = (end - 1) // BLOCK_S * BLOCK_S
    return end


def cached_end(max_age_s):
    """END of the data file already generated, if it is younger than max_age_s."""
    d = os.path.join(common.WORK, "data")
    for f in os.listdir(d) if os.path.isdir(d) else []:
        m = re.fullmatch(r"query_s%d_d%d_end(\d+)\.om" % (SERIES, HOURS), f)
        if m and time.time() - int(m.group(1)) < max_age_s:
            return int(m.group(1))
    return None


def data_file(end):
    d = os.path.join(common.WORK, "data")
    os.makedirs(d, exist_ok=True)
    name = "query_s%d_d%d_end%d.om" % (SERIES, HOURS, end)
    path = os.path.join(d, name)
    if not os.path.exists(path):
        for old in os.listdir(d):  # one 600 MB file is enough
            if old.startswith("query_s") and old.endswith((".om", ".om.tmp")):
                os.remove(os.path.join(d, old))
        t0 = time.time()
        subprocess.run([sys.executable, os.path.join(os.path.dirname(os.path.abspath(__file__)), "gen_openmetrics.py"),
                        "-s", str(SERIES), "-d", str(HOURS), "-i", str(INTERVAL), "--end", str(end),
                        "-o", path + ".tmp"], check=True)
        os.rename(path + ".tmp", path)
        print("generated %s in %.1f s" % (path, time.time() - t0))
    return path


def load_and_start(name, om, pin):
    port = common.free_port()
    url = "http://127.0.0.1:%d" % port
    base = os.path.join(common.WORK, "query")
    data = common.fresh_dir("query", name)
    cfg = os.path.join(base, "empty.yml")
    with open(cfg, "w") as f:
        f.write("global:\n  scrape_interval: 15s\n  evaluation_interval: 1m\nscrape_configs: []\n")
    t0 = time.time()
    if name == "prometheus":
        subprocess.run([common.need("promtool", "prometheus"), "tsdb", "create-blocks-from", "openmetrics",
                        "--max-block-duration=54h", om, data], check=True, stdout=subprocess.DEVNULL)
        blocks = [b for b in os.listdir(data) if os.path.exists(os.path.join(data, b, "meta.json"))]
        if len(blocks) != 1:
            print("WARNING: promtool wrote %d blocks (expected 1): Prometheus may compact while timed" % len(blocks))
        cmd = [common.need("prometheus", "prometheus"), "--config.file=" + cfg, "--storage.tsdb.path=" + data,
               "--storage.tsdb.retention.time=100y", "--web.listen-address=127.0.0.1:%d" % port,
               "--log.level=warn"]
    else:
        pharos = common.pharos_bin()
        subprocess.run([pharos, "import", "openmetrics", om, "--storage.path=" + data, "--quiet"],
                       check=True, stdout=subprocess.DEVNULL)
        cmd = [pharos, "--config.file=" + cfg, "--web.listen-address=127.0.0.1:%d" % port,
               "--storage.path=" + data, "--log.level=warn", "--collector.host=false", "--collector.self=false"]
    load_s = time.time() - t0
    if pin:
        cmd = ["taskset", "-c", "1"] + cmd
    p = common.start(cmd, url, os.path.join(base, name + ".log"))
    print("%-10s loaded in %.1f s, serving %s (pid %d)" % (name, load_s, url, p.pid))
    return p, url


def do_query(url, kind, q, end, start, step, timeout=120):
    if kind == "instant":
        path, params = "/api/v1/query", {"query": q, "time": str(end)}
    else:
        path, params = "/api/v1/query_range", {"query": q, "start": str(start), "end": str(end), "step": str(step)}
    req = urllib.request.Request(url + path, data=urllib.parse.urlencode(params).encode(),
                                 headers={"Content-Type": "application/x-www-form-urlencoded"})
    t0 = time.perf_counter()
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            body, status = r.read(), r.status
    except urllib.error.HTTPError as e:
        body, status = e.read(), e.code
    return time.perf_counter() - t0, status, body


def points(body):
    """{label set: [(t, value)]} of a query answer, or an error string."""
    try:
        doc = json.loads(body)
    except ValueError:
        return "not JSON: %r" % body[:200]
    if doc.get("status") != "success":
        return "%s: %s" % (doc.get("errorType"), doc.get("error"))
    data = doc["data"]
    rt, res = data["resultType"], data["result"]
    if rt in ("scalar", "string"):
        return {(): [(float(res[0]), res[1])]}
    out = {}
    for s in res:
        key = tuple(sorted(s["metric"].items()))
        if key in out:
            return "duplicate series %s" % dict(key)
        vals = s.get("values") or ([s["value"]] if "value" in s else [])
        out[key] = [(float(t), v) for t, v in vals]
    return out


def close(a, b, rtol=1e-6, atol=1e-9):
    x, y = float(a), float(b)
    if math.isnan(x) or math.isnan(y):
        return math.isnan(x) and math.isnan(y)
    if math.isinf(x) or math.isinf(y):
        return x == y
    return abs(x - y) <= max(atol, rtol * max(abs(x), abs(y)))


def compare(ph_body, pr_body, start):
    """(ok, summary) of pharos's answer against Prometheus's; times of
    differing points are shown as offsets from the range start."""
    ph, pr = points(ph_body), points(pr_body)
    if isinstance(pr, str) or isinstance(ph, str):
        return False, "pharos: %s / prometheus: %s" % (
            ph if isinstance(ph, str) else "%d series" % len(ph), pr if isinstance(pr, str) else "%d series" % len(pr))
    only_ph, only_pr = set(ph) - set(pr), set(pr) - set(ph)
    n_pts = bad_pts = 0
    worst, example, bad_ts = 0.0, None, set()
    for key in set(ph) & set(pr):
        a, b = dict(ph[key]), dict(pr[key])
        for t in set(a) | set(b):
            n_pts += 1
            if t not in a or t not in b:
                bad_pts += 1
                bad_ts.add(t)
                if example is None:
                    example = "%s at %s: pharos %s, prometheus %s" % (dict(key), t, a.get(t, "absent"), b.get(t, "absent"))
                continue
            if not close(a[t], b[t]):
                bad_pts += 1
                bad_ts.add(t)
                x, y = float(a[t]), float(b[t])
                rel = abs(x - y) / max(abs(x), abs(y)) if max(abs(x), abs(y)) > 0 and not math.isinf(x - y) else float("inf")
                if not rel <= worst:
                    worst = rel
                if example is None:
                    example = "%s at %s: pharos %s, prometheus %s" % (dict(key), t, a[t], b[t])
    ok = not only_ph and not only_pr and bad_pts == 0
    s = "%d series, %d points" % (len(pr), n_pts)
    if not ok:
        s += "; only in pharos %d series, only in prometheus %d, %d points differ (max rel err %.3g)" % (
            len(only_ph), len(only_pr), bad_pts, worst)
        if only_ph:
            s += "; e.g. pharos-only %s" % dict(sorted(only_ph)[0])
        if only_pr:
            s += "; e.g. prometheus-only %s" % dict(sorted(only_pr)[0])
        if bad_ts:
            s += "; at %d distinct times in START+%d..%d s" % (len(bad_ts), min(bad_ts) - start, max(bad_ts) - start)
        if example:
            s += "; e.g. " + example
    return ok, s


def report(a, cases, kinds, lat, mismatches, errors, counts, cpu, hwm, wall, start, end):
    """Prints the per-query table and the verdict; writes WORK/query/result.json."""
    rows = []
    for qid, q, kind in cases:
        r = {"id": qid, "kind": kind, "query": q}
        for n in SYSTEMS:
            xs = lat[(qid, kind, n)]
            r[n + "_median_ms"] = statistics.median(xs)
            r[n + "_min_ms"] = min(xs)
        r["ratio"] = r["pharos_median_ms"] / r["prometheus_median_ms"]
        # Each pass times the two systems back to back, so a burst of other
        # work on the machine mostly hits both: the median of the per-pass
        # ratios is steadier than the ratio of medians.
        r["paired_ratio"] = statistics.median(
            x / y for x, y in zip(lat[(qid, kind, "pharos")], lat[(qid, kind, "prometheus")]))
        r["budget_ok"] = r["pharos_median_ms"] <= r["prometheus_median_ms"]
        rows.append(r)
    print()
    print("%-24s %-7s %10s %10s %7s   %9s %9s %7s  %s" % ("query", "kind", "pharos ms", "prom ms", "ratio",
                                                         "ph min", "prom min", "paired", "budget"))
    for r in rows:
        print("%-24s %-7s %10.2f %10.2f %7.2f   %9.2f %9.2f %7.2f  %s%s" % (
            r["id"], r["kind"], r["pharos_median_ms"], r["prometheus_median_ms"], r["ratio"], r["pharos_min_ms"],
            r["prometheus_min_ms"], r["paired_ratio"], "ok" if r["budget_ok"] else "OVER",
            "" if (r["id"], r["kind"]) not in {(m[0], m[1]) for m in mismatches} else "  (answers differ)"))
    tot = {}
    for kind in kinds:
        tot[kind] = {n: sum(r[n + "_median_ms"] for r in rows if r["kind"] == kind) for n in SYSTEMS}
        print("total %-7s (sum of medians): pharos %.1f ms, prometheus %.1f ms, ratio %.2f"
              % (kind, tot[kind]["pharos"], tot[kind]["prometheus"], tot[kind]["pharos"] / tot[kind]["prometheus"]))
    print("load average (1 min) at the end: %.2f (2 cores; other work on the machine makes latencies noisy)"
          % os.getloadavg()[0])
    print("server CPU over the %d timed passes (%.1f s wall): pharos %.2f s, prometheus %.2f s; "
          "VmHWM pharos %.0f MiB, prometheus %.0f MiB" % (a.reps, wall, cpu["pharos"], cpu["prometheus"],
                                                          hwm["pharos"] / 2**20, hwm["prometheus"] / 2**20))
    over = [r for r in rows if not r["budget_ok"]]
    print("budget (pharos median <= Prometheus median on every query): %s"
          % ("HOLDS" if not over else "MISSED on %d of %d: %s" % (
              len(over), len(rows), ", ".join("%s %s (%.2fx)" % (r["id"], r["kind"], r["ratio"]) for r in over))))
    if mismatches:
        print("ANSWERS DIFFER on %d of %d: %s" % (len(mismatches), len(cases),
                                                 ", ".join("%s %s" % (m[0], m[1]) for m in mismatches)))
    for k, v in errors.items():
        print("ERROR %s: %s" % (" ".join(k), v))
    res = {"date": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "end": end, "start": start, "step": a.step, "reps": a.reps,
           "pin": a.pin, "series": counts, "rows": rows, "totals": tot, "cpu_s": cpu, "vmhwm_bytes": hwm,
           "mismatches": mismatches, "errors": {" ".join(k): v for k, v in errors.items()},
           "loadavg": os.getloadavg()}
    with open(os.path.join(common.WORK, "query", "result.json"), "w") as f:
        json.dump(res, f, indent=1)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--reps", type=int, default=10, help="timed passes (after one warm-up pass)")
    ap.add_argument("--pin", action="store_true", help="servers on CPU 1, this client on CPU 0")
    ap.add_argument("--step", type=float, default=60, help="range query step, seconds")
    ap.add_argument("--end", type=int, default=None,
                    help="END of the data (unix s); default: that of the file generated last if younger than "
                         "6 h, else now")
    ap.add_argument("--fresh", action="store_true", help="generate data ending now even if a recent file exists")
    ap.add_argument("--only", default=None, help="comma-separated query ids (e.g. q01_sum_rate_cpu or q01)")
    ap.add_argument("--kinds", default="instant,range")
    ap.add_argument("--hold", type=int, default=0, help="keep both servers up this many seconds at the end")
    a = ap.parse_args()
    qs = [(qid, q) for qid, q in QUERIES
          if not a.only or any(qid == o or qid.startswith(o + "_") for o in a.only.split(","))]
    kinds = a.kinds.split(",")
    if not qs or not set(kinds) <= {"instant", "range"} or a.reps < 1:
        ap.error("--only matched no query, or --kinds is not instant/range, or --reps < 1")
    end = a.end or (None if a.fresh else cached_end(6 * 3600)) or int(time.time())
    end = pick_end(end, HOURS)
    start = end - HOURS * 3600
    print("load average (1 min) at the start: %.2f" % os.getloadavg()[0])
    print("data END %d (%s UTC; now - %.1f h), range %d..%d step %gs, %d queries x %s, %d reps%s"
          % (end, time.strftime("%Y-%m-%d %H:%M", time.gmtime(end)), (time.time() - end) / 3600, start, end,
             a.step, len(qs), "+".join(kinds), a.reps, ", pinned" if a.pin else ""))
    om = data_file(end)
    pharos = common.pharos_bin()
    version = subprocess.run([pharos, "--version"], capture_output=True, text=True).stdout.strip()
    rev = subprocess.run(["git", "-C", common.ROOT, "describe", "--always", "--dirty"], capture_output=True,
                         text=True).stdout.strip()
    print("%s (%s built %s UTC; source tree now at %s) vs %s" % (
        version, pharos, time.strftime("%H:%M:%S", time.gmtime(os.path.getmtime(pharos))), rev, subprocess.run(
            [common.need("prometheus", "prometheus"), "--version"], capture_output=True, text=True).stdout.split("\n")[0]))
    # SIGTERM (e.g. ending a --hold early) still stops both servers.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    procs, urls = {}, {}
    try:
        for name in ("prometheus", "pharos"):
            procs[name], urls[name] = load_and_start(name, om, a.pin)
        if a.pin:
            os.sched_setaffinity(0, {0})
        # Prometheus's first query after start can see an empty head being
        # initialised; wait until both answer the series count.
        counts = {}
        deadline = time.time() + 120
        for name in SYSTEMS:
            while True:
                _, st, body = do_query(urls[name], "instant", 'count({__name__=~".+"})', end, start, a.step)
                r = points(body) if st == 200 else body
                counts[name] = float(next(iter(r.values()))[0][1]) if isinstance(r, dict) and r else 0
                if counts[name] or time.time() > deadline:
                    break
                time.sleep(0.5)
        print('count({__name__=~".+"}) at END: pharos %d, prometheus %d (generated %d)%s'
              % (counts["pharos"], counts["prometheus"], SERIES,
                 "" if counts["pharos"] == counts["prometheus"] == SERIES else "   <<< MISMATCH"))
        idle0 = {n: common.cpu_seconds(procs[n].pid) for n in SYSTEMS}
        time.sleep(2)
        idle = {n: common.cpu_seconds(procs[n].pid) - idle0[n] for n in SYSTEMS}
        print("idle CPU over 2 s: pharos %.2f s, prometheus %.2f s" % (idle["pharos"], idle["prometheus"]))

        # Warm-up pass, which also checks that the answers agree.
        cases = [(qid, q, k) for qid, q in qs for k in kinds]
        mismatches = []
        for qid, q, kind in cases:
            bodies = {}
            for name in SYSTEMS:
                _, st, bodies[name] = do_query(urls[name], kind, q, end, start, a.step)
            ok, summary = compare(bodies["pharos"], bodies["prometheus"], start)
            print("check %-24s %-7s %s %s" % (qid, kind, "ok      " if ok else "MISMATCH", summary))
            if not ok:
                mismatches.append((qid, kind, summary))

        lat = {(qid, kind, n): [] for qid, _, kind in cases for n in SYSTEMS}
        errors = {}
        cpu0 = {n: common.cpu_seconds(procs[n].pid) for n in SYSTEMS}
        t_all = time.time()
        for rep in range(a.reps):
            order = SYSTEMS if rep % 2 == 0 else SYSTEMS[::-1]
            for qid, q, kind in cases:
                for name in order:
                    dt, st, body = do_query(urls[name], kind, q, end, start, a.step)
                    lat[(qid, kind, name)].append(dt * 1e3)
                    if st != 200:
                        errors[(qid, kind, name)] = body[:300].decode("utf-8", "replace")
        wall = time.time() - t_all
        cpu = {n: common.cpu_seconds(procs[n].pid) - cpu0[n] for n in SYSTEMS}
        hwm = {n: common.rss_bytes(procs[n].pid)[1] for n in SYSTEMS}
        report(a, cases, kinds, lat, mismatches, errors, counts, cpu, hwm, wall, start, end)
        if a.hold:
            print("holding for %d s: pharos %s (pid %d), prometheus %s (pid %d)"
                  % (a.hold, urls["pharos"], procs["pharos"].pid, urls["prometheus"], procs["prometheus"].pid), flush=True)
            time.sleep(a.hold)
    finally:
        for p in procs.values():
            common.stop(p)


if __name__ == "__main__":
    main()
