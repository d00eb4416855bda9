"""The dashboard as an operator's tool, over HTTP: adding, editing and removing devices, programs
and their items, media and owners; search, filters and paging of media and reports; the overview's
figures; a stuck device's why and since when. Every answer is checked against docs/openapi.yaml,
and one run exercises every management operation it describes."""
import asyncio
import html
import json
import pathlib
import re

import pytest

from dashutil import sign_in
from host_server.db import Database
from host_server.model import catalog
from hostutil import bearer, login, media_doc, sql
from openapi_check import Api, Checker

DOC = pathlib.Path(__file__).resolve().parents[2] / "docs" / "openapi.yaml"
CHECKED_TAGS = ["manage", "monitoring", "root"]


@pytest.fixture
async def api(client):
    return Api(client, Checker.from_yaml(DOC.read_text()))


async def q(db_path, statement, args=()):
    return await asyncio.to_thread(sql, db_path, statement, args)


async def get_page(api, path, **query):
    """A page with a query string (its answer is checked by the pages' own calls)."""
    resp = await api.client.get(path, params=query)
    assert resp.status == 200
    return await resp.text()


def shown_error(page):
    found = re.search(r'id="error">([^<]*)<', page)
    return html.unescape(found.group(1)) if found else None


async def devices_flow(api, csrf, db_path):
    s, page, _ = await api.call("POST", "/dashboard/devices", data={
        "csrf": csrf, "id": "kitchen", "name": "Kitchen"})
    assert s == 200
    secret = re.search(r'id="secret">.*?<code>([0-9a-f]{32})</code>', page, re.S).group(1)
    await login(api.client, "kitchen", secret)   # the secret shown once is the device's
    s, page, _ = await api.call("POST", "/dashboard/devices", data={"csrf": csrf, "id": "kitchen"})
    assert s == 400 and "already exists" in shown_error(page)
    s, page, _ = await api.call("POST", "/dashboard/devices", data={"csrf": csrf, "id": "bad id!"})
    assert s == 400 and "id must be" in shown_error(page)
    kitchen = {"id": "kitchen"}
    s, _, resp = await api.call("POST", "/dashboard/devices/{id}/edit", kitchen,
                                data={"csrf": csrf, "name": "Kitchen radio"})
    assert s == 303 and resp.headers["Location"].startswith("/dashboard/devices/kitchen?msg=")
    assert await q(db_path, "SELECT name FROM devices WHERE id = 'kitchen'") == [("Kitchen radio",)]
    three = (await q(db_path, "SELECT id FROM programs WHERE name = 'Three'"))[0][0]
    s, _, _ = await api.call("POST", "/dashboard/devices/{id}/assign", kitchen,
                             data={"csrf": csrf, "program": str(three), "default": "1"})
    assert s == 303
    assert await q(db_path, "SELECT default_program FROM devices WHERE id = 'kitchen'") == [(three,)]
    s, page, _ = await api.call("GET", "/dashboard/devices/{id}", kitchen)
    assert s == 200 and "Kitchen radio" in page and "Three" in page
    s, _, _ = await api.call("POST", "/dashboard/devices/{id}/unassign", kitchen,
                             data={"csrf": csrf, "program": str(three)})
    assert s == 303
    assert await q(db_path, "SELECT default_program FROM devices WHERE id = 'kitchen'") == [(None,)]
    assert await q(db_path, "SELECT * FROM entitlements WHERE device = 'kitchen'") == []
    s, page, _ = await api.call("POST", "/dashboard/devices/{id}/unassign", kitchen,
                                data={"csrf": csrf, "program": str(three)})
    assert s == 400 and "not entitled" in shown_error(page)
    s, _, _ = await api.call("POST", "/dashboard/devices/{id}/state", kitchen,
                             data={"csrf": csrf, "state": "disabled"})
    assert s == 303
    assert (await q(db_path, "SELECT disabled FROM devices WHERE id = 'kitchen'"))[0][0] is not None
    s, page, _ = await api.call("GET", "/dashboard/devices/{id}", kitchen)
    assert "Enable" in page and "disabled" in page
    s, _, _ = await api.call("POST", "/dashboard/devices/{id}/state", kitchen,
                             data={"csrf": csrf, "state": "enabled"})
    assert s == 303
    assert (await q(db_path, "SELECT disabled FROM devices WHERE id = 'kitchen'"))[0][0] is None
    s, page, _ = await api.call("POST", "/dashboard/devices/{id}/remove", kitchen, data={"csrf": csrf})
    assert s == 400 and "confirm" in shown_error(page)
    assert await q(db_path, "SELECT id FROM devices WHERE id = 'kitchen'") == [("kitchen",)]
    s, _, _ = await api.call("POST", "/dashboard/devices/{id}/remove", kitchen,
                             data={"csrf": csrf, "confirm": "1"})
    assert s == 303
    assert await q(db_path, "SELECT id FROM devices WHERE id = 'kitchen'") == []
    s, page, _ = await api.call("GET", "/dashboard/devices/{id}", kitchen)
    assert s == 404 and "no device" in page
    s, page, _ = await api.call("POST", "/dashboard/devices/{id}/edit", kitchen,
                                data={"csrf": csrf, "name": "x"})
    assert s == 400 and "no device" in page


