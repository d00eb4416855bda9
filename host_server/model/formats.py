"""Media formats: one MIME type per format, the one table of them.

The tools name a local file's type from its extension with `type_for_name` (and check that the
bytes are that format: tools/mediafile.py); the meta server stores a record's type in this
form, whatever alias a record came with (`canonical_type`: audio/x-wav is stored as audio/wav),
so that a device's sink, the dashboard's filters and the usage figures see one name per format.
Pure: names in, names out.
"""

# extension: MIME type (audio/wav and audio/aiff as RFC 2361 and IANA register them; Python's
# mimetypes answers audio/x-wav and audio/x-aiff, which canonical_type maps to these)
TYPES = {".wav": "audio/wav", ".mp3": "audio/mpeg", ".flac": "audio/flac", ".ogg": "audio/ogg",
         ".opus": "audio/opus", ".m4a": "audio/mp4", ".aac": "audio/aac", ".aif": "audio/aiff",
         ".aiff": "audio/aiff", ".wma": "audio/x-ms-wma"}

ALIASES = {"audio/x-wav": "audio/wav", "audio/wave": "audio/wav", "audio/vnd.wave": "audio/wav",
           "audio/mp3": "audio/mpeg", "audio/x-mp3": "audio/mpeg", "audio/mpeg3": "audio/mpeg",
           "audio/x-mpeg": "audio/mpeg", "audio/x-flac": "audio/flac", "audio/x-aiff": "audio/aiff",
           "audio/m4a": "audio/mp4", "audio/x-m4a": "audio/mp4", "audio/x-aac": "audio/aac",
           "audio/aacp": "audio/aac", "audio/vorbis": "audio/ogg"}


def extension(name):
    """The file name's extension, lower case, with its dot ("" when it has none)."""
    dot = name.rfind(".")
    return name[dot:].lower() if dot > 0 and "/" not in name[dot:] else ""


def type_for_name(name):
    """The MIME type of a media file by its name's extension, or None when it names no format
    of TYPES."""
    return TYPES.get(extension(name))


def canonical_type(ctype):
    """A content type as the meta server stores it: lower case, an alias as its format's one
    name."""
    ctype = ctype.strip().lower()
    return ALIASES.get(ctype, ctype)
