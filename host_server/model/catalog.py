"""Media records and catalogs: validation, source URLs and the compact document.

Shared by the operator CLI (add-media, import), the owner API and the database layer (which
stores the compact document). Everything here is pure: no database, no I/O.
"""

import functools
import json
from urllib.parse import quote, urlsplit

from .checks import (MAX_DEVICE_NAME, check_device_id, check_program_name, check_secret, has_control,
                     is_hex, is_int)
from .errors import Invalid
from .formats import canonical_type
from .playback import check_playback
from .secure import compact_sec, validate_secure
from .signing import SIGNATURE_CHARS
from .streams import (check_stream, check_stream_record, compact_stream, stream_identity,
                      validate_stream_secure)

# Seed fields 6-25 that are plain text, in the order of the seed.
TEXT_FIELDS = (
    "owner", "composer", "copyright_holder",
    "cover_address", "cover_directory", "cover_name",
    "title", "work",
    "info_address", "info_directory", "info_name",
    "sales_address", "sales_directory", "sales_name",
    "products_address", "products_directory", "products_name",
)
LIST_FIELDS = ("performers", "composers", "creators")
REQUIRED_FIELDS = ("size", "sha256", "type", "primary_address", "primary_directory", "file_name")
# A stream (model/streams.py: a live mount, an HLS playlist) has no size and no sha256 of bytes.
STREAM_REQUIRED = REQUIRED_FIELDS[2:]
# The file's playback rate (bytes/s) and duration (ms), when known (model/playback.py).
PLAYBACK_FIELDS = ("rate", "dur")
# Column order of the media table (without id, compact, created).
# "stream": None for a stored file, else the stream's kind (model/streams.py).
MEDIA_COLUMNS = (REQUIRED_FIELDS + TEXT_FIELDS[:8] + LIST_FIELDS + TEXT_FIELDS[8:] + PLAYBACK_FIELDS
                 + ("stream",))
KNOWN_FIELDS = frozenset(MEDIA_COLUMNS) | {"alternates", "secure"}

MAX_TEXT = 1024          # any one text field, in characters
MAX_LIST = 64            # entries in performers/composers/creators
MAX_ALTERNATES = 8
MAX_COMPACT = 1900       # compact document without id/pos; devices refuse over 2048 bytes
MAX_FULL = 8192          # full record; devices refuse over 8192 bytes
DISPLAY_CHARS = 64       # "title" and "by" in the compact document

COMPACT_CACHE = 4096     # compact documents kept parsed (media ids' texts), see compact_doc


def check_address(value, where):
    """A server's network address: http(s)://host[:port], no path beyond "/"."""
    if not isinstance(value, str) or not value:
        raise Invalid(f"{where} must be a non-empty string like http://host:port")
    if has_control(value) or " " in value:
        raise Invalid(f"{where} must not contain spaces or control characters")
    try:
        parts = urlsplit(value)
        parts.port  # raises ValueError on a bad port
    except ValueError:
        raise Invalid(f"{where} is not a valid address: {value!r}") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise Invalid(f"{where} must start with http:// or https:// and name a host: {value!r}")
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        raise Invalid(f"{where} must not have a path, query or fragment (use the directory): {value!r}")
    return value.rstrip("/")


def _check_text(value, where, required=False):
    if not isinstance(value, str):
        raise Invalid(f"{where} must be a string")
    if required and not value:
        raise Invalid(f"{where} must not be empty")
    if len(value) > MAX_TEXT:
        raise Invalid(f"{where} is longer than {MAX_TEXT} characters")
    return value


def _check_directory(value, where):
    _check_text(value, where)
    if has_control(value):
        raise Invalid(f"{where} must not contain control characters")
    if any(seg in (".", "..") for seg in value.split("/")):
        raise Invalid(f"{where} must not contain '.' or '..' segments")
    return value


def source_url(address, directory, file_name):
    """URL from a server address, a directory and a file name, path segments percent-encoded."""
    segments = [s for s in directory.split("/") if s] + [file_name]
    return address.rstrip("/") + "/" + "/".join(quote(s, safe="") for s in segments)


