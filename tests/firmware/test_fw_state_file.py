"""On a Pi (the firmware under CPython) the device's state file holds its login token: it is
readable by its owner only, whatever the umask, and an older world-readable one is replaced."""
import json
import os
import stat

import player


def test_the_state_file_is_readable_by_its_owner_only(tmp_path):
    path = tmp_path / "state.json"
    path.write_text("{}")
    os.chmod(path, 0o644)
    old = os.umask(0o022)
    try:
        player.State(str(path)).save(token="tok-secret")
    finally:
        os.umask(old)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert json.loads(path.read_text())["token"] == "tok-secret"
