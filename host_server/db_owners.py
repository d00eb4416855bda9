"""Queries for owner accounts and the media they register (owner API, operator CLI).

Functions take the Database (db.py) and use its connection and its one write transaction, so
every change here is all-or-nothing like the rest of the database layer.
"""

import json

from . import catalog
from .errors import Conflict, Forbidden, NotFound

# -- accounts ------------------------------------------------------------------------------


async def add_owner(db, name, token_sha256):
    async with db.transaction() as c:
        if await c.fetchone("SELECT 1 FROM owners WHERE name = ?", (name,)):
            raise Conflict(f"owner {name!r} already exists")
        now = db.clock()
        owner = await c.insert("INSERT INTO owners (name, created) VALUES (?, ?)", (name, now))
        await c.execute("INSERT INTO owner_tokens (token_sha256, owner, created) VALUES (?, ?, ?)",
                        (token_sha256, owner, now))
    return owner


async def _owner_id(c, name):
    row = await c.fetchone("SELECT id FROM owners WHERE name = ?", (name,))
    if row is None:
        raise NotFound(f"no owner {name!r}")
    return row[0]


async def new_owner_token(db, name, token_sha256):
    """Another token for an owner (also lifts a revocation)."""
    async with db.transaction() as c:
        owner = await _owner_id(c, name)
        await c.execute("UPDATE owners SET revoked = NULL WHERE id = ?", (owner,))
        await c.execute("INSERT INTO owner_tokens (token_sha256, owner, created) VALUES (?, ?, ?)",
                        (token_sha256, owner, db.clock()))
    return owner


async def revoke_owner(db, name):
    """Every token of the owner stops working; their media stay. Returns tokens revoked."""
    async with db.transaction() as c:
        owner = await _owner_id(c, name)
        n = await c.execute("DELETE FROM owner_tokens WHERE owner = ?", (owner,))
        await c.execute("UPDATE owners SET revoked = ? WHERE id = ?", (db.clock(), owner))
    return n


async def owner_for_token(db, token_sha256):
    """(owner id, name) for a live token, or None."""
    return await db.fetchone(
        "SELECT o.id, o.name FROM owner_tokens t JOIN owners o ON o.id = t.owner"
        " WHERE t.token_sha256 = ? AND o.revoked IS NULL", (token_sha256,))


async def list_owners(db):
    rows = await db.fetchall(
        "SELECT o.id, o.name, o.created, o.revoked,"
        " (SELECT count(*) FROM owner_tokens WHERE owner = o.id),"
        " (SELECT count(*) FROM media WHERE owner_account = o.id)"
        " FROM owners o ORDER BY o.id")
    return [{"id": r[0], "name": r[1], "created": r[2], "revoked": r[3], "tokens": r[4],
             "media": r[5]} for r in rows]


# -- the owner's media -----------------------------------------------------------------------

async def _check_own(c, owner, media_id):
    row = await c.fetchone("SELECT owner_account FROM media WHERE id = ?", (media_id,))
    if row is None:
        raise NotFound(f"no media {media_id}")
    if row[0] != owner:
        raise Forbidden(f"media {media_id} is not yours")


async def check_own(db, owner, media_id):
    """Raise NotFound / Forbidden unless the media exists and belongs to the owner."""
    await _check_own(db, owner, media_id)


async def add_owned_media(db, owner, rec):
    """Store a checked record as the owner's; 409 when they registered that primary already."""
    async with db.transaction() as c:
        row = await c.fetchone(
            "SELECT id FROM media WHERE owner_account = ? AND primary_address = ?"
            " AND primary_directory = ? AND file_name = ?",
            (owner, rec["primary_address"], rec["primary_directory"], rec["file_name"]))
        if row is not None:
            raise Conflict(f"already registered as media {row[0]}")
        media_id = await db._insert_media(c, rec)
        await c.execute("UPDATE media SET owner_account = ? WHERE id = ?", (owner, media_id))
    return media_id


async def owned_media(db, owner):
    rows = await db.fetchall(
        "SELECT id, title, type, size, sha256, primary_address, primary_directory, file_name,"
        " (SELECT count(*) FROM media_alternates WHERE media = m.id)"
        " FROM media m WHERE owner_account = ? ORDER BY id", (owner,))
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
    async with db.transaction() as c:
        await _check_own(c, owner, media_id)
        old = json.loads((await c.fetchone("SELECT compact FROM media WHERE id = ?", (media_id,)))[0])
        old.update(json.loads(catalog.compact_json(rec)))
        compact = json.dumps(old, separators=(",", ":"), ensure_ascii=False)
        await c.execute(f"UPDATE media SET {sets}, compact = ? WHERE id = ?", values + [compact, media_id])
        await c.execute("DELETE FROM media_alternates WHERE media = ?", (media_id,))
        await c.executemany(
            "INSERT INTO media_alternates (media, seq, address, directory) VALUES (?, ?, ?, ?)",
            [(media_id, i, a["address"], a["directory"]) for i, a in enumerate(rec["alternates"])])


async def remove_owned_media(db, owner, media_id):
    """Delete the media and take it out of every program without moving any device off course.

    Each program loses the item's positions; a device whose position was after a removed one
    moves back by one per removed position before it, so it still gets the item it would have
    got next; a device at the removed item gets the one that followed it. Returns the ids of
    the programs that held it. Reports keep the media id they recorded.
    """
    async with db.transaction() as c:
        await _check_own(c, owner, media_id)
        programs = [r[0] for r in await c.fetchall(
            "SELECT DISTINCT program FROM program_items WHERE media = ? ORDER BY program",
            (media_id,))]
        for program in programs:
            items = await c.fetchall("SELECT pos, media FROM program_items WHERE program = ? ORDER BY pos",
                                     (program,))
            removed = [pos for pos, m in items if m == media_id]
            kept = [m for pos, m in items if m != media_id]
            await c.execute("DELETE FROM program_items WHERE program = ?", (program,))
            await c.executemany("INSERT INTO program_items (program, pos, media) VALUES (?, ?, ?)",
                                [(program, i, m) for i, m in enumerate(kept)])
            await c.execute("UPDATE programs SET n_items = ? WHERE id = ?", (len(kept), program))
            for device, pos in await c.fetchall("SELECT device, pos FROM entitlements WHERE program = ?",
                                                (program,)):
                new = pos - sum(1 for r in removed if r < pos)
                if new >= len(kept):
                    new = 0
                if new != pos:
                    await c.execute("UPDATE entitlements SET pos = ? WHERE device = ? AND program = ?",
                                    (new, device, program))
        await c.execute("DELETE FROM media WHERE id = ?", (media_id,))
    return programs
