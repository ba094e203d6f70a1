//! The SQL planner: each supported construct computes what SQL says, each construct outside
//! the subset is refused with its line and column, and the incremental rendering in
//! differential dataflow ends equal to the same view computed over the final table at once.

use std::collections::BTreeMap;
use std::sync::Arc;

use differential_dataflow::input::InputSession;
use rtds::model::User;
use rtds::sql::decode::Decoder;
use rtds::sql::expr::Context;
use rtds::sql::kept::Kept;
use rtds::sql::render::render_views;
use rtds::sql::{Datum, Program, Row};

const TABLE: &str = "CREATE TABLE users (id UUID PRIMARY KEY, first_name TEXT, last_name TEXT, gender TEXT, email TEXT, \
    dob TIMESTAMP, registered_date TIMESTAMP, phone TEXT, country TEXT, \
    CONSTRAINT valid_email CHECK (email LIKE '%_@_%._%'), \
    CONSTRAINT has_phone CHECK (phone IS NOT NULL) NOT ENFORCED) WITH (connector = 'kafka', topic = 't');\n\
    CREATE TABLE rows WITH (connector = 'jsonl') AS SELECT * FROM users;\n";

fn program(views: &str) -> Program {
    Program::parse(&format!("{TABLE}{views}"), "test.sql").unwrap_or_else(|e| panic!("{e}"))
}

fn refused(views: &str) -> String {
    // Through the dataflow's checks too: names are checked there.
    match rtds::dataflow::Dataflow::parse(&format!("{TABLE}{views}"), "test.sql") {
        Err(rtds::dataflow::DataflowError::Invalid(error)) => error.to_string(),
        other => panic!("{views} is refused, not {other:?}"),
    }
}

fn cx() -> Context {
    Context { today: chrono::NaiveDate::from_ymd_opt(2026, 12, 6).unwrap(), now: None }
}

fn user(n: u128, country: Option<&str>, gender: &str, email: &str, dob: &str) -> User {
    serde_json::from_value(serde_json::json!({
        "id": uuid::Uuid::from_u128(n), "first_name": format!("  Name{n} "), "last_name": "Lima", "gender": gender,
        "email": email, "dob": dob, "registered_date": "2020-05-17T10:31:00Z", "country": country,
    }))
    .unwrap()
}

fn users() -> Vec<User> {
    vec![
        user(1, Some("France"), "female", "ana@example.com", "1990-01-02T03:04:05Z"),
        user(2, Some("France"), "male", "bo@mail.fr", "1970-06-01T00:00:00Z"),
        user(3, Some("Peru"), "female", "cy@example.com", "2001-12-31T23:59:59Z"),
        user(4, None, "male", "no-at-sign", "1985-03-03T00:00:00Z"),
        user(5, Some("Peru"), "female", "ana@example.com", "1990-07-07T00:00:00Z"),
    ]
}

fn state_rows(program: &Program, users: &[User]) -> Vec<Row> {
    let decoder = Decoder::new(&program.table);
    users.iter().map(|u| program.table.state_row(&decoder.row(u, None))).collect()
}

/// The view's rows over `users`, as maps of column to JSON.
fn evaluate(views: &str, users: &[User]) -> Vec<BTreeMap<String, serde_json::Value>> {
    let program = program(views);
    let view = &program.views[0];
    let rows = state_rows(&program, users);
    view.evaluate(&rows, &cx())
        .into_iter()
        .map(|row| view.outputs.iter().zip(row).map(|(o, d)| (o.column.name.clone(), d.to_json())).collect())
        .collect()
}

fn column(rows: &[BTreeMap<String, serde_json::Value>], name: &str) -> Vec<serde_json::Value> {
    rows.iter().map(|r| r[name].clone()).collect()
}

