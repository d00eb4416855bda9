"""An owner requires signed, expiring URLs on both their servers, end to end: `tools.owner sign`
on the primary (our file server, behind a fault proxy) and on the mirror (real nginx with
fileserver-signed.conf), registration and mirroring checked through signed URLs, then a device
(micropython and CPython; the firmware as it is) plays the program with URLs valid 1 s beyond
each item's duration. The primary stalls in the middle of the first item until its URLs have expired: the
device gives the primary up and resumes at the mirror, which answers 410; with every source
refusing, it reports the item failed, and the next `next` hands out freshly signed URLs: the
program plays on, and the failed item plays when it comes round again. Then the owner gives the
meta server a new secret for the primary and not the primary itself: it answers 403, and the
device fails over to the mirror."""
import asyncio
import json
import math
import os
import re
import shutil
import time
import types

import pytest

from simulator.faults import Fault, FaultProxy
from simulator.media import write_demo_media
from simulator.nginxproc import NginxProcess
from simulator.procs import ServerProcess, free_port, run_cli
from tests.e2e.conftest import INTERPRETERS, play
from tests.e2e.test_nginx_owner import owner_tool, started  # noqa: F401 (a fixture)
from tools.filehash import file_sha256
from tools.playback import playback_fields

pytestmark = pytest.mark.timeout(240)
FILES = ("sealed.wav", "partial.wav", "interlude.wav")   # 3 s, 3 s, 4 s: the first one stalls
TTL = 1
MIRROR_SECRET = "the-mirror-secret_0123456789"   # the owner's own, given with --secret-file


