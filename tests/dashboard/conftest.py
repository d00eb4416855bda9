import os
import sys

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "host"))

from host_server import catalog, db_dashboard  # noqa: E402
from host_server.app import init_app  # noqa: E402
from host_server.dashboard.passwords import hash_password  # noqa: E402
from host_server.db import Database  # noqa: E402
from hostutil import SECRET, FakeClock, media_doc  # noqa: E402

from dashutil import PASSWORD  # noqa: E402


@pytest.fixture
def clock():
    return FakeClock()


@pytest.fixture
async def seeded(db_path, clock):
    """Media 1-3; program "Three" (1,2,3) for dev1 (default); dev2 with none; operator "ops"."""
    db = await Database(db_path, clock=clock).connect()
    ids = [await db.add_media(catalog.validate_media(media_doc(n))) for n in (1, 2, 3)]
    three = await db.add_program("Three", ids)
    await db.add_device("dev1", "Device one", SECRET)
    await db.add_device("dev2", "Device two", SECRET)
    await db.assign("dev1", "Three", default=True)
    await db_dashboard.add_operator(db, "ops", hash_password(PASSWORD))
    await db.close()
    return {"media": ids, "three": three}


@pytest.fixture
async def client(aiohttp_client, db_path, clock, seeded):
    return await aiohttp_client(init_app(db=db_path, clock=clock))
