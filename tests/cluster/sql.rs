//! Dataflows in SQL against the real services: views and an expectation declared only in this
//! test's own SQL file run through the cluster while users are updated and deleted by SQL in
//! PostgreSQL; each view's Cassandra table equals the same `SELECT` run by PostgreSQL, and the
//! dead-letter topic holds exactly the rows that fail the expectation. The embedded run of the
//! same views equals PostgreSQL too.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use serde_json::Value;

use super::harness::{Pipeline, STATUS_PAGE_ON, finish, metric_sum, stop, wait_for, wait_until};
use crate::util::{consume_all, rtds, stack_lock};

/// The test's views: a derived group key with a `COUNT(DISTINCT)`, an `AVG` and a `SUM`, and
/// `MIN`/`MAX` (whose values the deletes below retract). PostgreSQL runs each `SELECT` as it is.
const VIEWS: &str = "
CREATE MATERIALIZED VIEW users_by_domain AS
    SELECT LOWER(SPLIT_PART(email, '@', 2)) AS domain, COUNT(*) AS users, COUNT(DISTINCT country) AS countries
    FROM users WHERE email IS NOT NULL GROUP BY 1;
CREATE MATERIALIZED VIEW birth_years AS
    SELECT COALESCE(gender, 'unknown') AS gender, AVG(EXTRACT(YEAR FROM dob)) AS mean_year, SUM(EXTRACT(MONTH FROM dob)) AS months, COUNT(*) AS users
    FROM users GROUP BY 1;
CREATE MATERIALIZED VIEW extremes AS
    SELECT COALESCE(country, 'unknown') AS country, MIN(dob) AS oldest, MAX(registered_date) AS newest, MAX(last_name) AS last_name
    FROM users GROUP BY 1 HAVING COUNT(*) > 1;
";

/// The expectation: an email with an '@' and a dot after it (NULL passes).
const EXPECTATION: &str = "email LIKE '%_@_%._%'";

/// The test's dataflow: the built-in one's source and rows table, its expectation and views.
fn dataflow(connector: &str) -> String {
    let users = rtds::dataflow::USERS_SQL;
    let table_end = users.find(") WITH (\n    connector = 'kafka'").unwrap();
    let columns = &users[users.find("CREATE TABLE users (").unwrap()..users.find("    -- Expectations").unwrap()];
    let settings = &users[table_end..users.find("-- Views:").unwrap()];
    let mut text = format!("{columns}    CONSTRAINT valid_email CHECK ({EXPECTATION})\n{settings}{VIEWS}");
    if connector == "generator" {
        let local = rtds::dataflow::LOCAL_SQL;
        let local_settings = &local[local.find(") WITH (\n    connector = 'generator'").unwrap()..local.find("-- Views:").unwrap()];
        text = format!("{columns}    CONSTRAINT valid_email CHECK ({EXPECTATION})\n{local_settings}{VIEWS}");
    }
    text
}

/// Each view's `SELECT`, by view name.
fn selects() -> Vec<(String, String)> {
    VIEWS
        .split(';')
        .filter(|s| s.contains("CREATE"))
        .map(|s| {
            let name = s.split_whitespace().nth(3).unwrap().to_string();
            (name, s[s.find(" AS\n").unwrap() + 4..].trim().to_string())
        })
        .collect()
}

/// A view's rows as JSON objects, keyed by their key columns' text; numbers as f64 and
/// timestamps as milliseconds, so PostgreSQL's numerics and text compare with rtds's.
type Table = BTreeMap<String, BTreeMap<String, Value>>;

fn normalize(value: &Value) -> Value {
    match value {
        Value::Number(n) => Value::from(n.as_f64().map(|f| (f * 1e6).round() / 1e6)),
        Value::String(s) => match chrono::DateTime::parse_from_rfc3339(s) {
            Ok(t) => Value::from(t.timestamp_millis()),
            Err(_) => value.clone(),
        },
        other => other.clone(),
    }
}

fn table(rows: impl IntoIterator<Item = serde_json::Map<String, Value>>, key: &str) -> Table {
    rows.into_iter().map(|row| (row[key].to_string(), row.iter().map(|(k, v)| (k.clone(), normalize(v))).collect())).collect()
}

