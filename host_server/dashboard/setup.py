"""Sets the operator dashboard up on the app: templates, filters, the sign-in limiter, page
headers. Its routes are in api/routes.py, with every other route."""

import aiohttp_jinja2
import jinja2

from ..keys import SIGN_IN_LIMITER
from ..model.display import ago, when
from ..services.operators import SignInLimiter
from .sessions import is_https


def _size(n):
    return f"{n:,} B"


HSTS = "max-age=31536000"   # a year: a browser that came over https keeps to it
_PROGRAMS = "/api/v1/"          # the device and owner APIs, and the operator's JSON beside them
_OPERATOR = "/api/v1/operator/"


async def _page_headers(request, response):
    """Dashboard pages are never framed by another site (clickjacking) nor kept in caches;
    over https every answer to a browser tells it to keep to https (HSTS). The device and owner
    APIs answer programs, not browsers: nothing to add (and no time spent on the hot path)."""
    path = request.path
    if path.startswith(_PROGRAMS) and not path.startswith(_OPERATOR):
        return
    if is_https(request):
        response.headers["Strict-Transport-Security"] = HSTS
    if path.startswith("/dashboard") or path.startswith(_OPERATOR):
        response.headers["X-Frame-Options"] = "DENY"
        response.headers["Cache-Control"] = "no-store"
        response.headers["X-Content-Type-Options"] = "nosniff"


def setup_dashboard(app):
    """Templates, filters, the sign-in limiter and the pages' headers."""
    env = aiohttp_jinja2.setup(app, loader=jinja2.PackageLoader("host_server.dashboard", "templates"),
                               autoescape=True, undefined=jinja2.StrictUndefined)
    env.filters.update(when=when, ago=ago, size=_size)
    app[SIGN_IN_LIMITER] = SignInLimiter()
    app.on_response_prepare.append(_page_headers)
