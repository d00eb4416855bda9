"""Running an aiohttp app until SIGINT/SIGTERM, announcing the bound address on stdout."""
import asyncio
import signal

from aiohttp import web


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
