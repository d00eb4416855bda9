"""The meta server with cProfile on while it serves (not while it imports and starts):

    python -m bench.profiled --db FILE --out PROFILE

Prints "LISTENING http://127.0.0.1:<port>"; on SIGINT/SIGTERM writes the profile and exits.
"""
import argparse
import asyncio
import cProfile
import sys

from aiohttp import web

from host_server.app import init_app
from host_server.serving import serve_until_stopped


def main(argv=None):
    p = argparse.ArgumentParser(prog="python -m bench.profiled", description=__doc__.splitlines()[0])
    p.add_argument("--db", required=True)
    p.add_argument("--out", required=True)
    a = p.parse_args(argv)
    prof = cProfile.Profile()
    app = init_app(db=a.db)

    async def on(_app):
        prof.enable()

    async def off(_app):
        prof.disable()

    app.on_startup.append(on)
    app.on_shutdown.append(off)
    try:
        asyncio.run(serve_until_stopped(web.AppRunner(app, access_log=None), "127.0.0.1", 0))
    except KeyboardInterrupt:
        pass
    prof.disable()
    prof.dump_stats(a.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
