"""Python servers started as processes (`python -m ...`) that print "LISTENING <url>" when ready."""
import os
import signal
import subprocess
import sys
import time

from bench.cpus import SERVER, pinned
from bench.mprun import ROOT
from simulator.procs import stop_process


class Server:
    """``python [prefix...] -m <module> <args>``; stdout and stderr go to ``log``."""

    def __init__(self, args, log, prefix=()):
        self.cmd = [sys.executable] + list(prefix) + list(args)
        self.log = log
        self.proc = None
        self.url = None

    def start(self, timeout=30.0):
        env = dict(os.environ, PYTHONUNBUFFERED="1",
                   PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
        with open(self.log, "wb") as out:
            self.proc = subprocess.Popen(pinned(self.cmd, SERVER), cwd=ROOT, env=env, stdout=out, stderr=out,
                                         stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with open(self.log, "rb") as f:
                for line in f:
                    if line.startswith(b"LISTENING "):
                        self.url = line.split()[1].decode()
                        return self
            if self.proc.poll() is not None:
                break
            time.sleep(0.05)
        self.stop()
        with open(self.log, "rb") as f:
            tail = f.read()[-2000:].decode("utf-8", "replace")
        raise RuntimeError("%s did not start:\n%s" % (" ".join(self.cmd[1:]), tail))

    def stop(self):
        """SIGINT first: the servers (and cProfile around them) finish cleanly."""
        if self.proc is not None:
            stop_process(self.proc, signal.SIGINT, 20)
        self.proc = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
