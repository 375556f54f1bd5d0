-- Progress of imports, written outside the import's own transaction so that
-- it can be polled (and a cancellation asked) while the import runs.
CREATE TABLE import_operation (
    caller           TEXT NOT NULL,
    request_id       TEXT NOT NULL,
    state            TEXT NOT NULL,
    rows_received    BIGINT NOT NULL DEFAULT 0,
    accepted_rows    BIGINT NOT NULL DEFAULT 0,
    rejected_rows    BIGINT NOT NULL DEFAULT 0,
    batch_id         UUID,
    error            TEXT NOT NULL DEFAULT '',
    cancel_requested BOOLEAN NOT NULL DEFAULT false,
    created_at       TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at       TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (caller, request_id)
);
