"""The owner API: an owner registers, updates and removes files on their own servers, and
weighs their servers (model/spread.py).

Every handler needs an owner token (Authorization: Bearer own_...). An owner sees and changes
only their own media: another's gives 403. Sources are checked (outbound/sourcecheck.py) before
anything is stored; a source that fails is reported in the answer and not used. An owner may
require signed, expiring URLs on a file server their media name (model/signing.py): the
server's secret is given or made here, shown once, and signs every URL handed out for it.
"""

import functools
import math

from ..keys import DB, OWNER, SETTINGS, SIGNER, SOURCE_CHECKS, SOURCE_POLICY
from ..model import catalog, signing
from ..model import usage as usage_model
from ..model.errors import Invalid, QuotaExceeded, RateLimited
from ..model.playback import wav_facts
from ..outbound.sourcecheck import check_sources
from ..services import owners
from .inputs import bearer_token, field, path_id, read_json
from .middleware import json_response

# Fields an update may not change: they define which bytes the record is about.
FIXED_FIELDS = ("size", "sha256", "primary_address", "primary_directory", "file_name", "stream")


CHECK_WINDOW = 3600.0   # s: max_owner_registrations counts within this
OWNER_USAGE_BY = ("day", "media", "server")   # an owner's statement is all theirs


def owner_required(handler):
    """The handler runs with request[OWNER] = (owner id, name) of a live owner token, else 401."""
    @functools.wraps(handler)
    async def wrapper(request):
        request[OWNER] = await owners.owner_for(request.app[DB], bearer_token(request))
        return await handler(request)
    return wrapper


async def _check(request, urls, rec, head=None):
    """The sources' checks, within the owner's and the server's limits (head: see
    check_sources)."""
    if not urls:
        return []
    settings, owner = request.app[SETTINGS], request[OWNER][0]
    if rec["size"] > settings.max_source_size:
        raise Invalid(f"field 'size': {rec['size']} bytes is more than the {settings.max_source_size}"
                      " a registered file may have")
    over = await request.app[DB].owners.add_check(owner, CHECK_WINDOW, settings.max_owner_registrations)
    if over:
        retry = max(1, math.ceil(over[1] + CHECK_WINDOW - request.app[DB].clock()))
        raise RateLimited(f"{over[0]} registrations and updates within an hour: the most an owner"
                          " may make; try again later", retry)
    fetched = await request.app[SIGNER].sign_urls(urls)   # as a device would fetch them
    async with request.app[SOURCE_CHECKS].slot(owner):
        checks = await check_sources(fetched, rec["size"], rec["sha256"], request.app[SOURCE_POLICY],
                                     settings.source_timeout, settings.source_deadline, head,
                                     rec.get("stream"))
    return [{**check, "url": url} for check, url in zip(checks, urls)]


def _key(alternate):
    return alternate["address"], alternate["directory"]


@owner_required
async def whoami(request):
    owner_id, name = request[OWNER]
    return json_response({"id": owner_id, "name": name})


@owner_required
async def list_media(request):
    return json_response({"media": await request.app[DB].catalog.list_media(owner=request[OWNER][0])})


@owner_required
async def register(request):
    owner_id, name = request[OWNER]
    rec = catalog.validate_media(await read_json(request))
    rec["owner"] = name   # the account's, whatever the body says: no owner registers as another
    db, limit = request.app[DB], request.app[SETTINGS].max_owner_media
    if await db.owners.media_count(owner_id) >= limit:
        raise QuotaExceeded(f"you hold {limit} media records, the most an owner may; remove some first")
    head = bytearray()
    sources = await _check(request, catalog.source_urls(rec), rec, head)
    if not sources[0]["ok"]:
        return json_response({"error": f"primary source failed its check: {sources[0]['why']}",
                              "sources": sources}, status=422)
    rec = _measured(rec, head)
    rec["alternates"] = [a for a, s in zip(rec["alternates"], sources[1:]) if s["ok"]]
    media_id = await db.owners.add_media(owner_id, rec)
    return json_response({"id": media_id, "sources": sources}, status=201)


def _measured(rec, head):
    """rec with the rate and duration its stored bytes show (a WAV header at the primary's
    start), over what the owner said; as the owner said for other formats and secure items
    (whose stored bytes are not what plays)."""
    facts = None if rec["secure"] or rec["stream"] else wav_facts(head, rec["size"])
    if facts is None:
        return rec
    return catalog.validate_media({**rec, "rate": facts[0], "dur": facts[1]})


@owner_required
async def get_media(request):
    media_id = path_id(request)
    db = request.app[DB]
    await db.owners.check_own(request[OWNER][0], media_id)
    return json_response(await db.catalog.media_record(media_id))


