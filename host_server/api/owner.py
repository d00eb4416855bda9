"""The owner API: an owner registers, updates and removes files on their own servers.

Every handler needs an owner token (Authorization: Bearer own_...). An owner sees and changes
only their own media: another's gives 403. Sources are checked (outbound/sourcecheck.py) before
anything is stored; a source that fails is reported in the answer and not used.
"""

import functools

from ..keys import DB, OWNER, SETTINGS
from ..model import catalog
from ..model.errors import Invalid
from ..outbound.sourcecheck import check_sources
from ..services import owners
from .inputs import bearer_token, path_id, read_json
from .middleware import json_response

# Fields an update may not change: they define which bytes the record is about.
FIXED_FIELDS = ("size", "sha256", "primary_address", "primary_directory", "file_name")


def owner_required(handler):
    """The handler runs with request[OWNER] = (owner id, name) of a live owner token, else 401."""
    @functools.wraps(handler)
    async def wrapper(request):
        request[OWNER] = await owners.owner_for(request.app[DB], bearer_token(request))
        return await handler(request)
    return wrapper


async def _check(request, urls, rec):
    if not urls:
        return []
    return await check_sources(urls, rec["size"], rec["sha256"],
                               request.app[SETTINGS].source_timeout)


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
    sources = await _check(request, catalog.source_urls(rec), rec)
    if not sources[0]["ok"]:
        return json_response({"error": f"primary source failed its check: {sources[0]['why']}",
                              "sources": sources}, status=422)
    rec["alternates"] = [a for a, s in zip(rec["alternates"], sources[1:]) if s["ok"]]
    media_id = await request.app[DB].owners.add_media(owner_id, rec)
    return json_response({"id": media_id, "sources": sources}, status=201)


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
