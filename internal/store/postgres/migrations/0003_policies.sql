-- Notification policies, tried by (position, id). matchers is a JSON list
-- of matcher strings (Alertmanager syntax), group_by a JSON list of label
-- names, mute_time_windows the windows' JSON form; durations are whole
-- milliseconds.
CREATE TABLE policies (
    id                 text        PRIMARY KEY,
    name               text        NOT NULL UNIQUE,
    position           bigint      NOT NULL,
    matchers           jsonb       NOT NULL,
    group_by           jsonb       NOT NULL,
    group_wait_ms      bigint      NOT NULL,
    group_interval_ms  bigint      NOT NULL,
    repeat_interval_ms bigint      NOT NULL,
    send_resolved      boolean     NOT NULL,
    continue_matching  boolean     NOT NULL,
    mute_time_windows  jsonb       NOT NULL,
    mention            text        NOT NULL,
    created_at         timestamptz NOT NULL,
    updated_at         timestamptz NOT NULL
);

-- Routing order, and the keys policy lists page by.
CREATE INDEX policies_position ON policies (position, id);

-- A policy's targets, in the order given (position). Deleting a policy
-- deletes its targets; a channel or contact group a policy targets cannot
-- be deleted (the keys take no ON DELETE action): the store refuses first,
-- naming the policies, and the keys catch a target another transaction
-- commits after that check.
CREATE TABLE policy_channels (
    policy_id  text    NOT NULL REFERENCES policies (id) ON DELETE CASCADE,
    channel_id text    NOT NULL REFERENCES channels (id),
    position   integer NOT NULL,
    PRIMARY KEY (policy_id, channel_id)
);

CREATE INDEX policy_channels_channel ON policy_channels (channel_id);

CREATE TABLE policy_contact_groups (
    policy_id text    NOT NULL REFERENCES policies (id) ON DELETE CASCADE,
    group_id  text    NOT NULL REFERENCES contact_groups (id),
    position  integer NOT NULL,
    PRIMARY KEY (policy_id, group_id)
);

CREATE INDEX policy_contact_groups_group ON policy_contact_groups (group_id);
