"""Dashboard pages and forms: each parses its form, calls the database, renders or redirects.

A form that changes something answers with a redirect to its page (so a reload does not
repeat it) carrying a short message; a form with bad input renders its page again with the
error and status 400, and nothing is stored.
"""

import urllib.parse

import aiohttp_jinja2
from aiohttp import web

from .. import db_dashboard
from ..catalog import is_number_text
from ..errors import DomainError, Invalid
from ..keys import DB, SETTINGS
from . import sessions
from ..views import contains_nul
from .sessions import CSRF, FORM, OPERATOR

ONLINE_WINDOW = 600   # s: a device that asked for or reported an item within this is online


def _context(request, **extra):
    ctx = {"operator": request[OPERATOR], "csrf": request[CSRF], "now": request.app[SETTINGS].clock(),
           "message": request.query.get("msg", "")[:200], "error": "", "path": request.path,
           "online_window": ONLINE_WINDOW}
    ctx.update(extra)
    return ctx


def _done(path, message):
    return web.HTTPSeeOther(path + "?" + urllib.parse.urlencode({"msg": message}))


def _int(form, key, what):
    raw = (form.get(key) or "").strip()
    if not is_number_text(raw, 18):
        raise Invalid(f"{what} must be a number")
    return int(raw)


# -- sign-in -------------------------------------------------------------------------------

async def login_page(request):
    if await sessions.current(request) is not None:
        raise web.HTTPSeeOther(sessions.safe_next(request.query.get("next")))
    return _login_form(request, "", 200)


def _login_form(request, error, status, name=""):
    response = web.Response(status=status, content_type="text/html")
    token = sessions.new_login_csrf(request, response)
    response.text = aiohttp_jinja2.render_string("login.html", request, {
        "csrf": token, "error": error, "name": name,
        "next": sessions.safe_next(request.query.get("next"))})
    return response


async def login(request):
    form = await request.post()
    if not sessions.csrf_matches(form.get("csrf"), request.cookies.get(sessions.LOGIN_COOKIE)):
        return sessions.refused(403, "sign-in refused: its CSRF token is missing or wrong "
                                     "(reload the sign-in page and try again)")
    if contains_nul(list(form.values())):
        return sessions.refused(400, "sign-in refused: a field holds a NUL character")
    name = (form.get("name") or "").strip()[:256]
    password = form.get("password") or ""
    limiter, now = request.app[sessions.LIMITER], request.app[SETTINGS].clock()
    db = request.app[DB]
    wait = await limiter.retry_after(db, name, now)
    if wait:
        response = _login_form(request, f"too many failed sign-ins as {name!r}; try again in {wait} s",
                               429, name)
        response.headers["Retry-After"] = str(wait)
        return response
    token = None
    if name and password:
        token = await sessions.sign_in(request, name, password)
    if token is None:
        await limiter.failed(db, name, now)
        return _login_form(request, "wrong name or password", 401, name)
    await limiter.succeeded(db, name)
    response = web.HTTPSeeOther(sessions.safe_next(form.get("next")))
    sessions.set_session_cookie(request, response, token)
    raise response


@sessions.page
async def logout(request):
    response = web.HTTPSeeOther(sessions.LOGIN_PATH)
    await sessions.sign_out(request, response)
    raise response


@sessions.page
async def home(request):
    raise web.HTTPSeeOther("/dashboard/devices")


# -- devices ----------------------------------------------------------------------------------

@sessions.page
@aiohttp_jinja2.template("devices.html")
async def devices(request):
    return _context(request, devices=await db_dashboard.devices_overview(request.app[DB], ONLINE_WINDOW))


@sessions.operator_api
async def devices_json(request):
    """GET /api/v1/operator/devices: what the devices page shows, for its refresh."""
    settings = request.app[SETTINGS]
    return web.json_response({
        "now": settings.clock(), "online_window": ONLINE_WINDOW,
        "devices": await db_dashboard.devices_overview(request.app[DB], ONLINE_WINDOW)})


# -- programs ---------------------------------------------------------------------------------

async def _programs_page(request, error="", status=200, form=None):
    db = request.app[DB]
    ctx = _context(request, programs=await db_dashboard.programs_with_items(db),
                   media=await db.list_media(), devices=await db.list_devices(),
                   form=form or {}, error=error)
    return aiohttp_jinja2.render_template("programs.html", request, ctx, status=status)


@sessions.page
async def programs(request):
    return await _programs_page(request)


@sessions.page
async def create_program(request):
    form = request[FORM]
    name = (form.get("name") or "").strip()
    try:
        if not name or len(name) > 128:
            raise Invalid("a program name must be 1-128 characters")
        items = []
        for part in (form.get("items") or "").replace(" ", ",").split(","):
            if part:
                if not is_number_text(part, 18):
                    raise Invalid(f"items: {part!r} is not a media id")
                items.append(int(part))
        program = await request.app[DB].add_program(name, items)
    except DomainError as exc:
        return await _programs_page(request, str(exc), 400, form)
    raise _done("/dashboard/programs", f"program {program} ({name}) created with {len(items)} items")


@sessions.page
async def move_item(request):
    form = request[FORM]
    try:
        program = _int({"p": request.match_info["id"]}, "p", "program")
        pos = _int(form, "pos", "position")
        direction = form.get("dir")
        if direction not in ("up", "down"):
            raise Invalid("dir must be up or down")
        await db_dashboard.move_item(request.app[DB], program, pos, -1 if direction == "up" else 1)
    except DomainError as exc:
        return await _programs_page(request, str(exc), 400)
    raise _done("/dashboard/programs", f"program {program}: item {pos + 1} moved {direction}")


@sessions.page
async def assign(request):
    form = request[FORM]
    device = (form.get("device") or "").strip()
    default = form.get("default") == "1"
    try:
        if not device:
            raise Invalid("choose a device")
        program = await request.app[DB].assign(device, request.match_info["id"], default)
    except DomainError as exc:
        return await _programs_page(request, str(exc), 400)
    what = " as its default (it plays it unless it chose another)" if default else ""
    raise _done("/dashboard/programs", f"device {device} entitled to program {program}{what}")


# -- media, owners, file servers, reports -----------------------------------------------------

@sessions.page
@aiohttp_jinja2.template("media.html")
async def media(request):
    return _context(request, media=await request.app[DB].list_media())


@sessions.page
@aiohttp_jinja2.template("owners.html")
async def owners(request):
    return _context(request, owners=await db_dashboard.owners(request.app[DB]))


@sessions.page
@aiohttp_jinja2.template("servers.html")
async def servers(request):
    return _context(request, servers=await db_dashboard.file_servers(request.app[DB]))


@sessions.page
@aiohttp_jinja2.template("reports.html")
async def reports(request):
    failed_only = request.query.get("failed") == "1"
    rows = await db_dashboard.recent_reports(request.app[DB], 100, failed_only)
    return _context(request, reports=rows, failed_only=failed_only)
