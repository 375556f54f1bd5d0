-- Idempotency-Key of REST POST/PATCH calls: the first response of a
-- (caller, key), replayed on retry. The fingerprint is an HMAC of the method,
-- path and body under the internal key, so a dump does not let anyone test
-- guessed payloads (bodies may carry personal data). Rows expire after 24 h.
CREATE TABLE rest_idempotency (
    caller        text NOT NULL,
    idem_key      text NOT NULL,
    fingerprint   bytea NOT NULL,
    state         text NOT NULL CHECK (state IN ('in_progress', 'completed')),
    -- An in-progress entry whose lease has passed belongs to a crashed call: retryable.
    lease_until   timestamptz NOT NULL,
    status        smallint,
    content_type  text,
    body          bytea,
    created_at    timestamptz NOT NULL DEFAULT now(),
    expires_at    timestamptz NOT NULL DEFAULT now() + interval '24 hours',
    PRIMARY KEY (caller, idem_key)
);

CREATE INDEX rest_idempotency_expiry ON rest_idempotency (expires_at);

-- What crossed the edge: every write and every refused call (401, 403, 429).
CREATE TABLE audit_event (
    id           bigserial PRIMARY KEY,
    at           timestamptz NOT NULL,
    caller       text NOT NULL,
    caller_kind  text NOT NULL,
    rpc          text NOT NULL,
    resource     text NOT NULL,
    request_id   text NOT NULL,
    http_status  smallint NOT NULL,
    grpc_code    text NOT NULL,
    reason       text NOT NULL
);

CREATE INDEX audit_event_caller ON audit_event (caller, id);
CREATE INDEX audit_event_rpc ON audit_event (rpc, id);
CREATE INDEX audit_event_at ON audit_event (at);

-- Append-only: updates and deletes are refused by the database itself.
CREATE FUNCTION audit_event_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_event is append-only';
END $$;
CREATE TRIGGER audit_event_no_update BEFORE UPDATE OR DELETE ON audit_event
    FOR EACH ROW EXECUTE FUNCTION audit_event_append_only();
CREATE TRIGGER audit_event_no_truncate BEFORE TRUNCATE ON audit_event
    FOR EACH STATEMENT EXECUTE FUNCTION audit_event_append_only();