async def items_of(db_path, name):
    return [m for m, in await q(db_path, "SELECT pi.media FROM program_items pi JOIN programs p"
                                         " ON p.id = pi.program WHERE p.name = ? ORDER BY pi.pos",
                                (name,))]


async def programs_flow(api, csrf, db_path):
    three = (await q(db_path, "SELECT id FROM programs WHERE name = 'Three'"))[0][0]
    p = {"id": three}
    s, _, _ = await api.call("POST", "/dashboard/programs/{id}/items", p,
                             data={"csrf": csrf, "media": "1"})
    assert s == 303 and await items_of(db_path, "Three") == [1, 2, 3, 1]
    s, _, _ = await api.call("POST", "/dashboard/programs/{id}/items", p,
                             data={"csrf": csrf, "media": "3", "pos": "1"})
    assert s == 303 and await items_of(db_path, "Three") == [3, 1, 2, 3, 1]
    assert (await q(db_path, "SELECT n_items FROM programs WHERE id = ?", (three,)))[0][0] == 5
    s, page, _ = await api.call("POST", "/dashboard/programs/{id}/items", p,
                                data={"csrf": csrf, "media": "999"})
    assert s == 400 and "no media 999" in shown_error(page)
    # dev1 is at item 3 (media 2): removing item 1 keeps it on course, at the same media
    await q(db_path, "UPDATE entitlements SET pos = 2 WHERE device = 'dev1'")
    s, _, _ = await api.call("POST", "/dashboard/programs/{id}/items/remove", p,
                             data={"csrf": csrf, "pos": "0"})
    assert s == 303 and await items_of(db_path, "Three") == [1, 2, 3, 1]
    assert await q(db_path, "SELECT pos FROM entitlements WHERE device = 'dev1'") == [(1,)]
    s, page, _ = await api.call("POST", "/dashboard/programs/{id}/items/remove", p,
                                data={"csrf": csrf, "pos": "9"})
    assert s == 400 and "has no item 10" in shown_error(page)
    s, _, _ = await api.call("POST", "/dashboard/programs/{id}/move", p,
                             data={"csrf": csrf, "pos": "3", "dir": "up"})
    assert s == 303 and await items_of(db_path, "Three") == [1, 2, 1, 3]
    s, _, _ = await api.call("POST", "/dashboard/programs/{id}/rename", p,
                             data={"csrf": csrf, "name": "Morning"})
    assert s == 303 and await items_of(db_path, "Morning") == [1, 2, 1, 3]
    s, page, _ = await api.call("GET", "/dashboard/programs")
    assert "Morning" in page and "Three" not in page
    s, page, _ = await api.call("POST", "/dashboard/programs/{id}/remove", p, data={"csrf": csrf})
    assert s == 400 and "confirm" in shown_error(page)
    s, _, _ = await api.call("POST", "/dashboard/programs/{id}/remove", p,
                             data={"csrf": csrf, "confirm": "1"})
    assert s == 303
    assert await q(db_path, "SELECT id FROM programs WHERE id = ?", (three,)) == []
    assert await q(db_path, "SELECT default_program FROM devices WHERE id = 'dev1'") == [(None,)]
    assert await q(db_path, "SELECT * FROM entitlements WHERE program = ?", (three,)) == []


