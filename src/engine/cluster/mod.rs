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

use chrono::{NaiveDate, Utc};
use compact_str::CompactString;
use serde::{Deserialize, Serialize};

use crate::connectors::cassandra::StoredUser;
use crate::dataflow::Dimension;
use crate::engine::checks::age_band;
use crate::model::User;

pub use async_sink::async_sink;
pub use graph::{Version, latest_per_id, parse_row};
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
    pub payload: Vec<u8>,
    pub partition: i32,
    pub offset: i64,
    /// The producer's timestamp, for end-to-end latency.
    pub produced_ms: Option<i64>,
}

/// What the aggregates group a user by, computed once per user.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Dims {
    // Inline strings (up to 24 bytes without a heap allocation): dims are cloned and
    // compared a lot in the dedupe and count operators.
    pub country: Option<CompactString>,
    pub gender: Option<CompactString>,
    pub age_band: Option<CompactString>,
}

impl Dims {
    /// A formatted row's dimensions.
    pub fn of_user(user: &User, today: NaiveDate) -> Dims {
        let dob = user.dob.as_deref().and_then(crate::engine::checks::parse_date);
        Dims {
            country: user.country.as_deref().map(CompactString::from),
            gender: user.gender.as_deref().map(CompactString::from),
            age_band: dob.map(|d| age_band(d.date_naive(), today).into()),
        }
    }

    /// A stored row's dimensions (the recovery scan).
    pub fn of_stored(user: &StoredUser, today: NaiveDate) -> Dims {
        Dims {
            country: user.country.as_deref().map(CompactString::from),
            gender: user.gender.as_deref().map(CompactString::from),
            age_band: user.dob.map(|d| age_band(d.date_naive(), today).into()),
        }
    }

    /// The value for one aggregate; absent values count under "unknown".
    pub fn value(&self, dimension: Dimension) -> CompactString {
        let value = match dimension {
            Dimension::Country => &self.country,
            Dimension::Gender => &self.gender,
            Dimension::AgeBand => &self.age_band,
        };
        value.clone().unwrap_or_else(|| CompactString::const_new("unknown"))
    }
}

/// A write's Cassandra timestamp (microseconds) for an epoch: later epochs win.
pub(crate) fn write_time(epoch: u64, epoch_ms: u64) -> i64 {
    (epoch * epoch_ms * 1000) as i64
}
