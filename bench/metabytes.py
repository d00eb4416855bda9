"""What a device costs the meta server in bytes (issue 14): the meta server's bytes, requests and
answers with their headers, per media byte delivered, for 3 MiB items, with today's `next` and
`report` per item and with a horizon and batched reports.

A device-like client on loopback speaks to a real meta server process as the firmware's
httpclient does (request line, Host, Connection: keep-alive, Authorization, Content-Type,
Content-Length; nothing else) and counts every byte it writes to and reads from the meta
server's connection. It fetches each item whole from a real file server and checks its sha256
(those bytes are the media bytes delivered, not counted as meta bytes). The login (challenge
and proof, once a token's life, an hour) is measured too and shared out over the items that
play within that hour, at 128 kbit/s and at CD-quality PCM.

Beside it, the real firmware (firmware/device.py with a cache: horizons and batched reports as
it sends them) run as a process under micropython (.mpy) and CPython, its `server` a counting
TCP proxy in front of a fresh meta server: every byte through the proxy, both ways, is the meta
server's; the request lines through it are counted; its STORE line gives its flash writes per
hour of the program it played. Its one login per run is in its figure as measured.
"""
import asyncio
import collections
import gzip
import hashlib
import json
import os
import shutil
import socket
import subprocess
import sys
import time
import zlib

from bench.media import random_file
from bench.mprun import ROOT, firmware_mpy
from bench.report import Section
from bench.servers import Server
from host_server.services.auth import proof
from simulator.devices import FIRMWARE_ENTRY, DeviceProcess

DEVICE = "bytes1"
SECRET = "00112233445566778899aabbccddeeff"
ITEM_SIZE = 3 * 1024 * 1024
K = 16                      # horizon and batch: the most the server hands out at once
TOKEN_LIFE = 3600           # s: the meta server's default token life, one login per hour
RATES = (("128 kbit/s", 16000), ("CD-quality PCM", 176400))   # bytes per second
GOAL = 1e-4
WAYS = (("one_by_one", "`next` + `report` per item (today's device)"),
        ("horizon", "`horizon?k=%d` + one `reports` batch per %d items" % (K, K)),
        ("horizon_gzip", "the same, horizons gzipped (`Accept-Encoding: gzip`)"),
        ("horizon_gzip_both", "the same, report batches gzipped too (a device that can deflate)"))


class Wire:
    """One keep-alive connection to the meta server, requests written as the firmware writes
    them; counts the bytes each way."""

    def __init__(self, url):
        host, port = url.split("//", 1)[1].rsplit(":", 1)
        self.host, self.port = host, int(port)
        self.sock = socket.create_connection((self.host, self.port), timeout=30)
        self.file = self.sock.makefile("rb")
        self.sent = self.received = 0
        self.requests = 0
        self.token = None

    def call(self, method, path, doc=None, inflate=False, deflate=False):
        """inflate: ask for a gzipped answer; deflate: send the body gzipped."""
        head = "%s /api/v1%s HTTP/1.1\r\nHost: %s:%d\r\nConnection: keep-alive\r\n" % (
            method, path, self.host, self.port)
        if self.token:
            head += "Authorization: Bearer %s\r\n" % self.token
        if inflate:
            head += "Accept-Encoding: gzip\r\n"
        body = b""
        if doc is not None:
            body = json.dumps(doc, separators=(",", ":")).encode()
            if deflate:
                packer = zlib.compressobj(6, zlib.DEFLATED, 16 + 10)
                body = packer.compress(body) + packer.flush()
                head += "Content-Encoding: gzip\r\n"
            head += "Content-Type: application/json\r\nContent-Length: %d\r\n" % len(body)
        out = head.encode() + b"\r\n" + body
        self.sock.sendall(out)
        self.sent += len(out)
        self.requests += 1
        status_line = self.file.readline()
        n = len(status_line)
        length, gzipped = 0, False
        while True:
            line = self.file.readline()
            n += len(line)
            if line in (b"\r\n", b""):
                break
            name, _, value = line.decode("latin-1").partition(":")
            if name.strip().lower() == "content-length":
                length = int(value)
            if name.strip().lower() == "content-encoding":
                gzipped = value.strip() == "gzip"
        data = self.file.read(length)
        self.received += n + len(data)
        if gzipped:
            data = gzip.decompress(data)
        status = int(status_line.split()[1])
        if status >= 300:
            raise RuntimeError("%s %s: %d %s" % (method, path, status, data[:200]))
        return json.loads(data) if data else None

    @property
    def total(self):
        return self.sent + self.received

    def close(self):
        self.file.close()
        self.sock.close()


