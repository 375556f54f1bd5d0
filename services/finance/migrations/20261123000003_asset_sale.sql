-- BNGA real-estate sales (R10) and what their gain raised; uplifts of years
-- beyond the COG tables are kept here as pending for the next contract.
CREATE TABLE asset_sale (
    id                 UUID PRIMARY KEY,
    year               SMALLINT NOT NULL,
    asset              TEXT NOT NULL,
    sale_date          DATE NOT NULL,
    price_cents        BIGINT NOT NULL,
    net_book_value_cents BIGINT NOT NULL,
    buyer              TEXT NOT NULL,
    square_metres      INTEGER NOT NULL DEFAULT 0,
    gain_cents         BIGINT NOT NULL,
    investment_cents   BIGINT NOT NULL,
    rent_cents         BIGINT NOT NULL,
    uplifts            JSONB NOT NULL,
    reason             TEXT NOT NULL,
    recorded_by        TEXT NOT NULL,
    recorded_at        TIMESTAMPTZ NOT NULL DEFAULT now()
);