async def media_flow(api, csrf, db_path):
    rec = media_doc(7, title="Seventh Tone")
    s, _, resp = await api.call("POST", "/dashboard/media", data={
        "csrf": csrf, "record": json.dumps(rec)})
    assert s == 303
    new = int(re.match(r"/dashboard/media/(\d+)\?", resp.headers["Location"]).group(1))
    s, page, _ = await api.call("POST", "/dashboard/media", data={"csrf": csrf, "record": "{"})
    assert s == 400 and "not JSON" in shown_error(page)
    s, page, _ = await api.call("POST", "/dashboard/media", data={
        "csrf": csrf, "record": json.dumps({"size": 1})})
    assert s == 400 and "missing required field" in shown_error(page)
    item = {"id": new}
    s, page, _ = await api.call("GET", "/dashboard/media/{id}", item)
    assert s == 200 and "Seventh Tone" in page
    shown = json.loads(html.unescape(re.search(r'<textarea name="record"[^>]*>(.*?)</textarea>',
                                               page, re.S).group(1)))
    shown["title"] = "Seventh, renamed"
    s, _, _ = await api.call("POST", "/dashboard/media/{id}/edit", item,
                             data={"csrf": csrf, "record": json.dumps(shown)})
    assert s == 303
    assert await q(db_path, "SELECT title FROM media WHERE id = ?", (new,)) == [("Seventh, renamed",)]
    shown["size"] += 1
    s, page, _ = await api.call("POST", "/dashboard/media/{id}/edit", item,
                                data={"csrf": csrf, "record": json.dumps(shown)})
    assert s == 400 and "size and sha256" in shown_error(page)
    s, page, _ = await api.call("GET", "/dashboard/media/{id}", {"id": 99999})
    assert s == 404
    # search, filters
    page = await get_page(api, "/dashboard/media", q="renamed")
    assert f'/dashboard/media/{new}"' in page and "/dashboard/media/1\"" not in page
    page = await get_page(api, "/dashboard/media", q="tone-2.wav")
    assert '/dashboard/media/2"' in page and '/dashboard/media/1"' not in page
    page = await get_page(api, "/dashboard/media", server="http://127.0.0.1:9999")
    assert "0 of 4 media" in page
    page = await get_page(api, "/dashboard/media", type="audio/wav", server="http://127.0.0.1:8101")
    assert "4 of 4 media" in page
    s, page, _ = await api.call("POST", "/dashboard/media/{id}/remove", item, data={"csrf": csrf})
    assert s == 400 and "confirm" in shown_error(page)
    s, _, _ = await api.call("POST", "/dashboard/programs", data={
        "csrf": csrf, "name": "Holder", "items": f"2, {new}, 2"})
    assert s == 303
    s, _, resp = await api.call("POST", "/dashboard/media/{id}/remove", item,
                                data={"csrf": csrf, "confirm": "1"})
    assert s == 303 and "out+of+program" in resp.headers["Location"]
    assert await q(db_path, "SELECT id FROM media WHERE id = ?", (new,)) == []
    assert await items_of(db_path, "Holder") == [2, 2]


