"""Running an aiohttp app until SIGINT/SIGTERM, announcing the bound address on stdout; what one
connection may cost (deadlines, caps of connections); the address a request came from, through a
trusted load balancer."""
import asyncio
import dataclasses
import errno
import logging
import resource
import signal
import socket

from aiohttp import web
from aiohttp.web_protocol import RequestHandler

from . import settings as settings_table
from .keys import SETTINGS

MAX_ADDRESS = 64   # characters of an address kept (login limits and key requests are per address)


def client_address(request):
    """The device's network address: what X-Forwarded-For's last hop says when the request came
    from a trusted load balancer (Settings.trusted_proxies; nginx sets the header), else the
    peer's own address. Anyone else's X-Forwarded-For is ignored: a device could forge it to
    dodge the per-address login limit."""
    remote = request.remote or ""
    if remote in request.app[SETTINGS].trusted_proxies:
        forwarded = request.headers.get("X-Forwarded-For", "").rsplit(",", 1)[-1].strip()
        if forwarded:
            return forwarded[:MAX_ADDRESS]
    return remote


async def serve_until_stopped(runner, host, port, limits=None):
    """Sets up ``runner``, binds, prints ``LISTENING http://host:port`` (the real port when 0
    was asked for) so a parent process knows it is ready, and serves until signalled, each
    connection within ``limits`` (ConnectionLimits; the table's defaults when None)."""
    asyncio.get_running_loop().set_exception_handler(_quiet_accept_errors)
    await runner.setup()
    try:
        site = GuardedSite(runner, host, port, Guard(limits or ConnectionLimits()))
        await site.start()
        bound = runner.addresses[0]
        shown = f"[{bound[0]}]" if ":" in bound[0] else bound[0]
        print(f"LISTENING http://{shown}:{bound[1]}", flush=True)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await stop.wait()
    finally:
        await runner.cleanup()


# -- what one connection may cost ----------------------------------------------------------
# aiohttp alone holds a slow client for its keep-alive timeout (about an hour) and accepts
# connections until the descriptors run out. Its RequestHandler is subclassed for the deadlines
# and the caps: aiohttp has neither a header deadline nor a per-address cap. Written against the
# pinned aiohttp (3.14.5): it uses RequestHandler's _messages, _request_count and
# _process_keepalive, and asyncio's Server._sockets; tests/host/test_slow_clients.py checks each
# against real processes.

log = logging.getLogger("host_server.serving")

# the settings.TABLE rows both servers take (the meta server's serve options; the file
# server's own command-line options, with the same defaults)
LIMIT_SETTINGS = ("header_timeout", "body_timeout", "keepalive_timeout",
                  "max_address_connections", "max_connections", "fd_headroom")


@dataclasses.dataclass(frozen=True)
class ConnectionLimits:
    header_timeout: float = settings_table.BY_NAME["header_timeout"].default
    body_timeout: float = settings_table.BY_NAME["body_timeout"].default
    keepalive_timeout: float = settings_table.BY_NAME["keepalive_timeout"].default
    max_address_connections: int = settings_table.BY_NAME["max_address_connections"].default
    max_connections: int = settings_table.BY_NAME["max_connections"].default
    fd_headroom: int = settings_table.BY_NAME["fd_headroom"].default
    exempt: tuple = ()   # addresses without a per-address cap (a trusted load balancer)

    def __post_init__(self):
        for name in LIMIT_SETTINGS:
            if not getattr(self, name) > 0:
                raise ValueError(f"{settings_table.BY_NAME[name].flag} must be positive")

    @classmethod
    def of(cls, values, exempt=()):
        """The limits from a Settings or parsed options holding the LIMIT_SETTINGS names."""
        return cls(**{name: getattr(values, name) for name in LIMIT_SETTINGS}, exempt=tuple(exempt))


def add_limit_options(parser):
    """The LIMIT_SETTINGS as options of a server other than `serve` (the file server)."""
    for name in LIMIT_SETTINGS:
        settings_table.add_option(parser, settings_table.BY_NAME[name])


