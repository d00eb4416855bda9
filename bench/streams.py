"""Stream items (issue 15, PROTOCOL.md "Live items") on the simulator's real processes: the live
radio on two Icecast servers (simulator/streamnet.py: the relay R2, the primary, and its origin
R1, the alternate, fed by ffmpeg) and the HLS item (AES-128 AAC in MPEG-TS), played by the real
firmware (.mpy under micropython, and CPython) through the paced sink.

1. Failover between mounts: the device plays the radio from the relay; a few seconds into the
   item the relay is killed (SIGKILL: its connection drops) or stopped (SIGSTOP: the connection
   stays open and silent, the read-timeout case). The clock runs from the signal to the first
   audio byte of the origin's answer, seen by a counting TCP proxy that the catalog puts in
   front of the origin (the radio's alternate is the proxy's address): the moment that byte is
   written to the device's socket. The FAIL line's arrival (the device gave up on the relay) is
   timed too, and the ITEM line's underruns and underrun_ms are kept, for an 8 KiB and a 16 KiB
   jitter ring.
2. Heap: the smallest micropython -X heapsize (.mpy, 4K steps) at which the device plays the
   live item with that failover, the HLS item, and a plain file item, with a paced 8 KiB ring.
"""
import asyncio
import json
import os
import signal
import time

from bench.report import Section
from bench.stats import median
from simulator.devices import FIRMWARE_ENTRY, DeviceProcess, compile_firmware
from simulator.icecast import IcecastServer
from simulator.network import Network
from simulator.procs import run_cli
from simulator.streamnet import available
from tools.fwbuild import BuildError, put, py_files

READ_TIMEOUT = 1.0     # s: the device's read timeout (as tests/e2e/test_streams.py plays)
CONNECT_TIMEOUT = 1.0
RINGS = (8192, 16384)
LIVE_MS = 9000         # the radio item's dur here (the simulator's is 6000): room after the failover
KILL_AFTER = 3.0       # s after the first TITLE: both rings are full and playing by then
INTERPRETERS = ("micropython", "cpython")
KINDS = (("kill", "relay killed (SIGKILL): connection dropped"),
         ("stall", "relay stopped (SIGSTOP): connection silent"))
PLAIN = "morning.wav"  # the plain file item of the heap comparison
HEAP_STEP = 4
HEAP_TOP = {"live": 160, "hls": 200, "plain": 128}   # KiB: the search's upper end (must pass)
HEAP_LO = 16
STREAM_HEAP_K = 72 + 8 + 16   # simulator HEAP + PACED_K + 16 (tests/e2e) beside the ring


class CountingProxy:
    """Forwards loopback TCP to ``upstream``; for each connection: when it was accepted, when the
    first byte of the response's body (after its head) was written to the client, and the body
    bytes forwarded (time.monotonic(), the clock the bench kills with)."""

    def __init__(self, upstream):
        self.upstream = upstream
        self.server = None
        self.port = None
        self.conns = []     # {"accepted": t, "first_body": t or None, "body": n}
        self._open = set()

    @property
    def address(self):
        return "http://127.0.0.1:%d" % self.port

    async def start(self):
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self.server.sockets[0].getsockname()[1]
        return self

    async def stop(self):
        for w in list(self._open):
            w.transport.abort()
        self.server.close()
        await self.server.wait_closed()

    def first_after(self, t):
        """The first connection accepted at or after t."""
        return next((c for c in self.conns if c["accepted"] >= t), None)

    async def _serve(self, creader, cwriter):
        conn = {"accepted": time.monotonic(), "first_head": None, "first_body": None, "body": 0}
        self.conns.append(conn)
        try:
            ureader, uwriter = await asyncio.open_connection(*self.upstream)
        except OSError:
            cwriter.transport.abort()
            return
        self._open.update((cwriter, uwriter))
        up = asyncio.ensure_future(self._pipe(creader, uwriter))
        head = b""
        try:
            while True:
                data = await ureader.read(16384)
                if not data:
                    break
                if conn["first_head"] is None:
                    conn["first_head"] = time.monotonic()
                if conn["first_body"] is None and head is not None:
                    head += data
                    end = head.find(b"\r\n\r\n")
                    if end >= 0:
                        body = len(head) - end - 4
                        head = None
                        if body:
                            conn["first_body"] = time.monotonic()
                            conn["body"] += body
                elif data:
                    if conn["first_body"] is None:
                        conn["first_body"] = time.monotonic()
                    conn["body"] += len(data)
                cwriter.write(data)
                await cwriter.drain()
        except (ConnectionError, OSError):
            pass
        finally:
            up.cancel()
            for w in (cwriter, uwriter):
                self._open.discard(w)
                w.transport.abort()

    @staticmethod
    async def _pipe(reader, writer):
        try:
            while True:
                data = await reader.read(4096)
                if not data:
                    break
                writer.write(data)
                await writer.drain()
        except (ConnectionError, OSError, asyncio.CancelledError):
            pass