async def owners_flow(api, csrf, db_path):
    s, page, _ = await api.call("POST", "/dashboard/owners", data={"csrf": csrf, "name": "Label A"})
    assert s == 200
    token = re.search(r'id="token">.*?<code>(own_[^<]+)</code>', page, re.S).group(1)
    assert (await api.client.get("/api/v1/owner", headers=bearer(token))).status == 200
    owner = (await q(db_path, "SELECT id FROM owners WHERE name = 'Label A'"))[0][0]
    o = {"id": owner}
    s, _, _ = await api.call("POST", "/dashboard/owners/{id}/rename", o,
                             data={"csrf": csrf, "name": "Label B"})
    assert s == 303 and await q(db_path, "SELECT name FROM owners") == [("Label B",)]
    s, page, _ = await api.call("POST", "/dashboard/owners/{id}/token", o, data={"csrf": csrf})
    assert s == 200 and 'id="token"' in page
    s, page, _ = await api.call("POST", "/dashboard/owners/{id}/revoke", o, data={"csrf": csrf})
    assert s == 400 and "confirm" in shown_error(page)
    s, _, _ = await api.call("POST", "/dashboard/owners/{id}/revoke", o,
                             data={"csrf": csrf, "confirm": "1"})
    assert s == 303
    assert (await api.client.get("/api/v1/owner", headers=bearer(token))).status == 401
    await q(db_path, "UPDATE media SET owner_account = ? WHERE id = 1", (owner,))
    s, page, _ = await api.call("POST", "/dashboard/owners/{id}/remove", o,
                                data={"csrf": csrf, "confirm": "1"})
    assert s == 400 and "holds 1 media" in shown_error(page)
    await q(db_path, "UPDATE media SET owner_account = NULL WHERE id = 1")
    s, _, _ = await api.call("POST", "/dashboard/owners/{id}/remove", o,
                             data={"csrf": csrf, "confirm": "1"})
    assert s == 303 and await q(db_path, "SELECT * FROM owners") == []
    s, page, _ = await api.call("POST", "/dashboard/owners/{id}/token", o, data={"csrf": csrf})
    assert s == 400 and f"no owner {owner}" in shown_error(page)


async def root_and_metrics(api):
    s, _, resp = await api.call("GET", "/")
    assert s == 303 and resp.headers["Location"] == "/dashboard/"
    s, body, _ = await api.call("GET", "/metrics")   # off in these settings
    assert s == 404


FLOWS = (devices_flow, programs_flow, media_flow, owners_flow)


@pytest.mark.parametrize("flow", FLOWS, ids=lambda f: f.__name__)
async def test_management_forms_change_the_database_as_they_say(api, db_path, flow):
    csrf = await sign_in(api.client)
    await flow(api, csrf, db_path)


@pytest.mark.parametrize("db_path", ["sqlite"], indirect=True)
async def test_every_management_operation_is_exercised_against_the_document(api, db_path):
    csrf = await sign_in(api.client)
    for flow in FLOWS:
        await flow(api, csrf, db_path)
    await root_and_metrics(api)
    missing = [(m, p) for m, p in api.checker.operations(tags=CHECKED_TAGS)
               if not any(e[0] == m and e[1] == p for e in api.checker.exercised)]
    assert missing == [], "operations this test does not exercise"


async def test_the_forms_refuse_a_missing_csrf_token(api, db_path):
    await sign_in(api.client)
    for path, params in (("/dashboard/devices", {}), ("/dashboard/devices/{id}/remove", {"id": "dev1"}),
                         ("/dashboard/programs/{id}/remove", {"id": 1}),
                         ("/dashboard/media/{id}/remove", {"id": 1}), ("/dashboard/owners", {})):
        s, _, _ = await api.call("POST", path, params, data={"id": "x", "confirm": "1", "name": "N"})
        assert s == 403, path
    assert len(await q(db_path, "SELECT * FROM devices")) == 2
    assert len(await q(db_path, "SELECT * FROM media")) == 3


# -- reports: filters and paging ------------------------------------------------------------

async def add_reports(db_path, clock, rows):
    db = await Database(db_path, clock=clock).connect()
    try:
        for device, rep in rows:
            clock.advance(1)
            await db.devices.add_report(device, {"src": None, "bytes": 0, "ms": 1, "errors": [],
                                                 "pos": 0, **rep})
    finally:
        await db.close()