def login(wire):
    nonce = wire.call("POST", "/login/challenge", {"device": DEVICE})["nonce"]
    wire.token = wire.call("POST", "/login", {"device": DEVICE, "nonce": nonce,
                                              "proof": proof(SECRET, DEVICE, nonce)})["token"]


def fetch(url, size, sha256):
    """The item's bytes from its file server, whole and checked: the media bytes delivered."""
    host, rest = url.split("//", 1)[1].split("/", 1)
    name, port = host.rsplit(":", 1)
    digest, got = hashlib.sha256(), 0
    with socket.create_connection((name, int(port)), timeout=30) as s:
        s.sendall(("GET /%s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n" % (rest, host)).encode())
        f = s.makefile("rb")
        if b" 200 " not in f.readline():
            raise RuntimeError("file server refused %s" % url)
        while f.readline() not in (b"\r\n", b""):
            pass
        while chunk := f.read(1 << 16):
            digest.update(chunk)
            got += len(chunk)
    if got != size or digest.hexdigest() != sha256:
        raise RuntimeError("%s: %d bytes, sha256 %s" % (url, got, digest.hexdigest()))
    return got


def report(doc, seq, ms):
    """A played item's report as a device sends it: what is at its default (no underruns, no
    failed source) left out."""
    return {"seq": seq, "id": doc["id"], "pos": doc["pos"], "status": "played",
            "src": doc["src"][0], "bytes": doc["size"], "ms": ms}


def play_one_by_one(wire, items):
    """Today's device: GET /next, the item, POST /report; per item."""
    media = 0
    for _ in range(items):
        doc = wire.call("GET", "/next")
        media += fetch(doc["src"][0], doc["size"], doc["sha256"])
        rep = report(doc, 0, doc["dur"])
        del rep["seq"]
        wire.call("POST", "/report", rep)
    return media


def play_by_horizon(wire, items, seq=1, inflate=False, deflate=False):
    """GET /horizon?k=K, its items, one POST /reports of them; per K items."""
    media = 0
    while items > 0:
        docs = wire.call("GET", "/horizon?k=%d" % min(K, items), inflate=inflate)["items"]
        batch = []
        for doc in docs:
            media += fetch(doc["src"][0], doc["size"], doc["sha256"])
            batch.append(report(doc, seq, doc["dur"]))
            seq += 1
        answer = wire.call("POST", "/reports", {"reports": batch}, deflate=deflate)
        if answer["applied"] != len(batch):
            raise RuntimeError("only %d of %d reports applied" % (answer["applied"], len(batch)))
        items -= len(docs)
    return media


def catalog(files, address, rate):
    media = [{
        "ref": f.name, "size": f.size, "sha256": f.sha256, "type": "audio/mpeg",
        "rate": rate, "dur": f.size * 1000 // rate,
        "primary_address": address, "primary_directory": "/music",
        "file_name": f.name,
        "alternates": [{"address": address.replace("127.0.0.1", "localhost"), "directory": "/mirror"}],
        "owner": "Bench Owner", "title": "Three Megabytes No. %d" % i, "work": "Benchmarks",
        "performers": ["Bench Ensemble"], "composers": ["A. Composer"],
    } for i, f in enumerate(files)]
    return {"media": media, "programs": [{"name": "Bytes", "items": [m["ref"] for m in media]}],
            "devices": [{"id": DEVICE, "secret": SECRET, "programs": ["Bytes"], "default": "Bytes"}]}


def fresh_db(work, name):
    db = os.path.join(work, name)
    for suffix in ("", "-wal", "-shm"):
        if os.path.exists(db + suffix):
            os.remove(db + suffix)
    return db


