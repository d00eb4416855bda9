"""A TCP proxy that sits in front of a file server and breaks things the way the world does.

The proxy forwards bytes both ways unchanged until a fault's trigger is reached. A fault names
the request path it applies to (None: every request) and the response byte at which it fires,
counted from the start of that response's body:

- ``drop``: close the connection there, and take the whole server down (stop listening, close
  every connection): later requests are refused, as from a server that died.
- ``cut``: close only this connection there; the server stays up.
- ``stall``: stop forwarding there and hold the connection open, silent.
- ``corrupt``: flip that one byte, then carry on.

Each fault fires once (``times`` to change that).
"""
import asyncio


class Fault:
    KINDS = ("drop", "cut", "stall", "corrupt")

    def __init__(self, kind, path=None, at=0, times=1):
        if kind not in self.KINDS:
            raise ValueError("unknown fault kind %r (one of %s)" % (kind, ", ".join(self.KINDS)))
        self.kind = kind
        self.path = path
        self.at = int(at)
        self.times = times
        self.fired = 0

    def applies(self, path):
        return self.fired < self.times and (self.path is None or self.path == path)

    def __repr__(self):
        return "Fault(%s, path=%r, at=%d, fired=%d)" % (self.kind, self.path, self.at, self.fired)


class FaultProxy:
    """Listens on a loopback port and forwards to ``upstream`` (host, port)."""

    def __init__(self, upstream, faults=(), host="127.0.0.1"):
        self.upstream = upstream
        self.faults = list(faults)
        self.host = host
        self.port = None
        self.server = None
        self.dead = False
        self._conns = set()
        self._stalled = []
        self.requests = []  # one dict a request seen: {"path": ..., "range": header or None}

    @property
    def address(self):
        return "http://%s:%d" % (self.host, self.port)

    async def start(self, port=0):
        self.server = await asyncio.start_server(self._serve, self.host, port)
        self.port = self.server.sockets[0].getsockname()[1]
        return self

    async def stop(self):
        self._die()
        for ev in self._stalled:
            ev.set()
        if self.server is not None:
            await self.server.wait_closed()
            self.server = None

    def release(self):
        """Stalled connections end now, as if the server behind them had died."""
        for ev in self._stalled:
            ev.set()
        self._stalled = []

    def _die(self):
        """The server dies: no more connections accepted, every open one cut."""
        self.dead = True
        if self.server is not None:
            self.server.close()
        for w in list(self._conns):
            w.transport.abort()

    async def _serve(self, creader, cwriter):
        if self.dead:
            cwriter.transport.abort()
            return
        try:
            ureader, uwriter = await asyncio.open_connection(*self.upstream)
        except OSError:
            cwriter.transport.abort()
            return
        self._conns.add(cwriter)
        self._conns.add(uwriter)
        # The current request's path and how many response bytes it has had so far.
        state = {"path": None, "sent": 0, "body_start": None, "head": b""}
        up = asyncio.ensure_future(self._client_to_upstream(creader, uwriter, state))
        try:
            await self._upstream_to_client(ureader, cwriter, state)
        except (ConnectionError, OSError):
            pass
        finally:
            up.cancel()
            for w in (cwriter, uwriter):
                self._conns.discard(w)
                w.transport.abort()

    async def _client_to_upstream(self, creader, uwriter, state):
        pending = b""
        try:
            while True:
                data = await creader.read(4096)
                if not data:
                    break
                pending = (pending + data)[-8192:]
                # A new request line resets the response counters for the next response.
                while b"\r\n" in pending:
                    line, pending = pending.split(b"\r\n", 1)
                    parts = line.split(b" ")
                    if len(parts) == 3 and parts[2].startswith(b"HTTP/"):
                        state["path"] = parts[1].split(b"?")[0].decode("latin-1")
                        state["sent"] = 0
                        state["body_start"] = None
                        state["head"] = b""
                        self.requests.append({"path": state["path"], "range": None})
                    elif line[:6].lower() == b"range:" and self.requests:
                        self.requests[-1]["range"] = line[6:].strip().decode("latin-1")
                uwriter.write(data)
                await uwriter.drain()
        except (ConnectionError, OSError, asyncio.CancelledError):
            pass

    async def _upstream_to_client(self, ureader, cwriter, state):
        while True:
            data = await ureader.read(16384)
            if not data:
                return
            start = state["sent"]
            if state["body_start"] is None:
                state["head"] = (state["head"] + data)[:16384]
                end = state["head"].find(b"\r\n\r\n")
                if end >= 0:
                    state["body_start"] = end + 4
            if state["body_start"] is not None:
                data = await self._apply_faults(data, start, state, cwriter)
                if data is None:
                    return
            cwriter.write(data)
            await cwriter.drain()
            state["sent"] = start + len(data)

    async def _apply_faults(self, data, start, state, cwriter):
        """``data`` is the response from byte ``start``; faults fire at body offsets."""
        end = start + len(data)
        for f in self.faults:
            if not f.applies(state["path"]):
                continue
            pos = state["body_start"] + f.at
            if not (start <= pos < end):
                continue
            f.fired += 1
            if f.kind == "corrupt":
                b = bytearray(data)
                b[pos - start] ^= 0xFF
                data = bytes(b)
                continue
            if pos > start:
                cwriter.write(data[: pos - start])
                await cwriter.drain()
            if f.kind == "drop":
                self._die()
                return None
            if f.kind == "cut":
                return None
            ev = asyncio.Event()  # stall: silent until the proxy stops
            self._stalled.append(ev)
            await ev.wait()
            return None
        return data
