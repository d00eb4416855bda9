"""Dashboard pages: sign-in, the overview, and a page per list (devices, programs, media, owners,
file servers, reports) with its search, filters and paging. The forms that change things are in
manage.py; each renders its page again through `render` when its input is bad.
"""

import json
import urllib.parse

import aiohttp_jinja2
from aiohttp import web

from ..db.stats import HOUR, ONLINE_WINDOW
from ..keys import CSRF, DB, HOT, METRICS, OPERATOR, SETTINGS, SIGN_IN_LIMITER
from ..model.checks import MAX_PROGRAM_NAME, contains_nul, id_from_text, is_number_text
from ..model.display import when
from ..model import usage
from ..model.errors import Invalid, NotFound
from ..serving import client_address
from ..services.health import address_of
from . import charts, sessions

REPORTS_PAGE = 50     # reports on a page of the reports page
MEDIA_PAGE = 50       # media on a page of the media page
MAX_PAGE = 1000       # pages further back are not offered (the newest are what matters)
OVERVIEW_HOURS = 24   # the overview's figures cover this many hours


def _context(request, **extra):
    ctx = {"operator": request[OPERATOR], "csrf": request[CSRF], "now": request.app[SETTINGS].clock(),
           "message": request.query.get("msg", "")[:200], "error": "", "path": request.path,
           "online_window": ONLINE_WINDOW, "max_program_name": MAX_PROGRAM_NAME}
    ctx.update(extra)
    return ctx


def _int(form, key, what):
    return id_from_text((form.get(key) or "").strip(), what)


def _page_number(request):
    text = request.query.get("page", "1")
    return min(int(text), MAX_PAGE) if is_number_text(text, 4) and int(text) > 0 else 1


def _query(request, **changes):
    """The request's query string with changes (None drops a key), for links to other pages."""
    args = {k: v for k, v in request.query.items() if k != "msg"}
    args.update(changes)
    return "?" + urllib.parse.urlencode({k: v for k, v in args.items() if v not in (None, "")})


# -- sign-in -------------------------------------------------------------------------------

async def login_page(request):
    if await sessions.current(request) is not None:
        raise web.HTTPSeeOther(sessions.safe_next(request.query.get("next")))
    return _login_form(request, "", 200)


def _login_form(request, error, status, name="", target=None):
    """The sign-in form; target: where a sign-in leads (the page asked for, kept through a
    failed attempt)."""
    response = web.Response(status=status, content_type="text/html")
    token = sessions.new_login_csrf(request, response)
    response.text = aiohttp_jinja2.render_string("login.html", request, {
        "csrf": token, "error": error, "name": name,
        "next": sessions.safe_next(target or request.query.get("next"))})
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
                               429, name, form.get("next"))
        response.headers["Retry-After"] = str(wait)
        return response
    token = None
    if name and password:
        token = await sessions.sign_in(request, name, password)
    if token is None:   # the attempt stays counted
        return _login_form(request, "wrong name or password", 401, name, form.get("next"))
    await limiter.succeeded(db, name, address)
    response = web.HTTPSeeOther(sessions.safe_next(form.get("next")))
    sessions.set_session_cookie(request, response, token)
    raise response


@sessions.page
async def logout(request):
    response = web.HTTPSeeOther(sessions.LOGIN_PATH)
    await sessions.sign_out(request, response)
    raise response


async def root(request):
    """/: the dashboard (which asks a stranger to sign in)."""
    raise web.HTTPSeeOther("/dashboard/")


@sessions.page
async def home(request):
    raise web.HTTPSeeOther("/dashboard/overview")


async def render(request, name, error="", status=200, **extra):
    """A page by its name in PAGES, with an error above it (a form's bad input: status 400)."""
    await request.app[HOT].flush()   # "now playing" as of this request
    ctx = await PAGES[name](request)
    ctx.update(extra, error=error)
    return aiohttp_jinja2.render_template(f"{name}.html", request, ctx, status=status)


def _page(name):
    @sessions.page
    async def handler(request):
        try:
            return await render(request, name)
        except NotFound as exc:   # a page of one thing (a device, a media item) that is not there
            return await not_found(request, str(exc))
    handler.__name__ = name
    return handler


# -- the overview -----------------------------------------------------------------------------

def _device_state(d, trouble):
    """offline, failing (stuck: see db.stats.trouble), playing, or idle (online, nothing to play)."""
    if d["id"] in trouble:
        return "failing"
    if not d["online"]:
        return "offline"
    return "playing" if d["playing"] else "idle"


async def _devices_with_trouble(db):
    devices = await db.activity.overview(ONLINE_WINDOW)
    trouble = await db.stats.trouble(devices)
    for d in devices:
        d["trouble"] = trouble.get(d["id"])
        d["state"] = _device_state(d, trouble)
    return devices


def _by_server(per_url, merge):
    """{address: merged} of a {source URL: value} mapping."""
    out = {}
    for url, value in per_url.items():
        address = address_of(url)
        out[address] = merge(out.get(address), value)
    return out