async def test_reports_are_filtered_by_device_media_and_errors_and_paged(api, db_path, clock):
    await add_reports(db_path, clock, [("dev1", {"id": 1 + n % 2, "status": "played", "bytes": n})
                                       for n in range(55)]
                      + [("dev2", {"id": 3, "status": "failed", "errors": [["http://x/3", "404"]]})])
    await sign_in(api.client)

    def rows(page):
        return re.findall(r"<tr><td>\d{4}-\d\d-\d\d [^<]+</td><td><a href=\"/dashboard/devices/"
                          r"(\w+)\">", page)
    s, page, _ = await api.call("GET", "/dashboard/reports")
    assert s == 200 and len(rows(page)) == 50 and rows(page)[0] == "dev2"
    assert 'rel="next"' in page and 'rel="prev"' not in page
    page = await get_page(api, "/dashboard/reports", page="2")
    assert len(rows(page)) == 6 and 'rel="prev"' in page and 'rel="next"' not in page
    page = await get_page(api, "/dashboard/reports", device="dev2")
    assert rows(page) == ["dev2"]
    page = await get_page(api, "/dashboard/reports", media="2")
    assert len(rows(page)) == 27 and set(rows(page)) == {"dev1"}
    page = await get_page(api, "/dashboard/reports", failed="1")
    assert rows(page) == ["dev2"] and "http://x/3" in page
    page = await get_page(api, "/dashboard/reports", device="dev1", failed="1")
    assert rows(page) == [] and "No reports here" in page
    page = await get_page(api, "/dashboard/reports", page="oops")   # a bad page is the first
    assert len(rows(page)) == 50


async def test_media_are_paged(api, db_path, clock):
    db = await Database(db_path, clock=clock).connect()
    try:
        for n in range(4, 64):
            await db.catalog.add_media(catalog.validate_media(media_doc(n)))
    finally:
        await db.close()
    await sign_in(api.client)
    s, page, _ = await api.call("GET", "/dashboard/media")
    assert "63 of 63 media, page 1 of 2" in page and 'rel="next"' in page
    assert len(re.findall(r'<td class="num"><a href="/dashboard/media/', page)) == 50
    page = await get_page(api, "/dashboard/media", page="2")
    assert len(re.findall(r'<td class="num"><a href="/dashboard/media/', page)) == 13
    page = await get_page(api, "/dashboard/media", q="tone-6", page="2")   # 6, 60-63: one page
    assert "5 of 63 media." in page


# -- the overview and stuck devices ---------------------------------------------------------

A, B = "http://127.0.0.1:8101", "http://127.0.0.1:8104"


async def test_overview_counts_plays_bytes_per_file_server_and_failovers(api, db_path, clock):
    await add_reports(db_path, clock, [
        ("dev1", {"id": 1, "status": "played", "src": A + "/music/1/tone-1.wav", "bytes": 1001}),
        ("dev1", {"id": 2, "status": "played", "src": A + "/music/2/tone-2.wav", "bytes": 1002,
                  "underruns": 2, "underrun_ms": 150}),
        ("dev1", {"id": 3, "status": "played", "src": B + "/mirror/3/tone-3.wav", "bytes": 5000,
                  "errors": [[A + "/music/3/tone-3.wav", "refused"]]}),
        ("dev2", {"id": 1, "status": "failed", "errors": [[A + "/music/1/tone-1.wav", "timeout"],
                                                          [B + "/mirror/1/tone-1.wav", "refused"]]}),
    ])
    clock.advance(2 * 3600)   # an hour later: the same day's figures
    await add_reports(db_path, clock, [("dev1", {"id": 1, "status": "played", "pos": 0,
                                                 "src": A + "/music/1/tone-1.wav", "bytes": 1001})])
    await sign_in(api.client)
    s, page, _ = await api.call("GET", "/dashboard/overview")
    assert s == 200
    figure = {k: re.search(rf'id="n-{k}"[^>]*>(\d+)<', page).group(1)
              for k in ("online", "playing", "failing", "plays", "failures", "underruns")}
    assert figure == {"online": "1", "playing": "0", "failing": "1", "plays": "4", "failures": "1",
                      "underruns": "2"}
    assert "150 ms in 1 item(s)" in page
    # bytes per file server, from the reports: A served 3 items, B one
    assert "http://127.0.0.1:8101 <tspan" in page and "2.9 KiB in 3 item(s)" in page
    assert "http://127.0.0.1:8104 <tspan" in page and "4.9 KiB in 1 item(s)" in page
    assert "meta server (answers since it started)" in page
    # failovers: A was left twice (refused, timeout), B once
    failovers = re.search(r'<table id="failovers">(.*?)</table>', page, re.S).group(1)
    assert re.search(r"8101</code></td><td class=\"num\">2</td>", failovers)
    assert re.search(r"8104</code></td><td class=\"num\">1</td>", failovers)
    # charts are inline SVG: the page loads nothing from elsewhere and runs no script
    assert page.count("<svg") == 3 and "<script" not in page
    assert not re.search(r'\b(src|href)="(https?:)?//', page)
    assert '<meta name="viewport" content="width=device-width, initial-scale=1">' in page
    hourly = re.search(r'<figure id="chart-hourly">(.*?)</figure>', page, re.S).group(1)
    assert hourly.count('class="played"') == 2 and hourly.count('class="failed"') == 1


