"""docs/openapi.yaml is true: every route is documented, and real answers of a running meta
server (aiohttp on loopback) match it, status, content type, headers and body."""
import pathlib
import re

import pytest
import yaml
from jsonschema import Draft202012Validator

from host_server.dashboard.passwords import hash_password
from host_server.db import Database
from hostutil import SECRET, bearer, login
from openapi_check import METHODS, Api, Checker

DOC = pathlib.Path(__file__).resolve().parents[2] / "docs" / "openapi.yaml"
PASSWORD = "a long operator password"


@pytest.fixture
async def api(client):
    status_resp = await client.get("/api/v1/openapi.yaml")
    assert status_resp.status == 200
    served = await status_resp.text()
    assert served == DOC.read_text()
    checker = Checker.from_yaml(served)
    api = Api(client, checker)
    # the document's own answer, checked like any other
    await api.call("GET", "/api/v1/openapi.yaml")
    return api


def test_document_is_openapi_3_1_with_valid_schemas():
    doc = yaml.safe_load(DOC.read_text())
    assert doc["openapi"].startswith("3.1")
    ids = []

    def walk(node, where):
        if isinstance(node, dict):
            if "schema" in node and isinstance(node["schema"], dict):
                Draft202012Validator.check_schema(node["schema"])
            for k, v in node.items():
                walk(v, f"{where}/{k}")
        elif isinstance(node, list):
            for i, v in enumerate(node):
                walk(v, f"{where}/{i}")
    walk(doc, "")
    for name, schema in doc["components"]["schemas"].items():
        Draft202012Validator.check_schema(schema)
    for path, item in doc["paths"].items():
        for method in METHODS:
            if method in item:
                assert item[method]["responses"], f"{method} {path} has no responses"
                if "operationId" in item[method]:
                    ids.append(item[method]["operationId"])
        for name in re.findall(r"{(\w+)}", path):
            params = item.get("parameters", []) + [
                p for m in METHODS if m in item for p in item[m].get("parameters", [])]
            assert any(p["name"] == name and p["in"] == "path" for p in params), \
                f"{path}: path parameter {name} not described"
    assert len(ids) == len(set(ids)), "operationIds must be unique"


async def test_every_route_of_the_server_is_documented_and_nothing_more(client):
    doc = yaml.safe_load(DOC.read_text())
    served = set()
    for route in client.server.app.router.routes():
        if route.method == "HEAD":   # added by aiohttp beside each GET
            continue
        served.add((route.method.lower(), route.resource.canonical))
    documented = {(m, p) for p, item in doc["paths"].items() for m in METHODS if m in item}
    undocumented = sorted(served - documented)
    assert not undocumented, f"routes docs/openapi.yaml does not describe: {undocumented}"
    phantom = sorted(documented - served)
    assert not phantom, f"documented operations the server does not have: {phantom}"


