"""The firmware version a device sends at login ("fw"): checked, stored on the device (both
engines), shown on the dashboard's device pages, in the operator JSON and in `list devices`."""
import pytest

from dashutil import sign_in
from hostutil import SECRET, run_cli, sql
from host_server.services.auth import proof


async def log_in(client, body_extra, device="dev1"):
    resp = await client.post("/api/v1/login/challenge", json={"device": device})
    nonce = (await resp.json())["nonce"]
    return await client.post("/api/v1/login", json={
        "device": device, "nonce": nonce, "proof": proof(SECRET, device, nonce), **body_extra})


def firmware(db_path, device="dev1"):
    return sql(db_path, "SELECT firmware FROM devices WHERE id = ?", (device,))[0][0]


async def test_the_version_sent_at_login_is_stored_and_shown(client, db_path):
    resp = await log_in(client, {"fw": "1.4.0+g3f2a1c"})
    assert resp.status == 200, await resp.text()
    assert firmware(db_path) == "1.4.0+g3f2a1c" and firmware(db_path, "dev2") is None
    await sign_in(client)
    page = await (await client.get("/dashboard/devices/dev1")).text()
    assert '<span id="firmware">1.4.0+g3f2a1c</span>' in page
    listed = await (await client.get("/dashboard/devices")).text()
    assert '<td class="firmware">1.4.0+g3f2a1c</td>' in listed
    assert '<td class="firmware"><span class="dim">not sent</span></td>' in listed   # dev2
    doc = await (await client.get("/api/v1/operator/devices")).json()
    assert {d["id"]: d["firmware"] for d in doc["devices"]} == {"dev1": "1.4.0+g3f2a1c",
                                                                "dev2": None}
    lines = run_cli("list", "devices", db=db_path, check=0).stdout.splitlines()
    assert lines[0].split() == ["id", "name", "default", "selected", "programs", "firmware"]
    assert lines[1].split()[-1] == "1.4.0+g3f2a1c" and lines[2].split()[-1] == "-"
    again = await log_in(client, {})            # firmware of before it sent one
    assert again.status == 200 and firmware(db_path) is None


@pytest.mark.parametrize("fw", ["", " 1.0", "1.0 ", "1.0\n", "v" * 33, "1.0\u00e9", 140, None])
async def test_a_bad_version_is_a_clear_400_and_nothing_is_stored(client, db_path, fw):
    resp = await log_in(client, {"fw": fw})
    if fw is None:                               # null: as if it sent none
        assert resp.status == 200
        return
    assert resp.status == 400
    assert (await resp.json())["error"] == ("field 'fw' must be the firmware version: 1-32"
                                            " printable ASCII characters, like 1.4.0")
    assert firmware(db_path) is None and sql(db_path, "SELECT count(*) FROM tokens")[0][0] == 0