def import_catalog(work, db, doc, name="catalog.json"):
    path = os.path.join(work, name)
    with open(path, "w") as f:
        json.dump(doc, f)
    subprocess.run([sys.executable, "-m", "host_server", "--db", db, "import", path],
                   cwd=ROOT, check=True, capture_output=True)


def meta_server(work, db, log="meta.log"):
    # items here play far faster than they would: the per-device report limit is lifted
    return Server(["-m", "host_server", "--db", db, "serve", "--host", "127.0.0.1", "--port",
                   "0", "--no-access-log", "--max-device-reports", "100000"],
                  os.path.join(work, log))


# -- the real firmware, through a counting proxy in front of the meta server ---------------------

FW_RATE = 176400        # B/s: CD-quality PCM, the catalog's `rate` of the firmware's items
FW_SPEED = 24           # the paced sink plays at rate x this: 45 items of 3 MiB in 34 s
# Whole horizons: each new one is asked for as the last item of the one before is about to play
# and starts with it, so 16 items a horizon are 15 played; 45 items are three of them, and the
# run ends where its last horizon does (48 would ask for a fourth, for its last 3 items, a cost
# a device that plays on shares over 15)
FW_ITEMS = 3 * (K - 1)
# The jitter ring grown with the speed, so it holds as much of the device's time as a 16 KiB
# ring at 4 x (23 ms; 93 ms at 1 x, a board's). The filler works in the paced sink's waits, which
# last about a quarter of the ring's time, and only in those of at least filler.MIN_MS (5 ms): a
# 16 KiB ring at 24 x (3.9 ms, waits of 1 ms) would leave it no time, the cache empty and every
# item streamed straight (measured at 64 x: 0 entries filled, 29 underruns in 16 items)
FW_JITTER = 16384 * FW_SPEED // 4
# micropython, .mpy: the 160K a device with a cache, a 16 KiB ring and a 16-item horizon runs
# in, plus the bigger ring's bytes
FW_HEAP = "%dK" % (160 + (FW_JITTER - 16384) // 1024)
FW_BATCH = 32
FW_TIMEOUT = 300        # s for one run of the device
FW_INTERPRETERS = (("micropython", "micropython (.mpy, %s heap)" % FW_HEAP), ("cpython", "CPython"))


class Messages:
    """The HTTP/1.1 messages going one way through a connection, framed by Content-Length as
    the device and the meta server frame them: feed() the bytes as they pass, it returns
    (first line, bytes of the whole message) for each message they complete."""

    def __init__(self, answers):
        self.answers = answers   # responses (a 204 or 304 has no body whatever it says)
        self.head = b""
        self.first = None
        self.body = 0            # bytes of the current message's body still to come
        self.n = 0               # bytes of the current message so far

    def feed(self, data):
        done = []
        while data:
            if self.body:
                k = min(self.body, len(data))
                self.body -= k
                self.n += k
                data = data[k:]
                if not self.body:
                    done.append((self.first, self.n))
                continue
            self.head += data
            data = b""
            end = self.head.find(b"\r\n\r\n")
            if end < 0:
                break
            head, data = self.head[:end + 4], self.head[end + 4:]
            self.head = b""
            lines = head.decode("latin-1").split("\r\n")
            self.first, self.n, length = lines[0], len(head), 0
            for line in lines[1:]:
                name, _, value = line.partition(":")
                if name.strip().lower() == "content-length":
                    length = int(value)
            if self.answers and self.first.split(" ")[1:2] in (["204"], ["304"]):
                length = 0
            self.body = length
            if not length:
                done.append((self.first, self.n))
        return done


class CountingProxy:
    """A TCP proxy on loopback in front of the meta server: forwards bytes both ways and counts
    them all (up: device to server, down: back), and the requests by method and path (their
    query left out), with the bytes of each request and its answer."""

    def __init__(self, url):
        host, port = url.split("//", 1)[1].rsplit(":", 1)
        self.target = (host, int(port))
        self.up = self.down = 0
        self.requests = {}        # "GET /api/v1/horizon" -> requests
        self.bytes = {}           # the same -> bytes of those requests and their answers
        self.server = self.url = None
        self.open = set()         # the writers of the connections open now

    async def start(self):
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.url = "http://127.0.0.1:%d" % self.server.sockets[0].getsockname()[1]
        return self

    async def stop(self):
        self.server.close()
        for w in list(self.open):
            w.close()
        await self.server.wait_closed()

    @property
    def total(self):
        return self.up + self.down

    def _add(self, kind, n, request):
        if request:
            self.requests[kind] = self.requests.get(kind, 0) + 1
        self.bytes[kind] = self.bytes.get(kind, 0) + n

    async def _serve(self, reader, writer):
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.target)
        except OSError:
            writer.close()
            return
        self.open.update((writer, up_writer))
        asked = collections.deque()   # the kinds of the requests not yet answered, in order
        requests, answers = Messages(False), Messages(True)

        def going_up(data):
            self.up += len(data)
            for first, n in requests.feed(data):
                method, path = (first.split(" ") + ["", ""])[:2]
                kind = "%s %s" % (method, path.split("?", 1)[0])
                asked.append(kind)
                self._add(kind, n, True)

        def going_down(data):
            self.down += len(data)
            for _, n in answers.feed(data):
                self._add(asked.popleft() if asked else "(unasked)", n, False)

        try:
            await asyncio.gather(self._pipe(reader, up_writer, going_up),
                                 self._pipe(up_reader, writer, going_down))
        finally:
            self.open.difference_update((writer, up_writer))

    @staticmethod
    async def _pipe(src, dst, count):
        try:
            while True:
                data = await src.read(1 << 16)
                if not data:
                    break
                count(data)
                dst.write(data)
                await dst.drain()
        except (ConnectionError, OSError):
            pass
        finally:
            dst.close()


