-- Channels: where Tocsin sends. settings is the kind's settings as JSON with
-- every secret masked; the secrets themselves are in secrets, sealed with
-- AES-GCM (store.EncodeChannel), so nothing here reveals a token. Times are
-- UTC milliseconds since the Unix epoch.
CREATE TABLE channels (
    id           TEXT    PRIMARY KEY,
    name         TEXT    NOT NULL UNIQUE,
    kind         TEXT    NOT NULL,
    description  TEXT    NOT NULL,
    enabled      INTEGER NOT NULL CHECK (enabled IN (0, 1)),
    timezone     TEXT    NOT NULL,
    settings     TEXT    NOT NULL CHECK (json_valid(settings)),
    secrets      BLOB    NOT NULL,
    daily_report TEXT    NOT NULL CHECK (json_valid(daily_report)),
    card         TEXT             CHECK (card IS NULL OR json_valid(card)),
    created_at   INTEGER NOT NULL,
    updated_at   INTEGER NOT NULL
) STRICT;

-- Server-wide values (the admin token hash, …).
CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
) STRICT;
