-- Each registration or update that checks an owner's sources, so that an owner's checks per
-- hour can be limited on every replica alike (api/owner.py); rows older than an hour are pruned.
CREATE TABLE owner_checks (
    owner INTEGER NOT NULL REFERENCES owners(id) ON DELETE CASCADE,
    at    REAL NOT NULL
);
CREATE INDEX owner_checks_owner_at ON owner_checks(owner, at);
