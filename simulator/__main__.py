"""python -m simulator: the whole network on loopback, devices playing the demo program once.

Prints one line per item and, last, exactly one line
``RESULT items=<n> verified=<v> failovers=<f> resumed=<r> secure=<s> underruns=<u> gap_ms=<g>``
(s: secure items verified; u: times a device's jitter ring ran dry mid-item, summed over the
items that carried a rate; g: the median over the boundaries between paced items of the ms the
sink had nothing between one item's last byte and the next one's first, ``none`` when no
boundary was measured), `` cached=<c>`` with ``--cache`` (items played from a device's
cache) and `` live=<l> hls=<h>`` when the program has its stream items (``--no-streams``: not;
they need icecast2 and ffmpeg): a live stream is verified when it played its duration's bytes,
an HLS presentation when the audio kept is its elementary stream byte for byte. Exits 0 only if
every item played and verified.
"""
import argparse
import asyncio
import hashlib
import os
import statistics
import sys

from simulator.devices import (CACHE_K, FIRMWARE_ENTRY, HEAP, INTERPRETERS, PACED_K, ROMFS_HEAP,
                               STREAM_K, DeviceProcess, compile_firmware, romfs_firmware)
from simulator.network import DEFAULT_FAULTS, FAULTS, Network, parse_faults
from simulator.pgcluster import Cluster
from simulator.procs import ROOT
from simulator.streamnet import LIVE_MS
from simulator.streamnet import available as streams_missing
from tools.filehash import file_sha256

SPEED = 4       # the paced sink plays the demo (55 s) in 14 s
JITTER = 16384  # its ring: 372 ms of the demo's 44100 B/s, 92 ms at speed 4 (bench/gap.py)


