"""Queries for owner accounts and the media they register (owner API, operator CLI).

Functions take the Database (db.py) and use its connection and its one write transaction, so
every change here is all-or-nothing like the rest of the database layer.
"""

import json

from . import catalog
from .errors import Conflict, Forbidden, NotFound

# -- accounts ------------------------------------------------------------------------------


async def add_owner(db, name, token_sha256):
    with db._write() as c:
        if c.execute("SELECT 1 FROM owners WHERE name = ?", (name,)).fetchone():
            raise Conflict(f"owner {name!r} already exists")
        now = db.clock()
        owner = c.execute("INSERT INTO owners (name, created) VALUES (?, ?)", (name, now)).lastrowid
        c.execute("INSERT INTO owner_tokens (token_sha256, owner, created) VALUES (?, ?, ?)",
                  (token_sha256, owner, now))
    return owner


def _owner_id(c, name):
    row = c.execute("SELECT id FROM owners WHERE name = ?", (name,)).fetchone()
    if row is None:
        raise NotFound(f"no owner {name!r}")
    return row[0]


async def new_owner_token(db, name, token_sha256):
    """Another token for an owner (also lifts a revocation)."""
    with db._write() as c:
        owner = _owner_id(c, name)
        c.execute("UPDATE owners SET revoked = NULL WHERE id = ?", (owner,))
        c.execute("INSERT INTO owner_tokens (token_sha256, owner, created) VALUES (?, ?, ?)",
                  (token_sha256, owner, db.clock()))
    return owner


async def revoke_owner(db, name):
    """Every token of the owner stops working; their media stay. Returns tokens revoked."""
    with db._write() as c:
        owner = _owner_id(c, name)
        n = c.execute("DELETE FROM owner_tokens WHERE owner = ?", (owner,)).rowcount
        c.execute("UPDATE owners SET revoked = ? WHERE id = ?", (db.clock(), owner))
    return n


async def owner_for_token(db, token_sha256):
    """(owner id, name) for a live token, or None."""
    return db.conn.execute(
        "SELECT o.id, o.name FROM owner_tokens t JOIN owners o ON o.id = t.owner"
        " WHERE t.token_sha256 = ? AND o.revoked IS NULL", (token_sha256,)).fetchone()


async def list_owners(db):
    rows = db.conn.execute(
        "SELECT o.id, o.name, o.created, o.revoked,"
        " (SELECT count(*) FROM owner_tokens WHERE owner = o.id),"
        " (SELECT count(*) FROM media WHERE owner_account = o.id)"
        " FROM owners o ORDER BY o.id").fetchall()
    return [{"id": r[0], "name": r[1], "created": r[2], "revoked": r[3], "tokens": r[4],
             "media": r[5]} for r in rows]


# -- the owner's media -----------------------------------------------------------------------

def _check_own(c, owner, media_id):
    row = c.execute("SELECT owner_account FROM media WHERE id = ?", (media_id,)).fetchone()
    if row is None:
        raise NotFound(f"no media {media_id}")
    if row[0] != owner:
        raise Forbidden(f"media {media_id} is not yours")


async def check_own(db, owner, media_id):
    """Raise NotFound / Forbidden unless the media exists and belongs to the owner."""
    _check_own(db.conn, owner, media_id)


async def add_owned_media(db, owner, rec):
    """Store a checked record as the owner's; 409 when they registered that primary already."""
    with db._write() as c:
        row = c.execute(
            "SELECT id FROM media WHERE owner_account = ? AND primary_address = ?"
            " AND primary_directory = ? AND file_name = ?",
            (owner, rec["primary_address"], rec["primary_directory"], rec["file_name"])).fetchone()
        if row is not None:
            raise Conflict(f"already registered as media {row[0]}")
        media_id = db._insert_media(c, rec)
        c.execute("UPDATE media SET owner_account = ? WHERE id = ?", (owner, media_id))
    return media_id


async def owned_media(db, owner):
    rows = db.conn.execute(
        "SELECT id, title, type, size, sha256, primary_address, primary_directory, file_name,"
        " (SELECT count(*) FROM media_alternates WHERE media = m.id)"
        " FROM media m WHERE owner_account = ? ORDER BY id", (owner,)).fetchall()
    return [{"id": r[0], "title": r[1], "type": r[2], "size": r[3], "sha256": r[4],
             "src": catalog.source_url(r[5], r[6], r[7]), "file_name": r[7],
             "alternates": r[8]} for r in rows]


async def update_owned_media(db, owner, media_id, rec):
    """Replace the record's fields and alternates with rec (validated, same size and sha256).

    The compact document is rebuilt from rec but keeps keys that only the stored one has
    (e.g. a secure item's "sec"), so an update never strips what another feature put there.
    """
    values = [json.dumps(rec[k]) if k in catalog.LIST_FIELDS else rec[k]
              for k in catalog.MEDIA_COLUMNS]
    sets = ", ".join(f"{k} = ?" for k in catalog.MEDIA_COLUMNS)
    with db._write() as c:
        _check_own(c, owner, media_id)
        old = json.loads(c.execute("SELECT compact FROM media WHERE id = ?", (media_id,)).fetchone()[0])
        old.update(json.loads(catalog.compact_json(rec)))
        compact = json.dumps(old, separators=(",", ":"), ensure_ascii=False)
        c.execute(f"UPDATE media SET {sets}, compact = ? WHERE id = ?", values + [compact, media_id])
        c.execute("DELETE FROM media_alternates WHERE media = ?", (media_id,))
        c.executemany(
            "INSERT INTO media_alternates (media, seq, address, directory) VALUES (?, ?, ?, ?)",
            [(media_id, i, a["address"], a["directory"]) for i, a in enumerate(rec["alternates"])])


async def remove_owned_media(db, owner, media_id):
    """Delete the media and take it out of every program without moving any device off course.

    Each program loses the item's positions; a device whose position was after a removed one
    moves back by one per removed position before it, so it still gets the item it would have
    got next; a device at the removed item gets the one that followed it. Returns the ids of
    the programs that held it. Reports keep the media id they recorded.
    """
    with db._write() as c:
        _check_own(c, owner, media_id)
        programs = [r[0] for r in c.execute(
            "SELECT DISTINCT program FROM program_items WHERE media = ? ORDER BY program",
            (media_id,))]
        for program in programs:
            items = c.execute("SELECT pos, media FROM program_items WHERE program = ? ORDER BY pos",
                              (program,)).fetchall()
            removed = [pos for pos, m in items if m == media_id]
            kept = [m for pos, m in items if m != media_id]
            c.execute("DELETE FROM program_items WHERE program = ?", (program,))
            c.executemany("INSERT INTO program_items (program, pos, media) VALUES (?, ?, ?)",
                          [(program, i, m) for i, m in enumerate(kept)])
            c.execute("UPDATE programs SET n_items = ? WHERE id = ?", (len(kept), program))
            for device, pos in c.execute("SELECT device, pos FROM entitlements WHERE program = ?",
                                         (program,)).fetchall():
                new = pos - sum(1 for r in removed if r < pos)
                if new >= len(kept):
                    new = 0
                if new != pos:
                    c.execute("UPDATE entitlements SET pos = ? WHERE device = ? AND program = ?",
                              (new, device, program))
        c.execute("DELETE FROM media WHERE id = ?", (media_id,))
    return programs
