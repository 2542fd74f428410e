-- Silences: matchers plus a time range; matching alerts notify no one.
-- Alertmanager-compatible (its API v2 serves them). matchers is the JSON
-- of that API ([{"name","value","isRegex","isEqual"}]). Expiring a silence
-- sets ends_at (and, when it had not started, starts_at) to the moment, so
-- ends_at >= starts_at.
CREATE TABLE silences (
    id         text        PRIMARY KEY,
    matchers   jsonb       NOT NULL,
    starts_at  timestamptz NOT NULL,
    ends_at    timestamptz NOT NULL CHECK (ends_at >= starts_at),
    created_by text        NOT NULL,
    comment    text        NOT NULL,
    updated_at timestamptz NOT NULL
);

-- The alert pipeline loads the silences that have not ended.
CREATE INDEX silences_ends_at ON silences (ends_at);
