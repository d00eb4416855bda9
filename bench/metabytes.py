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
"""
import gzip
import hashlib
import json
import os
import socket
import subprocess
import sys
import zlib

from bench.media import random_file
from bench.mprun import ROOT
from bench.report import Section
from bench.servers import Server
from host_server.services.auth import proof

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


def run(work, quick=False):
    work = os.path.abspath(os.path.join(work, "metabytes"))
    size = 64 * 1024 if quick else ITEM_SIZE
    n_files, played = (3, 4) if quick else (K + 2, 4 * K)
    files = [random_file(os.path.join(work, "root", "music"), "item%d.mp3" % i, size)
             for i in range(n_files)]
    db = os.path.join(work, "meta.db")
    for suffix in ("", "-wal", "-shm"):
        if os.path.exists(db + suffix):
            os.remove(db + suffix)
    figures = {}
    with Server(["-m", "host_server.fileserver", "--root", os.path.join(work, "root"),
                 "--host", "127.0.0.1", "--port", "0"], os.path.join(work, "files.log")) as fs:
        path = os.path.join(work, "catalog.json")
        with open(path, "w") as f:
            json.dump(catalog(files, fs.url, RATES[0][1]), f)
        subprocess.run([sys.executable, "-m", "host_server", "--db", db, "import", path],
                       cwd=ROOT, check=True, capture_output=True)
        # items here play far faster than they would: the per-device report limit is lifted
        with Server(["-m", "host_server", "--db", db, "serve", "--host", "127.0.0.1", "--port",
                     "0", "--no-access-log", "--max-device-reports", "100000"],
                    os.path.join(work, "meta.log")) as meta:
            wire = Wire(meta.url)
            login(wire)
            figures["login_bytes"] = wire.total
            seq = 1
            for name, _ in WAYS:
                before = wire.total
                if name == "one_by_one":
                    media = play_one_by_one(wire, played)
                else:
                    media = play_by_horizon(wire, played, seq, inflate=name != "horizon",
                                            deflate=name == "horizon_gzip_both")
                    seq += played
                figures[name] = (wire.total - before, media)
            wire.close()
    sec = Section("Meta server bytes per media byte (issue 14)")
    rows = []
    for name, label in WAYS:
        meta_bytes, media = figures[name]
        per_item = meta_bytes / played
        row = [label, played, "%d" % media, "%d" % meta_bytes, "%.0f" % per_item,
               "%.2e" % (meta_bytes / media)]
        for _, rate in RATES:
            items_per_token = max(1.0, TOKEN_LIFE / (size / rate))
            ratio = (meta_bytes / media) + figures["login_bytes"] / (items_per_token * size)
            figures["%s_%d" % (name, rate)] = ratio
            row.append("%.2e" % ratio)
        rows.append(row)
    sec.table(["device", "items", "media bytes", "meta bytes", "meta bytes per item",
               "per media byte", "with the hourly login, 128 kbit/s",
               "with the hourly login, CD PCM"], rows)
    worst = max(figures["horizon_gzip_%d" % r] for _, r in RATES)
    sec.target("meta bytes per media byte with horizon and batched reports, 3 MiB items, "
               "≤ %.0e" % GOAL, None if quick else worst <= GOAL,
               "%.2e with gzipped horizons (the worse of the two rates, login included)" % worst)
    sec.note("Items of %d bytes, their records as an owner registers them (title, performer, "
             "a primary and an alternate source, rate and duration). Meta bytes are everything "
             "the device wrote to and read from the meta server's connection, headers included; "
             "a login (challenge and proof: %d bytes) is needed once a token's life (%d s), "
             "shared out over the items that play in that time at each rate."
             % (size, figures["login_bytes"], TOKEN_LIFE))
    sec.note("A gzipped horizon uses a 1 KiB window (a device inflates it with 1 KiB of heap). "
             "Most boards' MicroPython can inflate (`deflate.DeflateIO`) but not deflate: the "
             "third row is what such a board costs; the fourth, one that can compress too.")
    sec.figures.update(figures)
    return [sec]
