"""Health of the file servers, as serving sees it: which are down; sources ordered by it.

What the background probe (outbound/probe.py) and devices' reports say is kept in the database
(db.health, so the operator's CLI and dashboard see it) and, for serving, in a set of down
addresses in memory: ordering the sources of GET /next's answer costs nothing while every server
is up, and one sort of a few URLs otherwise.
"""

import logging

from ..model.checks import is_number_text

log = logging.getLogger("host_server.health")
WITNESSES = 2           # devices whose reports together mark a server down (the probe alone may)
WITNESS_WINDOW = 300.0  # s within which their reports count together
MAX_SUSPECTS = 4096     # servers with a pending report kept; the oldest are dropped beyond


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


class Health:
    def __init__(self, db):
        self.db = db
        self.down = set()
        self.known = set()   # addresses media records name; reports about others are ignored
        self._suspects = {}  # address -> {device: time it reported the server failing}

    async def load(self):
        self.down = {a for a, (up, *_rest) in (await self.db.health.states()).items() if not up}
        self.known = await self.db.health.known_addresses()
        return self

    async def record(self, results):
        """Store [(address, up, why)] and update what serving sees."""
        changed = await self.db.health.record(results)
        for address, up, why in results:
            if address in changed:
                log.info("file server %s is %s%s", address, "up" if up else "down",
                         "" if up else f": {why}")
        self.down = {a for a, up, _ in results if not up} | (
            self.down - {a for a, up, _ in results if up})

    def _witnessed(self, address, device):
        """Has this report made WITNESSES distinct devices report the server failing lately?
        One device alone (or a stranger holding one device's secret) cannot take a server down
        for everyone; its own failover already spares it the server."""
        now = self.db.clock()
        seen = self._suspects.pop(address, {})
        seen = {d: t for d, t in seen.items() if now - t < WITNESS_WINDOW}
        seen[device] = now
        if len(seen) >= WITNESSES:
            return True
        if len(self._suspects) >= MAX_SUSPECTS:
            self._suspects.pop(next(iter(self._suspects)))
        self._suspects[address] = seen   # re-inserted: the dict is oldest first
        return False

    async def fold_report(self, device, rep):
        """A device's report: a source that failed as a server marks it down once another device
        has said so too (WITNESSES); the source that served a whole item marks it up. Writes only
        when that changes a server's state."""
        results = []
        for url, why in rep["errors"]:
            address = address_of(url)
            if (server_failed(why) and address in self.known and address not in self.down
                    and self._witnessed(address, device)):
                results.append((address, False, f"device {device} reported {why} for {url}"
                                                f" (and {WITNESSES - 1} other device(s) lately)"))
        src = rep.get("src")
        if rep["status"] == "played" and src and address_of(src) in self.down & self.known:
            results.append((address_of(src), True, f"device {device} played {src}"))
        if results:
            await self.record(results)

    def order(self, doc):
        """GET /next's answer (a dict) with its sources up first, down after (never dropped):
        doc itself while none of them is down, else a copy (doc may be shared)."""
        src = doc.get("src")
        down = self.down
        if not down or not isinstance(src, list) or not any(address_of(u) in down for u in src):
            return doc
        return {**doc, "src": sorted(src, key=lambda u: address_of(u) in down)}   # stable