/// What PostgreSQL answers to each view's `SELECT` over the users that pass the expectation
/// (a temporary view named `users`, as the dataflow's source table is).
fn postgres_views(pipeline: &Pipeline, source: &str) -> BTreeMap<String, Table> {
    pipeline.rt.block_on(async {
        let client = rtds::connectors::postgres::connect(&pipeline.database).await.unwrap();
        // Text compares by bytes in rtds, as under PostgreSQL's "C" collation.
        let columns: Vec<String> = rtds::sql::decode::FIELDS
            .iter()
            .map(|(name, ty)| match (*name, ty) {
                // Kafka's timestamp: PostgreSQL's tables do not have it.
                ("committed_at", _) if source == "created_users" => "null::timestamptz as committed_at".to_string(),
                (_, rtds::sql::Type::Text) => format!("{name} collate \"C\" as {name}"),
                _ => name.to_string(),
            })
            .collect();
        let view = format!("create temporary view users as select {} from {source} where ({EXPECTATION}) is not false", columns.join(", "));
        client.batch_execute(&format!("set time zone 'UTC'; {view}")).await.unwrap();
        let mut all = BTreeMap::new();
        for (name, select) in selects() {
            let key = if name == "users_by_domain" { "domain" } else if name == "birth_years" { "gender" } else { "country" };
            let rows = client.query(&format!("select row_to_json(q)::text from ({select}) q"), &[]).await.unwrap();
            let rows = rows.iter().map(|r| serde_json::from_str::<serde_json::Map<String, Value>>(&r.get::<_, String>(0)).unwrap());
            all.insert(name, table(rows, key));
        }
        all
    })
}

/// Each view's Cassandra table.
fn cassandra_views(pipeline: &Pipeline) -> Option<BTreeMap<String, Table>> {
    let program = rtds::dataflow::Dataflow::parse(&dataflow("kafka"), "test.sql").unwrap().program;
    pipeline.rt.block_on(async {
        let session = std::sync::Arc::new(rtds::connectors::cassandra::connect(&pipeline.cassandra).await.ok()?);
        let tables = rtds::connectors::cassandra::CassandraTables::prepare(session, &pipeline.keyspace, "created_users", &program, &Default::default()).await.ok()?;
        let rows = tables.read_views(100_000).await.ok()?;
        Some(
            program
                .views
                .iter()
                .zip(rows)
                .map(|(view, rows)| {
                    let key = &view.outputs[view.key[0]].column.name;
                    let objects = rows.iter().map(|row| view.outputs.iter().zip(row).map(|(o, d)| (o.column.name.clone(), d.to_json())).collect());
                    (view.name.clone(), table(objects, key))
                })
                .collect(),
        )
    })
}

fn execute(pipeline: &Pipeline, sql: &str) {
    pipeline.rt.block_on(async {
        let client = rtds::connectors::postgres::connect(&pipeline.database).await.unwrap();
        client.batch_execute(&format!("begin; {sql}; commit")).await.unwrap();
    });
}

