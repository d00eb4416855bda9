"""The board job's heap: tests/hw/unixboard/run_board.py (main.py's `boardmain`: the config
check, the watchdog, Wi-Fi, then the player with the esp32-i2s board's I2S sink) on the unix
port, the hardware stood in for by tests/hw/unixboard/fakehw.py, against the stand-in meta and
file servers of tests/firmware/fwservers.py: two WAV items, the first dropped mid-item by its
primary (failover, resumed at the byte reached), as tests/hw/test_hw_unixboard.py plays them.
The board's files (tools.fwbuild, esp32) and fakehw run from one ROMFS image (tools/romrun.py),
as a board with a ROMFS partition runs them (a board has machine and network built in: fakehw in
the image keeps its bytecode out of the heap too), or as .mpy files from a folder."""
import hashlib
import json
import os
import struct
import subprocess
import sys

from bench import mprun
from tools import fwbuild

UNIXBOARD = os.path.join(mprun.ROOT, "tests", "hw", "unixboard")
RUN_BOARD = os.path.join(UNIXBOARD, "run_board.py")
SECRET = "00112233445566778899aabbccddeeff"
PCM = (os.urandom(300000), os.urandom(200000))


def servers():
    if os.path.join(mprun.ROOT, "tests", "firmware") not in sys.path:
        sys.path.insert(0, os.path.join(mprun.ROOT, "tests", "firmware"))
    import fwservers
    return fwservers


def meta_handler(fw):
    """fwservers' meta server, answering GET /next?pos=N (the firmware sends the position its
    last report was given) as GET /next: the stand-in keeps the position itself."""
    class Meta(fw.MetaHandler):
        def do_GET(self):
            if self.path.startswith("/api/v1/next?"):
                self.path = "/api/v1/next"
            fw.MetaHandler.do_GET(self)
    return Meta


def wav(pcm, rate, channels):
    fmt = struct.pack("<HHIIHH", 1, channels, rate, rate * channels * 2, channels * 2, 16)
    body = (b"WAVE" + b"fmt " + struct.pack("<I", len(fmt)) + fmt
            + b"data" + struct.pack("<I", len(pcm)) + pcm)
    return b"RIFF" + struct.pack("<I", len(body)) + body


def build(work):
    """(ROMFS image, folder of .mpy files): the esp32 board's build with fakehw beside it."""
    out = os.path.join(work, "board-files")
    fwbuild.build("esp32", out)
    fwbuild.put([("fakehw.py", os.path.join(UNIXBOARD, "fakehw.py"))], out)
    image = os.path.join(work, "board.romfs")
    fwbuild.write_romfs(out, image)
    return image, out


def run_job(heap_k, built, work, romfs=True, timeout=60):
    """One board job at -X heapsize=<heap_k>K; (passed, why). A pass: exit 0, both items played
    and verified, the DAC given exactly the PCM, no out-of-memory line."""
    fw = servers()
    w1, w2 = wav(PCM[0], 44100, 2), wav(PCM[1], 22050, 1)
    a = fw.FileState({"/m/1.wav": w1, "/m/2.wav": w2}, {"/m/1.wav": "drop:100000"})
    b = fw.FileState({"/alt/1.wav": w1, "/alt/2.wav": w2})
    fa, fb = fw.Running(fw.FileHandler, a), fw.Running(fw.FileHandler, b)
    meta = fw.MetaState("dev1", SECRET, [])
    ms = fw.Running(meta_handler(fw), meta)
    meta.items = [dict(fw.item(1, w1, [fa.url + "/m/1.wav", fb.url + "/alt/1.wav"]), type="audio/wav"),
                  dict(fw.item(2, w2, [fa.url + "/m/2.wav", fb.url + "/alt/2.wav"]), type="audio/wav")]
    os.makedirs(work, exist_ok=True)
    cfg = {"server": ms.url, "device": "dev1", "secret": SECRET, "items": 2,
           "connect_timeout": 1.0, "read_timeout": 0.5, "state": os.path.join(work, "state.json"),
           "sink": {"type": "board", "board": "esp32-i2s"}, "watchdog": 120,
           "wifi": [{"ssid": "home", "password": "password1"}]}
    path = os.path.join(work, "board.json")
    with open(path, "w") as f:
        json.dump(cfg, f)
    if os.path.exists(cfg["state"]):
        os.remove(cfg["state"])
    image, files = built
    if romfs:
        cmd = fwbuild.romrun_command(image, "%dK" % heap_k, RUN_BOARD, ["/rom", path])
    else:
        cmd = [fwbuild.micropython_path(), "-X", "heapsize=%dK" % heap_k, RUN_BOARD, files, path]
    try:
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, cwd=work)
        out = r.stdout + r.stderr
    except subprocess.TimeoutExpired as e:
        out, r = (e.stdout or b"").decode(errors="replace"), None
    finally:
        for s in (fa, fb, ms):
            s.close()
    return check(out, r.returncode if r else None)


def check(out, rc):
    for line in out.splitlines():
        if "MemoryError" in line or "out of memory" in line:
            return False, "out of memory: " + line.strip()
    if rc != 0:
        return False, "exit %s" % rc
    items = [json.loads(ln[5:]) for ln in out.splitlines() if ln.startswith("ITEM ")]
    board = [ln.split(" ", 4) for ln in out.splitlines() if ln.startswith("BOARD ")]
    if len(items) != 2 or not all(i.get("verified") for i in items):
        return False, "not every item verified"
    if not board or board[0][2] != str(len(PCM[0]) + len(PCM[1])) or \
            board[0][3] != hashlib.sha256(PCM[0] + PCM[1]).hexdigest():
        return False, "the DAC did not get exactly the PCM"
    return True, None


def smallest_heap(work, lo, hi, step, romfs=True):
    """Bisects heap sizes (KiB, multiples of step) in (lo, hi]; (smallest passing heap or None,
    (largest failing heap, why) or None, runs)."""
    built = build(work)
    ok, why = run_job(hi, built, work, romfs)
    runs = 1
    if not ok:
        return None, (hi, why), runs
    good, bad = hi, None
    lo_i, hi_i = lo // step, hi // step
    while hi_i - lo_i > 1:
        mid = (lo_i + hi_i) // 2
        ok, why = run_job(mid * step, built, work, romfs)
        runs += 1
        if ok:
            hi_i, good = mid, mid * step
        else:
            lo_i, bad = mid, (mid * step, why)
    return good, bad, runs
