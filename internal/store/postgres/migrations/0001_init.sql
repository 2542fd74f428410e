-- Channels: where Tocsin sends. settings is the kind's settings with every
-- secret masked; the secrets themselves are in secrets, sealed with AES-GCM
-- (store.EncodeChannel), so nothing here reveals a token. card is json, not
-- jsonb, because it is kept as the client gave it, byte for byte.
CREATE TABLE channels (
    id           text        PRIMARY KEY,
    name         text        NOT NULL UNIQUE,
    kind         text        NOT NULL,
    description  text        NOT NULL,
    enabled      boolean     NOT NULL,
    timezone     text        NOT NULL,
    settings     jsonb       NOT NULL,
    secrets      bytea       NOT NULL,
    daily_report jsonb       NOT NULL,
    card         json,
    created_at   timestamptz NOT NULL,
    updated_at   timestamptz NOT NULL
);

-- Server-wide values (the admin token hash, …).
CREATE TABLE meta (
    key   text PRIMARY KEY,
    value text NOT NULL
);
