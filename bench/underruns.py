"""Underruns per fault and jitter ring (issue 14): an item played in real time (the paced sink at
speed 1) at 128 kbit/s (16000 B/s) and at CD-quality PCM (176400 B/s), through a ring of 16 KiB
and of 32 KiB, while its primary fails in the middle of it: dropped (then the next source serves,
or first refuses, or first answers 404), stalled, or slowed to a trickle. The device runs the
firmware under micropython with the default read timeout (2 s); the failing sources are small
asyncio servers on loopback (bench/failover.py's), the last source is nginx."""
import asyncio
import os

from bench import media, mprun
from bench.cpus import CLIENT, pinned
from bench.failover import FailingSource
from bench.nginx import Nginx
from bench.report import Section
from simulator.procs import refusing_port
from tools.fwbuild import micropython_path

READ_TIMEOUT = 2.0            # s: the firmware's default
RATES = ((16000, "128 kbit/s"), (176400, "CD PCM"))
RINGS = (16384, 32768)
SECONDS = 6                   # of playback per item; the primary fails half way
KINDS = (
    ("drop", "dropped, the next source serves"),
    ("drop+refused", "dropped, the next refuses, the one after serves"),
    ("drop+404", "dropped, the next answers 404, the one after serves"),
    ("stall", "stalled (silent until the read timeout)"),
    ("trickle", "slowed to an eighth of the rate (the slow rule)"),
)


class TrickleSource(FailingSource):
    """Serves ``at`` bytes at once, then 64 bytes at a time at ``per_s`` bytes per second."""

    def __init__(self, data, at, per_s):
        FailingSource.__init__(self, "trickle", data, at)
        self.per_s = per_s

    async def _serve(self, reader, writer):
        try:
            await reader.readuntil(b"\r\n\r\n")
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(self.data))
            writer.write(self.data[:self.at])
            await writer.drain()
            for i in range(self.at, len(self.data), 64):
                writer.write(self.data[i:i + 64])
                await writer.drain()
                await asyncio.sleep(64 / self.per_s)
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        writer.transport.abort()