#[test]
fn scalar_expressions_compute_what_sql_says() {
    let rows = evaluate(
        "CREATE MATERIALIZED VIEW v AS SELECT id, TRIM(first_name) AS trimmed, LOWER(UPPER(last_name)) AS lower, LENGTH(TRIM(first_name)) AS len, \
         SPLIT_PART(email, '@', 2) AS domain, SUBSTRING(email FROM 1 FOR 2) AS head, CONCAT(gender, '/', country) AS pair, \
         COALESCE(country, 'unknown') AS country, REGEXP_SUBSTR(email, '[a-z]+') AS word, email ~ '^a' AS starts_a, \
         EXTRACT(YEAR FROM dob) AS year, DATE_TRUNC('month', dob) AS month, AGE(dob) AS age, \
         CASE WHEN AGE(dob) >= 50 THEN 'old' WHEN AGE(dob) >= 30 THEN 'mid' ELSE 'young' END AS band, \
         CAST(EXTRACT(MONTH FROM dob) AS TEXT) || 'm' AS m, (EXTRACT(DAY FROM dob) + 1) * 2 % 7 AS arith, \
         dob BETWEEN TIMESTAMP '1980-01-01' AND TIMESTAMP '1995-01-01' AS in_range, country IN ('Peru', 'Chile') AS andean, \
         NULLIF(gender, 'male') AS not_male, 7 / 0 AS divided \
         FROM users WHERE email LIKE '%@%' AND id <> '00000000-0000-0000-0000-000000000005';",
        &users(),
    );
    assert_eq!(rows.len(), 3, "the WHERE keeps rows with an '@' except id 5: {rows:?}");
    let first = &rows[0];
    assert_eq!(first["trimmed"], "Name1");
    assert_eq!(first["lower"], "lima");
    assert_eq!(first["len"], 5);
    assert_eq!(first["domain"], "example.com");
    assert_eq!(first["head"], "an");
    assert_eq!(first["pair"], "female/France");
    assert_eq!(first["word"], "ana");
    assert_eq!(first["starts_a"], true);
    assert_eq!(first["year"], 1990);
    assert_eq!(first["month"], "1990-01-01T00:00:00Z");
    assert_eq!(first["age"], 36);
    assert_eq!(first["band"], "mid");
    assert_eq!(first["m"], "1m");
    assert_eq!(first["arith"], 6, "(day 2 + 1) * 2 % 7");
    assert_eq!(first["in_range"], true);
    assert_eq!(first["andean"], false);
    assert_eq!(first["not_male"], "female");
    assert_eq!(first["divided"], serde_json::Value::Null, "division by zero is NULL");
    assert_eq!(column(&rows, "band"), ["mid", "old", "young"]);

    let more = evaluate(
        "CREATE MATERIALIZED VIEW v AS SELECT id, EXTRACT(YEAR FROM dob) IN (1990.0, 1.5) AS in_floats, \
         dob IN ('1990-01-02T03:04:05Z') AS in_text, 'a\\b' LIKE 'a\\b' ESCAPE '' AS no_escape, 'a%' LIKE 'a\\%' AS escaped, \
         ROUND(15, -1) AS tens, ROUND(2.345, 2) AS cents FROM users WHERE id = '00000000-0000-0000-0000-000000000001';",
        &users(),
    );
    assert_eq!((&more[0]["in_floats"], &more[0]["in_text"]), (&serde_json::json!(true), &serde_json::json!(true)), "IN brings the value and the items to one type");
    assert_eq!((&more[0]["no_escape"], &more[0]["escaped"]), (&serde_json::json!(true), &serde_json::json!(true)), "ESCAPE '' turns escaping off");
    assert_eq!((&more[0]["tens"], &more[0]["cents"]), (&serde_json::json!(20), &serde_json::json!(2.35)));
    assert_eq!(column(&rows, "not_male"), [serde_json::json!("female"), serde_json::Value::Null, serde_json::json!("female")]);
}

#[test]
fn aggregates_group_and_having_compute_what_sql_says() {
    let rows = evaluate(
        "CREATE MATERIALIZED VIEW v AS SELECT COALESCE(country, 'none') AS country, COUNT(*) AS users, COUNT(DISTINCT email) AS emails, \
         COUNT(phone) AS phones, SUM(EXTRACT(YEAR FROM dob)) AS years, AVG(EXTRACT(YEAR FROM dob)) AS mean_year, \
         MIN(dob) AS oldest, MAX(email) AS last_email, COUNT(*) * 10 AS tens \
         FROM users GROUP BY COALESCE(country, 'none') HAVING COUNT(*) >= 1;",
        &users(),
    );
    assert_eq!(column(&rows, "country"), ["France", "Peru", "none"]);
    assert_eq!(column(&rows, "users"), [2, 2, 1]);
    assert_eq!(column(&rows, "emails"), [2, 2, 1]);
    assert_eq!(column(&rows, "phones"), [0, 0, 0]);
    assert_eq!(column(&rows, "years"), [1990 + 1970, 2001 + 1990, 1985]);
    assert_eq!(column(&rows, "mean_year"), [serde_json::json!(1980.0), serde_json::json!(1995.5), serde_json::json!(1985.0)]);
    assert_eq!(rows[0]["oldest"], "1970-06-01T00:00:00Z");
    assert_eq!(rows[1]["last_email"], "cy@example.com");
    assert_eq!(column(&rows, "tens"), [20, 20, 10]);
    let having = evaluate("CREATE MATERIALIZED VIEW v AS SELECT gender, COUNT(*) AS n FROM users GROUP BY gender HAVING COUNT(*) > 2;", &users());
    assert_eq!(column(&having, "gender"), ["female"], "HAVING drops the groups it is false for");
    let by_position = evaluate("CREATE MATERIALIZED VIEW v AS SELECT SPLIT_PART(email, '@', 2) AS domain, COUNT(*) AS n FROM users GROUP BY 1;", &users());
    assert_eq!(column(&by_position, "domain"), ["", "example.com", "mail.fr"]);
    let by_alias = evaluate("CREATE MATERIALIZED VIEW v AS SELECT SPLIT_PART(email, '@', 2) AS domain, COUNT(*) AS n FROM users GROUP BY domain;", &users());
    assert_eq!(by_alias, by_position);
}

