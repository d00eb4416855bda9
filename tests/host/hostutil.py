"""Helpers for the host_server tests (named uniquely: other test folders have conftests)."""

import asyncio
import concurrent.futures
import json
import os
import re
import signal
import sqlite3
import subprocess
import sys
import time

from host_server.db import is_postgres_url
from host_server.keys import HOT
from host_server.services.auth import proof
from host_server.services.hotpath import TRUST
from simulator.procs import free_port, stop_process  # noqa: F401  (free_port: the tests import it from here)

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


async def refused_soon(send, since):
    """await send() until its answer is 401; every answer before it must be a 200 to a request
    sent less than the hot path's TRUST seconds after `since` (time.monotonic() when the change
    was made): what each replica holds in memory stops answering for a change within that
    (services/hotpath.py), however busy the machine. Returns the seconds it took."""
    while True:
        sent = time.monotonic()
        resp = await send()
        if resp.status == 401:
            return sent - since
        assert resp.status == 200, resp.status
        assert sent - since < TRUST, f"still answered {sent - since:.2f} s after the change"
        await asyncio.sleep(0.02)


async def flush_now_playing(client):
    """Write the "now playing" rows the meta server batches (services/hotpath.py) now."""
    await client.server.app[HOT].flush()


def bearer(token):
    return {"Authorization": f"Bearer {token}"}


# -- real processes ------------------------------------------------------------------------

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
        stop_process(self.proc, signal.SIGTERM, 60)   # a loaded machine: it exits, given time
        self.stderr = self.proc.stderr.read()
        self.proc.stdout.close()
        self.proc.stderr.close()
        return self.proc.returncode


def write_json(path, doc):
    with open(path, "w") as f:
        json.dump(doc, f)
    return str(path)


# -- looking into the database, whichever engine (a SQLite path or a postgresql:// URL) -----

def _on_postgres(db_path, work):
    """Run work(conn) on an asyncpg connection, from sync test code (even inside a running
    event loop: on a thread of its own)."""
    import asyncpg

    async def run():
        conn = await asyncpg.connect(db_path)
        try:
            return await work(conn)
        finally:
            await conn.close()
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, run()).result()


def sql(db_path, statement, args=()):
    """One statement (`?` placeholders) on the test's database: the rows of a SELECT as tuples;
    anything else is committed at once."""
    if not is_postgres_url(db_path):
        with sqlite3.connect(db_path) as conn:
            return conn.execute(statement, args).fetchall()
    return _on_postgres(db_path, lambda conn: _pg_statement(conn, statement, args))


async def _pg_statement(conn, statement, args):
    from host_server.db.postgres import sql_for_postgres
    rows = await conn.fetch(sql_for_postgres(statement), *args)
    return [tuple(r) for r in rows]


def dump(db_path):
    """Every row of every table, as text: to assert that a secret is stored nowhere."""
    if not is_postgres_url(db_path):
        with sqlite3.connect(db_path) as conn:
            return "\n".join(conn.iterdump())

    async def work(conn):
        tables = await conn.fetch("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
        lines = []
        for (table,) in tables:
            for row in await conn.fetch(f'SELECT * FROM "{table}"'):
                lines.append(table + " " + repr(tuple(row)))
        return "\n".join(lines)
    return _on_postgres(db_path, work)


async def integrity_problems(db_path):
    """SQLite's integrity check, or on PostgreSQL the project's own invariants (its storage is
    PostgreSQL's to keep): [] when all is well."""
    from host_server.db import Database
    db = await Database(db_path).connect()
    try:
        return await db.integrity_problems()
    finally:
        await db.close()
