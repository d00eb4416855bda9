"""The dashboard over HTTP (no browser): sign-in, sessions, CSRF, and what the forms change."""
import html

import pytest

from dashutil import PASSWORD, csrf_of, sign_in
from hostutil import bearer, login, sql

PAGES = ["/dashboard/", "/dashboard/devices", "/dashboard/programs", "/dashboard/media",
         "/dashboard/owners", "/dashboard/servers", "/dashboard/reports"]


def program_names(db_path):
    return [r[0] for r in sql(db_path, "SELECT name FROM programs ORDER BY id")]


@pytest.mark.parametrize("path", PAGES)
async def test_pages_redirect_to_sign_in_when_signed_out(client, path):
    resp = await client.get(path, allow_redirects=False)
    assert resp.status == 303
    assert resp.headers["Location"].startswith("/dashboard/login?next=")
    assert "Device one" not in await resp.text()


async def test_operator_json_refused_when_signed_out(client):
    resp = await client.get("/api/v1/operator/devices")
    assert resp.status == 401
    assert "sign in" in (await resp.json())["error"]


async def test_forms_signed_out_change_nothing(client, db_path):
    resp = await client.post("/dashboard/programs", data={"name": "Sneaky", "items": "1"},
                             allow_redirects=False)
    assert resp.status == 303 and resp.headers["Location"].startswith("/dashboard/login")
    assert "Sneaky" not in program_names(db_path)


async def test_wrong_password_is_refused_and_gives_no_session(client):
    resp = await client.get("/dashboard/login")
    token = csrf_of(await resp.text())
    for name, password in (("ops", PASSWORD + "x"), ("nobody", PASSWORD), ("ops", "")):
        resp = await client.post("/dashboard/login", data={
            "csrf": token, "name": name, "password": password}, allow_redirects=False)
        assert resp.status == 401
        assert "wrong name or password" in await resp.text()
    assert "operator_session" not in {c.key for c in client.session.cookie_jar}
    resp = await client.get("/dashboard/devices", allow_redirects=False)
    assert resp.status == 303


async def test_sign_in_without_its_csrf_token_is_refused(client):
    await client.get("/dashboard/login")   # sets the login CSRF cookie
    resp = await client.post("/dashboard/login", data={"name": "ops", "password": PASSWORD},
                             allow_redirects=False)
    assert resp.status == 403
    assert "CSRF" in await resp.text()
    assert "operator_session" not in {c.key for c in client.session.cookie_jar}


async def test_sign_in_then_every_page_renders(client):
    await sign_in(client)
    for path in PAGES:
        resp = await client.get(path)
        assert resp.status == 200, path
        page = await resp.text()
        assert "Sign out" in page and 'name="csrf"' in page
    resp = await client.get("/dashboard/devices")
    assert resp.headers["X-Frame-Options"] == "DENY" and resp.headers["Cache-Control"] == "no-store"
    page = await resp.text()
    assert "Device one" in page and "dev2" in page


async def test_form_without_or_with_a_wrong_csrf_token_is_refused(client, db_path):
    token = await sign_in(client)
    for data in ({"name": "NoToken", "items": "1"},
                 {"name": "BadToken", "items": "1", "csrf": token[:-1] + ("B" if token.endswith("A") else "A")},
                 {"name": "Empty", "items": "1", "csrf": ""}):
        resp = await client.post("/dashboard/programs", data=data, allow_redirects=False)
        assert resp.status == 403, data
        assert "CSRF" in await resp.text()
    assert program_names(db_path) == ["Three"]
    resp = await client.post("/dashboard/programs", data={"name": "Good", "items": "3, 1",
                                                          "csrf": token}, allow_redirects=False)
    assert resp.status == 303
    assert program_names(db_path) == ["Three", "Good"]


async def test_csrf_token_of_another_session_is_refused(client, aiohttp_client, db_path):
    mine = await sign_in(client)
    other = await aiohttp_client(client.server)
    theirs = await sign_in(other)
    assert mine != theirs
    resp = await client.post("/dashboard/programs", data={"name": "Crossed", "csrf": theirs},
                             allow_redirects=False)
    assert resp.status == 403
    assert "Crossed" not in program_names(db_path)


