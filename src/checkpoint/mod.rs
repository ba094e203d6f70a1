//! The dedupe's state and the views' inputs, checkpointed on local disk with every epoch, so a
//! restart resumes from them instead of scanning every stored row back from Cassandra.
//!
//! Each worker keeps one [fjall](https://docs.rs/fjall) database (an LSM tree; `--state-dir`,
//! then `KEYSPACE/TOPIC/worker-I`) holding, in one atomic batch per epoch:
//! - `newest`: each id it owns (the upsert's exchange by id) with its newest version and kept
//!   row ([`crate::sql::kept`]), deletes included: the [`Upsert`](crate::operators::Upsert)
//!   operator's state, read and written there rather than held in memory;
//! - `views`: what the views read, consolidated (`(view, narrow row or row) → count`): for a
//!   view that aggregates, one entry per distinct group key and arguments (per group, for
//!   `COUNT(*)`s), so a restart hands the views their groups, not their users;
//! - `meta`: the checkpoint's [`Identity`], its [`Coverage`] (per Kafka partition, how many
//!   of its records the state includes) and, for a dataflow with windows, the newest event time
//!   read, which the watermark resumes from.
//!
//! A worker's epoch is committed (to the kernel) before the upsert operator releases the epoch,
//! and reaches the disk (fsync) within 100 ms; the operator holds the epoch back from the
//! durable probe until then, so an epoch is durable (and its offsets recorded) only once every
//! worker's checkpoint holds it on disk. The views downstream do not wait for the sync. A
//! checkpoint may be ahead of the recorded offsets (a crash after it and before them): the
//! records replayed from the offsets are then versions the state already has, which the upsert
//! ignores, so resuming from any checkpoint at or past the offsets gives the same result.
//!
//! On start a worker resumes from its checkpoint when it is [valid](Checkpoint::resume): same
//! keyspace lineage (a keyspace dropped and made again is another), same dataflow, same
//! worker index and count, and it covers at least the recorded offsets of every partition.
//! Otherwise (first run, another `-n`/`-w`, a lost or stale disk, another dataflow) it is
//! emptied and the worker falls back to reading the stored rows it owns from Cassandra, as
//! every restart did before; the fallback rebuilds the checkpoint.
//!
//! Windows: the watermark resumes from the newest event time the checkpoint read (each worker
//! sends its checkpoint's to every worker at epoch 0, so all resume from the same watermark).
//! The records after the recorded offsets that the checkpoint already covers are read again,
//! and that watermark may have passed them since they were judged: they are kept without being
//! judged again, since the first run may have kept them and their rows may not be written yet.
//! One the first run called late is then kept too (its dead letter stays): the one way a
//! restart can differ from a run without it, and only for records that were in flight. The
//! windows still open are restored with the views' inputs and held again until the watermark
//! closes them.
//!
//! Limits: views that map rows one to one (no aggregate, no `GROUP BY`) keep one entry per row
//! they keep, so their restart is not constant; a view that aggregates keeps one per distinct
//! narrow row ([`crate::sql::kept`]).

mod store;

pub use store::{Checkpoint, CheckpointError, CheckpointedState, Coverage, Identity, Resumable};

/// A mark of what an epoch covered, reaching the checkpoint with the epoch's updates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Mark {
    /// How many of a partition's records were read through the epoch
    /// ([`crate::connectors::kafka::Incoming::number`]).
    Read { partition: i32, records: i64 },
    /// The newest event time a worker read in the epoch (dataflows with windows).
    EventTime(i64),
}

/// Bumped when what a checkpoint stores changes shape (the kept rows, their encoding).
/// 2: a view that aggregates keeps its narrow rows (group key and arguments), not state rows.
const FORMAT: u32 = 2;

/// A digest of what a checkpoint's contents depend on, so one of other contents is not resumed
/// from: its format; the hash that decides which worker owns an id (differential's, which may
/// change with a dependency); the dataflow's source table and views (what the kept rows hold);
/// and `today` when a view that maps rows has a `WHERE` (its inputs are filtered again when a
/// row changes, and `AGE` moves with the day: such a checkpoint is resumed the same day).
pub fn digest(program: &crate::sql::Program, today: chrono::NaiveDate) -> String {
    use differential_dataflow::Hashable;
    use sha2::Digest;
    let dated = program.views.iter().any(|v| crate::sql::kept::reads_rows(v) && v.filter.is_some());
    let day = if dated { today.to_string() } else { String::new() };
    let owner = uuid::Uuid::from_u128(0x5eed).hashed();
    let described = format!("{FORMAT}|{owner}|{day}|{:?}|{:?}", program.table, program.views);
    format!("{:x}", sha2::Sha256::digest(described.as_bytes()))
}