async def test_a_device_failing_in_a_row_shows_why_and_since_when(api, db_path, clock):
    await add_reports(db_path, clock, [("dev1", {"id": 1, "status": "played"})])
    first = clock.now + 1
    await add_reports(db_path, clock, [
        ("dev1", {"id": 2, "status": "failed", "errors": [[A + "/music/2/tone-2.wav", "404"]]}),
        ("dev1", {"id": 3, "status": "failed", "errors": [[A + "/music/3/tone-3.wav", "refused"]]})])
    await sign_in(api.client)
    s, body, _ = await api.call("GET", "/api/v1/operator/devices")
    dev1 = next(d for d in body["devices"] if d["id"] == "dev1")
    assert dev1["state"] == "failing" and dev1["trouble"]["kind"] == "failing"
    assert dev1["trouble"]["since"] == first
    assert dev1["trouble"]["why"].startswith("2 failed report(s) in a row, the last: ")
    assert "tone-3.wav refused" in dev1["trouble"]["why"]
    s, page, _ = await api.call("GET", "/dashboard/devices/{id}", {"id": "dev1"})
    assert "Stuck (failing) since" in page and "tone-3.wav refused" in page
    await add_reports(db_path, clock, [("dev1", {"id": 1, "status": "played"})])
    s, body, _ = await api.call("GET", "/api/v1/operator/devices")
    assert next(d for d in body["devices"] if d["id"] == "dev1")["trouble"] is None


async def test_a_device_retrying_an_item_it_never_reports_shows_why_and_since_when(api, db_path,
                                                                                    clock):
    token = await login(api.client, "dev1")
    handed = clock.now
    assert (await api.client.get("/api/v1/next", headers=bearer(token))).status == 200
    clock.advance(30)   # a retry soon after is no trouble yet
    assert (await api.client.get("/api/v1/next", headers=bearer(token))).status == 200
    await sign_in(api.client)
    s, body, _ = await api.call("GET", "/api/v1/operator/devices")
    assert next(d for d in body["devices"] if d["id"] == "dev1")["trouble"] is None
    clock.advance(600)
    token = await login(api.client, "dev1")
    assert (await api.client.get("/api/v1/next", headers=bearer(token))).status == 200
    s, body, _ = await api.call("GET", "/api/v1/operator/devices")
    dev1 = next(d for d in body["devices"] if d["id"] == "dev1")
    assert dev1["state"] == "failing" and dev1["trouble"]["kind"] == "retrying"
    assert dev1["trouble"]["since"] == handed
    assert "asks for it again and again without reporting it" in dev1["trouble"]["why"]
    # the key requests say why, when the item is a secure one the server refuses a key for
    await q(db_path, "INSERT INTO key_requests (at, device, media, address, status, why)"
                     " VALUES (?, 'dev1', 1, '127.0.0.1', 403, 'not entitled')", (clock.now,))
    s, page, _ = await api.call("GET", "/dashboard/devices")
    assert "its key requests are refused: 403 not entitled" in page
    assert "since 10 min ago" in page
    s, page, _ = await api.call("GET", "/dashboard/overview")
    assert re.search(r'id="n-failing"[^>]*>1<', page) and 'id="trouble"' in page


