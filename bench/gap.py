"""The gap at item boundaries (issue 14, gapless): the ms the paced sink had nothing between an
item's last byte and the next one's first, as the device measures it with its own clock (the
ITEM line's gap_ms), over many boundaries of the simulator's demo (`python -m simulator`: the
firmware as .mpy under micropython, the paced sink at 4 x each item's rate, the real meta server
and file servers) with a jitter ring of 8 KiB and of 16 KiB (the demo's): with no fault, and with
the primaries that fail at byte 0 (a 404, a refused connection), so that a failover falls on the
boundary."""
import json
import os
import re
import shutil
import subprocess
import sys

from bench import mprun
from bench.report import Section
from bench.stats import median, percentile

GOAL_MS = 20
RINGS = (8192, 16384)
SPEED = 4
RATE = 44100       # the demo's items: 22050 Hz, 16-bit mono
RUNS = (("none", "no fault"), ("404,refused", "404 and refused primaries"))
RESULT = re.compile(r"^RESULT .*underruns=(\d+) gap_ms=(\S+)$")
KINDS = (("plain", "the next item plain, its primary serves"),
         ("secure", "the next item secure (its key fetched at the boundary), its primary serves"),
         ("failover", "the next item's primary fails at byte 0 (404 or refused): a failover at "
                      "the boundary"))


def simulate(work, faults, ring, rounds):
    """One simulator run: (events of the device's console as (tag, doc), RESULT line)."""
    workdir = os.path.join(work, "gap-%d-%s" % (ring, faults.replace(",", "-")))
    shutil.rmtree(workdir, ignore_errors=True)
    proc = subprocess.run([sys.executable, "-m", "simulator", "--workdir", workdir, "--no-streams", "--faults",
                           faults, "--rounds", str(rounds), "--jitter", str(ring), "--speed",
                           str(SPEED), "--timeout", str(60 + 30 * rounds)],
                          cwd=mprun.ROOT, capture_output=True, text=True, timeout=120 + 40 * rounds)
    result = (proc.stdout.strip().splitlines() or [""])[-1]
    if proc.returncode != 0 or not RESULT.match(result):
        raise RuntimeError("simulator --faults %s: exit %s\n%s" % (
            faults, proc.returncode, (proc.stdout + proc.stderr)[-3000:]))
    events = []
    with open(os.path.join(workdir, "devices", "dev1", "console.log"), errors="replace") as f:
        for line in f:
            tag, _, rest = line.partition(" ")
            if tag in ("ITEM", "FAIL"):
                events.append((tag, json.loads(rest)))
    return events, result


def boundaries(events):
    """(kind, gap_ms) for each boundary: each ITEM that carries gap_ms."""
    out = []
    at_start = set()   # ids whose first source failed at byte 0 in this play of them
    for tag, ev in events:
        if tag == "FAIL":
            if ev.get("at") == 0:
                at_start.add(ev["id"])
            continue
        if "gap_ms" in ev:
            kind = "failover" if ev["id"] in at_start else "secure" if ev.get("secure") else "plain"
            out.append((kind, ev["gap_ms"]))
        at_start.discard(ev["id"])
    return out


def run(work, quick=False):
    rounds = 1 if quick else 4
    sec = Section("Gap at item boundaries (gapless, the simulator's demo, micropython)")
    found = {}
    results = []
    for ring in RINGS:
        for faults, label in RUNS:
            events, result = simulate(work, faults, ring, rounds)
            results.append("%d KiB, `--faults %s`: `%s`" % (ring // 1024, faults, result))
            for kind, ms in boundaries(events):
                found.setdefault((ring, faults, kind), []).append(ms)
    rows = []
    for ring in RINGS:
        for faults, label in RUNS:
            for kind, what in KINDS:
                ms = found.get((ring, faults, kind))
                if not ms:
                    continue
                rows.append(("%d KiB (%d ms)" % (ring // 1024, ring * 1000 // (RATE * SPEED)),
                             label, what, "%.0f" % median(ms), percentile(ms, 99), max(ms),
                             sum(1 for m in ms if m == 0), len(ms)))
                sec.figures["%d %s %s" % (ring, faults, kind)] = ms
    sec.table(("ring (its tail at 4 x)", "faults", "boundary", "ms median", "ms p99", "ms max",
               "gapless (0 ms)", "boundaries"), rows)
    for ring in RINGS:
        clean = [m for (r, faults, kind), ms in found.items()
                 if r == ring and kind != "failover" for m in ms]
        over = found.get((ring, "404,refused", "failover"), [])
        every = clean + over
        sec.figures["gap_median_ms %d" % ring] = median(every) if every else None
        sec.target("gap at a boundary ≤ %d ms median (simulator, %d KiB ring)" % (
            GOAL_MS, ring // 1024), bool(every) and median(every) <= GOAL_MS,
            "median %s ms, p99 %s ms over %d boundaries; without a failover %s ms (p99 %s), "
            "with one %s ms (p99 %s)" % tuple(
                ["%.0f" % median(every) if every else "-", percentile(every, 99) if every else "-",
                 len(every)] + [x for ms in (clean, over) for x in (
                     "%.0f" % median(ms) if ms else "-", percentile(ms, 99) if ms else "-")]))
    sec.note("`python -m simulator --faults <faults> --jitter <ring> --rounds %d` (%d boundaries "
             "a run: the demo's 10 items, %d times through); each boundary's gap is the ITEM "
             "line's `gap_ms`: from the byte the ring played last of one item to the first it "
             "played of the next, in ms of the device's clock (0: the next item's first bytes "
             "were in the ring before the last ones of the item before had played). Between the "
             "two the device reports the item, asks for the next, fetches a secure item's key "
             "and opens its source while the ring's tail plays: at 4 x 44100 B/s an 8 KiB ring "
             "holds 46 ms, 16 KiB 92 ms. A gap is what the boundary's work takes beyond that "
             "tail, plus refilling the ring before playing again. The runs' RESULT lines: %s." % (
                 rounds, 10 * rounds - 1, rounds, "; ".join(results)))
    return [sec]
