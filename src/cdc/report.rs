//! The CDC stage's report line: with `rtds cdc --report`, one JSON line a second on stdout,
//! read by a master that runs the stage (`rtds master --cdc`) for its status page and metrics.

use std::sync::atomic::Ordering;

use serde::{Deserialize, Serialize};

use super::Counters;

/// Marks a report line on stdout, so that the reader can tell it from other output.
pub const CDC_REPORT_PREFIX: &str = "rtds-cdc-report ";

/// The stage's counters since its process started.
///
/// ```
/// use rtds::cdc::CdcReport;
/// let report = CdcReport { upserts: 7, committed_lsn: 0x1_0000_0010, ..Default::default() };
/// let line = report.to_line();
/// assert_eq!(CdcReport::parse_line(&line), Some(report));
/// assert!(CdcReport::parse_line("rtds cdc: streaming").is_none());
/// ```
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CdcReport {
    pub pid: u32,
    /// Inserts and updates produced.
    pub upserts: u64,
    /// Deletes produced (tombstones).
    pub deletes: u64,
    pub dead_letters: u64,
    pub snapshot_rows: u64,
    pub transactions: u64,
    /// End LSN of the last PostgreSQL commit in Kafka (0 before the first).
    pub committed_lsn: u64,
    /// WAL the slot holds back; -1 before the first check.
    pub slot_lag_bytes: i64,
    /// Changes received from the slot and not yet in Kafka.
    #[serde(default)]
    pub pending_changes: u64,
    /// Since the oldest of them was committed in PostgreSQL, in milliseconds (0: none waits).
    #[serde(default)]
    pub lag_ms: u64,
    /// With `--format avro`: the subject, registry id and version of the value schema in use
    /// (empty and 0 with JSON).
    #[serde(default)]
    pub schema_subject: String,
    #[serde(default)]
    pub schema_id: u64,
    #[serde(default)]
    pub schema_version: u64,
}

impl CdcReport {
    /// The report of `counters` as of now.
    pub fn of(counters: &Counters) -> CdcReport {
        let get = |counter: &std::sync::atomic::AtomicU64| counter.load(Ordering::Relaxed);
        CdcReport {
            pid: std::process::id(),
            upserts: get(&counters.upserts),
            deletes: get(&counters.deletes),
            dead_letters: get(&counters.dead_letters),
            snapshot_rows: get(&counters.snapshot_rows),
            transactions: get(&counters.transactions),
            committed_lsn: get(&counters.committed_lsn),
            slot_lag_bytes: counters.slot_lag_bytes.load(Ordering::Relaxed),
            pending_changes: get(&counters.pending_changes),
            lag_ms: counters.lag_millis(),
            schema_subject: counters.schema_subject.lock().expect("schema subject").clone(),
            schema_id: get(&counters.schema_id),
            schema_version: get(&counters.schema_version),
        }
    }

    /// Changes produced: snapshot rows, upserts and deletes.
    pub fn changes(&self) -> u64 {
        self.snapshot_rows + self.upserts + self.deletes
    }

    /// A report line, if `line` is one.
    pub fn parse_line(line: &str) -> Option<CdcReport> {
        serde_json::from_str(line.strip_prefix(CDC_REPORT_PREFIX)?).ok()
    }

    /// The report as a stdout line.
    pub fn to_line(&self) -> String {
        format!("{CDC_REPORT_PREFIX}{}", serde_json::to_string(self).expect("a report serializes"))
    }
}
