#!/usr/bin/env python3
"""usage: gen_openmetrics.py [-s SERIES=1000] [-d HOURS=24] [-i INTERVAL_S=15]
                             [--seed 1] [--end UNIX_S=1700006400] -o OUT.om

Writes a deterministic node_exporter-like OpenMetrics file (terminated by
`# EOF`) for the storage benchmark: SERIES series (100 per host) sampled every
INTERVAL_S seconds over HOURS hours ending at END, each host scraped at its own
whole-second offset. Values behave as node_exporter's do on a real Linux box:
CPU seconds are counters in 1/100 s ticks, memory and filesystem sizes are
multiples of 4 KiB pages, load averages have two decimals, network and disk
counters are integers, node_time_seconds and the histogram's _sum are
full-precision floats. Same arguments -> byte-identical file. Pure Python,
no dependencies.
"""
import argparse
import random
import sys

CPUS = 4
MODES = [("idle", 0.72), ("iowait", 0.01), ("irq", 0.002), ("nice", 0.001),
         ("softirq", 0.01), ("steal", 0.0), ("system", 0.06), ("user", 0.19)]
BUCKETS = ["0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1", "2.5", "5", "+Inf"]
BUCKET_SHARE = [0.05, 0.15, 0.35, 0.55, 0.72, 0.86, 0.93, 0.97, 0.99, 0.997, 1.0]


def host_families(h):
    """(family, type, [(sample_name, labels_text, kind, state)]) for host h."""
    inst = 'instance="host-%04d:9100",job="node"' % h
    fams = []
    hist = []
    for le in BUCKETS:
        hist.append(("http_request_duration_seconds_bucket",
                     'handler="/api/v1/query",%s,le="%s"' % (inst, le), "bucket", le))
    hist.append(("http_request_duration_seconds_sum", 'handler="/api/v1/query",' + inst, "hsum", None))
    hist.append(("http_request_duration_seconds_count", 'handler="/api/v1/query",' + inst, "hcount", None))
    fams.append(("http_request_duration_seconds", "histogram", hist))
    cpu = []
    for c in range(CPUS):
        for m, share in MODES:
            cpu.append(("node_cpu_seconds_total", 'cpu="%d",%s,mode="%s"' % (c, inst, m), "cpu", share))
    fams.append(("node_cpu_seconds", "counter", cpu))
    for m in ["MemTotal", "MemFree", "MemAvailable", "Buffers", "Cached", "SwapTotal",
              "SwapFree", "Active", "Inactive", "Dirty"]:
        kind = "const_pages" if m in ("MemTotal", "SwapTotal") else "pages"
        fams.append(("node_memory_%s_bytes" % m, "gauge", [("node_memory_%s_bytes" % m, inst, kind, None)]))
    for n in ["node_load1", "node_load5", "node_load15"]:
        fams.append((n, "gauge", [(n, inst, "load", None)]))
    for base, kind in [("receive_bytes", "netbytes"), ("transmit_bytes", "netbytes"),
                       ("receive_packets", "pkts"), ("transmit_packets", "pkts"),
                       ("receive_errs", "rare"), ("transmit_drop", "rare")]:
        fams.append(("node_network_" + base, "counter",
                     [("node_network_%s_total" % base, 'device="%s",%s' % (d, inst), kind, None)
                      for d in ("eth0", "lo")]))
    for base, kind in [("read_bytes", "diskbytes"), ("written_bytes", "diskbytes"),
                       ("reads_completed", "ops"), ("writes_completed", "ops"),
                       ("io_time_seconds", "iotime")]:
        fams.append(("node_disk_" + base, "counter",
                     [("node_disk_%s_total" % base, 'device="%s",%s' % (d, inst), kind, None)
                      for d in ("sda", "sdb")]))
    fss = [("/dev/sda1", "ext4", "/"), ("/dev/sdb1", "xfs", "/data"), ("tmpfs", "tmpfs", "/run")]
    for base, kind in [("avail_bytes", "pages"), ("size_bytes", "const_pages"), ("files_free", "files")]:
        fams.append(("node_filesystem_" + base, "gauge",
                     [("node_filesystem_" + base,
                       'device="%s",fstype="%s",%s,mountpoint="%s"' % (d, f, inst, mp), kind, None)
                      for d, f, mp in fss]))
    for n, kind in [("node_context_switches", "ctxt"), ("node_intr", "ctxt"), ("node_forks", "forks")]:
        fams.append((n, "counter", [(n + "_total", inst, kind, None)]))
    for n, kind in [("node_procs_running", "procs"), ("node_procs_blocked", "procs_b"),
                    ("node_boot_time_seconds", "boot"), ("node_time_seconds", "time"),
                    ("up", "one"), ("node_entropy_available_bits", "entropy"),
                    ("node_filefd_allocated", "filefd")]:
        fams.append((n, "gauge", [(n, inst, kind, None)]))
    fams.append(("node_uname_info", "gauge",
                 [("node_uname_info", '%s,machine="x86_64",nodename="node%04d",release="6.1.0-%d-amd64",sysname="Linux"'
                   % (inst, h, 10 + h % 5), "one", None)]))
    n = sum(len(f[2]) for f in fams)
    assert n == 100, n
    return fams


