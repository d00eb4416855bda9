"""The media owner's tool: register a folder of files, mirror them to an alternate, list, remove.

    export META_SERVER=http://meta.example.org:8000 OWNER_TOKEN=own_...   # from the operator
    python -m tools.owner register FOLDER --address http://files.example.org --directory /music
    python -m tools.owner mirror FOLDER DEST --address http://mirror.example.org --directory /m
    python -m tools.owner list
    python -m tools.owner remove ID
    python -m tools.owner usage [--since YYYY-MM-DD] [--until YYYY-MM-DD] [--by media] [--json]
    python -m tools.owner servers
    python -m tools.owner sign ADDRESS [--save-secret FILE | --secret-file FILE]
    python -m tools.owner unsign ADDRESS
    python -m tools.owner weight ADDRESS N      # or: weight ADDRESS --remove; weights lists them

register: every file under FOLDER whose name says a media format (sub-folders become
sub-directories) is checked to be that format and to decode to its end (tools/mediafile.py),
hashed (streamed), its tags read (tinytag: RIFF INFO, ID3, Vorbis, MP4) into the record's
descriptive fields (the title, when it has none, is the file name without its extension), its
playback rate and duration read (tools/playback.py; the meta server measures a WAV file's
itself), and registered through the owner API, which checks that the owner's server serves
exactly those bytes. Each file that is not registered is listed with why: a file named as no
media format is skipped, one that is not what its name says is refused. A file registered
already is skipped, so a re-run adds only new files.

mirror: copies onto DEST (the directory an alternate server serves) only your registered files
(same name and sha256 as a record of yours) that are missing there or differ, each through a
temporary file that is hashed and renamed into place only when its sha256 matches the original,
with the original's file mode; then adds the alternate to each of those records (the meta server
checks the alternate before it uses it). The other files of FOLDER are listed, not copied.

usage: your usage statement (only your own media): per UTC day, media item and file server,
the plays, failed plays, bytes served, source errors, failovers away from and onto the server,
and distinct devices (or a row per item, per server, per day: --by); then the totals.

servers, sign, unsign: the file servers your media name, and whether each requires signed,
expiring URLs. `sign` makes the meta server sign every URL it hands out for that server with
the server's secret (nginx's secure_link form: host_server/nginx/fileserver-signed.conf, or
`python -m host_server.fileserver --signing-secret-file`): a new secret, shown once (or written
to --save-secret FILE, mode 0600), or yours from --secret-file. Sign first, then turn the check
on at the server; to stop, turn it off at the server first, then unsign.

weight: a server's capacity relative to the other sources of your files (1 to 1000): devices
spread over your primary and every alternate that has a weight, in proportion; an alternate
without one is a standby, used only when those fail. --remove takes a weight back.

Exit status 0 when everything was done, 1 when any file failed or was refused (each says why).
"""

import argparse
import json
import os
import shutil
import stat
import sys
import tempfile
import urllib.error
import urllib.parse
import urllib.request

from tqdm import tqdm

from host_server.cli.catalog import add_stream_options, stream_body
from host_server.model.errors import Invalid
from tools.filehash import size_and_sha256
from tools.mediafile import KNOWN, BadMedia, NotMedia, record_fields

CHUNK = 1 << 20


class ToolError(Exception):
    pass


# -- files -----------------------------------------------------------------------------------

def folder_files(folder):
    """[(relative directory, file name, path)] of the files under folder, sorted."""
    if not os.path.isdir(folder):
        raise ToolError(f"{folder} is not a directory")
    found = []
    for root, dirs, files in os.walk(folder):
        dirs.sort()
        rel = os.path.relpath(root, folder)
        rel = "" if rel == "." else rel.replace(os.sep, "/")
        for name in sorted(files):
            path = os.path.join(root, name)
            if os.path.isfile(path):
                found.append((rel, name, path))
    return found


def shown_name(rel, name):
    return f"{rel}/{name}" if rel else name


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
        os.chmod(tmp, stat.S_IMODE(os.stat(src).st_mode))   # mkstemp's is 0600
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
    files = folder_files(args.folder)
    alternates = [{"address": a, "directory": d} for a, d in args.alternate or []]
    skipped, failed, media = [], 0, 0
    for rel, name, path in tqdm(files, desc="register", unit="file", file=sys.stderr):
        shown = shown_name(rel, name)
        try:
            fields = record_fields(path)
        except NotMedia:
            skipped.append(shown)
            continue
        except BadMedia as exc:
            media += 1
            failed += 1
            tqdm.write(f"REFUSED {shown}: {exc}")
            continue
        media += 1
        size, sha = size_and_sha256(path)
        doc = {"size": size, "sha256": sha, "primary_address": args.address,
               "primary_directory": join_dir(args.directory, rel),
               "alternates": [{"address": a["address"], "directory": join_dir(a["directory"], rel)}
                              for a in alternates], **fields}
        status, answer = api.call("POST", "/media", doc)
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
    for shown in skipped:
        print(f"skipped {shown}: not a media file name")
    print(f"{media - failed} of {media} media files registered or already registered"
          + (f"; {len(skipped)} other file{'s' if len(skipped) > 1 else ''} skipped (media files"
             f" end in {KNOWN})" if skipped else ""))
    return 1 if failed else 0


