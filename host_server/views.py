"""HTTP handlers: parse and check input, call auth/db, map domain errors to JSON errors."""

import functools
import json
import logging

from aiohttp import web

from .catalog import is_number_text
from .db import UNAVAILABLE as DATABASE_UNAVAILABLE
from .errors import (Conflict, DomainError, Forbidden, Invalid, NotFound, TooManyFailures,
                     Unauthorized)
from .keys import AUTH, DB, DEVICE, SETTINGS
from .serving import client_address

log = logging.getLogger("host_server.views")

STATUS = {Invalid: 400, Unauthorized: 401, Forbidden: 403, NotFound: 404, Conflict: 409,
           TooManyFailures: 429}
_dumps = functools.partial(json.dumps, separators=(",", ":"), ensure_ascii=False)


def error_response(status, message, headers=None):
    return web.json_response({"error": message}, status=status, headers=headers, dumps=_dumps)


@web.middleware
async def json_errors(request, handler):
    """Every error leaves as {"error": "..."}: domain errors, aiohttp's own, and crashes."""
    try:
        return await handler(request)
    except DomainError as exc:
        headers = None
        if isinstance(exc, TooManyFailures):
            headers = {"Retry-After": str(exc.retry_after)}
        return error_response(STATUS.get(type(exc), 400), str(exc), headers)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        message = exc.reason
        if exc.status == 413:
            message = f"request body too large (limit {request.app[SETTINGS].max_body} bytes)"
        headers = {k: v for k, v in exc.headers.items() if k in ("Allow", "Retry-After")}
        return error_response(exc.status, message, headers)
    except DATABASE_UNAVAILABLE as exc:
        # PostgreSQL down or restarting: devices back off on a 5xx and come back
        log.warning("database unavailable on %s %s: %s", request.method, request.path,
                    exc.__class__.__name__)
        return error_response(503, "database unavailable; try again shortly", {"Retry-After": "5"})
    except Exception:
        log.exception("internal error on %s %s", request.method, request.path)
        return error_response(500, "internal server error")


# -- input -------------------------------------------------------------------------------

def contains_nul(doc):
    """Does any text in a decoded JSON document (or a form's values) hold a NUL character?
    No stored text may: PostgreSQL refuses it, and no name or id needs one."""
    if isinstance(doc, str):
        return "\x00" in doc
    if isinstance(doc, dict):
        return any(contains_nul(k) or contains_nul(v) for k, v in doc.items())
    if isinstance(doc, list):
        return any(contains_nul(v) for v in doc)
    return False


async def read_json(request):
    body = await request.read()
    try:
        doc = json.loads(body)
    except (UnicodeDecodeError, ValueError):
        raise Invalid("body must be a JSON object") from None
    if not isinstance(doc, dict):
        raise Invalid("body must be a JSON object")
    if contains_nul(doc):
        raise Invalid("text in the body must not contain NUL characters (\\u0000)")
    return doc


def _field(doc, key, kind, required=True, default=None, nullable=False):
    if key not in doc:
        if required:
            raise Invalid(f"missing field {key!r}")
        return default
    value = doc[key]
    if value is None and nullable:
        return None
    if kind is int:   # what the database can hold: a 64-bit signed integer
        ok = isinstance(value, int) and not isinstance(value, bool) and -2**63 <= value < 2**63
    else:
        ok = isinstance(value, kind)
    if not ok:
        raise Invalid(f"field {key!r} must be {_KIND_NAMES[kind]}")
    return value


_KIND_NAMES = {int: "an integer (64-bit)", str: "a string", list: "a list"}


def _short_str(doc, key, limit=256, **kw):
    value = _field(doc, key, str, **kw)
    if value is not None and (not value or len(value) > limit):
        raise Invalid(f"field {key!r} must be 1-{limit} characters")
    return value


def device_required(handler):
    @functools.wraps(handler)
    async def wrapper(request):
        header = request.headers.get("Authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer":
            token = ""
        request[DEVICE] = await request.app[AUTH].device_for(token.strip())
        return await handler(request)
    return wrapper


def _json(doc, status=200):
    return web.json_response(doc, status=status, dumps=_dumps)


# -- login -------------------------------------------------------------------------------

async def login_challenge(request):
    doc = await read_json(request)
    device = _short_str(doc, "device", 64)
    auth = request.app[AUTH]
    nonce = await auth.challenge(device)
    return _json({"nonce": nonce, "ttl": auth.nonce_ttl})


async def login(request):
    doc = await read_json(request)
    device = _short_str(doc, "device", 64)
    nonce = _short_str(doc, "nonce", 64)
    proof = _short_str(doc, "proof", 128)
    auth = request.app[AUTH]
    token = await auth.login(device, nonce, proof, client_address(request))
    _, selected = await request.app[DB].programs_for(device)
    return _json({"token": token, "ttl": auth.token_ttl, "program": selected})


# -- programs ----------------------------------------------------------------------------

@device_required
async def programs(request):
    progs, selected = await request.app[DB].programs_for(request[DEVICE])
    return _json({"programs": progs, "selected": selected})


@device_required
async def select_program(request):
    doc = await read_json(request)
    program = _field(doc, "program", int)
    selected = await request.app[DB].select_program(request[DEVICE], program)
    return _json({"selected": selected})


# -- items -------------------------------------------------------------------------------

@device_required
async def next_item(request):
    item = await request.app[DB].next_item(request[DEVICE])
    if item is None:
        return web.Response(status=204)
    media_id, pos, compact = item
    body = f'{{"id":{media_id},"pos":{pos},{compact[1:]}'.encode()
    return web.Response(body=body, content_type="application/json")


@device_required
async def media(request):
    raw = request.match_info["id"]
    if not is_number_text(raw, 18):
        raise Invalid("media id must be a non-negative integer")
    return _json(await request.app[DB].media_record(int(raw)))


REPORT_STATUSES = ("played", "failed")


def parse_report(doc):
    rep = {
        "id": _field(doc, "id", int),
        "pos": _field(doc, "pos", int),
        "status": _field(doc, "status", str),
        "src": _field(doc, "src", str, required=False, nullable=True),
        "bytes": _field(doc, "bytes", int, required=False, default=0),
        "ms": _field(doc, "ms", int, required=False, default=0),
        "errors": _field(doc, "errors", list, required=False, default=[]),
    }
    if rep["status"] not in REPORT_STATUSES:
        raise Invalid(f"field 'status' must be one of {', '.join(REPORT_STATUSES)}")
    for key in ("id", "pos", "bytes", "ms"):
        if rep[key] < 0:
            raise Invalid(f"field {key!r} must not be negative")
    if rep["src"] is not None and len(rep["src"]) > 2048:
        raise Invalid("field 'src' is too long")
    if len(rep["errors"]) > 32:
        raise Invalid("field 'errors' has more than 32 entries")
    for i, pair in enumerate(rep["errors"]):
        if (not isinstance(pair, list) or len(pair) != 2
                or not all(isinstance(s, str) and len(s) <= 2048 for s in pair)):
            raise Invalid(f"field 'errors'[{i}] must be a [url, reason] pair of strings")
    return rep


@device_required
async def report(request):
    rep = parse_report(await read_json(request))
    next_pos = await request.app[DB].add_report(request[DEVICE], rep)
    return _json({"next_pos": next_pos})
