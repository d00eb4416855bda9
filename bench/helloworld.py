"""The baseline for the meta server: an aiohttp app answering every GET with one prebuilt body.

    python -m bench.helloworld --body FILE [--port 0]

Prints "LISTENING http://127.0.0.1:<port>" when ready; no access log (like the meta server as
benchmarked); stops on SIGINT/SIGTERM.
"""
import argparse
import asyncio
import sys

from aiohttp import web

from host_server.serving import serve_until_stopped


def init_app(body):
    async def hello(request):
        return web.Response(body=body, content_type="application/json")

    app = web.Application()
    app.router.add_get("/{tail:.*}", hello)
    return app


def main(argv=None):
    p = argparse.ArgumentParser(prog="python -m bench.helloworld", description=__doc__.splitlines()[0])
    p.add_argument("--body", required=True, help="file whose bytes every answer carries")
    p.add_argument("--port", type=int, default=0)
    a = p.parse_args(argv)
    with open(a.body, "rb") as f:
        body = f.read()
    runner = web.AppRunner(init_app(body), access_log=None)
    try:
        asyncio.run(serve_until_stopped(runner, "127.0.0.1", a.port))
    except KeyboardInterrupt:
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