async def test_device_api_answers_match_the_document(api, seeded):
    c = api.checker
    s, body, _ = await api.call("POST", "/api/v1/login/challenge", json={"device": "dev1"})
    assert s == 200
    s, body, _ = await api.call("POST", "/api/v1/login/challenge", json={"device": 5})
    assert s == 400
    s, body, resp = await api.call("POST", "/api/v1/login", json={
        "device": "dev1", "nonce": "0" * 32, "proof": "0" * 64})
    assert s == 401
    s, body, _ = await api.call("POST", "/api/v1/login", data=b"[]")
    assert s == 400
    for _ in range(5):
        await api.call("POST", "/api/v1/login", json={"device": "dev2", "nonce": "x", "proof": "y"})
    s, body, resp = await api.call("POST", "/api/v1/login", json={
        "device": "dev2", "nonce": "x", "proof": "y"})
    assert s == 429 and int(resp.headers["Retry-After"]) > 0
    s, body, _ = await api.call("POST", "/api/v1/login/challenge", data=b"x" * (65 * 1024))
    assert s == 413
    s, body, _ = await api.call("POST", "/api/v1/login", data=b"x" * (65 * 1024))
    assert s == 413

    token = await login(api.client, "dev1")   # (login's 200 checked below, after a fresh nonce)
    s, nonce, _ = await api.call("POST", "/api/v1/login/challenge", json={"device": "dev1"})
    from host_server.services.auth import proof
    s, body, _ = await api.call("POST", "/api/v1/login", json={
        "device": "dev1", "nonce": nonce["nonce"], "proof": proof(SECRET, "dev1", nonce["nonce"])})
    assert s == 200 and body["program"] == seeded["three"]
    auth = bearer(token)

    s, body, _ = await api.call("GET", "/api/v1/programs", headers=auth)
    assert s == 200 and body["selected"] == seeded["three"]
    s, body, _ = await api.call("GET", "/api/v1/programs")
    assert s == 401
    s, body, _ = await api.call("POST", "/api/v1/programs/select", headers=auth,
                                json={"program": seeded["empty"]})
    assert s == 200
    s, body, _ = await api.call("GET", "/api/v1/next", headers=auth)
    assert s == 204
    s, body, _ = await api.call("POST", "/api/v1/programs/select", headers=auth,
                                json={"program": seeded["other"]})
    assert s == 403
    s, body, _ = await api.call("POST", "/api/v1/programs/select", headers=auth, json={"program": 999})
    assert s == 404
    s, body, _ = await api.call("POST", "/api/v1/programs/select", headers=auth, json={"program": "1"})
    assert s == 400
    s, body, _ = await api.call("POST", "/api/v1/programs/select", headers=auth,
                                json={"program": seeded["three"]})
    assert s == 200
    s, item, _ = await api.call("GET", "/api/v1/next", headers=auth)
    assert s == 200 and item["pos"] == 0
    s, body, _ = await api.call("GET", "/api/v1/next")
    assert s == 401
    s, body, _ = await api.call("GET", "/api/v1/media/{id}", {"id": item["id"]}, headers=auth)
    assert s == 200 and body["id"] == item["id"]
    s, body, _ = await api.call("GET", "/api/v1/media/{id}", {"id": 424242}, headers=auth)
    assert s == 404
    s, body, _ = await api.call("GET", "/api/v1/media/{id}", {"id": "x1"}, headers=auth)
    assert s == 400
    s, body, _ = await api.call("GET", "/api/v1/media/{id}", {"id": 1})
    assert s == 401
    # secure items' key endpoint: its refusals (tests/host of secure items check the 200s)
    key_request = {"nonce": "0" * 32, "proof": "0" * 64}
    s, body, _ = await api.call("POST", "/api/v1/media/{id}/key", {"id": item["id"]}, json=key_request)
    assert s == 401
    s, body, _ = await api.call("POST", "/api/v1/media/{id}/key", {"id": item["id"]}, headers=auth,
                                json={"nonce": "not hex", "proof": "0" * 64})
    assert s == 400
    s, body, _ = await api.call("POST", "/api/v1/report", headers=auth, json={
        "id": item["id"], "pos": item["pos"], "status": "played", "src": item["src"][0],
        "bytes": item["size"], "ms": 10, "errors": [[item["src"][0], "refused"]]})
    assert s == 200 and body["next_pos"] == 1
    s, body, _ = await api.call("POST", "/api/v1/report", headers=auth,
                                json={"id": 1, "pos": 0, "status": "lost"})
    assert s == 400
    s, body, _ = await api.call("GET", "/api/v1/horizon", headers=auth, query={"k": 8})
    assert s == 200 and [i["pos"] for i in body["items"]] == [1, 2, 0] and body["n"] == 3
    s, body, _ = await api.call("GET", "/api/v1/horizon", headers=auth, query={"k": 17})
    assert s == 400
    s, body, _ = await api.call("GET", "/api/v1/horizon")
    assert s == 401
    s, body, _ = await api.call("GET", "/api/v1/horizon", headers=auth)
    assert s == 200
    first = body["items"][0]
    batch = [{"seq": 1, "id": first["id"], "pos": first["pos"], "status": "played",
              "src": first["src"][0], "bytes": first["size"], "ms": 5, "underruns": 2,
              "underrun_ms": 40}]
    s, body, _ = await api.call("POST", "/api/v1/reports", headers=auth, json={"reports": batch})
    assert s == 200 and body == {"applied": 1, "next_pos": 2}
    s, body, _ = await api.call("POST", "/api/v1/reports", headers=auth, json={"reports": []})
    assert s == 400
    s, body, _ = await api.call("POST", "/api/v1/reports", json={"reports": batch})
    assert s == 401
    s, body, _ = await api.call("POST", "/api/v1/reports", headers=auth, data=b"x" * (65 * 1024))
    assert s == 413
    s, body, _ = await api.call("POST", "/api/v1/report", headers=auth, data=b"x" * (65 * 1024))
    assert s == 413
    s, body, _ = await api.call("POST", "/api/v1/report", json={"id": 1, "pos": 0, "status": "played"})
    assert s == 401
    s, body, _ = await api.call("POST", "/api/v1/playing", headers=auth,
                                json={"id": item["id"], "title": "Artist - Song"})
    assert s == 200 and body == {"ok": True}
    s, body, _ = await api.call("POST", "/api/v1/playing", headers=auth,
                                json={"id": item["id"], "title": "x" * 257})
    assert s == 400
    s, body, _ = await api.call("POST", "/api/v1/playing", json={"id": 1, "title": "t"})
    assert s == 401

    missing = [(m, p) for m, p in c.operations(tags=["device", "meta"])
               if not any(e[0] == m and e[1] == p for e in c.exercised)]
    assert missing == [], "device operations this test does not exercise"


