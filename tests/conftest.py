"""The database engines the meta server's tests run against: each test that takes `db_path`
runs once on a SQLite file and once on a fresh PostgreSQL database (a throwaway cluster per
test worker, simulator.pgcluster; each database a copy of one migrated template)."""

import asyncio
import itertools
import os
import sys

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if REPO not in sys.path:
    sys.path.insert(0, REPO)

from host_server.db import Database  # noqa: E402
from simulator.pgcluster import Cluster  # noqa: E402

_names = itertools.count(1)


@pytest.fixture(scope="session")
def pg_cluster():
    """A PostgreSQL cluster on a loopback port, with a migrated template database."""
    cluster = Cluster().start()
    try:
        url = cluster.create_database("meta_template")

        async def migrate():
            await (await Database(url).connect()).close()
        asyncio.run(migrate())
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture(params=("sqlite", "postgres"))
def db_path(request, tmp_path):
    """A new, migrated (postgres) or not yet created (sqlite) database: its path or URL."""
    if request.param == "sqlite":
        return str(tmp_path / "meta.db")
    cluster = request.getfixturevalue("pg_cluster")
    return cluster.create_database(f"t{next(_names)}", template="meta_template")
