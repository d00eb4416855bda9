"""Keys of secure items: sealed at rest under the server's master key, and wrapped for one device
when handed out (PROTOCOL.md "Secure items").

The master key (32 bytes, as 64 hex characters in a file) never enters the database or a log
line: META_MASTER_KEY_FILE or --master-key-file names the file. Sealing is AES-256-GCM with the
stored file's sha256 as associated data, so a sealed blob cannot be moved to another item.
Wrapping for a device: from its secret and the request's nonce, k = HMAC-SHA256(secret,
"wrap:<nonce>"); the answer is wiv | AES-128-CBC(k[:16], wiv, key|iv|piece, PKCS#7) |
HMAC-SHA256(k[16:], wiv|ciphertext).
"""

import hashlib
import hmac
import os
import secrets

from cryptography.hazmat.primitives import padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from ..settings import BY_NAME as SETTINGS
from .checks import is_hex
from .errors import Invalid

ENV_FILE = SETTINGS["master_key_file"].env   # the variable naming the file, when no option does


class MasterKeyError(Exception):
    """The master key file is missing or malformed (the message says which)."""


def new_master_key_file(path):
    """Write a fresh master key to path (mode 0600); never overwrites."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise MasterKeyError(f"{path} exists already: a master key is never overwritten") from None
    with os.fdopen(fd, "w") as f:
        f.write(secrets.token_hex(32) + "\n")


def load_master_key(path=None, environ=os.environ):
    """The 32-byte master key from path, or from the file $META_MASTER_KEY_FILE; None if neither."""
    path = path or environ.get(ENV_FILE)
    if not path:
        return None
    try:
        with open(path, encoding="ascii") as f:
            text = f.read(200)
    except OSError as e:
        raise MasterKeyError(f"cannot read master key file {path}: {e.strerror}") from None
    except UnicodeDecodeError:
        raise MasterKeyError(f"master key file {path} must hold 64 hex characters") from None
    if not is_hex(text.strip(), 64):
        raise MasterKeyError(f"master key file {path} must hold 64 hex characters")
    return bytes.fromhex(text.strip())


class Sealer:
    def __init__(self, master_key):
        self._aead = AESGCM(master_key)

    def seal(self, sha256, key, iv, piece):
        nonce = secrets.token_bytes(12)
        return nonce + self._aead.encrypt(nonce, key + iv + piece, sha256.encode())

    def unseal(self, sha256, blob):
        """(key, iv, piece)."""
        plain = self._aead.decrypt(blob[:12], blob[12:], sha256.encode())
        return plain[:16], plain[16:32], plain[32:]


def no_sealer():
    raise Invalid("secure media needs the server's master key: create one with "
                  "`python -m host_server new-master-key FILE` and pass --master-key-file FILE "
                  f"or set {ENV_FILE}")


def key_proof(secret, device, media_id, nonce):
    """What the device sends with a key request (hex)."""
    msg = f"key:{device}:{media_id}:{nonce}".encode()
    return hmac.new(secret.encode(), msg, hashlib.sha256).hexdigest()


def wrap_for_device(secret, nonce, key, iv, piece):
    k = hmac.new(secret.encode(), f"wrap:{nonce}".encode(), hashlib.sha256).digest()
    padder = padding.PKCS7(128).padder()
    plain = padder.update(key + iv + piece) + padder.finalize()
    wiv = secrets.token_bytes(16)
    enc = Cipher(algorithms.AES(k[:16]), modes.CBC(wiv)).encryptor()
    body = wiv + enc.update(plain) + enc.finalize()
    return body + hmac.new(k[16:], body, hashlib.sha256).digest()
