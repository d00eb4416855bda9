"""Device memory (issue 6, item 3; issue 18): the smallest -X heapsize at which the simulator's
whole job completes (firmware as source, as .mpy files, and from a ROMFS image: bytecode executed
in place, out of the heap, tools/romrun.py), the board job's (bench/boardjob.py), what the modules
keep resident, and the bytes the streaming loop allocates per chunk over a real socket."""
import json
import os
import re
import signal
import subprocess
import sys

from bench import boardjob, media, mprun
from bench.nginx import Nginx
from bench.report import Section

# Modules in import order (each measured after the ones before it); others found are appended.
MODULE_ORDER = ("compat", "devlog", "httpconn", "httpclient", "hmacsha256", "metaclient", "sinks",
                "fetch", "secure", "player")
NOT_RESIDENT = ("device", "devconfig")   # the entry script; devconfig is dropped after start
# the file sink: the job as measured before the paced sink became the simulator's default; the
# paced job (its 8 KiB ring and pacedsink.py on top) is bisected too, compiled only
JOB_ARGS = ("--faults", "all", "--read-timeout", "0.5", "--sink", "file")
PACED_ARGS = ("--faults", "all", "--read-timeout", "0.5", "--sink", "paced", "--jitter", "8192")
RESULT = re.compile(r"^RESULT items=(\d+) verified=(\d+)")


class JobRun:
    def __init__(self, heap, ok, why, result_line):
        self.heap, self.ok, self.why, self.result = heap, ok, why, result_line


def run_job(heap_k, mpy, workdir, timeout=90, args=JOB_ARGS):
    """One simulator run (`python -m simulator --heap <heap_k>K --faults all --read-timeout 0.5
    --mpy|--source|--romfs`; mpy: True, False or "romfs"). A pass: every item verified and no
    out-of-memory line. Stopped at the first out-of-memory line (the device would only back off
    and retry)."""
    cmd = [sys.executable, "-m", "simulator", "--heap", "%dK" % heap_k, "--workdir", workdir,
           "--timeout", str(timeout), "--no-streams"] + list(args) + [firmware_flag(mpy)]
    proc = subprocess.Popen(cmd, cwd=mprun.ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            stdin=subprocess.DEVNULL, text=True, start_new_session=True)
    why, result = None, None
    try:
        for line in proc.stdout:
            if "out of memory" in line or "MemoryError" in line:
                why = "out of memory: " + line.strip()
                break
            m = RESULT.match(line)
            if m:
                result = line.strip()
                if m.group(1) != m.group(2) or m.group(1) == "0":
                    why = "not every item verified"
        proc.wait(timeout + 30)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGINT)  # the simulator stops its servers on SIGINT
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        _kill_leftovers(proc.pid)
        proc.stdout.close()
    if why is None and (proc.returncode != 0 or result is None):
        why = "exit %s" % proc.returncode
    if why is not None:
        why = _device_memory_error(workdir) or why
    return JobRun(heap_k, why is None, why, result)


def firmware_flag(mpy):
    """The simulator's option for .mpy, source or a ROMFS image (its default changed from source
    to .mpy)."""
    if mpy == "romfs":
        return "--romfs"
    r = subprocess.run([sys.executable, "-m", "simulator", "--help"], cwd=mprun.ROOT,
                       capture_output=True, text=True)
    if "--source" in r.stdout:
        return "--mpy" if mpy else "--source"
    return "--mpy" if mpy else "--interpreter=micropython"


def _device_memory_error(workdir):
    """The device's last MemoryError line, with where it happened, from its console log."""
    try:
        with open(os.path.join(workdir, "devices", "dev1", "console.log"), errors="replace") as f:
            lines = f.read().splitlines()
    except OSError:
        return None
    for i in range(len(lines) - 1, -1, -1):
        if "MemoryError" in lines[i]:
            where = lines[i - 1].strip() if i and lines[i - 1].strip().startswith("File ") else ""
            return "%s%s" % (lines[i].strip(), (" (" + where.replace(mprun.ROOT + "/", "") + ")") if where else "")
        if "out of memory" in lines[i]:
            return lines[i].strip()
    return None


