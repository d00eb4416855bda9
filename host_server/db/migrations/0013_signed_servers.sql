-- Issue 17, owners control who fetches: a file server whose owner requires signed, expiring
-- URLs (nginx's secure_link; model/signing.py). The meta server signs every source URL it hands
-- out for that address with its secret. The secret is sealed under the master key when the
-- server has one (model/sealing.py, "sealed:" + hex, bound to the address), else kept as given;
-- no list shows it.
CREATE TABLE signed_servers (
    address TEXT PRIMARY KEY,            -- as media records name it: http(s)://host[:port]
    owner   INTEGER NOT NULL REFERENCES owners(id) ON DELETE CASCADE,   -- who required it
    secret  TEXT NOT NULL,
    created REAL NOT NULL
) WITHOUT ROWID;
CREATE INDEX signed_servers_owner ON signed_servers(owner);
