"""Fair load over equal sources (issue 17): 1,000 simulated devices against three real file
servers (nginx, host_server/nginx/fileserver.conf) that serve the same file, first with the
primary alone sharing the load (no weights: the alternates stand by), then with weights 1:2:1.
Each device logs in to a real meta server, takes its next item (GET /next) and fetches it from
the first source it was given (simulator/loadgen.py fetch_storm), all devices at once."""
import asyncio
import json
import os
import shutil

from bench import media
from bench.nginx import Nginx
from bench.report import Section
from simulator.loadgen import fetch_storm
from simulator.procs import ServerProcess, run_cli

WEIGHTS = (1, 2, 1)
CONCURRENCY = 200     # devices fetching at once at most (the load generator's connections)
WINDOW = 0.1          # s: the window over which a peak in bytes/s is measured
TOLERANCE = 0.10      # a server's share within 10 % of its weight's


def served(access_log):
    """(requests answered 200, body bytes) from an nginx access log (combined format)."""
    n = total = 0
    if os.path.exists(access_log):
        with open(access_log) as f:
            for line in f:
                parts = line.split('"')
                status_bytes = parts[2].split() if len(parts) > 2 else []
                if len(status_bytes) >= 2 and status_bytes[0] == "200":
                    n += 1
                    total += int(status_bytes[1])
    return n, total


def catalog(addresses, name, size, sha, n):
    rec = {"ref": "spread", "size": size, "sha256": sha, "type": "audio/wav", "title": "Spread",
           "primary_address": addresses[0], "primary_directory": "/", "file_name": name,
           "alternates": [{"address": a, "directory": "/"} for a in addresses[1:]]}
    return {"media": [rec], "programs": [{"name": "Spread", "items": ["spread"]}],
            "devices": [{"id": "spread%05d" % i, "programs": ["Spread"], "default": "Spread"}
                        for i in range(n)]}


async def one_run(work, servers, n, weights):
    """A fresh meta server (weights set through the operator's CLI when given), the storm;
    returns (stats, tally, {address: (requests, bytes) from its access log})."""
    run_dir = os.path.join(work, "spread-%s" % ("-".join(map(str, weights)) if weights else "primary"))
    shutil.rmtree(run_dir, ignore_errors=True)
    os.makedirs(run_dir)
    db = os.path.join(run_dir, "meta.db")
    path = os.path.join(run_dir, "catalog.json")
    f = servers["file"]
    with open(path, "w") as out:
        json.dump(catalog([s.url for s in servers["nginx"]], f.name, f.size, f.sha256, n), out)
    secrets = json.loads(await run_cli(["--db", db, "import", path], timeout=300))["devices"]
    for s, w in zip(servers["nginx"], weights or ()):
        await run_cli(["--db", db, "set-weight", s.url, str(w)])
    logs = [os.path.join(s.dir, "access.log") for s in servers["nginx"]]
    before = [served(p) for p in logs]
    meta = ServerProcess("meta", ["-m", "host_server", "--db", db, "serve", "--port", "0",
                                  "--no-access-log", "--probe-interval", "0"],
                         os.path.join(run_dir, "meta.log"))
    await meta.start()
    try:
        stats, tally = await fetch_storm(meta.url, secrets, CONCURRENCY, 300.0, WINDOW)
    finally:
        await meta.stop()
    after = [served(p) for p in logs]
    logged = {s.url: (a[0] - b[0], a[1] - b[1]) for s, a, b in zip(servers["nginx"], after, before)}
    if stats.errors or stats.ok != n:
        raise RuntimeError("spread storm: %d of %d devices fetched; %s" % (
            stats.ok, n, "; ".join(stats.errors[:3])))
    return stats, tally, logged


def run(work, quick=False):
    n = 40 if quick else 1000
    size = (16 << 10) if quick else (256 << 10)
    files = os.path.join(work, "spread-files")
    f = media.random_file(files, "spread.wav", size)
    with Nginx(files, os.path.join(work, "nginx-spread-a")) as a, \
            Nginx(files, os.path.join(work, "nginx-spread-b")) as b, \
            Nginx(files, os.path.join(work, "nginx-spread-c")) as c:
        servers = {"nginx": (a, b, c), "file": f}
        runs = [("primary alone (no weights)", None), ("weights 1:2:1", WEIGHTS)]
        results = [(label, weights) + asyncio.run(one_run(work, servers, n, weights))
                   for label, weights in runs]
    names = ("A (primary)", "B (alternate)", "C (alternate)")
    rows = []
    for label, weights, stats, tally, logged in results:
        for name, s, w in zip(names, (a, b, c), weights or (1, 0, 0)):
            requests, nbytes = logged[s.url]
            rows.append((label, name, w, "%d" % tally.first[s.url],
                         "%.1f %%" % (100.0 * tally.first[s.url] / n), "%d" % requests,
                         "%.1f" % (nbytes / 1e6), tally.peak_in_flight[s.url],
                         "%.0f" % (tally.peak_rate(s.url) / 1e6)))
    sec = Section("7. Fair load: %s devices over three equal file servers (issue 17)" % format(n, ","))
    sec.table(("run", "server", "weight", "devices first", "share", "requests (its log)",
               "MB served (its log)", "peak fetches at once", "peak MB/s (%d ms)" % (WINDOW * 1000)),
              rows)
    _, _, stats, tally, logged = results[1]
    worst = max(abs(tally.first[s.url] / n - w / sum(WEIGHTS)) / (w / sum(WEIGHTS))
                for s, w in zip((a, b, c), WEIGHTS))
    sec.figures["worst_share_error"] = worst
    sec.target("each server's share within 10 %% of its weight (1:2:1, %d devices)" % n,
               worst <= TOLERANCE, "largest relative error %.1f %%" % (100 * worst))
    one, spread = results[0][3], results[1][3]
    peak_one = max(one.peak_in_flight.values())
    peak_spread = max(spread.peak_in_flight.values())
    rate_one = max(one.peak_rate(s.url) for s in (a, b, c))
    rate_spread = max(spread.peak_rate(s.url) for s in (a, b, c))
    sec.figures.update({"peak_fetches_primary": peak_one, "peak_fetches_spread": peak_spread,
                        "peak_rate_primary": rate_one, "peak_rate_spread": rate_spread})
    sec.target("lower peak per file server with the load spread than with one primary",
               peak_spread < peak_one and rate_spread < rate_one,
               "busiest server: %d fetches at once and %.0f MB/s with the primary alone, %d and "
               "%.0f MB/s spread" % (peak_one, rate_one / 1e6, peak_spread, rate_spread / 1e6))
    sec.note("A %s-byte file served by three nginx processes (one worker each, the same folder) as "
             "a record's primary and two alternates; %s devices, each a real login and GET /next "
             "to one meta server process (SQLite), then all of them fetch their item from the "
             "first source they were given, at most %d at a time (the load generator's "
             "connections, in the bench's process), and report it. Weights set with `python -m "
             "host_server set-weight ADDRESS N` (an owner: `python -m tools.owner weight ADDRESS "
             "N`); without weights the alternates stand by. Devices first and peaks are counted by "
             "the devices; requests and MB served come from each nginx's access log. The order is "
             "rendezvous hashing over (device, item, source), so a share differs from its weight "
             "by the chance of %s draws (one standard deviation of a 25 %% share: %.1f points)." % (
                 format(size, ","), format(n, ","), CONCURRENCY, format(n, ","), 100 * (0.25 * 0.75 / n) ** 0.5))
    return [sec]
