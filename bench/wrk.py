"""Running wrk (Debian's package) and reading its summary."""
import re
import shutil
import subprocess

from bench.cpus import CLIENT, pinned

THREADS = 1          # one load thread on its own core (bench.cpus), the server on the other
CONNECTIONS = 16


class WrkResult:
    def __init__(self, text):
        self.text = text
        m = re.search(r"Requests/sec:\s+([\d.]+)", text)
        if not m:
            raise RuntimeError("wrk printed no Requests/sec:\n" + text)
        self.rps = float(m.group(1))
        self.latency_ms = {}
        for pct, value, unit in re.findall(r"^\s+(\d+)%\s+([\d.]+)(us|ms|s)\s*$", text, re.M):
            self.latency_ms[int(pct)] = float(value) * {"us": 1e-3, "ms": 1.0, "s": 1e3}[unit]
        m = re.search(r"(\d+) requests in", text)
        self.requests = int(m.group(1)) if m else 0
        m = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
        self.non_2xx = int(m.group(1)) if m else 0
        m = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", text)
        self.socket_errors = sum(map(int, m.groups())) if m else 0

    @property
    def p50(self):
        return self.latency_ms.get(50, float("nan"))

    @property
    def p99(self):
        return self.latency_ms.get(99, float("nan"))


def wrk_path():
    return shutil.which("wrk")


def run(url, seconds, script=None, connections=CONNECTIONS):
    exe = wrk_path()
    if not exe:
        raise RuntimeError("wrk is not installed: run `make bench` (scripts/apt-ensure nginx wrk)")
    cmd = [exe, "-t%d" % THREADS, "-c%d" % connections, "-d%ds" % seconds, "--latency"]
    if script:
        cmd += ["-s", script]
    r = subprocess.run(pinned(cmd + [url], CLIENT), capture_output=True, text=True, timeout=seconds + 60)
    if r.returncode != 0:
        raise RuntimeError("wrk failed: %s%s" % (r.stdout, r.stderr))
    return WrkResult(r.stdout)


def lua_string(s):
    return '"%s"' % s.replace("\\", "\\\\").replace('"', '\\"')
