-- External data sources: Prometheus-compatible query APIs metric rules may
-- use instead of the embedded store. settings is the source's JSON with
-- every secret masked; the secrets are in secrets, sealed with AES-GCM as
-- channels' are.
CREATE TABLE datasources (
    id         text        PRIMARY KEY,
    name       text        NOT NULL UNIQUE,
    settings   jsonb       NOT NULL,
    secrets    bytea       NOT NULL,
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL
);

-- Alert rules. spec is the rule's JSON but for the columns here. A rule
-- notifies through policy_id when set: the policy it names, or the policy
-- Tocsin keeps for a rule that names channels and contact groups itself.
-- A policy or data source a rule uses cannot be deleted (the keys take no
-- ON DELETE action): the store refuses first, naming the rules.
CREATE TABLE rules (
    id            text        PRIMARY KEY,
    name          text        NOT NULL UNIQUE,
    kind          text        NOT NULL CHECK (kind IN ('metric', 'event')),
    enabled       boolean     NOT NULL,
    spec          jsonb       NOT NULL,
    policy_id     text        REFERENCES policies (id),
    datasource_id text        REFERENCES datasources (id),
    created_at    timestamptz NOT NULL,
    updated_at    timestamptz NOT NULL
);

CREATE INDEX rules_policy ON rules (policy_id) WHERE policy_id IS NOT NULL;
CREATE INDEX rules_datasource ON rules (datasource_id) WHERE datasource_id IS NOT NULL;

-- What the evaluator knows of a rule: its last evaluation (when, how long
-- in nanoseconds: evaluations often take less than a millisecond, health
-- and error) and its active alerts as JSON (ruler's form; NULL for none),
-- so a restart keeps a pending alert's for-timer and a firing alert's
-- start. active is kept byte for byte as the evaluator wrote it.
CREATE TABLE rule_states (
    rule_id      text        PRIMARY KEY REFERENCES rules (id) ON DELETE CASCADE,
    evaluated_at timestamptz NOT NULL,
    duration_ns  bigint      NOT NULL,
    health       text        NOT NULL,
    last_error   text        NOT NULL,
    -- json, not jsonb: jsonb would reorder keys and drop white space.
    active       json
);