def cmd_add_stream(api, args):
    try:
        doc = stream_body(args)
    except Invalid as exc:
        raise ToolError(str(exc)) from None
    status, answer = api.call("POST", "/media", doc)
    if status != 201:
        why = answer.get("error", f"status {status}")
        raise ToolError(why + (f" ({_failed_sources(answer)})" if "sources" in answer else ""))
    bad = _failed_sources(answer)
    print(f"registered {answer['id']} ({args.kind} stream)" + (f" (not used: {bad})" if bad else ""))
    return 0


def registered_media(api):
    """{(file name, size): [(sha256, media id)]} of the owner's media."""
    status, answer = api.call("GET", "/media")
    if status != 200:
        raise ToolError(f"cannot list your media: {answer.get('error')}")
    found = {}
    for m in answer["media"]:
        found.setdefault((m["file_name"], m["size"]), []).append((m["sha256"], m["id"]))
    return found


def cmd_mirror(api, args):
    files = folder_files(args.folder)
    registered = registered_media(api)
    copied = 0
    mirrored, unregistered = [], []
    for rel, name, path in tqdm(files, desc="mirror", unit="file", file=sys.stderr):
        size = os.path.getsize(path)
        candidates = registered.get((name, size), [])
        sha = size_and_sha256(path)[1] if candidates else None
        ids = [media_id for digest, media_id in candidates if digest == sha]
        if not ids:
            unregistered.append(shown_name(rel, name))
            continue
        dest = os.path.join(args.dest, *rel.split("/"), name) if rel else os.path.join(args.dest, name)
        if not (os.path.isfile(dest) and os.path.getsize(dest) == size
                and size_and_sha256(dest)[1] == sha):
            copy_verified(path, dest, sha)
            copied += 1
        elif stat.S_IMODE(os.stat(dest).st_mode) != stat.S_IMODE(os.stat(path).st_mode):
            os.chmod(dest, stat.S_IMODE(os.stat(path).st_mode))
        mirrored.append((rel, name, ids))
    for shown in unregistered:
        print(f"not copied {shown}: not registered (no record of yours has its name and sha256;"
              " register it first)")
    print(f"{copied} of {len(mirrored)} registered files copied to {args.dest}"
          " (the rest were unchanged)")
    if args.no_register:
        return 0
    failed = added = already = 0
    for rel, name, ids in mirrored:
        alt = {"address": args.address.rstrip("/"), "directory": join_dir(args.directory, rel)}
        where = f"{alt['address']}{alt['directory']}"
        for media_id in ids:
            status, rec = api.call("GET", f"/media/{media_id}")
            if status != 200:
                failed += 1
                print(f"FAILED media {media_id} {name}: {rec.get('error', status)}")
                continue
            if alt in rec["alternates"]:
                already += 1
                print(f"media {media_id} {name}: alternate {where} already registered")
                continue
            status, answer = api.call("PATCH", f"/media/{media_id}",
                                      {"alternates": rec["alternates"] + [alt]})
            if status == 200 and alt in answer["record"]["alternates"]:
                added += 1
                print(f"media {media_id} {name}: alternate {where} added")
            else:
                failed += 1
                print(f"FAILED media {media_id} {name}: "
                      f"{_failed_sources(answer) or answer.get('error', status)}")
    print(f"alternate registered for {added} media" + (f", already for {already}" if already else "")
          + (f", {failed} failed" if failed else ""))
    return 1 if failed else 0


def cmd_list(api, args):
    status, answer = api.call("GET", "/media")
    if status != 200:
        raise ToolError(answer.get("error", f"status {status}"))
    print(f"{'id':>6}  {'bytes':>12}  {'title':30}  source")
    for m in answer["media"]:
        print(f"{m['id']:>6}  {m['size']:>12,}  {m['title'] or '-':30.30}  {m['src']}"
              f"  (+{m['alternates']} alternates)")
    return 0


def cmd_remove(api, args):
    status, answer = api.call("DELETE", f"/media/{args.id}")
    if status in (403, 404):   # not yours, or none: say which are
        why = answer.get("error", f"status {status}") + (" of yours" if status == 404 else "")
        raise ToolError(f"{why} ({_yours(api)})")
    if status != 200:
        raise ToolError(answer.get("error", f"status {status}"))
    print(f"media {args.id} removed (it was in {len(answer['programs'])} program(s))")
    return 0


def _yours(api):
    """Which media ids the owner holds, for an error about one they do not."""
    status, answer = api.call("GET", "/media")
    ids = [str(m["id"]) for m in answer.get("media", [])] if status == 200 else []
    if not ids:
        return "you have none registered"
    return f"yours: {', '.join(ids[:12])}{', ...' if len(ids) > 12 else ''}; `list` shows them"


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


def cmd_servers(api, args):
    status, answer = api.call("GET", "/servers")
    if status != 200:
        raise ToolError(answer.get("error", f"status {status}"))
    for s in answer["servers"]:
        print(f"{s['address']}  {'signed URLs' if s['signed'] else 'open'}")
    return 0


