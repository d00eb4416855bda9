"""Checking a media file's sources at registration: reachable, size and sha256 as claimed. A
stream's sources (model/streams.py) have no size and no hash: a live mount must answer 200 and
send audio bytes, an HLS source must answer 200 with a playlist (#EXTM3U); at most STREAM_PEEK
bytes of either are read.

Each source is fetched with a GET and hashed as it streams (never loaded whole, never more than
the claimed size plus one chunk), through the source policy (policy.py: public addresses only,
at every redirect hop), with connect and read timeouts and a total deadline; all sources of a
record are checked at once. Content encoding is refused (identity only): the hash is of the
stored bytes, as a device receives them.

What the owner is told says which kind of failure it was, never what answered: no lengths, no
banners, no exception text (the owner may be probing what the meta server can reach).
"""

import asyncio
import collections
import contextlib
import hashlib

import aiohttp

from ..model.errors import Busy, RateLimited
from ..model.playback import WAV_HEAD
from .policy import SourceRefused

CHUNK = 64 * 1024
HEAD = WAV_HEAD   # bytes of the primary kept while it is checked: its format's header
MAX_REDIRECTS = 3
STREAM_PEEK = 16 * 1024   # bytes of a stream's source read at its check


def connect_error(exc):
    """A short reason for an aiohttp.ClientConnectorError: its kind, not its text."""
    err = exc.os_error
    if isinstance(err, SourceRefused):
        return f"refused: {err}"
    if isinstance(err, ConnectionRefusedError):
        return "connection refused"
    if isinstance(exc, aiohttp.ClientConnectorCertificateError):
        return ("its TLS certificate is not trusted (signed by a private CA? the operator can"
                " trust it with --source-ca-file)")
    if isinstance(exc, aiohttp.ClientSSLError):
        return "TLS handshake failed"
    if isinstance(exc, aiohttp.ClientConnectorDNSError):
        return "host name not found"
    return "connection failed"


async def _stream_why(resp, stream):
    """None when a stream's source (an open 200 answer) looks like its kind, else why not."""
    got = bytearray()
    async for chunk in resp.content.iter_chunked(CHUNK):
        got += chunk[:STREAM_PEEK - len(got)]
        if len(got) >= (STREAM_PEEK if stream == "live" else 7):
            break
    if stream == "hls":
        if not bytes(got).lstrip(b"\xef\xbb\xbf").startswith(b"#EXTM3U"):
            return "not an HLS playlist (no #EXTM3U)"
    elif not got:
        return "no audio bytes"
    return None


async def _check(session, url, size, sha256, head=None, stream=None):
    """None when the source serves exactly the claimed bytes (a stream: is a live mount or a
    playlist, _stream_why), else why not (a short string). head (a bytearray) receives the
    body's first bytes, up to HEAD bytes."""
    try:
        async with session.get(url, headers={"Accept-Encoding": "identity"},
                               allow_redirects=True, max_redirects=MAX_REDIRECTS) as resp:
            if resp.status != 200:
                return f"status {resp.status}"
            if resp.headers.get("Content-Encoding", "identity") != "identity":
                return "content encoded, not the stored bytes"
            if stream is not None:
                return await _stream_why(resp, stream)
            length = resp.content_length
            if length is not None and length != size:
                return "size differs from the claimed one"
            digest = hashlib.sha256()
            got = 0
            async for chunk in resp.content.iter_chunked(CHUNK):
                got += len(chunk)
                if got > size:
                    return "more bytes than the claimed size"
                digest.update(chunk)
                if head is not None and len(head) < HEAD:
                    head += chunk[:HEAD - len(head)]
            if got != size:
                return "size differs from the claimed one"
            if digest.hexdigest() != sha256:
                return "sha256 differs from the claimed one"
            return None
    except asyncio.TimeoutError:
        return "timeout"
    except aiohttp.ClientConnectorError as exc:
        return f"cannot connect: {connect_error(exc)}"
    except aiohttp.TooManyRedirects:
        return "too many redirects"
    except aiohttp.InvalidURL:
        return "invalid URL (or redirected to one)"
    except aiohttp.ClientError as exc:
        return f"failed: {exc.__class__.__name__}"


async def check_sources(urls, size, sha256, policy, timeout=5.0, deadline=60.0, head=None,
                        stream=None):
    """[{"url", "ok", "why"}] for each URL, in order; why is "" when ok.

    timeout bounds connecting and each wait for data; deadline the whole check of each source
    (a trickling source cannot hold the meta server longer). head, a bytearray, receives the
    first HEAD bytes of the first URL's body (the primary's: where a WAV header is read).
    stream: the record's stream kind (None: a stored file).
    """
    timeout = aiohttp.ClientTimeout(total=deadline, sock_connect=timeout, sock_read=timeout)
    async with aiohttp.ClientSession(timeout=timeout, auto_decompress=False,
                                     connector=policy.connector()) as session:
        whys = await asyncio.gather(*(_check(session, u, size, sha256, head if i == 0 else None,
                                             stream) for i, u in enumerate(urls)))
    return [{"url": u, "ok": why is None, "why": why or ""} for u, why in zip(urls, whys)]


class CheckSlots:
    """Registrations and updates checking sources right now, in all and per owner: one owner
    cannot take every slot, and no number of owners can make the server fetch without bound."""

    def __init__(self, total, per_owner):
        self.total = total
        self.per_owner = per_owner
        self.running = 0
        self.by_owner = collections.Counter()

    @contextlib.asynccontextmanager
    async def slot(self, owner):
        if self.by_owner[owner] >= self.per_owner:
            raise RateLimited(f"{self.per_owner} of your registrations are being checked already;"
                              " wait for them", 5)
        if self.running >= self.total:
            raise Busy("the server is checking as many sources as it may; try again shortly", 5)
        self.running += 1
        self.by_owner[owner] += 1
        try:
            yield
        finally:
            self.running -= 1
            self.by_owner[owner] -= 1
            if not self.by_owner[owner]:
                del self.by_owner[owner]
