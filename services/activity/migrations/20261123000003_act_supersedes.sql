-- A replacement act points at the act it supersedes (which is voided).
ALTER TABLE act ADD COLUMN supersedes BIGINT REFERENCES act (id);
