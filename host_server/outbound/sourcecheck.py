"""Checking a media file's sources at registration: reachable, size and sha256 as claimed.

Each source is fetched with a GET and hashed as it streams (never loaded whole), with short
connect and read timeouts; all sources of a record are checked at once. Content encoding is
refused (identity only): the hash is of the stored bytes, as a device receives them.
"""

import asyncio
import hashlib

import aiohttp

CHUNK = 64 * 1024


def connect_error(exc):
    """A short reason for an aiohttp.ClientConnectorError."""
    err = exc.os_error
    if isinstance(err, ConnectionRefusedError):
        return "connection refused"
    if isinstance(err, OSError) and err.strerror:
        return err.strerror
    return str(err or exc)


async def _check(session, url, size, sha256):
    """None when the source serves exactly the claimed bytes, else why not (a short string)."""
    try:
        async with session.get(url, headers={"Accept-Encoding": "identity"},
                               allow_redirects=True, max_redirects=3) as resp:
            if resp.status != 200:
                return f"status {resp.status}"
            if resp.headers.get("Content-Encoding", "identity") != "identity":
                return f"content encoded ({resp.headers['Content-Encoding']}), not the stored bytes"
            length = resp.content_length
            if length is not None and length != size:
                return f"size {length}, claimed {size}"
            digest = hashlib.sha256()
            got = 0
            async for chunk in resp.content.iter_chunked(CHUNK):
                got += len(chunk)
                if got > size:
                    return f"more than the claimed {size} bytes"
                digest.update(chunk)
            if got != size:
                return f"size {got}, claimed {size}"
            if digest.hexdigest() != sha256:
                return "sha256 differs from the claimed one"
            return None
    except asyncio.TimeoutError:
        return "timeout"
    except aiohttp.ClientConnectorError as exc:
        return f"cannot connect: {connect_error(exc)}"
    except aiohttp.TooManyRedirects:
        return "too many redirects"
    except aiohttp.ClientError as exc:
        return f"failed: {exc.__class__.__name__} {exc}".strip()


async def check_sources(urls, size, sha256, timeout=5.0):
    """[{"url", "ok", "why"}] for each URL, in order; why is "" when ok.

    timeout bounds connecting and each wait for data, not the whole transfer (files are large).
    """
    timeout = aiohttp.ClientTimeout(total=None, sock_connect=timeout, sock_read=timeout)
    async with aiohttp.ClientSession(timeout=timeout, auto_decompress=False) as session:
        whys = await asyncio.gather(*(_check(session, u, size, sha256) for u in urls))
    return [{"url": u, "ok": why is None, "why": why or ""} for u, why in zip(urls, whys)]
