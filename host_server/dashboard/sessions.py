"""Dashboard sessions and CSRF.

A session is an opaque random token in an HttpOnly, SameSite=Strict cookie; the database keeps
only its sha256, with the session's CSRF token, which every form of the session must carry.
The sign-in form, before any session, is protected by a double-submit cookie.
"""

import asyncio
import functools
import hmac
import secrets
import urllib.parse

from aiohttp import web

from ..keys import CSRF, DB, FORM, OPERATOR, SETTINGS, SIGN_IN_LIMITER
from ..model.checks import contains_nul
from ..model.errors import Unauthorized
from ..services.auth import token_hash
from .passwords import verify_password

COOKIE = "operator_session"
LOGIN_COOKIE = "operator_login_csrf"
SESSION_TTL = 12 * 3600
LOGIN_PATH = "/dashboard/login"
MAX_FORM = 16 * 1024


def is_https(request):
    """Did the browser come over https? Its own TLS connection, or what a trusted load
    balancer's X-Forwarded-Proto says (the documented TLS front sets it; anyone else's is
    ignored, like their X-Forwarded-For)."""
    if request.secure:
        return True
    return (request.remote in request.app[SETTINGS].trusted_proxies
            and request.headers.get("X-Forwarded-Proto", "").strip().lower() == "https")


def _cookie_args(request, max_age):
    return {"max_age": max_age, "path": "/", "httponly": True, "samesite": "Strict",
            "secure": is_https(request)}


def csrf_matches(given, expected):
    return bool(given) and bool(expected) and hmac.compare_digest(given.encode(), expected.encode())


def new_login_csrf(request, response):
    """The sign-in form's token, also set as a cookie that the POST must match."""
    token = request.cookies.get(LOGIN_COOKIE) or secrets.token_urlsafe(24)
    response.set_cookie(LOGIN_COOKIE, token, **_cookie_args(request, 3600))
    return token


async def sign_in(request, name, password):
    """A new session cookie on success; None for a wrong name or password."""
    db = request.app[DB]
    stored = await db.operators.password(name)
    # scrypt takes tens of milliseconds: off the event loop, and only a few at once
    async with request.app[SIGN_IN_LIMITER].hashing:
        good = await asyncio.to_thread(verify_password, password, stored)
    if not good:
        return None
    token = secrets.token_urlsafe(32)
    await db.operators.add_session(token_hash(token), name, secrets.token_urlsafe(24), SESSION_TTL)
    return token


def set_session_cookie(request, response, token):
    response.set_cookie(COOKIE, token, **_cookie_args(request, SESSION_TTL))
    response.del_cookie(LOGIN_COOKIE, path="/")


async def sign_out(request, response):
    token = request.cookies.get(COOKIE)
    if token:
        await request.app[DB].operators.end_session(token_hash(token))
    response.del_cookie(COOKIE, path="/")


async def current(request):
    """(operator, csrf) of the request's session, or None."""
    token = request.cookies.get(COOKIE)
    if not token or len(token) > 128:
        return None
    return await request.app[DB].operators.session(token_hash(token))


def login_redirect(request):
    target = request.path_qs if request.method == "GET" else "/dashboard/"
    return web.HTTPSeeOther(LOGIN_PATH + "?" + urllib.parse.urlencode({"next": target}))


def safe_next(target):
    """Only a dashboard path: never an open redirect."""
    if isinstance(target, str) and target.startswith("/dashboard/") and "//" not in target \
            and "\\" not in target:
        return target
    return "/dashboard/"


def page(handler):
    """A dashboard page or form: signed in, and for a POST a form carrying the session's CSRF
    token (else 403, nothing changed)."""
    @functools.wraps(handler)
    async def wrapper(request):
        found = await current(request)
        if found is None:
            raise login_redirect(request)
        request[OPERATOR], request[CSRF] = found
        if request.method == "POST":
            if request.content_length is not None and request.content_length > MAX_FORM:
                return refused(413, "form too large")
            form = await request.post()
            if not csrf_matches(form.get("csrf"), found[1]):
                return refused(403, "form refused: its CSRF token is missing or wrong "
                                    "(reload the page and try again)")
            if contains_nul(list(form.values())):
                return refused(400, "form refused: a field holds a NUL character")
            request[FORM] = form
        return await handler(request)
    return wrapper


def operator_api(handler):
    """Operator JSON: the session cookie, else 401 as JSON."""
    @functools.wraps(handler)
    async def wrapper(request):
        found = await current(request)
        if found is None:
            raise Unauthorized("sign in to the dashboard first (operator session cookie)")
        request[OPERATOR], request[CSRF] = found
        return await handler(request)
    return wrapper


def refused(status, message):
    return web.Response(status=status, text=f"{status}: {message}\n", content_type="text/plain")
