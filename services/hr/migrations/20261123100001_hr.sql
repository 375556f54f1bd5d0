-- HR / GEPP (hr.md). FTE in hundredths (100 = 1.00 FTE), money in cents.
-- Personal rows hold the minimum the indicators need: no name, no NIR.

-- The registry's structures, fed by its events (filieris_runtime::registry_cache).
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

CREATE TABLE job (
    code   TEXT PRIMARY KEY,
    label  TEXT NOT NULL,
    family TEXT NOT NULL CHECK (family IN ('MEDICAL','PARAMEDICAL','MEDICO_SOCIAL','ADMINISTRATIVE','TECHNICAL','MANAGEMENT'))
);

-- Staffing plan: authorised FTE per structure and job, effective-dated; rows add up.
CREATE TABLE position (
    id             UUID PRIMARY KEY,
    finess         TEXT NOT NULL,
    job_code       TEXT NOT NULL REFERENCES job (code),
    fte_hundredths INTEGER NOT NULL CHECK (fte_hundredths > 0),
    effective_from DATE NOT NULL,
    effective_to   DATE CHECK (effective_to IS NULL OR effective_to >= effective_from)
);
CREATE INDEX position_structure_job ON position (finess, job_code);

CREATE TABLE person (
    employee_id   TEXT PRIMARY KEY,
    birth_year    SMALLINT NOT NULL,
    job_code      TEXT NOT NULL REFERENCES job (code),
    status        TEXT NOT NULL,
    manager       BOOLEAN NOT NULL,
    hr_team       BOOLEAN NOT NULL,
    contract_type TEXT NOT NULL CHECK (contract_type IN ('PERMANENT','FIXED_TERM','TRAINEE')),
    start_date    DATE NOT NULL,
    end_date      DATE CHECK (end_date IS NULL OR end_date >= start_date)
);

CREATE TABLE vacancy (
    id             UUID PRIMARY KEY,
    finess         TEXT NOT NULL,
    job_code       TEXT NOT NULL REFERENCES job (code),
    fte_hundredths INTEGER NOT NULL CHECK (fte_hundredths BETWEEN 1 AND 100),
    opened_date    DATE NOT NULL,
    state          TEXT NOT NULL CHECK (state IN ('OPEN','FILLED')),
    medical        BOOLEAN NOT NULL,
    filled_date    DATE,
    employee_id    TEXT REFERENCES person (employee_id)
);
CREATE INDEX vacancy_structure_job ON vacancy (finess, job_code) WHERE state = 'OPEN';

CREATE TABLE assignment (
    id             UUID PRIMARY KEY,
    employee_id    TEXT NOT NULL REFERENCES person (employee_id),
    finess         TEXT NOT NULL,
    fte_hundredths INTEGER NOT NULL CHECK (fte_hundredths BETWEEN 1 AND 100),
    start_date     DATE NOT NULL,
    end_date       DATE CHECK (end_date IS NULL OR end_date >= start_date),
    vacancy_id     UUID REFERENCES vacancy (id)
);
CREATE INDEX assignment_person ON assignment (employee_id);
CREATE INDEX assignment_structure ON assignment (finess);

CREATE TABLE application (
    id            UUID PRIMARY KEY,
    vacancy_id    UUID NOT NULL REFERENCES vacancy (id),
    candidate_ref TEXT NOT NULL,
    channel       TEXT NOT NULL,
    received_date DATE NOT NULL
);
CREATE INDEX application_vacancy ON application (vacancy_id);

-- One payroll import; the response is replayed from the runtime's idempotency table.
CREATE TABLE payroll_batch (
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

-- Stored rows of the batches; amounts add up (a correction is a later row).
CREATE TABLE payroll_entry (
    batch_id        UUID NOT NULL REFERENCES payroll_batch (id),
    row_number      INTEGER NOT NULL,
    month           DATE NOT NULL CHECK (extract(day FROM month) = 1),
    finess          TEXT NOT NULL,
    region          SMALLINT NOT NULL,
    status          TEXT NOT NULL,
    gross_cents     BIGINT NOT NULL,
    employer_cents  BIGINT NOT NULL,
    headcount_paid  INTEGER NOT NULL,
    PRIMARY KEY (batch_id, row_number)
);
CREATE INDEX payroll_entry_month ON payroll_entry (month);

CREATE TABLE training_action (
    id          UUID PRIMARY KEY,
    title       TEXT NOT NULL,
    programme   TEXT NOT NULL,
    action_date DATE NOT NULL,
    hours       INTEGER NOT NULL CHECK (hours >= 0),
    cost_cents  BIGINT NOT NULL CHECK (cost_cents >= 0)
);
CREATE INDEX training_action_date ON training_action (action_date);

CREATE TABLE training_participant (
    action_id   UUID NOT NULL REFERENCES training_action (id),
    employee_id TEXT NOT NULL REFERENCES person (employee_id),
    completed   BOOLEAN NOT NULL,
    PRIMARY KEY (action_id, employee_id)
);

CREATE TABLE appraisal (
    employee_id   TEXT NOT NULL REFERENCES person (employee_id),
    campaign_year SMALLINT NOT NULL,
    held_date     DATE,
    PRIMARY KEY (employee_id, campaign_year)
);

CREATE TABLE absence (
    id           UUID PRIMARY KEY,
    employee_id  TEXT NOT NULL REFERENCES person (employee_id),
    reason       TEXT NOT NULL,
    start_date   DATE NOT NULL,
    end_date     DATE NOT NULL CHECK (end_date >= start_date),
    working_days INTEGER NOT NULL CHECK (working_days > 0)
);
CREATE INDEX absence_start ON absence (start_date);

CREATE TABLE trainee (
    id          UUID PRIMARY KEY,
    trainee_ref TEXT NOT NULL,
    finess      TEXT NOT NULL,
    category    TEXT NOT NULL,
    start_date  DATE NOT NULL,
    end_date    DATE NOT NULL CHECK (end_date >= start_date)
);

CREATE TABLE collective_agreement (
    id                    UUID PRIMARY KEY,
    title                 TEXT NOT NULL,
    kind                  TEXT NOT NULL CHECK (kind IN ('HARMONISATION','OVERHAUL','OTHER')),
    signed_date           DATE NOT NULL,
    didactic_support_date DATE
);

CREATE TABLE yearly_counters (
    year                         SMALLINT PRIMARY KEY,
    signature_events             INTEGER NOT NULL,
    electronic_signatures        INTEGER NOT NULL,
    remote_meetings_with_votes   INTEGER NOT NULL,
    remote_meetings_full_evoting INTEGER NOT NULL,
    disability_diagnostic_date   DATE,
    disability_actions           INTEGER NOT NULL,
    disability_actions_done      INTEGER NOT NULL,
    litigation_hub_date          DATE
);
