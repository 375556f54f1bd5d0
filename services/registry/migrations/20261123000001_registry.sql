-- The offer-of-care registry. Nothing is ever deleted: every change is a new
-- row in structure_revision; reads "as of" a date pick, per structure, the
-- latest revision effective on or before that date.

CREATE TABLE legal_entity (
    id           UUID PRIMARY KEY,
    finess       TEXT NOT NULL UNIQUE,
    siren        TEXT NOT NULL DEFAULT '',
    display_name TEXT NOT NULL,
    legal_status TEXT NOT NULL DEFAULT '',
    demo         BOOLEAN NOT NULL DEFAULT false,
    sort_key     TEXT NOT NULL,
    search_text  TEXT NOT NULL,
    created_at   TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE TABLE structure (
    id               UUID PRIMARY KEY,
    -- NULL for antennas; a FINESS is never reused by another structure.
    finess           TEXT UNIQUE,
    current_revision BIGINT NOT NULL,
    created_at       TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at       TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE TABLE structure_revision (
    structure_id   UUID NOT NULL REFERENCES structure (id),
    revision       BIGINT NOT NULL,
    effective_date DATE NOT NULL,
    recorded_at    TIMESTAMPTZ NOT NULL DEFAULT now(),
    change_type    TEXT NOT NULL,
    caller         TEXT NOT NULL,
    request_id     TEXT NOT NULL DEFAULT '',
    reason         TEXT NOT NULL DEFAULT '',
    changed_fields TEXT[] NOT NULL DEFAULT '{}',
    -- Projection of the snapshot used by filters and ordering.
    finess          TEXT,
    level           TEXT NOT NULL,
    category        TEXT NOT NULL,
    subtype         TEXT NOT NULL,
    region          TEXT NOT NULL,
    department      TEXT NOT NULL,
    open_date       DATE NOT NULL,
    close_date      DATE,
    closure_type    TEXT NOT NULL DEFAULT '',
    parent_id       UUID,
    legal_entity_id UUID,
    demo            BOOLEAN NOT NULL,
    sort_key        TEXT NOT NULL,
    search_text     TEXT NOT NULL,
    -- The full state (protobuf filieris.registry.v1.Structure, output fields cleared).
    snapshot        BYTEA NOT NULL,
    PRIMARY KEY (structure_id, revision)
);
CREATE INDEX structure_revision_effective ON structure_revision (structure_id, effective_date DESC, revision DESC);
CREATE INDEX structure_revision_sort ON structure_revision (sort_key, structure_id);

CREATE TABLE structure_group (
    code            TEXT PRIMARY KEY,
    display_name    TEXT NOT NULL,
    mode            TEXT NOT NULL,
    rule_categories TEXT[] NOT NULL DEFAULT '{}',
    rule_regions    TEXT[] NOT NULL DEFAULT '{}',
    rule_levels     TEXT[] NOT NULL DEFAULT '{}',
    revision        BIGINT NOT NULL DEFAULT 1,
    created_at      TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE TABLE group_membership (
    id           BIGSERIAL PRIMARY KEY,
    group_code   TEXT NOT NULL REFERENCES structure_group (code),
    structure_id UUID NOT NULL REFERENCES structure (id),
    valid_from   DATE NOT NULL,
    valid_to     DATE,
    CHECK (valid_to IS NULL OR valid_to >= valid_from)
);
CREATE INDEX group_membership_group ON group_membership (group_code, structure_id);
