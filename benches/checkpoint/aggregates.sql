-- benches/checkpoint.rs with RTDS_BENCH_DATAFLOW: dataflows/users.sql's source table, with views
-- whose aggregates read values (not COUNT(*)s only). Their state is a count per distinct
-- (country, AGE(dob), dob), not a row per user.

CREATE TABLE users (
    id UUID PRIMARY KEY,
    gender TEXT,
    dob TIMESTAMP,
    country TEXT
) WITH (connector = 'kafka', topic = 'users_created');

CREATE TABLE created_users WITH (connector = 'cassandra', keyspace = 'rtds') AS SELECT * FROM users;

CREATE MATERIALIZED VIEW age_by_country AS
    SELECT COALESCE(country, 'unknown') AS country, SUM(AGE(dob)) AS years, AVG(AGE(dob)) AS mean_age,
           MIN(dob) AS oldest, MAX(dob) AS youngest, COUNT(*) AS users
    FROM users WHERE gender IS NOT NULL GROUP BY 1;
