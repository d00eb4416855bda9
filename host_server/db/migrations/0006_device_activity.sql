-- What each device was last handed on GET /next and what it last reported, for the
-- operator's "now playing", "online" and "last error".

CREATE TABLE device_activity (
    device       TEXT PRIMARY KEY REFERENCES devices(id) ON DELETE CASCADE,
    seen         REAL NOT NULL,          -- last GET /next or report
    program      INTEGER,                -- of the item last handed out
    media        INTEGER,
    pos          INTEGER,
    handed_at    REAL,                   -- when that item was handed out
    done         INTEGER NOT NULL DEFAULT 0,  -- 1 once the device reported that item
    reported_at  REAL,                   -- when the device last reported (any item)
    last_status  TEXT,                   -- played / failed, of that report
    error        TEXT,                   -- the last failure: "<url> <reason>" or "failed"
    error_at     REAL
) WITHOUT ROWID;