#[test]
fn expectations_fail_on_false_and_pass_on_null() {
    let program = program("");
    let decoder = Decoder::new(&program.table);
    let failed = |u: &User| -> Vec<String> { program.table.expectations_failed(&decoder.row(u, None), &cx()).into_iter().map(|i| program.table.expectations[i].name.clone()).collect() };
    let good = &users()[0];
    assert_eq!(failed(good), ["has_phone"], "no phone: the warn-only expectation fails");
    assert_eq!(failed(&users()[3]), ["valid_email", "has_phone"]);
    let mut no_email = good.clone();
    no_email.email = None;
    assert_eq!(failed(&no_email), ["has_phone"], "a NULL email passes valid_email, as in a CHECK constraint");
    assert_eq!(program.table.expectations[1].on_violation, rtds::sql::OnViolation::Warn);
}

#[test]
fn sql_outside_the_subset_is_refused_with_its_line_and_column() {
    // Line 3 is the view's first line (the table takes two).
    for (view, message, line) in [
        ("CREATE MATERIALIZED VIEW v AS SELECT country, COUNT(*) AS n FROM users JOIN other ON true GROUP BY country;", "joins are not supported", 3),
        ("CREATE MATERIALIZED VIEW v AS SELECT country AS c FROM users WHERE id IN (SELECT id FROM users);", "subqueries are not supported", 3),
        ("CREATE MATERIALIZED VIEW v AS SELECT id, ROW_NUMBER() OVER (ORDER BY id) AS r FROM users;", "window functions", 3),
        ("CREATE MATERIALIZED VIEW v AS SELECT country, COUNT(*) AS n FROM users GROUP BY country ORDER BY n;", "ORDER BY is not supported", 3),
        ("CREATE MATERIALIZED VIEW v AS SELECT country, COUNT(*) AS n FROM users GROUP BY country LIMIT 3;", "LIMIT", 3),
        ("CREATE MATERIALIZED VIEW v AS SELECT country, COUNT(*) AS n\nFROM users GROUP BY nope;", "no column nope", 4),
        ("CREATE MATERIALIZED VIEW v AS SELECT country, SUM(email) AS n FROM users GROUP BY country;", "SUM takes an integer", 3),
        ("CREATE MATERIALIZED VIEW v AS SELECT country, FOO(email) AS n FROM users GROUP BY country;", "unknown function FOO", 3),
        ("CREATE MATERIALIZED VIEW v AS SELECT country, COUNT(*) AS n FROM elsewhere GROUP BY country;", "no table elsewhere", 3),
        ("CREATE MATERIALIZED VIEW v AS SELECT country, email, COUNT(*) AS n FROM users GROUP BY country;", "email must be in GROUP BY", 3),
        ("CREATE MATERIALIZED VIEW v AS SELECT COUNT(*) AS n FROM users GROUP BY country;", "not a column of the SELECT list", 3),
        ("CREATE MATERIALIZED VIEW v AS SELECT country, COUNT(*) AS n FROM users WHERE COUNT(*) > 1 GROUP BY country;", "not allowed here", 3),
        ("CREATE MATERIALIZED VIEW v AS SELECT country, COUNT(*) AS n FROM users WHERE dob > 'yesterday' GROUP BY country;", "is not a TIMESTAMP", 3),
        ("CREATE MATERIALIZED VIEW v AS SELECT country, COUNT(*) AS n FROM users WHERE email > 3 GROUP BY country;", "expected", 3),
        ("CREATE MATERIALIZED VIEW v AS SELECT country, NOW() AS t FROM users;", "NOW() is the record's commit time", 3),
        ("CREATE MATERIALIZED VIEW v AS SELECT window_start, COUNT(*) AS n FROM TUMBLE(users, dob, INTERVAL '1' MINUTE) GROUP BY window_start;", "declare one on users, WITH (watermark = dob", 3),
        ("CREATE VIEW v AS SELECT id FROM users;", "CREATE MATERIALIZED VIEW", 3),
        ("CREATE MATERIALIZED VIEW v AS SELECT country FROM users;", "select its key", 3),
        ("CREATE MATERIALIZED VIEW v AS SELECT country, COUNT(*) FROM users GROUP BY country;", "name this column", 3),
        ("CREATE MATERIALIZED VIEW v AS SELECT country, COUNT(*) AS n FROM users GROUP BY country UNION SELECT country, 1 AS n FROM users;", "set operations", 3),
        ("DELETE FROM users;", "a dataflow file holds", 3),
        ("CREATE MATERIALIZED VIEW v AS SELECT country, COUNT(*) AS n FROM users GROUP BY country HAVING", "syntax", 3),
        ("CREATE MATERIALIZED VIEW v AS SELECT id, email LIKE 'a\\' AS t FROM users;", "ends in its escape character", 3),
        ("CREATE MATERIALIZED VIEW v AS SELECT id, dob + INTERVAL '1 day 12 hours' AS t FROM users;", "one amount and one unit", 3),
        ("CREATE MATERIALIZED VIEW \"ByCountry\" AS SELECT country, COUNT(*) AS n FROM users GROUP BY country;", "cannot name a view", 3),
        ("CREATE MATERIALIZED VIEW v AS SELECT country, COUNT(*) AS token FROM users GROUP BY country;", "cannot name a column", 3),
    ] {
        let error = refused(view);
        assert!(error.starts_with(&format!("test.sql:{line}:")) && error.contains(message), "{view}\n  gave: {error}\n  wanted line {line} and {message:?}");
    }
    let nullable_key = rtds::dataflow::Dataflow::parse(
        &rtds::dataflow::USERS_SQL.replace("SELECT COALESCE(country, 'unknown') AS country, COUNT(*) AS users", "SELECT country, COUNT(*) AS users"),
        "edited.sql",
    )
    .expect_err("a key that may be NULL cannot be a Cassandra key")
    .to_string();
    assert!(nullable_key.contains("edited.sql:") && nullable_key.contains("COALESCE"), "{nullable_key}");
}

