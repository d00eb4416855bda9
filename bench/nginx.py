"""nginx from Debian, serving one directory on a free loopback port, as an owner would run it."""
import os
import shutil
import socket
import subprocess
import time

from bench.cpus import SERVER, pinned

CONF = """daemon off;
master_process off;
worker_processes 1;
error_log {dir}/error.log warn;
pid {dir}/nginx.pid;
{user}
events {{ worker_connections 256; }}
http {{
    access_log off;
    sendfile on;
    tcp_nopush on;
    keepalive_requests 1000000;
    types {{ application/json json; application/octet-stream bin; }}
    default_type application/octet-stream;
    client_body_temp_path {dir}/tmp;
    proxy_temp_path {dir}/tmp;
    fastcgi_temp_path {dir}/tmp;
    uwsgi_temp_path {dir}/tmp;
    scgi_temp_path {dir}/tmp;
    server {{
        listen 127.0.0.1:{port};
        root {root};
    }}
}}
"""


def nginx_path():
    return shutil.which("nginx") or ("/usr/sbin/nginx" if os.path.exists("/usr/sbin/nginx") else None)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Nginx:
    """One nginx process (one worker, no master) serving ``root``; a context manager."""

    def __init__(self, root, workdir):
        self.root = os.path.abspath(root)
        self.dir = os.path.abspath(workdir)
        self.port = None
        self.proc = None

    @property
    def url(self):
        return "http://127.0.0.1:%d" % self.port

    def start(self, timeout=10.0):
        exe = nginx_path()
        if not exe:
            raise RuntimeError("nginx is not installed: run `make bench` (scripts/apt-ensure nginx wrk)")
        os.makedirs(os.path.join(self.dir, "tmp"), exist_ok=True)
        self.port = free_port()
        conf = os.path.join(self.dir, "nginx.conf")
        with open(conf, "w") as f:
            f.write(CONF.format(dir=self.dir, port=self.port, root=self.root,
                                user="user root;" if os.geteuid() == 0 else ""))
        self.proc = subprocess.Popen(pinned([exe, "-c", conf, "-p", self.dir], SERVER),
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
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.proc is not None:
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
