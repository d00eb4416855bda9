"""Signed, expiring source URLs in the form nginx's secure_link module checks.

A file server whose owner requires signing is configured (host_server/nginx/fileserver-signed.conf)

    secure_link $arg_md5,$arg_expires;
    secure_link_md5 "$secure_link_expires$uri <secret>";

so a URL is served only with ?md5=<hash>&expires=<Unix time>, where hash is the MD5 of
"<expires><path> <secret>" (path: the URL's path, percent-decoded, as nginx's $uri is), in
base64url without padding. nginx answers 403 when the hash is missing or wrong, 410 once the
time is past; the project's own file server (fileserver.py) checks the same with `check`. MD5 is
nginx's choice, not ours: the secret's length is what keeps a hash from being forged.
"""

import base64
import hashlib
import hmac
import re
import secrets
from urllib.parse import parse_qsl, unquote_to_bytes, urlsplit

from .errors import Invalid

# What a secret may hold: it is written inside an nginx config's quoted string, where a quote,
# a '$' (a variable), a backslash or a space would change what nginx hashes.
SECRET_RE = re.compile(r"[A-Za-z0-9_-]{16,128}\Z")
MAX_EXPIRES = 2 ** 31 - 1   # nginx reads the time as a time_t; keep within 32 bits for any build

# What signing adds to one URL at the most: the room a media record keeps for it in the compact
# document (model/catalog.py), so that a signed document still fits a device's 2048 bytes.
SIGNATURE_CHARS = len("?md5=") + 22 + len("&expires=") + len(str(MAX_EXPIRES))

VALID, FORBIDDEN, EXPIRED = "valid", "forbidden", "expired"   # what check() finds


def check_secret(secret, what="secret"):
    """The secret itself, or Invalid naming what is wrong with it."""
    if not isinstance(secret, str) or not SECRET_RE.match(secret):
        raise Invalid(f"{what} must be 16 to 128 characters of letters, digits, '-' and '_'"
                      " (it goes into the nginx config as it is)")
    return secret


def new_secret():
    """A fresh secret: 32 base64url characters (192 random bits)."""
    return secrets.token_urlsafe(24)


def link_hash(secret, expires, path):
    """base64url(md5(b"<expires><path> <secret>")) without '=' padding; path: the decoded
    URL path as bytes (nginx's $uri), expires: the text of the time as the URL carries it."""
    digest = hashlib.md5(b"%s%s %s" % (str(expires).encode(), path, secret.encode())).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def sign_url(url, secret, expires):
    """url (http(s)://host[:port]/path, no query) valid until the Unix time expires (an int),
    for the server that holds secret (a time past MAX_EXPIRES is MAX_EXPIRES)."""
    expires = min(int(expires), MAX_EXPIRES)
    path = unquote_to_bytes(urlsplit(url).path or "/")
    return f"{url}?md5={link_hash(secret, expires, path)}&expires={expires}"


def unsigned(url):
    """url without its signature (what reports keep: a signed URL is a credential until it
    expires, and the same source should read the same in every report)."""
    base, sep, _ = url.partition("?md5=")
    return base if sep else url


def check(secret, path, query, now):
    """VALID, FORBIDDEN (no or a wrong hash, or no usable time) or EXPIRED (a right hash, its
    time past), as nginx's $secure_link says "1", "" or "0". path: the request's raw path
    (still percent-encoded), query: its raw query string."""
    args = dict(parse_qsl(query, keep_blank_values=True))
    given, expires = args.get("md5", ""), args.get("expires", "")
    if not expires.isdigit() or not given or int(expires) <= 0:
        return FORBIDDEN
    want = link_hash(secret, expires, unquote_to_bytes(path))
    if not hmac.compare_digest(given.rstrip("=").encode(), want.encode()):
        return FORBIDDEN
    return EXPIRED if int(expires) < now else VALID
