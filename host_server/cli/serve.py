"""The serve command: the one command that imports the web stack (aiohttp), and only when run."""

import asyncio
import errno
import logging
import os
import socket

from .. import settings as settings_table
from ..model.display import log_to_stderr
from .output import CliError


def add_commands(sub):
    s = sub.add_parser("serve", help="run the meta server")
    s.add_argument("--host", default="127.0.0.1",
                   help="the address to listen on (default 127.0.0.1; 0.0.0.0: every interface)")
    s.add_argument("--port", type=settings_table.port_number, default=8000,
                   help="the port to listen on (default 8000; 0 binds a free port)")
    s.add_argument("--no-access-log", action="store_true", help="do not log one line per request")
    settings_table.add_serve_options(s)


async def serve(settings, host, port, access_log=True):
    """Run the meta server until SIGINT/SIGTERM; print LISTENING once it accepts connections."""
    from aiohttp import web

    from ..app import init_app
    from ..serving import ConnectionLimits, serve_until_stopped
    app = init_app(settings)
    # handler_cancellation: a request whose client has gone is cancelled (an owner's registration
    # stops fetching their sources when they hang up)
    runner = web.AppRunner(app, access_log=logging.getLogger("aiohttp.access") if access_log else None,
                           handler_cancellation=True)
    # a load balancer's connections carry many devices': no per-address cap for them
    limits = ConnectionLimits.of(settings, exempt=settings.trusted_proxies)
    await serve_until_stopped(runner, host, port, limits)  # setup opens and migrates the database


LISTEN_ERRORS = {errno.EADDRINUSE: "another process listens there: choose another --port, or 0 for"
                                    " a free one",
                 errno.EADDRNOTAVAIL: "no interface of this machine has that address: give one of"
                                      " its own, or 0.0.0.0 for all",
                 errno.EACCES: "ports below 1024 need root: choose a port from 1024"}


def listen_error(exc, host, port):
    """What an OSError from binding host:port means, and what to do."""
    if isinstance(exc, socket.gaierror):
        return f"cannot listen on {host}: not an address or a known host name ({exc.strerror})"
    why = os.strerror(exc.errno) if exc.errno else str(exc)
    hint = LISTEN_ERRORS.get(exc.errno)
    return f"cannot listen on {host}:{port}: {why}" + (f" ({hint})" if hint else "")


def run(args):
    log_to_stderr()
    settings = settings_table.from_options(args)
    try:
        asyncio.run(serve(settings, args.host, args.port, not args.no_access_log))
    except OSError as exc:
        if isinstance(exc, socket.gaierror) or "bind" in str(exc):
            raise CliError(listen_error(exc, args.host, args.port)) from None
        raise
