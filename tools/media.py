"""Prepare media as secure items: python -m tools.media prepare FILE... --out DIR --records DIR

Each file is encrypted with AES-128-CBC (PKCS#7 padding) under its own random key and IV, and a
piece of the encrypted file is withheld: zero-filled in what goes on the file servers, kept only
in the record for the meta server (by default 4 KiB from offset 4096; --piece-offset,
--piece-length; --piece-length 0 withholds nothing; --no-encrypt withholds a piece of the
original instead). Files stream through in 1 MiB chunks, never held whole.

  --out DIR       what goes on the file servers (same file names)
  --records DIR   one <name>.json per file for the meta server: its size and sha256 (of the stored
                  bytes), type (by its name: host_server/model/formats.py), the descriptive
                  fields its tags give (title, performers, composers, work, ...; the title is
                  the file name without its extension when it has none), playback rate and
                  duration (of the original: "rate", "dur", when they can be read), and
                  "secure" (key, IV, piece, original size and sha256).
                  These are secrets: written with mode 0600; never put them on a file server.
                  A record there already that holds a key is never replaced (the stored file
                  it decrypts would be lost) unless --force is given; nothing is written then.
  --address URL --directory DIR   where the stored file will be served (primary_address and
                  primary_directory of the record; both or neither)

A record is then added with `python -m host_server --master-key-file KEY add-media --json REC`.
"""

import argparse
import base64
import hashlib
import json
import os
import secrets
import sys

from cryptography.hazmat.primitives import padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from tqdm import tqdm

from tools.mediafile import record_fields

MAX_PIECE = 4096   # what the meta server takes (host_server/model/secure.py; a test checks both)

CHUNK = 1 << 20
DEFAULT_PIECE_OFFSET = 4096
DEFAULT_PIECE_LENGTH = 4096


class PrepareError(Exception):
    pass