class StreamsNet(Network):
    """The simulator's network with its streams (no file faults); the radio's alternate (the
    origin) is reached through a CountingProxy, and the radio plays LIVE_MS."""

    origin_proxy = None

    def __init__(self, workdir):
        super().__init__(workdir, faults=(), streams=True)

    async def _seed(self):
        self.origin_proxy = await CountingProxy(self.streams.origin.hostport).start()
        await super()._seed()

    def catalog(self):
        cat = super().catalog()
        for m in cat["media"]:
            if m["ref"] == "radio":
                m["alternates"] = [{"address": self.origin_proxy.address, "directory": ""}]
                m["dur"] = LIVE_MS
        return cat

    async def stop(self):
        if self.origin_proxy is not None:
            await self.origin_proxy.stop()
        await super().stop()

    async def program(self, name, refs):
        ids = ",".join(str(self.media_ids[r]) for r in refs)
        out = await run_cli(["--db", self.db, "add-program", name, "--items", ids])
        await run_cli(["--db", self.db, "assign", "dev1", name])
        return int(out.split()[1])   # "program 2 (Radio) added with 1 items"

    async def fresh_relay(self):
        """A new relay process on the relay's port (the catalog's primary), serving the mount."""
        old = self.streams.relay
        await old.stop()
        self.streams.relay = None
        self.streams.relay = await IcecastServer(old.prefix, port=old.port,
                                                 relay=old.relay).start()
        return self.streams.relay


class Run:
    """One device run: its events, exit code, and why it did not do the job (None: it did)."""

    def __init__(self):
        self.events = []
        self.rc = None
        self.why = None
        self.dev = None
        self.t = {}   # marks (time.monotonic()): "kill", "fail"

    def of(self, tag):
        return [ev for t, ev in self.events if t == tag]


async def play(net, interpreter, entry, program, workdir, heap="128K", jitter=8192, speed=1,
               on_event=None, timeout=60):
    """Runs the device for one item of ``program`` with a paced sink; stops it at an
    out-of-memory sign (the device would back off and retry) or at the timeout."""
    r = Run()
    dev = DeviceProcess(workdir, "dev1", net.devices["dev1"], net.meta.url,
                        interpreter=interpreter, heap=heap, sink="paced", items=1,
                        read_timeout=READ_TIMEOUT, connect_timeout=CONNECT_TIMEOUT,
                        program=program, entry=entry, speed=speed, jitter=jitter)
    r.dev = dev
    await dev.start()

    async def consume():
        async for tag, ev in dev.events():
            r.events.append((tag, ev))
            if (tag == "BACKOFF" and "memory" in str(ev.get("why"))) or (
                    tag == "LOG" and ("MemoryError" in ev or "out of memory" in ev)):
                r.why = "out of memory: %s" % (ev if tag == "LOG" else json.dumps(ev))
                dev.kill()
                break
            if on_event is not None:
                on_event(r, tag, ev)
    try:
        await asyncio.wait_for(consume(), timeout)
    except asyncio.TimeoutError:
        r.why = r.why or "timed out after %d s" % timeout
        dev.kill()
    # (no kill after the output ended: Popen.send_signal would reap the exited process before
    # asyncio's child watcher, which then reports exit 255)
    r.rc = await dev.wait()
    if r.why is None and r.rc != 0:
        r.why = "exit %s: %s" % (r.rc, last_lines(dev.log_path))
    return r


