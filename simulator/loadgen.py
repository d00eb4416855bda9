"""A boot storm: many simulated devices in one process, speaking the real device protocol.

    python -m simulator.loadgen --devices 2000 [--concurrency 400] [--late-start 2] [--workdir DIR]
    python -m simulator.loadgen --backend postgres --replicas 2 --devices 2000

It seeds a meta server (a program of 5 items, N devices), starts it as a real process (or uses
--meta URL with --secrets FILE), and lets every device do what a device does after a power cut:
challenge, login, next, report. The database is SQLite with one meta server process, or, with
--backend postgres, a throwaway PostgreSQL cluster (simulator.pgcluster; or --db URL) shared by
--replicas processes behind nginx (host_server/nginx/replicas.conf). A refused connection, a 5xx
or a 429 is answered as the firmware answers it: backoff with full jitter (base 0.2 s, cap 5 s),
then again. With
--late-start the meta server starts that many seconds after the devices, so the storm begins
against a closed port and has to converge. Prints requests/s, p50/p99 latency per request kind,
errors and retries; the last line is ``LOAD devices=<n> ok=<k> errors=<e> seconds=<t> rps=<r>``.
`fetch_storm` (bench/spread.py) also fetches each device's item from the first source it was
given, tallying per file server what it served (SourceTally).
Traffic goes to the loopback meta server only; every loop is bounded (--deadline).
"""
import argparse
import asyncio
import collections
import json
import os
import random
import shutil
import sys
import time

import aiohttp

from host_server.services.auth import proof
from host_server.services.health import address_of
from simulator.nginxproc import start_balancer
from simulator.pgcluster import Cluster
from simulator.procs import ServerProcess, run_cli

KINDS = ("challenge", "login", "next", "report")
FETCH_CHUNK = 64 * 1024


class Stats:
    def __init__(self):
        self.lat = {k: [] for k in KINDS}
        self.retries = 0
        self.errors = []
        self.ok = 0
        self.requests = 0

    def line(self, kind):
        xs = sorted(self.lat[kind])
        if not xs:
            return "%-9s      0" % kind
        p = lambda q: xs[min(len(xs) - 1, int(q * len(xs)))] * 1000  # noqa: E731
        return "%-9s %6d  p50 %7.1f ms  p99 %7.1f ms  max %7.1f ms" % (
            kind, len(xs), p(0.5), p(0.99), xs[-1] * 1000)


class Retry(Exception):
    pass


async def call(session, stats, kind, method, url, **kw):
    t0 = time.perf_counter()
    try:
        async with session.request(method, url, **kw) as r:
            body = await r.read()
            stats.requests += 1
            if r.status == 429 or r.status >= 500:
                raise Retry("%d" % r.status)
            if r.status >= 400:
                raise RuntimeError("%s: %d %s" % (kind, r.status, body[:80]))
            stats.lat[kind].append(time.perf_counter() - t0)
            return json.loads(body) if body else None
    except (aiohttp.ClientConnectionError, asyncio.TimeoutError) as e:
        raise Retry(type(e).__name__) from None


class Device:
    """One device after a power cut: login, next, report, each step kept when a later one has to
    be retried (as the firmware keeps its token and its item)."""

    def __init__(self, dev, secret):
        self.dev = dev
        self.secret = secret
        self.token = None
        self.item = None
        self.fetched = None   # bytes of the item fetched (fetch_storm)

    async def ask(self, session, stats, api):
        """Log in and take the next item (each once: kept when a later step is retried); returns
        the authorization header."""
        if self.token is None:
            nonce = (await call(session, stats, "challenge", "POST", api + "/login/challenge",
                                json={"device": self.dev}))["nonce"]
            self.token = (await call(session, stats, "login", "POST", api + "/login",
                                     json={"device": self.dev, "nonce": nonce,
                                           "proof": proof(self.secret, self.dev, nonce)}))["token"]
        auth = {"Authorization": "Bearer " + self.token}
        if self.item is None:
            self.item = await call(session, stats, "next", "GET", api + "/next", headers=auth)
        return auth

    async def attempt(self, session, stats, api):
        auth = await self.ask(session, stats, api)
        await self.report(session, stats, api, auth, self.item["src"][0])

    async def report(self, session, stats, api, auth, src):
        item = self.item
        await call(session, stats, "report", "POST", api + "/report", headers=auth,
                   json={"id": item["id"], "pos": item["pos"], "status": "played",
                         "src": src, "bytes": item["size"], "ms": 1, "errors": []})

    async def fetch_and_report(self, session, stats, api, tally):
        """Fetch the item from the first source the meta server gave (the whole file, counted
        in tally), then report it played from there."""
        auth = await self.ask(session, stats, api)
        src = self.item["src"][0]
        if self.fetched != self.item["size"]:
            self.fetched = await tally.fetch(session, src)
            if self.fetched != self.item["size"]:
                raise RuntimeError("fetch: %s gave %d bytes of %d" % (src, self.fetched,
                                                                      self.item["size"]))
        await self.report(session, stats, api, auth, src)


