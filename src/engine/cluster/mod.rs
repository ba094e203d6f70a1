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
//! The files: `process.rs` starts a process (connections, the options its operators share,
//! the offsets writer, the timely workers, the summary); `network.rs` connects the processes
//! through listeners their supervisors bound; `graph.rs` wires each worker's
//! dataflow from the connectors' operators (`connectors::kafka` source and dead-letter sink,
//! `connectors::cassandra` rows and aggregates sinks and stored state); `report.rs` is the
//! line a process reports to its master every second.

mod graph;
mod network;
mod process;
mod report;

pub use graph::{Message, parse_change};
pub use process::{ClusterError, EXIT_PERMANENT, ProcessState, WorkerOptions, WorkerSummary, run_worker};
pub use report::{REPORT_PREFIX, WorkerReport};
