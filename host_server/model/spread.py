"""Fair load over equal sources: file servers' weights (their capacity) and the order of an
item's sources that spreads devices over them in proportion.

A record's sources are its primary and its alternates. The primary always shares the load (weight
1 unless one is set); an alternate shares it only when a weight is set for its server: one without
stays a standby, tried only when the sharing sources fail (an alternate host that wants to serve
only when a primary fails needs nothing set). Each device orders the sharing sources by weighted
rendezvous hashing over (device, media id, source URL): the same device gets the same order for
the same item every time, and over many devices each source comes first in proportion to its
weight. Health (services/health.py) then moves servers that are down after all of them.

Pure: the database stores each record's weights (db/weights.py) as `spread_text` makes them.
"""

import functools
import hashlib
import json
import math

from .errors import Invalid

MAX_WEIGHT = 1000       # a weight is 1..MAX_WEIGHT: a ratio of capacities, not bytes/s
MAX_OWNER_WEIGHTS = 256  # servers one owner (or the operator) may weigh
SPREAD_CACHE = 4096     # stored spreads kept parsed
_SCALE = float(1 << 64)


def check_weight(value, where="weight"):
    """A server's weight: an integer 1..MAX_WEIGHT."""
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_WEIGHT:
        raise Invalid(f"{where} must be a whole number from 1 to {MAX_WEIGHT} (a server's capacity"
                      f" relative to the others'), not {value!r}")
    return value


def source_weights(addresses, weight_of):
    """Weights of a record's sources in their order (primary first): the primary's set one or 1;
    an alternate's set one, or 0 (a standby). None when fewer than two sources share the load:
    the sources are then handed out as registered. weight_of(address) is the weight set, or None."""
    weights = [weight_of(a) or 0 for a in addresses]
    if weights:
        weights[0] = weights[0] or 1
    return weights if sum(1 for w in weights if w) > 1 else None


def spread_text(addresses, weight_of):
    """What the database stores for a record (JSON text, or None: as registered)."""
    weights = source_weights(addresses, weight_of)
    return None if weights is None else json.dumps(weights, separators=(",", ":"))


@functools.lru_cache(maxsize=SPREAD_CACHE)
def _weights(text):
    return tuple(json.loads(text))


def _score(device, media_id, url, weight):
    """The source's draw for this device and item: exponential with rate weight, so the source
    with the smallest draw is each one with probability weight / sum of weights."""
    h = hashlib.blake2b(f"{device}\n{media_id}\n{url}".encode(), digest_size=8).digest()
    return -math.log((int.from_bytes(h, "big") + 0.5) / _SCALE) / weight


def spread_order(urls, weights, device, media_id):
    """urls ordered for this device: the sharing sources by their draws, then the standbys in
    their registered order. urls as they are when weights do not fit them (None, other length)."""
    if weights is None or len(weights) != len(urls):
        return list(urls)
    sharing = sorted((_score(device, media_id, u, w), i) for i, (u, w) in
                     enumerate(zip(urls, weights)) if w)
    return [urls[i] for _, i in sharing] + [u for u, w in zip(urls, weights) if not w]


def order(doc, spread, device):
    """GET /next's answer (a dict) with its sources in this device's order: doc itself when the
    record's stored spread is None, else a copy (doc may be shared)."""
    src = doc.get("src")
    if spread is None or not isinstance(src, list):
        return doc
    return {**doc, "src": spread_order(src, _weights(spread), device, doc.get("id"))}
