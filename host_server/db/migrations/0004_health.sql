-- Health of the file servers the meta server knows (from media records), as last seen by the
-- background probe or by devices' reports. A server absent here has not been checked yet.

CREATE TABLE file_servers (
    address TEXT PRIMARY KEY,          -- as in media records: http(s)://host[:port]
    up      INTEGER NOT NULL,          -- 1 up, 0 down
    since   REAL NOT NULL,             -- when it last went up or down
    why     TEXT NOT NULL DEFAULT '',  -- why it is down (or what last saw it up)
    checked REAL NOT NULL              -- when it was last probed or reported on
) WITHOUT ROWID;
