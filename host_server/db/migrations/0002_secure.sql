-- Secure items: what a verified device needs to play one, sealed under the server's master key
-- (host_server/sealing.py); the key requests of devices, kept for the operator.

CREATE TABLE media_secrets (
    media        INTEGER PRIMARY KEY REFERENCES media(id) ON DELETE CASCADE,
    encrypted    INTEGER NOT NULL,        -- 1: AES-128-CBC; 0: only a piece is withheld
    plain_size   INTEGER NOT NULL,
    plain_sha256 TEXT NOT NULL,
    piece_offset INTEGER NOT NULL,
    piece_length INTEGER NOT NULL,
    sealed       BLOB NOT NULL             -- nonce | AES-256-GCM(master, key|iv|piece)
);

-- A key request's nonce is used once per device; kept as long as a token lives, after which a
-- replayed request fails on its token anyway.
CREATE TABLE key_nonces (
    device  TEXT NOT NULL,
    nonce   TEXT NOT NULL,
    expires REAL NOT NULL,
    PRIMARY KEY (device, nonce)
) WITHOUT ROWID;
CREATE INDEX key_nonces_expires ON key_nonces(expires);

CREATE TABLE key_requests (
    id      INTEGER PRIMARY KEY,
    at      REAL NOT NULL,
    device  TEXT,                          -- null: no valid token
    media   INTEGER,
    address TEXT NOT NULL DEFAULT '',
    status  INTEGER NOT NULL,              -- HTTP status answered
    why     TEXT NOT NULL DEFAULT ''
);
CREATE INDEX key_requests_at ON key_requests(at);
