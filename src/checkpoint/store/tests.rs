use super::*;
use crate::sql::Program;
use crate::sql::expr::Context;

const SQL: &str = "CREATE TABLE users (id UUID PRIMARY KEY, country TEXT, email TEXT) WITH (connector = 'kafka', topic = 't');\n\
    CREATE TABLE rows WITH (connector = 'jsonl') AS SELECT * FROM users;\n\
    CREATE MATERIALIZED VIEW by_country AS SELECT country, COUNT(*) AS users FROM users GROUP BY 1;\n\
    CREATE MATERIALIZED VIEW emails AS SELECT country, COUNT(DISTINCT email) AS emails FROM users GROUP BY 1;\n";

fn kept() -> Arc<Kept> {
    let program = Program::parse(SQL, "test.sql").unwrap_or_else(|e| panic!("{e}"));
    let cx = Context { today: chrono::NaiveDate::from_ymd_opt(2026, 12, 6).unwrap(), now: None };
    let views = program.views.iter().cloned().map(Arc::new).collect();
    Arc::new(Kept::new(views, program.table.state_columns.len(), cx))
}

fn identity() -> Identity {
    Identity { lineage: 7, dataflow: "d".into(), index: 1, peers: 2 }
}

/// A user's kept row, from a state row of (id, country, email).
fn user(kept: &Kept, n: u128, country: &str, email: &str) -> (Uuid, KeptRow) {
    let id = Uuid::from_u128(n);
    let row: Row = [Datum::Uuid(id), Datum::Text(country.into()), Datum::Text(email.into())].into_iter().collect();
    (id, kept.row(row))
}

fn version(order: u64) -> Version {
    Version { order, offset: order as i64 }
}

/// Applies one epoch and returns the changes it made, as (id, old, new) with rows as text.
fn apply(state: &mut CheckpointedState, updates: Vec<Versioned<Uuid, Version, KeptRow>>, marks: Vec<Mark>) -> Vec<(Uuid, bool, bool)> {
    let mut changes = Vec::new();
    state.apply(updates, marks, &mut |id, old, new| changes.push((id, old.is_some(), new.is_some())));
    changes
}

/// Partition 0 read through record `records`.
fn read(records: i64) -> Mark {
    Mark::Read { partition: 0, records }
}

fn durable(records: i64) -> HashMap<i32, Durable> {
    HashMap::from([(0, Durable { next_offset: records + 3, records })])
}

#[test]
fn a_checkpoint_resumes_with_the_views_inputs_and_the_newest_versions() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("worker-1");
    let kept = kept();
    let (a, a1) = user(&kept, 1, "BR", "a@x.com");
    let (_, a2) = user(&kept, 1, "PT", "a@x.com");
    let (b, b1) = user(&kept, 2, "BR", "b@x.com");
    // c shares a's e-mail: the same narrow row once a is in PT.
    let (c, c1) = user(&kept, 3, "PT", "a@x.com");
    {
        let checkpoint = Checkpoint::open(&path).unwrap();
        assert!(checkpoint.resume(&identity(), &durable(0)).unwrap_err().contains("no complete epoch"));
        let mut state = checkpoint.into_state(identity(), Coverage::new(), None, kept.clone());
        let changes = apply(&mut state, vec![(a, (version(5), Some(a1.clone()))), (b, (version(6), Some(b1))), (c, (version(3), Some(c1)))], vec![read(3)]);
        assert_eq!(changes, vec![(a, false, true), (b, false, true), (c, false, true)]);
        // a moves to PT; an older version of a changes nothing; b is deleted.
        let changes = apply(&mut state, vec![(a, (version(4), Some(a1.clone()))), (a, (version(7), Some(a2))), (b, (version(8), None))], vec![read(5)]);
        assert_eq!(changes, vec![(a, true, true), (b, true, false)]);
    }
    let checkpoint = Checkpoint::open(&path).unwrap();
    let Resumable { view_inputs: mut inputs, coverage, event_time } = checkpoint.resume(&identity(), &durable(5)).unwrap();
    assert_eq!(coverage, Coverage::from([(0, 5)]));
    assert_eq!(event_time, None, "no windows, no event time");
    inputs.sort();
    let text = |s: &str| Datum::Text(s.into());
    // by_country (view 0) holds PT twice; emails (view 1) its narrow row (country, e-mail),
    // a's and c's being one input counted twice: per distinct value, not per user.
    assert_eq!(inputs.len(), 2, "{inputs:?}");
    assert_eq!(inputs[0], ((0, [text("PT")].into_iter().collect()), 2));
    assert_eq!(inputs[1], ((1, [text("PT"), text("a@x.com")].into_iter().collect()), 2));
    assert_eq!(checkpoint.ids().unwrap(), 3, "a delete is remembered");
    // The state goes on where it was: b's delete stays newer than its version 6.
    let mut state = checkpoint.into_state(identity(), Coverage::from([(0, 5)]), None, kept.clone());
    let (_, b_again) = user(&kept, 2, "BR", "b@x.com");
    assert_eq!(apply(&mut state, vec![(b, (version(6), Some(b_again)))], vec![]), vec![]);
}

