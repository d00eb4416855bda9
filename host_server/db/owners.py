"""Owner accounts and the media they register (owner API, operator CLI and dashboard).

Every change here is one write transaction, all-or-nothing like the rest of the database layer.
"""

from ..model.errors import Conflict, Forbidden, NotFound


class Owners:
    def __init__(self, db):
        self.db = db

    # -- accounts --------------------------------------------------------------------------

    async def add(self, name, token_sha256):
        async with self.db.transaction() as c:
            if await c.fetchone("SELECT 1 FROM owners WHERE name = ?", (name,)):
                raise Conflict(f"owner {name!r} already exists")
            now = self.db.clock()
            owner = await c.insert("INSERT INTO owners (name, created) VALUES (?, ?)", (name, now))
            await c.execute("INSERT INTO owner_tokens (token_sha256, owner, created) VALUES (?, ?, ?)",
                            (token_sha256, owner, now))
        return owner

    async def _id(self, c, name):
        row = await c.fetchone("SELECT id FROM owners WHERE name = ?", (name,))
        if row is None:
            raise NotFound(f"no owner {name!r}")
        return row[0]

    async def id_of(self, name):
        """The id of the owner account of that name, or NotFound."""
        return await self._id(self.db, name)

    async def new_token(self, name, token_sha256):
        """Another token for an owner (also lifts a revocation)."""
        async with self.db.transaction() as c:
            owner = await self._id(c, name)
            await c.execute("UPDATE owners SET revoked = NULL WHERE id = ?", (owner,))
            await c.execute("INSERT INTO owner_tokens (token_sha256, owner, created) VALUES (?, ?, ?)",
                            (token_sha256, owner, self.db.clock()))
        return owner

    async def revoke(self, name):
        """Every token of the owner stops working; their media stay. Returns tokens revoked."""
        async with self.db.transaction() as c:
            owner = await self._id(c, name)
            n = await c.execute("DELETE FROM owner_tokens WHERE owner = ?", (owner,))
            await c.execute("UPDATE owners SET revoked = ? WHERE id = ?", (self.db.clock(), owner))
        return n

    async def rename(self, name, new_name):
        async with self.db.transaction() as c:
            owner = await self._id(c, name)
            if await c.fetchone("SELECT 1 FROM owners WHERE name = ?", (new_name,)):
                raise Conflict(f"owner {new_name!r} already exists")
            await c.execute("UPDATE owners SET name = ? WHERE id = ?", (new_name, owner))

    async def remove(self, name):
        """The account and its tokens, once it holds no media (its media are its own to remove,
        or the operator's, first)."""
        async with self.db.transaction() as c:
            owner = await self._id(c, name)
            held = (await c.fetchone("SELECT count(*) FROM media WHERE owner_account = ?",
                                     (owner,)))[0]
            if held:
                raise Conflict(f"owner {name!r} holds {held} media; remove them first, or revoke"
                               " the owner's tokens instead")
            await c.execute("DELETE FROM owner_checks WHERE owner = ?", (owner,))
            await c.execute("DELETE FROM signed_servers WHERE owner = ?", (owner,))
            await c.execute("DELETE FROM server_weights WHERE owner = ?", (owner,))
            await c.execute("DELETE FROM owner_tokens WHERE owner = ?", (owner,))
            await c.execute("DELETE FROM owners WHERE id = ?", (owner,))

    async def for_token(self, token_sha256):
        """(owner id, name) for a live token, or None."""
        return await self.db.fetchone(
            "SELECT o.id, o.name FROM owner_tokens t JOIN owners o ON o.id = t.owner"
            " WHERE t.token_sha256 = ? AND o.revoked IS NULL", (token_sha256,))

    async def list(self):
        """[{id, name, created, revoked, tokens, media}] by name: what the CLI and the
        dashboard both list."""
        rows = await self.db.fetchall(
            "SELECT o.id, o.name, o.created, o.revoked,"
            " (SELECT count(*) FROM owner_tokens WHERE owner = o.id),"
            " (SELECT count(*) FROM media WHERE owner_account = o.id)"
            " FROM owners o ORDER BY o.name, o.id")
        return [{"id": r[0], "name": r[1], "created": r[2], "revoked": r[3], "tokens": r[4],
                 "media": r[5]} for r in rows]

    # -- the owner's quotas ------------------------------------------------------------------

    async def media_count(self, owner):
        return (await self.db.fetchone("SELECT count(*) FROM media WHERE owner_account = ?",
                                       (owner,)))[0]

    async def add_check(self, owner, window, limit):
        """Count a registration or update that checks sources, unless the owner made limit of
        them within the last window seconds: then (count, oldest time) and nothing is counted."""
        now = self.db.clock()
        async with self.db.transaction() as c:
            await c.execute("DELETE FROM owner_checks WHERE owner = ? AND at <= ?", (owner, now - window))
            count, oldest = await c.fetchone(
                "SELECT count(*), min(at) FROM owner_checks WHERE owner = ?", (owner,))
            if count >= limit:
                return count, oldest
            await c.execute("INSERT INTO owner_checks (owner, at) VALUES (?, ?)", (owner, now))
        return None

    # -- the owner's media -------------------------------------------------------------------

    async def check_own(self, owner, media_id, c=None):
        """Raise NotFound / Forbidden unless the media exists and belongs to the owner."""
        row = await (c or self.db).fetchone("SELECT owner_account FROM media WHERE id = ?",
                                            (media_id,))
        if row is None:
            raise NotFound(f"no media {media_id}")
        if row[0] != owner:
            raise Forbidden(f"media {media_id} is not yours")

    async def add_media(self, owner, rec):
        """Store a checked record as the owner's; 409 when they registered that primary already."""
        async with self.db.transaction() as c:
            row = await c.fetchone(
                "SELECT id FROM media WHERE owner_account = ? AND primary_address = ?"
                " AND primary_directory = ? AND file_name = ?",
                (owner, rec["primary_address"], rec["primary_directory"], rec["file_name"]))
            if row is not None:
                raise Conflict(f"already registered as media {row[0]}")
            media_id = await self.db.catalog.insert_media(c, rec, owner)
        return media_id

    async def update_media(self, owner, media_id, rec):
        """Replace the owner's record with rec (catalog.update_media), if it is theirs."""
        async with self.db.transaction() as c:
            await self.check_own(owner, media_id, c)
            await self.db.catalog.update_media(c, media_id, rec)

    async def remove_media(self, owner, media_id):
        """Delete the owner's media (catalog.delete_media); returns the programs that held it."""
        async with self.db.transaction() as c:
            await self.check_own(owner, media_id, c)
            return await self.db.catalog.delete_media(c, media_id)
