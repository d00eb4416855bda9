"""A stand-in HLS origin for the firmware tests (test_fw_hls.py): playlists and MPEG-TS segments
built by the muxer in mpcases/cases_hls.py, with faults per path: "404", "stall:N" (N bytes, then
nothing), "drop:N" (N bytes of a longer Content-Length, then the connection closed), "endless"
(a playlist body that never ends), and a live window driven by the server's clock."""
import time

from cases_hls import encrypt, es_bytes, mux, seq_iv
from fwservers import Running, _Base

M3U = "application/vnd.apple.mpegurl"


class Live:
    """A live presentation: segment n (ES es(n)) appears every `period` s; the playlist holds the
    last `window`; `frozen` stops it advancing."""

    def __init__(self, period=0.3, window=5, key=None, seg_ms=1000, target=1):
        self.t0 = time.monotonic()
        self.period = period
        self.window = window
        self.key = key
        self.seg_ms = seg_ms
        self.target = target
        self.frozen = None

    def es(self, n):
        return es_bytes(900 + 37 * (n % 11), 1000 + n)

    def count(self):
        if self.frozen is not None:
            return self.frozen
        return 4 + int((time.monotonic() - self.t0) / self.period)

    def playlist(self):
        n = self.count()
        first = max(0, n - self.window)
        out = "#EXTM3U\n#EXT-X-TARGETDURATION:%d\n#EXT-X-MEDIA-SEQUENCE:%d\n" % (self.target, first)
        if self.key:
            out += '#EXT-X-KEY:METHOD=AES-128,URI="https://keys.invalid/k"\n'
        for i in range(first, n):
            out += "#EXTINF:%.3f,\ns%d.ts\n" % (self.seg_ms / 1000, i)
        return out.encode()

    def segment(self, n):
        data = mux(self.es(n))
        return encrypt(data, self.key, seq_iv(n)) if self.key else data


class HLSState:
    def __init__(self):
        self.files = {}      # path -> (bytes, content type)
        self.faults = {}     # path -> fault (above); one-shot faults end in "!"
        self.live = {}       # prefix ("/live/a/") -> Live
        self.requests = []   # paths, in order

    def put(self, path, data, ctype="video/mp2t"):
        self.files[path] = (data, ctype)


class HLSHandler(_Base):
    def do_GET(self):
        st = self.state
        path = self.path
        st.requests.append(path)
        fault = st.faults.get(path, "")
        if fault.endswith("!"):   # once
            del st.faults[path]
            fault = fault[:-1]
        if fault == "endless":
            self.send_response(200)
            self.send_header("Content-Type", M3U)
            self.send_header("Connection", "close")
            self.end_headers()
            try:
                self.wfile.write(b"#EXTM3U\n")
                for _ in range(100000):
                    self.wfile.write(b"#EXT-X-PROGRAM-DATE-TIME:2024-01-01T00:00:00Z\n" * 20)
            except OSError:
                pass
            self.close_connection = True
            return
        data = None
        for prefix, live in st.live.items():
            if path.startswith(prefix):
                rest = path[len(prefix):]
                if rest == "list.m3u8":
                    data = (live.playlist(), M3U)
                elif rest.startswith("s") and rest.endswith(".ts"):
                    data = (live.segment(int(rest[1:-3])), "video/mp2t")
        if data is None:
            data = st.files.get(path)
        if data is None or fault == "404":
            self.send_json(404, {"error": "not found"})
            return
        body, ctype = data
        self.send_response(200)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if fault.startswith("stall:") or fault.startswith("drop:"):
            n = int(fault.split(":")[1])
            self.wfile.write(body[:n])
            self.wfile.flush()
            if fault.startswith("stall:"):
                time.sleep(3)
            self.close_connection = True
            return
        self.wfile.write(body)


def serve():
    st = HLSState()
    return st, Running(HLSHandler, st)