def stored_size(plain_size, encrypted):
    return (plain_size // 16 + 1) * 16 if encrypted else plain_size


def piece_place(size, offset, length):
    """(offset, length) of the withheld piece inside a stored file of `size` bytes: the asked one,
    moved to the start and shortened when the file is too small for it."""
    length = min(length, size)
    return min(offset, size - length), length


def prepare_file(src, out_path, encrypted=True, piece_offset=DEFAULT_PIECE_OFFSET,
                 piece_length=DEFAULT_PIECE_LENGTH, progress=None):
    """Write the stored form of src to out_path (atomically); return the record's facts."""
    plain_size = os.path.getsize(src)
    size = stored_size(plain_size, encrypted)
    p_off, p_len = piece_place(size, piece_offset, piece_length)
    key = secrets.token_bytes(16) if encrypted else b""
    iv = secrets.token_bytes(16) if encrypted else b""
    if encrypted:
        enc = Cipher(algorithms.AES(key), modes.CBC(iv)).encryptor()
        pad = padding.PKCS7(128).padder()
    plain_hash, stored_hash = hashlib.sha256(), hashlib.sha256()
    piece = bytearray()
    at = 0   # stored bytes written
    tmp = out_path + ".part"

    def emit(f, data):
        nonlocal at
        if not data:
            return
        lo, hi = max(p_off, at), min(p_off + p_len, at + len(data))
        if lo < hi:   # the withheld piece: kept for the record, zeros on the file server
            data = bytearray(data)
            piece.extend(data[lo - at:hi - at])
            data[lo - at:hi - at] = bytes(hi - lo)
        stored_hash.update(data)
        f.write(data)
        at += len(data)

    try:
        with open(src, "rb") as fin, open(tmp, "wb") as fout:
            while True:
                chunk = fin.read(CHUNK)
                if not chunk:
                    break
                plain_hash.update(chunk)
                emit(fout, enc.update(pad.update(chunk)) if encrypted else chunk)
                if progress:
                    progress.update(len(chunk))
            if encrypted:
                emit(fout, enc.update(pad.finalize()) + enc.finalize())
        if at != size:
            raise PrepareError(f"{src} changed while it was read ({at} bytes stored, {size} expected)")
        os.replace(tmp, out_path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise
    secure = {"encrypted": encrypted, "plain_size": plain_size,
              "plain_sha256": plain_hash.hexdigest(), "piece_offset": p_off,
              "piece": base64.b64encode(bytes(piece)).decode()}
    if encrypted:
        secure["key"], secure["iv"] = key.hex(), iv.hex()
    return {"size": size, "sha256": stored_hash.hexdigest(), "secure": secure}


def record_for(src, facts, address=None, directory=None):
    """The record of a prepared file: its playback rate and duration are the original's (what
    the device's sink gets once it has decrypted it)."""
    rec = {**record_fields(src, checked=False), "size": facts["size"],
           "sha256": facts["sha256"], "secure": facts["secure"]}
    if address is not None:
        rec["primary_address"], rec["primary_directory"] = address, directory
    return rec


def write_secret_json(path, doc):
    tmp = path + ".part"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        json.dump(doc, f, indent=2, ensure_ascii=False)
        f.write("\n")
    os.replace(tmp, path)


def holds_key(path):
    """Whether a record file is there that holds a secure item's key or piece (or cannot be
    read, and so might)."""
    if not os.path.lexists(path):
        return False
    try:
        with open(path, encoding="utf-8") as f:
            doc = json.load(f)
    except (OSError, ValueError):
        return True
    return not isinstance(doc, dict) or doc.get("secure") is not None


def cmd_prepare(args):
    if (args.address is None) != (args.directory is None):
        raise PrepareError("--address and --directory go together")
    if args.piece_offset < 0 or args.piece_length < 0:
        raise PrepareError("--piece-offset and --piece-length must not be negative")
    if args.piece_length > MAX_PIECE:
        raise PrepareError(f"--piece-length over {MAX_PIECE}: no device could play it (a device"
                           f" takes its key buffer less 96 bytes; {MAX_PIECE} with the default)")
    if not args.encrypt and args.piece_length == 0:
        raise PrepareError("--no-encrypt with --piece-length 0 would leave nothing secret")
    for src in args.files:
        if not os.path.isfile(src):
            raise PrepareError(f"{src} is not a file")
    out, recs = os.path.abspath(args.out), os.path.abspath(args.records)
    if out == recs or recs.startswith(out + os.sep):
        raise PrepareError("--records must not be inside --out: records hold the keys")
    names = [os.path.basename(src) for src in args.files]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise PrepareError(f"two files named {twice[0]}: their stored files and records would"
                           " overwrite each other")
    if not args.force:
        keyed = [n + ".json" for n in names if holds_key(os.path.join(recs, n + ".json"))]
        if keyed:
            raise PrepareError(f"{os.path.join(args.records, keyed[0])} holds the key of a"
                               f" prepared file{f' (and {len(keyed) - 1} more)' if keyed[1:] else ''}"
                               ": nothing written (add it to the meta server, or move it away;"
                               " --force replaces it)")
    for option, folder in (("--out", out), ("--records", recs)):
        try:
            os.makedirs(folder, exist_ok=True)
        except OSError as exc:
            raise PrepareError(f"{option} {folder}: cannot create the folder ({exc.strerror})") from None
    total = sum(os.path.getsize(s) for s in args.files)
    with tqdm(total=total, unit="B", unit_scale=True, disable=args.quiet or None,
              file=sys.stderr) as bar:
        for src in args.files:
            name = os.path.basename(src)
            facts = prepare_file(src, os.path.join(out, name), args.encrypt, args.piece_offset,
                                 args.piece_length, bar)
            rec = record_for(src, facts, args.address, args.directory)
            write_secret_json(os.path.join(recs, name + ".json"), rec)
            if args.quiet is False:
                bar.write(f"{name}: stored {facts['size']} bytes, sha256 {facts['sha256'][:16]}…")


def main(argv=None):
    p = argparse.ArgumentParser(prog="python -m tools.media", description=__doc__.split("\n")[0])
    sub = p.add_subparsers(dest="command", required=True)
    s = sub.add_parser("prepare", help="encrypt files and withhold a piece of each")
    s.add_argument("files", nargs="+", metavar="FILE", help="the media files to prepare")
    s.add_argument("--out", required=True, help="folder for what goes on the file servers")
    s.add_argument("--records", required=True, help="folder for the meta server's records (secret)")
    s.add_argument("--no-encrypt", dest="encrypt", action="store_false",
                   help="only withhold a piece of the original")
    s.add_argument("--piece-offset", type=int, default=DEFAULT_PIECE_OFFSET,
                   help="byte of the stored file where the withheld piece starts")
    s.add_argument("--piece-length", type=int, default=DEFAULT_PIECE_LENGTH,
                   help="bytes withheld (0: none)")
    s.add_argument("--address", help="primary_address of the records")
    s.add_argument("--directory", help="primary_directory of the records")
    s.add_argument("--force", action="store_true",
                   help="replace records that hold a key (their stored files are re-encrypted)")
    s.add_argument("--quiet", action="store_true", help="no progress bar")
    args = p.parse_args(argv)
    try:
        cmd_prepare(args)
    except PrepareError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except OSError as exc:
        print(f"error: {exc.filename}: {exc.strerror}" if exc.filename else f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