def _kill_leftovers(pgid):
    try:
        os.killpg(pgid, signal.SIGKILL)  # a device or server the simulator left in its group
    except ProcessLookupError:
        pass


def smallest_heap(mpy, workdir, lo, hi, step, args=JOB_ARGS):
    """Bisects heap sizes (KiB, multiples of step) in (lo, hi]; hi must pass. Returns
    (smallest passing JobRun, largest failing JobRun or None, runs made)."""
    runs = []
    top = run_job(hi, mpy, workdir, args=args)
    runs.append(top)
    if not top.ok:
        return None, top, runs
    good, bad = top, None
    lo_i, hi_i = lo // step, hi // step     # lo_i: assumed to fail (not run)
    while hi_i - lo_i > 1:
        mid = (lo_i + hi_i) // 2
        r = run_job(mid * step, mpy, workdir, args=args)
        runs.append(r)
        if r.ok:
            hi_i, good = mid, r
        else:
            lo_i, bad = mid, r
    return good, bad, runs


def module_sizes(fw_dir, names, romfs=None):
    """{module: heap it keeps}, total: imported one at a time in names' order from fw_dir (a
    folder), or from /rom with romfs the image mounted there."""
    if romfs:
        from tools.fwbuild import romrun_command
        r = subprocess.run(romrun_command(romfs, "512K", mprun.script("modsize.py"), ["/rom"] + names),
                           capture_output=True, text=True, timeout=120, cwd=mprun.ROOT)
        if r.returncode != 0:
            raise RuntimeError("modsize.py from ROMFS failed:\n" + r.stdout[-2000:] + r.stderr[-2000:])
        out = r.stdout
    else:
        out = mprun.run([mprun.script("modsize.py"), fw_dir] + names, heap="512K")
    return {m[0]: int(m[1]) for m in mprun.lines(out, "MOD")}, int(mprun.lines(out, "TOTAL")[0][0])


# micropython.mem_info(1)'s block kinds (py/gc.c): what each run of blocks holds
KINDS = {"B": "functions (bytecode function objects)", "S": "str objects", "D": "dict objects",
         "T": "tuples", "L": "lists", "M": "modules", "A": "bytearray objects", "F": "floats",
         "h": "other: dict and list storage, classes, the loaded code's tables, qstr pools, "
              "buffers' bytes"}


def heap_profile(image, cfg_path):
    """What the device holds before its first item, run from the ROMFS image (bench/mp/heapmap.py):
    ([(step, bytes)], qstrs made, bytes of their pools, {kind: bytes} from the heap's block map)."""
    from tools.fwbuild import romrun_command
    r = subprocess.run(romrun_command(image, "128K", mprun.script("heapmap.py"), ["/rom", cfg_path]),
                       capture_output=True, text=True, timeout=120, cwd=mprun.ROOT)
    if r.returncode != 0:
        raise RuntimeError("heapmap.py from ROMFS failed:\n" + r.stdout[-2000:] + r.stderr[-2000:])
    steps = [(m[0], int(m[1])) for m in mprun.lines(r.stdout, "STEP")]
    q = re.search(r"n_qstr=(\d+), n_str_data_bytes=(\d+), n_total_bytes=(\d+)", r.stdout)
    return steps, int(q.group(1)), int(q.group(3)) - int(q.group(2)), block_kinds(r.stdout)


def block_kinds(text):
    """{kind letter: bytes} of micropython.mem_info(1)'s map: each head block with the '='
    blocks after it; a line is 64 blocks, its address the offset in bytes."""
    rows = re.findall(r"^([0-9a-f]{8}): (.*)$", text, re.M)
    per_block = min(int(b[0], 16) - int(a[0], 16) for a, b in zip(rows, rows[1:])) // 64
    blocks = "".join(b.replace(" ", "") for _, b in rows)
    out, kind = {}, None
    for ch in blocks:
        if ch != "=":
            kind = ch
        if kind != ".":
            out[kind] = out.get(kind, 0) + per_block
    return out


