"""The serve command: the one command that imports the web stack (aiohttp), and only when run."""

import asyncio
import logging

from .. import settings as settings_table
from ..model.display import log_to_stderr


def add_commands(sub):
    s = sub.add_parser("serve", help="run the meta server")
    s.add_argument("--host", default="127.0.0.1")
    s.add_argument("--port", type=int, default=8000, help="0 binds a free port")
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


def run(args):
    log_to_stderr()
    asyncio.run(serve(settings_table.from_options(args), args.host, args.port,
                      not args.no_access_log))
