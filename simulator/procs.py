"""Starting and stopping the real server processes the simulator drives."""
import asyncio
import os
import signal
import socket
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def free_port():
    """A loopback port free now (the kernel picks it), for a server the caller is about to start."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def refusing_port():
    """A loopback port that refuses connections: bound (so nobody takes it), never listening; the
    socket is the caller's to close."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    return s


def stop_process(proc, sig=signal.SIGTERM, timeout=5):
    """Stops a subprocess.Popen: ``sig`` first, SIGKILL if it has not exited within ``timeout``."""
    if proc.poll() is None:
        proc.send_signal(sig)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


class ServerProcess:
    """A server started as ``python -m <module> ...`` that prints ``LISTENING <url>`` when ready.

    Its stdout and stderr go to ``log_path``, so nothing blocks on a full pipe and the log can be
    read (or scanned for secrets) afterwards.
    """

    def __init__(self, name, args, log_path, env=None):
        self.name = name
        self.args = args
        self.log_path = log_path
        self.env = env
        self.proc = None
        self.url = None

    async def start(self, timeout=20.0):
        env = dict(os.environ)
        env["PYTHONUNBUFFERED"] = "1"
        env["PYTHONPATH"] = ROOT + os.pathsep + env.get("PYTHONPATH", "")
        if self.env:
            env.update(self.env)
        self._log = open(self.log_path, "ab")
        since = self._log.tell()  # a restarted server appends: read only what this start wrote
        self.proc = await asyncio.create_subprocess_exec(
            sys.executable, *self.args, stdout=self._log, stderr=self._log,
            stdin=asyncio.subprocess.DEVNULL, cwd=ROOT, env=env)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while loop.time() < deadline:
            with open(self.log_path, "rb") as f:
                f.seek(since)
                for line in f:
                    if line.startswith(b"LISTENING "):
                        self.url = line.split()[1].decode()
                        return self
            if self.proc.returncode is not None:
                break
            await asyncio.sleep(0.05)
        await self.stop()
        with open(self.log_path, "rb") as f:
            tail = f.read()[-2000:].decode("utf-8", "replace")
        raise RuntimeError("%s did not start (see %s):\n%s" % (self.name, self.log_path, tail))

    @property
    def hostport(self):
        host, port = self.url.split("//", 1)[1].rsplit(":", 1)
        return host, int(port)

    async def stop(self):
        if self.proc is not None and self.proc.returncode is None:
            self.proc.terminate()
            try:
                await asyncio.wait_for(self.proc.wait(), 5)
            except asyncio.TimeoutError:
                self.proc.kill()
                await self.proc.wait()
        if getattr(self, "_log", None):
            self._log.close()
            self._log = None


async def run_cli(args, env=None, timeout=60):
    """Runs ``python -m host_server ...`` to completion; returns stdout, raises on failure."""
    e = dict(os.environ)
    e["PYTHONPATH"] = ROOT + os.pathsep + e.get("PYTHONPATH", "")
    if env:
        e.update(env)
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "host_server", *args, cwd=ROOT, env=e,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        stdin=asyncio.subprocess.DEVNULL)
    out, err = await asyncio.wait_for(proc.communicate(), timeout)
    if proc.returncode != 0:
        raise RuntimeError("host_server %s failed: %s" % (args[0] if args else "", err.decode().strip()))
    return out.decode()
