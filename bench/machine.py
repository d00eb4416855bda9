"""What the figures were measured on: date, machine, versions."""
import datetime
import os
import platform
import subprocess
import sys

from bench import cpus, nginx
from tools.fwbuild import micropython_path


def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _first_line(cmd):
    try:
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return "not installed"
    return ((r.stdout or r.stderr).strip().splitlines() or ["?"])[0]


def facts():
    import aiohttp
    mp = micropython_path()
    return [
        ("date", datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")),
        ("machine", "%d cores (nproc), %s, %s" % (os.cpu_count(), cpu_model(), platform.platform())),
        ("cores", cpus.describe()),
        ("python", sys.version.split()[0]),
        ("aiohttp", aiohttp.__version__),
        ("micropython", _first_line([mp, "-c", "import sys; print(sys.version)"]) if mp else "not installed"),
        ("nginx", nginx.version()),
        ("wrk", _first_line(["wrk", "--version"]).split(" Copyright")[0]),
        ("curl", _first_line(["curl", "--version"]).split(" (")[0]),
    ]


def markdown():
    return "\n".join("- %s: %s" % kv for kv in facts())


def load():
    """The 1, 5 and 15 minute load averages: other work on a shared machine moves the figures."""
    try:
        return "%.2f %.2f %.2f" % os.getloadavg()
    except OSError:
        return "unknown"
