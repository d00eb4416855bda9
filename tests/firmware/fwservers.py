"""Tiny threaded stand-ins for the meta server and file servers, enough to drive the firmware
through PROTOCOL.md at unit level (the real servers are tested elsewhere)."""
import hashlib
import hmac
import json
import os
import re
import threading
import time
import zlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False


class Running:
    def __init__(self, handler_cls, state):
        handler = type("H", (handler_cls,), {"state": state})
        self.httpd = _Server(("127.0.0.1", 0), handler)
        self.port = self.httpd.server_address[1]
        self.url = "http://127.0.0.1:%d" % self.port
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05})
        self.thread.start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join()


class _Base(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *a):
        pass

    def send_json(self, status, doc, extra=()):
        body = json.dumps(doc).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        for k, v in extra:
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)


class FileState:
    def __init__(self, files, faults=None):
        self.files = files            # path -> bytes
        # path -> "404" | "drop:N" | "stall:N" | "norange" | "trickle:R" (R bytes per second)
        self.faults = faults or {}
        self.requests = []            # (path, range header or None)


class FileHandler(_Base):
    def do_GET(self):
        st = self.state
        rng = self.headers.get("Range")
        st.requests.append((self.path, rng))
        data = st.files.get(self.path)
        fault = st.faults.get(self.path, "")
        if data is None or fault == "404":
            self.send_json(404, {"error": "not found"})
            return
        start = 0
        m = re.match(r"bytes=(\d+)-$", rng or "")
        if m and fault != "norange":
            start = int(m.group(1))
            self.send_response(206)
            self.send_header("Content-Range", "bytes %d-%d/%d" % (start, len(data) - 1, len(data)))
        else:
            self.send_response(200)
        self.send_header("Content-Length", str(len(data) - start))
        self.end_headers()
        body = data[start:]
        if fault.startswith("trickle:"):
            per_s = int(fault.split(":")[1])
            try:
                for i in range(0, len(body), 64):
                    self.wfile.write(body[i:i + 64])
                    self.wfile.flush()
                    time.sleep(64 / per_s)
            except OSError:
                pass  # the device gave up on it
            self.close_connection = True
            return
        if fault.startswith("drop:") or fault.startswith("stall:"):
            n = int(fault.split(":")[1])
            self.wfile.write(body[:n])
            self.wfile.flush()
            if fault.startswith("stall:"):
                time.sleep(2.0)
            self.close_connection = True
            return
        self.wfile.write(body)


class MetaState:
    def __init__(self, device, secret, items):
        self.device = device
        self.secret = secret
        self.items = items            # list of compact meta data dicts (without pos)
        self.pos = 0
        self.nonces = set()
        self.tokens = set()
        self.reports = []
        self.logins = 0
        self.fw = []                  # the firmware version each login sent
        self.program = 1
        self.entitled = (1, 2)
        self.too_many = 0             # answer this many logins with 429 Retry-After: 1
        self.report_errors = 0        # answer this many reports with 503
        # store-ahead (PROTOCOL.md "Horizon", "Batched reports")
        self.horizons = []            # (k, gzipped) of each GET /horizon answered properly
        self.horizon_asked = 0        # GET /horizon requests, hostile answers included
        # hostile horizon answers, one used (and removed) per request before proper ones:
        # (body bytes, [(header, value), ...]) sent with 200 and that Content-Length
        self.horizon_body = []
        self.horizon_good_first = 0   # proper answers given before horizon_body is used
        self.batches = []             # the seqs of each POST /reports, in order (refused too)
        self.reports_status = []      # statuses, one used (and removed) per batch: answered so
        self.reports_drop = 0         # apply this many batches, then close without an answer
        self.seqs = set()             # seqs applied (a batch report with one seen is a repeat)
        self.repeats = []             # batch reports taken as repeats (not applied again)
        self.lock = threading.Lock()


