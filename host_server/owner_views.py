"""The owner API: an owner registers, updates and removes files on their own servers.

Every handler needs an owner token (Authorization: Bearer own_...). An owner sees and changes
only their own media: another's gives 403. Sources are checked (sourcecheck.py) before anything
is stored; a source that fails is reported in the answer and not used.
"""

import functools
import json

from aiohttp import web

from . import catalog, db_owners, owners
from .errors import Invalid
from .keys import DB, SETTINGS
from .sourcecheck import check_sources
from .views import read_json

OWNER = web.RequestKey("owner", tuple)   # (owner id, name)
_dumps = functools.partial(json.dumps, separators=(",", ":"), ensure_ascii=False)

# Fields an update may not change: they define which bytes the record is about.
FIXED_FIELDS = ("size", "sha256", "primary_address", "primary_directory", "file_name")


def setup_owner_routes(app):
    app.router.add_get("/api/v1/owner", whoami)
    app.router.add_get("/api/v1/owner/media", list_media)
    app.router.add_post("/api/v1/owner/media", register)
    app.router.add_get("/api/v1/owner/media/{id}", get_media)
    app.router.add_patch("/api/v1/owner/media/{id}", update)
    app.router.add_delete("/api/v1/owner/media/{id}", remove)


def owner_required(handler):
    @functools.wraps(handler)
    async def wrapper(request):
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        token = token.strip() if scheme.lower() == "bearer" else ""
        request[OWNER] = await owners.owner_for(request.app[DB], token)
        return await handler(request)
    return wrapper


def _json(doc, status=200):
    return web.json_response(doc, status=status, dumps=_dumps)


def _media_id(request):
    raw = request.match_info["id"]
    if not catalog.is_number_text(raw, 18):
        raise Invalid("media id must be a non-negative integer")
    return int(raw)


def _source_urls(rec):
    return [catalog.source_url(rec["primary_address"], rec["primary_directory"], rec["file_name"])] + [
        catalog.source_url(a["address"], a["directory"], rec["file_name"]) for a in rec["alternates"]]


async def _check(request, urls, rec):
    if not urls:
        return []
    return await check_sources(urls, rec["size"], rec["sha256"],
                               request.app[SETTINGS].source_timeout)


@owner_required
async def whoami(request):
    owner_id, name = request[OWNER]
    return _json({"id": owner_id, "name": name})


@owner_required
async def list_media(request):
    return _json({"media": await db_owners.owned_media(request.app[DB], request[OWNER][0])})


@owner_required
async def register(request):
    owner_id, name = request[OWNER]
    rec = catalog.validate_media(await read_json(request))
    if not rec["owner"]:
        rec["owner"] = name
    sources = await _check(request, _source_urls(rec), rec)
    if not sources[0]["ok"]:
        return _json({"error": f"primary source failed its check: {sources[0]['why']}",
                      "sources": sources}, status=422)
    rec["alternates"] = [a for a, s in zip(rec["alternates"], sources[1:]) if s["ok"]]
    media_id = await db_owners.add_owned_media(request.app[DB], owner_id, rec)
    return _json({"id": media_id, "sources": sources}, status=201)


@owner_required
async def get_media(request):
    media_id = _media_id(request)
    db = request.app[DB]
    await db_owners.check_own(db, request[OWNER][0], media_id)
    return _json(await db.media_record(media_id))


@owner_required
async def update(request):
    """Change descriptive fields, type and alternates; new alternates are checked first."""
    media_id = _media_id(request)
    db = request.app[DB]
    await db_owners.check_own(db, request[OWNER][0], media_id)
    doc = await read_json(request)
    current = await db.media_record(media_id)
    for key in FIXED_FIELDS:
        if key in doc and doc[key] != current[key]:
            raise Invalid(f"field {key!r} cannot change: remove the media and register it again")
    if "secure" in doc:
        raise Invalid("field 'secure' cannot change: remove the media and register it again")
    merged = dict(current)
    merged.update({k: v for k, v in doc.items() if k != "id"})
    rec = catalog.validate_media(merged)
    known = {(a["address"], a["directory"]) for a in current["alternates"]}
    new = [a for a in rec["alternates"] if (a["address"], a["directory"]) not in known]
    sources = await _check(request, [catalog.source_url(a["address"], a["directory"], rec["file_name"])
                                     for a in new], rec)
    failed = {(a["address"], a["directory"]) for a, s in zip(new, sources) if not s["ok"]}
    rec["alternates"] = [a for a in rec["alternates"] if (a["address"], a["directory"]) not in failed]
    await db_owners.update_owned_media(db, request[OWNER][0], media_id, rec)
    return _json({"id": media_id, "sources": sources, "record": await db.media_record(media_id)})


@owner_required
async def remove(request):
    media_id = _media_id(request)
    programs = await db_owners.remove_owned_media(request.app[DB], request[OWNER][0], media_id)
    return _json({"removed": media_id, "programs": programs})
