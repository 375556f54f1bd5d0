-- The COG budget funds. A line's position is derived from the append-only
-- journal `movement`; nothing is updated in place.

-- Lines of a fund year, from the COG tables (leaves and subtotals).
CREATE TABLE budget_line (
    fund           TEXT NOT NULL,
    year           SMALLINT NOT NULL,
    code           TEXT NOT NULL,
    parent_code    TEXT NOT NULL DEFAULT '',
    section        TEXT NOT NULL,
    ordinal        INTEGER NOT NULL,
    label          TEXT NOT NULL,
    label_en       TEXT NOT NULL,
    nature         TEXT NOT NULL CHECK (nature IN ('LIMITATIVE', 'EVALUATIVE', 'RESERVE', 'SUBTOTAL')),
    transfer_group TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (fund, year, code)
);

CREATE TABLE transfer (
    id              UUID PRIMARY KEY,
    fund            TEXT NOT NULL,
    year            SMALLINT NOT NULL,
    from_code       TEXT NOT NULL,
    to_code         TEXT NOT NULL,
    amount_cents    BIGINT NOT NULL CHECK (amount_cents > 0),
    transfer_date   DATE NOT NULL,
    effective_date  DATE,
    state           TEXT NOT NULL,
    rule            TEXT NOT NULL,
    reason          TEXT NOT NULL,
    vote_ref        TEXT,
    vote_date       DATE,
    ministries_kind TEXT,
    ministries_ref  TEXT,
    ministries_date DATE,
    tags            TEXT[] NOT NULL DEFAULT '{}',
    requested_by    TEXT NOT NULL,
    created_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    FOREIGN KEY (fund, year, from_code) REFERENCES budget_line (fund, year, code),
    FOREIGN KEY (fund, year, to_code) REFERENCES budget_line (fund, year, code)
);
CREATE INDEX transfer_fund_year ON transfer (fund, year, created_at DESC, id);

-- The journal. Budget kinds carry a signed amount on the authorised credits;
-- COMMITMENT, COMMITMENT_RELEASE and EXECUTION carry the (positive) amount spent.
CREATE TABLE movement (
    id              BIGSERIAL PRIMARY KEY,
    fund            TEXT NOT NULL,
    year            SMALLINT NOT NULL,
    code            TEXT NOT NULL,
    kind            TEXT NOT NULL CHECK (kind IN ('BASE', 'BUDGET_CHANGE', 'TRANSFER_OUT', 'TRANSFER_IN', 'CARRY_IN', 'UPLIFT',
                                                   'INDEXATION', 'CANCELLATION', 'COMMITMENT', 'COMMITMENT_RELEASE', 'EXECUTION')),
    amount_cents    BIGINT NOT NULL,
    effective_date  DATE NOT NULL,
    rule            TEXT NOT NULL,
    authority_kind  TEXT NOT NULL,
    authority_ref   TEXT NOT NULL DEFAULT '',
    authority_date  DATE,
    reason          TEXT NOT NULL,
    recorded_by     TEXT NOT NULL,
    request_id      TEXT NOT NULL DEFAULT '',
    tags            TEXT[] NOT NULL DEFAULT '{}',
    overrun_cents   BIGINT NOT NULL DEFAULT 0,
    commitment_id   BIGINT REFERENCES movement (id),
    transfer_id     UUID REFERENCES transfer (id),
    origin          TEXT NOT NULL DEFAULT '',
    recorded_at     TIMESTAMPTZ NOT NULL DEFAULT now(),
    FOREIGN KEY (fund, year, code) REFERENCES budget_line (fund, year, code)
);
CREATE INDEX movement_line ON movement (fund, year, code, kind);
-- The COG table amount is loaded once per line.
CREATE UNIQUE INDEX movement_one_base ON movement (fund, year, code) WHERE kind = 'BASE';

CREATE FUNCTION movement_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'the budget journal is append-only: record a new movement instead';
END $$;
CREATE TRIGGER movement_no_update BEFORE UPDATE OR DELETE ON movement
    FOR EACH ROW EXECUTE FUNCTION movement_append_only();

-- Notifications owed to the CGEFi and the ministries after a transfer between
-- groups (R03): due 15 calendar days after the transfer.
CREATE TABLE notification (
    id          UUID PRIMARY KEY,
    transfer_id UUID NOT NULL REFERENCES transfer (id),
    fund        TEXT NOT NULL,
    year        SMALLINT NOT NULL,
    recipient   TEXT NOT NULL,
    due_date    DATE NOT NULL,
    sent_date   DATE,
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX notification_fund_year ON notification (fund, year, due_date, id);

-- Year-end closes (long-running operations), one per fund year.
CREATE TABLE year_close (
    fund        TEXT NOT NULL,
    year        SMALLINT NOT NULL,
    state       TEXT NOT NULL,
    lines_done  INTEGER NOT NULL DEFAULT 0,
    lines_total INTEGER NOT NULL DEFAULT 0,
    statement   JSONB NOT NULL DEFAULT '[]'::jsonb,
    error       TEXT NOT NULL DEFAULT '',
    started_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    finished_at TIMESTAMPTZ,
    PRIMARY KEY (fund, year)
);

-- BNGA own revenue realised (append-only) and the COG estimates per account.
-- The reuse table itself (accounts and percentages) is reference data in
-- services/finance/data/revenue_reuse_accounts.csv.
CREATE TABLE revenue (
    id           BIGSERIAL PRIMARY KEY,
    year         SMALLINT NOT NULL,
    account      TEXT NOT NULL,
    amount_cents BIGINT NOT NULL CHECK (amount_cents > 0),
    revenue_date DATE NOT NULL,
    reason       TEXT NOT NULL,
    recorded_by  TEXT NOT NULL,
    recorded_at  TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX revenue_year ON revenue (year, account);
CREATE TABLE revenue_estimate (
    year         SMALLINT NOT NULL,
    account      TEXT NOT NULL,
    amount_cents BIGINT NOT NULL CHECK (amount_cents >= 0),
    set_by       TEXT NOT NULL,
    set_at       TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (year, account)
);
-- One revenue-reuse run per year; its answer is kept so a re-run returns it.
CREATE TABLE revenue_reuse_run (
    year     SMALLINT PRIMARY KEY,
    response BYTEA NOT NULL,
    run_at   TIMESTAMPTZ NOT NULL DEFAULT now()
);

-- Inflation excluding tobacco per year (R14), in basis points: the forecast,
-- then the actual rate when INSEE publishes it.
CREATE TABLE inflation_rate (
    year          SMALLINT PRIMARY KEY,
    forecast_bp   INTEGER NOT NULL,
    actual_bp     INTEGER,
    source        TEXT NOT NULL,
    set_by        TEXT NOT NULL,
    set_at        TIMESTAMPTZ NOT NULL DEFAULT now()
);
-- One indexation per fund year; its computation is kept so a re-run returns it.
CREATE TABLE indexation_run (
    fund     TEXT NOT NULL,
    year     SMALLINT NOT NULL,
    response BYTEA NOT NULL,
    run_at   TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (fund, year)
);
