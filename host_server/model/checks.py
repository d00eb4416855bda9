"""The forms of values that come from outside: integers, numbers as text, hex, ids, names.

One home for each check, so that a device id, a media id in a URL or a sha256 is accepted by the
same rule wherever it arrives (API, dashboard form, CLI argument, catalog file).
"""

import re

from .errors import Invalid

INT64 = (-2 ** 63, 2 ** 63)   # what the database can hold: a 64-bit signed integer
MAX_PROGRAM_NAME = 200        # characters of a program's name
MAX_DEVICE_NAME = 200         # characters of a device's (display) name
MAX_FIRMWARE_VERSION = 32     # characters of the firmware version a device sends at login
ID_DIGITS = 18                # digits of an id given as text: always inside INT64

_DEVICE_ID = re.compile(r"[A-Za-z0-9._-]{1,64}\Z")
_FIRMWARE_VERSION = re.compile(r"[!-~]([ -~]*[!-~])?\Z")   # printable ASCII, no edge spaces
_HEX = {}


def is_int(value):
    """An integer, not a bool (JSON true is not 1 here), that the database can store."""
    return isinstance(value, int) and not isinstance(value, bool) and INT64[0] <= value < INT64[1]


def is_number_text(text, max_digits=None):
    """Is text an unsigned decimal number (at most max_digits digits) that int() takes?
    str.isdigit() alone also passes '¹' and other digits that int() refuses."""
    return (isinstance(text, str) and text.isascii() and text.isdigit()
            and (max_digits is None or len(text) <= max_digits))


def id_from_text(text, what):
    """An id given as text (a URL segment, a form field): a non-negative integer, else Invalid."""
    if not is_number_text(text, ID_DIGITS):
        raise Invalid(f"{what} must be a non-negative integer")
    return int(text)


def is_hex(value, length, lower=False):
    """Exactly length hex digits (lower case only, when lower)."""
    pattern = _HEX.get((length, lower))
    if pattern is None:
        digits = "0-9a-f" if lower else "0-9a-fA-F"
        pattern = _HEX[(length, lower)] = re.compile(f"[{digits}]{{{length}}}\\Z")
    return isinstance(value, str) and pattern.match(value) is not None


def check_device_id(value, where="device"):
    if not isinstance(value, str) or not _DEVICE_ID.match(value):
        raise Invalid(f"{where}: id must be 1-64 characters of letters, digits, '.', '_', '-'")
    return value


def check_secret(value, where="device"):
    if not is_hex(value, 32):
        raise Invalid(f"{where}: secret must be 32 hex characters")
    return value.lower()


def check_firmware_version(value, where="field 'fw'"):
    """The firmware version a device reports ("1.4.0", "1.4.0+g3f2a1c"): 1-MAX_FIRMWARE_VERSION
    printable ASCII characters, not beginning or ending with a space."""
    if (not isinstance(value, str) or len(value) > MAX_FIRMWARE_VERSION
            or not _FIRMWARE_VERSION.match(value)):
        raise Invalid(f"{where} must be the firmware version: 1-{MAX_FIRMWARE_VERSION} printable"
                      " ASCII characters, like 1.4.0")
    return value


def check_program_name(value, where="program name"):
    """A program's name: 1-MAX_PROGRAM_NAME characters, not only spaces."""
    if not isinstance(value, str) or not value.strip() or len(value) > MAX_PROGRAM_NAME:
        raise Invalid(f"{where} must be 1-{MAX_PROGRAM_NAME} characters, not only spaces")
    return value


MAX_DEPTH = 32   # levels of nesting in a JSON body: no document of the protocol has more than 4


def text_problem(doc):
    """Why a decoded JSON document (or a form's values) cannot be stored, or None: text holding a
    NUL (PostgreSQL refuses it; no name or id needs one) or a lone surrogate (not UTF-8), or
    nesting deeper than MAX_DEPTH. Iterative: a deep document cannot exhaust the stack here."""
    todo = [(doc, 0)]
    while todo:
        value, depth = todo.pop()
        if isinstance(value, str):
            if "\x00" in value:
                return "text must not contain NUL characters (\\u0000)"
            if not value.isascii():
                try:
                    value.encode("utf-8")
                except UnicodeEncodeError:
                    return "text must be valid Unicode (no lone surrogates such as \\ud800)"
        elif isinstance(value, (dict, list, tuple)):
            if depth >= MAX_DEPTH:
                return f"nests deeper than {MAX_DEPTH} levels"
            items = value.items() if isinstance(value, dict) else ((None, v) for v in value)
            for k, v in items:
                todo.append((v, depth + 1))
                if k is not None:
                    todo.append((k, depth + 1))
    return None


def contains_nul(doc):
    """Does any text in doc hold a NUL, a lone surrogate, or is doc nested too deep?"""
    return text_problem(doc) is not None


CONTROL_CHARACTERS = frozenset(chr(c) for c in (*range(0x20), 0x7f))


def has_control(text):
    """Does text hold a control character (CR, LF, ESC, ...)? None may be in an address, a
    directory, a file name or an id: they would split a header or forge a log line."""
    return any(c in CONTROL_CHARACTERS for c in text)
