-- Delegated missions (missions.md). Partner and enum values are stored as
-- their short codes (CNAM, CPAM62, CDC, ANGDM; HELD, ANNUAL…). No column ever
-- holds a NIR: exchanged records keep a 32-byte keyed pseudonym only.

CREATE TABLE mandate (
    mandate_id  TEXT PRIMARY KEY,
    partner     TEXT NOT NULL,
    form        TEXT NOT NULL,
    title       TEXT NOT NULL,
    scope       TEXT[] NOT NULL DEFAULT '{}',
    start_date  DATE NOT NULL,
    end_date    DATE,
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX mandate_partner ON mandate (partner);

CREATE TABLE convention_period (
    mandate_id      TEXT NOT NULL REFERENCES mandate (mandate_id),
    seq             INT NOT NULL,
    kind            TEXT NOT NULL,
    reference       TEXT NOT NULL,
    signed_date     DATE,
    effective_date  DATE NOT NULL,
    end_date        DATE,
    summary         TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (mandate_id, seq)
);

CREATE TABLE financial_term (
    mandate_id    TEXT NOT NULL REFERENCES mandate (mandate_id),
    seq           INT NOT NULL,
    year          SMALLINT NOT NULL,
    budget_line   TEXT NOT NULL,
    label         TEXT NOT NULL,
    amount_cents  BIGINT NOT NULL,
    PRIMARY KEY (mandate_id, seq)
);

CREATE TABLE meeting_requirement (
    mandate_id        TEXT NOT NULL REFERENCES mandate (mandate_id),
    body              TEXT NOT NULL,
    year              SMALLINT NOT NULL,
    minimum_meetings  INT NOT NULL CHECK (minimum_meetings > 0),
    each_quarter      BOOLEAN NOT NULL DEFAULT false,
    PRIMARY KEY (mandate_id, body, year)
);

CREATE TABLE meeting (
    meeting_id         UUID PRIMARY KEY,
    mandate_id         TEXT NOT NULL REFERENCES mandate (mandate_id),
    body               TEXT NOT NULL,
    status             TEXT NOT NULL,
    planned_date       DATE,
    held_date          DATE,
    minutes_reference  TEXT NOT NULL DEFAULT '',
    agenda             TEXT[] NOT NULL DEFAULT '{}',
    -- held date, else planned date: the order of lists and the year of counts.
    meeting_date       DATE NOT NULL
);
CREATE INDEX meeting_mandate_date ON meeting (mandate_id, meeting_date);

CREATE TABLE deliverable (
    deliverable_id   UUID PRIMARY KEY,
    mandate_id       TEXT NOT NULL REFERENCES mandate (mandate_id),
    partner          TEXT NOT NULL,
    code             TEXT NOT NULL,
    label            TEXT NOT NULL,
    recurrence       TEXT NOT NULL,
    period           TEXT NOT NULL,
    due_date         DATE NOT NULL,
    received_date    DATE,
    doc_uri          TEXT,
    doc_sha256       TEXT,
    doc_media_type   TEXT,
    doc_size_bytes   BIGINT,
    doc_title        TEXT,
    submitted_by     TEXT,
    UNIQUE (mandate_id, code, period)
);
CREATE INDEX deliverable_due ON deliverable (due_date, deliverable_id);

CREATE TABLE exchange_run (
    run_id            UUID PRIMARY KEY,
    dataset           TEXT NOT NULL,
    sender            TEXT NOT NULL,
    recipient         TEXT,
    period            TEXT NOT NULL,
    records_sent      INT NOT NULL,
    records_accepted  INT NOT NULL,
    records_rejected  INT NOT NULL,
    checksum          TEXT NOT NULL,
    -- [{line, field, reason}]: reasons never echo a value.
    rejected_lines    JSONB NOT NULL DEFAULT '[]',
    uploaded_by       TEXT NOT NULL,
    received_at       TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE TABLE exchange_record (
    run_id        UUID NOT NULL REFERENCES exchange_run (run_id),
    line          INT NOT NULL,
    record_type   TEXT NOT NULL,
    person        BYTEA NOT NULL CHECK (length(person) = 32),
    event_date    DATE NOT NULL,
    country_code  TEXT NOT NULL,
    PRIMARY KEY (run_id, line)
);

CREATE TABLE exchange_aggregate (
    run_id        UUID NOT NULL REFERENCES exchange_run (run_id),
    record_type   TEXT NOT NULL,
    country_code  TEXT NOT NULL,
    month         TEXT NOT NULL,
    records       BIGINT NOT NULL,
    PRIMARY KEY (run_id, record_type, country_code, month)
);

CREATE TABLE exchange_delivery (
    run_id       UUID NOT NULL REFERENCES exchange_run (run_id),
    recipient    TEXT NOT NULL,
    routed_at    TIMESTAMPTZ NOT NULL DEFAULT now(),
    received_at  TIMESTAMPTZ,
    received_by  TEXT,
    PRIMARY KEY (run_id, recipient)
);

CREATE TABLE statistic_value (
    partner         TEXT NOT NULL,
    series          TEXT NOT NULL,
    dimension       TEXT NOT NULL,
    period          TEXT NOT NULL,
    version         INT NOT NULL,
    year            SMALLINT NOT NULL,
    value           BIGINT NOT NULL,
    scale           SMALLINT NOT NULL,
    unit            TEXT NOT NULL,
    missing         TEXT NOT NULL DEFAULT '',
    missing_reason  TEXT NOT NULL DEFAULT '',
    recorded_by     TEXT NOT NULL,
    recorded_at     TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (partner, series, dimension, period, version)
);

CREATE TABLE claim (
    claim_id           UUID PRIMARY KEY,
    partner            TEXT NOT NULL,
    received_date      DATE NOT NULL,
    channel            TEXT NOT NULL,
    category           TEXT NOT NULL,
    requester          TEXT NOT NULL,
    partner_reference  TEXT NOT NULL DEFAULT '',
    answered_date      DATE
);
CREATE INDEX claim_received ON claim (received_date, claim_id);

CREATE TABLE fraud_case (
    case_id                 UUID PRIMARY KEY,
    partner                 TEXT NOT NULL,
    detected_date           DATE NOT NULL,
    fraud_type              TEXT NOT NULL,
    amount_at_stake_cents   BIGINT NOT NULL CHECK (amount_at_stake_cents >= 0),
    amount_recovered_cents  BIGINT NOT NULL DEFAULT 0 CHECK (amount_recovered_cents >= 0),
    status                  TEXT NOT NULL,
    closed_date             DATE
);

CREATE TABLE social_action_statement (
    statement_id        UUID PRIMARY KEY,
    year                SMALLINT NOT NULL,
    period              TEXT NOT NULL,
    section             TEXT NOT NULL,
    sub_item            TEXT NOT NULL,
    amount_cents        BIGINT NOT NULL CHECK (amount_cents > 0),
    reference           TEXT NOT NULL,
    budget_line         TEXT NOT NULL,
    finance_movement    TEXT NOT NULL DEFAULT '',
    evaluative_overrun  BOOLEAN NOT NULL DEFAULT false,
    recorded_by         TEXT NOT NULL,
    UNIQUE (year, section, sub_item, period, reference)
);