#[test]
#[ignore = "needs PostgreSQL, Kafka and Cassandra: run scripts/test"]
fn views_and_an_expectation_declared_in_sql_equal_postgres_through_updates_and_deletes() {
    let _stack = stack_lock();
    let pipeline = Pipeline::new("sqlviews");
    pipeline.ingest(3_000, &[]);
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("views.sql");
    std::fs::write(&file, dataflow("kafka")).unwrap();
    let cdc = pipeline.cdc_in_background("20s");
    let mut command = rtds();
    command.args(["master", "--local", "-n", "2", "-w", "2", "--http", "127.0.0.1:0"]).args(pipeline.pipeline_args_idle("10s")).arg("--dataflow").arg(&file);
    let master = crate::process::Running::spawn(command);
    let started = Instant::now();
    while cassandra_views(&pipeline).and_then(|v| v.get("birth_years").map(|t| t.values().map(|r| r["users"].as_f64().unwrap()).sum::<f64>())) != Some(3_000.0) {
        assert!(started.elapsed() < Duration::from_secs(120), "the 3,000 users never showed in birth_years");
        std::thread::sleep(Duration::from_millis(300));
    }

    // While the cluster runs: users move between domains, countries and birth years; the oldest
    // user of the largest country and a hundred others are deleted (MIN and MAX must uncover
    // the next values); 40 new users with broken emails arrive, which the expectation drops.
    execute(
        &pipeline,
        "update created_users set email = replace(email, '@example.com', '@Moved.example.org'), country = 'Atlantis' where id in (select id from created_users order by id limit 150);
         update created_users set dob = dob - interval '30 years' where id in (select id from created_users order by id desc limit 80);
         delete from created_users where id in (select id from created_users where country = (select country from created_users group by 1 order by count(*) desc, 1 limit 1) order by dob limit 1);
         delete from created_users where id in (select id from created_users order by md5(id::text) limit 100);
         insert into created_users (id, first_name, last_name, gender, email, dob, registered_date, country)
             select gen_random_uuid(), first_name, last_name, gender, 'broken-' || coalesce(username, 'x'), dob, registered_date, country
             from created_users order by id limit 40",
    );
    finish(master, "rtds master", Duration::from_secs(240));
    finish(cdc, "rtds cdc", Duration::from_secs(60));

    let expected = postgres_views(&pipeline, "created_users");
    let actual = cassandra_views(&pipeline).expect("Cassandra answers");
    for (name, _) in selects() {
        assert!(expected[&name].len() > 1, "PostgreSQL's {name} has groups");
        assert_eq!(actual[&name], expected[&name], "view {name} equals PostgreSQL's SELECT");
    }
    assert!(expected["users_by_domain"].contains_key("\"moved.example.org\""), "the moved users formed a group");
    // The dead letters are exactly PostgreSQL's rows that fail the expectation.
    let failing: BTreeSet<String> = pipeline.rt.block_on(async {
        let client = rtds::connectors::postgres::connect(&pipeline.database).await.unwrap();
        let rows = client.query(&format!("select id::text from created_users where not ({EXPECTATION})"), &[]).await.unwrap();
        rows.iter().map(|r| r.get::<_, String>(0)).collect()
    });
    assert_eq!(failing.len(), 40);
    let dead = consume_all(&pipeline.brokers, &format!("{}.dlq", pipeline.topic), failing.len());
    let dead_ids: BTreeSet<String> = dead.iter().map(|m| serde_json::from_str::<Value>(&m.payload).unwrap()["id"].as_str().unwrap().to_string()).collect();
    assert_eq!(dead_ids, failing, "the dead-letter topic holds exactly the rows that fail the expectation");
    assert!(dead.iter().all(|m| m.header("rtds-reason") == Some("expectation valid_email failed")), "{:?}", dead.iter().map(|m| m.header("rtds-reason")).collect::<Vec<_>>());

    // `rtds check` over the PostgreSQL table finds the same rows, and fails the gate.
    let out = rtds().args(["check", "--json", "--table", "created_users", "--postgres", &pipeline.database, "--dataflow"]).arg(&file).output().unwrap();
    assert_eq!(out.status.code(), Some(1), "a drop-row expectation failed: {}", String::from_utf8_lossy(&out.stderr));
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    let rows = pipeline.rt.block_on(async {
        let client = rtds::connectors::postgres::connect(&pipeline.database).await.unwrap();
        client.query_one("select count(*) from created_users", &[]).await.unwrap().get::<_, i64>(0)
    });
    assert_eq!(report["rows"].as_i64(), Some(rows), "{report:#}");
    let valid_email = &report["expectations"][0];
    assert_eq!((valid_email["name"].as_str(), valid_email["failed"].as_u64()), (Some("valid_email"), Some(40)), "{report:#}");
    let examples: Vec<&str> = valid_email["examples"].as_array().unwrap().iter().map(|e| e.as_str().unwrap()).collect();
    assert_eq!(examples.len(), 5);
    assert!(examples.iter().all(|id| failing.contains(*id)), "the examples are failing rows: {examples:?}");

    // A restart resumes every view from the checkpoints, which hold each view's narrow rows
    // (group keys and arguments), not the users: the next MIN and MAX, the sums and the
    // distinct counts after more moves and deletes come from what they restored.
    execute(
        &pipeline,
        "update created_users set country = 'Atlantis', dob = dob + interval '7 years' where id in (select id from created_users where email like '%@%' order by md5(id::text) desc limit 120);
         delete from created_users where id in (select id from created_users where country = (select country from created_users group by 1 order by count(*) desc, 1 limit 1) order by dob limit 2);
         delete from created_users where id in (select id from created_users where country = 'Atlantis' order by registered_date desc limit 1);
         delete from created_users where id in (select id from created_users where email like '%@%' order by md5(id::text) limit 60)",
    );
    let cdc = pipeline.cdc_in_background("10s");
    let mut command = rtds();
    command.args(["master", "--local", "-n", "2", "-w", "2", "--http", "127.0.0.1:0"]).args(pipeline.pipeline_args_idle("10s")).arg("--dataflow").arg(&file);
    let log = finish(crate::process::Running::spawn(command), "rtds master, restarted", Duration::from_secs(240));
    finish(cdc, "rtds cdc, restarted", Duration::from_secs(60));
    let said = |what: &str| log.lines().filter(|l| l.contains(what)).count();
    assert_eq!((said("resuming from the checkpoint") - said("not resuming from the checkpoint"), said("not resuming from the checkpoint")), (4, 0), "every worker resumed:\n{log}");
    let expected = postgres_views(&pipeline, "created_users");
    let actual = cassandra_views(&pipeline).expect("Cassandra answers");
    for (name, _) in selects() {
        assert_eq!(actual[&name], expected[&name], "after the restart, view {name} equals PostgreSQL's SELECT");
    }
}

