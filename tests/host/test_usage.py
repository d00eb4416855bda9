"""Usage statements: what devices' reports say per day, owner, media item and file server, from
the live reports and the daily rollup of those pruned; an owner sees only their own."""

import asyncio
import csv
import io
import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from host_server.app import init_app, prune
from host_server.db import Database, devices
from host_server.model import catalog, usage
from host_server.services import owners
from hostutil import bearer, login, media_doc, run_cli

PRIMARY, MIRROR = "http://127.0.0.1:8101", "http://127.0.0.1:8104"
DAY = 86400


def report(media, pos=0, status="played", src=None, n=0, errors=()):
    return {"id": media, "pos": pos, "status": status, "src": src, "bytes": n, "ms": 5,
            "errors": [list(e) for e in errors]}


async def owner_media(db, name, n, **extra):
    """A new owner account with one media record of its own: (owner id, token, media id)."""
    owner, token = await owners.create_owner(db, name)
    media = await db.owners.add_media(owner, catalog.validate_media(media_doc(n, **extra)))
    return owner, token, media


async def test_a_failover_counts_away_from_one_server_and_onto_the_other(db_path, clock, seeded):
    db = await Database(db_path, clock=clock).connect()
    try:
        owner, _, media = await owner_media(db, "Label", 7)
        await db.devices.add_report("dev1", report(
            media, src=MIRROR + "/m/a.wav", n=1000,
            errors=[(PRIMARY + "/a.wav", "dropped at 100")]))
        await db.devices.add_report("dev2", report(media, src=PRIMARY + "/a.wav", n=1000))
        await db.devices.add_report("dev2", report(
            media, status="failed", n=10, errors=[(PRIMARY + "/a.wav", "refused"),
                                                  (MIRROR + "/m/a.wav", "404")]))
        doc = await db.usage.statement(owner)
        day = usage.day_of(clock())
        assert doc["rows"] == [
            {"day": day, "owner": owner, "media": media, "title": "Tone 7", "server": PRIMARY,
             "plays": 1, "failed": 0, "bytes": 1000, "source_errors": 2, "failovers_away": 2,
             "failovers_onto": 0, "devices": 2},
            {"day": day, "owner": owner, "media": media, "title": "Tone 7", "server": MIRROR,
             "plays": 1, "failed": 1, "bytes": 1010, "source_errors": 1, "failovers_away": 0,
             "failovers_onto": 2, "devices": 2}]
        assert doc["totals"] == {"plays": 2, "failed": 1, "bytes": 2010, "source_errors": 3,
                                 "failovers_away": 2, "failovers_onto": 2, "devices": 2}
        assert (await db.usage.statement(None))["rows"] == doc["rows"]
        other, _, _ = await owner_media(db, "Other", 8)
        assert (await db.usage.statement(other))["rows"] == []
    finally:
        await db.close()


async def test_pruned_reports_stay_in_the_statement_and_a_removed_item_stays_its_owners(
        db_path, clock, seeded):
    db = await Database(db_path, clock=clock).connect()
    try:
        owner, _, media = await owner_media(db, "Label", 7)
        await db.devices.add_report("dev1", report(media, src=PRIMARY + "/a", n=500))
        before = await db.usage.statement()
        clock.advance(40 * DAY)
        await db.devices.add_report("dev1", report(media, pos=1, src=PRIMARY + "/a", n=500))
        assert await prune(db, retention_days=30) == (1, 0)
        await db.owners.remove_media(owner, media)
        after = await db.usage.statement(owner)
        assert [(r["day"], r["plays"], r["bytes"], r["title"]) for r in after["rows"]] == [
            (before["rows"][0]["day"], 1, 500, ""), (usage.day_of(clock()), 1, 500, "")]
        assert after["totals"]["devices"] == 1
        only_first = await db.usage.statement(owner, until=before["rows"][0]["day"])
        assert [r["bytes"] for r in only_first["rows"]] == [500]
    finally:
        await db.close()


# -- totals equal the reports, across prunes ----------------------------------------------

URLS = [PRIMARY + "/a.wav", MIRROR + "/m/a.wav", "http://127.0.0.1:8105/b.wav", "key", None]
START = 1_800_000_000.0 - 3 * 3600   # three hours before a UTC day's end: reports span days

reports_strategy = st.lists(st.tuples(
    st.floats(0, 4 * DAY, allow_nan=False),                   # at, after START
    st.sampled_from(["dev1", "dev2", "dev3"]),
    st.sampled_from([None, 1, 2]),                            # owner account
    st.integers(1, 3),                                        # media
    st.sampled_from(["played", "failed"]),
    st.sampled_from(URLS),                                    # src
    st.integers(0, 10 ** 9),                                  # bytes
    st.lists(st.tuples(st.sampled_from(URLS[:4]), st.sampled_from(["refused", "404"])),
             max_size=4)), max_size=40)