class SourceTally:
    """What each file server (address) served in a fetch storm, seen from the devices: devices
    that took it first, bytes, fetches in flight at most, and bytes in each `window` seconds."""

    def __init__(self, window=0.1):
        self.window = window
        self.t0 = time.monotonic()
        self.first = collections.Counter()
        self.bytes = collections.Counter()
        self.in_flight = collections.Counter()
        self.peak_in_flight = collections.Counter()
        self.per_window = collections.defaultdict(collections.Counter)   # address -> window -> bytes

    def peak_rate(self, address):
        """The most bytes/s the server sent over one window."""
        return max(self.per_window[address].values(), default=0) / self.window

    async def fetch(self, session, url):
        address = address_of(url)
        self.first[address] += 1
        self.in_flight[address] += 1
        self.peak_in_flight[address] = max(self.peak_in_flight[address], self.in_flight[address])
        got = 0
        try:
            async with session.get(url) as r:
                if r.status != 200:
                    raise RuntimeError("fetch: %s answered %d" % (url, r.status))
                async for chunk in r.content.iter_chunked(FETCH_CHUNK):
                    got += len(chunk)
                    self.bytes[address] += len(chunk)
                    self.per_window[address][int((time.monotonic() - self.t0) / self.window)] += len(chunk)
        except (aiohttp.ClientConnectionError, asyncio.TimeoutError) as e:
            raise Retry(type(e).__name__) from None
        finally:
            self.in_flight[address] -= 1
        return got


async def persist(step, stats, name, rng, deadline, gate):
    """step() until it succeeds, backing off with full jitter on refusal. `gate` lets at most
    --concurrency devices talk at once (one connection each), so latencies are the server's,
    not a queue's in this process; a device backing off leaves the gate."""
    failures = 0
    while time.monotonic() < deadline:
        try:
            async with gate:
                await step()
            stats.ok += 1
            return
        except Retry:
            stats.retries += 1
            failures += 1
            await asyncio.sleep(rng.uniform(0, min(5.0, 0.2 * (1 << min(failures, 10)))))
        except Exception as e:  # noqa: BLE001 - every other failure is counted and shown
            stats.errors.append("%s: %s" % (name, e))
            return
    stats.errors.append("%s: gave up at the deadline" % name)


async def boot(session, stats, base, dev, secret, rng, deadline, gate):
    """One device until it has reported."""
    d = Device(dev, secret)
    await persist(lambda: d.attempt(session, stats, base + "/api/v1"), stats, dev, rng, deadline, gate)


async def fetch_storm(base, secrets, concurrency, deadline_s, window=0.1, seed=1):
    """Every device logs in and takes its next item (as after a power cut); then all of them
    at once fetch it from the first source they were given, at most `concurrency` at a time,
    and report it. Returns (stats of the second step, SourceTally)."""
    stats = Stats()
    rng = random.Random(seed)
    api = base + "/api/v1"
    devices = [Device(d, s) for d, s in sorted(secrets.items())]
    conn = aiohttp.TCPConnector(limit=concurrency)
    deadline = time.monotonic() + deadline_s
    gate = asyncio.Semaphore(concurrency)
    async with aiohttp.ClientSession(connector=conn, timeout=aiohttp.ClientTimeout(total=60)) as session:
        await asyncio.gather(*(persist(lambda d=d: d.ask(session, stats, api), stats, d.dev, rng,
                                       deadline, gate) for d in devices))
        stats.ok = 0
        tally = SourceTally(window)
        t0 = time.perf_counter()
        await asyncio.gather(*(persist(lambda d=d: d.fetch_and_report(session, stats, api, tally),
                                       stats, d.dev, rng, deadline, gate) for d in devices))
        stats.seconds = time.perf_counter() - t0
    return stats, tally


async def storm(base, secrets, concurrency, deadline_s, seed=1):
    stats = Stats()
    rng = random.Random(seed)
    conn = aiohttp.TCPConnector(limit=concurrency)
    timeout = aiohttp.ClientTimeout(total=30)
    deadline = time.monotonic() + deadline_s
    async with aiohttp.ClientSession(connector=conn, timeout=timeout) as session:
        t0 = time.perf_counter()
        gate = asyncio.Semaphore(concurrency)
        await asyncio.gather(*(boot(session, stats, base, d, s, rng, deadline, gate)
                               for d, s in sorted(secrets.items())))
        stats.seconds = time.perf_counter() - t0
    return stats


def catalog(n):
    media = [{"ref": "m%d" % i, "size": 100000 + i, "sha256": "%02x" % (i + 1) * 32,
              "type": "audio/wav", "primary_address": "http://127.0.0.1:9",
              "primary_directory": "/load", "file_name": "m%d.wav" % i, "title": "Load %d" % i}
             for i in range(5)]
    devices = [{"id": "load%05d" % i, "programs": ["Load"], "default": "Load"} for i in range(n)]
    return {"media": media, "programs": [{"name": "Load", "items": [m["ref"] for m in media]}],
            "devices": devices}


