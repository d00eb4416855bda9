-- Failed logins are also counted per network address, so one address cannot guess at many
-- devices; tokens can be revoked per device (DELETE FROM tokens).
ALTER TABLE login_failures ADD COLUMN address TEXT NOT NULL DEFAULT '';
CREATE INDEX login_failures_address_at ON login_failures(address, at);