async def _check_totals(db_path, reports, cuts):
    db = await Database(db_path).connect()
    try:
        async with db.transaction() as c:
            for table in ("reports", "usage_daily", "usage_devices"):
                await c.execute(f"DELETE FROM {table}")
            for device in ("dev1", "dev2", "dev3"):
                await c.execute("INSERT INTO devices (id, secret, created) VALUES (?, 'x', 0)"
                                " ON CONFLICT DO NOTHING", (device,))
            await c.executemany(
                "INSERT INTO reports (at, device, owner_account, media, status, source, bytes,"
                " errors, pos, ms, advanced) VALUES (?, ?, ?, ?, ?, ?, ?, ?, 0, 0, 0)",
                [(START + r[0], *r[1:7], json.dumps([list(e) for e in r[7]]))
                 for r in reports])
        whole = usage.statement(usage.tally(
            (START + r[0], *r[1:7], [list(e) for e in r[7]]) for r in reports))
        every_day = sorted({usage.day_of(START + r[0]) for r in reports})
        for cut in [None] + sorted(cuts) + ["remove dev3"]:
            if cut == "remove dev3":   # its plays stay in the statement
                await db.devices.remove("dev3")
            elif cut is not None:
                left = sum(START + r[0] >= START + cut for r in reports)
                await db.devices.prune_reports(START + cut)
                assert (await db.fetchone("SELECT count(*) FROM reports"))[0] == left
            doc = await db.usage.statement()
            strip = [{k: v for k, v in r.items() if k != "title"} for r in doc["rows"]]
            assert strip == whole["rows"]
            t = doc["totals"]
            assert t["plays"] == sum(r[4] == "played" for r in reports)
            assert t["failed"] == sum(r[4] == "failed" for r in reports)
            assert t["bytes"] == sum(r[6] for r in reports)
            assert t["source_errors"] == sum(len(r[7]) for r in reports)
            assert t["failovers_away"] == t["failovers_onto"]
            assert t["devices"] == len({r[1] for r in reports})
            by_owner = [r for o in (usage.NO_OWNER, 1, 2)
                        for r in (await db.usage.statement(o))["rows"]]
            assert sorted(by_owner, key=_key) == doc["rows"]
            per_media = await db.usage.statement(by=("media",))
            assert per_media["totals"] == t
            assert [(r["media"], r["plays"], r["devices"]) for r in per_media["rows"]] == [
                (m, sum(r[3] == m and r[4] == "played" for r in reports),
                 len({r[1] for r in reports if r[3] == m})) for m in sorted({r[3] for r in reports})]
            per_day_server = await db.usage.statement(by=("day", "server"))
            assert per_day_server["totals"] == t
            assert sum(r["devices"] for r in per_day_server["rows"]) >= t["devices"]
            if every_day:
                day = every_day[len(every_day) // 2]
                one_day = await db.usage.statement(since=day, until=day)
                assert one_day["rows"] == [r for r in doc["rows"] if r["day"] == day]
    finally:
        await db.close()


def _key(row):
    return row["day"], row["owner"] or usage.NO_OWNER, row["media"], row["server"]


@settings(max_examples=30, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(reports=reports_strategy, cuts=st.lists(st.floats(0, 5 * DAY, allow_nan=False), max_size=3))
def test_rollup_and_live_reports_together_equal_what_the_reports_said_across_prunes_and_removals(
        db_path, monkeypatch, reports, cuts):
    monkeypatch.setattr(devices, "PRUNE_BATCH", 3)   # a prune takes several transactions
    asyncio.run(_check_totals(db_path, reports, cuts))


# -- who sees what ------------------------------------------------------------------------

async def test_an_owner_sees_only_their_own_usage_and_the_operator_all(
        aiohttp_client, db_path, clock, seeded):
    db = await Database(db_path, clock=clock).connect()
    _, token, mine = await owner_media(db, "Label", 7)
    _, other_token, theirs = await owner_media(db, "Other", 8)
    await db.close()
    client = await aiohttp_client(init_app(probe_interval=0, db=db_path, clock=clock))
    h = bearer(await login(client))
    for media, n in ((mine, 100), (theirs, 200), (seeded["media"][0], 300)):
        resp = await client.post("/api/v1/report", headers=h,
                                 json=report(media, 5, src=PRIMARY + "/x", n=n))
        assert resp.status == 200
    resp = await client.get("/api/v1/owner/usage", headers=bearer(token))
    assert resp.status == 200
    doc = await resp.json()
    assert [(r["media"], r["bytes"]) for r in doc["rows"]] == [(mine, 100)]
    assert "owner" not in doc["rows"][0] and doc["totals"]["bytes"] == 100
    day = doc["rows"][0]["day"]
    resp = await client.get(f"/api/v1/owner/usage?since={day}&until={day}",
                            headers=bearer(other_token))
    assert [(r["media"], r["bytes"]) for r in (await resp.json())["rows"]] == [(theirs, 200)]
    resp = await client.get("/api/v1/owner/usage?since=2099-01-01", headers=bearer(token))
    assert (await resp.json())["rows"] == []
    for bad in ("since=yesterday", "until=2026-02-30", "since=2026-1-1", "until=%00"):
        resp = await client.get("/api/v1/owner/usage?" + bad, headers=bearer(token))
        assert resp.status == 400, bad
    assert (await client.get("/api/v1/owner/usage")).status == 401


def test_the_operator_exports_everyones_usage_as_csv(db_path, tmp_path):
    async def setup():
        db = await Database(db_path).connect()
        _, _, mine = await owner_media(db, "Label", 7, title="=1+1")
        await db.devices.add("dev1", "", "00" * 16)
        await db.devices.add_report("dev1", report(mine, src=PRIMARY + "/x", n=100))
        await db.devices.add_report("dev1", report(99, status="failed"))
        await db.close()
        return mine
    mine = asyncio.run(setup())
    out = tmp_path / "usage.csv"
    run_cli("usage", "--csv", str(out), db=db_path, check=0)
    rows = list(csv.DictReader(io.StringIO(out.read_text())))
    assert [(r["owner"], r["media"], r["title"], r["server"], r["plays"], r["failed"], r["bytes"])
            for r in rows] == [("", "99", "", "", "0", "1", "0"),
                               ("Label", str(mine), "'=1+1", PRIMARY, "1", "0", "100")]
    shown = run_cli("usage", "--owner", "Label", "--until", "2099-12-31", db=db_path,
                    check=0).stdout
    assert "Label" in shown and "total: 1 plays, 0 failed, 100 bytes" in shown
    stdout = run_cli("usage", "--csv", "-", "--since", "2099-01-01", db=db_path, check=0).stdout
    assert stdout.splitlines() == [",".join(("day", "owner", "media", "title", "server", "plays",
                                             "failed", "bytes", "source_errors", "failovers_away",
                                             "failovers_onto", "devices"))]
    per_owner = run_cli("usage", "--by", "owner", "--csv", "-", db=db_path, check=0).stdout
    assert per_owner.splitlines() == [
        "owner,plays,failed,bytes,source_errors,failovers_away,failovers_onto,devices",
        ",0,1,0,0,0,0,1", "Label,1,0,100,0,0,0,1"]
    assert run_cli("usage", "--owner", "Nobody", db=db_path).returncode == 1
    assert "by must name some of" in run_cli("usage", "--by", "week", db=db_path).stderr


def test_migration_0012_gives_the_reports_made_before_it_their_items_owner(tmp_path):
    import sqlite3
    from host_server.db import migrations
    path = str(tmp_path / "meta.db")
    conn = sqlite3.connect(path)
    for version, script in migrations():
        if version < 12:
            conn.executescript(script.read_text() + f"\nPRAGMA user_version = {version};")
    conn.executescript(
        "INSERT INTO owners (id, name, created) VALUES (4, 'Label', 0);"
        "INSERT INTO media (id, size, sha256, type, primary_address, primary_directory, file_name,"
        " compact, created, owner_account) VALUES (9, 1, '" + "ab" * 32 + "', 'audio/wav',"
        " 'http://a', '/m', 'x.wav', '{}', 0, 4);"
        "INSERT INTO devices (id, secret, created) VALUES ('dev1', 'x', 0);"
        "INSERT INTO reports (device, media, pos, status, source, bytes, ms, advanced, at)"
        " VALUES ('dev1', 9, 0, 'played', 'http://a/m/x.wav', 5, 0, 0, 1800000000),"
        " ('dev1', 3, 0, 'played', 'http://a/m/y.wav', 7, 0, 0, 1800000000);")
    conn.close()

    async def statement():
        db = await Database(path).connect()
        try:
            return await db.usage.statement(4), await db.usage.statement()
        finally:
            await db.close()
    mine, everyone = asyncio.run(statement())
    assert [(r["media"], r["bytes"], r["server"]) for r in mine["rows"]] == [(9, 5, "http://a")]
    assert [(r["owner"], r["media"]) for r in everyone["rows"]] == [(None, 3), (4, 9)]
