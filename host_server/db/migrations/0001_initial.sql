-- Initial schema of the meta server. Times are Unix seconds (REAL).

CREATE TABLE programs (
    id      INTEGER PRIMARY KEY,
    name    TEXT NOT NULL UNIQUE,
    n_items INTEGER NOT NULL DEFAULT 0   -- kept equal to count(program_items) by db.py
);

CREATE TABLE devices (
    id               TEXT PRIMARY KEY,
    name             TEXT NOT NULL DEFAULT '',
    secret           TEXT NOT NULL,     -- HMAC key: must be kept, cannot be hashed
    default_program  INTEGER REFERENCES programs(id) ON DELETE SET NULL,
    selected_program INTEGER REFERENCES programs(id) ON DELETE SET NULL,
    created          REAL NOT NULL
);

CREATE TABLE login_nonces (
    nonce   TEXT PRIMARY KEY,
    device  TEXT NOT NULL,              -- not a foreign key: unknown devices get nonces too
    expires REAL NOT NULL
) WITHOUT ROWID;
CREATE INDEX login_nonces_expires ON login_nonces(expires);

CREATE TABLE tokens (
    token_sha256 TEXT PRIMARY KEY,
    device       TEXT NOT NULL REFERENCES devices(id) ON DELETE CASCADE,
    expires      REAL NOT NULL
) WITHOUT ROWID;
CREATE INDEX tokens_expires ON tokens(expires);

CREATE TABLE login_failures (
    device TEXT NOT NULL,
    at     REAL NOT NULL
);
CREATE INDEX login_failures_device_at ON login_failures(device, at);

-- The seed's 25 fields (alternates in media_alternates), plus size, sha256, type.
CREATE TABLE media (
    id                 INTEGER PRIMARY KEY,
    size               INTEGER NOT NULL CHECK (size >= 0),
    sha256             TEXT NOT NULL CHECK (length(sha256) = 64),
    type               TEXT NOT NULL,
    primary_address    TEXT NOT NULL,
    primary_directory  TEXT NOT NULL,
    file_name          TEXT NOT NULL,
    owner              TEXT NOT NULL DEFAULT '',
    composer           TEXT NOT NULL DEFAULT '',
    copyright_holder   TEXT NOT NULL DEFAULT '',
    cover_address      TEXT NOT NULL DEFAULT '',
    cover_directory    TEXT NOT NULL DEFAULT '',
    cover_name         TEXT NOT NULL DEFAULT '',
    title              TEXT NOT NULL DEFAULT '',
    work               TEXT NOT NULL DEFAULT '',
    performers         TEXT NOT NULL DEFAULT '[]',   -- JSON list of strings
    composers          TEXT NOT NULL DEFAULT '[]',   -- JSON list of strings
    creators           TEXT NOT NULL DEFAULT '[]',   -- JSON list of strings
    info_address       TEXT NOT NULL DEFAULT '',
    info_directory     TEXT NOT NULL DEFAULT '',
    info_name          TEXT NOT NULL DEFAULT '',
    sales_address      TEXT NOT NULL DEFAULT '',
    sales_directory    TEXT NOT NULL DEFAULT '',
    sales_name         TEXT NOT NULL DEFAULT '',
    products_address   TEXT NOT NULL DEFAULT '',
    products_directory TEXT NOT NULL DEFAULT '',
    products_name      TEXT NOT NULL DEFAULT '',
    -- The compact document minus id and pos, built once at write time so that
    -- GET /next is one indexed query and a string join (see db.py).
    compact            TEXT NOT NULL,
    created            REAL NOT NULL
);

CREATE TABLE media_alternates (
    media     INTEGER NOT NULL REFERENCES media(id) ON DELETE CASCADE,
    seq       INTEGER NOT NULL,
    address   TEXT NOT NULL,
    directory TEXT NOT NULL,
    PRIMARY KEY (media, seq)
) WITHOUT ROWID;

CREATE TABLE program_items (
    program INTEGER NOT NULL REFERENCES programs(id) ON DELETE CASCADE,
    pos     INTEGER NOT NULL,
    media   INTEGER NOT NULL REFERENCES media(id),
    PRIMARY KEY (program, pos)
) WITHOUT ROWID;

-- A device may play a program; pos is the device's position in it.
CREATE TABLE entitlements (
    device  TEXT NOT NULL REFERENCES devices(id) ON DELETE CASCADE,
    program INTEGER NOT NULL REFERENCES programs(id) ON DELETE CASCADE,
    pos     INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (device, program)
) WITHOUT ROWID;

CREATE TABLE reports (
    id       INTEGER PRIMARY KEY,
    device   TEXT NOT NULL REFERENCES devices(id) ON DELETE CASCADE,
    program  INTEGER,
    media    INTEGER NOT NULL,
    pos      INTEGER NOT NULL,
    status   TEXT NOT NULL CHECK (status IN ('played', 'failed')),
    source   TEXT,
    bytes    INTEGER NOT NULL,
    ms       INTEGER NOT NULL,
    errors   TEXT NOT NULL DEFAULT '[]',   -- JSON list of [url, reason]
    advanced INTEGER NOT NULL,             -- 1 when this report moved the device on
    at       REAL NOT NULL
);
CREATE INDEX reports_device_id ON reports(device, id);
