import pytest

from host_server.model import catalog
from host_server.app import init_app
from host_server.db import Database
from hostutil import SECRET, FakeClock, media_doc


@pytest.fixture
def clock():
    return FakeClock()


@pytest.fixture
async def seeded(db_path, clock):
    """Media 1-3; program "Three" (1,2,3), "Empty", "Other" (3); dev1 entitled to Three
    (default) and Empty; dev2 exists with no program."""
    db = await Database(db_path, clock=clock).connect()
    ids = [await db.catalog.add_media(catalog.validate_media(media_doc(n))) for n in (1, 2, 3)]
    three = await db.catalog.add_program("Three", ids)
    empty = await db.catalog.add_program("Empty", [])
    other = await db.catalog.add_program("Other", [ids[2]])
    await db.devices.add("dev1", "Device one", SECRET)
    await db.devices.add("dev2", "Device two", SECRET)
    await db.devices.assign("dev1", "Three", default=True)
    await db.devices.assign("dev1", "Empty")
    await db.close()
    return {"media": ids, "three": three, "empty": empty, "other": other}


@pytest.fixture
async def client(aiohttp_client, db_path, clock, seeded):
    return await aiohttp_client(init_app(probe_interval=0, db=db_path, clock=clock))
