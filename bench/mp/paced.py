# Underruns of the paced sink, device side, under micropython, in real time (speed 1):
#   micropython -X heapsize=192K paced.py FIRMWARE_DIR RING RATE SIZE SHA256 READ_TIMEOUT_S
#                                         KIND SOURCES...
# One item of SIZE bytes at RATE bytes per second, fetched with the firmware's fetch from
# SOURCES (the failing ones first, nginx last) into a PacedSink of RING bytes draining into
# nothing. Prints "U <kind> <underruns> <underrun_ms> <status> <ms> <errors>".
import gc
import sys
import time


def main(argv):
    fw, ring, rate, size, sha, rto, kind = argv[1:8]
    srcs = argv[8:]
    ring, rate, size = int(ring), int(rate), int(size)
    gc.collect()
    buf = bytearray(4096)
    ringbuf = bytearray(ring)
    sys.path.insert(0, fw)
    import httpclient
    import sinks
    from fetch import Progress, fetch
    from pacedsink import PacedSink

    sink = PacedSink(ringbuf, sinks.NullSink(), 1, time.ticks_ms, time.sleep_ms)
    client = httpclient.HTTPClient(2.0, float(rto))
    meta = {"id": 1, "pos": 0, "size": size, "sha256": sha, "src": srcs, "rate": rate}
    gc.collect()
    res = fetch(client, meta, sink, buf, None, False, None, time.ticks_ms,
                prog=Progress(time.ticks_ms, int(float(rto) * 1000)))
    print("U %s %d %d %s %d %s" % (kind, res.underruns, res.underrun_ms, res.status, res.ms,
                                    ",".join(e[1].split(" ")[0] for e in res.errors) or "-"))
    return 0


sys.exit(main(sys.argv))
