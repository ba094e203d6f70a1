//! A steady load draws no warning from Cassandra: rows go in batches of one token range and
//! at most 10 partitions, aggregate values one key per statement (issue 15).

use std::time::Duration;

use rtds::engine::cluster::WorkerReport;

use super::harness::{Pipeline, Running, finish};
use crate::util::{rtds, stack_lock};

#[test]
#[ignore = "needs PostgreSQL, Kafka and Cassandra: run scripts/test"]
fn thirty_seconds_at_2000_users_a_second_draw_no_cassandra_warning() {
    let _stack = stack_lock();
    let pipeline = Pipeline::new("warnings");
    pipeline.ingest(1_000, &[]);
    // As a new user runs it: `rtds worker -w 2` at RTDS_LOG=info, which lets the driver's own
    // line for each warning through too.
    let mut command = rtds();
    command.env("RTDS_LOG", "info").args(["worker", "-w", "2", "--report"]).args(pipeline.pipeline_args_idle("8s"));
    let worker = Running::spawn_keeping_stdout(command);
    let more = pipeline.ingest_in_background(60_000, 2_000);
    more.finish(Duration::from_secs(180));
    let out = worker.out.clone().unwrap();
    let stderr = finish(worker, "rtds worker -w 2", Duration::from_secs(180));
    let stdout = std::fs::read_to_string(out).unwrap();
    let last = stdout.lines().rev().find_map(WorkerReport::parse_line).expect("the worker reported");
    assert_eq!(last.rows_written, 61_000, "every row was written");
    assert!(last.aggregate_writes > 0, "aggregate values were written");
    assert!(last.cassandra_warnings.is_empty(), "Cassandra returned warnings: {:?}", last.cassandra_warnings);
    // The driver's line (let through by RTDS_LOG=info) and rtds's own once-a-minute line.
    let warned: Vec<&str> =
        stderr.lines().filter(|l| l.contains("Response from the database contains a warning") || l.contains("Cassandra returned a warning")).collect();
    assert!(warned.is_empty(), "warnings on stderr: {warned:#?}");
    pipeline.assert_cassandra_equals_postgres(61_000);
}
