"""Dashboard pages and forms: each parses its form, calls the database, renders or redirects.

A form that changes something answers with a redirect to its page (so a reload does not
repeat it) carrying a short message; a form with bad input renders its page again with the
error and status 400, and nothing is stored.
"""

import urllib.parse

import aiohttp_jinja2
from aiohttp import web

from ..keys import CSRF, DB, FORM, OPERATOR, SETTINGS, SIGN_IN_LIMITER
from ..model.checks import (ID_DIGITS, MAX_PROGRAM_NAME, check_program_name, contains_nul,
                            id_from_text, is_number_text)
from ..model.errors import DomainError, Invalid, NotFound
from ..serving import client_address
from . import sessions

ONLINE_WINDOW = 600   # s: a device that asked for or reported an item within this is online
REPORTS_PAGE = 100    # reports on the reports page


def _context(request, **extra):
    ctx = {"operator": request[OPERATOR], "csrf": request[CSRF], "now": request.app[SETTINGS].clock(),
           "message": request.query.get("msg", "")[:200], "error": "", "path": request.path,
           "online_window": ONLINE_WINDOW, "max_program_name": MAX_PROGRAM_NAME}
    ctx.update(extra)
    return ctx


def _done(path, message):
    return web.HTTPSeeOther(path + "?" + urllib.parse.urlencode({"msg": message}))


def _int(form, key, what):
    return id_from_text((form.get(key) or "").strip(), what)


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
    limiter, now = request.app[SIGN_IN_LIMITER], request.app[SETTINGS].clock()
    db, address = request.app[DB], client_address(request)
    wait = await limiter.begin(db, name, address, now)
    if wait:
        response = _login_form(request, f"too many failed sign-ins as {name!r}; try again in {wait} s",
                               429, name)
        response.headers["Retry-After"] = str(wait)
        return response
    token = None
    if name and password:
        token = await sessions.sign_in(request, name, password)
    if token is None:   # the attempt stays counted
        return _login_form(request, "wrong name or password", 401, name)
    await limiter.succeeded(db, name, address)
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
    return _context(request, devices=await request.app[DB].activity.overview(ONLINE_WINDOW))


@sessions.operator_api
async def devices_json(request):
    """GET /api/v1/operator/devices: what the devices page shows, for its refresh."""
    settings = request.app[SETTINGS]
    return web.json_response({
        "now": settings.clock(), "online_window": ONLINE_WINDOW,
        "devices": await request.app[DB].activity.overview(ONLINE_WINDOW)})


@sessions.operator_api
async def list_json(request):
    """GET /api/v1/operator/lists/<what>: the rows a page lists (db.Database.list_of, as the
    CLI's `list <what> --json` prints them)."""
    what = request.match_info["what"]
    if what not in request.app[DB].LISTS:
        raise NotFound(f"no list {what!r}; there are {', '.join(request.app[DB].LISTS)}")
    return web.json_response({"now": request.app[SETTINGS].clock(), "what": what,
                              "rows": await request.app[DB].list_of(what)})


# -- programs ---------------------------------------------------------------------------------

async def _programs_page(request, error="", status=200, form=None):
    db = request.app[DB]
    ctx = _context(request, programs=await db.list_of("programs"),
                   media=await db.list_of("media"), devices=await db.list_of("devices"),
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
        check_program_name(name, "a program name")
        items = []
        for part in (form.get("items") or "").replace(" ", ",").split(","):
            if part and not is_number_text(part, ID_DIGITS):
                raise Invalid(f"items: {part!r} is not a media id")
            if part:
                items.append(int(part))
        program = await request.app[DB].catalog.add_program(name, items)
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
        await request.app[DB].catalog.move_item(program, pos, -1 if direction == "up" else 1)
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
        program = await request.app[DB].devices.assign(device, request.match_info["id"], default)
    except DomainError as exc:
        return await _programs_page(request, str(exc), 400)
    what = " as its default (it plays it unless it chose another)" if default else ""
    raise _done("/dashboard/programs", f"device {device} entitled to program {program}{what}")


# -- media, owners, file servers, reports -----------------------------------------------------

@sessions.page
@aiohttp_jinja2.template("media.html")
async def media(request):
    return _context(request, media=await request.app[DB].list_of("media"))


@sessions.page
@aiohttp_jinja2.template("owners.html")
async def owners(request):
    return _context(request, owners=await request.app[DB].list_of("owners"))


@sessions.page
@aiohttp_jinja2.template("servers.html")
async def servers(request):
    return _context(request, servers=await request.app[DB].list_of("servers"))


@sessions.page
@aiohttp_jinja2.template("reports.html")
async def reports(request):
    failed_only = request.query.get("failed") == "1"
    rows = await request.app[DB].devices.reports(failed_only=failed_only, limit=REPORTS_PAGE)
    return _context(request, reports=rows, failed_only=failed_only, page_size=REPORTS_PAGE)