#[test]
#[ignore = "needs PostgreSQL: run scripts/test"]
fn the_embedded_run_of_the_same_views_equals_postgres() {
    let pipeline = Pipeline::new("sqlembedded");
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("views.sql");
    // And a daily window, with a watermark delay no generated date is behind: the run's end
    // closes every window.
    let text = dataflow("generator").replace(") WITH (\n", ") WITH (\n    watermark = registered_date - INTERVAL '36500' DAY,\n");
    std::fs::write(&file, format!("{text}\n{EMBEDDED_WINDOW}")).unwrap();
    let output = dir.path().join("rows.jsonl");
    let out = rtds().args(["run", "--users", "5000", "--seed", "sqlviews", "--json", "--dataflow"]).arg(&file).arg("--output").arg(&output).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let rows = std::fs::read_to_string(&output).unwrap();
    assert_eq!(rows.lines().count(), 5000);
    // The rows the run wrote, loaded into PostgreSQL: the same SELECTs over them.
    pipeline.rt.block_on(async {
        let client = rtds::connectors::postgres::connect(&pipeline.database).await.unwrap();
        let columns: Vec<String> = rtds::sql::decode::FIELDS
            .iter()
            .map(|(name, ty)| format!("{name} {}", match ty { rtds::sql::Type::Uuid => "uuid", rtds::sql::Type::Timestamp => "timestamptz", _ => "text" }))
            .collect();
        client.batch_execute(&format!("create table embedded_rows ({})", columns.join(", "))).await.unwrap();
        let json: Vec<Value> = rows.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
        client
            .execute("insert into embedded_rows select * from jsonb_populate_recordset(null::embedded_rows, $1::text::jsonb)", &[&serde_json::to_string(&json).unwrap()])
            .await
            .unwrap();
    });
    let expected = postgres_views(&pipeline, "embedded_rows");
    for (name, _) in selects() {
        let text = std::fs::read_to_string(dir.path().join(format!("{name}.jsonl"))).unwrap();
        let key = if name == "users_by_domain" { "domain" } else if name == "birth_years" { "gender" } else { "country" };
        let actual = table(text.lines().map(|l| serde_json::from_str(l).unwrap()), key);
        // Generated emails are all @example.com: one domain.
        assert!(expected[&name].len() > usize::from(name != "users_by_domain"), "PostgreSQL's {name} has groups: {:?}", expected[&name]);
        assert_eq!(actual, expected[&name], "the embedded run's {name} equals PostgreSQL's SELECT");
    }
    // The window: each day's sign-ups, as PostgreSQL's date_trunc('day') GROUP BY has them.
    let expected: Table = pipeline.rt.block_on(async {
        let client = rtds::connectors::postgres::connect(&pipeline.database).await.unwrap();
        client.batch_execute("set time zone 'UTC'").await.unwrap();
        let select = format!(
            "select row_to_json(q)::text from (
                select date_trunc('day', registered_date) as window_start, count(*) as users, max(dob) as youngest
                from embedded_rows where registered_date is not null and ({EXPECTATION}) is not false group by 1) q"
        );
        let rows = client.query(&select, &[]).await.unwrap();
        rows.iter()
            .map(|r| serde_json::from_str::<serde_json::Map<String, Value>>(&r.get::<_, String>(0)).unwrap())
            .map(|row| (normalize(&row["window_start"]).to_string(), row.iter().map(|(k, v)| (k.clone(), normalize(v))).collect()))
            .collect()
    });
    let text = std::fs::read_to_string(dir.path().join("daily_signups.jsonl")).unwrap();
    let actual: Table = text
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Map<String, Value>>(l).unwrap())
        .map(|row| (normalize(&row["window_start"]).to_string(), row.iter().map(|(k, v)| (k.clone(), normalize(v))).collect()))
        .collect();
    assert!(expected.len() > 100, "PostgreSQL's daily sign-ups span many days: {}", expected.len());
    assert_eq!(actual, expected, "the embedded run's daily window equals PostgreSQL's date_trunc('day') GROUP BY");
}

