# Failover latency, device side, under micropython:
#   micropython -X heapsize=64K failover.py FIRMWARE_DIR BAD_URL GOOD_URL SIZE SHA256 TRIALS
#                                           READ_TIMEOUT_S AT
# Each trial fetches one item whose sources are [BAD_URL, GOOD_URL] with the firmware's fetch.
# The bad source fails after AT body bytes; the next byte the sink sees at offset AT is the first
# from the next source. Prints per trial "T <start ns> <first byte ns> <ok>" (time.time_ns, the
# clock the host's fault server also reads), start being the moment the fetch began.
import gc
import sys
import time


def main(argv):
    fw, bad, good, size, sha, trials, rto, at = argv[1:9]
    size, trials, at = int(size), int(trials), int(at)
    gc.collect()
    buf = bytearray(4096)
    sys.path.insert(0, fw)
    import httpclient
    import sinks
    from fetch import fetch

    class FirstByteSink(sinks.NullSink):
        def begin(self, meta, hasher, buf, resume):
            self.pos = 0
            self.first = 0
            return 0

        def write(self, mv):
            if self.pos == at and not self.first:
                self.first = time.time_ns()
            self.pos += len(mv)

        def restart(self):
            self.pos = 0

    sink = FirstByteSink()
    client = httpclient.HTTPClient(2.0, float(rto))
    meta = {"id": 1, "pos": 0, "size": size, "sha256": sha, "src": [bad, good]}
    for _ in range(trials):
        gc.collect()
        t0 = time.time_ns()
        res = fetch(client, meta, sink, buf)
        ok = res.status == "played" and res.src == good and len(res.errors) == 1
        print("T %d %d %d %s" % (t0, sink.first, 1 if ok else 0, res.errors[0][1].replace(" ", "_") if res.errors else "-"))
    return 0


sys.exit(main(sys.argv))
