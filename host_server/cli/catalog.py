"""Commands about the catalog: add media and programs, import a whole catalog, list things."""

import json

from ..model import catalog, streams
from ..model.checks import check_program_name, id_from_text, is_number_text
from ..model.display import when
from ..model.errors import Invalid
from ..services.auth import new_secret
from .output import load_json, print_json, table, warn

# What `list <what>` shows of each list's rows (db.Database.list_of: the dashboard's rows too).
COLUMNS = {
    "devices": ("id", "name", "default", "selected", "programs", "firmware"),
    "media": ("id", "title", "type", "size", "src"),
    "programs": ("id", "name", "items"),
    "owners": ("id", "name", "state", "tokens", "media"),
    "servers": ("address", "state", "since_time", "checked_time", "why"),
}


def add_commands(sub):
    sub.add_parser("init", help="create the database and apply migrations")
    s = sub.add_parser("add-media", help="add one media record from a JSON file")
    s.add_argument("--json", required=True, metavar="FILE",
                   help="the record: size, sha256, type, primary_address, primary_directory,"
                        " file_name, and any descriptive fields (docs/PROTOCOL.md)")
    s = sub.add_parser("add-stream", help="add a live stream (mounts on two or more servers) or an"
                       " HLS presentation (docs/PROTOCOL.md \"Live items\")")
    add_stream_options(s)
    s = sub.add_parser("add-program", help="add a program")
    s.add_argument("name", help="the program's name (devices and the dashboard show it)")
    s.add_argument("--items", default="", help="media ids, comma separated, in play order")
    s = sub.add_parser("import", help="import a catalog JSON file in one transaction")
    s.add_argument("catalog", help="a JSON file of media, programs and devices"
                                   " (run/sim/catalog.json is one)")
    s = sub.add_parser("remove-media", help="remove a media item from the catalog and from every"
                       " program (devices playing it go on with the next item; its plays stay"
                       " in the reports and usage figures)")
    s.add_argument("id", help="the media id (list media)")
    s = sub.add_parser("remove-program", help="remove a program with its items and entitlements"
                       " (devices whose default or choice it was play none until given another)")
    s.add_argument("program", help="the program's name or id (list programs)")
    s = sub.add_parser("list", help="list devices, media, programs, owners or file servers (health)")
    s.add_argument("what", choices=tuple(COLUMNS), help="what to list: %(choices)s")
    s.add_argument("--json", action="store_true", help="as JSON, every field")
    return {"init": init, "add-media": add_media, "add-stream": add_stream, "add-program": add_program,
            "import": import_catalog, "remove-media": remove_media,
            "remove-program": remove_program, "list": list_rows}


async def init(db, args):
    print(f"database {db.describe()} at schema version {await db.schema_version()}")


async def add_media(db, args):
    rec = catalog.validate_media(load_json(args.json), args.json, warn)
    media_id = await db.catalog.add_media(rec)
    print(f"media {media_id} added")


def add_stream_options(s):
    """The options of add-stream (the owner tool's add-stream takes the same)."""
    s.add_argument("kind", choices=streams.KINDS, help="live: an Icecast/Shoutcast mount; hls: a"
                   " playlist (master or media)")
    s.add_argument("urls", nargs="+", metavar="URL", help="its sources, primary first: mounts (or"
                   " playlists) of the same name on different servers")
    s.add_argument("--type", required=True, help="the audio it carries: audio/mpeg, audio/aac, ...")
    s.add_argument("--rate", type=int, help="bytes per second of the audio (required for live)")
    s.add_argument("--dur", type=int, metavar="MS", help="how long to play it, in ms (required for"
                   " live and for a live HLS playlist)")
    s.add_argument("--title", default="", help="what devices and the dashboard show")
    s.add_argument("--hls-key-file", metavar="FILE", help="an HLS presentation's AES-128 segment"
                   " key (16 bytes, as ffmpeg's key info names it): kept sealed, handed only to"
                   " entitled devices")


def stream_body(args):
    """The record add-stream's options describe (not yet validated)."""
    fields = {"type": args.type, "rate": args.rate, "dur": args.dur, "title": args.title}
    if args.hls_key_file:
        with open(args.hls_key_file, "rb") as f:
            key = f.read(17)
        if len(key) != 16:
            raise Invalid(f"{args.hls_key_file}: an AES-128 key file holds exactly 16 bytes")
        fields["secure"] = {"hls_key": key.hex()}
    return streams.record_from_urls(args.kind, args.urls, **fields)


async def add_stream(db, args):
    rec = catalog.validate_media(stream_body(args), "stream", warn)
    media_id = await db.catalog.add_media(rec)
    print(f"media {media_id} added ({args.kind} stream, {len(args.urls)} source"
          f"{'s' if len(args.urls) > 1 else ''})")


async def add_program(db, args):
    check_program_name(args.name)
    items = []
    for part in (args.items.split(",") if args.items else []):
        part = part.strip()
        if not is_number_text(part):
            raise Invalid(f"--items: {part!r} is not a media id")
        items.append(int(part))
    program = await db.catalog.add_program(args.name, items)
    print(f"program {program} ({args.name}) added with {len(items)} items")


async def import_catalog(db, args):
    media, programs, devices = catalog.validate_catalog(load_json(args.catalog), warn)
    summary = await db.catalog.import_catalog(media, programs, devices, new_secret)
    print(json.dumps(summary))


async def remove_media(db, args):
    media_id = id_from_text(args.id, "media id")
    programs = await db.catalog.remove_media(media_id)
    print(f"media {media_id} removed" + (f" (and from programs {', '.join(map(str, programs))})"
                                         if programs else ""))


async def remove_program(db, args):
    async with db.transaction() as c:
        program = await db.catalog.program_id(c, args.program)
    await db.catalog.remove_program(program)
    print(f"program {program} removed")


def _shown(what, row):
    """The columns of a row that only the table has (states and times in words)."""
    if what == "owners":
        row["state"] = f"revoked {when(row['revoked'])}" if row["revoked"] else "active"
    elif what == "servers":
        row["state"] = {True: "up", False: "DOWN", None: "?"}[row["up"]]
        row["since_time"] = when(row["since"])
        row["checked_time"] = when(row["checked"])
    return row


async def list_rows(db, args):
    rows = await db.list_of(args.what)
    if args.json:
        print_json(rows)
    else:
        table([_shown(args.what, r) for r in rows], COLUMNS[args.what])