#[test]
fn a_checkpoint_of_another_state_is_not_resumed_from() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("worker-1");
    let kept = kept();
    let (a, a1) = user(&kept, 1, "BR", "a@x.com");
    {
        let mut state = Checkpoint::open(&path).unwrap().into_state(identity(), Coverage::new(), None, kept.clone());
        apply(&mut state, vec![(a, (version(5), Some(a1)))], vec![read(10)]);
    }
    let checkpoint = Checkpoint::open(&path).unwrap();
    assert!(checkpoint.resume(&identity(), &durable(10)).is_ok());
    assert!(checkpoint.resume(&identity(), &HashMap::new()).is_ok(), "a topic without recorded offsets");
    let stale = checkpoint.resume(&identity(), &durable(11)).unwrap_err();
    assert!(stale.contains("partition 0 is durable through record 11, the checkpoint only through 10"), "{stale}");
    let other = |change: fn(&mut Identity)| {
        let mut identity = identity();
        change(&mut identity);
        checkpoint.resume(&identity, &durable(10)).unwrap_err()
    };
    assert!(other(|i| i.lineage = 8).contains("another keyspace"));
    assert!(other(|i| i.dataflow = "e".into()).contains("dataflow"));
    assert!(other(|i| i.peers = 3).contains("worker 1 of 2, this is worker 1 of 3"));
    // Emptied for a fallback, it claims nothing until its first epoch is written.
    let checkpoint = checkpoint.recreate().unwrap();
    let discarded = path.with_file_name("worker-1.discarded");
    assert!(!discarded.exists());
    assert!(checkpoint.resume(&identity(), &durable(0)).unwrap_err().contains("no complete epoch"));
    assert_eq!(checkpoint.ids().unwrap(), 0);
    // A crash between moving it aside and deleting it: the next opening deletes what is left.
    drop(checkpoint);
    std::fs::create_dir_all(discarded.join("keyspaces")).unwrap();
    let _checkpoint = Checkpoint::open(&path).unwrap();
    assert!(!discarded.exists());
}

#[test]
fn the_day_is_in_the_identity_only_when_a_view_that_maps_rows_filters_them() {
    let day = |d| chrono::NaiveDate::from_ymd_opt(2026, 12, d).unwrap();
    // users.sql: COUNT(*) views, whose keys and filters are kept with each row.
    let counts = crate::dataflow::Dataflow::users().program;
    assert_eq!(super::super::digest(&counts, day(6)), super::super::digest(&counts, day(7)));
    // A view that aggregates keeps its filter's answer and its narrow row with each row too.
    let sql = format!("{SQL}CREATE MATERIALIZED VIEW firsts AS SELECT country, MIN(email) AS first FROM users WHERE email IS NOT NULL GROUP BY 1;\n");
    let aggregates = Program::parse(&sql, "test.sql").unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(super::super::digest(&aggregates, day(6)), super::super::digest(&aggregates, day(7)));
    // A view that maps rows filters them again when a row changes.
    let sql = format!("{SQL}CREATE MATERIALIZED VIEW addresses AS SELECT id, email FROM users WHERE email IS NOT NULL;\n");
    let filtered = Program::parse(&sql, "test.sql").unwrap_or_else(|e| panic!("{e}"));
    assert_ne!(super::super::digest(&filtered, day(6)), super::super::digest(&filtered, day(7)));
}

#[test]
fn the_newest_event_time_read_is_kept_for_the_watermark() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("worker-1");
    let kept = kept();
    let (a, a1) = user(&kept, 1, "BR", "a@x.com");
    {
        // Resumed at 100: written with the first epoch, even when nothing newer is read.
        let mut state = Checkpoint::open(&path).unwrap().into_state(identity(), Coverage::new(), Some(100), kept.clone());
        apply(&mut state, vec![(a, (version(5), Some(a1.clone())))], vec![read(1), Mark::EventTime(50)]);
        assert_eq!(state.checkpoint.meta().unwrap().2, Some(100));
        // The newest of every worker's times, whatever their order.
        apply(&mut state, vec![], vec![read(2), Mark::EventTime(900), Mark::EventTime(400)]);
        apply(&mut state, vec![], vec![read(3), Mark::EventTime(700)]);
        assert_eq!(state.checkpoint.meta().unwrap().2, Some(900));
    }
    let resumed = Checkpoint::open(&path).unwrap().resume(&identity(), &durable(3)).unwrap();
    assert_eq!((resumed.event_time, resumed.coverage), (Some(900), Coverage::from([(0, 3)])));
    // A dataflow without windows keeps none.
    let other = dir.path().join("worker-2");
    let mut state = Checkpoint::open(&other).unwrap().into_state(identity(), Coverage::new(), None, kept.clone());
    apply(&mut state, vec![(a, (version(5), Some(a1)))], vec![read(1)]);
    assert_eq!(state.checkpoint.meta().unwrap().2, None);
}