async def listener_latency(server, path="/live", timeout=10.0):
    """Icecast alone: ms from a new listener's connect to its answer's head and to its first
    audio byte (the bench as the listener, `Icy-MetaData: 1` as the device asks)."""
    t0 = time.monotonic()
    reader, writer = await asyncio.wait_for(asyncio.open_connection(*server.hostport), timeout)
    try:
        writer.write(b"GET %s HTTP/1.0\r\nHost: 127.0.0.1\r\nIcy-MetaData: 1\r\n\r\n"
                     % path.encode())
        await writer.drain()
        data, head_t = b"", None
        while True:
            chunk = await asyncio.wait_for(reader.read(65536), timeout)
            if not chunk:
                raise ConnectionError("icecast closed a listener")
            head_t = head_t or time.monotonic()
            data += chunk
            end = data.find(b"\r\n\r\n")
            if end >= 0 and len(data) > end + 4:
                return (head_t - t0) * 1000, (time.monotonic() - t0) * 1000
    finally:
        writer.close()


def last_lines(path, n=6):
    try:
        with open(path, errors="replace") as f:
            lines = [ln.strip() for ln in f.read().splitlines() if ln.strip()]
    except OSError:
        return ""
    return " | ".join(lines[-n:])[-800:]


async def failover_run(net, interpreter, entry, program, kind, ring, workdir, heap):
    """The radio from the relay; KILL_AFTER s after the first TITLE the relay is killed or
    stopped. Returns the Run, with .ms (signal to the origin's first audio byte at the proxy),
    .fail_ms (signal to the FAIL line) and .item (the ITEM line)."""
    relay = net.streams.relay
    proxy = net.origin_proxy
    radio = net.media_ids["radio"]
    tasks = []

    async def strike(r):
        await asyncio.sleep(KILL_AFTER)
        r.t["kill"] = time.monotonic()
        if kind == "kill":
            relay.kill()
        else:
            os.kill(relay.proc.pid, signal.SIGSTOP)

    def on_event(r, tag, ev):
        if tag == "TITLE" and ev.get("id") == radio and not tasks:
            tasks.append(asyncio.ensure_future(strike(r)))
        elif tag == "FAIL" and "fail" not in r.t:
            r.t["fail"] = time.monotonic()

    try:
        r = await play(net, interpreter, entry, program, workdir, heap=heap, jitter=ring,
                       on_event=on_event, timeout=LIVE_MS / 1000 + 40)
    finally:
        for t in tasks:
            t.cancel()
        if kind == "stall" and relay.proc is not None and relay.proc.returncode is None:
            os.kill(relay.proc.pid, signal.SIGCONT)
        await net.fresh_relay()
    r.ms = r.fail_ms = r.connect_ms = r.item = None
    items = [ev for ev in r.of("ITEM") if ev.get("id") == radio]
    r.item = items[-1] if items else None
    if r.why is None:
        if not tasks:
            r.why = "no TITLE from the relay: not struck"
        elif "kill" not in r.t:
            r.why = "the item ended before the strike"
        elif r.item is None or r.item.get("status") != "played":
            r.why = "no played ITEM: %s" % (r.item,)
        elif r.item.get("failovers") != 1 or r.item.get("src") != proxy.address + "/live":
            r.why = "not one failover to the origin: %s" % (r.item,)
    if r.why is None:
        conn = proxy.first_after(r.t["kill"])
        if conn is None or conn["first_body"] is None:
            r.why = "no audio from the origin's proxy after the strike"
        else:
            r.ms = (conn["first_body"] - r.t["kill"]) * 1000
            r.connect_ms = (conn["accepted"] - r.t["kill"]) * 1000
            r.fail_ms = (r.t["fail"] - r.t["kill"]) * 1000 if "fail" in r.t else None
            fails = r.of("FAIL")
            r.fail_why = fails[0].get("why") if fails else "-"
    return r