async def test_bad_program_input_says_what_was_wrong_and_stores_nothing(client, db_path):
    token = await sign_in(client)
    for data, why in (({"name": "", "items": "1"}, "name"),
                      ({"name": "X", "items": "1,two"}, "'two' is not a media id"),
                      ({"name": "X", "items": "99"}, "no media 99"),
                      ({"name": "Three", "items": ""}, "already exists")):
        resp = await client.post("/dashboard/programs", data={**data, "csrf": token})
        assert resp.status == 400
        assert why in html.unescape(await resp.text()), why
    assert program_names(db_path) == ["Three"]
    resp = await client.post("/dashboard/programs", data={"name": "N\x00ul", "items": "1", "csrf": token})
    assert resp.status == 400 and "NUL" in await resp.text()
    assert program_names(db_path) == ["Three"]


async def test_reorder_moves_an_item_and_refuses_off_the_end(client, seeded, db_path):
    token = await sign_in(client)
    pid = seeded["three"]
    resp = await client.post(f"/dashboard/programs/{pid}/move",
                             data={"csrf": token, "pos": "0", "dir": "down"}, allow_redirects=False)
    assert resp.status == 303
    order = [r[0] for r in sql(
        db_path, "SELECT media FROM program_items WHERE program = ? ORDER BY pos", (pid,))]
    m = seeded["media"]
    assert order == [m[1], m[0], m[2]]
    resp = await client.post(f"/dashboard/programs/{pid}/move",
                             data={"csrf": token, "pos": "2", "dir": "down"})
    assert resp.status == 400
    assert "cannot move item 3 of 3 down" in await resp.text()


async def test_assign_as_default_changes_what_the_device_is_handed(client, seeded):
    token = await sign_in(client)
    m = seeded["media"]
    resp = await client.post("/dashboard/programs", data={
        "csrf": token, "name": "Evening", "items": f"{m[2]}"}, allow_redirects=False)
    assert resp.status == 303
    programs = await (await client.get("/dashboard/programs")).text()
    assert "Evening" in programs
    device_token = await login(client, "dev1")
    first = await (await client.get("/api/v1/next", headers=bearer(device_token))).json()
    assert first["id"] == m[0]
    doc = await (await client.get("/api/v1/operator/devices")).json()
    dev1 = next(d for d in doc["devices"] if d["id"] == "dev1")
    assert dev1["online"] and dev1["playing"]["media"] == m[0]
    assert dev1["playing"]["program_name"] == "Three" and not dev1["playing"]["finished"]

    resp = await client.post("/dashboard/programs/2/assign", data={
        "csrf": token, "device": "dev1", "default": "1"}, allow_redirects=False)
    assert resp.status == 303
    after = await (await client.get("/api/v1/next", headers=bearer(device_token))).json()
    assert after["id"] == m[2] and after["pos"] == 0
    page = await (await client.get("/dashboard/devices")).text()
    assert "Evening #2 item 1" in page


async def test_assign_to_unknown_device_is_refused(client):
    token = await sign_in(client)
    resp = await client.post("/dashboard/programs/1/assign", data={"csrf": token, "device": "ghost"})
    assert resp.status == 400
    assert "no device 'ghost'" in html.unescape(await resp.text())


async def test_now_playing_and_last_error_follow_next_and_report(client, seeded, clock):
    await sign_in(client)
    device_token = await login(client, "dev1")
    item = await (await client.get("/api/v1/next", headers=bearer(device_token))).json()
    resp = await client.post("/api/v1/report", headers=bearer(device_token), json={
        "id": item["id"], "pos": item["pos"], "status": "failed",
        "errors": [["http://127.0.0.1:8101/music/1/tone-1.wav", "refused"]]})
    assert resp.status == 200
    doc = await (await client.get("/api/v1/operator/devices")).json()
    dev1 = next(d for d in doc["devices"] if d["id"] == "dev1")
    assert dev1["playing"]["finished"] and dev1["playing"]["status"] == "failed"
    assert dev1["error"]["text"] == "http://127.0.0.1:8101/music/1/tone-1.wav refused"
    item2 = await (await client.get("/api/v1/next", headers=bearer(device_token))).json()
    assert item2["pos"] == 1
    doc = await (await client.get("/api/v1/operator/devices")).json()
    dev1 = next(d for d in doc["devices"] if d["id"] == "dev1")
    assert dev1["playing"]["pos"] == 1 and not dev1["playing"]["finished"]
    assert dev1["error"] is not None   # the last error stays until a newer one
    clock.advance(601)
    doc = await (await client.get("/api/v1/operator/devices")).json()
    assert not next(d for d in doc["devices"] if d["id"] == "dev1")["online"]
    page = await (await client.get("/dashboard/reports?failed=1")).text()
    assert "refused" in page