async def test_operator_and_dashboard_answers_match_the_document(api, db_path, clock, seeded):
    db = await Database(db_path, clock=clock).connect()
    await db.operators.add("ops", hash_password(PASSWORD))
    await db.close()
    c = api.checker
    pages = [p for m, p in c.operations(tags=["dashboard"]) if m == "get" and p != "/dashboard/login"]
    for path in pages:
        s, _, resp = await api.call("GET", path)
        assert s == 303 and resp.headers["Location"].startswith("/dashboard/login")
    s, body, _ = await api.call("GET", "/api/v1/operator/devices")
    assert s == 401
    s, body, _ = await api.call("GET", "/api/v1/operator/lists/{what}", {"what": "media"})
    assert s == 401
    s, page, _ = await api.call("GET", "/dashboard/login")
    assert s == 200
    login_csrf = re.search(r'name="csrf" value="([^"]+)"', page).group(1)
    s, _, _ = await api.call("POST", "/dashboard/login", data={"name": "ops", "password": PASSWORD})
    assert s == 403
    s, _, _ = await api.call("POST", "/dashboard/login", data={
        "csrf": login_csrf, "name": "ops", "password": "wrong password"})
    assert s == 401
    for _ in range(5):
        await api.call("POST", "/dashboard/login", data={
            "csrf": login_csrf, "name": "guessed", "password": "wrong password"})
    s, _, resp = await api.call("POST", "/dashboard/login", data={
        "csrf": login_csrf, "name": "guessed", "password": "wrong password"})
    assert s == 429 and int(resp.headers["Retry-After"]) > 0
    s, _, _ = await api.call("POST", "/dashboard/login", data={
        "csrf": login_csrf, "name": "ops", "password": PASSWORD})
    assert s == 303
    s, _, _ = await api.call("GET", "/dashboard/login")
    assert s == 303   # already signed in
    for path in pages:
        s, page, resp = await api.call("GET", path)
        if path in ("/dashboard", "/dashboard/"):
            assert s == 303 and resp.headers["Location"] == "/dashboard/overview"
        else:
            assert s == 200, path
        if resp.content_type == "text/html":
            shown = page   # a page with the sign-out form (and its CSRF token)
    csrf = re.search(r'name="csrf" value="([^"]+)"', shown).group(1)

    token = await login(api.client, "dev1")
    await api.client.get("/api/v1/next", headers=bearer(token))
    s, body, _ = await api.call("GET", "/api/v1/operator/devices")
    assert s == 200
    assert next(d for d in body["devices"] if d["id"] == "dev1")["playing"]["media"] == seeded["media"][0]
    for what in ("devices", "media", "programs", "owners", "servers"):
        s, body, _ = await api.call("GET", "/api/v1/operator/lists/{what}", {"what": what})
        assert s == 200 and body["what"] == what
        if what == "media":
            assert [m["id"] for m in body["rows"]] == sorted(seeded["media"])
    s, body, _ = await api.call("GET", "/api/v1/operator/lists/{what}", {"what": "secrets"})
    assert s == 404 and "no list 'secrets'" in body["error"]

    s, _, _ = await api.call("POST", "/dashboard/programs", data={"name": "Doc", "items": "1,2"})
    assert s == 403
    s, _, _ = await api.call("POST", "/dashboard/programs", data={"csrf": csrf, "name": "", "items": ""})
    assert s == 400
    s, _, _ = await api.call("POST", "/dashboard/programs", data={"csrf": csrf, "name": "Doc", "items": "1,2"})
    assert s == 303
    s, _, _ = await api.call("POST", "/dashboard/programs", data={"csrf": csrf, "x": "y" * 20000})
    assert s == 413
    for path, data in (("/dashboard/programs/{id}/move", {"pos": "0", "dir": "down"}),
                       ("/dashboard/programs/{id}/assign", {"device": "dev2"})):
        s, _, _ = await api.call("POST", path, {"id": seeded["three"]}, data={**data, "csrf": csrf})
        assert s == 303
        s, _, _ = await api.call("POST", path, {"id": seeded["three"]}, data=data)
        assert s == 403
        s, _, _ = await api.call("POST", path, {"id": 999}, data={**data, "csrf": csrf})
        assert s == 400
    s, _, _ = await api.call("POST", "/dashboard/logout", data={"csrf": csrf})
    assert s == 303
    s, _, _ = await api.call("POST", "/dashboard/logout", data={"csrf": csrf})
    assert s == 303   # the session is gone: to the sign-in form

    missing = [(m, p) for m, p in c.operations(tags=["operator", "dashboard"])
               if not any(e[0] == m and e[1] == p for e in c.exercised)]
    assert missing == [], "operator operations this test does not exercise"
