"""Serves the API description, docs/openapi.yaml, as it is in the repository."""

import functools
import pathlib

from aiohttp import web

OPENAPI = pathlib.Path(__file__).resolve().parents[2] / "docs" / "openapi.yaml"


@functools.cache
def _document():
    return OPENAPI.read_bytes()   # on the first request, not at import


async def openapi(request):
    """GET /api/v1/openapi.yaml"""
    return web.Response(body=_document(), content_type="application/yaml", charset="utf-8")
