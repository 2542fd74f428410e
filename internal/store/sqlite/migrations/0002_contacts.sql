-- Contacts: the people Tocsin notifies. An identity a contact does not have
-- is ''. Times are UTC milliseconds since the Unix epoch.
CREATE TABLE contacts (
    id               TEXT    PRIMARY KEY,
    name             TEXT    NOT NULL UNIQUE,
    mobile           TEXT    NOT NULL,
    dingtalk_user_id TEXT    NOT NULL,
    lark_open_id     TEXT    NOT NULL,
    wecom_user_id    TEXT    NOT NULL,
    email            TEXT    NOT NULL,
    created_at       INTEGER NOT NULL,
    updated_at       INTEGER NOT NULL
) STRICT;

-- Contact groups: contacts and channels that policies, rules and
-- escalations address together.
CREATE TABLE contact_groups (
    id          TEXT    PRIMARY KEY,
    name        TEXT    NOT NULL UNIQUE,
    description TEXT    NOT NULL,
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL
) STRICT;

-- A group's members, in the order given (position). Deleting a group
-- deletes its memberships; a contact or channel that a group holds cannot
-- be deleted (the keys take no ON DELETE action): the store refuses first,
-- naming the groups, and the keys catch what slips past that check.
CREATE TABLE contact_group_contacts (
    group_id   TEXT    NOT NULL REFERENCES contact_groups (id) ON DELETE CASCADE,
    contact_id TEXT    NOT NULL REFERENCES contacts (id),
    position   INTEGER NOT NULL,
    PRIMARY KEY (group_id, contact_id)
) STRICT, WITHOUT ROWID;

-- Which groups hold a contact, for refusing its deletion (and for the key
-- check itself, which would otherwise scan the table).
CREATE INDEX contact_group_contacts_contact ON contact_group_contacts (contact_id);

CREATE TABLE contact_group_channels (
    group_id   TEXT    NOT NULL REFERENCES contact_groups (id) ON DELETE CASCADE,
    channel_id TEXT    NOT NULL REFERENCES channels (id),
    position   INTEGER NOT NULL,
    PRIMARY KEY (group_id, channel_id)
) STRICT, WITHOUT ROWID;

CREATE INDEX contact_group_channels_channel ON contact_group_channels (channel_id);
