"""Secure items' rows: the sealed key, IV and withheld piece of each, the key nonces devices
used, and the log of key requests (granted or refused; nothing secret)."""

from ..model.errors import Forbidden, NotFound, Unauthorized

KEY_REQUESTS_SHOWN = 50


class Secure:
    def __init__(self, db):
        self.db = db

    async def insert_secret(self, c, media_id, rec):
        """Seal and store rec's secret part inside c (catalog.insert_media calls it)."""
        sec = rec["secure"]
        await c.execute(
            "INSERT INTO media_secrets (media, encrypted, plain_size, plain_sha256, piece_offset,"
            " piece_length, sealed) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (media_id, int(sec["encrypted"]), sec["plain_size"], sec["plain_sha256"],
             sec["piece_offset"], len(sec["piece"]),
             self.db.sealer.seal(rec["sha256"], sec["key"], sec["iv"], sec["piece"])))

    async def key_grant(self, device, media_id, nonce, nonce_ttl):
        """(stored sha256, sealed blob) for a device entitled to the item; uses the nonce up.
        Raises NotFound, Forbidden or Unauthorized (nonce used before)."""
        now = self.db.clock()
        async with self.db.transaction() as c:
            row = await c.fetchone("SELECT m.sha256, s.sealed FROM media m JOIN media_secrets s"
                                   " ON s.media = m.id WHERE m.id = ?", (media_id,))
            if row is None:
                if await c.fetchone("SELECT 1 FROM media WHERE id = ?", (media_id,)):
                    raise NotFound(f"media {media_id} is not a secure item")
                raise NotFound(f"no media {media_id}")
            entitled = await c.fetchone(
                "SELECT 1 FROM entitlements e JOIN program_items pi ON pi.program = e.program"
                " WHERE e.device = ? AND pi.media = ? LIMIT 1", (device, media_id))
            if entitled is None:
                raise Forbidden(f"media {media_id} is in none of this device's programs")
            await c.execute("DELETE FROM key_nonces WHERE expires <= ?", (now,))
            if await c.execute("INSERT INTO key_nonces (device, nonce, expires) VALUES (?, ?, ?)"
                               " ON CONFLICT DO NOTHING", (device, nonce, now + nonce_ttl)) == 0:
                raise Unauthorized("key request replayed (nonce used before)")
        return row[0], row[1]

    async def log_key_request(self, device, media_id, address, status, why):
        async with self.db.transaction() as c:
            await c.execute("INSERT INTO key_requests (at, device, media, address, status, why)"
                            " VALUES (?, ?, ?, ?, ?, ?)",
                            (self.db.clock(), device, media_id, address, status, why))

    async def prune_key_requests(self, before):
        """Delete key requests recorded before that time; returns how many."""
        async with self.db.transaction() as c:
            return await c.execute("DELETE FROM key_requests WHERE at < ?", (before,))

    async def key_requests(self, limit=KEY_REQUESTS_SHOWN):
        rows = await self.db.fetchall(
            "SELECT id, at, device, media, address, status, why FROM key_requests"
            " ORDER BY id DESC LIMIT ?", (limit,))
        keys = ("id", "at", "device", "media", "address", "status", "why")
        return [dict(zip(keys, r)) for r in rows]
