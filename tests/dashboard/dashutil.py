"""Helpers for the dashboard tests (named uniquely: other test folders have helpers too)."""
import re

PASSWORD = "correct horse battery"

CSRF_RE = re.compile(r'name="csrf" value="([^"]+)"')


def csrf_of(html):
    found = CSRF_RE.search(html)
    assert found, "no CSRF field in the page"
    return found.group(1)


async def sign_in(client, name="ops", password=PASSWORD):
    """Signs in through the form; returns the session's CSRF token (from a dashboard page)."""
    resp = await client.get("/dashboard/login")
    assert resp.status == 200
    token = csrf_of(await resp.text())
    resp = await client.post("/dashboard/login", data={
        "csrf": token, "name": name, "password": password, "next": "/dashboard/programs"},
        allow_redirects=False)
    assert resp.status == 303, await resp.text()
    assert resp.headers["Location"] == "/dashboard/programs"
    resp = await client.get("/dashboard/programs")
    assert resp.status == 200
    return csrf_of(await resp.text())