async def trial(kind, f, rate, ring, good_url):
    """One item played with its primary failing as ``kind``: (underruns, underrun_ms, status,
    errors)."""
    with open(f.path, "rb") as fh:
        data = fh.read()
    at = f.size // 2
    servers, holds, srcs = [], [], []
    if kind == "trickle":
        servers.append(TrickleSource(data, at, rate // 8))
    else:
        servers.append(FailingSource("stall" if kind == "stall" else "drop", data, at))
    if kind == "drop+404":
        servers.append(FailingSource("404", data, 0))
    for s in servers:
        srcs.append(await s.start() + "/" + f.name)
    if kind == "drop+refused":
        holds.append(refusing_port())
        srcs.append("http://127.0.0.1:%d/%s" % (holds[0].getsockname()[1], f.name))
    srcs.append(good_url)
    try:
        proc = await asyncio.create_subprocess_exec(*pinned([
            micropython_path(), "-X", "heapsize=256K", mprun.script("paced.py"), mprun.FIRMWARE,
            str(ring), str(rate), str(f.size), f.sha256, str(READ_TIMEOUT), kind] + srcs,
            CLIENT), stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
            stdin=asyncio.subprocess.DEVNULL, cwd=mprun.ROOT)
        out, err = await asyncio.wait_for(proc.communicate(), SECONDS * 4 + 60)
    finally:
        for s in servers:
            await s.stop()
        for h in holds:
            h.close()
    rows = mprun.lines(out.decode(), "U")
    if proc.returncode != 0 or len(rows) != 1 or rows[0][3] != "played":
        raise RuntimeError("paced %s at %d B/s, %d-byte ring: exit %s, %s\n%s" % (
            kind, rate, ring, proc.returncode, rows, err.decode()[-2000:]))
    return int(rows[0][1]), int(rows[0][2]), rows[0][5]


async def column(rate, ring, f, good_url, n):
    """Every kind, n trials each, one after another (one column of the table)."""
    out = {}
    for kind, _ in KINDS:
        out[kind] = [await trial(kind, f, rate, ring, good_url) for _ in range(n)]
    return (rate, ring), out


def cell(results):
    """'0' when no trial underran, else the underruns and their length per trial."""
    if all(u == 0 for u, _, _ in results):
        return "0"
    return " / ".join("%d (%.2f s)" % (u, ms / 1000) for u, ms, _ in results)


def run(work, quick=False):
    n = 1 if quick else 2
    seconds = 2 if quick else SECONDS
    files = os.path.join(work, "paced-files")
    items = {rate: media.random_file(files, "item-%d.bin" % rate, rate * seconds)
             for rate, _ in RATES}
    sec = Section("Underruns per fault and jitter ring (paced sink in real time, micropython)")

    async def all_columns(good):
        # one device at a time: four sharing the client core starved one another at CD rate
        return dict([await column(rate, ring, items[rate], good(rate), n)
                     for rate, _ in RATES for ring in RINGS])

    with Nginx(files, os.path.join(work, "nginx-paced")) as ng:
        found = asyncio.run(all_columns(lambda rate: ng.url + "/" + items[rate].name))
    keys = [(rate, ring) for rate, _ in RATES for ring in RINGS]
    head = ["primary fails mid-item by"] + ["%s, %d KiB ring (%s)" % (
        label, ring // 1024, "%.2f s" % (ring / rate) if ring / rate >= 1 else
        "%d ms" % (ring * 1000 // rate)) for rate, label in RATES for ring in RINGS]
    rows = []
    for kind, label in KINDS:
        rows.append([label] + [cell(found[k][kind]) for k in keys])
        for k in keys:
            sec.figures["%s %d %d" % (kind, k[0], k[1])] = [(u, ms) for u, ms, _ in found[k][kind]]
    sec.table(head, rows)
    clean = []
    for kind, _ in KINDS:
        ok = ["%s with %d KiB" % (label, ring // 1024) for rate, label in RATES for ring in RINGS
              if all(u == 0 for u, _, _ in found[(rate, ring)][kind])]
        sec.figures["clean " + kind] = len(ok)
        clean.append("%s: %s" % (kind, "every rate and ring" if len(ok) == len(keys) else
                                 ", ".join(ok) or "none"))
    sec.note("Underruns (and how long each trial's lasted, from the byte the ring ran out at "
             "to the restart of playback once it was full again) over %d trial(s) per cell; "
             "0: none. Each item is %d s of playback (%s bytes at 16000 B/s, %s at 176400 B/s); "
             "its primary fails at its middle byte, when the ring is full and playing. The read "
             "timeout is the firmware's default, %.0f s, which is also the slow rule's window." % (
                 n, seconds, format(items[16000].size, ","), format(items[176400].size, ","),
                 READ_TIMEOUT))
    sec.note("Which faults pass without an underrun at the default read timeout: %s." %
             "; ".join(clean))
    sec.note("How to read it: a fault is inaudible when the ring holds more playback than the "
             "fault's gap. A drop, a refusal or a 404 costs a few ms (section 4). A stall costs "
             "the read timeout, 2 s; the ring is nearly full when it starts, and at least three "
             "quarters (a write carries at most a quarter of it), so a ring of a little more than "
             "2 s of playback hides most of it and one of 2.7 s hides it for certain: 43 KiB at "
             "128 kbit/s, 470 KiB at CD rate (PSRAM). A trickle is "
             "judged after a window of the read timeout of its own time and left then if the "
             "ring is under half full: it is heard when the ring holds less than the window. A "
             "shorter read timeout shortens both gaps, at the cost of leaving sources that are "
             "slow to answer. An underrun restarts playback only once the ring is full again, so "
             "a trickle before it is left can be heard as several short underruns.")
    return [sec]
