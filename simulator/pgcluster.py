"""A throwaway PostgreSQL cluster on a loopback port, from Debian's postgresql package: for the
tests, `make bench-load` and the replica demo. Nothing of the machine's own PostgreSQL (its
clusters, its service) is touched.

    with Cluster() as pg:
        url = pg.create_database("meta")   # postgresql://meta@127.0.0.1:<port>/meta

Run as root, the server runs as the `postgres` user (PostgreSQL refuses root). Durability is
off (fsync=off): a test cluster is thrown away, and the crash tests kill the meta server, not
PostgreSQL.
"""

import glob
import os
import pwd
import shutil
import subprocess
import tempfile

from simulator.procs import free_port

USER = "meta"


class PostgresMissing(RuntimeError):
    pass


def find_bin(name):
    """A PostgreSQL server program: on PATH, else the newest /usr/lib/postgresql/<v>/bin."""
    found = shutil.which(name)
    if found:
        return found
    versions = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"),
                      key=lambda p: int(p.split("/")[4]) if p.split("/")[4].isdigit() else 0)
    if not versions:
        raise PostgresMissing(f"{name} not found: install Debian's postgresql package "
                              "(scripts/apt-ensure postgresql)")
    return versions[-1]


class Cluster:
    def __init__(self, port=None, max_connections=200):
        self.port = port or free_port()
        self.max_connections = max_connections
        self.dir = None
        self._as = []   # runuser prefix when running as root

    @property
    def data(self):
        return os.path.join(self.dir, "data")

    def _run(self, *cmd, timeout=120):
        proc = subprocess.run(self._as + list(cmd), capture_output=True, text=True, timeout=timeout)
        if proc.returncode != 0:
            raise RuntimeError(f"{' '.join(cmd)} failed: {proc.stdout}{proc.stderr}")
        return proc.stdout

    def start(self):
        initdb, pg_ctl = find_bin("initdb"), find_bin("pg_ctl")
        self.dir = tempfile.mkdtemp(prefix="meta-pg-")
        if os.geteuid() == 0:
            pw = pwd.getpwnam("postgres")
            os.chown(self.dir, pw.pw_uid, pw.pw_gid)
            self._as = ["runuser", "-u", "postgres", "--"]
        self._run(initdb, "-D", self.data, "-U", USER, "--auth=trust", "-E", "UTF8", "--no-sync")
        options = (f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1"
                   f" -c max_connections={self.max_connections} -c fsync=off"
                   " -c synchronous_commit=off -c full_page_writes=off")
        self._options = options
        self.start_server()
        return self

    def start_server(self):
        """(Re)start the PostgreSQL server of this cluster."""
        self._run(find_bin("pg_ctl"), "-D", self.data, "-o", self._options, "-l",
                  os.path.join(self.dir, "log"), "-w", "-t", "60", "start")

    def stop_server(self):
        """Stop the server, keeping the cluster's data (fast shutdown: clients are cut off)."""
        self._run(find_bin("pg_ctl"), "-D", self.data, "-m", "fast", "-w", "stop", timeout=60)

    def url(self, database):
        return f"postgresql://{USER}@127.0.0.1:{self.port}/{database}"

    def psql(self, sql, database="postgres"):
        return self._run(find_bin("psql"), "-X", "-q", "-v", "ON_ERROR_STOP=1", "-At",
                         "-h", "127.0.0.1", "-p", str(self.port), "-U", USER, "-d", database,
                         "-c", sql)

    def create_database(self, name, template=None):
        """A new empty database (or a copy of template); returns its URL."""
        extra = f" TEMPLATE {template}" if template else ""
        self.psql(f"CREATE DATABASE {name}{extra}")
        return self.url(name)

    def stop(self):
        if self.dir is None:
            return
        try:
            self._run(find_bin("pg_ctl"), "-D", self.data, "-m", "immediate", "-w", "stop",
                      timeout=60)
        except (RuntimeError, subprocess.TimeoutExpired):
            pass
        shutil.rmtree(self.dir, ignore_errors=True)
        self.dir = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
