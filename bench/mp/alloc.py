# Bytes the firmware's streaming loop allocates per chunk, over a real loopback socket:
#   micropython -X heapsize=256K alloc.py FIRMWARE_DIR URL1 SIZE1 SHA1 URL2 SIZE2 SHA2 BUF TRIALS
# Streams two files of different sizes (their Content-Length has the same number of digits, so
# the response heads cost the same) with the GC disabled, counting gc.mem_alloc(), the chunks
# the sink was handed, the short ones, and the times the connection waited in poll for data,
# all over one kept-alive connection.
# Prints per stream "ALLOC <size> <bytes> <chunks> <short> <waits>"; the first pair is a warm-up.
import gc
import sys


def main(argv):
    fw = argv[1]
    gc.collect()
    buf = bytearray(int(argv[8]))
    sys.path.insert(0, fw)
    import httpclient
    import httpconn
    import sinks
    from fetch import fetch

    waits = [0]
    wait = httpconn.Conn._wait

    def counting_wait(self, flag):
        waits[0] += 1
        return wait(self, flag)

    httpconn.Conn._wait = counting_wait

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
    pair = ((argv[2], argv[3], argv[4]), (argv[5], argv[6], argv[7]))
    for i in range(2 * (int(argv[9]) + 1)):
        url, size, sha = pair[i % 2]
        meta = {"id": 1, "pos": 0, "size": int(size), "sha256": sha, "src": [url]}
        # one kept-alive connection, as a device's successive items from one server: its poller
        # (made the first time it waits for data) is made in the warm-up pair
        gc.collect()
        waits[0] = 0
        gc.disable()
        try:
            before = gc.mem_alloc()
            res = fetch(client, meta, sink, buf)
            used = gc.mem_alloc() - before
        finally:
            gc.enable()
        if res.status != "played":
            raise ValueError("not played: %r" % (res.errors,))
        if i >= 2:
            print("ALLOC %s %d %d %d %d" % (size, used, sink.chunks, sink.short, waits[0]))
    return 0


sys.exit(main(sys.argv))
