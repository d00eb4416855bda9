"""The device API: login (challenge, proof), programs, next item, full record, report.

GET /next answers the compact document of the device's current item, its sources ordered by
file servers' health (services/health.py); a report is stored, advances the position when it is
of the current item, and is folded into health. Health does nothing while it is off
(settings.probe_interval == 0).
"""

from aiohttp import web

from ..keys import AUTH, DB, DEVICE, HEALTH, SETTINGS
from ..model.catalog import next_doc
from ..model.checks import check_device_id
from ..model.errors import Invalid
from ..serving import client_address
from .inputs import device_required, field, path_id, read_json, short_str
from .middleware import json_response

REPORT_STATUSES = ("played", "failed")
MAX_URL = 2048        # characters of a URL or a reason in a report
MAX_REPORT_ERRORS = 32


# -- login -------------------------------------------------------------------------------

def _device_id(doc):
    """The device id of a login body, of the form every stored id has (no control characters
    reach a log line; an id of another form can belong to no device)."""
    return check_device_id(field(doc, "device", str), "field 'device'")


async def login_challenge(request):
    doc = await read_json(request)
    device = _device_id(doc)
    auth = request.app[AUTH]
    nonce = await auth.challenge(device)
    return json_response({"nonce": nonce, "ttl": auth.nonce_ttl})


async def login(request):
    doc = await read_json(request)
    device = _device_id(doc)
    nonce = short_str(doc, "nonce", 64)
    proof = short_str(doc, "proof", 128)
    auth = request.app[AUTH]
    token = await auth.login(device, nonce, proof, client_address(request))
    _, selected = await request.app[DB].devices.programs_for(device)
    return json_response({"token": token, "ttl": auth.token_ttl, "program": selected})


# -- programs ----------------------------------------------------------------------------

@device_required
async def programs(request):
    progs, selected = await request.app[DB].devices.programs_for(request[DEVICE])
    return json_response({"programs": progs, "selected": selected})


@device_required
async def select_program(request):
    doc = await read_json(request)
    program = field(doc, "program", int)
    selected = await request.app[DB].devices.select_program(request[DEVICE], program)
    return json_response({"selected": selected})


# -- items -------------------------------------------------------------------------------

def _health_on(request):
    return request.app[SETTINGS].probe_interval > 0


@device_required
async def next_item(request):
    item = await request.app[DB].devices.next_item(request[DEVICE])
    if item is None:
        return web.Response(status=204)
    doc = next_doc(*item)
    if _health_on(request):
        doc = request.app[HEALTH].order(doc)
    return json_response(doc)


@device_required
async def media(request):
    return json_response(await request.app[DB].catalog.media_record(path_id(request)))


def parse_report(doc):
    rep = {
        "id": field(doc, "id", int),
        "pos": field(doc, "pos", int),
        "status": field(doc, "status", str),
        "src": field(doc, "src", str, required=False, nullable=True),
        "bytes": field(doc, "bytes", int, required=False, default=0),
        "ms": field(doc, "ms", int, required=False, default=0),
        "errors": field(doc, "errors", list, required=False, default=[]),
    }
    if rep["status"] not in REPORT_STATUSES:
        raise Invalid(f"field 'status' must be one of {', '.join(REPORT_STATUSES)}")
    for key in ("id", "pos", "bytes", "ms"):
        if rep[key] < 0:
            raise Invalid(f"field {key!r} must not be negative")
    if rep["src"] is not None and len(rep["src"]) > MAX_URL:
        raise Invalid("field 'src' is too long")
    if len(rep["errors"]) > MAX_REPORT_ERRORS:
        raise Invalid(f"field 'errors' has more than {MAX_REPORT_ERRORS} entries")
    for i, pair in enumerate(rep["errors"]):
        if (not isinstance(pair, list) or len(pair) != 2
                or not all(isinstance(s, str) and len(s) <= MAX_URL for s in pair)):
            raise Invalid(f"field 'errors'[{i}] must be a [url, reason] pair of strings")
    return rep


@device_required
async def report(request):
    rep = parse_report(await read_json(request))
    next_pos = await request.app[DB].devices.add_report(
        request[DEVICE], rep, request.app[SETTINGS].max_device_reports)
    if _health_on(request):
        await request.app[HEALTH].fold_report(request[DEVICE], rep)
    return json_response({"next_pos": next_pos})
