"""The device's whole job (login, every file item through every fault, the secure items, the
reports) with the firmware run from a ROMFS image, as a board with a ROMFS partition runs it:
`python -m simulator --romfs` (tools/romrun.py mounts the image at /rom from memory outside
MicroPython's heap), in the heap the simulator gives it (simulator.devices.ROMFS_HEAP)."""
import os
import re
import subprocess
import sys

import pytest
from simulator.devices import ROMFS_HEAP

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

pytestmark = pytest.mark.timeout(240)


def test_the_job_from_a_romfs_image_plays_every_item_with_every_fault(tmp_path):
    work = tmp_path / "sim"
    r = subprocess.run([sys.executable, "-m", "simulator", "--workdir", str(work), "--romfs",
                        "--no-streams", "--faults", "all", "--read-timeout", "0.5", "--sink",
                        "file"], cwd=ROOT, capture_output=True, text=True, timeout=220)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "devices  1 under micropython -X heapsize=%s (ROMFS), 10 items each, file sink" \
        % ROMFS_HEAP in r.stdout
    last = r.stdout.strip().splitlines()[-1]
    assert re.match(r"^RESULT items=10 verified=10 failovers=\d+ resumed=\d+ secure=3 ", last), last
    assert "recorded 10 reports: 10 played, 0 failed" in r.stdout
    log = (work / "devices" / "dev1" / "console.log").read_text()
    assert log.startswith("LOGIN ") and "MemoryError" not in log and "out of memory" not in log
    # the image, not a folder of .mpy files, is what the device ran from
    assert (work / "firmware-romfs" / "firmware.romfs").exists()
    assert not (work / "firmware-mpy").exists()
