"""nginx from Debian, serving one directory on a free loopback port, as an owner would run it:
with host_server/nginx/fileserver.conf, the config owners are told to use."""
import os
import socket
import subprocess
import time

from bench.cpus import SERVER, pinned
from simulator.nginxproc import command, nginx_path, write_config
from simulator.procs import free_port, stop_process


class Nginx:
    """One nginx process (one worker, no master) serving ``root``; a context manager."""

    def __init__(self, root, workdir):
        self.root = os.path.realpath(root)   # the config refuses a path through a symlink
        self.dir = os.path.abspath(workdir)
        self.port = None
        self.proc = None

    @property
    def url(self):
        return "http://127.0.0.1:%d" % self.port

    def start(self, timeout=10.0):
        if not nginx_path():
            raise RuntimeError("nginx is not installed: run `make bench` (scripts/apt-ensure nginx wrk)")
        self.port = free_port()
        conf = write_config(self.dir, "fileserver.conf",
                            {"LISTEN": "127.0.0.1:%d" % self.port, "ROOT": self.root})
        self.proc = subprocess.Popen(pinned(command(self.dir, conf), SERVER),
                                     stdin=subprocess.DEVNULL,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("nginx did not start: %s" % self.proc.stderr.read().decode().strip())
            try:
                socket.create_connection(("127.0.0.1", self.port), 0.2).close()
                return self
            except OSError:
                time.sleep(0.02)
        self.stop()
        raise RuntimeError("nginx did not listen on port %d within %ss" % (self.port, timeout))

    def stop(self):
        if self.proc is not None:
            stop_process(self.proc)
            self.proc.stderr.close()
        self.proc = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


def version():
    exe = nginx_path()
    if not exe:
        return "not installed"
    r = subprocess.run([exe, "-v"], capture_output=True, text=True)
    return (r.stderr or r.stdout).strip().replace("nginx version: ", "")
