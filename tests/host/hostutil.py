"""Helpers for the host_server tests (named uniquely: other test folders have conftests)."""

import json
import os
import re
import signal
import socket
import subprocess
import sys

from host_server.auth import proof

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SECRET = "00112233445566778899aabbccddeeff"
SHA = "ab" * 32


class FakeClock:
    def __init__(self):
        self.now = 1_800_000_000.0

    def __call__(self):
        return self.now

    def advance(self, seconds):
        self.now += seconds


def media_doc(n, **extra):
    doc = {"size": 1000 + n, "sha256": SHA, "type": "audio/wav",
           "primary_address": "http://127.0.0.1:8101", "primary_directory": f"/music/{n}",
           "file_name": f"tone-{n}.wav",
           "alternates": [{"address": "http://127.0.0.1:8104", "directory": f"/mirror/{n}"}],
           "title": f"Tone {n}", "performers": ["Demo Ensemble"]}
    doc.update(extra)
    return doc


async def login(client, device="dev1", secret=SECRET):
    resp = await client.post("/api/v1/login/challenge", json={"device": device})
    assert resp.status == 200
    nonce = (await resp.json())["nonce"]
    resp = await client.post("/api/v1/login", json={
        "device": device, "nonce": nonce, "proof": proof(secret, device, nonce)})
    assert resp.status == 200, await resp.text()
    return (await resp.json())["token"]


def bearer(token):
    return {"Authorization": f"Bearer {token}"}


# -- real processes ------------------------------------------------------------------------

def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run_cli(*args, db=None, check=None):
    cmd = [sys.executable, "-m", "host_server"] + (["--db", db] if db else []) + list(args)
    proc = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=30)
    if check is not None:
        assert proc.returncode == check, (proc.stdout, proc.stderr)
    assert "Traceback" not in proc.stderr, proc.stderr
    return proc


class Server:
    """A server process that prints one LISTENING line when ready."""

    def __init__(self, *args):
        self.proc = subprocess.Popen([sys.executable, "-m", *args], cwd=REPO,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        line = self.proc.stdout.readline()
        match = re.fullmatch(r"LISTENING http://127\.0\.0\.1:(\d+)\n", line)
        if not match:
            self.stop()
            raise AssertionError(f"no LISTENING line: {line!r} {self.proc.stderr.read()}")
        self.line = line
        self.port = int(match.group(1))

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.stderr = self.proc.stderr.read()
        self.proc.stdout.close()
        self.proc.stderr.close()
        return self.proc.returncode


def write_json(path, doc):
    with open(path, "w") as f:
        json.dump(doc, f)
    return str(path)
