"""File servers whose owner requires signed, expiring URLs (table signed_servers, migration 0013).

An owner may require signing on an address their own media name (as primary or alternate), or
that no one's media name yet (a server that checks signatures before any file on it is
registered), unless another owner required it first: the secret is then the one nginx on that server
checks (model/signing.py), for every URL the meta server hands out for the address, whoever's
media it serves. The secret is kept sealed under the master key when the server has one; no list
holds it: only `secrets` (for serving) reads it.
"""

from ..model.errors import Conflict, Forbidden, NotFound
from ..model.sealing import store_secret, usable_secret

KIND = "server"   # the sealing kind of these secrets (model/sealing.py KINDS)


class SignedServers:
    def __init__(self, db):
        self.db = db

    async def _named_by_others_only(self, c, owner, address):
        """Do media name address, none of them the owner's?"""
        rows = await c.fetchall(
            "SELECT owner_account FROM media WHERE primary_address = ? UNION"
            " SELECT m.owner_account FROM media_alternates a JOIN media m ON m.id = a.media"
            " WHERE a.address = ?", (address, address))
        return bool(rows) and owner not in {r[0] for r in rows}

    async def require(self, owner, address, secret):
        """Sign every URL for address with secret from now on (a new secret replaces the
        owner's old one). True when the address was not signed before."""
        async with self.db.transaction() as c:
            row = await c.fetchone("SELECT owner FROM signed_servers WHERE address = ?", (address,))
            if row is not None and row[0] != owner:
                raise Conflict(f"another owner requires signed URLs on {address} already")
            if row is None and await self._named_by_others_only(c, owner, address):
                raise Forbidden(f"others' media name {address}, none of yours: only an owner"
                                " whose media name a server may require signed URLs on it")
            await c.execute("INSERT INTO signed_servers (address, owner, secret, created)"
                            " VALUES (?, ?, ?, ?) ON CONFLICT (address) DO UPDATE SET"
                            " secret = excluded.secret, created = excluded.created",
                            (address, owner, store_secret(self.db.sealer, address, secret, KIND),
                             self.db.clock()))
        return row is None

    async def release(self, address, owner=None):
        """URLs for address are handed out unsigned again. owner: only if it is theirs (None:
        the operator's, any owner's)."""
        async with self.db.transaction() as c:
            row = await c.fetchone("SELECT owner FROM signed_servers WHERE address = ?", (address,))
            if row is None:
                raise NotFound(f"{address} does not require signed URLs")
            if owner is not None and row[0] != owner:
                raise Forbidden(f"another owner requires signed URLs on {address}")
            await c.execute("DELETE FROM signed_servers WHERE address = ?", (address,))

    async def servers_of(self, owner):
        """[{address, signed, since}] of the addresses the owner's media name, and those they
        require signing on, by address: what the owner API lists (never a secret)."""
        rows = await self.db.fetchall(
            "SELECT primary_address FROM media WHERE owner_account = ? UNION"
            " SELECT a.address FROM media_alternates a JOIN media m ON m.id = a.media"
            " WHERE m.owner_account = ? UNION"
            " SELECT address FROM signed_servers WHERE owner = ?", (owner, owner, owner))
        signed = {r[0]: r[1] for r in await self.db.fetchall(
            "SELECT address, created FROM signed_servers WHERE owner = ?", (owner,))}
        return [{"address": a, "signed": a in signed, "since": signed.get(a)}
                for a in sorted(r[0] for r in rows)]

    async def list(self):
        """[{address, owner, since}] of every signed server (the operator's list; no secret)."""
        rows = await self.db.fetchall(
            "SELECT s.address, o.name, s.created FROM signed_servers s"
            " JOIN owners o ON o.id = s.owner ORDER BY s.address")
        return [{"address": r[0], "owner": r[1], "since": r[2]} for r in rows]

    async def secrets(self):
        """{address: secret} of every signed server, opened (raises MasterKeyError when they are
        sealed and this server has no master key, or another)."""
        return {r[0]: usable_secret(self.db.sealer, r[0], r[1], KIND)
                for r in await self.db.fetchall("SELECT address, secret FROM signed_servers")}