async def test_sign_out_ends_the_session_for_good(client):
    token = await sign_in(client)
    cookie = next(c.value for c in client.session.cookie_jar if c.key == "operator_session")
    resp = await client.post("/dashboard/logout", data={"csrf": token}, allow_redirects=False)
    assert resp.status == 303 and resp.headers["Location"] == "/dashboard/login"
    resp = await client.get("/dashboard/devices", allow_redirects=False,
                            cookies={"operator_session": cookie})
    assert resp.status == 303


async def test_password_is_stored_only_as_an_scrypt_hash(db_path, seeded):
    stored = sql(db_path, "SELECT password FROM operators WHERE name = 'ops'")[0][0]
    assert stored.startswith("scrypt$") and PASSWORD not in stored


async def test_sign_in_never_redirects_off_the_dashboard(client):
    resp = await client.get("/dashboard/login")
    token = csrf_of(await resp.text())
    resp = await client.post("/dashboard/login", data={
        "csrf": token, "name": "ops", "password": PASSWORD, "next": "//evil.example/x"},
        allow_redirects=False)
    assert resp.status == 303 and resp.headers["Location"] == "/dashboard/"


async def test_owners_and_file_servers_pages_show_what_the_database_holds(client, db_path, clock):
    sql(db_path, "INSERT INTO owners (id, name, created, revoked) VALUES (7, 'Label A', ?, NULL)",
        (clock(),))
    sql(db_path, "INSERT INTO owners (id, name, created, revoked) VALUES (8, 'Gone Records', ?, ?)",
        (clock(), clock()))
    sql(db_path, "UPDATE media SET owner_account = 7 WHERE id IN (1, 2)")
    sql(db_path, "INSERT INTO file_servers (address, up, since, why, checked)"
        " VALUES ('http://127.0.0.1:8101', 0, ?, 'refused', ?)", (clock(), clock()))
    await sign_in(client)
    page = await (await client.get("/dashboard/owners")).text()
    assert "Label A" in page and "Gone Records" in page and "revoked" in page
    rows = page.split("<tr>")
    assert any("Label A" in r and '<td class="num">2</td>' in r for r in rows)
    page = await (await client.get("/dashboard/servers")).text()
    down, mirror = page.index("http://127.0.0.1:8101"), page.index("http://127.0.0.1:8104")
    assert down < mirror   # down ones first
    assert "refused" in page and "not checked yet" in page


async def test_repeated_wrong_passwords_lock_that_name_out_for_a_while(client, clock):
    resp = await client.get("/dashboard/login")
    token = csrf_of(await resp.text())

    async def attempt(password, name="ops"):
        return await client.post("/dashboard/login", data={
            "csrf": token, "name": name, "password": password}, allow_redirects=False)
    for _ in range(5):
        assert (await attempt("guess " * 3)).status == 401
    resp = await attempt(PASSWORD)   # even the right password, for now
    assert resp.status == 429 and int(resp.headers["Retry-After"]) == 300
    assert "too many failed sign-ins" in html.unescape(await resp.text())
    assert "operator_session" not in {c.key for c in client.session.cookie_jar}
    clock.advance(301)
    assert (await attempt(PASSWORD)).status == 303


async def test_the_lockout_counts_failures_on_every_replica_sharing_the_database(
        aiohttp_client, db_path, clock, seeded):
    # two meta server apps on one database, as two replicas behind a balancer
    from host_server.app import init_app
    replicas = [await aiohttp_client(init_app(probe_interval=0, db=db_path, clock=clock)) for _ in range(2)]

    async def attempt(client, password):
        token = csrf_of(await (await client.get("/dashboard/login")).text())
        return await client.post("/dashboard/login", data={
            "csrf": token, "name": "ops", "password": password}, allow_redirects=False)
    for i in range(5):
        assert (await attempt(replicas[i % 2], "guess")).status == 401
    assert (await attempt(replicas[0], PASSWORD)).status == 429
    assert (await attempt(replicas[1], PASSWORD)).status == 429


async def test_a_sign_in_with_a_nul_character_is_refused(client):
    token = csrf_of(await (await client.get("/dashboard/login")).text())
    resp = await client.post("/dashboard/login", data={
        "csrf": token, "name": "ops\x00", "password": PASSWORD}, allow_redirects=False)
    assert resp.status == 400 and "NUL" in await resp.text()


