//! Restarts: how much a crash makes the cluster read again, and a cluster restarted in
//! another shape (other `-n`/`-w`, so other owners for the partitions and the stored state).

use std::time::Duration;

use rtds::engine::cluster::WorkerReport;

use super::harness::{Paused, Pipeline, Running, finish, stop, wait_durable, wait_until};
use crate::util::{cassandra, rtds, stack_lock};

/// `source.kafka.max_in_flight` of the replay test's dataflow: records a worker may hold read
/// but not yet durable.
const WINDOW: u64 = 2_000;

fn reports(worker: &Running) -> Vec<WorkerReport> {
    worker.stdout().lines().filter_map(WorkerReport::parse_line).collect()
}

#[test]
#[ignore = "needs PostgreSQL, Kafka and Cassandra: run scripts/test"]
fn a_crash_during_a_stall_reads_again_at_most_the_in_flight_window() {
    let _stack = stack_lock();
    let pipeline = Pipeline::new("replay");
    let total = 40_000u64;
    pipeline.ingest(total, &[]);
    // A window of 2,000 records per worker, and slow writes (one row per request, one request
    // at a time) so that Cassandra freezes while most of the topic is still unread.
    let dir = tempfile::tempdir().unwrap();
    let dataflow = dir.path().join("window.sql");
    let mut toml = rtds::dataflow::USERS_SQL.to_string();
    for (from, to) in [("max_in_flight = 20000", "max_in_flight = 2000"), ("concurrency = 32", "concurrency = 1"), ("batch_rows = 10", "batch_rows = 1")] {
        assert!(toml.contains(from), "dataflows/users.sql sets {from}");
        toml = toml.replace(from, to);
    }
    std::fs::write(&dataflow, toml).unwrap();
    let workers = 2;
    let worker = |idle: &str| {
        let mut command = rtds();
        command.args(["worker", "-w", &workers.to_string(), "--report"]).args(pipeline.pipeline_args_idle(idle)).arg("--dataflow").arg(&dataflow);
        Running::spawn_keeping_stdout(command)
    };

    let first = worker("1h");
    wait_until(Duration::from_secs(60), "rows reach Cassandra", || reports(&first).last().is_some_and(|r| r.rows_written > 0).then_some(()));
    let paused = Paused::new("cassandra");
    let reports_at_pause = reports(&first).len();
    // Nothing can become durable now: each worker reads until it holds its window, then
    // waits. Three reports in a row (a second apart) that agree show it stopped reading.
    let (read, rows_at_pause) = wait_until(Duration::from_secs(60), "the workers stop reading", || {
        let all = reports(&first);
        let last = all.get(reports_at_pause..)?.iter().rev().take(3).collect::<Vec<_>>();
        (last.len() == 3 && last.iter().all(|r| r.records_in == last[0].records_in)).then(|| (last[0].records_in, last[0].rows_written))
    });
    assert!(read < total, "the window held the workers back: they read {read} of {total} records");
    first.kill9();
    drop(paused);

    // Where a restart resumes: the offsets recorded before the crash.
    let recorded: u64 = pipeline.rt.block_on(async {
        let session = cassandra().await;
        let cql = format!("select next_offset from {}.offsets where topic = ?", pipeline.keyspace);
        let result = session.query_unpaged(cql, (&pipeline.topic,)).await.unwrap().into_rows_result().unwrap();
        result.rows::<(i64,)>().unwrap().map(|r| r.unwrap().0 as u64).sum()
    });
    let second = worker("4s");
    let out = second.out.clone().unwrap();
    finish(second, "the restarted rtds worker", Duration::from_secs(180));
    let stdout = std::fs::read_to_string(out).unwrap();
    let summary: serde_json::Value = stdout.lines().rev().find_map(|l| serde_json::from_str(l).ok()).expect("a summary line");
    // Both workers resumed from their checkpoints: nothing was read back from Cassandra.
    assert_eq!(summary["checkpoints_resumed"], workers, "{stdout}");
    assert_eq!(summary["state_rows_loaded"], 0, "{stdout}");
    let read_after = summary["records_in"].as_u64().unwrap();
    assert_eq!(read_after, total - recorded, "the restart read from the recorded offsets to the end");

    // Read twice: what the crashed run read beyond the recorded offsets. At most the window of
    // each worker, plus what became durable in the offsets writer's last round (100 ms) before
    // the freeze, which one more window bounds at this test's write rate.
    let read_again = read + read_after - total;
    eprintln!("replay: read {read} before the crash ({rows_at_pause} rows written), {recorded} recorded, {read_again} read again");
    assert!(read_again > 0, "the crash came with records read and not yet durable");
    assert!(
        read_again <= (workers + 1) * WINDOW,
        "a crash makes the workers read again at most their windows ({workers} × {WINDOW}) and one offsets round: {read_again}"
    );
    pipeline.assert_cassandra_equals_postgres(total as usize);
}

#[test]
#[ignore = "needs PostgreSQL, Kafka and Cassandra: run scripts/test"]
fn a_cluster_restarted_in_another_shape_ends_equal_to_postgres() {
    let _stack = stack_lock();
    let pipeline = Pipeline::new("reshape");
    pipeline.ingest(20_000, &[]);
    let (master, http) = pipeline.start_master_idle("1h");
    let more = pipeline.ingest_in_background(10_000, 2_000);
    wait_durable(&pipeline, http, 25_000);
    stop(master);
    more.finish(Duration::from_secs(120));
    pipeline.ingest(5_000, &[]);
    // 2 processes × 2 workers before, 1 × 3 now: the 8 partitions and the shares of the
    // stored rows (the dedupe state) all change hands.
    let mut command = rtds();
    command
        .args(["master", "--local", "-n", "1", "-w", "3"])
        .args(["--http", "127.0.0.1:0"])
        .args(pipeline.pipeline_args());
    let stderr = finish(Running::spawn(command), "rtds master -n 1 -w 3", Duration::from_secs(180));
    assert!(stderr.contains("every worker process finished"), "{stderr}");
    // The checkpoints were of another shape: each worker read its rows back instead.
    assert_eq!(checkpoints(&stderr), (0, 3), "{stderr}");
    pipeline.assert_cassandra_equals_postgres(35_000);

    // The same shape again, and worker 1 lost its disk: the others resume, it reads back.
    pipeline.ingest(3_000, &[]);
    let lost = crate::util::state_dir().join(&pipeline.keyspace).join(&pipeline.topic).join("worker-1");
    std::fs::remove_dir_all(&lost).unwrap_or_else(|e| panic!("{}: {e}", lost.display()));
    let mut command = rtds();
    command.args(["master", "--local", "-n", "1", "-w", "3"]).args(["--http", "127.0.0.1:0"]).args(pipeline.pipeline_args());
    let stderr = finish(Running::spawn(command), "rtds master -n 1 -w 3, again", Duration::from_secs(180));
    assert_eq!(checkpoints(&stderr), (2, 1), "{stderr}");
    pipeline.assert_cassandra_equals_postgres(38_000);
}

/// How many workers resumed from their checkpoints and how many did not, from their logs.
fn checkpoints(stderr: &str) -> (usize, usize) {
    let not = stderr.lines().filter(|l| l.contains("not resuming from the checkpoint")).count();
    (stderr.lines().filter(|l| l.contains("resuming from the checkpoint")).count() - not, not)
}
