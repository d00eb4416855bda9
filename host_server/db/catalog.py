"""Media records (the seed's 25 fields, their alternates, the compact document) and programs."""

import json

from ..model import catalog, sealing
from ..model.checks import ID_DIGITS, is_number_text
from ..model.errors import Conflict, Invalid, NotFound


def _column_values(rec):
    """rec's values in catalog.MEDIA_COLUMNS order, lists as JSON text."""
    return [json.dumps(rec[k]) if k in catalog.LIST_FIELDS else rec[k] for k in catalog.MEDIA_COLUMNS]


class Catalog:
    def __init__(self, db):
        self.db = db

    # -- media -----------------------------------------------------------------------------

    async def insert_media(self, c, rec, owner=None):
        """Store a validated record (catalog.validate_media) inside c, as the owner account's
        (None: the operator's); returns its id."""
        values = _column_values(rec)
        cols = ", ".join(catalog.MEDIA_COLUMNS)
        marks = ", ".join("?" * (len(values) + 3))
        media_id = await c.insert(
            f"INSERT INTO media ({cols}, compact, created, owner_account) VALUES ({marks})",
            values + [catalog.compact_json(rec), self.db.clock(), owner])
        await self.replace_alternates(c, media_id, rec["alternates"], first=True)
        await self.db.weights.respread_media(c, media_id)
        if rec.get("secure"):
            if self.db.sealer is None:
                sealing.no_sealer()
            await self.db.secure.insert_secret(c, media_id, rec)
        return media_id

    async def add_media(self, rec):
        async with self.db.transaction() as c:
            return await self.insert_media(c, rec)

    async def update_media(self, c, media_id, rec):
        """Replace the record's fields and alternates with rec (validated, same size and sha256).

        The compact document is rebuilt from rec but keeps keys that only the stored one has
        (e.g. a secure item's "sec"), so an update never strips what another feature put there.
        """
        sets = ", ".join(f"{k} = ?" for k in catalog.MEDIA_COLUMNS)
        old = json.loads((await c.fetchone("SELECT compact FROM media WHERE id = ?", (media_id,)))[0])
        for key in catalog.PLAYBACK_FIELDS:   # rec's own: an update may make them unknown
            old.pop(key, None)
        old.update(json.loads(catalog.compact_json(rec)))
        await c.execute(f"UPDATE media SET {sets}, compact = ? WHERE id = ?",
                        _column_values(rec) + [catalog.dumps(old), media_id])
        await self.db.changes.record(c)
        await self.replace_alternates(c, media_id, rec["alternates"])
        await self.db.weights.respread_media(c, media_id)

    async def replace_alternates(self, c, media_id, alternates, first=False):
        if not first:
            await c.execute("DELETE FROM media_alternates WHERE media = ?", (media_id,))
        await c.executemany(
            "INSERT INTO media_alternates (media, seq, address, directory) VALUES (?, ?, ?, ?)",
            [(media_id, i, a["address"], a["directory"]) for i, a in enumerate(alternates)])

    async def media_record(self, media_id):
        """The full record (catalog.full_record), or NotFound."""
        cols = ", ".join(catalog.MEDIA_COLUMNS)
        row = await self.db.fetchone(f"SELECT {cols} FROM media WHERE id = ?", (media_id,))
        if row is None:
            raise NotFound(f"no media {media_id}")
        rec = dict(zip(catalog.MEDIA_COLUMNS, row))
        for key in catalog.LIST_FIELDS:
            rec[key] = json.loads(rec[key])
        rec["alternates"] = [
            {"address": a, "directory": d} for a, d in await self.db.fetchall(
                "SELECT address, directory FROM media_alternates WHERE media = ? ORDER BY seq",
                (media_id,))]
        return catalog.full_record(media_id, rec)

    async def list_media(self, owner=None):
        """[{id, title, type, size, sha256, src, file_name, alternates}] by id: every
        record, or one owner account's. What the CLI, the dashboard and the owner API list."""
        sql = ("SELECT id, title, type, size, sha256, primary_address, primary_directory, file_name,"
               " (SELECT count(*) FROM media_alternates WHERE media = m.id)"
               " FROM media m")
        args = ()
        if owner is not None:
            sql += " WHERE owner_account = ?"
            args = (owner,)
        rows = await self.db.fetchall(sql + " ORDER BY id", args)
        return [{"id": r[0], "title": r[1], "type": r[2], "size": r[3], "sha256": r[4],
                 "src": catalog.source_url(r[5], r[6], r[7]), "file_name": r[7],
                 "alternates": r[8]} for r in rows]

    async def remove_media(self, media_id):
        """The operator's removal of any media (delete_media); returns the programs that held it."""
        async with self.db.transaction() as c:
            if await c.fetchone("SELECT 1 FROM media WHERE id = ?", (media_id,)) is None:
                raise NotFound(f"no media {media_id}")
            return await self.delete_media(c, media_id)

    async def delete_media(self, c, media_id):
        """Delete the media inside c and take it out of every program without moving any device
        off course (drop_positions). Returns the ids of the programs that held it. Reports keep
        the media id they recorded."""
        programs = [r[0] for r in await c.fetchall(
            "SELECT DISTINCT program FROM program_items WHERE media = ? ORDER BY program",
            (media_id,))]
        for program in programs:
            items = await c.fetchall(
                "SELECT pos, media FROM program_items WHERE program = ? ORDER BY pos", (program,))
            await self.drop_positions(c, program, items, {pos for pos, m in items if m == media_id})
        await c.execute("DELETE FROM media WHERE id = ?", (media_id,))
        await self.db.changes.record(c)
        return programs

    async def drop_positions(self, c, program, items, removed):
        """Rewrite the program's items [(pos, media)] without the positions removed. A device
        whose position was after a removed one moves back by one per removed position before it,
        so it still gets the item it would have got next; a device at a removed item gets the
        one that followed it."""
        kept = [m for pos, m in items if pos not in removed]
        await c.execute("DELETE FROM program_items WHERE program = ?", (program,))
        await self.write_items(c, program, kept)
        await c.execute("UPDATE programs SET n_items = ? WHERE id = ?", (len(kept), program))
        for device, pos in await c.fetchall(
                "SELECT device, pos FROM entitlements WHERE program = ?", (program,)):
            new = pos - sum(1 for r in removed if r < pos)
            if new >= len(kept):
                new = 0
            if new != pos:
                await c.execute("UPDATE entitlements SET pos = ? WHERE device = ? AND program = ?",
                                (new, device, program))

    # -- programs --------------------------------------------------------------------------

    async def insert_program(self, c, name, media_ids):
        if await c.fetchone("SELECT 1 FROM programs WHERE name = ?", (name,)):
            raise Conflict(f"program {name!r} already exists")
        for media_id in media_ids:
            if await c.fetchone("SELECT 1 FROM media WHERE id = ?", (media_id,)) is None:
                raise NotFound(f"no media {media_id}")
        program = await c.insert("INSERT INTO programs (name, n_items) VALUES (?, ?)",
                                 (name, len(media_ids)))
        await self.write_items(c, program, media_ids)
        return program

    async def write_items(self, c, program, media_ids):
        await c.executemany("INSERT INTO program_items (program, pos, media) VALUES (?, ?, ?)",
                            [(program, i, m) for i, m in enumerate(media_ids)])
        await self.db.changes.record(c)

    async def add_program(self, name, media_ids):
        async with self.db.transaction() as c:
            return await self.insert_program(c, name, media_ids)

    async def program_id(self, c, ref):
        """A program by name, or by id when ref is all digits and no program has that name."""
        row = await c.fetchone("SELECT id FROM programs WHERE name = ?", (str(ref),))
        if row is None and is_number_text(str(ref), ID_DIGITS):
            row = await c.fetchone("SELECT id FROM programs WHERE id = ?", (int(ref),))
        if row is None:
            raise NotFound(f"no program {ref!r}")
        return row[0]

    async def list_programs(self):
        """[{id, name, items, titles, devices}] by id: items are media ids in play order,
        titles theirs, devices those entitled. What the CLI and the dashboard both list."""
        items, devices = {}, {}
        for program, media, title in await self.db.fetchall(
                "SELECT pi.program, pi.media, m.title FROM program_items pi"
                " JOIN media m ON m.id = pi.media ORDER BY pi.program, pi.pos"):
            items.setdefault(program, []).append((media, title))
        for program, device in await self.db.fetchall(
                "SELECT program, device FROM entitlements ORDER BY program, device"):
            devices.setdefault(program, []).append(device)
        return [{"id": pid, "name": name, "items": [m for m, _ in items.get(pid, [])],
                 "titles": [t for _, t in items.get(pid, [])], "devices": devices.get(pid, [])}
                for pid, name in await self.db.fetchall("SELECT id, name FROM programs ORDER BY id")]

    async def move_item(self, program, pos, delta):
        """Swap the item at pos with its neighbour pos+delta (delta -1 or +1).

        Devices keep their stored positions: a device moves on to whatever is at its next
        position, as after any change of the program.
        """
        if delta not in (-1, 1):
            raise Invalid("an item moves one place up or down")
        async with self.db.transaction() as c:
            row = await c.fetchone("SELECT n_items FROM programs WHERE id = ?", (program,))
            if row is None:
                raise NotFound(f"no program {program}")
            other = pos + delta
            if not (0 <= pos < row[0] and 0 <= other < row[0]):
                raise Invalid(f"cannot move item {pos + 1} of {row[0]} {'up' if delta < 0 else 'down'}")
            get = "SELECT media FROM program_items WHERE program = ? AND pos = ?"
            a = (await c.fetchone(get, (program, pos)))[0]
            b = (await c.fetchone(get, (program, other)))[0]
            put = "UPDATE program_items SET media = ? WHERE program = ? AND pos = ?"
            await c.execute(put, (b, program, pos))
            await c.execute(put, (a, program, other))
            await self.db.changes.record(c)

    async def _items(self, c, program):
        if await c.fetchone("SELECT 1 FROM programs WHERE id = ?", (program,)) is None:
            raise NotFound(f"no program {program}")
        return await c.fetchall(
            "SELECT pos, media FROM program_items WHERE program = ? ORDER BY pos", (program,))

    async def add_item(self, program, media_id, pos=None):
        """Put the media in the program at pos (0: first; None or past the end: last); returns
        the position it got. Devices keep their stored positions, as when items move."""
        async with self.db.transaction() as c:
            items = await self._items(c, program)
            if await c.fetchone("SELECT 1 FROM media WHERE id = ?", (media_id,)) is None:
                raise NotFound(f"no media {media_id}")
            media = [m for _, m in items]
            pos = len(media) if pos is None or pos > len(media) else pos
            media.insert(pos, media_id)
            await c.execute("DELETE FROM program_items WHERE program = ?", (program,))
            await self.write_items(c, program, media)
            await c.execute("UPDATE programs SET n_items = ? WHERE id = ?", (len(media), program))
        return pos

    async def remove_item(self, program, pos):
        """Take the item at pos out of the program (drop_positions); returns its media id."""
        async with self.db.transaction() as c:
            items = await self._items(c, program)
            if not 0 <= pos < len(items):
                raise Invalid(f"program {program} has no item {pos + 1}")
            await self.drop_positions(c, program, items, {pos})
        return items[pos][1]

    async def rename_program(self, program, name):
        async with self.db.transaction() as c:
            if await c.fetchone("SELECT 1 FROM programs WHERE name = ? AND id != ?", (name, program)):
                raise Conflict(f"program {name!r} already exists")
            if await c.execute("UPDATE programs SET name = ? WHERE id = ?", (name, program)) == 0:
                raise NotFound(f"no program {program}")

    async def remove_program(self, program):
        """The program, its items and entitlements; a device that played it plays none (its
        default or choice falls back to none). Reports keep the program id they recorded."""
        async with self.db.transaction() as c:
            for column in ("default_program", "selected_program"):
                await c.execute(f"UPDATE devices SET {column} = NULL WHERE {column} = ?", (program,))
            await c.execute("DELETE FROM entitlements WHERE program = ?", (program,))
            await c.execute("DELETE FROM program_items WHERE program = ?", (program,))
            if await c.execute("DELETE FROM programs WHERE id = ?", (program,)) == 0:
                raise NotFound(f"no program {program}")
            await self.db.changes.record(c)

    # -- a whole catalog -------------------------------------------------------------------

    async def import_catalog(self, media, programs, devices, new_secret):
        """Store a validated catalog (catalog.validate_catalog) in one transaction."""
        summary = {"media": {}, "programs": {}, "devices": {}}
        async with self.db.transaction() as c:
            for ref, rec in media:
                summary["media"][ref] = await self.insert_media(c, rec)
            for name, refs in programs:
                summary["programs"][name] = await self.insert_program(
                    c, name, [summary["media"][r] for r in refs])
            for dev in devices:
                secret = dev["secret"] or new_secret()
                await self.db.devices.insert(c, dev["id"], dev["name"], secret)
                for name in dev["programs"]:
                    await self.db.devices.entitle(c, dev["id"], summary["programs"][name],
                                                  name == dev["default"])
                summary["devices"][dev["id"]] = secret
        return summary
