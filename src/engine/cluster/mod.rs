//! One process of the timely cluster (`rtds worker`): Kafka partitions in, Cassandra out.
//!
//! The dataflow of every worker:
//!
//! ```text
//! Kafka source ─► parse + checks ─┬─► rows sink (Cassandra created_users)
//!   (owned partitions,            ├─► (id, dims) ─► dedupe ─► count per aggregate ─► aggregates sink
//!    epoch timestamps)            └─► rejected ─► dead-letter sink (Kafka TOPIC.dlq)
//! state scan (Cassandra, at E0) ──────► (id, dims) ┘
//!                           all sinks ─► probe "durable" ─► offsets of durable epochs
//! ```
//!
//! Epochs are wall-clock slices (`epoch_ms`), so all processes agree on them roughly and a
//! restarted cluster continues with later ones. After a crash each process reloads the
//! dedupe state from the rows already in Cassandra (epoch E0), and each partition resumes
//! from its durable offset: replayed records are idempotent upserts, and the aggregates,
//! recomputed from loaded rows plus replay, equal those of a run without the crash.
//!
//! The files: `process.rs` starts a process (connections, shared state, the offsets writer,
//! the timely workers, the summary); `graph.rs` builds each worker's dataflow;
//! `kafka_source.rs` and `async_sink.rs` are its source and sink operators; `report.rs` is the
//! line a process reports to its master every second.

mod async_sink;
mod graph;
mod kafka_source;
mod process;
mod report;

use chrono::Utc;
use serde::{Deserialize, Serialize};

pub use async_sink::{AsyncSink, AsyncSinkOptions};
pub use graph::{Version, latest_per_id, parse_change};
pub use kafka_source::{kafka_source, owned_partitions};
pub use process::{ClusterError, ProcessCounters, ProcessState, WorkerOptions, WorkerSummary, run_worker};
pub use report::{REPORT_PREFIX, WorkerReport, drain_histogram};

/// The current epoch: wall-clock milliseconds over the epoch length.
pub fn epoch_now(epoch_ms: u64) -> u64 {
    (Utc::now().timestamp_millis().max(0) as u64) / epoch_ms.max(1)
}

/// A Kafka record as the source hands it on.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Incoming {
    /// The message key: the user id.
    pub key: Option<Vec<u8>>,
    /// The row's JSON; none for a tombstone (the user was deleted).
    pub payload: Option<Vec<u8>>,
    pub partition: i32,
    pub offset: i64,
    /// The producer's timestamp, for end-to-end latency.
    pub produced_ms: Option<i64>,
}

/// A write's Cassandra timestamp (microseconds) for an epoch: later epochs win.
pub(crate) fn write_time(epoch: u64, epoch_ms: u64) -> i64 {
    (epoch * epoch_ms * 1000) as i64
}
