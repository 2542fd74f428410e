-- Ingest tokens: what senders use on intake endpoints (POST /api/v1/events,
-- …) and nowhere else. Only the SHA-256 of a token is kept; the token is
-- shown once, when it is created.
CREATE TABLE ingest_tokens (
    id         text        PRIMARY KEY,
    name       text        NOT NULL UNIQUE,
    hash       bytea       NOT NULL UNIQUE CHECK (octet_length(hash) = 32),
    created_at timestamptz NOT NULL
);

-- Events: one-off occurrences reported by clouds and systems, in arrival
-- order (ids sort by creation). external_id is the sender's own id ('' when
-- it gave none); content is the event's details as JSON text, NULL when
-- there are none (json, not jsonb: it is kept as sent, byte for byte).
-- search is the lower-cased text ?q= matches (store.EventSearchText), kept
-- so both backends match alike and no query parses JSON.
CREATE TABLE events (
    id          text        PRIMARY KEY,
    external_id text        NOT NULL,
    source      text        NOT NULL,
    type        text        NOT NULL,
    level       text        NOT NULL,
    resource    text        NOT NULL,
    region      text        NOT NULL,
    occurred_at timestamptz NOT NULL,
    received_at timestamptz NOT NULL,
    content     json,
    labels      jsonb       NOT NULL,
    search      text        NOT NULL
);

-- A sender's id names one event of its source: a retried POST stores
-- nothing new.
CREATE UNIQUE INDEX events_external_id ON events (source, external_id) WHERE external_id <> '';
-- The filters a person uses most: one source, one resource, a time range.
CREATE INDEX events_source ON events (source, id);
CREATE INDEX events_resource ON events (resource, id);
CREATE INDEX events_occurred_at ON events (occurred_at);
