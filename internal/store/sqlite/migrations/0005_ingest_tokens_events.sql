-- Ingest tokens: what senders use on intake endpoints (POST /api/v1/events,
-- …) and nowhere else. Only the SHA-256 of a token is kept; the token is
-- shown once, when it is created. Times are UTC milliseconds since the
-- Unix epoch.
CREATE TABLE ingest_tokens (
    id         TEXT    PRIMARY KEY,
    name       TEXT    NOT NULL UNIQUE,
    hash       BLOB    NOT NULL UNIQUE CHECK (length(hash) = 32),
    created_at INTEGER NOT NULL
) STRICT;

-- Events: one-off occurrences reported by clouds and systems, in arrival
-- order (ids sort by creation). external_id is the sender's own id ('' when
-- it gave none); content is the event's details as compact JSON text, NULL
-- when there are none; labels is a JSON object. search is the lower-cased
-- text ?q= matches (store.EventSearchText), kept so both backends match
-- alike and no query parses JSON.
CREATE TABLE events (
    id          TEXT    PRIMARY KEY,
    external_id TEXT    NOT NULL,
    source      TEXT    NOT NULL,
    type        TEXT    NOT NULL,
    level       TEXT    NOT NULL,
    resource    TEXT    NOT NULL,
    region      TEXT    NOT NULL,
    occurred_at INTEGER NOT NULL,
    received_at INTEGER NOT NULL,
    content     TEXT             CHECK (content IS NULL OR json_valid(content)),
    labels      TEXT    NOT NULL CHECK (json_valid(labels)),
    search      TEXT    NOT NULL
) STRICT;

-- A sender's id names one event of its source: a retried POST stores
-- nothing new.
CREATE UNIQUE INDEX events_external_id ON events (source, external_id) WHERE external_id <> '';
-- The filters a person uses most: one source, one resource, a time range.
CREATE INDEX events_source ON events (source, id);
CREATE INDEX events_resource ON events (resource, id);
CREATE INDEX events_occurred_at ON events (occurred_at);
