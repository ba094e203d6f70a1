//! What a worker process tells its supervisor every second: counters, resources and the
//! latencies recorded since the last report, as one `rtds-report {json}` line on stdout.
//!
//! The supervisor (`rtds master --local`, or `rtds worker --master` for a remote master)
//! reads these lines from the process's stdout; nothing else needs a port.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::ProcessState;
use crate::metrics::drain_histogram;

/// The prefix of a report line.
pub const REPORT_PREFIX: &str = "rtds-report ";

/// One report of a worker process. Counters count since the process started; latencies are
/// those recorded since the previous report, as (value, count) pairs of an hdrhistogram.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct WorkerReport {
    /// The worker process's pid, on its machine; 0 (and left out of the JSON) while unknown.
    #[serde(default, skip_serializing_if = "unknown_pid")]
    pub pid: u32,
    /// Kafka partitions this process's workers own.
    pub partitions: Vec<i32>,
    /// Records read from Kafka (replays after a restart included).
    pub records_in: u64,
    /// Rows acknowledged by Cassandra.
    pub rows_written: u64,
    /// Rows deleted (tombstones), acknowledged by Cassandra.
    #[serde(default)]
    pub rows_deleted: u64,
    /// Records that failed parsing or checks, or rows Cassandra refused, acknowledged by the
    /// dead-letter topic.
    pub rejected: u64,
    /// Of `rejected`: rows Cassandra refused (its message is the dead letter's reason).
    #[serde(default)]
    pub refused: u64,
    /// Records retention deleted before they were durable, skipped (`--accept-lost-records`).
    #[serde(default)]
    pub skipped: u64,
    /// Aggregate values written.
    pub aggregate_writes: u64,
    /// Cassandra write attempts that failed (and were retried).
    pub cassandra_write_errors: u64,
    /// Warnings Cassandra returned with writes, per kind (see
    /// [`crate::connectors::cassandra::warning_kind`]).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub cassandra_warnings: BTreeMap<String, u64>,
    /// Upserts evaluated against the dataflow's expectations.
    #[serde(default)]
    pub expectation_rows: u64,
    /// Per expectation, by name: rows that failed it.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub expectation_failures: BTreeMap<String, u64>,
    /// Per window view, by name: records late for its window (dead letters).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub late_records: BTreeMap<String, u64>,
    /// Per Avro writer schema, by registry id: records read (JSON records are not counted).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub schema_records: BTreeMap<String, u64>,
    /// The epoch the sources stamp new records with.
    pub epoch: u64,
    /// The length of an epoch, in milliseconds.
    #[serde(default)]
    pub epoch_ms: u64,
    /// The newest epoch every sink has made durable.
    pub durable_epoch: u64,
    pub rss_bytes: u64,
    pub cpu_seconds: f64,
    /// Produce-to-acknowledged-row latencies since the last report, milliseconds.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub latency_ms: Vec<(u64, u64)>,
    /// Produce-to-read latencies (the source's poll) since the last report, milliseconds.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub read_latency_ms: Vec<(u64, u64)>,
    /// Cassandra write request latencies since the last report, microseconds.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub write_latency_us: Vec<(u64, u64)>,
}

fn unknown_pid(pid: &u32) -> bool {
    *pid == 0
}

impl WorkerReport {
    /// Parses a line of a worker's stdout; `None` for any other line.
    ///
    /// ```
    /// use rtds::engine::cluster::WorkerReport;
    /// let line = format!("rtds-report {}", serde_json::to_string(&WorkerReport { records_in: 7, ..Default::default() }).unwrap());
    /// assert_eq!(WorkerReport::parse_line(&line).unwrap().records_in, 7);
    /// assert!(WorkerReport::parse_line("rtds worker: started").is_none());
    /// ```
    pub fn parse_line(line: &str) -> Option<WorkerReport> {
        serde_json::from_str(line.strip_prefix(REPORT_PREFIX)?).ok()
    }

    /// The report as a stdout line.
    pub fn to_line(&self) -> String {
        format!("{REPORT_PREFIX}{}", serde_json::to_string(self).expect("a report serializes"))
    }
}

/// The process's report as of now; drains the interval histograms.
pub fn report(state: &ProcessState) -> WorkerReport {
    let c = &state.counters;
    let (rss_bytes, cpu_seconds) = crate::metrics::process_usage();
    WorkerReport {
        pid: std::process::id(),
        partitions: state.owned.lock().expect("owned partitions").clone(),
        records_in: c.records_in.load(Ordering::Relaxed),
        rows_written: c.rows_written.load(Ordering::Relaxed),
        rows_deleted: c.rows_deleted.load(Ordering::Relaxed),
        rejected: c.rejected.load(Ordering::Relaxed),
        refused: c.refused.load(Ordering::Relaxed),
        skipped: c.records_skipped.load(Ordering::Relaxed),
        aggregate_writes: c.aggregate_writes.load(Ordering::Relaxed),
        cassandra_write_errors: crate::connectors::retry::failures(),
        cassandra_warnings: state.sink_options.tables.warnings().totals(),
        expectation_rows: c.expectation_rows.load(Ordering::Relaxed),
        expectation_failures: state
            .dataflow
            .program
            .table
            .expectations
            .iter()
            .zip(&c.expectation_failures)
            .map(|(e, failed)| (e.name.clone(), failed.load(Ordering::Relaxed)))
            .collect(),
        late_records: state
            .dataflow
            .program
            .views
            .iter()
            .zip(&c.late_records)
            .filter(|(view, _)| view.window.is_some())
            .map(|(view, late)| (view.name.clone(), late.load(Ordering::Relaxed)))
            .collect(),
        schema_records: state.schemas.per_id().into_iter().map(|(id, n)| (id.to_string(), n)).collect(),
        epoch: c.epoch.load(Ordering::Relaxed),
        epoch_ms: state.source_options.epochs.epoch_ms,
        durable_epoch: c.durable_epoch.load(Ordering::Relaxed),
        rss_bytes,
        cpu_seconds,
        latency_ms: drain_histogram(&mut state.latencies.end_to_end_interval.lock().expect("latency histogram")),
        read_latency_ms: drain_histogram(&mut state.latencies.read_interval.lock().expect("read latency histogram")),
        write_latency_us: drain_histogram(&mut state.latencies.writes_interval.lock().expect("write latency histogram")),
    }
}

/// Prints a report line every second until dropped, and a last one then.
pub fn spawn_reporter(state: Arc<ProcessState>) -> ReporterGuard {
    let stop = Arc::new(AtomicBool::new(false));
    let flag = stop.clone();
    let thread = std::thread::spawn(move || {
        loop {
            let stopping = flag.load(Ordering::Relaxed);
            println!("{}", report(&state).to_line());
            state.sink_options.tables.warnings().log_due();
            if stopping {
                return;
            }
            for _ in 0..10 {
                if flag.load(Ordering::Relaxed) {
                    break;
                }
                std::thread::sleep(Duration::from_millis(100));
            }
        }
    });
    ReporterGuard { stop, thread: Some(thread) }
}

/// Stops the reporter when dropped, after its last report.
pub struct ReporterGuard {
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Drop for ReporterGuard {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