def build_entry(work):
    """firmware/ compiled to .mpy (device.py as source); (entry, note)."""
    out = os.path.join(work, "streams-fw-mpy")
    try:
        return compile_firmware(out), None
    except BuildError as e:   # (firmware/hls.py was being written when this was)
        if "hls.py" not in str(e) and "tsdemux.py" not in str(e):
            raise
        fw = os.path.dirname(FIRMWARE_ENTRY)
        put(py_files(fw, leave_out=("hls.py", "tsdemux.py")), out, as_source=("device.py",))
        return os.path.join(out, "device.py"), "firmware/hls.py or tsdemux.py did not compile " \
            "(left out: the HLS item cannot play under micropython): %s" % str(e)[:300]


def run(work, quick=False):
    missing = available()
    sec = Section("Stream items: live failover between Icecast mounts, heap (micropython .mpy "
                  "and CPython)")
    if missing:
        sec.note("Not measured: needs %s." % missing)
        sec.target("live failover: the next mount within the read timeout + 1 s", None,
                   "needs %s" % missing)
        return [sec]
    entry_mpy, why = build_entry(work)
    if why:
        sec.note("**" + why + "**")
    return [asyncio.run(_run(work, quick, sec, entry_mpy))]


async def _run(work, quick, sec, entry_mpy):
    n = 1 if quick else 5
    net = StreamsNet(os.path.join(work, "streams-net"))
    await net.start()
    try:
        progs = {"live": await net.program("Radio", ["radio"]),
                 "hls": await net.program("HLS", ["hls"]),
                 "plain": await net.program("Plain", [PLAIN])}
        trials = os.path.join(net.workdir, "trials")
        entries = {"micropython": entry_mpy, "cpython": FIRMWARE_ENTRY}
        found = {}
        count = [0]

        def place():
            count[0] += 1
            return os.path.join(trials, str(count[0]))

        for interp in INTERPRETERS:
            for kind, _ in KINDS:
                for ring in RINGS:
                    runs = []
                    for _ in range(n):
                        r = await failover_run(net, interp, entries[interp], progs["live"], kind,
                                               ring, place(), "%dK" % (STREAM_HEAP_K + ring // 1024))
                        if r.why is not None:
                            raise RuntimeError("streams: %s %s %d: %s\n%s" % (
                                interp, kind, ring, r.why, last_lines(r.dev.log_path, 20)))
                        runs.append(r)
                    found[(interp, kind, ring)] = runs
        rows = []
        for interp in INTERPRETERS:
            for kind, label in KINDS:
                for ring in RINGS:
                    runs = found[(interp, kind, ring)]
                    ms = [r.ms for r in runs]
                    fail = [r.fail_ms for r in runs if r.fail_ms is not None]
                    conn = [r.connect_ms for r in runs]
                    under = sum(r.item.get("underruns", 0) for r in runs)
                    under_ms = sum(r.item.get("underrun_ms", 0) for r in runs)
                    whys = sorted(set(r.fail_why for r in runs))
                    sec.figures["%s %s %d" % (interp, kind, ring)] = {
                        "median_ms": median(ms), "max_ms": max(ms),
                        "fail_median_ms": median(fail) if fail else None,
                        "connect_median_ms": median(conn),
                        "underruns": under, "underrun_ms": under_ms, "trials": len(runs),
                        "why": whys}
                    rows.append((interp + (" (.mpy)" if interp == "micropython" else ""), label,
                                 "%d KiB (%.1f s)" % (ring // 1024, ring / net.streams.source.rate),
                                 ", ".join(whys), "%.0f" % median(fail) if fail else "-",
                                 "%.0f" % median(conn), "%.0f" % median(ms), "%.0f" % max(ms),
                                 "%d (%d ms)" % (under, under_ms), len(runs)))
        lat = [await listener_latency(net.streams.origin) for _ in range(n if quick else 2 * n)]
        heads, firsts = [h for h, _ in lat], [f for _, f in lat]
        sec.figures["icecast_listener"] = {"head_median_ms": median(heads),
                                           "audio_median_ms": median(firsts),
                                           "audio_max_ms": max(firsts), "trials": len(lat)}
        rows.append(("(the bench as a new listener of the origin)", "-", "-", "-", "-", "0",
                     "%.0f" % median(firsts), "%.0f" % max(firsts), "-", len(lat)))
        sec.table(("device", "the relay", "jitter ring", "device saw", "ms to FAIL median",
                   "ms to the origin's connect median", "ms to origin audio median", "ms max", "underruns (ms)", "trials"), rows)
        goal = READ_TIMEOUT * 1000 + 1000
        for kind, label in KINDS:
            worst = max(sec.figures["%s %s %d" % (i, kind, ring)]["max_ms"]
                        for i in INTERPRETERS for ring in RINGS)
            under = sum(sec.figures["%s %s %d" % (i, kind, ring)]["underruns"]
                        for i in INTERPRETERS for ring in RINGS)
            sec.target("live failover, %s: the next mount's audio within the read timeout + 1 s "
                       "(%.0f ms)" % (label, goal), worst <= goal,
                       "worst of %d trials %.0f ms (medians %s); underruns in them: %d" % (
                           n * len(INTERPRETERS) * len(RINGS), worst, ", ".join(
                               "%s %d KiB %.0f ms" % (i, ring // 1024, sec.figures[
                                   "%s %s %d" % (i, kind, ring)]["median_ms"])
                               for i in INTERPRETERS for ring in RINGS), under)
                       + "; of that the device's part (to its connection to the origin) worst "
                       "%.0f ms, Icecast's answer to a new listener the rest (alone: median "
                       "%.0f ms)" % (max(r.connect_ms for i in INTERPRETERS for ring in RINGS
                                         for r in found[(i, kind, ring)]), median(firsts)))
        await heaps(net, sec, quick, entry_mpy, progs, place)
        sec.note("Failover: the simulator's network (`simulator.network.Network(streams=True)`, "
                 "no file faults) with the radio's `dur` set to %d ms (%d bytes at %d B/s) and its "
                 "alternate, the origin R1, reached through a counting TCP proxy in the catalog; "
                 "a program of the radio alone, selected by the device's config; one device "
                 "process a trial, `items` 1, paced sink (a stream plays at 1 x), read timeout "
                 "%.1f s, connect timeout %.1f s, micropython `-X heapsize=%dK + ring`. %.0f s "
                 "after the first TITLE line the bench sends the relay SIGKILL or SIGSTOP "
                 "(SIGCONT after the run); the clock (`time.monotonic()` in the bench) stops when "
                 "the proxy writes the first audio byte of the origin's answer (after its HTTP "
                 "head) to the device's socket: what the device reads next into its ring. "
                 "'ms to FAIL' is the signal to the FAIL line read from the device's console. "
                 "Underruns: the ITEM line's `underruns` / `underrun_ms` summed over the trials "
                 "(a ring holds ring / rate seconds of the stream). A fresh relay process on the "
                 "same port before each trial. 'ms to the origin's connect': the signal to the "
                 "proxy accepting the device's connection (the device's part of the failover); "
                 "the rest is Icecast's: a new listener gets its answer's head and then its "
                 "burst only when the source thread next runs, each time ffmpeg's next piece "
                 "of the stream comes in (1400 bytes about every 350 ms at 32 kbit/s), which "
                 "the last row measures with the bench itself as the listener, on the origin "
                 "directly." % (
                     LIVE_MS, net.streams.source.rate * LIVE_MS // 1000, net.streams.source.rate,
                     READ_TIMEOUT, CONNECT_TIMEOUT, STREAM_HEAP_K, KILL_AFTER))
    finally:
        await net.stop()
    return sec


async def heaps(net, sec, quick, entry_mpy, progs, place):
    """Smallest heaps (.mpy, paced 8 KiB ring) of the live item with a failover (relay killed),
    the HLS item and a plain file item."""
    ring = 8192
    hls_id, plain_id = net.media_ids["hls"], net.media_ids[PLAIN]
    es = net.streams.hls["es"]
    plain_facts = next(m for m in net.media if m["name"] == PLAIN)

    async def live(heap_k):
        r = await failover_run(net, "micropython", entry_mpy, progs["live"], "kill", ring,
                               place(), "%dK" % heap_k)
        return r.why

    async def hls(heap_k):
        r = await play(net, "micropython", entry_mpy, progs["hls"], place(), heap="%dK" % heap_k,
                       jitter=ring, timeout=60)
        if r.why:
            return r.why
        items = [ev for ev in r.of("ITEM") if ev.get("id") == hls_id]
        if not items or items[-1].get("status") != "played":
            return "no played ITEM: %s; %s" % (items[-1:] or None, last_lines(r.dev.log_path))
        try:
            with open(os.path.join(r.dev.out_dir, str(hls_id)), "rb") as f:
                kept = f.read()
        except OSError:
            kept = b""
        if kept != es:
            return "kept %d bytes, not the %d of the elementary stream" % (len(kept), len(es))
        return None

    async def plain(heap_k):
        r = await play(net, "micropython", entry_mpy, progs["plain"], place(), heap="%dK" % heap_k,
                       jitter=ring, speed=4, timeout=60)
        if r.why:
            return r.why
        items = [ev for ev in r.of("ITEM") if ev.get("id") == plain_id]
        if not items or items[-1].get("status") != "played" or items[-1].get("verified") != 1:
            return "no played and verified ITEM: %s" % (items[-1:] or None,)
        return None

    jobs = (("live", "live radio, relay killed mid-item: one failover to the origin", live),
            ("hls", "HLS item (AES-128, AAC in MPEG-TS, key from the meta server)", hls),
            ("plain", "plain file item (%s, %d bytes, speed 4)" % (PLAIN, plain_facts["size"]),
             plain))
    rows = []
    for name, label, job in jobs:
        hi = HEAP_TOP[name]
        lo = hi - HEAP_STEP if quick else HEAP_LO
        good, bad, runs = await _bisect(job, lo, hi, HEAP_STEP)
        sec.figures["heap_%s_k" % name] = good
        sec.figures["heap_%s_why" % name] = bad[1] if bad else None
        rows.append((label, "%dK" % good if good else "> %dK" % hi,
                     ("%dK: %s" % (bad[0], bad[1][:300])) if bad else "(%dK not tried)" % lo,
                     runs))
    sec.note("Heap (micropython unix port, firmware as .mpy, paced sink with an 8 KiB ring, read "
             "timeout %.1f s; the smallest `-X heapsize` that does the job, bisected in %d KiB "
             "steps between %dK and the top shown; a pass: the ITEM line says played (the live "
             "item: one failover to the origin; HLS: the bytes kept are the presentation's "
             "elementary stream; the file: verified) and no out-of-memory line; fragmentation "
             "makes this not strictly monotonic):\n\n"
             "| job | smallest heap | next size down | runs |\n| --- | --- | --- | --- |\n" % (
                 READ_TIMEOUT, HEAP_STEP, HEAP_LO)
             + "\n".join("| %s | %s | %s | %d |" % (a, b, c.replace("|", "/"), d)
                         for a, b, c, d in rows))


async def _bisect(job, lo, hi, step):
    runs = 1
    why = await job(hi)
    if why is not None:
        return None, (hi, why), runs
    good, bad = hi, None
    lo_i, hi_i = lo // step, hi // step
    while hi_i - lo_i > 1:
        mid = (lo_i + hi_i) // 2
        why = await job(mid * step)
        runs += 1
        if why is None:
            hi_i, good = mid, mid * step
        else:
            lo_i, bad = mid, (mid * step, why)
    return good, bad, runs