def firmware_entry(interpreter):
    if interpreter == "micropython":
        return os.path.join(firmware_mpy(), os.path.basename(FIRMWARE_ENTRY))
    return FIRMWARE_ENTRY


async def _play_firmware(work, meta_url, interpreter, items, size):
    proxy = await CountingProxy(meta_url).start()
    workdir = os.path.join(work, "fw-" + interpreter)
    shutil.rmtree(workdir, ignore_errors=True)
    cache_dir = os.path.join(workdir, "cache")
    dev = DeviceProcess(workdir, DEVICE, SECRET, proxy.url, interpreter=interpreter,
                        heap=FW_HEAP, sink="paced", items=items, buffer=4096,
                        connect_timeout=1.0, read_timeout=2.0, entry=firmware_entry(interpreter),
                        jitter=FW_JITTER, backoff_base=0.2, backoff_cap=1.0,
                        cache={"dir": cache_dir, "bytes": (K + 1) * size, "horizon": K,
                               "batch": FW_BATCH})
    dev.config["sink"] = {"type": "paced", "speed": FW_SPEED}   # no dir: the bytes go nowhere
    events = []
    t0 = time.monotonic()
    try:
        await dev.start()

        async def read():
            async for tag, ev in dev.events():
                events.append((tag, ev))
            return await dev.wait()

        rc = await asyncio.wait_for(read(), FW_TIMEOUT)
    except asyncio.TimeoutError:
        raise RuntimeError("the firmware (%s) did not finish %d items in %d s; see %s"
                           % (interpreter, items, FW_TIMEOUT, dev.log_path))
    finally:
        if dev.proc is not None and dev.proc.returncode is None:   # stuck: stopped here
            dev.kill()
            await dev.wait()
        await proxy.stop()
    wall = time.monotonic() - t0
    shutil.rmtree(cache_dir, ignore_errors=True)   # its entries: the STORE line has counted them
    if rc != 0 or not any(tag == "DONE" for tag, _ in events):
        with open(dev.log_path, errors="replace") as f:
            tail = f.read()[-3000:]
        raise RuntimeError("the firmware (%s) exited %s:\n%s" % (interpreter, rc, tail))
    return proxy, events, wall


