"""Signing the source URLs the meta server hands out or fetches, for the file servers whose owner
requires it (db.signing; the form: model/signing.py).

GET /next and GET /horizon hand out each source of a signed server signed, valid for
settings.signed_url_ttl seconds beyond the time the item takes to play (its "dur", when known;
in a horizon, and the items' before it): a device that plays an item to its end never meets
its URL's expiry, one that holds it longer gets 403/410 and fails over, or reports the item
failed and gets freshly signed URLs with the next item. The health probe and an owner's source
checks sign theirs too. The secrets are read into memory and read again every REFRESH seconds,
so that a change made through another replica counts here within that time.
"""

import math
import time

from ..model.signing import sign_url
from .health import address_of

REFRESH = 10.0   # s between reads of the signed servers (a change made here counts at once)


def expiry(now, ttl, plays_for=0.0):
    """The Unix time (an int) a URL handed out at now stops being served."""
    return math.ceil(now + ttl + plays_for)


class UrlSigner:
    def __init__(self, db, ttl, monotonic=time.monotonic):
        self.db, self.ttl, self.monotonic = db, ttl, monotonic
        self._secrets = {}
        self._read = None   # monotonic time of the last read; None: read at the next use

    def changed(self):
        """A signed server was added, re-keyed or removed here: read them again at once."""
        self._read = None

    async def secrets(self):
        now = self.monotonic()
        if self._read is None or now - self._read >= REFRESH:
            self._secrets = await self.db.signing.secrets()
            self._read = now
        return self._secrets

    def held(self):
        """The secrets as last read while that read is fresh (a new dict at each read), else
        None: what an answer held in memory was made under (services/hotpath.py)."""
        if self._read is None or self.monotonic() - self._read >= REFRESH:
            return None
        return self._secrets

    async def sign_urls(self, urls, plays_for=0.0):
        """urls, those of signed servers signed (the others as they are)."""
        secrets = await self.secrets()
        if not secrets:
            return urls
        expires = expiry(self.db.clock(), self.ttl, plays_for)
        return [sign_url(u, secrets[address_of(u)], expires) if address_of(u) in secrets else u
                for u in urls]

    async def sign_docs(self, docs):
        """Item documents (GET /next's, a horizon's items in play order) with their sources
        signed, each valid for the time it and the items before it take to play: new dicts
        where a source changes (a document may be shared)."""
        out, ahead = [], 0.0
        for doc in docs:
            ahead += (doc.get("dur") or 0) / 1000
            src = doc.get("src")
            signed = await self.sign_urls(src, ahead) if isinstance(src, list) else src
            out.append(doc if signed is src else {**doc, "src": signed})
        return out
