-- The embedded pipeline: what `cargo run --release` (`rtds run`) runs, with no services. rtds
-- compiles this file in as its default; pass `--dataflow FILE` to run an edited copy.
--
-- The built-in generator -> the users table (the latest version of each id) -> expectations
-- (failures to rtds-users.rejected.jsonl with the reason) -> the rows as JSON lines, and each
-- view's final contents in <view>.jsonl beside them.

CREATE TABLE users (
    id UUID PRIMARY KEY,
    first_name TEXT,
    last_name TEXT,
    gender TEXT,
    address TEXT,
    post_code TEXT,
    email TEXT,
    username TEXT,
    dob TIMESTAMP,
    registered_date TIMESTAMP,
    phone TEXT,
    picture TEXT,
    country TEXT,
    -- Expectations: a failing row goes to the dead-letter topic with the name as its reason
    -- (add NOT ENFORCED to keep it and only count it). NULL passes, as in a CHECK constraint.
    CONSTRAINT first_name_present CHECK (COALESCE(TRIM(first_name), '') <> ''),
    CONSTRAINT last_name_present CHECK (COALESCE(TRIM(last_name), '') <> ''),
    CONSTRAINT gender_present CHECK (COALESCE(TRIM(gender), '') <> ''),
    CONSTRAINT email_present CHECK (COALESCE(TRIM(email), '') <> ''),
    CONSTRAINT username_present CHECK (COALESCE(TRIM(username), '') <> ''),
    CONSTRAINT dob_present CHECK (dob IS NOT NULL),
    -- One '@', a non-empty local part, a dot in the domain with a non-empty part on each side.
    CONSTRAINT valid_email CHECK (email ~ '^[^@]+@[^@.]+(\.[^@.]+)+$'),
    -- NOW() is the record's commit time (its Kafka timestamp): judged the same on a replay.
    CONSTRAINT plausible_dob CHECK (dob BETWEEN TIMESTAMP '1900-01-01' AND NOW()),
    CONSTRAINT plausible_registered_date CHECK (registered_date BETWEEN TIMESTAMP '1900-01-01' AND NOW())
) WITH (
    connector = 'generator',
    users = 100000,      -- distinct users to generate (--users)
    seed = 'rtds',       -- same seed, same users (--seed)
    page_size = 5000,    -- users per generated page, like one API request of `results=5000`
    replay = 0.01,       -- share of records sent twice, as an at-least-once source would; dedupe drops them
    malformed = 0.0      -- share of records corrupted on purpose (a field of the wrong type); they are rejected
);

-- The rows, one JSON object a line (--output); each view goes to <view>.jsonl beside it.
CREATE TABLE created_users WITH (connector = 'jsonl', path = 'rtds-users.jsonl') AS SELECT * FROM users;

-- Views: each view's final contents, one JSON object a line, keyed by its GROUP BY columns.
CREATE MATERIALIZED VIEW users_by_country AS
    SELECT COALESCE(country, 'unknown') AS country, COUNT(*) AS users
    FROM users GROUP BY 1;

CREATE MATERIALIZED VIEW users_by_gender AS
    SELECT COALESCE(gender, 'unknown') AS gender, COUNT(*) AS users
    FROM users GROUP BY 1;

-- AGE(dob) is whole years from dob to the day the run started.
CREATE MATERIALIZED VIEW users_by_age_band AS
    SELECT CASE
               WHEN dob IS NULL THEN 'unknown'
               WHEN AGE(dob) < 20 THEN '<20'
               WHEN AGE(dob) >= 70 THEN '70+'
               ELSE CONCAT(AGE(dob) / 10 * 10, '-', AGE(dob) / 10 * 10 + 9)
           END AS age_band,
           COUNT(*) AS users
    FROM users GROUP BY 1;
