"""Prometheus metrics of the meta server and of the file server, for the monitoring an operator
already runs (`GET /metrics` in Prometheus's text format).

Each application has a registry of its own (not prometheus_client's global one): a process may
hold several apps, as the tests do, and each answers only for itself. Who may read /metrics is
settings.TABLE's metrics_nets (none: /metrics is off). Route labels are the route table's
templates (`/api/v1/media/{id}`), never the path asked for, so that strangers cannot grow the
series without bound; a request no route matched counts under NO_ROUTE.

The handlers and middlewares of the meta server are in api/monitoring.py; the file server's in
fileserver.py. This module holds only the figures and the readers' check.
"""

import ipaddress

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.exposition import choose_encoder

NO_ROUTE = "(no route)"
METHODS = frozenset(("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"))
# s: a device answer takes about a millisecond; an owner's registration, seconds of checking
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
                   30.0)


def exposition(registry, accept):
    """(body, content type) of the registry, in the format the scraper's Accept header asks
    for: Prometheus's text format, or OpenMetrics when asked."""
    encoder, content_type = choose_encoder(accept or "")
    return encoder(registry), content_type


class Readers:
    """The networks whose addresses may read /metrics."""

    def __init__(self, nets):
        try:
            self.nets = tuple(ipaddress.ip_network(n, strict=False) for n in nets)
        except ValueError as exc:
            raise ValueError(f"--metrics-net: {exc}") from None

    @property
    def on(self):
        return bool(self.nets)

    def allow(self, address):
        try:
            ip = ipaddress.ip_address((address or "").split("%", 1)[0])
        except ValueError:
            return False
        if ip.version == 6 and ip.ipv4_mapped:
            ip = ip.ipv4_mapped
        return any(ip in net for net in self.nets)


class MetaMetrics:
    """The meta server's figures."""

    def __init__(self, nets=()):
        self.readers = Readers(nets)
        self.registry = r = CollectorRegistry(auto_describe=True)
        self.requests = Counter("meta_http_requests", "HTTP requests answered, by route and status",
                                ("method", "route", "status"), registry=r)
        self.latency = Histogram("meta_http_request_duration_seconds",
                                 "Time from a request's headers to its answer, by route",
                                 ("method", "route"), buckets=LATENCY_BUCKETS, registry=r)
        self.response_bytes = Counter("meta_http_response_bytes",
                                      "Bytes of answers' bodies (the meta server carries meta data,"
                                      " never media)", registry=r)
        self.database_errors = Counter("meta_database_errors",
                                       "Requests that met a database error, by kind (unavailable:"
                                       " the database server down; error: any other)",
                                       ("kind",), registry=r)
        for kind in ("unavailable", "error"):
            self.database_errors.labels(kind)
        self.devices_online = Gauge("meta_devices_online",
                                    "Devices that asked for or reported an item lately", registry=r)
        self.devices = Gauge("meta_devices", "Devices known", registry=r)
        self.checks_in_flight = Gauge("meta_source_checks_in_flight",
                                      "Owners' registrations and updates checking sources now",
                                      registry=r)
        self.file_servers_down = Gauge("meta_file_servers_down",
                                       "File servers the health probe or devices found down",
                                       registry=r)
        self._series = {}

    def answered(self, method, route, status, seconds, body_bytes):
        """One request: its count, its latency and its body's bytes. Each series' children are
        kept once looked up (labels() costs more than the counting: 12 us against 4 here)."""
        if method not in METHODS:
            method = "other"   # a stranger's made-up methods are one series, not one each
        key = (method, route, status)
        series = self._series.get(key)
        if series is None:
            series = self._series[key] = (self.requests.labels(method, route, str(status)),
                                          self.latency.labels(method, route))
        series[0].inc()
        series[1].observe(seconds)
        if body_bytes:
            self.response_bytes.inc(body_bytes)

    def answer(self, accept):
        return exposition(self.registry, accept)


class FileMetrics:
    """The file server's figures."""

    def __init__(self, nets=()):
        self.readers = Readers(nets)
        self.registry = r = CollectorRegistry(auto_describe=True)
        self.requests = Counter("fileserver_http_requests", "HTTP requests answered, by method and"
                                " status", ("method", "status"), registry=r)
        self.bytes_served = Counter("fileserver_bytes_served",
                                    "Bytes of files sent in full answers' and ranges' bodies",
                                    registry=r)

    def answer(self, accept):
        return exposition(self.registry, accept)
