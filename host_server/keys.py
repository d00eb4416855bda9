"""Typed keys for the application and request state."""

from aiohttp import web

SETTINGS = web.AppKey("settings", object)
DB = web.AppKey("db", object)
AUTH = web.AppKey("auth", object)
DEVICE = web.RequestKey("device", str)
