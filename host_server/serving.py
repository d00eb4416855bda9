"""Running an aiohttp app until SIGINT/SIGTERM, announcing the bound address on stdout; the
address a request came from, through a trusted load balancer."""
import asyncio
import signal

from aiohttp import web

from .keys import SETTINGS

MAX_ADDRESS = 64   # characters of an address kept (login limits and key requests are per address)


def client_address(request):
    """The device's network address: what X-Forwarded-For's last hop says when the request came
    from a trusted load balancer (Settings.trusted_proxies; nginx sets the header), else the
    peer's own address. Anyone else's X-Forwarded-For is ignored: a device could forge it to
    dodge the per-address login limit."""
    remote = request.remote or ""
    if remote in request.app[SETTINGS].trusted_proxies:
        forwarded = request.headers.get("X-Forwarded-For", "").rsplit(",", 1)[-1].strip()
        if forwarded:
            return forwarded[:MAX_ADDRESS]
    return remote


async def serve_until_stopped(runner, host, port):
    """Sets up ``runner``, binds, prints ``LISTENING http://host:port`` (the real port when 0
    was asked for) so a parent process knows it is ready, and serves until signalled."""
    await runner.setup()
    try:
        site = web.TCPSite(runner, host, port)
        await site.start()
        bound = runner.addresses[0]
        shown = f"[{bound[0]}]" if ":" in bound[0] else bound[0]
        print(f"LISTENING http://{shown}:{bound[1]}", flush=True)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await stop.wait()
    finally:
        await runner.cleanup()
