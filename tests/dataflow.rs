//! Pipeline definitions: every setting is checked when a file is loaded, and the error names
//! the file, the line and column, the setting and the allowed range; `rtds check` validates a
//! file without touching a service.

use rtds::dataflow::{Dataflow, LOCAL_SQL, USERS_SQL};

/// The error of loading `text` (one of the built-in files with one part changed).
fn refused(text: &str, from: &str, to: &str) -> String {
    assert!(text.contains(from), "the built-in file has {from:?}");
    Dataflow::parse(&text.replace(from, to), "edited.sql").expect_err(&format!("{to:?} is refused")).to_string()
}

#[test]
fn the_built_in_dataflows_pass_their_own_checks() {
    let users = Dataflow::users();
    let rtds::dataflow::Sink::Cassandra(sink) = &users.sink else { panic!("users.sql writes Cassandra") };
    assert_eq!((sink.batch_bytes, sink.table.as_str(), sink.keyspace.as_str()), (4000, "created_users", "rtds"));
    let rtds::dataflow::Source::Kafka(source) = &users.source else { panic!("users.sql reads Kafka") };
    assert_eq!((source.topic.as_str(), source.epoch_ms), ("users_created", 10));
    let views: Vec<&str> = users.program.views.iter().map(|v| v.name.as_str()).collect();
    assert_eq!(views, ["users_by_country", "users_by_gender", "users_by_age_band"]);
    assert_eq!(Dataflow::local().name, "local");
}

#[test]
fn settings_out_of_range_are_refused_with_the_place_and_the_range() {
    for (from, to, key, range) in [
        ("epoch_ms = 10", "epoch_ms = 0", "epoch_ms = 0", "allowed 1 to 60000"),
        ("max_in_flight = 20000", "max_in_flight = 0", "max_in_flight = 0", "allowed 1 to"),
        ("max_message_bytes = 65536", "max_message_bytes = 10", "max_message_bytes = 10", "allowed 64 to"),
        ("concurrency = 32", "concurrency = 0", "concurrency = 0", "allowed 1 to 1024"),
        ("batch_rows = 10", "batch_rows = 0", "batch_rows = 0", "allowed 1 to 10 "),
        ("batch_bytes = 4000", "batch_bytes = 100000", "batch_bytes = 100000", "allowed 256 to 51200"),
    ] {
        let error = refused(USERS_SQL, from, to);
        let line = USERS_SQL.lines().position(|l| l.contains(from)).unwrap() + 1;
        assert!(error.contains(&format!("edited.sql:{line}:")) && error.contains(key) && error.contains(range), "{error}");
    }
    let error = refused(LOCAL_SQL, "replay = 0.01", "replay = 1.5");
    assert!(error.contains("replay = 1.5") && error.contains("from 0 to 1"), "{error}");
    let error = refused(LOCAL_SQL, "page_size = 5000", "page_size = 0");
    assert!(error.contains("page_size = 0"), "{error}");
    let error = refused(USERS_SQL, "epoch_ms = 10", "epoch_mss = 10");
    assert!(error.contains("has no setting epoch_mss") && error.contains("epoch_ms"), "a misspelt setting is refused, naming the right ones: {error}");
    let error = refused(USERS_SQL, "connector = 'cassandra'", "connector = 'kassandra'");
    assert!(error.contains("'kassandra' is not a sink"), "{error}");
}

#[test]
fn a_worker_refuses_a_bad_file_before_it_connects_to_anything() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("zero.sql");
    std::fs::write(&path, USERS_SQL.replace("epoch_ms = 10", "epoch_ms = 0")).unwrap();
    // Nothing listens on these ports: the file must be refused first, not the connection.
    let out = crate::util::rtds()
        .args(["worker", "--kafka", "127.0.0.1:1", "--cassandra", "127.0.0.1:1", "--dataflow"])
        .arg(&path)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("zero.sql:") && stderr.contains("epoch_ms = 0"), "{stderr}");
}

#[test]
fn rtds_check_validates_a_file_alone_and_names_the_line_of_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("good.sql");
    std::fs::write(&good, USERS_SQL).unwrap();
    let out = crate::util::rtds().args(["check", "--dataflow"]).arg(&good).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).contains("valid"), "{}", String::from_utf8_lossy(&out.stdout));

    let bad = dir.path().join("bad.sql");
    let text = USERS_SQL.replace("COUNT(*) AS users\n    FROM users GROUP BY 1;\n\nCREATE MATERIALIZED VIEW users_by_gender", "COUNT(*) AS users\n    FROM users JOIN x ON true GROUP BY 1;\n\nCREATE MATERIALIZED VIEW users_by_gender");
    assert_ne!(text, USERS_SQL);
    std::fs::write(&bad, &text).unwrap();
    let line = text.lines().position(|l| l.contains("JOIN x")).unwrap() + 1;
    let out = crate::util::rtds().args(["check", "--dataflow"]).arg(&bad).output().unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains(&format!("bad.sql:{line}:")) && stderr.contains("joins are not supported"), "{stderr}");
}

#[test]
fn rtds_check_runs_the_expectations_over_a_jsonl_file() {
    let dir = tempfile::tempdir().unwrap();
    let rows = dir.path().join("rows.jsonl");
    let good = r#"{"id":"6f1d2c1e-8f43-4b7e-9d60-3a2b1c0d9e8f","first_name":"Ana","last_name":"Lima","email":"ana@example.com","dob":"1990-01-02T03:04:05Z"}"#;
    let bad_email = r#"{"id":"7f1d2c1e-8f43-4b7e-9d60-3a2b1c0d9e8f","first_name":"Bo","last_name":"Lee","email":"no-address","dob":"1990-01-02T03:04:05Z"}"#;
    std::fs::write(&rows, format!("{good}\n{bad_email}\n")).unwrap();
    let out = crate::util::rtds().args(["check", "--json", "--file"]).arg(&rows).output().unwrap();
    assert_eq!(out.status.code(), Some(1), "a drop-row expectation failed: {}", String::from_utf8_lossy(&out.stderr));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["rows"], 2);
    let valid_email = report["expectations"].as_array().unwrap().iter().find(|e| e["name"] == "valid_email").unwrap();
    assert_eq!(valid_email["failed"], 1);
    assert_eq!(valid_email["examples"][0], "7f1d2c1e-8f43-4b7e-9d60-3a2b1c0d9e8f");
    std::fs::write(&rows, format!("{good}\n")).unwrap();
    let out = crate::util::rtds().args(["check", "--file"]).arg(&rows).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stdout));
}
