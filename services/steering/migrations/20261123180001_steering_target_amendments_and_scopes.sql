-- Target amendments (avenants) carry why, an optional comment and who
-- recorded them; the reference targets of the signed COG are amendment 0.
-- Values carry the scope they were computed for and the target amendment
-- they were evaluated against (NULL: no target row that year).
ALTER TABLE indicator_target
    ADD COLUMN reason      TEXT NOT NULL DEFAULT 'signed COG (reference table)',
    ADD COLUMN comment     TEXT NOT NULL DEFAULT '',
    ADD COLUMN recorded_by TEXT NOT NULL DEFAULT 'service:steering';

ALTER TABLE indicator_value
    ADD COLUMN scope            TEXT NOT NULL DEFAULT 'national',
    ADD COLUMN target_amendment INTEGER;

CREATE INDEX indicator_value_scope ON indicator_value (year, scope, key, recorded_at DESC, sequence DESC);