async def test_concurrent_wrong_sign_ins_cannot_slip_past_the_limit(client):
    import asyncio
    resp = await client.get("/dashboard/login")
    token = csrf_of(await resp.text())
    results = await asyncio.gather(*(client.post("/dashboard/login", allow_redirects=False, data={
        "csrf": token, "name": "ops", "password": f"guess number {i}"}) for i in range(12)))
    statuses = sorted(r.status for r in results)
    assert statuses == [401] * 5 + [429] * 7   # five checked their password, no more


async def test_sign_ins_from_one_address_are_limited_for_any_name(aiohttp_client, db_path, clock, seeded):
    from host_server.app import init_app
    client = await aiohttp_client(init_app(probe_interval=0, db=db_path, clock=clock))
    resp = await client.get("/dashboard/login")
    token = csrf_of(await resp.text())
    for i in range(20):   # a different name each time: no name's own limit is reached
        resp = await client.post("/dashboard/login", allow_redirects=False,
                                 data={"csrf": token, "name": f"guess{i}", "password": "x" * 8})
        assert resp.status == 401
    resp = await client.post("/dashboard/login", allow_redirects=False,
                             data={"csrf": token, "name": "ops", "password": PASSWORD})
    assert resp.status == 429 and int(resp.headers["Retry-After"]) == 300


@pytest.mark.parametrize("trusted, secure", [(("127.0.0.1",), True), ((), False)])
async def test_behind_the_tls_front_the_session_cookie_is_secure_and_hsts_is_sent(
        aiohttp_client, db_path, clock, seeded, trusted, secure):
    from host_server.app import init_app
    client = await aiohttp_client(init_app(probe_interval=0, db=db_path, clock=clock,
                                           trusted_proxies=trusted))
    front = {"X-Forwarded-Proto": "https"}   # what tls-front.conf sets; believed from it only
    resp = await client.get("/dashboard/login", headers=front)
    token = csrf_of(await resp.text())
    assert ("Strict-Transport-Security" in resp.headers) == secure
    # a browser sends a Secure cookie back over https: here the hop is plain, so by hand
    cookie = f"operator_login_csrf={resp.cookies['operator_login_csrf'].value}"
    resp = await client.post("/dashboard/login", headers={**front, "Cookie": cookie},
                             allow_redirects=False,
                             data={"csrf": token, "name": "ops", "password": PASSWORD})
    assert resp.status == 303
    cookie = next(v for k, v in resp.headers.items() if k == "Set-Cookie" and "operator_session" in v)
    assert ("Secure" in cookie) == secure and "HttpOnly" in cookie


async def test_a_thirty_digit_number_in_a_form_is_a_clear_400(client):
    token = await sign_in(client)
    big = "9" * 30
    for path, data in ((f"/dashboard/programs/{big}/assign", {"device": "dev1"}),
                       ("/dashboard/programs/1/move", {"pos": big, "dir": "up"}),
                       (f"/dashboard/programs/{big}/move", {"pos": "0", "dir": "up"}),
                       ("/dashboard/programs", {"name": "Big", "items": big})):
        resp = await client.post(path, data={**data, "csrf": token})
        assert resp.status == 400, (path, resp.status)


async def test_a_failed_sign_in_keeps_the_page_asked_for(client):
    resp = await client.get("/dashboard/login?next=/dashboard/reports")
    token = csrf_of(await resp.text())
    resp = await client.post("/dashboard/login", data={
        "csrf": token, "name": "ops", "password": "wrong", "next": "/dashboard/reports"})
    assert resp.status == 401
    assert 'name="next" value="/dashboard/reports"' in await resp.text()
    resp = await client.post("/dashboard/login", data={
        "csrf": token, "name": "ops", "password": PASSWORD, "next": "/dashboard/reports"},
        allow_redirects=False)
    assert resp.status == 303 and resp.headers["Location"] == "/dashboard/reports"


async def test_root_leads_to_the_dashboard_and_the_dashboard_to_its_overview(client):
    resp = await client.get("/", allow_redirects=False)
    assert resp.status == 303 and resp.headers["Location"] == "/dashboard/"
    await sign_in(client)
    resp = await client.get("/")
    assert resp.status == 200 and str(resp.url).endswith("/dashboard/overview")
    assert "<h1>Overview</h1>" in await resp.text()
