"""Every error leaves the API as {"error": "..."} with its status: domain errors, aiohttp's
own, a database that is unavailable, and crashes (logged, never shown)."""

import logging

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
        if isinstance(exc, request.app[DB].engine.unavailable):
            # PostgreSQL down or restarting: devices back off on a 5xx and come back
            log.warning("database unavailable on %s %s: %s", request.method, request.path,
                        exc.__class__.__name__)
            return error_response(503, "database unavailable; try again shortly",
                                  {"Retry-After": "5"})
        log.exception("internal error on %s %s", request.method, request.path)
        return error_response(500, "internal server error")
