-- The alert pipeline: alerts by fingerprint, their timeline, aggregation
-- groups with their timers, and the outbox of deliveries with the budget
-- each channel has spent. Written by store.Pipeline, which both backends
-- share; times are UTC milliseconds since the Unix epoch; fingerprints are
-- the 64-bit label hash stored as a signed integer.
-- Alerts are kept in arrival order (seq) and found by fingerprint: a batch
-- of new alerts then appends to the table instead of writing pages all over
-- it, as keying rows by a hash would.
CREATE TABLE alerts (
    seq           INTEGER PRIMARY KEY,
    fingerprint   INTEGER NOT NULL UNIQUE,
    labels        TEXT    NOT NULL,
    annotations   TEXT    NOT NULL,
    starts_at     INTEGER NOT NULL,
    -- ends_at is when the alert resolves: the sender's endsAt, or the
    -- resolve timeout after the last time it was received; ends_set tells
    -- which.
    ends_at       INTEGER NOT NULL,
    ends_set      INTEGER NOT NULL,
    generator_url TEXT    NOT NULL,
    source        TEXT    NOT NULL,
    severity      TEXT    NOT NULL,
    state         TEXT    NOT NULL,
    state_by      TEXT    NOT NULL,
    state_at      INTEGER NOT NULL,
    received_at   INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL
) STRICT;

CREATE INDEX alerts_received ON alerts (received_at, fingerprint);

CREATE TABLE alert_events (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    fingerprint INTEGER NOT NULL,
    at          INTEGER NOT NULL,
    kind        TEXT    NOT NULL,
    actor       TEXT    NOT NULL,
    detail      TEXT    NOT NULL
) STRICT;

CREATE INDEX alert_events_fingerprint ON alert_events (fingerprint, id);

CREATE TABLE alert_groups (
    key        TEXT    PRIMARY KEY,
    policy_id  TEXT    NOT NULL,
    labels     TEXT    NOT NULL,
    state      TEXT    NOT NULL,
    next_check INTEGER NOT NULL
) STRICT;

CREATE INDEX alert_groups_next_check ON alert_groups (next_check);

CREATE TABLE alert_group_members (
    group_key TEXT    NOT NULL,
    alert_seq INTEGER NOT NULL,
    PRIMARY KEY (group_key, alert_seq)
) STRICT, WITHOUT ROWID;

CREATE TABLE deliveries (
    id                 TEXT    PRIMARY KEY,
    channel_id         TEXT    NOT NULL,
    kind               TEXT    NOT NULL,
    group_key          TEXT    NOT NULL,
    policy_id          TEXT    NOT NULL,
    status             TEXT    NOT NULL,
    digest_id          TEXT    NOT NULL,
    content            TEXT    NOT NULL,
    alert_count        INTEGER NOT NULL,
    created_at         INTEGER NOT NULL,
    next_attempt_at    INTEGER NOT NULL,
    attempts           INTEGER NOT NULL,
    parts_sent         INTEGER NOT NULL,
    sent_at            INTEGER NOT NULL,
    last_code          TEXT    NOT NULL,
    last_platform_code INTEGER NOT NULL,
    last_message       TEXT    NOT NULL,
    notes              TEXT    NOT NULL
) STRICT;

CREATE INDEX deliveries_queue ON deliveries (channel_id, next_attempt_at) WHERE status IN ('queued', 'sending');
CREATE INDEX deliveries_channel ON deliveries (channel_id, id);

CREATE TABLE delivery_alerts (
    delivery_id TEXT    NOT NULL,
    fingerprint INTEGER NOT NULL,
    PRIMARY KEY (delivery_id, fingerprint)
) STRICT, WITHOUT ROWID;

CREATE INDEX delivery_alerts_fingerprint ON delivery_alerts (fingerprint);

CREATE TABLE delivery_attempts (
    delivery_id   TEXT    NOT NULL,
    n             INTEGER NOT NULL,
    at            INTEGER NOT NULL,
    result        TEXT    NOT NULL,
    code          TEXT    NOT NULL,
    platform_code INTEGER NOT NULL,
    message       TEXT    NOT NULL,
    parts         INTEGER NOT NULL,
    PRIMARY KEY (delivery_id, n)
) STRICT, WITHOUT ROWID;

-- Budget spent: one row per platform message sent or about to be sent,
-- written before the send so a crash never forgets a message the platform
-- may have counted.
CREATE TABLE channel_sends (
    channel_id TEXT    NOT NULL,
    at         INTEGER NOT NULL
) STRICT;

CREATE INDEX channel_sends_channel ON channel_sends (channel_id, at);

-- A channel the platform banned stays paused until then.
CREATE TABLE channel_pauses (
    channel_id TEXT    PRIMARY KEY,
    until_at   INTEGER NOT NULL,
    reason     TEXT    NOT NULL
) STRICT;
