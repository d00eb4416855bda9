"""The dashboard's forms: adding, editing and removing devices, programs and their items, media
and owners, each through the database store the CLI uses too.

A form that changes something answers with a redirect to its page (so a reload does not repeat
it) carrying a short message; a form with bad input renders its page again with the error and
status 400, and nothing is stored. A removal needs its "confirm" box ticked. A device's secret
and an owner's token are shown once, on the page the form renders (never in a URL).
"""

import functools
import json
import urllib.parse

from aiohttp import web

from ..keys import DB, FORM
from ..model import catalog
from ..model.checks import ID_DIGITS, check_device_id, check_program_name, id_from_text, is_number_text
from ..model.errors import DomainError, Invalid, NotFound
from ..services import owners as owner_accounts
from ..services.auth import new_secret
from . import sessions
from .views import not_found, render

MAX_NAME = 256   # characters of a device's name


def form(page):
    """A form whose handler returns (path, message) for the redirect, or a response of its own;
    a DomainError renders `page` (views.PAGES) again with it, status 400."""
    def wrap(handler):
        @sessions.page
        @functools.wraps(handler)
        async def run(request):
            try:
                done = await handler(request, request[FORM])
            except DomainError as exc:
                try:
                    return await render(request, page, str(exc), 400, form=request[FORM])
                except NotFound as gone:   # the page's own item is gone
                    return await not_found(request, str(gone), 400)
            if isinstance(done, web.StreamResponse):
                return done
            path, message = done
            raise web.HTTPSeeOther(path + "?" + urllib.parse.urlencode({"msg": message}))
        return run
    return wrap


def _id(request, what):
    return id_from_text(request.match_info["id"], what)


def _field(form, key, what):
    return id_from_text((form.get(key) or "").strip(), what)


def _confirmed(form, what):
    if form.get("confirm") != "1":
        raise Invalid(f"tick the box to confirm removing {what}")


def _name(form, key="name", limit=MAX_NAME):
    name = (form.get(key) or "").strip()
    if len(name) > limit:
        raise Invalid(f"a name has at most {limit} characters")
    return name


# -- devices ----------------------------------------------------------------------------------

@form("devices")
async def add_device(request, form):
    device = check_device_id((form.get("id") or "").strip(), "device")
    secret = new_secret()
    await request.app[DB].devices.add(device, _name(form), secret)
    return await render(request, "devices", message=f"device {device} added", secret=secret,
                        secret_for=device)


def _device_path(request):
    return "/dashboard/devices/" + urllib.parse.quote(request.match_info["id"], safe="")


@form("device")
async def edit_device(request, form):
    await request.app[DB].devices.rename(request.match_info["id"], _name(form))
    return _device_path(request), "name saved"


@form("device")
async def device_assign(request, form):
    device = request.match_info["id"]
    program = _field(form, "program", "program")
    default = form.get("default") == "1"
    await request.app[DB].devices.assign(device, str(program), default)
    return _device_path(request), f"entitled to program {program}{' as its default' if default else ''}"


@form("device")
async def device_unassign(request, form):
    program = _field(form, "program", "program")
    await request.app[DB].devices.unassign(request.match_info["id"], program)
    return _device_path(request), f"no longer entitled to program {program}"


@form("device")
async def device_state(request, form):
    state, devices = form.get("state"), request.app[DB].devices
    if state == "disabled":
        await devices.disable(request.match_info["id"])
        return _device_path(request), "disabled: no login, no item, no key from now on"
    if state == "enabled":
        await devices.enable(request.match_info["id"])
        return _device_path(request), "enabled"
    raise Invalid("state must be enabled or disabled")


@form("device")
async def remove_device(request, form):
    device = request.match_info["id"]
    _confirmed(form, f"device {device}")
    await request.app[DB].devices.remove(device)
    return "/dashboard/devices", f"device {device} removed, with its reports"


# -- programs and their items -----------------------------------------------------------------

def _media_ids(text):
    items = []
    for part in (text or "").replace(" ", ",").split(","):
        if part and not is_number_text(part, ID_DIGITS):
            raise Invalid(f"items: {part!r} is not a media id")
        if part:
            items.append(int(part))
    return items


@form("programs")
async def create_program(request, form):
    name = check_program_name((form.get("name") or "").strip(), "a program name")
    items = _media_ids(form.get("items"))
    program = await request.app[DB].catalog.add_program(name, items)
    return "/dashboard/programs", f"program {program} ({name}) created with {len(items)} items"


@form("programs")
async def rename_program(request, form):
    program = _id(request, "program")
    name = check_program_name((form.get("name") or "").strip(), "a program name")
    await request.app[DB].catalog.rename_program(program, name)
    return "/dashboard/programs", f"program {program} renamed {name}"


