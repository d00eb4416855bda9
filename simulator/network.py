"""The whole network on loopback: a meta server on SQLite, file servers A, B, C, alternate ABC.

With ``db=`` a postgresql:// URL and ``replicas=N``, N meta server processes share that database
behind nginx (host_server/nginx/replicas.conf), and devices are given nginx's address.

A primary holds its own files; the alternate ABC mirrors all three. Every file server is reached
through a FaultProxy, so a fault can be injected in front of any of them; the meta server is told
the proxies' addresses, as it would be told the owners' public addresses.

Fault names (``FAULTS``) are what the simulator's ``--faults`` option takes.
"""
import json
import os
import shutil

from simulator.faults import Fault, FaultProxy
from simulator.media import write_demo_media
from simulator.nginxproc import start_balancer
from simulator.procs import ServerProcess, refusing_port, run_cli
from simulator.streamnet import Streams
from tools.media import prepare_file
from tools.playback import playback_fields

# Which primary holds which demo file (the alternate holds them all).
PRIMARY_OF = {
    "morning.wav": "A", "breaking.wav": "A", "after.wav": "A",
    "signal.wav": "B", "interlude.wav": "B", "missing.wav": "B",
    "down.wav": "C",
    "vault.wav": "B", "sealed.wav": "C", "partial.wav": "A",
}
DIRECTORY = {"A": "/music/a", "B": "/music/b", "C": "/music/c"}
MIRROR_DIRECTORY = {"A": "/mirror/a", "B": "/mirror/b", "C": "/mirror/c"}

FAULTS = {
    "404": "primary B lacks missing.wav",
    "refused": "primary C is down (connection refused)",
    "drop": "primary A dies in the middle of breaking.wav",
    "stall": "primary B stalls in the middle of signal.wav",
    "corrupt": "primary A sends one corrupted byte of morning.wav",
    "cut": "primary B drops the connection once in the middle of interlude.wav",
    "secure-cut": "primary B drops the connection once in the middle of the secure vault.wav",
}
DEFAULT_FAULTS = ("404", "refused", "drop", "secure-cut")


def parse_faults(text):
    """'404,refused' -> ('404', 'refused'); 'none' -> (); 'all' -> every fault."""
    text = (text or "").strip()
    if text in ("", "none"):
        return ()
    if text == "all":
        return tuple(FAULTS)
    names = tuple(t.strip() for t in text.split(",") if t.strip())
    for n in names:
        if n not in FAULTS:
            raise ValueError("unknown fault %r; known: %s, all, none" % (n, ", ".join(FAULTS)))
    return names


