-- Issue 17, fair load over equal sources: a file server's weight (its capacity relative to the
-- others that serve the same files), as an owner set it for the sources of their own media
-- (owner: their account) or the operator for every record whose owner set none (owner 0: also
-- the operator's own media). model/spread.py says what a weight does.
CREATE TABLE server_weights (
    owner   INTEGER NOT NULL,       -- owner account; 0: the operator's
    address TEXT NOT NULL,          -- http(s)://host[:port], as media records name it
    weight  INTEGER NOT NULL,       -- 1..model.spread.MAX_WEIGHT
    set_at  REAL NOT NULL,
    PRIMARY KEY (owner, address)
) WITHOUT ROWID;

-- Each record's weights, per source in the compact document's order (JSON, 0: a standby), kept
-- up to date by db/weights.py when a weight or the record changes, so that GET /next reads them
-- with the item in the same query (and every replica sees a change at once). NULL: the sources
-- are handed out as registered.
ALTER TABLE media ADD COLUMN spread TEXT;
