"""A small HTTP/1.1 file server for media owners who run none.

    python -m host_server.fileserver --root DIR [--host 127.0.0.1] [--port 0] [--signing-secret-file F]

Prints "LISTENING http://<host>:<port>" on stdout once it accepts connections. Serves regular
files under DIR with GET and HEAD, a single Range (206; 416 with "Content-Range: bytes */<size>"
when unsatisfiable; a multi-range request is answered 416), Content-Length, ETag,
Last-Modified, conditional requests and keep-alive, through aiohttp's FileResponse (sendfile:
a large file is never read into memory). No path leaves the root: "..", "." segments (also
percent-encoded), backslashes, NULs and symlinks that resolve outside the root give 404, as do
directories (no listings). One log line per request on stderr. Slow clients and floods are
bounded as on the meta server (serving.py: header, body and keep-alive deadlines, caps of
connections per address and in all; the options --header-timeout and the like).

With --metrics-net NETWORK, GET /metrics answers Prometheus's text format (metrics.FileMetrics:
requests by status, bytes served) to that network's addresses, 403 to others; a file named
"metrics" at the root is then not served.

With --signing-secret-file FILE (the secret the meta server signs this server's URLs with, for
an owner who requires signed URLs), a file is served only by a URL signed as nginx's secure_link
checks it (model/signing.py): 403 when its signature is missing or wrong, 410 once it expired.
"""

import argparse
import asyncio
import dataclasses
import logging
import os
import socket
import sys
import time

from aiohttp import web

from . import settings
from .keys import FILE_METRICS, FILE_ROOT, FILE_SIGNING
from .metrics import FileMetrics
from .model import signing
from .model.display import log_to_stderr
from .model.errors import Invalid
from .serving import ConnectionLimits, add_limit_options, serve_until_stopped
from .settings import port_number


class PlainFileResponse(web.FileResponse):
    """FileResponse without its pre-compressed sibling lookup.

    FileResponse would send "x.wav.gz" for "x.wav" to a client accepting gzip; a device
    resuming with Range needs the stored bytes, and an owner may keep unrelated .gz files.
    """

    def _get_file_path_stat_encoding(self, accept_encoding):
        return super()._get_file_path_stat_encoding("")

    async def _sendfile(self, request, fobj, offset, count):
        writer = await super()._sendfile(request, fobj, offset, count)
        request.app[FILE_METRICS].bytes_served.inc(count)   # sent in full: a dropped one is not
        return writer


def resolve(root, rel):
    """The real path of rel (a decoded URL path) under root, or None when it must not be served."""
    segments = [s for s in rel.split("/") if s]
    if any(s in (".", "..") or "\\" in s or "\0" in s for s in segments):
        return None
    path = os.path.realpath(os.path.join(root, *segments))
    if os.path.commonpath([root, path]) != root or not os.path.isfile(path):
        return None
    return path


async def serve_file(request):
    if request.app[FILE_SIGNING] is not None:
        secret, clock = request.app[FILE_SIGNING]
        found = signing.check(secret, request.raw_path.partition("?")[0], request.query_string,
                              clock())
        if found == signing.FORBIDDEN:
            raise web.HTTPForbidden(text="this URL's signature is missing or wrong\n")
        if found == signing.EXPIRED:
            raise web.HTTPGone(text="this URL has expired: ask the meta server for a new one\n")
    path = resolve(request.app[FILE_ROOT], request.match_info["path"])
    if path is None:
        raise web.HTTPNotFound()
    return PlainFileResponse(path)


async def count_answer(request, response):
    """on_response_prepare: each answer by its status, known only here (a FileResponse decides
    on 206, 304 or 416 as it starts)."""
    method = request.method if request.method in ("GET", "HEAD") else "other"   # bounded labels
    request.app[FILE_METRICS].requests.labels(method, str(response.status)).inc()


async def metrics(request):
    m = request.app[FILE_METRICS]
    if not m.readers.allow(request.remote):
        raise web.HTTPForbidden(text="this address may not read the metrics (--metrics-net)\n")
    body, content_type = m.answer(request.headers.get("Accept"))
    return web.Response(body=body, headers={"Content-Type": content_type})


def init_app(root, metrics_nets=(), signing_secret=None, clock=time.time):
    """signing_secret: serve only URLs signed with it (model/signing.py), by clock's time."""
    root = os.path.realpath(root)
    if not os.path.isdir(root):
        raise ValueError(f"root {root} is not a directory")
    app = web.Application()
    app.on_response_prepare.append(count_answer)
    app[FILE_ROOT] = root
    app[FILE_METRICS] = FileMetrics(metrics_nets)   # a bad network fails here
    app[FILE_SIGNING] = None if signing_secret is None else (
        signing.check_secret(signing_secret, "the signing secret"), clock)
    if app[FILE_METRICS].readers.on:
        app.router.add_get("/metrics", metrics)
    app.router.add_get("/{path:.*}", serve_file)
    return app


async def serve(root, host, port, limits=None, metrics_nets=(), signing_secret=None):
    runner = web.AppRunner(init_app(root, metrics_nets, signing_secret),
                           access_log=logging.getLogger("aiohttp.access"))
    await serve_until_stopped(runner, host, port, limits)


def main(argv=None):
    p = argparse.ArgumentParser(prog="python -m host_server.fileserver",
                                description="Serve one directory over HTTP/1.1 with Range support.")
    p.add_argument("--root", required=True, help="directory to serve")
    p.add_argument("--host", default="127.0.0.1",
                   help="the address to listen on (default 127.0.0.1; 0.0.0.0: every interface)")
    p.add_argument("--port", type=port_number, default=0, help="0 (default) binds a free port")
    add_limit_options(p)   # the meta server's settings of the same names, same defaults
    settings.add_option(p, dataclasses.replace(
        settings.BY_NAME["metrics_nets"], help="a network whose addresses may read the Prometheus"
        " metrics at GET /metrics (repeatable, e.g. 127.0.0.0/8; none: /metrics is off)"))
    p.add_argument("--signing-secret-file", metavar="FILE",
                   help="serve only URLs signed with the secret this file holds (the one the"
                        " meta server signs this server's URLs with; 403 unsigned, 410 expired)")
    args = p.parse_args(argv)
    log_to_stderr("%(asctime)s %(message)s")
    try:
        secret = read_secret(args.signing_secret_file) if args.signing_secret_file else None
        asyncio.run(serve(args.root, args.host, args.port, ConnectionLimits.of(args),
                          args.metrics_nets, secret))
    except (ValueError, OSError, Invalid) as exc:
        print(f"error: {_why(exc, args)}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    return 0


def read_secret(path):
    """The signing secret a file holds (one line), or Invalid/OSError saying what is wrong."""
    with open(path, encoding="ascii", errors="replace") as f:
        secret = f.read(1024).strip()
    return signing.check_secret(secret, f"the secret in {path}")


def _why(exc, args):
    """A failure to listen in words, with what to do (as the meta server's serve says it)."""
    if isinstance(exc, socket.gaierror) or (isinstance(exc, OSError) and "bind" in str(exc)):
        from .cli.serve import listen_error
        return listen_error(exc, args.host, args.port)
    return exc


if __name__ == "__main__":
    sys.exit(main())
