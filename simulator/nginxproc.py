"""nginx (Debian's package) for the simulator, the end-to-end tests and the benchmarks: a config
from host_server/nginx/ with its @@NAME@@ placeholders filled in, run in the foreground as one
process (no master, so no switch to another user) with its own prefix, pid, logs and temp paths,
on free loopback ports."""
import asyncio
import os
import re
import shutil
import signal

from simulator.procs import ROOT, free_port

CONFIGS = os.path.join(ROOT, "host_server", "nginx")


def nginx_path():
    """Debian's nginx: on PATH, else in /usr/sbin (not on a user's PATH); None when not installed."""
    return shutil.which("nginx") or ("/usr/sbin/nginx" if os.path.exists("/usr/sbin/nginx") else None)


def write_config(prefix, template, values):
    """prefix/nginx.conf: host_server/nginx/<template> with @@NAME@@ filled in from values and
    PREFIX; returns its path."""
    os.makedirs(prefix, exist_ok=True)   # nginx makes its temp folders in it
    with open(os.path.join(CONFIGS, template)) as f:
        conf = f.read()
    for name, value in dict(values, PREFIX=prefix).items():
        conf = conf.replace("@@%s@@" % name, str(value))
    assert "@@" not in re.sub(r"#.*", "", conf), "a placeholder of %s is not filled in" % template
    path = os.path.join(prefix, "nginx.conf")
    with open(path, "w") as f:
        f.write(conf)
    return path


def command(prefix, conf):
    """nginx in the foreground as one process, its files under prefix."""
    return [nginx_path() or "/usr/sbin/nginx", "-p", prefix, "-e", os.path.join(prefix, "error.log"),
            "-c", conf, "-g", "daemon off; master_process off;"]


class NginxProcess:
    def __init__(self, prefix, template, values, wait_port):
        """template: a file name in host_server/nginx/; values: {NAME: text} for @@NAME@@
        (PREFIX is filled in here); wait_port: the port that answers once nginx is up."""
        self.prefix = str(prefix)
        self.wait_port = wait_port
        self.conf = write_config(self.prefix, template, values)
        self.proc = None

    async def start(self):
        self.proc = await asyncio.create_subprocess_exec(
            *command(self.prefix, self.conf),
            stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL)
        for _ in range(200):
            if self.proc.returncode is not None:
                break
            try:
                _, writer = await asyncio.open_connection("127.0.0.1", self.wait_port)
                writer.close()
                await writer.wait_closed()
                return self
            except OSError:
                await asyncio.sleep(0.05)
        await self.stop()
        with open(os.path.join(self.prefix, "error.log"), errors="replace") as f:
            raise RuntimeError("nginx did not start: " + f.read()[-2000:])

    async def stop(self):
        if self.proc is not None and self.proc.returncode is None:
            self.proc.send_signal(signal.SIGQUIT)   # graceful: finishes what it is sending
            try:
                await asyncio.wait_for(self.proc.wait(), 10)
            except asyncio.TimeoutError:
                self.proc.kill()
                await self.proc.wait()

    def requests(self):
        with open(os.path.join(self.prefix, "access.log"), errors="replace") as f:
            return f.read()


async def start_balancer(prefix, replicas, port=0):
    """nginx with host_server/nginx/replicas.conf in front of replicas (ServerProcesses), on
    port (0: a free one); its ``url`` is what devices are given."""
    port = port or free_port()
    lines = "\n        ".join("server %s:%d max_fails=1 fail_timeout=5s;" % r.hostport
                              for r in replicas)
    balancer = NginxProcess(prefix, "replicas.conf",
                            {"LISTEN": "127.0.0.1:%d" % port, "REPLICAS": lines}, port)
    await balancer.start()
    balancer.url = "http://127.0.0.1:%d" % port
    return balancer
