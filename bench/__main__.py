"""python -m bench: every benchmark, side by side, written to BENCHMARKS.md.

    python -m bench [--quick] [--only streaming,memory,...] [--merge] [--out BENCHMARKS.md] [--work run/bench]

--merge (with --only) writes the sections it ran into the existing file in place of theirs and
keeps every other section as it was, with its targets; the header says which ran when.

--quick runs each benchmark tiny (a smoke test: the figures mean nothing). Loopback only.
"""
import argparse
import importlib
import re
import os
import sys
import time

from bench import machine
from bench.mprun import ROOT
from bench.report import verdict

MODULES = ("streaming", "memory", "failover", "metaserver", "fileserver", "metabytes",
           "underruns", "spread", "gap", "streams")


def parse_args(argv):
    p = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="tiny runs: checks the code, not the speed")
    p.add_argument("--only", default=",".join(MODULES),
                   help="comma-separated benchmarks (default: all of %(default)s)")
    p.add_argument("--out", default=os.path.join(ROOT, "BENCHMARKS.md"),
                   help="Markdown file to write (default BENCHMARKS.md; '-' for none)")
    p.add_argument("--merge", action="store_true",
                   help="keep the other sections of --out; replace only those run now")
    p.add_argument("--work", default=os.path.join(ROOT, "run", "bench"),
                   help="where files, logs and databases go (default run/bench)")
    a = p.parse_args(argv)
    a.only = [m.strip() for m in a.only.split(",") if m.strip()]
    unknown = [m for m in a.only if m not in MODULES]
    if unknown:
        p.error("unknown benchmark %s; known: %s" % (", ".join(unknown), ", ".join(MODULES)))
    return a


def document(sections, seconds, quick, argv, loads, kept=()):
    out = ["# Benchmarks", "",
           "Written by `make bench` (`python -m bench%s`) in %.0f s. Loopback only; figures from "
           "one run on this machine: compare the rows of one run with each other, not with "
           "another machine." % ((" " + " ".join(argv)) if argv else "", seconds), ""]
    if kept:
        out += ["Merged (`--merge`): the sections below that this run did not run are kept as "
                "the file's previous run wrote them: %s." % "; ".join(kept), ""]
    if quick:
        out += ["**Quick mode: tiny runs that check the code; the figures mean nothing.**", ""]
    out += [machine.markdown(),
            "- load average (1, 5, 15 min) at the start: %s; at the end: %s" % loads,
            "", "## Targets (issues 6, 17 and 18)", "", "| target | verdict | measured |",
            "| --- | --- | --- |"]
    for s in sections:
        for text, met, detail in s.targets:
            out.append("| %s | %s | %s |" % (text, verdict(met), detail))
    out.append("")
    for s in sections:
        out.append(s.markdown())
    return "\n".join(out).rstrip() + "\n"


TARGET_LINE = re.compile(r"^- (MET|MISSED|NOT MEASURED) \*\*(.+?)\*\*: (.*)$")


def kept_sections(path, replaced):
    """[(title, markdown, targets)] of the sections of an existing BENCHMARKS.md whose titles
    are not in replaced, in their order; targets read back from their "- MET **...**" lines."""
    try:
        with open(path) as f:
            text = f.read()
    except FileNotFoundError:
        return []
    out = []
    for part in re.split(r"(?m)^(?=## )", text)[1:]:
        title = part.split("\n", 1)[0][3:].strip()
        if title.startswith("Targets") or title in replaced:
            continue
        targets = [(m.group(2), {"MET": True, "MISSED": False}.get(m.group(1)), m.group(3))
                   for m in map(TARGET_LINE.match, part.splitlines()) if m]
        out.append((title, part.rstrip() + "\n", targets))
    return out


class Kept:
    """A section of an earlier run, kept as it was written."""

    def __init__(self, title, text, targets):
        self.title, self.text, self.targets = title, text, targets

    def markdown(self):
        return self.text


def main(argv):
    a = parse_args(argv)
    os.makedirs(a.work, exist_ok=True)
    t0 = time.monotonic()
    load_before = machine.load()
    sections = []
    for name in a.only:
        t = time.monotonic()
        print("bench: %s ..." % name, flush=True)
        mod = importlib.import_module("bench." + name)
        for sec in mod.run(a.work, quick=a.quick):
            sections.append(sec)
            print(sec.markdown(), flush=True)
        print("bench: %s took %.0f s" % (name, time.monotonic() - t), flush=True)
    kept = []
    if a.merge and a.out != "-":
        kept = [Kept(*k) for k in kept_sections(a.out, {s.title for s in sections})]
        sections = sections + kept
    text = document(sections, time.monotonic() - t0, a.quick, argv, (load_before, machine.load()),
                    [k.title for k in kept])
    if a.out != "-":
        with open(a.out + ".part", "w") as f:
            f.write(text)
        os.replace(a.out + ".part", a.out)
        print("bench: wrote %s" % a.out)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
