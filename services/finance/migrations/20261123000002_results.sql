-- Results of the offer of care: monthly ledger amounts by account, structure
-- and activity line. Amounts are integer cents; nothing is updated in place.

-- Local cache of the registry (filieris_runtime::registry_cache owns the SQL
-- that reads and writes it), kept current by the registry's events.
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

-- One import; (caller, request_id) is unique, the response is replayed from
-- the runtime's idempotency table.
CREATE TABLE ledger_batch (
    id            UUID PRIMARY KEY,
    caller        TEXT NOT NULL,
    request_id    TEXT NOT NULL,
    source_system TEXT NOT NULL DEFAULT '',
    total_rows    BIGINT NOT NULL,
    accepted_rows BIGINT NOT NULL,
    rejected_rows BIGINT NOT NULL,
    created_at    TIMESTAMPTZ NOT NULL DEFAULT now(),
    UNIQUE (caller, request_id)
);

-- One stored row of a batch. The region is the structure's at import time.
CREATE TABLE ledger_entry (
    batch_id      UUID NOT NULL REFERENCES ledger_batch (id),
    row_number    INTEGER NOT NULL,
    structure_id  UUID NOT NULL,
    region        SMALLINT NOT NULL,
    account       TEXT NOT NULL,
    account_class SMALLINT NOT NULL CHECK (account_class IN (6, 7)),
    activity_line SMALLINT NOT NULL,
    month         DATE NOT NULL CHECK (extract(day FROM month) = 1),
    amount_cents  BIGINT NOT NULL,
    PRIMARY KEY (batch_id, row_number)
);

CREATE INDEX ledger_entry_month ON ledger_entry (month, structure_id);
CREATE INDEX ledger_entry_structure ON ledger_entry (structure_id, month);
