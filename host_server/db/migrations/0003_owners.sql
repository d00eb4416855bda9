-- Owner accounts: media owners register, update and remove their own files (owner API).

CREATE TABLE owners (
    id      INTEGER PRIMARY KEY,
    name    TEXT NOT NULL UNIQUE,
    created REAL NOT NULL,
    revoked REAL                       -- set by the operator; the owner's tokens stop working
);

-- Only the sha256 of a token is stored: the token itself is shown once, at creation.
CREATE TABLE owner_tokens (
    token_sha256 TEXT PRIMARY KEY,
    owner        INTEGER NOT NULL REFERENCES owners(id) ON DELETE CASCADE,
    created      REAL NOT NULL
) WITHOUT ROWID;
CREATE INDEX owner_tokens_owner ON owner_tokens(owner);

-- The account that registered a media record (NULL: added by the operator).
ALTER TABLE media ADD COLUMN owner_account INTEGER REFERENCES owners(id);
CREATE INDEX media_owner_account ON media(owner_account);

-- Removing a media record finds the programs that hold it.
CREATE INDEX program_items_media ON program_items(media);