/// The source table with a watermark on registered_date.
fn windowed(views: &str) -> Result<Program, String> {
    let table = TABLE.replace("WITH (connector = 'kafka'", "WITH (watermark = registered_date - INTERVAL '5' SECOND, connector = 'kafka'");
    rtds::dataflow::Dataflow::parse(&format!("{table}{views}"), "test.sql").map(|d| (*d.program).clone()).map_err(|e| e.to_string())
}

#[test]
fn windows_group_by_their_start_and_are_refused_without_a_watermark_or_a_window_key() {
    let program = windowed(
        "CREATE MATERIALIZED VIEW per_hour WITH (allowed_lateness = INTERVAL '1' MINUTE) AS \
           SELECT window_start, window_end, COALESCE(gender, '?') AS gender, COUNT(*) AS n \
           FROM TUMBLE(users, registered_date, INTERVAL '1' HOUR) GROUP BY window_start, window_end, 3;",
    )
    .unwrap();
    let watermark = program.table.watermark.as_ref().expect("a watermark");
    assert_eq!((program.table.columns[watermark.column].name.as_str(), watermark.delay_ms), ("registered_date", 5_000));
    let window = program.views[0].window.as_ref().expect("a window");
    assert_eq!((window.size_ms, window.lateness_ms), (3_600_000, 60_000));
    // Rows at 10:31, 10:59:59.999, 11:00 and one without a time (in no window).
    let at = |n: u128, time: &str| {
        let mut u = user(n, None, "female", "a@b.co", "1990-01-01T00:00:00Z");
        u.registered_date = time.parse::<chrono::DateTime<chrono::Utc>>().ok();
        u
    };
    let mut users = vec![at(1, "2020-05-17T10:31:00Z"), at(2, "2020-05-17T10:59:59.999Z"), at(3, "2020-05-17T11:00:00Z"), at(4, "none")];
    users[3].registered_date = None;
    let rows = state_rows(&program, &users);
    let view = &program.views[0];
    let out: Vec<String> = view.evaluate(&rows, &cx()).iter().map(|r| format!("{} {} {} {}", r[0], r[1], r[2], r[3])).collect();
    assert_eq!(out, ["2020-05-17T10:00:00Z 2020-05-17T11:00:00Z female 2", "2020-05-17T11:00:00Z 2020-05-17T12:00:00Z female 1"], "half-open windows aligned to the hour");
    let end = window.end_of_key(&view.key_of(&view.evaluate(&rows, &cx())[0])).unwrap();
    assert_eq!(end, window.end_of(1_589_711_460_000), "the key's window end is the row's");

    for (views, message) in [
        ("CREATE MATERIALIZED VIEW v AS SELECT window_start, COUNT(*) AS n FROM TUMBLE(users, dob, INTERVAL '1' HOUR) GROUP BY 1;", "must be the watermark's, registered_date"),
        ("CREATE MATERIALIZED VIEW v AS SELECT gender, COUNT(*) AS n FROM TUMBLE(users, registered_date, INTERVAL '1' HOUR) WHERE gender IS NOT NULL GROUP BY 1;", "GROUP BY window_start"),
        ("CREATE MATERIALIZED VIEW v AS SELECT id FROM TUMBLE(users, registered_date, INTERVAL '1' HOUR);", "aggregates per window"),
        ("CREATE MATERIALIZED VIEW v AS SELECT window_start, COUNT(*) AS n FROM HOP(users, registered_date, INTERVAL '1' HOUR) GROUP BY 1;", "HOP windows are not supported"),
        ("CREATE MATERIALIZED VIEW v AS SELECT window_start, COUNT(*) AS n FROM TUMBLE(users, registered_date, 60) GROUP BY 1;", "TUMBLE's size is an INTERVAL"),
        ("CREATE MATERIALIZED VIEW v WITH (allowed_lateness = INTERVAL '1' MINUTE) AS SELECT id FROM users;", "allowed_lateness is a setting of a view over TUMBLE"),
        ("CREATE MATERIALIZED VIEW v WITH (keyspace = 'x') AS SELECT id FROM users;", "one setting is allowed_lateness"),
    ] {
        let error = windowed(views).expect_err(views);
        assert!(error.contains("test.sql:3:") && error.contains(message), "{views}\n  gave: {error}\n  wanted {message:?}");
    }
    let text_watermark = rtds::dataflow::Dataflow::parse(&TABLE.replace("WITH (connector", "WITH (watermark = email, connector"), "t.sql").unwrap_err().to_string();
    assert!(text_watermark.contains("watermark column email is TEXT, not TIMESTAMP"), "{text_watermark}");
}

