"""The device hot path in memory: whose each live token is, each device's program and position,
each program's items, and the "now playing" rows not yet written.

GET /next for a device that is playing is then a few dictionary look-ups and no database
round trip. What is held is dropped by the events that change it:
- a change made through any replica or the CLI is a row of the change feed (db/changes.py),
  read every POLL seconds (and at once when the change was made in this process);
- a report taken here moves the device's position here;
- a report taken by another replica is told by the device itself: it asks `GET /next?pos=N`
  with the position its last report's answer gave, and a held position that differs is read
  again. A request without `pos` is always answered from the database.
While the feed cannot be read (the database is down, the loop is stalled) nothing held is used
after TRUST seconds, so a revocation or a disabled device counts on every replica within one
second; a program's items are read again at least every PROGRAM_AGE seconds besides.

"Now playing" (db.activity.handed_out) is written in batches every FLUSH seconds, and a
device's own row before its report, its stream title or a page that shows it.
"""

import asyncio
import contextlib
import logging
import time

from .auth import holder_of, token_hash

log = logging.getLogger("host_server.hotpath")

POLL = 0.25          # s between reads of the change feed
TRUST = 0.8          # s: what is held answers only while the feed was read this recently
PROGRAM_AGE = 30.0   # s: a program's items are read again after this, changes or not
FLUSH = 0.5          # s between writes of the batched "now playing" rows
PRUNE_EVERY = 60.0   # s between deletions of old feed rows and expired tokens held
MAX_TOKENS = 2_000_000   # tokens held at most (beyond: the oldest are dropped)
REFUSAL = "missing, unknown or expired token; log in again"