@form("programs")
async def move_item(request, form):
    program = _id(request, "program")
    pos = _field(form, "pos", "position")
    direction = form.get("dir")
    if direction not in ("up", "down"):
        raise Invalid("dir must be up or down")
    await request.app[DB].catalog.move_item(program, pos, -1 if direction == "up" else 1)
    return "/dashboard/programs", f"program {program}: item {pos + 1} moved {direction}"


@form("programs")
async def add_item(request, form):
    program = _id(request, "program")
    media = _field(form, "media", "media")
    at = (form.get("pos") or "").strip()
    pos = None if not at else _field(form, "pos", "position") - 1
    if pos is not None and pos < 0:
        raise Invalid("positions start at 1")
    got = await request.app[DB].catalog.add_item(program, media, pos)
    return "/dashboard/programs", f"program {program}: media {media} added as item {got + 1}"


@form("programs")
async def remove_item(request, form):
    program = _id(request, "program")
    pos = _field(form, "pos", "position")
    media = await request.app[DB].catalog.remove_item(program, pos)
    return "/dashboard/programs", f"program {program}: item {pos + 1} (media {media}) removed"


@form("programs")
async def assign(request, form):
    device = (form.get("device") or "").strip()
    default = form.get("default") == "1"
    if not device:
        raise Invalid("choose a device")
    program = await request.app[DB].devices.assign(device, request.match_info["id"], default)
    what = " as its default (it plays it unless it chose another)" if default else ""
    return "/dashboard/programs", f"device {device} entitled to program {program}{what}"


@form("programs")
async def remove_program(request, form):
    program = _id(request, "program")
    _confirmed(form, f"program {program}")
    await request.app[DB].catalog.remove_program(program)
    return "/dashboard/programs", f"program {program} removed"


# -- media ------------------------------------------------------------------------------------

def _record(form):
    text = form.get("record") or ""
    try:
        doc = json.loads(text)
    except ValueError as exc:
        raise Invalid(f"the record is not JSON: {exc}") from None
    if isinstance(doc, dict) and doc.get("secure"):
        raise Invalid("a secure item is added with `python -m host_server add-media` or"
                      " tools.media, which seal its key")
    return catalog.validate_media(doc)


@form("media")
async def add_media(request, form):
    media = await request.app[DB].catalog.add_media(_record(form))
    return f"/dashboard/media/{media}", f"media {media} added"


@form("media_item")
async def edit_media(request, form):
    media = _id(request, "media")
    db = request.app[DB]
    old = await db.catalog.media_record(media)
    rec = _record(form)
    if (rec["size"], rec["sha256"]) != (old["size"], old["sha256"]):
        raise Invalid("size and sha256 are the file's: a new file is new media (add it, then"
                      " put it in the programs)")
    async with db.transaction() as c:
        await db.catalog.update_media(c, media, rec)
    return f"/dashboard/media/{media}", f"media {media} saved"


@form("media_item")
async def remove_media(request, form):
    media = _id(request, "media")
    _confirmed(form, f"media {media}")
    programs = await request.app[DB].catalog.remove_media(media)
    held = f", out of program(s) {', '.join(map(str, programs))}" if programs else ""
    return "/dashboard/media", f"media {media} removed{held}"


# -- owners -----------------------------------------------------------------------------------

async def _owner_name(request):
    owner = _id(request, "owner")
    for row in await request.app[DB].list_of("owners"):
        if row["id"] == owner:
            return row["name"]
    raise NotFound(f"no owner {owner}")


@form("owners")
async def add_owner(request, form):
    name = (form.get("name") or "").strip()
    owner, token = await owner_accounts.create_owner(request.app[DB], name)
    return await render(request, "owners", message=f"owner {owner} ({name}) added", token=token,
                        token_for=name)


@form("owners")
async def rename_owner(request, form):
    name = await _owner_name(request)
    new = owner_accounts.check_owner_name((form.get("name") or "").strip())
    await request.app[DB].owners.rename(name, new)
    return "/dashboard/owners", f"owner {name} renamed {new}"


@form("owners")
async def owner_token(request, form):
    name = await _owner_name(request)
    token = await owner_accounts.issue_token(request.app[DB], name)
    return await render(request, "owners", message=f"a new token for {name}", token=token,
                        token_for=name)


@form("owners")
async def revoke_owner(request, form):
    name = await _owner_name(request)
    _confirmed(form, f"the tokens of {name}")
    n = await request.app[DB].owners.revoke(name)
    return "/dashboard/owners", f"owner {name}: {n} token(s) revoked; their media stay"


@form("owners")
async def remove_owner(request, form):
    name = await _owner_name(request)
    _confirmed(form, f"owner {name}")
    await request.app[DB].owners.remove(name)
    return "/dashboard/owners", f"owner {name} removed"
