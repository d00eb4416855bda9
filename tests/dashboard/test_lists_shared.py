"""Each list that both the operator's CLI and the dashboard show comes from one query: the rows
`python -m host_server list <what> --json` prints are the rows the dashboard serves, in the same
order, and its pages show them in that order."""

import asyncio
import json
import re

import pytest

from host_server.db import Database
from host_server.services import owners
from hostutil import run_cli

from dashutil import sign_in


async def _more(db_path, clock):
    """Owners whose names sort otherwise than their ids, a server that is down, reports."""
    db = await Database(db_path, clock=clock).connect()
    await owners.create_owner(db, "Zeta Records")
    await owners.create_owner(db, "Alpha Label")
    await db.health.record([("http://127.0.0.1:8104", False, "refused")])
    for n, status in enumerate(("played", "failed")):
        await db.devices.add_report("dev1", {"id": 1, "pos": 0, "status": status, "src": None,
                                             "bytes": n, "ms": 1, "errors": []})
    await db.close()


def _cli_rows(db_path, *args):
    return json.loads(run_cli(*args, "--json", db=db_path, check=0).stdout)


@pytest.mark.parametrize("what, page, key", [
    ("devices", None, "id"), ("media", "/dashboard/media", "title"),
    ("programs", "/dashboard/programs", "name"), ("owners", "/dashboard/owners", "name"),
    ("servers", "/dashboard/servers", "address")])
async def test_the_cli_and_the_dashboard_list_the_same_rows(client, db_path, clock, what, page, key):
    await _more(db_path, clock)
    await sign_in(client)
    rows = await asyncio.to_thread(_cli_rows, db_path, "list", what)
    assert rows, what
    resp = await client.get(f"/api/v1/operator/lists/{what}")
    assert resp.status == 200
    assert (await resp.json())["rows"] == rows
    if page:
        html = await (await client.get(page)).text()
        shown = [html.index(str(r[key])) for r in rows]
        assert shown == sorted(shown), f"{page} shows {what} in another order than the CLI"
    if what == "owners":
        assert [r["name"] for r in rows] == ["Alpha Label", "Zeta Records"]
    if what == "servers":
        assert rows[0]["address"] == "http://127.0.0.1:8104" and rows[0]["up"] is False
        assert rows[1]["why"] == "not checked yet"   # the same words on both


async def test_the_cli_and_the_dashboard_list_the_same_reports(client, db_path, clock):
    await _more(db_path, clock)
    await sign_in(client)
    rows = await asyncio.to_thread(_cli_rows, db_path, "reports")
    assert [r["status"] for r in rows] == ["failed", "played"]   # newest first
    failed = await asyncio.to_thread(_cli_rows, db_path, "reports", "--failed")
    assert [r["id"] for r in failed] == [rows[0]["id"]]
    html = await (await client.get("/dashboard/reports")).text()
    statuses = re.findall(r"\b(played|failed)\b</", html)
    assert statuses[:2] == ["failed", "played"]
    html = await (await client.get("/dashboard/reports?failed=1")).text()
    assert "failed</" in html and "played</" not in html