class MetaHandler(_Base):
    def _body(self):
        n = int(self.headers.get("Content-Length", "0"))
        return json.loads(self.rfile.read(n) or b"{}")

    def _authed(self):
        auth = self.headers.get("Authorization", "")
        if auth.startswith("Bearer ") and auth[7:] in self.state.tokens:
            return True
        self.send_json(401, {"error": "bad token"})
        return False

    def do_POST(self):
        st = self.state
        doc = self._body()
        with st.lock:
            if self.path == "/api/v1/login/challenge":
                nonce = os.urandom(16).hex()
                st.nonces.add(nonce)
                self.send_json(200, {"nonce": nonce, "ttl": 60})
            elif self.path == "/api/v1/login":
                if st.too_many:
                    st.too_many -= 1
                    self.send_json(429, {"error": "too many logins"}, [("Retry-After", "1")])
                    return
                nonce = doc.get("nonce")
                want = hmac.new(st.secret.encode(),
                                ("login\x00%s\x00%s\x00" % (doc.get("device"), nonce)).encode(),
                                hashlib.sha256).hexdigest()
                if nonce not in st.nonces or doc.get("device") != st.device or doc.get("proof") != want:
                    self.send_json(401, {"error": "login refused"})
                    return
                st.nonces.discard(nonce)
                st.logins += 1
                st.fw.append(doc.get("fw"))
                token = os.urandom(8).hex()
                st.tokens.add(token)
                self.send_json(200, {"token": token, "ttl": 3600, "program": st.program})
            elif self.path == "/api/v1/programs/select":
                if self._authed():
                    if doc.get("program") not in st.entitled:
                        self.send_json(403, {"error": "not entitled"})
                        return
                    st.program = doc["program"]
                    self.send_json(200, {"selected": st.program})
            elif self.path == "/api/v1/report":
                if st.report_errors:
                    st.report_errors -= 1
                    self.send_json(503, {"error": "busy"})
                elif self._authed():
                    st.reports.append(doc)
                    if st.items and doc.get("id") == st.items[st.pos]["id"] and doc.get("pos") == st.pos:
                        st.pos = (st.pos + 1) % len(st.items)
                    self.send_json(200, {"next_pos": st.pos})
            elif self.path == "/api/v1/reports":
                if self._authed():
                    self._reports(doc)
            else:
                self.send_json(404, {"error": "no such endpoint"})

    def _apply(self, doc):
        """A report applied as /report applies it: stored, and the position advanced when its
        id and pos are the current item's."""
        st = self.state
        st.reports.append(doc)
        if st.items and doc.get("id") == st.items[st.pos]["id"] and doc.get("pos") == st.pos:
            st.pos = (st.pos + 1) % len(st.items)

    def _reports(self, doc):
        st = self.state
        reports = doc.get("reports") if isinstance(doc, dict) else None
        if not isinstance(reports, list):
            self.send_json(400, {"error": "reports must be a list"})
            return
        st.batches.append([r.get("seq") if isinstance(r, dict) else None for r in reports])
        if st.reports_status:
            status = st.reports_status.pop(0)
            self.send_json(status, {"error": "batch answered %d" % status})
            return
        if not 1 <= len(reports) <= 32:
            self.send_json(400, {"error": "1 to 32 reports"})
            return
        for i, r in enumerate(reports):   # all checked before any is applied
            ok = isinstance(r, dict) and all(
                isinstance(r.get(k), int) and not isinstance(r.get(k), bool)
                for k in ("seq", "id", "pos")) and r.get("status") in ("played", "failed")
            if not ok:
                self.send_json(400, {"error": "reports[%d]: malformed" % i})
                return
        for r in reports:
            if r["seq"] in st.seqs:
                st.repeats.append(r)
                continue
            st.seqs.add(r["seq"])
            self._apply(r)
        if st.reports_drop:           # applied, but the answer is lost on the way
            st.reports_drop -= 1
            self.close_connection = True
            return
        self.send_json(200, {"applied": len(reports), "next_pos": st.pos})

    def _horizon(self, query):
        st = self.state
        st.horizon_asked += 1
        if st.horizon_body and len(st.horizons) >= st.horizon_good_first:
            body, headers = st.horizon_body.pop(0)
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            for k, v in headers:
                self.send_header(k, v)
            self.end_headers()
            self.wfile.write(body)
            return
        m = re.match(r"(?:.*&)?k=(\d+)(?:&|$)", query)
        k = int(m.group(1)) if m else 4
        if not 1 <= k <= 16:
            self.send_json(400, {"error": "k is 1 to 16"})
            return
        if not st.items:
            self.send_response(204)
            self.end_headers()
            return
        n = len(st.items)
        items = [dict(st.items[(st.pos + i) % n], pos=(st.pos + i) % n) for i in range(min(k, n))]
        body = json.dumps({"program": st.program, "n": n, "items": items}).encode()
        gz = "gzip" in self.headers.get("Accept-Encoding", "")
        st.horizons.append((k, gz))
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        if gz:
            body = gzip_window10(body)
            self.send_header("Content-Encoding", "gzip")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        st = self.state
        with st.lock:
            if self.path.split("?", 1)[0] == "/api/v1/next":  # ?pos=N: the same answer
                if not self._authed():
                    return
                if not st.items:
                    self.send_response(204)
                    self.end_headers()
                    return
                item = dict(st.items[st.pos], pos=st.pos)
                self.send_json(200, item)
            elif self.path.split("?", 1)[0] == "/api/v1/horizon":
                if self._authed():
                    self._horizon(self.path.partition("?")[2])
            else:
                self.send_json(404, {"error": "no such endpoint"})


def gzip_window10(data):
    """data gzipped as the meta server gzips a horizon (PROTOCOL.md "Horizon": a 1 KiB window)."""
    z = zlib.compressobj(9, zlib.DEFLATED, 16 + 10)
    return z.compress(data) + z.flush()


def item(media_id, data, urls, title="T", rate=None):
    """A compact document; rate: its playback rate in bytes per second (and so its duration)."""
    doc = {"id": media_id, "size": len(data), "sha256": hashlib.sha256(data).hexdigest(),
           "type": "application/octet-stream", "title": title, "by": "B", "src": list(urls)}
    if rate:
        doc["rate"] = rate
        doc["dur"] = len(data) * 1000 // rate
    return doc
