"""The owner API's real answers match docs/openapi.yaml (every documented status we can cause)."""
import hashlib
import pathlib

from host_server import fileserver
from host_server.services import owners
from host_server.app import init_app
from host_server.db import Database
from hostutil import SECRET, bearer, free_port, login
from openapi_check import Api, Checker

DOC = pathlib.Path(__file__).resolve().parents[2] / "docs" / "openapi.yaml"
DATA = b"owner api bytes" * 300


async def test_owner_api_answers_match_the_document(aiohttp_client, aiohttp_server, tmp_path):
    (tmp_path / "root" / "music").mkdir(parents=True)
    (tmp_path / "root" / "music" / "a.wav").write_bytes(DATA)
    files = await aiohttp_server(fileserver.init_app(str(tmp_path / "root")))
    db = await Database(str(tmp_path / "meta.db")).connect()
    _, token = await owners.create_owner(db, "One")
    _, other = await owners.create_owner(db, "Two")
    await db.devices.add("dev1", "", SECRET)
    await db.close()
    client = await aiohttp_client(init_app(probe_interval=0, db=str(tmp_path / "meta.db"), source_timeout=2.0,
                                           allow_source_nets=("127.0.0.0/8",)))
    api = Api(client, Checker.from_yaml(DOC.read_text()))
    me, them = bearer(token), bearer(other)
    good = {"size": len(DATA), "sha256": hashlib.sha256(DATA).hexdigest(), "type": "audio/wav",
            "primary_address": f"http://127.0.0.1:{files.port}", "primary_directory": "/music",
            "file_name": "a.wav", "title": "A",
            "alternates": [{"address": f"http://127.0.0.1:{free_port()}", "directory": "/m"}]}

    assert (await api.call("GET", "/api/v1/owner", headers=me))[0] == 200
    assert (await api.call("GET", "/api/v1/owner"))[0] == 401
    assert (await api.call("POST", "/api/v1/owner/media", json={"size": 1}, headers=me))[0] == 400
    assert (await api.call("POST", "/api/v1/owner/media", data=b"x" * (65 * 1024), headers=me))[0] == 413
    s, body, _ = await api.call("POST", "/api/v1/owner/media", json=dict(good, size=1), headers=me)
    assert s == 422 and not body["sources"][0]["ok"]
    s, body, _ = await api.call("POST", "/api/v1/owner/media", json=good, headers=me)
    assert s == 201 and [c["ok"] for c in body["sources"]] == [True, False]
    mid = body["id"]
    assert (await api.call("POST", "/api/v1/owner/media", json=good, headers=me))[0] == 409
    s, body, _ = await api.call("GET", "/api/v1/owner/media", headers=me)
    assert s == 200 and [m["id"] for m in body["media"]] == [mid]
    one = "/api/v1/owner/media/{id}"
    assert (await api.call("GET", one, {"id": mid}, headers=me))[0] == 200
    assert (await api.call("GET", one, {"id": mid}, headers=them))[0] == 403
    assert (await api.call("GET", one, {"id": 999}, headers=me))[0] == 404
    assert (await api.call("GET", one, {"id": "x"}, headers=me))[0] == 400
    s, body, _ = await api.call("PATCH", one, {"id": mid}, json={"title": "B"}, headers=me)
    assert s == 200 and body["record"]["title"] == "B"
    assert (await api.call("PATCH", one, {"id": mid}, json={"size": 2}, headers=me))[0] == 400
    assert (await api.call("DELETE", one, {"id": mid}, headers=them))[0] == 403
    usage = "/api/v1/owner/usage"
    device = bearer(await login(client))
    assert (await client.post("/api/v1/report", headers=device, json={
        "id": mid, "pos": 0, "status": "played", "src": good["primary_address"] + "/music/a.wav",
        "bytes": len(DATA), "errors": [[f"http://127.0.0.1:{free_port()}/m/a.wav", "refused"]]})).status == 200
    s, body, _ = await api.call("GET", usage, headers=me)
    assert s == 200 and body["totals"]["plays"] == 1 and len(body["rows"]) == 2
    s, body, _ = await api.call("GET", usage, query={"since": "2000-01-01", "until": "2000-01-31"},
                                headers=me)
    assert s == 200 and body["rows"] == []
    s, body, _ = await api.call("GET", usage, query={"by": "media"}, headers=me)
    assert s == 200 and [set(r) - set(body["totals"]) for r in body["rows"]] == [{"media", "title"}]
    assert (await api.call("GET", usage, query={"since": "1.1.2026"}, headers=me))[0] == 400
    assert (await api.call("GET", usage, query={"by": "owner"}, headers=me))[0] == 400
    assert (await api.call("GET", usage, headers=them))[1]["rows"] == []
    assert (await api.call("GET", usage))[0] == 401
    address = good["primary_address"]
    s, body, _ = await api.call("GET", "/api/v1/owner/servers", headers=me)
    assert s == 200 and body["servers"] == [{"address": address, "signed": False, "since": None}]
    signing = "/api/v1/owner/signing"
    assert (await api.call("POST", signing, json={"address": address}, headers=them))[0] == 403
    s, body, _ = await api.call("POST", signing, json={"address": address}, headers=me)
    assert s == 201 and "secret" in body
    s, body, _ = await api.call("POST", signing, json={"address": address, "secret": "x" * 16}, headers=me)
    assert s == 200 and "secret" not in body
    assert (await api.call("POST", signing, json={"address": address, "secret": "x"}, headers=me))[0] == 400
    assert (await api.call("POST", signing, json={"address": "http://nobody.example"}, headers=them))[0] == 201
    assert (await api.call("POST", signing, json={"address": "http://nobody.example"}, headers=me))[0] == 409
    assert (await api.call("DELETE", signing, query={"address": address}, headers=them))[0] == 403
    assert (await api.call("DELETE", signing, query={"address": "nothing"}, headers=me))[0] == 400
    s, body, _ = await api.call("DELETE", signing, query={"address": address}, headers=me)
    assert s == 200 and body == {"address": address, "signed": False}
    assert (await api.call("DELETE", signing, query={"address": address}, headers=me))[0] == 404
    weights, primary = "/api/v1/owner/weights", {"address": good["primary_address"]}
    s, body, _ = await api.call("PUT", weights, json=dict(primary, weight=2), headers=me)
    assert s == 200 and body == dict(primary, weight=2, media=1)
    assert (await api.call("PUT", weights, json={"address": "x", "weight": 2}, headers=me))[0] == 400
    assert (await api.call("PUT", weights, json=dict(primary, weight=0), headers=me))[0] == 400
    s, body, _ = await api.call("GET", weights, headers=me)
    assert s == 200 and [w["weight"] for w in body["weights"]] == [2]
    assert (await api.call("GET", weights, headers=them))[1] == {"weights": []}
    assert (await api.call("GET", weights))[0] == 401
    assert (await api.call("DELETE", weights, query=primary, headers=them))[0] == 404
    s, body, _ = await api.call("DELETE", weights, query=primary, headers=me)
    assert s == 200 and body["weight"] is None
    assert (await api.call("DELETE", weights, headers=me))[0] == 400
    s, body, _ = await api.call("DELETE", one, {"id": mid}, headers=me)
    assert s == 200 and body == {"removed": mid, "programs": []}
    assert (await api.call("DELETE", one, {"id": mid}, headers=me))[0] == 404
