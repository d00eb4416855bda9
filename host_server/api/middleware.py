"""Every error leaves the API as {"error": "..."} with its status: domain errors, aiohttp's
own, a database that is unavailable, and crashes (logged, never shown)."""

import logging
import zlib

from aiohttp import web

from ..keys import DB, SETTINGS
from ..model.catalog import dumps
from ..model.sealing import MasterKeyError
from ..model.errors import (Busy, Conflict, DomainError, Forbidden, Invalid, NotFound,
                            QuotaExceeded, RateLimited, TooManyFailures, Unauthorized)

log = logging.getLogger("host_server.api")

STATUS = {Invalid: 400, Unauthorized: 401, Forbidden: 403, QuotaExceeded: 403, NotFound: 404,
          Conflict: 409, RateLimited: 429, TooManyFailures: 429, Busy: 503}


def status_of(exc):
    """The HTTP status of a domain error."""
    return STATUS.get(type(exc), 400)


def json_response(doc, status=200, headers=None):
    return web.json_response(doc, status=status, headers=headers, dumps=dumps)


GZIP_WINDOW_BITS = 10   # a 1 KiB window: a device inflates the answer with 1 KiB of heap


def accepts_gzip(request):
    """Does the request's Accept-Encoding take gzip (and not with q=0)?"""
    for part in request.headers.get("Accept-Encoding", "").split(","):
        name, _, params = part.partition(";")
        if name.strip().lower() == "gzip":
            q = params.replace(" ", "").lower()
            if not q.startswith("q="):
                return True
            try:
                return float(q[2:]) > 0
            except ValueError:
                return False
    return False


def gzip_json_response(request, doc):
    """A JSON answer, gzipped when the request takes gzip: for the answers that are worth it
    (several compact documents repeat their keys and their servers' addresses)."""
    if not accepts_gzip(request):
        return json_response(doc)
    packer = zlib.compressobj(6, zlib.DEFLATED, 16 + GZIP_WINDOW_BITS)
    body = packer.compress(dumps(doc).encode()) + packer.flush()
    return web.Response(body=body, content_type="application/json", charset="utf-8",
                        headers={"Content-Encoding": "gzip", "Vary": "Accept-Encoding"})


def error_response(status, message, headers=None):
    return json_response({"error": message}, status, headers)


@web.middleware
async def json_errors(request, handler):
    try:
        return await handler(request)
    except DomainError as exc:
        headers = None
        if isinstance(exc, RateLimited):
            headers = {"Retry-After": str(exc.retry_after)}
        return error_response(status_of(exc), str(exc), headers)
    except MasterKeyError as exc:   # the operator's to fix: said in the log, not to the caller
        log.error("%s %s: %s", request.method, request.path, exc)
        return error_response(503, "the server cannot open its sealed secrets; try again later",
                              {"Retry-After": "60"})
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        message = exc.reason
        if exc.status == 413:
            message = f"request body too large (limit {request.app[SETTINGS].max_body} bytes)"
        headers = {k: v for k, v in exc.headers.items() if k in ("Allow", "Retry-After")}
        return error_response(exc.status, message, headers)
    except Exception as exc:
        from .monitoring import count_database_error   # monitoring imports this module
        count_database_error(request, exc)
        if isinstance(exc, request.app[DB].engine.unavailable):
            # PostgreSQL down or restarting: devices back off on a 5xx and come back
            log.warning("database unavailable on %s %s: %s", request.method, request.path,
                        exc.__class__.__name__)
            return error_response(503, "database unavailable; try again shortly",
                                  {"Retry-After": "5"})
        log.exception("internal error on %s %s", request.method, request.path)
        return error_response(500, "internal server error")
