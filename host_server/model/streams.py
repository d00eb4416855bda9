"""Stream items (PROTOCOL.md "Live items"): a program item that is not a stored file.

    "stream": "live"   an HTTP audio stream (an Icecast or Shoutcast mount): the record's primary
                       and alternates are two or more mounts carrying the same programme, primary
                       first; "rate" (bytes per second of the stream) and "dur" (ms to play it)
                       are required, "type" is the stream's format (audio/mpeg, audio/aac, ...).
    "stream": "hls"    an HLS presentation: the sources are playlists (a master with redundant
                       variants, or media playlists), "type" the audio the segments carry
                       (audio/aac or audio/mpeg); "dur" is required for a live playlist and
                       optional for an on-demand one (played to its end). Segments may be
                       AES-128 encrypted: "secure": {"hls_key": "<32 hex>"} holds the key, which
                       the meta server keeps sealed and hands only to entitled devices.

A stream has no size and no hash: its record's size is 0 and its sha256 is the stream's identity,
the sha256 of its kind and primary source URL (stream_identity; the primary cannot change), so that the columns every record has
keep their meaning (one record per distinct sha256 for an owner) and a secure stream's sealed key
is bound to it. Pure: no database, no I/O.
"""

import hashlib

from .checks import is_hex
from .errors import Invalid

KINDS = ("live", "hls")
# formats a device's decoder may be handed from a stream (a live mount's, an HLS segment's audio)
STREAM_TYPES = {"live": ("audio/mpeg", "audio/aac", "audio/ogg", "audio/opus", "audio/flac",
                         "audio/wav"),
                "hls": ("audio/aac", "audio/mpeg")}
MIN_LIVE_SOURCES = 2   # a live item survives one server: a mount on each of two or more


def check_stream(obj, where):
    """The record's "stream" kind (None for a stored file), or raise Invalid."""
    kind = obj.get("stream")
    if kind is None:
        return None
    if kind not in KINDS:
        raise Invalid(f"{where}: field 'stream' must be one of {', '.join(KINDS)} (or absent for a"
                      " stored file)")
    if obj.get("size") not in (None, 0):
        raise Invalid(f"{where}: a {kind} stream has no size: leave field 'size' out (or 0)")
    return kind


def check_stream_record(rec, urls, where):
    """The rules a stream record's other fields must follow (rec normalized, urls its sources)."""
    kind = rec["stream"]
    if rec["type"] not in STREAM_TYPES[kind]:
        raise Invalid(f"{where}: field 'type' of a {kind} stream must be one of "
                      f"{', '.join(STREAM_TYPES[kind])}")
    if kind == "live":
        if len(urls) < MIN_LIVE_SOURCES:
            raise Invalid(f"{where}: a live stream needs {MIN_LIVE_SOURCES} or more mounts (a primary"
                          " and alternates on other servers), so that no one server stops it")
        for key in ("rate", "dur"):
            if rec.get(key) is None:
                raise Invalid(f"{where}: a live stream needs field {key!r} (" + (
                    "bytes per second of the stream" if key == "rate" else "ms to play it") + ")")


def stream_identity(kind, primary_url, given, where):
    """The sha256 (hex) a stream record stores: of its kind and its primary source's URL. A record
    that gives one (the full record, sent back by an update) must give this one."""
    ident = hashlib.sha256(("stream\0%s\0%s\0" % (kind, primary_url)).encode()).hexdigest()
    if given not in (None, "") and str(given).lower() != ident:
        raise Invalid(f"{where}: a stream's sha256 is its identity ({ident}, from its kind and"
                      " primary source), not a hash of bytes: leave field 'sha256' out")
    return ident


def validate_stream_secure(obj, kind, where):
    """A stream's secure part: {"hls_key": 32 hex} for HLS with AES-128 segments. Returned in the
    form db/secure.py seals (key, a zero IV, no piece: the playlist names each segment's IV)."""
    w = f"{where}: field 'secure'"
    if kind != "hls":
        raise Invalid(f"{w}: a live stream cannot be secure (only HLS segments are encrypted)")
    if not isinstance(obj, dict) or set(obj) != {"hls_key"} or not is_hex(obj["hls_key"], 32):
        raise Invalid(f"{w} of an HLS stream must be {{\"hls_key\": \"<32 hex characters>\"}}, the"
                      " AES-128 key of its segments")
    return {"encrypted": True, "key": bytes.fromhex(obj["hls_key"]), "iv": bytes(16),
            "plain_size": 0, "plain_sha256": "0" * 64, "piece": b"", "piece_offset": 0,
            "hls": True}


def compact_stream(rec):
    """The compact document's stream fields (no size, no sha256)."""
    doc = {"stream": rec["stream"]}
    if rec.get("secure"):
        doc["sec"] = {"hls": 1}
    return doc



def record_from_urls(kind, urls, **fields):
    """A stream record's body from its source URLs (primary first): the address, directory and
    file name a record splits each into (one file name for all: a mount or playlist of the same
    name on each server), for the tools that take URLs (`add-stream`). Raises Invalid."""
    from urllib.parse import unquote, urlsplit
    if not urls:
        raise Invalid("a stream needs at least one source URL")
    parts = []
    for url in urls:
        u = urlsplit(url)
        if u.scheme not in ("http", "https") or not u.netloc or u.query or u.fragment:
            raise Invalid(f"{url!r} must be an http(s) URL without a query or fragment")
        directory, _, name = u.path.rpartition("/")
        if not name:
            raise Invalid(f"{url!r} must name a mount or a playlist (its path must not end in /)")
        parts.append((f"{u.scheme}://{u.netloc}", unquote(directory.strip("/")), unquote(name)))
    names = {p[2] for p in parts}
    if len(names) > 1:
        raise Invalid("every source of a stream must end in the same name (a mount or playlist of"
                      f" one name on each server): got {', '.join(sorted(names))}")
    (address, directory, name), rest = parts[0], parts[1:]
    return {"stream": kind, "primary_address": address, "primary_directory": directory,
            "file_name": name,
            "alternates": [{"address": a, "directory": d} for a, d, _ in rest], **fields}