@pytest.mark.parametrize("interpreter", INTERPRETERS)
async def test_a_device_plays_on_through_urls_expiring_mid_program(tmp_path, started, interpreter):  # noqa: F811
    folder = tmp_path / "owner" / "music"
    demo = {m["name"]: m for m in write_demo_media(str(tmp_path / "demo"))}
    os.makedirs(folder)
    for name in FILES:
        shutil.copy(demo[name]["path"], folder / name)
    db, logs = str(tmp_path / "meta.db"), tmp_path / "logs"
    os.makedirs(logs)
    out = await run_cli(["--db", db, "add-owner", "Signing Label"])
    token = re.search(r"\(shown once\): (own_\S+)$", out.strip()).group(1)
    meta = await started(ServerProcess("meta", [
        "-m", "host_server", "--db", db, "serve", "--host", "127.0.0.1", "--port", "0",
        "--allow-source-net", "127.0.0.0/8", "--probe-interval", "0",
        "--signed-url-ttl", str(TTL)], str(logs / "meta.log")))

    # the primary: signing first (a new secret, into a file), then the server that checks it
    stall = Fault("stall", "/music/" + FILES[0], at=demo[FILES[0]]["size"] // 2)
    proxy = await started(FaultProxy(("127.0.0.1", 9)))   # its upstream and fault come later
    primary = proxy.address
    out = await owner_tool(meta.url, token, "sign", primary, "--save-secret", str(tmp_path / "p.secret"))
    assert "its secret is in" in out and (tmp_path / "p.secret").read_text().strip() not in out
    files = await started(ServerProcess("files", [
        "-m", "host_server.fileserver", "--root", str(tmp_path / "owner"), "--port", "0",
        "--signing-secret-file", str(tmp_path / "p.secret")], str(logs / "files.log")))
    proxy.upstream = files.hostport
    # the mirror: real nginx, with the owner's own secret
    (tmp_path / "m.secret").write_text(MIRROR_SECRET + "\n")
    port = free_port()
    mirror_address = "http://127.0.0.1:%d" % port
    await owner_tool(meta.url, token, "sign", mirror_address, "--secret-file", str(tmp_path / "m.secret"))
    mirror = await started(NginxProcess(tmp_path / "nginx", "fileserver-signed.conf", {
        "ROOT": tmp_path / "mirror", "LISTEN": "127.0.0.1:%d" % port, "SECRET": MIRROR_SECRET}, port))
    out = await owner_tool(meta.url, token, "servers")
    assert sorted(out.splitlines()) == sorted(["%s  signed URLs" % a for a in (primary, mirror_address)])

    out = await owner_tool(meta.url, token, "register", str(folder), "--address", primary,
                           "--directory", "/music")
    assert "3 of 3 media files registered" in out
    out = await owner_tool(meta.url, token, "mirror", str(folder), str(tmp_path / "mirror" / "m"),
                           "--address", mirror_address, "--directory", "/m")
    assert "alternate registered for 3 media" in out
    assert re.search(r'GET /m/%s\?md5=[\w-]{22}&expires=\d+ HTTP/1.1" 200' % FILES[0], mirror.requests())

    proxy.faults.append(stall)   # devices' fetches, not the checks of registration
    media = json.loads(await run_cli(["--db", db, "list", "media", "--json"]))
    ids = {m["src"].rsplit("/", 1)[1]: m["id"] for m in media}
    await run_cli(["--db", db, "add-program", "Signed", "--items", ",".join(str(ids[n]) for n in FILES)])
    secret = re.search(r"\(shown once\): (\w+)$", (await run_cli(["--db", db, "add-device", "dev1"])).strip()).group(1)
    await run_cli(["--db", db, "assign", "dev1", "Signed", "--default"])
    net = types.SimpleNamespace(workdir=str(tmp_path), devices={"dev1": secret}, meta=meta)

    async def expire_the_stalled_item():
        while not stall.fired:                      # the device is in the middle of FILES[0]
            await asyncio.sleep(0.05)
        dur = playback_fields(str(folder / FILES[0]))["dur"] / 1000
        gone = math.ceil(time.time() + TTL + dur) + 1   # past what its URLs were signed for
        while time.time() <= gone:
            await asyncio.sleep(0.1)
        proxy.release()                             # the primary gives up on the device

    releaser = asyncio.ensure_future(expire_the_stalled_item())
    played = await play(net, interpreter, items=len(FILES) + 1, read_timeout=30.0)
    await releaser
    assert played.rc == 0, played.console()

    first, *rest = played.items
    assert first["id"] == ids[FILES[0]] and first["status"] == "failed"
    fails = played.of("FAIL")
    assert [(f["src"].split("?")[0], f["why"].split(" at ")[0]) for f in fails] == [
        (primary + "/music/" + FILES[0], "dropped"), (mirror_address + "/m/" + FILES[0], "410")]
    assert all("?md5=" in f["src"] for f in fails)
    assert [ev["id"] for ev in rest] == [ids[n] for n in FILES[1:]] + [ids[FILES[0]]]
    for ev in rest:
        assert ev["status"] == "played" and ev["verified"] and ev["src"].startswith(primary + "/music/")
        name = ev["src"].split("?")[0].rsplit("/", 1)[1]
        assert file_sha256(os.path.join(played.dev.out_dir, str(ev["id"]))) == demo[name]["sha256"]
    # the mirror refused the expired URL with a range (the resume), and the reports keep the
    # sources unsigned
    assert re.search(r'GET /m/%s\?md5=[\w-]{22}&expires=\d+ HTTP/1.1" 410' % FILES[0], mirror.requests())
    reports = json.loads(await run_cli(["--db", db, "reports", "--json", "--device", "dev1"]))
    assert reports and not any("md5=" in json.dumps(r) for r in reports)

    # a secret the primary does not know: 403 there, the mirror serves
    (tmp_path / "new.secret").write_text("a-secret-the-primary-lacks\n")
    out = await owner_tool(meta.url, token, "sign", primary, "--secret-file", str(tmp_path / "new.secret"))
    assert "signed from now on" in out and "shown once" not in out
    again = await play(net, interpreter, items=1, read_timeout=30.0)
    assert again.rc == 0, again.console()
    (fail,) = again.of("FAIL")
    assert fail["src"].startswith(primary + "/music/" + FILES[1] + "?md5=") and fail["why"] == "403"
    (ev,) = again.items
    assert ev["status"] == "played" and ev["src"].startswith(mirror_address + "/m/" + FILES[1] + "?md5=")