@owner_required
async def update(request):
    """Change descriptive fields, type and alternates; new alternates are checked first."""
    media_id = path_id(request)
    db = request.app[DB]
    await db.owners.check_own(request[OWNER][0], media_id)
    doc = await read_json(request)
    current = await db.catalog.media_record(media_id)
    for key in FIXED_FIELDS:
        if key in doc and doc[key] != current[key]:
            raise Invalid(f"field {key!r} cannot change: remove the media and register it again")
    if "secure" in doc:
        raise Invalid("field 'secure' cannot change: remove the media and register it again")
    merged = dict(current)
    merged.update({k: v for k, v in doc.items() if k != "id"})
    rec = catalog.validate_media(merged)
    rec["owner"] = request[OWNER][1]
    known = {_key(a) for a in current["alternates"]}
    new = [a for a in rec["alternates"] if _key(a) not in known]
    sources = await _check(request, catalog.source_urls({**rec, "alternates": new})[1:], rec)
    failed = {_key(a) for a, s in zip(new, sources) if not s["ok"]}
    rec["alternates"] = [a for a in rec["alternates"] if _key(a) not in failed]
    await db.owners.update_media(request[OWNER][0], media_id, rec)
    return json_response({"id": media_id, "sources": sources,
                          "record": await db.catalog.media_record(media_id)})


@owner_required
async def remove(request):
    media_id = path_id(request)
    programs = await request.app[DB].owners.remove_media(request[OWNER][0], media_id)
    return json_response({"removed": media_id, "programs": programs})


@owner_required
async def usage(request):
    """The owner's usage statement: only their own media, over ?since=..&until= (UTC days),
    a row per ?by= (some of day, media, server; all by default)."""
    since, until = request.query.get("since"), request.query.get("until")
    by = usage_model.check_by(request.query.get("by"), OWNER_USAGE_BY)
    doc = await request.app[DB].usage.statement(request[OWNER][0], since, until, by)
    return json_response({"since": since, "until": until, "by": list(by), **doc})


# -- signed, expiring URLs -------------------------------------------------------------------

@owner_required
async def list_servers(request):
    """The file servers the owner's media name, and whether each requires signed URLs."""
    return json_response({"servers": await request.app[DB].signing.servers_of(request[OWNER][0])})


@owner_required
async def require_signing(request):
    """From now on every URL handed out for the server is signed with its secret: the body's
    (then not shown again) or, without one, a new one, in the answer only (201 the first time,
    200 for a new secret)."""
    doc = await read_json(request)
    address = catalog.check_address(field(doc, "address", str), "field 'address'")
    given = field(doc, "secret", str, required=False, nullable=True)
    secret = signing.check_secret(given, "field 'secret'") if given is not None else signing.new_secret()
    new = await request.app[DB].signing.require(request[OWNER][0], address, secret)
    request.app[SIGNER].changed()
    answer = {"address": address, "signed": True, "ttl": request.app[SETTINGS].signed_url_ttl}
    if given is None:
        answer["secret"] = secret
    return json_response(answer, status=201 if new else 200)


@owner_required
async def stop_signing(request):
    """URLs for the server (?address=) are handed out unsigned again."""
    address = catalog.check_address(request.query.get("address"), "query parameter 'address'")
    await request.app[DB].signing.release(address, request[OWNER][0])
    request.app[SIGNER].changed()
    return json_response({"address": address, "signed": False})


# -- weights of equal sources ----------------------------------------------------------------

@owner_required
async def list_weights(request):
    """The weights the owner set on servers (each applies to their own media's sources)."""
    rows = await request.app[DB].weights.list(request[OWNER][0])
    return json_response({"weights": [{k: r[k] for k in ("address", "weight", "set", "media")}
                                      for r in rows]})


@owner_required
async def set_weight(request):
    """{address, weight}: the server's weight for the owner's media, from their next request."""
    doc = await read_json(request)
    address, weight = field(doc, "address", str), field(doc, "weight", int)
    n = await request.app[DB].weights.set(request[OWNER][0], address, weight)
    return json_response({"address": address.rstrip("/"), "weight": weight, "media": n})


@owner_required
async def unset_weight(request):
    """?address=: the server back to its default (1 as a primary, a standby as an alternate)."""
    address = request.query.get("address")
    if not address:
        raise Invalid("query parameter 'address' is missing: the server whose weight to remove")
    n = await request.app[DB].weights.unset(request[OWNER][0], address)
    return json_response({"address": address.rstrip("/"), "weight": None, "media": n})
