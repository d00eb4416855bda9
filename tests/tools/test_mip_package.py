"""The firmware as a MicroPython package: package.json (at the repository's root, so `mip` finds
it for `github:OWNER/REPO`) lists every file a board runs, carries firmware/version.py's version,
and installs with the real unix port's `mip` from a web server on loopback, as a board's `mip`
or `mpremote mip install` would: every file byte-identical, and the installed device starts."""
import functools
import http.server
import json
import os
import subprocess
import threading

import pytest

from tools import fwbuild

MICROPYTHON = fwbuild.micropython_path()


def test_package_json_is_the_build_of_firmware_and_hw_and_carries_the_firmware_version():
    with open(fwbuild.PACKAGE, encoding="utf-8") as f:
        text = f.read()
    assert text == fwbuild.package_text(), \
        "package.json is stale: python -m tools.fwbuild package-json rewrites it"
    doc = json.loads(text)
    assert sorted(n for n, _ in doc["urls"]) == sorted(n for n, _ in fwbuild.sources("esp32"))
    assert {"boot.py", "main.py", "device.py", "player.py", "version.py", "boards.py"} <= {
        n for n, _ in doc["urls"]}
    with open(os.path.join(fwbuild.ROOT, "pyproject.toml"), encoding="utf-8") as f:
        assert 'version = "%s"' % doc["version"] in f.read()   # one release, one number


@pytest.fixture
def repo_server():
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=fwbuild.ROOT)
    handler.log_message = lambda *a: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield "http://127.0.0.1:%d" % server.server_address[1]
    server.shutdown()
    server.server_close()


def test_mip_installs_the_firmware_from_package_json_and_it_starts(repo_server, tmp_path):
    target = tmp_path / "board"
    r = subprocess.run([MICROPYTHON, "-m", "mip", "install", "--target", str(target),
                        repo_server + "/package.json"], capture_output=True, text=True,
                       timeout=120, cwd=str(tmp_path))
    assert r.returncode == 0 and "Done" in r.stdout, r.stdout + r.stderr
    for name, path in fwbuild.sources("esp32"):
        with open(path, "rb") as want, open(target / name, "rb") as got:
            assert got.read() == want.read(), name
    # the installed files run: the entry script checks its arguments and config
    r = subprocess.run([MICROPYTHON, str(target / "device.py")], capture_output=True, text=True,
                       timeout=60, cwd=str(tmp_path))
    assert r.returncode == 2 and r.stdout.strip() == "E usage: device.py CONFIG.json"
