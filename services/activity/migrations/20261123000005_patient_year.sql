-- Distinct patients per line and calendar year, at the national level
-- (region = -1) and per region: what the yearly national and regional
-- opening rates read. From patient_month they would read one row per
-- patient and month seen (810,870 rows for 181,738 general-medicine
-- patients in 2018); here one row per patient. last_key is the key of the
-- patient's last act (see last_act_key in storage.rs; `last_key & 3` is its
-- scheme). Maintained in the import and void transactions.
CREATE TABLE patient_year (
    line     SMALLINT NOT NULL,
    year     SMALLINT NOT NULL,
    region   SMALLINT NOT NULL,
    patient  BYTEA NOT NULL,
    last_key BIGINT NOT NULL,
    acts     BIGINT NOT NULL,
    PRIMARY KEY (line, year, region, patient)
);

INSERT INTO patient_year (line, year, region, patient, last_key, acts)
SELECT line, year, CASE WHEN GROUPING(region) = 1 THEN -1 ELSE region END, patient, max(k), sum(acts)
FROM (SELECT line, extract(year FROM month)::smallint AS year, region, patient, acts,
             ((last_date - DATE '1900-01-01')::bigint << 44) | (last_act << 2) | last_scheme AS k
      FROM patient_month) pm
GROUP BY GROUPING SETS ((line, year, region, patient), (line, year, patient));

-- Served only the week/day metric path; it cost ~20 % of the act insert.
-- Those queries now read act by date without it (rare, sub-month periods).
DROP INDEX act_date_line;