/// The embedded comparison's window: sign-ups per day of registered_date.
const EMBEDDED_WINDOW: &str = "
CREATE MATERIALIZED VIEW daily_signups AS
    SELECT window_start, COUNT(*) AS users, MAX(dob) AS youngest
    FROM TUMBLE(users, registered_date, INTERVAL '1' DAY) GROUP BY window_start;
";

/// A daily window over registered_date, an hour of watermark delay and a day of allowed
/// lateness, for the window test.
const WINDOW_VIEW: &str = "
CREATE MATERIALIZED VIEW daily_signups WITH (allowed_lateness = INTERVAL '1' DAY) AS
    SELECT window_start, COALESCE(gender, 'unknown') AS gender, COUNT(*) AS users, MIN(dob) AS oldest
    FROM TUMBLE(users, registered_date, INTERVAL '1' DAY) GROUP BY window_start, 2;
";

/// The window's rows in Cassandra, or PostgreSQL's answer to its SELECT over the users not in
/// `late`, for windows ending at or before `closed_by` only; by (window_start, gender).
fn daily_signups(pipeline: &Pipeline, program: &rtds::sql::Program, late: &BTreeSet<String>, closed_by: i64) -> (Table, Table) {
    pipeline.rt.block_on(async {
        let session = std::sync::Arc::new(rtds::connectors::cassandra::connect(&pipeline.cassandra).await.unwrap());
        let tables = rtds::connectors::cassandra::CassandraTables::prepare(session, &pipeline.keyspace, "created_users", program, &Default::default()).await.unwrap();
        let view = &program.views[0];
        let rows = tables.read_views(100_000).await.unwrap().remove(0);
        let key = |row: &serde_json::Map<String, Value>| format!("{} {}", normalize(&row["window_start"]), row["gender"]);
        let objects = |rows: Vec<serde_json::Map<String, Value>>| -> Table {
            rows.into_iter().map(|row| (key(&row), row.iter().map(|(k, v)| (k.clone(), normalize(v))).collect())).collect()
        };
        let actual = objects(rows.iter().map(|row| view.outputs.iter().zip(row).map(|(o, d)| (o.column.name.clone(), d.to_json())).collect()).collect());
        let client = rtds::connectors::postgres::connect(&pipeline.database).await.unwrap();
        client.batch_execute("set time zone 'UTC'").await.unwrap();
        let late: Vec<String> = late.iter().cloned().collect();
        let select = "select row_to_json(q)::text from (
                select date_trunc('day', registered_date) as window_start, coalesce(gender, 'unknown') as gender, count(*) as users, min(dob) as oldest
                from created_users where registered_date is not null and not (id::text = any($1))
                group by 1, 2 having extract(epoch from date_trunc('day', registered_date) + interval '1 day') * 1000 <= $2::float8) q";
        let rows = client.query(select, &[&late, &(closed_by as f64)]).await.unwrap();
        let expected = objects(rows.iter().map(|r| serde_json::from_str(&r.get::<_, String>(0)).unwrap()).collect());
        (actual, expected)
    })
}

/// Inserts `count` users registered from `first` (RFC 3339), a minute apart.
fn register(pipeline: &Pipeline, count: u32, first: &str, gender: &str) {
    execute(
        pipeline,
        &format!(
            "insert into created_users (id, first_name, last_name, gender, email, dob, registered_date, country)
             select gen_random_uuid(), 'W', 'Window', '{gender}', 'w' || g || '@window.example', timestamptz '1980-01-01T00:00:00Z' + g * interval '3 days',
                    timestamptz '{first}' + (g - 1) * interval '1 minute', 'Windowland'
             from generate_series(1, {count}) g"
        ),
    );
}

