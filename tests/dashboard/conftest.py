import os
import sys

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "host"))

from host_server.model import catalog  # noqa: E402
from host_server.app import init_app  # noqa: E402
from host_server.dashboard.passwords import hash_password  # noqa: E402
from host_server.db import Database  # noqa: E402
from hostutil import SECRET, FakeClock, media_doc  # noqa: E402

from dashutil import PASSWORD  # noqa: E402


CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


@pytest.fixture
async def browser():
    """Debian's headless Chromium, driven by Playwright."""
    from playwright.async_api import async_playwright
    assert os.path.exists(CHROMIUM), "Debian's chromium is missing: `make test` installs it"
    async with async_playwright() as p:
        b = await p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield b
        finally:
            await b.close()


@pytest.fixture
def clock():
    return FakeClock()


@pytest.fixture
async def seeded(db_path, clock):
    """Media 1-3; program "Three" (1,2,3) for dev1 (default); dev2 with none; operator "ops"."""
    db = await Database(db_path, clock=clock).connect()
    ids = [await db.catalog.add_media(catalog.validate_media(media_doc(n))) for n in (1, 2, 3)]
    three = await db.catalog.add_program("Three", ids)
    await db.devices.add("dev1", "Device one", SECRET)
    await db.devices.add("dev2", "Device two", SECRET)
    await db.devices.assign("dev1", "Three", default=True)
    await db.operators.add("ops", hash_password(PASSWORD))
    await db.close()
    return {"media": ids, "three": three}


@pytest.fixture
async def client(aiohttp_client, db_path, clock, seeded):
    return await aiohttp_client(init_app(probe_interval=0, db=db_path, clock=clock))
