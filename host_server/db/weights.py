"""File servers' weights (table server_weights, migration 0014) and each record's stored spread.

An owner's weights apply to the sources of their own media; the operator's (owner 0) to every
record whose owner set none for that server, the operator's own media included. A change of a
weight rewrites, in its transaction, the spread (media.spread) of every record that names the
server; a record's own changes (catalog.insert_media, update_media) rewrite its own, so GET /next
reads a spread that is never behind the weights (model/spread.py says what it does).
"""

from ..model import catalog, spread
from ..model.errors import NotFound, QuotaExceeded

OPERATOR = 0   # the owner column of the operator's weights
_NAMING = ("SELECT id FROM media WHERE (primary_address = ? OR id IN"
           " (SELECT media FROM media_alternates WHERE address = ?))")


class Weights:
    def __init__(self, db):
        self.db = db

    async def set(self, owner, address, weight):
        """Set a server's weight for the owner's media (OPERATOR: everyone's without their own);
        returns how many media records name the server (their order follows at once)."""
        address = catalog.check_address(address, "address")
        weight = spread.check_weight(weight)
        async with self.db.transaction() as c:
            if await c.fetchone("SELECT 1 FROM server_weights WHERE owner = ? AND address = ?",
                                (owner, address)) is None:
                held = (await c.fetchone("SELECT count(*) FROM server_weights WHERE owner = ?",
                                         (owner,)))[0]
                if held >= spread.MAX_OWNER_WEIGHTS:
                    raise QuotaExceeded(f"{held} servers carry a weight already, the most one"
                                        " account may set; remove some first")
            await c.execute("INSERT INTO server_weights (owner, address, weight, set_at)"
                            " VALUES (?, ?, ?, ?) ON CONFLICT (owner, address) DO UPDATE SET"
                            " weight = excluded.weight, set_at = excluded.set_at",
                            (owner, address, weight, self.db.clock()))
            return await self._respread(c, owner, address)

    async def unset(self, owner, address):
        """Remove a weight (the server is back to its default: 1 as a primary, a standby as an
        alternate); returns how many media records name the server. NotFound when none was set."""
        address = catalog.check_address(address, "address")
        async with self.db.transaction() as c:
            if not await c.execute("DELETE FROM server_weights WHERE owner = ? AND address = ?",
                                   (owner, address)):
                raise NotFound(f"no weight is set for {address}"
                               + ("" if owner == OPERATOR else " by you"))
            return await self._respread(c, owner, address)

    async def list(self, owner=None):
        """[{owner, address, weight, set, media}] by owner then address: every weight (owner is
        the owner's name, '' the operator's), or one account's; media counts the records of that
        account (every record, for the operator's) that name the server."""
        sql = ("SELECT coalesce(o.name, ''), w.address, w.weight, w.set_at, w.owner FROM server_weights w"
               " LEFT JOIN owners o ON o.id = w.owner")
        args = ()
        if owner is not None:
            sql += " WHERE w.owner = ?"
            args = (owner,)
        out = []
        for name, address, weight, set_at, account in await self.db.fetchall(
                sql + " ORDER BY w.owner, w.address", args):
            mine = "" if account == OPERATOR else " AND owner_account = ?"
            n = await self.db.fetchone(f"SELECT count(*) FROM ({_NAMING}{mine}) named",
                                       (address, address) + (() if account == OPERATOR else (account,)))
            out.append({"owner": name, "address": address, "weight": weight, "set": set_at,
                        "media": n[0]})
        return out

    async def _respread(self, c, owner, address):
        mine = "" if owner == OPERATOR else " AND owner_account = ?"
        ids = [r[0] for r in await c.fetchall(_NAMING + mine + " ORDER BY id",
                                              (address, address) + (() if owner == OPERATOR else (owner,)))]
        for media_id in ids:
            await self.respread_media(c, media_id)
        return len(ids)

    async def respread_media(self, c, media_id):
        """Rewrite one record's stored spread from its sources and the weights that apply."""
        primary, owner = await c.fetchone(
            "SELECT primary_address, owner_account FROM media WHERE id = ?", (media_id,))
        addresses = [primary] + [r[0] for r in await c.fetchall(
            "SELECT address FROM media_alternates WHERE media = ? ORDER BY seq", (media_id,))]
        weights = {}
        for account, address, weight in await c.fetchall(
                "SELECT owner, address, weight FROM server_weights WHERE owner IN (?, ?) AND"
                " address IN (%s) ORDER BY owner" % ", ".join("?" * len(addresses)),
                [OPERATOR, owner or OPERATOR] + addresses):
            weights[address] = weight   # the owner's (a larger account id) after the operator's
        await c.execute("UPDATE media SET spread = ? WHERE id = ?",
                        (spread.spread_text(addresses, weights.get), media_id))
        await self.db.changes.record(c)