/// Windows through the real cluster: a window's row is written once the watermark passes its
/// end and not before; a record within the allowed lateness updates its closed window; one
/// later than that goes to the dead-letter topic with the reason and is counted for the view;
/// a delete updates a closed window. The closed windows equal PostgreSQL's answer over the
/// users that were not late. A restart resumes from the checkpoints with the watermark: what was
/// late stays late, and the open window closes when it would have.
#[test]
#[ignore = "needs PostgreSQL, Kafka and Cassandra: run scripts/test"]
fn a_tumbling_window_is_written_when_the_watermark_closes_it_and_late_records_are_dead_letters() {
    let _stack = stack_lock();
    let pipeline = Pipeline::new("sqlwindows");
    // One random user makes the table (registered years before the test's days).
    pipeline.ingest(1, &[]);
    let users = rtds::dataflow::USERS_SQL;
    let columns = &users[users.find("CREATE TABLE users (").unwrap()..users.find("    -- Expectations").unwrap()];
    let settings = &users[users.find(") WITH (\n    connector = 'kafka'").unwrap()..users.find("-- Views:").unwrap()];
    let settings = settings.replace(") WITH (\n", ") WITH (\n    watermark = registered_date - INTERVAL '1' HOUR,\n");
    let text = format!("{}{settings}{WINDOW_VIEW}", columns.trim_end().trim_end_matches(','));
    let program = rtds::dataflow::Dataflow::parse(&text, "windows.sql").unwrap_or_else(|e| panic!("{e}\n{text}")).program;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("windows.sql");
    std::fs::write(&file, &text).unwrap();
    let cdc = pipeline.cdc_in_background("180s");
    let master_command = || {
        let mut command = rtds();
        command.args(["master", "--local", "-n", "2", "-w", "2", "--http", "127.0.0.1:0"]).args(pipeline.pipeline_args_idle("120s")).arg("--dataflow").arg(&file);
        command
    };
    let master = crate::process::Running::spawn(master_command());
    let http = master.port_after(STATUS_PAGE_ON);
    let ms = |t: &str| chrono::DateTime::parse_from_rfc3339(t).unwrap().timestamp_millis();
    let day = |d: u32| ms(&format!("2040-01-{d:02}T00:00:00Z"));
    let none = BTreeSet::new();
    let wait = |what: &str, done: &dyn Fn(&Table, &Table) -> bool, late: &BTreeSet<String>, closed_by: i64| {
        let started = Instant::now();
        loop {
            let (actual, expected) = daily_signups(&pipeline, &program, late, closed_by);
            if done(&actual, &expected) {
                return (actual, expected);
            }
            assert!(started.elapsed() < Duration::from_secs(120), "{what} never happened:\n  Cassandra {actual:?}\n  PostgreSQL {expected:?}");
            std::thread::sleep(Duration::from_millis(300));
        }
    };
    let windows = |table: &Table| table.values().map(|row| row["window_start"].as_i64().unwrap()).collect::<BTreeSet<_>>();

    // Days 1 to 3 of 2040, the third until noon: the watermark is 11:00 on day 3, which closes
    // days 1 and 2; day 3 stays open.
    // Each day is read before the next is written: records of different partitions may be
    // read in any order, and a later day read first would make an earlier one late.
    let stored = |rows: u64| wait_for(&pipeline, http, |s| s["totals"]["rows_written"].as_u64() >= Some(rows));
    stored(1);
    register(&pipeline, 60, "2040-01-01T10:00:00Z", "female");
    stored(61);
    register(&pipeline, 50, "2040-01-02T08:00:00Z", "male");
    stored(111);
    register(&pipeline, 40, "2040-01-03T11:20:00Z", "female");
    stored(151);
    let (actual, _) = wait("days 1 and 2 closing", &|a, e| a == e && windows(a).contains(&day(2)), &none, ms("2040-01-03T11:00:00Z"));
    assert!(!windows(&actual).contains(&day(3)), "day 3 is open: its row waits");

    // Day 2 is closed but within its allowed lateness (until the watermark passes day 4):
    // these update it. Day 1 closed more than a day of watermark ago: these are late. Ten of
    // day 1's users are deleted, which updates its row.
    register(&pipeline, 15, "2040-01-02T20:00:00Z", "female");
    register(&pipeline, 20, "2040-01-01T12:00:00Z", "male");
    execute(&pipeline, "delete from created_users where id in (select id from created_users where gender = 'female' and registered_date >= '2040-01-01' and registered_date < '2040-01-02' order by registered_date limit 10)");
    let late: BTreeSet<String> = pipeline.rt.block_on(async {
        let client = rtds::connectors::postgres::connect(&pipeline.database).await.unwrap();
        let rows = client.query("select id::text from created_users where gender = 'male' and registered_date >= '2040-01-01T12:00:00Z' and registered_date < '2040-01-02'", &[]).await.unwrap();
        rows.iter().map(|r| r.get::<_, String>(0)).collect()
    });
    assert_eq!(late.len(), 20);
    let dead = consume_all(&pipeline.brokers, &format!("{}.dlq", pipeline.topic), late.len());
    let dead_ids: BTreeSet<String> = dead.iter().map(|m| serde_json::from_str::<Value>(&m.payload).unwrap()["id"].as_str().unwrap().to_string()).collect();
    assert_eq!(dead_ids, late, "the dead-letter topic holds exactly the late records");
    let reason = dead[0].header("rtds-reason").unwrap_or_default();
    assert!(reason.starts_with("late for view daily_signups: registered_date 2040-01-01T"), "{reason}");
    wait("day 2's late-but-allowed users and day 1's deletes", &|a, e| a == e, &late, ms("2040-01-03T11:00:00Z"));

    // Noon on day 4 moves the watermark past day 3's end: its row is written; day 4 waits.
    register(&pipeline, 5, "2040-01-04T12:00:00Z", "male");
    let (actual, expected) = wait("day 3 closing", &|a, e| a == e && windows(a).contains(&day(3)), &late, ms("2040-01-04T11:00:00Z"));
    assert!(!windows(&actual).contains(&day(4)), "day 4 is open");
    assert_eq!(windows(&expected).range(day(1)..).count(), 3, "days 1 to 3 compared: {expected:?}");
    let status = wait_for(&pipeline, http, |s| s["totals"]["late"]["daily_signups"].as_u64() == Some(20));
    assert_eq!(status["totals"]["late"]["daily_signups"], 20);
    assert_eq!(metric_sum(&pipeline.metrics(http), "rtds_late_records_total"), 20.0);
    stop(master);

    // A restart: every worker resumes from its checkpoint, the watermark (11:00 on day 4) with
    // it, so day 1 is still late (a watermark that began again from nothing would take these)
    // and day 4 stays open until noon on day 5.
    let master = crate::process::Running::spawn(master_command());
    let http = master.port_after(STATUS_PAGE_ON);
    // Each worker says whether it resumes before it reads anything ("resuming from the
    // checkpoint" or "not resuming from the checkpoint": four lines of either are four answers).
    let said = |log: &str, what: &str| log.lines().filter(|l| l.contains(what)).count();
    let log = wait_until(Duration::from_secs(60), "the workers open their checkpoints", || {
        let log = master.stderr();
        (said(&log, "resuming from the checkpoint") >= 4).then_some(log)
    });
    assert_eq!(said(&log, "not resuming from the checkpoint"), 0, "every worker resumed from its checkpoint:\n{log}");
    register(&pipeline, 7, "2040-01-01T13:00:00Z", "female");
    let late_again: BTreeSet<String> = pipeline.rt.block_on(async {
        let client = rtds::connectors::postgres::connect(&pipeline.database).await.unwrap();
        let rows = client.query("select id::text from created_users where registered_date >= '2040-01-01T13:00:00Z' and registered_date < '2040-01-01T14:00:00Z'", &[]).await.unwrap();
        rows.iter().map(|r| r.get::<_, String>(0)).collect()
    });
    assert_eq!(late_again.len(), 7);
    let dead = consume_all(&pipeline.brokers, &format!("{}.dlq", pipeline.topic), late.len() + late_again.len());
    let dead_ids: BTreeSet<String> = dead.iter().map(|m| serde_json::from_str::<Value>(&m.payload).unwrap()["id"].as_str().unwrap().to_string()).collect();
    let late: BTreeSet<String> = late.union(&late_again).cloned().collect();
    assert_eq!(dead_ids, late, "after the restart too, the dead-letter topic holds exactly the late records");
    wait_for(&pipeline, http, |s| s["totals"]["late"]["daily_signups"].as_u64() == Some(7));
    let (actual, _) = wait("the restart", &|a, e| a == e, &late, ms("2040-01-04T11:00:00Z"));
    assert!(!windows(&actual).contains(&day(4)), "day 4 is still open after the restart");
    register(&pipeline, 3, "2040-01-05T12:00:00Z", "female");
    wait("day 4 closing after the restart", &|a, e| a == e && windows(a).contains(&day(4)), &late, ms("2040-01-05T11:00:00Z"));
    stop(master);
    stop(cdc);
}