/// A view's rows with their accumulated differences, shared with the dataflow.
type Shared = Arc<std::sync::Mutex<BTreeMap<(Row, Row), isize>>>;

/// Each epoch's changes (upsert or delete of an id) fed to the rendered views; at every
/// epoch, the incremental views equal the views computed over the table as it is then.
#[test]
fn incremental_views_equal_the_batch_answer_through_updates_and_deletes() {
    let program = Arc::new(program(
        "CREATE MATERIALIZED VIEW a AS SELECT COALESCE(country, 'none') AS country, COUNT(*) AS n, COUNT(DISTINCT gender) AS genders, \
           MIN(dob) AS oldest, MAX(email) AS last, AVG(EXTRACT(YEAR FROM dob)) AS mean, SUM(EXTRACT(MONTH FROM dob)) AS months \
           FROM users GROUP BY 1;\n\
         CREATE MATERIALIZED VIEW b AS SELECT EXTRACT(YEAR FROM dob) / 10 * 10 AS decade, gender, COUNT(*) AS n FROM users \
           WHERE email LIKE '%@%' GROUP BY 1, 2 HAVING COUNT(*) > 1;\n\
         CREATE MATERIALIZED VIEW c AS SELECT COALESCE(gender, 'x') AS gender, COUNT(*) AS n FROM users GROUP BY 1;\n\
         CREATE MATERIALIZED VIEW d AS SELECT id, LOWER(email) AS email FROM users WHERE country = 'Peru';\n\
         CREATE MATERIALIZED VIEW e AS SELECT gender, SUM(EXTRACT(MONTH FROM dob)) AS months, MAX(dob) AS newest, COUNT(email) AS emails \
           FROM users WHERE country <> 'Chile' GROUP BY 1;",
    ));
    // A deterministic stream of changes over 40 ids: upserts that move users between
    // countries, genders and dates, and deletes.
    let countries = [Some("France"), Some("Peru"), None, Some("Chile")];
    let mut seed = 7u64;
    let mut next = move |n: u64| {
        seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        (seed >> 33) % n
    };
    let mut epochs: Vec<Vec<(u128, Option<User>)>> = Vec::new();
    for _ in 0..30 {
        let changes = (0..8)
            .map(|_| {
                let id = next(40) as u128 + 1;
                let change = if next(5) == 0 {
                    None
                } else {
                    let year = 1950 + next(60);
                    let email = if next(6) == 0 { "bad".to_string() } else { format!("u{}@x{}.com", next(9), next(3)) };
                    Some(user(id, countries[next(4) as usize], ["female", "male"][next(2) as usize], &email, &format!("{year}-0{}-15T00:00:00Z", 1 + next(9))))
                };
                (id, change)
            })
            .collect();
        epochs.push(changes);
    }
    let results = timely::execute_directly({
        let program = program.clone();
        let epochs = epochs.clone();
        move |worker| {
            let mut input: InputSession<u64, (u128, Row), isize> = InputSession::new();
            let outputs: Vec<Shared> = program.views.iter().map(|_| Default::default()).collect();
            let probe = worker.dataflow::<u64, _, _>(|scope| {
                let rows = input.to_collection(scope).map(|(_, row)| row);
                let probe = timely::dataflow::operators::probe::Handle::new();
                let views: Vec<Arc<rtds::sql::View>> = program.views.iter().cloned().map(Arc::new).collect();
                let kept = Arc::new(Kept::new(views, program.table.state_columns.len(), cx()));
                let keep = kept.clone();
                let rows = rows.map(move |row| keep.row(row));
                for (rendered, out) in render_views(rows, kept).into_iter().zip(&outputs) {
                    let out = out.clone();
                    rendered.inspect(move |(data, _, diff)| *out.lock().unwrap().entry(data.clone()).or_default() += *diff).probe_with(&probe);
                }
                probe
            });
            let decoder = Decoder::new(&program.table);
            let mut table: BTreeMap<u128, Row> = BTreeMap::new();
            let mut checked = Vec::new();
            for (epoch, changes) in epochs.iter().enumerate() {
                for (id, change) in changes {
                    if let Some(old) = table.remove(id) {
                        input.remove((*id, old));
                    }
                    if let Some(u) = change {
                        let row = program.table.state_row(&decoder.row(u, None));
                        input.insert((*id, row.clone()));
                        table.insert(*id, row);
                    }
                }
                input.advance_to(epoch as u64 + 1);
                input.flush();
                while probe.less_than(input.time()) {
                    worker.step();
                }
                for (view, out) in program.views.iter().zip(&outputs) {
                    let mut incremental: Vec<Row> = out.lock().unwrap().iter().filter(|(_, d)| **d != 0).map(|((_, row), d)| {
                        assert_eq!(*d, 1, "view {} holds a row once", view.name);
                        row.clone()
                    }).collect();
                    incremental.sort_by_key(|row| view.key_of(row));
                    let batch = view.evaluate(table.values(), &cx());
                    assert_eq!(incremental, batch, "view {} after epoch {epoch}", view.name);
                    checked.push(batch.len());
                }
            }
            checked
        }
    });
    assert!(results.iter().filter(|n| **n > 0).count() > 100, "the views held rows most of the time: {results:?}");
}

#[test]
fn nulls_count_and_compare_as_sql_has_it() {
    let rows = evaluate("CREATE MATERIALIZED VIEW v AS SELECT id, country = NULL AS eq_null, country IS NULL AS is_null, NOT (country = 'Peru') AS not_peru FROM users;", &users());
    assert_eq!(column(&rows, "eq_null"), vec![serde_json::Value::Null; 5]);
    assert_eq!(column(&rows, "is_null"), [false, false, false, true, false]);
    assert_eq!(column(&rows, "not_peru")[3], serde_json::Value::Null, "NOT NULL is NULL");
    let datum = Datum::Null;
    assert!(datum.is_null());
}
