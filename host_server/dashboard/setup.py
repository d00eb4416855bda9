"""Registers the operator dashboard on the app: templates, filters and routes."""

import time

import aiohttp_jinja2
import jinja2

from . import sessions, views


def _when(ts):
    return "-" if ts is None else time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(ts))


def _ago(ts, now):
    if ts is None:
        return "never"
    s = max(0, int(now - ts))
    if s < 120:
        return f"{s} s ago"
    if s < 7200:
        return f"{s // 60} min ago"
    if s < 172800:
        return f"{s // 3600} h ago"
    return f"{s // 86400} days ago"


def _size(n):
    return f"{n:,} B"


async def _page_headers(request, response):
    """Dashboard pages are never framed by another site (clickjacking) nor kept in caches."""
    if request.path.startswith("/dashboard") or request.path.startswith("/api/v1/operator/"):
        response.headers["X-Frame-Options"] = "DENY"
        response.headers["Cache-Control"] = "no-store"
        response.headers["X-Content-Type-Options"] = "nosniff"


def setup_dashboard(app):
    """Templates and the dashboard's routes (pages under /dashboard/, JSON under /api/v1/operator/)."""
    env = aiohttp_jinja2.setup(app, loader=jinja2.PackageLoader("host_server.dashboard", "templates"),
                               autoescape=True, undefined=jinja2.StrictUndefined)
    env.filters.update(when=_when, ago=_ago, size=_size)
    app[sessions.LIMITER] = sessions.SignInLimiter()
    app.on_response_prepare.append(_page_headers)
    r = app.router
    r.add_get("/dashboard", views.home)
    r.add_get("/dashboard/", views.home)
    r.add_get("/dashboard/login", views.login_page)
    r.add_post("/dashboard/login", views.login)
    r.add_post("/dashboard/logout", views.logout)
    r.add_get("/dashboard/devices", views.devices)
    r.add_get("/dashboard/programs", views.programs)
    r.add_post("/dashboard/programs", views.create_program)
    r.add_post("/dashboard/programs/{id}/move", views.move_item)
    r.add_post("/dashboard/programs/{id}/assign", views.assign)
    r.add_get("/dashboard/media", views.media)
    r.add_get("/dashboard/owners", views.owners)
    r.add_get("/dashboard/servers", views.servers)
    r.add_get("/dashboard/reports", views.reports)
    r.add_get("/api/v1/operator/devices", views.devices_json)
