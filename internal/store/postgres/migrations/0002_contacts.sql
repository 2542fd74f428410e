-- Contacts: the people Tocsin notifies. An identity a contact does not have
-- is ''.
CREATE TABLE contacts (
    id               text        PRIMARY KEY,
    name             text        NOT NULL UNIQUE,
    mobile           text        NOT NULL,
    dingtalk_user_id text        NOT NULL,
    lark_open_id     text        NOT NULL,
    wecom_user_id    text        NOT NULL,
    email            text        NOT NULL,
    created_at       timestamptz NOT NULL,
    updated_at       timestamptz NOT NULL
);

-- Contact groups: contacts and channels that policies, rules and
-- escalations address together.
CREATE TABLE contact_groups (
    id          text        PRIMARY KEY,
    name        text        NOT NULL UNIQUE,
    description text        NOT NULL,
    created_at  timestamptz NOT NULL,
    updated_at  timestamptz NOT NULL
);

-- A group's members, in the order given (position). Deleting a group
-- deletes its memberships; a contact or channel that a group holds cannot
-- be deleted (the keys take no ON DELETE action): the store refuses first,
-- naming the groups, and the keys catch a membership another transaction
-- commits after that check.
CREATE TABLE contact_group_contacts (
    group_id   text    NOT NULL REFERENCES contact_groups (id) ON DELETE CASCADE,
    contact_id text    NOT NULL REFERENCES contacts (id),
    position   integer NOT NULL,
    PRIMARY KEY (group_id, contact_id)
);

-- Which groups hold a contact, for refusing its deletion (and for the key
-- check itself, which would otherwise scan the table).
CREATE INDEX contact_group_contacts_contact ON contact_group_contacts (contact_id);

CREATE TABLE contact_group_channels (
    group_id   text    NOT NULL REFERENCES contact_groups (id) ON DELETE CASCADE,
    channel_id text    NOT NULL REFERENCES channels (id),
    position   integer NOT NULL,
    PRIMARY KEY (group_id, channel_id)
);

CREATE INDEX contact_group_channels_channel ON contact_group_channels (channel_id);
