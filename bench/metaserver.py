"""Meta server throughput (issues 6 and 18): `next` (on SQLite and on PostgreSQL) and login
under wrk on one meta server process, side by side in the same run with an aiohttp hello-world
returning a prebuilt body of the same size, and nginx serving that body as a static file; the
server's CPU time per request of each kind (next, challenge, login, report), which the capacity
model (bench/capacity.py) builds on; then a cProfile of `next`."""
import asyncio
import json
import os
import pstats
import subprocess
import sys

import aiohttp

from bench import capacity, cpus, wrk
from bench.mprun import ROOT
from bench.nginx import Nginx
from bench.report import Section
from bench.servers import Server
from bench.stats import median, paired_ratio
from host_server.services.auth import proof
from simulator.pgcluster import Cluster

DEVICE = "bench1"
SECRET = "0123456789abcdef0123456789abcdef"
ITEMS = 7
# devices whose reports the report row sends, each within the per-device limit (120 a minute)
REPORTERS = tuple("reporter%04d" % i for i in range(1000))


def catalog():
    media = [{
        "ref": "item%d.wav" % i, "size": 441044 + i, "sha256": "%064x" % (i + 1), "type": "audio/wav",
        "primary_address": "http://127.0.0.1:8101", "primary_directory": "/music/a",
        "file_name": "item%d.wav" % i,
        "alternates": [{"address": "http://127.0.0.1:8104", "directory": "/mirror/a"}],
        "owner": "Bench Owner", "composer": "Composer %d" % i, "title": "Benchmark Item %d" % i,
        "work": "Benchmarks", "performers": ["Bench Ensemble"], "composers": ["Composer %d" % i],
        "creators": ["bench/metaserver.py"],
    } for i in range(ITEMS)]
    return {"media": media,
            "programs": [{"name": "Bench", "items": [m["ref"] for m in media]}],
            "devices": [{"id": d, "name": "Benchmark device", "secret": SECRET,
                         "programs": ["Bench"], "default": "Bench"} for d in (DEVICE,) + REPORTERS]}


def make_db(work, url=None):
    """A fresh SQLite file in work (or the PostgreSQL database url) holding the catalog."""
    db = url or os.path.join(work, "meta.db")
    for suffix in ("", "-wal", "-shm"):
        if url is None and os.path.exists(db + suffix):
            os.remove(db + suffix)
    path = os.path.join(work, "catalog.json")
    with open(path, "w") as f:
        json.dump(catalog(), f)
    subprocess.run([sys.executable, "-m", "host_server", "--db", db, "import", path], cwd=ROOT,
                   check=True, capture_output=True)
    return db


def meta_server(db, log):
    args = ["-m", "host_server", "--db", db, "serve", "--host", "127.0.0.1", "--port", "0"]
    r = subprocess.run([sys.executable, "-m", "host_server", "serve", "--help"], cwd=ROOT,
                       capture_output=True, text=True)
    if "--no-access-log" in r.stdout:
        args.append("--no-access-log")   # like the hello-world (nginx logs: it runs the owners' config)
    if "--allow-source-net" in r.stdout:
        args += ["--allow-source-net", "127.0.0.0/8"]   # its file servers are on loopback
    return Server(args, log)


async def _post(session, url, doc):
    async with session.post(url, json=doc) as r:
        if r.status != 200:
            raise RuntimeError("POST %s: %d %s" % (url, r.status, await r.text()))
        return await r.json()


async def device_token(s, base, device):
    nonce = (await _post(s, base + "/api/v1/login/challenge", {"device": device}))["nonce"]
    doc = await _post(s, base + "/api/v1/login", {"device": device, "nonce": nonce,
                                                  "proof": proof(SECRET, device, nonce)})
    return doc["token"]


async def reporter_tokens(base):
    async with aiohttp.ClientSession() as s:
        return [await device_token(s, base, d) for d in REPORTERS]


async def login_token(base):
    async with aiohttp.ClientSession() as s:
        doc = {"token": await device_token(s, base, DEVICE)}
        async with s.get(base + "/api/v1/next",
                         headers={"Authorization": "Bearer " + doc["token"]}) as r:
            if r.status != 200:
                raise RuntimeError("next: %d" % r.status)
            body = await r.read()
    return doc["token"], body