class Network:
    def __init__(self, workdir, faults=DEFAULT_FAULTS, devices=1, token_ttl=3600, db=None,
                 replicas=1, probe_interval=0, meta_args=(), streams=False):
        self.workdir = os.path.abspath(workdir)
        self.faults = tuple(faults)
        self.n_devices = devices
        self.token_ttl = token_ttl
        self.db = db or os.path.join(self.workdir, "meta.db")
        if replicas < 1 or (replicas > 1 and not db):
            raise ValueError("replicas share one PostgreSQL database: give db= a postgresql:// URL")
        self.n_replicas = replicas
        # health probing off by default: the demo shows devices failing over by themselves
        self.probe_interval = probe_interval
        self.meta_args = list(meta_args)   # more of `serve`'s options (--max-device-reports 2000)
        self.replicas = []    # the meta server processes behind the balancer
        self.balancer = None  # nginx, when there are replicas
        self.master_key = os.path.join(self.workdir, "master.key")
        self.logs = os.path.join(self.workdir, "logs")
        self.servers = {}     # name -> ServerProcess
        self.proxies = {}     # name -> FaultProxy
        self.address = {}     # name -> address the meta server hands out
        self.media = []       # facts of the demo files
        self.devices = {}     # device id -> secret
        self.media_ids = {}   # demo file name -> media id
        self.meta = None
        self._refusing = None
        # streams=True: the live radio and the HLS presentation too (simulator/streamnet.py),
        # in the program after its files
        self.streams = Streams(self.workdir) if streams else None

    def log_path(self, name):
        return os.path.join(self.logs, name + ".log")

    async def start(self):
        if os.path.exists(self.workdir):
            shutil.rmtree(self.workdir)
        os.makedirs(self.logs)
        self.media = write_demo_media(os.path.join(self.workdir, "media"))
        self._prepare_secure()
        self._lay_out_files()
        for name in ("A", "B", "C", "ABC"):
            if name == "C" and "refused" in self.faults:
                self._refusing = refusing_port()
                self.address[name] = "http://127.0.0.1:%d" % self._refusing.getsockname()[1]
                continue
            await self.start_file_server(name)
        if self.streams is not None:
            await self.streams.start(os.path.join(self.workdir, "servers"), self.address)
        await self._seed()
        await self.start_meta()
        return self

    async def stop_meta(self):
        await self.meta.stop()
        for replica in self.replicas:
            await replica.stop()

    async def start_meta(self, port=0):
        """Starts the meta server (again), on ``port`` (0: a free one) over the same database;
        with replicas, each on a free port and nginx on ``port`` in front of them."""
        if self.n_replicas == 1:
            self.meta = await self.start_replica("meta", port)
            return self.meta
        self.replicas = [await self.start_replica("meta%d" % (i + 1)) for i in range(self.n_replicas)]
        self.balancer = await start_balancer(os.path.join(self.workdir, "balancer"),
                                             self.replicas, port)
        self.meta = self.balancer
        return self.meta

    async def start_replica(self, name, port=0):
        """One meta server process (``name`` names its log)."""
        behind = ["--trusted-proxy", "127.0.0.1"] if self.n_replicas > 1 else []
        proc = ServerProcess(name, [
            "-m", "host_server", "--db", self.db, "--master-key-file", self.master_key,
            "serve", "--host", "127.0.0.1", "--port", str(port),
            "--probe-interval", str(self.probe_interval), "--token-ttl", str(self.token_ttl),
            "--allow-source-net", "127.0.0.0/8"] + behind + self.meta_args,   # files on loopback
            self.log_path(name))
        await proc.start()
        return proc

    async def start_file_server(self, name):
        root = os.path.join(self.workdir, "servers", name)
        srv = ServerProcess(name, ["-m", "host_server.fileserver", "--root", root,
                                   "--host", "127.0.0.1", "--port", "0"], self.log_path(name))
        await srv.start()
        self.servers[name] = srv
        proxy = self.proxies.get(name)
        if proxy is None:
            proxy = await FaultProxy(srv.hostport, self._faults_for(name)).start()
            self.proxies[name] = proxy
            self.address[name] = proxy.address
        else:
            proxy.upstream = srv.hostport
        return srv

    async def stop_file_server(self, name):
        """Stops a file server's process (its proxy then refuses, as the server's port would)."""
        await self.servers.pop(name).stop()
        await self.proxies.pop(name).stop()

    async def stop(self):
        if self.streams is not None:
            await self.streams.stop()
        for p in self.proxies.values():
            await p.stop()
        for s in list(self.servers.values()) + ([self.meta] if self.meta else []) + self.replicas:
            await s.stop()
        if self._refusing is not None:
            self._refusing.close()

    def _size_of(self, name):
        m = next(m for m in self.media if m["name"] == name)
        return m["stored"]["size"] if m.get("stored") else m["size"]

    def _faults_for(self, server):
        f = []
        if server == "A" and "drop" in self.faults:
            f.append(Fault("drop", DIRECTORY["A"] + "/breaking.wav", at=self._size_of("breaking.wav") * 2 // 5))
        if server == "A" and "corrupt" in self.faults:
            f.append(Fault("corrupt", DIRECTORY["A"] + "/morning.wav", at=5000))
        if server == "B" and "stall" in self.faults:
            f.append(Fault("stall", DIRECTORY["B"] + "/signal.wav", at=self._size_of("signal.wav") // 3))
        if server == "B" and "cut" in self.faults:
            f.append(Fault("cut", DIRECTORY["B"] + "/interlude.wav", at=self._size_of("interlude.wav") // 2))
        if server == "B" and "secure-cut" in self.faults:
            f.append(Fault("cut", DIRECTORY["B"] + "/vault.wav", at=self._size_of("vault.wav") * 3 // 5))
        return f

    def _prepare_secure(self):
        """Secure items: the file servers get what tools.media prepares (encrypted and/or with a
        piece withheld); the facts keep the original's size and sha256 (what a device's sink
        must end up with) and gain "stored" (what the meta server's record says)."""
        folder = os.path.join(self.workdir, "stored")
        os.makedirs(folder, exist_ok=True)
        for m in self.media:
            form = m.get("secure")
            if not form:
                continue
            out = os.path.join(folder, m["name"])
            stored = prepare_file(m["path"], out, encrypted=form.startswith("encrypted"),
                                  piece_length=0 if form == "encrypted" else 4096)
            m["stored"] = dict(stored, path=out)

    def _lay_out_files(self):
        servers = os.path.join(self.workdir, "servers")
        for m in self.media:
            p = PRIMARY_OF[m["name"]]
            path = m["stored"]["path"] if m.get("stored") else m["path"]
            if not (m["name"] == "missing.wav" and "404" in self.faults):
                self._place(path, os.path.join(servers, p) + DIRECTORY[p])
            self._place(path, os.path.join(servers, "ABC") + MIRROR_DIRECTORY[p])

    @staticmethod
    def _place(src, folder):
        os.makedirs(folder, exist_ok=True)
        shutil.copyfile(src, os.path.join(folder, os.path.basename(src)))

    def catalog(self):
        media = []
        for m in self.media:
            p = PRIMARY_OF[m["name"]]
            media.append({
                "ref": m["name"], "size": m["size"], "sha256": m["sha256"], "type": "audio/wav",
                "primary_address": self.address[p], "primary_directory": DIRECTORY[p],
                "file_name": m["name"],
                "alternates": [{"address": self.address["ABC"], "directory": MIRROR_DIRECTORY[p]}],
                "owner": "Demo Owner %s" % p, "composer": m["composer"],
                "copyright_holder": "Demo Owner %s" % p,
                "title": m["title"], "work": m["work"],
                "performers": [m["performer"]], "composers": [m["composer"]],
                "creators": ["simulator/media.py"],
                **playback_fields(m["path"]),   # the original's, for secure items too
            })
            if m.get("stored"):
                media[-1].update(size=m["stored"]["size"], sha256=m["stored"]["sha256"],
                                 secure=m["stored"]["secure"])
        devices = [{"id": "dev%d" % (i + 1), "name": "Simulated device %d" % (i + 1),
                    "programs": ["Demo"], "default": "Demo"} for i in range(self.n_devices)]
        streams = self.streams.media(self.address) if self.streams is not None else []
        return {"media": media + streams,
                "programs": [{"name": "Demo", "items": [m["name"] for m in self.media]
                              + [m["ref"] for m in streams]}],
                "devices": devices}

    async def _seed(self):
        path = os.path.join(self.workdir, "catalog.json")
        with open(path, "w") as f:
            json.dump(self.catalog(), f, indent=1)
        await run_cli(["--db", self.db, "init"])
        if not os.path.exists(self.master_key):
            await run_cli(["new-master-key", self.master_key])
        summary = json.loads(await run_cli(["--db", self.db, "--master-key-file", self.master_key,
                                            "import", path]))
        self.devices = summary["devices"]
        self.media_ids = summary["media"]

    def server_name(self, url):
        """'http://127.0.0.1:8101/music/a/x.wav' -> 'A' (or the URL when unknown)."""
        for name, addr in self.address.items():
            if url and url.startswith(addr + "/"):
                return name
        if self.streams is not None and self.streams.relay is not None and url:
            for name, server in (("R1", self.streams.origin), ("R2", self.streams.relay)):
                if url.startswith("http://127.0.0.1:%d/" % server.port):
                    return name
        return url or "-"

    def expected(self):
        """media id -> the demo file's facts (name, size, sha256, title...)."""
        return {self.media_ids[m["name"]]: m for m in self.media}

    def items(self):
        """How many items the program has: its files and its streams."""
        return len(self.media) + (2 if self.streams is not None else 0)

    async def reports(self, device=None):
        args = ["--db", self.db, "reports", "--json", "--limit", "1000000"]
        if device:
            args += ["--device", device]
        return json.loads(await run_cli(args))
