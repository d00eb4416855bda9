"""Keys of secure items: sealed at rest under the server's master key, and wrapped for one device
when handed out (PROTOCOL.md "Secure items").

The master key (32 bytes, as 64 hex characters in a file) never enters the database or a log
line: META_MASTER_KEY_FILE or --master-key-file names the file. Sealing is AES-256-GCM with the
stored file's sha256 as associated data, so a sealed blob cannot be moved to another item.
Wrapping for a device: from its secret and the request's nonce, k = HMAC-SHA256(secret,
"wrap\0<nonce>\0"); the answer is wiv | AES-128-CBC(k[:16], wiv, key|iv|piece, PKCS#7) |
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

    def seal_secret(self, holder, secret, kind="device"):
        """A secret as the database keeps it: SEALED + hex, bound to its kind (a KINDS key) and
        its holder's id (a device's id, a file server's address)."""
        nonce = secrets.token_bytes(12)
        aad = _secret_aad(kind, holder)
        return SEALED + (nonce + self._aead.encrypt(nonce, secret.encode(), aad)).hex()

    def unseal_secret(self, holder, stored, kind="device"):
        blob = bytes.fromhex(stored[len(SEALED):])
        return self._aead.decrypt(blob[:12], blob[12:], _secret_aad(kind, holder)).decode()


SEALED = "sealed:"   # a stored secret that starts so is sealed under the master key
KINDS = {"device": "device secrets", "server": "file servers' signing secrets"}


def _secret_aad(kind, holder):
    return f"{kind}-secret\x00".encode() + holder.encode()


def store_secret(sealer, holder, secret, kind="device"):
    """What the database keeps of a secret: sealed when the server has a master key, else the
    secret itself (the CLI warns; README "Secrets at rest")."""
    return sealer.seal_secret(holder, secret, kind) if sealer else secret


def usable_secret(sealer, holder, stored, kind="device"):
    """The secret from what the database keeps, or raise MasterKeyError when it is sealed and
    the server has no master key (or the wrong one)."""
    if stored is None or not stored.startswith(SEALED):
        return stored
    if sealer is None:
        raise MasterKeyError(f"{KINDS[kind]} are sealed under a master key this server was not"
                             " given: start it with --master-key-file")
    try:
        return sealer.unseal_secret(holder, stored, kind)
    except Exception:
        raise MasterKeyError(f"one of the {KINDS[kind]} does not open with this server's master"
                             " key: is it the right --master-key-file?") from None


def no_sealer():
    raise Invalid("secure media needs the server's master key: create one with "
                  "`python -m host_server new-master-key FILE` and pass --master-key-file FILE "
                  f"or set {ENV_FILE}")


def secret_message(use, *fields):
    """What a device secret signs for one use (PROTOCOL.md "Uses of the secret"): the use's
    label and its fields, each ended by NUL. No field holds a NUL (ids are checked, nonces are
    hex), so no message of one use can equal a message of another, for any id or nonce."""
    return "".join(f"{part}\x00" for part in (use, *fields)).encode()


def signed(secret, use, *fields):
    """HMAC-SHA256 of secret_message under the device secret (bytes)."""
    return hmac.new(secret.encode(), secret_message(use, *fields), hashlib.sha256).digest()


def key_proof(secret, device, media_id, nonce):
    """What the device sends with a key request (hex)."""
    return signed(secret, "key", device, media_id, nonce).hex()


def wrap_for_device(secret, nonce, key, iv, piece):
    k = signed(secret, "wrap", nonce)
    padder = padding.PKCS7(128).padder()
    plain = padder.update(key + iv + piece) + padder.finalize()
    wiv = secrets.token_bytes(16)
    enc = Cipher(algorithms.AES(k[:16]), modes.CBC(wiv)).encryptor()
    body = wiv + enc.update(plain) + enc.finalize()
    return body + hmac.new(k[16:], body, hashlib.sha256).digest()
