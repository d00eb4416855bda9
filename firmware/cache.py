# The store-ahead cache (config `cache`): items' stored bytes kept in a folder (an SD card or
# flash on a board, a folder on a Pi or in the simulator), bounded by `bytes`.
#
# An entry is named by the sha256 of the stored bytes, so an item that is in the program twice
# is kept once, and a secure item is kept as the file servers hold it (encrypted, its piece
# withheld): its key and piece come from the meta server each time it plays and are never
# written. Filling (filler.py) writes <sha>.part, checks the sha256, writes <sha>.src (the
# source that delivered it and the sources that failed on the way, for the report) and renames
# <sha>.part to <sha>: only a whole, verified entry has its name. A .part left by a power cut is
# removed at start and never played. Each entry is written once, front to back: the flash
# sees one file per item, not a write per chunk that lands somewhere else.
import json
import os

CACHE_SRC = "cache:"   # a source URL of the item that plays from its cache entry


class Cache:
    def __init__(self, directory, limit):
        self.dir = directory.rstrip("/")
        self.limit = limit
        self.writes = 0    # files written (entries, their .src, the horizon)
        self.written = 0   # bytes written
        try:
            os.mkdir(self.dir)
        except OSError:
            pass  # it may exist already
        self.size = {}     # sha -> bytes, the whole entries held
        names = [n for n in os.listdir(self.dir)]
        for n in names:
            if n.endswith(".part") or n.endswith(".tmp") or (n.endswith(".src")
                                                            and n[:-4] not in names):
                self._rm(n)  # cut by a power cut, or an entry's origin without the entry
            elif len(n) == 64 and not n.strip("0123456789abcdef"):
                self.size[n] = os.stat(self.path(n))[6]
        names = None

    def path(self, name):
        return "%s/%s" % (self.dir, name)

    def _rm(self, name):
        try:
            os.remove(self.path(name))
        except OSError:
            pass

    def has(self, sha):
        return sha in self.size

    def used(self):
        n = 0
        for k in self.size:
            n += self.size[k]
        return n

    def room(self, size, keep):
        """Make room for an entry of size bytes, removing entries whose sha is not in keep;
        False when it cannot fit."""
        kept = 0
        for sha in self.size:
            if sha in keep:
                kept += self.size[sha]
        if kept + size > self.limit:
            return False  # nothing evicted for an entry that cannot fit
        used = self.used()
        for sha in list(self.size):
            if used + size <= self.limit:
                break
            if sha not in keep:
                used -= self.size[sha]
                self.drop(sha)
        return used + size <= self.limit

    def part(self, sha):
        """The file an entry is filled into (truncated)."""
        self.writes += 1
        return open(self.path(sha + ".part"), "wb")

    def commit(self, sha, size, src, errors):
        """The entry filled into its .part is whole and verified: it gets its name."""
        doc = json.dumps({"src": src, "errors": errors})
        with open(self.path(sha + ".src"), "w") as f:
            f.write(doc)
        self.writes += 1
        self.written += size + len(doc)
        os.rename(self.path(sha + ".part"), self.path(sha))
        self.size[sha] = size

    def abandon(self, sha):
        self._rm(sha + ".part")

    def drop(self, sha):
        """An entry removed (evicted, or found bad when it played)."""
        self.size.pop(sha, None)
        self._rm(sha)
        self._rm(sha + ".src")

    def origin(self, sha):
        """(src, errors) of how the entry was filled; (None, []) when not known."""
        try:
            with open(self.path(sha + ".src")) as f:
                d = json.load(f)
            return d["src"], d["errors"]
        except (OSError, ValueError, KeyError, TypeError):
            return None, []

    def save(self, name, data):
        """A small file beside the entries (the horizon), replaced whole."""
        tmp = self.path(name + ".tmp")
        with open(tmp, "wb") as f:
            f.write(data)
        os.rename(tmp, self.path(name))
        self.writes += 1
        self.written += len(data)

    def load(self, name):
        try:
            with open(self.path(name), "rb") as f:
                return f.read()
        except OSError:
            return None


class Stored:
    """A cache entry opened as a source of fetch() (its opener): readinto(buf, n) from byte
    `have` on."""

    def __init__(self, path, have):
        self.f = open(path, "rb")
        self.done = False
        self.n = -1
        self.view = self.vbuf = None
        if have:
            self.f.seek(have)

    def readinto(self, buf, n=-1):
        if n < 0 or n >= len(buf):
            r = self.f.readinto(buf)
        else:
            if n != self.n or buf is not self.vbuf:  # a view per buffer and length, kept
                self.view = memoryview(buf)[:n]
                self.n = n
                self.vbuf = buf
            r = self.f.readinto(self.view)
        if not r:
            self.done = True
        return r or 0

    def close(self):
        self.done = True
        if self.f is not None:
            self.f.close()
            self.f = None
