"""The device API: login (challenge, proof), programs, next item, horizon, full record, reports,
a live stream's title now playing.

GET /next answers the compact document of the device's current item, its sources in this
device's order over servers' weights (model/spread.py), then by file servers' health
(services/health.py: down ones last); GET /horizon the same for its next k items. A report
is stored, advances the position when it is of the current item, and is folded into health;
POST /reports takes a batch of them in order, exactly once. Health does nothing while it is off
(settings.probe_interval == 0).
"""

from aiohttp import web

from ..keys import AUTH, DB, DEVICE, HEALTH, HOT, SETTINGS, SIGNER
from ..model import spread
from ..model.catalog import dumps, next_doc
from ..model.checks import (check_device_id, check_firmware_version, has_control, is_int,
                            is_number_text)
from ..model.errors import Invalid
from ..model.playback import MAX_DURATION
from ..model.signing import unsigned
from ..serving import client_address
from .inputs import device_required, field, path_id, query_int, read_json, short_str
from .middleware import gzip_json_response, json_response

REPORT_STATUSES = ("played", "failed")
MAX_URL = 2048        # characters of a URL or a reason in a report
MAX_REPORT_ERRORS = 32
MAX_UNDERRUNS = 1_000_000   # times the sink ran dry during one item
MAX_SEQ = 2 ** 62
MAX_HORIZON = 16            # items in one horizon
HORIZON_BYTES = 8192        # a horizon's body at most (the device's full-record buffer)
MAX_BATCH = 32              # reports in one POST /reports


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
    fw = doc.get("fw")   # optional: firmware of before it sent none
    fw = None if fw is None else check_firmware_version(fw)
    auth = request.app[AUTH]
    token = await auth.login(device, nonce, proof, client_address(request), fw)
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


MAX_POS_DIGITS = 9   # a position in a program (?pos=N)


def _pos_hint(request):
    """?pos=N: where the device says it is (its last report's next_pos), or None."""
    qs = request.query_string
    if not qs:
        return None
    text = qs[4:] if qs.startswith("pos=") and "&" not in qs else request.query.get("pos")
    if text is None:
        return None
    if not is_number_text(text, MAX_POS_DIGITS):
        raise Invalid("query parameter 'pos' must be a position: an integer from 0")
    return int(text)


@device_required
async def next_item(request):
    """The device's current item. With ?pos=N, the position the device's last report left it
    at, answered from memory when the server holds it there (services/hotpath.py)."""
    hot, device, pos = request.app[HOT], request[DEVICE], _pos_hint(request)
    health = request.app[HEALTH] if _health_on(request) else None
    down = health.down if health is not None else None   # a new set at each change of health
    signer = request.app[SIGNER]
    body = hot.body(device, pos, down, signer.held())
    if body is not None:
        return web.Response(body=body, content_type="application/json")
    item = await hot.next_item(device, pos)
    if item is None:
        return web.Response(status=204)
    doc = _ordered(request, item)
    if health is not None:
        doc = health.order(doc)
    (signed,) = await signer.sign_docs([doc])
    body = dumps(signed).encode()
    if signed is doc:   # nothing signed (a signed URL expires: made anew each time)
        hot.keep_body(device, item[1], item[0], body, down, signer.held())
    return web.Response(body=body, content_type="application/json")


def _ordered(request, item):
    """The compact document of (media id, pos, compact, spread), sources in the device's order."""
    media_id, pos, compact, weights = item
    return spread.order(next_doc(media_id, pos, compact), weights, request[DEVICE])


