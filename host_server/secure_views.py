"""POST /api/v1/media/<id>/key: a secure item's key, IV and withheld piece, wrapped for the one
verified device that asks (PROTOCOL.md "Secure items"). Every answer, granted or refused, is
recorded in key_requests; nothing secret is logged."""

import hmac
import logging
import re

from aiohttp import web

from . import db_secure
from . import views
from .catalog import is_number_text
from .errors import DomainError, Invalid, Unauthorized
from .keys import AUTH, DB, SETTINGS
from .sealing import key_proof, wrap_for_device
from .serving import client_address

log = logging.getLogger("host_server.secure")
_HEX32 = re.compile(r"[0-9a-f]{32}\Z")
_HEX64 = re.compile(r"[0-9a-f]{64}\Z")


async def media_key(request):
    db = request.app[DB]
    device = media_id = None
    address = client_address(request)
    try:
        raw = request.match_info["id"]
        if not is_number_text(raw, 18):
            raise Invalid("media id must be a non-negative integer")
        media_id = int(raw)
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        device = await request.app[AUTH].device_for(token.strip() if scheme.lower() == "bearer" else "")
        doc = await views.read_json(request)
        nonce, proof = doc.get("nonce"), doc.get("proof")
        if not isinstance(nonce, str) or not _HEX32.match(nonce):
            raise Invalid("field 'nonce' must be 32 lower-case hex characters")
        if not isinstance(proof, str) or not _HEX64.match(proof):
            raise Invalid("field 'proof' must be 64 lower-case hex characters")
        secret = await db.device_secret(device)
        if secret is None or not hmac.compare_digest(key_proof(secret, device, media_id, nonce), proof):
            raise Unauthorized("bad proof for this key request")
        sha256, sealed = await db_secure.key_grant(db, device, media_id, nonce,
                                             request.app[SETTINGS].token_ttl)
        if db.sealer is None:
            await db_secure.log_key_request(db, device, media_id, address, 503, "no master key")
            log.error("key request for media %s: the server has no master key", media_id)
            raise web.HTTPServiceUnavailable(reason="the server has no master key for secure items")
        key, iv, piece = db.sealer.unseal(sha256, sealed)
        body = wrap_for_device(secret, nonce, key, iv, piece)
    except DomainError as exc:
        status = views.STATUS.get(type(exc), 400)
        await db_secure.log_key_request(db, device, media_id, address, status, str(exc)[:200])
        log.info("key request refused (%d): device %s, media %s: %s", status, device, media_id, exc)
        raise
    await db_secure.log_key_request(db, device, media_id, address, 200, "")
    log.info("key for media %s sent to device %s", media_id, device)
    return web.Response(body=body, content_type="application/octet-stream")
