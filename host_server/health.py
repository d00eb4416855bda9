"""Health of the file servers: which are down, why and since when; sources ordered by it.

What the background probe (probe.py) and devices' reports say is kept in the database (so the
operator's CLI and dashboard see it) and, for serving, in a set of down addresses in memory:
ordering a compact document costs nothing while every server is up, and one dictionary lookup
per document otherwise (a reordered document is cached until the health changes).
"""

import json
import logging

from aiohttp import web

from . import db_health
from .catalog import is_number_text

log = logging.getLogger("host_server.health")

HEALTH = web.AppKey("health", object)
MAX_CACHED = 4096   # reordered documents kept; cleared whole when full or when health changes


def address_of(url):
    """'http://host:8101/music/a.wav' -> 'http://host:8101' (the address a record names)."""
    start = url.find("//")
    end = url.find("/", start + 2) if start >= 0 else -1
    return url if end < 0 else url[:end]


def server_failed(why):
    """Does a device's failure reason say the server failed, not just that one file is missing?"""
    if why in ("refused", "timeout") or why.startswith(("dropped", "bad response")):
        return True
    return is_number_text(why) and int(why) >= 500


async def list_servers(db):
    """Every known file server: [{address, up, since, why, checked}], down ones first.

    up is None (and since, checked are None) for a server never checked yet; times are Unix
    seconds; why says why a server is down, or what last saw it up.
    """
    states = await db_health.states(db)
    out = []
    for address in await db_health.known_addresses(db) | set(states):
        up, since, why, checked = states.get(address, (None, None, "not checked yet", None))
        out.append({"address": address, "up": up, "since": since, "why": why, "checked": checked})
    out.sort(key=lambda s: ({False: 0, None: 1, True: 2}[s["up"]], s["address"]))
    return out


class Health:
    def __init__(self, db):
        self.db = db
        self.down = set()
        self.known = set()   # addresses media records name; reports about others are ignored
        self._ordered = {}

    async def load(self):
        self.down = {a for a, (up, *_rest) in (await db_health.states(self.db)).items() if not up}
        self.known = await db_health.known_addresses(self.db)
        return self

    async def record(self, results):
        """Store [(address, up, why)] and update what serving sees."""
        changed = await db_health.record(self.db, results)
        for address, up, why in results:
            if address in changed:
                log.info("file server %s is %s%s", address, "up" if up else "down",
                         "" if up else f": {why}")
        down = {a for a, up, _ in results if not up} | (self.down - {a for a, up, _ in results if up})
        if down != self.down:
            self.down = down
            self._ordered = {}

    async def fold_report(self, device, rep):
        """A device's report: a source that failed as a server marks it down; the source that
        served a whole item marks it up. Writes only when that changes a server's state."""
        results = []
        for url, why in rep["errors"]:
            address = address_of(url)
            if server_failed(why) and address in self.known and address not in self.down:
                results.append((address, False, f"device {device} reported {why} for {url}"))
        src = rep.get("src")
        if rep["status"] == "played" and src and address_of(src) in self.down & self.known:
            results.append((address_of(src), True, f"device {device} played {src}"))
        if results:
            await self.record(results)

    def order(self, body):
        """The compact document (bytes) with its sources up first, down after (never dropped)."""
        if not self.down:
            return body
        hit = self._ordered.get(body)
        if hit is None:
            if len(self._ordered) >= MAX_CACHED:
                self._ordered = {}
            hit = self._ordered[body] = self._reorder(body)
        return hit

    def _reorder(self, body):
        doc = json.loads(body)
        src = doc.get("src")
        if not isinstance(src, list) or not any(address_of(u) in self.down for u in src):
            return body
        doc["src"] = sorted(src, key=lambda u: address_of(u) in self.down)   # stable
        return json.dumps(doc, separators=(",", ":"), ensure_ascii=False).encode()
