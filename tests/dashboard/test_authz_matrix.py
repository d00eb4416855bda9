"""The authorization matrix: every route of the application (its route table: a route the OpenAPI
document does not describe fails), tried as two devices, two owners, a signed-in operator, nobody,
and holders of bad credentials: a revoked, an expired and a disabled device's token, a revoked
owner's token, a forged token. Who may call what is read from each operation's `security`
(deviceToken, ownerToken, operatorSession; none: anyone): the allowed roles never get 401/403 (or
the dashboard's redirect to sign-in), every other role always does."""
import os

import aiohttp
import yaml

from host_server.services import owners
from host_server.db import Database
from dashutil import sign_in
from hostutil import SECRET, bearer, login

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SCHEMES = {"deviceToken": ("device", "device2"), "ownerToken": ("owner", "owner2"),
           "operatorSession": ("operator",)}
BAD = ("revoked device", "expired device", "disabled device", "revoked owner", "forged token")
ROLES = ("device", "device2", "owner", "owner2", "operator", "anonymous") + BAD


def operations():
    with open(os.path.join(ROOT, "docs", "openapi.yaml")) as f:
        doc = yaml.safe_load(f)
    out = []
    for path, item in doc["paths"].items():
        for method, op in item.items():
            if method not in ("get", "post", "put", "patch", "delete"):
                continue
            security = op.get("security", doc.get("security", []))
            allowed = {r for req in security for k in req for r in SCHEMES[k]} or set(ROLES)
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


def test_every_route_of_the_app_is_in_the_matrix(client):
    documented = {(m, p) for m, p, _ in operations()}
    routed = {(r.method, r.resource.canonical) for r in client.server.app.router.routes()
              if r.method != "HEAD"}
    assert routed - documented == set(), "routes without an entry (and a security) in openapi.yaml"


async def test_every_operation_admits_exactly_the_roles_its_security_names(client, db_path, clock):
    ops = operations()
    assert len(ops) >= 20
    db = await Database(db_path, clock=clock).connect()
    try:
        for device in ("dev3", "dev4", "dev5"):
            await db.devices.add(device, "", SECRET)
        tokens = {"expired device": bearer(await login(client, "dev5"))}
        clock.advance(3601)                           # its token's life is over
        for role, name in (("owner", "Matrix Label"), ("owner2", "Other Label"),
                           ("revoked owner", "Gone Label")):
            _, token = await owners.create_owner(db, name)
            tokens[role] = bearer(token)
        await db.owners.revoke("Gone Label")
        for role, device in (("device", "dev1"), ("device2", "dev2"), ("revoked device", "dev3"),
                             ("disabled device", "dev4")):
            tokens[role] = bearer(await login(client, device))
        await db.logins.revoke_tokens("dev3")
        await db.devices.disable("dev4")
    finally:
        await db.close()
    tokens["forged token"] = bearer("own_" + "A" * 43)
    csrf = await sign_in(client)                      # the client now carries the session cookie
    failures = []
    bare = aiohttp.ClientSession(cookie_jar=aiohttp.DummyCookieJar())
    try:
        await check_all(client, bare, ops, tokens, csrf, failures)
    finally:
        await bare.close()
    assert not failures, "\n".join(failures)


async def check_all(client, bare, ops, tokens, csrf, failures):
    for method, path, allowed in ops:
        for role in ROLES:
            headers = dict(tokens.get(role, {}))
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
