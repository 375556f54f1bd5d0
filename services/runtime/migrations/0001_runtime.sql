-- Runtime tables present in every service schema (search_path is the service schema).

-- Append-only audit of every write and every refused call.
CREATE TABLE audit_log (
    id          BIGSERIAL PRIMARY KEY,
    at          TIMESTAMPTZ NOT NULL DEFAULT now(),
    caller      TEXT NOT NULL,
    caller_kind TEXT NOT NULL,
    method      TEXT NOT NULL,
    resource    TEXT NOT NULL,
    request_id  TEXT NOT NULL,
    outcome     TEXT NOT NULL,
    detail      TEXT NOT NULL DEFAULT ''
);
CREATE INDEX audit_log_resource ON audit_log (resource, at);
CREATE INDEX audit_log_caller ON audit_log (caller, at);

-- Append-only: updates and deletes are refused by the database itself.
CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_log is append-only';
END $$;
CREATE TRIGGER audit_log_no_update BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_log_append_only();

-- request_id idempotency: the first response of a mutating call, replayed on retry.
CREATE TABLE idempotency (
    method       TEXT NOT NULL,
    request_id   TEXT NOT NULL,
    caller       TEXT NOT NULL,
    request_hash BYTEA NOT NULL,
    response     BYTEA NOT NULL,
    created_at   TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (method, caller, request_id)
);
CREATE INDEX idempotency_created ON idempotency (created_at);

-- Change feed and outbox: one row per committed change, in commit order.
CREATE TABLE change_log (
    sequence    BIGSERIAL PRIMARY KEY,
    resource    TEXT NOT NULL,
    change_type TEXT NOT NULL,
    revision    BIGINT NOT NULL DEFAULT 0,
    request_id  TEXT NOT NULL DEFAULT '',
    payload     JSONB NOT NULL DEFAULT '{}'::jsonb,
    commit_time TIMESTAMPTZ NOT NULL DEFAULT now(),
    published   BOOLEAN NOT NULL DEFAULT false
);
CREATE INDEX change_log_unpublished ON change_log (sequence) WHERE NOT published;