class Guard:
    """The connections open, per peer address and in all, against the caps. The cap in all
    stays fd_headroom below the descriptor limit, so that accepting, the database and the log
    files still get descriptors when the cap is reached."""

    def __init__(self, limits):
        self.limits = limits
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        wanted = limits.max_connections + limits.fd_headroom
        if soft != resource.RLIM_INFINITY and soft < wanted and (
                hard == resource.RLIM_INFINITY or hard > soft):
            # a process may raise its own soft limit up to the hard one (often 1024 of 524288)
            soft = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
            resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
        self.cap = limits.max_connections
        if soft != resource.RLIM_INFINITY:
            self.cap = min(self.cap, soft - limits.fd_headroom)
        if self.cap < 1:
            raise ValueError(f"the descriptor limit ({soft}) leaves no connection above"
                             f" --fd-headroom {limits.fd_headroom}")
        self.open = 0
        self.per_address = {}
        self.refused = 0
        self.waiting = {}   # handlers waiting for a request's headers, the longest waiting first
        self.evicted = 0

    def admit(self, address):
        if self.open >= self.cap and not self._evict_slowest():
            return self._refuse(f"{self.cap} connections in all")
        count = self.per_address.get(address, 0)
        if count >= self.limits.max_address_connections and address not in self.limits.exempt:
            return self._refuse(f"{count} connections from {address}")
        self.open += 1
        self.per_address[address] = count + 1
        return True

    def _evict_slowest(self):
        """Make room by closing the connection that has waited longest for its request's
        headers: with the cap full of slow clients from many addresses, a device (whose headers
        come at once, so it never waits long) still gets in; connections busy with a request or
        idle between requests are never taken. The evicted one's descriptor is freed a moment
        later, so at most EVICTING of them are in flight."""
        if not self.waiting or self.open >= self.cap + EVICTING:
            return False
        handler = next(iter(self.waiting))
        del self.waiting[handler]
        handler._abort()
        self.evicted += 1
        if self.evicted & (self.evicted - 1) == 0:
            log.warning("closed a connection slow with its headers to make room (%d so far)",
                        self.evicted)
        return True

    def release(self, address):
        self.open -= 1
        left = self.per_address.pop(address) - 1
        if left:
            self.per_address[address] = left

    def _refuse(self, why):
        self.refused += 1
        if self.refused & (self.refused - 1) == 0:   # the 1st, 2nd, 4th, 8th...: a flood logs little
            log.warning("refused a connection over the cap (%s); %d refused so far", why, self.refused)
        return False


EVICTING = 16       # evicted connections whose descriptors are not freed yet, at most


