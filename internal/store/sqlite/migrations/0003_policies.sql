-- Notification policies, tried by (position, id). matchers is a JSON list
-- of matcher strings (Alertmanager syntax), group_by a JSON list of label
-- names, mute_time_windows the windows' JSON form; durations are whole
-- milliseconds, times UTC milliseconds since the Unix epoch.
CREATE TABLE policies (
    id                 TEXT    PRIMARY KEY,
    name               TEXT    NOT NULL UNIQUE,
    position           INTEGER NOT NULL,
    matchers           TEXT    NOT NULL CHECK (json_valid(matchers)),
    group_by           TEXT    NOT NULL CHECK (json_valid(group_by)),
    group_wait_ms      INTEGER NOT NULL,
    group_interval_ms  INTEGER NOT NULL,
    repeat_interval_ms INTEGER NOT NULL,
    send_resolved      INTEGER NOT NULL CHECK (send_resolved IN (0, 1)),
    continue_matching  INTEGER NOT NULL CHECK (continue_matching IN (0, 1)),
    mute_time_windows  TEXT    NOT NULL CHECK (json_valid(mute_time_windows)),
    mention            TEXT    NOT NULL,
    created_at         INTEGER NOT NULL,
    updated_at         INTEGER NOT NULL
) STRICT;

-- Routing order, and the keys policy lists page by.
CREATE INDEX policies_position ON policies (position, id);

-- A policy's targets, in the order given (position). Deleting a policy
-- deletes its targets; a channel or contact group a policy targets cannot
-- be deleted (the keys take no ON DELETE action): the store refuses first,
-- naming the policies, and the keys catch what slips past that check.
CREATE TABLE policy_channels (
    policy_id  TEXT    NOT NULL REFERENCES policies (id) ON DELETE CASCADE,
    channel_id TEXT    NOT NULL REFERENCES channels (id),
    position   INTEGER NOT NULL,
    PRIMARY KEY (policy_id, channel_id)
) STRICT, WITHOUT ROWID;

CREATE INDEX policy_channels_channel ON policy_channels (channel_id);

CREATE TABLE policy_contact_groups (
    policy_id TEXT    NOT NULL REFERENCES policies (id) ON DELETE CASCADE,
    group_id  TEXT    NOT NULL REFERENCES contact_groups (id),
    position  INTEGER NOT NULL,
    PRIMARY KEY (policy_id, group_id)
) STRICT, WITHOUT ROWID;

CREATE INDEX policy_contact_groups_group ON policy_contact_groups (group_id);
