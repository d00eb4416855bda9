-- Operator accounts and their dashboard sessions.

CREATE TABLE operators (
    name     TEXT PRIMARY KEY,
    password TEXT NOT NULL,              -- scrypt$<n>$<r>$<p>$<salt hex>$<hash hex>, never the password
    created  REAL NOT NULL
) WITHOUT ROWID;

CREATE TABLE operator_sessions (
    token_sha256 TEXT PRIMARY KEY,       -- the cookie's value is never stored, only its sha256
    operator     TEXT NOT NULL REFERENCES operators(name) ON DELETE CASCADE,
    csrf         TEXT NOT NULL,          -- the token every form of this session must carry
    expires      REAL NOT NULL
) WITHOUT ROWID;
CREATE INDEX operator_sessions_expires ON operator_sessions(expires);