def firmware_run(work, meta_url, interpreter, items, size):
    """The firmware played `items` through the proxy: its figures."""
    proxy, events, wall = asyncio.run(_play_firmware(work, meta_url, interpreter, items, size))
    of = lambda tag: [ev for t, ev in events if t == tag]   # noqa: E731
    played = [ev for ev in of("ITEM") if ev["status"] == "played"]
    played_ids = {ev["id"] for ev in played}
    cached = of("CACHED")
    ahead = [ev for ev in cached if ev["id"] not in played_ids]   # filled for items after the run
    (store,) = of("STORE")
    login = sum(n for kind, n in proxy.bytes.items() if kind.startswith("POST /api/v1/login"))
    media = sum(ev["bytes"] for ev in played)
    return {
        "interpreter": interpreter, "items": len(of("ITEM")), "played": len(played),
        "media": media, "meta": proxy.total, "up": proxy.up, "down": proxy.down,
        "requests": dict(proxy.requests), "request_bytes": dict(proxy.bytes),
        "n_requests": sum(proxy.requests.values()), "login_bytes": login,
        "logins": len(of("LOGIN")), "horizons": len(of("HORIZON")),
        "underruns": sum(ev.get("underruns", 0) for ev in played),
        "underrun_ms": sum(ev.get("underrun_ms", 0) for ev in played),
        "underrun_items": sum(1 for ev in played if ev.get("underruns", 0) > 0),
        "from_cache": sum(1 for ev in played if str(ev.get("src", "")).startswith("cache:")),
        "cached": len(cached), "cached_ahead": len(ahead),
        "cached_ahead_bytes": sum(ev["bytes"] for ev in ahead),
        "fails": len(of("FAIL")), "offline": len(of("OFFLINE")),
        "store": store, "wall_s": wall,
        "hours": sum(ev["bytes"] / FW_RATE for ev in played) / 3600,
    }


def hourly(meta_bytes, media, login_bytes, size, rate):
    """Meta bytes per media byte with a login (login_bytes, not in meta_bytes) once a token's
    life, shared out over the items of `size` that play in it at `rate`."""
    items_per_token = max(1.0, TOKEN_LIFE / (size / rate))
    return meta_bytes / media + login_bytes / (items_per_token * size)