def _read_secret(path):
    try:
        with open(path, encoding="ascii", errors="replace") as f:
            return f.read(1024).strip()
    except OSError as exc:
        raise ToolError(f"cannot read the secret from {path}: {exc.strerror}") from None


def _save_secret(path, secret):
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except OSError as exc:
        raise ToolError(f"cannot write the secret to {path}: {exc.strerror}"
                        " (an existing file is never overwritten)") from None
    with os.fdopen(fd, "w") as f:
        f.write(secret + "\n")


def cmd_sign(api, args):
    if args.save_secret and os.path.exists(args.save_secret):   # before the server makes one
        raise ToolError(f"{args.save_secret} exists already: it is never overwritten")
    body = {"address": args.address}
    if args.secret_file:
        body["secret"] = _read_secret(args.secret_file)
    status, answer = api.call("POST", "/signing", body)
    if status not in (200, 201):
        raise ToolError(answer.get("error", f"status {status}"))
    print(f"{answer['address']}: every URL the meta server hands out for it is signed from now"
          f" on, valid {answer['ttl']} s beyond its item's duration")
    if "secret" in answer:
        if args.save_secret:
            _save_secret(args.save_secret, answer["secret"])
            print(f"its secret is in {args.save_secret} (not shown again)")
        else:
            print(f"its secret (shown once): {answer['secret']}")
    print("now have the server check it: python -m host_server nginx-conf fileserver-signed"
          " PREFIX=... LISTEN=... ROOT=... SECRET=..., or python -m host_server.fileserver"
          " --root ... --signing-secret-file FILE")
    return 0


def cmd_unsign(api, args):
    status, answer = api.call("DELETE", "/signing?" + urllib.parse.urlencode({"address": args.address}))
    if status != 200:
        raise ToolError(answer.get("error", f"status {status}"))
    print(f"{answer['address']}: URLs are handed out unsigned again")
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
    s.add_argument("folder", help="the folder your file server serves as --directory")
    s.add_argument("--address", required=True, help="your file server, e.g. http://files.example.org")
    s.add_argument("--directory", required=True, help="the URL directory that serves FOLDER")
    s.add_argument("--alternate", nargs=2, action="append", metavar=("ADDRESS", "DIRECTORY"),
                   help="an alternate that already mirrors FOLDER (repeatable)")
    s = sub.add_parser("add-stream", help="register a live stream (your mounts on two or more"
                       " servers) or an HLS presentation")
    add_stream_options(s)
    s = sub.add_parser("mirror", help="copy changed files to an alternate and register it")
    s.add_argument("folder", help="the folder you registered")
    s.add_argument("dest", help="the directory the alternate server serves FOLDER's files from")
    s.add_argument("--address", required=True, help="the alternate server's address")
    s.add_argument("--directory", required=True, help="the URL directory that serves DEST")
    s.add_argument("--no-register", action="store_true",
                   help="only copy (the registered files); do not add the alternate to them")
    sub.add_parser("list", help="your registered media")
    s = sub.add_parser("remove", help="remove one of your media (devices stop getting it)")
    s.add_argument("id", type=int, help="the media id (`list` shows them)")
    s = sub.add_parser("usage", help="plays, failures, bytes, devices and failovers of your media")
    s.add_argument("--since", metavar="YYYY-MM-DD", help="from this UTC day on")
    s.add_argument("--until", metavar="YYYY-MM-DD", help="up to and with this UTC day")
    s.add_argument("--by", metavar="FIELDS", help="a row per value of these, e.g. media or"
                   " media,server (some of day, media, server; default all three)")
    s.add_argument("--json", action="store_true", help="the meta server's answer as it is")
    sub.add_parser("servers", help="the file servers your media name; which require signed URLs")
    s = sub.add_parser("sign", help="have the meta server sign every URL for one of your servers")
    s.add_argument("address", help="the server, as your media name it: http://files.example.org")
    given = s.add_mutually_exclusive_group()
    given.add_argument("--save-secret", metavar="FILE",
                       help="write the new secret to FILE (mode 0600) instead of showing it")
    given.add_argument("--secret-file", metavar="FILE",
                       help="use the secret FILE holds (16-128 letters, digits, '-', '_')")
    s = sub.add_parser("unsign", help="URLs for the server are handed out unsigned again")
    s.add_argument("address", help="the server, as your media name it")
    s = sub.add_parser("weight", help="a server's share of your devices (its capacity)")
    s.add_argument("address", help="the server, e.g. http://mirror.example.org")
    s.add_argument("weight", type=int, nargs="?", help="1 to 1000, relative to your other sources'")
    s.add_argument("--remove", action="store_true", help="take the weight back")
    sub.add_parser("weights", help="the weights you set")
    return p


COMMANDS = {"register": cmd_register, "add-stream": cmd_add_stream, "mirror": cmd_mirror, "list": cmd_list, "remove": cmd_remove,
            "usage": cmd_usage, "servers": cmd_servers, "sign": cmd_sign, "unsign": cmd_unsign,
            "weight": cmd_weight, "weights": cmd_weights}


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