async def _overview(request):
    db, now = request.app[DB], request.app[SETTINGS].clock()
    since = now - OVERVIEW_HOURS * HOUR
    devices = await _devices_with_trouble(db)
    states = {s: sum(1 for d in devices if d["state"] == s)
              for s in ("playing", "idle", "failing", "offline")}
    hourly = await db.stats.hourly(OVERVIEW_HOURS)
    served = _by_server(await db.stats.served(since),
                        lambda a, b: (a[0] + b[0], a[1] + b[1]) if a else b)
    meta_bytes = request.app[METRICS].registry.get_sample_value("meta_http_response_bytes_total")
    failovers = _by_server(await db.stats.source_errors(since), _merge_reasons)
    servers = await db.list_of("servers")
    served_rows = sorted(served.items(), key=lambda kv: -kv[1][0])
    bytes_chart = [(a, b, f"{_human_size(b)} in {n} item(s)") for a, (b, n) in served_rows]
    bytes_chart.append(("meta server (answers since it started)", int(meta_bytes or 0),
                        _human_size(int(meta_bytes or 0))))
    failover_rows = sorted(((a, sum(r.values()), r) for a, r in failovers.items()),
                           key=lambda row: -row[1])
    return _context(
        request, devices=devices, states=states,
        online=sum(1 for d in devices if d["online"]), hours=OVERVIEW_HOURS,
        plays=sum(h["played"] for h in hourly), failures=sum(h["failed"] for h in hourly),
        hourly_chart=charts.stacked_columns(
            [(when(h["hour"])[11:16], h["played"], h["failed"]) for h in hourly],
            f"Plays (green) and failures (red) per hour, the last {OVERVIEW_HOURS} hours, UTC"),
        bytes_chart=charts.horizontal_bars(
            bytes_chart, f"Bytes served per file server, the last {OVERVIEW_HOURS} hours"),
        failover_rows=failover_rows,
        failover_chart=charts.horizontal_bars(
            [(a, n, f"{n} failover(s)") for a, n, _ in failover_rows],
            f"Failovers away from each file server, the last {OVERVIEW_HOURS} hours",
            charts.FAILED) if failover_rows else None,
        servers_down=[s for s in servers if s["up"] is False], servers=servers,
        underruns=await db.stats.underruns(since),
        file_bytes=sum(b for b, _ in served.values()), meta_bytes=int(meta_bytes or 0))


def _merge_reasons(a, b):
    out = dict(a or {})
    for why, n in b.items():
        out[why] = out.get(why, 0) + n
    return out


def _human_size(n):
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:,} B" if unit == "B" else f"{n:,.1f} {unit}"
        n /= 1024


# -- devices ----------------------------------------------------------------------------------

async def _devices(request):
    db = request.app[DB]
    return _context(request, devices=await _devices_with_trouble(db),
                    programs=await db.list_of("programs"), form={}, secret=None)


@sessions.operator_api
async def devices_json(request):
    """GET /api/v1/operator/devices: what the devices page shows, for its refresh."""
    settings = request.app[SETTINGS]
    await request.app[HOT].flush()
    return web.json_response({
        "now": settings.clock(), "online_window": ONLINE_WINDOW,
        "devices": await _devices_with_trouble(request.app[DB])})


async def _device(request):
    db = request.app[DB]
    device = request.match_info["id"]
    row = next((d for d in await db.list_of("devices") if d["id"] == device), None)
    if row is None:
        raise NotFound(f"no device {device!r}")
    activity = next(d for d in await _devices_with_trouble(db) if d["id"] == device)
    programs = await db.list_of("programs")
    reports = await db.devices.reports(device=device, limit=10)
    return _context(request, device=row, activity=activity, programs=programs,
                    names={p["id"]: p["name"] for p in programs},
                    reports=reports, underruns=any("underruns" in r for r in reports))


device = _page("device")   # an unknown id: the missing page, 404


async def not_found(request, error, status=404):
    return aiohttp_jinja2.render_template("missing.html", request, _context(request, error=error),
                                          status=status)


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

async def _programs(request):
    db = request.app[DB]
    return _context(request, programs=await db.list_of("programs"),
                    media=await db.list_of("media"), devices=await db.list_of("devices"), form={})


# -- media: search, filters, paging ----------------------------------------------------------

def _matches(m, q, kind, server):
    if kind and m["type"] != kind:
        return False
    if server and address_of(m["src"]) != server:
        return False
    if q:
        return any(q in str(m[k]).casefold() for k in ("id", "title", "file_name", "src", "type"))
    return True