def run(work, quick=False):
    work = os.path.abspath(os.path.join(work, "metabytes"))
    size = 64 * 1024 if quick else ITEM_SIZE
    n_files, played = (3, 4) if quick else (K + 2, 4 * K)
    # the firmware's program: every item it plays fetched once (none twice, the horizon never
    # round the program's end), as for a program longer than the cache
    fw_files, fw_items = (3, 4) if quick else (FW_ITEMS + K, FW_ITEMS)
    files = [random_file(os.path.join(work, "root", "music"), "item%d.mp3" % i, size)
             for i in range(max(n_files, fw_files))]
    figures = {}
    with Server(["-m", "host_server.fileserver", "--root", os.path.join(work, "root"),
                 "--host", "127.0.0.1", "--port", "0"], os.path.join(work, "files.log")) as fs:
        db = fresh_db(work, "meta.db")
        import_catalog(work, db, catalog(files[:n_files], fs.url, RATES[0][1]))
        with meta_server(work, db) as meta:
            wire = Wire(meta.url)
            login(wire)
            figures["login_bytes"] = wire.total
            figures["login_requests"] = wire.requests
            seq = 1
            for name, _ in WAYS:
                before, asked = wire.total, wire.requests
                if name == "one_by_one":
                    media = play_one_by_one(wire, played)
                else:
                    media = play_by_horizon(wire, played, seq, inflate=name != "horizon",
                                            deflate=name == "horizon_gzip_both")
                    seq += played
                figures[name] = (wire.total - before, media)
                figures[name + "_requests"] = wire.requests - asked
            wire.close()
        # the real firmware, a fresh meta server (database, position, login) for each
        for interpreter, _ in FW_INTERPRETERS:
            db = fresh_db(work, "meta-fw-%s.db" % interpreter)
            import_catalog(work, db, catalog(files[:fw_files], fs.url, FW_RATE), "catalog-fw.json")
            with meta_server(work, db, "meta-fw-%s.log" % interpreter) as meta:
                figures["fw_" + interpreter] = firmware_run(work, meta.url, interpreter,
                                                            fw_items, size)
    sec = Section("Meta server bytes per media byte (issue 14)")
    rows = []
    for name, label in WAYS:
        meta_bytes, media = figures[name]
        per_item = meta_bytes / played
        row = [label, played, "%d" % media, "%d" % meta_bytes, figures[name + "_requests"],
               "%.0f" % per_item, "%.2e" % (meta_bytes / media)]
        for _, rate in RATES:
            ratio = hourly(meta_bytes, media, figures["login_bytes"], size, rate)
            figures["%s_%d" % (name, rate)] = ratio
            row.append("%.2e" % ratio)
        row.append("-")
        rows.append(row)
    fw_worst = 0.0
    for interpreter, label in FW_INTERPRETERS:
        fw = figures["fw_" + interpreter]
        ratio = fw["meta"] / fw["media"]   # its one login included
        fw["ratio"] = ratio
        for _, rate in RATES:   # its login shared out over an hour instead, as in the rows above
            fw["hourly_%d" % rate] = hourly(fw["meta"] - fw["login_bytes"], fw["media"],
                                            fw["login_bytes"], size, rate)
        # judged as the rows above are (the worse rate), and as measured (one login a run)
        fw["worst"] = max([ratio] + [fw["hourly_%d" % r] for _, r in RATES])
        fw_worst = max(fw_worst, fw["worst"])
        st, hours = fw["store"], fw["hours"]
        fw["writes_per_hour"] = st["writes"] / hours
        fw["written_per_hour"] = st["written"] / hours
        # the entries the filler filled from the run's last horizon for items after its last
        # (each entry: its .part and its .src) are not the run's playback's: a device that plays
        # on plays them next
        fw["writes_per_hour_played"] = (st["writes"] - 2 * fw["cached_ahead"]) / hours
        fw["written_per_hour_played"] = (st["written"] - fw["cached_ahead_bytes"]) / hours
        text = ("real firmware, %s, through a counting proxy: its horizons and report batches "
                "as it sends them, **one login per run included** (%d items, %d bytes of login)"
                % (label, fw["played"], fw["login_bytes"]))
        over = [what for what, x in [("as measured", ratio)] + [
            ("with the hourly login at " + name, fw["hourly_%d" % r]) for name, r in RATES]
            if x > GOAL]
        if not quick and over:
            text += "; **over the goal of %.0e %s**" % (GOAL, ", ".join(over))
        if fw["underruns"]:
            text += "; **%d underruns** (%d ms) in %d of its items" % (
                fw["underruns"], fw["underrun_ms"], fw["underrun_items"])
        row = [text, fw["played"], "%d" % fw["media"], "%d" % fw["meta"], fw["n_requests"],
               "%.0f" % (fw["meta"] / fw["played"]), "%.2e" % ratio]
        for _, rate in RATES:
            row.append("%.2e" % fw["hourly_%d" % rate])
        flash = "%.0f files, %.0f MB" % (fw["writes_per_hour"], fw["written_per_hour"] / 1e6)
        if fw["cached_ahead"]:
            flash += "; %.0f files, %.0f MB without the %d %s filled for items after the " \
                     "run's last" % (fw["writes_per_hour_played"],
                                     fw["written_per_hour_played"] / 1e6, fw["cached_ahead"],
                                     "entry" if fw["cached_ahead"] == 1 else "entries")
        row.append(flash)
        rows.append(row)
    sec.table(["device", "items", "media bytes", "meta bytes", "requests",
               "meta bytes per item", "per media byte (firmware: its one login included)",
               "with the hourly login, 128 kbit/s", "with the hourly login, CD PCM",
               "flash writes per hour of playback"], rows)
    worst = max(figures["horizon_gzip_%d" % r] for _, r in RATES)
    sec.target("meta bytes per media byte with horizon and batched reports, 3 MiB items, "
               "≤ %.0e" % GOAL, None if quick else max(worst, fw_worst) <= GOAL,
               "%.2e with gzipped horizons (the worse of the two rates, login included); the "
               "real firmware %s (the worst of: one login per run included, and the hourly "
               "login at each rate)" % (worst, ", ".join(
                   "%.2e under %s" % (figures["fw_" + i]["worst"], label.split(" (")[0])
                   for i, label in FW_INTERPRETERS)))
    sec.note("Items of %d bytes, their records as an owner registers them (title, performer, "
             "a primary and an alternate source, rate and duration). Meta bytes are everything "
             "the device wrote to and read from the meta server's connection, headers included; "
             "a login (challenge and proof: %d bytes) is needed once a token's life (%d s), "
             "shared out over the items that play in that time at each rate."
             % (size, figures["login_bytes"], TOKEN_LIFE))
    sec.note("A gzipped horizon uses a 1 KiB window (a device inflates it with 1 KiB of heap). "
             "Most boards' MicroPython can inflate (`deflate.DeflateIO`) but not deflate: the "
             "third row is what such a board costs; the fourth, one that can compress too.")
    sec.note(firmware_note(size, fw_items, fw_files))
    for interpreter, label in FW_INTERPRETERS:
        sec.note(firmware_detail(figures["fw_" + interpreter], label))
    sec.figures.update(figures)
    return [sec]


