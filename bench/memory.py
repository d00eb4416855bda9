"""Device memory (issue 6, item 3): the smallest -X heapsize at which the simulator's whole job
completes (firmware as source and as .mpy), what the modules keep resident, and the bytes the
streaming loop allocates per chunk over a real socket."""
import os
import re
import signal
import subprocess
import sys

from bench import media, mprun
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
    [--mpy]`). A pass: every item verified and no out-of-memory line. Stopped at the first
    out-of-memory line (the device would only back off and retry)."""
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
    """The simulator's option for .mpy or source (its default changed from source to .mpy)."""
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


def module_sizes(fw_dir, names):
    out = mprun.run([mprun.script("modsize.py"), fw_dir] + names, heap="512K")
    return {m[0]: int(m[1]) for m in mprun.lines(out, "MOD")}, int(mprun.lines(out, "TOTAL")[0][0])


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
    from simulator.devices import compile_firmware
    sec = Section("3. Memory (micropython unix port, the simulator's whole job)")
    lo, hi, step = (88, 96, 8) if quick else (16, 96, 2)
    rows, found = [], {}
    for mpy in (False, True):
        good, bad, runs = smallest_heap(mpy, os.path.join(work, "mem-job"), lo, hi, step)
        kind = ".mpy (mpy-cross)" if mpy else "source (.py)"
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
    sec.table(("firmware", "smallest heap that completes", "its run", "next size down",
               "simulator runs"), rows)
    sec.figures.update({"heap_source_k": found[False], "heap_mpy_k": found[True],
                        "heap_paced_k": found["paced"]})
    met = found[True] is not None and found[True] <= 32
    sec.target("whole job (secure item included) at -X heapsize=32K with .mpy", met,
               "smallest passing heap with .mpy: %s" % ("%dK" % found[True] if found[True] else "none"))
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
    sec.note("Heap kept by each firmware module once imported (gc.mem_alloc() after a collect, in "
             "import order; the modules `import player` brings in; 0: brought in by one above it; "
             "`devconfig` is dropped after start and not counted):\n\n"
             "| module | source | .mpy |\n| --- | --- | --- |\n" + "\n".join(
                 "| %s | %d | %d |" % (n, src_sizes.get(n, 0), mpy_sizes.get(n, 0)) for n in names)
             + "\n| **total** | **%d** | **%d** |" % (src_total, mpy_total))
    sec.note("What limits the heap: the resident modules alone hold %.1f KiB (source) / %.1f KiB "
             "(.mpy: it saves compiling on the device, not resident bytecode), the stream buffer "
             "4 KiB and the HTTP line buffer 514 B, so %.1f KiB is taken before the first item; "
             "the rest of the smallest heap is what items need while they run (meta data "
             "documents, requests, hash and cipher state) and the gaps fragmentation leaves. The smallest failing runs ran "
             "out of memory as shown above. On a board, frozen modules keep their bytecode in "
             "flash, which is what the 32K target assumes." % (
                 src_total / 1024, mpy_total / 1024, (mpy_total + 4096 + 514) / 1024))
    sec.note("Bisection over heap sizes in %d KiB steps between %dK and %dK with `python -m "
             "simulator --heap <N>K %s --mpy|--source` (the job: login, meta data, every fault the "
             "simulator has, including failover mid-stream, and its secure items when it has "
             "them, then the reports); a pass is every item verified with no out-of-memory line. "
             "Fragmentation makes this not strictly monotonic: a size just below the one found "
             "may pass on another run. The paced row is the same job with `%s` (the "
             "simulator's default sink: its ring, the paced sink's module and its views come on "
             "top), bisected between %dK and %dK." % (step, lo, hi, " ".join(JOB_ARGS),
                                                       " ".join(PACED_ARGS[4:]), plo, phi))
    return [sec]