async def seeded_meta(workdir, n, db=None):
    if os.path.exists(workdir):
        shutil.rmtree(workdir)
    os.makedirs(workdir)
    db = db or os.path.join(workdir, "meta.db")
    path = os.path.join(workdir, "catalog.json")
    with open(path, "w") as f:
        json.dump(catalog(n), f)
    secrets = json.loads(await run_cli(["--db", db, "import", path], timeout=300))["devices"]
    return db, secrets


def report(stats, n):
    print("requests %d in %.2f s: %.0f/s; retries %d (backoff)" % (
        stats.requests, stats.seconds, stats.requests / stats.seconds, stats.retries))
    for k in KINDS:
        print("  " + stats.line(k))
    for e in stats.errors[:5]:
        print("  error " + e)
    print("LOAD devices=%d ok=%d errors=%d seconds=%.2f rps=%.0f" % (
        n, stats.ok, len(stats.errors), stats.seconds, stats.requests / stats.seconds), flush=True)


class MetaServers:
    """The meta server as the storm meets it: one process, or replicas behind nginx."""

    def __init__(self, a, db):
        self.replicas = []
        self.balancer = None
        self.workdir = os.path.abspath(a.workdir)
        n = a.replicas
        behind = ["--trusted-proxy", "127.0.0.1"] if n > 1 else []
        for i in range(n):
            self.replicas.append(ServerProcess("meta%d" % (i + 1), [
                "-m", "host_server", "--db", db, "serve", "--port", str(a.port if n == 1 else 0),
                "--no-access-log", "--probe-interval", "0"] + behind,
                os.path.join(a.workdir, "meta%d.log" % (i + 1))))
        self.port = a.port

    async def start(self):
        for r in self.replicas:
            await r.start()
        if len(self.replicas) == 1:
            return self.replicas[0].url
        self.balancer = await start_balancer(os.path.join(self.workdir, "balancer"),
                                             self.replicas, self.port)
        return self.balancer.url

    async def stop(self):
        if self.balancer is not None:
            await self.balancer.stop()
        for r in self.replicas:
            await r.stop()


async def amain(a):
    if a.meta:
        with open(a.secrets) as f:
            secrets = json.load(f)
        stats = await storm(a.meta.rstrip("/"), secrets, a.concurrency, a.deadline)
        report(stats, len(secrets))
        return 0 if not stats.errors else 1
    cluster = None
    db = a.db
    if a.backend == "postgres" and not db:
        cluster = Cluster(max_connections=50 + 12 * a.replicas).start()
        db = cluster.create_database("load")
    try:
        db, secrets = await seeded_meta(a.workdir, a.devices, db)
        servers = MetaServers(a, db)
        try:
            if a.late_start:
                if not a.port:
                    raise SystemExit("--late-start needs --port (the devices must know it beforehand)")
                task = asyncio.ensure_future(storm("http://127.0.0.1:%d" % a.port, secrets,
                                                   a.concurrency, a.deadline))
                await asyncio.sleep(a.late_start)
                await servers.start()
                print("meta server started %.1f s after the devices" % a.late_start)
                stats = await task
            else:
                stats = await storm(await servers.start(), secrets, a.concurrency, a.deadline)
        finally:
            await servers.stop()
    finally:
        if cluster is not None:
            cluster.stop()
    if a.backend == "sqlite":
        print("backend  sqlite, one meta server process; %d devices, %d connections at most" % (
            a.devices, a.concurrency))
    else:
        print("backend  postgres, %d meta server process%s%s; %d devices, %d connections at most" % (
            a.replicas, "es" if a.replicas > 1 else "", " behind nginx" if a.replicas > 1 else "",
            a.devices, a.concurrency))
    report(stats, a.devices)
    return 0 if not stats.errors and stats.ok == a.devices else 1


def main(argv=None):
    p = argparse.ArgumentParser(prog="python -m simulator.loadgen", description=__doc__.splitlines()[0])
    p.add_argument("--devices", type=int, default=1000)
    p.add_argument("--concurrency", type=int, default=200, help="open connections at most")
    p.add_argument("--late-start", type=float, default=0.0,
                   help="start the meta server this many seconds after the devices (needs --port)")
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--deadline", type=float, default=300.0, help="seconds before a device gives up")
    p.add_argument("--workdir", default=os.path.join("run", "load"))
    p.add_argument("--backend", choices=("sqlite", "postgres"), default="sqlite")
    p.add_argument("--replicas", type=int, default=1,
                   help="meta server processes sharing the database behind nginx (postgres only)")
    p.add_argument("--db", help="a postgresql:// URL to use instead of a throwaway cluster")
    p.add_argument("--meta", help="use a running meta server instead (with --secrets)")
    p.add_argument("--secrets", help="JSON {device: secret} for --meta")
    a = p.parse_args(argv)
    if a.devices < 1 or a.concurrency < 1 or a.replicas < 1:
        p.error("--devices, --concurrency and --replicas must be positive")
    if a.replicas > 1 and a.backend != "postgres":
        p.error("--replicas share one database: it needs --backend postgres")
    if a.db and a.backend != "postgres":
        p.error("--db is a postgresql:// URL: it needs --backend postgres")
    return asyncio.run(amain(a))


if __name__ == "__main__":
    sys.exit(main())
