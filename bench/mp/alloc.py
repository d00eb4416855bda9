# Bytes the firmware's streaming loop allocates per chunk, over a real loopback socket:
#   micropython -X heapsize=256K alloc.py FIRMWARE_DIR URL1 SIZE1 SHA1 URL2 SIZE2 SHA2 BUF
# Streams two files of different sizes (their Content-Length has the same number of digits, so
# the response heads cost the same) with the GC disabled, counting gc.mem_alloc() and the chunks
# the sink was handed. Prints "ALLOC <bytes1> <chunks1> <bytes2> <chunks2> <short reads 1> <2>".
import gc
import sys


def main(argv):
    fw = argv[1]
    gc.collect()
    buf = bytearray(int(argv[8]))
    sys.path.insert(0, fw)
    import httpclient
    import sinks
    from fetch import fetch

    class CountingSink(sinks.NullSink):
        def begin(self, meta, hasher, buf, resume):
            self.chunks = 0
            self.short = 0
            return 0

        def write(self, mv):
            self.chunks += 1
            if len(mv) != self.full:
                self.short += 1

    sink = CountingSink()
    sink.full = len(buf)
    client = httpclient.HTTPClient(2.0, 2.0)
    out = []
    for url, size, sha in ((argv[2], argv[3], argv[4]), (argv[5], argv[6], argv[7])) * 2:
        meta = {"id": 1, "pos": 0, "size": int(size), "sha256": sha, "src": [url]}
        client.close()  # each stream on a new connection, as the first of an item
        gc.collect()
        gc.disable()
        try:
            before = gc.mem_alloc()
            res = fetch(client, meta, sink, buf)
            used = gc.mem_alloc() - before
        finally:
            gc.enable()
        if res.status != "played":
            raise ValueError("not played: %r" % (res.errors,))
        out.append((used, sink.chunks, sink.short))
    # the first pair warms up what is allocated once (e.g. interned strings); the second counts
    a, b = out[2], out[3]
    print("ALLOC %d %d %d %d %d %d" % (a[0], a[1], b[0], b[1], a[2], b[2]))
    return 0


sys.exit(main(sys.argv))
