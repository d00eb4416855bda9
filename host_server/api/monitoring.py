"""The meta server's Prometheus metrics (metrics.MetaMetrics): the middlewares that count every
request, and GET /metrics for the networks settings.metrics_nets names.

`measure` is the outermost middleware, so it counts the status a caller really got (after
json_errors made an error an answer); json_errors counts a database's exception as it turns it
into a 503 or a 500 (`count_database_error`): one middleware less on every request.
"""

import time

from aiohttp import web

from ..db.stats import ONLINE_WINDOW
from ..keys import DB, HEALTH, HOT, METRICS, SOURCE_CHECKS
from ..metrics import NO_ROUTE
from ..serving import client_address
from .middleware import error_response


def route_of(request):
    resource = request.match_info.route.resource
    return NO_ROUTE if resource is None else resource.canonical


@web.middleware
async def measure(request, handler):
    start = time.perf_counter()
    status, size = 500, 0
    try:
        response = await handler(request)
        status = response.status
        body = getattr(response, "body", None)
        if isinstance(body, (bytes, bytearray)):
            size = len(body)
        return response
    except web.HTTPException as exc:   # the dashboard's redirects are raised
        status = exc.status
        raise
    finally:
        request.app[METRICS].answered(request.method, route_of(request), status,
                                      time.perf_counter() - start, size)


def count_database_error(request, exc):
    """A request met this exception: counted when it is the database's (called by
    middleware.json_errors)."""
    engine = request.app[DB].engine
    if isinstance(exc, engine.unavailable):
        request.app[METRICS].database_errors.labels("unavailable").inc()
    elif isinstance(exc, engine.errors):
        request.app[METRICS].database_errors.labels("error").inc()


async def metrics(request):
    """GET /metrics: Prometheus's text format, to the networks of settings.metrics_nets."""
    m = request.app[METRICS]
    if not m.readers.on:
        return error_response(404, "metrics are off: start the server with --metrics-net NETWORK")
    if not m.readers.allow(client_address(request)):
        return error_response(403, "this address may not read the metrics (--metrics-net)")
    db = request.app[DB]
    try:
        await request.app[HOT].flush()
        counts = await db.stats.device_counts(ONLINE_WINDOW)
        m.devices.set(counts["devices"])
        m.devices_online.set(counts["online"])
    except (*db.engine.errors, *db.engine.unavailable) as exc:
        # a scrape still answers, with the error counted: the database's trouble is what an
        # operator wants to see then (the devices' gauges keep their last values)
        m.database_errors.labels("unavailable" if isinstance(exc, db.engine.unavailable)
                                 else "error").inc()
    m.checks_in_flight.set(request.app[SOURCE_CHECKS].running)
    m.file_servers_down.set(len(request.app[HEALTH].down))
    body, content_type = m.answer(request.headers.get("Accept"))
    return web.Response(body=body, headers={"Content-Type": content_type})
