#!/usr/bin/env python3
"""usage: storage_bench.py [-s SERIES=1000] [-d HOURS=24] [--file OM_FILE]

Disk bytes per sample, pharos vs Prometheus, on the same OpenMetrics file:
`pharos import openmetrics` into a fresh data directory vs `promtool tsdb
create-blocks-from openmetrics --max-block-duration=54h` (Prometheus 2.42 from
Debian's `prometheus` package) into a fresh block directory. Prints sizes,
bytes/sample, the import time of each, the pharos/Prometheus ratio, and how
long pharos takes to start on the imported data (until /-/ready answers).

Without --file, generates the data with gen_openmetrics.py (node_exporter-like,
seeded) under ~/.cache/pharos-bench/data/. Budget (DESIGN.md): pharos <= 0.7x.
"""
import argparse
import json
import os
import sqlite3
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common  # noqa: E402


def count_samples(path):
    n = 0
    with open(path, "rb") as f:
        for line in f:
            if not line.startswith(b"#"):
                n += 1
    return n


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("-s", "--series", type=int, default=1000)
    ap.add_argument("-d", "--hours", type=int, default=24)
    ap.add_argument("--file")
    a = ap.parse_args()
    promtool = common.need("promtool", "prometheus")
    pharos = common.pharos_bin()
    if a.file:
        om = a.file
    else:
        os.makedirs(os.path.join(common.WORK, "data"), exist_ok=True)
        om = os.path.join(common.WORK, "data", "s%d_d%d.om" % (a.series, a.hours))
        if not os.path.exists(om):
            subprocess.run([sys.executable, os.path.join(os.path.dirname(__file__), "gen_openmetrics.py"),
                            "-s", str(a.series), "-d", str(a.hours), "-o", om], check=True)
    samples = count_samples(om)

    prom_out = common.fresh_dir("storage", "prometheus")
    t0 = time.time()
    subprocess.run([promtool, "tsdb", "create-blocks-from", "openmetrics", "--max-block-duration=54h",
                    om, prom_out], check=True, stdout=subprocess.DEVNULL)
    prom_s = time.time() - t0
    prom_total = common.dir_bytes(prom_out)
    prom_chunks = sum(os.path.getsize(os.path.join(r, f)) for r, _, fs in os.walk(prom_out)
                      for f in fs if os.path.basename(r) == "chunks")

    ph_out = common.fresh_dir("storage", "pharos")
    t0 = time.time()
    subprocess.run([pharos, "import", "openmetrics", om, "--storage.path=" + ph_out, "--quiet"],
                   check=True, stdout=subprocess.DEVNULL)
    ph_s = time.time() - t0
    ph_total = common.dir_bytes(ph_out) - os.path.getsize(os.path.join(ph_out, "lock"))
    db = sqlite3.connect(os.path.join(ph_out, "pharos.db"))
    ph_chunks, nchunks = db.execute("SELECT SUM(LENGTH(data)), COUNT(*) FROM chunks").fetchone()
    db.close()

    # Start-up with a day of data: process start until /-/ready answers.
    port = common.free_port()
    t0 = time.time()
    p = common.start([pharos, "--web.listen-address=127.0.0.1:%d" % port, "--storage.path=" + ph_out,
                      "--log.level=warn", "--collector.host=false", "--collector.self=false"], "http://127.0.0.1:%d" % port,
                     os.path.join(common.WORK, "storage", "pharos-start.log"))
    startup_s = time.time() - t0
    common.stop(p)

    res = {
        "file": om, "samples": samples,
        "prometheus": {"total_bytes": prom_total, "chunk_bytes": prom_chunks, "seconds": round(prom_s, 2),
                       "bytes_per_sample": round(prom_total / samples, 3)},
        "pharos": {"total_bytes": ph_total, "chunk_bytes": ph_chunks, "chunks": nchunks,
                   "seconds": round(ph_s, 2), "bytes_per_sample": round(ph_total / samples, 3),
                   "startup_seconds": round(startup_s, 3)},
    }
    res["ratio_total"] = round(ph_total / prom_total, 3)
    res["ratio_chunks"] = round(ph_chunks / prom_chunks, 3)
    print("samples: %d (%s)" % (samples, om))
    print("%-12s %14s %14s %10s %9s" % ("", "total bytes", "chunk bytes", "B/sample", "import s"))
    for k in ("prometheus", "pharos"):
        r = res[k]
        print("%-12s %14d %14d %10.3f %9.2f" % (k, r["total_bytes"], r["chunk_bytes"], r["bytes_per_sample"], r["seconds"]))
    print("pharos start-up with this data until /-/ready: %.3f s (budget < 1 s)" % startup_s)
    print("ratio pharos/prometheus: total %.3f, chunks only %.3f (budget <= 0.7)" % (res["ratio_total"], res["ratio_chunks"]))
    print(json.dumps(res))


if __name__ == "__main__":
    main()