async def login_bodies(base, n, concurrency=16):
    """n login bodies, each answering a fresh challenge (a nonce works once)."""
    out = []
    async with aiohttp.ClientSession() as s:
        async def worker(k):
            for _ in range(k):
                nonce = (await _post(s, base + "/api/v1/login/challenge", {"device": DEVICE}))["nonce"]
                out.append(json.dumps({"device": DEVICE, "nonce": nonce,
                                       "proof": proof(SECRET, DEVICE, nonce)}, separators=(",", ":")))
        await asyncio.gather(*(worker(n // concurrency + (i < n % concurrency))
                               for i in range(concurrency)))
    return out


def write_lua(path, text):
    with open(path, "w") as f:
        f.write(text)
    return path


def next_script(work, token, name="next"):
    return write_lua(os.path.join(work, name + ".lua"),
                     'wrk.headers["Authorization"] = %s\n' % wrk.lua_string("Bearer " + token))


def challenge_script(work):
    return write_lua(os.path.join(work, "challenge.lua"),
                     'wrk.method = "POST"\nwrk.headers["Content-Type"] = "application/json"\n'
                     'wrk.body = %s\n' % wrk.lua_string(json.dumps({"device": DEVICE})))


def login_script(work, bodies):
    # one wrk thread, so one Lua state walks the list once; past its end a body is missing
    # and the answer is an error, counted by wrk as non-2xx
    return write_lua(os.path.join(work, "login.lua"), (
        'local bodies = {%s}\nlocal i = 0\n'
        'local h = {["Content-Type"] = "application/json"}\n'
        'request = function()\n  i = i + 1\n'
        '  return wrk.format("POST", "/api/v1/login", h, bodies[i] or "")\nend\n') % ",\n".join(
        wrk.lua_string(b) for b in bodies))


def report_script(work, tokens, media_id, name="report"):
    # the reporters in turn, each report with other bytes (none is taken for a repeat), of an
    # item at pos 1 while each reporter is at 0: stored, never advancing
    return write_lua(os.path.join(work, name + ".lua"), (
        'local tokens = {%s}\nlocal i = 0\n'
        'request = function()\n  i = i + 1\n'
        '  local h = {["Content-Type"] = "application/json",'
        ' ["Authorization"] = "Bearer " .. tokens[(i %% #tokens) + 1]}\n'
        '  return wrk.format("POST", "/api/v1/report", h, '
        '\'{"id":%d,"pos":1,"status":"played","bytes":\' .. i .. \',"ms":5000,"errors":[]}\')\nend\n')
        % (",".join(wrk.lua_string(t) for t in tokens), media_id))


def cpu_seconds(pid):
    """The process's user + system CPU time so far (/proc/<pid>/stat)."""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def measured(server, url, seconds, script):
    """wrk against url; (its result, the server's CPU µs per request meanwhile)."""
    before = cpu_seconds(server.proc.pid)
    r = wrk.run(url, seconds, script)
    used = cpu_seconds(server.proc.pid) - before
    return r, 1e6 * used / r.requests if r.requests else float("nan")


def profile_next(work, db, token, seconds, path):
    """The meta server under cProfile while wrk asks for `next`; the top functions by own time."""
    prof = os.path.join(work, "next.prof")
    with Server(["-m", "bench.profiled", "--db", db, "--out", prof],
                os.path.join(work, "meta-profiled.log")) as srv:
        wrk.run(srv.url + path, seconds, next_script(work, token))
    st = pstats.Stats(prof)
    total = st.total_tt
    rows = []
    for (fn, line, name), (cc, nc, tt, ct, callers) in st.stats.items():
        rows.append((tt, ct, nc, "%s:%d(%s)" % (os.path.relpath(fn, ROOT) if fn.startswith(ROOT)
                                               else os.path.basename(fn), line, name)))
    rows.sort(reverse=True)
    handler = [r for r in rows if r[3].startswith("host_server/api/device.py") and r[3].endswith("(next_item)")]
    requests = handler[0][2] if handler else 0
    parts = []
    for path, func, label in BREAKDOWN:
        found = [r for r in rows if r[3].endswith("(%s)" % func) and r[3].split(":")[0].endswith(path)]
        if found and requests:
            best = max(found, key=lambda r: r[2])
            parts.append((label, 1e6 * best[1] / requests, best[2] / requests))
    if requests:
        parts.append(("the whole process, per request", 1e6 * total / requests, 1.0))
    execs = [r for r in rows if r[3].endswith("(<method 'execute' of 'sqlite3.Connection' objects>)")]
    sql = execs[0][2] / requests if execs and requests else float("nan")
    return total, rows[:15], handler, parts, sql


# (file, function, what it is) for the time-per-request breakdown of `next`
BREAKDOWN = (
    ("aiohttp/web_app.py", "_handle", "aiohttp's request handling (middleware, handler, response)"),
    ("host_server/api/middleware.py", "json_errors", "`json_errors` middleware and everything inside it"),
    ("host_server/api/inputs.py", "wrapper", "`device_required`: token check and the handler"),
    ("host_server/services/hotpath.py", "device_for", "  token check: sha256 of the token, held in memory"),
    ("host_server/api/device.py", "next_item", "  `api.device.next_item`: item look-up and the body"),
    ("host_server/services/hotpath.py", "body", "    `HotPath.body`: the answer held for the device"),
    ("host_server/db/devices.py", "current", "    `db.devices.current`: the item query (not held)"),
)


def run(work, quick=False):
    work = os.path.abspath(os.path.join(work, "meta"))
    os.makedirs(work, exist_ok=True)
    seconds, rounds = (1, 1) if quick else (4, 3)
    db = make_db(work)
    res, cpu = {}, {}

    def keep(name, got):
        res.setdefault(name, []).append(got[0])
        cpu.setdefault(name, []).append(got[1])

    with Cluster() as pg, meta_server(db, os.path.join(work, "meta.log")) as meta:
        pg_db = make_db(work, pg.create_database("bench"))
        with meta_server(pg_db, os.path.join(work, "meta-pg.log")) as meta_pg:
            token, body = asyncio.run(login_token(meta.url))
            pg_token, _ = asyncio.run(login_token(meta_pg.url))
            static = os.path.join(work, "static")
            os.makedirs(static, exist_ok=True)
            with open(os.path.join(static, "next.json"), "wb") as f:
                f.write(body)
            # as a playing device asks: with the position its last report left it at
            at = "/api/v1/next?pos=%d" % json.loads(body)["pos"]
            other = json.loads(body)["id"] + 1   # the item at pos 1 (import order)
            reporters, pg_reporters = (asyncio.run(reporter_tokens(meta.url)),
                                       asyncio.run(reporter_tokens(meta_pg.url)))
            with Server(["-m", "bench.helloworld", "--body", os.path.join(static, "next.json")],
                        os.path.join(work, "hello.log")) as hello, \
                    Nginx(static, os.path.join(work, "nginx")) as ng:
                script, pg_script = next_script(work, token), next_script(work, pg_token, "next-pg")
                for _ in range(rounds):
                    keep("next", measured(meta, meta.url + at, seconds, script))
                    res.setdefault("hello", []).append(wrk.run(hello.url + "/next.json", seconds))
                    res.setdefault("nginx", []).append(wrk.run(ng.url + "/next.json", seconds))
                    keep("next_pg", measured(meta_pg, meta_pg.url + at, seconds, pg_script))
                    keep("next_pg_db", measured(meta_pg, meta_pg.url + "/api/v1/next", seconds,
                                                pg_script))
                    keep("challenge", measured(meta, meta.url + "/api/v1/login/challenge",
                                               seconds, challenge_script(work)))
                    n = int(res["challenge"][-1].rps * seconds * 1.5) + 100
                    bodies = asyncio.run(login_bodies(meta.url, n))
                    keep("login", measured(meta, meta.url + "/api/v1/login", seconds,
                                           login_script(work, bodies)))
                    keep("report", measured(meta, meta.url + "/api/v1/report", seconds,
                                            report_script(work, reporters, other)))
                    keep("report_pg", measured(meta_pg, meta_pg.url + "/api/v1/report", seconds,
                                               report_script(work, pg_reporters, other, "report-pg")))
            total, top, handler, parts, sql_per_request = profile_next(work, db, token, seconds, at)
    for name, runs in res.items():
        bad = [r for r in runs if r.non_2xx or r.socket_errors]
        if bad:
            raise RuntimeError("%s: %d non-2xx answers, %d socket errors:\n%s" % (
                name, bad[0].non_2xx, bad[0].socket_errors, bad[0].text))
    rps = {k: median([r.rps for r in v]) for k, v in res.items()}
    p50 = {k: median([r.p50 for r in v]) for k, v in res.items()}
    p99 = {k: median([r.p99 for r in v]) for k, v in res.items()}
    paired = {k: paired_ratio([[r.rps] for r in res[k]], [[r.rps] for r in res["hello"]])
              for k in res}
    us = {k: median(v) for k, v in cpu.items()}
    labels = (("next", "meta server `GET /api/v1/next?pos=N` on SQLite (bearer token, %d B body)" % len(body)),
              ("next_pg", "the same on PostgreSQL (one replica)"),
              ("next_pg_db", "PostgreSQL, `GET /api/v1/next` without `pos`: read from the database"),
              ("challenge", "meta server `POST /api/v1/login/challenge`"),
              ("login", "meta server `POST /api/v1/login` (a fresh nonce and proof each)"),
              ("report", "meta server `POST /api/v1/report` (SQLite; each report a new one)"),
              ("report_pg", "the same on PostgreSQL (one replica)"),
              ("hello", "aiohttp hello-world, the same %d B prebuilt body" % len(body)),
              ("nginx", "nginx, the same body as a static file"))
    sec = Section("5. Meta server (one process, wrk -t%d -c%d, loopback)" % (wrk.THREADS, wrk.CONNECTIONS))
    sec.table(("endpoint", "requests/s", "p50 ms", "p99 ms", "server CPU µs per request",
               "vs hello-world", "vs nginx"), [
        (label, "%.0f" % rps[k], "%.2f" % p50[k], "%.2f" % p99[k],
         "%.0f" % us[k] if k in us else "-",
         "%.2f" % paired[k], "%.2f" % paired_ratio([[r.rps] for r in res[k]],
                                                   [[r.rps] for r in res["nginx"]]))
        for k, label in labels])
    r_next, r_login = paired["next"], paired["login"]
    r_pg = paired_ratio([[r.rps] for r in res["next_pg"]], [[r.rps] for r in res["next"]])
    sec.figures.update({"rps": rps, "next_over_hello": r_next, "login_over_hello": r_login,
                        "pg_over_sqlite": r_pg, "cpu_us": us})
    sec.target("`next` ≥ 0.85 × the aiohttp hello-world", r_next >= 0.85, "next/hello = %.2f" % r_next)
    sec.target("login ≥ 0.5 × the aiohttp hello-world", r_login >= 0.5, "login/hello = %.2f" % r_login)
    sec.target("`next` on PostgreSQL (one replica) ≥ 0.8 × the SQLite figure", r_pg >= 0.8,
               "PostgreSQL/SQLite = %.2f" % r_pg)
    sec.note("Each row is the median of %d wrk runs of %d s (one wrk thread, %d connections; "
             "%s), rounds interleaved; a ratio is the median over "
             "rounds of the two rates in the same round; every answer was 2xx. A "
             "login needs a nonce from a challenge first: the bodies were prepared by answering "
             "fresh challenges just before the run, so the login row is the second half of a "
             "login alone. `next` asks with `?pos=N`, as the firmware does after its first item "
             "(PROTOCOL.md): the replica answers from memory (services/hotpath.py). Server CPU "
             "µs per request: the meta server process's user + system time (/proc) over the run "
             "divided by the requests wrk made; the reports come from %d devices in turn (each "
             "within the per-device limit of 120 a minute), each with other bytes so none is a "
             "repeat, of an item the device is not at: stored and never advancing, so the row "
             "lacks the one UPDATE of the position a playing device's report has." % (rounds, seconds, wrk.CONNECTIONS, cpus.describe(), len(REPORTERS)))
    us_next, us_hello = 1e6 / rps["next"], 1e6 / rps["hello"]
    sec.note("What limits `next`: at these rates a `next` costs %.0f µs of the server's core per "
             "request and the hello-world %.0f µs; the %.0f µs between them is the meta server's "
             "own work with no database statement on the way (%.1f SQL statements a request "
             "under the profiler): the Prometheus middleware (`measure`: a counter, a histogram "
             "and a byte counter per request), `json_errors`, the response headers' signal of "
             "the dashboard, the token's sha256 and look-up, the query string's parse and the "
             "handler, broken down below. At 0.85 × the hello-world that difference would have "
             "to be at most %.0f µs." % (us_next, us_hello, us_next - us_hello, sql_per_request,
                                       us_hello / 0.85 - us_hello))
    lines = ["%6.1f%%  %6.1f%%  %8d  %s" % (100 * tt / total, 100 * ct / total, nc, where)
             for tt, ct, nc, where in top]
    sec.note("Where a `next` request's time goes under the profiler (µs per request, cumulative; "
             "cProfile slows everything, so compare the rows with each other):\n\n"
             "| part | µs per request | calls per request |\n| --- | --- | --- |\n" + "\n".join(
                 "| %s | %.1f | %.1f |" % (label.replace("  ", "&nbsp;&nbsp;"), us, calls)
                 for label, us, calls in parts))
    share = 100 * handler[0][1] / total if handler else 0.0
    sec.figures["next_handler_share"] = share
    sec.note("Profile of `next` (`python -m bench.profiled`: the meta server with cProfile on "
             "while it serves, %d s of wrk): the handler `api.device.next_item` with what it calls "
             "(token check and the item query) takes %.1f%% of the process's time; the rest is "
             "aiohttp, its middleware, asyncio and the event loop. Top functions by own time (own %%, cumulative %%, calls):\n\n"
             "```\n%s\n```" % (seconds, share, "\n".join(lines)))
    return [sec, capacity.section(us, rps)]
