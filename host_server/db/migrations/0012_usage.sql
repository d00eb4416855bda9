-- Issue 17, usage statements. A report keeps the owner account of its media as it was when the
-- report was made (NULL: the operator's media), so that an owner's statement keeps the plays of
-- an item they later removed, and an id SQLite gives again to a new item cannot mix two owners.
ALTER TABLE reports ADD COLUMN owner_account INTEGER;
UPDATE reports SET owner_account = (SELECT owner_account FROM media WHERE media.id = reports.media);
CREATE INDEX reports_owner_at ON reports(owner_account, at);
CREATE INDEX reports_at ON reports(at);

-- What pruned reports said, per UTC day, owner account (0: none), media and file server
-- (model/usage.py says how a report counts): rolled up in the transaction that prunes them, so
-- that the rollup and the live reports together always equal every report made.
CREATE TABLE usage_daily (
    day            TEXT NOT NULL,       -- YYYY-MM-DD, UTC
    owner_account  INTEGER NOT NULL,
    media          INTEGER NOT NULL,
    server         TEXT NOT NULL,       -- http(s)://host[:port]; '' none
    plays          INTEGER NOT NULL,
    failed         INTEGER NOT NULL,
    bytes          INTEGER NOT NULL,
    source_errors  INTEGER NOT NULL,
    failovers_away INTEGER NOT NULL,
    failovers_onto INTEGER NOT NULL,
    PRIMARY KEY (owner_account, day, media, server)
) WITHOUT ROWID;

-- The devices behind each usage_daily row: distinct devices over days, items or servers are
-- counted from these, not summed.
CREATE TABLE usage_devices (
    day           TEXT NOT NULL,
    owner_account INTEGER NOT NULL,
    media         INTEGER NOT NULL,
    server        TEXT NOT NULL,
    device        TEXT NOT NULL,
    PRIMARY KEY (owner_account, day, media, server, device)
) WITHOUT ROWID;
