-- The alert pipeline: alerts by fingerprint, their timeline, aggregation
-- groups with their timers, and the outbox of deliveries with the budget
-- each channel has spent. Written by store.Pipeline, which both backends
-- share; times are UTC milliseconds since the Unix epoch; fingerprints are
-- the 64-bit label hash stored as a signed integer.
-- Alerts are kept in arrival order (seq) and found by fingerprint.
CREATE TABLE alerts (
    seq           BIGSERIAL PRIMARY KEY,
    fingerprint   BIGINT  NOT NULL UNIQUE,
    labels        TEXT    NOT NULL,
    annotations   TEXT    NOT NULL,
    starts_at     BIGINT  NOT NULL,
    -- ends_at is when the alert resolves: the sender's endsAt, or the
    -- resolve timeout after the last time it was received; ends_set tells
    -- which.
    ends_at       BIGINT  NOT NULL,
    ends_set      BIGINT  NOT NULL,
    generator_url TEXT    NOT NULL,
    source        TEXT    NOT NULL,
    severity      TEXT    NOT NULL,
    state         TEXT    NOT NULL,
    state_by      TEXT    NOT NULL,
    state_at      BIGINT  NOT NULL,
    received_at   BIGINT  NOT NULL,
    updated_at    BIGINT  NOT NULL
);

CREATE INDEX alerts_received ON alerts (received_at, fingerprint);

CREATE TABLE alert_events (
    id          BIGSERIAL PRIMARY KEY,
    fingerprint BIGINT  NOT NULL,
    at          BIGINT  NOT NULL,
    kind        TEXT    NOT NULL,
    actor       TEXT    NOT NULL,
    detail      TEXT    NOT NULL
);

CREATE INDEX alert_events_fingerprint ON alert_events (fingerprint, id);

CREATE TABLE alert_groups (
    key        TEXT    PRIMARY KEY,
    policy_id  TEXT    NOT NULL,
    labels     TEXT    NOT NULL,
    state      TEXT    NOT NULL,
    next_check BIGINT  NOT NULL
);

CREATE INDEX alert_groups_next_check ON alert_groups (next_check);

CREATE TABLE alert_group_members (
    group_key TEXT   NOT NULL,
    alert_seq BIGINT NOT NULL,
    PRIMARY KEY (group_key, alert_seq)
);

CREATE TABLE deliveries (
    id                 TEXT    PRIMARY KEY,
    channel_id         TEXT    NOT NULL,
    kind               TEXT    NOT NULL,
    group_key          TEXT    NOT NULL,
    policy_id          TEXT    NOT NULL,
    status             TEXT    NOT NULL,
    digest_id          TEXT    NOT NULL,
    content            TEXT    NOT NULL,
    alert_count        BIGINT  NOT NULL,
    created_at         BIGINT  NOT NULL,
    next_attempt_at    BIGINT  NOT NULL,
    attempts           BIGINT  NOT NULL,
    parts_sent         BIGINT  NOT NULL,
    sent_at            BIGINT  NOT NULL,
    last_code          TEXT    NOT NULL,
    last_platform_code BIGINT  NOT NULL,
    last_message       TEXT    NOT NULL,
    notes              TEXT    NOT NULL
);

CREATE INDEX deliveries_queue ON deliveries (channel_id, next_attempt_at) WHERE status IN ('queued', 'sending');
CREATE INDEX deliveries_channel ON deliveries (channel_id, id);

CREATE TABLE delivery_alerts (
    delivery_id TEXT    NOT NULL,
    fingerprint BIGINT  NOT NULL,
    PRIMARY KEY (delivery_id, fingerprint)
);

CREATE INDEX delivery_alerts_fingerprint ON delivery_alerts (fingerprint);

CREATE TABLE delivery_attempts (
    delivery_id   TEXT    NOT NULL,
    n             BIGINT  NOT NULL,
    at            BIGINT  NOT NULL,
    result        TEXT    NOT NULL,
    code          TEXT    NOT NULL,
    platform_code BIGINT  NOT NULL,
    message       TEXT    NOT NULL,
    parts         BIGINT  NOT NULL,
    PRIMARY KEY (delivery_id, n)
);

-- Budget spent: one row per platform message sent or about to be sent,
-- written before the send so a crash never forgets a message the platform
-- may have counted.
CREATE TABLE channel_sends (
    channel_id TEXT    NOT NULL,
    at         BIGINT  NOT NULL
);

CREATE INDEX channel_sends_channel ON channel_sends (channel_id, at);

-- A channel the platform banned stays paused until then.
CREATE TABLE channel_pauses (
    channel_id TEXT    PRIMARY KEY,
    until_at   BIGINT  NOT NULL,
    reason     TEXT    NOT NULL
);
