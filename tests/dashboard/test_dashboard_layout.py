"""Every dashboard page in the real browser (Debian's Chromium, Playwright), against a meta server
process holding a busy day's data: each page is screenshotted at a desktop's and a phone's width,
and checked for layout (nothing wider than the screen: document.scrollingElement.scrollWidth <=
innerWidth, and the screenshot as wide as the viewport), no script error, no request leaving the
server. Then an operator manages devices and a program at a phone's width.

The screenshots are written to the test's tmp_path, or to $DASHBOARD_SCREENSHOTS when it is set.
"""
import asyncio
import os
import pathlib
import re
import struct
import time

import pytest
from playwright.async_api import expect

from host_server.dashboard.passwords import hash_password
from host_server.db import Database
from host_server.model import catalog
from host_server.services import owners
from hostutil import SECRET, Server, media_doc

PASSWORD = "layout test password"
WIDTHS = {"desktop": (1280, 800), "phone": (390, 844)}
A, B, C = "http://127.0.0.1:8101", "http://127.0.0.1:8104", "http://files.example-owner.org:8443"
WAIT_MS = 20_000


async def busy_day(path):
    """A database as an operator meets it: media on three owners' servers (long URLs), programs,
    devices playing, one failing, one retrying an item it never reports, a day of reports."""
    db = await Database(path).connect()
    try:
        ids = []
        for n in range(1, 13):
            address = (A, B, C)[n % 3]
            ids.append(await db.catalog.add_media(catalog.validate_media(media_doc(
                n, primary_address=address, primary_directory=f"/a/rather/long/directory/name/{n}",
                file_name=f"a-long-file-name-of-a-recording-number-{n}.wav",
                title=f"Recording {n} with a title long enough to wrap on a phone"))))
        await db.catalog.add_program("Daytime", ids[:6])
        await db.catalog.add_program("Evening with a long program name", ids[6:])
        for n in range(1, 6):
            await db.devices.add(f"device-{n}", f"Player in room {n}", SECRET)
            await db.devices.assign(f"device-{n}", "Daytime", default=True)
        await owners.create_owner(db, "Owner Records")
        await owners.create_owner(db, "Second Label")
        await db.operators.add("ops", hash_password(PASSWORD))
        await db.health.record([(B, False, "refused")])
        now = time.time()
        for n in range(120):   # spread over a day
            device = f"device-{1 + n % 3}"
            rep = {"id": ids[n % 6], "pos": n % 6, "status": "played",
                   "src": f"{(A, C)[n % 2]}/a/rather/long/directory/name/{n % 6}/x.wav",
                   "bytes": 500_000 + n, "ms": 3000, "errors": []}
            if n % 7 == 0:
                rep["errors"] = [[f"{B}/a/rather/long/directory/name/{n % 6}/x.wav", "refused"]]
            if n % 11 == 0:
                rep.update(status="failed", src=None, errors=[[f"{A}/x.wav", "timeout"]])
            db.clock = lambda at=now - 86000 + n * 700: at
            await db.devices.add_report(device, rep)
        db.clock = time.time
        for _ in range(2):
            await db.devices.add_report("device-4", {
                "id": ids[1], "pos": 1, "status": "failed", "src": None, "bytes": 0, "ms": 9,
                "errors": [[f"{A}/a/rather/long/directory/name/2/a-long-file-name.wav", "404"]]})
            await db.devices.add_report("device-4", {
                "id": ids[2], "pos": 2, "status": "failed", "src": None, "bytes": 0, "ms": 9,
                "errors": []})
        db.clock = lambda: time.time() - 900
        await db.devices.next_item("device-5")   # handed out a quarter of an hour ago
        db.clock = time.time
        await db.devices.next_item("device-5")   # and asked for again, never reported
        await db.devices.next_item("device-1")
    finally:
        await db.close()


@pytest.fixture
async def meta(tmp_path):
    path = str(tmp_path / "meta.db")
    await busy_day(path)
    server = await asyncio.to_thread(Server, "host_server", "--db", path, "serve", "--port", "0",
                                     "--probe-interval", "0", "--no-access-log",
                                     "--metrics-net", "127.0.0.0/8")
    try:
        yield f"http://127.0.0.1:{server.port}"
    finally:
        assert await asyncio.to_thread(server.stop) == 0, server.stderr


