-- Failed dashboard sign-ins per operator name, in the database (not in a process's memory) so
-- that every meta server replica counts the same ones (dashboard/sessions.py, SignInLimiter).
CREATE TABLE operator_sign_in_failures (
    name TEXT NOT NULL,              -- as typed: unknown names are limited too
    at   REAL NOT NULL
);
CREATE INDEX operator_sign_in_failures_name_at ON operator_sign_in_failures(name, at);
