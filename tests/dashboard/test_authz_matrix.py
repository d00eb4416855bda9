"""The authorization matrix: every operation of the OpenAPI document, tried as a device, an owner,
a signed-in operator and nobody. Who may call what is read from each operation's `security`
(deviceToken, ownerToken, operatorSession; none: anyone): the allowed roles never get 401/403 (or
the dashboard's redirect to sign-in), every other role always does."""
import os

import aiohttp
import yaml

from host_server.services import owners
from host_server.db import Database
from dashutil import sign_in
from hostutil import login

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SCHEMES = {"deviceToken": "device", "ownerToken": "owner", "operatorSession": "operator"}
ROLES = ("device", "owner", "operator", "anonymous")


def operations():
    with open(os.path.join(ROOT, "docs", "openapi.yaml")) as f:
        doc = yaml.safe_load(f)
    out = []
    for path, item in doc["paths"].items():
        for method, op in item.items():
            if method not in ("get", "post", "put", "patch", "delete"):
                continue
            security = op.get("security", doc.get("security", []))
            allowed = {SCHEMES[k] for req in security for k in req} or set(ROLES)
            out.append((method.upper(), path, allowed))
    # signing out ends the operator's session: last
    return sorted(out, key=lambda o: o[1] == "/dashboard/logout")


def concrete(path):
    # an owner's item id no one has: past the authorization check, the answer is 404
    path = path.replace("{what}", "media")   # one of the lists an operator may read
    return path.replace("{id}", "999999" if path.startswith("/api/v1/owner") else "1")


def refused(path, status, location):
    if status in (401, 403):
        return True
    # the dashboard sends a browser without a session to its sign-in page
    return status in (302, 303) and location.startswith("/dashboard/login")


async def test_every_operation_admits_exactly_the_roles_its_security_names(client, db_path):
    ops = operations()
    assert len(ops) >= 20
    db = await Database(db_path).connect()
    try:
        _, owner_token = await owners.create_owner(db, "Matrix Label")
    finally:
        await db.close()
    device_token = await login(client)
    csrf = await sign_in(client)                      # the client now carries the session cookie
    failures = []
    bare = aiohttp.ClientSession(cookie_jar=aiohttp.DummyCookieJar())
    try:
        await check_all(client, bare, ops, device_token, owner_token, csrf, failures)
    finally:
        await bare.close()
    assert not failures, "\n".join(failures)


async def check_all(client, bare, ops, device_token, owner_token, csrf, failures):
    for method, path, allowed in ops:
        for role in ROLES:
            headers = {}
            if role == "device":
                headers["Authorization"] = "Bearer " + device_token
            elif role == "owner":
                headers["Authorization"] = "Bearer " + owner_token
            url = concrete(path)
            kw = {"headers": headers, "allow_redirects": False}
            if method != "GET":
                if path.startswith("/dashboard"):
                    kw["data"] = {"csrf": csrf}
                else:
                    kw["json"] = {}
            if role == "operator":
                resp = await client.request(method, url, **kw)
            else:                                       # no session cookie
                resp = await bare.request(method, client.make_url(url), **kw)
            status, location = resp.status, resp.headers.get("Location", "")
            await resp.read()
            resp.release()
            if path == "/dashboard/logout":
                # signing out sends anyone to the sign-in page; without a session nothing ends
                if status not in (302, 303) or not location.startswith("/dashboard/login"):
                    failures.append("POST /dashboard/logout as %s: %d" % (role, status))
                continue
            # the sign-in form is open to anyone but refuses a post without its own CSRF cookie
            if role in allowed and refused(path, status, location) and not (
                    method == "POST" and path == "/dashboard/login"):
                failures.append("%s %s as %s: refused (%d) though allowed" % (method, path, role, status))
            if role not in allowed and not refused(path, status, location):
                failures.append("%s %s as %s: %d though not allowed" % (method, path, role, status))
