-- Activity of the offer of care. Patients appear only as 32-byte keyed
-- pseudonyms (HMAC-SHA-256); no NIR is ever stored.

-- Local cache of the registry, kept current by the registry's events.
CREATE TABLE structure_cache (
    structure_id UUID PRIMARY KEY,
    finess       TEXT UNIQUE,
    level        TEXT NOT NULL,
    category     TEXT NOT NULL,
    region       SMALLINT NOT NULL,
    parent_id    UUID,
    open_date    DATE NOT NULL,
    close_date   DATE,
    revision     BIGINT NOT NULL,
    updated_at   TIMESTAMPTZ NOT NULL DEFAULT now()
);

-- One import batch; request_id makes a re-sent batch a no-op.
CREATE TABLE act_batch (
    id            UUID PRIMARY KEY,
    caller        TEXT NOT NULL,
    request_id    TEXT NOT NULL,
    source_system TEXT NOT NULL DEFAULT '',
    request_hash  BYTEA NOT NULL,
    total_rows    BIGINT NOT NULL,
    accepted_rows BIGINT NOT NULL,
    rejected_rows BIGINT NOT NULL,
    errors        JSONB NOT NULL DEFAULT '[]'::jsonb,
    created_at    TIMESTAMPTZ NOT NULL DEFAULT now(),
    UNIQUE (caller, request_id)
);

-- Acts: append-only; a void marks the row and keeps it.
-- Codes: line 1 GM, 2 nursing, 3 dental, 4 specialist; scheme 1 mining, 2 other, 3 unknown.
CREATE TABLE act (
    id            BIGSERIAL PRIMARY KEY,
    batch_id      UUID NOT NULL REFERENCES act_batch (id),
    row_number    BIGINT NOT NULL,
    act_date      DATE NOT NULL,
    structure_id  UUID NOT NULL,
    region        SMALLINT NOT NULL,
    line          SMALLINT NOT NULL,
    nomenclature  SMALLINT NOT NULL,
    code          TEXT NOT NULL,
    mode          SMALLINT NOT NULL,
    scheme        SMALLINT NOT NULL,
    patient       BYTEA NOT NULL,
    identity_basis SMALLINT NOT NULL,
    amount_cents  BIGINT NOT NULL,
    source_ref    TEXT NOT NULL DEFAULT '',
    voided_at     TIMESTAMPTZ,
    void_reason   TEXT
);
CREATE INDEX act_structure_date ON act (structure_id, act_date);
CREATE INDEX act_date_line ON act (act_date, line);
-- Acts are named actBatches/{batch}/acts/{row}.
CREATE UNIQUE INDEX act_batch_row ON act (batch_id, row_number);

-- Rollup of acts per month × structure × line × mode × scheme, maintained in
-- the transaction of every import and void.
CREATE TABLE act_month (
    month        DATE NOT NULL,
    structure_id UUID NOT NULL,
    region       SMALLINT NOT NULL,
    line         SMALLINT NOT NULL,
    mode         SMALLINT NOT NULL,
    scheme       SMALLINT NOT NULL,
    acts         BIGINT NOT NULL,
    amount_cents BIGINT NOT NULL,
    PRIMARY KEY (month, structure_id, line, mode, scheme)
);

-- What exact distinct patient counts need: one row per patient × structure ×
-- line × month, with the scheme of the patient's last act in that month.
CREATE TABLE patient_month (
    month        DATE NOT NULL,
    structure_id UUID NOT NULL,
    region       SMALLINT NOT NULL,
    line         SMALLINT NOT NULL,
    patient      BYTEA NOT NULL,
    last_date    DATE NOT NULL,
    last_act     BIGINT NOT NULL,
    last_scheme  SMALLINT NOT NULL,
    acts         BIGINT NOT NULL,
    PRIMARY KEY (line, month, structure_id, patient)
);