def firmware_modules():
    """The modules the device keeps resident: what importing player brings in, in import order."""
    out = mprun.run([mprun.script("modsize.py"), mprun.FIRMWARE, "--deps", "player"], heap="512K")
    local = set(n[:-3] for n in os.listdir(mprun.FIRMWARE) if n.endswith(".py"))
    found = sorted(m[0] for m in mprun.lines(out, "DEP") if m[0] in local and m[0] not in NOT_RESIDENT)
    if "secure" in local and "secure" not in found:
        found.append("secure")  # loaded at start by device.py where key_buffer is set (default)
    return [m for m in MODULE_ORDER if m in found] + [m for m in found if m not in MODULE_ORDER]


def alloc_per_chunk(work, trials):
    """Streams of two sizes with the GC disabled: [(size, bytes, chunks, short, waits)]."""
    files = os.path.join(work, "alloc-files")
    a = media.random_file(files, "a.bin", 1000000)
    b = media.random_file(files, "b.bin", 4000000)   # same number of digits in Content-Length
    with Nginx(files, os.path.join(work, "nginx-alloc")) as ng:
        out = mprun.run([mprun.script("alloc.py"), mprun.FIRMWARE, ng.url + "/a.bin", a.size,
                         a.sha256, ng.url + "/b.bin", b.size, b.sha256, 4096, trials], heap="256K")
    return [tuple(map(int, r)) for r in mprun.lines(out, "ALLOC")]


def per_chunk(streams):
    """Bytes per chunk from the streams that waited least (a connection's first wait for data
    creates its poller once), and what one such wait allocated when both counts were seen."""
    sizes = sorted(set(s[0] for s in streams))
    common = set(s[4] for s in streams if s[0] == sizes[0]) & set(s[4] for s in streams if s[0] == sizes[-1])
    best = {}
    for size in sizes:
        runs = [s for s in streams if s[0] == size and (not common or s[4] == min(common))]
        best[size] = min(runs, key=lambda s: (s[4], s[1]))
    small, big = best[sizes[0]], best[sizes[-1]]
    per = (big[1] - small[1]) / (big[2] - small[2])
    calm = {size: min(s[1] for s in streams if s[0] == size and s[4] == 0)
            for size in sizes if any(s[0] == size and s[4] == 0 for s in streams)}
    wait_cost = sorted(set((s[4], s[3], s[1] - calm[s[0]]) for s in streams
                           if s[4] and s[0] in calm))
    return per, small, big, wait_cost


