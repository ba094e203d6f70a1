//! Pipeline definitions: every numeric setting is checked when a file is loaded, and the
//! error names the file, the key and the allowed range.

use rtds::dataflow::{Dataflow, USERS_TOML, LOCAL_TOML};

/// The error of loading `text` (one of the built-in files with one line changed).
fn refused(text: &str, from: &str, to: &str) -> String {
    assert!(text.contains(from), "the built-in file has {from:?}");
    Dataflow::parse(&text.replace(from, to), "edited.toml").expect_err(&format!("{to:?} is refused")).to_string()
}

#[test]
fn the_built_in_dataflows_pass_their_own_checks() {
    let users = Dataflow::users();
    let rtds::dataflow::Sink::Cassandra(sink) = &users.sink else { panic!("users.toml writes Cassandra") };
    assert_eq!(sink.batch_bytes, 4000);
    assert_eq!(Dataflow::local().name, "local");
}

#[test]
fn numeric_settings_out_of_range_are_refused_with_the_key_and_the_range() {
    for (from, to, key, range) in [
        ("epoch_ms = 10", "epoch_ms = 0", "source.kafka.epoch_ms = 0", "allowed 1 to 60000"),
        ("max_in_flight = 20000", "max_in_flight = 0", "source.kafka.max_in_flight = 0", "allowed 1 to"),
        ("max_message_bytes = 65536", "max_message_bytes = 10", "source.kafka.max_message_bytes = 10", "allowed 64 to"),
        ("concurrency = 32", "concurrency = 0", "sink.cassandra.concurrency = 0", "allowed 1 to 1024"),
        ("batch_rows = 10", "batch_rows = 0", "sink.cassandra.batch_rows = 0", "allowed 1 to 10 "),
        ("batch_bytes = 4000", "batch_bytes = 100000", "sink.cassandra.batch_bytes = 100000", "allowed 256 to 51200"),
    ] {
        let error = refused(USERS_TOML, from, to);
        assert!(error.contains("edited.toml") && error.contains(key) && error.contains(range), "{error}");
    }
    let error = refused(LOCAL_TOML, "replay = 0.01", "replay = 1.5");
    assert!(error.contains("source.generator.replay = 1.5") && error.contains("from 0 to 1"), "{error}");
    let error = refused(LOCAL_TOML, "page_size = 5000", "page_size = 0");
    assert!(error.contains("source.generator.page_size = 0"), "{error}");
}

#[test]
fn a_worker_refuses_a_bad_file_before_it_connects_to_anything() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("zero.toml");
    std::fs::write(&path, USERS_TOML.replace("epoch_ms = 10", "epoch_ms = 0")).unwrap();
    // Nothing listens on these ports: the file must be refused first, not the connection.
    let out = crate::util::rtds()
        .args(["worker", "--kafka", "127.0.0.1:1", "--cassandra", "127.0.0.1:1", "--dataflow"])
        .arg(&path)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("zero.toml") && stderr.contains("source.kafka.epoch_ms = 0"), "{stderr}");
}
