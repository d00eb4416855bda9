"""The media owner's tool: register a folder of files, mirror them to an alternate, list, remove.

    export META_SERVER=http://meta.example.org:8000 OWNER_TOKEN=own_...   # from the operator
    python -m tools.owner register FOLDER --address http://files.example.org --directory /music
    python -m tools.owner mirror FOLDER DEST --address http://mirror.example.org --directory /m
    python -m tools.owner list
    python -m tools.owner remove ID
    python -m tools.owner usage [--since YYYY-MM-DD] [--until YYYY-MM-DD] [--by media] [--json]
    python -m tools.owner weight ADDRESS N      # or: weight ADDRESS --remove; weights lists them

register: every media file under FOLDER (by extension; sub-folders become sub-directories) is
hashed (streamed), its tags read (tinytag: RIFF INFO, ID3, Vorbis, MP4) into the record's
descriptive fields, its playback rate and duration read (tools/playback.py; the meta server
measures a WAV file's itself), and registered through the owner API, which checks that the owner's server
serves exactly those bytes. A file registered already is skipped, so a re-run adds only new files.

mirror: copies onto DEST (the directory an alternate server serves) only the files that are
missing there or differ, each through a temporary file that is hashed and renamed into place
only when its sha256 matches the original; then adds the alternate to every registered media
record with the same sha256 (the meta server checks the alternate before it uses it).

usage: your usage statement (only your own media): per UTC day, media item and file server,
the plays, failed plays, bytes served, source errors, failovers away from and onto the server,
and distinct devices (or a row per item, per server, per day: --by); then the totals.

weight: a server's capacity relative to the other sources of your files (1 to 1000): devices
spread over your primary and every alternate that has a weight, in proportion; an alternate
without one is a standby, used only when those fail. --remove takes a weight back.

Exit status 0 when everything was done, 1 when any file failed (each failure says why).
"""

import argparse
import json
import os
import shutil
import sys
import tempfile
import urllib.error
import urllib.parse
import urllib.request

from tqdm import tqdm

from tools.filehash import size_and_sha256
from tools.playback import playback_fields

TYPES = {".wav": "audio/wav", ".mp3": "audio/mpeg", ".flac": "audio/flac", ".ogg": "audio/ogg",
         ".opus": "audio/opus", ".m4a": "audio/mp4", ".aac": "audio/aac", ".aif": "audio/aiff",
         ".aiff": "audio/aiff", ".wma": "audio/x-ms-wma"}
CHUNK = 1 << 20


class ToolError(Exception):
    pass


# -- files -----------------------------------------------------------------------------------

def media_files(folder):
    """[(relative directory, file name, path)] of media files under folder, sorted."""
    if not os.path.isdir(folder):
        raise ToolError(f"{folder} is not a directory")
    found = []
    for root, dirs, files in os.walk(folder):
        dirs.sort()
        rel = os.path.relpath(root, folder)
        rel = "" if rel == "." else rel.replace(os.sep, "/")
        for name in sorted(files):
            path = os.path.join(root, name)
            if os.path.splitext(name)[1].lower() in TYPES and os.path.isfile(path):
                found.append((rel, name, path))
    return found


def tag_fields(path):
    """The record's descriptive fields from the file's own tags ({} when it has none)."""
    from tinytag import TinyTag, TinyTagException
    try:
        tags = TinyTag.get(path).as_dict()
    except (TinyTagException, OSError, ValueError):
        return {}

    def first(key):
        values = tags.get(key) or []
        return values[0] if isinstance(values, list) and values else ""

    def every(key):
        values = tags.get(key) or []
        return [v for v in values if isinstance(v, str) and v] if isinstance(values, list) else []

    fields = {"title": first("title"), "performers": every("artist"),
              "composers": every("composer"), "composer": first("composer"),
              "work": first("album"), "copyright_holder": first("copyright"),
              "creators": every("lyricist")}
    return {k: v for k, v in fields.items() if v}