async def _media(request):
    rows = await request.app[DB].list_of("media")
    q = request.query.get("q", "").strip()[:200]
    kind = request.query.get("type", "")
    server = request.query.get("server", "")
    found = [m for m in rows if _matches(m, q.casefold(), kind, server)]
    page = _page_number(request)
    pages = max(1, -(-len(found) // MEDIA_PAGE))
    page = min(page, pages)
    return _context(request, media=found[(page - 1) * MEDIA_PAGE:page * MEDIA_PAGE],
                    total=len(rows), found=len(found), q=q, kind=kind, server=server,
                    types=sorted({m["type"] for m in rows}),
                    servers=sorted({address_of(m["src"]) for m in rows}),
                    page=page, pages=pages, query=lambda **kw: _query(request, **kw),
                    form={}, template=json.dumps(MEDIA_TEMPLATE, indent=1))


MEDIA_TEMPLATE = {"size": 0, "sha256": "", "type": "audio/mpeg",
                  "primary_address": "http://files.example.org:8101", "primary_directory": "/music",
                  "file_name": "", "alternates": [], "title": "", "performers": []}


async def _media_item(request):
    db = request.app[DB]
    media_id = id_from_text(request.match_info["id"], "media")
    record = await db.catalog.media_record(media_id)
    shown = {k: v for k, v in record.items() if k != "id"}
    programs = [p for p in await db.list_of("programs") if media_id in p["items"]]
    return _context(request, record=record, text=json.dumps(shown, indent=1, ensure_ascii=False),
                    programs=programs, reports=await db.devices.reports(media=media_id, limit=10),
                    form={})


media_item = _page("media_item")   # an unknown id: the missing page, 404


# -- owners, file servers, reports --------------------------------------------------------------

async def _owners(request):
    return _context(request, owners=await request.app[DB].list_of("owners"), token=None, form={})


async def _servers(request):
    return _context(request, servers=await request.app[DB].list_of("servers"))


async def _reports(request):
    db = request.app[DB]
    failed_only = request.query.get("failed") == "1"
    device = request.query.get("device", "") or None
    media_text = request.query.get("media", "").strip()
    media = int(media_text) if is_number_text(media_text, 12) else None
    page = _page_number(request)
    rows = await db.devices.reports(device=device, failed_only=failed_only, media=media,
                                    limit=REPORTS_PAGE + 1, offset=(page - 1) * REPORTS_PAGE)
    more = len(rows) > REPORTS_PAGE
    rows = rows[:REPORTS_PAGE]
    return _context(request, reports=rows, failed_only=failed_only, page_size=REPORTS_PAGE,
                    device=device or "", media_filter=media_text if media is not None else "",
                    devices=await db.list_of("devices"), page=page, more=more,
                    query=lambda **kw: _query(request, **kw),
                    # another helper adds underruns to reports: shown when they are there
                    underruns=any("underruns" in r for r in rows))


USAGE_BY = (("owner,media,server", "owner, item and server"), ("day,owner,media,server", "day"),
            ("owner,server", "owner and server"), ("owner", "owner"), ("server", "server"))


async def _usage_statement(request):
    """(query fields, owner names by id, statement, columns, error) of the usage page's query."""
    db = request.app[DB]
    q = request.query
    owners = await db.list_of("owners")
    names = {o["id"]: o["name"] for o in owners}
    owner_text = q.get("owner", "")
    owner = int(owner_text) if is_number_text(owner_text, 12) else None
    fields = {"owner": owner, "since": q.get("since", "")[:10], "until": q.get("until", "")[:10],
              "by": q.get("by") or USAGE_BY[0][0]}
    error = ""
    try:
        by = usage.check_by(fields["by"])
        doc = await db.usage.statement(owner, fields["since"] or None, fields["until"] or None, by)
    except Invalid as exc:
        by, doc, error = usage.check_by(USAGE_BY[0][0]), {"rows": [], "totals": None}, str(exc)
    usage.name_owners(doc["rows"], names)
    return fields, owners, doc, usage.columns_for(by), error


async def _usage(request):
    fields, owners, doc, columns, error = await _usage_statement(request)
    return _context(request, rows=doc["rows"], totals=doc["totals"], owners=owners,
                    columns=columns, numeric=usage.COUNTS + ("devices",), usage_error=error,
                    by_choices=USAGE_BY, query=lambda **kw: _query(request, **kw), **fields)


@sessions.page
async def usage_csv(request):
    """The usage page's rows as CSV, as the CLI's `usage --csv` writes them."""
    fields, owners, doc, columns, error = await _usage_statement(request)
    if error:
        raise web.HTTPBadRequest(reason=error)
    text = usage.csv_text(doc["rows"], columns)
    return web.Response(text=text, content_type="text/csv", charset="utf-8",
                        headers={"Content-Disposition": 'attachment; filename="usage.csv"'})


PAGES = {"overview": _overview, "devices": _devices, "device": _device, "programs": _programs,
         "media": _media, "media_item": _media_item, "owners": _owners, "servers": _servers,
         "reports": _reports, "usage": _usage}
overview = _page("overview")
devices = _page("devices")
programs = _page("programs")
media = _page("media")
owners = _page("owners")
servers = _page("servers")
reports = _page("reports")
usage_page = _page("usage")
