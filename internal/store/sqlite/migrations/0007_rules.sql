-- External data sources: Prometheus-compatible query APIs metric rules may
-- use instead of the embedded store. settings is the source's JSON with
-- every secret masked; the secrets are in secrets, sealed with AES-GCM as
-- channels' are. Times are UTC milliseconds since the Unix epoch.
CREATE TABLE datasources (
    id         TEXT    PRIMARY KEY,
    name       TEXT    NOT NULL UNIQUE,
    settings   TEXT    NOT NULL CHECK (json_valid(settings)),
    secrets    BLOB    NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
) STRICT;

-- Alert rules. spec is the rule's JSON but for the columns here. A rule
-- notifies through policy_id when set: the policy it names, or the policy
-- Tocsin keeps for a rule that names channels and contact groups itself.
-- A policy or data source a rule uses cannot be deleted (the keys take no
-- ON DELETE action): the store refuses first, naming the rules.
CREATE TABLE rules (
    id            TEXT    PRIMARY KEY,
    name          TEXT    NOT NULL UNIQUE,
    kind          TEXT    NOT NULL CHECK (kind IN ('metric', 'event')),
    enabled       INTEGER NOT NULL CHECK (enabled IN (0, 1)),
    spec          TEXT    NOT NULL CHECK (json_valid(spec)),
    policy_id     TEXT             REFERENCES policies (id),
    datasource_id TEXT             REFERENCES datasources (id),
    created_at    INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL
) STRICT;

CREATE INDEX rules_policy ON rules (policy_id) WHERE policy_id IS NOT NULL;
CREATE INDEX rules_datasource ON rules (datasource_id) WHERE datasource_id IS NOT NULL;

-- What the evaluator knows of a rule: its last evaluation (when, how long
-- in nanoseconds: evaluations often take less than a millisecond, health
-- and error) and its active alerts as JSON (ruler's form; NULL for none),
-- so a restart keeps a pending alert's for-timer and a firing alert's
-- start. active is kept byte for byte as the evaluator wrote it.
CREATE TABLE rule_states (
    rule_id      TEXT    PRIMARY KEY REFERENCES rules (id) ON DELETE CASCADE,
    evaluated_at INTEGER NOT NULL,
    duration_ns  INTEGER NOT NULL,
    health       TEXT    NOT NULL,
    last_error   TEXT    NOT NULL,
    active       TEXT             CHECK (json_valid(active))
) STRICT, WITHOUT ROWID;
