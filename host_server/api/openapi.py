"""Serves the API description, docs/openapi.yaml, as it is in the repository (through the link
api/openapi.yaml, which a wheel of the package carries as a copy)."""

import functools
import pathlib

from aiohttp import web

OPENAPI = pathlib.Path(__file__).with_name("openapi.yaml")


@functools.cache
def _document():
    return OPENAPI.read_bytes()   # on the first request, not at import


async def openapi(request):
    """GET /api/v1/openapi.yaml"""
    return web.Response(body=_document(), content_type="application/yaml", charset="utf-8")
