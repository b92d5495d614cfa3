#!/usr/bin/env python3
"""The web UI's budgets, measured in the browser (Debian's chromium through
chromedriver, over the W3C WebDriver protocol with the standard library):

1. Node Exporter Full, imported through the Grafana API: time from
   navigation start until every panel in the first viewport has its answer
   and every graph in it is drawn (performance.now() in the page; budget
   2 s). Runs N times, fresh page each time, and prints the median.
2. A 10 000-point series: frame times of 120 pans and 60 zooms driven
   through uPlot's setScale, each frame timed from the call to the next
   animation frame (so layout and paint count); prints p50/p95/max.
3. The bundle: wasm + js + css gzipped, as served.

    tests/bench/ui_bench.py [--runs N]

pharos runs from target/release (built if stale) with 1 s scrapes of
itself and its host; the first 40 s are spent collecting data.
"""
import argparse
import gzip
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common  # noqa: E402


class WebDriver:
    def __init__(self, width, height):
        self.port = common.free_port()
        self.proc = subprocess.Popen(["chromedriver", f"--port={self.port}"],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.base = f"http://127.0.0.1:{self.port}"
        for _ in range(100):
            try:
                urllib.request.urlopen(self.base + "/status", timeout=1)
                break
            except OSError:
                time.sleep(0.1)
        self.profile = tempfile.mkdtemp()
        caps = {"capabilities": {"alwaysMatch": {"browserName": "chrome", "goog:chromeOptions": {
            "binary": "/usr/bin/chromium",
            "args": ["--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                     f"--window-size={width},{height}", f"--user-data-dir={self.profile}"]}}}}
        self.session = self.call("POST", "/session", caps, root=True)["sessionId"]
        self.call("POST", "/timeouts", {"script": 120000, "pageLoad": 120000})

    def call(self, method, path, body=None, root=False):
        url = self.base + (path if root else f"/session/{self.session}{path}")
        data = json.dumps(body if body is not None else {}).encode()
        req = urllib.request.Request(url, data=data if method != "GET" else None, method=method,
                                     headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=300) as r:
                v = json.load(r)["value"]
        except urllib.error.HTTPError as e:
            v = json.load(e)["value"]
        if isinstance(v, dict) and "error" in v:
            raise RuntimeError(f"{v['error']}: {v.get('message')}")
        return v

    def goto(self, url):
        self.call("POST", "/url", {"url": url})

    def run_async(self, script, *args):
        return self.call("POST", "/execute/async", {"script": script, "args": list(args)})

    def close(self):
        try:
            self.call("DELETE", "")
        finally:
            self.proc.terminate()


# Resolves with performance.now() once every panel that starts in the
# first viewport has answered and each of its graphs has a canvas.
FIRST_VIEWPORT = """
const done = arguments[arguments.length - 1];
function check() {
  const vh = window.innerHeight;
  const ps = Array.from(document.querySelectorAll('section.grid-panel'))
    .filter(p => p.getBoundingClientRect().top < vh);
  const ready = ps.length > 0 && ps.every(p => p.dataset.state == 'error' || (p.dataset.state !== 'loading'
      && (!p.querySelector('.plot') || p.querySelector('canvas'))));
  if (ready) done([performance.now(), ps.length, ps.filter(p => p.dataset.state == 'error').length]);
  else requestAnimationFrame(check);
}
check();
"""

# Pans then zooms the first chart, one setScale per frame; returns the
# frame durations in ms.
FRAMES = """
const done = arguments[arguments.length - 1];
const u = (window.__pharosCharts || []).find(c => c.data && c.data[0].length >= 9000);
if (!u) { done((window.__pharosCharts || []).map(c => c.data && c.data[0].length)); return; }
const xs = u.data[0], lo = xs[0], hi = xs[xs.length - 1], span = hi - lo;
const steps = [];
for (let i = 0; i < 120; i++) { const s = lo + span * 0.3 * i / 120; steps.push([s, s + span * 0.7]); }
for (let i = 0; i < 60; i++) { const w = span * (1 - 0.95 * i / 60); steps.push([hi - w, hi]); }
const times = [];
let i = 0;
function frame() {
  if (i == steps.length) { done(times); return; }
  const t0 = performance.now();
  u.setScale('x', {min: steps[i][0], max: steps[i][1]});
  i++;
  requestAnimationFrame(() => { times.push(performance.now() - t0); frame(); });
}
requestAnimationFrame(frame);
"""


def post(url, body):
    req = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST",
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=60) as r:
        return json.load(r)


def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(p / 100 * len(xs)))]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=5)
    args = ap.parse_args()
    common.need("chromedriver", "chromium-driver")
    binary = common.pharos_bin()
    work = common.fresh_dir("ui")
    port = common.free_port()
    base = f"http://127.0.0.1:{port}"
    cfg = os.path.join(work, "prometheus.yml")
    with open(cfg, "w") as f:
        f.write("global: {scrape_interval: 1s}\nscrape_configs:\n"
                f"- job_name: pharos\n  static_configs: [{{targets: ['127.0.0.1:{port}']}}]\n"
                f"- job_name: node\n  metrics_path: /node/metrics\n  static_configs: [{{targets: ['127.0.0.1:{port}']}}]\n")
    server = common.start([binary, f"--web.listen-address=127.0.0.1:{port}", f"--config.file={cfg}",
                           f"--storage.tsdb.path={os.path.join(work, 'data')}"],
                          base, os.path.join(work, "pharos.log"))
    try:
        time.sleep(40)
        nef = json.load(open(os.path.join(common.ROOT, "agent/tests/testdata/dashboards/node-exporter-full.json")))
        url = post(base + "/api/dashboards/import", {"dashboard": nef, "overwrite": True, "inputs": [
            {"name": "DS_PROMETHEUS", "type": "datasource", "pluginId": "prometheus", "value": "pharos"}]})["importedUrl"]
        series = {"uid": "bench-10k", "title": "10k points", "time": {"from": "now-10000s", "to": "now"},
                  "panels": [{"id": 1, "type": "timeseries", "title": "sine", "maxDataPoints": 10000,
                              "interval": "1s", "gridPos": {"x": 0, "y": 0, "w": 24, "h": 16},
                              "targets": [{"refId": "A", "expr": "sin(vector(time()) / 300) + 0.1 * sin(vector(time()) / 7)"}]}]}
        post(base + "/api/dashboards/db", {"dashboard": series, "overwrite": True})

        wd = WebDriver(1600, 1000)
        try:
            firsts = []
            for _ in range(args.runs):
                wd.goto("about:blank")
                wd.goto(f"{base}{url}?from=now-1h")
                t, n, errors = wd.run_async(FIRST_VIEWPORT)
                print(f"  first viewport: {t:.0f} ms", file=sys.stderr)
                firsts.append(t)
            wd.goto(f"{base}/d/bench-10k")
            wd.run_async(FIRST_VIEWPORT)
            frames = wd.run_async(FRAMES)
        finally:
            wd.close()
    finally:
        common.stop(server)

    assets = os.path.join(common.ROOT, "ui", "dist", "assets")
    gz = sum(os.path.getsize(os.path.join(assets, f)) for f in os.listdir(assets)
             if f.endswith((".wasm.gz", ".js.gz", ".css.gz")))
    print(f"Node Exporter Full, first viewport ({n} panels, {errors} errors), {args.runs} runs:")
    print(f"  median {statistics.median(firsts):.0f} ms, min {min(firsts):.0f}, max {max(firsts):.0f} (budget 2000 ms)")
    if frames and not isinstance(frames[0], (int, type(None))) or (frames and len(frames) > 50):
        print(f"10 000-point series, {len(frames)} pan/zoom frames: p50 {pct(frames, 50):.1f} ms, "
              f"p95 {pct(frames, 95):.1f} ms, max {max(frames):.1f} ms (60 fps = 16.7 ms)")
    else:
        print(f"10 000-point series: no chart with 10 000 points found (charts: {frames})")
    print(f"bundle: {gz} B gzipped (wasm + js + css; budget 600 KiB = 614400 B)")


if __name__ == "__main__":
    main()
