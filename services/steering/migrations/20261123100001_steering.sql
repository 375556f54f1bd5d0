-- The steering service: indicator definitions as versioned data, targets per
-- year, the append-only history of values, the action calendar and the
-- append-only history of action statuses. Nothing is updated in place.

CREATE FUNCTION steering_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% is append-only', TG_TABLE_NAME;
END $$;

-- One row per indicator key (never renamed once published).
CREATE TABLE indicator (
    key    TEXT PRIMARY KEY,
    cog    TEXT NOT NULL,
    block  TEXT NOT NULL,
    number INTEGER NOT NULL
);

-- Every version of a definition; the highest is current.
CREATE TABLE indicator_version (
    key         TEXT NOT NULL REFERENCES indicator (key),
    version     BIGINT NOT NULL CHECK (version >= 1),
    definition  JSONB NOT NULL,
    reason      TEXT NOT NULL,
    recorded_by TEXT NOT NULL,
    recorded_at TIMESTAMPTZ NOT NULL DEFAULT clock_timestamp(),
    PRIMARY KEY (key, version)
);
CREATE TRIGGER indicator_version_append_only BEFORE UPDATE OR DELETE ON indicator_version
    FOR EACH ROW EXECUTE FUNCTION steering_append_only();

-- Targets per year; an amendment (avenant) appends a higher amendment number.
CREATE TABLE indicator_target (
    key         TEXT NOT NULL REFERENCES indicator (key),
    year        INTEGER NOT NULL,
    amendment   INTEGER NOT NULL DEFAULT 0,
    raw         TEXT NOT NULL,
    rule        JSONB NOT NULL,
    recorded_at TIMESTAMPTZ NOT NULL DEFAULT clock_timestamp(),
    PRIMARY KEY (key, year, amendment)
);
CREATE TRIGGER indicator_target_append_only BEFORE UPDATE OR DELETE ON indicator_target
    FOR EACH ROW EXECUTE FUNCTION steering_append_only();

-- Values, computed or entered: a read "as of" a time takes, per indicator
-- and year, the last row recorded at or before it.
CREATE TABLE indicator_value (
    sequence           BIGSERIAL PRIMARY KEY,
    key                TEXT NOT NULL REFERENCES indicator (key),
    year               INTEGER NOT NULL,
    definition_version BIGINT NOT NULL,
    kind               TEXT NOT NULL CHECK (kind IN ('VALUE', 'NC', 'ND', 'BLANK', 'TEXT')),
    numerator          BIGINT,
    denominator        BIGINT,
    display            TEXT NOT NULL,
    provenance         TEXT NOT NULL CHECK (provenance IN ('FINAL', 'PROVISIONAL', 'NOT_AVAILABLE', 'MANUAL')),
    reason             TEXT NOT NULL DEFAULT '',
    status             TEXT NOT NULL,
    qualifiers         TEXT[] NOT NULL DEFAULT '{}',
    target_raw         TEXT NOT NULL DEFAULT '',
    source             TEXT NOT NULL,
    recorded_by        TEXT NOT NULL,
    recorded_at        TIMESTAMPTZ NOT NULL DEFAULT clock_timestamp(),
    FOREIGN KEY (key, definition_version) REFERENCES indicator_version (key, version),
    CHECK ((kind = 'VALUE') = (numerator IS NOT NULL))
);
CREATE INDEX indicator_value_year ON indicator_value (year, key, recorded_at DESC, sequence DESC);
CREATE TRIGGER indicator_value_append_only BEFORE UPDATE OR DELETE ON indicator_value
    FOR EACH ROW EXECUTE FUNCTION steering_append_only();

-- The actions of Annex 2, as printed (reference data).
CREATE TABLE action (
    code               TEXT PRIMARY KEY,
    axis               INTEGER NOT NULL,
    axis_label         TEXT NOT NULL,
    fiche              INTEGER NOT NULL,
    fiche_label        TEXT NOT NULL,
    engagement         TEXT NOT NULL,
    label_fr           TEXT NOT NULL,
    label_en           TEXT NOT NULL,
    whole_period       BOOLEAN NOT NULL,
    years              INTEGER[] NOT NULL,
    calendar_ambiguous BOOLEAN NOT NULL,
    source_line        INTEGER NOT NULL
);

-- Status changes; the last one is the action's state (TO_COME when none).
CREATE TABLE action_status (
    sequence    BIGSERIAL PRIMARY KEY,
    code        TEXT NOT NULL REFERENCES action (code),
    status      TEXT NOT NULL CHECK (status IN ('TO_COME', 'IN_PROGRESS', 'DONE')),
    owner       TEXT NOT NULL,
    start_date  DATE,
    end_date    DATE,
    comment     TEXT NOT NULL,
    recorded_by TEXT NOT NULL,
    recorded_at TIMESTAMPTZ NOT NULL DEFAULT clock_timestamp()
);
CREATE INDEX action_status_code ON action_status (code, sequence DESC);
CREATE TRIGGER action_status_append_only BEFORE UPDATE OR DELETE ON action_status
    FOR EACH ROW EXECUTE FUNCTION steering_append_only();
