-- Issue 18, the hot path in memory: each replica keeps devices' tokens and current items in
-- memory (services/hotpath.py) and reads this feed of what changed them every fraction of a
-- second. A row is written inside the write transaction that made the change (db/changes.py),
-- so it is seen exactly when the change is; device NULL: anything may have changed (the
-- catalog, a program, a weight). Rows are written only in exclusive write transactions, which
-- are serial on both engines, so ids grow in commit order. Kept a few minutes, then deleted.
CREATE TABLE changes (
    id INTEGER PRIMARY KEY,
    device TEXT,
    at REAL NOT NULL
);
