-- Records other than acts (ActivityRecordsService). Every table is
-- append-only: recording a key again inserts its next version, and the
-- highest version is the current one, so a published figure can be rebuilt
-- from what was known then. `id` orders the rows as recorded (page keys).
-- Stays hold the patient only as the 32-byte keyed pseudonym.
-- Status codes: 1 PROVISIONAL, 2 IMPUTED, 3 DISPUTED, 4 FINAL.

-- GP-of-record patients notified by the health insurance, per structure and year.
CREATE TABLE gp_patient_count (
    id                BIGSERIAL PRIMARY KEY,
    structure_id      UUID NOT NULL,
    finess            TEXT NOT NULL,
    year              SMALLINT NOT NULL,
    version           INTEGER NOT NULL,
    patients          BIGINT NOT NULL CHECK (patients >= 0),
    status            SMALLINT NOT NULL,
    letter_reference  TEXT NOT NULL DEFAULT '',
    letter_date       DATE,
    imputed_from_year SMALLINT,
    dispute_reference TEXT NOT NULL DEFAULT '',
    source            TEXT NOT NULL,
    caller            TEXT NOT NULL,
    recorded_at       TIMESTAMPTZ NOT NULL DEFAULT now(),
    UNIQUE (structure_id, year, version)
);
CREATE INDEX gp_patient_count_year ON gp_patient_count (year, structure_id, version DESC);

-- Hospital stays; mode 1 HC, 2 HDJ, 3 HAD; scheme as in `act`.
CREATE TABLE hospital_stay (
    id             BIGSERIAL PRIMARY KEY,
    structure_id   UUID NOT NULL,
    finess         TEXT NOT NULL,
    stay_ref       TEXT NOT NULL,
    version        INTEGER NOT NULL,
    mode           SMALLINT NOT NULL,
    unit           TEXT NOT NULL DEFAULT '',
    admission_date DATE NOT NULL,
    discharge_date DATE,
    patient        BYTEA NOT NULL,
    identity_basis SMALLINT NOT NULL,
    scheme         SMALLINT NOT NULL,
    caller         TEXT NOT NULL,
    recorded_at    TIMESTAMPTZ NOT NULL DEFAULT now(),
    UNIQUE (structure_id, stay_ref, version),
    CHECK (discharge_date IS NULL OR discharge_date >= admission_date)
);
CREATE INDEX hospital_stay_dates ON hospital_stay (structure_id, admission_date);

-- Monthly medico-social counts; `month` is the first day of the month.
-- Service 1 EHPAD, 2 résidence autonomie, 3 RHT, 4 résidence service, 5 SSIAD, 6 SAAD, 7 SPASAD.
CREATE TABLE medico_social_count (
    id              BIGSERIAL PRIMARY KEY,
    structure_id    UUID NOT NULL,
    finess          TEXT NOT NULL,
    month           DATE NOT NULL,
    version         INTEGER NOT NULL,
    service         SMALLINT NOT NULL,
    capacity        INTEGER NOT NULL CHECK (capacity >= 0),
    days_realised   BIGINT NOT NULL CHECK (days_realised >= 0),
    hours_delivered DOUBLE PRECISION NOT NULL DEFAULT 0,
    hours_planned   DOUBLE PRECISION NOT NULL DEFAULT 0,
    users_total     INTEGER NOT NULL DEFAULT 0,
    users_mining    INTEGER NOT NULL DEFAULT 0,
    users_other     INTEGER NOT NULL DEFAULT 0,
    entries         INTEGER NOT NULL DEFAULT 0,
    exits           INTEGER NOT NULL DEFAULT 0,
    status          SMALLINT NOT NULL,
    source          TEXT NOT NULL DEFAULT '',
    caller          TEXT NOT NULL,
    recorded_at     TIMESTAMPTZ NOT NULL DEFAULT now(),
    UNIQUE (structure_id, month, version),
    CHECK (extract(day FROM month) = 1)
);
CREATE INDEX medico_social_count_month ON medico_social_count (month, structure_id, version DESC);

-- Trainees hosted; category 1 medical intern, 2 second-cycle medical student, 3 nursing student, 4 other.
CREATE TABLE trainee_placement (
    id             BIGSERIAL PRIMARY KEY,
    structure_id   UUID NOT NULL,
    finess         TEXT NOT NULL,
    trainee_ref    TEXT NOT NULL,
    start_date     DATE NOT NULL,
    version        INTEGER NOT NULL,
    category       SMALLINT NOT NULL,
    end_date       DATE NOT NULL,
    supervisor_ref TEXT NOT NULL DEFAULT '',
    caller         TEXT NOT NULL,
    recorded_at    TIMESTAMPTZ NOT NULL DEFAULT now(),
    UNIQUE (structure_id, trainee_ref, start_date, version),
    CHECK (end_date >= start_date)
);

-- Satisfaction surveys; results in hundredths of a percent; items as
-- [{"code", "label", "result_hundredths", "respondents"}].
CREATE TABLE satisfaction_survey (
    id                        BIGSERIAL PRIMARY KEY,
    structure_id              UUID NOT NULL,
    finess                    TEXT NOT NULL,
    period                    TEXT NOT NULL,
    period_start              DATE NOT NULL,
    period_end                DATE NOT NULL,
    population                SMALLINT NOT NULL,
    instrument                TEXT NOT NULL,
    version                   INTEGER NOT NULL,
    respondents               INTEGER NOT NULL CHECK (respondents >= 0),
    overall_result_hundredths INTEGER NOT NULL CHECK (overall_result_hundredths BETWEEN 0 AND 10000),
    items                     JSONB NOT NULL DEFAULT '[]'::jsonb,
    action_plan_ref           TEXT NOT NULL DEFAULT '',
    caller                    TEXT NOT NULL,
    recorded_at               TIMESTAMPTZ NOT NULL DEFAULT now(),
    UNIQUE (structure_id, period, population, instrument, version)
);

-- Adverse-event declarations; severity 1 EI, 2 EIG; analysis 1 pending, 2 in progress, 3 completed.
CREATE TABLE adverse_event (
    id               BIGSERIAL PRIMARY KEY,
    structure_id     UUID NOT NULL,
    finess           TEXT NOT NULL,
    declaration_ref  TEXT NOT NULL,
    version          INTEGER NOT NULL,
    event_date       DATE NOT NULL,
    declaration_date DATE NOT NULL,
    severity         SMALLINT NOT NULL,
    category         TEXT NOT NULL,
    analysis_status  SMALLINT NOT NULL,
    caller           TEXT NOT NULL,
    recorded_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    UNIQUE (structure_id, declaration_ref, version),
    CHECK (declaration_date >= event_date)
);
CREATE INDEX adverse_event_date ON adverse_event (structure_id, event_date);

-- Yearly consolidation per establishment: written once, never changed.
CREATE TABLE adverse_event_consolidation (
    id                 BIGSERIAL UNIQUE,
    structure_id       UUID NOT NULL,
    year               SMALLINT NOT NULL,
    finess             TEXT NOT NULL,
    consolidation_date DATE NOT NULL,
    caller             TEXT NOT NULL,
    recorded_at        TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (structure_id, year)
);
CREATE TABLE adverse_event_consolidation_count (
    structure_id UUID NOT NULL,
    year         SMALLINT NOT NULL,
    severity     SMALLINT NOT NULL,
    category     TEXT NOT NULL,
    events       BIGINT NOT NULL,
    PRIMARY KEY (structure_id, year, severity, category),
    FOREIGN KEY (structure_id, year) REFERENCES adverse_event_consolidation (structure_id, year)
);