def png_size(path):
    with open(path, "rb") as f:
        head = f.read(24)
    assert head[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", head[16:24])


async def signed_in_page(browser, base, width, height):
    context = await browser.new_context(viewport={"width": width, "height": height})
    page = await context.new_page()
    problems = []
    page.on("pageerror", lambda exc: problems.append(f"script error: {exc}"))
    page.on("request", lambda req: None if req.url.startswith(base) else problems.append(
        f"a request leaves the server: {req.url}"))
    await page.goto(base + "/")
    assert page.url.startswith(base + "/dashboard/login?next=")   # / leads to the dashboard
    await page.fill("input[name=name]", "ops")
    await page.fill("input[name=password]", PASSWORD)
    await page.click("button[type=submit]")
    await page.wait_for_url(base + "/dashboard/overview")
    return context, page, problems


PAGES = ["/dashboard/overview", "/dashboard/devices", "/dashboard/devices/device-5",
         "/dashboard/programs", "/dashboard/media", "/dashboard/media/2", "/dashboard/owners",
         "/dashboard/servers", "/dashboard/reports", "/dashboard/reports?failed=1",
         "/dashboard/usage"]

LAYOUT = """() => {
  const out = {scroll: document.scrollingElement.scrollWidth, inner: window.innerWidth, wide: []};
  for (const e of document.querySelectorAll("header, main, main > *, .scroll, svg.chart, main > form, section > form")) {
    const r = e.getBoundingClientRect();
    if (r.width > 0 && (r.left < -1 || r.right > window.innerWidth + 1))
      out.wide.push(e.tagName + (e.id ? "#" + e.id : "") + " " + Math.round(r.left) + ".." + Math.round(r.right));
  }
  return out;
}"""


@pytest.mark.parametrize("screen", WIDTHS)
async def test_every_page_fits_the_screen_and_is_screenshotted(meta, browser, tmp_path, screen):
    width, height = WIDTHS[screen]
    shots = pathlib.Path(os.environ.get("DASHBOARD_SCREENSHOTS") or tmp_path / "screenshots")
    shots.mkdir(parents=True, exist_ok=True)
    context, page, problems = await signed_in_page(browser, meta, width, height)
    try:
        for path in ["/dashboard/login"] + PAGES:
            if path == "/dashboard/login":   # signed out, in a context of its own
                other = await browser.new_context(viewport={"width": width, "height": height})
                shown = await other.new_page()
                await shown.goto(meta + path)
            else:
                shown = page
                await page.goto(meta + path)
            await expect(shown.locator("h1")).to_be_visible()
            viewport = await shown.evaluate(
                "document.querySelector('meta[name=viewport]').content")
            assert viewport == "width=device-width, initial-scale=1", path
            layout = await shown.evaluate(LAYOUT)
            assert layout["scroll"] <= layout["inner"] == width, (path, screen, layout)
            assert layout["wide"] == [], (path, screen, layout["wide"])
            name = re.sub(r"\W+", "-", path.strip("/")) or "root"
            shot = shots / f"{name}-{screen}.png"
            await shown.screenshot(path=str(shot), full_page=True)
            shot_width, shot_height = png_size(shot)
            assert shot_width == width and shot_height >= height, (path, screen)
            if shown is not page:
                await other.close()
        assert problems == []
    finally:
        await context.close()


async def test_the_overview_draws_its_charts_and_names_the_stuck_devices(meta, browser):
    context, page, problems = await signed_in_page(browser, meta, *WIDTHS["phone"])
    try:
        await expect(page.locator("#n-online")).to_have_text("3")   # 1, 4 and 5 lately
        await expect(page.locator("#n-failing")).to_have_text("2")
        trouble = page.locator("#trouble")
        await expect(trouble.locator('tr[data-device="device-4"]')).to_contain_text(
            "failed report(s) in a row")
        await expect(trouble.locator('tr[data-device="device-5"]')).to_contain_text(
            "asks for it again and again without reporting it")
        for chart in ("#chart-hourly svg", "#chart-bytes svg", "#chart-failovers svg"):
            box = await page.locator(chart).bounding_box()
            assert box["width"] > 300 and box["height"] > 50, chart
        bars = page.locator("#chart-hourly rect.played")
        assert await bars.count() >= 20   # a day of hours with plays
        bytes_chart = page.locator("#chart-bytes svg")
        await expect(bytes_chart).to_contain_text(A)
        await expect(bytes_chart).to_contain_text(C)
        await expect(bytes_chart).to_contain_text("meta server")
        await expect(page.locator("#failovers")).to_contain_text(B)
        assert problems == []
        # the same figures for Prometheus, from `serve --metrics-net`
        scraped = await page.request.get(meta + "/metrics")
        assert scraped.status == 200
        text = await scraped.text()
        assert re.search(r"^meta_devices_online 3\.0$", text, re.M)
        assert re.search(r"^meta_devices 5\.0$", text, re.M)
        assert re.search(r'^meta_http_requests_total\{method="GET",route="/dashboard/overview",'
                         r'status="200"\} 1\.0$', text, re.M)
    finally:
        await context.close()


async def test_an_operator_manages_devices_and_a_program_at_a_phone_width(meta, browser):
    context, page, problems = await signed_in_page(browser, meta, *WIDTHS["phone"])
    try:
        await page.goto(meta + "/dashboard/devices")
        form = page.locator("#add-device")
        await form.locator("input[name=id]").fill("hall")
        await form.locator("input[name=name]").fill("Hall speaker")
        await form.locator("button[type=submit]").click()
        await expect(page.locator("#secret")).to_contain_text("hall")
        secret = await page.locator("#secret code").last.inner_text()
        assert re.fullmatch(r"[0-9a-f]{32}", secret)
        await page.click('tr[data-device="hall"] a')
        await page.wait_for_url(meta + "/dashboard/devices/hall")
        assign = page.locator("#device-assign")
        await assign.locator("select[name=program]").select_option(label="Daytime #1")
        await assign.locator("input[name=default]").check()
        await assign.locator("button[type=submit]").click()
        await expect(page.locator("#message")).to_contain_text("entitled to program 1 as its default")
        await expect(page.locator("#entitlements")).to_contain_text("Daytime")

        await page.goto(meta + "/dashboard/programs")
        daytime = page.locator("#program-1")
        items = daytime.locator("table.items tr")
        await expect(items).to_have_count(7)   # a header and six items
        add = daytime.locator("form.add-item")
        await add.locator("select[name=media]").select_option("12")
        await add.locator("input[name=pos]").fill("1")
        await add.locator("button[type=submit]").click()
        await expect(page.locator("#message")).to_contain_text("media 12 added as item 1")
        await expect(items).to_have_count(8)
        await expect(items.nth(1)).to_contain_text("Recording 12")
        await items.nth(1).locator("button[title='move down']").click()
        await expect(page.locator("#message")).to_contain_text("item 1 moved down")
        await expect(items.nth(2)).to_contain_text("Recording 12")
        await items.nth(2).locator("form.remove-item button").click()
        await expect(page.locator("#message")).to_contain_text("item 2 (media 12) removed")
        await expect(items).to_have_count(7)

        await page.goto(meta + "/dashboard/devices/hall")
        remove = page.locator("#remove-device")
        await remove.locator("button[type=submit]").click()   # not confirmed: nothing removed
        await expect(page.locator("#error")).to_contain_text("tick the box")
        await remove.locator("input[name=confirm]").check()
        await remove.locator("button[type=submit]").click()
        await page.wait_for_url(re.compile(re.escape(meta) + r"/dashboard/devices\?msg="))
        await expect(page.locator("#message")).to_contain_text("device hall removed")
        await expect(page.locator('tr[data-device="hall"]')).to_have_count(0)
        layout = await page.evaluate(LAYOUT)
        assert layout["scroll"] <= layout["inner"] and layout["wide"] == []
        assert problems == []
    finally:
        await context.close()