class HotPath:
    def __init__(self, db, monotonic=time.monotonic):
        self.db = db
        self.monotonic = monotonic
        self.tokens = {}     # token sha256 -> (device, expires)
        self.owned = {}      # device -> [token sha256] held
        self.states = {}     # device -> [program, pos, media, body or None, what it assumed]
        self.programs = {}   # program -> (read at, n_items, {pos: (media, compact, spread)})
        self.pending = {}    # device -> (program, media, pos, first handed, last): to write
        self.gen = 0         # grows at each drop: a read that began before one is not kept
        self.seen = 0        # the change feed's last id read
        self.fresh = None    # monotonic time of the last good read of the feed
        self.hits = self.misses = 0

    # -- what is held, and when it may answer ---------------------------------------------

    def live(self):
        return self.fresh is not None and self.monotonic() - self.fresh < TRUST

    def forget(self, device=None):
        """Drop what is held of one device (None: of every device, and every program)."""
        self.gen += 1
        if device is None:
            self.tokens.clear()
            self.owned.clear()
            self.states.clear()
            self.programs.clear()
            return
        self.states.pop(device, None)
        for sha in self.owned.pop(device, ()):
            self.tokens.pop(sha, None)

    async def start(self):
        self.seen = await self.db.changes.latest()
        self.fresh = self.monotonic()
        self.db.changes.listeners.append(self.forget)

    async def poll(self):
        """Read the change feed once; drop what its new rows name. What is held may then answer
        until TRUST s after this read began: a change committed before that is in what it read,
        so none answers later than TRUST s after the change, however slow the read was."""
        began = self.monotonic()
        rows = await self.db.changes.since(self.seen)
        for seq, device in rows:
            self.forget(device)
            self.seen = seq
        self.fresh = began

    async def run(self):
        """The loop beside the server: the feed every POLL s, the batch every FLUSH s."""
        last_flush = last_prune = self.monotonic()
        while True:
            await asyncio.sleep(POLL)
            now = self.monotonic()
            try:
                await self.poll()
                if now - last_flush >= FLUSH:
                    last_flush = now
                    await self.flush()
                if now - last_prune >= PRUNE_EVERY:
                    last_prune = now
                    await self.db.changes.prune()
                    self._drop_expired()
            except asyncio.CancelledError:
                raise
            except Exception as exc:   # the database is away: nothing held answers meanwhile
                log.warning("reading the change feed failed (%s); answering from the database"
                            " until it works", exc)

    def _drop_expired(self):
        now = self.db.clock()
        for sha in [s for s, (_, expires) in self.tokens.items() if expires <= now]:
            device = self.tokens.pop(sha)[0]
            held = self.owned.get(device)
            if held is not None:
                with contextlib.suppress(ValueError):
                    held.remove(sha)

    # -- tokens ---------------------------------------------------------------------------

    async def device_for(self, token):
        """The device a live token belongs to, or Unauthorized (services.auth.holder_of)."""
        if token and self.live():
            held = self.tokens.get(token_hash(token))
            if held is not None and held[1] > self.db.clock():
                return held[0]
        return await holder_of(token, self._token, REFUSAL)

    async def _token(self, sha):
        gen = self.gen
        found = await self.db.logins.token_entry(sha)
        if found is None:
            return None
        device, expires = found
        if gen == self.gen and len(self.tokens) < MAX_TOKENS:
            self.tokens[sha] = found
            self.owned.setdefault(device, []).append(sha)
        return device

    # -- the current item -----------------------------------------------------------------

    def held(self, device, pos):
        """The device's held state [program, pos, media, body, key] when it is at pos, else
        None."""
        if pos is None or not self.live():
            return None
        state = self.states.get(device)
        if state is None or state[1] != pos:
            return None
        return state

    def body(self, device, pos, down, secrets):
        """GET /next's answer as bytes, held for the device at pos when it was made under the
        same servers down and signing secrets (the very objects: each change makes new ones;
        secrets None: not known now), and less than PROGRAM_AGE ago; handed out. None: not
        held."""
        state = self.held(device, pos)
        if (state is None or state[3] is None or secrets is None or state[4][0] is not down
                or state[4][1] is not secrets
                or self.monotonic() - state[4][2] >= PROGRAM_AGE):
            return None
        self.hits += 1
        self._handed(device, state[0], state[2], state[1])
        return state[3]

    def keep_body(self, device, pos, media, body, down, secrets):
        """Hold the answer just made for the device at pos (when what is held is still that)."""
        state = self.states.get(device)
        if state is not None and state[1] == pos and state[2] == media and secrets is not None:
            state[3], state[4] = body, (down, secrets, self.monotonic())

    async def next_item(self, device, pos=None):
        """(media id, pos, compact, spread) of the device's current item, or None; handed out
        (the "now playing" row is written with the next batch). pos: where the device says it
        is (GET /next?pos=N); None: read from the database."""
        state = self.held(device, pos)
        if state is not None:
            item = await self._item(state[0], state[1])
            if item is not None:
                state[2] = item[0]
                self.hits += 1
                self._handed(device, state[0], item[0], state[1])
                return item[0], state[1], item[1], item[2]
        self.misses += 1
        gen = self.gen
        cur = await self.db.devices.current(device)
        if cur is None:
            self.states.pop(device, None)
            return None
        if gen == self.gen:
            self.states[device] = [cur[0], cur[1], cur[3], None, None]
        self._handed(device, cur[0], cur[3], cur[1])
        return cur[3], cur[1], cur[4], cur[5]

    def _handed(self, device, program, media, pos):
        """The "now playing" row to write: handed out now, or first at its earlier time when the
        row not written yet is of the same item (db.activity keeps that rule for written ones)."""
        now = self.db.clock()
        held = self.pending.get(device)
        first = held[3] if held is not None and held[:3] == (program, media, pos) else now
        self.pending[device] = (program, media, pos, first, now)

    async def _item(self, program, pos):
        held = self.programs.get(program)
        if held is None or self.monotonic() - held[0] >= PROGRAM_AGE:
            gen = self.gen
            n, items = await self.db.devices.program_items(program)
            held = (self.monotonic(), n, items)
            if gen == self.gen:
                self.programs[program] = held
        return held[2].get(pos)

    async def report(self, device, take):
        """await take(handed): a report (or a batch) stored, with the device's "now playing"
        row not written yet (None: none), returning the next pos or a tuple ending with it.
        What is held then moves to that position."""
        gen, handed = self.gen, self.pending.pop(device, None)
        try:
            result = await take(handed)
        except BaseException:
            if handed is not None:   # not written: kept for the batch
                self.pending.setdefault(device, handed)
            raise
        self._reported(device, gen, result[-1] if isinstance(result, tuple) else result)
        return result

    def _reported(self, device, gen, next_pos):
        """A report taken here left the device at next_pos (gen: self.gen before it was
        taken; a drop since then means what is held may be of another program)."""
        state = self.states.get(device)
        if state is None:
            return
        if gen != self.gen:
            self.states.pop(device, None)
        elif state[1] != next_pos:   # the item there is looked up at the next request
            self.states[device] = [state[0], next_pos, None, None, None]

    # -- "now playing" --------------------------------------------------------------------

    def take_pending(self, device):
        """The device's "now playing" row not written yet (to write with its report), or None."""
        return self.pending.pop(device, None)

    async def flush_device(self, device):
        row = self.pending.pop(device, None)
        if row is not None:
            await self.db.activity.write_handed([(device,) + row])

    async def flush(self):
        """Write every "now playing" row held, in one transaction."""
        if not self.pending:
            return
        rows, self.pending = self.pending, {}
        try:
            await self.db.activity.write_handed([(d,) + row for d, row in rows.items()])
        except BaseException:
            for d, row in rows.items():   # kept for the next try (newer ones win)
                self.pending.setdefault(d, row)
            raise