class Walk:
    """Per-series value state, advanced one scrape at a time."""

    def __init__(self, rng, kind, extra):
        self.rng, self.kind, self.extra = rng, kind, extra
        r = rng
        self.v = {
            "cpu": round(r.randint(10_000, 5_000_000) / 100 * max(extra or 0, 0.001) * 10, 2),
            "pages": r.randint(100_000, 2_000_000) * 4096,
            "const_pages": r.randint(1_000_000, 4_000_000) * 4096,
            "load": r.randint(0, 300) / 100,
            "netbytes": r.randint(10**9, 10**12), "diskbytes": r.randint(10**9, 10**12),
            "pkts": r.randint(10**6, 10**9), "ops": r.randint(10**5, 10**8),
            "rare": r.randint(0, 50), "iotime": r.randint(1000, 10**6) / 1000,
            "files": r.randint(10**5, 10**7), "ctxt": r.randint(10**8, 10**10),
            "forks": r.randint(10**5, 10**7), "procs": 2, "procs_b": 0,
            "boot": 1_690_000_000 + r.randint(0, 10**6), "time": 0.0, "one": 1,
            "entropy": 256, "filefd": r.randint(1000, 20000),
            "bucket": 0, "hsum": 0.0, "hcount": 0,
        }[kind]
        self.rate = r.uniform(0.2, 3.0)

    def step(self, t, reqs, lat_sum):
        k, r = self.kind, self.rng
        if k == "cpu":
            ticks = int(15 * 100 * self.extra * r.uniform(0.6, 1.4))
            self.v = round(self.v + ticks / 100, 2)
            return "%.2f" % self.v
        if k == "pages":
            self.v = max(4096, self.v + r.randint(-300, 300) * 4096)
        elif k == "load":
            self.v = max(0.0, round(self.v + r.randint(-8, 8) / 100, 2))
            return "%.2f" % self.v
        elif k in ("netbytes", "diskbytes"):
            self.v += int(r.expovariate(1 / (50_000 * self.rate)))
        elif k in ("pkts", "ops"):
            self.v += int(r.expovariate(1 / (300 * self.rate)))
        elif k == "rare":
            self.v += 1 if r.random() < 0.01 else 0
        elif k == "iotime":
            self.v = round(self.v + r.randint(0, 400) / 1000, 3)
            return "%.3f" % self.v
        elif k == "files":
            self.v = max(0, self.v + r.randint(-20, 20))
        elif k == "ctxt":
            self.v += int(15 * 2000 * self.rate * r.uniform(0.8, 1.2))
        elif k == "forks":
            self.v += r.randint(0, 30)
        elif k == "procs":
            self.v = r.randint(1, 6)
        elif k == "procs_b":
            self.v = 1 if r.random() < 0.05 else 0
        elif k == "time":
            return repr(t + r.uniform(0.0005, 0.004))
        elif k == "entropy":
            self.v = r.randint(240, 256)
        elif k == "filefd":
            self.v = max(100, self.v + r.randint(-10, 10))
        elif k == "bucket":
            self.v += int(reqs * self.extra)
        elif k == "hsum":
            self.v += lat_sum
            return repr(self.v)
        elif k == "hcount":
            self.v += reqs
        return str(self.v)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("-s", "--series", type=int, default=1000)
    ap.add_argument("-d", "--hours", type=float, default=24)
    ap.add_argument("-i", "--interval", type=int, default=15)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--end", type=int, default=1700006400)
    ap.add_argument("-o", "--out", required=True)
    a = ap.parse_args()
    if a.series % 100:
        sys.exit("--series must be a multiple of 100 (100 series per host)")
    hosts = a.series // 100
    steps = int(a.hours * 3600 // a.interval)
    start = a.end - steps * a.interval
    rng = random.Random(a.seed)
    per_host = [host_families(h) for h in range(hosts)]
    offsets = [rng.randint(1, a.interval - 1) for _ in range(hosts)]
    walks = [[[Walk(rng, kind, extra if kind != "bucket" else BUCKET_SHARE[BUCKETS.index(extra)])
               for (_, _, kind, extra) in fam[2]] for fam in fams] for fams in per_host]
    # Histogram traffic per host and step, shared by its bucket/sum/count.
    traffic = [[(int(rng.expovariate(1 / 40)), 0.0) for _ in range(steps)] for _ in range(hosts)]
    traffic = [[(n, sum(rng.lognormvariate(-3, 1) for _ in range(min(n, 50))) * max(n, 1) / max(min(n, 50), 1))
                for n, _ in row] for row in traffic]
    samples = 0
    with open(a.out, "w") as out:
        for fi, (family, typ, _) in enumerate(per_host[0]):
            out.write("# TYPE %s %s\n" % (family, typ))
            buf = []
            for s in range(steps):
                for h in range(hosts):
                    t = start + s * a.interval + offsets[h]
                    reqs, lat = traffic[h][s]
                    for (name, labels, _, _), w in zip(per_host[h][fi][2], walks[h][fi]):
                        buf.append("%s{%s} %s %d\n" % (name, labels, w.step(t, reqs, lat), t))
                        samples += 1
                if len(buf) > 100_000:
                    out.write("".join(buf))
                    buf.clear()
            out.write("".join(buf))
        out.write("# EOF\n")
    print("wrote %s: %d series, %d samples, %d..%d" % (a.out, a.series, samples, start, a.end), file=sys.stderr)


if __name__ == "__main__":
    main()
