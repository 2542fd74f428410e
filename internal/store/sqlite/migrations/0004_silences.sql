-- Silences: matchers plus a time range; matching alerts notify no one.
-- Alertmanager-compatible (its API v2 serves them). matchers is the JSON
-- of that API ([{"name","value","isRegex","isEqual"}]). Times are UTC
-- milliseconds since the Unix epoch; expiring a silence sets ends_at (and,
-- when it had not started, starts_at) to the moment, so ends_at >= starts_at.
CREATE TABLE silences (
    id         TEXT    PRIMARY KEY,
    matchers   TEXT    NOT NULL,
    starts_at  INTEGER NOT NULL,
    ends_at    INTEGER NOT NULL CHECK (ends_at >= starts_at),
    created_by TEXT    NOT NULL,
    comment    TEXT    NOT NULL,
    updated_at INTEGER NOT NULL
) STRICT;

-- The alert pipeline loads the silences that have not ended.
CREATE INDEX silences_ends_at ON silences (ends_at);