def firmware_note(size, items, n_files):
    return (
        "The last two rows are the real firmware (`firmware/device.py`) run as a process, as a "
        "board runs it: config `cache` {horizon %d, batch %d, bytes %d (%d items)}, stream "
        "buffer 4096, the paced sink at %d x each item's rate (%d B/s, CD-quality PCM) writing "
        "the bytes nowhere, %d items of a program of %d, a fresh device (no token, no cache) "
        "and a fresh meta server for each run. The jitter ring is %d bytes (%.1f ms at %d x), "
        "grown with the speed so that it holds as much of the device's time as a 16 KiB ring "
        "at 4 x: the filler works in the sink's waits, about a quarter of the ring's time, and "
        "only in those of at least 5 ms; a 16 KiB ring at %d x (%.1f ms) would leave it none "
        "and the cache empty. Under micropython the heap is the 160K of a device with a cache "
        "and a 16 KiB ring, plus the bigger ring's bytes. Its `server` is "
        "a counting TCP proxy on loopback in front of the meta server: meta bytes are every "
        "byte through it, both ways; requests, the request lines through it. Media bytes are "
        "the ITEM lines' bytes of the items played; the device fetches them from the file "
        "server (the filler ahead into the cache, or the player straight), not counted. The "
        "per-media-byte column includes the run's one login; the hourly-login columns take it "
        "out and share it over an hour instead, as the rows above do. Flash writes are the "
        "STORE line's `writes` (files written: cache entries and their `.src`, `ahead.json` "
        "per horizon, report-queue appends, state saves) and `written` (bytes of entries, "
        "`.src`, horizons and queue lines; state saves are not counted in bytes), per hour of "
        "the program played (size / rate summed over the items played)."
        % (K, FW_BATCH, (K + 1) * size, K + 1, FW_SPEED, FW_RATE, items, n_files, FW_JITTER,
           FW_JITTER * 1000 / (FW_RATE * FW_SPEED), FW_SPEED, FW_SPEED,
           16384 * 1000 / (FW_RATE * FW_SPEED)))


def firmware_detail(fw, label):
    st = fw["store"]
    req = ", ".join("%d `%s` (%d bytes)" % (n, kind, fw["request_bytes"].get(kind, 0))
                    for kind, n in sorted(fw["requests"].items()))
    hours = fw["hours"]
    ahead = ""
    if fw["cached_ahead"]:
        ahead = (" Of the entries filled, %d (%d bytes) for items after the run's last, from "
                 "its last horizon." % (fw["cached_ahead"], fw["cached_ahead_bytes"]))
    return (
        "Firmware, %s: %d items (%d played, %d of them from the cache) in %.1f s of wall time "
        "(%.1f min of program); requests: %s; %d bytes up, %d down; %d LOGIN, %d HORIZON "
        "lines; %d underruns (%d ms) in %d items; %d entries filled, %d FAIL lines, %d "
        "OFFLINE. STORE %s: %.0f files and %.0f MB written per hour of playback, %.2f bytes "
        "written per media byte played.%s"
        % (label, fw["items"], fw["played"], fw["from_cache"], fw["wall_s"], hours * 60,
           req, fw["up"], fw["down"], fw["logins"], fw["horizons"], fw["underruns"],
           fw["underrun_ms"], fw["underrun_items"], fw["cached"], fw["fails"], fw["offline"],
           json.dumps(st, separators=(", ", ": ")), st["writes"] / hours,
           st["written"] / hours / 1e6, st["written"] / fw["media"], ahead))
