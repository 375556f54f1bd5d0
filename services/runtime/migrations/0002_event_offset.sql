-- Consumer side of events: how far this service has applied another service's
-- change feed (one row per source service, e.g. 'registry').
CREATE TABLE event_offset (
    source        TEXT PRIMARY KEY,
    last_sequence BIGINT NOT NULL,
    updated_at    TIMESTAMPTZ NOT NULL DEFAULT now()
);
