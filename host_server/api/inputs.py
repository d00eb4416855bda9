"""What every handler reads from a request, checked once: the JSON body, its fields, a bearer
token, an id in the path; and the device a token belongs to."""

import functools
import json

from aiohttp import web

from ..keys import DEVICE, HOT
from ..model.checks import MAX_DEPTH, id_from_text, is_int, is_number_text, text_problem
from ..model.errors import Invalid

_KIND_NAMES = {int: "an integer (64-bit)", str: "a string", list: "a list"}


async def read_json(request):
    """The body as a JSON object (aiohttp caches the bytes: a second call parses again). A body
    may come compressed (Content-Encoding: gzip or deflate): aiohttp inflates it, within the
    body limit; one that does not inflate is the caller's mistake, not the server's."""
    try:
        body = await request.read()
    except web.RequestPayloadError:
        raise Invalid("body cannot be decoded as its Content-Encoding says") from None
    try:
        doc = json.loads(body)
    except (UnicodeDecodeError, ValueError):
        raise Invalid("body must be a JSON object") from None
    except RecursionError:
        raise Invalid(f"body nests deeper than {MAX_DEPTH} levels") from None
    if not isinstance(doc, dict):
        raise Invalid("body must be a JSON object")
    problem = text_problem(doc)
    if problem:
        raise Invalid(f"body: {problem}")
    return doc


def field(doc, key, kind, required=True, default=None, nullable=False):
    """doc[key] if it is of kind (int: one the database can hold), else Invalid naming it."""
    if key not in doc:
        if required:
            raise Invalid(f"missing field {key!r}")
        return default
    value = doc[key]
    if value is None and nullable:
        return None
    ok = is_int(value) if kind is int else isinstance(value, kind)
    if not ok:
        raise Invalid(f"field {key!r} must be {_KIND_NAMES[kind]}")
    return value


def short_str(doc, key, limit=256, **kw):
    value = field(doc, key, str, **kw)
    if value is not None and (not value or len(value) > limit):
        raise Invalid(f"field {key!r} must be 1-{limit} characters")
    return value


def query_int(request, key, default, low, high):
    """An integer query parameter (?key=N) between low and high, default when absent, else
    Invalid naming it."""
    text = request.query.get(key)
    if text is None:
        return default
    if not is_number_text(text, 4) or not low <= int(text) <= high:
        raise Invalid(f"query parameter {key!r} must be an integer from {low} to {high}")
    return int(text)


def bearer_token(request):
    """The token of an `Authorization: Bearer <token>` header, or "" when there is none."""
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" else ""


def path_id(request, what="media id", key="id"):
    """An id from the path (/media/{id}): a non-negative integer, else Invalid."""
    return id_from_text(request.match_info[key], what)


def device_required(handler):
    """The handler runs with request[DEVICE] set from a live device token, else 401."""
    @functools.wraps(handler)
    async def wrapper(request):
        request[DEVICE] = await request.app[HOT].device_for(bearer_token(request))
        return await handler(request)
    return wrapper