/// A window over `committed_at`, the records' commit time: the rows table keeps each row's
/// commit time, and a second's windows are written once a later commit moves the watermark (10 s
/// behind, so the partitions' records may be read in any order) past them; they count exactly
/// the rows committed in them.
#[test]
#[ignore = "needs PostgreSQL, Kafka and Cassandra: run scripts/test"]
fn a_window_over_the_commit_time_counts_the_rows_committed_in_it() {
    let _stack = stack_lock();
    let pipeline = Pipeline::new("sqlcommits");
    // Each ingest runs `rtds cdc` until its changes are in Kafka.
    pipeline.ingest(300, &[]);
    let text = rtds::dataflow::USERS_SQL.replacen("    country TEXT,\n", "    country TEXT,\n    committed_at TIMESTAMP,\n", 1).replacen(
        "    connector = 'kafka',",
        "    watermark = committed_at - INTERVAL '10' SECOND,\n    connector = 'kafka',",
        1,
    ) + "CREATE MATERIALIZED VIEW per_second AS SELECT window_start, COUNT(*) AS users FROM TUMBLE(users, committed_at, INTERVAL '1' SECOND) GROUP BY window_start;\n";
    let program = rtds::dataflow::Dataflow::parse(&text, "commits.sql").unwrap().program;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("commits.sql");
    std::fs::write(&file, &text).unwrap();
    let mut command = rtds();
    command.args(["master", "--local", "-n", "2", "-w", "2", "--http", "127.0.0.1:0"]).args(pipeline.pipeline_args_idle("120s")).arg("--dataflow").arg(&file);
    let master = crate::process::Running::spawn(command);
    let http = master.port_after(STATUS_PAGE_ON);
    // Each row's commit time, as the rows table keeps it.
    let commits = || -> Vec<i64> {
        pipeline.rt.block_on(async {
            let session = rtds::connectors::cassandra::connect(&pipeline.cassandra).await.unwrap();
            let rows = session.query_unpaged(format!("select committed_at from {}.created_users", pipeline.keyspace), &[]).await.unwrap().into_rows_result().unwrap();
            rows.rows::<(Option<scylla::value::CqlTimestamp>,)>().unwrap().map(|r| r.unwrap().0.expect("every row keeps its commit time").0).collect()
        })
    };
    wait_for(&pipeline, http, |s| s["totals"]["rows_written"].as_u64() >= Some(300));
    // A later commit, 11 seconds after the newest (the watermark runs 10 s behind): it closes
    // every window of the first 300.
    let newest = *commits().iter().max().unwrap();
    while chrono::Utc::now().timestamp_millis() < newest + 11_100 {
        std::thread::sleep(Duration::from_millis(50));
    }
    pipeline.ingest(1, &[]);
    wait_for(&pipeline, http, |s| s["totals"]["rows_written"].as_u64() >= Some(301));
    let watermark = *commits().iter().max().unwrap() - 10_000;
    let mut expected: BTreeMap<i64, i64> = BTreeMap::new();
    for t in commits() {
        let start = t - t.rem_euclid(1_000);
        if start + 1_000 <= watermark {
            *expected.entry(start).or_default() += 1;
        }
    }
    assert_eq!(expected.values().sum::<i64>(), 300, "the first 300 are in closed windows");
    let started = Instant::now();
    loop {
        let actual: BTreeMap<i64, i64> = pipeline.rt.block_on(async {
            let session = std::sync::Arc::new(rtds::connectors::cassandra::connect(&pipeline.cassandra).await.unwrap());
            let tables = rtds::connectors::cassandra::CassandraTables::prepare(session, &pipeline.keyspace, "created_users", &program, &Default::default()).await.unwrap();
            let rows = tables.read_views(100_000).await.unwrap().pop().unwrap();
            rows.iter()
                .map(|r| match (&r[0], &r[1]) {
                    (rtds::sql::Datum::Timestamp(t), rtds::sql::Datum::Int(n)) => (*t, *n),
                    other => panic!("{other:?}"),
                })
                .collect()
        });
        if actual == expected {
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(60), "per_second never equalled the commits:\n  Cassandra {actual:?}\n  rows table {expected:?}");
        std::thread::sleep(Duration::from_millis(200));
    }
    stop(master);
}
