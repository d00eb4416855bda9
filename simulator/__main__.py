"""python -m simulator: the whole network on loopback, devices playing the demo program once.

Prints one line per item and, last, exactly one line
``RESULT items=<n> verified=<v> failovers=<f> resumed=<r> secure=<s>`` (s: secure items verified); exits 0 only if every item played
and verified.
"""
import argparse
import asyncio
import os
import sys

from simulator.devices import FIRMWARE_ENTRY, INTERPRETERS, DeviceProcess, compile_firmware
from simulator.network import DEFAULT_FAULTS, FAULTS, Network, parse_faults
from simulator.pgcluster import Cluster
from simulator.procs import ROOT
from tools.filehash import file_sha256


def parse_args(argv):
    p = argparse.ArgumentParser(prog="python -m simulator", description=__doc__.splitlines()[0])
    p.add_argument("--interpreter", choices=INTERPRETERS, default="micropython",
                   help="what runs the firmware (default: micropython, the real unix port)")
    p.add_argument("--heap", default="64K", help="micropython -X heapsize (default 64K)")
    p.add_argument("--source", dest="mpy", action="store_false",
                   help="run the firmware from source (it needs about 74K); by default micropython "
                        "runs it compiled to .mpy by mpy-cross, as on a board")
    p.add_argument("--mpy", dest="mpy", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--devices", type=int, default=1, help="simulated devices (default 1)")
    p.add_argument("--faults", default=",".join(DEFAULT_FAULTS),
                   help="comma-separated faults, 'all' or 'none' (default %(default)s); known: "
                   + "; ".join("%s = %s" % kv for kv in FAULTS.items()))
    p.add_argument("--rounds", type=int, default=1, help="times through the program (default 1)")
    p.add_argument("--replicas", type=int, default=1,
                   help="meta server replicas behind nginx, sharing a throwaway PostgreSQL "
                        "cluster (default 1: one meta server on SQLite)")
    p.add_argument("--sink", choices=("file", "null"), default="file",
                   help="file: keep what was played and check it; null: discard (default file)")
    p.add_argument("--buffer", type=int, default=4096, help="device stream buffer bytes")
    p.add_argument("--read-timeout", type=float, default=2.0, help="device read timeout, seconds")
    p.add_argument("--workdir", default=os.path.join(ROOT, "run", "sim"),
                   help="where the database, served files, logs and device output go")
    p.add_argument("--timeout", type=float, default=300, help="give up after this many seconds")
    a = p.parse_args(argv)
    try:
        a.faults = parse_faults(a.faults)
    except ValueError as e:
        p.error(str(e))
    if a.devices < 1 or a.rounds < 1 or a.replicas < 1:
        p.error("--devices, --rounds and --replicas must be at least 1")
    return a


class Tally:
    def __init__(self):
        self.items = self.verified = self.failovers = self.resumed = self.secure = 0

    def line(self):
        return "RESULT items=%d verified=%d failovers=%d resumed=%d secure=%d" % (
            self.items, self.verified, self.failovers, self.resumed, self.secure)


def item_line(net, dev, n, total, ev, ok):
    mb_s = ev.get("bytes", 0) / 1000.0 / max(ev.get("ms", 0), 1)
    title = (ev.get("title") or "?")[:27] + (" [secure]" if ev.get("secure") else "")
    return "%-5s %2d/%d  %-36s %9s B  from %-4s failovers=%d resumed=%d  %6.1f MB/s  %s" % (
        dev.id, n, total, title, format(ev.get("bytes", 0), ","),
        net.server_name(ev.get("src")), ev.get("failovers", 0), ev.get("resumed", 0), mb_s,
        "verified" if ok else "NOT VERIFIED (%s)" % ev.get("status"))


def check_item(net, dev, ev, sink):
    """True when the device says played+verified and (file sink) the bytes it kept hash right."""
    facts = net.expected().get(ev.get("id"))
    if facts is None or ev.get("status") != "played" or not ev.get("verified"):
        return False
    if sink != "file":
        return True
    path = os.path.join(dev.out_dir, str(ev["id"]))
    return os.path.exists(path) and file_sha256(path) == facts["sha256"]


async def follow(net, dev, total, tally, sink):
    n = 0
    async for tag, ev in dev.events():
        if tag == "ITEM":
            n += 1
            ok = check_item(net, dev, ev, sink)
            tally.items += 1
            tally.verified += ok
            tally.secure += 1 if ok and ev.get("secure") else 0
            tally.failovers += ev.get("failovers", 0)
            tally.resumed += 1 if ev.get("resumed") else 0
            print(item_line(net, dev, n, total, ev, ok), flush=True)
        elif tag == "FAIL":
            print("      ! %s: %s failed at byte %s: %s" % (
                dev.id, net.server_name(ev.get("src")), ev.get("at"), ev.get("why")), flush=True)
        elif tag == "BACKOFF":
            print("      ~ %s backs off %.1fs: %s" % (dev.id, ev.get("s", 0), ev.get("why")), flush=True)
        elif tag == "LOG" and ev[:2] in ("E ", "W "):
            print("      %s: %s" % (dev.id, ev), flush=True)
    return await dev.wait()


async def main(a):
    if a.replicas == 1:
        return await run(a)
    with Cluster() as pg:
        return await run(a, pg.create_database("sim"))


async def run(a, db=None):
    net = Network(a.workdir, faults=a.faults, devices=a.devices, db=db, replicas=a.replicas)
    tally = Tally()
    try:
        try:
            await net.start()
        except (RuntimeError, OSError) as e:
            print("error: the network did not start: %s" % e, file=sys.stderr)
            print(tally.line(), flush=True)
            return 1
        print("network  meta %s%s" % (net.meta.url, "" if a.replicas == 1 else
                                        "  (nginx in front of %d replicas on PostgreSQL: %s)" % (
                                            a.replicas, ", ".join(r.url for r in net.replicas))))
        for name in ("A", "B", "C", "ABC"):
            print("         %-3s %s%s" % (name, net.address[name],
                                         "  (down)" if name not in net.servers else ""))
        print("faults   %s" % ("; ".join("%s: %s" % (f, FAULTS[f]) for f in a.faults) or "none"))
        total = len(net.media) * a.rounds
        entry = FIRMWARE_ENTRY
        if a.mpy and a.interpreter == "micropython":
            entry = compile_firmware(os.path.join(net.workdir, "firmware-mpy"))
        devs = [DeviceProcess(net.workdir, did, secret, net.meta.url, interpreter=a.interpreter,
                              heap=a.heap, sink=a.sink, items=total, buffer=a.buffer,
                              read_timeout=a.read_timeout, entry=entry)
                for did, secret in sorted(net.devices.items())]
        print("devices  %d under %s%s%s, %d items each" % (
            len(devs), a.interpreter, " -X heapsize=" + a.heap if a.interpreter == "micropython" else "",
            " (.mpy)" if a.mpy else "", total), flush=True)
        for d in devs:
            await d.start()
        try:
            rcs = await asyncio.wait_for(
                asyncio.gather(*(follow(net, d, total, tally, a.sink) for d in devs)), a.timeout)
        except asyncio.TimeoutError:
            print("timed out after %ss" % a.timeout)
            rcs = [None]
            for d in devs:
                d.kill()
        expected = total * len(devs)
        if tally.items < expected:
            print("only %d of %d items were played (device exit codes %s; consoles in %s)" % (
                tally.items, expected, rcs, os.path.join(net.workdir, "devices")))
            tally.items = expected
        reports = await net.reports()
        print("server   recorded %d reports: %d played, %d failed (python -m host_server --db %s reports)" % (
            len(reports), sum(r["status"] == "played" for r in reports),
            sum(r["status"] == "failed" for r in reports), net.db), flush=True)
    finally:
        await net.stop()
    print(tally.line(), flush=True)
    return 0 if tally.verified == tally.items and tally.items > 0 else 1


def command(argv=None):
    """The media-simulator command (pyproject.toml)."""
    return asyncio.run(main(parse_args(sys.argv[1:] if argv is None else argv)))


if __name__ == "__main__":
    sys.exit(command())