def validate_media(obj, where="media", warn=None):
    """Return a normalized media record (all fields present) or raise Invalid naming the field.

    Unknown keys are ignored (reported through warn(message) when given); "id" and "ref" are
    never part of the record.
    """
    if not isinstance(obj, dict):
        raise Invalid(f"{where} must be a JSON object")
    for key in obj:
        if key not in KNOWN_FIELDS and key not in ("id", "ref") and warn:
            warn(f"{where}: ignoring unknown field {key!r}")
    kind = check_stream(obj, where)
    for key in REQUIRED_FIELDS if kind is None else STREAM_REQUIRED:
        if key not in obj:
            raise Invalid(f"{where}: missing required field {key!r}")
    rec = {"stream": kind}
    secure = obj.get("secure")
    if kind is None:
        size = obj["size"]
        if not is_int(size) or size < 0:
            raise Invalid(f"{where}: field 'size' must be a non-negative integer")
        rec["size"] = size
        rec["secure"] = None if secure is None else validate_secure(secure, size, where)
        sha = obj["sha256"]
        if not is_hex(sha, 64):
            raise Invalid(f"{where}: field 'sha256' must be 64 hex characters")
        rec["sha256"] = sha.lower()
    else:
        rec["size"] = 0
        rec["secure"] = None if secure is None else validate_stream_secure(secure, kind, where)
    ctype = _check_text(obj["type"], f"{where}: field 'type'", required=True)
    if "/" not in ctype:
        raise Invalid(f"{where}: field 'type' must be a content type like audio/wav")
    rec["type"] = canonical_type(ctype)   # one name per format: audio/x-wav is audio/wav
    rec.update(check_playback(obj, where))
    rec["primary_address"] = check_address(obj["primary_address"], f"{where}: field 'primary_address'")
    rec["primary_directory"] = _check_directory(obj["primary_directory"], f"{where}: field 'primary_directory'")
    name = _check_text(obj["file_name"], f"{where}: field 'file_name'", required=True)
    if "/" in name or name in (".", "..") or has_control(name):
        raise Invalid(f"{where}: field 'file_name' must be a plain file name without '/' or control characters")
    rec["file_name"] = name
    for key in TEXT_FIELDS:
        rec[key] = _check_text(obj.get(key, ""), f"{where}: field {key!r}")
    for key in LIST_FIELDS:
        value = obj.get(key, [])
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise Invalid(f"{where}: field {key!r} must be a list of strings")
        if len(value) > MAX_LIST or any(len(v) > MAX_TEXT for v in value):
            raise Invalid(f"{where}: field {key!r} is too long")
        rec[key] = list(value)
    alternates = obj.get("alternates", [])
    if not isinstance(alternates, list):
        raise Invalid(f"{where}: field 'alternates' must be a list of {{address, directory}}")
    if len(alternates) > MAX_ALTERNATES:
        raise Invalid(f"{where}: field 'alternates' has more than {MAX_ALTERNATES} entries")
    rec["alternates"] = []
    for i, alt in enumerate(alternates):
        w = f"{where}: alternates[{i}]"
        if not isinstance(alt, dict) or "address" not in alt or "directory" not in alt:
            raise Invalid(f"{w} must be an object with 'address' and 'directory'")
        rec["alternates"].append({
            "address": check_address(alt["address"], f"{w}.address"),
            "directory": _check_directory(alt["directory"], f"{w}.directory"),
        })
    urls = source_urls(rec)
    if len(set(urls)) != len(urls):
        raise Invalid(f"{where}: names the same source twice (primary and alternates must differ)")
    if kind is not None:
        rec["sha256"] = stream_identity(kind, urls[0], obj.get("sha256"), where)
        check_stream_record(rec, urls, where)
    # room for each source's signature, should its server require one (model/signing.py)
    if len(compact_json(rec).encode()) + SIGNATURE_CHARS * len(urls) > MAX_COMPACT:
        raise Invalid(f"{where}: its compact document would exceed {MAX_COMPACT} bytes "
                      "with its sources signed (too many alternates or too long URLs)")
    if len(json.dumps(full_record(0, rec), ensure_ascii=False).encode()) > MAX_FULL:
        raise Invalid(f"{where}: its full record would exceed {MAX_FULL} bytes")
    return rec


def source_urls(rec):
    """The record's source URLs: primary first, then its alternates in order."""
    name = rec["file_name"]
    return [source_url(rec["primary_address"], rec["primary_directory"], name)] + [
        source_url(a["address"], a["directory"], name) for a in rec["alternates"]]


def compact_json(rec):
    """The compact document without id and pos, as JSON text (what the database stores)."""
    performers = rec["performers"]
    if rec.get("stream"):
        doc = compact_stream(rec)   # a stream: no size, no sha256; its "sec" says HLS keys
        doc["type"] = rec["type"]
    else:
        doc = {
            "size": rec["size"],
            "sha256": rec["sha256"],
            "type": rec["type"],
        }
    for key in PLAYBACK_FIELDS:
        if rec.get(key) is not None:
            doc[key] = rec[key]
    doc.update({
        "title": rec["title"][:DISPLAY_CHARS],
        "by": (performers[0] if performers else "")[:DISPLAY_CHARS],
        "src": source_urls(rec),
    })
    if rec.get("secure") and not rec.get("stream"):
        doc["sec"] = compact_sec(rec["secure"])
    return dumps(doc)


