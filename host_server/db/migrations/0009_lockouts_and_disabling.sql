-- Limits a stranger cannot turn against a device (services/auth.py): failed logins count per
-- device *and* address, so guesses from one address never lock the device out at another; the
-- per-address limit spares devices that have logged in from that address before (login_known).
CREATE INDEX login_failures_device_address_at ON login_failures(device, address, at);
CREATE TABLE login_known (
    device  TEXT NOT NULL,
    address TEXT NOT NULL,
    at      REAL NOT NULL,           -- the last good login from there
    PRIMARY KEY (device, address)
);
-- A disabled device gets no login, no next item and no key, at once on every replica: every
-- request's token check reads it (NULL: enabled; else when it was disabled).
ALTER TABLE devices ADD COLUMN disabled REAL;
-- Dashboard sign-ins are limited per address too (anonymous guesses cost scrypt time).
ALTER TABLE operator_sign_in_failures ADD COLUMN address TEXT NOT NULL DEFAULT '';
CREATE INDEX operator_sign_in_failures_address_at ON operator_sign_in_failures(address, at);
