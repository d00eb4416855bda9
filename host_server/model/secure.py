"""Secure items (PROTOCOL.md "Secure items"): the "secure" part of a media record, as the owner's
`tools.media prepare` writes it, checked and normalized; and what the compact document says of it.

    "secure": {"encrypted": true, "key": "<32 hex>", "iv": "<32 hex>",
               "plain_size": 441044, "plain_sha256": "<64 hex>",
               "piece_offset": 4096, "piece": "<base64 of the withheld bytes>"}

The record's own size and sha256 are those of the stored bytes (encrypted, with the withheld piece
zero-filled); plain_size and plain_sha256 are the original's. Pure: no database, no I/O.
"""

import base64
import binascii

from .checks import is_hex, is_int
from .errors import Invalid

MAX_PIECE = 4096   # a withheld piece: a device takes key_buffer - 96 bytes, 4096 with the default


def validate_secure(obj, size, where):
    """The normalized secure part (key, iv and piece as bytes), or raise Invalid."""
    w = f"{where}: field 'secure'"
    if not isinstance(obj, dict):
        raise Invalid(f"{w} must be an object")
    encrypted = obj.get("encrypted", False)
    if not isinstance(encrypted, bool):
        raise Invalid(f"{w}.encrypted must be true or false")
    out = {"encrypted": encrypted}
    for name in ("key", "iv"):
        value = obj.get(name)
        if encrypted:
            if not is_hex(value, 32):
                raise Invalid(f"{w}.{name} must be 32 hex characters (AES-128)")
            out[name] = bytes.fromhex(value)
        else:
            if value not in (None, ""):
                raise Invalid(f"{w}.{name} is given but 'encrypted' is false")
            out[name] = bytes(16)
    plain_size = obj.get("plain_size")
    if not is_int(plain_size) or plain_size < 0:
        raise Invalid(f"{w}.plain_size must be a non-negative integer")
    if encrypted and size != (plain_size // 16 + 1) * 16:
        raise Invalid(f"{w}: size {size} is not the AES-CBC size of plain_size {plain_size} "
                      f"(expected {(plain_size // 16 + 1) * 16})")
    if not encrypted and size != plain_size:
        raise Invalid(f"{w}: plain_size must equal size when the file is not encrypted")
    sha = obj.get("plain_sha256")
    if not is_hex(sha, 64):
        raise Invalid(f"{w}.plain_sha256 must be 64 hex characters")
    out["plain_size"] = plain_size
    out["plain_sha256"] = sha.lower()
    piece = obj.get("piece", "")
    if not isinstance(piece, str):
        raise Invalid(f"{w}.piece must be base64 text")
    try:
        piece = base64.b64decode(piece, validate=True)
    except (binascii.Error, ValueError):
        raise Invalid(f"{w}.piece is not valid base64") from None
    if len(piece) > MAX_PIECE:
        raise Invalid(f"{w}.piece is over {MAX_PIECE} bytes: no device with the default key"
                      f" buffer could play it (it takes key_buffer - 96 bytes)")
    offset = obj.get("piece_offset", 0)
    if not is_int(offset) or offset < 0 or offset + len(piece) > size:
        raise Invalid(f"{w}.piece_offset must place the piece inside the stored file")
    if not encrypted and not piece:
        raise Invalid(f"{w}: neither encrypted nor with a withheld piece: nothing is secret")
    out["piece"] = piece
    out["piece_offset"] = offset if piece else 0
    return out


def compact_sec(sec):
    """The "sec" object of the compact document: no key, no IV, no piece."""
    return {"enc": 1 if sec["encrypted"] else 0, "plain": sec["plain_size"],
            "plain_sha256": sec["plain_sha256"],
            "piece": [sec["piece_offset"], len(sec["piece"])]}
