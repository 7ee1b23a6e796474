-- The auth rate limit's buckets, shared by every instance on this database (GCRA:
-- one row per client key with its theoretical arrival time in microseconds).
CREATE TABLE rate_limits (
    key    TEXT PRIMARY KEY,
    tat_us BIGINT NOT NULL
);
CREATE INDEX rate_limits_tat_us_idx ON rate_limits (tat_us);