def parse_args(argv):
    p = argparse.ArgumentParser(prog="python -m simulator", description=__doc__.splitlines()[0])
    p.add_argument("--interpreter", choices=INTERPRETERS, default="micropython",
                   help="what runs the firmware (default: micropython, the real unix port)")
    p.add_argument("--heap", default=None,
                   help="micropython -X heapsize (default %s, %s with --romfs, and the jitter "
                        "ring's size and %dK on top with the paced sink)" % (HEAP, ROMFS_HEAP, PACED_K))
    p.add_argument("--source", dest="mpy", action="store_false",
                   help="run the firmware from source (it needs about 74K); by default micropython "
                        "runs it compiled to .mpy by mpy-cross, as on a board")
    p.add_argument("--mpy", dest="mpy", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--romfs", action="store_true",
                   help="run the .mpy files from a ROMFS image, their bytecode executed in place "
                        "out of the heap, as a board with a ROMFS partition runs them")
    p.add_argument("--devices", type=int, default=1, help="simulated devices (default 1)")
    p.add_argument("--faults", default=",".join(DEFAULT_FAULTS),
                   help="comma-separated faults, 'all' or 'none' (default %(default)s); known: "
                   + "; ".join("%s = %s" % kv for kv in FAULTS.items()))
    p.add_argument("--rounds", type=int, default=1, help="times through the program (default 1)")
    p.add_argument("--no-streams", dest="streams", action="store_false",
                   help="leave out the live radio (two Icecast servers, the primary killed mid-"
                        "stream) and the HLS presentation that follow the files by default")
    p.add_argument("--replicas", type=int, default=1,
                   help="meta server replicas behind nginx, sharing a throwaway PostgreSQL "
                        "cluster (default 1: one meta server on SQLite)")
    p.add_argument("--sink", choices=("paced", "file", "null"), default="paced",
                   help="paced: play each item at its rate (times --speed) through the jitter "
                        "ring, keep what was played and check it; file: keep and check, "
                        "unpaced; null: discard (default paced)")
    p.add_argument("--speed", type=float, default=SPEED,
                   help="the paced sink plays at the item's rate times this (default %(default)s)")
    p.add_argument("--jitter", type=int, default=JITTER,
                   help="bytes of the paced sink's jitter ring (default %(default)s)")
    p.add_argument("--cache", type=int, default=0, metavar="BYTES",
                   help="give each device a store-ahead cache of this many bytes (config "
                        "`cache`: items fetched ahead and played from it; 0: none, the default)")
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
    if a.romfs and a.interpreter != "micropython":
        p.error("--romfs runs the firmware under micropython only")
    if a.speed <= 0:
        p.error("--speed must be above 0")
    if a.cache < 0:
        p.error("--cache must be a number of bytes (0: none)")
    if a.heap is None:
        a.heap = "%dK" % (int((ROMFS_HEAP if a.romfs else HEAP)[:-1])
                          + (a.jitter // 1024 + PACED_K if a.sink == "paced" else 0)
                          + (CACHE_K if a.cache else 0) + (STREAM_K if a.streams else 0))
    if a.speed == int(a.speed):
        a.speed = int(a.speed)
    return a


class Tally:
    def __init__(self):
        self.items = self.verified = self.failovers = self.resumed = self.secure = 0
        self.underruns = 0
        self.gaps = []   # ms per boundary between paced items (ITEM gap_ms)
        self.cached = None  # items played from a device's cache (None: no cache)
        self.live = self.hls = None   # stream items verified (None: no streams)

    def gap_median(self):
        return "%d" % statistics.median(self.gaps) if self.gaps else "none"

    def line(self):
        return ("RESULT items=%d verified=%d failovers=%d resumed=%d secure=%d underruns=%d "
                "gap_ms=%s" % (self.items, self.verified, self.failovers, self.resumed,
                               self.secure, self.underruns, self.gap_median())
                + ("" if self.cached is None else " cached=%d" % self.cached)
                + ("" if self.live is None else " live=%d hls=%d" % (self.live, self.hls)))


def item_line(net, dev, n, total, ev, ok):
    mb_s = ev.get("bytes", 0) / 1000.0 / max(ev.get("ms", 0), 1)
    title = (ev.get("title") or "?")[:27] + (" [secure]" if ev.get("secure") else "")
    under = ""
    if "underruns" in ev:  # the item had a rate and the sink counted
        under = "  underruns=%d (%d ms)" % (ev["underruns"], ev.get("underrun_ms", 0))
    if "gap_ms" in ev:     # it followed a paced item: the silence between them
        under += "  gap=%d ms" % ev["gap_ms"]
    return "%-5s %2d/%d  %-36s %9s B  from %-4s failovers=%d resumed=%d  %6.1f MB/s  %s%s" % (
        dev.id, n, total, title, format(ev.get("bytes", 0), ","),
        source_name(net, ev.get("src")), ev.get("failovers", 0), ev.get("resumed", 0), mb_s,
        "verified" if ok else "NOT VERIFIED (%s)" % ev.get("status"), under)


def source_name(net, url):
    return "cache" if (url or "").startswith("cache:") else net.server_name(url)


def stream_kind(net, ev):
    """"live" or "hls" for a stream item's event, else None."""
    for kind, ref in (("live", "radio"), ("hls", "hls")):
        if net.streams is not None and ev.get("id") == net.media_ids.get(ref):
            return kind
    return None


def check_stream(net, dev, ev, sink, kind):
    """A live item played its duration's bytes; an HLS item kept exactly its audio."""
    if ev.get("status") != "played":
        return False
    want = None
    if kind == "live":
        size = net.streams.source.rate * LIVE_MS // 1000
        if ev.get("bytes") != size:
            return False
    else:
        want = hashlib.sha256(net.streams.hls["es"]).hexdigest()
    if sink == "null":
        return True
    path = os.path.join(dev.out_dir, str(ev["id"]))
    if not os.path.exists(path):
        return False
    return os.path.getsize(path) == ev["bytes"] and (want is None or file_sha256(path) == want)


def check_item(net, dev, ev, sink):
    """True when the device says played+verified and (file sink) the bytes it kept hash right."""
    kind = stream_kind(net, ev)
    if kind is not None:
        return check_stream(net, dev, ev, sink, kind)
    facts = net.expected().get(ev.get("id"))
    if facts is None or ev.get("status") != "played" or not ev.get("verified"):
        return False
    if sink == "null":
        return True
    path = os.path.join(dev.out_dir, str(ev["id"]))
    return os.path.exists(path) and file_sha256(path) == facts["sha256"]


def settle(net, dev, held, tally, sink):
    """Check the kept bytes of the items held: a paced sink plays an item's tail on after its
    ITEM line (gapless), so its file is whole once a later item has played, or the device has
    stopped."""
    for ev in held:
        ok = check_item(net, dev, ev, sink)
        if not ok and ev.get("status") == "played" and (ev.get("verified") or stream_kind(net, ev)):
            print("      ! %s: the bytes kept of item %s do not match its sha256" % (
                dev.id, ev.get("id")), flush=True)
        tally.verified += ok
        tally.secure += 1 if ok and ev.get("secure") else 0
        kind = stream_kind(net, ev)
        if ok and kind is not None:
            setattr(tally, kind, getattr(tally, kind) + 1)
    del held[:]


async def follow(net, dev, total, tally, sink):
    n = 0
    held = []   # ITEM events whose kept bytes are not checked yet
    async for tag, ev in dev.events():
        if tag == "ITEM":
            n += 1
            played = ev.get("status") == "played"
            if played:
                settle(net, dev, held, tally, sink)  # its end played out the item before
            held.append(ev)
            tally.items += 1
            tally.failovers += ev.get("failovers", 0)
            tally.resumed += 1 if ev.get("resumed") else 0
            tally.underruns += ev.get("underruns", 0)
            if "gap_ms" in ev:
                tally.gaps.append(ev["gap_ms"])
            if tally.cached is not None and (ev.get("src") or "").startswith("cache:"):
                tally.cached += 1
            print(item_line(net, dev, n, total, ev, played and (ev.get("verified")
                                                               or stream_kind(net, ev))), flush=True)
        elif tag == "FAIL":
            print("      ! %s: %s failed at byte %s: %s" % (
                dev.id, net.server_name(ev.get("src")), ev.get("at"), ev.get("why")), flush=True)
        elif tag == "CACHED":
            print("      + %s: item %s cached ahead from %s%s" % (
                dev.id, ev.get("id"), net.server_name(ev.get("src")),
                " (failovers=%d)" % ev["failovers"] if ev.get("failovers") else ""), flush=True)
        elif tag == "TITLE":
            print("      ♪ %s: %s" % (dev.id, ev.get("title")), flush=True)
            relay = net.streams.relay if net.streams is not None else None
            if relay is not None and relay.proc is not None and relay.proc.returncode is None:
                relay.kill()   # the primary mount dies mid-stream: the device moves to its origin
                print("      ! R2 (the relay, the radio's primary mount) killed", flush=True)
        elif tag == "BACKOFF":
            print("      ~ %s backs off %.1fs: %s" % (dev.id, ev.get("s", 0), ev.get("why")), flush=True)
        elif tag == "LOG" and ev[:2] in ("E ", "W "):
            print("      %s: %s" % (dev.id, ev), flush=True)
    rc = await dev.wait()
    settle(net, dev, held, tally, sink)
    return rc


def cache_config(net, device, size):
    if not size:
        return {}
    return {"cache": {"dir": os.path.join(net.workdir, "devices", device, "cache"),
                      "bytes": size}}


async def main(a):
    if a.replicas == 1:
        return await run(a)
    with Cluster() as pg:
        return await run(a, pg.create_database("sim"))


async def run(a, db=None):
    streams = a.streams
    if streams and streams_missing():
        print("note     no stream items: %s not installed (make run installs them)"
              % streams_missing(), flush=True)
        streams = False
    net = Network(a.workdir, faults=a.faults, devices=a.devices, db=db, replicas=a.replicas,
                  streams=streams)
    tally = Tally()
    if streams:
        tally.live = tally.hls = 0
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
        if net.streams is not None:
            print("         R1  %s  (Icecast, fed by ffmpeg)\n         R2  %s  (Icecast relaying R1:"
                  " the radio's primary)" % (net.streams.origin.url, net.streams.relay.url))
        print("faults   %s" % ("; ".join("%s: %s" % (f, FAULTS[f]) for f in a.faults) or "none"))
        total = net.items() * a.rounds
        entry, romfs = FIRMWARE_ENTRY, None
        if a.romfs:
            romfs = romfs_firmware(os.path.join(net.workdir, "firmware-romfs"))
        elif a.mpy and a.interpreter == "micropython":
            entry = compile_firmware(os.path.join(net.workdir, "firmware-mpy"))
        devs = [DeviceProcess(net.workdir, did, secret, net.meta.url, interpreter=a.interpreter,
                              heap=a.heap, sink=a.sink, items=total, buffer=a.buffer,
                              read_timeout=a.read_timeout, entry=entry, speed=a.speed,
                              romfs=romfs,
                              **({"jitter": a.jitter} if a.sink == "paced" else {}),
                              **cache_config(net, did, a.cache))
                for did, secret in sorted(net.devices.items())]
        if a.cache:
            tally.cached = 0
        print("devices  %d under %s%s%s, %d items each, %s" % (
            len(devs), a.interpreter, " -X heapsize=" + a.heap if a.interpreter == "micropython" else "",
            " (ROMFS)" if a.romfs else " (.mpy)" if a.mpy else "", total,
            "paced at %s x each item's rate through a %d-byte jitter ring" % (a.speed, a.jitter)
            if a.sink == "paced" else "%s sink" % a.sink)
            + (", a %s-byte cache ahead" % format(a.cache, ",") if a.cache else ""), flush=True)
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
        if tally.gaps:
            print("gaps     %d boundaries between paced items: median %s ms, max %d ms" % (
                len(tally.gaps), tally.gap_median(), max(tally.gaps)), flush=True)
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