@device_required
async def horizon(request):
    """The next k items of the device's program, in order, as GET /next would hand them out one
    by one; as many as fit in HORIZON_BYTES (always the first)."""
    k = query_int(request, "k", 4, 1, MAX_HORIZON)
    request.app[HOT].take_pending(request[DEVICE])   # the horizon's own row is newer
    found = await request.app[DB].devices.horizon(request[DEVICE], k)
    if found is None:
        return web.Response(status=204)
    program, n, items = found
    health = request.app[HEALTH] if _health_on(request) else None
    doc = {"program": program, "n": n, "items": []}
    size = len(dumps(doc).encode())
    ordered = [_ordered(request, item) for item in items]
    if health is not None:
        ordered = [health.order(one) for one in ordered]
    for one in await request.app[SIGNER].sign_docs(ordered):
        size += len(dumps(one).encode()) + 1
        if doc["items"] and size > HORIZON_BYTES:
            break
        doc["items"].append(one)
    return gzip_json_response(request, doc)


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
        "underruns": field(doc, "underruns", int, required=False, default=0),
        "underrun_ms": field(doc, "underrun_ms", int, required=False, default=0),
        "seq": field(doc, "seq", int, required=False, nullable=True),
        "mounts": field(doc, "mounts", list, required=False, nullable=True),
    }
    if rep["status"] not in REPORT_STATUSES:
        raise Invalid(f"field 'status' must be one of {', '.join(REPORT_STATUSES)}")
    for key in ("id", "pos", "bytes", "ms"):
        if rep[key] < 0:
            raise Invalid(f"field {key!r} must not be negative")
    for key, limit in (("underruns", MAX_UNDERRUNS), ("underrun_ms", MAX_DURATION),
                       ("seq", MAX_SEQ)):
        if rep[key] is not None and not 0 <= rep[key] <= limit:
            raise Invalid(f"field {key!r} must be an integer from 0 to {limit}")
    if rep["src"] is not None and len(rep["src"]) > MAX_URL:
        raise Invalid("field 'src' is too long")
    if rep["src"] is not None:
        rep["src"] = unsigned(rep["src"])   # kept as the record names the source
    if len(rep["errors"]) > MAX_REPORT_ERRORS:
        raise Invalid(f"field 'errors' has more than {MAX_REPORT_ERRORS} entries")
    for i, pair in enumerate(rep["errors"]):
        if (not isinstance(pair, list) or len(pair) != 2
                or not all(isinstance(s, str) and len(s) <= MAX_URL for s in pair)):
            raise Invalid(f"field 'errors'[{i}] must be a [url, reason] pair of strings")
    rep["errors"] = [[unsigned(url), why] for url, why in rep["errors"]]
    if rep["mounts"] is not None:   # a stream's: the sources it played from, and for how long
        if len(rep["mounts"]) > MAX_REPORT_ERRORS:
            raise Invalid(f"field 'mounts' has more than {MAX_REPORT_ERRORS} entries")
        for i, pair in enumerate(rep["mounts"]):
            if (not isinstance(pair, list) or len(pair) != 2 or not isinstance(pair[0], str)
                    or len(pair[0]) > MAX_URL or not is_int(pair[1])
                    or not 0 <= pair[1] <= MAX_DURATION):
                raise Invalid(f"field 'mounts'[{i}] must be a [url, ms] pair")
        rep["mounts"] = [[unsigned(url), ms] for url, ms in rep["mounts"]]
    return rep


MAX_STREAM_TITLE = 256   # characters of a stream title a device tells (ICY allows 4080 bytes)


@device_required
async def playing(request):
    """The title a live stream is playing now (ICY StreamTitle), for the dashboard's "now
    playing": one row updated, nothing kept of earlier titles."""
    doc = await read_json(request)
    media_id = field(doc, "id", int)
    title = field(doc, "title", str)
    if len(title) > MAX_STREAM_TITLE or has_control(title):
        raise Invalid(f"field 'title' must be at most {MAX_STREAM_TITLE} characters, without"
                      " control characters")
    await request.app[HOT].flush_device(request[DEVICE])   # the row of the item it names
    await request.app[DB].activity.stream_title(request[DEVICE], media_id, title)
    return json_response({"ok": True})


@device_required
async def report(request):
    rep = parse_report(await read_json(request))
    limit = request.app[SETTINGS].max_device_reports
    next_pos = await request.app[HOT].report(
        request[DEVICE], lambda handed: request.app[DB].devices.add_report(
            request[DEVICE], rep, limit, handed))
    if _health_on(request):
        await request.app[HEALTH].fold_report(request[DEVICE], rep)
    return json_response({"next_pos": next_pos})


def parse_batch(doc):
    """The reports of a batch, each checked as a single report is (all or none stored)."""
    reps = field(doc, "reports", list)
    if not 1 <= len(reps) <= MAX_BATCH:
        raise Invalid(f"field 'reports' must hold 1 to {MAX_BATCH} reports")
    out = []
    for i, one in enumerate(reps):
        if not isinstance(one, dict):
            raise Invalid(f"reports[{i}] must be a JSON object")
        try:
            out.append(parse_report(one))
        except Invalid as exc:
            raise Invalid(f"reports[{i}]: {exc}") from None
        if out[-1]["seq"] is None:
            raise Invalid(f"reports[{i}]: missing field 'seq' (every report of a batch has one)")
    return out


@device_required
async def reports(request):
    """A batch of reports (a device that played on while it could not report), in order."""
    reps = parse_batch(await read_json(request))
    limit = request.app[SETTINGS].max_device_reports
    applied, stored, next_pos = await request.app[HOT].report(
        request[DEVICE], lambda handed: request.app[DB].devices.add_reports(
            request[DEVICE], reps, limit, handed))
    if _health_on(request):
        for rep in stored:
            await request.app[HEALTH].fold_report(request[DEVICE], rep)
    return json_response({"applied": applied, "next_pos": next_pos})
