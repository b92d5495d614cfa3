"""Shared helpers of the pharos benchmarks: locating binaries, free ports,
starting and stopping a system under test, and reading a process's CPU time
and resident memory from /proc. Standard library only."""
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
WORK = os.path.expanduser(os.environ.get("PHAROS_BENCH_DIR", "~/.cache/pharos-bench"))
TICKS = os.sysconf("SC_CLK_TCK")


def pharos_bin():
    """$PHAROS_BIN, or target/release/pharos brought up to date (cargo does
    nothing when it already is: a stale binary would measure old code)."""
    if os.environ.get("PHAROS_BIN"):
        return os.environ["PHAROS_BIN"]
    subprocess.run(["cargo", "build", "-q", "--release", "-p", "pharos", "--bin", "pharos"], cwd=ROOT, check=True)
    return os.path.join(ROOT, "target", "release", "pharos")


def tool_bin(name):
    """A release binary of the tests crate (e.g. rw_load), brought up to date."""
    subprocess.run(["cargo", "build", "-q", "--release", "-p", "pharos-tests", "--bin", name], cwd=ROOT, check=True)
    return os.path.join(ROOT, "target", "release", name)


def need(cmd, package):
    if shutil.which(cmd) is None:
        sys.exit("%s not found: apt-get install %s" % (cmd, package))
    return shutil.which(cmd)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def fresh_dir(*parts):
    d = os.path.join(WORK, *parts)
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(d)
    return d


def dir_bytes(path):
    total = 0
    for root, _, files in os.walk(path):
        for f in files:
            total += os.path.getsize(os.path.join(root, f))
    return total


def start(cmd, url, log_path, timeout=60):
    """Starts cmd (a list) and waits for url + /-/ready; returns the Popen."""
    log = open(log_path, "w")
    p = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)
    deadline = time.time() + timeout
    while time.time() < deadline:
        if p.poll() is not None:
            sys.exit("%s exited early; log in %s" % (cmd[0], log_path))
        try:
            with urllib.request.urlopen(url + "/-/ready", timeout=1) as r:
                if r.status == 200:
                    return p
        except Exception:
            pass
        time.sleep(0.1)
    p.kill()
    sys.exit("%s not ready in %ds; log in %s" % (cmd[0], timeout, log_path))


def stop(p):
    p.terminate()
    try:
        p.wait(60)
    except subprocess.TimeoutExpired:
        p.kill()
        p.wait()


def cpu_seconds(pid):
    """utime + stime of pid, in seconds."""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def rss_bytes(pid):
    """VmRSS and VmHWM of pid, in bytes."""
    out = {}
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith(("VmRSS:", "VmHWM:")):
                k, v = line.split(":")
                out[k] = int(v.split()[0]) * 1024
    return out["VmRSS"], out["VmHWM"]


def thread_cpu(pid):
    """{tid: (thread name, utime+stime seconds)} of every thread of pid, from
    /proc/<pid>/task/*/stat (threads that exited are missing)."""
    out = {}
    base = "/proc/%d/task" % pid
    for tid in os.listdir(base):
        try:
            with open(os.path.join(base, tid, "stat")) as f:
                raw = f.read()
        except OSError:
            continue
        name = raw[raw.index("(") + 1:raw.rindex(")")]
        fields = raw.rsplit(")", 1)[1].split()
        out[int(tid)] = (name, (int(fields[11]) + int(fields[12])) / TICKS)
    return out


def thread_cpu_delta(before, after):
    """CPU seconds per thread name between two thread_cpu() readings, largest
    first, as [(name, seconds, threads)]; threads born in between count from 0."""
    by_name = {}
    for tid, (name, secs) in after.items():
        d = secs - before.get(tid, (name, 0.0))[1]
        s, n = by_name.get(name, (0.0, 0))
        by_name[name] = (s + d, n + 1)
    return sorted(((k, s, n) for k, (s, n) in by_name.items()), key=lambda x: -x[1])


def get_json(url, timeout=30):
    import json
    with urllib.request.urlopen(url, timeout=timeout) as r:
        return json.loads(r.read())
