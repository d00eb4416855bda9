"""Failover latency (issue 6, item 4): from the moment a source fails to the first byte from the
next source, under micropython, for a refused connection, a 404, a connection dropped
mid-stream and a stalled one. The failing source is a small asyncio server on loopback that
records when it fails (time.time_ns, the clock the device reads too); the next source is nginx."""
import asyncio
import os
import time

from bench import media, mprun
from bench.cpus import CLIENT, pinned
from bench.nginx import Nginx
from bench.report import Section
from bench.stats import median, percentile
from simulator.procs import refusing_port
from tools.fwbuild import micropython_path

READ_TIMEOUT = 0.25   # s: the device's read timeout in these trials


class FailingSource:
    """Answers every GET by failing the way ``kind`` says, after ``at`` body bytes of ``data``;
    ``times`` gets time.time_ns() at each failure."""

    def __init__(self, kind, data, at):
        self.kind, self.data, self.at = kind, data, at
        self.times = []
        self.server = None
        self._held = []

    async def start(self):
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        return "http://127.0.0.1:%d" % self.server.sockets[0].getsockname()[1]

    async def stop(self):
        for w in self._held:
            w.transport.abort()
        self.server.close()
        await self.server.wait_closed()

    async def _serve(self, reader, writer):
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                if not head:
                    return
                if self.kind == "404":
                    writer.write(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n")
                    await writer.drain()
                    self.times.append(time.time_ns())
                    continue
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(self.data))
                writer.write(self.data[:self.at])
                await writer.drain()
                self.times.append(time.time_ns())
                if self.kind == "drop":
                    writer.transport.abort()
                    return
                self._held.append(writer)   # stall: silent, the connection held open
                await reader.read()         # until the device gives up and closes it
                return
        except (asyncio.IncompleteReadError, ConnectionError):
            writer.transport.abort()


async def trials(kind, f, good_url, n, at):
    with open(f.path, "rb") as fh:
        data = fh.read()
    src = None
    hold = None
    if kind == "refused":
        hold = refusing_port()
        bad_url = "http://127.0.0.1:%d/%s" % (hold.getsockname()[1], f.name)
    else:
        src = FailingSource(kind, data, at)
        bad_url = await src.start() + "/" + f.name
    try:
        proc = await asyncio.create_subprocess_exec(*pinned([
            micropython_path(), "-X", "heapsize=64K", mprun.script("failover.py"),
            mprun.firmware_mpy(), bad_url, good_url, str(f.size), f.sha256, str(n), str(READ_TIMEOUT),
            str(at)], CLIENT), stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
            stdin=asyncio.subprocess.DEVNULL, cwd=mprun.ROOT)
        out, err = await asyncio.wait_for(proc.communicate(), 120 + n * (READ_TIMEOUT + 1))
    finally:
        if src is not None:
            await src.stop()
        if hold is not None:
            hold.close()
    rows = mprun.lines(out.decode(), "T")
    if proc.returncode != 0 or len(rows) != n or any(r[2] != "1" for r in rows):
        raise RuntimeError("failover %s: exit %s, %d of %d trials, %s\n%s" % (
            kind, proc.returncode, len(rows), n, [r for r in rows if r[2] != "1"][:3],
            err.decode()[-2000:]))
    if src is not None and len(src.times) != n:
        raise RuntimeError("failover %s: the source failed %d times for %d trials" % (
            kind, len(src.times), n))
    failed_at = [int(r[0]) for r in rows] if src is None else src.times
    return [(int(r[1]) - t) / 1e6 for r, t in zip(rows, failed_at)], rows[0][3].replace("_", " ")


KINDS = (
    ("refused", "refused (bound port, not listening)", "the fetch starts"),
    ("404", "404", "the server has sent the 404"),
    ("drop", "dropped mid-stream", "the server has closed the connection"),
    ("stall", "stalled mid-stream", "the server's last byte before silence"),
)


def run(work, quick=False):
    n_fast, n_stall = (3, 2) if quick else (100, 20)
    files = os.path.join(work, "failover-files")
    f = media.random_file(files, "item.bin", 256 * 1024)
    at = f.size // 2
    sec = Section("4. Failover latency (micropython, failing source then nginx)")
    rows = []
    with Nginx(files, os.path.join(work, "nginx-failover")) as ng:
        good_url = ng.url + "/" + f.name
        for kind, label, since in KINDS:
            n = n_stall if kind == "stall" else n_fast
            ms, why = asyncio.run(trials(kind, f, good_url, n, 0 if kind in ("refused", "404") else at))
            med, p99 = median(ms), percentile(ms, 99)
            sec.figures[kind] = (med, p99)
            rows.append((label, why, since, "%.2f" % med, "%.2f" % p99, "%.2f" % max(ms), n))
    sec.table(("source fails by", "device saw", "clock starts when", "ms median", "ms p99",
               "ms max", "trials"), rows)
    fast = max(sec.figures[k][0] for k in ("refused", "404", "drop"))
    sec.target("≤ 20 ms median for refused, 404 and dropped", fast <= 20,
               "worst median %.2f ms" % fast)
    stall = sec.figures["stall"][0]
    sec.target("stall detected within the read timeout + 20 ms", stall <= READ_TIMEOUT * 1000 + 20,
               "median %.1f ms with a %d ms read timeout (%.1f ms over it)" % (
                   stall, READ_TIMEOUT * 1000, stall - READ_TIMEOUT * 1000))
    sec.note("A %s-byte item; the failing source fails at byte 0 (refused, 404) or at byte %s "
             "(dropped, stalled); the clock stops at the first byte the sink receives from nginx "
             "(which resumes with `Range: bytes=%d-` after a mid-stream failure). Both ends read "
             "`time.time_ns()`; the device's read timeout is %.2f s. Each kind runs its trials in "
             "one micropython process (`-X heapsize=64K`), one fetch per trial." % (
                 format(f.size, ","), format(at, ","), at, READ_TIMEOUT))
    return [sec]
