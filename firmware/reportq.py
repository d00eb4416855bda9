# The report queue of a device with a cache (aheadplayer.py): each item's report appended as one
# JSON line to a file, at the item's boundary, with its seq (one more per report, kept across
# reboots), and sent as batches (POST /reports, PROTOCOL.md "Batched reports") when the meta
# server can be reached. The server applies a batch in order and exactly once (a batch sent
# again after its answer was lost is not applied twice), so the device drops lines only once
# their batch's answer is in: it keeps the offset of the first undelivered byte (`off`, in the
# player's state file). Bounded: at most `limit` reports wait; more are lost, and counted.
# A line cut by a power cut is dropped at start.
import json
import os


class ReportQueue:
    def __init__(self, path, limit, off=0):
        self.path = path
        self.limit = limit
        self.off = off      # the bytes before it are delivered
        self.count = 0      # reports waiting
        self.lost = 0       # reports not queued (full) or not delivered (refused, cut)
        self.writes = 0
        self.written = 0
        end = good = 0
        try:
            with open(path, "rb") as f:
                while True:
                    line = f.readline()
                    if not line:
                        break
                    end += len(line)
                    if line[-1:] != b"\n":
                        break
                    good = end
                    if end > off:
                        self.count += 1
        except OSError:
            pass
        if off > good:  # a queue that is not the one the state knows: start again
            self.clear()
        elif end != good:
            self._cut(good)

    def _cut(self, good):
        """Keep the first good bytes only (a last line cut by a power cut)."""
        self.lost += 1
        with open(self.path, "rb") as f:
            data = f.read(good)
        with open(self.path, "wb") as f:
            f.write(data)

    def clear(self):
        self.off = self.count = 0
        try:
            os.remove(self.path)
        except OSError:
            pass

    def add(self, doc):
        """Append a report (its seq set); False when the queue is full."""
        if self.count >= self.limit:
            self.lost += 1
            return False
        line = json.dumps(doc, separators=(",", ":")).encode() + b"\n"
        with open(self.path, "ab") as f:
            f.write(line)
        self.count += 1
        self.writes += 1
        self.written += len(line)
        return True

    def head(self, k):
        """(body, marks): a batch of the first (at most k) waiting reports as the body of
        POST /reports, and for each of them (offset after it, lines up to it, bad lines among
        those); (None, marks) when none wait. Lines that are not JSON objects are skipped, and
        counted lost when taken."""
        lines = []
        marks = []
        end = self.off
        used = bad = 0
        try:
            with open(self.path, "rb") as f:
                f.seek(self.off)
                while len(lines) < k:
                    line = f.readline()
                    if not line:
                        break
                    end += len(line)
                    used += 1
                    try:
                        ok = isinstance(json.loads(line), dict)
                    except ValueError:
                        ok = False
                    if ok:
                        lines.append(line.rstrip(b"\n"))
                        marks.append((end, used, bad))
                    else:
                        bad += 1
        except OSError:
            pass
        if not lines:
            if used:
                self.taken((end, used, bad))
            return None, marks
        return b'{"reports":[' + b",".join(lines) + b"]}", marks

    def taken(self, mark):
        """The reports up to mark (one of head()'s) are delivered."""
        self.off, used, bad = mark
        self.count -= used
        self.lost += bad
        if self.count <= 0:
            self.clear()
