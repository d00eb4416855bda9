"""nginx (Debian's package) as a media owner's file server, end to end: the owner registers a
folder served by nginx and mirrors it to a second nginx with `python -m tools.owner`; the meta
server checks every source; a device plays the program from nginx under micropython (and
CPython), and from the mirror once the owner's nginx is stopped."""
import asyncio
import json
import os
import re
import sys
import types

import pytest

from simulator.media import write_demo_media
from simulator.procs import ROOT, ServerProcess, free_port, run_cli
from tests.e2e.conftest import INTERPRETERS, play
from simulator.nginxproc import NginxProcess
from tools.filehash import file_sha256

pytestmark = pytest.mark.timeout(240)


class Nginx(NginxProcess):
    """An owner's file server: host_server/nginx/fileserver.conf serving root."""

    def __init__(self, workdir, root):
        self.port = free_port()
        self.address = "http://127.0.0.1:%d" % self.port
        super().__init__(workdir, "fileserver.conf",
                         {"ROOT": root, "LISTEN": "127.0.0.1:%d" % self.port}, self.port)


@pytest.fixture
async def started(tmp_path):
    procs = []

    async def start(proc):
        procs.append(proc)
        return await proc.start()

    yield start
    for p in reversed(procs):
        await p.stop()


async def owner_tool(meta_url, token, *args):
    env = dict(os.environ, META_SERVER=meta_url, OWNER_TOKEN=token)
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "tools.owner", *args, cwd=ROOT, env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(proc.communicate(), 120)
    assert proc.returncode == 0, (out.decode(), err.decode())
    return out.decode()


@pytest.mark.parametrize("interpreter", INTERPRETERS)
async def test_devices_play_an_owners_files_from_nginx_and_from_its_nginx_mirror(
        tmp_path, started, interpreter):
    folder = tmp_path / "owner" / "music"
    demo = write_demo_media(str(folder))
    primary = await started(Nginx(tmp_path / "nginx-primary", tmp_path / "owner"))
    mirror = await started(Nginx(tmp_path / "nginx-mirror", tmp_path / "mirror"))
    db = str(tmp_path / "meta.db")
    out = await run_cli(["--db", db, "add-owner", "Demo Label"])
    token = re.search(r"\(shown once\): (own_\S+)$", out.strip()).group(1)
    os.makedirs(tmp_path / "logs")
    meta = await started(ServerProcess("meta", [
        "-m", "host_server", "--db", db, "serve", "--host", "127.0.0.1", "--port", "0",
        "--allow-source-net", "127.0.0.0/8"],
        str(tmp_path / "logs" / "meta.log")))

    out = await owner_tool(meta.url, token, "register", str(folder), "--address", primary.address,
                           "--directory", "/music")
    assert "%d of %d media files registered" % (len(demo), len(demo)) in out
    out = await owner_tool(meta.url, token, "mirror", str(folder), str(tmp_path / "mirror" / "m"),
                           "--address", mirror.address, "--directory", "/m")
    assert "alternate registered for %d media" % len(demo) in out
    # The meta server fetched every file from both nginx servers to check it.
    for name in (m["name"] for m in demo):
        assert "GET /music/%s HTTP/1.1\" 200" % name in primary.requests()
        assert "GET /m/%s HTTP/1.1\" 200" % name in mirror.requests()

    media = json.loads(await run_cli(["--db", db, "list", "media", "--json"]))
    by_name = {m["src"].rsplit("/", 1)[1]: m["id"] for m in media}
    ids = [by_name[m["name"]] for m in demo]
    await run_cli(["--db", db, "add-program", "Owner", "--items", ",".join(map(str, ids))])
    secret = re.search(r"\(shown once\): (\w+)$", (await run_cli(["--db", db, "add-device", "dev1"])).strip()).group(1)
    await run_cli(["--db", db, "assign", "dev1", "Owner", "--default"])
    net = types.SimpleNamespace(workdir=str(tmp_path), devices={"dev1": secret}, meta=meta, media=demo)
    expected = {by_name[m["name"]]: m["sha256"] for m in demo}

    played = await play(net, interpreter)
    assert played.rc == 0, played.console()
    assert played.of("FAIL") == []
    assert [ev["id"] for ev in played.items] == ids
    for ev in played.items:
        assert ev["status"] == "played" and ev["verified"] and ev["src"].startswith(primary.address + "/music/")
        assert file_sha256(os.path.join(played.dev.out_dir, str(ev["id"]))) == expected[ev["id"]]

    await primary.stop()
    again = await play(net, interpreter)
    assert again.rc == 0, again.console()
    for ev in again.items:
        assert ev["status"] == "played" and ev["verified"] and ev["src"].startswith(mirror.address + "/m/")
        assert file_sha256(os.path.join(again.dev.out_dir, str(ev["id"]))) == expected[ev["id"]]
    assert {f["why"] for f in again.of("FAIL")} == {"refused"}