class GuardedHandler(RequestHandler):
    """aiohttp's request handler with a deadline for a request's headers (from the connection's
    start, or from the first byte of a later request on a keep-alive connection) and for its
    body (from the end of its headers); it gives its place under the Guard's caps back when the
    connection ends. aiohttp's own keep-alive timer bounds the idle time between requests."""

    def __init__(self, manager, guard, **kwargs):
        super().__init__(manager, keepalive_timeout=guard.limits.keepalive_timeout, **kwargs)
        self._guard = guard
        self._address = None   # the peer's, counted by the guard until connection_lost
        self._head_late = None
        self._body_late = None
        self._body = None      # the payload of the last request whose headers arrived

    def connection_made(self, transport):
        # admitted already, by the listening socket's accept() (GuardedSite)
        self._address = transport.get_extra_info("peername")[0]
        super().connection_made(transport)
        self._arm_head()

    def connection_lost(self, exc):
        self._guard.waiting.pop(self, None)
        self._guard.release(self._address)
        self._address = None
        for handle in (self._head_late, self._body_late):
            if handle is not None:
                handle.cancel()
        super().connection_lost(exc)

    def data_received(self, data):
        if data and self._head_late is None and (self._body is None or self._body.is_eof()):
            self._arm_head()    # the first bytes of a new request
        before = self._request_count
        super().data_received(data)
        arrived = self._request_count - before
        if arrived:             # headers complete (a 400 counts too)
            # a request's headers follow the end of the previous body: one body timer at a time
            for handle in (self._head_late, self._body_late):
                if handle is not None:
                    handle.cancel()
            self._head_late = self._body_late = None
            self._guard.waiting.pop(self, None)
            self._body = self._messages[-1][1] if self._messages else None
            if self._body is not None and not self._body.is_eof():
                self._body_late = self._loop.call_later(self._guard.limits.body_timeout,
                                                        self._close_if_body_late)

    def _process_keepalive(self):
        # aiohttp's keep-alive timer would also close a connection whose headers are arriving
        # within their own deadline: that one is the header deadline's to close
        if self._head_late is not None:
            self._keepalive_handle = None
            return
        super()._process_keepalive()

    def _arm_head(self):
        self._head_late = self._loop.call_later(self._guard.limits.header_timeout, self._close_late)
        self._guard.waiting[self] = None

    def _close_late(self):
        self._head_late = None
        self._guard.waiting.pop(self, None)
        self._abort()

    def _close_if_body_late(self):
        self._body_late = None
        body, self._body = self._body, None
        if body is not None and not body.is_eof():
            self._abort()

    def _abort(self):
        # not force_close(): it drops the transport at once, and a handler reading the body in
        # between would meet aiohttp's RuntimeError("Connection closed."), a 500 with a
        # traceback; connection_lost, which abort() brings, cancels the handler cleanly
        if self.transport is not None:
            self.transport.abort()


REFUSALS_AT_ONCE = 128


def _listener_class(guard):
    """A listening socket class whose accept() closes a connection over a cap at once. Here,
    not in connection_made: asyncio accepts up to a backlog's worth of connections in one go
    before it makes their transports, so a check there would let a burst take 128 descriptors
    past the cap."""

    class GuardedListener(socket.socket):
        __slots__ = ()   # socket's own layout: an open socket's class can be swapped to this

        def accept(self):
            for _ in range(REFUSALS_AT_ONCE):   # until one is admitted, or none is waiting
                conn, addr = super().accept()
                if guard.admit(addr[0]):
                    return conn, addr
                conn.close()
            raise BlockingIOError   # asyncio's "none waiting": the loop runs, then accepts again
    return GuardedListener


class GuardedSite(web.TCPSite):
    """A TCPSite whose connections are GuardedHandlers, accepted within the Guard's caps."""

    def __init__(self, runner, host, port, guard):
        super().__init__(runner, host, port)
        self._guard = guard

    async def start(self):
        await web.BaseSite.start(self)   # registers the site; TCPSite.start would bind aiohttp's
        loop = asyncio.get_running_loop()
        server = self._runner.server
        # server._kwargs: the RequestHandler options given to the runner (access log, ...)
        self._server = await loop.create_server(
            lambda: GuardedHandler(server, self._guard, loop=loop, **server._kwargs),
            self._host, self._port, backlog=self._backlog, start_serving=False)
        # asyncio binds (its resolution, its error messages); its listening sockets then take
        # the guard's accept() before the first accept (asyncio's Server keeps them in _sockets)
        listener = _listener_class(self._guard)
        for sock in self._server._sockets:
            sock.__class__ = listener
        await self._server.start_serving()
        self._bound_port = self._server.sockets[0].getsockname()[1]


_told_out_of_descriptors = False
OUT_OF_DESCRIPTORS = (errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM)


def _quiet_accept_errors(loop, context):
    """asyncio already backs off a second when accept() runs out of descriptors, but logs a
    traceback each time: say it once, without one."""
    global _told_out_of_descriptors
    exc = context.get("exception")
    if isinstance(exc, OSError) and exc.errno in OUT_OF_DESCRIPTORS and "accept" in context.get(
            "message", ""):
        if not _told_out_of_descriptors:
            _told_out_of_descriptors = True
            log.warning("out of file descriptors accepting connections (%s); retrying each second",
                        exc.strerror)
        return
    loop.default_exception_handler(context)
