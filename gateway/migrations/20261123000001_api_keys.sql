-- API keys of the gateway. Only the SHA-256 of a key is stored: a database
-- dump does not reveal usable credentials.
CREATE TABLE api_key (
    key_hash    text PRIMARY KEY CHECK (key_hash ~ '^[0-9a-f]{64}$'),
    caller      text NOT NULL CHECK (caller <> ''),
    caller_kind text NOT NULL CHECK (caller_kind IN ('partner', 'staff', 'job', 'service')),
    roles       text[] NOT NULL DEFAULT '{}',
    scopes      text[] NOT NULL DEFAULT '{}',
    created_at  timestamptz NOT NULL DEFAULT now(),
    revoked_at  timestamptz
);

CREATE INDEX api_key_caller_idx ON api_key (caller);