def join_dir(directory, rel):
    return directory.rstrip("/") + "/" + rel if rel else directory


def copy_verified(src, dest, sha256):
    """Copy src to dest through a temporary file renamed into place only if its hash matches."""
    folder = os.path.dirname(dest)
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".mirror-", dir=folder)
    try:
        with open(src, "rb") as fin, os.fdopen(fd, "wb") as fout:
            shutil.copyfileobj(fin, fout, CHUNK)
            fout.flush()
            os.fsync(fout.fileno())
        if size_and_sha256(tmp)[1] != sha256:
            raise ToolError(f"copy of {src} does not match its sha256; nothing replaced")
        os.chmod(tmp, 0o644)
        os.replace(tmp, dest)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


# -- the meta server -------------------------------------------------------------------------

class OwnerAPI:
    def __init__(self, server, token, timeout=600):
        self.base = server.rstrip("/") + "/api/v1/owner"
        self.token = token
        self.timeout = timeout   # registration streams every source through the meta server

    def call(self, method, path="", body=None):
        """(status, JSON answer); raises ToolError when the server cannot be reached."""
        if not self.token:
            raise ToolError("no owner token: pass --token or set OWNER_TOKEN (the operator "
                            "creates it with `python -m host_server add-owner NAME`)")
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.base + path, data=data, method=method, headers={
            "Authorization": f"Bearer {self.token}", "Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as resp:
                return resp.status, json.loads(resp.read() or b"{}")
        except urllib.error.HTTPError as exc:
            try:
                doc = json.loads(exc.read())
            except ValueError:
                doc = {"error": exc.reason}
            if exc.code == 401:
                raise ToolError(f"meta server refused the token: {doc.get('error')}") from None
            return exc.code, doc
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise ToolError(f"cannot reach the meta server at {self.base}: {reason}") from None


def _failed_sources(answer):
    return "; ".join(f"{s['url']}: {s['why']}" for s in answer.get("sources", []) if not s["ok"])


# -- commands --------------------------------------------------------------------------------

def cmd_register(api, args):
    files = media_files(args.folder)
    alternates = [{"address": a, "directory": d} for a, d in args.alternate or []]
    failed = 0
    for rel, name, path in tqdm(files, desc="register", unit="file", file=sys.stderr):
        size, sha = size_and_sha256(path)
        doc = {"size": size, "sha256": sha, "type": TYPES[os.path.splitext(name)[1].lower()],
               "primary_address": args.address, "primary_directory": join_dir(args.directory, rel),
               "file_name": name,
               "alternates": [{"address": a["address"], "directory": join_dir(a["directory"], rel)}
                              for a in alternates]}
        doc.update(tag_fields(path))
        doc.update(playback_fields(path))
        status, answer = api.call("POST", "/media", doc)
        shown = f"{rel}/{name}" if rel else name
        if status == 201:
            bad = _failed_sources(answer)
            tqdm.write(f"registered {answer['id']} {shown}" + (f" (not used: {bad})" if bad else ""))
        elif status == 409:
            tqdm.write(f"skipped {shown}: {answer.get('error')}")
        else:
            failed += 1
            why = answer.get("error", f"status {status}")
            tqdm.write(f"FAILED {shown}: {why}" + (f" ({_failed_sources(answer)})"
                                                   if "sources" in answer else ""))
    print(f"{len(files) - failed} of {len(files)} files registered or already registered")
    return 1 if failed else 0


def cmd_mirror(api, args):
    files = media_files(args.folder)
    copied = 0
    mirrored = []
    for rel, name, path in tqdm(files, desc="mirror", unit="file", file=sys.stderr):
        size, sha = size_and_sha256(path)
        dest = os.path.join(args.dest, *rel.split("/"), name) if rel else os.path.join(args.dest, name)
        if not (os.path.isfile(dest) and os.path.getsize(dest) == size
                and size_and_sha256(dest)[1] == sha):
            copy_verified(path, dest, sha)
            copied += 1
        mirrored.append((rel, name, sha))
    print(f"{copied} of {len(files)} files copied to {args.dest} (the rest were unchanged)")
    if args.no_register:
        return 0
    status, answer = api.call("GET", "/media")
    if status != 200:
        raise ToolError(f"cannot list your media: {answer.get('error')}")
    by_sha = {}
    for m in answer["media"]:
        by_sha.setdefault(m["sha256"], []).append(m["id"])
    failed = added = 0
    for rel, name, sha in mirrored:
        alt = {"address": args.address.rstrip("/"), "directory": join_dir(args.directory, rel)}
        for media_id in by_sha.get(sha, []):
            status, rec = api.call("GET", f"/media/{media_id}")
            if status != 200 or alt in rec["alternates"]:
                continue
            status, answer = api.call("PATCH", f"/media/{media_id}",
                                      {"alternates": rec["alternates"] + [alt]})
            if status == 200 and alt in answer["record"]["alternates"]:
                added += 1
                print(f"media {media_id} {name}: alternate {alt['address']}{alt['directory']} added")
            else:
                failed += 1
                print(f"FAILED media {media_id} {name}: "
                      f"{_failed_sources(answer) or answer.get('error', status)}")
    print(f"alternate registered for {added} media" + (f", {failed} failed" if failed else ""))
    return 1 if failed else 0


def cmd_list(api, args):
    status, answer = api.call("GET", "/media")
    if status != 200:
        raise ToolError(answer.get("error", f"status {status}"))
    for m in answer["media"]:
        print(f"{m['id']:>6}  {m['size']:>12,}  {m['title'] or '-':30.30}  {m['src']}"
              f"  (+{m['alternates']} alternates)")
    return 0


def cmd_remove(api, args):
    status, answer = api.call("DELETE", f"/media/{args.id}")
    if status != 200:
        raise ToolError(answer.get("error", f"status {status}"))
    print(f"media {args.id} removed (it was in {len(answer['programs'])} program(s))")
    return 0


USAGE_COLUMNS = (("day", "day"), ("media", "media"), ("title", "title"), ("server", "server"),
                 ("plays", "plays"), ("failed", "failed"), ("bytes", "bytes"),
                 ("source_errors", "errors"), ("failovers_away", "away"),
                 ("failovers_onto", "onto"), ("devices", "devices"))
TEXT_COLUMNS = ("day", "media", "title", "server")


def cmd_usage(api, args):
    query = urllib.parse.urlencode({k: v for k, v in (("since", args.since), ("until", args.until),
                                                      ("by", args.by)) if v})
    status, answer = api.call("GET", "/usage" + ("?" + query if query else ""))
    if status != 200:
        raise ToolError(answer.get("error", f"status {status}"))
    if args.json:
        print(json.dumps(answer, indent=2))
        return 0
    keys = set(answer["by"]) | ({"title"} if "media" in answer["by"] else set())
    shown = [(key, head) for key, head in USAGE_COLUMNS if key not in TEXT_COLUMNS or key in keys]
    cells = [[head for _, head in shown]] + [
        [str(row[key]) if row[key] != "" else "-" for key, _ in shown] for row in answer["rows"]]
    widths = [max(len(r[i]) for r in cells) for i in range(len(shown))]
    for r in cells:
        print("  ".join(c.ljust(w) if key in TEXT_COLUMNS else c.rjust(w)
                        for c, w, (key, _) in zip(r, widths, shown)).rstrip())
    t = answer["totals"]
    print(f"total: {t['plays']} plays, {t['failed']} failed, {t['bytes']:,} bytes,"
          f" {t['source_errors']} source errors, {t['failovers_away']} failovers,"
          f" {t['devices']} devices")
    return 0


def cmd_weight(api, args):
    if args.remove == (args.weight is not None):
        raise ToolError("give a weight (1 to 1000) or --remove, not both or neither")
    if args.remove:
        query = urllib.parse.urlencode({"address": args.address})
        status, answer = api.call("DELETE", "/weights?" + query)
    else:
        status, answer = api.call("PUT", "/weights", {"address": args.address, "weight": args.weight})
    if status != 200:
        raise ToolError(answer.get("error", f"status {status}"))
    what = "weight removed" if answer["weight"] is None else f"weight {answer['weight']}"
    print(f"{answer['address']}: {what}; {answer['media']} of your media records name it")
    return 0


def cmd_weights(api, args):
    status, answer = api.call("GET", "/weights")
    if status != 200:
        raise ToolError(answer.get("error", f"status {status}"))
    if not answer["weights"]:
        print("no weights set: each file's primary serves its devices, alternates stand by")
    for w in answer["weights"]:
        print(f"{w['weight']:>5}  {w['address']}  ({w['media']} media)")
    return 0


def _parser():
    p = argparse.ArgumentParser(prog="python -m tools.owner", description=__doc__.split("\n")[0])
    p.add_argument("--server", default=os.environ.get("META_SERVER", "http://127.0.0.1:8000"),
                   help="the meta server (default: $META_SERVER or http://127.0.0.1:8000)")
    p.add_argument("--token", default=os.environ.get("OWNER_TOKEN"),
                   help="your owner API token (default: $OWNER_TOKEN; prefer that: a command"
                        " line shows in `ps` and the shell's history)")
    sub = p.add_subparsers(dest="command", required=True, metavar="command")
    s = sub.add_parser("register", help="register every media file of a folder")
    s.add_argument("folder")
    s.add_argument("--address", required=True, help="your file server, e.g. http://files.example.org")
    s.add_argument("--directory", required=True, help="the URL directory that serves FOLDER")
    s.add_argument("--alternate", nargs=2, action="append", metavar=("ADDRESS", "DIRECTORY"),
                   help="an alternate that already mirrors FOLDER (repeatable)")
    s = sub.add_parser("mirror", help="copy changed files to an alternate and register it")
    s.add_argument("folder")
    s.add_argument("dest", help="the directory the alternate server serves FOLDER's files from")
    s.add_argument("--address", required=True, help="the alternate server's address")
    s.add_argument("--directory", required=True, help="the URL directory that serves DEST")
    s.add_argument("--no-register", action="store_true", help="only copy")
    sub.add_parser("list", help="your registered media")
    s = sub.add_parser("remove", help="remove one of your media (devices stop getting it)")
    s.add_argument("id", type=int)
    s = sub.add_parser("usage", help="plays, failures, bytes, devices and failovers of your media")
    s.add_argument("--since", metavar="YYYY-MM-DD", help="from this UTC day on")
    s.add_argument("--until", metavar="YYYY-MM-DD", help="up to and with this UTC day")
    s.add_argument("--by", metavar="FIELDS", help="a row per value of these, e.g. media or"
                   " media,server (some of day, media, server; default all three)")
    s.add_argument("--json", action="store_true", help="the meta server's answer as it is")
    s = sub.add_parser("weight", help="a server's share of your devices (its capacity)")
    s.add_argument("address", help="the server, e.g. http://mirror.example.org")
    s.add_argument("weight", type=int, nargs="?", help="1 to 1000, relative to your other sources'")
    s.add_argument("--remove", action="store_true", help="take the weight back")
    sub.add_parser("weights", help="the weights you set")
    return p


COMMANDS = {"register": cmd_register, "mirror": cmd_mirror, "list": cmd_list, "remove": cmd_remove,
            "usage": cmd_usage, "weight": cmd_weight, "weights": cmd_weights}


def main(argv=None):
    args = _parser().parse_args(argv)
    try:
        api = OwnerAPI(args.server, args.token)
        return COMMANDS[args.command](api, args)
    except ToolError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except OSError as exc:
        print(f"error: {exc.filename or ''}: {exc.strerror or exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
