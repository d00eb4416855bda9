"""The dashboard in a real browser: Debian's headless Chromium driven by Playwright, against the
real network (meta server and file servers as processes) and a device under micropython.

The operator signs in, creates a program, assigns it to the playing device, and sees the
device's "now playing" change on the devices page (which refreshes itself).
"""
import asyncio
import os
import subprocess
import sys

import pytest
from playwright.async_api import expect

from simulator.devices import HEAP, DeviceProcess, compile_firmware
from simulator.network import Network
from simulator.procs import ROOT

PASSWORD = "browser test password"
WAIT_MS = 60_000   # how long the page may take to show a change (a bound, not a measurement)


def add_operator(db, name, password):
    proc = subprocess.run([sys.executable, "-m", "host_server", "--db", db, "add-operator", name],
                          input=password + "\n", capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert proc.returncode == 0, proc.stderr


@pytest.fixture
async def network(tmp_path):
    net = Network(str(tmp_path / "net"), faults=(), devices=1)
    try:
        await net.start()
        yield net
    finally:
        await net.stop()


@pytest.fixture
async def playing_device(network):
    """dev1 under micropython (simulator.devices.HEAP, the firmware compiled by mpy-cross as on a board),
    playing its program over and over (its output drained)."""
    entry = compile_firmware(os.path.join(network.workdir, "firmware-mpy"))
    dev = DeviceProcess(network.workdir, "dev1", network.devices["dev1"], network.meta.url,
                        interpreter="micropython", heap=HEAP, sink="null", items=0,
                        read_timeout=2.0, connect_timeout=2.0, entry=entry)
    await dev.start()
    events = []

    async def drain():
        async for tag, ev in dev.events():
            events.append((tag, ev))
    task = asyncio.create_task(drain())
    yield dev, events, task
    dev.kill()
    await dev.wait()
    await task


async def test_operator_assigns_a_new_program_and_sees_now_playing_change(network, playing_device,
                                                                          browser):
    dev, events, ended = playing_device

    async def shown(locator, text):
        """Waits (up to WAIT_MS) for the text; fails at once, with its console, if the device
        process ends meanwhile: it is meant to play forever."""
        waiting = asyncio.ensure_future(expect(locator).to_contain_text(text, timeout=WAIT_MS))
        await asyncio.wait([waiting, ended], return_when=asyncio.FIRST_COMPLETED)
        if not waiting.done():
            waiting.cancel()
            with open(dev.log_path, encoding="utf-8", errors="replace") as f:
                pytest.fail("the device stopped: " + f.read()[-1500:])
        await waiting
    add_operator(network.db, "ops", PASSWORD)
    base = network.meta.url
    evening_item = network.media_ids["interlude.wav"]

    context = await browser.new_context()
    page = await context.new_page()
    await page.goto(base + "/dashboard/devices")
    assert page.url.startswith(base + "/dashboard/login?next=")   # nothing without signing in
    await page.fill("input[name=name]", "ops")
    await page.fill("input[name=password]", "not the password")
    await page.click("button[type=submit]")
    await expect(page.locator("#error")).to_contain_text("wrong name or password")
    await page.fill("input[name=password]", PASSWORD)
    await page.click("button[type=submit]")
    await page.wait_for_url(base + "/dashboard/devices")

    playing = page.locator('tr[data-device="dev1"] td.playing')
    await shown(playing, "Demo #")
    await expect(page.locator('tr[data-device="dev1"] td.online')).to_contain_text("online")

    # The devices page stays open in this tab; the operator works in a second one.
    other = await context.new_page()
    await other.goto(base + "/dashboard/programs")
    form = other.locator("#new-program")
    await form.locator("input[name=name]").fill("Evening")
    await form.locator("input[name=items]").fill(str(evening_item))
    await form.locator("button[type=submit]").click()
    await expect(other.locator("#message")).to_contain_text("(Evening) created with 1 items")

    assert await other.locator("h2", has_text="Evening").count() == 1
    assign = other.locator("form.assign").last   # the newest program's form comes last
    await assign.locator("select[name=device]").select_option("dev1")
    await assign.locator("button[type=submit]").click()
    await expect(other.locator("#message")).to_contain_text("device dev1 entitled to program")

    # The device finishes the item it is on, asks for the next one, and gets Evening's; the
    # first tab's own refresh shows it, without a reload.
    await shown(playing, "Evening #")
    await expect(playing).to_contain_text("Interlude")
    assert page.url == base + "/dashboard/devices"

    # and the device really plays it: its own ITEM line, and the server's record of its report
    async def played_evening():
        while not any(tag == "ITEM" and ev["id"] == evening_item and ev["status"] == "played"
                      for tag, ev in events):
            await asyncio.sleep(0.2)
    await asyncio.wait_for(played_evening(), WAIT_MS / 1000)
    reports = await network.reports("dev1")
    assert any(r["media"] == evening_item and r["status"] == "played" for r in reports)