def run(work, quick=False):
    from simulator.devices import compile_firmware, romfs_firmware
    sec = Section("3. Memory (micropython unix port, the simulator's whole job)")
    lo, hi, step = (88, 96, 8) if quick else (16, 96, 2)
    rows, found = [], {}
    for mpy in (False, True, "romfs"):
        good, bad, runs = smallest_heap(mpy, os.path.join(work, "mem-job"), lo, hi, step)
        kind = {False: "source (.py)", True: ".mpy (mpy-cross)",
                "romfs": "ROMFS image (.mpy in place)"}[mpy]
        found[mpy] = good.heap if good else None
        rows.append((kind, "%dK" % good.heap if good else "> %dK" % hi,
                     (good.result or "") if good else "",
                     ("%dK: %s" % (bad.heap, bad.why)) if bad else "(%dK not tried)" % lo,
                     len(runs)))
    plo, phi = (hi, hi + 8) if quick else (64, 112)
    good, bad, runs = smallest_heap(True, os.path.join(work, "mem-job"), plo, phi, step,
                                    PACED_ARGS)
    found["paced"] = good.heap if good else None
    rows.append((".mpy, paced sink, 8 KiB ring", "%dK" % good.heap if good else "> %dK" % phi,
                 (good.result or "") if good else "",
                 ("%dK: %s" % (bad.heap, bad.why)) if bad else "(%dK not tried)" % plo,
                 len(runs)))
    blo, bhi = (hi - 8, hi) if quick else (16, 96)
    board = {}
    for romfs in (False, True):
        good, bad, runs = boardjob.smallest_heap(os.path.join(work, "mem-board"), blo, bhi, step,
                                                 romfs)
        board[romfs] = good
        rows.append(("board job, %s" % ("ROMFS image" if romfs else ".mpy files"),
                     "%dK" % good if good else "> %dK" % bhi, "2 items verified, the DAC's PCM exact"
                     if good else "", "%dK: %s" % bad if bad else "(%dK not tried)" % blo, runs))
    sec.table(("firmware", "smallest heap that completes", "its run", "next size down",
               "runs"), rows)
    sec.figures.update({"heap_source_k": found[False], "heap_mpy_k": found[True],
                        "heap_romfs_k": found["romfs"], "heap_paced_k": found["paced"],
                        "heap_board_mpy_k": board[False], "heap_board_romfs_k": board[True]})
    k = lambda v: "%dK" % v if v else "none"  # noqa: E731
    sec.target("whole job (secure item included) at -X heapsize=32K", found["romfs"] is not None
               and found["romfs"] <= 32, "smallest passing heap from the ROMFS image: %s (.mpy "
               "files: %s)" % (k(found["romfs"]), k(found[True])))
    sec.target("the board job (Wi-Fi, watchdog, I2S sink) in at most 48K", board[True] is not None
               and board[True] <= 48, "smallest passing heap from the ROMFS image: %s (.mpy "
               "files: %s)" % (k(board[True]), k(board[False])))
    streams = alloc_per_chunk(work, 2 if quick else 8)
    per, small, big, wait_cost = per_chunk(streams)
    sec.figures["alloc_per_chunk"] = per
    sec.target("zero bytes allocated per chunk", per == 0,
               "%.2f B per chunk: %d B for %d chunks vs %d B for %d chunks of 4 KiB (%d and %d "
               "short), GC disabled, gc.mem_alloc(), real loopback socket from nginx" % (
                   per, small[1], small[2], big[1], big[2], small[3], big[3]))
    sec.note("Allocation in a stream is per request, not per chunk: the bytes above are the "
             "request, the response head, the hash and the result. The streams share one "
             "kept-alive connection (its poller, made the first time it waits for data, comes "
             "from a warm-up pair); streams are compared at the same number of waits. Extra "
             "bytes against a stream that never waited: %s (a short read of a length not seen "
             "in the stream costs a slice of the buffer); %d of %d streams waited." % (
                 ", ".join("%d B with %d waits and %d short reads" % (b, w, sh)
                           for w, sh, b in wait_cost) or "none seen",
                 sum(1 for s in streams if s[4]), len(streams)))
    names = firmware_modules()
    src_sizes, src_total = module_sizes(mprun.FIRMWARE, names)
    mpy_dir = os.path.dirname(compile_firmware(os.path.join(work, "firmware-mpy")))
    mpy_sizes, mpy_total = module_sizes(mpy_dir, names)
    image = romfs_firmware(os.path.join(work, "firmware-romfs"))
    rom_sizes, rom_total = module_sizes(None, names, romfs=image)
    _, player_mpy = module_sizes(mpy_dir, ["player"])
    _, player_rom = module_sizes(None, ["player"], romfs=image)
    sec.figures.update({"resident_mpy": mpy_total, "resident_romfs": rom_total,
                        "import_player_mpy": player_mpy, "import_player_romfs": player_rom})
    sec.note("Heap kept by each firmware module once imported (gc.mem_alloc() after a collect, in "
             "import order; the modules `import player` brings in; 0: brought in by one above it; "
             "`devconfig` is dropped after start and not counted); ROMFS: the same .mpy files in "
             "one image mounted at /rom from memory outside the heap (tools/romrun.py), their "
             "bytecode executed in place. `import player` alone (its modules with it, one collect "
             "after): %.1f KiB as .mpy files, %.1f KiB from ROMFS:\n\n"
             "| module | source | .mpy | ROMFS |\n| --- | --- | --- | --- |\n" % (
                 player_mpy / 1024, player_rom / 1024) + "\n".join(
                 "| %s | %d | %d | %d |" % (n, src_sizes.get(n, 0), mpy_sizes.get(n, 0),
                                           rom_sizes.get(n, 0)) for n in names)
             + "\n| **total** | **%d** | **%d** | **%d** |" % (src_total, mpy_total, rom_total))
    cfg_path = os.path.join(work, "heapmap.json")
    with open(cfg_path, "w") as f:
        json.dump({"server": "http://127.0.0.1:9", "device": "dev1", "buffer": 4096,
                   "secret": "00112233445566778899aabbccddeeff", "sink": {"type": "null"}}, f)
    steps, qstrs, qpool, kinds = heap_profile(image, cfg_path)
    at = dict(steps)
    sec.figures.update({"start_romfs": at["Player"], "qstrs": qstrs, "qstr_pool_bytes": qpool})
    gain = [(b, at[b] - at[a]) for (a, _), (b, _) in zip(steps, steps[1:])]
    sec.note("Where the heap goes, from the ROMFS image, before the first item (bench/mp/heapmap.py: "
             "device.py's start step by step, then the Player made; gc.mem_alloc() after a collect, "
             "bytes): %s; %d in all. `config` is the checked config and what `devconfig` made that "
             "outlives it; `buffers` the stream buffer (4096) and the key buffer (4192, a secure "
             "item's key answer); `modules` and `player` the resident modules: their functions, "
             "classes and tables (the bytecode itself stays in the image); `Player` its HTTP and "
             "meta clients, sink and state. By the heap's block map: %s. Of `other`, %d bytes are "
             "the pools of the %d qstrs made (names and short strings of every module loaded, and "
             "the config's keys: never freed; a pool is twice the one before, so the last is "
             "half empty) and %d the two buffers. The unix port is 64-bit: a GC block is 32 bytes "
             "and a pointer 8, so every object but the buffers takes about twice the heap it takes "
             "on a 32-bit board (ESP32, RP2040: 16-byte blocks). What the job needs beyond this is "
             "the items' working set (the next item's document, requests and responses, the hash "
             "and cipher state, the report) and the gaps fragmentation leaves; the smallest "
             "failing runs ran out of memory as shown in the table." % (
                 ", ".join("%s %d" % sg for sg in [("boot", at["start"])] + gain), at["Player"],
                 ", ".join("%s %d" % (KINDS[k].split(" (")[0].split(":")[0], v)
                           for k, v in sorted(kinds.items(), key=lambda kv: -kv[1])),
                 qpool, qstrs, 4096 + 4192))
    sec.note("Bisection over heap sizes in %d KiB steps between %dK and %dK with `python -m "
             "simulator --heap <N>K %s --no-streams --mpy|--source|--romfs` (the job: login, meta "
             "data, every fault the "
             "simulator has, including failover mid-stream, and its secure items when it has "
             "them, then the reports); a pass is every item verified with no out-of-memory line. "
             "Fragmentation makes this not strictly monotonic: a size just below the one found "
             "may pass on another run. The paced row is the same job with `%s` (the "
             "simulator's default sink: its ring, the paced sink's module and its views come on "
             "top), bisected between %dK and %dK." % (step, lo, hi, " ".join(JOB_ARGS),
                                                       " ".join(PACED_ARGS[4:]), plo, phi))
    sec.note("The board job rows, bisected in %d KiB steps between %dK and %dK: %s" % (
        step, blo, bhi, boardjob.__doc__.replace("\n", " ")))
    return [sec]
