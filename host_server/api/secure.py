"""POST /api/v1/media/<id>/key: a secure item's key, IV and withheld piece, wrapped for the one
verified device that asks (PROTOCOL.md "Secure items"). Every answer, granted or refused, is
recorded in key_requests; nothing secret is logged."""

import hmac
import logging

from aiohttp import web

from ..keys import AUTH, DB, SETTINGS
from ..model.checks import is_hex
from ..model.errors import DomainError, Invalid, Unauthorized
from ..model.sealing import MasterKeyError, key_proof, wrap_for_device
from ..serving import client_address
from .inputs import bearer_token, path_id, read_json
from .middleware import status_of

log = logging.getLogger("host_server.secure")


async def media_key(request):
    db = request.app[DB]
    device = media_id = None
    address = client_address(request)
    try:
        media_id = path_id(request)
        device = await request.app[AUTH].device_for(bearer_token(request))
        doc = await read_json(request)
        nonce, proof = doc.get("nonce"), doc.get("proof")
        if not is_hex(nonce, 32, lower=True):
            raise Invalid("field 'nonce' must be 32 lower-case hex characters")
        if not is_hex(proof, 64, lower=True):
            raise Invalid("field 'proof' must be 64 lower-case hex characters")
        secret, _ = await db.logins.device_secret(device)   # a disabled one has no live token
        if secret is None or not hmac.compare_digest(key_proof(secret, device, media_id, nonce), proof):
            raise Unauthorized("bad proof for this key request")
        sha256, sealed = await db.secure.key_grant(device, media_id, nonce,
                                                   request.app[SETTINGS].token_ttl)
        if db.sealer is None:
            await db.secure.log_key_request(device, media_id, address, 503, "no master key")
            log.error("key request for media %s: the server has no master key", media_id)
            raise web.HTTPServiceUnavailable(reason="the server has no master key for secure items")
        try:
            key, iv, piece = db.sealer.unseal(sha256, sealed)
        except Exception:   # sealed under another master key (the start-up canary passed)
            await db.secure.log_key_request(device, media_id, address, 503, "master key mismatch")
            raise MasterKeyError(f"media {media_id}'s key does not open with this server's master"
                                 " key: is it the right --master-key-file?") from None
        body = wrap_for_device(secret, nonce, key, iv, piece)
    except DomainError as exc:
        status = status_of(exc)
        await db.secure.log_key_request(device, media_id, address, status, str(exc)[:200])
        log.info("key request refused (%d): device %s, media %s: %s", status, device, media_id, exc)
        raise
    await db.secure.log_key_request(device, media_id, address, 200, "")
    log.info("key for media %s sent to device %s", media_id, device)
    return web.Response(body=body, content_type="application/octet-stream")