async def test_the_first_report_of_a_time_is_found_by_id_across_gaps(db_path, clock, seeded):
    await add_reports(db_path, clock, [("dev1", {"id": 1, "status": "played", "bytes": n})
                                       for n in range(40)])
    await q(db_path, "DELETE FROM reports WHERE id % 3 = 0 OR id < 5")   # gaps, as pruning leaves
    rows = await q(db_path, "SELECT id, at FROM reports ORDER BY id")
    db = await Database(db_path, clock=clock).connect()
    try:
        for _, at in rows:
            want = min(i for i, t in rows if t >= at)
            assert await db.stats.first_since(at) == want
            assert await db.stats.first_since(at - 0.5) == want
        assert await db.stats.first_since(rows[-1][1] + 1) is None
        assert await db.stats.first_since(0) == rows[0][0]
        await q(db_path, "DELETE FROM reports")
        assert await db.stats.first_since(0) is None
    finally:
        await db.close()


async def test_reports_and_a_devices_page_show_underruns(api, db_path, clock):
    await add_reports(db_path, clock, [
        ("dev1", {"id": 1, "status": "played"}),
        ("dev1", {"id": 2, "pos": 1, "status": "played", "underruns": 3, "underrun_ms": 420})])
    await sign_in(api.client)
    for path in ("/dashboard/reports", "/dashboard/devices/dev1"):
        page = await get_page(api, path)
        assert '<th class="num">underruns</th>' in page, path
        assert '<td class="num"><span class="bad">3 (420 ms)</span></td>' in page, path
        assert '<td class="num">0</td>' in page, path


async def test_the_usage_page_shows_the_statement_and_its_csv_is_the_clis(api, db_path, clock):
    from hostutil import run_cli
    await add_reports(db_path, clock, [
        ("dev1", {"id": 1, "status": "played", "src": A + "/music/1/tone-1.wav", "bytes": 1000}),
        ("dev2", {"id": 1, "status": "played", "src": B + "/mirror/1/tone-1.wav", "bytes": 700,
                  "errors": [[A + "/music/1/tone-1.wav", "refused"]]}),
        ("dev1", {"id": 2, "status": "failed", "errors": [[A + "/music/2/tone-2.wav", "404"]]}),
    ])
    await sign_in(api.client)
    s, page, _ = await api.call("GET", "/dashboard/usage")
    assert s == 200 and '<a href="/dashboard/usage"' in page
    body = re.search(r'<table id="usage">(.*?)</table>', page, re.S).group(1)
    total = re.search(r'<tr id="usage-total">(.*?)</tr>', body, re.S).group(1)
    # plays, failed, bytes, source errors, failovers away, onto, devices
    assert re.findall(r'<th class="num">(\d+)</th>', total) == ["2", "1", "1700", "2", "1", "1", "2"]
    resp = await api.client.get("/dashboard/usage.csv", params={"by": "server"})
    assert resp.status == 200 and resp.content_type == "text/csv"
    cli = run_cli("usage", "--by", "server", "--csv", "-", db=db_path, check=0).stdout
    assert await resp.text() == cli and cli.splitlines()[0].startswith("server,plays,failed,bytes")
    s, page, _ = await api.call("GET", "/dashboard/usage", query={"since": "2026-13-01"})
    assert s == 200 and "since" in shown_error(page)
    resp = await api.client.get("/dashboard/usage.csv", params={"since": "yesterday"})
    assert resp.status == 400 and "since" in (await resp.json())["error"]