def dumps(doc):
    """JSON as the meta server sends and stores it: compact, UTF-8 text kept as it is."""
    return json.dumps(doc, separators=(",", ":"), ensure_ascii=False)


@functools.lru_cache(maxsize=COMPACT_CACHE)
def compact_doc(text):
    """The stored compact document (JSON text) as a dict, parsed once per distinct text.
    Shared between requests: never change it; GET /next builds its answer as a new dict."""
    return json.loads(text)


def next_doc(media_id, pos, compact_text):
    """GET /next's answer: the id and position, then the compact document's fields."""
    return {"id": media_id, "pos": pos, **compact_doc(compact_text)}


def full_record(media_id, rec):
    """The full record as served by GET /media/<id>, keys in the order of PROTOCOL.md."""
    out = {"id": media_id}
    for key in REQUIRED_FIELDS:
        out[key] = rec[key]
    out["alternates"] = [dict(a) for a in rec["alternates"]]
    for key in MEDIA_COLUMNS[len(REQUIRED_FIELDS):]:
        out[key] = rec[key]
    if out["stream"] is None:   # a stored file's record: as it was before streams
        del out["stream"]
    return out


def validate_catalog(doc, warn=None):
    """Check a whole catalog (see cli.py import) before anything is stored.

    Returns (media, programs, devices): media as [(ref, record)], programs as
    [(name, [ref, ...])], devices as [dict(id, name, secret, programs, default)].
    """
    if not isinstance(doc, dict):
        raise Invalid("catalog must be a JSON object with 'media', 'programs', 'devices'")
    for key in ("media", "programs", "devices"):
        if not isinstance(doc.get(key, []), list):
            raise Invalid(f"catalog: {key!r} must be a list")
    media, refs = [], set()
    for i, entry in enumerate(doc.get("media", [])):
        ref = entry.get("ref") if isinstance(entry, dict) else None
        where = f"media[{i}]" + (f" ({ref!r})" if isinstance(ref, str) else "")
        if not isinstance(ref, str) or not ref:
            raise Invalid(f"{where}: field 'ref' must be a non-empty string")
        if ref in refs:
            raise Invalid(f"{where}: duplicate ref {ref!r}")
        refs.add(ref)
        media.append((ref, validate_media(entry, where, warn)))
    programs, names = [], set()
    for i, entry in enumerate(doc.get("programs", [])):
        name = entry.get("name") if isinstance(entry, dict) else None
        where = f"programs[{i}]" + (f" ({name!r})" if isinstance(name, str) else "")
        check_program_name(name, f"{where}: field 'name'")
        if name in names:
            raise Invalid(f"{where}: duplicate program name {name!r}")
        names.add(name)
        items = entry.get("items", [])
        if not isinstance(items, list) or not all(isinstance(r, str) for r in items):
            raise Invalid(f"{where}: field 'items' must be a list of media refs")
        for ref in items:
            if ref not in refs:
                raise Invalid(f"{where}: field 'items' names unknown media ref {ref!r}")
        programs.append((name, list(items)))
    devices, ids = [], set()
    for i, entry in enumerate(doc.get("devices", [])):
        if not isinstance(entry, dict):
            raise Invalid(f"devices[{i}] must be a JSON object")
        dev_id = entry.get("id")
        where = f"devices[{i}]" + (f" ({dev_id!r})" if isinstance(dev_id, str) else "")
        check_device_id(dev_id, where)
        if dev_id in ids:
            raise Invalid(f"{where}: duplicate device id {dev_id!r}")
        ids.add(dev_id)
        name = entry.get("name", "")
        if not isinstance(name, str) or len(name) > MAX_DEVICE_NAME:
            raise Invalid(f"{where}: field 'name' must be a string of at most {MAX_DEVICE_NAME} characters")
        secret = entry.get("secret")
        if secret is not None:
            secret = check_secret(secret, where)
        progs = entry.get("programs", [])
        if not isinstance(progs, list) or not all(isinstance(p, str) for p in progs):
            raise Invalid(f"{where}: field 'programs' must be a list of program names")
        for p in progs:
            if p not in names:
                raise Invalid(f"{where}: field 'programs' names unknown program {p!r}")
        default = entry.get("default")
        if default is not None and default not in progs:
            raise Invalid(f"{where}: field 'default' must be one of its 'programs'")
        devices.append({"id": dev_id, "name": name, "secret": secret,
                        "programs": list(progs), "default": default})
    return media, programs, devices
