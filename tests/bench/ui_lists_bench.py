#!/usr/bin/env python3
"""Long lists in the browser, pharos's UI side by side with Prometheus 2.42's
(Debian's package serves its classic UI under /classic): 3 000 firing alerts
and 1 501 rules, the same rule file and scrape target for both.

For each page, N runs on a fresh page each: time from navigation start
until the page's rows are in the DOM and one frame has been drawn
(performance.now() in the page). For pharos also: the time from typing
into the alert filter until the filtered rows are drawn (it searches all
3 000 alerts).

    tests/bench/ui_lists_bench.py [--runs N] [--alerts N]

The target is served by this script (one gauge series per alert); both
servers scrape it every 5 s and evaluate the rules every 5 s.
"""
import argparse
import http.server
import os
import statistics
import sys
import threading
import time
import urllib.request
import json

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common  # noqa: E402
from ui_bench import WebDriver  # noqa: E402

# Resolves with performance.now() one frame after `selector` matches
# at least `min` elements.
ROWS = """
const [selector, min, done] = arguments;
function check() {
  if (document.querySelectorAll(selector).length >= min)
    requestAnimationFrame(() => done(performance.now()));
  else setTimeout(check, 5);
}
check();
"""

# Types into the filter and resolves with the ms until exactly `want`
# rows are drawn.
FILTER = """
const [text, selector, want, done] = arguments;
const input = document.querySelector('input.filter');
const t0 = performance.now();
input.value = text;
input.dispatchEvent(new Event('input', {bubbles: true}));
function check() {
  if (document.querySelectorAll(selector).length == want)
    requestAnimationFrame(() => done(performance.now() - t0));
  else setTimeout(check, 1);
}
check();
"""


def serve_target(n):
    body = "".join(f'many{{i="{i}"}} 1\n' for i in range(n)).encode()

    class H(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200)
            self.send_header("Content-Type", "text/plain; version=0.0.4")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *a):
            pass

    s = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
    threading.Thread(target=s.serve_forever, daemon=True).start()
    return f"127.0.0.1:{s.server_address[1]}"


def alerts(base):
    with urllib.request.urlopen(base + "/api/v1/alerts", timeout=30) as r:
        return len(json.load(r)["data"]["alerts"])


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--alerts", type=int, default=3000)
    args = ap.parse_args()
    common.need("chromedriver", "chromium-driver")
    common.need("prometheus", "prometheus")
    binary = common.pharos_bin()
    work = common.fresh_dir("ui-lists")
    target = serve_target(args.alerts)
    rules = ["groups:", "- name: many", "  rules:", "  - alert: Many", "    expr: many > 0",
             "    annotations: {summary: 'Series {{ $labels.i }} is up'}"]
    for g in range(30):
        rules += [f"- name: recorded_{g}", "  interval: 1h", "  rules:"]
        for r in range(50):
            rules += [f"  - record: rule_{g * 50 + r}", f"    expr: vector({r})"]
    with open(os.path.join(work, "rules.yml"), "w") as f:
        f.write("\n".join(rules) + "\n")
    cfg = os.path.join(work, "prometheus.yml")
    with open(cfg, "w") as f:
        f.write("global: {scrape_interval: 5s, evaluation_interval: 5s}\nrule_files: [rules.yml]\n"
                f"scrape_configs:\n- job_name: many\n  static_configs: [{{targets: ['{target}']}}]\n")
    pp, qp = common.free_port(), common.free_port()
    pharos_base, prom_base = f"http://127.0.0.1:{pp}", f"http://127.0.0.1:{qp}"
    pharos = common.start([binary, f"--web.listen-address=127.0.0.1:{pp}", f"--config.file={cfg}",
                           f"--storage.tsdb.path={os.path.join(work, 'pharos')}",
                           "--collector.host=false", "--collector.self=false"],
                          pharos_base, os.path.join(work, "pharos.log"))
    prom = common.start(["prometheus", f"--web.listen-address=127.0.0.1:{qp}", f"--config.file={cfg}",
                         f"--storage.tsdb.path={os.path.join(work, 'prometheus')}"],
                        prom_base, os.path.join(work, "prometheus.log"))
    results = {}
    try:
        for base in (pharos_base, prom_base):
            for _ in range(120):
                if alerts(base) == args.alerts:
                    break
                time.sleep(1)
            else:
                sys.exit(f"{base}: {alerts(base)} alerts after 2 minutes, not {args.alerts}")
        pages = [
            ("alerts", "pharos", pharos_base + "/alerts", "table.alerts tr", 200),
            ("alerts", "Prometheus", prom_base + "/classic/alerts", "tr", 1),
            ("rules", "pharos", pharos_base + "/rules", "tr[data-rule]", 200),
            ("rules", "Prometheus", prom_base + "/classic/rules", "tr", 1),
        ]
        wd = WebDriver(1400, 1000)
        try:
            for page, who, url, sel, n in pages:
                times = []
                for _ in range(args.runs):
                    wd.goto("about:blank")
                    wd.goto(url)
                    times.append(wd.run_async(ROWS, sel, n))
                results[(page, who)] = times
                print(f"  {page} {who}: {', '.join(f'{t:.0f}' for t in times)} ms", file=sys.stderr)
            wd.goto(pharos_base + "/alerts")
            wd.run_async(ROWS, "table.alerts tr", 200)
            filt = [wd.run_async(FILTER, f'i="{args.alerts - 1 - k}"', "table.alerts tr", 1) for k in range(args.runs)]
        finally:
            wd.close()
    finally:
        common.stop(pharos)
        common.stop(prom)
    print(f"{args.alerts} firing alerts, 1 501 rules; median of {args.runs} runs, navigation → rows drawn:")
    for page in ("alerts", "rules"):
        a, b = statistics.median(results[(page, "pharos")]), statistics.median(results[(page, "Prometheus")])
        print(f"  {page:6}  pharos {a:6.0f} ms   Prometheus 2.42 (classic UI) {b:6.0f} ms   ratio {a / b:.2f}")
    print(f"  alert filter (one of {args.alerts} found): median {statistics.median(filt):.0f} ms, max {max(filt):.0f} ms")


if __name__ == "__main__":
    main()
